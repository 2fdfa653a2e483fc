//! Values between JSON (what the host and the caller speak) and JavaScript.
//!
//! Conversion is direct, value by value, rather than through `JSON.stringify` and a
//! parse: `declare` is called a few times per script on small objects, and going
//! through text would double the work for every call. The semantics are JSON's:
//! `undefined`, functions and symbols are left out of objects and become `null` in
//! arrays, non-finite numbers become `null`, object keys keep their order. One exception:
//! a `Date` becomes its time in milliseconds, not an ISO string, because timestamps
//! (`declare(path, {value: new Date()})`) and `xsd:dateTime` values are numbers of
//! milliseconds on the GenieACS side.

use rquickjs::object::Filter;
use rquickjs::{Array, Ctx, Function, Object, Type, function::This};
use serde_json::{Map, Number, Value};

/// How deep a value may nest before it is refused. JavaScript values can be cyclic;
/// JSON ones from the host cannot, but a deep one would still recurse without bound.
pub(crate) const MAX_DEPTH: usize = 128;

/// Why a JavaScript value has no JSON form.
#[derive(Debug)]
pub(crate) enum ToJsonError {
    /// Nested deeper than [`MAX_DEPTH`], which in practice means a cycle.
    TooDeep,
    /// A BigInt: JSON has no form for it (`JSON.stringify` throws too).
    BigInt,
    /// The engine failed while reading the value (a throwing getter or proxy trap, out
    /// of memory, an interrupt).
    Js(rquickjs::Error),
}

impl From<rquickjs::Error> for ToJsonError {
    fn from(e: rquickjs::Error) -> Self {
        ToJsonError::Js(e)
    }
}

impl ToJsonError {
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            ToJsonError::TooDeep => "value is nested too deeply (is it cyclic?)",
            ToJsonError::BigInt => "a BigInt has no JSON form",
            ToJsonError::Js(_) => "value could not be read",
        }
    }
}

/// Converts a JSON value for a script.
pub(crate) fn to_js<'js>(ctx: &Ctx<'js>, value: &Value) -> rquickjs::Result<rquickjs::Value<'js>> {
    to_js_at(ctx, value, 0)
}

fn to_js_at<'js>(
    ctx: &Ctx<'js>,
    value: &Value,
    depth: usize,
) -> rquickjs::Result<rquickjs::Value<'js>> {
    if depth > MAX_DEPTH {
        return Err(rquickjs::Exception::throw_range(
            ctx,
            "value from the host is nested too deeply",
        ));
    }
    Ok(match value {
        Value::Null => rquickjs::Value::new_null(ctx.clone()),
        Value::Bool(b) => rquickjs::Value::new_bool(ctx.clone(), *b),
        Value::Number(n) => number_to_js(ctx, n),
        Value::String(s) => rquickjs::String::from_str(ctx.clone(), s)?.into_value(),
        Value::Array(items) => {
            let array = Array::new(ctx.clone())?;
            for (i, item) in items.iter().enumerate() {
                array.set(i, to_js_at(ctx, item, depth + 1)?)?;
            }
            array.into_value()
        }
        Value::Object(map) => {
            let object = Object::new(ctx.clone())?;
            for (key, item) in map {
                object.set(key.as_str(), to_js_at(ctx, item, depth + 1)?)?;
            }
            object.into_value()
        }
    })
}

fn number_to_js<'js>(ctx: &Ctx<'js>, n: &Number) -> rquickjs::Value<'js> {
    if let Some(i) = n.as_i64()
        && let Ok(small) = i32::try_from(i)
    {
        return rquickjs::Value::new_int(ctx.clone(), small);
    }
    // i64/u64 beyond 2^53 lose precision here, as they would in any JavaScript engine.
    rquickjs::Value::new_float(ctx.clone(), n.as_f64().unwrap_or(f64::NAN))
}

/// Converts a script's value to JSON; `undefined` (and functions, symbols) give `Null`.
pub(crate) fn to_json<'js>(
    ctx: &Ctx<'js>,
    value: &rquickjs::Value<'js>,
) -> Result<Value, ToJsonError> {
    let mut dates = DateProto::default();
    Ok(to_json_at(ctx, value, 0, &mut dates)?.unwrap_or(Value::Null))
}

/// `Date.prototype`, looked up only when an object could be a date (no own enumerable
/// properties), so that converting `{value: 1}` costs no lookup.
#[derive(Default)]
struct DateProto<'js> {
    proto: Option<Option<Object<'js>>>,
}

impl<'js> DateProto<'js> {
    fn get(&mut self, ctx: &Ctx<'js>) -> Option<&Object<'js>> {
        self.proto
            .get_or_insert_with(|| {
                let date: Object = ctx.globals().get("Date").ok()?;
                date.get::<_, Object>("prototype").ok()
            })
            .as_ref()
    }
}

/// `None` for the values JSON leaves out of objects.
fn to_json_at<'js>(
    ctx: &Ctx<'js>,
    value: &rquickjs::Value<'js>,
    depth: usize,
    dates: &mut DateProto<'js>,
) -> Result<Option<Value>, ToJsonError> {
    if depth > MAX_DEPTH {
        return Err(ToJsonError::TooDeep);
    }
    Ok(Some(match value.type_of() {
        Type::Uninitialized
        | Type::Undefined
        | Type::Symbol
        | Type::Function
        | Type::Constructor
        | Type::Module
        | Type::Unknown => return Ok(None),
        Type::Null => Value::Null,
        Type::Bool => Value::Bool(value.as_bool().unwrap_or(false)),
        Type::Int => Value::from(value.as_int().unwrap_or(0)),
        Type::Float => float_to_json(value.as_float().unwrap_or(f64::NAN)),
        Type::String => Value::String(value.get::<String>()?),
        Type::BigInt => return Err(ToJsonError::BigInt),
        Type::Array => {
            let Some(array) = value.as_array() else {
                return Ok(Some(Value::Array(Vec::new())));
            };
            let mut items = Vec::with_capacity(array.len());
            for i in 0..array.len() {
                let item: rquickjs::Value = array.get(i)?;
                items.push(to_json_at(ctx, &item, depth + 1, dates)?.unwrap_or(Value::Null));
            }
            Value::Array(items)
        }
        Type::Object | Type::Exception | Type::Promise | Type::Proxy => {
            let Some(object) = value.as_object() else {
                return Ok(None);
            };
            let mut map = Map::new();
            for key in object.own_keys::<String>(Filter::new().string().enum_only()) {
                let key = key?;
                let item: rquickjs::Value = object.get(key.as_str())?;
                if let Some(item) = to_json_at(ctx, &item, depth + 1, dates)? {
                    map.insert(key, item);
                }
            }
            if map.is_empty()
                && let Some(proto) = dates.get(ctx)
                && object.get_prototype().as_ref() == Some(proto)
            {
                let get_time: Function = proto.get("getTime")?;
                let time: f64 = get_time.call((This(object.clone()),))?;
                return Ok(Some(float_to_json(time)));
            }
            Value::Object(map)
        }
    }))
}

/// Integral floats become JSON integers (`Date.now()` is a float in QuickJS, and the host
/// compares timestamps as integers); NaN and infinities become `null`, as in JSON.
fn float_to_json(f: f64) -> Value {
    if !f.is_finite() {
        return Value::Null;
    }
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        // Exact: |f| < 2^53 and integral.
        #[allow(clippy::cast_possible_truncation)]
        return Value::from(f as i64);
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rquickjs::{Context, Runtime};
    use serde_json::json;

    fn with_ctx(f: impl FnOnce(&Ctx<'_>)) {
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        ctx.with(|ctx| f(&ctx));
    }

    fn roundtrip_js(source: &str) -> Value {
        let mut out = Value::Null;
        with_ctx(|ctx| {
            let v: rquickjs::Value = ctx.eval(source).unwrap();
            out = to_json(ctx, &v).unwrap();
        });
        out
    }

    #[test]
    fn script_values_to_json() {
        assert_eq!(roundtrip_js("undefined"), Value::Null);
        assert_eq!(roundtrip_js("1.5"), json!(1.5));
        assert_eq!(roundtrip_js("1700000000000"), json!(1_700_000_000_000_i64));
        assert_eq!(roundtrip_js("-0"), json!(0));
        assert_eq!(roundtrip_js("NaN"), Value::Null);
        assert_eq!(
            roundtrip_js("({b: 1, a: [1, 'x', null, undefined, () => 1], u: undefined, f() {}})"),
            json!({"b": 1, "a": [1, "x", null, null, null]})
        );
        assert_eq!(
            roundtrip_js("({value: ['x', 'xsd:string']})"),
            json!({"value": ["x", "xsd:string"]})
        );
        assert_eq!(roundtrip_js("new Date(1234)"), json!(1234));
        assert_eq!(roundtrip_js("({})"), json!({}));
        // Keys keep their insertion order (serde_json's preserve_order).
        let keys: Vec<String> = roundtrip_js("({z: 1, a: 2, m: 3})")
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn cycles_and_bigints_are_refused() {
        with_ctx(|ctx| {
            let v: rquickjs::Value = ctx.eval("const a = {}; a.a = a; a").unwrap();
            assert!(matches!(to_json(ctx, &v), Err(ToJsonError::TooDeep)));
            let v: rquickjs::Value = ctx.eval("10n").unwrap();
            assert!(matches!(to_json(ctx, &v), Err(ToJsonError::BigInt)));
        });
    }

    #[test]
    fn json_to_script_values() {
        with_ctx(|ctx| {
            let value = json!({"s": "x", "n": [1, 2.5, 3_000_000_000_u64, null, true], "o": {}});
            let js = to_js(ctx, &value).unwrap();
            ctx.globals().set("v", js).unwrap();
            let described: String = ctx
                .eval("JSON.stringify(v) + typeof v.n[2] + Array.isArray(v.n)")
                .unwrap();
            assert_eq!(
                described,
                r#"{"s":"x","n":[1,2.5,3000000000,null,true],"o":{}}numbertrue"#
            );
            assert_eq!(to_json(ctx, &to_js(ctx, &value).unwrap()).unwrap(), value);
        });
    }
}

//! Provisioning presets: which provisions run on which devices, and when, as GenieACS's
//! presets say it. A preset applies to a session when its precondition (the filter
//! language of [`crate::query`]) matches the device, the session's Inform carries the
//! events it requires and none it excludes, and, if it has a schedule, the session falls
//! inside a window of it. The declaration engine then runs the provisions of every
//! applicable preset, in weight order.
//!
//! The JSON form, checked here at the boundary (API, import) and nowhere else:
//!
//! ```json
//! {
//!   "channel": "default",
//!   "weight": 0,
//!   "precondition": {"Device.DeviceInfo.SoftwareVersion": {"$ne": "4.2"}},
//!   "events": {"0 BOOTSTRAP": true, "2 PERIODIC": false},
//!   "schedule": {"cron": "0 2 * * *", "duration": 3600},
//!   "provisions": [["firmware", "4.2"], ["refresh", "Device.DeviceInfo."]]
//! }
//! ```
//!
//! Every field may be left out. `precondition` may also be a string holding the JSON
//! (how GenieACS stores it); empty means every device. An empty `channel` is
//! `"default"`, as in GenieACS. `_id`, when present, must be the preset's name, so that
//! what the API returns can be put back. Anything else is refused.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::device::{DeviceData, Param};
use crate::provision::{Active, DeviceFacts};
use crate::query::{DeviceView, Filter, Matcher, parse_filter};
use crate::time::Timestamp;

/// The longest name of a preset, provision, virtual parameter or channel.
pub const MAX_NAME_LEN: usize = 64;

/// The channel of a preset that names none.
pub const DEFAULT_CHANNEL: &str = "default";

/// The name of a preset, a provision, a virtual parameter or a channel: 1 to
/// [`MAX_NAME_LEN`] ASCII letters, digits, `_` and `-`, starting with a letter or `_`.
///
/// That is a TR-106 parameter name (a virtual parameter is read as
/// `VirtualParameters.<name>`), a URL path segment that needs no escaping, a file name on
/// every file system (`acs provisioning export` writes one file per name; no separator,
/// no `.` or `..`, no leading `-` that a shell would read as an option), and a word in
/// a script (`["refresh", ...]` names a provision). GenieACS allows more; what it allows
/// beyond this does not survive all of those places.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

/// A name refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid name {name:?}: {reason}")]
pub struct InvalidName {
    /// The name as given.
    pub name: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Name {
    /// Checks a name.
    pub fn parse(s: &str) -> Result<Name, InvalidName> {
        let bad = |reason| {
            Err(InvalidName {
                name: s.chars().take(MAX_NAME_LEN + 8).collect(),
                reason,
            })
        };
        let Some(first) = s.chars().next() else {
            return bad("a name cannot be empty");
        };
        if s.len() > MAX_NAME_LEN {
            return bad("a name is at most 64 characters");
        }
        if !(first.is_ascii_alphabetic() || first == '_') {
            return bad("a name starts with a letter or _");
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return bad("a name holds only ASCII letters, digits, _ and -");
        }
        Ok(Name(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Name {
    type Err = InvalidName;
    fn from_str(s: &str) -> Result<Name, InvalidName> {
        Name::parse(s)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The two kinds of provisioning script, stored as JavaScript source text by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScriptKind {
    /// A provision: what a preset runs (`declare(...)` calls).
    Provision,
    /// A virtual parameter: a computed parameter (`VirtualParameters.<name>`).
    VirtualParameter,
}

impl ScriptKind {
    /// Both kinds.
    pub const ALL: [ScriptKind; 2] = [ScriptKind::Provision, ScriptKind::VirtualParameter];

    /// The collection's name as GenieACS's API names it (`provisions`,
    /// `virtual_parameters`): the API path and the export directory.
    pub fn collection(self) -> &'static str {
        match self {
            ScriptKind::Provision => "provisions",
            ScriptKind::VirtualParameter => "virtual_parameters",
        }
    }

    /// In a sentence: `provision`, `virtual parameter`.
    pub fn noun(self) -> &'static str {
        match self {
            ScriptKind::Provision => "provision",
            ScriptKind::VirtualParameter => "virtual parameter",
        }
    }
}

/// A preset refused, and why (naming the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid preset: {0}")]
pub struct InvalidPreset(pub String);

fn invalid(msg: impl Into<String>) -> InvalidPreset {
    InvalidPreset(msg.into())
}

/// Which devices a preset is for: a filter, kept with the JSON it was given as.
#[derive(Debug, Clone)]
pub struct Precondition {
    json: Map<String, Value>,
    filter: Filter,
    matcher: Matcher,
}

impl PartialEq for Precondition {
    /// The same JSON (the filter and its matcher follow from it).
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

impl Default for Precondition {
    fn default() -> Self {
        Precondition {
            json: Map::new(),
            filter: Filter::All,
            matcher: Matcher::default(),
        }
    }
}

impl Precondition {
    /// From its JSON: a filter object, a string holding one, or an empty string, `null`
    /// or `{}` for every device. Patterns are compiled here, so a preset the store holds
    /// always evaluates.
    pub fn parse(v: &Value) -> Result<Precondition, InvalidPreset> {
        let json = match v {
            Value::Null => return Ok(Precondition::default()),
            Value::String(s) if s.trim().is_empty() => return Ok(Precondition::default()),
            Value::String(s) => serde_json::from_str::<Value>(s)
                .map_err(|e| invalid(format!("precondition is not JSON: {e}")))?,
            v => v.clone(),
        };
        let Value::Object(obj) = json else {
            return Err(invalid(
                "precondition is a filter object (or a string holding one)",
            ));
        };
        let filter = parse_filter(&Value::Object(obj.clone()))
            .map_err(|e| invalid(format!("precondition: {e}")))?;
        let matcher = filter
            .compile()
            .map_err(|e| invalid(format!("precondition: {e}")))?;
        Ok(Precondition {
            json: obj,
            filter,
            matcher,
        })
    }

    /// The filter.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The JSON object it was given as (`{}` for every device).
    pub fn json(&self) -> &Map<String, Value> {
        &self.json
    }

    /// Whether the device matches.
    pub fn matches(&self, device: &impl DeviceView) -> bool {
        self.matcher.matches(device)
    }
}

/// When a preset applies: during `duration` seconds from each occurrence of a cron
/// expression, in UTC.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron_text: String,
    cron: croner::Cron,
    duration_secs: u32,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.cron_text == other.cron_text && self.duration_secs == other.duration_secs
    }
}

/// Bound on the expression's text, against input built to be expensive to parse.
const MAX_CRON_LEN: usize = 256;

impl Schedule {
    /// A schedule from a five-field cron expression (minute, hour, day of month, month,
    /// day of week, as crontab(5) writes them, with names like `MON` and `JAN`; a day
    /// matches when its day of month or its day of week does, as in Vixie cron; `@daily`
    /// and the other nicknames too) and a window length in seconds (1 to 2^32 - 1).
    pub fn new(cron: &str, duration_secs: i64) -> Result<Schedule, InvalidPreset> {
        if cron.len() > MAX_CRON_LEN {
            return Err(invalid(format!(
                "schedule.cron is longer than {MAX_CRON_LEN} bytes"
            )));
        }
        let parsed = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .year(croner::parser::Year::Disallowed)
            .build()
            .parse(cron)
            .map_err(|e| invalid(format!("schedule.cron {cron:?}: {e}")))?;
        // A pattern such as `0 0 30 2 *` parses but never occurs: refused here, once,
        // rather than searched for at every session (the search gives up only after
        // scanning years).
        let y2k = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(946_684_800_000);
        if y2k.is_none_or(|t| parsed.find_next_occurrence(&t, true).is_err()) {
            return Err(invalid(format!("schedule.cron {cron:?} never occurs")));
        }
        let duration_secs = u32::try_from(duration_secs)
            .ok()
            .filter(|d| *d > 0)
            .ok_or_else(|| {
                invalid(format!(
                    "schedule.duration is a number of seconds from 1 to {}, not {duration_secs}",
                    u32::MAX
                ))
            })?;
        Ok(Schedule {
            cron_text: cron.to_owned(),
            cron: parsed,
            duration_secs,
        })
    }

    /// The cron expression as given.
    pub fn cron(&self) -> &str {
        &self.cron_text
    }

    /// The window's length in seconds.
    pub fn duration_secs(&self) -> u32 {
        self.duration_secs
    }

    /// Whether `now` is inside a window: at or after an occurrence and before that
    /// occurrence plus the duration. The latest occurrence at or before `now` decides,
    /// since an earlier one's window ends earlier.
    pub fn is_active(&self, now: Timestamp) -> bool {
        let Some(at) = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now.millis()) else {
            return false;
        };
        match self.cron.find_previous_occurrence(&at, true) {
            Ok(start) => {
                let end = start
                    .timestamp_millis()
                    .saturating_add(i64::from(self.duration_secs) * 1000);
                now.millis() < end
            }
            // No occurrence at all before now (as far back as the engine looks).
            Err(_) => false,
        }
    }
}

/// One provision a preset runs: its name and arguments (`["refresh", "Device.X."]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionCall {
    /// The provision.
    pub name: Name,
    /// Its arguments, any JSON.
    pub args: Vec<Value>,
}

/// A preset.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// Its name, the key.
    pub name: Name,
    /// Its channel: faults of its provisions are recorded per channel, and a faulted
    /// channel does not hold up the others.
    pub channel: Name,
    /// Order among the presets that apply (lower first; then by name).
    pub weight: i64,
    /// Which devices.
    pub precondition: Precondition,
    /// Events the session's Inform must carry (`true`) or must not (`false`).
    pub events: BTreeMap<String, bool>,
    /// When, if not always.
    pub schedule: Option<Schedule>,
    /// What runs, in order.
    pub provisions: Vec<ProvisionCall>,
}

/// The JSON as given, before it is checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetJson {
    #[serde(rename = "_id", default)]
    id: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    weight: Option<i64>,
    #[serde(default)]
    precondition: Value,
    #[serde(default)]
    events: Option<BTreeMap<String, bool>>,
    #[serde(default)]
    schedule: Option<ScheduleJson>,
    #[serde(default)]
    provisions: Option<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleJson {
    cron: String,
    duration: i64,
}

impl Preset {
    /// A preset named `name` from its JSON form.
    pub fn from_json(name: &Name, json: &Value) -> Result<Preset, InvalidPreset> {
        if !json.is_object() {
            return Err(invalid("a preset is a JSON object"));
        }
        let raw: PresetJson =
            serde_json::from_value(json.clone()).map_err(|e| invalid(e.to_string()))?;
        if let Some(id) = raw.id
            && id != name.as_str()
        {
            return Err(invalid(format!(
                "_id {id:?} is not the preset's name {name:?}",
                name = name.as_str()
            )));
        }
        let channel = match raw.channel.as_deref() {
            None | Some("") => Name(DEFAULT_CHANNEL.to_owned()),
            Some(c) => Name::parse(c).map_err(|e| invalid(format!("channel: {e}")))?,
        };
        let mut events = BTreeMap::new();
        for (code, wanted) in raw.events.unwrap_or_default() {
            if !cwmp::message::event_code::is_valid(&code) {
                return Err(invalid(format!(
                    "events: {code:?} is not a CWMP event code (\"0 BOOTSTRAP\", \"1 BOOT\", \
                     \"M Reboot\", ...)"
                )));
            }
            events.insert(code, wanted);
        }
        let schedule = raw
            .schedule
            .map(|s| Schedule::new(&s.cron, s.duration))
            .transpose()?;
        let provisions = raw
            .provisions
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, call)| provision_call(i, call))
            .collect::<Result<_, _>>()?;
        Ok(Preset {
            name: name.clone(),
            channel,
            weight: raw.weight.unwrap_or(0),
            precondition: Precondition::parse(&raw.precondition)?,
            events,
            schedule,
            provisions,
        })
    }

    /// The JSON form, without the name (as files and the store keep it).
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("channel".into(), Value::String(self.channel.0.clone()));
        o.insert("weight".into(), Value::from(self.weight));
        o.insert(
            "precondition".into(),
            Value::Object(self.precondition.json.clone()),
        );
        o.insert(
            "events".into(),
            Value::Object(
                self.events
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::Bool(*v)))
                    .collect(),
            ),
        );
        if let Some(s) = &self.schedule {
            o.insert(
                "schedule".into(),
                json!({"cron": s.cron_text, "duration": s.duration_secs}),
            );
        }
        o.insert(
            "provisions".into(),
            Value::Array(
                self.provisions
                    .iter()
                    .map(|p| {
                        let mut call = vec![Value::String(p.name.0.clone())];
                        call.extend(p.args.iter().cloned());
                        Value::Array(call)
                    })
                    .collect(),
            ),
        );
        Value::Object(o)
    }

    /// The JSON form with `_id` (the name) first, as the API shows it.
    pub fn to_api_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("_id".into(), Value::String(self.name.0.clone()));
        if let Value::Object(rest) = self.to_json() {
            o.extend(rest);
        }
        Value::Object(o)
    }

    /// Whether the preset applies to a session of `device` whose Inform carried `events`,
    /// at `now`.
    pub fn applies<S: AsRef<str>>(
        &self,
        device: &impl DeviceView,
        events: &[S],
        now: Timestamp,
    ) -> bool {
        self.events
            .iter()
            .all(|(code, wanted)| events.iter().any(|e| e.as_ref() == code) == *wanted)
            && self.schedule.as_ref().is_none_or(|s| s.is_active(now))
            && self.precondition.matches(device)
    }
}

fn provision_call(i: usize, call: &Value) -> Result<ProvisionCall, InvalidPreset> {
    let Value::Array(items) = call else {
        return Err(invalid(format!(
            "provisions[{i}] is [name, arguments...], not {call}"
        )));
    };
    let Some(Value::String(name)) = items.first() else {
        return Err(invalid(format!(
            "provisions[{i}] starts with the provision's name"
        )));
    };
    let name = Name::parse(name).map_err(|e| invalid(format!("provisions[{i}]: {e}")))?;
    Ok(ProvisionCall {
        name,
        args: items[1..].to_vec(),
    })
}

impl Preset {
    /// The provisions this preset runs, as the engine takes them: each with the preset's
    /// channel.
    pub fn active(&self) -> impl Iterator<Item = Active> + '_ {
        self.provisions.iter().map(|p| Active {
            channel: self.channel.0.clone(),
            provision: p.name.0.clone(),
            args: p.args.clone(),
        })
    }
}

/// The provisions of `presets` (from [`applicable`]), in order, for
/// [`crate::provision::Provisioning`].
pub fn active(presets: &[&Preset]) -> Vec<Active> {
    presets.iter().flat_map(|p| p.active()).collect()
}

/// A device as its session sees it when the Inform arrives, for preconditions: the facts
/// the engine keeps (identity from the Inform, tags, this Inform's time as `_lastInform`,
/// boot and bootstrap times including this Inform's) and the known data. It matches what
/// the store would select once the Inform is committed.
#[derive(Debug, Clone, Copy)]
pub struct SessionDevice<'a> {
    /// Identity, tags and times.
    pub facts: &'a DeviceFacts,
    /// The known parameters.
    pub data: &'a DeviceData,
}

impl DeviceView for SessionDevice<'_> {
    fn id(&self) -> &str {
        self.facts.id.as_str()
    }
    fn manufacturer(&self) -> Option<&str> {
        Some(&self.facts.identity.manufacturer)
    }
    fn oui(&self) -> Option<&str> {
        Some(&self.facts.identity.oui)
    }
    fn product_class(&self) -> Option<&str> {
        Some(&self.facts.identity.product_class)
    }
    fn serial_number(&self) -> Option<&str> {
        Some(&self.facts.identity.serial_number)
    }
    fn last_inform(&self) -> Option<Timestamp> {
        Some(self.facts.inform)
    }
    fn last_boot(&self) -> Option<Timestamp> {
        self.facts.last_boot
    }
    fn last_bootstrap(&self) -> Option<Timestamp> {
        self.facts.last_bootstrap
    }
    fn registered(&self) -> Option<Timestamp> {
        self.facts.registered
    }
    fn tags(&self) -> impl Iterator<Item = &str> {
        self.facts.tags.iter().map(String::as_str)
    }
    fn param(&self, path: &str) -> Option<&Param> {
        self.data.params.get(path)
    }
}

/// The presets that apply to a session of `device` whose Inform carried `events`, at
/// `now`, in the order their provisions run: by weight, then by name.
pub fn applicable<'a, S: AsRef<str>>(
    presets: impl IntoIterator<Item = &'a Preset>,
    device: &impl DeviceView,
    events: &[S],
    now: Timestamp,
) -> Vec<&'a Preset> {
    let mut out: Vec<&Preset> = presets
        .into_iter()
        .filter(|p| p.applies(device, events, now))
        .collect();
    out.sort_by(|a, b| a.weight.cmp(&b.weight).then_with(|| a.name.cmp(&b.name)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Param, StoredValue, ValueType};
    use crate::query::DeviceSnapshot;
    use proptest::prelude::*;

    fn name(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    fn preset(n: &str, json: Value) -> Result<Preset, InvalidPreset> {
        Preset::from_json(&name(n), &json)
    }

    /// 2024-05-01T12:00:00Z, a Wednesday.
    const T: i64 = 1_714_564_800_000;

    #[test]
    fn names() {
        for ok in ["a", "bootstrap", "_x", "Firmware-4_2", &"n".repeat(64)] {
            assert!(Name::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "1a",
            ".",
            "..",
            "a.b",
            "a/b",
            "a b",
            "é",
            &"n".repeat(65),
        ] {
            assert!(Name::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_and_full_form() {
        let p = preset("p", json!({})).unwrap();
        assert_eq!(p.channel.as_str(), "default");
        assert_eq!(p.weight, 0);
        assert_eq!(*p.precondition.filter(), Filter::All);
        assert!(p.events.is_empty() && p.schedule.is_none() && p.provisions.is_empty());
        assert_eq!(
            p.to_api_json(),
            json!({"_id": "p", "channel": "default", "weight": 0, "precondition": {},
                   "events": {}, "provisions": []})
        );

        let full = json!({
            "channel": "fw",
            "weight": -3,
            "precondition": {"Device.DeviceInfo.SoftwareVersion": {"$ne": "4.2"}},
            "events": {"0 BOOTSTRAP": true, "2 PERIODIC": false},
            "schedule": {"cron": "0 2 * * *", "duration": 3600},
            "provisions": [["firmware", "4.2", {"force": true}], ["refresh"]]
        });
        let p = preset("fw", full.clone()).unwrap();
        assert_eq!(p.to_json(), full);
        assert_eq!(p.provisions[0].args, [json!("4.2"), json!({"force": true})]);
        assert_eq!(preset("fw", p.to_api_json()).unwrap(), p);
    }

    #[test]
    fn genieacs_forms() {
        // The precondition as a string, an empty channel.
        let p = preset(
            "p",
            json!({"channel": "", "precondition": "{\"_tags\": \"lab\"}"}),
        )
        .unwrap();
        assert_eq!(p.channel.as_str(), "default");
        assert_eq!(
            p.precondition.json(),
            json!({"_tags": "lab"}).as_object().unwrap()
        );
        for empty in [json!(""), json!("  "), json!(null), json!({})] {
            let p = preset("p", json!({ "precondition": empty })).unwrap();
            assert_eq!(*p.precondition.filter(), Filter::All);
        }
    }

    #[test]
    fn refusals_say_why() {
        let cases = [
            (json!([]), "a JSON object"),
            (
                json!({"configurations": []}),
                "unknown field `configurations`",
            ),
            (json!({"_id": "q"}), "_id"),
            (json!({"weight": 1.5}), "invalid type"),
            (json!({"weight": "1"}), "invalid type"),
            (json!({"channel": "a b"}), "channel"),
            (json!({"precondition": "{"}), "precondition is not JSON"),
            (json!({"precondition": "[1]"}), "filter object"),
            (json!({"precondition": {"$where": "1"}}), "unknown operator"),
            (
                json!({"precondition": {"Device.X": {"$regex": "(?<=a)"}}}),
                "$regex",
            ),
            (json!({"events": {"BOOT": true}}), "not a CWMP event code"),
            (json!({"events": {"1 BOOT": 1}}), "invalid type"),
            (
                json!({"schedule": {"cron": "0 2 * *", "duration": 60}}),
                "schedule.cron",
            ),
            (
                json!({"schedule": {"cron": "0 0 2 * * *", "duration": 60}}),
                "schedule.cron",
            ),
            (
                json!({"schedule": {"cron": "61 2 * * *", "duration": 60}}),
                "schedule.cron",
            ),
            (
                json!({"schedule": {"cron": "0 0 30 2 *", "duration": 60}}),
                "never occurs",
            ),
            (
                json!({"schedule": {"cron": "0 2 * * *", "duration": -1}}),
                "schedule.duration",
            ),
            (
                json!({"schedule": {"cron": "0 2 * * *", "duration": 0}}),
                "schedule.duration",
            ),
            (
                json!({"schedule": {"cron": "0 2 * * *"}}),
                "missing field `duration`",
            ),
            (
                json!({"schedule": {"cron": "0 2 * * *", "duration": 1, "tz": "x"}}),
                "unknown field",
            ),
            (json!({"provisions": [[]]}), "provisions[0]"),
            (json!({"provisions": [["ok"], [""]]}), "provisions[1]"),
            (json!({"provisions": [[1]]}), "provisions[0]"),
            (json!({"provisions": ["refresh"]}), "provisions[0]"),
        ];
        for (json, why) in cases {
            let err = preset("p", json.clone()).unwrap_err();
            assert!(err.to_string().contains(why), "{json}: {err}");
        }
    }

    #[test]
    fn schedule_windows() {
        let s = Schedule::new("0 12 * * *", 600).unwrap();
        assert!(s.is_active(Timestamp(T)), "at the occurrence");
        assert!(s.is_active(Timestamp(T + 500)));
        assert!(s.is_active(Timestamp(T + 599_999)));
        assert!(!s.is_active(Timestamp(T + 600_000)), "the end is outside");
        assert!(!s.is_active(Timestamp(T - 1)));
        // Days of the week by name, in UTC: 2024-05-01 is a Wednesday.
        let s = Schedule::new("0 12 * * WED", 60).unwrap();
        assert!(s.is_active(Timestamp(T + 1000)));
        assert!(!s.is_active(Timestamp(T + 86_400_000 + 1000)));
        // A window longer than the period: always inside.
        let s = Schedule::new("*/5 * * * *", 600).unwrap();
        assert!((0..20).all(|i| s.is_active(Timestamp(T + i * 97_000))));
        assert!(
            Schedule::new("@daily", 1)
                .unwrap()
                .is_active(Timestamp(T - 12 * 3_600_000))
        );
        // Leap days only: the latest was 2024-02-29.
        let leap = Schedule::new("0 0 29 2 *", 60).unwrap();
        assert!(leap.is_active(Timestamp(1_709_164_800_000 + 59_000)));
        assert!(!leap.is_active(Timestamp(T)));
    }

    fn device(version: &str, tags: &[&str]) -> DeviceSnapshot {
        let mut d = DeviceSnapshot {
            id: "00D09E-HGW-SN1".into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            ..DeviceSnapshot::default()
        };
        d.data.params.insert(
            "Device.DeviceInfo.SoftwareVersion".into(),
            Param {
                value: Some(StoredValue {
                    text: version.into(),
                    value_type: ValueType::String,
                }),
                ..Param::default()
            },
        );
        d
    }

    #[test]
    fn applicable_presets_in_order() {
        let presets = [
            preset("z-first", json!({"weight": -1})).unwrap(),
            preset("b", json!({"events": {"0 BOOTSTRAP": true}})).unwrap(),
            preset("a", json!({"events": {"2 PERIODIC": false}})).unwrap(),
            preset(
                "old",
                json!({"precondition": {"Device.DeviceInfo.SoftwareVersion": {"$ne": "4.2"}}}),
            )
            .unwrap(),
            preset(
                "lab",
                json!({"precondition": "{\"_tags\": \"lab\"}", "weight": 5}),
            )
            .unwrap(),
            preset(
                "night",
                json!({"schedule": {"cron": "0 2 * * *", "duration": 3600}}),
            )
            .unwrap(),
        ];
        let names = |d: &DeviceSnapshot, events: &[&str], now: i64| -> Vec<String> {
            applicable(&presets, d, events, Timestamp(now))
                .into_iter()
                .map(|p| p.name.to_string())
                .collect()
        };
        let old = device("4.1", &["lab"]);
        assert_eq!(
            names(&old, &["0 BOOTSTRAP", "1 BOOT"], T),
            ["z-first", "a", "b", "old", "lab"]
        );
        assert_eq!(names(&old, &["2 PERIODIC"], T), ["z-first", "old", "lab"]);
        let new = device("4.2", &[]);
        assert_eq!(names(&new, &["2 PERIODIC"], T), ["z-first"]);
        // 02:30 UTC the next day: inside the nightly window.
        let night = T + 14 * 3_600_000 + 1_800_000;
        assert_eq!(names(&new, &["2 PERIODIC"], night), ["z-first", "night"]);
    }

    #[test]
    fn a_session_device_and_the_engine_s_provisions() {
        use crate::device::DeviceIdentity;
        use crate::id::DeviceId;
        let facts = DeviceFacts {
            id: DeviceId::from_identity("00D09E", "HGW", "SN1"),
            identity: DeviceIdentity {
                manufacturer: "Acme".into(),
                oui: "00D09E".into(),
                product_class: "HGW".into(),
                serial_number: "SN1".into(),
            },
            tags: ["lab".to_owned()].into(),
            inform: Timestamp(T),
            last_boot: Some(Timestamp(T)),
            last_bootstrap: None,
            registered: Some(Timestamp(T - 1000)),
        };
        let data = device("4.1", &[]).data;
        let device = SessionDevice {
            facts: &facts,
            data: &data,
        };
        let p = preset(
            "p",
            json!({"channel": "fw", "precondition": {
                "_deviceId._SerialNumber": "SN1", "_tags": "lab", "_lastBoot": {"$gte": T},
                "_lastInform": T, "_lastBootstrap": null, "_registered": {"$lt": T},
                "Device.DeviceInfo.SoftwareVersion": {"$regex": "^4\\.1$"}},
              "provisions": [["firmware", "4.2"], ["refresh", "Device."]]}),
        )
        .unwrap();
        let other = preset("q", json!({"weight": -1, "provisions": [["x"]]})).unwrap();
        let presets = [p, other];
        let applying = applicable(&presets, &device, &["1 BOOT"], Timestamp(T));
        assert_eq!(applying.len(), 2);
        let got = active(&applying);
        assert_eq!(
            got,
            [
                Active {
                    channel: "default".into(),
                    provision: "x".into(),
                    args: vec![]
                },
                Active {
                    channel: "fw".into(),
                    provision: "firmware".into(),
                    args: vec![json!("4.2")]
                },
                Active {
                    channel: "fw".into(),
                    provision: "refresh".into(),
                    args: vec![json!("Device.")]
                },
            ]
        );
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-z0-9 .]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_name() -> impl Strategy<Value = String> {
        "[A-Za-z_][A-Za-z0-9_-]{0,20}"
    }

    fn arb_preset_json() -> impl Strategy<Value = Value> {
        let precondition = prop::sample::select(vec![
            json!({}),
            json!("{\"_tags\": \"lab\"}"),
            json!({"Device.DeviceInfo.SoftwareVersion": {"$regex": "^4\\.", "$options": "i"}}),
            json!({"$or": [{"_lastInform": {"$lt": "2024-05-01T00:00:00Z"}}, {"_id": "x"}]}),
        ]);
        let events = prop::collection::btree_map(
            prop::sample::select(vec!["0 BOOTSTRAP", "1 BOOT", "2 PERIODIC", "M Reboot"]),
            any::<bool>(),
            0..4,
        );
        let schedule = prop::option::of((
            prop::sample::select(vec!["0 2 * * *", "*/15 * * * MON-FRI", "@hourly"]),
            1..=i64::from(u32::MAX),
        ));
        let provisions =
            prop::collection::vec((arb_name(), prop::collection::vec(arb_json(), 0..3)), 0..4);
        (
            prop::option::of(arb_name()),
            any::<i64>(),
            precondition,
            events,
            schedule,
            provisions,
        )
            .prop_map(
                |(channel, weight, precondition, events, schedule, provisions)| {
                    let mut o = Map::new();
                    if let Some(c) = channel {
                        o.insert("channel".into(), json!(c));
                    }
                    o.insert("weight".into(), json!(weight));
                    o.insert("precondition".into(), precondition);
                    o.insert("events".into(), json!(events));
                    if let Some((cron, duration)) = schedule {
                        o.insert(
                            "schedule".into(),
                            json!({"cron": cron, "duration": duration}),
                        );
                    }
                    let calls: Vec<Value> = provisions
                        .into_iter()
                        .map(|(n, args)| {
                            let mut call = vec![json!(n)];
                            call.extend(args);
                            Value::Array(call)
                        })
                        .collect();
                    o.insert("provisions".into(), Value::Array(calls));
                    Value::Object(o)
                },
            )
    }

    proptest! {
        /// What a preset writes reads back as the same preset, and writes the same again.
        #[test]
        fn json_round_trip(n in arb_name(), json in arb_preset_json()) {
            let n = name(&n);
            let p = Preset::from_json(&n, &json).unwrap();
            let written = p.to_json();
            let back = Preset::from_json(&n, &written).unwrap();
            prop_assert_eq!(&back, &p);
            prop_assert_eq!(back.to_json(), written);
            prop_assert_eq!(Preset::from_json(&n, &p.to_api_json()).unwrap(), p);
        }
    }
}

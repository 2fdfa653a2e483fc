//! What the ACS knows of a device: its parameters with values, types, writable flags,
//! attributes, and when each was last read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// The type of a stored value: the `xsi:type` it was read or written with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValueType {
    /// `xsd:string`.
    String,
    /// `xsd:int`.
    Int,
    /// `xsd:unsignedInt`.
    UnsignedInt,
    /// `xsd:long`.
    Long,
    /// `xsd:unsignedLong`.
    UnsignedLong,
    /// `xsd:boolean`.
    Boolean,
    /// `xsd:dateTime`.
    DateTime,
    /// `xsd:base64Binary` (`xsd:base64` in GenieACS).
    Base64,
    /// `xsd:hexBinary`.
    HexBinary,
    /// Any other type, by its `xsi:type` name (`xsd:decimal`, or a misfit such as
    /// `xsd:unsignedInt` whose text was not a number).
    Other(String),
}

impl ValueType {
    /// A small code for storage; `Other` is 9 with its name stored beside it.
    pub fn code(&self) -> u8 {
        match self {
            ValueType::String => 0,
            ValueType::Int => 1,
            ValueType::UnsignedInt => 2,
            ValueType::Long => 3,
            ValueType::UnsignedLong => 4,
            ValueType::Boolean => 5,
            ValueType::DateTime => 6,
            ValueType::Base64 => 7,
            ValueType::HexBinary => 8,
            ValueType::Other(_) => 9,
        }
    }

    /// The type with `code`; `other` names the type for code 9.
    pub fn from_code(code: u8, other: Option<&str>) -> Option<ValueType> {
        Some(match code {
            0 => ValueType::String,
            1 => ValueType::Int,
            2 => ValueType::UnsignedInt,
            3 => ValueType::Long,
            4 => ValueType::UnsignedLong,
            5 => ValueType::Boolean,
            6 => ValueType::DateTime,
            7 => ValueType::Base64,
            8 => ValueType::HexBinary,
            9 => ValueType::Other(other?.to_owned()),
            _ => return None,
        })
    }

    /// The `xsi:type` name, as the NBI shows it (`xsd:string`; `xsd:base64` as GenieACS).
    pub fn xsi_name(&self) -> &str {
        match self {
            ValueType::String => "xsd:string",
            ValueType::Int => "xsd:int",
            ValueType::UnsignedInt => "xsd:unsignedInt",
            ValueType::Long => "xsd:long",
            ValueType::UnsignedLong => "xsd:unsignedLong",
            ValueType::Boolean => "xsd:boolean",
            ValueType::DateTime => "xsd:dateTime",
            ValueType::Base64 => "xsd:base64",
            ValueType::HexBinary => "xsd:hexBinary",
            ValueType::Other(name) => name,
        }
    }

    /// The type named `name` (`xsd:int`, `int`, `xsd:base64Binary`, ...).
    pub fn from_xsi_name(name: &str) -> ValueType {
        match name.rsplit(':').next().unwrap_or(name) {
            "string" => ValueType::String,
            "int" => ValueType::Int,
            "unsignedInt" => ValueType::UnsignedInt,
            "long" => ValueType::Long,
            "unsignedLong" => ValueType::UnsignedLong,
            "boolean" => ValueType::Boolean,
            "dateTime" => ValueType::DateTime,
            "base64" | "base64Binary" => ValueType::Base64,
            "hexBinary" => ValueType::HexBinary,
            _ => ValueType::Other(name.to_owned()),
        }
    }
}

/// A stored value: its canonical text and its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredValue {
    /// The value as text (booleans `true`/`false`, date-times `2024-05-01T12:00:00Z`).
    pub text: String,
    /// Its type.
    pub value_type: ValueType,
}

impl StoredValue {
    /// From a decoded CWMP value.
    pub fn from_cwmp(value: &cwmp::ParameterValue<'_>) -> StoredValue {
        use cwmp::ParameterValue as V;
        let value_type = match value {
            V::String(_) => ValueType::String,
            V::Int(_) => ValueType::Int,
            V::UnsignedInt(_) => ValueType::UnsignedInt,
            V::Long(_) => ValueType::Long,
            V::UnsignedLong(_) => ValueType::UnsignedLong,
            V::Boolean(_) => ValueType::Boolean,
            V::DateTime(_) => ValueType::DateTime,
            V::Base64(_) => ValueType::Base64,
            V::HexBinary(_) => ValueType::HexBinary,
            V::Other { xsi_type, .. } => ValueType::Other(xsi_type.to_string()),
        };
        StoredValue {
            text: value.text().into_owned(),
            value_type,
        }
    }

    /// The value as a CWMP value to send, or `None` when the text does not fit the type
    /// (the caller reports that as an invalid argument).
    pub fn to_cwmp(&self) -> Option<cwmp::ParameterValue<'static>> {
        let v =
            cwmp::ParameterValue::from_text(self.value_type.xsi_name(), self.text.clone().into());
        // `from_text` keeps misfits as `Other`; for a modeled type that means a bad value.
        match (&self.value_type, &v) {
            (ValueType::Other(_), _) => Some(v),
            (_, cwmp::ParameterValue::Other { .. }) => None,
            _ => Some(v),
        }
    }

    /// The value as a number, for numeric comparisons in queries: integers, booleans
    /// (0/1) and date-times (milliseconds since the epoch).
    pub fn number(&self) -> Option<f64> {
        match self.value_type {
            ValueType::Int | ValueType::UnsignedInt | ValueType::Long | ValueType::UnsignedLong => {
                self.text.trim().parse::<f64>().ok()
            }
            ValueType::Boolean => match self.text.as_str() {
                "true" | "1" => Some(1.0),
                "false" | "0" => Some(0.0),
                _ => None,
            },
            ValueType::DateTime => cwmp::DateTime::parse(&self.text)
                .ok()
                .map(|t| Timestamp::from_datetime(t).millis() as f64),
            _ => None,
        }
    }
}

/// Parameter attributes (GetParameterAttributes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attributes {
    /// Notification, 0 to 6.
    pub notification: u8,
    /// Access list (`Subscriber` or empty).
    pub access_list: Vec<String>,
}

/// What is known of one path.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Param {
    /// An object (path ends with `.`) rather than a parameter.
    pub object: bool,
    /// Writable flag, if known (GetParameterNames).
    pub writable: Option<bool>,
    /// The value, if known (parameters only).
    pub value: Option<StoredValue>,
    /// When the value was last read or set (parameters), or when the names below were
    /// last enumerated (objects). [`Timestamp::ZERO`] when never.
    pub ts: Timestamp,
    /// Attributes, if read, and when.
    pub attributes: Option<(Attributes, Timestamp)>,
}

/// The known data of a device, keyed by full path (objects end with `.`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceData {
    /// Every known path.
    pub params: BTreeMap<String, Param>,
}

impl DeviceData {
    /// The known paths at or below `prefix` (an object path ending with `.`, or `""`).
    pub fn below<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Param)> + 'a {
        self.params
            .range(prefix.to_owned()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    /// The data model root (`Device.` or `InternetGatewayDevice.`) the device uses, judged
    /// from the paths known.
    pub fn root(&self) -> Option<&'static str> {
        let first = self.params.keys().next()?;
        if first.starts_with("InternetGatewayDevice.") {
            Some("InternetGatewayDevice.")
        } else if first.starts_with("Device.") {
            Some("Device.")
        } else {
            None
        }
    }
}

/// The identity fields of an Inform's `DeviceId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceIdentity {
    /// `Manufacturer`.
    pub manufacturer: String,
    /// `OUI`.
    pub oui: String,
    /// `ProductClass` (may be empty).
    pub product_class: String,
    /// `SerialNumber`.
    pub serial_number: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_round_trip_through_cwmp() {
        for v in [
            cwmp::ParameterValue::UnsignedInt(300),
            cwmp::ParameterValue::Boolean(true),
            cwmp::ParameterValue::String("x".into()),
            cwmp::ParameterValue::Base64(vec![1, 2]),
        ] {
            let s = StoredValue::from_cwmp(&v);
            assert_eq!(s.to_cwmp().unwrap(), v);
            assert_eq!(
                ValueType::from_code(s.value_type.code(), None),
                Some(s.value_type.clone())
            );
        }
        let bad = StoredValue {
            text: "x".into(),
            value_type: ValueType::Int,
        };
        assert_eq!(bad.to_cwmp(), None);
        assert_eq!(
            StoredValue {
                text: "12".into(),
                value_type: ValueType::UnsignedInt
            }
            .number(),
            Some(12.0)
        );
    }

    #[test]
    fn below_a_prefix() {
        let mut d = DeviceData::default();
        for p in ["Device.A.", "Device.A.B", "Device.AB", "Device.B"] {
            d.params.insert(p.into(), Param::default());
        }
        let got: Vec<&str> = d.below("Device.A.").map(|(k, _)| k.as_str()).collect();
        assert_eq!(got, ["Device.A.", "Device.A.B"]);
        assert_eq!(d.root(), Some("Device."));
    }
}

//! The periodic Inform each simulated CPE sends, rendered from a template.
//!
//! The envelope is encoded once with the `cwmp` crate, with sentinel values where a value
//! changes between devices or sessions (serial number, `cwmp:ID`, times, counters, addresses).
//! Rendering a session's Inform then only copies the fixed segments and writes those values,
//! so the generator spends well under a microsecond per Inform instead of running the encoder
//! and its schema checks for every session.
//!
//! Addresses in the payload (ConnectionRequestURL, IP addresses) are in 127.0.0.0/8, so an
//! ACS that decided to send a Connection Request would only reach this machine.

use std::borrow::Cow;
use std::fmt;
use std::io::Write as _;

use cwmp::{
    CwmpVersion, DateTime, DeviceIdStruct, Envelope, EventStruct, Inform, Namespace,
    ParameterValue, ParameterValueStruct,
};

/// OUI of every simulated device.
pub const OUI: &str = "00D09E";
/// ProductClass of every simulated device.
pub const PRODUCT_CLASS: &str = "LoadGen";
/// Manufacturer of every simulated device.
pub const MANUFACTURER: &str = "LoadGen Labs";

/// Serial number of device `index` (0-based): `LG%08d`, counting from 1.
pub fn serial(index: u32) -> String {
    format!("LG{:08}", u64::from(index) + 1)
}

/// The TR-069 §3.4.4 HTTP username of device `index`: `OUI-ProductClass-SerialNumber`.
pub fn device_username(index: u32) -> String {
    format!("{OUI}-{PRODUCT_CLASS}-{}", serial(index))
}

/// What varies from one rendered Inform to the next.
#[derive(Debug, Clone, Copy)]
pub struct Vars {
    /// Device index, 0-based (serial `LG{index+1:08}`).
    pub device: u32,
    /// How many sessions this device had before this one in this run.
    pub round: u64,
    /// Session number in this run, written as the `cwmp:ID`.
    pub session: u64,
    /// Current Unix time in seconds.
    pub now: i64,
    /// Seconds since the generator started (drives UpTime).
    pub elapsed: u32,
}

/// A value written at render time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hole {
    Id,
    Serial,
    CurrentTime,
    LocalTime,
    ConnReqUrl,
    IpAddress,
    MacAddress,
    Ssid,
    Channel,
    UpTime,
    MemFree,
    CpuUsage,
    BytesSent,
    BytesReceived,
    PacketsSent,
    Associated,
    HostCount,
    Temperature,
    HostName(u32),
    HostMac(u32),
}

/// The XML type a hole's sentinel must have.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    UInt,
    ULong,
    Int,
    Time,
}

impl Hole {
    fn kind(self) -> Kind {
        match self {
            Hole::Id
            | Hole::Serial
            | Hole::ConnReqUrl
            | Hole::IpAddress
            | Hole::MacAddress
            | Hole::Ssid
            | Hole::HostName(_)
            | Hole::HostMac(_) => Kind::Str,
            Hole::CurrentTime | Hole::LocalTime => Kind::Time,
            Hole::Channel
            | Hole::UpTime
            | Hole::MemFree
            | Hole::CpuUsage
            | Hole::Associated
            | Hole::HostCount => Kind::UInt,
            Hole::BytesSent | Hole::BytesReceived | Hole::PacketsSent => Kind::ULong,
            Hole::Temperature => Kind::Int,
        }
    }

    /// A value of the hole's type whose text appears nowhere else in the envelope.
    fn sentinel(self, k: u32) -> Result<ParameterValue<'static>, TemplateError> {
        Ok(match self.kind() {
            Kind::Str => ParameterValue::String(Cow::Owned(format!("@@hole{k}@@"))),
            Kind::UInt => ParameterValue::UnsignedInt(4_000_000_000 + k),
            Kind::ULong => ParameterValue::UnsignedLong(18_000_000_000_000_000_000 + u64::from(k)),
            Kind::Int => ParameterValue::Int(-2_000_000_000 - i32::try_from(k).unwrap_or(0)),
            Kind::Time => ParameterValue::DateTime(
                DateTime::from_unix_timestamp(4_000_000_000 + i64::from(k))
                    .ok_or_else(|| TemplateError("sentinel time out of range".into()))?,
            ),
        })
    }

    fn render(self, out: &mut Vec<u8>, v: &Vars, now_text: &str) {
        let d = v.device;
        let d64 = u64::from(d);
        let r = v.round;
        let ip = d.wrapping_add(1);
        let (a, b, c) = ((ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
        // Writing into a Vec cannot fail.
        let _ = match self {
            Hole::Id => write!(out, "{}", v.session),
            Hole::Serial => write!(out, "LG{:08}", d64 + 1),
            Hole::CurrentTime | Hole::LocalTime => out.write_all(now_text.as_bytes()),
            Hole::ConnReqUrl => write!(out, "http://127.{a}.{b}.{c}:17547/cr/LG{:08}", d64 + 1),
            Hole::IpAddress => write!(out, "127.{a}.{b}.{c}"),
            Hole::MacAddress => write!(out, "00:D0:9E:{a:02X}:{b:02X}:{c:02X}"),
            Hole::Ssid => write!(out, "LoadGen-{:06X}", d64 + 1),
            Hole::Channel => write!(out, "{}", [1, 6, 11, 36, 40, 44, 48, 149][(d % 8) as usize]),
            Hole::UpTime => write!(out, "{}", (d % 1_000_000).wrapping_add(v.elapsed)),
            Hole::MemFree => write!(out, "{}", 80_000 + (d64 * 131 + r * 37) % 60_000),
            Hole::CpuUsage => write!(out, "{}", (d64 * 7 + r * 13) % 100),
            Hole::BytesSent => write!(out, "{}", d64 * 1_000_003 + r * 1_234_567),
            Hole::BytesReceived => write!(out, "{}", d64 * 2_000_029 + r * 9_876_543),
            Hole::PacketsSent => write!(out, "{}", d64 * 1_009 + r * 2_345),
            Hole::Associated => write!(out, "{}", (d64 + r) % 9),
            Hole::HostCount => write!(out, "{}", 3 + d % 12),
            Hole::Temperature => write!(out, "{}", 38 + (d64 + r) % 20),
            Hole::HostName(i) => write!(out, "lg{}-host{i}", d64 + 1),
            Hole::HostMac(i) => write!(out, "02:{a:02X}:{b:02X}:{c:02X}:00:{:02X}", i & 0xff),
        };
    }
}

/// A parameter of the Inform: fixed, or rendered per session.
enum Param {
    Fixed(ParameterValue<'static>),
    Hole(Hole),
}

fn s(v: &'static str) -> Param {
    Param::Fixed(ParameterValue::String(Cow::Borrowed(v)))
}

/// Realistic TR-181 (Device:2) parameters of a home gateway, forced Inform parameters first.
fn catalogue() -> Vec<(&'static str, Param)> {
    use ParameterValue::{Boolean, UnsignedInt};
    let first_use = DateTime::from_unix_timestamp(1_672_531_200).map_or(
        Param::Fixed(ParameterValue::String(Cow::Borrowed(""))),
        |t| Param::Fixed(ParameterValue::DateTime(t)),
    );
    vec![
        ("Device.RootDataModelVersion", s("2.17")),
        ("Device.DeviceInfo.HardwareVersion", s("LG-1 rev A")),
        ("Device.DeviceInfo.SoftwareVersion", s("4.2.7")),
        ("Device.DeviceInfo.ProvisioningCode", s("")),
        ("Device.ManagementServer.ParameterKey", s("")),
        (
            "Device.ManagementServer.ConnectionRequestURL",
            Param::Hole(Hole::ConnReqUrl),
        ),
        (
            "Device.ManagementServer.AliasBasedAddressing",
            Param::Fixed(Boolean(false)),
        ),
        ("Device.DeviceInfo.UpTime", Param::Hole(Hole::UpTime)),
        (
            "Device.IP.Interface.1.IPv4Address.1.IPAddress",
            Param::Hole(Hole::IpAddress),
        ),
        ("Device.IP.Interface.1.Status", s("Up")),
        (
            "Device.DeviceInfo.MemoryStatus.Total",
            Param::Fixed(UnsignedInt(262_144)),
        ),
        (
            "Device.DeviceInfo.MemoryStatus.Free",
            Param::Hole(Hole::MemFree),
        ),
        (
            "Device.DeviceInfo.ProcessStatus.CPUUsage",
            Param::Hole(Hole::CpuUsage),
        ),
        (
            "Device.Ethernet.Interface.1.Stats.BytesSent",
            Param::Hole(Hole::BytesSent),
        ),
        (
            "Device.Ethernet.Interface.1.Stats.BytesReceived",
            Param::Hole(Hole::BytesReceived),
        ),
        ("Device.WiFi.Radio.1.Channel", Param::Hole(Hole::Channel)),
        ("Device.WiFi.SSID.1.SSID", Param::Hole(Hole::Ssid)),
        (
            "Device.WiFi.AccessPoint.1.AssociatedDeviceNumberOfEntries",
            Param::Hole(Hole::Associated),
        ),
        ("Device.Time.CurrentLocalTime", Param::Hole(Hole::LocalTime)),
        (
            "Device.DeviceInfo.TemperatureStatus.TemperatureSensor.1.Value",
            Param::Hole(Hole::Temperature),
        ),
        (
            "Device.ManagementServer.PeriodicInformEnable",
            Param::Fixed(Boolean(true)),
        ),
        (
            "Device.ManagementServer.PeriodicInformInterval",
            Param::Fixed(UnsignedInt(300)),
        ),
        ("Device.DeviceInfo.Manufacturer", s(MANUFACTURER)),
        ("Device.DeviceInfo.ModelName", s("LG-1")),
        (
            "Device.Ethernet.Interface.1.MACAddress",
            Param::Hole(Hole::MacAddress),
        ),
        (
            "Device.IP.Interface.1.Stats.PacketsSent",
            Param::Hole(Hole::PacketsSent),
        ),
        (
            "Device.Hosts.HostNumberOfEntries",
            Param::Hole(Hole::HostCount),
        ),
        (
            "Device.WiFi.Radio.1.Stats.Noise",
            Param::Fixed(ParameterValue::Int(-92)),
        ),
        (
            "Device.NAT.PortMappingNumberOfEntries",
            Param::Fixed(UnsignedInt(2)),
        ),
        ("Device.DeviceInfo.FirstUseDate", first_use),
    ]
}

/// The `n` parameters of the Inform: the catalogue, then rows of `Device.Hosts.Host.{i}.`.
fn parameters(n: usize) -> Vec<(Cow<'static, str>, Param)> {
    let mut out: Vec<(Cow<'static, str>, Param)> = catalogue()
        .into_iter()
        .take(n)
        .map(|(name, p)| (Cow::Borrowed(name), p))
        .collect();
    let mut k = 0u32;
    while out.len() < n {
        let i = k / 4 + 1;
        let (field, p) = match k % 4 {
            0 => ("HostName", Param::Hole(Hole::HostName(i))),
            1 => ("PhysAddress", Param::Hole(Hole::HostMac(i))),
            2 => (
                "IPAddress",
                Param::Fixed(ParameterValue::String(Cow::Owned(format!(
                    "192.168.1.{}",
                    100 + i % 150
                )))),
            ),
            _ => (
                "Active",
                Param::Fixed(ParameterValue::Boolean(!i.is_multiple_of(3))),
            ),
        };
        out.push((Cow::Owned(format!("Device.Hosts.Host.{i}.{field}")), p));
        k += 1;
    }
    out
}

/// The Inform template could not be built (a bug, reported rather than panicking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Inform template: {}", self.0)
    }
}

impl std::error::Error for TemplateError {}

/// A pre-encoded Inform with holes; see the module documentation.
#[derive(Debug, Clone)]
pub struct InformTemplate {
    /// `segments.len() == holes.len() + 1`; the output is seg0 hole0 seg1 hole1 ... segN.
    segments: Vec<Vec<u8>>,
    holes: Vec<Hole>,
    parameters: usize,
    max_len: usize,
}

impl InformTemplate {
    /// Builds the template of a `2 PERIODIC` Inform with `parameters` parameters.
    pub fn new(parameters: usize) -> Result<InformTemplate, TemplateError> {
        let mut holes = vec![Hole::Id, Hole::Serial, Hole::CurrentTime];
        let mut sentinels = Vec::new();
        for (k, hole) in holes.iter().enumerate() {
            sentinels.push(hole.sentinel(k as u32)?);
        }
        let mut parameter_list = Vec::with_capacity(parameters);
        for (name, p) in self::parameters(parameters) {
            let value = match p {
                Param::Fixed(v) => v,
                Param::Hole(h) => {
                    let v = h.sentinel(holes.len() as u32)?;
                    holes.push(h);
                    sentinels.push(v.clone());
                    v
                }
            };
            parameter_list.push(ParameterValueStruct::new(name, value));
        }
        let text = |v: &ParameterValue<'_>| v.text().into_owned();
        let current_time = match &sentinels[2] {
            ParameterValue::DateTime(t) => *t,
            _ => return Err(TemplateError("CurrentTime sentinel is not a time".into())),
        };
        let inform = Inform {
            device_id: DeviceIdStruct {
                manufacturer: MANUFACTURER.into(),
                oui: OUI.into(),
                product_class: PRODUCT_CLASS.into(),
                serial_number: text(&sentinels[1]).into(),
            },
            event: vec![EventStruct::new(cwmp::event_code::PERIODIC)],
            max_envelopes: 1,
            current_time,
            retry_count: 0,
            parameter_list,
        };
        let mut envelope =
            Envelope::new(Namespace::Cwmp1_2, Some(text(&sentinels[0]).into()), inform);
        envelope.header.supported_cwmp_versions = Some(CwmpVersion::ALL.to_vec());
        let xml = envelope
            .encode()
            .map_err(|e| TemplateError(e.to_string()))?;

        // Locate each sentinel, as the whole content of an element.
        let mut found = Vec::with_capacity(holes.len());
        for (k, sentinel) in sentinels.iter().enumerate() {
            let needle = format!(">{}<", text(sentinel));
            let mut hits = xml.match_indices(&needle);
            let Some((pos, _)) = hits.next() else {
                return Err(TemplateError(format!("sentinel {needle} not found")));
            };
            if hits.next().is_some() {
                return Err(TemplateError(format!("sentinel {needle} found twice")));
            }
            found.push((pos + 1, needle.len() - 2, holes[k]));
        }
        found.sort_by_key(|&(pos, _, _)| pos);
        let bytes = xml.as_bytes();
        let mut segments = Vec::with_capacity(found.len() + 1);
        let mut at = 0;
        for &(pos, len, _) in &found {
            segments.push(bytes[at..pos].to_vec());
            at = pos + len;
        }
        segments.push(bytes[at..].to_vec());
        let fixed: usize = segments.iter().map(Vec::len).sum();
        let template = InformTemplate {
            segments,
            holes: found.into_iter().map(|(_, _, h)| h).collect(),
            parameters,
            // Generous room for the values: none is longer than 48 bytes.
            max_len: fixed + 48 * (sentinels.len()),
        };
        template.check()?;
        Ok(template)
    }

    /// Number of parameters in each Inform.
    pub fn parameters(&self) -> usize {
        self.parameters
    }

    /// Writes the Inform for `vars` into `out` (cleared first).
    pub fn render_into(&self, vars: &Vars, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(self.max_len);
        let now = DateTime::from_unix_timestamp(vars.now)
            .map(|t| ParameterValue::DateTime(t).text().into_owned())
            .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_owned());
        for (segment, hole) in self.segments.iter().zip(&self.holes) {
            out.extend_from_slice(segment);
            hole.render(out, vars, &now);
        }
        if let Some(last) = self.segments.last() {
            out.extend_from_slice(last);
        }
    }

    /// The Inform for `vars`.
    pub fn render(&self, vars: &Vars) -> Vec<u8> {
        let mut out = Vec::new();
        self.render_into(vars, &mut out);
        out
    }

    /// Renders two Informs and decodes them with the `cwmp` crate: a template bug shows at
    /// start, not as bad requests in the middle of a benchmark.
    fn check(&self) -> Result<(), TemplateError> {
        for vars in [
            Vars {
                device: 0,
                round: 0,
                session: 0,
                now: 1_714_564_800,
                elapsed: 0,
            },
            Vars {
                device: 9_999_999,
                round: 1_000_000,
                session: u64::MAX,
                now: 4_102_444_799,
                elapsed: u32::MAX,
            },
        ] {
            let xml = self.render(&vars);
            let envelope = cwmp::decode(&xml).map_err(|e| TemplateError(e.to_string()))?;
            envelope
                .validate()
                .map_err(|e| TemplateError(e.to_string()))?;
            let cwmp::Body::Inform(inform) = &envelope.body else {
                return Err(TemplateError("rendered envelope is not an Inform".into()));
            };
            if inform.device_id.serial_number != serial(vars.device)
                || inform.parameter_list.len() != self.parameters
                || envelope.header.id.as_deref() != Some(vars.session.to_string().as_str())
            {
                return Err(TemplateError("rendered Inform has the wrong values".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn renders_valid_informs_for_any_parameter_count() {
        for n in [0, 1, 7, 20, 30, 31, 100, 500] {
            let t = InformTemplate::new(n).unwrap();
            let vars = Vars {
                device: 41,
                round: 3,
                session: 77,
                now: 1_714_564_800,
                elapsed: 9,
            };
            let xml = t.render(&vars);
            let env = cwmp::decode(&xml).unwrap();
            let cwmp::Body::Inform(inform) = &env.body else {
                panic!("not an Inform")
            };
            assert_eq!(inform.parameter_list.len(), n);
            assert_eq!(inform.device_id.serial_number, "LG00000042");
            assert_eq!(inform.device_id.oui, "00D09E");
            assert_eq!(inform.device_id.product_class, "LoadGen");
            assert_eq!(inform.event[0].event_code, "2 PERIODIC");
            assert_eq!(inform.current_time.unix_timestamp(), 1_714_564_800);
            assert_eq!(env.header.id.as_deref(), Some("77"));
        }
    }

    #[test]
    fn twenty_parameters_have_mixed_types_and_changing_values() {
        let t = InformTemplate::new(20).unwrap();
        let a = t.render(&Vars {
            device: 5,
            round: 0,
            session: 1,
            now: 1_714_564_800,
            elapsed: 0,
        });
        let b = t.render(&Vars {
            device: 5,
            round: 1,
            session: 2,
            now: 1_714_565_100,
            elapsed: 300,
        });
        let (ea, eb) = (cwmp::decode(&a).unwrap(), cwmp::decode(&b).unwrap());
        let (cwmp::Body::Inform(ia), cwmp::Body::Inform(ib)) = (&ea.body, &eb.body) else {
            panic!("not Informs")
        };
        let types: std::collections::BTreeSet<&str> = ia
            .parameter_list
            .iter()
            .map(|p| p.value.xsi_type())
            .collect();
        for ty in [
            "xsd:string",
            "xsd:boolean",
            "xsd:unsignedInt",
            "xsd:unsignedLong",
            "xsd:int",
            "xsd:dateTime",
        ] {
            assert!(types.contains(ty), "{ty} missing from {types:?}");
        }
        let uptime = |i: &Inform<'_>| {
            i.parameter_list
                .iter()
                .find(|p| p.name == "Device.DeviceInfo.UpTime")
                .unwrap()
                .value
                .text()
                .into_owned()
        };
        assert_eq!(
            uptime(ia).parse::<u32>().unwrap() + 300,
            uptime(ib).parse::<u32>().unwrap()
        );
        assert!(
            ia.parameter_list
                .iter()
                .all(|p| p.name.starts_with("Device."))
        );
    }

    #[test]
    fn usernames_follow_tr069() {
        assert_eq!(serial(0), "LG00000001");
        assert_eq!(device_username(9), "00D09E-LoadGen-LG00000010");
    }
}

//! Per-device placeholders in profile values, rendered when a value is read so that 100,000
//! devices share one copy of each factory value.
//!
//! | Placeholder | Renders as | Example (index 5, OUI `00259E`, serial `SIM000000005`) |
//! |---|---|---|
//! | `{serial}` | [`Identity::serial_number`] | `SIM000000005` |
//! | `{oui}` | [`Identity::oui`] | `00259E` |
//! | `{manufacturer}` | [`Identity::manufacturer`] | |
//! | `{product_class}` | [`Identity::product_class`] | |
//! | `{index}` | [`Identity::index`] in decimal | `5` |
//! | `{mac:N}` | MAC address `N` (0–15) of the device: the OUI, then 24 bits `index × 16 + N` | `00:25:9E:00:00:50` for `{mac:0}` |
//! | `{ip}` | the device's WAN IPv4 address in 100.64.0.0/10 (RFC 6598 shared space): `100.64.0.2` + index | `100.64.0.7` |
//! | `{ip6}` | the device's WAN IPv6 address, `2001:db8:A:B::1` with `A:B` the index | `2001:db8:0:5::1` |
//! | `{ip6prefix}` | the device's delegated LAN prefix, `2001:db8:8000+A:B::/64` | `2001:db8:8000:5::/64` |
//! | `{uuid:N}` | a version-4-shaped UUID derived from the index, serial and `N` | |
//!
//! Anything else in braces is left as written. MAC addresses are unique for up to 2^20
//! devices per OUI, IPv4 addresses for up to 4,194,302 devices.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::Identity;

/// Whether `text` holds a placeholder this module renders.
pub fn has_placeholders(text: &str) -> bool {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = rest.get(open + 1..).unwrap_or("");
        match after.find('}') {
            Some(close) => {
                if known(after.get(..close).unwrap_or("")) {
                    return true;
                }
                rest = after;
            }
            None => return false,
        }
    }
    false
}

fn known(name: &str) -> bool {
    match name.split_once(':') {
        Some(("mac", n)) => n.parse::<u8>().is_ok_and(|n| n < 16),
        Some(("uuid", n)) => n.parse::<u32>().is_ok(),
        Some(_) => false,
        None => matches!(
            name,
            "serial"
                | "oui"
                | "manufacturer"
                | "product_class"
                | "index"
                | "ip"
                | "ip6"
                | "ip6prefix"
        ),
    }
}

/// `text` with its placeholders rendered for `id`.
pub fn render<'t>(text: &'t str, id: &Identity) -> Cow<'t, str> {
    if !text.contains('{') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(rest.get(..open).unwrap_or(""));
        let after = rest.get(open + 1..).unwrap_or("");
        match after.find('}') {
            Some(close) => {
                let name = after.get(..close).unwrap_or("");
                if known(name) {
                    expand(name, id, &mut out);
                } else {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
                rest = after.get(close + 1..).unwrap_or("");
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn expand(name: &str, id: &Identity, out: &mut String) {
    let (head, arg) = name.split_once(':').unwrap_or((name, ""));
    match head {
        "serial" => out.push_str(&id.serial_number),
        "oui" => out.push_str(&id.oui),
        "manufacturer" => out.push_str(&id.manufacturer),
        "product_class" => out.push_str(&id.product_class),
        "index" => {
            let _ = write!(out, "{}", id.index);
        }
        "mac" => {
            let n = u64::from(arg.parse::<u8>().unwrap_or(0) & 15);
            let [a, b, c] = oui_bytes(&id.oui);
            let low = (id.index.wrapping_mul(16).wrapping_add(n)) & 0xFF_FFFF;
            let _ = write!(
                out,
                "{a:02X}:{b:02X}:{c:02X}:{:02X}:{:02X}:{:02X}",
                (low >> 16) & 0xFF,
                (low >> 8) & 0xFF,
                low & 0xFF
            );
        }
        "ip" => {
            let n = 0x6440_0000u64 + id.index % 4_194_302 + 2;
            let _ = write!(
                out,
                "{}.{}.{}.{}",
                (n >> 24) & 0xFF,
                (n >> 16) & 0xFF,
                (n >> 8) & 0xFF,
                n & 0xFF
            );
        }
        "ip6" => {
            let (a, b) = ip6_words(id.index);
            let _ = write!(out, "2001:db8:{a:x}:{b:x}::1");
        }
        "ip6prefix" => {
            let (a, b) = ip6_words(id.index);
            let _ = write!(out, "2001:db8:{:x}:{b:x}::/64", a | 0x8000);
        }
        "uuid" => {
            let n = u64::from(arg.parse::<u32>().unwrap_or(0));
            let seed = mix(id.index ^ mix(n) ^ hash_str(&id.serial_number));
            let hi = mix(seed);
            let lo = mix(hi ^ 0x9E37_79B9_7F4A_7C15);
            let _ = write!(
                out,
                "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
                hi >> 32,
                (hi >> 16) & 0xFFFF,
                hi & 0xFFF,
                8 + ((lo >> 62) & 3),
                (lo >> 48) & 0xFFF,
                lo & 0xFFFF_FFFF_FFFF
            );
        }
        _ => {}
    }
}

fn ip6_words(index: u64) -> (u64, u64) {
    ((index >> 16) & 0x7FFF, index & 0xFFFF)
}

/// The three octets of an OUI written as six hex digits; a locally administered prefix
/// when it is not one.
fn oui_bytes(oui: &str) -> [u8; 3] {
    let byte = |i: usize| {
        oui.get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
    };
    match (oui.len(), byte(0), byte(2), byte(4)) {
        (6, Some(a), Some(b), Some(c)) => [a, b, c],
        _ => [0x02, 0x00, 0x00],
    }
}

/// SplitMix64 finalizer: a cheap, well-spread deterministic hash step.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hash_str(s: &str) -> u64 {
    // FNV-1a, stable across runs and platforms.
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> Identity {
        Identity {
            manufacturer: "Acme".into(),
            oui: "00259E".into(),
            product_class: "HG1".into(),
            serial_number: "SIM000000005".into(),
            index: 5,
        }
    }

    #[test]
    fn renders_known_placeholders_only() {
        let id = id();
        assert_eq!(render("plain", &id), "plain");
        assert_eq!(
            render("{serial}/{oui}/{index}", &id),
            "SIM000000005/00259E/5"
        );
        assert_eq!(render("{mac:0}", &id), "00:25:9E:00:00:50");
        assert_eq!(render("{mac:15}", &id), "00:25:9E:00:00:5F");
        assert_eq!(render("{ip}", &id), "100.64.0.7");
        assert_eq!(render("{ip6}", &id), "2001:db8:0:5::1");
        assert_eq!(render("{ip6prefix}", &id), "2001:db8:8000:5::/64");
        assert_eq!(render("{nope} {mac:16} {", &id), "{nope} {mac:16} {");
        assert!(has_placeholders("x{serial}"));
        assert!(!has_placeholders("{nope}{"));
        let u = render("{uuid:1}", &id).into_owned();
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert_ne!(u, render("{uuid:2}", &id));
    }

    #[test]
    fn macs_and_ips_differ_between_devices() {
        let mut a = id();
        let mut b = id();
        a.index = 1;
        b.index = 2;
        for p in ["{mac:0}", "{ip}", "{ip6}", "{uuid:0}"] {
            assert_ne!(render(p, &a), render(p, &b), "{p}");
        }
    }
}

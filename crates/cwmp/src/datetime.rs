//! `xsd:dateTime` as CWMP uses it: UTC, the Unknown Time `0001-01-01T00:00:00Z`, and
//! relative times (years before 1000 mean time since boot, TR-106 §3.2).

use std::fmt;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// A point in time, held in UTC.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateTime(OffsetDateTime);

/// Text that is not an `xsd:dateTime`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an xsd:dateTime")]
pub struct InvalidDateTime(pub String);

impl DateTime {
    /// The Unknown Time, `0001-01-01T00:00:00Z` (TR-106 §3.2): sent for times a CPE does not
    /// know, such as `CurrentTime` before NTP sync or the times of a pending transfer.
    pub const UNKNOWN: DateTime = {
        let date = match Date::from_calendar_date(1, Month::January, 1) {
            Ok(date) => date,
            Err(_) => Date::MIN,
        };
        DateTime(PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc())
    };

    /// Whether this is the Unknown Time.
    pub fn is_unknown(&self) -> bool {
        *self == DateTime::UNKNOWN
    }

    /// From seconds since the Unix epoch; `None` outside years 1..=9999.
    pub fn from_unix_timestamp(seconds: i64) -> Option<DateTime> {
        let t = OffsetDateTime::from_unix_timestamp(seconds).ok()?;
        (1..=9999).contains(&t.year()).then_some(DateTime(t))
    }

    /// Seconds since the Unix epoch (negative before 1970).
    pub fn unix_timestamp(&self) -> i64 {
        self.0.unix_timestamp()
    }

    /// The calendar year.
    pub fn year(&self) -> i32 {
        self.0.year()
    }

    /// Sub-second part, in nanoseconds.
    pub fn nanosecond(&self) -> u32 {
        self.0.nanosecond()
    }

    /// The value as a `time` crate value (UTC).
    pub fn to_offset_date_time(self) -> OffsetDateTime {
        self.0
    }

    /// From a `time` crate value, converted to UTC.
    pub fn from_offset_date_time(t: OffsetDateTime) -> DateTime {
        DateTime(t.to_offset(UtcOffset::UTC))
    }

    /// Parses `YYYY-MM-DDThh:mm:ss[.fraction][Z|±hh:mm]`. A value without a time zone is
    /// taken as UTC, which TR-069 prescribes for all its times. Fractions beyond
    /// nanoseconds are truncated.
    pub fn parse(text: &str) -> Result<DateTime, InvalidDateTime> {
        parse(text.trim()).ok_or_else(|| InvalidDateTime(crate::error::excerpt(text)))
    }
}

fn parse(s: &str) -> Option<DateTime> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    // Years are four digits; xsd allows more, but no CWMP time needs them.
    let year = num(0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    let (month, day) = (num(5, 2)?, num(8, 2)?);
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b.get(i).copied().unwrap_or(b'0') - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    let offset = match b.get(i..)? {
        [] => UtcOffset::UTC,
        [b'Z'] => UtcOffset::UTC,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digit = |d: &u8| {
                d.is_ascii_digit()
                    .then(|| i8::try_from(d - b'0').ok())
                    .flatten()
            };
            let h = digit(h1)? * 10 + digit(h2)?;
            let m = digit(m1)? * 10 + digit(m2)?;
            let (h, m) = if *sign == b'-' { (-h, -m) } else { (h, m) };
            UtcOffset::from_hms(h, m, 0).ok()?
        }
        _ => return None,
    };
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    let time = Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    let t = PrimitiveDateTime::new(date, time)
        .assume_offset(offset)
        .to_offset(UtcOffset::UTC);
    Some(DateTime(t))
}

impl fmt::Display for DateTime {
    /// `YYYY-MM-DDThh:mm:ssZ`, with a fraction only when there is one: some CPEs reject
    /// fractional seconds (notes §9 #4).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        let (year, month, day) = t.to_calendar_date();
        let (hour, minute, second) = t.to_hms();
        match u16::try_from(year) {
            // The digits written directly: `write!` with padded fields cost 2,000
            // instructions per time, as much as decoding a parameter (callgrind).
            Ok(year @ 0..=9999) => {
                let two = |n: u8| [b'0' + n / 10 % 10, b'0' + n % 10];
                let [c, y] = [year / 100, year % 100].map(|n| two(n as u8));
                let [mo, d, h, mi, s] = [u8::from(month), day, hour, minute, second].map(two);
                let text = [
                    c[0], c[1], y[0], y[1], b'-', mo[0], mo[1], b'-', d[0], d[1], b'T', h[0], h[1],
                    b':', mi[0], mi[1], b':', s[0], s[1],
                ];
                // ASCII digits and separators only.
                f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)?;
            }
            _ => write!(
                f,
                "{year:04}-{:02}-{day:02}T{hour:02}:{minute:02}:{second:02}",
                u8::from(month)
            )?,
        }
        let nanos = t.nanosecond();
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            write!(f, ".{}", frac.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

impl fmt::Debug for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DateTime({self})")
    }
}

impl serde::Serialize for DateTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_time() {
        let t = DateTime::parse("0001-01-01T00:00:00Z").unwrap();
        assert!(t.is_unknown());
        assert_eq!(t.to_string(), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn fractions_offsets_and_missing_zone() {
        let t = DateTime::parse("2026-11-21T23:09:48.165Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-21T23:09:48.165Z");
        assert_eq!(t.nanosecond(), 165_000_000);
        let t = DateTime::parse("2024-05-01T14:00:00+02:00").unwrap();
        assert_eq!(t.to_string(), "2024-05-01T12:00:00Z");
        let t = DateTime::parse(" 2024-05-01T12:00:00 ").unwrap();
        assert_eq!(t.to_string(), "2024-05-01T12:00:00Z");
        let t = DateTime::parse("2024-05-01T12:00:00.1234567891-00:30").unwrap();
        assert_eq!(t.to_string(), "2024-05-01T12:30:00.123456789Z");
    }

    #[test]
    fn rejects_invalid() {
        for s in [
            "",
            "2024-02-30T00:00:00Z",
            "2024-05-01 12:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00+2:00",
            "2024-05-01T12:00:00ZZ",
            "+024-05-01T12:00:00Z",
            "2024-13-01T12:00:00Z",
        ] {
            assert!(DateTime::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn unix_round_trip() {
        let t = DateTime::from_unix_timestamp(1_714_564_800).unwrap();
        assert_eq!(t.to_string(), "2024-05-01T12:00:00Z");
        assert_eq!(t.unix_timestamp(), 1_714_564_800);
    }

    proptest::proptest! {
        /// Every second of years 1 to 9999 is written as `time` formats its fields, and
        /// reads back as itself.
        #[test]
        fn text_matches_the_fields_and_parses_back(
            secs in -62_135_596_800i64..=253_402_300_799,
            nanos in proptest::prop_oneof![proptest::strategy::Just(0u32), 0u32..1_000_000_000],
        ) {
            let t = DateTime::from_unix_timestamp(secs).unwrap();
            let t = DateTime(t.0.replace_nanosecond(nanos).unwrap());
            let text = t.to_string();
            let o = t.0;
            let fields = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                o.year(),
                u8::from(o.month()),
                o.day(),
                o.hour(),
                o.minute(),
                o.second()
            );
            proptest::prop_assert!(text.starts_with(&fields), "{} {}", text, fields);
            proptest::prop_assert_eq!(DateTime::parse(&text).unwrap(), t);
        }
    }
}

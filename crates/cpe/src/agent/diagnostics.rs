//! IP diagnostics as a simulated device runs them (TR-181 `Device.IP.Diagnostics.`,
//! TR-098 `InternetGatewayDevice.IPPingDiagnostics.` ...): the ACS sets `DiagnosticsState`
//! to `Requested`; after the session the agent calls [`complete`], then informs with
//! `8 DIAGNOSTICS COMPLETE` (TR-069 §A.3.2.1 note on diagnostics, notes §4.4).
//!
//! Nothing is sent on the network: the results are made up, plausibly and repeatably, from
//! the test parameters, the target and a seed.
//!
//! | Object (TR-181 / TR-098) | Reads | Writes |
//! |---|---|---|
//! | `IP.Diagnostics.IPPing.` / `IPPingDiagnostics.` | `Host`, `NumberOfRepetitions`, `Timeout`, `DataBlockSize`, `Interface`, `ProtocolVersion` | `SuccessCount`, `FailureCount`, `Average`/`Minimum`/`MaximumResponseTime` (ms) and their `...Detailed` (µs), `IPAddressUsed` |
//! | `IP.Diagnostics.TraceRoute.` / `TraceRouteDiagnostics.` | `Host`, `NumberOfTries`, `Timeout`, `MaxHopCount`, ... | `RouteHops.{i}.` (`Host`, `HostAddress`, `ErrorCode`, `RTTimes`; TR-098 `HopHost`...), `ResponseTime`, `IPAddressUsed` |
//! | `IP.Diagnostics.DownloadDiagnostics.` / `DownloadDiagnostics.` | `DownloadURL`, ... | `TCPOpenRequestTime`, `TCPOpenResponseTime`, `ROMTime`, `BOMTime`, `EOMTime` (µs precision), `TestBytesReceived`, `TotalBytesReceived`, `TotalBytesSent`, `...UnderFullLoading`, `PeriodOfFullLoading`, `IPAddressUsed` |
//! | `IP.Diagnostics.UploadDiagnostics.` / `UploadDiagnostics.` | `UploadURL`, `TestFileLength`, ... | the same times, `TestBytesSent`, `TotalBytesSent`, `TotalBytesReceived`, ... |
//!
//! Parameters the device does not have are skipped. The final `DiagnosticsState`:
//!
//! - `Complete` (`Completed` for TR-098's download and upload diagnostics, whose enumeration
//!   has no `Complete`);
//! - `Error_CannotResolveHostName` when the host is empty or in the reserved `.invalid`
//!   domain (RFC 6761) — for a URL's host too where the enumeration has it, else
//!   `Error_InitConnectionFailed`;
//! - `Error_InitConnectionFailed` for an empty or malformed URL, or a scheme other than
//!   HTTP, HTTPS or FTP;
//! - `Error_MaxHopCountExceeded` when the route is longer than `MaxHopCount`.
//!
//! A target on the device's own LAN or loopback answers in about a millisecond over one
//! hop; anything else takes 5–80 ms over 4–13 hops. Throughput is 50–500 Mbit/s down and
//! 10–100 Mbit/s up. A download's size comes from its URL when it names one (`10MB.bin`,
//! `file_100k`), else 10 MiB.

use std::borrow::Cow;

use cwmp::ParameterValue;

use crate::data_model::DataModel;
use crate::time::Time;

/// Runs the diagnostic whose `DiagnosticsState` parameter is `state_param` (full name, as
/// [`DataModel::requested_diagnostics`] gives it): writes plausible results derived from
/// the test parameters and `seed`, and the final `DiagnosticsState` (`Complete`, or an
/// `Error_...` value such as `Error_CannotResolveHostName` for an empty or unresolvable
/// host). Returns `false` when `state_param` names no diagnostic this module knows (the
/// agent then sets it to `Error_Internal`... or leaves it).
pub fn complete<M: DataModel + ?Sized>(
    model: &mut M,
    state_param: &str,
    seed: u64,
    now: Time,
) -> bool {
    let Some((kind, object)) = diagnostic(state_param) else {
        return false;
    };
    if model.value(state_param, now).is_none() {
        return false;
    }
    let mut run = Run {
        model,
        object,
        now,
        igd: false,
    };
    run.igd = run.model.root() == "InternetGatewayDevice.";
    let outcome = match kind {
        Kind::Ping => run.ping(seed),
        Kind::TraceRoute => run.trace_route(seed),
        Kind::Download => run.transfer(seed, false),
        Kind::Upload => run.transfer(seed, true),
    };
    let states: &[&str] = match outcome {
        Outcome::Complete if run.igd && matches!(kind, Kind::Download | Kind::Upload) => {
            &["Completed", "Complete"]
        }
        Outcome::Complete => &["Complete", "Completed"],
        Outcome::CannotResolve => &[
            "Error_CannotResolveHostName",
            "Error_InitConnectionFailed",
            "Error_Other",
            "Error",
        ],
        Outcome::InitConnectionFailed => &["Error_InitConnectionFailed", "Error_Other", "Error"],
        Outcome::MaxHopCountExceeded => &["Error_MaxHopCountExceeded", "Error_Other", "Error"],
    };
    for s in states {
        if run.put(state_param, s) {
            break;
        }
    }
    true
}

/// The four diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ping,
    TraceRoute,
    Download,
    Upload,
}

/// How a diagnostic ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Complete,
    CannotResolve,
    InitConnectionFailed,
    MaxHopCountExceeded,
}

/// The diagnostic a `DiagnosticsState` parameter belongs to, and its object (with the
/// trailing dot), from the object's name.
fn diagnostic(state_param: &str) -> Option<(Kind, &str)> {
    let object = state_param.strip_suffix("DiagnosticsState")?;
    let name = object.strip_suffix('.')?.rsplit('.').next()?;
    let kind = match name {
        "IPPing" | "IPPingDiagnostics" => Kind::Ping,
        "TraceRoute" | "TraceRouteDiagnostics" => Kind::TraceRoute,
        "DownloadDiagnostics" => Kind::Download,
        "UploadDiagnostics" => Kind::Upload,
        _ => return None,
    };
    Some((kind, object))
}

/// A small deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, parts: &[&str]) -> Rng {
        let mut h = mix(seed ^ 0x5DEE_CE66_D1CE_4E5B);
        for p in parts {
            h = mix(h ^ fnv(p));
        }
        Rng(h)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        let span = hi.saturating_sub(lo).saturating_add(1);
        lo.saturating_add(self.next() % span.max(1))
    }

    /// `true` with probability `per_mille`/1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// Whether a host name is one the simulated resolver cannot resolve: empty, or in the
/// reserved `.invalid` domain.
fn unresolvable(host: &str) -> bool {
    let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
    h.is_empty() || h == "invalid" || h.ends_with(".invalid")
}

/// Whether a target is the device itself or on its LAN (about a millisecond, one hop).
fn is_local(host: &str) -> bool {
    let h = host
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if h == "localhost" || h.ends_with(".lan") || h.ends_with(".local") || h == "::1" {
        return true;
    }
    if h.starts_with("fe80:") || h.starts_with("fd") && h.contains(':') {
        return true;
    }
    match ipv4(&h) {
        Some([127, ..] | [10, ..] | [192, 168, ..] | [169, 254, ..]) => true,
        Some([172, b, ..]) => (16..32).contains(&b),
        _ => false,
    }
}

fn ipv4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut out {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// The address a name resolves to in the simulation: an IP literal is itself, a name maps
/// into 198.18.0.0/15 (RFC 2544 benchmarking space, never routed) or 2001:db8::/32.
fn resolve(host: &str, v6: bool) -> String {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    if ipv4(h).is_some() || h.contains(':') {
        return h.to_owned();
    }
    if h.eq_ignore_ascii_case("localhost") {
        return if v6 { "::1".into() } else { "127.0.0.1".into() };
    }
    let x = fnv(&h.to_ascii_lowercase());
    if v6 {
        format!(
            "2001:db8:{:x}:{:x}::{:x}",
            (x >> 48) & 0xFFFF,
            (x >> 32) & 0xFFFF,
            (x & 0xFFFF).max(1)
        )
    } else {
        format!(
            "198.{}.{}.{}",
            18 + ((x >> 16) & 1),
            (x >> 8) & 0xFF,
            (x & 0xFF).clamp(1, 254)
        )
    }
}

/// A URL as far as the diagnostics need it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url<'a> {
    host: &'a str,
    path: &'a str,
}

/// `http://host[:port]/path`, `https://...`, `ftp://...`; `None` when it is none of these.
fn parse_url(url: &str) -> Option<Url<'_>> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    if !["http", "https", "ftp"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
    {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..end)?;
    let path = rest.get(end..).unwrap_or("");
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    Some(Url { host, path })
}

/// The size a test file's URL names (`10MB.bin`, `100k`, `1G`), if any: the last number in
/// the path followed by a size unit.
fn size_in_path(path: &str) -> Option<u64> {
    let name = path
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .rsplit('/')
        .next()
        .unwrap_or("");
    let bytes = name.as_bytes();
    let mut best = None;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            continue;
        }
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let n: u64 = name.get(start..i).and_then(|d| d.parse().ok()).unwrap_or(0);
        let unit = match bytes.get(i).map(u8::to_ascii_uppercase) {
            Some(b'K') => 1 << 10,
            Some(b'M') => 1 << 20,
            Some(b'G') => 1 << 30,
            _ => continue,
        };
        // `10MB`, `10M`, `10mb`, but not `10Mbit` or `4main`.
        let next = bytes.get(i + 1).map(u8::to_ascii_uppercase);
        let after = if next == Some(b'B') {
            bytes.get(i + 2)
        } else {
            bytes.get(i + 1)
        };
        if after.is_none_or(|b| !b.is_ascii_alphabetic()) && n > 0 {
            best = n.checked_mul(unit).filter(|&s| s <= 1 << 40);
        }
    }
    best
}

/// A point in time in microseconds as an `xsd:dateTime` with microseconds (TR-181 asks
/// for them in the download and upload times).
fn micros_text(us: u64) -> String {
    let secs = i64::try_from(us / 1_000_000).unwrap_or(i64::MAX);
    let frac = us % 1_000_000;
    let dt = cwmp::DateTime::from_unix_timestamp(secs).unwrap_or(cwmp::DateTime::UNKNOWN);
    let text = dt.to_string();
    let base = text.strip_suffix('Z').unwrap_or(&text);
    format!("{base}.{frac:06}Z")
}

/// One run of a diagnostic on `object` (`...IPPing.`).
struct Run<'m, M: DataModel + ?Sized> {
    model: &'m mut M,
    object: &'m str,
    now: Time,
    igd: bool,
}

impl<M: DataModel + ?Sized> Run<'_, M> {
    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.object)
    }

    /// A test parameter's value as text.
    fn text(&self, name: &str) -> Option<String> {
        self.model
            .value(&self.path(name), self.now)
            .map(|v| v.text().into_owned())
    }

    /// A numeric test parameter, `default` when absent, unreadable or 0.
    fn number(&self, name: &str, default: u64) -> u64 {
        self.text(name)
            .and_then(|t| t.trim().parse::<u64>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(default)
    }

    /// Sets a parameter (full path) to `text`, typed as the parameter is; `false` when the
    /// device lacks it or refuses the value.
    fn put(&mut self, path: &str, text: &str) -> bool {
        let Some(current) = self.model.value(path, self.now) else {
            return false;
        };
        let value =
            ParameterValue::from_text(current.xsi_type(), Cow::Owned(text.to_owned())).into_owned();
        self.model.set_value(path, value, self.now)
    }

    /// Sets a result parameter of the object; missing ones are skipped.
    fn result(&mut self, name: &str, text: &str) {
        let path = self.path(name);
        let _ = self.put(&path, text);
    }

    fn v6(&self, host: &str) -> bool {
        self.text("ProtocolVersion").as_deref() == Some("IPv6")
            || host.trim_start_matches('[').contains(':')
    }

    /// `IPAddressUsed`: the first address of the `Interface` the test names, or of the
    /// first IP interface with one (the WAN on the built-in device).
    fn ip_address_used(&mut self, v6: bool) {
        let path = self.path("IPAddressUsed");
        if self.model.value(&path, self.now).is_none() {
            return;
        }
        let table = if v6 { "IPv6Address." } else { "IPv4Address." };
        let named = self
            .text("Interface")
            .map(|i| i.trim().trim_end_matches('.').to_owned())
            .filter(|i| !i.is_empty());
        let interfaces: Vec<String> = match named {
            Some(i) => vec![format!("{i}.")],
            None => {
                let t = format!("{}IP.Interface.", self.model.root());
                self.model
                    .instance_numbers(&t)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|n| format!("{t}{n}."))
                    .collect()
            }
        };
        let found = interfaces.iter().find_map(|iface| {
            let t = format!("{iface}{table}");
            self.model
                .instance_numbers(&t)
                .unwrap_or_default()
                .into_iter()
                .find_map(|n| {
                    self.model
                        .value(&format!("{t}{n}.IPAddress"), self.now)
                        .map(|v| v.text().trim().to_owned())
                        .filter(|a| !a.is_empty())
                })
        });
        let _ = self.put(&path, found.as_deref().unwrap_or(""));
    }

    /// A base round-trip time in microseconds to `host`, and its hop count.
    fn path_to(&self, host: &str, rng: &mut Rng) -> (u64, u64) {
        if is_local(host) {
            (rng.range(150, 1_500), 1)
        } else {
            (rng.range(5_000, 80_000), rng.range(4, 13))
        }
    }

    fn ping(&mut self, seed: u64) -> Outcome {
        let host = self.text("Host").unwrap_or_default();
        if unresolvable(&host) {
            for name in [
                "SuccessCount",
                "FailureCount",
                "AverageResponseTime",
                "MinimumResponseTime",
                "MaximumResponseTime",
                "AverageResponseTimeDetailed",
                "MinimumResponseTimeDetailed",
                "MaximumResponseTimeDetailed",
            ] {
                self.result(name, "0");
            }
            return Outcome::CannotResolve;
        }
        let repetitions = self.number("NumberOfRepetitions", 1).min(100_000);
        let timeout_us = self.number("Timeout", 1_000).saturating_mul(1_000);
        let block = self.number("DataBlockSize", 64).min(65_535);
        let mut rng = Rng::new(seed, &[self.object, "ping", host.trim()]);
        let (base, _) = self.path_to(&host, &mut rng);
        // Serialisation of the block at 100 Mbit/s, both ways.
        let base = base + block * 8 * 2 / 100;
        let loss = if is_local(&host) { 0 } else { rng.range(0, 20) };
        let (mut ok, mut failed, mut sum, mut min, mut max) = (0u64, 0u64, 0u64, u64::MAX, 0u64);
        for _ in 0..repetitions {
            let jitter = rng.range(0, base / 4 + 1);
            let rtt = base - base / 8 + jitter;
            if rng.chance(loss) || rtt > timeout_us {
                failed += 1;
                continue;
            }
            ok += 1;
            sum += rtt;
            min = min.min(rtt);
            max = max.max(rtt);
        }
        let avg = sum.checked_div(ok).unwrap_or(0);
        let min = if ok == 0 { 0 } else { min };
        let ms = |us: u64| us.div_ceil(1_000).to_string();
        self.result("SuccessCount", &ok.to_string());
        self.result("FailureCount", &failed.to_string());
        self.result("AverageResponseTime", &ms(avg));
        self.result("MinimumResponseTime", &ms(min));
        self.result("MaximumResponseTime", &ms(max));
        self.result("AverageResponseTimeDetailed", &avg.to_string());
        self.result("MinimumResponseTimeDetailed", &min.to_string());
        self.result("MaximumResponseTimeDetailed", &max.to_string());
        let v6 = self.v6(&host);
        self.ip_address_used(v6);
        Outcome::Complete
    }

    fn trace_route(&mut self, seed: u64) -> Outcome {
        let hops_table = self.path("RouteHops.");
        for n in self.model.instance_numbers(&hops_table).unwrap_or_default() {
            let _ = self
                .model
                .delete_instance(&format!("{hops_table}{n}."), self.now);
        }
        let host = self.text("Host").unwrap_or_default();
        if unresolvable(&host) {
            self.result("ResponseTime", "0");
            self.result("RouteHopsNumberOfEntries", "0");
            return Outcome::CannotResolve;
        }
        let tries = self.number("NumberOfTries", 3).min(3);
        let max_hops = self.number("MaxHopCount", 30).min(64);
        let timeout_us = self.number("Timeout", 5_000).saturating_mul(1_000);
        let v6 = self.v6(&host);
        let mut rng = Rng::new(seed, &[self.object, "traceroute", host.trim()]);
        let (base, hops) = self.path_to(&host, &mut rng);
        let shown = hops.min(max_hops);
        let mut last_rtt = 0;
        for hop in 1..=shown {
            let Some(n) = self.model.add_instance(&hops_table, self.now) else {
                break;
            };
            let target = hop == hops;
            let address = if target {
                resolve(&host, v6)
            } else if hop == 1 && !v6 {
                "100.64.0.1".to_owned()
            } else if v6 {
                format!("2001:db8:ffff:{hop:x}::1")
            } else {
                format!("198.18.{}.{}", 200 + hop, rng.range(1, 254))
            };
            let name = if target {
                host.trim().to_owned()
            } else {
                address.clone()
            };
            let hop_base = base * hop / hops;
            let times: Vec<String> = (0..tries)
                .map(|_| {
                    let rtt = hop_base + rng.range(0, hop_base / 5 + 300);
                    if rtt > timeout_us {
                        0
                    } else {
                        rtt.div_ceil(1_000)
                    }
                })
                .map(|ms| ms.to_string())
                .collect();
            last_rtt = hop_base.div_ceil(1_000);
            let entry = format!("{hops_table}{n}.");
            for (a, b) in [
                ("Host", &name),
                ("HopHost", &name),
                ("HostAddress", &address),
                ("HopHostAddress", &address),
            ] {
                let _ = self.put(&format!("{entry}{a}"), b);
            }
            for p in ["ErrorCode", "HopErrorCode"] {
                let _ = self.put(&format!("{entry}{p}"), "0");
            }
            let rt = times.join(",");
            for p in ["RTTimes", "HopRTTimes"] {
                let _ = self.put(&format!("{entry}{p}"), &rt);
            }
        }
        let count = self
            .model
            .instance_numbers(&hops_table)
            .map_or(0, |v| v.len());
        self.result("RouteHopsNumberOfEntries", &count.to_string());
        self.result("ResponseTime", &last_rtt.to_string());
        self.ip_address_used(v6);
        if hops > max_hops {
            Outcome::MaxHopCountExceeded
        } else {
            Outcome::Complete
        }
    }

    /// Download (`upload` false) and upload diagnostics.
    fn transfer(&mut self, seed: u64, upload: bool) -> Outcome {
        let url = self
            .text(if upload { "UploadURL" } else { "DownloadURL" })
            .unwrap_or_default();
        let times = [
            "ROMTime",
            "BOMTime",
            "EOMTime",
            "TCPOpenRequestTime",
            "TCPOpenResponseTime",
        ];
        let counters = [
            "TestBytesReceived",
            "TestBytesSent",
            "TotalBytesReceived",
            "TotalBytesSent",
            "TestBytesReceivedUnderFullLoading",
            "TestBytesSentUnderFullLoading",
            "TotalBytesReceivedUnderFullLoading",
            "TotalBytesSentUnderFullLoading",
            "PeriodOfFullLoading",
        ];
        let parsed = parse_url(&url);
        let failure = match &parsed {
            None => Some(Outcome::InitConnectionFailed),
            Some(u) if unresolvable(u.host) => Some(Outcome::CannotResolve),
            Some(_) => None,
        };
        let (Some(u), None) = (parsed, failure) else {
            for t in times {
                self.result(t, "0001-01-01T00:00:00Z");
            }
            for c in counters {
                self.result(c, "0");
            }
            return failure.unwrap_or(Outcome::InitConnectionFailed);
        };
        let mut rng = Rng::new(
            seed,
            &[self.object, if upload { "up" } else { "down" }, &url],
        );
        let (rtt, _) = self.path_to(u.host, &mut rng);
        let size = if upload {
            self.text("TestFileLength")
                .and_then(|t| t.trim().parse::<u64>().ok())
                .unwrap_or(1 << 20)
        } else {
            size_in_path(u.path).unwrap_or(10 << 20)
        };
        let mbps = if upload {
            rng.range(10, 100)
        } else {
            rng.range(50, 500)
        };
        // Microseconds to move `size` bytes at `mbps` Mbit/s (bits / (Mbit/s) = µs).
        let transfer_us = size.saturating_mul(8) / mbps.max(1) + rtt / 2;
        let setup_us = rng.range(100, 2_000);
        // The test ended just now: work back from it.
        let end = self.now.0.saturating_mul(1_000).saturating_sub(setup_us);
        let eom = end;
        let bom = eom.saturating_sub(transfer_us);
        let rom = bom.saturating_sub(rtt);
        let tcp_response = rom.saturating_sub(setup_us / 4);
        let tcp_request = tcp_response.saturating_sub(rtt);
        for (name, us) in [
            ("TCPOpenRequestTime", tcp_request),
            ("TCPOpenResponseTime", tcp_response),
            ("ROMTime", rom),
            ("BOMTime", bom),
            ("EOMTime", eom),
        ] {
            self.result(name, &micros_text(us));
        }
        // TCP/IP overhead: 52 bytes per 1448-byte segment, an ACK per two segments, the
        // HTTP request and response headers.
        let segments = size.div_ceil(1_448);
        let wire = size + segments * 52 + 300;
        let acks = segments.div_ceil(2) * 52 + 200;
        let loaded_us = transfer_us - transfer_us / 10;
        let (test, sent, received) = if upload {
            ("TestBytesSent", wire, acks)
        } else {
            ("TestBytesReceived", acks, wire)
        };
        self.result(test, &size.to_string());
        self.result("TotalBytesSent", &sent.to_string());
        self.result("TotalBytesReceived", &received.to_string());
        let full = size - size / 10;
        self.result(&format!("{test}UnderFullLoading"), &full.to_string());
        self.result(
            "TotalBytesSentUnderFullLoading",
            &(sent - sent / 10).to_string(),
        );
        self.result(
            "TotalBytesReceivedUnderFullLoading",
            &(received - received / 10).to_string(),
        );
        self.result("PeriodOfFullLoading", &loaded_us.to_string());
        let v6 = self.v6(u.host);
        self.ip_address_used(v6);
        Outcome::Complete
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{Model, Profile};
    use crate::tree::{Template, Tree};

    const NOW: Time = Time(1_714_564_800_123);
    const PING: &str = "Device.IP.Diagnostics.IPPing.";
    const TRACE: &str = "Device.IP.Diagnostics.TraceRoute.";
    const DOWN: &str = "Device.IP.Diagnostics.DownloadDiagnostics.";
    const UP: &str = "Device.IP.Diagnostics.UploadDiagnostics.";

    fn builtin() -> Tree {
        let template = Template::builtin().unwrap();
        let identity = template.identity(0, "SN0");
        Tree::new(Arc::new(template), identity, Time(1_714_564_000_000))
    }

    fn get(t: &Tree, path: &str) -> String {
        t.value(path, NOW)
            .unwrap_or_else(|| panic!("{path} missing"))
            .text()
            .into_owned()
    }

    fn num(t: &Tree, path: &str) -> u64 {
        get(t, path).parse().unwrap()
    }

    fn set(t: &mut Tree, path: &str, v: &str) {
        let cur = t.value(path, NOW).unwrap();
        let v = ParameterValue::from_text(cur.xsi_type(), v.to_owned().into()).into_owned();
        assert!(t.set_value(path, v, NOW), "{path}");
    }

    fn request(t: &mut Tree, object: &str) -> String {
        let state = format!("{object}DiagnosticsState");
        set(t, &state, "Requested");
        assert!(t.requested_diagnostics().contains(&state));
        state
    }

    #[test]
    fn diagnostic_names() {
        assert_eq!(
            diagnostic("Device.IP.Diagnostics.IPPing.DiagnosticsState"),
            Some((Kind::Ping, PING))
        );
        assert_eq!(
            diagnostic("InternetGatewayDevice.TraceRouteDiagnostics.DiagnosticsState").map(|d| d.0),
            Some(Kind::TraceRoute)
        );
        assert_eq!(
            diagnostic("Device.IP.Diagnostics.NSLookupDiagnostics.DiagnosticsState"),
            None
        );
        assert_eq!(diagnostic("Device.IP.Diagnostics.IPPing.Host"), None);
        assert_eq!(diagnostic("DiagnosticsState"), None);
        assert_eq!(diagnostic(""), None);
    }

    #[test]
    fn unknown_diagnostic_is_false() {
        let mut t = builtin();
        assert!(!complete(
            &mut t,
            "Device.IP.Diagnostics.NSLookupDiagnostics.DiagnosticsState",
            1,
            NOW
        ));
        // A known object name the device lacks.
        assert!(!complete(
            &mut t,
            "Device.Other.IPPing.DiagnosticsState",
            1,
            NOW
        ));
        assert!(!complete(&mut t, "Device.DeviceInfo.UpTime", 1, NOW));
    }

    #[test]
    fn ping_results() {
        let mut t = builtin();
        set(&mut t, &format!("{PING}Host"), "acs.example.net");
        set(&mut t, &format!("{PING}NumberOfRepetitions"), "20");
        let state = request(&mut t, PING);
        assert!(complete(&mut t, &state, 7, NOW));
        assert_eq!(get(&t, &state), "Complete");
        assert!(t.requested_diagnostics().is_empty());
        let ok = num(&t, &format!("{PING}SuccessCount"));
        let failed = num(&t, &format!("{PING}FailureCount"));
        assert_eq!(ok + failed, 20);
        assert!(ok >= 15, "{ok}");
        let min = num(&t, &format!("{PING}MinimumResponseTimeDetailed"));
        let avg = num(&t, &format!("{PING}AverageResponseTimeDetailed"));
        let max = num(&t, &format!("{PING}MaximumResponseTimeDetailed"));
        assert!(
            min <= avg && avg <= max && min >= 4_000,
            "{min} {avg} {max}"
        );
        assert_eq!(
            num(&t, &format!("{PING}AverageResponseTime")),
            avg.div_ceil(1000)
        );
        // The WAN address of the device (100.64.0.2 + index).
        assert_eq!(get(&t, &format!("{PING}IPAddressUsed")), "100.64.0.2");

        // The same seed gives the same results; another seed other results.
        let mut again = builtin();
        set(&mut again, &format!("{PING}Host"), "acs.example.net");
        set(&mut again, &format!("{PING}NumberOfRepetitions"), "20");
        assert!(complete(&mut again, &state, 7, NOW));
        assert_eq!(
            get(&again, &format!("{PING}AverageResponseTimeDetailed")),
            avg.to_string()
        );
        assert!(complete(&mut again, &state, 8, NOW));
        assert_ne!(
            get(&again, &format!("{PING}AverageResponseTimeDetailed")),
            avg.to_string()
        );
    }

    #[test]
    fn ping_local_and_timeouts() {
        let mut t = builtin();
        set(&mut t, &format!("{PING}Host"), "192.168.1.20");
        set(&mut t, &format!("{PING}NumberOfRepetitions"), "5");
        let state = request(&mut t, PING);
        assert!(complete(&mut t, &state, 1, NOW));
        assert_eq!(num(&t, &format!("{PING}SuccessCount")), 5);
        assert!(num(&t, &format!("{PING}MaximumResponseTime")) <= 2);
        // A timeout shorter than any answer: all fail, times 0, still Complete.
        set(&mut t, &format!("{PING}Host"), "far.example.com");
        set(&mut t, &format!("{PING}Timeout"), "1");
        assert!(complete(&mut t, &state, 1, NOW));
        assert_eq!(get(&t, &state), "Complete");
        assert_eq!(num(&t, &format!("{PING}SuccessCount")), 0);
        assert_eq!(num(&t, &format!("{PING}FailureCount")), 5);
        assert_eq!(num(&t, &format!("{PING}AverageResponseTime")), 0);
        assert_eq!(num(&t, &format!("{PING}MinimumResponseTime")), 0);
    }

    #[test]
    fn ping_cannot_resolve() {
        for host in ["", "  ", "no.such.host.invalid", "X.INVALID."] {
            let mut t = builtin();
            set(&mut t, &format!("{PING}SuccessCount"), "3");
            if !host.is_empty() {
                set(&mut t, &format!("{PING}Host"), host);
            }
            let state = request(&mut t, PING);
            assert!(complete(&mut t, &state, 1, NOW));
            assert_eq!(get(&t, &state), "Error_CannotResolveHostName", "{host:?}");
            assert_eq!(num(&t, &format!("{PING}SuccessCount")), 0);
        }
    }

    #[test]
    fn trace_route_hops() {
        let mut t = builtin();
        set(&mut t, &format!("{TRACE}Host"), "www.example.org");
        let state = request(&mut t, TRACE);
        assert!(complete(&mut t, &state, 3, NOW));
        assert_eq!(get(&t, &state), "Complete");
        let hops = t.instance_numbers(&format!("{TRACE}RouteHops.")).unwrap();
        assert!((4..=13).contains(&hops.len()), "{hops:?}");
        assert_eq!(
            num(&t, &format!("{TRACE}RouteHopsNumberOfEntries")),
            hops.len() as u64
        );
        let last = hops.last().unwrap();
        assert_eq!(
            get(&t, &format!("{TRACE}RouteHops.{last}.Host")),
            "www.example.org"
        );
        let addr = get(&t, &format!("{TRACE}RouteHops.{last}.HostAddress"));
        assert!(addr.starts_with("198.1"), "{addr}");
        assert_eq!(
            get(&t, &format!("{TRACE}RouteHops.1.HostAddress")),
            "100.64.0.1"
        );
        let rt = get(&t, &format!("{TRACE}RouteHops.{last}.RTTimes"));
        assert_eq!(rt.split(',').count(), 3, "{rt}");
        assert!(num(&t, &format!("{TRACE}ResponseTime")) >= 5);

        // Running again replaces the hops; a short MaxHopCount cuts the route.
        set(&mut t, &format!("{TRACE}MaxHopCount"), "2");
        set(&mut t, &format!("{TRACE}NumberOfTries"), "1");
        assert!(complete(&mut t, &state, 3, NOW));
        assert_eq!(get(&t, &state), "Error_MaxHopCountExceeded");
        let hops = t.instance_numbers(&format!("{TRACE}RouteHops.")).unwrap();
        assert_eq!(hops.len(), 2);
        assert_eq!(num(&t, &format!("{TRACE}RouteHopsNumberOfEntries")), 2);
        let first = hops.first().unwrap();
        let rt = get(&t, &format!("{TRACE}RouteHops.{first}.RTTimes"));
        assert_eq!(rt.split(',').count(), 1, "{rt}");

        // A LAN host is one hop away.
        set(&mut t, &format!("{TRACE}Host"), "10.0.0.7");
        assert!(complete(&mut t, &state, 3, NOW));
        assert_eq!(get(&t, &state), "Complete");
        let hops = t.instance_numbers(&format!("{TRACE}RouteHops.")).unwrap();
        assert_eq!(hops.len(), 1);
        let only = hops.first().unwrap();
        assert_eq!(
            get(&t, &format!("{TRACE}RouteHops.{only}.HostAddress")),
            "10.0.0.7"
        );

        // An unresolvable host: no hops.
        set(&mut t, &format!("{TRACE}Host"), "nowhere.invalid");
        assert!(complete(&mut t, &state, 3, NOW));
        assert_eq!(get(&t, &state), "Error_CannotResolveHostName");
        assert_eq!(
            t.instance_numbers(&format!("{TRACE}RouteHops."))
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn download_results() {
        let mut t = builtin();
        set(
            &mut t,
            &format!("{DOWN}DownloadURL"),
            "http://speedtest.example.net/files/5MB.bin",
        );
        let state = request(&mut t, DOWN);
        assert!(complete(&mut t, &state, 11, NOW));
        assert_eq!(get(&t, &state), "Complete");
        assert_eq!(num(&t, &format!("{DOWN}TestBytesReceived")), 5 << 20);
        assert!(num(&t, &format!("{DOWN}TotalBytesReceived")) > 5 << 20);
        assert!(num(&t, &format!("{DOWN}TotalBytesSent")) > 0);
        let time = |n: &str| {
            let text = get(&t, &format!("{DOWN}{n}"));
            cwmp::DateTime::parse(&text).unwrap()
        };
        let order = [
            "TCPOpenRequestTime",
            "TCPOpenResponseTime",
            "ROMTime",
            "BOMTime",
            "EOMTime",
        ]
        .map(time);
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        let eom = order[4];
        assert!(eom.unix_timestamp() <= NOW.unix_secs());
        assert!(eom.unix_timestamp() >= NOW.unix_secs() - 2);
        // 5 MiB at 50–500 Mbit/s: 0.08–0.9 s.
        let secs = order[4].unix_timestamp() - order[3].unix_timestamp();
        assert!(secs <= 1, "{secs}");
        assert_eq!(get(&t, &format!("{DOWN}IPAddressUsed")), "100.64.0.2");
    }

    #[test]
    fn download_errors() {
        let cases = [
            ("", "Error_InitConnectionFailed"),
            ("not a url", "Error_InitConnectionFailed"),
            ("gopher://example.net/x", "Error_InitConnectionFailed"),
            ("http:///nohost", "Error_InitConnectionFailed"),
            (
                "http://speed.invalid/10MB.bin",
                "Error_CannotResolveHostName",
            ),
        ];
        for (url, expected) in cases {
            let mut t = builtin();
            if !url.is_empty() {
                set(&mut t, &format!("{DOWN}DownloadURL"), url);
            }
            set(&mut t, &format!("{DOWN}TestBytesReceived"), "5");
            let state = request(&mut t, DOWN);
            assert!(complete(&mut t, &state, 1, NOW));
            assert_eq!(get(&t, &state), expected, "{url}");
            assert_eq!(num(&t, &format!("{DOWN}TestBytesReceived")), 0);
            assert_eq!(get(&t, &format!("{DOWN}BOMTime")), "0001-01-01T00:00:00Z");
        }
    }

    #[test]
    fn upload_results() {
        let mut t = builtin();
        set(
            &mut t,
            &format!("{UP}UploadURL"),
            "ftp://user@upload.example.net:2121/incoming/test.bin",
        );
        set(&mut t, &format!("{UP}TestFileLength"), "2000000");
        let state = request(&mut t, UP);
        assert!(complete(&mut t, &state, 5, NOW));
        assert_eq!(get(&t, &state), "Complete");
        assert_eq!(num(&t, &format!("{UP}TestBytesSent")), 2_000_000);
        assert!(num(&t, &format!("{UP}TotalBytesSent")) > 2_000_000);
        assert!(num(&t, &format!("{UP}TotalBytesReceived")) < 2_000_000);
        let bom = get(&t, &format!("{UP}BOMTime"));
        assert!(bom.contains('.'), "microseconds: {bom}");

        set(&mut t, &format!("{UP}UploadURL"), "https://up.invalid/");
        assert!(complete(&mut t, &state, 5, NOW));
        assert_eq!(get(&t, &state), "Error_CannotResolveHostName");
        set(&mut t, &format!("{UP}UploadURL"), "up.example.net/x");
        assert!(complete(&mut t, &state, 5, NOW));
        assert_eq!(get(&t, &state), "Error_InitConnectionFailed");
    }

    #[test]
    fn url_and_size_parsing() {
        assert_eq!(
            parse_url("http://a.b:80/x?y"),
            Some(Url {
                host: "a.b",
                path: "/x?y"
            })
        );
        assert_eq!(
            parse_url("https://[2001:db8::1]:443/").unwrap().host,
            "2001:db8::1"
        );
        assert_eq!(parse_url("HTTP://h").unwrap().path, "");
        assert_eq!(parse_url("http://"), None);
        assert_eq!(parse_url("file:///etc/passwd"), None);
        assert_eq!(size_in_path("/10MB.bin"), Some(10 << 20));
        assert_eq!(size_in_path("/x/file_100k"), Some(100 << 10));
        assert_eq!(size_in_path("/1G"), Some(1 << 30));
        assert_eq!(size_in_path("/1Mbit.bin"), None);
        assert_eq!(size_in_path("/v4main.bin"), None);
        assert_eq!(size_in_path("/99999999999999999999M"), None);
        assert_eq!(size_in_path(""), None);
        assert_eq!(
            micros_text(1_000_000_000_123_456),
            "2001-09-09T01:46:40.123456Z"
        );
        assert!(is_local("127.0.0.1") && is_local("172.20.1.1") && !is_local("172.32.0.1"));
        assert!(!is_local("100.64.0.1") && !is_local("example.com"));
        assert_eq!(ipv4("1.2.3"), None);
        assert_eq!(ipv4("1.2.3.4.5"), None);
        assert_eq!(ipv4("256.1.1.1"), None);
        assert!(resolve("example.com", true).starts_with("2001:db8:"));
    }

    /// With TR-181's own definitions, every value written fits (enumerations, IPAddress
    /// patterns, lists, unsignedLong counters).
    #[test]
    fn fits_tr181_definitions() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/bbf/tr-181-2-17-0-cwmp-full.xml");
        let Ok(model) = Model::from_bbf_file(&path) else {
            eprintln!("skipped: {} not found", path.display());
            return;
        };
        let profile = Profile::builtin().unwrap();
        let template = Template::from_profile(&profile, Some(model)).unwrap();
        let identity = template.identity(3, "SN3");
        let mut t = Tree::new(Arc::new(template), identity, Time(1_714_564_000_000));
        set(&mut t, &format!("{PING}Host"), "8.8.8.8");
        set(&mut t, &format!("{TRACE}Host"), "example.com");
        set(
            &mut t,
            &format!("{DOWN}DownloadURL"),
            "http://example.com/1MB",
        );
        set(&mut t, &format!("{UP}UploadURL"), "http://example.com/up");
        for object in [PING, TRACE, DOWN, UP] {
            let state = request(&mut t, object);
            assert!(complete(&mut t, &state, 9, NOW));
            assert_eq!(get(&t, &state), "Complete", "{object}");
            assert_eq!(
                get(&t, &format!("{object}IPAddressUsed")),
                "100.64.0.5",
                "{object}"
            );
        }
        assert!(num(&t, &format!("{PING}SuccessCount")) > 0);
        assert!(num(&t, &format!("{TRACE}RouteHopsNumberOfEntries")) >= 4);
        assert_eq!(num(&t, &format!("{DOWN}TestBytesReceived")), 1 << 20);
        assert_eq!(num(&t, &format!("{UP}TestBytesSent")), 1 << 20);
    }

    /// TR-098 names: `IPPingDiagnostics`, `TraceRouteDiagnostics` with `HopHost`...,
    /// `Completed` for download and upload, no `Error_CannotResolveHostName` there.
    const IGD_PROFILE: &str = "\
InternetGatewayDevice.DeviceInfo.SerialNumber\txsd:string\t0\t{serial}
InternetGatewayDevice.IPPingDiagnostics.DiagnosticsState\txsd:string\t1\tNone\tenum=None|Requested|Complete|Error_CannotResolveHostName|Error_Internal|Error_Other
InternetGatewayDevice.IPPingDiagnostics.Host\txsd:string\t1\t
InternetGatewayDevice.IPPingDiagnostics.NumberOfRepetitions\txsd:unsignedInt\t1\t4
InternetGatewayDevice.IPPingDiagnostics.Timeout\txsd:unsignedInt\t1\t1000
InternetGatewayDevice.IPPingDiagnostics.SuccessCount\txsd:unsignedInt\t0\t0
InternetGatewayDevice.IPPingDiagnostics.FailureCount\txsd:unsignedInt\t0\t0
InternetGatewayDevice.IPPingDiagnostics.AverageResponseTime\txsd:unsignedInt\t0\t0
InternetGatewayDevice.IPPingDiagnostics.MinimumResponseTime\txsd:unsignedInt\t0\t0
InternetGatewayDevice.IPPingDiagnostics.MaximumResponseTime\txsd:unsignedInt\t0\t0
InternetGatewayDevice.TraceRouteDiagnostics.DiagnosticsState\txsd:string\t1\tNone\tenum=None|Requested|Complete|Error_CannotResolveHostName|Error_MaxHopCountExceeded
InternetGatewayDevice.TraceRouteDiagnostics.Host\txsd:string\t1\t
InternetGatewayDevice.TraceRouteDiagnostics.MaxHopCount\txsd:unsignedInt\t1\t30
InternetGatewayDevice.TraceRouteDiagnostics.ResponseTime\txsd:unsignedInt\t0\t0
InternetGatewayDevice.TraceRouteDiagnostics.RouteHopsNumberOfEntries\txsd:unsignedInt\t0\t0
InternetGatewayDevice.TraceRouteDiagnostics.RouteHops.{i}.\t\t0
InternetGatewayDevice.TraceRouteDiagnostics.RouteHops.{i}.HopHost\txsd:string\t0\t
InternetGatewayDevice.TraceRouteDiagnostics.RouteHops.{i}.HopHostAddress\txsd:string\t0\t
InternetGatewayDevice.TraceRouteDiagnostics.RouteHops.{i}.HopErrorCode\txsd:unsignedInt\t0\t0
InternetGatewayDevice.TraceRouteDiagnostics.RouteHops.{i}.HopRTTimes\txsd:string\t0\t
InternetGatewayDevice.DownloadDiagnostics.DiagnosticsState\txsd:string\t1\tNone\tenum=None|Requested|Completed|Error_InitConnectionFailed|Error_NoResponse
InternetGatewayDevice.DownloadDiagnostics.DownloadURL\txsd:string\t1\t
InternetGatewayDevice.DownloadDiagnostics.ROMTime\txsd:dateTime\t0\t0001-01-01T00:00:00Z
InternetGatewayDevice.DownloadDiagnostics.BOMTime\txsd:dateTime\t0\t0001-01-01T00:00:00Z
InternetGatewayDevice.DownloadDiagnostics.EOMTime\txsd:dateTime\t0\t0001-01-01T00:00:00Z
InternetGatewayDevice.DownloadDiagnostics.TestBytesReceived\txsd:unsignedInt\t0\t0
InternetGatewayDevice.DownloadDiagnostics.TotalBytesReceived\txsd:unsignedInt\t0\t0
InternetGatewayDevice.UploadDiagnostics.DiagnosticsState\txsd:string\t1\tNone\tenum=None|Requested|Completed|Error_InitConnectionFailed|Error_NoResponse
InternetGatewayDevice.UploadDiagnostics.UploadURL\txsd:string\t1\t
InternetGatewayDevice.UploadDiagnostics.TestFileLength\txsd:unsignedInt\t1\t0
InternetGatewayDevice.UploadDiagnostics.TotalBytesSent\txsd:unsignedInt\t0\t0
";

    fn igd(template: Template) -> Tree {
        let identity = template.identity(1, "IGD1");
        Tree::new(Arc::new(template), identity, Time(1_714_564_000_000))
    }

    fn run_igd(t: &mut Tree) {
        let ping = "InternetGatewayDevice.IPPingDiagnostics.";
        set(t, &format!("{ping}Host"), "example.net");
        // The whole model's factory values are the lower bounds (1 ms, one repetition).
        set(t, &format!("{ping}Timeout"), "1000");
        set(t, &format!("{ping}NumberOfRepetitions"), "4");
        let state = request(t, ping);
        assert!(complete(t, &state, 2, NOW));
        assert_eq!(get(t, &state), "Complete");
        assert!(num(t, &format!("{ping}SuccessCount")) > 0);
        assert!(num(t, &format!("{ping}MinimumResponseTime")) >= 4);

        let trace = "InternetGatewayDevice.TraceRouteDiagnostics.";
        set(t, &format!("{trace}Host"), "example.net");
        set(t, &format!("{trace}MaxHopCount"), "30");
        let state = request(t, trace);
        assert!(complete(t, &state, 2, NOW));
        assert_eq!(get(t, &state), "Complete");
        let hops = t.instance_numbers(&format!("{trace}RouteHops.")).unwrap();
        assert!(hops.len() >= 4);
        let last = hops.last().unwrap();
        assert_eq!(
            get(t, &format!("{trace}RouteHops.{last}.HopHost")),
            "example.net"
        );
        assert!(!get(t, &format!("{trace}RouteHops.{last}.HopRTTimes")).is_empty());
        assert_eq!(
            num(t, &format!("{trace}RouteHopsNumberOfEntries")),
            hops.len() as u64
        );

        let down = "InternetGatewayDevice.DownloadDiagnostics.";
        set(
            t,
            &format!("{down}DownloadURL"),
            "http://example.net/2MB.bin",
        );
        let state = request(t, down);
        assert!(complete(t, &state, 2, NOW));
        assert_eq!(get(t, &state), "Completed");
        assert_eq!(num(t, &format!("{down}TestBytesReceived")), 2 << 20);
        // No Error_CannotResolveHostName in TR-098's download enumeration.
        set(
            t,
            &format!("{down}DownloadURL"),
            "http://example.invalid/2MB.bin",
        );
        assert!(complete(t, &state, 2, NOW));
        assert_eq!(get(t, &state), "Error_InitConnectionFailed");

        let up = "InternetGatewayDevice.UploadDiagnostics.";
        set(t, &format!("{up}UploadURL"), "http://example.net/put");
        set(t, &format!("{up}TestFileLength"), "100000");
        let state = request(t, up);
        assert!(complete(t, &state, 2, NOW));
        assert_eq!(get(t, &state), "Completed");
        assert!(num(t, &format!("{up}TotalBytesSent")) > 100_000);
    }

    #[test]
    fn tr098_profile() {
        let p = Profile::parse(IGD_PROFILE, "igd.tsv").unwrap();
        run_igd(&mut igd(Template::from_profile(&p, None).unwrap()));
    }

    /// The whole TR-098 model (its own definitions and enumerations).
    #[test]
    fn tr098_model() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/bbf/tr-098-1-8-0-full.xml");
        let Ok(model) = Model::from_bbf_file(&path) else {
            eprintln!("skipped: {} not found", path.display());
            return;
        };
        run_igd(&mut igd(Template::from_model(model)));
    }
}

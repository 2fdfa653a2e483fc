//! Proptest strategies for every CWMP message and for whole envelopes.
//!
//! Every value is valid in the BBF schema of [`Ctx::ns`]: maximum lengths counted in
//! characters, patterns (event codes, file types, window modes, OUI, UUID, object names),
//! enumerations, array bounds, fault-code ranges per context and namespace, notification
//! values per namespace. The schema tests check that with xmllint; the round-trip tests
//! use the same values.
//!
//! Strings mix plain ASCII, XML markup characters, non-ASCII (é, €, 𝄞, CJK), CR/LF/TAB,
//! leading and trailing spaces, and any character XML 1.0 can carry.

use std::borrow::Cow;
use std::ops::RangeInclusive;

use cwmp::{
    AddObject, AddObjectResponse, AllQueuedTransferStruct, ApplyStatus, ArgStruct,
    AutonOpResultStruct, AutonomousDUStateChangeComplete, AutonomousDUStateChangeCompleteResponse,
    AutonomousTransferComplete, AutonomousTransferCompleteResponse, Body, BooleanStyle,
    CancelTransfer, CancelTransferResponse, ChangeDUState, ChangeDUStateResponse, CwmpFault,
    CwmpVersion, DUStateChangeComplete, DUStateChangeCompleteResponse, DateTime, DeleteObject,
    DeleteObjectResponse, DeploymentUnitFaultStruct, DeploymentUnitState, DeviceIdStruct, Download,
    DownloadResponse, EncodeOptions, Envelope, EventStruct, FactoryReset, FactoryResetResponse,
    Fault, FaultCode, GetAllQueuedTransfers, GetAllQueuedTransfersResponse, GetOptions,
    GetOptionsResponse, GetParameterAttributes, GetParameterAttributesResponse, GetParameterNames,
    GetParameterNamesResponse, GetParameterValues, GetParameterValuesResponse, GetQueuedTransfers,
    GetQueuedTransfersResponse, GetRPCMethods, GetRPCMethodsResponse, Header, Inform,
    InformResponse, InstallOpStruct, Kicked, KickedResponse, Namespace, Notification,
    OpResultStruct, Operation, OptionStruct, ParameterAttributeStruct, ParameterInfoStruct,
    ParameterValue, ParameterValueStruct, QueuedTransferStruct, Reboot, RebootResponse,
    RequestDownload, RequestDownloadResponse, ScheduleDownload, ScheduleDownloadResponse,
    ScheduleInform, ScheduleInformResponse, SetParameterAttributes, SetParameterAttributesResponse,
    SetParameterAttributesStruct, SetParameterValues, SetParameterValuesFault,
    SetParameterValuesResponse, SetVouchers, SetVouchersResponse, SoapFaultCode, TimeWindowStruct,
    TransferComplete, TransferCompleteFaultStruct, TransferCompleteResponse, TransferState,
    TransferStatus, UninstallOpStruct, UpdateOpStruct, Upload, UploadResponse, Voucher,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

/// What to generate for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctx {
    /// The namespace whose schema the values must satisfy.
    pub ns: Namespace,
}

impl Ctx {
    pub fn new(ns: Namespace) -> Ctx {
        Ctx { ns }
    }
}

type S = Cow<'static, str>;
type Strat<T> = BoxedStrategy<T>;

/// A message strategy: random bodies of one message for a context.
pub type BodyStrategy = fn(Ctx) -> BoxedStrategy<Body<'static>>;

// ---------------------------------------------------------------------------------------
// Characters and strings
// ---------------------------------------------------------------------------------------

/// `\u{9}|\u{A}|\u{D}|[\u{20}-\u{D7FF}]|[\u{E000}-\u{FFFD}]|[\u{10000}-\u{10FFFF}]`.
const XML_CHARS: &[RangeInclusive<char>] = &[
    '\u{9}'..='\u{A}',
    '\u{D}'..='\u{D}',
    '\u{20}'..='\u{D7FF}',
    '\u{E000}'..='\u{FFFD}',
    '\u{10000}'..='\u{10FFFF}',
];

const MARKUP: &[char] = &['&', '<', '>', '"', '\'', ']', ';', '#'];
const NON_ASCII: &[char] = &[
    'é',
    '€',
    '𝄞',
    '中',
    '文',
    '字',
    'ß',
    'Ω',
    'ü',
    '«',
    '»',
    '\u{A0}',
    '\u{FEFF}',
    '😀',
    '\u{FFFD}',
    '\u{10FFFF}',
];
const CONTROLS: &[char] = &['\r', '\n', '\t'];

/// One character XML 1.0 can carry, biased towards the interesting ones.
pub fn xml_char() -> Strat<char> {
    prop_oneof![
        8 => proptest::char::range('a', 'z'),
        4 => proptest::char::range(' ', '~'),
        2 => select(MARKUP),
        2 => select(NON_ASCII),
        1 => select(CONTROLS),
        1 => proptest::char::ranges(Cow::Borrowed(XML_CHARS)),
    ]
    .boxed()
}

fn collect(chars: Vec<char>) -> String {
    chars.into_iter().collect()
}

fn truncate_chars(mut s: String, max: usize) -> String {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
    }
    s
}

/// A string of at most `max` characters: mostly short, sometimes exactly `max` long,
/// sometimes padded with spaces and tabs.
pub fn text(max: usize) -> Strat<String> {
    let short = vec(xml_char(), 0..=max.min(16)).prop_map(collect);
    if max == 0 {
        return Just(String::new()).boxed();
    }
    let full = vec(xml_char(), max..=max).prop_map(collect);
    let padded = (
        select(&[" ", "  ", "\t", " \t\n", "\r\n "][..]),
        vec(xml_char(), 0..=max.min(8)).prop_map(collect),
        select(&[" ", "  ", "\t", "\n", " \r"][..]),
    )
        .prop_map(move |(a, m, b)| truncate_chars(format!("{a}{m}{b}"), max));
    prop_oneof![8 => short, 1 => full, 2 => padded].boxed()
}

fn cow(s: String) -> S {
    Cow::Owned(s)
}

/// [`text`] as a `Cow`.
pub fn ctext(max: usize) -> Strat<S> {
    text(max).prop_map(cow).boxed()
}

/// A string without CR and LF (what XSD `.` matches), at most `max` characters, at least
/// `min`.
pub fn line(min: usize, max: usize) -> Strat<String> {
    vec(xml_char(), min..=max)
        .prop_map(|cs| {
            cs.into_iter()
                .map(|c| if matches!(c, '\r' | '\n') { '_' } else { c })
                .collect()
        })
        .boxed()
}

/// XSD `\S+`: no space, TAB, CR or LF; between `min` (at least 1) and `max` characters.
pub fn word(min: usize, max: usize) -> Strat<String> {
    vec(xml_char(), min.max(1)..=max)
        .prop_map(|cs| {
            cs.into_iter()
                .map(|c| {
                    if matches!(c, ' ' | '\t' | '\r' | '\n') {
                        '_'
                    } else {
                        c
                    }
                })
                .collect()
        })
        .boxed()
}

/// XSD `( \S+)+`: one to `n` words, each after one space.
fn words(n: usize, max_len: usize) -> Strat<String> {
    vec(word(1, max_len), 1..=n)
        .prop_map(|ws| ws.iter().map(|w| format!(" {w}")).collect())
        .boxed()
}

/// `[0-9A-F]{6}`.
pub fn oui() -> Strat<String> {
    "[0-9A-F]{6}".boxed()
}

/// A realistic TR-181 path, or any text: for `Name` fields (256 characters at most).
pub fn parameter_name() -> Strat<S> {
    let path = (
        select(
            &[
                "Device.",
                "InternetGatewayDevice.",
                "Device.Services.VoiceService.",
            ][..],
        ),
        vec(
            prop_oneof![
                "[A-Z][A-Za-z]{1,12}",
                (1u32..40).prop_map(|n| n.to_string()),
                Just("*".to_owned()),
                "X_[0-9A-F]{6}_[A-Za-z]{1,8}",
                line(1, 6).prop_map(|a| format!("[{}]", a.replace('.', "_"))),
            ],
            0..6,
        ),
        any::<bool>(),
    )
        .prop_map(|(root, parts, object)| {
            let mut s = root.to_owned();
            s.push_str(&parts.join("."));
            // An object (partial path) ends with a dot, a parameter does not.
            let is_object = object || parts.is_empty();
            if is_object && !s.ends_with('.') {
                s.push('.');
            }
            truncate_chars(s, 256)
        });
    prop_oneof![3 => path, 1 => text(256)].prop_map(cow).boxed()
}

/// `ObjectNameType`: at most 256 characters matching `.*\.` (XSD `.` excludes CR and LF).
pub fn object_name() -> Strat<S> {
    prop_oneof![
        3 => parameter_name().prop_map(|n| n.replace(['\r', '\n'], "_")),
        1 => line(0, 255),
    ]
    .prop_map(|s| {
        let mut s = truncate_chars(s, 255);
        s.push('.');
        cow(s)
    })
    .boxed()
}

/// URL-like text for `xs:anyURI` fields, at most `max` characters.
pub fn url(max: usize) -> Strat<S> {
    (
        select(&["http", "https", "ftp", "tftp", "urn"][..]),
        "[a-z][a-z0-9-]{0,12}(\\.[a-z0-9-]{1,10}){0,3}",
        proptest::option::of(1u16..),
        vec("([A-Za-z0-9._~!$'()*+,;=:@-]|%[0-9A-Fa-f]{2}){0,12}", 0..5),
        proptest::option::of(vec(
            ("[a-z]{1,6}", "([A-Za-z0-9._~-]|%[0-9A-F]{2}){0,8}"),
            1..4,
        )),
    )
        .prop_map(move |(scheme, host, port, path, query)| {
            let mut s = if scheme == "urn" {
                format!("urn:{host}")
            } else {
                format!("{scheme}://{host}")
            };
            if let Some(port) = port
                && scheme != "urn"
            {
                s.push_str(&format!(":{port}"));
            }
            for p in path {
                s.push('/');
                s.push_str(&p);
            }
            if let Some(q) = query {
                s.push('?');
                let q: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
                s.push_str(&q.join("&"));
            }
            cow(truncate_chars(s, max))
        })
        .boxed()
}

/// `DeploymentUnitUUID`, hexadecimal digits of either case.
pub fn uuid() -> Strat<S> {
    "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
        .prop_map(cow)
        .boxed()
}

// ---------------------------------------------------------------------------------------
// Pattern-restricted values, per namespace
// ---------------------------------------------------------------------------------------

/// `X [0-9A-F]{6} .*` (`.+` when `nonempty`), at most 64 characters.
fn vendor_oui(nonempty: bool) -> Strat<String> {
    let min = usize::from(nonempty);
    prop_oneof![
        4 => (oui(), line(min, 30)).prop_map(|(o, t)| format!("X {o} {t}")),
        // Exactly 64 characters.
        1 => (oui(), line(55, 55)).prop_map(|(o, t)| format!("X {o} {t}")),
    ]
    .boxed()
}

/// `X \S+ .+`, at most 64 characters.
fn vendor_any() -> Strat<String> {
    (word(1, 20), line(1, 40))
        .prop_map(|(id, t)| truncate_chars(format!("X {id} {t}"), 64))
        .prop_filter("truncation kept the pattern", |s| {
            // `X id t` needs a non-empty tail after the second space.
            s.splitn(3, ' ').nth(2).is_some_and(|t| !t.is_empty())
        })
        .boxed()
}

/// `\d+( \S+)+` (`[1-9]\d*( \S+)+` when `nonzero`), at most 64 characters.
fn numbered(nonzero: bool) -> Strat<String> {
    let number = if nonzero {
        "[1-9][0-9]{0,2}"
    } else {
        "[0-9]{1,3}"
    };
    (number, words(4, 12))
        .prop_map(|(n, w)| format!("{n}{w}"))
        .boxed()
}

/// `EventStruct/EventCode` valid in `ns`.
pub fn event_code(ns: Namespace) -> Strat<S> {
    const STANDARD_1_0: &[&str] = &[
        "0 BOOTSTRAP",
        "1 BOOT",
        "2 PERIODIC",
        "3 SCHEDULED",
        "4 VALUE CHANGE",
        "5 KICKED",
        "6 CONNECTION REQUEST",
        "7 TRANSFER COMPLETE",
        "8 DIAGNOSTICS COMPLETE",
        "9 REQUEST DOWNLOAD",
        "M Reboot",
        "M ScheduleInform",
        "M Download",
        "M Upload",
    ];
    const LATER: &[&str] = &[
        "10 AUTONOMOUS TRANSFER COMPLETE",
        "11 DU STATE CHANGE COMPLETE",
        "12 AUTONOMOUS DU STATE CHANGE COMPLETE",
        "13 WAKEUP",
        "14 HEARTBEAT",
        "M ScheduleDownload",
        "M ChangeDUState",
    ];
    let s: Strat<String> = match ns {
        Namespace::Cwmp1_0 => prop_oneof![
            3 => select(STANDARD_1_0).prop_map(str::to_owned),
            1 => word(1, 58).prop_map(|w| format!("M X_{w}")),
            1 => vendor_oui(false),
        ]
        .boxed(),
        Namespace::Cwmp1_1 | Namespace::Cwmp1_2 => {
            let vendor = if ns == Namespace::Cwmp1_1 {
                vendor_oui(false)
            } else {
                prop_oneof![vendor_oui(true), vendor_any()].boxed()
            };
            prop_oneof![
                3 => select(STANDARD_1_0).prop_map(str::to_owned),
                2 => select(LATER).prop_map(str::to_owned),
                2 => numbered(false),
                1 => word(1, 62).prop_map(|w| format!("M {w}")),
                1 => vendor,
            ]
            .boxed()
        }
    };
    s.prop_map(cow).boxed()
}

/// Which file-type schema type a field has.
#[derive(Debug, Clone, Copy)]
pub enum FileKind {
    Download,
    Upload,
    Transfer,
}

/// A file type valid in `ns` for a field of kind `kind`.
pub fn file_type(ns: Namespace, kind: FileKind) -> Strat<S> {
    let s: Strat<String> = match ns {
        Namespace::Cwmp1_0 | Namespace::Cwmp1_1 => {
            let listed: &'static [&'static str] = match kind {
                FileKind::Download => &[
                    "1 Firmware Upgrade Image",
                    "2 Web Content",
                    "3 Vendor Configuration File",
                ],
                FileKind::Upload => &["1 Vendor Configuration File", "2 Vendor Log File"],
                FileKind::Transfer => &[
                    "1 Firmware Upgrade Image",
                    "2 Web Content",
                    "3 Vendor Configuration File",
                    "4 Vendor Log File",
                ],
            };
            prop_oneof![3 => select(listed).prop_map(str::to_owned), 1 => vendor_oui(false)].boxed()
        }
        Namespace::Cwmp1_2 => {
            let listed: &'static [&'static str] = &[
                "1 Firmware Upgrade Image",
                "2 Web Content",
                "3 Vendor Configuration File",
                "4 Tone File",
                "5 Ringer File",
                "6 Stored Firmware Image",
                "1 Vendor Configuration File",
                "2 Vendor Log File",
                "3 Vendor Configuration File 12",
                "4 Vendor Log File 3",
            ];
            prop_oneof![
                3 => select(listed).prop_map(str::to_owned),
                2 => numbered(true),
                1 => vendor_oui(true),
                1 => vendor_any(),
            ]
            .boxed()
        }
    };
    s.prop_map(cow).boxed()
}

/// `TimeWindowModeValueType` (cwmp-1-2 only).
pub fn window_mode() -> Strat<S> {
    prop_oneof![
        3 => select(&["1 At Any Time", "2 Immediately", "3 When Idle", "4 Confirmation Needed"][..])
            .prop_map(str::to_owned),
        2 => numbered(true),
        1 => vendor_oui(true),
        1 => vendor_any(),
    ]
    .prop_map(cow)
    .boxed()
}

/// Where a fault code stands.
#[derive(Debug, Clone, Copy)]
pub enum FaultSite {
    /// `cwmp:Fault/FaultCode`.
    Fault,
    /// `SetParameterValuesFault/FaultCode`.
    SetParameterValues,
    /// `TransferCompleteFaultStruct/FaultCode`.
    Transfer,
    /// `DeploymentUnitFaultStruct/FaultCode`.
    DeploymentUnit,
}

/// The fault codes the schema of `ns` allows at `site`, as ranges.
pub fn fault_code_ranges(ns: Namespace, site: FaultSite) -> Vec<RangeInclusive<u32>> {
    use FaultSite::*;
    use Namespace::*;
    match (site, ns) {
        // cwmp-1-0 FaultCodeType (both the fault and its SetParameterValuesFault).
        (Fault | SetParameterValues, Cwmp1_0) => {
            vec![9000..=9013, 9800..=9899, 8000..=8005, 8800..=8899]
        }
        // cwmp-1-1 FaultCodeType: 9000-9019, 9020-9799, vendor, 8000-8005, 8006-8799, vendor.
        (Fault | SetParameterValues, Cwmp1_1) => vec![9000..=9899, 8000..=8899],
        (Fault, Cwmp1_2) => vec![9000..=9899, 8000..=8899],
        (SetParameterValues, Cwmp1_2) => vec![9000..=9899],
        (Transfer, Cwmp1_0) => vec![0..=0, 9001..=9002, 9010..=9012],
        (Transfer, Cwmp1_1) => vec![0..=0, 9001..=9002, 9010..=9012, 9014..=9899],
        (Transfer, Cwmp1_2) => vec![0..=0, 9001..=9002, 9010..=9012, 9014..=9020, 9033..=9899],
        (DeploymentUnit, _) => vec![
            0..=0,
            9001..=9001,
            9003..=9003,
            9012..=9013,
            9015..=9018,
            9022..=9899,
        ],
    }
}

/// A fault code valid at `site` in `ns`: mostly a range boundary or a defined code.
pub fn fault_code(ns: Namespace, site: FaultSite) -> Strat<FaultCode> {
    let ranges = fault_code_ranges(ns, site);
    let bounds: Vec<u32> = ranges.iter().flat_map(|r| [*r.start(), *r.end()]).collect();
    let defined: Vec<u32> = FaultCode::ALL
        .iter()
        .map(|c| c.0)
        .filter(|c| ranges.iter().any(|r| r.contains(c)))
        .collect();
    let any_in = select(ranges).prop_flat_map(|r| r);
    let mut options: Vec<(u32, Strat<u32>)> =
        vec![(2, select(bounds).boxed()), (2, any_in.boxed())];
    if !defined.is_empty() {
        options.push((3, select(defined).boxed()));
    }
    proptest::strategy::Union::new_weighted(options)
        .prop_map(FaultCode)
        .boxed()
}

/// A notification value valid in `ns` (3 to 6 from cwmp-1-2 on).
pub fn notification(ns: Namespace) -> Strat<Notification> {
    let max: i64 = if ns >= Namespace::Cwmp1_2 { 6 } else { 2 };
    (0..=max)
        .prop_map(|n| Notification::from_code(n).unwrap_or(Notification::Off))
        .boxed()
}

// ---------------------------------------------------------------------------------------
// Typed values
// ---------------------------------------------------------------------------------------

/// 0001-01-01T00:00:00Z.
const MIN_UNIX: i64 = -62_135_596_800;
/// 9999-12-31T23:59:59Z.
const MAX_UNIX: i64 = 253_402_300_799;

/// A time in years 1 to 9999, with or without nanoseconds; the Unknown Time and relative
/// times (years before 1000) included.
pub fn date_time() -> Strat<DateTime> {
    let whole = (MIN_UNIX..=MAX_UNIX).prop_map(|t| {
        DateTime::from_unix_timestamp(t).unwrap_or_else(|| panic!("{t} out of range"))
    });
    let nanos = (MIN_UNIX..=MAX_UNIX, 0u32..1_000_000_000).prop_map(|(t, n)| {
        let total = i128::from(t) * 1_000_000_000 + i128::from(n);
        let odt = time::OffsetDateTime::from_unix_timestamp_nanos(total)
            .unwrap_or_else(|e| panic!("{total}: {e}"));
        DateTime::from_offset_date_time(odt)
    });
    let millis = (MIN_UNIX..=MAX_UNIX, 0u32..1000).prop_map(|(t, ms)| {
        let odt = time::OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(t) * 1_000_000_000 + i128::from(ms) * 1_000_000,
        )
        .unwrap_or_else(|e| panic!("{t}: {e}"));
        DateTime::from_offset_date_time(odt)
    });
    let recent = (1_500_000_000i64..2_000_000_000).prop_map(|t| {
        DateTime::from_unix_timestamp(t).unwrap_or_else(|| panic!("{t} out of range"))
    });
    // Years 1 to 999: a time relative to boot (TR-106).
    let relative = (MIN_UNIX..MIN_UNIX + 31_000_000_000).prop_map(|t| {
        DateTime::from_unix_timestamp(t).unwrap_or_else(|| panic!("{t} out of range"))
    });
    prop_oneof![
        1 => Just(DateTime::UNKNOWN),
        1 => Just(DateTime::from_unix_timestamp(MAX_UNIX).unwrap_or(DateTime::UNKNOWN)),
        2 => whole,
        2 => nanos,
        2 => millis,
        2 => recent,
        1 => relative,
    ]
    .boxed()
}

/// At most 24 digits: what libxml2 (xmllint) accepts, and so what the encoder writes.
fn decimal_text() -> Strat<String> {
    prop_oneof!["[+-]?[0-9]{1,15}(\\.[0-9]{0,9})?", "[+-]?\\.[0-9]{1,9}",].boxed()
}

fn float_text() -> Strat<String> {
    prop_oneof![
        4 => "[+-]?[0-9]{1,6}(\\.[0-9]{0,6})?([eE][+-]?[0-9]{1,2})?",
        1 => select(&["INF", "-INF", "NaN", "0", "-0", "1E4", "1.5e-7"][..]).prop_map(str::to_owned),
    ]
    .boxed()
}

/// `ParameterValue::Other`: XML Schema types we do not model, with text of the type.
fn other_value() -> Strat<ParameterValue<'static>> {
    let typed = |t: &'static str, text: Strat<String>| {
        text.prop_map(move |text| ParameterValue::Other {
            xsi_type: Cow::Borrowed(t),
            text: cow(text),
        })
    };
    prop_oneof![
        typed("xsd:decimal", decimal_text()),
        typed("xsd:float", float_text()),
        typed("xsd:double", float_text()),
        typed("xsd:integer", "[+-]?[0-9]{1,24}".boxed()),
        typed(
            "xsd:unsignedShort",
            (0u16..).prop_map(|n| n.to_string()).boxed()
        ),
        typed("xsd:byte", any::<i8>().prop_map(|n| n.to_string()).boxed()),
        typed(
            "xsd:token",
            "[A-Za-z0-9é€]{1,8}( [A-Za-z0-9é€]{1,8}){0,3}".boxed()
        ),
    ]
    .boxed()
}

/// A typed parameter value.
pub fn parameter_value() -> Strat<ParameterValue<'static>> {
    let options: Vec<(u32, Strat<ParameterValue<'static>>)> = vec![
        (
            4,
            text(64)
                .prop_map(|s| ParameterValue::String(cow(s)))
                .boxed(),
        ),
        (1, any::<i32>().prop_map(ParameterValue::Int).boxed()),
        (
            1,
            any::<u32>().prop_map(ParameterValue::UnsignedInt).boxed(),
        ),
        (1, any::<i64>().prop_map(ParameterValue::Long).boxed()),
        (
            1,
            any::<u64>().prop_map(ParameterValue::UnsignedLong).boxed(),
        ),
        (1, any::<bool>().prop_map(ParameterValue::Boolean).boxed()),
        (1, date_time().prop_map(ParameterValue::DateTime).boxed()),
        (
            1,
            vec(any::<u8>(), 0..24)
                .prop_map(ParameterValue::HexBinary)
                .boxed(),
        ),
        (1, other_value()),
        (
            1,
            vec(any::<u8>(), 0..24)
                .prop_map(ParameterValue::Base64)
                .boxed(),
        ),
    ];
    proptest::strategy::Union::new_weighted(options).boxed()
}

pub fn parameter_value_struct() -> Strat<ParameterValueStruct<'static>> {
    (parameter_name(), parameter_value())
        .prop_map(|(name, value)| ParameterValueStruct { name, value })
        .boxed()
}

fn parameter_list() -> Strat<Vec<ParameterValueStruct<'static>>> {
    vec(parameter_value_struct(), 0..5).boxed()
}

fn command_key() -> Strat<S> {
    ctext(32)
}

fn access_list() -> Strat<Vec<S>> {
    vec(Just(Cow::Borrowed("Subscriber")), 0..3).boxed()
}

// ---------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------

fn body<T: Into<Body<'static>> + std::fmt::Debug + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> Strat<Body<'static>> {
    s.prop_map(Into::into).boxed()
}

pub fn get_rpc_methods(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(GetRPCMethods {}))
}

pub fn get_rpc_methods_response(_c: Ctx) -> Strat<Body<'static>> {
    body(vec(ctext(64), 1..6).prop_map(|method_list| GetRPCMethodsResponse { method_list }))
}

pub fn set_parameter_values(_: Ctx) -> Strat<Body<'static>> {
    body(
        (parameter_list(), ctext(32)).prop_map(|(parameter_list, parameter_key)| {
            SetParameterValues {
                parameter_list,
                parameter_key,
            }
        }),
    )
}

fn apply_status() -> Strat<ApplyStatus> {
    prop_oneof![Just(ApplyStatus::Applied), Just(ApplyStatus::Committed)].boxed()
}

pub fn set_parameter_values_response(_c: Ctx) -> Strat<Body<'static>> {
    body(apply_status().prop_map(|status| SetParameterValuesResponse { status }))
}

fn parameter_names() -> Strat<Vec<S>> {
    vec(prop_oneof![3 => parameter_name(), 1 => ctext(256)], 1..5).boxed()
}

pub fn get_parameter_values(_c: Ctx) -> Strat<Body<'static>> {
    body(parameter_names().prop_map(|parameter_names| GetParameterValues { parameter_names }))
}

pub fn get_parameter_values_response(_: Ctx) -> Strat<Body<'static>> {
    body(parameter_list().prop_map(|parameter_list| GetParameterValuesResponse { parameter_list }))
}

pub fn get_parameter_names(_c: Ctx) -> Strat<Body<'static>> {
    body(
        (parameter_name(), any::<bool>()).prop_map(|(parameter_path, next_level)| {
            GetParameterNames {
                parameter_path,
                next_level,
            }
        }),
    )
}

pub fn get_parameter_names_response(_c: Ctx) -> Strat<Body<'static>> {
    body(
        vec(
            (parameter_name(), any::<bool>())
                .prop_map(|(name, writable)| ParameterInfoStruct { name, writable }),
            0..5,
        )
        .prop_map(|parameter_list| GetParameterNamesResponse { parameter_list }),
    )
}

pub fn set_parameter_attributes(c: Ctx) -> Strat<Body<'static>> {
    let item = (
        parameter_name(),
        any::<bool>(),
        notification(c.ns),
        any::<bool>(),
        access_list(),
    )
        .prop_map(
            |(name, notification_change, notification, access_list_change, access_list)| {
                SetParameterAttributesStruct {
                    name,
                    notification_change,
                    notification,
                    access_list_change,
                    access_list,
                }
            },
        );
    body(vec(item, 1..4).prop_map(|parameter_list| SetParameterAttributes { parameter_list }))
}

pub fn set_parameter_attributes_response(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(SetParameterAttributesResponse {}))
}

pub fn get_parameter_attributes(_c: Ctx) -> Strat<Body<'static>> {
    body(parameter_names().prop_map(|parameter_names| GetParameterAttributes { parameter_names }))
}

pub fn get_parameter_attributes_response(c: Ctx) -> Strat<Body<'static>> {
    let item = (parameter_name(), notification(c.ns), access_list()).prop_map(
        |(name, notification, access_list)| ParameterAttributeStruct {
            name,
            notification,
            access_list,
        },
    );
    body(
        vec(item, 0..4)
            .prop_map(|parameter_list| GetParameterAttributesResponse { parameter_list }),
    )
}

pub fn add_object(_c: Ctx) -> Strat<Body<'static>> {
    body(
        (object_name(), ctext(32)).prop_map(|(object_name, parameter_key)| AddObject {
            object_name,
            parameter_key,
        }),
    )
}

pub fn add_object_response(_c: Ctx) -> Strat<Body<'static>> {
    body(
        (
            prop_oneof![Just(1u32), Just(u32::MAX), 1u32..],
            apply_status(),
        )
            .prop_map(|(instance_number, status)| AddObjectResponse {
                instance_number,
                status,
            }),
    )
}

pub fn delete_object(_c: Ctx) -> Strat<Body<'static>> {
    body(
        (object_name(), ctext(32)).prop_map(|(object_name, parameter_key)| DeleteObject {
            object_name,
            parameter_key,
        }),
    )
}

pub fn delete_object_response(_c: Ctx) -> Strat<Body<'static>> {
    body(apply_status().prop_map(|status| DeleteObjectResponse { status }))
}

pub fn reboot(_c: Ctx) -> Strat<Body<'static>> {
    body(command_key().prop_map(|command_key| Reboot { command_key }))
}

pub fn reboot_response(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(RebootResponse {}))
}

/// A 256-character URL field of Download/Upload: xs:string, so any text.
fn url_text(max: usize) -> Strat<S> {
    prop_oneof![url(max), ctext(max)].boxed()
}

pub fn download(c: Ctx) -> Strat<Body<'static>> {
    body(
        (
            command_key(),
            file_type(c.ns, FileKind::Download),
            url_text(256),
            ctext(256),
            ctext(256),
            any::<u32>(),
            ctext(256),
            any::<u32>(),
            url_text(256),
            url_text(256),
        )
            .prop_map(
                |(
                    command_key,
                    file_type,
                    url,
                    username,
                    password,
                    file_size,
                    target_file_name,
                    delay_seconds,
                    success_url,
                    failure_url,
                )| Download {
                    command_key,
                    file_type,
                    url,
                    username,
                    password,
                    file_size,
                    target_file_name,
                    delay_seconds,
                    success_url,
                    failure_url,
                },
            ),
    )
}

fn transfer_status() -> Strat<TransferStatus> {
    prop_oneof![
        Just(TransferStatus::Completed),
        Just(TransferStatus::Pending)
    ]
    .boxed()
}

pub fn download_response(_c: Ctx) -> Strat<Body<'static>> {
    body((transfer_status(), date_time(), date_time()).prop_map(
        |(status, start_time, complete_time)| DownloadResponse {
            status,
            start_time,
            complete_time,
        },
    ))
}

pub fn upload(c: Ctx) -> Strat<Body<'static>> {
    body(
        (
            command_key(),
            file_type(c.ns, FileKind::Upload),
            url_text(256),
            ctext(256),
            ctext(256),
            any::<u32>(),
        )
            .prop_map(
                |(command_key, file_type, url, username, password, delay_seconds)| Upload {
                    command_key,
                    file_type,
                    url,
                    username,
                    password,
                    delay_seconds,
                },
            ),
    )
}

pub fn upload_response(_c: Ctx) -> Strat<Body<'static>> {
    body((transfer_status(), date_time(), date_time()).prop_map(
        |(status, start_time, complete_time)| UploadResponse {
            status,
            start_time,
            complete_time,
        },
    ))
}

pub fn factory_reset(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(FactoryReset {}))
}

pub fn factory_reset_response(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(FactoryResetResponse {}))
}

pub fn get_queued_transfers(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(GetQueuedTransfers {}))
}

fn transfer_state() -> Strat<TransferState> {
    prop_oneof![
        Just(TransferState::NotYetStarted),
        Just(TransferState::InProgress),
        Just(TransferState::Completed),
    ]
    .boxed()
}

/// 0 to `max` items, sometimes exactly `max`.
fn up_to<T: std::fmt::Debug + 'static>(item: Strat<T>, min: usize, max: usize) -> Strat<Vec<T>> {
    prop_oneof![
        6 => vec(item.clone(), min..=max.min(min + 3)),
        1 => vec(item, max..=max),
    ]
    .boxed()
}

pub fn get_queued_transfers_response(_c: Ctx) -> Strat<Body<'static>> {
    let item = (command_key(), transfer_state())
        .prop_map(|(command_key, state)| QueuedTransferStruct { command_key, state })
        .boxed();
    body(up_to(item, 0, 16).prop_map(|transfer_list| GetQueuedTransfersResponse { transfer_list }))
}

pub fn schedule_inform(_c: Ctx) -> Strat<Body<'static>> {
    body(
        (any::<u32>(), command_key()).prop_map(|(delay_seconds, command_key)| ScheduleInform {
            delay_seconds,
            command_key,
        }),
    )
}

pub fn schedule_inform_response(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(ScheduleInformResponse {}))
}

pub fn set_vouchers(_c: Ctx) -> Strat<Body<'static>> {
    body(
        vec(vec(any::<u8>(), 0..40).prop_map(Voucher), 1..4)
            .prop_map(|voucher_list| SetVouchers { voucher_list }),
    )
}

pub fn set_vouchers_response(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(SetVouchersResponse {}))
}

pub fn get_options(_c: Ctx) -> Strat<Body<'static>> {
    body(ctext(64).prop_map(|option_name| GetOptions { option_name }))
}

pub fn get_options_response(_c: Ctx) -> Strat<Body<'static>> {
    let item = (
        ctext(64),
        any::<u32>(),
        0u32..=3,
        0i32..=2,
        date_time(),
        proptest::option::of(date_time()),
        0i32..=1,
    )
        .prop_map(
            |(
                option_name,
                voucher_sn,
                state,
                mode,
                start_date,
                expiration_date,
                is_transferable,
            )| {
                OptionStruct {
                    option_name,
                    voucher_sn,
                    state,
                    mode,
                    start_date,
                    expiration_date,
                    is_transferable,
                }
            },
        );
    body(vec(item, 0..4).prop_map(|option_list| GetOptionsResponse { option_list }))
}

pub fn get_all_queued_transfers(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(GetAllQueuedTransfers {}))
}

pub fn get_all_queued_transfers_response(c: Ctx) -> Strat<Body<'static>> {
    let item = (
        command_key(),
        transfer_state(),
        any::<bool>(),
        file_type(c.ns, FileKind::Transfer),
        any::<u32>(),
        ctext(256),
    )
        .prop_map(
            |(command_key, state, is_download, file_type, file_size, target_file_name)| {
                AllQueuedTransferStruct {
                    command_key,
                    state,
                    is_download,
                    file_type,
                    file_size,
                    target_file_name,
                }
            },
        )
        .boxed();
    body(
        up_to(item, 0, 16)
            .prop_map(|transfer_list| GetAllQueuedTransfersResponse { transfer_list }),
    )
}

pub fn schedule_download(c: Ctx) -> Strat<Body<'static>> {
    let window = (
        any::<u32>(),
        any::<u32>(),
        window_mode(),
        ctext(256),
        any::<i32>(),
    )
        .prop_map(
            |(window_start, window_end, window_mode, user_message, max_retries)| TimeWindowStruct {
                window_start,
                window_end,
                window_mode,
                user_message,
                max_retries,
            },
        );
    body(
        (
            command_key(),
            file_type(c.ns, FileKind::Download),
            url_text(256),
            ctext(256),
            ctext(256),
            any::<u32>(),
            ctext(256),
            vec(window, 1..=2),
        )
            .prop_map(
                |(
                    command_key,
                    file_type,
                    url,
                    username,
                    password,
                    file_size,
                    target_file_name,
                    time_window_list,
                )| ScheduleDownload {
                    command_key,
                    file_type,
                    url,
                    username,
                    password,
                    file_size,
                    target_file_name,
                    time_window_list,
                },
            ),
    )
}

pub fn schedule_download_response(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(ScheduleDownloadResponse {}))
}

pub fn cancel_transfer(_c: Ctx) -> Strat<Body<'static>> {
    body(command_key().prop_map(|command_key| CancelTransfer { command_key }))
}

pub fn cancel_transfer_response(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(CancelTransferResponse {}))
}

fn opt<T: std::fmt::Debug + 'static>(s: Strat<T>) -> Strat<Option<T>> {
    proptest::option::of(s).boxed()
}

fn operation() -> Strat<Operation<'static>> {
    let install = (
        url(1024),
        opt(uuid()),
        opt(ctext(256)),
        opt(ctext(256)),
        opt(ctext(256)),
    )
        .prop_map(|(url, uuid, username, password, execution_env_ref)| {
            Operation::Install(InstallOpStruct {
                url,
                uuid,
                username,
                password,
                execution_env_ref,
            })
        });
    let update = (
        opt(uuid()),
        opt(ctext(32)),
        opt(url(1024)),
        opt(ctext(256)),
        opt(ctext(256)),
    )
        .prop_map(|(uuid, version, url, username, password)| {
            Operation::Update(UpdateOpStruct {
                uuid,
                version,
                url,
                username,
                password,
            })
        });
    let uninstall =
        (uuid(), opt(ctext(32)), opt(ctext(256))).prop_map(|(uuid, version, execution_env_ref)| {
            Operation::Uninstall(UninstallOpStruct {
                uuid,
                version,
                execution_env_ref,
            })
        });
    prop_oneof![install, update, uninstall].boxed()
}

pub fn change_du_state(_c: Ctx) -> Strat<Body<'static>> {
    body(
        (vec(operation(), 1..4), opt(command_key())).prop_map(|(operations, command_key)| {
            ChangeDUState {
                operations,
                command_key,
            }
        }),
    )
}

pub fn change_du_state_response(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(ChangeDUStateResponse {}))
}

pub fn device_id() -> Strat<DeviceIdStruct<'static>> {
    (ctext(64), oui(), ctext(64), ctext(64))
        .prop_map(
            |(manufacturer, oui, product_class, serial_number)| DeviceIdStruct {
                manufacturer,
                oui: cow(oui),
                product_class,
                serial_number,
            },
        )
        .boxed()
}

pub fn event(ns: Namespace) -> Strat<EventStruct<'static>> {
    (event_code(ns), command_key())
        .prop_map(|(event_code, command_key)| EventStruct {
            event_code,
            command_key,
        })
        .boxed()
}

pub fn inform(c: Ctx) -> Strat<Body<'static>> {
    body(
        (
            device_id(),
            up_to(event(c.ns), 0, 64),
            any::<u32>(),
            date_time(),
            any::<u32>(),
            parameter_list(),
        )
            .prop_map(
                |(device_id, event, max_envelopes, current_time, retry_count, parameter_list)| {
                    Inform {
                        device_id,
                        event,
                        max_envelopes,
                        current_time,
                        retry_count,
                        parameter_list,
                    }
                },
            ),
    )
}

pub fn inform_response(_c: Ctx) -> Strat<Body<'static>> {
    body(any::<u32>().prop_map(|max_envelopes| InformResponse { max_envelopes }))
}

fn transfer_fault(ns: Namespace) -> Strat<TransferCompleteFaultStruct<'static>> {
    (fault_code(ns, FaultSite::Transfer), ctext(256))
        .prop_map(|(fault_code, fault_string)| TransferCompleteFaultStruct {
            fault_code,
            fault_string,
        })
        .boxed()
}

pub fn transfer_complete(c: Ctx) -> Strat<Body<'static>> {
    body(
        (
            command_key(),
            transfer_fault(c.ns),
            date_time(),
            date_time(),
        )
            .prop_map(|(command_key, fault_struct, start_time, complete_time)| {
                TransferComplete {
                    command_key,
                    fault_struct,
                    start_time,
                    complete_time,
                }
            }),
    )
}

pub fn transfer_complete_response(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(TransferCompleteResponse {}))
}

pub fn autonomous_transfer_complete(c: Ctx) -> Strat<Body<'static>> {
    body(
        (
            url_text(1024),
            url_text(1024),
            any::<bool>(),
            file_type(c.ns, FileKind::Transfer),
            any::<u32>(),
            ctext(256),
            transfer_fault(c.ns),
            date_time(),
            date_time(),
        )
            .prop_map(
                |(
                    announce_url,
                    transfer_url,
                    is_download,
                    file_type,
                    file_size,
                    target_file_name,
                    fault_struct,
                    start_time,
                    complete_time,
                )| AutonomousTransferComplete {
                    announce_url,
                    transfer_url,
                    is_download,
                    file_type,
                    file_size,
                    target_file_name,
                    fault_struct,
                    start_time,
                    complete_time,
                },
            ),
    )
}

pub fn autonomous_transfer_complete_response(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(AutonomousTransferCompleteResponse {}))
}

fn du_state() -> Strat<DeploymentUnitState> {
    prop_oneof![
        Just(DeploymentUnitState::Installed),
        Just(DeploymentUnitState::Uninstalled),
        Just(DeploymentUnitState::Failed),
    ]
    .boxed()
}

fn du_fault(ns: Namespace) -> Strat<DeploymentUnitFaultStruct<'static>> {
    (fault_code(ns, FaultSite::DeploymentUnit), opt(ctext(300)))
        .prop_map(|(fault_code, fault_string)| DeploymentUnitFaultStruct {
            fault_code,
            fault_string,
        })
        .boxed()
}

fn op_result(ns: Namespace) -> Strat<OpResultStruct<'static>> {
    (
        uuid(),
        ctext(300),
        ctext(32),
        du_state(),
        any::<bool>(),
        ctext(300),
        date_time(),
        date_time(),
        du_fault(ns),
    )
        .prop_map(
            |(
                uuid,
                deployment_unit_ref,
                version,
                current_state,
                resolved,
                execution_unit_ref_list,
                start_time,
                complete_time,
                fault,
            )| OpResultStruct {
                uuid,
                deployment_unit_ref,
                version,
                current_state,
                resolved,
                execution_unit_ref_list,
                start_time,
                complete_time,
                fault,
            },
        )
        .boxed()
}

pub fn du_state_change_complete(c: Ctx) -> Strat<Body<'static>> {
    body(
        (vec(op_result(c.ns), 1..4), opt(command_key())).prop_map(|(results, command_key)| {
            DUStateChangeComplete {
                results,
                command_key,
            }
        }),
    )
}

pub fn du_state_change_complete_response(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(DUStateChangeCompleteResponse {}))
}

pub fn autonomous_du_state_change_complete(c: Ctx) -> Strat<Body<'static>> {
    let operation_performed = prop_oneof![
        select(&["Install", "Update", "Uninstall"][..]).prop_map(Cow::Borrowed),
        ctext(64),
    ];
    let item = (op_result(c.ns), operation_performed).prop_map(|(r, operation_performed)| {
        AutonOpResultStruct {
            uuid: r.uuid,
            deployment_unit_ref: r.deployment_unit_ref,
            version: r.version,
            current_state: r.current_state,
            resolved: r.resolved,
            execution_unit_ref_list: r.execution_unit_ref_list,
            start_time: r.start_time,
            complete_time: r.complete_time,
            fault: r.fault,
            operation_performed,
        }
    });
    body(vec(item, 1..4).prop_map(|results| AutonomousDUStateChangeComplete { results }))
}

pub fn autonomous_du_state_change_complete_response(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(AutonomousDUStateChangeCompleteResponse {}))
}

pub fn request_download(c: Ctx) -> Strat<Body<'static>> {
    let arg = (ctext(64), ctext(256))
        .prop_map(|(name, value)| ArgStruct { name, value })
        .boxed();
    body(
        (file_type(c.ns, FileKind::Download), up_to(arg, 0, 16)).prop_map(
            |(file_type, file_type_arg)| RequestDownload {
                file_type,
                file_type_arg,
            },
        ),
    )
}

pub fn request_download_response(_c: Ctx) -> Strat<Body<'static>> {
    body(Just(RequestDownloadResponse {}))
}

pub fn kicked(_c: Ctx) -> Strat<Body<'static>> {
    body(
        (ctext(32), url_text(64), ctext(256), url_text(1024)).prop_map(
            |(command, referer, arg, next)| Kicked {
                command,
                referer,
                arg,
                next,
            },
        ),
    )
}

pub fn kicked_response(_c: Ctx) -> Strat<Body<'static>> {
    body(url_text(1024).prop_map(|next_url| KickedResponse { next_url }))
}

/// A `faultcode` other than the four SOAP ones: an NCName, dot-extended.
fn other_faultcode() -> Strat<SoapFaultCode<'static>> {
    "[A-Za-z_][A-Za-z0-9_-]{0,10}(\\.[A-Za-z0-9_-]{1,8}){0,2}"
        .prop_filter("a SOAP fault code name", |s| {
            !matches!(
                s.as_str(),
                "Client" | "Server" | "MustUnderstand" | "VersionMismatch"
            )
        })
        .prop_map(|s| SoapFaultCode::Other(cow(s)))
        .boxed()
}

fn cwmp_fault(ns: Namespace) -> Strat<CwmpFault<'static>> {
    let spv = (
        parameter_name(),
        fault_code(ns, FaultSite::SetParameterValues),
        opt(ctext(300)),
    )
        .prop_map(
            |(parameter_name, fault_code, fault_string)| SetParameterValuesFault {
                parameter_name,
                fault_code,
                fault_string,
            },
        );
    (
        fault_code(ns, FaultSite::Fault),
        opt(ctext(300)),
        vec(spv, 0..4),
    )
        .prop_map(
            |(fault_code, fault_string, set_parameter_values_faults)| CwmpFault {
                fault_code,
                fault_string,
                set_parameter_values_faults,
            },
        )
        .boxed()
}

/// A SOAP Fault carrying a CWMP fault.
pub fn fault(c: Ctx) -> Strat<Body<'static>> {
    let faultcode = prop_oneof![
        3 => Just(SoapFaultCode::Client),
        3 => Just(SoapFaultCode::Server),
        1 => other_faultcode(),
    ];
    (faultcode, ctext(100), cwmp_fault(c.ns))
        .prop_map(|(faultcode, faultstring, detail)| {
            Body::Fault(Fault {
                faultcode,
                faultstring,
                detail: Some(detail),
            })
        })
        .boxed()
}

/// A SOAP-level fault without CWMP detail.
pub fn fault_must_understand(_c: Ctx) -> Strat<Body<'static>> {
    let faultcode = prop_oneof![
        Just(SoapFaultCode::MustUnderstand),
        Just(SoapFaultCode::VersionMismatch),
        Just(SoapFaultCode::Client),
        Just(SoapFaultCode::Server),
        other_faultcode(),
    ];
    (faultcode, ctext(100))
        .prop_map(|(faultcode, faultstring)| {
            Body::Fault(Fault {
                faultcode,
                faultstring,
                detail: None,
            })
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------
// Envelopes
// ---------------------------------------------------------------------------------------

fn cwmp_version() -> Strat<CwmpVersion> {
    prop_oneof![
        3 => select(CwmpVersion::ALL.to_vec()),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(major, minor)| CwmpVersion::new(major, minor)),
    ]
    .boxed()
}

/// Headers valid in `ns`: SessionTimeout and SupportedCWMPVersions only in cwmp-1-2;
/// UseCWMPVersion a version written in `ns`.
pub fn header(ns: Namespace) -> Strat<Header<'static>> {
    let use_version: Strat<CwmpVersion> = match ns {
        Namespace::Cwmp1_0 => Just(CwmpVersion::V1_0).boxed(),
        Namespace::Cwmp1_1 => Just(CwmpVersion::V1_1).boxed(),
        Namespace::Cwmp1_2 => select(vec![
            CwmpVersion::V1_2,
            CwmpVersion::V1_3,
            CwmpVersion::V1_4,
        ])
        .boxed(),
    };
    let new = ns >= Namespace::Cwmp1_2;
    (
        opt(ctext(40)),
        opt(any::<bool>().boxed()),
        opt(any::<u32>().boxed()),
        opt(vec(cwmp_version(), 0..6).boxed()),
        opt(use_version),
        opt(any::<bool>().boxed()),
    )
        .prop_map(
            move |(
                id,
                hold_requests,
                session_timeout,
                supported_cwmp_versions,
                use_cwmp_version,
                no_more_requests,
            )| Header {
                id,
                hold_requests,
                session_timeout: session_timeout.filter(|_| new),
                supported_cwmp_versions: supported_cwmp_versions.filter(|_| new),
                use_cwmp_version,
                no_more_requests,
            },
        )
        .boxed()
}

/// An envelope in one of the namespaces that define the message `body_of` generates
/// (those not older than `since`).
pub fn envelope(since: Namespace, body_of: BodyStrategy) -> Strat<Envelope<'static>> {
    select(crate::common::namespaces_since(since))
        .prop_flat_map(move |ns| {
            let c = Ctx::new(ns);
            (header(ns), body_of(c)).prop_map(move |(header, body)| Envelope {
                namespace: ns,
                header,
                body,
            })
        })
        .boxed()
}

/// Encoding options: either boolean style.
pub fn encode_options() -> Strat<EncodeOptions> {
    prop_oneof![
        Just(EncodeOptions::default()),
        Just(EncodeOptions {
            booleans: BooleanStyle::Digits
        }),
    ]
    .boxed()
}

/// Every message strategy, with the namespace its message appears in.
pub fn all() -> Vec<(&'static str, Namespace, BodyStrategy)> {
    macro_rules! collect {
        ($($name:ident),* $(,)?) => {
            vec![$((
                stringify!($name),
                crate::common::samples::$name(Namespace::Cwmp1_2).since(),
                $name as BodyStrategy,
            )),*]
        };
    }
    crate::common::with_messages!(collect)
}

/// An envelope of any message, in any namespace that defines it.
pub fn any_envelope() -> Strat<Envelope<'static>> {
    let options: Vec<Strat<Envelope<'static>>> = all()
        .into_iter()
        .map(|(_, since, body_of)| envelope(since, body_of))
        .collect();
    proptest::strategy::Union::new(options).boxed()
}

//! The machinery shared by every CWMP structure: decoding from the XML reader, encoding in
//! schema element order, and validating against the schema facets of the target namespace.
//!
//! Each structure is declared once with [`cwmp_struct!`], listing its elements in the
//! order of the BBF schema (`xs:sequence`), so decoding, encoding and validation cannot
//! disagree about a structure's shape. Decoding is lenient (children in any order,
//! unknown children skipped, string lengths not enforced); encoding is exact (schema
//! order, and [`Validate`] refuses what the schema of the target namespace would).

use std::borrow::Cow;

use crate::datetime::DateTime;
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, excerpt};
use crate::namespace::Namespace;
use crate::xml::reader::{Cursor, Tag, is_xml_char};
use crate::xml::writer::Writer;

/// A value that is the content of one element.
pub(crate) trait Codec<'a>: Sized {
    /// Decodes the element whose start tag `tag` was just read, through its end tag.
    fn decode(cur: &mut Cursor<'a>, tag: &Tag<'a>) -> Result<Self, DecodeError>;

    /// The value when the element is absent; `None` makes the element required.
    fn absent() -> Option<Self> {
        None
    }

    /// Writes the element `name` holding this value.
    fn encode(&self, name: &str, w: &mut Writer<'_>);
}

/// A value that is the text content of an element.
pub(crate) trait Leaf<'a>: Sized {
    /// The schema type, for error messages.
    const XSD_TYPE: &'static str;

    /// Parses the text, handing it back when it is not a valid value.
    fn parse(text: Cow<'a, str>) -> Result<Self, Cow<'a, str>>;

    /// Writes the text (escaped where needed).
    fn write(&self, w: &mut Writer<'_>);
}

impl<'a, T: Leaf<'a>> Codec<'a> for T {
    fn decode(cur: &mut Cursor<'a>, tag: &Tag<'a>) -> Result<Self, DecodeError> {
        let text = cur.text()?;
        T::parse(text).map_err(|text| {
            DecodeError::new(
                DecodeErrorKind::InvalidValue {
                    expected: T::XSD_TYPE,
                    found: excerpt(&text),
                },
                tag.offset,
            )
        })
    }

    fn encode(&self, name: &str, w: &mut Writer<'_>) {
        w.open(name);
        self.write(w);
        w.close(name);
    }
}

impl<'a> Leaf<'a> for Cow<'a, str> {
    const XSD_TYPE: &'static str = "xsd:string";

    fn parse(text: Cow<'a, str>) -> Result<Self, Cow<'a, str>> {
        Ok(text)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.text(self);
    }
}

/// Integers: XML Schema collapses white space around them and allows a leading `+`.
macro_rules! integer_leaf {
    ($($ty:ty => $xsd:literal),* $(,)?) => {$(
        impl<'a> Leaf<'a> for $ty {
            const XSD_TYPE: &'static str = $xsd;

            fn parse(text: Cow<'a, str>) -> Result<Self, Cow<'a, str>> {
                text.trim().parse().map_err(|_| text)
            }

            fn write(&self, w: &mut Writer<'_>) {
                use std::fmt::Write as _;
                let _ = write!(w.out, "{self}");
            }
        }
    )*};
}

integer_leaf!(u32 => "xsd:unsignedInt", i32 => "xsd:int", i64 => "xsd:long", u64 => "xsd:unsignedLong");

/// Parses an `xsd:boolean`: `true`, `false`, `1`, `0` (TR-106: "0 or 1 (or equivalently,
/// true or false)"). Upper-case spellings, sent by some CPEs, are accepted too.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    let t = text.trim();
    if t == "1" || t.eq_ignore_ascii_case("true") {
        Some(true)
    } else if t == "0" || t.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

impl<'a> Leaf<'a> for bool {
    const XSD_TYPE: &'static str = "xsd:boolean";

    fn parse(text: Cow<'a, str>) -> Result<Self, Cow<'a, str>> {
        parse_bool(&text).ok_or(text)
    }

    fn write(&self, w: &mut Writer<'_>) {
        let s = w.boolean(*self);
        w.out.push_str(s);
    }
}

impl<'a> Leaf<'a> for DateTime {
    const XSD_TYPE: &'static str = "xsd:dateTime";

    fn parse(text: Cow<'a, str>) -> Result<Self, Cow<'a, str>> {
        DateTime::parse(&text).map_err(|_| text)
    }

    fn write(&self, w: &mut Writer<'_>) {
        use std::fmt::Write as _;
        let _ = write!(w.out, "{self}");
    }
}

impl<'a, T: Codec<'a>> Codec<'a> for Option<T> {
    fn decode(cur: &mut Cursor<'a>, tag: &Tag<'a>) -> Result<Self, DecodeError> {
        T::decode(cur, tag).map(Some)
    }

    fn absent() -> Option<Self> {
        Some(None)
    }

    fn encode(&self, name: &str, w: &mut Writer<'_>) {
        if let Some(value) = self {
            value.encode(name, w);
        }
    }
}

/// A member of a SOAP-encoded array (`soapenc:arrayType`, notes §2.4).
pub(crate) trait ArrayItem<'a>: Codec<'a> {
    /// Element name of each member.
    const ITEM: &'static str;
    /// The `arrayType` written, without the `[n]`.
    const ARRAY_TYPE: &'static str;
}

macro_rules! array_item {
    ($ty:ty, $item:literal, $array_type:literal) => {
        impl<'a> $crate::codec::ArrayItem<'a> for $ty {
            const ITEM: &'static str = $item;
            const ARRAY_TYPE: &'static str = $array_type;
        }
    };
}
pub(crate) use array_item;

array_item!(Cow<'a, str>, "string", "xsd:string");

impl<'a, T: ArrayItem<'a>> Codec<'a> for Vec<T> {
    /// The `arrayType` count is ignored: CPEs send wrong counts, counts with leading zeros
    /// or none at all (notes §2.4, §9 #6); members are counted as they come. SOAP 1.1
    /// §5.4.2 lets members have any name, so every child element is a member.
    fn decode(cur: &mut Cursor<'a>, _tag: &Tag<'a>) -> Result<Self, DecodeError> {
        let mut items = Vec::new();
        while let Some(tag) = cur.next_child()? {
            let item = T::decode(cur, &tag).map_err(|e| e.within_item(T::ITEM, items.len()))?;
            items.push(item);
        }
        Ok(items)
    }

    fn encode(&self, name: &str, w: &mut Writer<'_>) {
        w.open_array(name, T::ARRAY_TYPE, self.len());
        for item in self {
            item.encode(T::ITEM, w);
        }
        w.close(name);
    }
}

/// Checks a value against the schema of the namespace being written.
pub(crate) trait Validate {
    fn validate(&self, v: &mut Validator);
}

/// Collects the first schema violation, with its element path.
pub(crate) struct Validator {
    pub ns: Namespace,
    path: Vec<String>,
    error: Option<EncodeError>,
}

impl Validator {
    pub fn new(ns: Namespace) -> Validator {
        Validator {
            ns,
            path: Vec::new(),
            error: None,
        }
    }

    /// Validates inside element `name`.
    pub fn at(&mut self, name: &str, f: impl FnOnce(&mut Validator)) {
        if self.error.is_none() {
            self.path.push(name.to_owned());
            f(self);
            self.path.pop();
        }
    }

    /// Records a violation at the current path.
    ///
    /// Paths are written like those of decoding errors:
    /// `/Envelope/Body/ChangeDUState/Operations[1]/UUID`.
    pub fn fail(&mut self, reason: impl Into<String>) {
        if self.error.is_none() {
            let mut path = String::new();
            for segment in &self.path {
                if !segment.starts_with('[') {
                    path.push('/');
                }
                path.push_str(segment);
            }
            self.error = Some(EncodeError::Invalid {
                path,
                reason: reason.into(),
            });
        }
    }

    pub fn finish(self) -> Result<(), EncodeError> {
        self.error.map_or(Ok(()), Err)
    }
}

impl Validate for Cow<'_, str> {
    fn validate(&self, v: &mut Validator) {
        check::xml_chars(self, v);
    }
}

macro_rules! no_validation {
    ($($ty:ty),*) => {$(
        impl Validate for $ty {
            fn validate(&self, _: &mut Validator) {}
        }
    )*};
}
no_validation!(u32, i32, i64, u64, bool);

impl Validate for DateTime {
    fn validate(&self, v: &mut Validator) {
        if !(1..=9999).contains(&self.year()) {
            v.fail(format!(
                "year {} cannot be written as an xsd:dateTime",
                self.year()
            ));
        }
    }
}

impl<T: Validate> Validate for Option<T> {
    fn validate(&self, v: &mut Validator) {
        if let Some(value) = self {
            value.validate(v);
        }
    }
}

impl<T: Validate> Validate for Vec<T> {
    fn validate(&self, v: &mut Validator) {
        for (i, item) in self.iter().enumerate() {
            v.at(&format!("[{}]", i + 1), |v| item.validate(v));
        }
    }
}

/// Repeated elements (`maxOccurs="unbounded"` outside a SOAP array).
pub(crate) trait Repeated<'a> {
    type Item: Codec<'a>;
    fn push_item(&mut self, item: Self::Item);
}

impl<'a, T: Codec<'a>> Repeated<'a> for Vec<T> {
    type Item = T;
    fn push_item(&mut self, item: T) {
        self.push(item);
    }
}

/// Schema facets, called as `check(&value, validator, args...)` by [`cwmp_struct!`].
pub(crate) mod check {
    use super::*;

    /// A string, or an optional one.
    pub trait StrLike {
        fn as_opt_str(&self) -> Option<&str>;
    }

    impl StrLike for str {
        fn as_opt_str(&self) -> Option<&str> {
            Some(self)
        }
    }

    impl StrLike for Cow<'_, str> {
        fn as_opt_str(&self) -> Option<&str> {
            Some(self)
        }
    }

    impl StrLike for Option<Cow<'_, str>> {
        fn as_opt_str(&self) -> Option<&str> {
            self.as_deref()
        }
    }

    pub fn xml_chars(s: &str, v: &mut Validator) {
        if let Some(c) = s.chars().find(|c| !is_xml_char(*c)) {
            v.fail(format!(
                "character U+{:04X} cannot be written in XML 1.0",
                u32::from(c)
            ));
        }
    }

    /// `xs:maxLength`, counted in characters as XML Schema does.
    pub fn max_len<T: StrLike + ?Sized>(value: &T, v: &mut Validator, max: usize) {
        if let Some(s) = value.as_opt_str() {
            let len = s.chars().count();
            if len > max {
                v.fail(format!("{len} characters, the schema allows at most {max}"));
            }
        }
    }

    /// `xs:maxLength` of every string in a list.
    pub fn each_max_len(value: &[Cow<'_, str>], v: &mut Validator, max: usize) {
        for (i, s) in value.iter().enumerate() {
            v.at(&format!("[{}]", i + 1), |v| max_len(s, v, max));
        }
    }

    /// Bounds on the number of members of an array or of a repeated element.
    pub fn items<T>(value: &[T], v: &mut Validator, min: usize, max: usize) {
        if value.len() < min {
            v.fail(format!(
                "{} members, the schema requires at least {min}",
                value.len()
            ));
        } else if value.len() > max {
            v.fail(format!(
                "{} members, the schema allows at most {max}",
                value.len()
            ));
        }
    }

    /// `DeviceIdStruct/OUI`: six upper-case hexadecimal digits.
    pub fn oui(value: &str, v: &mut Validator) {
        let ok = value.len() == 6
            && value
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'));
        if !ok {
            v.fail(format!(
                "{:?} is not six upper-case hexadecimal digits",
                excerpt(value)
            ));
        }
    }

    /// `ObjectNameType`: a partial path, ending with a dot (pattern `.*\.`, whose `.`
    /// excludes line breaks).
    pub fn object_name(value: &str, v: &mut Validator) {
        max_len(value, v, 256);
        if !value.ends_with('.') {
            v.fail("an object name must end with \".\"");
        } else if value.contains(['\n', '\r']) {
            v.fail("an object name cannot contain a line break");
        }
    }

    /// `xs:anyURI` as libxml2 checks it: every `%` starts a two-digit hexadecimal escape.
    pub fn any_uri<T: StrLike + ?Sized>(value: &T, v: &mut Validator, max: usize) {
        max_len(value, v, max);
        if let Some(s) = value.as_opt_str() {
            let bytes = s.as_bytes();
            let bad = bytes.iter().enumerate().any(|(i, &b)| {
                b == b'%'
                    && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                        && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            });
            if bad {
                v.fail(format!(
                    "{:?} is not a URI: % must start a %XX escape",
                    excerpt(s)
                ));
            }
        }
    }

    pub fn min_u32(value: &u32, v: &mut Validator, min: u32) {
        if *value < min {
            v.fail(format!("{value} is below the minimum {min}"));
        }
    }

    pub fn range_u32(value: &u32, v: &mut Validator, min: u32, max: u32) {
        if !(min..=max).contains(value) {
            v.fail(format!("{value} is outside {min}..={max}"));
        }
    }

    pub fn range_i32(value: &i32, v: &mut Validator, min: i32, max: i32) {
        if !(min..=max).contains(value) {
            v.fail(format!("{value} is outside {min}..={max}"));
        }
    }

    /// `DeploymentUnitUUID`: 8-4-4-4-12 hexadecimal digits.
    pub fn uuid<T: StrLike + ?Sized>(value: &T, v: &mut Validator) {
        if let Some(s) = value.as_opt_str() {
            let groups: Vec<&str> = s.split('-').collect();
            let ok = groups.len() == 5
                && groups
                    .iter()
                    .zip([8, 4, 4, 4, 12])
                    .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
            if !ok {
                v.fail(format!("{:?} is not a UUID", excerpt(s)));
            }
        }
    }

    /// `AccessListValueType`: the only value defined is `Subscriber`.
    pub fn access_list(value: &[Cow<'_, str>], v: &mut Validator) {
        if let Some(bad) = value.iter().find(|s| *s != "Subscriber") {
            v.fail(format!(
                "{:?} is not an access list entry (only \"Subscriber\")",
                excerpt(bad)
            ));
        }
    }

    /// XSD `\S`: anything but the four XML white-space characters.
    fn non_space(c: char) -> bool {
        !matches!(c, ' ' | '\t' | '\n' | '\r')
    }

    /// XSD `( \S+)+`: one or more words, each preceded by exactly one space.
    fn words(s: &str) -> bool {
        s.strip_prefix(' ').is_some_and(|rest| {
            rest.split(' ')
                .all(|w| !w.is_empty() && w.chars().all(non_space))
        })
    }

    /// XSD `\d+( \S+)+`, or with `[1-9]\d*` when `nonzero` is set.
    fn numbered(s: &str, nonzero: bool) -> bool {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && !(nonzero && s.starts_with('0')) && s.get(digits..).is_some_and(words)
    }

    /// XSD `X [0-9A-F]{6} .*` (`.+` when `nonempty`): a vendor value with an OUI.
    fn vendor_oui(s: &str, nonempty: bool) -> bool {
        let Some(rest) = s.strip_prefix("X ") else {
            return false;
        };
        let (oui, tail) = rest.split_at_checked(6).unwrap_or(("", ""));
        oui.len() == 6
            && oui.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))
            && tail
                .strip_prefix(' ')
                .is_some_and(|t| (!nonempty || !t.is_empty()) && !t.contains(['\n', '\r']))
    }

    /// XSD `X \S+ .+`: a vendor value with any vendor identifier.
    fn vendor_any(s: &str) -> bool {
        let Some(rest) = s.strip_prefix("X ") else {
            return false;
        };
        match rest.split_once(' ') {
            Some((id, tail)) => {
                !id.is_empty()
                    && id.chars().all(non_space)
                    && !tail.is_empty()
                    && !tail.contains(['\n', '\r'])
            }
            None => false,
        }
    }

    /// XSD `M \S+`.
    fn method_event(s: &str) -> bool {
        s.strip_prefix("M ")
            .is_some_and(|m| !m.is_empty() && m.chars().all(non_space))
    }

    /// `EventStruct/EventCode` (notes §4.4). CWMP 1.0 enumerates its codes; 1.1 adds the
    /// general patterns that 1.2 keeps.
    pub fn event_code(value: &str, v: &mut Validator) {
        max_len(value, v, 64);
        let s: &str = value;
        let ok = match v.ns {
            Namespace::Cwmp1_0 => {
                matches!(
                    s,
                    "0 BOOTSTRAP"
                        | "1 BOOT"
                        | "2 PERIODIC"
                        | "3 SCHEDULED"
                        | "4 VALUE CHANGE"
                        | "5 KICKED"
                        | "6 CONNECTION REQUEST"
                        | "7 TRANSFER COMPLETE"
                        | "8 DIAGNOSTICS COMPLETE"
                        | "9 REQUEST DOWNLOAD"
                        | "M Reboot"
                        | "M ScheduleInform"
                        | "M Download"
                        | "M Upload"
                ) || s
                    .strip_prefix("M X_")
                    .is_some_and(|m| !m.is_empty() && m.chars().all(non_space))
                    || vendor_oui(s, false)
            }
            Namespace::Cwmp1_1 => numbered(s, false) || method_event(s) || vendor_oui(s, false),
            Namespace::Cwmp1_2 => {
                numbered(s, false) || method_event(s) || vendor_oui(s, true) || vendor_any(s)
            }
        };
        if !ok {
            v.fail(format!("{:?} is not an event code of {}", excerpt(s), v.ns));
        }
    }

    /// Which file-type schema type a field has.
    #[derive(Clone, Copy)]
    pub enum FileTypeKind {
        /// `DownloadFileType` (Download, ScheduleDownload, RequestDownload).
        Download,
        /// `UploadFileType`.
        Upload,
        /// `TransferFileType` (AllQueuedTransferStruct, AutonomousTransferComplete).
        Transfer,
    }

    /// File types (notes §4.6). CWMP 1.0 and 1.1 enumerate them; 1.2 uses patterns.
    pub fn file_type(value: &str, v: &mut Validator, kind: FileTypeKind) {
        max_len(value, v, 64);
        let s: &str = value;
        let ok = match v.ns {
            Namespace::Cwmp1_0 | Namespace::Cwmp1_1 => {
                let listed = match kind {
                    FileTypeKind::Download => {
                        matches!(
                            s,
                            "1 Firmware Upgrade Image"
                                | "2 Web Content"
                                | "3 Vendor Configuration File"
                        )
                    }
                    FileTypeKind::Upload => {
                        matches!(s, "1 Vendor Configuration File" | "2 Vendor Log File")
                    }
                    FileTypeKind::Transfer => matches!(
                        s,
                        "1 Firmware Upgrade Image"
                            | "2 Web Content"
                            | "3 Vendor Configuration File"
                            | "4 Vendor Log File"
                    ),
                };
                listed || vendor_oui(s, false)
            }
            // `[1-9]\d*( \S+)+ [1-9]\d*` (Upload, Transfer) is a case of `[1-9]\d*( \S+)+`.
            Namespace::Cwmp1_2 => numbered(s, true) || vendor_oui(s, true) || vendor_any(s),
        };
        if !ok {
            v.fail(format!("{:?} is not a file type of {}", excerpt(s), v.ns));
        }
    }

    /// `TimeWindowModeValueType`.
    pub fn window_mode(value: &str, v: &mut Validator) {
        max_len(value, v, 64);
        if !(numbered(value, true) || vendor_oui(value, true) || vendor_any(value)) {
            v.fail(format!("{:?} is not a time window mode", excerpt(value)));
        }
    }

    /// Where a fault code stands, which decides the codes the schema allows there.
    #[derive(Clone, Copy)]
    pub enum FaultContext {
        /// `cwmp:Fault/FaultCode`: any CPE or ACS code.
        Fault,
        /// `SetParameterValuesFault/FaultCode`: CPE codes.
        SetParameterValues,
        /// `TransferCompleteFaultStruct/FaultCode`.
        Transfer,
        /// `DeploymentUnitFaultStruct/FaultCode`.
        DeploymentUnit,
    }

    pub fn fault_code(value: &crate::fault::FaultCode, v: &mut Validator, ctx: FaultContext) {
        let c = value.0;
        let vendor = (9800..=9899).contains(&c);
        let ok = match (ctx, v.ns) {
            (FaultContext::Fault | FaultContext::SetParameterValues, Namespace::Cwmp1_0) => {
                (9000..=9013).contains(&c)
                    || vendor
                    || (8000..=8005).contains(&c)
                    || (8800..=8899).contains(&c)
            }
            (FaultContext::Fault, Namespace::Cwmp1_1) => {
                (9000..=9799).contains(&c) || vendor || (8000..=8899).contains(&c)
            }
            (FaultContext::SetParameterValues, Namespace::Cwmp1_1) => {
                (9000..=9899).contains(&c) || (8000..=8899).contains(&c)
            }
            (FaultContext::Fault, Namespace::Cwmp1_2) => {
                (9000..=9899).contains(&c) || (8000..=8899).contains(&c)
            }
            (FaultContext::SetParameterValues, Namespace::Cwmp1_2) => (9000..=9899).contains(&c),
            (FaultContext::Transfer, Namespace::Cwmp1_0) => {
                matches!(c, 0 | 9001 | 9002 | 9010 | 9011 | 9012)
            }
            (FaultContext::Transfer, Namespace::Cwmp1_1) => {
                matches!(c, 0 | 9001 | 9002 | 9010..=9012 | 9014..=9019)
                    || (9020..=9899).contains(&c)
            }
            (FaultContext::Transfer, Namespace::Cwmp1_2) => {
                matches!(c, 0 | 9001 | 9002 | 9010..=9012 | 9014..=9020)
                    || (9033..=9899).contains(&c)
            }
            (FaultContext::DeploymentUnit, _) => {
                matches!(c, 0 | 9001 | 9003 | 9012 | 9013 | 9015..=9018 | 9022..=9032)
                    || (9033..=9899).contains(&c)
            }
        };
        if !ok {
            v.fail(format!("fault code {c} is not allowed here in {}", v.ns));
        }
    }

    /// Notification values 3 to 6 (lightweight notification) exist from the 1-2 schema on.
    pub fn notification(value: &crate::message::Notification, v: &mut Validator) {
        let n = *value as u8;
        if n > 2 && v.ns < Namespace::Cwmp1_2 {
            v.fail(format!("notification {n} does not exist in {}", v.ns));
        }
    }
}

/// Declares a CWMP structure: the Rust struct, its decoder, its encoder in schema element
/// order, and its schema validation.
///
/// ```text
/// cwmp_struct! {
///     /// docs
///     pub struct Download<'a> {
///         /// docs
///         "CommandKey" command_key: Cow<'a, str> => max_len(32),
///         "Operations" [repeated1] operations: Vec<Operation<'a>>,
///     }
/// }
/// ```
/// Fields are listed in `xs:sequence` order. `[repeated]` marks an element that may occur
/// any number of times (a Rust `Vec`), `[repeated1]` one that must occur at least once.
/// After `=>` come checks from [`check`], called with the field and the validator.
macro_rules! cwmp_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident $(<$lt:lifetime>)? {
            $(
                $(#[$fmeta:meta])*
                $xml:literal $([$mode:ident])? $field:ident : $ty:ty
                    $(=> $($check:ident($($arg:expr),*)),+)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        pub struct $name $(<$lt>)? {
            $(
                #[doc = concat!("`", $xml, "`.")]
                #[doc = ""]
                $(#[$fmeta])*
                #[serde(rename = $xml)]
                pub $field: $ty,
            )*
        }

        impl<'a> $crate::codec::Codec<'a> for $name $(<$lt>)? {
            #[allow(unused_mut)]
            fn decode(
                cur: &mut $crate::xml::reader::Cursor<'a>,
                tag: &$crate::xml::reader::Tag<'a>,
            ) -> Result<Self, $crate::error::DecodeError> {
                $( let mut $field: Option<$ty> = None; )*
                while let Some(child) = cur.next_child()? {
                    if !child.is_cwmp_child() {
                        cur.skip()?;
                        continue;
                    }
                    match child.local {
                        $( $xml => $crate::codec::decode_field!($($mode)? cur, child, $field, $ty, $xml), )*
                        _ => cur.skip()?,
                    }
                }
                let _ = tag;
                Ok($name {
                    $( $field: $crate::codec::finish_field!($($mode)? tag, $field, $ty, $xml), )*
                })
            }

            fn encode(&self, name: &str, w: &mut $crate::xml::writer::Writer<'_>) {
                w.open(name);
                self.encode_fields(w);
                w.close(name);
            }
        }

        impl $(<$lt>)? $name $(<$lt>)? {
            /// Writes the child elements, in schema order.
            #[allow(unused_variables)]
            pub(crate) fn encode_fields(&self, w: &mut $crate::xml::writer::Writer<'_>) {
                $( $crate::codec::encode_field!($($mode)? self.$field, $xml, w); )*
            }
        }

        impl<'a> $crate::IntoOwned for $name $(<$lt>)? {
            type Owned = $crate::codec::owned_type!($name $(, $lt)?);

            fn into_owned(self) -> Self::Owned {
                $name { $( $field: $crate::IntoOwned::into_owned(self.$field), )* }
            }
        }

        impl $(<$lt>)? $crate::codec::Validate for $name $(<$lt>)? {
            #[allow(unused_variables)]
            fn validate(&self, v: &mut $crate::codec::Validator) {
                $(
                    v.at($xml, |v| {
                        $( $( $crate::codec::check::$check(&self.$field, v $(, $arg)*); )+ )?
                        $crate::codec::Validate::validate(&self.$field, v);
                    });
                )*
            }
        }
    };
}
pub(crate) use cwmp_struct;

macro_rules! decode_field {
    (repeated $cur:ident, $child:ident, $field:ident, $ty:ty, $xml:literal) => {{
        let index = $field.as_ref().map_or(0, Vec::len);
        let item = <<$ty as $crate::codec::Repeated>::Item as $crate::codec::Codec>::decode(
            $cur, &$child,
        )
        .map_err(|e| e.within_item($xml, index))?;
        $crate::codec::Repeated::push_item($field.get_or_insert_with(Default::default), item);
    }};
    (repeated1 $($rest:tt)*) => {
        $crate::codec::decode_field!(repeated $($rest)*)
    };
    ($cur:ident, $child:ident, $field:ident, $ty:ty, $xml:literal) => {{
        if $field.is_some() {
            return Err($cur
                .error($crate::error::DecodeErrorKind::DuplicateElement($xml))
                .within($xml));
        }
        $field = Some(
            <$ty as $crate::codec::Codec>::decode($cur, &$child).map_err(|e| e.within($xml))?,
        );
    }};
}
pub(crate) use decode_field;

macro_rules! finish_field {
    (repeated $tag:ident, $field:ident, $ty:ty, $xml:literal) => {
        $field.unwrap_or_default()
    };
    (repeated1 $tag:ident, $field:ident, $ty:ty, $xml:literal) => {
        match $field {
            Some(items) => items,
            None => {
                return Err($crate::error::DecodeError::new(
                    $crate::error::DecodeErrorKind::MissingElement($xml),
                    $tag.offset,
                ));
            }
        }
    };
    ($tag:ident, $field:ident, $ty:ty, $xml:literal) => {
        match $field.or_else(<$ty as $crate::codec::Codec>::absent) {
            Some(value) => value,
            None => {
                return Err($crate::error::DecodeError::new(
                    $crate::error::DecodeErrorKind::MissingElement($xml),
                    $tag.offset,
                ));
            }
        }
    };
}
pub(crate) use finish_field;

macro_rules! encode_field {
    (repeated $value:expr, $xml:literal, $w:ident) => {
        for item in &$value {
            $crate::codec::Codec::encode(item, $xml, $w);
        }
    };
    (repeated1 $value:expr, $xml:literal, $w:ident) => {
        $crate::codec::encode_field!(repeated $value, $xml, $w)
    };
    ($value:expr, $xml:literal, $w:ident) => {
        $crate::codec::Codec::encode(&$value, $xml, $w)
    };
}
pub(crate) use encode_field;

macro_rules! owned_type {
    ($name:ident) => {
        $name
    };
    ($name:ident, $lt:lifetime) => {
        $name<'static>
    };
}
pub(crate) use owned_type;

impl<'a> crate::IntoOwned for Cow<'a, str> {
    type Owned = Cow<'static, str>;
    fn into_owned(self) -> Cow<'static, str> {
        Cow::Owned(Cow::into_owned(self))
    }
}

impl<T: crate::IntoOwned> crate::IntoOwned for Option<T> {
    type Owned = Option<T::Owned>;
    fn into_owned(self) -> Self::Owned {
        self.map(T::into_owned)
    }
}

impl<T: crate::IntoOwned> crate::IntoOwned for Vec<T> {
    type Owned = Vec<T::Owned>;
    fn into_owned(self) -> Self::Owned {
        self.into_iter().map(T::into_owned).collect()
    }
}

/// Types that borrow nothing are their own owned form.
macro_rules! owned_is_self {
    ($($ty:ty),* $(,)?) => {$(
        impl $crate::IntoOwned for $ty {
            type Owned = $ty;
            fn into_owned(self) -> $ty {
                self
            }
        }
    )*};
}
pub(crate) use owned_is_self;

owned_is_self!(u32, i32, i64, u64, bool, DateTime);

/// Declares a field-less enumeration written as an integer (`xs:int` enumerations).
macro_rules! int_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $xsd:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value ),*
        }

        impl $name {
            /// The value as written on the wire.
            pub const fn code(self) -> u8 {
                self as u8
            }

            /// The value with the given code.
            pub fn from_code(code: i64) -> Option<Self> {
                match code {
                    $( $value => Some($name::$variant), )*
                    _ => None,
                }
            }
        }

        impl<'a> $crate::codec::Leaf<'a> for $name {
            const XSD_TYPE: &'static str = $xsd;

            fn parse(text: std::borrow::Cow<'a, str>) -> Result<Self, std::borrow::Cow<'a, str>> {
                text.trim().parse::<i64>().ok().and_then($name::from_code).ok_or(text)
            }

            fn write(&self, w: &mut $crate::xml::writer::Writer<'_>) {
                use std::fmt::Write as _;
                let _ = write!(w.out, "{}", *self as u8);
            }
        }

        impl $crate::codec::Validate for $name {
            fn validate(&self, _: &mut $crate::codec::Validator) {}
        }

        $crate::codec::owned_is_self!($name);

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u8(*self as u8)
            }
        }
    };
}
pub(crate) use int_enum;

#[cfg(test)]
mod tests {
    use super::check::*;
    use super::*;

    fn valid(ns: Namespace, f: impl FnOnce(&mut Validator)) -> bool {
        let mut v = Validator::new(ns);
        f(&mut v);
        v.finish().is_ok()
    }

    #[test]
    fn event_code_patterns_per_namespace() {
        let ok = |ns, s: &str| valid(ns, |v| event_code(&Cow::Borrowed(s), v));
        assert!(ok(Namespace::Cwmp1_0, "0 BOOTSTRAP"));
        assert!(ok(Namespace::Cwmp1_0, "M X_00D09E_Foo"));
        assert!(ok(Namespace::Cwmp1_0, "X 00D09E "));
        assert!(!ok(Namespace::Cwmp1_0, "10 AUTONOMOUS TRANSFER COMPLETE"));
        assert!(!ok(Namespace::Cwmp1_0, "M ChangeDUState"));
        assert!(ok(Namespace::Cwmp1_1, "10 AUTONOMOUS TRANSFER COMPLETE"));
        assert!(ok(Namespace::Cwmp1_2, "14 HEARTBEAT"));
        assert!(ok(Namespace::Cwmp1_2, "M ChangeDUState"));
        assert!(ok(Namespace::Cwmp1_2, "X ACME rebooted twice"));
        assert!(!ok(Namespace::Cwmp1_2, "X 00D09E "));
        assert!(!ok(Namespace::Cwmp1_2, "14  HEARTBEAT"));
        assert!(!ok(Namespace::Cwmp1_2, "14 HEARTBEAT "));
        assert!(!ok(Namespace::Cwmp1_2, "BOOT"));
        assert!(!ok(Namespace::Cwmp1_2, "M "));
    }

    #[test]
    fn file_type_patterns() {
        let ok = |ns, s: &str, k| valid(ns, |v| file_type(&Cow::Borrowed(s), v, k));
        assert!(ok(
            Namespace::Cwmp1_0,
            "1 Firmware Upgrade Image",
            FileTypeKind::Download
        ));
        assert!(!ok(
            Namespace::Cwmp1_0,
            "6 Stored Firmware Image",
            FileTypeKind::Download
        ));
        assert!(ok(
            Namespace::Cwmp1_2,
            "6 Stored Firmware Image",
            FileTypeKind::Download
        ));
        assert!(ok(
            Namespace::Cwmp1_2,
            "3 Vendor Configuration File 2",
            FileTypeKind::Upload
        ));
        assert!(!ok(
            Namespace::Cwmp1_2,
            "0 Firmware",
            FileTypeKind::Download
        ));
        assert!(ok(
            Namespace::Cwmp1_1,
            "4 Vendor Log File",
            FileTypeKind::Transfer
        ));
        assert!(!ok(
            Namespace::Cwmp1_1,
            "4 Vendor Log File",
            FileTypeKind::Download
        ));
    }

    #[test]
    fn uuid_and_oui() {
        assert!(valid(Namespace::Cwmp1_2, |v| uuid(
            &Cow::Borrowed("3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
            v
        )));
        assert!(!valid(Namespace::Cwmp1_2, |v| uuid(
            &Cow::Borrowed("3f2504e0-4f89-11d3"),
            v
        )));
        assert!(valid(Namespace::Cwmp1_2, |v| oui(
            &Cow::Borrowed("00D09E"),
            v
        )));
        assert!(!valid(Namespace::Cwmp1_2, |v| oui(
            &Cow::Borrowed("00d09e"),
            v
        )));
    }
}

//! Writes CWMP envelopes: fixed prefixes, schema element order, strict escaping.

use std::fmt::Write as _;

use crate::namespace::{self, Namespace};

/// How booleans are written. TR-069 allows `0`/`1` and `false`/`true` (TR-106 data types),
/// and some CPEs accept only one form (GenieACS's `BOOLEAN_LITERAL` switch), so the ACS
/// can pick per device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BooleanStyle {
    /// `true` / `false` (default).
    #[default]
    Words,
    /// `1` / `0`.
    Digits,
}

/// Options of the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeOptions {
    /// How booleans are written.
    pub booleans: BooleanStyle,
}

pub(crate) struct Writer<'o> {
    pub out: &'o mut String,
    pub options: EncodeOptions,
}

impl<'o> Writer<'o> {
    pub fn new(out: &'o mut String, options: EncodeOptions) -> Writer<'o> {
        Writer { out, options }
    }

    pub fn envelope_start(&mut self, ns: Namespace) {
        self.out
            .push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        self.out.push_str("\n<soap-env:Envelope xmlns:soap-env=\"");
        self.out.push_str(namespace::SOAP_ENV);
        self.out.push_str("\" xmlns:soap-enc=\"");
        self.out.push_str(namespace::SOAP_ENC);
        self.out.push_str("\" xmlns:xsd=\"");
        self.out.push_str(namespace::XSD);
        self.out.push_str("\" xmlns:xsi=\"");
        self.out.push_str(namespace::XSI);
        self.out.push_str("\" xmlns:cwmp=\"");
        self.out.push_str(ns.uri());
        self.out.push_str("\">");
    }

    pub fn envelope_end(&mut self) {
        self.out.push_str("</soap-env:Envelope>");
    }

    /// `<name>`; `name` may carry a prefix (`cwmp:Inform`).
    pub fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name attr="value">`; the value must not need escaping.
    pub fn open_with(&mut self, name: &str, attr: &str, value: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(attr);
        self.out.push_str("=\"");
        self.out.push_str(value);
        self.out.push_str("\">");
    }

    /// `<name soap-enc:arrayType="type[len]">`.
    pub fn open_array(&mut self, name: &str, array_type: &str, len: usize) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" soap-enc:arrayType=\"");
        self.out.push_str(array_type);
        // Writing to a String cannot fail.
        let _ = write!(self.out, "[{len}]\">");
    }

    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name>text</name>`, escaped. Empty elements are written as `<name></name>`, as
    /// GenieACS does: some CPE parsers mishandle `<name/>`.
    pub fn leaf(&mut self, name: &str, text: &str) {
        self.open(name);
        self.text(text);
        self.close(name);
    }

    pub fn boolean(&mut self, value: bool) -> &'static str {
        match (self.options.booleans, value) {
            (BooleanStyle::Words, true) => "true",
            (BooleanStyle::Words, false) => "false",
            (BooleanStyle::Digits, true) => "1",
            (BooleanStyle::Digits, false) => "0",
        }
    }

    /// Escaped character data. TR-069 §3.4.1: characters outside ASCII 9–10 and 32–126 are
    /// written as character references, which also keeps a CR from being normalised away.
    /// Characters XML 1.0 cannot carry at all are refused earlier, by validation.
    pub fn text(&mut self, s: &str) {
        let mut rest = s;
        while let Some(i) = rest.find(|c: char| needs_escape(c)) {
            let (plain, tail) = rest.split_at(i);
            self.out.push_str(plain);
            let mut chars = tail.chars();
            if let Some(c) = chars.next() {
                match c {
                    '&' => self.out.push_str("&amp;"),
                    '<' => self.out.push_str("&lt;"),
                    '>' => self.out.push_str("&gt;"),
                    '"' => self.out.push_str("&quot;"),
                    c => {
                        let _ = write!(self.out, "&#{};", u32::from(c));
                    }
                }
            }
            rest = chars.as_str();
        }
        self.out.push_str(rest);
    }
}

fn needs_escape(c: char) -> bool {
    !matches!(c, '\t' | '\n' | ' '..='~') || matches!(c, '&' | '<' | '>' | '"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_non_ascii() {
        let mut out = String::new();
        let mut w = Writer::new(&mut out, EncodeOptions::default());
        w.text("a<b & \"c\" é\r\n\t€");
        assert_eq!(out, "a&lt;b &amp; &quot;c&quot; &#233;&#13;\n\t&#8364;");
    }
}

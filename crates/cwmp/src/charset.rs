//! Bodies in charsets other than UTF-8 (notes §3.1: Thomson CPEs send
//! `text/xml; charset=ISO-8859-1`).

use std::borrow::Cow;

use crate::error::{DecodeError, DecodeErrorKind};

/// Converts a body to UTF-8 for [`decode`](crate::decode). The charset is the HTTP
/// `Content-Type` charset when given, else the XML declaration's `encoding`, else UTF-8.
/// A UTF-8 body is returned as it is, without copying.
pub fn transcode<'a>(
    body: &'a [u8],
    http_charset: Option<&str>,
) -> Result<Cow<'a, [u8]>, DecodeError> {
    // A byte-order mark overrides any declaration (XML 1.0 Appendix F).
    if let Some((encoding, _)) = encoding_rs::Encoding::for_bom(body) {
        return decode_with(encoding, body, true);
    }
    let label = http_charset
        .map(str::to_owned)
        .or_else(|| declared_encoding(body));
    let Some(label) = label else {
        return Ok(Cow::Borrowed(body));
    };
    let label = label.trim().trim_matches('"');
    let encoding = encoding_rs::Encoding::for_label(label.as_bytes()).ok_or_else(|| {
        DecodeError::new(
            DecodeErrorKind::UnsupportedCharset(crate::error::excerpt(label)),
            0,
        )
    })?;
    decode_with(encoding, body, false)
}

fn decode_with<'a>(
    encoding: &'static encoding_rs::Encoding,
    body: &'a [u8],
    bom: bool,
) -> Result<Cow<'a, [u8]>, DecodeError> {
    if encoding == encoding_rs::UTF_8 {
        return Ok(Cow::Borrowed(body));
    }
    let decoded = if bom {
        encoding.decode_with_bom_removal(body).0
    } else {
        encoding.decode_without_bom_handling(body).0
    };
    Ok(Cow::Owned(decoded.into_owned().into_bytes()))
}

/// The `encoding` pseudo-attribute of an XML declaration at the very start of the body.
fn declared_encoding(body: &[u8]) -> Option<String> {
    let head = body.get(..body.len().min(256))?;
    let head = String::from_utf8_lossy(head);
    let decl = head.strip_prefix("<?xml")?;
    let decl = &decl[..decl.find("?>")?];
    let at = decl.find("encoding")?;
    let rest = decl
        .get(at + "encoding".len()..)?
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = rest.get(1..)?;
    Some(value.get(..value.find(quote)?)?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_declared_in_xml_or_http() {
        let body = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xe9</a>";
        let utf8 = transcode(body, None).unwrap();
        assert_eq!(
            std::str::from_utf8(&utf8)
                .unwrap()
                .strip_suffix("</a>")
                .unwrap()
                .rsplit('>')
                .next(),
            Some("café")
        );
        let body = b"<a>caf\xe9</a>";
        assert_eq!(
            &*transcode(body, Some("iso-8859-1")).unwrap(),
            "<a>café</a>".as_bytes()
        );
    }

    #[test]
    fn utf8_is_borrowed_and_unknown_refused() {
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><a/>";
        assert!(matches!(transcode(body, None).unwrap(), Cow::Borrowed(_)));
        assert!(matches!(
            transcode(b"<a/>", None).unwrap(),
            Cow::Borrowed(_)
        ));
        assert!(transcode(b"<a/>", Some("x-klingon")).is_err());
    }
}

//! The baseline server: answers a session's two exchanges with fixed bytes, parsing nothing.
//! A non-empty POST gets 200 with a canned InformResponse and a `Set-Cookie`; an empty POST
//! gets 204. It is what an ACS costs when it does no work at all beyond HTTP, so it is the
//! ceiling the ACS's session rate is compared with.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The InformResponse envelope sent to every Inform, as the `cwmp` crate encodes it.
pub const INFORM_RESPONSE: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    "\n",
    r#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" "#,
    r#"xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" "#,
    r#"xmlns:xsd="http://www.w3.org/2001/XMLSchema" "#,
    r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" "#,
    r#"xmlns:cwmp="urn:dslforum-org:cwmp-1-2">"#,
    r#"<soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">1</cwmp:ID></soap-env:Header>"#,
    r#"<soap-env:Body><cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes>"#,
    r#"</cwmp:InformResponse></soap-env:Body></soap-env:Envelope>"#,
);

/// The cookie set with every InformResponse.
pub const SET_COOKIE: &str = "session=4f1c0d9e8a7b6c5d4e3f2a1b0c9d8e7f; Path=/; HttpOnly";

const TEXT_XML: HeaderValue = HeaderValue::from_static("text/xml; charset=\"utf-8\"");

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let status_only = |status: StatusCode| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = status;
        r
    };
    if req.method() != Method::POST {
        return Ok(status_only(StatusCode::METHOD_NOT_ALLOWED));
    }
    let Ok(body) = req.into_body().collect().await else {
        return Ok(status_only(StatusCode::BAD_REQUEST));
    };
    if body.to_bytes().is_empty() {
        return Ok(status_only(StatusCode::NO_CONTENT));
    }
    let mut r = Response::new(Full::new(Bytes::from_static(INFORM_RESPONSE.as_bytes())));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, TEXT_XML);
    h.insert(header::SET_COOKIE, HeaderValue::from_static(SET_COOKIE));
    Ok(r)
}

/// Serves connections from `listener` until the task is dropped.
pub async fn serve(listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                eprintln!("acs-baseline: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(handle))
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    #[test]
    fn canned_response_is_what_cwmp_encodes() {
        let env = cwmp::decode(INFORM_RESPONSE.as_bytes()).unwrap();
        assert!(matches!(env.body, cwmp::Body::InformResponse(_)));
        let encoded = cwmp::Envelope::new(
            cwmp::Namespace::Cwmp1_2,
            Some("1".into()),
            cwmp::InformResponse { max_envelopes: 1 },
        )
        .encode()
        .unwrap();
        assert_eq!(encoded, INFORM_RESPONSE);
    }
}

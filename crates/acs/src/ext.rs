//! Extensions: what provision scripts reach outside their sandbox through
//! `ext(name, function, ...args)` — an operator's program or HTTP endpoint, named in the
//! configuration (`[provisioning.ext.NAME]`). The call is JSON,
//! `{"function": "...", "args": [...]}`, on the program's standard input or as the POST
//! body; the result is the JSON the program prints or the endpoint answers. Every call is
//! bounded by `provisioning.ext_timeout_secs` (a program still running then is killed) and
//! by `ext_max_concurrent` calls at once on the node. A failure is a message the script
//! sees; it never stops the session.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use acs_core::provision::ExtCall;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

use crate::config::{ExtensionConfig, ProvisioningConfig};

/// Largest result accepted from an extension.
const MAX_RESULT_BYTES: usize = 1024 * 1024;

/// Makes extension calls.
#[derive(Debug, Clone)]
pub struct Extensions {
    config: Arc<ProvisioningConfig>,
    permits: Arc<Semaphore>,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl Extensions {
    /// The extensions of the configuration.
    pub fn new(config: &ProvisioningConfig) -> Extensions {
        Extensions {
            config: Arc::new(config.clone()),
            permits: Arc::new(Semaphore::new(config.ext_max_concurrent)),
            http: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Makes the calls (at once), each to its result or the message of its failure.
    pub async fn call_all(&self, calls: Vec<ExtCall>) -> Vec<(ExtCall, Result<Value, String>)> {
        let mut set = tokio::task::JoinSet::new();
        for (i, call) in calls.iter().cloned().enumerate() {
            let this = self.clone();
            set.spawn(async move { (i, this.call(&call).await) });
        }
        let mut results: Vec<Option<Result<Value, String>>> = vec![None; calls.len()];
        while let Some(joined) = set.join_next().await {
            if let Ok((i, r)) = joined {
                results[i] = Some(r);
            }
        }
        calls
            .into_iter()
            .zip(results)
            .map(|(c, r)| {
                (
                    c,
                    r.unwrap_or_else(|| Err("the call did not finish".into())),
                )
            })
            .collect()
    }

    /// One call.
    pub async fn call(&self, call: &ExtCall) -> Result<Value, String> {
        let Some(ext) = self.config.ext.get(&call.name) else {
            return Err(format!("no extension named {:?} is configured", call.name));
        };
        let args: Value = serde_json::from_str(&call.args).unwrap_or(Value::Array(Vec::new()));
        let request = json!({ "function": call.function, "args": args }).to_string();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| "shutting down".to_owned())?;
        let timeout = Duration::from_secs(self.config.ext_timeout_secs);
        let work = async {
            if ext.command.is_empty() {
                self.post(ext, request).await
            } else {
                run(ext, request).await
            }
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(r) => r.map_err(|e| format!("extension {}: {e}", call.name)),
            Err(_) => Err(format!(
                "extension {} did not answer within {} s",
                call.name, self.config.ext_timeout_secs
            )),
        }
    }

    async fn post(&self, ext: &ExtensionConfig, request: String) -> Result<Value, String> {
        let req = http::Request::post(&ext.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(request)))
            .map_err(|e| e.to_string())?;
        let response = self.http.request(req).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = http_body_util::Limited::new(response.into_body(), MAX_RESULT_BYTES)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if !status.is_success() {
            return Err(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ));
        }
        serde_json::from_slice(&body).map_err(|e| format!("the answer is not JSON: {e}"))
    }
}

/// Runs the program with the call on its standard input; its output is the result. The
/// environment is emptied but for `PATH`, so nothing of the ACS's leaks to it.
async fn run(ext: &ExtensionConfig, request: String) -> Result<Value, String> {
    let mut cmd = tokio::process::Command::new(&ext.command[0]);
    cmd.args(&ext.command[1..])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", ext.command[0]))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A program that does not read its input is not an error here.
        let _ = stdin.write_all(request.as_bytes()).await;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| format!("{}: {e}", ext.command[0]))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{} exited with {}: {}",
            ext.command[0],
            out.status,
            stderr.trim().chars().take(300).collect::<String>()
        ));
    }
    if out.stdout.len() > MAX_RESULT_BYTES {
        return Err("the result is larger than 1 MiB".into());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("the output is not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn config(ext: BTreeMap<String, ExtensionConfig>, timeout: u64) -> ProvisioningConfig {
        ProvisioningConfig {
            ext,
            ext_timeout_secs: timeout,
            ..ProvisioningConfig::default()
        }
    }

    fn program(script: &str) -> ExtensionConfig {
        ExtensionConfig {
            command: vec!["/bin/sh".into(), "-c".into(), script.into()],
            url: String::new(),
        }
    }

    fn call(name: &str, args: Value) -> ExtCall {
        ExtCall {
            name: name.into(),
            function: "get".into(),
            args: args.to_string(),
        }
    }

    #[tokio::test]
    async fn programs_get_the_call_and_answer_json() {
        let ext = Extensions::new(&config(
            BTreeMap::from([
                ("echo".to_owned(), program("cat")),
                ("fail".to_owned(), program("echo broken >&2; exit 3")),
                ("text".to_owned(), program("echo not json")),
                ("slow".to_owned(), program("sleep 5")),
                ("env".to_owned(), program("printf '\"%s\"' \"$HOME\"")),
            ]),
            1,
        ));
        let got = ext.call(&call("echo", json!(["SN1", 2]))).await.unwrap();
        assert_eq!(got, json!({"function": "get", "args": ["SN1", 2]}));
        let e = ext.call(&call("fail", json!([]))).await.unwrap_err();
        assert!(e.contains("exited") && e.contains("broken"), "{e}");
        let e = ext.call(&call("text", json!([]))).await.unwrap_err();
        assert!(e.contains("not JSON"), "{e}");
        let started = std::time::Instant::now();
        let e = ext.call(&call("slow", json!([]))).await.unwrap_err();
        assert!(e.contains("did not answer within 1 s"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(4));
        assert_eq!(ext.call(&call("env", json!([]))).await.unwrap(), json!(""));
        let e = ext.call(&call("nope", json!([]))).await.unwrap_err();
        assert!(e.contains("no extension named"), "{e}");
    }

    #[tokio::test]
    async fn http_endpoints_get_the_call_posted() {
        use axum::{Json, Router, routing::post};
        let app = Router::new()
            .route(
                "/ext",
                post(|Json(v): Json<Value>| async move { Json(json!({"got": v})) }),
            )
            .route(
                "/bad",
                post(|| async { (http::StatusCode::INTERNAL_SERVER_ERROR, "no") }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let url = |p: &str| ExtensionConfig {
            command: Vec::new(),
            url: format!("http://{addr}{p}"),
        };
        let ext = Extensions::new(&config(
            BTreeMap::from([
                ("ok".to_owned(), url("/ext")),
                ("bad".to_owned(), url("/bad")),
            ]),
            5,
        ));
        let results = ext
            .call_all(vec![call("ok", json!([1])), call("bad", json!([]))])
            .await;
        assert_eq!(
            results[0].1,
            Ok(json!({"got": {"function": "get", "args": [1]}}))
        );
        let e = results[1].1.clone().unwrap_err();
        assert!(e.contains("500"), "{e}");
    }
}

//! The real server on port 0 with a temporary store, an API client, and a test CPE that
//! speaks CWMP over HTTP as a device does.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use acs::app::Running;
use acs::config::Config;
use bytes::Bytes;
use cwmp::{Body, Envelope, Namespace, ParameterValue, ParameterValueStruct};
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// A running ACS and what tests need to talk to it.
pub struct TestApp {
    pub running: Option<Running>,
    pub api: SocketAddr,
    pub cwmp: SocketAddr,
    pub token: String,
    pub dir: Arc<tempfile::TempDir>,
    pub config: Config,
    /// The PostgreSQL schema this app's store lives in, dropped with the last app on it.
    pub schema: Option<Arc<TestSchema>>,
}

/// The PostgreSQL database tests use: `TEST_POSTGRES_URL`, by default
/// `postgres://postgres@127.0.0.1:5432/test`.
pub fn postgres_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Whether the ACS under test runs on PostgreSQL instead of SQLite: in the `on_postgres`
/// test binary (which includes the api and cwmp tests), or in any with
/// `TEST_ACS_STORE=postgres`.
pub fn on_postgres() -> bool {
    let binary = std::env::current_exe().ok();
    let name = binary
        .as_deref()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.starts_with("on_postgres-")
        || std::env::var("TEST_ACS_STORE").is_ok_and(|s| s == "postgres")
}

/// A schema of its own for one test, dropped when the last holder goes (also when the test
/// failed).
pub struct TestSchema {
    pub name: String,
}

impl TestSchema {
    pub fn new() -> TestSchema {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        TestSchema {
            name: format!(
                "acs_it_{}_{}_{}",
                std::process::id(),
                nanos % 1_000_000_000_000,
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ),
        }
    }

    /// Points the configuration at this schema.
    pub fn configure(&self, c: &mut Config) {
        c.database.url = postgres_url();
        c.database.schema = self.name.clone();
        c.database.pool_size = 4;
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        use sqlx::{Connection, Executor};
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        // Drop runs inside the test's runtime: a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_url()).await {
                    let _ = conn.execute(sql.as_str()).await;
                }
            });
        })
        .join();
    }
}

pub const DEFAULT_USER: &str = "fleet";
pub const DEFAULT_PASS: &str = "fleet-password";

/// A configuration for tests: loopback ports chosen by the OS, a fleet credential.
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut c = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    c.cwmp.listen = "127.0.0.1:0".parse().unwrap();
    c.api.listen = "127.0.0.1:0".parse().unwrap();
    c.cwmp.auth.default_username = DEFAULT_USER.into();
    c.cwmp.auth.default_password = DEFAULT_PASS.into();
    c.cwmp.session_timeout_secs = 5;
    c.tasks.retry_base_secs = 1;
    c.tasks.retry_max_secs = 2;
    c.tasks.expire_interval_secs = 1;
    c.connection_request.timeout_secs = 2;
    c.connection_request.default_wait_ms = 10_000;
    c.log.level = "warn".into();
    // Tests count the RPCs of their sessions; the default presets have a test of their own.
    c.provisioning.default_presets = false;
    c
}

/// An extension for provisioning tests: `ssid(serial)` answers `{"ssid": "net-<serial>"}`
/// (a shell program reading the call on its standard input).
pub fn inventory_extension() -> acs::config::ExtensionConfig {
    acs::config::ExtensionConfig {
        command: vec![
            "/bin/sh".into(),
            "-c".into(),
            r#"read call; s=${call#*'"args":["'}; s=${s%%'"'*}; printf '{"ssid": "net-%s"}' "$s""#
                .into(),
        ],
        url: String::new(),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(edit: impl FnOnce(&mut Config)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(dir.path());
    let schema = on_postgres().then(|| Arc::new(TestSchema::new()));
    if let Some(s) = &schema {
        s.configure(&mut config);
    }
    edit(&mut config);
    let mut app = start(config, dir).await;
    app.schema = schema;
    app
}

/// Starts (or restarts, with the same directory) the ACS.
pub async fn start(config: Config, dir: Arc<tempfile::TempDir>) -> TestApp {
    let running = acs::app::start(config.clone()).await.expect("ACS starts");
    let token = match &running.admin_token {
        Some(t) => t.clone(),
        None => {
            let store = &running.state.store;
            acs::tokens::create(store, "test", acs::cwmp_server::now())
                .await
                .unwrap()
        }
    };
    TestApp {
        api: running.api_addr,
        cwmp: running.cwmp_addr,
        running: Some(running),
        token,
        dir,
        config,
        schema: None,
    }
}

impl TestApp {
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    /// Stops and starts again on the same store.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let mut config = self.config.clone();
        config.cwmp.listen = "127.0.0.1:0".parse().unwrap();
        config.api.listen = "127.0.0.1:0".parse().unwrap();
        let mut app = start(config, self.dir.clone()).await;
        app.token = self.token.clone();
        app.schema = self.schema.clone();
        app
    }

    /// An API request with the token; returns status, headers and body.
    pub async fn api(&self, method: Method, path_and_query: &str, body: Option<Value>) -> Resp {
        self.api_with(
            method,
            path_and_query,
            body.map(|b| b.to_string()),
            Some(&self.token.clone()),
        )
        .await
    }

    pub async fn api_with(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<String>,
        token: Option<&str>,
    ) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{}", self.api, path_and_query));
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        send(self.api, req).await
    }

    /// An API request with the token and a body of any type, sent as it is.
    pub async fn api_raw(
        &self,
        method: Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{}", self.api, path_and_query))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        if let Some(t) = content_type {
            req = req.header(header::CONTENT_TYPE, t);
        }
        send(self.api, req.body(Full::new(Bytes::from(body))).unwrap()).await
    }

    pub async fn device(&self, id: &str) -> Option<Value> {
        let q = urlencode(&serde_json::json!({ "_id": id }).to_string());
        let r = self
            .api(Method::GET, &format!("/devices?query={q}"), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json().as_array().unwrap().first().cloned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Running tasks stop with the test's runtime.
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub reason: Option<String>,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP exchange on a new connection.
async fn send(addr: SocketAddr, req: Request<Full<Bytes>>) -> Resp {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    // hyper keeps the phrase only when it is not the canonical one.
    let reason = resp
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
        .or_else(|| status.canonical_reason().map(str::to_owned));
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        reason,
        body,
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// How the test CPE authenticates.
#[derive(Clone)]
pub enum CpeAuth {
    None,
    Digest(String, String),
    /// Basic sent pre-emptively (refused over plain HTTP).
    Basic(String, String),
}

/// A parameter of the test CPE.
#[derive(Debug, Clone)]
pub struct P {
    pub value: ParameterValue<'static>,
    pub writable: bool,
}

/// A CPE for tests: a small parameter tree, answering the ACS's RPCs from it.
pub struct TestCpe {
    pub oui: String,
    pub product_class: String,
    pub serial: String,
    pub auth: CpeAuth,
    pub params: BTreeMap<String, P>,
    pub next_instance: u32,
    pub namespace: Namespace,
    /// Faults to answer instead of running a method: (method name, fault code).
    pub faults: Vec<(String, u32)>,
    /// Every envelope the ACS sent, for schema validation.
    pub received: Arc<Mutex<Vec<String>>>,
    /// RPC names received, in order.
    pub log: Vec<String>,
    pub cr_url: String,
    /// Stops mid-session, without answering, when the ACS sends this RPC (the connection
    /// is dropped, as when the CPE or the link dies).
    pub halt_on: Option<String>,
}

pub struct SessionResult {
    pub status: StatusCode,
    pub body: String,
    pub rpcs: Vec<String>,
}

impl TestCpe {
    pub fn new(serial: &str) -> TestCpe {
        let mut params = BTreeMap::new();
        let s = |v: &str| ParameterValue::String(Cow::Owned(v.to_owned()));
        for (k, v, w) in [
            ("Device.RootDataModelVersion", s("2.17"), false),
            ("Device.DeviceInfo.HardwareVersion", s("1.0"), false),
            ("Device.DeviceInfo.SoftwareVersion", s("3.0.21"), false),
            ("Device.DeviceInfo.ProvisioningCode", s(""), true),
            (
                "Device.DeviceInfo.UpTime",
                ParameterValue::UnsignedInt(3600),
                false,
            ),
            ("Device.ManagementServer.ParameterKey", s(""), false),
            (
                "Device.ManagementServer.PeriodicInformInterval",
                ParameterValue::UnsignedInt(3600),
                true,
            ),
            (
                "Device.ManagementServer.PeriodicInformEnable",
                ParameterValue::Boolean(true),
                true,
            ),
            (
                "Device.ManagementServer.ConnectionRequestUsername",
                s(""),
                true,
            ),
            (
                "Device.ManagementServer.ConnectionRequestPassword",
                s(""),
                true,
            ),
            (
                "Device.ManagementServer.AliasBasedAddressing",
                ParameterValue::Boolean(false),
                false,
            ),
            ("Device.WiFi.SSID.1.SSID", s("home"), true),
            (
                "Device.WiFi.SSID.1.Enable",
                ParameterValue::Boolean(true),
                true,
            ),
            (
                "Device.NAT.PortMappingNumberOfEntries",
                ParameterValue::UnsignedInt(0),
                false,
            ),
        ] {
            params.insert(
                k.to_owned(),
                P {
                    value: v,
                    writable: w,
                },
            );
        }
        TestCpe {
            oui: "00D09E".into(),
            product_class: "HGW-1".into(),
            serial: serial.into(),
            auth: CpeAuth::Digest(DEFAULT_USER.into(), DEFAULT_PASS.into()),
            params,
            next_instance: 1,
            namespace: Namespace::Cwmp1_2,
            faults: Vec::new(),
            received: Arc::new(Mutex::new(Vec::new())),
            log: Vec::new(),
            cr_url: "http://127.0.0.1:9/cr".into(),
            halt_on: None,
        }
    }

    pub fn id(&self) -> String {
        acs_core::DeviceId::from_identity(&self.oui, &self.product_class, &self.serial).to_string()
    }

    /// The Inform this CPE sends, as XML.
    pub fn inform_xml(&self, events: &[&str]) -> String {
        self.inform(events)
    }

    fn inform(&self, events: &[&str]) -> String {
        let forced = [
            "Device.RootDataModelVersion",
            "Device.DeviceInfo.HardwareVersion",
            "Device.DeviceInfo.SoftwareVersion",
            "Device.DeviceInfo.ProvisioningCode",
            "Device.ManagementServer.ParameterKey",
            "Device.ManagementServer.AliasBasedAddressing",
        ];
        let mut list: Vec<ParameterValueStruct<'static>> = forced
            .iter()
            .filter_map(|k| {
                self.params
                    .get(*k)
                    .map(|p| ParameterValueStruct::new(k.to_string(), p.value.clone()))
            })
            .collect();
        list.push(ParameterValueStruct::new(
            "Device.ManagementServer.ConnectionRequestURL",
            ParameterValue::String(Cow::Owned(self.cr_url.clone())),
        ));
        let env = Envelope::new(
            self.namespace,
            Some("cpe-inform".into()),
            cwmp::Inform {
                device_id: cwmp::DeviceIdStruct {
                    manufacturer: "ExampleCorp".into(),
                    oui: self.oui.clone().into(),
                    product_class: self.product_class.clone().into(),
                    serial_number: self.serial.clone().into(),
                },
                event: events
                    .iter()
                    .map(|e| cwmp::EventStruct::new(e.to_string()))
                    .collect(),
                max_envelopes: 1,
                current_time: cwmp::DateTime::from_unix_timestamp(1_714_564_800).unwrap(),
                retry_count: 0,
                parameter_list: list,
            },
        );
        env.encode().unwrap()
    }

    /// One session: Inform with these events, then answer the ACS until its 204. CPE
    /// requests to send after the InformResponse go in `requests`.
    pub async fn session_with(
        &mut self,
        addr: SocketAddr,
        events: &[&str],
        requests: Vec<Body<'static>>,
    ) -> SessionResult {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut client = SessionClient {
            sender,
            cookie: None,
            authorization: None,
            auth: self.auth.clone(),
            nc: 0,
        };
        let (status, body) = client.post(self.inform(events).into_bytes()).await;
        if status != StatusCode::OK {
            return SessionResult {
                status,
                body,
                rpcs: Vec::new(),
            };
        }
        self.received.lock().unwrap().push(body.clone());
        let env = cwmp::decode(body.as_bytes()).unwrap();
        assert!(matches!(env.body, Body::InformResponse(_)), "{body}");
        for req in requests {
            let name = req.name();
            let env = Envelope::new(self.namespace, Some(Cow::Owned(format!("cpe-{name}"))), req);
            let (status, body) = client.post(env.encode().unwrap().into_bytes()).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            self.received.lock().unwrap().push(body.clone());
        }
        let mut rpcs = Vec::new();
        let mut next: Vec<u8> = Vec::new();
        loop {
            let (status, body) = client.post(std::mem::take(&mut next)).await;
            match status {
                StatusCode::NO_CONTENT => return SessionResult { status, body, rpcs },
                StatusCode::OK => {}
                other => {
                    return SessionResult {
                        status: other,
                        body,
                        rpcs,
                    };
                }
            }
            self.received.lock().unwrap().push(body.clone());
            let env = cwmp::decode(body.as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}"));
            let id = env.header.id.clone().map(|c| Cow::Owned(c.into_owned()));
            let name = env.body.name().to_owned();
            rpcs.push(name.clone());
            self.log.push(name.clone());
            if self.halt_on.as_deref() == Some(name.as_str()) {
                return SessionResult { status, body, rpcs };
            }
            let answer = self.answer(env.body);
            next = Envelope::new(self.namespace, id, answer)
                .encode()
                .unwrap()
                .into_bytes();
        }
    }

    pub async fn session(&mut self, addr: SocketAddr, events: &[&str]) -> SessionResult {
        self.session_with(addr, events, Vec::new()).await
    }

    fn fault(code: u32) -> Body<'static> {
        Body::Fault(cwmp::Fault::cwmp(cwmp::FaultCode(code), None))
    }

    fn below(&self, path: &str) -> Vec<String> {
        self.params
            .keys()
            .filter(|k| path.is_empty() || k.starts_with(path) || k.as_str() == path)
            .cloned()
            .collect()
    }

    /// Answers an ACS request from the parameter tree.
    fn answer(&mut self, body: Body<'_>) -> Body<'static> {
        if let Some(i) = self.faults.iter().position(|(m, _)| m == body.name()) {
            let (_, code) = self.faults.remove(i);
            return Self::fault(code);
        }
        match body {
            Body::GetParameterValues(g) => {
                let mut list = Vec::new();
                for name in &g.parameter_names {
                    let keys = if name.ends_with('.') {
                        self.below(name)
                    } else if self.params.contains_key(name.as_ref()) {
                        vec![name.to_string()]
                    } else {
                        Vec::new()
                    };
                    if keys.is_empty() && !name.ends_with('.') {
                        return Self::fault(9005);
                    }
                    for k in keys {
                        let p = &self.params[&k];
                        let value = if k.ends_with("Password") {
                            ParameterValue::String("".into())
                        } else {
                            p.value.clone()
                        };
                        list.push(ParameterValueStruct::new(k.clone(), value));
                    }
                }
                cwmp::GetParameterValuesResponse {
                    parameter_list: list,
                }
                .into()
            }
            Body::SetParameterValues(s) => {
                let mut faults = Vec::new();
                for p in &s.parameter_list {
                    match self.params.get(p.name.as_ref()) {
                        None => faults.push((p.name.to_string(), 9005)),
                        Some(x) if !x.writable => faults.push((p.name.to_string(), 9008)),
                        _ => {}
                    }
                }
                if !faults.is_empty() {
                    let mut f = cwmp::Fault::cwmp(cwmp::FaultCode::INVALID_ARGUMENTS, None);
                    if let Some(d) = f.detail.as_mut() {
                        for (name, code) in faults {
                            d.set_parameter_values_faults
                                .push(cwmp::SetParameterValuesFault {
                                    parameter_name: name.into(),
                                    fault_code: cwmp::FaultCode(code),
                                    fault_string: None,
                                });
                        }
                    }
                    return Body::Fault(f);
                }
                for p in s.parameter_list {
                    let value = p.value.into_owned();
                    if let Some(x) = self.params.get_mut(p.name.as_ref()) {
                        x.value = value;
                    }
                }
                if let Some(x) = self.params.get_mut("Device.ManagementServer.ParameterKey") {
                    x.value = ParameterValue::String(Cow::Owned(s.parameter_key.into_owned()));
                }
                cwmp::SetParameterValuesResponse {
                    status: cwmp::ApplyStatus::Applied,
                }
                .into()
            }
            Body::GetParameterNames(g) => {
                let path = g.parameter_path.to_string();
                let mut names: BTreeMap<String, bool> = BTreeMap::new();
                for (k, p) in self.params.iter().filter(|(k, _)| k.starts_with(&path)) {
                    names.insert(k.clone(), p.writable);
                    // Every object on the way down.
                    let mut end = 0;
                    while let Some(i) = k[end..].find('.') {
                        end += i + 1;
                        let obj = &k[..end];
                        if obj.len() >= path.len() {
                            let table = obj
                                .trim_end_matches('.')
                                .rsplit('.')
                                .next()
                                .is_some_and(|s| s.parse::<u32>().is_ok());
                            names.entry(obj.to_owned()).or_insert(table);
                        }
                    }
                }
                if names.is_empty() {
                    return Self::fault(9005);
                }
                cwmp::GetParameterNamesResponse {
                    parameter_list: names
                        .into_iter()
                        .map(|(name, writable)| cwmp::ParameterInfoStruct {
                            name: name.into(),
                            writable,
                        })
                        .collect(),
                }
                .into()
            }
            Body::AddObject(a) => {
                let n = self.next_instance;
                self.next_instance += 1;
                let base = format!("{}{n}.", a.object_name);
                self.params.insert(
                    format!("{base}Enable"),
                    P {
                        value: ParameterValue::Boolean(false),
                        writable: true,
                    },
                );
                self.params.insert(
                    format!("{base}Description"),
                    P {
                        value: ParameterValue::String("".into()),
                        writable: true,
                    },
                );
                cwmp::AddObjectResponse {
                    instance_number: n,
                    status: cwmp::ApplyStatus::Applied,
                }
                .into()
            }
            Body::DeleteObject(d) => {
                let path = d.object_name.to_string();
                let before = self.params.len();
                self.params.retain(|k, _| !k.starts_with(&path));
                if self.params.len() == before {
                    return Self::fault(9005);
                }
                cwmp::DeleteObjectResponse {
                    status: cwmp::ApplyStatus::Applied,
                }
                .into()
            }
            Body::Reboot(_) => cwmp::RebootResponse {}.into(),
            Body::FactoryReset(_) => cwmp::FactoryResetResponse {}.into(),
            Body::Download(_) => cwmp::DownloadResponse {
                status: cwmp::TransferStatus::Pending,
                start_time: cwmp::DateTime::UNKNOWN,
                complete_time: cwmp::DateTime::UNKNOWN,
            }
            .into(),
            Body::Upload(_) => cwmp::UploadResponse {
                status: cwmp::TransferStatus::Pending,
                start_time: cwmp::DateTime::UNKNOWN,
                complete_time: cwmp::DateTime::UNKNOWN,
            }
            .into(),
            Body::ScheduleInform(_) => cwmp::ScheduleInformResponse {}.into(),
            Body::ScheduleDownload(_) => cwmp::ScheduleDownloadResponse {}.into(),
            Body::CancelTransfer(_) => cwmp::CancelTransferResponse {}.into(),
            Body::ChangeDUState(_) => cwmp::ChangeDUStateResponse {}.into(),
            Body::GetQueuedTransfers(_) => cwmp::GetQueuedTransfersResponse {
                transfer_list: vec![cwmp::QueuedTransferStruct {
                    command_key: "k".into(),
                    state: cwmp::TransferState::InProgress,
                }],
            }
            .into(),
            Body::GetAllQueuedTransfers(_) => cwmp::GetAllQueuedTransfersResponse {
                transfer_list: vec![],
            }
            .into(),
            Body::GetRPCMethods(_) => cwmp::GetRPCMethodsResponse {
                method_list: [
                    "GetRPCMethods",
                    "GetParameterValues",
                    "SetParameterValues",
                    "Reboot",
                ]
                .iter()
                .map(|m| Cow::Borrowed(*m))
                .collect(),
            }
            .into(),
            Body::GetParameterAttributes(g) => cwmp::GetParameterAttributesResponse {
                parameter_list: g
                    .parameter_names
                    .iter()
                    .map(|n| cwmp::ParameterAttributeStruct {
                        name: Cow::Owned(n.to_string()),
                        notification: cwmp::Notification::Passive,
                        access_list: vec![],
                    })
                    .collect(),
            }
            .into(),
            Body::SetParameterAttributes(_) => cwmp::SetParameterAttributesResponse {}.into(),
            other => panic!("the test CPE does not handle {}", other.name()),
        }
    }

    /// Validates every envelope the ACS sent this CPE against the BBF schemas.
    pub fn validate_received(&self) {
        let received = self.received.lock().unwrap().clone();
        validate(&received);
    }
}

pub fn validate(envelopes: &[String]) {
    schema_check::validate(envelopes, "the ACS");
}

/// The HTTP side of a CPE's session: one connection, the cookie, Digest answered.
struct SessionClient {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    cookie: Option<String>,
    authorization: Option<(cwmp::auth::digest::DigestChallenge, String, String)>,
    auth: CpeAuth,
    nc: u32,
}

impl SessionClient {
    fn authorization_header(&mut self) -> Option<String> {
        match &self.auth {
            CpeAuth::Basic(u, p) => cwmp::auth::basic::authorization(u, p).ok(),
            _ => {
                let (challenge, user, pass) = self.authorization.as_ref()?;
                self.nc += 1;
                let req = cwmp::auth::digest::DigestRequest {
                    username: user,
                    password: pass,
                    method: "POST",
                    uri: "/",
                    cnonce: "0a4f113b",
                    nc: self.nc,
                };
                challenge
                    .respond(&req)
                    .ok()
                    .and_then(|c| c.to_header_value().ok())
            }
        }
    }

    async fn post(&mut self, body: Vec<u8>) -> (StatusCode, String) {
        for attempt in 0..2 {
            let mut req = Request::builder().method(Method::POST).uri("/");
            if !body.is_empty() {
                req = req
                    .header(header::CONTENT_TYPE, "text/xml; charset=\"utf-8\"")
                    .header("SOAPAction", "");
            }
            if let Some(c) = &self.cookie {
                req = req.header(header::COOKIE, c.clone());
            }
            if let Some(a) = self.authorization_header() {
                req = req.header(header::AUTHORIZATION, a);
            }
            self.sender.ready().await.unwrap();
            let resp = self
                .sender
                .send_request(req.body(Full::new(Bytes::from(body.clone()))).unwrap())
                .await
                .unwrap();
            let status = resp.status();
            if let Some(c) = resp
                .headers()
                .get(header::SET_COOKIE)
                .and_then(|v| v.to_str().ok())
            {
                self.cookie = c.split(';').next().map(str::to_owned);
            }
            let challenges: Vec<String> = resp
                .headers()
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_owned))
                .collect();
            let text =
                String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes())
                    .into_owned();
            if status == StatusCode::UNAUTHORIZED
                && attempt == 0
                && let CpeAuth::Digest(u, p) = &self.auth
            {
                let parsed = challenges
                    .iter()
                    .flat_map(|c| cwmp::auth::digest::parse_challenges(c).unwrap_or_default())
                    .collect::<Vec<_>>();
                let chosen = cwmp::auth::digest::select_challenge(
                    &parsed,
                    cwmp::auth::digest::AlgorithmPreference::default(),
                )
                .unwrap()
                .clone();
                self.authorization = Some((chosen, u.clone(), p.clone()));
                self.nc = 0;
                continue;
            }
            return (status, text);
        }
        unreachable!()
    }
}

/// A listening CPE for connection requests: Digest-authenticates the ACS against the
/// credentials the ACS itself set on the CPE, then reports each accepted request.
pub async fn connection_request_listener(
    username: String,
    password: String,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cr", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let digest = Arc::new(
        cwmp::auth::digest::DigestServer::new("cpe", b"0123456789abcdef0123456789abcdef", 300)
            .unwrap(),
    );
    let creds = Arc::new((username, password));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (tx, digest, creds) = (tx.clone(), digest.clone(), creds.clone());
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                let expected = cwmp::auth::digest::StoredCredential {
                    username: &creds.0,
                    secret: cwmp::auth::digest::Secret::Password(&creds.1),
                };
                let authorized = req
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|a| {
                        digest
                            .verify_header(
                                a,
                                req.method().as_str(),
                                &req.uri().to_string(),
                                &expected,
                                now,
                            )
                            .is_ok()
                    });
                let mut resp = hyper::Response::new(Full::new(Bytes::new()));
                if authorized {
                    let _ = tx.send(());
                } else {
                    *resp.status_mut() = StatusCode::UNAUTHORIZED;
                    for c in digest.challenges(now, &rand::random(), false) {
                        resp.headers_mut()
                            .append(header::WWW_AUTHENTICATE, c.parse().unwrap());
                    }
                }
                async move { Ok::<_, std::convert::Infallible>(resp) }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (url, rx)
}

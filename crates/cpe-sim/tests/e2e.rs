//! End to end: `cpe-sim` devices against the real `acs serve` (in process, ports 0, a
//! temporary store). Every task type of the ACS's API is performed on a simulated device
//! and checked on both sides — in the ACS (its API and the events it stored) and on the
//! device (what a later GetParameterValues reads, what reached the file server). Every
//! envelope the devices sent is validated against the BBF schemas at the end of each test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../acs/tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{DEFAULT_PASS, DEFAULT_USER, TestApp, spawn_app};
use cpe::tree::Template;
use cpe_sim::{Fleet, FleetConfig, SentLog};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

const ID0: &str = "02C0DE-HG4000-SIM00000000";

/// A file server for Download, Upload and ChangeDUState: GET serves `files`, PUT stores
/// into `uploads`.
#[derive(Clone, Default)]
struct Files {
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    uploads: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

async fn file_server(files: Files) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let files = files.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let files = files.clone();
                        async move {
                            let path = req.uri().path().to_owned();
                            let resp = if req.method() == Method::PUT {
                                let body = req.into_body().collect().await.unwrap().to_bytes();
                                files.uploads.lock().unwrap().insert(path, body.to_vec());
                                Response::builder()
                                    .status(StatusCode::CREATED)
                                    .body(Full::new(Bytes::new()))
                            } else {
                                match files.files.lock().unwrap().get(&path) {
                                    Some(b) => {
                                        Response::builder().body(Full::new(Bytes::from(b.clone())))
                                    }
                                    None => Response::builder()
                                        .status(StatusCode::NOT_FOUND)
                                        .body(Full::new(Bytes::new())),
                                }
                            };
                            Ok::<_, std::convert::Infallible>(resp.unwrap())
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// A fleet of `n` built-in gateways pointed at `app`, with a Connection Request listener on
/// loopback and state kept in `state`.
fn fleet_config(app: &TestApp, n: u64, state: &Path, log: &SentLog) -> FleetConfig {
    let mut t = Template::builtin().unwrap();
    let url = format!("http://{}/", app.cwmp);
    t.set_factory_value("Device.ManagementServer.URL", &url)
        .unwrap();
    t.set_factory_value("Device.ManagementServer.Username", DEFAULT_USER)
        .unwrap();
    t.set_factory_value("Device.ManagementServer.Password", DEFAULT_PASS)
        .unwrap();
    let mut c = FleetConfig::new(Arc::new(t));
    c.devices = n;
    c.cr_listen = Some("127.0.0.1:0".parse().unwrap());
    c.cr_rate_limit = None;
    c.state_dir = Some(state.to_owned());
    c.agent.reboot_duration = Duration::from_millis(200);
    c.agent.diagnostics_duration = Duration::from_millis(100);
    c.response_timeout = Duration::from_secs(10);
    c.sent_log = Some(log.clone());
    c
}

/// Polls `check` until it gives `Some`, for at most 20 s.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..400 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The event codes of every Inform the ACS stored for a device, oldest first.
fn events(app: &TestApp, id: &str) -> Vec<Vec<String>> {
    let db = rusqlite::Connection::open_with_flags(
        app.dir.path().join("acs.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = db
        .prepare("SELECT e.codes FROM events e JOIN devices d ON d.id = e.device WHERE d.device_id = ?1 ORDER BY e.ts, e.id")
        .unwrap();
    let rows: Vec<String> = stmt
        .query_map([id], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.iter()
        .map(|c| {
            let codes: Vec<[String; 2]> = serde_json::from_str(c).unwrap();
            codes.into_iter().map(|[code, _]| code).collect()
        })
        .collect()
}

async fn wait_events(app: &TestApp, id: &str, count: usize) -> Vec<Vec<String>> {
    eventually(&format!("{count} informs of {id}"), || async {
        let e = events(app, id);
        if std::env::var("E2E_DEBUG").is_ok() {
            eprintln!(
                "events {e:?} device {:?}",
                app.device(id).await.map(|d| d["_lastInform"].clone())
            );
        }
        (e.len() >= count).then_some(e)
    })
    .await
}

/// Queues a task with a Connection Request and waits for its outcome.
async fn task_now(app: &TestApp, id: &str, task: Value) -> Value {
    let r = app
        .api(
            Method::POST,
            &format!("/devices/{id}/tasks?connection_request&timeout=15000"),
            Some(task.clone()),
        )
        .await;
    if r.status != StatusCode::OK {
        let faults = app.api(Method::GET, "/faults", None).await.text();
        let dev = app.device(id).await;
        panic!(
            "{task}: {} {:?} {}\nfaults: {faults}\ndevice: {dev:?}\nevents: {:?}",
            r.status,
            r.reason,
            r.text(),
            events(app, id)
        );
    }
    r.json()
}

async fn value(app: &TestApp, id: &str, path: &str) -> Value {
    let dev = app.device(id).await.unwrap();
    if std::env::var("E2E_DEBUG").is_ok() {
        eprintln!("device {dev}");
    }
    let mut v = &dev;
    for seg in path.split('.') {
        v = &v[seg];
    }
    v["_value"].clone()
}

/// Refreshes `path` from the device and returns it as the ACS stored it.
async fn read(app: &TestApp, id: &str, path: &str) -> Value {
    task_now(
        app,
        id,
        json!({"name": "getParameterValues", "parameterNames": [path]}),
    )
    .await;
    value(app, id, path).await
}

fn validate(log: &SentLog) {
    let sent: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|b| String::from_utf8(b.clone()).unwrap())
        .collect();
    assert!(!sent.is_empty());
    common::validate(&sent);
}

struct Run {
    app: TestApp,
    fleet: Option<Fleet>,
    log: SentLog,
    state: tempfile::TempDir,
}

async fn start(n: u64) -> Run {
    let app = spawn_app().await;
    let state = tempfile::tempdir().unwrap();
    let log = SentLog::default();
    let fleet = Fleet::start(fleet_config(&app, n, state.path(), &log))
        .await
        .unwrap();
    // The first session of a new device: 0 BOOTSTRAP and 1 BOOT.
    let first = wait_events(&app, ID0, 1).await;
    assert!(first[0].contains(&"0 BOOTSTRAP".to_owned()), "{first:?}");
    assert!(first[0].contains(&"1 BOOT".to_owned()), "{first:?}");
    // The ACS set the Connection Request credentials in that session; wait until the
    // device has reported back (the task below needs them).
    eventually("the device registered", || async {
        app.device(ID0)
            .await
            .filter(|d| d["_lastInform"].is_string())
    })
    .await;
    Run {
        app,
        fleet: Some(fleet),
        log,
        state,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_tasks() {
    let run = start(1).await;
    let app = &run.app;

    // getParameterValues / refreshObject
    let t = task_now(
        app,
        ID0,
        json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo."]}),
    )
    .await;
    assert!(t.get("fault").is_none(), "{t}");
    assert_eq!(
        value(app, ID0, "Device.DeviceInfo.SerialNumber").await,
        "SIM00000000"
    );
    assert_eq!(
        value(app, ID0, "Device.DeviceInfo.SoftwareVersion").await,
        "4.2.1"
    );
    task_now(
        app,
        ID0,
        json!({"name": "refreshObject", "objectName": "Device.WiFi."}),
    )
    .await;
    assert_eq!(value(app, ID0, "Device.WiFi.SSID.1.SSID").await, "SimNet-0");

    // setParameterValues, read back from the device.
    task_now(app, ID0, json!({"name": "setParameterValues", "parameterValues": [["Device.WiFi.SSID.1.SSID", "guest", "xsd:string"]]})).await;
    assert_eq!(read(app, ID0, "Device.WiFi.SSID.1.SSID").await, "guest");

    // A value the device refuses: the task faults with the device's fault.
    let r = app
        .api(
            Method::POST,
            &format!("/devices/{ID0}/tasks?connection_request&timeout=15000"),
            Some(json!({"name": "setParameterValues", "parameterValues": [["Device.DeviceInfo.SerialNumber", "x", "xsd:string"]]})),
        )
        .await;
    let doc = r.json();
    assert_eq!(doc["fault"]["code"], "cwmp.9003", "{doc}");
    app.api(
        Method::DELETE,
        &format!("/tasks/{}", doc["_id"].as_str().unwrap()),
        None,
    )
    .await;

    // addObject with values, then deleteObject.
    task_now(app, ID0, json!({"name": "addObject", "objectName": "Device.NAT.PortMapping", "parameterValues": [["Description", "web"]]})).await;
    assert_eq!(
        read(app, ID0, "Device.NAT.PortMapping.1.Description").await,
        "web"
    );
    assert_eq!(
        read(app, ID0, "Device.NAT.PortMappingNumberOfEntries").await,
        1
    );
    task_now(
        app,
        ID0,
        json!({"name": "deleteObject", "objectName": "Device.NAT.PortMapping.1."}),
    )
    .await;
    assert_eq!(
        read(app, ID0, "Device.NAT.PortMappingNumberOfEntries").await,
        0
    );

    // Attributes: active notification makes a value change open a session by itself.
    task_now(app, ID0, json!({"name": "setParameterAttributes", "parameterAttributes": [{"name": "Device.WiFi.SSID.1.SSID", "notification": 2}]})).await;
    let t = task_now(
        app,
        ID0,
        json!({"name": "getParameterAttributes", "parameterNames": ["Device.WiFi.SSID.1.SSID"]}),
    )
    .await;
    assert!(t.get("fault").is_none(), "{t}");
    let dev = app.device(ID0).await.unwrap();
    assert_eq!(
        dev["Device"]["WiFi"]["SSID"]["1"]["SSID"]["_notification"], 2,
        "{t}"
    );
    let t = task_now(app, ID0, json!({"name": "getRPCMethods"})).await;
    let methods = t["result"].as_array().unwrap();
    for m in [
        "GetParameterValues",
        "Download",
        "ScheduleDownload",
        "ChangeDUState",
        "FactoryReset",
    ] {
        assert!(methods.contains(&json!(m)), "{m}: {t}");
    }

    assert!(app.api(Method::GET, "/faults", None).await.json() == json!([]));
    validate(&run.log);
    run.fleet.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reboot_factory_reset_and_restart() {
    let mut run = start(1).await;
    let app = &run.app;
    task_now(app, ID0, json!({"name": "setParameterValues", "parameterValues": [["Device.WiFi.SSID.1.SSID", "kept", "xsd:string"]]})).await;

    // Reboot: the device comes back with 1 BOOT and M Reboot.
    let before = events(app, ID0).len();
    task_now(app, ID0, json!({"name": "reboot", "commandKey": "rb1"})).await;
    let e = wait_events(app, ID0, before + 2).await;
    let boot = e.last().unwrap();
    assert!(
        boot.contains(&"1 BOOT".to_owned()) && boot.contains(&"M Reboot".to_owned()),
        "{e:?}"
    );
    assert_eq!(read(app, ID0, "Device.WiFi.SSID.1.SSID").await, "kept");

    // Restart of cpe-sim with the same state directory: BOOT, not BOOTSTRAP; values kept.
    let fleet = run.fleet.take().unwrap();
    fleet.shutdown().await;
    let before = events(app, ID0).len();
    run.fleet = Some(
        Fleet::start(fleet_config(app, 1, run.state.path(), &run.log))
            .await
            .unwrap(),
    );
    let e = wait_events(app, ID0, before + 1).await;
    let last = e.last().unwrap();
    assert!(last.contains(&"1 BOOT".to_owned()), "{e:?}");
    assert!(!last.contains(&"0 BOOTSTRAP".to_owned()), "{e:?}");
    if std::env::var("E2E_DEBUG").is_ok() {
        eprintln!(
            "fleet CR URL {:?}",
            run.fleet.as_ref().unwrap().devices()[0].connection_request_url
        );
    }
    assert_eq!(read(app, ID0, "Device.WiFi.SSID.1.SSID").await, "kept");

    // Factory reset: BOOTSTRAP again, factory values back.
    let before = events(app, ID0).len();
    task_now(app, ID0, json!({"name": "factoryReset"})).await;
    let e = wait_events(app, ID0, before + 2).await;
    // BOOTSTRAP, and no VALUE CHANGE: ConnectionRequestURL's factory value is the
    // device's place on the listener.
    assert_eq!(e.last().unwrap(), &["0 BOOTSTRAP", "1 BOOT"], "{e:?}");
    assert_eq!(read(app, ID0, "Device.WiFi.SSID.1.SSID").await, "SimNet-0");

    validate(&run.log);
    run.fleet.take().unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_and_deployment_units() {
    let run = start(1).await;
    let app = &run.app;
    let files = Files::default();
    files
        .files
        .lock()
        .unwrap()
        .insert("/fw/hg4000-5.0.0.bin".into(), b"5.0.0\n".to_vec());
    files
        .files
        .lock()
        .unwrap()
        .insert("/du/weather-2.1.ipk".into(), vec![7u8; 2048]);
    let fs = file_server(files.clone()).await;

    // Firmware: TransferComplete after the reboot the image implies; new SoftwareVersion.
    let before = events(app, ID0).len();
    task_now(
        app,
        ID0,
        json!({"name": "download", "fileType": "1 Firmware Upgrade Image",
        "url": format!("http://{fs}/fw/hg4000-5.0.0.bin"), "fileSize": 6}),
    )
    .await;
    let e = wait_events(app, ID0, before + 2).await;
    let last = e.last().unwrap();
    for code in ["1 BOOT", "7 TRANSFER COMPLETE", "M Download"] {
        assert!(last.contains(&code.to_owned()), "{code}: {e:?}");
    }
    assert_eq!(
        value(app, ID0, "Device.DeviceInfo.SoftwareVersion").await,
        "5.0.0"
    );
    assert_eq!(
        app.api(Method::GET, "/faults", None).await.json(),
        json!([])
    );

    // A download that fails (404): the task faults with the device's TransferComplete.
    let before = events(app, ID0).len();
    app.api(
        Method::POST,
        &format!("/devices/{ID0}/tasks?connection_request&timeout=15000"),
        Some(json!({"name": "download", "fileType": "1 Firmware Upgrade Image", "url": format!("http://{fs}/fw/missing.bin")})),
    )
    .await;
    wait_events(app, ID0, before + 2).await;
    let faults = eventually("the download fault", || async {
        let f = app.api(Method::GET, "/faults", None).await.json();
        (f.as_array().unwrap().len() == 1).then_some(f)
    })
    .await;
    assert!(
        faults[0]["code"].as_str().unwrap().starts_with("cwmp.90"),
        "{faults}"
    );
    assert_eq!(
        value(app, ID0, "Device.DeviceInfo.SoftwareVersion").await,
        "5.0.0"
    );
    app.api(
        Method::DELETE,
        &format!(
            "/faults/{}",
            common::urlencode(faults[0]["_id"].as_str().unwrap())
        ),
        None,
    )
    .await;

    // Upload of the configuration to the file server.
    task_now(
        app,
        ID0,
        json!({"name": "upload", "fileType": "1 Vendor Configuration File",
        "url": format!("http://{fs}/up/config.txt")}),
    )
    .await;
    let up = eventually("the upload", || async {
        files.uploads.lock().unwrap().get("/up/config.txt").cloned()
    })
    .await;
    let up = String::from_utf8(up).unwrap();
    assert!(up.contains("Device.DeviceInfo.SerialNumber"), "{up}");

    // Queued transfers, a scheduled download and its cancellation.
    // (The ACS gives every transfer the CommandKey task_<id>.)
    let sd = task_now(app, ID0, json!({"name": "scheduleDownload", "fileType": "1 Firmware Upgrade Image",
        "url": format!("http://{fs}/fw/hg4000-5.0.0.bin"),
        "timeWindows": [{"windowStart": 3600, "windowEnd": 7200, "windowMode": "1 At Any Time", "maxRetries": 1}]})).await;
    let key = format!("task_{}", sd["_id"].as_str().unwrap());
    let t = task_now(app, ID0, json!({"name": "getAllQueuedTransfers"})).await;
    let all = t["result"].as_array().unwrap();
    let queued = all
        .iter()
        .find(|q| q["commandKey"] == key.as_str())
        .unwrap();
    assert_eq!(queued["state"], 1, "{t}");
    assert_eq!(queued["isDownload"], true, "{t}");
    assert_eq!(queued["fileType"], "1 Firmware Upgrade Image", "{t}");
    let t = task_now(app, ID0, json!({"name": "getQueuedTransfers"})).await;
    let queued = t["result"].as_array().unwrap();
    assert!(
        queued
            .iter()
            .any(|q| q["commandKey"] == key.as_str() && q["state"] == 1),
        "{t}"
    );
    let t = task_now(
        app,
        ID0,
        json!({"name": "cancelTransfer", "commandKey": key}),
    )
    .await;
    assert!(t.get("fault").is_none(), "{t}");
    // Cancelled: nothing is left to cancel.
    let r = app
        .api(
            Method::POST,
            &format!("/devices/{ID0}/tasks?connection_request&timeout=15000"),
            Some(json!({"name": "cancelTransfer", "commandKey": key})),
        )
        .await;
    let doc = r.json();
    assert_eq!(doc["fault"]["code"], "cwmp.9003", "{doc}");
    app.api(
        Method::DELETE,
        &format!("/tasks/{}", doc["_id"].as_str().unwrap()),
        None,
    )
    .await;

    // A deployment unit installed from the file server.
    let before = events(app, ID0).len();
    task_now(app, ID0, json!({"name": "changeDUState", "operations": [{"type": "install",
        "url": format!("http://{fs}/du/weather-2.1.ipk"), "uuid": "6ba7b810-9dad-11d1-80b4-00c04fd430c8"}]})).await;
    let e = wait_events(app, ID0, before + 2).await;
    assert!(
        e.last()
            .unwrap()
            .contains(&"11 DU STATE CHANGE COMPLETE".to_owned()),
        "{e:?}"
    );
    task_now(
        app,
        ID0,
        json!({"name": "refreshObject", "objectName": "Device.SoftwareModules.DeploymentUnit."}),
    )
    .await;
    let dev = app.device(ID0).await.unwrap();
    let dus = &dev["Device"]["SoftwareModules"]["DeploymentUnit"];
    assert!(
        dus.as_object()
            .unwrap()
            .values()
            .any(|d| d["UUID"]["_value"] == "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        "{dus}"
    );

    validate(&run.log);
    run.fleet.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_inform_and_diagnostics() {
    let run = start(1).await;
    let app = &run.app;

    let before = events(app, ID0).len();
    task_now(
        app,
        ID0,
        json!({"name": "scheduleInform", "delaySeconds": 1, "commandKey": "soon"}),
    )
    .await;
    let e = wait_events(app, ID0, before + 2).await;
    let last = e.last().unwrap();
    assert!(
        last.contains(&"3 SCHEDULED".to_owned()) && last.contains(&"M ScheduleInform".to_owned()),
        "{e:?}"
    );

    let before = events(app, ID0).len();
    task_now(
        app,
        ID0,
        json!({"name": "setParameterAttributes", "parameterAttributes": [
        {"name": "Device.IP.Diagnostics.IPPing.SuccessCount", "notification": 2}]}),
    )
    .await;
    task_now(
        app,
        ID0,
        json!({"name": "setParameterValues", "parameterValues": [
        ["Device.IP.Diagnostics.IPPing.Host", "192.0.2.1", "xsd:string"],
        ["Device.IP.Diagnostics.IPPing.DiagnosticsState", "Requested", "xsd:string"]]}),
    )
    .await;
    let e = wait_events(app, ID0, before + 3).await;
    let last = e.last().unwrap();
    assert!(last.contains(&"8 DIAGNOSTICS COMPLETE".to_owned()), "{e:?}");
    // The result changed by the device has active notification: 4 VALUE CHANGE, with the
    // new value in the Inform.
    assert!(last.contains(&"4 VALUE CHANGE".to_owned()), "{e:?}");
    assert_eq!(
        value(app, ID0, "Device.IP.Diagnostics.IPPing.SuccessCount").await,
        3
    );
    assert_eq!(
        read(app, ID0, "Device.IP.Diagnostics.IPPing.DiagnosticsState").await,
        "Complete"
    );

    validate(&run.log);
    run.fleet.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_devices_and_an_outage_storm() {
    let app = spawn_app().await;
    let state = tempfile::tempdir().unwrap();
    let log = SentLog::default();
    let n = 50;
    let fleet = Fleet::start(fleet_config(&app, n, state.path(), &log))
        .await
        .unwrap();
    let all = eventually("every device registered", || async {
        let r = app.api(Method::GET, "/devices?projection=_id", None).await;
        (r.headers["total"] == n.to_string().as_str()).then_some(())
    })
    .await;
    let () = all;
    // Every device on its own Connection Request URL.
    let urls: std::collections::HashSet<_> = fleet
        .devices()
        .iter()
        .map(|d| d.connection_request_url.clone().unwrap())
        .collect();
    assert_eq!(urls.len(), n as usize);

    fleet.outage_storm();
    let last = format!("02C0DE-HG4000-SIM{:08}", n - 1);
    let e = wait_events(&app, &last, 2).await;
    assert!(e[1].contains(&"1 BOOT".to_owned()), "{e:?}");
    eventually("every device's BOOT session", || async {
        (fleet.summary().sessions_ok >= 2 * n).then_some(())
    })
    .await;
    let summary = fleet.shutdown().await;
    assert!(summary.sessions_ok >= 2 * n, "{summary:?}");
    assert_eq!(summary.sessions_failed, 0, "{summary:?}");
    validate(&log);
}

/// Every quirk profile against the ACS: it copes with each field behaviour (lenient on
/// input), except two that never get past its Digest challenge over plain HTTP: giving up
/// on any non-2xx (the 401 included), and answering the challenge on a new connection (the
/// ACS's nonce belongs to the connection it was issued on, TR-069 §3.4.2/§3.4.5: "the CPE
/// MUST send the next request on the same connection").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quirk_profiles_against_the_acs() {
    let app = spawn_app().await;
    for (i, (name, _)) in cpe_sim::quirks::QUIRKS.iter().enumerate() {
        let state = tempfile::tempdir().unwrap();
        let log = SentLog::default();
        let mut config = fleet_config(&app, 1, state.path(), &log);
        config.serial_pattern =
            cpe_sim::serial::SerialPattern::parse(&format!("Q{i}x{{n}}")).unwrap();
        config.quirks = cpe_sim::quirks::QuirkSet::parse(&[name]).unwrap();
        let fleet = Fleet::start(config).await.unwrap();
        let id = format!("02C0DE-HG4000-Q{i}x0");
        if matches!(*name, "give-up-on-non-2xx" | "new-connection-per-request") {
            let summary = eventually("the failed session", || async {
                let s = fleet.summary();
                (s.sessions_failed > 0).then_some(s)
            })
            .await;
            assert_eq!(summary.sessions_ok, 0, "{name}: {summary:?}");
            let cause = if *name == "give-up-on-non-2xx" {
                cpe_sim::stats::FailureCause::Status
            } else {
                cpe_sim::stats::FailureCause::Auth
            };
            assert!(
                summary.failed_by_cause.contains_key(&cause),
                "{name}: {summary:?}"
            );
            assert!(app.device(&id).await.is_none());
            fleet.shutdown().await;
            continue;
        }
        let e = wait_events(&app, &id, 1).await;
        let expected = if *name == "first-inform-periodic" {
            "2 PERIODIC"
        } else {
            "0 BOOTSTRAP"
        };
        assert!(e[0].contains(&expected.to_owned()), "{name}: {e:?}");
        // And a task runs on it.
        let t = task_now(
            &app,
            &id,
            json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo.UpTime"]}),
        )
        .await;
        assert!(t.get("fault").is_none(), "{name}: {t}");
        let summary = fleet.shutdown().await;
        assert_eq!(summary.sessions_failed, 0, "{name}: {summary:?}");
        let sent: Vec<String> = log
            .lock()
            .unwrap()
            .iter()
            .map(|b| String::from_utf8(b.clone()).unwrap())
            .collect();
        match *name {
            "no-xml-declaration" => assert!(sent.iter().all(|e| !e.starts_with("<?xml")), "{name}"),
            "cwmp-1-3" | "cwmp-1-4" => {
                let ns = format!("urn:dslforum-org:{name}");
                assert!(sent.iter().all(|e| e.contains(&ns)), "{name}");
            }
            _ => {}
        }
        // cwmp-1-3 and cwmp-1-4 are not BBF namespaces: the schemas cannot check those.
        if !name.starts_with("cwmp-1-") {
            common::validate(&sent);
        }
    }
}

/// Zero touch with a simulated gateway: presets and a provision are in place before the
/// device first comes; its first session leaves it configured (a value from the preset's
/// arguments, one from an extension's lookup of its serial number), tagged, on the
/// interval wanted, as the device itself then reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_touch_provisioning_in_the_first_session() {
    let app = common::spawn_app_with(|c| {
        c.provisioning
            .ext
            .insert("inventory".into(), common::inventory_extension());
    })
    .await;
    let script = r#"
        const serial = declare("DeviceID.SerialNumber", {value: 1}).value[0];
        const wifi = ext("inventory", "ssid", serial);
        declare("Device.WiFi.SSID.1.SSID", null, {value: wifi.ssid});
        declare("Device.ManagementServer.PeriodicInformInterval", null, {value: args[0]});
        declare("Tags." + args[1], null, {value: true});
    "#;
    let r = app
        .api_raw(
            Method::PUT,
            "/provisions/zerotouch",
            Some("application/javascript"),
            script.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app
        .api(
            Method::PUT,
            "/presets/zerotouch",
            Some(json!({"events": {"0 BOOTSTRAP": true},
                        "provisions": [["zerotouch", 1200, "provisioned"]]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let state = tempfile::tempdir().unwrap();
    let log = SentLog::default();
    let fleet = Fleet::start(fleet_config(&app, 1, state.path(), &log))
        .await
        .unwrap();
    let tags = eventually("the device tagged", || async {
        app.device(ID0)
            .await
            .map(|d| d["_tags"].clone())
            .filter(|t| t == &json!(["provisioned"]))
    })
    .await;
    assert_eq!(tags, json!(["provisioned"]));
    // What the device itself now says.
    assert_eq!(
        read(&app, ID0, "Device.WiFi.SSID.1.SSID").await,
        "net-SIM00000000"
    );
    assert_eq!(
        read(&app, ID0, "Device.ManagementServer.PeriodicInformInterval").await,
        1200
    );
    let faults = app.api(Method::GET, "/faults", None).await.json();
    assert_eq!(faults, json!([]));
    drop(fleet);
    validate(&log);
}

//! Two `acs serve` processes on one PostgreSQL schema, as an operator runs several nodes
//! behind a load balancer: a task queued through one node runs when the device talks to
//! the other; either node wakes the device; a device in session on one node is refused by
//! the other; a node killed (SIGKILL) mid-session loses no acknowledged event and no
//! queued task, and its device is served by the other node once its claim expires.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;

/// A node: the `acs` binary, its addresses and its API client.
struct Node {
    child: Child,
    app: TestApp,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration both nodes share but for the data directory (ports: chosen by the OS).
fn config_file(dir: &std::path::Path, schema: &TestSchema, name: &str) -> std::path::PathBuf {
    let text = format!(
        r#"data_dir = "{data}"

[cwmp]
listen = "127.0.0.1:0"
session_timeout_secs = 2
retry_after_secs = 1

[cwmp.auth]
default_username = "{DEFAULT_USER}"
default_password = "{DEFAULT_PASS}"

[api]
listen = "127.0.0.1:0"

[database]
url = "{url}"
schema = "{schema}"
pool_size = 4

[cluster]
node_id = "{name}"
session_lease_secs = 3

[tasks]
expire_interval_secs = 1

[connection_request]
timeout_secs = 2

[log]
level = "warn"
"#,
        data = dir.join(name).display(),
        url = postgres_url(),
        schema = schema.name,
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn acs() -> Command {
    Command::new(env!("CARGO_BIN_EXE_acs"))
}

/// Starts `acs serve` and reads the addresses it prints.
fn start_node(config: &std::path::Path, token: &str, dir: &std::path::Path) -> Node {
    let log = std::fs::File::create(config.with_extension("log")).unwrap();
    let mut child = acs()
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (cwmp, api) = loop {
        let line = lines
            .next()
            .expect("acs serve printed its addresses")
            .unwrap();
        // "CWMP endpoint on 127.0.0.1:X, API on 127.0.0.1:Y"
        if let Some(rest) = line.strip_prefix("CWMP endpoint on ") {
            let (cwmp, api) = rest.split_once(", API on ").unwrap();
            break (
                cwmp.parse::<SocketAddr>().unwrap(),
                api.parse::<SocketAddr>().unwrap(),
            );
        }
    };
    let mut config = test_config(dir);
    config.cwmp.listen = cwmp;
    config.api.listen = api;
    Node {
        child,
        app: TestApp {
            running: None,
            api,
            cwmp,
            token: token.to_owned(),
            dir: std::sync::Arc::new(tempfile::tempdir().unwrap()),
            config,
            schema: None,
        },
    }
}

fn enc(id: &str) -> String {
    urlencode(id)
}

/// The Inform events the store recorded for the device, oldest first.
async fn stored_events(schema: &TestSchema, device: &str) -> Vec<String> {
    let mut conn = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
    sqlx::query_scalar(&format!(
        "SELECT e.codes FROM \"{0}\".events e JOIN \"{0}\".devices d ON d.id = e.device
         WHERE d.device_id = $1 ORDER BY e.id",
        schema.name
    ))
    .bind(device)
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

async fn tasks(node: &Node) -> Value {
    let r = node.app.api(Method::GET, "/tasks", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_devices_tasks_and_sessions() {
    let schema = TestSchema::new();
    let dir = tempfile::tempdir().unwrap();
    let config_a = config_file(dir.path(), &schema, "node-a");
    let config_b = config_file(dir.path(), &schema, "node-b");
    let out = acs()
        .args(["migrate", "--config"])
        .arg(&config_a)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "postgres schema up to date"
    );
    let out = acs()
        .args(["token", "create", "--name", "cluster-test", "--config"])
        .arg(&config_a)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let a = start_node(&config_a, &token, dir.path());
    let b = start_node(&config_b, &token, dir.path());

    // The device bootstraps through node A; node B's API knows it.
    let mut cpe = TestCpe::new("CLUSTER1");
    let id = cpe.id();
    let r = cpe.session(a.app.cwmp, &["0 BOOTSTRAP", "1 BOOT"]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(
        b.app.device(&id).await.expect("B sees the device")["_id"],
        json!(id)
    );
    let user = cpe.params["Device.ManagementServer.ConnectionRequestUsername"]
        .value
        .to_string();
    let pass = cpe.params["Device.ManagementServer.ConnectionRequestPassword"]
        .value
        .to_string();
    let (url, mut woken) = connection_request_listener(user, pass).await;
    cpe.cr_url = url;
    let r = cpe.session(b.app.cwmp, &["2 PERIODIC"]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);

    // A task queued through A; the connection request sent by B; the device, woken, goes
    // to B, which runs A's task.
    let tasks_path = format!("/devices/{}/tasks", enc(&id));
    let r = a
        .app
        .api(
            Method::POST,
            &tasks_path,
            Some(json!({"name": "setParameterValues",
                "parameterValues": [["Device.WiFi.SSID.1.SSID", "via-a", "xsd:string"]]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let b_cwmp = b.app.cwmp;
    let (done, mut sessions) = tokio::sync::mpsc::unbounded_channel();
    let device = tokio::spawn(async move {
        for _ in 0..2 {
            if woken.recv().await.is_none() {
                break;
            }
            let r = cpe.session(b_cwmp, &["6 CONNECTION REQUEST"]).await;
            done.send((r.status, r.rpcs)).unwrap();
        }
        cpe
    });
    let r = b
        .app
        .api(
            Method::POST,
            &format!("{tasks_path}?connection_request"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?} {}", r.reason, r.text());
    assert_eq!(
        sessions.recv().await.unwrap(),
        (
            StatusCode::NO_CONTENT,
            vec!["SetParameterValues".to_owned()]
        )
    );

    // A task through A with ?connection_request: A wakes the device, which goes to B; A's
    // API call sees the outcome in the store and answers 200.
    let r = a
        .app
        .api(
            Method::POST,
            &format!("{tasks_path}?connection_request&timeout=10000"),
            Some(json!({"name": "getParameterValues",
                "parameterNames": ["Device.WiFi.SSID.1.Enable"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?} {}", r.reason, r.text());
    assert_eq!(
        sessions.recv().await.unwrap(),
        (
            StatusCode::NO_CONTENT,
            vec!["GetParameterValues".to_owned()]
        )
    );
    let mut cpe = device.await.unwrap();
    assert_eq!(
        cpe.params["Device.WiFi.SSID.1.SSID"].value.to_string(),
        "via-a"
    );
    assert_eq!(tasks(&a).await, json!([]));

    // A session in progress on A: B refuses the device meanwhile. A is killed while the
    // device holds a request of A's unanswered.
    let r = b
        .app
        .api(
            Method::POST,
            &tasks_path,
            Some(json!({"name": "setParameterValues",
                "parameterValues": [["Device.WiFi.SSID.1.SSID", "after-crash", "xsd:string"]]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    cpe.halt_on = Some("SetParameterValues".into());
    let r = cpe.session(a.app.cwmp, &["4 VALUE CHANGE"]).await;
    assert_eq!(r.rpcs, ["SetParameterValues"], "{}", r.body);
    cpe.halt_on = None;
    let r = cpe.session(b.app.cwmp, &["2 PERIODIC"]).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    let mut a = a;
    a.child.kill().unwrap();
    a.child.wait().unwrap();

    // The device retries on B: refused (503 with Retry-After) until A's claim expires,
    // then served, and A's unfinished task runs.
    let killed = Instant::now();
    let mut refused = 0;
    let r = loop {
        let r = cpe.session(b.app.cwmp, &["2 PERIODIC"]).await;
        if r.status != StatusCode::SERVICE_UNAVAILABLE {
            break r;
        }
        refused += 1;
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "B still refuses the device"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(r.rpcs, ["SetParameterValues"]);
    assert!(refused >= 1, "A's claim was honoured for a while");
    assert_eq!(
        cpe.params["Device.WiFi.SSID.1.SSID"].value.to_string(),
        "after-crash"
    );
    assert_eq!(tasks(&b).await, json!([]));
    cpe.validate_received();

    // Every Inform an InformResponse acknowledged is stored, the one A acknowledged just
    // before it died included.
    let events = stored_events(&schema, &id).await;
    let codes: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
        .collect();
    let firsts: Vec<&str> = codes
        .iter()
        .map(|c| c[0][0].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        firsts,
        [
            "0 BOOTSTRAP",
            "2 PERIODIC",
            "6 CONNECTION REQUEST",
            "6 CONNECTION REQUEST",
            "4 VALUE CHANGE",
            "2 PERIODIC"
        ],
        "{events:?}"
    );
    drop(b);
}

/// Nodes starting together on a new database: one creates the admin token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_create_one_admin_token() {
    let schema = TestSchema::new();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let configs: Vec<acs::config::Config> = dirs
        .iter()
        .enumerate()
        .map(|(n, d)| {
            let mut c = test_config(d.path());
            schema.configure(&mut c);
            c.cluster.node_id = format!("node-{n}");
            c
        })
        .collect();
    let (a, b) = tokio::join!(
        acs::app::start(configs[0].clone()),
        acs::app::start(configs[1].clone())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let tokens = [&a, &b].iter().filter(|r| r.admin_token.is_some()).count();
    assert_eq!(tokens, 1);
    a.shutdown().await;
    b.shutdown().await;
}

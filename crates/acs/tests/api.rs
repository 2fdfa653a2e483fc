//! The northbound API against the real server: tokens, every task type carried to a test
//! CPE, connection requests with Digest, faults with back-off and retry, tags, queries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use cwmp::Body;
use http::{Method, StatusCode};
use serde_json::{Value, json};

fn enc(id: &str) -> String {
    urlencode(id)
}

async fn queue(app: &TestApp, device: &str, task: Value) -> Value {
    let r = app
        .api(
            Method::POST,
            &format!("/devices/{}/tasks", enc(device)),
            Some(task),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert_eq!(r.reason.as_deref(), Some("Accepted"));
    r.json()
}

async fn registered(app: &TestApp, serial: &str) -> TestCpe {
    let mut cpe = TestCpe::new(serial);
    let r = cpe.session(app.cwmp, &["0 BOOTSTRAP", "1 BOOT"]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    cpe
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_needs_a_token() {
    let app = spawn_app().await;
    for token in [None, Some("acs_wrong"), Some("not a token"), Some("")] {
        let r = app.api_with(Method::GET, "/devices", None, token).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(r.headers["www-authenticate"], "Bearer");
    }
    for path in ["/tasks", "/faults", "/metrics"] {
        assert_eq!(
            app.api_with(Method::GET, path, None, None).await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    let r = app
        .api_with(
            Method::POST,
            "/devices/x/tasks",
            Some(r#"{"name":"reboot"}"#.into()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Public: health and the API description.
    assert_eq!(
        app.api_with(Method::GET, "/health", None, None)
            .await
            .status,
        StatusCode::OK
    );
    let r = app.api_with(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json()["openapi"].as_str().unwrap().starts_with("3."));

    // With the token.
    assert_eq!(
        app.api(Method::GET, "/devices", None).await.status,
        StatusCode::OK
    );
    let r = app.api(Method::GET, "/metrics", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("acs_"), "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_public() {
    let app = spawn_app_with(|c| c.api.metrics_public = true).await;
    assert_eq!(
        app.api_with(Method::GET, "/metrics", None, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.api_with(Method::GET, "/devices", None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

/// Every route the server has is described in openapi.json, and nothing more.
#[test]
fn openapi_describes_every_route() {
    let doc: Value = serde_json::from_str(acs::api::OPENAPI).unwrap();
    let mut described: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                described.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    described.sort();
    let mut routes: Vec<(String, String)> = [
        ("GET", "/devices"),
        ("DELETE", "/devices/{id}"),
        ("POST", "/devices/{id}/tasks"),
        ("POST", "/devices/{id}/tags/{tag}"),
        ("DELETE", "/devices/{id}/tags/{tag}"),
        ("PUT", "/devices/{id}/credentials"),
        ("DELETE", "/devices/{id}/credentials"),
        ("GET", "/tasks"),
        ("DELETE", "/tasks/{id}"),
        ("POST", "/tasks/{id}/retry"),
        ("GET", "/faults"),
        ("DELETE", "/faults/{id}"),
        ("GET", "/presets"),
        ("GET", "/presets/{name}"),
        ("PUT", "/presets/{name}"),
        ("DELETE", "/presets/{name}"),
        ("GET", "/provisions"),
        ("GET", "/provisions/{name}"),
        ("PUT", "/provisions/{name}"),
        ("DELETE", "/provisions/{name}"),
        ("GET", "/virtual_parameters"),
        ("GET", "/virtual_parameters/{name}"),
        ("PUT", "/virtual_parameters/{name}"),
        ("DELETE", "/virtual_parameters/{name}"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/health"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    routes.sort();
    assert_eq!(described, routes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_a_reason() {
    let app = spawn_app().await;
    let cpe = registered(&app, "SN1000").await;
    let tasks = format!("/devices/{}/tasks", enc(&cpe.id()));
    for (body, needle) in [
        ("not json", "not JSON"),
        (r#"{"name":"warpDrive"}"#, "unknown task"),
        (r#"{"name":"getParameterValues"}"#, "parameterNames"),
        (
            r#"{"name":"setParameterValues","parameterValues":[["Device.X", 1, "xsd:nonsense"]]}"#,
            "xsd:nonsense",
        ),
        (
            r#"{"name":"download","fileType":"1 Firmware Upgrade Image","url":"http://u:p@files/fw"}"#,
            "credentials",
        ),
        (
            r#"{"name":"getParameterValues","parameterNames":["Device..X"]}"#,
            "",
        ),
    ] {
        let r = app
            .api_with(Method::POST, &tasks, Some(body.into()), Some(&app.token))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
        assert!(r.text().contains(needle), "{body}: {}", r.text());
    }
    let r = app
        .api(
            Method::POST,
            "/devices/00D09E-HGW%2D1-NOPE/tasks",
            Some(json!({"name": "reboot"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for q in ["%7Bbroken", "%7B%22%24where%22%3A1%7D", "%5B1%5D"] {
        let r = app
            .api(Method::GET, &format!("/devices?query={q}"), None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.text());
    }
    assert_eq!(
        app.api(Method::DELETE, "/tasks/abc", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.api(Method::DELETE, "/tasks/999999", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.api(Method::DELETE, "/faults/nothing", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = app
        .api(
            Method::PUT,
            &format!("/devices/{}/credentials", enc(&cpe.id())),
            Some(json!({"password": "short"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Nothing was queued by any of it.
    assert_eq!(app.api(Method::GET, "/tasks", None).await.json(), json!([]));
}

/// Every task type the API takes reaches the CPE as its RPC (the data tasks batched by the
/// provisioning engine, the commands in the order queued) and
/// leaves the queue once done; transfers are then completed by the CPE's requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_type_reaches_the_cpe() {
    let app = spawn_app().await;
    let mut cpe = registered(&app, "SN1001").await;
    let id = cpe.id();
    let url = "http://files.example.net/fw.bin";
    let tasks = [
        (
            json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo.UpTime"]}),
            vec!["GetParameterValues"],
        ),
        (
            json!({"name": "setParameterValues", "parameterValues": [["Device.WiFi.SSID.1.SSID", "guest", "xsd:string"]]}),
            vec!["SetParameterValues"],
        ),
        (
            json!({"name": "refreshObject", "objectName": "Device.WiFi."}),
            vec!["GetParameterNames", "GetParameterValues"],
        ),
        // The new instance is read at once: its names, writable flags and values.
        (
            json!({"name": "addObject", "objectName": "Device.NAT.PortMapping."}),
            vec!["AddObject", "GetParameterNames", "GetParameterValues"],
        ),
        (
            json!({"name": "getParameterAttributes", "parameterNames": ["Device.WiFi.SSID.1.SSID"]}),
            vec!["GetParameterAttributes"],
        ),
        (
            json!({"name": "setParameterAttributes", "parameterAttributes": [{"name": "Device.WiFi.SSID.1.SSID", "notification": 2}]}),
            vec!["SetParameterAttributes"],
        ),
        (json!({"name": "getRPCMethods"}), vec!["GetRPCMethods"]),
        (
            json!({"name": "download", "fileType": "1 Firmware Upgrade Image", "url": url, "fileSize": 1024}),
            vec!["Download"],
        ),
        (
            json!({"name": "upload", "fileType": "3 Vendor Log File 1", "url": "http://files.example.net/up/"}),
            vec!["Upload"],
        ),
        (
            json!({"name": "scheduleDownload", "fileType": "1 Firmware Upgrade Image", "url": url,
                   "timeWindows": [{"windowStart": 0, "windowEnd": 3600, "windowMode": "1 At Any Time", "maxRetries": 2}]}),
            vec!["ScheduleDownload"],
        ),
        (
            json!({"name": "cancelTransfer", "commandKey": "old"}),
            vec!["CancelTransfer"],
        ),
        (
            json!({"name": "getQueuedTransfers"}),
            vec!["GetQueuedTransfers"],
        ),
        (
            json!({"name": "getAllQueuedTransfers"}),
            vec!["GetAllQueuedTransfers"],
        ),
        (
            json!({"name": "changeDUState", "operations": [{"type": "install", "url": "http://files.example.net/du.ipk", "uuid": "6ba7b810-9dad-11d1-80b4-00c04fd430c8"}]}),
            vec!["ChangeDUState"],
        ),
        (
            json!({"name": "scheduleInform", "delaySeconds": 60, "commandKey": "later"}),
            vec!["ScheduleInform"],
        ),
        (
            json!({"name": "deleteObject", "objectName": "Device.NAT.PortMapping.1."}),
            vec!["DeleteObject"],
        ),
        (json!({"name": "reboot"}), vec!["Reboot"]),
        (json!({"name": "factoryReset"}), vec!["FactoryReset"]),
    ];
    let mut ids = Vec::new();
    for (task, _) in &tasks {
        let doc = queue(&app, &id, task.clone()).await;
        assert_eq!(doc["device"], id.as_str());
        assert_eq!(doc["name"], task["name"]);
        ids.push(doc["_id"].as_str().unwrap().to_owned());
    }
    let r = app.api(Method::GET, "/tasks", None).await;
    assert_eq!(r.headers["total"], tasks.len().to_string().as_str());

    let r = cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    // The tasks go through the provisioning engine: the data tasks' RPCs come first,
    // grouped by kind (listings, then one read for the GetParameterValues task and the
    // refresh, the AddObject, then one write for the SetParameterValues task), then the
    // commands in their order, then the factory reset and the reboot (either may end the
    // session).
    let mut expected: Vec<&str> = vec![
        "GetParameterNames",
        "GetParameterValues",
        "AddObject",
        "GetParameterNames",
        "GetParameterValues",
        "SetParameterValues",
    ];
    expected.extend(
        tasks
            .iter()
            .skip(4)
            .filter(|(t, _)| t["name"] != "reboot" && t["name"] != "factoryReset")
            .flat_map(|(_, rpcs)| rpcs.iter().copied()),
    );
    expected.extend(["FactoryReset", "Reboot"]);
    assert_eq!(r.rpcs, expected);
    cpe.validate_received();

    // All done and gone from the queue; nothing faulted.
    assert_eq!(app.api(Method::GET, "/tasks", None).await.json(), json!([]));
    assert_eq!(
        app.api(Method::GET, "/faults", None).await.json(),
        json!([])
    );
    let dev = app.device(&id).await.unwrap();
    assert_eq!(
        dev["Device"]["WiFi"]["SSID"]["1"]["SSID"]["_value"],
        "guest"
    );
    assert_eq!(dev["Device"]["DeviceInfo"]["UpTime"]["_value"], 3600);
    assert!(
        dev["Device"]["NAT"]["PortMapping"].get("1").is_none(),
        "deleted: {}",
        dev["Device"]["NAT"]
    );
    assert_eq!(
        cpe.params["Device.WiFi.SSID.1.SSID"].value.to_string(),
        "guest"
    );

    // The CPE reports the download done and the deployment-unit change failed.
    let download = &ids[7];
    let du = &ids[13];
    let done = Body::TransferComplete(cwmp::TransferComplete {
        command_key: format!("task_{download}").into(),
        fault_struct: cwmp::TransferCompleteFaultStruct {
            fault_code: cwmp::FaultCode::SUCCESS,
            fault_string: "".into(),
        },
        start_time: cwmp::DateTime::from_unix_timestamp(1_714_564_800).unwrap(),
        complete_time: cwmp::DateTime::from_unix_timestamp(1_714_564_860).unwrap(),
    });
    let du_failed = Body::DUStateChangeComplete(cwmp::DUStateChangeComplete {
        results: vec![cwmp::OpResultStruct {
            uuid: "6ba7b810-9dad-11d1-80b4-00c04fd430c8".into(),
            deployment_unit_ref: "".into(),
            version: "".into(),
            current_state: cwmp::DeploymentUnitState::Failed,
            resolved: false,
            execution_unit_ref_list: "".into(),
            start_time: cwmp::DateTime::UNKNOWN,
            complete_time: cwmp::DateTime::UNKNOWN,
            fault: cwmp::DeploymentUnitFaultStruct {
                fault_code: cwmp::FaultCode(9018),
                fault_string: Some("file corrupted".into()),
            },
        }],
        command_key: Some(format!("task_{du}").into()),
    });
    let r = cpe
        .session_with(
            app.cwmp,
            &[
                "1 BOOT",
                "7 TRANSFER COMPLETE",
                "M Download",
                "11 DU STATE CHANGE COMPLETE",
                "M ChangeDUState",
            ],
            vec![done, du_failed],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    cpe.validate_received();
    let faults = app.api(Method::GET, "/faults", None).await.json();
    let faults = faults.as_array().unwrap();
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0]["_id"], format!("{id}:task_{du}").as_str());
    assert_eq!(faults[0]["channel"], format!("task_{du}").as_str());
    assert_eq!(faults[0]["code"], "cwmp.9018");
    assert_eq!(faults[0]["message"], "file corrupted");
}

/// A CPE whose parameters come from the API: a value set there is read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_object_with_values_then_refresh() {
    let app = spawn_app().await;
    let mut cpe = registered(&app, "SN1002").await;
    let id = cpe.id();
    queue(&app, &id, json!({"name": "addObject", "objectName": "Device.NAT.PortMapping", "parameterValues": [["Description", "web"], ["Enable", true]]})).await;
    let r = cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(r.rpcs.first().map(String::as_str), Some("AddObject"));
    assert!(
        r.rpcs.contains(&"SetParameterValues".to_owned()),
        "{:?}",
        r.rpcs
    );
    assert_eq!(
        cpe.params["Device.NAT.PortMapping.1.Description"]
            .value
            .to_string(),
        "web"
    );
    assert_eq!(
        cpe.params["Device.NAT.PortMapping.1.Enable"]
            .value
            .to_string(),
        "true"
    );
    let dev = app.device(&id).await.unwrap();
    assert_eq!(
        dev["Device"]["NAT"]["PortMapping"]["1"]["Description"]["_value"],
        "web"
    );
    assert_eq!(
        dev["Device"]["NAT"]["PortMapping"]["1"]["Enable"]["_value"],
        true
    );
    cpe.validate_received();
}

/// A CPE fault: listed in /faults, the task waits out its back-off, then runs again and
/// the fault is cleared by the success. An explicit retry runs it at the next session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpe_fault_is_listed_backed_off_retried_and_cleared() {
    let app = spawn_app().await;
    let mut cpe = registered(&app, "SN1003").await;
    let id = cpe.id();
    cpe.faults.push(("SetParameterValues".into(), 9002));
    let task = queue(&app, &id, json!({"name": "setParameterValues", "parameterValues": [["Device.WiFi.SSID.1.SSID", "x", "xsd:string"]]})).await;
    let task_id = task["_id"].as_str().unwrap().to_owned();

    let r = cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    assert_eq!(r.rpcs, ["SetParameterValues"]);
    let faults = app.api(Method::GET, "/faults", None).await.json();
    assert_eq!(faults[0]["_id"], format!("{id}:task_{task_id}").as_str());
    assert_eq!(faults[0]["code"], "cwmp.9002");
    assert_eq!(faults[0]["device"], id.as_str());
    assert_eq!(faults[0]["retries"], 0);
    let q = enc(&json!({"device": id}).to_string());
    assert_eq!(
        app.api(Method::GET, &format!("/faults?query={q}"), None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let tasks = app.api(Method::GET, "/tasks", None).await.json();
    assert_eq!(tasks[0]["_id"], task_id);
    assert_eq!(tasks[0]["fault"]["code"], "cwmp.9002");

    // Within the back-off the task is not tried.
    let r = cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    assert!(r.rpcs.is_empty(), "{:?}", r.rpcs);

    // After it (retry_base_secs = 1 in tests) it is, and fails again: retries counts up.
    cpe.faults.push(("SetParameterValues".into(), 9002));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    assert_eq!(r.rpcs, ["SetParameterValues"]);
    let faults = app.api(Method::GET, "/faults", None).await.json();
    assert_eq!(faults[0]["retries"], 1, "{faults}");

    // An explicit retry (GenieACS: deletes the fault) runs it at once; it succeeds now.
    let r = app
        .api(Method::POST, &format!("/tasks/{task_id}/retry"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        app.api(Method::GET, "/faults", None).await.json(),
        json!([])
    );
    let r = cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    assert_eq!(r.rpcs, ["SetParameterValues"]);
    assert_eq!(app.api(Method::GET, "/tasks", None).await.json(), json!([]));
    assert_eq!(
        app.api(Method::GET, "/faults", None).await.json(),
        json!([])
    );
    assert_eq!(cpe.params["Device.WiFi.SSID.1.SSID"].value.to_string(), "x");
    assert_eq!(
        app.api(Method::POST, &format!("/tasks/{task_id}/retry"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_can_be_deleted_and_a_task_cancelled() {
    let app = spawn_app().await;
    let mut cpe = registered(&app, "SN1004").await;
    let id = cpe.id();
    cpe.faults.push(("Reboot".into(), 9001));
    let t = queue(&app, &id, json!({"name": "reboot"})).await["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    let fault_id = format!("{id}:task_{t}");
    let r = app
        .api(Method::DELETE, &format!("/faults/{}", enc(&fault_id)), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        app.api(Method::GET, "/faults", None).await.json(),
        json!([])
    );
    // As in GenieACS, deleting a task's fault deletes the task (retrying keeps it).
    assert_eq!(app.api(Method::GET, "/tasks", None).await.json(), json!([]));
    let r = cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    assert!(r.rpcs.is_empty(), "{:?}", r.rpcs);

    let t = queue(&app, &id, json!({"name": "factoryReset"})).await["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.api(Method::DELETE, &format!("/tasks/{t}"), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.api(Method::DELETE, &format!("/tasks/{t}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = cpe.session(app.cwmp, &["1 BOOT"]).await;
    assert!(r.rpcs.is_empty(), "{:?}", r.rpcs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_expire() {
    let app = spawn_app().await;
    let cpe = registered(&app, "SN1005").await;
    let id = cpe.id();
    queue(&app, &id, json!({"name": "reboot", "expiry": 1})).await;
    let kept = queue(&app, &id, json!({"name": "getRPCMethods"})).await;
    assert_eq!(
        app.api(Method::GET, "/tasks", None).await.headers["total"],
        "2"
    );
    // expire_interval_secs = 1 in tests.
    let mut left = Value::Null;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = app.api(Method::GET, "/tasks", None).await.json();
        if left.as_array().unwrap().len() == 1 {
            break;
        }
    }
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");
    assert_eq!(left[0]["_id"], kept["_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_totals_past_the_count_limit_are_lower_bounds_unless_asked() {
    let app = spawn_app_with(|c| c.api.count_limit = 1).await;
    for serial in ["SN3001", "SN3002", "SN3003"] {
        registered(&app, serial).await;
    }
    let r = app.api(Method::GET, "/devices?limit=1", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    let total: u64 = r.headers["total"].to_str().unwrap().parse().unwrap();
    match r.headers["total-exact"].to_str().unwrap() {
        // The store may know more than it was asked to count.
        "true" => assert_eq!(total, 3),
        "false" => assert!((2..=3).contains(&total), "{total}"),
        other => panic!("total-exact: {other}"),
    }
    let r = app
        .api(Method::GET, "/devices?limit=1&count=exact", None)
        .await;
    assert_eq!(r.headers["total"], "3");
    assert_eq!(r.headers["total-exact"], "true");
    let r = app.api(Method::GET, "/devices?count=most", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("count"), "{}", r.text());
    // Lists of tasks count exactly.
    let r = app.api(Method::GET, "/tasks", None).await;
    assert_eq!(r.headers["total-exact"], "true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_queries_projection_sorting_paging_and_deletion() {
    let app = spawn_app().await;
    let a = registered(&app, "SN2001").await;
    let mut b = TestCpe::new("SN2002");
    b.params
        .get_mut("Device.DeviceInfo.SoftwareVersion")
        .unwrap()
        .value = cwmp::ParameterValue::String("4.1.0".into());
    b.session(app.cwmp, &["0 BOOTSTRAP"]).await;
    let c = registered(&app, "SN2003").await;

    let tag = |id: &str, t: &str| format!("/devices/{}/tags/{}", enc(id), enc(t));
    assert_eq!(
        app.api(Method::POST, &tag(&a.id(), "lab"), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.api(Method::POST, &tag(&c.id(), "lab"), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.api(Method::POST, &tag(&c.id(), "floor 2"), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.api(Method::POST, &tag("00D09E-X-NOPE", "lab"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|d| d["_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let query = |q: Value| format!("/devices?query={}", enc(&q.to_string()));

    let r = app
        .api(Method::GET, &query(json!({"_tags": "lab"})), None)
        .await;
    assert_eq!(r.headers["total"], "2");
    let mut got = ids(r.json());
    got.sort();
    assert_eq!(got, [a.id(), c.id()]);
    assert_eq!(
        ids(app
            .api(Method::GET, &query(json!({"_tags": "floor 2"})), None)
            .await
            .json()),
        [c.id()]
    );
    assert_eq!(
        ids(app
            .api(
                Method::GET,
                &query(json!({"Device.DeviceInfo.SoftwareVersion": "4.1.0"})),
                None
            )
            .await
            .json()),
        [b.id()]
    );
    let r = app.api(Method::GET, &query(json!({"Device.DeviceInfo.SoftwareVersion": {"$ne": "4.1.0"}, "_tags": {"$ne": "floor 2"}})), None).await;
    assert_eq!(ids(r.json()), [a.id()]);
    let r = app
        .api(
            Method::GET,
            &query(json!({"$or": [{"_id": b.id()}, {"_deviceId._SerialNumber": "SN2003"}]})),
            None,
        )
        .await;
    assert_eq!(r.headers["total"], "2");

    // Sorting, paging, projection.
    let sort = enc(&json!({"_deviceId._SerialNumber": -1}).to_string());
    let r = app
        .api(
            Method::GET,
            &format!("/devices?sort={sort}&skip=1&limit=1&projection=_id,_deviceId._SerialNumber"),
            None,
        )
        .await;
    assert_eq!(r.headers["total"], "3");
    let page = r.json();
    assert_eq!(ids(page.clone()), [b.id()]);
    assert_eq!(page[0]["_deviceId"]["_SerialNumber"], "SN2002");
    assert!(page[0].get("Device").is_none(), "projected: {page}");

    // Untag, then delete a device: its tasks go with it.
    assert_eq!(
        app.api(Method::DELETE, &tag(&c.id(), "lab"), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.api(Method::GET, &query(json!({"_tags": "lab"})), None)
            .await
            .headers["total"],
        "1"
    );
    queue(&app, &a.id(), json!({"name": "reboot"})).await;
    assert_eq!(
        app.api(Method::DELETE, &format!("/devices/{}", enc(&a.id())), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.api(Method::DELETE, &format!("/devices/{}", enc(&a.id())), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(app.device(&a.id()).await.is_none());
    assert_eq!(app.api(Method::GET, "/tasks", None).await.json(), json!([]));
}

fn param(cpe: &TestCpe, name: &str) -> String {
    cpe.params[name].value.to_string()
}

/// GenieACS's `?connection_request`: the ACS wakes the CPE with Digest, the CPE opens a
/// session with `6 CONNECTION REQUEST`, and the API answers 200 with the task's result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_request_runs_the_task_at_once() {
    let app = spawn_app().await;
    let mut cpe = registered(&app, "SN3001").await;
    let id = cpe.id();
    // The ACS set the connection-request credentials at first contact.
    let user = param(&cpe, "Device.ManagementServer.ConnectionRequestUsername");
    let pass = param(&cpe, "Device.ManagementServer.ConnectionRequestPassword");
    assert!(!user.is_empty() && pass.len() >= 16, "{user} / {pass}");
    let (url, mut woken) = connection_request_listener(user, pass).await;
    cpe.cr_url = url;
    cpe.session(app.cwmp, &["2 PERIODIC"]).await; // reports the URL

    let acs = app.cwmp;
    let cpe_task = tokio::spawn(async move {
        let mut sessions = Vec::new();
        while let Some(()) = woken.recv().await {
            let r = cpe.session(acs, &["6 CONNECTION REQUEST"]).await;
            sessions.push((r.status, r.rpcs));
            if sessions.len() == 2 {
                break;
            }
        }
        (cpe, sessions)
    });

    let path = format!(
        "/devices/{}/tasks?connection_request&timeout=5000",
        enc(&id)
    );
    let r = app
        .api(Method::POST, &path, Some(json!({"name": "getRPCMethods"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?} {}", r.reason, r.text());
    let doc = r.json();
    assert_eq!(doc["name"], "getRPCMethods");
    assert_eq!(
        doc["result"],
        json!([
            "GetRPCMethods",
            "GetParameterValues",
            "SetParameterValues",
            "Reboot"
        ])
    );

    // No type given and none known: the ACS reads the parameter first (its type), then sets it.
    let r = app.api(Method::POST, &path, Some(json!({"name": "setParameterValues", "parameterValues": [["Device.WiFi.SSID.1.SSID", "woken"]]}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?} {}", r.reason, r.text());
    assert_eq!(app.api(Method::GET, "/tasks", None).await.json(), json!([]));

    let (cpe, sessions) = cpe_task.await.unwrap();
    assert_eq!(
        sessions,
        [
            (StatusCode::NO_CONTENT, vec!["GetRPCMethods".to_owned()]),
            (
                StatusCode::NO_CONTENT,
                vec![
                    "GetParameterValues".to_owned(),
                    "SetParameterValues".to_owned()
                ]
            )
        ]
    );
    assert_eq!(param(&cpe, "Device.WiFi.SSID.1.SSID"), "woken");
    cpe.validate_received();
    let dev = app.device(&id).await.unwrap();
    assert_eq!(
        dev["Device"]["WiFi"]["SSID"]["1"]["SSID"]["_value"],
        "woken"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_request_failures_leave_the_task_queued() {
    let app = spawn_app().await;
    let mut cpe = registered(&app, "SN3002").await;
    let id = cpe.id();
    let path = format!(
        "/devices/{}/tasks?connection_request&timeout=1000",
        enc(&id)
    );

    // Nobody listens at the URL.
    let r = app
        .api(Method::POST, &path, Some(json!({"name": "reboot"})))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let reason = r.reason.unwrap_or_default();
    assert!(reason.starts_with("Connection request error"), "{reason}");

    // The CPE expects other credentials.
    let (url, _woken) = connection_request_listener("someone".into(), "else-entirely".into()).await;
    cpe.cr_url = url;
    cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    let tasks = app.api(Method::GET, "/tasks", None).await.json();
    assert_eq!(
        tasks.as_array().unwrap().len(),
        0,
        "the reboot ran in that session: {tasks}"
    );
    let r = app
        .api(Method::POST, &path, Some(json!({"name": "reboot"})))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let reason = r.reason.unwrap_or_default();
    assert!(reason.contains("credentials"), "{reason}");

    // The CPE is woken but does not come: "Task queued but not processed".
    let user = param(&cpe, "Device.ManagementServer.ConnectionRequestUsername");
    let pass = param(&cpe, "Device.ManagementServer.ConnectionRequestPassword");
    let (url, mut woken) = connection_request_listener(user, pass).await;
    cpe.cr_url = url;
    cpe.session(app.cwmp, &["2 PERIODIC"]).await; // runs the second reboot, reports the URL
    let r = app
        .api(Method::POST, &path, Some(json!({"name": "factoryReset"})))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.reason.as_deref(), Some("Task queued but not processed"));
    assert!(woken.recv().await.is_some());
    assert_eq!(
        app.api(Method::GET, "/tasks", None).await.headers["total"],
        "1"
    );

    // A connection request alone (no task).
    let r = app
        .api_with(Method::POST, &path, None, Some(&app.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.reason);
    assert!(woken.recv().await.is_some());
}

/// getParameterValues of an object asks the device even when the Inform brought fresh
/// values below it: those are not all the object has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_parameter_values_of_an_object_asks_the_device() {
    let app = spawn_app().await;
    let mut cpe = registered(&app, "SN3005").await;
    let id = cpe.id();
    queue(
        &app,
        &id,
        json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo."]}),
    )
    .await;
    let r = cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    assert_eq!(r.rpcs, ["GetParameterValues"]);
    let dev = app.device(&id).await.unwrap();
    assert_eq!(
        dev["Device"]["DeviceInfo"]["UpTime"]["_value"], 3600,
        "{dev}"
    );
    // A leaf the Inform just brought is fresh: nothing to ask.
    queue(&app, &id, json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo.SoftwareVersion"]})).await;
    let r = cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    assert!(r.rpcs.is_empty(), "{:?}", r.rpcs);
}

/// A factory-reset device (0 BOOTSTRAP) has lost the connection-request credentials the
/// ACS set: the ACS sets new ones in that session, so Connection Requests keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_request_credentials_are_set_again_after_a_bootstrap() {
    let app = spawn_app().await;
    let mut cpe = registered(&app, "SN3004").await;
    let first = param(&cpe, "Device.ManagementServer.ConnectionRequestPassword");
    // A later session of the same device does not change them.
    let r = cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    assert!(r.rpcs.is_empty(), "{:?}", r.rpcs);
    // Factory reset: the device's values are back to the factory's.
    cpe.params
        .get_mut("Device.ManagementServer.ConnectionRequestPassword")
        .unwrap()
        .value = cwmp::ParameterValue::String("".into());
    let r = cpe.session(app.cwmp, &["0 BOOTSTRAP", "1 BOOT"]).await;
    assert_eq!(r.rpcs, ["SetParameterValues"]);
    let second = param(&cpe, "Device.ManagementServer.ConnectionRequestPassword");
    assert!(!second.is_empty());
    assert_ne!(first, second);

    let user = param(&cpe, "Device.ManagementServer.ConnectionRequestUsername");
    let (url, mut woken) = connection_request_listener(user, second).await;
    cpe.cr_url = url;
    cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    let path = format!("/devices/{}/tasks?connection_request", enc(&cpe.id()));
    let r = app
        .api_with(Method::POST, &path, None, Some(&app.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.reason);
    assert!(woken.recv().await.is_some());
}

/// A CPE fault met while the API waits: 202 "Task faulted" with the fault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_during_a_connection_request_is_reported() {
    let app = spawn_app().await;
    let mut cpe = registered(&app, "SN3003").await;
    let id = cpe.id();
    let user = param(&cpe, "Device.ManagementServer.ConnectionRequestUsername");
    let pass = param(&cpe, "Device.ManagementServer.ConnectionRequestPassword");
    let (url, mut woken) = connection_request_listener(user, pass).await;
    cpe.cr_url = url;
    cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    cpe.faults.push(("GetParameterValues".into(), 9005));
    let acs = app.cwmp;
    let cpe_task = tokio::spawn(async move {
        woken.recv().await.unwrap();
        cpe.session(acs, &["6 CONNECTION REQUEST"]).await.rpcs
    });
    let path = format!("/devices/{}/tasks?connection_request", enc(&id));
    let r = app
        .api(
            Method::POST,
            &path,
            Some(json!({"name": "getParameterValues", "parameterNames": ["Device.Nope"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.reason.as_deref(), Some("Task faulted"));
    assert_eq!(r.json()["fault"]["code"], "cwmp.9005");
    assert_eq!(cpe_task.await.unwrap(), ["GetParameterValues"]);
}

/// The store writer's counters are on /metrics: after a session, its Inform's commit.
/// A counter's value in the Prometheus text `text`.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_store_writer() {
    let app = spawn_app().await;
    let mut cpe = TestCpe::new("SN4401");
    let s = cpe.session(app.cwmp, &["0 BOOTSTRAP", "1 BOOT"]).await;
    assert_eq!(s.status, StatusCode::NO_CONTENT, "{}", s.body);
    let text = app.api(Method::GET, "/metrics", None).await.text();
    let value = |name: &str| metric(&text, name);
    let writes = value("acs_store_writes_total");
    let transactions = value("acs_store_transactions_total");
    assert!(
        writes >= 1 && transactions >= 1 && transactions <= writes,
        "{text}"
    );
    assert_eq!(value("acs_store_write_failures_total"), 0, "{text}");
    assert_eq!(value("acs_store_informs_batched_total"), 0, "{text}");

    if on_postgres() {
        // Other nodes write: PostgreSQL holds no summaries in memory.
        return;
    }
    // The second periodic session reads the summary and keeps it; the third starts from
    // memory.
    for _ in 0..2 {
        let s = cpe.session(app.cwmp, &["2 PERIODIC"]).await;
        assert_eq!(s.status, StatusCode::NO_CONTENT, "{}", s.body);
    }
    let text = app.api(Method::GET, "/metrics", None).await.text();
    let value = |name: &str| metric(&text, name);
    assert!(value("acs_store_summary_cache_hits_total") >= 1, "{text}");
    assert!(value("acs_store_summary_cache_misses_total") >= 2, "{text}");
}

//! Provisioning through the real server and the real binary: presets, provisions and
//! virtual parameters over the API (checked as they are put, kept as given), and
//! `acs provisioning export` / `import`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use acs_store::Store;
use common::*;
use http::{Method, StatusCode, header};
use serde_json::{Value, json};

fn full_preset() -> Value {
    json!({
        "channel": "firmware",
        "weight": 10,
        "precondition": {"Device.DeviceInfo.SoftwareVersion": {"$ne": "4.2"}, "_tags": "lab"},
        "events": {"1 BOOT": true, "2 PERIODIC": false},
        "schedule": {"cron": "0 2 * * MON-FRI", "duration": 3600},
        "provisions": [["firmware", "4.2", {"force": true}], ["refresh", "Device.DeviceInfo."]]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presets_are_put_read_listed_and_deleted() {
    let app = spawn_app().await;
    let r = app
        .api(Method::PUT, "/presets/fw", Some(full_preset()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let mut expected = json!({"_id": "fw"});
    expected
        .as_object_mut()
        .unwrap()
        .extend(full_preset().as_object().unwrap().clone());
    assert_eq!(r.json(), expected);

    let r = app.api(Method::GET, "/presets/fw", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), expected);
    // What GET gives can be put back as it is.
    let r = app
        .api(Method::PUT, "/presets/fw", Some(expected.clone()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // GenieACS's forms: the precondition as a string, an empty channel; defaults filled.
    let r = app
        .api(
            Method::PUT,
            "/presets/bootstrap",
            Some(
                json!({"channel": "", "precondition": "{\"_tags\": \"new\"}",
                        "events": {"0 BOOTSTRAP": true}, "provisions": [["bootstrap"]]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let boot = json!({"_id": "bootstrap", "channel": "default", "weight": 0,
        "precondition": {"_tags": "new"}, "events": {"0 BOOTSTRAP": true},
        "provisions": [["bootstrap"]]});
    assert_eq!(r.json(), boot);

    let r = app.api(Method::GET, "/presets", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["total"], "2");
    assert_eq!(r.json(), json!([boot, expected]));
    let r = app.api(Method::GET, "/presets?skip=1&limit=5", None).await;
    assert_eq!(r.headers["total"], "2");
    assert_eq!(r.json(), json!([expected]));

    // Replacing.
    let r = app
        .api(Method::PUT, "/presets/fw", Some(json!({"weight": 1})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.api(Method::GET, "/presets/fw", None).await.json()["weight"],
        1
    );

    let r = app.api(Method::DELETE, "/presets/fw", None).await;
    assert_eq!(r.status, StatusCode::OK);
    for method in [Method::GET, Method::DELETE] {
        let r = app.api(method, "/presets/fw", None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        app.api(Method::GET, "/presets", None).await.json(),
        json!([boot])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_presets_are_refused_with_the_reason() {
    let app = spawn_app().await;
    let long = format!("/presets/{}", "x".repeat(65));
    let cases: Vec<(&str, String, &str)> = vec![
        ("/presets/a.b", "{}".into(), "invalid name"),
        ("/presets/-a", "{}".into(), "starts with a letter"),
        (&long, "{}".into(), "at most 64"),
        ("/presets/p", "not json".into(), "not JSON"),
        ("/presets/p", "[]".into(), "JSON object"),
        (
            "/presets/p",
            json!({"configurations": []}).to_string(),
            "unknown field `configurations`",
        ),
        ("/presets/p", json!({"_id": "q"}).to_string(), "_id"),
        (
            "/presets/p",
            json!({"weight": "heavy"}).to_string(),
            "invalid type",
        ),
        (
            "/presets/p",
            json!({"precondition": "{bad"}).to_string(),
            "precondition is not JSON",
        ),
        (
            "/presets/p",
            json!({"precondition": {"Device.X": {"$bogus": 1}}}).to_string(),
            "unknown operator",
        ),
        (
            "/presets/p",
            json!({"precondition": {"Device.X": {"$regex": "(?<=x)"}}}).to_string(),
            "$regex",
        ),
        (
            "/presets/p",
            json!({"events": {"BOOT": true}}).to_string(),
            "not a CWMP event code",
        ),
        (
            "/presets/p",
            json!({"schedule": {"cron": "0 2 * *", "duration": 60}}).to_string(),
            "schedule.cron",
        ),
        (
            "/presets/p",
            json!({"schedule": {"cron": "0 0 30 2 *", "duration": 60}}).to_string(),
            "never occurs",
        ),
        (
            "/presets/p",
            json!({"schedule": {"cron": "0 2 * * *", "duration": -5}}).to_string(),
            "schedule.duration",
        ),
        (
            "/presets/p",
            json!({"provisions": [[""]]}).to_string(),
            "provisions[0]",
        ),
        (
            "/presets/p",
            json!({"provisions": ["refresh"]}).to_string(),
            "provisions[0]",
        ),
    ];
    for (path, body, reason) in cases {
        let r = app
            .api_raw(
                Method::PUT,
                path,
                Some("application/json"),
                body.clone().into_bytes(),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{path} {body}: {}",
            r.text()
        );
        assert!(r.text().contains(reason), "{path} {body}: {}", r.text());
    }
    // Nothing was stored.
    assert_eq!(
        app.api(Method::GET, "/presets", None).await.json(),
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_are_kept_as_given() {
    let app = spawn_app().await;
    let source = "// ünïcode, CRLF and tabs\r\nconst now = Date.now();\n\tdeclare(\"Device.X\", {value: now});\n";
    for (collection, content_type) in [
        ("provisions", Some("application/javascript")),
        ("virtual_parameters", Some("text/plain; charset=utf-8")),
    ] {
        let path = format!("/{collection}/shared-name");
        let r = app
            .api_raw(Method::PUT, &path, content_type, source.as_bytes().to_vec())
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let r = app.api(Method::GET, &path, None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body.as_ref(), source.as_bytes());
        assert_eq!(
            r.headers[header::CONTENT_TYPE],
            "application/javascript; charset=utf-8"
        );
    }
    // Without a Content-Type, or a form's (curl --data-binary), the body is the script.
    for content_type in [None, Some("application/x-www-form-urlencoded")] {
        let r = app
            .api_raw(
                Method::PUT,
                "/provisions/b",
                content_type,
                b"let a=1, b=2".to_vec(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(
            app.api(Method::GET, "/provisions/b", None).await.text(),
            "let a=1, b=2"
        );
    }

    let r = app.api(Method::GET, "/provisions", None).await;
    assert_eq!(r.headers["total"], "2");
    assert_eq!(
        r.json(),
        json!([{"_id": "b", "script": "let a=1, b=2"}, {"_id": "shared-name", "script": source}])
    );
    let r = app
        .api(Method::GET, "/virtual_parameters?limit=0", None)
        .await;
    assert_eq!(r.headers["total"], "1");
    assert_eq!(r.json(), json!([]));

    // Refused: not UTF-8, blank, a bad name; nothing changes.
    for (path, body, reason) in [
        ("/provisions/b", vec![0xff, 0xfe, b'x'], "not UTF-8"),
        ("/provisions/b", b" \n\t".to_vec(), "empty"),
        ("/provisions/b", Vec::new(), "empty"),
        ("/virtual_parameters/1st", b"x".to_vec(), "invalid name"),
        ("/virtual_parameters/a%20b", b"x".to_vec(), "invalid name"),
        ("/provisions/b", b"let = 1;".to_vec(), "b:1:"),
        ("/provisions/reboot", b"log(1)".to_vec(), "built-in"),
    ] {
        let r = app
            .api_raw(Method::PUT, path, Some("text/plain"), body)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text());
        assert!(r.text().contains(reason), "{path}: {}", r.text());
    }
    assert_eq!(
        app.api(Method::GET, "/provisions/b", None).await.text(),
        "let a=1, b=2"
    );

    // Deleting one kind leaves the other's item of the same name.
    let r = app
        .api(Method::DELETE, "/provisions/shared-name", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.api(Method::GET, "/provisions/shared-name", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.text(), "No such provision");
    let r = app
        .api(Method::DELETE, "/provisions/shared-name", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .api(Method::GET, "/virtual_parameters/shared-name", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .api(Method::DELETE, "/virtual_parameters/nope", None)
        .await;
    assert_eq!(r.text(), "No such virtual parameter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_needs_a_token() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/presets"),
        (Method::PUT, "/presets/p"),
        (Method::GET, "/provisions/p"),
        (Method::DELETE, "/virtual_parameters/p"),
    ] {
        let r = app.api_with(method, path, Some("{}".into()), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

/// Runs `acs provisioning ...` on the store of `config`.
fn acs(config: &acs::config::Config, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_acs"))
        .args(args)
        .env("ACS_DATA_DIR", &config.data_dir)
        .env("ACS_DATABASE__URL", &config.database.url)
        .env("ACS_DATABASE__SCHEMA", &config.database.schema)
        .env("ACS_LOG__LEVEL", "warn")
        .output()
        .expect("run acs")
}

/// A store nobody uses yet, on the backend of this test binary.
fn fresh_config(dir: &Path, schema: Option<&TestSchema>) -> acs::config::Config {
    let mut config = test_config(dir);
    if let Some(s) = schema {
        s.configure(&mut config);
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_gives_the_same_provisioning() {
    let app = spawn_app().await;
    for (name, preset) in [
        ("fw", full_preset()),
        (
            "bootstrap",
            json!({"events": {"0 BOOTSTRAP": true}, "provisions": [["bootstrap"]]}),
        ),
    ] {
        let r = app
            .api(Method::PUT, &format!("/presets/{name}"), Some(preset))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    for (path, source) in [
        (
            "/provisions/bootstrap",
            "declare(\"Device.X\", null, {value: 1});\r\n",
        ),
        ("/provisions/firmware", "const v = args[0];\n// ünï\n"),
        (
            "/virtual_parameters/MAC",
            "return {writable: false, value: ['x', 'xsd:string']};",
        ),
    ] {
        let r = app
            .api_raw(
                Method::PUT,
                path,
                Some("application/javascript"),
                source.into(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let original = app
        .running
        .as_ref()
        .unwrap()
        .state
        .store
        .provisioning()
        .await
        .unwrap();

    let files = tempfile::tempdir().unwrap();
    let out = files.path().join("export");
    // A stale file from an earlier export goes; other files stay.
    std::fs::create_dir_all(out.join("presets")).unwrap();
    std::fs::write(out.join("presets/deleted.json"), "{}").unwrap();
    std::fs::write(out.join("README.md"), "provisioning of the lab").unwrap();
    let o = acs(
        &app.config,
        &["provisioning", "export", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.contains("2 presets, 2 provisions, 1 virtual parameters"),
        "{said}"
    );
    assert!(said.contains("deleted.json"), "{said}");
    assert!(!out.join("presets/deleted.json").exists());
    assert!(out.join("README.md").exists());
    assert_eq!(
        std::fs::read(out.join("provisions/firmware.js")).unwrap(),
        "const v = args[0];\n// ünï\n".as_bytes()
    );
    let fw: Value =
        serde_json::from_slice(&std::fs::read(out.join("presets/fw.json")).unwrap()).unwrap();
    assert_eq!(fw, full_preset());

    // Into a fresh store.
    let dir = tempfile::tempdir().unwrap();
    let schema = on_postgres().then(TestSchema::new);
    let config = fresh_config(dir.path(), schema.as_ref());
    let o = acs(&config, &["provisioning", "import", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let store = acs::app::open_store(&config).await.unwrap();
    let imported = store.provisioning().await.unwrap();
    assert_eq!(imported.provisioning, original.provisioning);
    // One write: the revision went up once.
    assert_eq!(imported.revision, 1);

    // Importing again with --replace after deleting a file deletes that item.
    std::fs::remove_file(out.join("virtual_parameters/MAC.js")).unwrap();
    let o = acs(
        &config,
        &["provisioning", "import", "--replace", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let now = store.provisioning().await.unwrap();
    assert!(now.provisioning.virtual_parameters.is_empty());
    assert_eq!(now.provisioning.presets, original.provisioning.presets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_file_stops_the_whole_import() {
    let files = tempfile::tempdir().unwrap();
    let src = files.path();
    for d in ["presets", "provisions", "virtual_parameters", ".git"] {
        std::fs::create_dir_all(src.join(d)).unwrap();
    }
    std::fs::write(src.join("presets/good.json"), r#"{"weight": 1}"#).unwrap();
    std::fs::write(
        src.join("presets/bad.json"),
        r#"{"schedule": {"cron": "0 2 * * *", "duration": -1}}"#,
    )
    .unwrap();
    std::fs::write(src.join("presets/notes.txt"), "x").unwrap();
    std::fs::write(src.join("presets/.gitkeep"), "").unwrap();
    std::fs::write(
        src.join("provisions/good.js"),
        "declare('Device.X', {value: 1});",
    )
    .unwrap();
    std::fs::write(src.join("provisions/empty.js"), "\n").unwrap();
    std::fs::write(src.join("provisions/refresh.js"), "log(1);").unwrap();
    std::fs::write(src.join("provisions/typo.js"), "let = 1;").unwrap();
    std::fs::write(src.join("virtual_parameters/a.b.js"), "return {};").unwrap();
    std::fs::write(src.join(".git/config"), "").unwrap();
    std::fs::create_dir_all(src.join("preset")).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let schema = on_postgres().then(TestSchema::new);
    let config = fresh_config(dir.path(), schema.as_ref());
    let o = acs(&config, &["provisioning", "import", src.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    for (file, why) in [
        ("presets/bad.json", "schedule.duration"),
        ("presets/notes.txt", "not a .json file"),
        ("provisions/empty.js", "empty"),
        ("provisions/refresh.js", "built-in"),
        ("provisions/typo.js", "typo:1:"),
        ("virtual_parameters/a.b.js", "invalid name"),
        ("preset", "not one of presets/"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("{file} not reported:\n{err}"));
        assert!(line.contains(why), "{line}");
    }
    assert!(err.contains("nothing imported (7 invalid files)"), "{err}");
    assert!(!err.contains(".git"), "{err}");
    assert!(!err.contains("good"), "{err}");
    // Nothing was written, the valid files neither.
    let store = acs::app::open_store(&config).await.unwrap();
    let snap = store.provisioning().await.unwrap();
    assert_eq!(snap.revision, 0);
    assert!(snap.provisioning.presets.is_empty());
    assert!(snap.provisioning.provisions.is_empty());
}

/// Puts a script (`provisions` or `virtual_parameters`).
async fn put_script(app: &TestApp, kind: &str, name: &str, source: &str) -> Resp {
    app.api_raw(
        Method::PUT,
        &format!("/{kind}/{name}"),
        Some("application/javascript"),
        source.as_bytes().to_vec(),
    )
    .await
}

async fn put_preset(app: &TestApp, name: &str, preset: Value) {
    let r = app
        .api(Method::PUT, &format!("/presets/{name}"), Some(preset))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

fn value(cpe: &TestCpe, path: &str) -> String {
    cpe.params[path].value.text().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrapping_device_is_configured_in_its_first_session() {
    // The operator's lookup: the Wi-Fi name for a serial number.
    let app = spawn_app_with(|c| {
        c.provisioning
            .ext
            .insert("inventory".into(), inventory_extension());
    })
    .await;
    let script = r#"
        // Zero touch: Wi-Fi from the inventory, the inform interval and a tag from args.
        const serial = declare("DeviceID.SerialNumber", {value: 1}).value[0];
        const wifi = ext("inventory", "ssid", serial);
        declare("Device.WiFi.SSID.1.SSID", null, {value: wifi.ssid});
        declare("Device.ManagementServer.PeriodicInformInterval", null, {value: args[0]});
        declare("Tags." + args[1], null, {value: true});
        log("configured " + serial);
    "#;
    let r = put_script(&app, "provisions", "zerotouch", script).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    put_preset(
        &app,
        "zerotouch",
        json!({"events": {"0 BOOTSTRAP": true}, "provisions": [["zerotouch", 900, "provisioned"]]}),
    )
    .await;
    // A window that is not now, and one that always is.
    put_preset(
        &app,
        "new-year",
        json!({"schedule": {"cron": "0 0 1 1 *", "duration": 60}, "provisions": [["tag", "new-year"]]}),
    )
    .await;
    put_preset(
        &app,
        "every-minute",
        json!({"schedule": {"cron": "* * * * *", "duration": 60}, "provisions": [["tag", "scheduled"]]}),
    )
    .await;

    let mut cpe = TestCpe::new("SN7001");
    let s = cpe.session(app.cwmp, &["0 BOOTSTRAP", "1 BOOT"]).await;
    assert_eq!(s.status, StatusCode::NO_CONTENT, "{}", s.body);
    assert_eq!(value(&cpe, "Device.WiFi.SSID.1.SSID"), "net-SN7001");
    assert_eq!(
        value(&cpe, "Device.ManagementServer.PeriodicInformInterval"),
        "900"
    );
    // One SetParameterValues for the connection-request credentials, one for both values.
    assert_eq!(
        s.rpcs.iter().filter(|r| *r == "SetParameterValues").count(),
        2,
        "{:?}",
        s.rpcs
    );
    cpe.validate_received();
    let doc = app.device(&cpe.id()).await.unwrap();
    let mut tags: Vec<&str> = doc["_tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tags.sort();
    assert_eq!(tags, ["provisioned", "scheduled"]);

    // The next session has nothing to do.
    let s = cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    assert_eq!(s.status, StatusCode::NO_CONTENT);
    assert!(s.rpcs.is_empty(), "{:?}", s.rpcs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_preset_reconverges_devices_at_their_next_session() {
    let app = spawn_app().await;
    put_preset(
        &app,
        "interval",
        json!({"provisions": [["value", "Device.ManagementServer.PeriodicInformInterval", 600]]}),
    )
    .await;
    let mut cpe = TestCpe::new("SN7002");
    cpe.session(app.cwmp, &["0 BOOTSTRAP"]).await;
    assert_eq!(
        value(&cpe, "Device.ManagementServer.PeriodicInformInterval"),
        "600"
    );
    put_preset(
        &app,
        "interval",
        json!({"provisions": [["value", "Device.ManagementServer.PeriodicInformInterval", 1800]]}),
    )
    .await;
    let s = cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    assert_eq!(s.status, StatusCode::NO_CONTENT);
    assert_eq!(
        value(&cpe, "Device.ManagementServer.PeriodicInformInterval"),
        "1800"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_errors_and_runaways_are_faults_and_the_session_goes_on() {
    let app = spawn_app().await;
    let r = put_script(&app, "provisions", "broken", "let x = ;\n").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("broken:1:"), "{}", r.text());
    for (name, source) in [
        ("loop", "while (true) {}"),
        ("thrower", "\n\nnull.x;\n"),
        ("files", "const f = std.open('/etc/passwd');"),
    ] {
        let r = put_script(&app, "provisions", name, source).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        put_preset(&app, name, json!({"channel": name, "provisions": [[name]]})).await;
    }
    // A healthy channel beside them.
    put_preset(&app, "good", json!({"provisions": [["tag", "ok"]]})).await;
    let mut cpe = TestCpe::new("SN7003");
    let s = cpe.session(app.cwmp, &["0 BOOTSTRAP"]).await;
    assert_eq!(s.status, StatusCode::NO_CONTENT, "{}", s.body);
    let faults = app.api(Method::GET, "/faults", None).await.json();
    let by_channel = |c: &str| {
        faults
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["channel"] == c)
            .cloned()
            .unwrap_or_else(|| panic!("no fault in {c}: {faults}"))
    };
    assert_eq!(by_channel("loop")["code"], "script.timeout");
    let thrower = by_channel("thrower");
    assert_eq!(thrower["code"], "script.error");
    assert!(
        thrower["message"].as_str().unwrap().contains("thrower:3:"),
        "{thrower}"
    );
    assert_eq!(by_channel("files")["code"], "script.error");
    let doc = app.device(&cpe.id()).await.unwrap();
    assert_eq!(doc["_tags"], json!(["ok"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_install_has_the_default_presets_and_they_work() {
    let app = spawn_app_with(|c| c.provisioning.default_presets = true).await;
    let presets = app.api(Method::GET, "/presets", None).await.json();
    let names: Vec<&str> = presets
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["_id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bootstrap", "inform"]);
    let mut cpe = TestCpe::new("SN7004");
    cpe.params
        .get_mut("Device.ManagementServer.PeriodicInformEnable")
        .unwrap()
        .value = cwmp::ParameterValue::Boolean(false);
    let s = cpe.session(app.cwmp, &["0 BOOTSTRAP", "1 BOOT"]).await;
    assert_eq!(s.status, StatusCode::NO_CONTENT, "{}", s.body);
    assert_eq!(
        value(&cpe, "Device.ManagementServer.PeriodicInformEnable"),
        "true"
    );
    let doc = app.device(&cpe.id()).await.unwrap();
    // The basics were read.
    assert_eq!(
        doc["Device"]["DeviceInfo"]["UpTime"]["_value"],
        json!(3600),
        "{doc}"
    );
    // Deleted, they stay deleted (a restart does not put them back).
    for name in ["bootstrap", "inform"] {
        let r = app
            .api(Method::DELETE, &format!("/presets/{name}"), None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let app = app.restart().await;
    let presets = app.api(Method::GET, "/presets", None).await.json();
    assert_eq!(presets, json!([]));
}

/// The examples of GenieACS's provisions and virtual-parameters documentation, adapted to
/// this test CPE's TR-181 model where they name TR-098 paths, give the documented result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_genieacs_documentation_examples_work() {
    let app = spawn_app().await;
    let scripts = [
        // "Setting the SSID as the last 6 characters of the serial number".
        (
            "provisions",
            "ssid",
            r#"let serial = declare("DeviceID.SerialNumber", {value: 1});
declare("Device.WiFi.SSID.1.SSID", null, {value: serial.value[0].slice(-6)});"#,
        ),
        // "Remove tag1, add tag2, and read tag3".
        (
            "provisions",
            "tags",
            r#"declare("Tags.tag1", null, {value: false});
declare("Tags.tag2", null, {value: true});
let tag3 = declare("Tags.tag3", {value: 1});
if (tag3.size) log("tag3 is set");"#,
        ),
        // "Reboot the device only if it hasn't been rebooted in the past 300 seconds".
        (
            "provisions",
            "reboot-recent",
            r#"declare("Reboot", null, {value: Date.now() - (300 * 1000)});"#,
        ),
        // "Ensure we have one and only one ... object" (here: a port mapping).
        (
            "provisions",
            "one",
            r#"declare("Device.NAT.PortMapping.*", {path: Date.now()}, {path: 1});"#,
        ),
        // "Unified MAC parameter across different device models" (the first root found).
        (
            "virtual_parameters",
            "wanmac",
            r#"let m = "00:00:00:00:00:00";
let d = declare("Device.Ethernet.Interface.*.MACAddress", {value: Date.now()});
let igd = declare("InternetGatewayDevice.WANDevice.*.WANConnectionDevice.*.WANPPPConnection.*.MACAddress", {value: Date.now()});
if (d.size) {
  for (let p of d) {
    if (p.value[0]) { m = p.value[0]; break; }
  }
} else if (igd.size) {
  for (let p of igd) {
    if (p.value[0]) { m = p.value[0]; break; }
  }
}
return {writable: false, value: [m, "xsd:string"]};"#,
        ),
        (
            "provisions",
            "readmac",
            r#"declare("VirtualParameters.wanmac", {value: Date.now()});"#,
        ),
    ];
    for (kind, name, source) in scripts {
        let r = put_script(&app, kind, name, source).await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.text());
    }
    for name in ["ssid", "tags", "reboot-recent", "one", "readmac"] {
        put_preset(&app, name, json!({"channel": name, "provisions": [[name]]})).await;
    }
    let mut cpe = TestCpe::new("SN00AB1234");
    let mac = |v: &str| P {
        value: cwmp::ParameterValue::String(v.to_owned().into()),
        writable: false,
    };
    cpe.params
        .insert("Device.Ethernet.Interface.1.MACAddress".into(), mac(""));
    cpe.params.insert(
        "Device.Ethernet.Interface.2.MACAddress".into(),
        mac("00:11:22:33:44:55"),
    );
    cpe.params.insert(
        "Device.NAT.PortMapping.7.Enable".into(),
        P {
            value: cwmp::ParameterValue::Boolean(true),
            writable: true,
        },
    );
    cpe.params.insert(
        "Device.NAT.PortMapping.8.Enable".into(),
        P {
            value: cwmp::ParameterValue::Boolean(true),
            writable: true,
        },
    );
    let r = app
        .api(
            Method::POST,
            &format!("/devices/{}/tags/tag1", urlencode(&cpe.id())),
            None,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "the device is not known yet"
    );
    let s = cpe.session(app.cwmp, &["0 BOOTSTRAP", "1 BOOT"]).await;
    assert_eq!(s.status, StatusCode::NO_CONTENT, "{}", s.body);
    cpe.validate_received();
    assert_eq!(value(&cpe, "Device.WiFi.SSID.1.SSID"), "AB1234");
    assert_eq!(
        s.rpcs.iter().filter(|r| *r == "Reboot").count(),
        1,
        "{:?}",
        s.rpcs
    );
    assert_eq!(
        cpe.params
            .keys()
            .filter(|k| k.starts_with("Device.NAT.PortMapping."))
            .count(),
        1,
        "one port mapping left"
    );
    let doc = app.device(&cpe.id()).await.unwrap();
    assert_eq!(doc["_tags"], json!(["tag2"]));
    assert_eq!(
        doc["VirtualParameters"]["wanmac"]["_value"], "00:11:22:33:44:55",
        "{doc}"
    );
    assert!(doc["Reboot"]["_value"].is_string(), "{}", doc["Reboot"]);
    // A second session within 300 s: no reboot; nothing else to do either.
    let s = cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    assert!(!s.rpcs.contains(&"Reboot".to_owned()), "{:?}", s.rpcs);
    let faults = app.api(Method::GET, "/faults", None).await.json();
    assert_eq!(faults, json!([]));
}

/// A CPE that goes away in the middle of a request (here while its session waits on a slow
/// extension) holds nothing up: the request is dropped with its connection, and a graceful
/// shutdown does not wait for it. (The connection's cleanup once waited for the abandoned
/// request, which only progressed while the connection was polled: the task hung for good,
/// and with it the shutdown, or, during an Inform, the session's admission slot.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpe_gone_mid_request_holds_no_shutdown() {
    use http_body_util::{BodyExt, Full};
    let mut app = spawn_app_with(|c| {
        c.cwmp.auth.enabled = false;
        c.cwmp.set_connection_request_credentials = false;
        c.provisioning.ext.insert(
            "slow".into(),
            acs::config::ExtensionConfig {
                command: vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    "read call; sleep 1; printf '{}'".into(),
                ],
                url: String::new(),
            },
        );
    })
    .await;
    let r = put_script(&app, "provisions", "slow", r#"ext("slow", "wait");"#).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    put_preset(
        &app,
        "slow",
        json!({"events": {"1 BOOT": true}, "provisions": [["slow"]]}),
    )
    .await;

    let stream = tokio::net::TcpStream::connect(app.cwmp).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let inform = TestCpe::new("SN7101").inform_xml(&["1 BOOT"]);
    let resp = sender
        .send_request(
            http::Request::post("/")
                .body(Full::new(bytes::Bytes::from(inform)))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.into_body().collect().await.unwrap();
    // The empty POST starts the provisioning, which waits on the extension; the CPE's
    // connection goes away meanwhile.
    let empty = sender.send_request(http::Request::post("/").body(Full::default()).unwrap());
    let empty = tokio::spawn(empty);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    conn.abort();
    empty.abort();
    // The extension's answer comes after the CPE left.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;

    // Nothing holds the shutdown (a hang here is the bug; the bound only ends the test).
    let running = app.running.take().unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(20), running.shutdown())
        .await
        .expect("the ACS shut down");
}

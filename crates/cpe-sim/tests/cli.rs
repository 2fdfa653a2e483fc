//! The `cpe-sim` binary as an operator runs it: against the real ACS, a JSON summary at
//! the end; bad arguments refused with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../acs/tests/common/mod.rs"]
mod common;

use std::process::Command;

use common::{DEFAULT_PASS, DEFAULT_USER, spawn_app};
use http::Method;

fn cpe_sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cpe-sim"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_against_the_acs_with_a_json_summary() {
    let app = spawn_app().await;
    let url = format!("http://{}/", app.cwmp);
    let state = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking({
        let state = state.path().to_owned();
        move || {
            cpe_sim()
                .args([
                    "--acs-url",
                    &url,
                    "--username",
                    DEFAULT_USER,
                    "--devices",
                    "3",
                ])
                .args([
                    "--serial-pattern",
                    "CLI{n:03}",
                    "--cr-listen",
                    "127.0.0.1:0",
                ])
                .args(["--duration", "4", "--ramp-up", "0.5", "--json", "--quiet"])
                .arg("--state-dir")
                .arg(&state)
                .env("CPE_SIM_PASSWORD", DEFAULT_PASS)
                .env("RUST_LOG", "warn")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["devices"], 3);
    assert_eq!(summary["devices_informed"], 3, "{summary}");
    assert!(summary["sessions_ok"].as_u64().unwrap() >= 3, "{summary}");
    assert_eq!(summary["sessions_failed"], 0, "{summary}");
    assert!(summary["all_informed_secs"].as_f64().is_some());

    let r = app.api(Method::GET, "/devices?projection=_id", None).await;
    let mut ids: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "02C0DE-HG4000-CLI000",
            "02C0DE-HG4000-CLI001",
            "02C0DE-HG4000-CLI002"
        ]
    );
    // One state file per device.
    let mut files: Vec<String> = std::fs::read_dir(state.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["CLI000.json", "CLI001.json", "CLI002.json"]);
}

/// Devices built from the BBF full data models alone (no profile): TR-181 `Device:2` and
/// TR-098 `InternetGatewayDevice:1`, each against the ACS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_from_bbf_data_models() {
    let app = spawn_app().await;
    let url = format!("http://{}/", app.cwmp);
    let bbf = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bbf");
    for (file, serial, root) in [
        ("tr-181-2-17-0-cwmp-full.xml", "BBF181", "Device"),
        ("tr-098-1-8-0-full.xml", "BBF098", "InternetGatewayDevice"),
    ] {
        let model = bbf.join(file);
        assert!(model.exists(), "{} is needed", model.display());
        let url = url.clone();
        let out = tokio::task::spawn_blocking(move || {
            cpe_sim()
                .args(["--acs-url", &url, "--username", DEFAULT_USER])
                .arg("--data-model")
                .arg(&model)
                .args(["--serial-pattern", &format!("{serial}{{n}}"), "--no-cr"])
                .args(["--duration", "3", "--json", "--quiet"])
                .env("CPE_SIM_PASSWORD", DEFAULT_PASS)
                .env("RUST_LOG", "error")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{file}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(summary["devices_informed"], 1, "{file}: {summary}");
        assert_eq!(summary["sessions_failed"], 0, "{file}: {summary}");
        let r = app.api(Method::GET, "/devices", None).await.json();
        let dev = r
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["_deviceId"]["_SerialNumber"] == format!("{serial}0").as_str())
            .unwrap_or_else(|| panic!("{file}: no device in {r}"));
        assert!(dev[root]["ManagementServer"].is_object(), "{file}: {dev}");
    }
}

#[test]
fn bad_arguments_are_refused_clearly() {
    for (args, expected) in [
        (vec!["--quirk", "nope"], "unknown quirk \"nope\""),
        (vec!["--serial-pattern", "SIM"], "needs one {n}"),
        (vec!["--cwmp-versions", "1.x"], "not a CWMP version"),
        (
            vec!["--get-rpc-methods", "often"],
            "never, bootstrap or always",
        ),
        (vec!["--acs-url", "ftp://x/"], "URL"),
        (vec!["--periodic-interval", "0"], "PeriodicInformInterval"),
        (vec!["--warmup", "inf"], "--warmup: inf is not a duration"),
        (
            vec!["--outage-storm-after=-1"],
            "--outage-storm-after: -1 is not a duration",
        ),
        (
            vec!["--profile", "/nonexistent/profile.tsv"],
            "/nonexistent/profile.tsv",
        ),
    ] {
        let out = cpe_sim()
            .args(&args)
            .args(["--duration", "0", "--no-cr"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn lists_quirks() {
    let out = cpe_sim().arg("--list-quirks").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for (name, _) in cpe_sim::quirks::QUIRKS {
        assert!(text.contains(name), "{text}");
    }
}

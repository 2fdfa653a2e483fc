//! `acs soap decode` on captured traffic, run as the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cwmp/tests/fixtures")
}

fn acs(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_acs"))
        .args(args)
        .output()
        .expect("run acs")
}

#[test]
fn decodes_every_capture_to_one_json_object_per_file() {
    let dir = shared().join("interop");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("../shared/interop")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    let mut args = vec!["soap", "decode"];
    args.extend(files.iter().map(String::as_str));
    let out = acs(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), files.len());
    let inform = lines.iter().find(|v| v["message"] == "Inform").unwrap();
    assert_eq!(inform["namespace"], "urn:dslforum-org:cwmp-1-0");
    assert_eq!(inform["cwmp_version"], "1.0");
    assert_eq!(inform["header"]["ID"], "4dvy1q43");
    assert_eq!(inform["fields"]["DeviceId"]["OUI"], "202BC1");
    assert_eq!(inform["fields"]["Event"][0]["EventCode"], "2 PERIODIC");
    assert_eq!(
        inform["fields"]["ParameterList"].as_array().unwrap().len(),
        7
    );
    let gpv = lines
        .iter()
        .find(|v| v["message"] == "GetParameterValuesResponse")
        .unwrap();
    let interval = &gpv["fields"]["ParameterList"][1];
    assert_eq!(interval["Type"], "xsd:unsignedInt");
    assert_eq!(interval["Value"], 300);
    let fault = lines.iter().find(|v| v["message"] == "Fault").unwrap();
    assert_eq!(fault["fields"]["detail"]["FaultCode"], 9000);
    // Keys come in a fixed order: the file first, fields in schema order.
    let first_key = inform.as_object().unwrap().keys().next().unwrap().clone();
    assert_eq!(first_key, "file");
    let field_keys: Vec<&String> = inform["fields"].as_object().unwrap().keys().collect();
    assert_eq!(
        field_keys,
        [
            "DeviceId",
            "Event",
            "MaxEnvelopes",
            "CurrentTime",
            "RetryCount",
            "ParameterList"
        ]
    );
}

#[test]
fn reports_the_decoder_error_and_exits_1() {
    let bad = fixtures().join("invalid/wrong-type-retrycount.xml");
    let good = shared().join("interop/genieacs-Reboot.xml");
    let out = acs(&[
        "soap",
        "decode",
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("\"many\" is not a valid xsd:unsignedInt at byte 795 in /Envelope/Body/Inform/RetryCount"),
        "{stderr}"
    );
    // The good file is still decoded.
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    assert!(stdout.contains("\"message\":\"Reboot\""));
}

#[test]
fn reads_standard_input_and_other_charsets() {
    use std::io::Write as _;
    let latin1 = std::fs::read(fixtures().join("lenient/latin1-declared.xml")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_acs"))
        .args(["soap", "decode", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&latin1).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["fields"]["CommandKey"], "café");
}

#[test]
fn a_missing_file_is_an_error_too() {
    let out = acs(&["soap", "decode", "/nonexistent/capture.xml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("/nonexistent/capture.xml: "));
}

//! Shared by the schema and round-trip tests: the list of messages, hand-written samples,
//! proptest strategies, and the BBF schema validator (`shared/bbf/validate-envelope`).
#![allow(dead_code, unused_macros, unused_imports)]

pub mod samples;
pub mod strategies;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use cwmp::{Body, Namespace};

/// Calls `$callback! { name, ... }` with the snake-case name of every sample: one per
/// `Body` variant, plus `fault_must_understand` (a SOAP fault without CWMP detail).
/// `samples::NAME(ns)` and `strategies::NAME(ctx)` exist for each.
macro_rules! with_messages {
    ($callback:ident) => {
        $callback! {
            get_rpc_methods,
            get_rpc_methods_response,
            set_parameter_values,
            set_parameter_values_response,
            get_parameter_values,
            get_parameter_values_response,
            get_parameter_names,
            get_parameter_names_response,
            set_parameter_attributes,
            set_parameter_attributes_response,
            get_parameter_attributes,
            get_parameter_attributes_response,
            add_object,
            add_object_response,
            delete_object,
            delete_object_response,
            reboot,
            reboot_response,
            download,
            download_response,
            upload,
            upload_response,
            factory_reset,
            factory_reset_response,
            get_queued_transfers,
            get_queued_transfers_response,
            schedule_inform,
            schedule_inform_response,
            set_vouchers,
            set_vouchers_response,
            get_options,
            get_options_response,
            get_all_queued_transfers,
            get_all_queued_transfers_response,
            schedule_download,
            schedule_download_response,
            cancel_transfer,
            cancel_transfer_response,
            change_du_state,
            change_du_state_response,
            inform,
            inform_response,
            transfer_complete,
            transfer_complete_response,
            autonomous_transfer_complete,
            autonomous_transfer_complete_response,
            du_state_change_complete,
            du_state_change_complete_response,
            autonomous_du_state_change_complete,
            autonomous_du_state_change_complete_response,
            request_download,
            request_download_response,
            kicked,
            kicked_response,
            fault,
            fault_must_understand,
        }
    };
}
pub(crate) use with_messages;

/// Every `Body` variant, numbered. The match has no wildcard, so a variant added to `Body`
/// stops the tests from compiling until it gets a sample and a strategy.
pub fn variant_index(body: &Body<'_>) -> usize {
    match body {
        Body::GetRPCMethods(_) => 0,
        Body::GetRPCMethodsResponse(_) => 1,
        Body::SetParameterValues(_) => 2,
        Body::SetParameterValuesResponse(_) => 3,
        Body::GetParameterValues(_) => 4,
        Body::GetParameterValuesResponse(_) => 5,
        Body::GetParameterNames(_) => 6,
        Body::GetParameterNamesResponse(_) => 7,
        Body::SetParameterAttributes(_) => 8,
        Body::SetParameterAttributesResponse(_) => 9,
        Body::GetParameterAttributes(_) => 10,
        Body::GetParameterAttributesResponse(_) => 11,
        Body::AddObject(_) => 12,
        Body::AddObjectResponse(_) => 13,
        Body::DeleteObject(_) => 14,
        Body::DeleteObjectResponse(_) => 15,
        Body::Reboot(_) => 16,
        Body::RebootResponse(_) => 17,
        Body::Download(_) => 18,
        Body::DownloadResponse(_) => 19,
        Body::Upload(_) => 20,
        Body::UploadResponse(_) => 21,
        Body::FactoryReset(_) => 22,
        Body::FactoryResetResponse(_) => 23,
        Body::GetQueuedTransfers(_) => 24,
        Body::GetQueuedTransfersResponse(_) => 25,
        Body::ScheduleInform(_) => 26,
        Body::ScheduleInformResponse(_) => 27,
        Body::SetVouchers(_) => 28,
        Body::SetVouchersResponse(_) => 29,
        Body::GetOptions(_) => 30,
        Body::GetOptionsResponse(_) => 31,
        Body::GetAllQueuedTransfers(_) => 32,
        Body::GetAllQueuedTransfersResponse(_) => 33,
        Body::ScheduleDownload(_) => 34,
        Body::ScheduleDownloadResponse(_) => 35,
        Body::CancelTransfer(_) => 36,
        Body::CancelTransferResponse(_) => 37,
        Body::ChangeDUState(_) => 38,
        Body::ChangeDUStateResponse(_) => 39,
        Body::Inform(_) => 40,
        Body::InformResponse(_) => 41,
        Body::TransferComplete(_) => 42,
        Body::TransferCompleteResponse(_) => 43,
        Body::AutonomousTransferComplete(_) => 44,
        Body::AutonomousTransferCompleteResponse(_) => 45,
        Body::DUStateChangeComplete(_) => 46,
        Body::DUStateChangeCompleteResponse(_) => 47,
        Body::AutonomousDUStateChangeComplete(_) => 48,
        Body::AutonomousDUStateChangeCompleteResponse(_) => 49,
        Body::RequestDownload(_) => 50,
        Body::RequestDownloadResponse(_) => 51,
        Body::Kicked(_) => 52,
        Body::KickedResponse(_) => 53,
        Body::Fault(_) => 54,
    }
}

/// Number of `Body` variants.
pub const VARIANT_COUNT: usize = 55;

/// The namespaces whose schema defines a message introduced in `since`, oldest first.
pub fn namespaces_since(since: Namespace) -> Vec<Namespace> {
    Namespace::ALL
        .into_iter()
        .filter(|ns| *ns >= since)
        .collect()
}

/// The namespaces older than `since`, in which the message does not exist.
pub fn namespaces_before(since: Namespace) -> Vec<Namespace> {
    Namespace::ALL
        .into_iter()
        .filter(|ns| *ns < since)
        .collect()
}

/// `1-0`, `1-1` or `1-2`, for file names.
pub fn ns_tag(ns: Namespace) -> &'static str {
    match ns {
        Namespace::Cwmp1_0 => "1-0",
        Namespace::Cwmp1_1 => "1-1",
        Namespace::Cwmp1_2 => "1-2",
    }
}

/// `shared/bbf/validate-envelope`, found from this crate's directory. Panics (failing the
/// test, never skipping it) when the script or xmllint is missing.
pub fn validator() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bbf/validate-envelope");
    assert!(
        path.is_file(),
        "the BBF schema validator is missing: expected {} (the shared/ directory beside the \
         repository); the schema tests cannot run without it",
        path.display()
    );
    match Command::new("xmllint").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`xmllint --version` failed ({}): {}; the schema tests need xmllint \
             (apt-get install libxml2-utils)",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "xmllint is not installed ({e}); the schema tests need it \
             (apt-get install libxml2-utils)"
        ),
    }
    path
}

/// Writes each `(file name, XML)` into `dir`, returning the paths.
pub fn write_files(dir: &Path, files: &[(String, String)]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|(name, xml)| {
            let path = dir.join(name);
            std::fs::write(&path, xml)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            path
        })
        .collect()
}

/// Runs the validator once on all `files`; returns, per file, whether it is valid, and the
/// validator's output.
pub fn validate_each(files: &[PathBuf]) -> (Vec<bool>, String) {
    assert!(!files.is_empty(), "nothing to validate");
    let script = validator();
    let out = Command::new(&script)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let verdicts = files
        .iter()
        .map(|f| {
            let line = format!("{}: valid", f.display());
            stdout.lines().any(|l| l == line)
        })
        .collect();
    (verdicts, stdout + &String::from_utf8_lossy(&out.stderr))
}

/// Validates all `files` against the BBF schemas in one invocation of the validator.
/// On failure returns a report: the validator's complaints, then each failing file.
pub fn validate(files: &[PathBuf]) -> Result<(), String> {
    assert!(!files.is_empty(), "nothing to validate");
    let script = validator();
    let out = Command::new(&script)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let valid = |f: &PathBuf| {
        let line = format!("{}: valid", f.display());
        stdout.lines().any(|l| l == line)
    };
    let failing: Vec<&PathBuf> = files.iter().filter(|f| !valid(f)).collect();
    if out.status.success() && failing.is_empty() {
        return Ok(());
    }
    let mut report = format!(
        "schema validation failed for {} of {} envelopes (validator exit status: {})\n",
        failing.len(),
        files.len(),
        out.status
    );
    report.push_str("--- validator output (lines other than `FILE: valid`) ---\n");
    for line in stdout.lines().chain(stderr.lines()) {
        if !line.ends_with(": valid") {
            let _ = writeln!(report, "{line}");
        }
    }
    for f in failing.iter().take(8) {
        let xml = std::fs::read_to_string(f).unwrap_or_default();
        let shown: String = xml.chars().take(6000).collect();
        let more = if shown.len() < xml.len() {
            "\n[...]"
        } else {
            ""
        };
        let _ = write!(report, "--- {} ---\n{shown}{more}\n", f.display());
    }
    if failing.len() > 8 {
        let _ = writeln!(
            report,
            "--- and {} more failing files ---",
            failing.len() - 8
        );
    }
    Err(report)
}

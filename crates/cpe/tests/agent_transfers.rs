//! Transfers through the agent: Download (firmware, configuration, failures, URL checks,
//! queue limit), Upload, ScheduleDownload windows, CancelTransfer, Get(All)QueuedTransfers,
//! ChangeDUState, and persistence of all of it across a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod agent_common;

use std::borrow::Cow;
use std::time::Duration;

use agent_common::*;
use cpe::agent::{AgentConfig, AgentState, SessionStep, TransferFailure, TransferKind};
use cwmp::{Body, FaultCode, TransferState, TransferStatus};

const FW: &str = "1 Firmware Upgrade Image";
const CFG: &str = "3 Vendor Configuration File";

fn bootstrapped(config: AgentConfig) -> Harness {
    let mut h = Harness::new(config);
    let out = h.session(&mut Acs::default());
    assert!(out.ok(), "{:?}", out.step);
    h
}

fn download(key: &str, file_type: &str, url: &str, delay: u32) -> Body<'static> {
    cwmp::Download {
        command_key: Cow::Owned(key.to_owned()),
        file_type: Cow::Owned(file_type.to_owned()),
        url: Cow::Owned(url.to_owned()),
        username: "u".into(),
        password: "p".into(),
        file_size: 0,
        target_file_name: "".into(),
        delay_seconds: delay,
        success_url: "".into(),
        failure_url: "".into(),
    }
    .into()
}

fn upload(key: &str, file_type: &str, url: &str) -> Body<'static> {
    cwmp::Upload {
        command_key: Cow::Owned(key.to_owned()),
        file_type: Cow::Owned(file_type.to_owned()),
        url: Cow::Owned(url.to_owned()),
        username: "".into(),
        password: "".into(),
        delay_seconds: 0,
    }
    .into()
}

fn window(start: u32, end: u32, mode: &str, max_retries: i32) -> cwmp::TimeWindowStruct<'static> {
    cwmp::TimeWindowStruct {
        window_start: start,
        window_end: end,
        window_mode: Cow::Owned(mode.to_owned()),
        user_message: "".into(),
        max_retries,
    }
}

fn schedule_download(key: &str, windows: Vec<cwmp::TimeWindowStruct<'static>>) -> Body<'static> {
    cwmp::ScheduleDownload {
        command_key: Cow::Owned(key.to_owned()),
        file_type: CFG.into(),
        url: "http://files.example/cfg.txt".into(),
        username: "".into(),
        password: "".into(),
        file_size: 0,
        target_file_name: "".into(),
        time_window_list: windows,
    }
    .into()
}

fn failure(code: FaultCode, message: &str) -> TransferFailure {
    TransferFailure {
        code,
        message: message.to_owned(),
    }
}

/// A Connection Request session with these ACS requests; the ACS.
fn cr_session(h: &mut Harness, requests: Vec<Body<'static>>) -> Acs {
    h.agent.handle_connection_request(h.now);
    let mut acs = Acs::with_requests(requests);
    let out = h.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    acs
}

/// The TransferComplete requests the ACS received.
fn transfer_completes(acs: &Acs) -> Vec<cwmp::TransferComplete<'static>> {
    acs.cpe_requests
        .iter()
        .filter_map(|e| match &e.body {
            Body::TransferComplete(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn firmware_download_applies_at_reboot() {
    let mut h = bootstrapped(AgentConfig::default());
    let acs = cr_session(
        &mut h,
        vec![download("dl-1", FW, "http://files.example/fw.bin", 0)],
    );
    let Body::DownloadResponse(r) = acs.response(0) else {
        panic!("{:?}", acs.response(0))
    };
    assert_eq!(r.status, TransferStatus::Pending);
    assert!(r.start_time.is_unknown() && r.complete_time.is_unknown());
    h.advance_secs(3);
    let job = h.job();
    let TransferKind::Download {
        url,
        username,
        password,
        file_size,
        max_bytes,
    } = &job.kind
    else {
        panic!()
    };
    assert_eq!(url, "http://files.example/fw.bin");
    assert_eq!((username.as_str(), password.as_str()), ("u", "p"));
    assert_eq!(*file_size, 0);
    assert!(*max_bytes >= 1 << 20);
    let started = h.now;
    // Only one job for it.
    assert_eq!(h.agent.poll_transfer(h.now), None);
    h.advance_secs(7);
    h.agent
        .handle_transfer_result(job.id, Ok(b"2.0.0\n".to_vec()), h.now);
    // The image implies a reboot; SoftwareVersion changes with it.
    assert!(h.agent.is_rebooting());
    assert_eq!(h.value("Device.DeviceInfo.SoftwareVersion"), "4.2.1");
    assert_eq!(h.agent.state().pending_firmware(), Some("2.0.0"));
    h.finish_reboot();
    assert_eq!(h.value("Device.DeviceInfo.SoftwareVersion"), "2.0.0");
    let mut acs = Acs::default();
    let out = h.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    let ev = events(&out.inform);
    for expected in [
        ("1 BOOT", ""),
        ("M Download", "dl-1"),
        ("7 TRANSFER COMPLETE", ""),
    ] {
        assert!(
            ev.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} in {ev:?}"
        );
    }
    assert!(!ev.iter().any(|(c, _)| c == "0 BOOTSTRAP"));
    assert_eq!(
        inform_param(&out.inform, "Device.DeviceInfo.SoftwareVersion").as_deref(),
        Some("2.0.0")
    );
    let tcs = transfer_completes(&acs);
    assert_eq!(tcs.len(), 1);
    let tc = &tcs[0];
    assert_eq!(tc.command_key, "dl-1");
    assert_eq!(tc.fault_struct.fault_code, FaultCode(0));
    assert_eq!(tc.start_time, started.to_datetime());
    assert!(tc.complete_time > tc.start_time);
    assert_eq!(acs.posts, ["TransferComplete", "empty"]);
    // Delivered: gone.
    assert!(h.agent.state().pending_transfer_completes().is_empty());
    h.agent.handle_connection_request(h.now);
    let out = h.session(&mut Acs::default());
    assert_eq!(codes(&out.inform), ["6 CONNECTION REQUEST"]);
    h.validate();
}

#[test]
fn firmware_version_from_the_file_name() {
    let mut h = bootstrapped(AgentConfig::default());
    cr_session(
        &mut h,
        vec![download(
            "dl-2",
            FW,
            "http://files.example/img/hg4000-5.1.0.bin",
            0,
        )],
    );
    let job = h.job();
    h.agent
        .handle_transfer_result(job.id, Ok(vec![0x7f; 4096]), h.now);
    h.finish_reboot();
    assert_eq!(h.value("Device.DeviceInfo.SoftwareVersion"), "hg4000-5.1.0");
    h.validate();
}

#[test]
fn delayed_download_waits() {
    let mut h = bootstrapped(AgentConfig::default());
    cr_session(
        &mut h,
        vec![download("dl-3", CFG, "http://files.example/c.txt", 60)],
    );
    assert_eq!(h.agent.poll_transfer(h.now), None);
    assert_eq!(h.agent.poll_timeout(), Some(h.now.plus_secs(60)));
    h.advance_secs(59);
    assert_eq!(h.agent.poll_transfer(h.now), None);
    h.advance_secs(1);
    let _ = h.job();
    h.validate();
}

#[test]
fn failed_downloads_report_their_fault() {
    let mut h = bootstrapped(AgentConfig::default());
    cr_session(
        &mut h,
        vec![
            download("bad-1", FW, "http://files.example/fw.bin", 0),
            download("bad-2", CFG, "https://files.example/c.txt", 0),
        ],
    );
    let a = h.job();
    let b = h.job();
    h.agent.handle_transfer_result(
        a.id,
        Err(failure(
            FaultCode::FILE_TRANSFER_FAILURE,
            "connection reset",
        )),
        h.now,
    );
    // A code TransferComplete does not allow is replaced by 9010.
    h.agent.handle_transfer_result(
        b.id,
        Err(failure(FaultCode::INVALID_ARGUMENTS, "odd")),
        h.now,
    );
    assert!(!h.agent.is_rebooting());
    let mut acs = Acs::default();
    let out = h.session(&mut acs);
    assert!(out.ok());
    let ev = events(&out.inform);
    assert!(ev.contains(&("7 TRANSFER COMPLETE".into(), "".into())));
    assert!(ev.contains(&("M Download".into(), "bad-1".into())));
    assert!(ev.contains(&("M Download".into(), "bad-2".into())));
    assert_eq!(ev.len(), 3);
    let tcs = transfer_completes(&acs);
    assert_eq!(tcs.len(), 2);
    assert_eq!(tcs[0].command_key, "bad-1");
    assert_eq!(
        tcs[0].fault_struct.fault_code,
        FaultCode::FILE_TRANSFER_FAILURE
    );
    assert_eq!(tcs[0].fault_struct.fault_string, "connection reset");
    assert_eq!(
        tcs[1].fault_struct.fault_code,
        FaultCode::FILE_TRANSFER_FAILURE
    );
    assert_eq!(h.value("Device.DeviceInfo.SoftwareVersion"), "4.2.1");
    assert_eq!(h.agent.stats().transfers_failed, 2);
    h.validate();
}

#[test]
fn download_size_must_match() {
    let mut h = bootstrapped(AgentConfig::default());
    let mut d = download("sz", CFG, "http://files.example/c.txt", 0);
    if let Body::Download(d) = &mut d {
        d.file_size = 10;
    }
    cr_session(&mut h, vec![d]);
    let job = h.job();
    h.agent
        .handle_transfer_result(job.id, Ok(b"short".to_vec()), h.now);
    let mut acs = Acs::default();
    h.session(&mut acs);
    assert_eq!(
        transfer_completes(&acs)[0].fault_struct.fault_code,
        FaultCode::FILE_TRANSFER_FILE_CORRUPTED
    );
    h.validate();
}

#[test]
fn download_arguments_are_checked() {
    let mut h = bootstrapped(AgentConfig::default());
    let mut requests = vec![
        download("x1", FW, "ftp://files.example/fw.bin", 0),
        download("x2", FW, "http://user:pw@files.example/fw.bin", 0),
        download("x3", FW, "not a url", 0),
        upload("x4", "1 Vendor Configuration File", "tftp://h/x"),
        upload("x5", "9 Something Else", "http://h/x"),
    ];
    // The queue holds 16 transfers; the 17th is refused.
    for i in 0..17 {
        requests.push(download(
            &format!("q{i}"),
            CFG,
            "http://files.example/c",
            3600,
        ));
    }
    let acs = cr_session(&mut h, requests);
    assert_eq!(
        acs.fault_code(0),
        Some(FaultCode::UNSUPPORTED_PROTOCOL_FOR_FILE_TRANSFER)
    );
    assert_eq!(acs.fault_code(1), Some(FaultCode::INVALID_ARGUMENTS));
    assert_eq!(acs.fault_code(2), Some(FaultCode::INVALID_ARGUMENTS));
    assert_eq!(
        acs.fault_code(3),
        Some(FaultCode::UNSUPPORTED_PROTOCOL_FOR_FILE_TRANSFER)
    );
    assert_eq!(acs.fault_code(4), Some(FaultCode::INVALID_ARGUMENTS));
    for i in 5..21 {
        assert!(matches!(acs.response(i), Body::DownloadResponse(_)), "{i}");
    }
    assert_eq!(acs.fault_code(21), Some(FaultCode::RESOURCES_EXCEEDED));
    assert_eq!(h.agent.state().queued_transfers(), 16);
    h.validate();
}

#[test]
fn configuration_download_is_applied() {
    let mut h = bootstrapped(AgentConfig::default());
    cr_session(
        &mut h,
        vec![download("cfg-1", CFG, "http://files.example/c.txt", 0)],
    );
    let job = h.job();
    let file = b"# vendor config\nDevice.ManagementServer.PeriodicInformInterval\t120\nDevice.ManagementServer.Username=alice\ngarbage line\n";
    h.agent
        .handle_transfer_result(job.id, Ok(file.to_vec()), h.now);
    assert!(!h.agent.is_rebooting());
    assert_eq!(
        h.value("Device.ManagementServer.PeriodicInformInterval"),
        "120"
    );
    assert_eq!(h.value("Device.ManagementServer.Username"), "alice");
    let mut acs = Acs::default();
    let out = h.session(&mut acs);
    assert!(out.ok());
    assert_eq!(
        transfer_completes(&acs)[0].fault_struct.fault_code,
        FaultCode(0)
    );
    // The new interval rules the periodic informs.
    assert_eq!(h.agent.poll_timeout(), Some(h.now.plus_secs(120)));
    h.validate();
}

#[test]
fn transfer_complete_is_kept_until_acknowledged() {
    let config = AgentConfig::default();
    let mut h = bootstrapped(config.clone());
    cr_session(
        &mut h,
        vec![download("keep", CFG, "http://files.example/c.txt", 0)],
    );
    let job = h.job();
    h.agent
        .handle_transfer_result(job.id, Ok(b"".to_vec()), h.now);
    // 8005 to the TransferComplete: sent again in the session.
    let mut acs = Acs {
        faults: vec![("TransferComplete", FaultCode::ACS_RETRY_REQUEST)],
        ..Acs::default()
    };
    // But the session fails after the InformResponse: the record stays.
    acs.replace = vec![(1, 500, vec![])];
    let out = h.session(&mut acs);
    assert!(matches!(out.step, SessionStep::Failed(_)));
    assert_eq!(acs.posts, ["TransferComplete", "TransferComplete"]);
    assert_eq!(h.agent.state().pending_transfer_completes(), ["keep"]);
    // The embedder restarts: the TransferComplete is still owed, in the BOOT session.
    let json = serde_json::to_string(&h.agent.state()).unwrap();
    let t1 = h.now.plus_secs(30);
    let mut h2 = Harness::resume(tree(t1), config, serde_json::from_str(&json).unwrap(), t1);
    let mut acs = Acs::default();
    let out = h2.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    let ev = events(&out.inform);
    assert!(ev.contains(&("1 BOOT".into(), "".into())));
    assert!(ev.contains(&("M Download".into(), "keep".into())));
    assert!(ev.contains(&("7 TRANSFER COMPLETE".into(), "".into())));
    assert!(!ev.iter().any(|(c, _)| c == "0 BOOTSTRAP"));
    // RetryCount carries over the restart.
    assert_eq!(retry_count(&out.inform), 1);
    assert_eq!(transfer_completes(&acs)[0].command_key, "keep");
    assert!(h2.agent.state().pending_transfer_completes().is_empty());
    h.validate();
    h2.validate();
}

#[test]
fn restart_mid_transfer() {
    let config = AgentConfig::default();
    let mut h = bootstrapped(config.clone());
    cr_session(
        &mut h,
        vec![download("mid", FW, "http://files.example/fw-9.bin", 0)],
    );
    let job = h.job();
    // The embedder stops while the download runs.
    let state: AgentState =
        serde_json::from_str(&serde_json::to_string(&h.agent.state()).unwrap()).unwrap();
    assert_eq!(state.queued_transfers(), 1);
    let t1 = h.now.plus_secs(60);
    let mut h2 = Harness::resume(tree(t1), config.clone(), state, t1);
    // The old job is forgotten...
    h2.agent
        .handle_transfer_result(job.id, Ok(b"1.0".to_vec()), h2.now);
    assert!(!h2.agent.is_rebooting());
    let out = h2.session(&mut Acs::default());
    assert_eq!(codes(&out.inform), ["1 BOOT"]);
    // ...and the download starts again after the session.
    let job = h2.job();
    h2.agent
        .handle_transfer_result(job.id, Ok(b"9.0.1".to_vec()), h2.now);
    // The embedder stops again before the reboot completes: the new image is applied by the
    // next power-on.
    let state: AgentState =
        serde_json::from_str(&serde_json::to_string(&h2.agent.state()).unwrap()).unwrap();
    assert_eq!(state.pending_firmware(), Some("9.0.1"));
    let t2 = h2.now.plus_secs(5);
    let mut h3 = Harness::resume(tree(t2), config, state, t2);
    assert_eq!(h3.value("Device.DeviceInfo.SoftwareVersion"), "9.0.1");
    let mut acs = Acs::default();
    let out = h3.session(&mut acs);
    let ev = events(&out.inform);
    assert!(ev.contains(&("M Download".into(), "mid".into())));
    assert!(!ev.iter().any(|(c, _)| c == "0 BOOTSTRAP"));
    assert_eq!(
        transfer_completes(&acs)[0].fault_struct.fault_code,
        FaultCode(0)
    );
    h.validate();
    h2.validate();
    h3.validate();
}

#[test]
fn uploads() {
    let mut h = bootstrapped(AgentConfig::default());
    let acs = cr_session(
        &mut h,
        vec![
            upload(
                "up-cfg",
                "1 Vendor Configuration File",
                "http://files.example/up/cfg",
            ),
            upload("up-log", "2 Vendor Log File", "http://files.example/up/log"),
        ],
    );
    let Body::UploadResponse(r) = acs.response(0) else {
        panic!()
    };
    assert_eq!(r.status, TransferStatus::Pending);
    let cfg = h.job();
    let TransferKind::Upload {
        url,
        body,
        content_type,
        ..
    } = &cfg.kind
    else {
        panic!()
    };
    assert_eq!(url, "http://files.example/up/cfg");
    assert!(content_type.starts_with("text/plain"));
    let text = String::from_utf8(body.clone()).unwrap();
    assert!(
        text.contains("Device.DeviceInfo.SoftwareVersion\t4.2.1\n"),
        "{text}"
    );
    assert!(text.contains("Device.ManagementServer.PeriodicInformInterval\t3600\n"));
    let log = h.job();
    let TransferKind::Upload { body, .. } = &log.kind else {
        panic!()
    };
    let text = String::from_utf8(body.clone()).unwrap();
    assert!(
        text.contains("cwmp:") && text.lines().count() >= 3,
        "{text}"
    );
    h.agent.handle_transfer_result(cfg.id, Ok(vec![]), h.now);
    h.agent.handle_transfer_result(
        log.id,
        Err(failure(FaultCode::UPLOAD_FAILURE, "HTTP 500")),
        h.now,
    );
    let mut acs = Acs::default();
    let out = h.session(&mut acs);
    let ev = events(&out.inform);
    assert!(ev.contains(&("M Upload".into(), "up-cfg".into())));
    assert!(ev.contains(&("M Upload".into(), "up-log".into())));
    let tcs = transfer_completes(&acs);
    assert_eq!(tcs[0].fault_struct.fault_code, FaultCode(0));
    assert_eq!(tcs[1].fault_struct.fault_code, FaultCode::UPLOAD_FAILURE);
    // The configuration dump reads back as a configuration file.
    h.validate();
}

#[test]
fn schedule_download_in_its_window() {
    let mut h = bootstrapped(AgentConfig::default());
    let acs = cr_session(
        &mut h,
        vec![schedule_download(
            "sd-1",
            vec![window(30, 120, "1 At Any Time", 0)],
        )],
    );
    assert!(matches!(acs.response(0), Body::ScheduleDownloadResponse(_)));
    assert_eq!(h.agent.poll_transfer(h.now), None);
    assert_eq!(h.agent.poll_timeout(), Some(h.now.plus_secs(30)));
    h.advance_secs(30);
    let job = h.job();
    h.agent.handle_transfer_result(job.id, Ok(vec![]), h.now);
    let mut acs = Acs::default();
    let out = h.session(&mut acs);
    let ev = events(&out.inform);
    assert!(ev.contains(&("M ScheduleDownload".into(), "sd-1".into())));
    assert!(ev.contains(&("7 TRANSFER COMPLETE".into(), "".into())));
    assert_eq!(
        transfer_completes(&acs)[0].fault_struct.fault_code,
        FaultCode(0)
    );
    h.validate();
}

#[test]
fn schedule_download_retries_then_reports() {
    let mut h = bootstrapped(AgentConfig::default());
    cr_session(
        &mut h,
        vec![schedule_download(
            "sd-2",
            vec![
                window(0, 60, "2 Immediately", 1),
                window(600, 700, "3 When Idle", 0),
            ],
        )],
    );
    // First window: one attempt and one retry.
    let job = h.job();
    h.agent.handle_transfer_result(
        job.id,
        Err(failure(
            FaultCode::FILE_TRANSFER_SERVER_UNREACHABLE,
            "no route",
        )),
        h.now,
    );
    assert_eq!(h.agent.poll_transfer(h.now), None);
    h.advance_secs(10);
    let job = h.job();
    h.agent.handle_transfer_result(
        job.id,
        Err(failure(
            FaultCode::FILE_TRANSFER_SERVER_UNREACHABLE,
            "no route",
        )),
        h.now,
    );
    // Then the second window.
    h.advance_secs(100);
    assert_eq!(h.agent.poll_transfer(h.now), None);
    assert!(!h.due());
    h.advance_secs(490);
    let job = h.job();
    h.agent.handle_transfer_result(
        job.id,
        Err(failure(FaultCode::FILE_TRANSFER_FILE_UNREACHABLE, "404")),
        h.now,
    );
    // No window left: the TransferComplete reports the last failure.
    let mut acs = Acs::default();
    let out = h.session(&mut acs);
    assert!(has_event(&out.inform, "M ScheduleDownload", "sd-2"));
    let tc = &transfer_completes(&acs)[0];
    assert_eq!(
        tc.fault_struct.fault_code,
        FaultCode::FILE_TRANSFER_FILE_UNREACHABLE
    );
    h.validate();
}

fn has_event(inform: &cwmp::Envelope<'_>, code: &str, key: &str) -> bool {
    events(inform).contains(&(code.to_owned(), key.to_owned()))
}

#[test]
fn schedule_download_without_usable_window_ends_with_9020() {
    let mut h = bootstrapped(AgentConfig::default());
    let acs = cr_session(
        &mut h,
        vec![
            schedule_download("sd-3", vec![window(0, 60, "4 Confirmation Needed", 0)]),
            // Windows out of order or overlapping: 9003.
            schedule_download(
                "sd-4",
                vec![
                    window(0, 60, "1 At Any Time", 0),
                    window(30, 90, "1 At Any Time", 0),
                ],
            ),
            schedule_download("sd-5", vec![window(60, 10, "1 At Any Time", 0)]),
        ],
    );
    assert!(matches!(acs.response(0), Body::ScheduleDownloadResponse(_)));
    assert_eq!(acs.fault_code(1), Some(FaultCode::INVALID_ARGUMENTS));
    assert_eq!(acs.fault_code(2), Some(FaultCode::INVALID_ARGUMENTS));
    assert_eq!(h.agent.poll_transfer(h.now), None);
    h.advance_secs(1);
    let mut acs = Acs::default();
    let out = h.session(&mut acs);
    assert!(has_event(&out.inform, "M ScheduleDownload", "sd-3"));
    assert_eq!(
        transfer_completes(&acs)[0].fault_struct.fault_code,
        FaultCode::FILE_TRANSFER_WINDOW_EXCEEDED
    );
    h.validate();
}

#[test]
fn cancel_transfer() {
    let mut h = bootstrapped(AgentConfig::default());
    let acs = cr_session(
        &mut h,
        vec![
            download("c-1", CFG, "http://files.example/c", 3600),
            download("c-2", CFG, "http://files.example/c", 0),
            cwmp::CancelTransfer {
                command_key: "c-1".into(),
            }
            .into(),
            cwmp::CancelTransfer {
                command_key: "nobody".into(),
            }
            .into(),
        ],
    );
    assert!(matches!(acs.response(2), Body::CancelTransferResponse(_)));
    assert_eq!(acs.fault_code(3), Some(FaultCode::INVALID_ARGUMENTS));
    assert_eq!(h.agent.state().queued_transfers(), 1);
    let job = h.job();
    let acs = cr_session(
        &mut h,
        vec![
            cwmp::CancelTransfer {
                command_key: "c-2".into(),
            }
            .into(),
        ],
    );
    // In progress: cannot be cancelled.
    assert_eq!(
        acs.fault_code(0),
        Some(FaultCode::CANCELATION_NOT_PERMITTED)
    );
    h.agent.handle_transfer_result(job.id, Ok(vec![]), h.now);
    let mut acs = Acs::default();
    let out = h.session(&mut acs);
    // Only c-2 completes; the cancelled one never reports.
    assert!(has_event(&out.inform, "M Download", "c-2"));
    assert!(!has_event(&out.inform, "M Download", "c-1"));
    h.advance_secs(7200);
    assert_eq!(h.agent.poll_transfer(h.now), None);
    h.validate();
}

#[test]
fn queued_transfers_are_listed_with_their_state() {
    let mut h = bootstrapped(AgentConfig::default());
    cr_session(
        &mut h,
        vec![
            download("q-wait", CFG, "http://files.example/a", 3600),
            download("q-run", FW, "http://files.example/b", 0),
            upload("q-done", "2 Vendor Log File", "http://files.example/c"),
        ],
    );
    let run = h.job();
    let done = h.job();
    assert!(matches!(run.kind, TransferKind::Download { .. }));
    h.agent.handle_transfer_result(done.id, Ok(vec![]), h.now);
    // HoldRequests keeps the TransferComplete of q-done back while the ACS asks.
    let mut acs = Acs::with_requests([
        cwmp::GetQueuedTransfers {}.into(),
        cwmp::GetAllQueuedTransfers {}.into(),
    ]);
    acs.hold = true;
    let out = h.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    let Body::GetQueuedTransfersResponse(r) = acs.response(0) else {
        panic!()
    };
    let list: Vec<(String, TransferState)> = r
        .transfer_list
        .iter()
        .map(|t| (t.command_key.to_string(), t.state))
        .collect();
    assert_eq!(
        list,
        [
            ("q-wait".to_owned(), TransferState::NotYetStarted),
            ("q-run".to_owned(), TransferState::InProgress),
            ("q-done".to_owned(), TransferState::Completed),
        ]
    );
    let Body::GetAllQueuedTransfersResponse(r) = acs.response(1) else {
        panic!()
    };
    assert_eq!(r.transfer_list.len(), 3);
    assert!(r.transfer_list[0].is_download);
    assert_eq!(r.transfer_list[1].file_type, FW);
    assert!(!r.transfer_list[2].is_download);
    assert_eq!(r.transfer_list[2].file_type, "2 Vendor Log File");
    // The TransferComplete went out after the ACS stopped holding.
    assert_eq!(
        acs.posts,
        [
            "empty",
            "GetQueuedTransfersResponse",
            "GetAllQueuedTransfersResponse",
            "TransferComplete",
            "empty"
        ]
    );
    h.validate();
}

#[test]
fn change_du_state() {
    let mut h = bootstrapped(AgentConfig::default());
    let uuid = "6f1d2a4c-0b1e-4c5d-9a8b-1234567890ab";
    let acs = cr_session(
        &mut h,
        vec![
            cwmp::ChangeDUState {
                operations: vec![
                    cwmp::Operation::Install(cwmp::InstallOpStruct {
                        url: "http://files.example/du/app-1.0.tar".into(),
                        uuid: Some(uuid.into()),
                        username: None,
                        password: None,
                        execution_env_ref: None,
                    }),
                    cwmp::Operation::Update(cwmp::UpdateOpStruct {
                        uuid: Some(uuid.into()),
                        version: None,
                        url: None,
                        username: None,
                        password: None,
                    }),
                    cwmp::Operation::Uninstall(cwmp::UninstallOpStruct {
                        uuid: uuid.into(),
                        version: None,
                        execution_env_ref: None,
                    }),
                ],
                command_key: Some("du-1".into()),
            }
            .into(),
        ],
    );
    assert!(matches!(acs.response(0), Body::ChangeDUStateResponse(_)));
    // The Install's package is downloaded first.
    let job = h.job();
    let TransferKind::Download { url, .. } = &job.kind else {
        panic!()
    };
    assert_eq!(url, "http://files.example/du/app-1.0.tar");
    assert!(!h.due());
    h.agent
        .handle_transfer_result(job.id, Ok(b"package".to_vec()), h.now);
    // The other operations need no download: all done.
    assert_eq!(h.agent.poll_transfer(h.now), None);
    assert!(h.due());
    let mut acs = Acs::default();
    let out = h.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    assert!(has_event(&out.inform, "11 DU STATE CHANGE COMPLETE", ""));
    assert!(has_event(&out.inform, "M ChangeDUState", "du-1"));
    let complete: Vec<_> = acs
        .cpe_requests
        .iter()
        .filter_map(|e| match &e.body {
            Body::DUStateChangeComplete(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(complete.len(), 1);
    assert_eq!(complete[0].command_key.as_deref(), Some("du-1"));
    assert_eq!(complete[0].results.len(), 3);
    assert_eq!(acs.posts, ["DUStateChangeComplete", "empty"]);
    // Delivered.
    h.agent.handle_connection_request(h.now);
    let out = h.session(&mut Acs::default());
    assert_eq!(codes(&out.inform), ["6 CONNECTION REQUEST"]);
    h.validate();
}

#[test]
fn change_du_state_download_failure() {
    let mut h = bootstrapped(AgentConfig::default());
    cr_session(
        &mut h,
        vec![
            cwmp::ChangeDUState {
                operations: vec![
                    cwmp::Operation::Install(cwmp::InstallOpStruct {
                        url: "http://files.example/du/missing.tar".into(),
                        uuid: None,
                        username: None,
                        password: None,
                        execution_env_ref: None,
                    }),
                    cwmp::Operation::Install(cwmp::InstallOpStruct {
                        url: "ftp://files.example/du/other.tar".into(),
                        uuid: None,
                        username: None,
                        password: None,
                        execution_env_ref: None,
                    }),
                ],
                command_key: None,
            }
            .into(),
        ],
    );
    let job = h.job();
    h.agent.handle_transfer_result(
        job.id,
        Err(failure(FaultCode::FILE_TRANSFER_FILE_UNREACHABLE, "404")),
        h.now,
    );
    // The ftp URL fails without a download.
    assert_eq!(h.agent.poll_transfer(h.now), None);
    let mut acs = Acs::default();
    let out = h.session(&mut acs);
    assert!(has_event(&out.inform, "M ChangeDUState", ""));
    let Body::DUStateChangeComplete(c) = &acs.cpe_requests[0].body else {
        panic!()
    };
    assert_eq!(c.results.len(), 2);
    assert_eq!(
        c.results[0].current_state,
        cwmp::DeploymentUnitState::Failed
    );
    assert_eq!(
        c.results[0].fault.fault_code,
        FaultCode::FILE_TRANSFER_FILE_UNREACHABLE
    );
    assert_eq!(
        c.results[1].fault.fault_code,
        FaultCode::UNSUPPORTED_PROTOCOL_FOR_FILE_TRANSFER
    );
    h.validate();
}

#[test]
fn transfers_wait_for_the_end_of_the_session() {
    let mut h = bootstrapped(AgentConfig::default());
    h.agent.handle_connection_request(h.now);
    let inform = h.agent.poll_session(h.now).unwrap();
    h.emitted.push(inform);
    let ir = acs_envelope(
        cwmp::Namespace::Cwmp1_2,
        "i",
        cwmp::InformResponse { max_envelopes: 1 },
        None,
        Some(cwmp::CwmpVersion::V1_4),
    );
    h.agent.handle_response(200, &ir, h.now);
    let dl = acs_envelope(
        cwmp::Namespace::Cwmp1_2,
        "d",
        download("w", CFG, "http://files.example/c", 0),
        None,
        None,
    );
    let step = h.agent.handle_response(200, &dl, h.now);
    let SessionStep::Post(cpe::agent::Post::Response(bytes)) = step else {
        panic!()
    };
    h.emitted.push(bytes);
    assert_eq!(h.agent.poll_transfer(h.now), None);
    assert_eq!(h.agent.handle_response(204, b"", h.now), SessionStep::Done);
    assert!(h.agent.poll_transfer(h.now).is_some());
    let _ = Duration::ZERO;
    h.validate();
}

/// A transfer of the device's own: AutonomousTransferComplete with `10 AUTONOMOUS TRANSFER
/// COMPLETE` in the next session, kept across a failed session and a restart until the ACS
/// acknowledges it; never offered to a CWMP 1.0 ACS.
#[test]
fn autonomous_transfer_complete() {
    let config = AgentConfig::default();
    let mut h = bootstrapped(config.clone());
    assert!(!h.due());
    let transfer = cpe::agent::AutonomousTransfer {
        announce_url: "".into(),
        transfer_url: "http://files.example/fw-9.bin".into(),
        is_download: true,
        file_type: "1 Firmware Upgrade Image".into(),
        file_size: 4096,
        target_file_name: "fw-9.bin".into(),
        fault_code: 0,
        fault_string: "".into(),
        start: h.now,
        complete: h.now.plus_secs(3),
    };
    h.agent.handle_autonomous_transfer(transfer.clone(), h.now);
    assert!(h.due());

    // The ACS fails on the AutonomousTransferComplete: the record stays, through a restart.
    let mut acs = Acs {
        replace: vec![(0, 500, vec![])],
        ..Acs::default()
    };
    let out = h.session(&mut acs);
    assert!(matches!(out.step, SessionStep::Failed(_)), "{:?}", out.step);
    assert!(codes(&out.inform).contains(&"10 AUTONOMOUS TRANSFER COMPLETE".to_owned()));
    assert_eq!(acs.posts, ["AutonomousTransferComplete"]);
    let json = serde_json::to_string(&h.agent.state()).unwrap();
    let t1 = h.now.plus_secs(30);
    let mut h2 = Harness::resume(tree(t1), config, serde_json::from_str(&json).unwrap(), t1);
    let mut acs = Acs::default();
    let out = h2.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    assert!(codes(&out.inform).contains(&"10 AUTONOMOUS TRANSFER COMPLETE".to_owned()));
    let sent: Vec<_> = acs
        .cpe_requests
        .iter()
        .filter_map(|e| match &e.body {
            Body::AutonomousTransferComplete(a) => Some(a.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].transfer_url, "http://files.example/fw-9.bin");
    assert!(sent[0].is_download);
    assert_eq!(sent[0].file_size, 4096);
    assert_eq!(sent[0].fault_struct.fault_code, FaultCode::SUCCESS);
    // Acknowledged: nothing more is owed.
    assert!(!h2.due());
    h.validate();
    h2.validate();

    // A CWMP 1.0-only device has no such method: nothing is due for it.
    let mut h3 = Harness::new(AgentConfig {
        versions: vec![cwmp::CwmpVersion::V1_0],
        ..AgentConfig::default()
    });
    let acs10 = || Acs {
        namespace: cwmp::Namespace::Cwmp1_0,
        use_cwmp_version: None,
        ..Acs::default()
    };
    let out = h3.session(&mut acs10());
    assert!(out.ok(), "{:?}", out.step);
    h3.agent.handle_autonomous_transfer(transfer, h3.now);
    h3.agent.handle_connection_request(h3.now);
    let mut acs = acs10();
    let out = h3.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    assert!(!codes(&out.inform).iter().any(|c| c.starts_with("10 ")));
    assert_eq!(acs.posts, ["empty"]);
    assert!(!h3.due());
    h3.validate();
}

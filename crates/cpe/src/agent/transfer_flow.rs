//! Carrying out transfers (TR-069 A.3.2.8, A.4.1.5, A.4.1.7) and ChangeDUState operations
//! (A.4.1.10): the jobs handed to the embedder, what their results do, ScheduleDownload
//! windows, and the TransferComplete / DUStateChangeComplete records.

use std::borrow::Cow;

use cwmp::{Body, FaultCode, ParameterValue};

use super::transfers::{
    self, DuRecord, PendingFirmware, QueuedTransfer, TransferMethod, TransferPhase, TransferRecord,
};
use super::{
    Agent, TRANSFER_TIMEOUT, TransferFailure, TransferJob, TransferKind, WINDOW_RETRY_DELAY_SECS,
    du, du_result, transfer_fault_allowed,
};
use crate::data_model::DataModel;
use crate::time::Time;

impl<M: DataModel> Agent<M> {
    pub(super) fn job(&mut self, t: &QueuedTransfer, now: Time) -> TransferJob {
        let kind = if t.spec.is_download {
            TransferKind::Download {
                url: t.spec.url.clone(),
                username: t.spec.username.clone(),
                password: t.spec.password.clone(),
                file_size: u64::from(t.spec.file_size),
                max_bytes: transfers::DEFAULT_MAX_BYTES,
            }
        } else {
            let body = if t.spec.file_type.contains("Configuration") {
                self.config_dump(now)
            } else {
                self.log_file(now)
            };
            TransferKind::Upload {
                url: t.spec.url.clone(),
                username: t.spec.username.clone(),
                password: t.spec.password.clone(),
                body,
                content_type: "text/plain; charset=utf-8".into(),
            }
        };
        TransferJob {
            id: t.id,
            kind,
            timeout: TRANSFER_TIMEOUT,
        }
    }

    /// The vendor configuration file: `name<TAB>value` for every parameter (what a
    /// GetParameterValues of the root returns), the format a configuration download
    /// applies.
    fn config_dump(&mut self, now: Time) -> Vec<u8> {
        let root = self.model.root().to_owned();
        let request = Body::GetParameterValues(cwmp::GetParameterValues {
            parameter_names: vec![Cow::Owned(root)],
        });
        let mut out = String::new();
        if let Some(Body::GetParameterValuesResponse(r)) =
            self.model.handle_parameter_rpc(&request, now)
        {
            for p in r.parameter_list {
                let value = p.value.text().replace(['\n', '\r', '\t'], " ");
                out.push_str(&p.name);
                out.push('\t');
                out.push_str(&value);
                out.push('\n');
            }
        }
        out.into_bytes()
    }

    /// A vendor log file: a few plausible lines from what the agent knows.
    fn log_file(&self, now: Time) -> Vec<u8> {
        let software = self
            .model
            .value(
                &format!("{}DeviceInfo.SoftwareVersion", self.model.root()),
                now,
            )
            .map(|v| v.text().into_owned())
            .unwrap_or_default();
        let id = self.model.device_id();
        let stamp = now.to_datetime();
        let boot = self.periodic_ref.to_datetime();
        format!(
            "{boot} kernel: booting {} {} firmware {software}\n\
             {stamp} cwmp: serial {} oui {}\n\
             {stamp} cwmp: sessions ok {} failed {}, informs {}\n\
             {stamp} cwmp: ACS requests handled {}\n\
             {stamp} cwmp: transfers ok {} failed {}\n",
            id.manufacturer,
            id.product_class,
            id.serial_number,
            id.oui,
            self.stats.sessions_ok,
            self.stats.sessions_failed,
            self.stats.informs,
            self.stats.rpcs_handled,
            self.stats.transfers_ok,
            self.stats.transfers_failed,
        )
        .into_bytes()
    }

    /// A finished transfer: the TransferComplete record, a firmware to apply at the next
    /// boot, or (ScheduleDownload) another attempt.
    pub(super) fn transfer_done(
        &mut self,
        mut t: QueuedTransfer,
        result: Result<Vec<u8>, TransferFailure>,
        now: Time,
    ) {
        let started = match t.phase {
            TransferPhase::InProgress { started } => started,
            TransferPhase::Queued => now,
        };
        let result = result.and_then(|file| {
            if t.spec.is_download
                && t.spec.file_size != 0
                && file.len() as u64 != u64::from(t.spec.file_size)
            {
                Err(TransferFailure {
                    code: FaultCode::FILE_TRANSFER_FILE_CORRUPTED,
                    message: format!(
                        "{} bytes received, {} announced",
                        file.len(),
                        t.spec.file_size
                    ),
                })
            } else {
                Ok(file)
            }
        });
        let mut record = TransferRecord {
            id: t.id,
            method: t.method,
            command_key: t.command_key.clone(),
            spec: t.spec.clone(),
            fault_code: 0,
            fault_string: String::new(),
            start: started,
            complete: now,
        };
        match result {
            Ok(file) => {
                self.stats.transfers_ok += 1;
                if t.spec.is_download && t.spec.file_type.trim() == transfers::FIRMWARE {
                    match transfers::firmware_version(&file, &t.spec.url, &t.spec.target_file_name)
                    {
                        Some(version) => {
                            // Applied by the reboot the image implies (TR-069 A.3.2.8:
                            // TransferComplete after the new image runs).
                            self.state.pending_boot.firmware =
                                Some(PendingFirmware { version, record });
                            if self.session.is_none() && self.reboot_until.is_none() {
                                self.start_reboot(now);
                            }
                            return;
                        }
                        None => {
                            record.fault_code = FaultCode::FILE_TRANSFER_FILE_CORRUPTED.0;
                            record.fault_string = "the image names no version".into();
                        }
                    }
                } else if t.spec.is_download
                    && t.spec
                        .file_type
                        .trim()
                        .starts_with(transfers::VENDOR_CONFIG)
                {
                    self.apply_config(&file, now);
                }
            }
            Err(failure) => {
                self.stats.transfers_failed += 1;
                let code = if transfer_fault_allowed(failure.code) {
                    failure.code
                } else {
                    t.method.generic_fault()
                };
                if t.method == TransferMethod::ScheduleDownload {
                    t.last_failure = Some((code.0, transfers::fault_string(&failure.message)));
                    if let Some(retry_at) = self.window_retry(&mut t, now) {
                        t.due = retry_at;
                        t.phase = TransferPhase::Queued;
                        self.state.transfers.push(t);
                        return;
                    }
                }
                record.fault_code = code.0;
                record.fault_string = transfers::fault_string(&failure.message);
            }
        }
        self.push_record(record);
    }

    /// After a failed ScheduleDownload attempt: when the next one may start (within the
    /// window's MaxRetries, else in the next window), or `None` when none is left.
    fn window_retry(&self, t: &mut QueuedTransfer, now: Time) -> Option<Time> {
        t.attempts = t.attempts.saturating_add(1);
        let retry = now.plus_secs(WINDOW_RETRY_DELAY_SECS);
        if let Some(w) = t.open_window(now)
            && t.attempts < w.attempts()
            && retry <= w.end
        {
            return Some(retry);
        }
        // The next usable window after the current one.
        let next = t
            .windows
            .iter()
            .filter(|w| w.mode.usable() && w.start > now)
            .map(|w| w.start)
            .min()?;
        t.attempts = 0;
        Some(next)
    }

    /// ScheduleDownloads left without a usable window (all passed, or only windows nobody
    /// can confirm) end with 9020, or the last attempt's fault.
    pub(super) fn expire_windows(&mut self, now: Time) {
        let (expired, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.state.transfers)
            .into_iter()
            .partition(|t| {
                t.phase == TransferPhase::Queued
                    && !t.after_session
                    && !t.windows.is_empty()
                    && t.next_start(now).is_none()
            });
        self.state.transfers = kept;
        for t in expired {
            let (code, message) = t.last_failure.clone().unwrap_or((
                FaultCode::FILE_TRANSFER_WINDOW_EXCEEDED.0,
                "no time window allowed the download".to_owned(),
            ));
            let record = TransferRecord {
                id: t.id,
                method: t.method,
                command_key: t.command_key,
                spec: t.spec,
                fault_code: code,
                fault_string: message,
                start: now,
                complete: now,
            };
            self.push_record(record);
        }
    }

    fn push_record(&mut self, record: TransferRecord) {
        self.state.transfer_completes.push(record);
        // A new `7 TRANSFER COMPLETE`: a session is due at once.
        self.state.retry_at = None;
    }

    /// A vendor configuration file: each `name<TAB or =>value` line sets a parameter as
    /// the device would; other lines are ignored.
    fn apply_config(&mut self, file: &[u8], now: Time) {
        let text = String::from_utf8_lossy(file);
        let root = self.model.root().to_owned();
        let lines: Vec<(String, String)> = transfers::config_lines(&text, &root)
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        for (name, value) in lines {
            self.model
                .set_value(&name, ParameterValue::String(Cow::Owned(value)), now);
        }
    }

    /// Carries out the ChangeDUState operations that need no download, and finishes the
    /// changes whose operations are all done (DUStateChangeComplete, TR-069 A.4.2.3).
    pub(super) fn advance_du(&mut self, now: Time) {
        loop {
            let Some(change) = self.state.du_changes.first_mut() else {
                return;
            };
            if change.after_session || change.job.is_some() {
                return;
            }
            match change.ops.get(change.results.len()).cloned() {
                Some(op) => {
                    let result = if let Some((url, _, _)) = op.download() {
                        match transfers::check_url(&url) {
                            // poll_transfer downloads it.
                            Ok(()) => return,
                            Err(code) => du::failed(
                                op.uuid(),
                                code,
                                "unsupported URL for the deployment unit",
                                now,
                                now,
                            ),
                        }
                    } else if let Some(s) = op.update_struct() {
                        du::update(&mut self.model, &s, None, now, now)
                    } else if let Some(s) = op.uninstall_struct() {
                        du::uninstall(&mut self.model, &s, now, now)
                    } else {
                        du::failed(op.uuid(), FaultCode::INTERNAL_ERROR, "", now, now)
                    };
                    if let Some(change) = self.state.du_changes.first_mut() {
                        change.results.push(du_result(&result, &mut self.rng));
                    }
                }
                None => {
                    let change = self.state.du_changes.remove(0);
                    self.state.du_completes.push(DuRecord {
                        id: change.id,
                        command_key: change.command_key,
                        results: change.results,
                    });
                    self.state.retry_at = None;
                }
            }
        }
    }
}

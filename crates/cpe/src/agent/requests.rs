//! The ACS's requests to the CPE (TR-069 A.3.2, A.4.1) beyond the parameter methods the
//! data model answers: Reboot, FactoryReset, Download, Upload, ScheduleInform,
//! ScheduleDownload, CancelTransfer, Get(All)QueuedTransfers, ChangeDUState, GetRPCMethods;
//! GetOptions, SetVouchers and anything else answer 9000.

use std::borrow::Cow;

use cwmp::{
    AllQueuedTransferStruct, Body, Envelope, FaultCode, Namespace, QueuedTransferStruct,
    TransferState, TransferStatus,
};

use super::transfers::{
    self, DuChange, DuOp, QueuedTransfer, TransferMethod, TransferPhase, TransferSpec, Window,
    WindowMode,
};
use super::{Agent, MAX_PENDING, ScheduledInform, fault, session};
use crate::data_model::DataModel;
use crate::time::Time;

impl<M: DataModel> Agent<M> {
    pub(super) fn handle_acs_request(&mut self, request: &Body<'_>, now: Time) -> Body<'static> {
        self.count_rpc(request.name());
        let namespace = self
            .session
            .as_ref()
            .map_or(Namespace::Cwmp1_0, |s| s.namespace);
        if request.since() > namespace {
            // Not a method of the session's version (its response could not be written).
            return fault(
                FaultCode::METHOD_NOT_SUPPORTED,
                format!("{} is not part of {namespace}", request.name()),
            );
        }
        if let Some(response) = self.model.handle_parameter_rpc(request, now) {
            return response;
        }
        match request {
            Body::GetRPCMethods(_) => cwmp::GetRPCMethodsResponse {
                method_list: session::supported_methods(namespace)
                    .into_iter()
                    .map(Cow::Borrowed)
                    .collect(),
            }
            .into(),
            Body::Reboot(r) => {
                let Some(session) = self.session.as_mut() else {
                    return fault(FaultCode::INTERNAL_ERROR, "no session");
                };
                let key = r.command_key.to_string();
                if session.reboot_keys.len() >= MAX_PENDING {
                    return fault(FaultCode::RESOURCES_EXCEEDED, "too many Reboot requests");
                }
                if !session.reboot_keys.contains(&key) {
                    session.reboot_keys.push(key);
                }
                cwmp::RebootResponse {}.into()
            }
            Body::FactoryReset(_) => {
                if let Some(session) = self.session.as_mut() {
                    session.factory_reset = true;
                }
                cwmp::FactoryResetResponse {}.into()
            }
            Body::Download(d) => self.download(d, now),
            Body::Upload(u) => self.upload(u, now),
            Body::ScheduleInform(s) => {
                if self.state.scheduled_informs.len() >= MAX_PENDING {
                    return fault(FaultCode::RESOURCES_EXCEEDED, "too many scheduled informs");
                }
                self.state.scheduled_informs.push(ScheduledInform {
                    at: now.plus_secs(u64::from(s.delay_seconds)),
                    command_key: s.command_key.to_string(),
                });
                cwmp::ScheduleInformResponse {}.into()
            }
            Body::ScheduleDownload(s) => self.schedule_download(s, now),
            Body::CancelTransfer(c) => self.cancel_transfer(&c.command_key),
            Body::GetQueuedTransfers(_) => cwmp::GetQueuedTransfersResponse {
                transfer_list: self
                    .queued_list()
                    .into_iter()
                    .map(|(key, state, _)| QueuedTransferStruct {
                        command_key: Cow::Owned(key),
                        state,
                    })
                    .collect(),
            }
            .into(),
            Body::GetAllQueuedTransfers(_) => self.all_queued_transfers(namespace),
            Body::ChangeDUState(c) => {
                if self.state.du_changes.len() + self.state.du_completes.len() >= MAX_PENDING {
                    return fault(
                        FaultCode::RESOURCES_EXCEEDED,
                        "too many ChangeDUState requests",
                    );
                }
                let id = self.state.take_id();
                self.state.du_changes.push(DuChange {
                    id,
                    command_key: c.command_key.as_ref().map(|k| k.to_string()),
                    ops: c.operations.iter().map(DuOp::from_operation).collect(),
                    results: Vec::new(),
                    job: None,
                    after_session: true,
                });
                cwmp::ChangeDUStateResponse {}.into()
            }
            // GetOptions, SetVouchers and anything else: not implemented (TR-069 A.4.1:
            // optional methods; notes §3.3 rule 7).
            other => fault(
                FaultCode::METHOD_NOT_SUPPORTED,
                format!("{} is not supported", other.name()),
            ),
        }
    }

    /// Transfers queued, in progress and completed-not-yet-delivered (with their State 1, 2
    /// and 3), at most 16.
    fn queued_list(&self) -> Vec<(String, TransferState, TransferSpec)> {
        let active = self.state.transfers.iter().map(|t| {
            let state = match t.phase {
                TransferPhase::Queued => TransferState::NotYetStarted,
                TransferPhase::InProgress { .. } => TransferState::InProgress,
            };
            (t.command_key.clone(), state, t.spec.clone())
        });
        let done = self.state.transfer_completes.iter().map(|r| {
            (
                r.command_key.clone(),
                TransferState::Completed,
                r.spec.clone(),
            )
        });
        let firmware = self.state.pending_boot.firmware.iter().map(|f| {
            (
                f.record.command_key.clone(),
                TransferState::Completed,
                f.record.spec.clone(),
            )
        });
        active
            .chain(firmware)
            .chain(done)
            .take(transfers::MAX_TRANSFERS)
            .collect()
    }

    fn all_queued_transfers(&self, namespace: Namespace) -> Body<'static> {
        let transfer_list = self
            .queued_list()
            .into_iter()
            .map(|(key, state, spec)| AllQueuedTransferStruct {
                command_key: Cow::Owned(key),
                state,
                is_download: spec.is_download,
                file_type: Cow::Owned(spec.file_type),
                file_size: spec.file_size,
                target_file_name: Cow::Owned(spec.target_file_name),
            })
            // A FileType the namespace's schema does not know cannot be listed.
            .filter(|entry| {
                Envelope::new(
                    namespace,
                    None,
                    cwmp::GetAllQueuedTransfersResponse {
                        transfer_list: vec![entry.clone()],
                    },
                )
                .validate()
                .is_ok()
            })
            .collect();
        cwmp::GetAllQueuedTransfersResponse { transfer_list }.into()
    }

    fn transfers_full(&self) -> bool {
        self.state.transfers.len()
            + self.state.transfer_completes.len()
            + usize::from(self.state.pending_boot.firmware.is_some())
            >= transfers::MAX_TRANSFERS
    }

    fn download(&mut self, d: &cwmp::Download<'_>, now: Time) -> Body<'static> {
        if let Err(code) = transfers::check_url(&d.url) {
            return fault(code, format!("cannot download from {:?}", &*d.url));
        }
        if self.transfers_full() {
            return fault(FaultCode::RESOURCES_EXCEEDED, "the transfer queue is full");
        }
        let id = self.state.take_id();
        self.state.transfers.push(QueuedTransfer {
            id,
            method: TransferMethod::Download,
            command_key: d.command_key.to_string(),
            spec: TransferSpec {
                is_download: true,
                file_type: d.file_type.to_string(),
                url: d.url.trim().to_owned(),
                username: d.username.to_string(),
                password: d.password.to_string(),
                file_size: d.file_size,
                target_file_name: d.target_file_name.to_string(),
            },
            due: now.plus_secs(u64::from(d.delay_seconds)),
            after_session: true,
            windows: Vec::new(),
            attempts: 0,
            last_failure: None,
            phase: TransferPhase::Queued,
        });
        // Status 1: completion comes in a TransferComplete (TR-069 A.3.2.8).
        cwmp::DownloadResponse {
            status: TransferStatus::Pending,
            start_time: cwmp::DateTime::UNKNOWN,
            complete_time: cwmp::DateTime::UNKNOWN,
        }
        .into()
    }

    fn upload(&mut self, u: &cwmp::Upload<'_>, now: Time) -> Body<'static> {
        let file_type = u.file_type.trim();
        let known = ["1 Vendor Configuration File", "2 Vendor Log File"].contains(&file_type)
            || file_type.starts_with("3 Vendor Configuration File ")
            || file_type.starts_with("4 Vendor Log File ");
        if !known {
            return fault(
                FaultCode::INVALID_ARGUMENTS,
                format!("cannot upload a {file_type:?}"),
            );
        }
        if let Err(code) = transfers::check_url(&u.url) {
            return fault(code, format!("cannot upload to {:?}", &*u.url));
        }
        if self.transfers_full() {
            return fault(FaultCode::RESOURCES_EXCEEDED, "the transfer queue is full");
        }
        let id = self.state.take_id();
        self.state.transfers.push(QueuedTransfer {
            id,
            method: TransferMethod::Upload,
            command_key: u.command_key.to_string(),
            spec: TransferSpec {
                is_download: false,
                file_type: file_type.to_owned(),
                url: u.url.trim().to_owned(),
                username: u.username.to_string(),
                password: u.password.to_string(),
                file_size: 0,
                target_file_name: String::new(),
            },
            due: now.plus_secs(u64::from(u.delay_seconds)),
            after_session: true,
            windows: Vec::new(),
            attempts: 0,
            last_failure: None,
            phase: TransferPhase::Queued,
        });
        cwmp::UploadResponse {
            status: TransferStatus::Pending,
            start_time: cwmp::DateTime::UNKNOWN,
            complete_time: cwmp::DateTime::UNKNOWN,
        }
        .into()
    }

    fn schedule_download(&mut self, s: &cwmp::ScheduleDownload<'_>, now: Time) -> Body<'static> {
        if let Err(code) = transfers::check_url(&s.url) {
            return fault(code, format!("cannot download from {:?}", &*s.url));
        }
        // TR-069 A.4.1.7: one or two windows, each ending after it starts, the second
        // starting after the first ends.
        let windows = &s.time_window_list;
        if windows.is_empty() || windows.len() > 2 {
            return fault(FaultCode::INVALID_ARGUMENTS, "one or two time windows");
        }
        if windows.iter().any(|w| w.window_end < w.window_start) {
            return fault(
                FaultCode::INVALID_ARGUMENTS,
                "a window ends before it starts",
            );
        }
        if let (Some(a), Some(b)) = (windows.first(), windows.get(1))
            && b.window_start < a.window_end
        {
            return fault(FaultCode::INVALID_ARGUMENTS, "the time windows overlap");
        }
        if self.transfers_full() {
            return fault(FaultCode::RESOURCES_EXCEEDED, "the transfer queue is full");
        }
        let id = self.state.take_id();
        self.state.transfers.push(QueuedTransfer {
            id,
            method: TransferMethod::ScheduleDownload,
            command_key: s.command_key.to_string(),
            spec: TransferSpec {
                is_download: true,
                file_type: s.file_type.to_string(),
                url: s.url.trim().to_owned(),
                username: s.username.to_string(),
                password: s.password.to_string(),
                file_size: s.file_size,
                target_file_name: s.target_file_name.to_string(),
            },
            due: now,
            after_session: true,
            windows: windows
                .iter()
                .map(|w| Window {
                    start: now.plus_secs(u64::from(w.window_start)),
                    end: now.plus_secs(u64::from(w.window_end)),
                    mode: WindowMode::parse(&w.window_mode),
                    max_retries: w.max_retries,
                })
                .collect(),
            attempts: 0,
            last_failure: None,
            phase: TransferPhase::Queued,
        });
        cwmp::ScheduleDownloadResponse {}.into()
    }

    /// CancelTransfer (TR-069 A.4.1.8): only transfers not yet started can be cancelled;
    /// no TransferComplete follows for them.
    fn cancel_transfer(&mut self, command_key: &str) -> Body<'static> {
        let started = self.state.transfers.iter().any(|t| {
            t.command_key == command_key && matches!(t.phase, TransferPhase::InProgress { .. })
        }) || self
            .state
            .transfer_completes
            .iter()
            .any(|r| r.command_key == command_key)
            || self
                .state
                .pending_boot
                .firmware
                .as_ref()
                .is_some_and(|f| f.record.command_key == command_key);
        if started {
            return fault(
                FaultCode::CANCELATION_NOT_PERMITTED,
                format!("the transfer {command_key:?} has started"),
            );
        }
        let before = self.state.transfers.len();
        self.state
            .transfers
            .retain(|t| t.command_key != command_key);
        if self.state.transfers.len() == before {
            return fault(
                FaultCode::INVALID_ARGUMENTS,
                format!("no transfer has the CommandKey {command_key:?}"),
            );
        }
        cwmp::CancelTransferResponse {}.into()
    }
}

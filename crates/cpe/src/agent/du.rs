//! Deployment units (ChangeDUState, TR-069 §A.4.1.14 / Annex H, TR-181
//! `Device.SoftwareModules.`): install, update and uninstall applied to the data model.
//!
//! WORK IN PROGRESS (issue 4): signatures pinned, behaviour not written yet.

use cwmp::{FaultCode, InstallOpStruct, OpResultStruct, UninstallOpStruct, UpdateOpStruct};

use crate::data_model::DataModel;
use crate::time::Time;

/// Installs the package `file` downloaded from `op.url` (started at `started`): a new
/// `DeploymentUnit` (and its `ExecutionUnit`) in the tree, or a fault (e.g. 9026 duplicate
/// deployment unit, 9023 unknown execution environment, 9031/9032 ...).
pub fn install<M: DataModel + ?Sized>(
    _model: &mut M,
    op: &InstallOpStruct<'_>,
    _file: &[u8],
    started: Time,
    now: Time,
) -> OpResultStruct<'static> {
    failed(
        op.uuid.as_deref().unwrap_or(""),
        FaultCode::INTERNAL_ERROR,
        "not built yet",
        started,
        now,
    )
}

/// Updates the deployment unit `op` names (UUID, or all with an empty UUID...) with
/// `file` (downloaded from `op.url`, or `None` when the op has no URL).
pub fn update<M: DataModel + ?Sized>(
    _model: &mut M,
    op: &UpdateOpStruct<'_>,
    _file: Option<&[u8]>,
    started: Time,
    now: Time,
) -> OpResultStruct<'static> {
    failed(
        op.uuid.as_deref().unwrap_or(""),
        FaultCode::INTERNAL_ERROR,
        "not built yet",
        started,
        now,
    )
}

/// Uninstalls the deployment unit `op` names.
pub fn uninstall<M: DataModel + ?Sized>(
    _model: &mut M,
    op: &UninstallOpStruct<'_>,
    started: Time,
    now: Time,
) -> OpResultStruct<'static> {
    failed(&op.uuid, FaultCode::INTERNAL_ERROR, "not built yet", started, now)
}

/// The result of an operation that failed before it reached the tree (its download failed,
/// say): `CurrentState` `Failed`, the fault.
pub fn failed(
    uuid: &str,
    code: FaultCode,
    message: &str,
    started: Time,
    now: Time,
) -> OpResultStruct<'static> {
    OpResultStruct {
        uuid: uuid.to_owned().into(),
        deployment_unit_ref: "".into(),
        version: "".into(),
        current_state: cwmp::DeploymentUnitState::Failed,
        resolved: false,
        execution_unit_ref_list: "".into(),
        start_time: started.to_datetime(),
        complete_time: now.to_datetime(),
        fault: cwmp::DeploymentUnitFaultStruct {
            fault_code: code,
            fault_string: Some(message.to_owned().into()),
        },
    }
}

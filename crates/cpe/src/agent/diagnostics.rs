//! IP diagnostics as a simulated device runs them (TR-181 `Device.IP.Diagnostics.`,
//! TR-098 `InternetGatewayDevice.IPPingDiagnostics.` ...): the ACS sets `DiagnosticsState`
//! to `Requested`; after the session the agent calls [`complete`], then informs with
//! `8 DIAGNOSTICS COMPLETE` (TR-069 §A.3.2.1 note on diagnostics, notes §4.4).
//!
//! WORK IN PROGRESS (issue 4): signature pinned, results not written yet.

use crate::data_model::DataModel;
use crate::time::Time;

/// Runs the diagnostic whose `DiagnosticsState` parameter is `state_param` (full name, as
/// [`DataModel::requested_diagnostics`] gives it): writes plausible results derived from
/// the test parameters and `seed`, and the final `DiagnosticsState` (`Complete`, or an
/// `Error_...` value such as `Error_CannotResolveHostName` for an empty or unresolvable
/// host). Returns `false` when `state_param` names no diagnostic this module knows (the
/// agent then sets it to `Error_Internal`... or leaves it).
pub fn complete<M: DataModel + ?Sized>(
    _model: &mut M,
    _state_param: &str,
    _seed: u64,
    _now: Time,
) -> bool {
    false
}

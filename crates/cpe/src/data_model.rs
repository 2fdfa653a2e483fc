//! What the agent needs of a device's parameters. [`crate::tree::Tree`] implements it; the
//! agent is written against this trait so that it can be tested with a small fake, and so
//! that an embedder can put a real device's parameters behind it.

use std::borrow::Cow;

use cwmp::{Body, DeviceIdStruct, ParameterValue, ParameterValueStruct};

use crate::time::Time;

/// A device's parameters, as the agent uses them.
pub trait DataModel {
    /// The root object: `Device.` or `InternetGatewayDevice.`.
    fn root(&self) -> &str;

    /// Answers one of the ACS's parameter methods — GetParameterNames, GetParameterValues,
    /// SetParameterValues, GetParameterAttributes, SetParameterAttributes, AddObject,
    /// DeleteObject — with its response, or with the CWMP fault (`Body::Fault`) TR-069
    /// prescribes. `None` when `request` is not one of these methods.
    fn handle_parameter_rpc(&mut self, request: &Body<'_>, now: Time) -> Option<Body<'static>>;

    /// The current value of a parameter (full name), as GetParameterValues would give it.
    fn value(&self, path: &str, now: Time) -> Option<ParameterValue<'static>>;

    /// A change made by the device itself (a new firmware version, diagnostics results, a
    /// local user): no writability check. When the parameter's notification attribute is
    /// passive or active the change is remembered for the next Inform. `false` if the
    /// parameter does not exist.
    fn set_value(&mut self, path: &str, value: ParameterValue<'static>, now: Time) -> bool;

    /// Creates an instance of a table (`Device.SoftwareModules.DeploymentUnit.`) on the
    /// device's own initiative; its instance number.
    fn add_instance(&mut self, table: &str, now: Time) -> Option<u32>;

    /// Deletes an instance (`Device.SoftwareModules.DeploymentUnit.2.`) on the device's own
    /// initiative; `false` if it does not exist.
    fn delete_instance(&mut self, object: &str, now: Time) -> bool;

    /// The ParameterList of the next Inform: the forced-inform parameters (TR-069 §3.7.1.5,
    /// notes §4.5), then every parameter changed by the device since the last successful
    /// Inform whose notification is passive or active.
    fn inform_parameters(&self, now: Time) -> Vec<ParameterValueStruct<'static>>;

    /// Whether a parameter with active notification changed since the last successful
    /// Inform (which makes the agent open a `4 VALUE CHANGE` session), and whether any
    /// passive or active one did (which adds `4 VALUE CHANGE` to the next Inform).
    fn pending_changes(&self) -> PendingChanges;

    /// The Inform carrying the changes was answered: forget them.
    fn clear_changes(&mut self);

    /// Factory reset: back to the factory values (identity kept, ParameterKey empty,
    /// attributes reset, instances created since gone).
    fn factory_reset(&mut self, now: Time);

    /// The device booted at `now` (UpTime starts again from 0).
    fn reboot(&mut self, now: Time);

    /// The `DiagnosticsState` parameters (full names) the ACS set to `Requested`: the
    /// diagnostics the agent runs after the session. None by default.
    fn requested_diagnostics(&self) -> Vec<String> {
        Vec::new()
    }

    /// The instance numbers of a table (`Device.SoftwareModules.DeploymentUnit.`),
    /// ascending; `None` if it is not a table of the device.
    fn instance_numbers(&self, table: &str) -> Option<Vec<u32>>;

    /// The Inform's `DeviceId` (TR-069 A.3.3.1): by default the four `DeviceInfo`
    /// parameters it must equal (notes §6.3).
    fn device_id(&self) -> DeviceIdStruct<'static> {
        let text = |name: &str| {
            let path = format!("{}DeviceInfo.{name}", self.root());
            Cow::Owned(
                self.value(&path, Time(0))
                    .map(|v| v.text().into_owned())
                    .unwrap_or_default(),
            )
        };
        DeviceIdStruct {
            manufacturer: text("Manufacturer"),
            oui: text("ManufacturerOUI"),
            product_class: text("ProductClass"),
            serial_number: text("SerialNumber"),
        }
    }

    /// A `ManagementServer` parameter by its name relative to that object (`URL`,
    /// `PeriodicInformInterval`, `CWMPRetryMinimumWaitInterval` ...), for the device's own
    /// use. By default [`DataModel::value`] of `<root>ManagementServer.<name>`.
    fn management_value(&self, name: &str, now: Time) -> Option<ParameterValue<'static>> {
        self.value(&format!("{}ManagementServer.{name}", self.root()), now)
    }

    /// Parameters the ACS asked to see in Informs carrying one of `events` (TR-181
    /// `ManagementServer.InformParameter.{i}`), beyond [`DataModel::inform_parameters`].
    /// None by default.
    fn inform_parameter_extras(
        &self,
        events: &[&str],
        now: Time,
    ) -> Vec<ParameterValueStruct<'static>> {
        let _ = (events, now);
        Vec::new()
    }
}

/// Changes awaiting an Inform.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingChanges {
    /// A parameter with passive or active notification changed.
    pub any: bool,
    /// A parameter with active notification changed.
    pub active: bool,
}

//! Hand-written, fully populated sample messages: every optional field set, arrays not
//! empty, text that needs escaping (`&`, `<`, `"`), non-ASCII (é, €, 𝄞), a CR, and
//! realistic TR-181 paths. Each function returns the sample valid in the schema of `ns`
//! (event codes, file types, fault codes and notifications differ between namespaces);
//! a message that does not exist in `ns` is still returned, so that encoding it can be
//! checked to fail.

use std::borrow::Cow;

use cwmp::{
    AddObject, AddObjectResponse, AllQueuedTransferStruct, ApplyStatus, ArgStruct,
    AutonOpResultStruct, AutonomousDUStateChangeComplete, AutonomousDUStateChangeCompleteResponse,
    AutonomousTransferComplete, AutonomousTransferCompleteResponse, Body, CancelTransfer,
    CancelTransferResponse, ChangeDUState, ChangeDUStateResponse, CwmpFault, CwmpVersion,
    DUStateChangeComplete, DUStateChangeCompleteResponse, DateTime, DeleteObject,
    DeleteObjectResponse, DeploymentUnitFaultStruct, DeploymentUnitState, DeviceIdStruct, Download,
    DownloadResponse, Envelope, EventStruct, FactoryReset, FactoryResetResponse, Fault, FaultCode,
    GetAllQueuedTransfers, GetAllQueuedTransfersResponse, GetOptions, GetOptionsResponse,
    GetParameterAttributes, GetParameterAttributesResponse, GetParameterNames,
    GetParameterNamesResponse, GetParameterValues, GetParameterValuesResponse, GetQueuedTransfers,
    GetQueuedTransfersResponse, GetRPCMethods, GetRPCMethodsResponse, Header, Inform,
    InformResponse, InstallOpStruct, Kicked, KickedResponse, Namespace, Notification,
    OpResultStruct, Operation, OptionStruct, ParameterAttributeStruct, ParameterInfoStruct,
    ParameterValue, ParameterValueStruct, QueuedTransferStruct, Reboot, RebootResponse,
    RequestDownload, RequestDownloadResponse, ScheduleDownload, ScheduleDownloadResponse,
    ScheduleInform, ScheduleInformResponse, SetParameterAttributes, SetParameterAttributesResponse,
    SetParameterAttributesStruct, SetParameterValues, SetParameterValuesFault,
    SetParameterValuesResponse, SetVouchers, SetVouchersResponse, SoapFaultCode, TimeWindowStruct,
    TransferComplete, TransferCompleteFaultStruct, TransferCompleteResponse, TransferState,
    TransferStatus, UninstallOpStruct, UpdateOpStruct, Upload, UploadResponse, Voucher,
};

type S = Cow<'static, str>;

fn s(text: &'static str) -> S {
    Cow::Borrowed(text)
}

fn time(text: &str) -> DateTime {
    DateTime::parse(text).unwrap_or_else(|e| panic!("bad sample time {text}: {e}"))
}

/// A string that needs every kind of escaping: markup characters, quotes, non-ASCII in the
/// BMP and beyond it, a CR (which must survive as `&#13;`), LF and TAB. 34 characters.
pub const TRICKY: &str = "R&D <lab> \"x\" 'y' é€𝄞中\r\nline\ttab";

/// A CommandKey (at most 32 characters) that needs escaping.
pub const COMMAND_KEY: &str = "ck&<\"é€𝄞\r\n\t> 42";

/// A ParameterKey (at most 32 characters) that needs escaping.
pub const PARAMETER_KEY: &str = "pk:2024-05-01&<rev=\"7\"> é";

const UUID: &str = "3f2504e0-4F89-11d3-9A0C-0305e82c3301";
const UUID2: &str = "6BA7B810-9DAD-11D1-80B4-00C04FD430C8";

/// A ParameterValueStruct of every variant of [`ParameterValue`], `Other` with
/// `xsd:decimal`.
pub fn every_value() -> Vec<ParameterValueStruct<'static>> {
    vec![
        ParameterValueStruct::new(
            "Device.DeviceInfo.Description",
            ParameterValue::String(s(TRICKY)),
        ),
        ParameterValueStruct::new("Device.WiFi.SSID.1.SSID", ParameterValue::String(s(""))),
        ParameterValueStruct::new("Device.WiFi.Radio.1.TransmitPower", ParameterValue::Int(-1)),
        ParameterValueStruct::new(
            "Device.ManagementServer.PeriodicInformInterval",
            ParameterValue::UnsignedInt(4_294_967_295),
        ),
        ParameterValueStruct::new(
            "Device.DeviceInfo.X_00D09E_ClockOffset",
            ParameterValue::Long(i64::MIN),
        ),
        ParameterValueStruct::new(
            "Device.Ethernet.Interface.1.Stats.BytesSent",
            ParameterValue::UnsignedLong(u64::MAX),
        ),
        ParameterValueStruct::new(
            "Device.ManagementServer.EnableCWMP",
            ParameterValue::Boolean(true),
        ),
        ParameterValueStruct::new(
            "Device.WiFi.AccessPoint.1.Enable",
            ParameterValue::Boolean(false),
        ),
        ParameterValueStruct::new(
            "Device.ManagementServer.PeriodicInformTime",
            ParameterValue::DateTime(time("2024-05-01T12:00:00.123456789Z")),
        ),
        ParameterValueStruct::new(
            "Device.Time.CurrentLocalTime",
            ParameterValue::DateTime(DateTime::UNKNOWN),
        ),
        ParameterValueStruct::new(
            "Device.DeviceInfo.X_00D09E_Certificate",
            ParameterValue::Base64(vec![0x30, 0x82, 0x01, 0x0a, 0x00, 0xfe, 0xff]),
        ),
        ParameterValueStruct::new(
            "Device.DeviceInfo.X_00D09E_Key",
            ParameterValue::HexBinary(vec![0x00, 0xd0, 0x9e, 0xab, 0xcd, 0xef]),
        ),
        ParameterValueStruct::new(
            "Device.DeviceInfo.ProcessStatus.X_00D09E_LoadAverage",
            ParameterValue::Other {
                xsi_type: s("xsd:decimal"),
                text: s("-12.50"),
            },
        ),
        ParameterValueStruct::new(
            "Device.Users.User.[admin&<é>].Username",
            ParameterValue::String(s("admin")),
        ),
    ]
}

/// Parameters of an Inform: the forced ones of TR-181 and a few changed ones.
fn inform_parameters() -> Vec<ParameterValueStruct<'static>> {
    vec![
        ParameterValueStruct::new(
            "Device.RootDataModelVersion",
            ParameterValue::String(s("2.17")),
        ),
        ParameterValueStruct::new(
            "Device.DeviceInfo.HardwareVersion",
            ParameterValue::String(s("HW 1.0 «rev B»")),
        ),
        ParameterValueStruct::new(
            "Device.DeviceInfo.SoftwareVersion",
            ParameterValue::String(s("3.0.21 & <beta>")),
        ),
        ParameterValueStruct::new(
            "Device.DeviceInfo.ProvisioningCode",
            ParameterValue::String(s("")),
        ),
        ParameterValueStruct::new(
            "Device.ManagementServer.ParameterKey",
            ParameterValue::String(s(PARAMETER_KEY)),
        ),
        ParameterValueStruct::new(
            "Device.ManagementServer.ConnectionRequestURL",
            ParameterValue::String(s("http://192.0.2.10:7547/cr?id=8f3a&x=\"1\"")),
        ),
        ParameterValueStruct::new(
            "Device.ManagementServer.AliasBasedAddressing",
            ParameterValue::Boolean(false),
        ),
        ParameterValueStruct::new(
            "Device.DeviceInfo.UpTime",
            ParameterValue::UnsignedInt(86_400),
        ),
        ParameterValueStruct::new(
            "Device.DeviceInfo.FirstUseDate",
            ParameterValue::DateTime(time("2023-12-31T23:59:59.5Z")),
        ),
        ParameterValueStruct::new(
            "Device.DeviceInfo.Location.1.X_00D09E_Altitude",
            ParameterValue::Other {
                xsi_type: s("xsd:decimal"),
                text: s("123.456"),
            },
        ),
    ]
}

fn download_file_type(ns: Namespace) -> S {
    match ns {
        Namespace::Cwmp1_0 | Namespace::Cwmp1_1 => s("1 Firmware Upgrade Image"),
        Namespace::Cwmp1_2 => s("6 Stored Firmware Image"),
    }
}

fn vendor_download_file_type(ns: Namespace) -> S {
    match ns {
        Namespace::Cwmp1_0 | Namespace::Cwmp1_1 => s("X 00D09E Voice <Profile> & é€"),
        Namespace::Cwmp1_2 => s("X ACME-Corp Voice <Profile> & é€"),
    }
}

fn upload_file_type(ns: Namespace) -> S {
    match ns {
        Namespace::Cwmp1_0 | Namespace::Cwmp1_1 => s("2 Vendor Log File"),
        Namespace::Cwmp1_2 => s("4 Vendor Log File 2"),
    }
}

fn transfer_file_type(ns: Namespace) -> S {
    match ns {
        Namespace::Cwmp1_0 | Namespace::Cwmp1_1 => s("4 Vendor Log File"),
        Namespace::Cwmp1_2 => s("3 Vendor Configuration File 2"),
    }
}

fn notification(ns: Namespace) -> Notification {
    if ns >= Namespace::Cwmp1_2 {
        Notification::PassiveAndActiveLightweight
    } else {
        Notification::Active
    }
}

fn events(ns: Namespace) -> Vec<EventStruct<'static>> {
    let mut events = vec![
        EventStruct::new("0 BOOTSTRAP"),
        EventStruct::new("1 BOOT"),
        EventStruct::new("4 VALUE CHANGE"),
        EventStruct {
            event_code: s("M Reboot"),
            command_key: s(COMMAND_KEY),
        },
        EventStruct {
            event_code: s("M Download"),
            command_key: s("fw-2024.05 & <é>"),
        },
        EventStruct::new("X 00D09E Reset & <button> é"),
    ];
    match ns {
        Namespace::Cwmp1_0 => {
            events.push(EventStruct {
                event_code: s("M X_00D09E_Diagnose"),
                command_key: s("diag"),
            });
            events.push(EventStruct::new("X 00D09E "));
        }
        Namespace::Cwmp1_1 => {
            events.push(EventStruct::new("10 AUTONOMOUS TRANSFER COMPLETE"));
            events.push(EventStruct {
                event_code: s("M ScheduleInform"),
                command_key: s("sched"),
            });
        }
        Namespace::Cwmp1_2 => {
            events.push(EventStruct::new("14 HEARTBEAT"));
            events.push(EventStruct {
                event_code: s("M ChangeDUState"),
                command_key: s("du-42"),
            });
            events.push(EventStruct::new("X ACME rebooted twice, «why?» €"));
        }
    }
    events
}

/// A transfer fault code valid in `ns` (9019 appears in cwmp-1-1, 9020 is enumerated in
/// cwmp-1-2).
fn transfer_fault_code(ns: Namespace) -> FaultCode {
    match ns {
        Namespace::Cwmp1_0 => FaultCode::FILE_TRANSFER_SERVER_AUTHENTICATION_FAILURE,
        Namespace::Cwmp1_1 => FaultCode::FILE_TRANSFER_FILE_AUTHENTICATION_FAILURE,
        Namespace::Cwmp1_2 => FaultCode::FILE_TRANSFER_WINDOW_EXCEEDED,
    }
}

fn transfer_fault(ns: Namespace) -> TransferCompleteFaultStruct<'static> {
    TransferCompleteFaultStruct {
        fault_code: transfer_fault_code(ns),
        fault_string: s("Download failed: <server> said \"403\" & gave up, é€\r\n"),
    }
}

fn du_fault() -> DeploymentUnitFaultStruct<'static> {
    DeploymentUnitFaultStruct {
        fault_code: FaultCode::DUPLICATE_DEPLOYMENT_UNIT,
        fault_string: Some(s("DU already installed: <\"acme&co\"> é€")),
    }
}

pub fn get_rpc_methods(_ns: Namespace) -> Body<'static> {
    GetRPCMethods {}.into()
}

pub fn get_rpc_methods_response(_ns: Namespace) -> Body<'static> {
    GetRPCMethodsResponse {
        method_list: vec![
            s("GetRPCMethods"),
            s("SetParameterValues"),
            s("GetParameterValues"),
            s("Download"),
            s("X_00D09E_Méthode&<\"x\">"),
        ],
    }
    .into()
}

pub fn set_parameter_values(_ns: Namespace) -> Body<'static> {
    SetParameterValues {
        parameter_list: every_value(),
        parameter_key: s(PARAMETER_KEY),
    }
    .into()
}

pub fn set_parameter_values_response(_ns: Namespace) -> Body<'static> {
    SetParameterValuesResponse {
        status: ApplyStatus::Committed,
    }
    .into()
}

pub fn get_parameter_values(_ns: Namespace) -> Body<'static> {
    GetParameterValues {
        parameter_names: vec![
            s("Device.DeviceInfo."),
            s("Device.ManagementServer.PeriodicInformInterval"),
            s("Device.WiFi.SSID.*.SSID"),
            s("Device.Users.User.[admin&<é>].Username"),
        ],
    }
    .into()
}

pub fn get_parameter_values_response(_ns: Namespace) -> Body<'static> {
    GetParameterValuesResponse {
        parameter_list: every_value(),
    }
    .into()
}

pub fn get_parameter_names(_ns: Namespace) -> Body<'static> {
    GetParameterNames {
        parameter_path: s("Device.NAT.PortMapping."),
        next_level: true,
    }
    .into()
}

pub fn get_parameter_names_response(_ns: Namespace) -> Body<'static> {
    GetParameterNamesResponse {
        parameter_list: vec![
            ParameterInfoStruct {
                name: s("Device.NAT.PortMapping."),
                writable: true,
            },
            ParameterInfoStruct {
                name: s("Device.NAT.PortMapping.1."),
                writable: true,
            },
            ParameterInfoStruct {
                name: s("Device.NAT.PortMapping.1.Description"),
                writable: true,
            },
            ParameterInfoStruct {
                name: s("Device.NAT.PortMappingNumberOfEntries"),
                writable: false,
            },
        ],
    }
    .into()
}

pub fn set_parameter_attributes(ns: Namespace) -> Body<'static> {
    SetParameterAttributes {
        parameter_list: vec![
            SetParameterAttributesStruct {
                name: s("Device.ManagementServer.ConnectionRequestURL"),
                notification_change: true,
                notification: notification(ns),
                access_list_change: true,
                access_list: vec![s("Subscriber")],
            },
            SetParameterAttributesStruct {
                name: s("Device.WiFi.SSID."),
                notification_change: false,
                notification: Notification::Passive,
                access_list_change: false,
                access_list: vec![],
            },
        ],
    }
    .into()
}

pub fn set_parameter_attributes_response(_ns: Namespace) -> Body<'static> {
    SetParameterAttributesResponse {}.into()
}

pub fn get_parameter_attributes(_ns: Namespace) -> Body<'static> {
    GetParameterAttributes {
        parameter_names: vec![
            s("Device.ManagementServer."),
            s("Device.DeviceInfo.SoftwareVersion"),
        ],
    }
    .into()
}

pub fn get_parameter_attributes_response(ns: Namespace) -> Body<'static> {
    GetParameterAttributesResponse {
        parameter_list: vec![
            ParameterAttributeStruct {
                name: s("Device.DeviceInfo.SoftwareVersion"),
                notification: notification(ns),
                access_list: vec![s("Subscriber")],
            },
            ParameterAttributeStruct {
                name: s("Device.ManagementServer.ConnectionRequestURL"),
                notification: Notification::Off,
                access_list: vec![],
            },
        ],
    }
    .into()
}

pub fn add_object(_ns: Namespace) -> Body<'static> {
    AddObject {
        object_name: s("Device.NAT.PortMapping."),
        parameter_key: s(PARAMETER_KEY),
    }
    .into()
}

pub fn add_object_response(_ns: Namespace) -> Body<'static> {
    AddObjectResponse {
        instance_number: 4_294_967_295,
        status: ApplyStatus::Committed,
    }
    .into()
}

pub fn delete_object(_ns: Namespace) -> Body<'static> {
    DeleteObject {
        object_name: s("Device.NAT.PortMapping.[web&<é>]."),
        parameter_key: s(PARAMETER_KEY),
    }
    .into()
}

pub fn delete_object_response(_ns: Namespace) -> Body<'static> {
    DeleteObjectResponse {
        status: ApplyStatus::Applied,
    }
    .into()
}

pub fn reboot(_ns: Namespace) -> Body<'static> {
    Reboot {
        command_key: s(COMMAND_KEY),
    }
    .into()
}

pub fn reboot_response(_ns: Namespace) -> Body<'static> {
    RebootResponse {}.into()
}

pub fn download(ns: Namespace) -> Body<'static> {
    Download {
        command_key: s(COMMAND_KEY),
        file_type: download_file_type(ns),
        url: s("https://fw.example.com/images/hgw-3.1.bin?sig=a1b2&exp=\"1714564800\""),
        username: s("fw-user"),
        password: s("p&ss<wörd>\"€\r"),
        file_size: 33_554_432,
        target_file_name: s("hgw-3.1 «stable» & <new>.bin"),
        delay_seconds: 3600,
        success_url: s("https://portal.example.com/ok?device=00D09E-HGW&lang=fr"),
        failure_url: s("https://portal.example.com/fail?reason=<x>&é"),
    }
    .into()
}

pub fn download_response(_ns: Namespace) -> Body<'static> {
    DownloadResponse {
        status: TransferStatus::Completed,
        start_time: time("2024-05-01T12:00:00Z"),
        complete_time: time("2024-05-01T12:03:27.25Z"),
    }
    .into()
}

pub fn upload(ns: Namespace) -> Body<'static> {
    Upload {
        command_key: s(COMMAND_KEY),
        file_type: upload_file_type(ns),
        url: s("https://logs.example.com/upload?cpe=00D09E&t=\"now\""),
        username: s("uploader é"),
        password: s("<secret>&\"€\""),
        delay_seconds: 0,
    }
    .into()
}

pub fn upload_response(_ns: Namespace) -> Body<'static> {
    UploadResponse {
        status: TransferStatus::Pending,
        start_time: DateTime::UNKNOWN,
        complete_time: DateTime::UNKNOWN,
    }
    .into()
}

pub fn factory_reset(_ns: Namespace) -> Body<'static> {
    FactoryReset {}.into()
}

pub fn factory_reset_response(_ns: Namespace) -> Body<'static> {
    FactoryResetResponse {}.into()
}

pub fn get_queued_transfers(_ns: Namespace) -> Body<'static> {
    GetQueuedTransfers {}.into()
}

pub fn get_queued_transfers_response(_ns: Namespace) -> Body<'static> {
    GetQueuedTransfersResponse {
        transfer_list: vec![
            QueuedTransferStruct {
                command_key: s(COMMAND_KEY),
                state: TransferState::NotYetStarted,
            },
            QueuedTransferStruct {
                command_key: s("fw-2024.05"),
                state: TransferState::InProgress,
            },
            QueuedTransferStruct {
                command_key: s(""),
                state: TransferState::Completed,
            },
        ],
    }
    .into()
}

pub fn schedule_inform(_ns: Namespace) -> Body<'static> {
    ScheduleInform {
        delay_seconds: 300,
        command_key: s(COMMAND_KEY),
    }
    .into()
}

pub fn schedule_inform_response(_ns: Namespace) -> Body<'static> {
    ScheduleInformResponse {}.into()
}

pub fn set_vouchers(_ns: Namespace) -> Body<'static> {
    SetVouchers {
        voucher_list: vec![
            Voucher(b"-----BEGIN PKCS7----- <voucher & \"1\"> \xc3\xa9".to_vec()),
            Voucher(vec![0, 1, 2, 0xfd, 0xfe, 0xff]),
        ],
    }
    .into()
}

pub fn set_vouchers_response(_ns: Namespace) -> Body<'static> {
    SetVouchersResponse {}.into()
}

pub fn get_options(_ns: Namespace) -> Body<'static> {
    GetOptions {
        option_name: s("X_00D09E_Option&<\"é\">"),
    }
    .into()
}

pub fn get_options_response(_ns: Namespace) -> Body<'static> {
    GetOptionsResponse {
        option_list: vec![
            OptionStruct {
                option_name: s("X_00D09E_VoIP «Premium» & <more>"),
                voucher_sn: 123_456,
                state: 3,
                mode: 1,
                start_date: time("2024-01-01T00:00:00Z"),
                expiration_date: Some(time("2025-01-01T00:00:00.5Z")),
                is_transferable: 1,
            },
            OptionStruct {
                option_name: s("X_00D09E_IPTV"),
                voucher_sn: 0,
                state: 0,
                mode: 2,
                start_date: DateTime::UNKNOWN,
                expiration_date: None,
                is_transferable: 0,
            },
        ],
    }
    .into()
}

pub fn get_all_queued_transfers(_ns: Namespace) -> Body<'static> {
    GetAllQueuedTransfers {}.into()
}

pub fn get_all_queued_transfers_response(ns: Namespace) -> Body<'static> {
    GetAllQueuedTransfersResponse {
        transfer_list: vec![
            AllQueuedTransferStruct {
                command_key: s(COMMAND_KEY),
                state: TransferState::InProgress,
                is_download: true,
                file_type: s("1 Firmware Upgrade Image"),
                file_size: 33_554_432,
                target_file_name: s("hgw-3.1 «stable» & <new>.bin"),
            },
            AllQueuedTransferStruct {
                command_key: s("logs"),
                state: TransferState::NotYetStarted,
                is_download: false,
                file_type: transfer_file_type(ns),
                file_size: 0,
                target_file_name: s(""),
            },
        ],
    }
    .into()
}

pub fn schedule_download(ns: Namespace) -> Body<'static> {
    ScheduleDownload {
        command_key: s(COMMAND_KEY),
        file_type: download_file_type(ns),
        url: s("https://fw.example.com/images/hgw-3.1.bin?sig=a1b2&exp=\"1714564800\""),
        username: s("fw-user"),
        password: s("p&ss<wörd>\"€\r"),
        file_size: 33_554_432,
        target_file_name: s("hgw-3.1.bin"),
        time_window_list: vec![
            TimeWindowStruct {
                window_start: 0,
                window_end: 3600,
                window_mode: s("3 When Idle"),
                user_message: s("Mise à jour <firmware> & redémarrage \"bientôt\" €\r\n"),
                max_retries: -1,
            },
            TimeWindowStruct {
                window_start: 86_400,
                window_end: 4_294_967_295,
                window_mode: s("X 00D09E Ask the «user» & wait"),
                user_message: s(""),
                max_retries: 3,
            },
        ],
    }
    .into()
}

pub fn schedule_download_response(_ns: Namespace) -> Body<'static> {
    ScheduleDownloadResponse {}.into()
}

pub fn cancel_transfer(_ns: Namespace) -> Body<'static> {
    CancelTransfer {
        command_key: s(COMMAND_KEY),
    }
    .into()
}

pub fn cancel_transfer_response(_ns: Namespace) -> Body<'static> {
    CancelTransferResponse {}.into()
}

pub fn change_du_state(_ns: Namespace) -> Body<'static> {
    ChangeDUState {
        operations: vec![
            Operation::Install(InstallOpStruct {
                url: s("https://apps.example.com/du/acme-vpn_1.2.ipk?token=a%20b&x=1"),
                uuid: Some(s(UUID)),
                username: Some(s("du-user é")),
                password: Some(s("<p&ss>\"€\"")),
                execution_env_ref: Some(s("Device.SoftwareModules.ExecEnv.1")),
            }),
            Operation::Update(UpdateOpStruct {
                uuid: Some(s(UUID2)),
                version: Some(s("2.0 «beta» & <rc1>")),
                url: Some(s("ftp://apps.example.com/du/acme-media_2.0.ipk")),
                username: Some(s("du-user")),
                password: Some(s("secret\r\n")),
            }),
            Operation::Uninstall(UninstallOpStruct {
                uuid: s(UUID),
                version: Some(s("1.2")),
                execution_env_ref: Some(s("Device.SoftwareModules.ExecEnv.[lxc&<é>]")),
            }),
        ],
        command_key: Some(s(COMMAND_KEY)),
    }
    .into()
}

pub fn change_du_state_response(_ns: Namespace) -> Body<'static> {
    ChangeDUStateResponse {}.into()
}

pub fn inform(ns: Namespace) -> Body<'static> {
    Inform {
        device_id: DeviceIdStruct {
            manufacturer: s("Ünïcode & Sons <GmbH> \"ACME\" €"),
            oui: s("00D09E"),
            product_class: s("HGW-1 «Pro»"),
            serial_number: s("SN0001&<2>\"3\"\r"),
        },
        event: events(ns),
        max_envelopes: 1,
        current_time: time("2024-05-01T12:00:00.165Z"),
        retry_count: 3,
        parameter_list: inform_parameters(),
    }
    .into()
}

pub fn inform_response(_ns: Namespace) -> Body<'static> {
    InformResponse { max_envelopes: 1 }.into()
}

pub fn transfer_complete(ns: Namespace) -> Body<'static> {
    TransferComplete {
        command_key: s(COMMAND_KEY),
        fault_struct: transfer_fault(ns),
        start_time: time("2024-05-01T12:00:00Z"),
        complete_time: time("2024-05-01T12:00:09.999999999Z"),
    }
    .into()
}

pub fn transfer_complete_response(_ns: Namespace) -> Body<'static> {
    TransferCompleteResponse {}.into()
}

pub fn autonomous_transfer_complete(ns: Namespace) -> Body<'static> {
    AutonomousTransferComplete {
        announce_url: s("http://[2001:db8::1]:8080/announce?x=<1>&y=\"2\""),
        transfer_url: s("https://files.example.com/cfg/00D09E-SN0001.xml?é=€"),
        is_download: false,
        file_type: transfer_file_type(ns),
        file_size: 65_536,
        target_file_name: s("config «backup» & <1>.xml"),
        fault_struct: transfer_fault(ns),
        start_time: time("2024-05-01T12:00:00Z"),
        complete_time: time("2024-05-01T12:00:01.5Z"),
    }
    .into()
}

pub fn autonomous_transfer_complete_response(_ns: Namespace) -> Body<'static> {
    AutonomousTransferCompleteResponse {}.into()
}

fn op_result() -> OpResultStruct<'static> {
    OpResultStruct {
        uuid: s(UUID),
        deployment_unit_ref: s("Device.SoftwareModules.DeploymentUnit.3"),
        version: s("1.2 «rc» & <b>"),
        current_state: DeploymentUnitState::Failed,
        resolved: false,
        execution_unit_ref_list: s(
            "Device.SoftwareModules.ExecutionUnit.1,Device.SoftwareModules.ExecutionUnit.2",
        ),
        start_time: time("2024-05-01T12:00:00Z"),
        complete_time: time("2024-05-01T12:00:30.001Z"),
        fault: du_fault(),
    }
}

pub fn du_state_change_complete(_ns: Namespace) -> Body<'static> {
    DUStateChangeComplete {
        results: vec![
            op_result(),
            OpResultStruct {
                uuid: s(UUID2),
                current_state: DeploymentUnitState::Installed,
                resolved: true,
                fault: DeploymentUnitFaultStruct {
                    fault_code: FaultCode::SUCCESS,
                    fault_string: Some(s("")),
                },
                ..op_result()
            },
        ],
        command_key: Some(s(COMMAND_KEY)),
    }
    .into()
}

pub fn du_state_change_complete_response(_ns: Namespace) -> Body<'static> {
    DUStateChangeCompleteResponse {}.into()
}

pub fn autonomous_du_state_change_complete(_ns: Namespace) -> Body<'static> {
    let base = op_result();
    AutonomousDUStateChangeComplete {
        results: vec![
            AutonOpResultStruct {
                uuid: base.uuid.clone(),
                deployment_unit_ref: base.deployment_unit_ref.clone(),
                version: base.version.clone(),
                current_state: DeploymentUnitState::Uninstalled,
                resolved: true,
                execution_unit_ref_list: base.execution_unit_ref_list.clone(),
                start_time: base.start_time,
                complete_time: base.complete_time,
                fault: base.fault.clone(),
                operation_performed: s("Uninstall"),
            },
            AutonOpResultStruct {
                uuid: s(UUID2),
                deployment_unit_ref: s(""),
                version: s(""),
                current_state: DeploymentUnitState::Installed,
                resolved: false,
                execution_unit_ref_list: s(""),
                start_time: DateTime::UNKNOWN,
                complete_time: DateTime::UNKNOWN,
                fault: DeploymentUnitFaultStruct {
                    fault_code: FaultCode::SUCCESS,
                    fault_string: Some(s("ok & <fine> é")),
                },
                operation_performed: s("X_00D09E_Rollback «&<\"é\">»"),
            },
        ],
    }
    .into()
}

pub fn autonomous_du_state_change_complete_response(_ns: Namespace) -> Body<'static> {
    AutonomousDUStateChangeCompleteResponse {}.into()
}

pub fn request_download(ns: Namespace) -> Body<'static> {
    RequestDownload {
        file_type: vendor_download_file_type(ns),
        file_type_arg: vec![
            ArgStruct {
                name: s("Version"),
                value: s("3.1 & <newer> «é»"),
            },
            ArgStruct {
                name: s("Channel\"&<>\""),
                value: s("stable\r\n"),
            },
        ],
    }
    .into()
}

pub fn request_download_response(_ns: Namespace) -> Body<'static> {
    RequestDownloadResponse {}.into()
}

pub fn kicked(_ns: Namespace) -> Body<'static> {
    Kicked {
        command: s("activate&<\"é\">"),
        referer: s("http://192.168.1.1/setup?a=1&b=<2>"),
        arg: s(TRICKY),
        next: s("http://192.168.1.1/next?step=2&lang=fr-FR&x=€"),
    }
    .into()
}

pub fn kicked_response(_ns: Namespace) -> Body<'static> {
    KickedResponse {
        next_url: s("https://portal.example.com/welcome?cpe=00D09E&msg=\"Bienvenue é\""),
    }
    .into()
}

/// A CWMP fault answering SetParameterValues, with two parameters in error.
pub fn fault(_ns: Namespace) -> Body<'static> {
    Body::Fault(Fault {
        faultcode: SoapFaultCode::Client,
        faultstring: s("CWMP fault"),
        detail: Some(CwmpFault {
            fault_code: FaultCode::INVALID_ARGUMENTS,
            fault_string: Some(s("Invalid arguments: <2> & \"more\" é€\r\n")),
            set_parameter_values_faults: vec![
                SetParameterValuesFault {
                    parameter_name: s("Device.ManagementServer.PeriodicInformInterval"),
                    fault_code: FaultCode::INVALID_PARAMETER_VALUE,
                    fault_string: Some(s("must be > 0 & < 86400 «secs»")),
                },
                SetParameterValuesFault {
                    parameter_name: s("Device.DeviceInfo.SoftwareVersion"),
                    fault_code: FaultCode::NON_WRITABLE_PARAMETER,
                    fault_string: Some(s("read-only <parameter>")),
                },
            ],
        }),
    })
}

/// A SOAP `MustUnderstand` fault: no CWMP detail.
pub fn fault_must_understand(_ns: Namespace) -> Body<'static> {
    Body::Fault(Fault::must_understand("cwmp:X_Unknown&<é>"))
}

/// Every sample for `ns` (including those of messages `ns` does not define), with its
/// name.
pub fn all(ns: Namespace) -> Vec<(&'static str, Body<'static>)> {
    macro_rules! collect {
        ($($name:ident),* $(,)?) => {
            vec![$((stringify!($name), $name(ns))),*]
        };
    }
    crate::common::with_messages!(collect)
}

/// The ID used by the sample envelopes.
pub const ID: &str = "id-1714564800&<\"é\">";

/// An envelope around `body` in `ns` with the `cwmp:ID` header only.
pub fn envelope(ns: Namespace, body: Body<'static>) -> Envelope<'static> {
    Envelope::new(ns, Some(s(ID)), body)
}

/// Every header set, as only cwmp-1-2 allows (SessionTimeout is CWMP 1.3 and
/// SupportedCWMPVersions 1.4, both in the 1-2 namespace; `encode` refuses them in 1-0 and
/// 1-1). UseCWMPVersion must name a version written in `ns`.
pub fn full_header(ns: Namespace) -> Header<'static> {
    Header {
        id: Some(s(ID)),
        hold_requests: Some(true),
        session_timeout: Some(60),
        supported_cwmp_versions: Some(CwmpVersion::ALL.to_vec()),
        use_cwmp_version: Some(match ns {
            Namespace::Cwmp1_0 => CwmpVersion::V1_0,
            Namespace::Cwmp1_1 => CwmpVersion::V1_1,
            Namespace::Cwmp1_2 => CwmpVersion::V1_4,
        }),
        no_more_requests: Some(false),
    }
}

/// The headers valid in cwmp-1-0 and cwmp-1-1: all but SessionTimeout and
/// SupportedCWMPVersions.
pub fn legacy_header(ns: Namespace) -> Header<'static> {
    Header {
        session_timeout: None,
        supported_cwmp_versions: None,
        ..full_header(ns)
    }
}

/// An Inform in cwmp-1-2 with every header element set.
pub fn envelope_with_every_header() -> Envelope<'static> {
    Envelope {
        namespace: Namespace::Cwmp1_2,
        header: full_header(Namespace::Cwmp1_2),
        body: inform(Namespace::Cwmp1_2),
    }
}

//! Deployment units (ChangeDUState, TR-069 §A.4.1.14 / Annex H, TR-181
//! `Device.SoftwareModules.`): install, update and uninstall applied to the data model.
//!
//! Everything goes through [`DataModel`], so it works on any device that has a
//! `SoftwareModules.DeploymentUnit.` table (and, optionally, `ExecutionUnit.` and
//! `ExecEnv.`). A package is not unpacked: what the simulation knows of it is
//!
//! - its **name**: the first word of the package when it is short text (`name version`),
//!   else the URL's file name without extension and version (`speedtest-agent` for
//!   `http://host/speedtest-agent-1.0.3.ipk`, `app` for `app_2.1_mips.ipk`);
//! - its **version**: from the package text (`name 1.2.0` or just `1.2.0`), else from the
//!   file name, else `1.0` (an update without one bumps the last number of the version
//!   installed: `1.0.3` → `1.0.4`);
//! - its **UUID** when the ACS gives none: a name-based version 5 UUID (RFC 4122, URL
//!   namespace) of its name, the same for every version of it (TR-181 Annex C).
//!
//! A deployment unit is identified by UUID, version and execution environment (TR-181's
//! unique key); each has one execution unit, `Idle` after installation.
//!
//! Faults (notes §4.3): 9001 no `SoftwareModules.DeploymentUnit.` table, 9018 empty
//! package, 9022 malformed UUID, 9023 unknown execution environment, 9024 disabled
//! execution environment, 9025 a Java/OSGi bundle (`.jar`) for an environment that is not
//! Java, or a Linux package (`.ipk`, `.deb`, `.rpm`) for one that is, 9026 the same UUID,
//! version and environment already installed, 9027 the package is larger than the
//! environment's `AvailableDiskSpace` or a table is full, 9028 no deployment unit with
//! that UUID (and version, and environment), 9029 the unit is not `Installed`, 9030 the
//! update is older than what is installed, 9031 several versions match and the update
//! names none, 9032 the update's version is the one installed.
//!
//! References (`DeploymentUnitRef`, `ExecutionUnitRefList`, `ExecutionEnvRef`) are full
//! paths without the trailing dot, as TR-181's reference parameters hold them
//! (`Device.SoftwareModules.DeploymentUnit.2`). An `ExecutionEnvRef` given by the ACS may
//! also end with a dot or start with one (`.SoftwareModules.ExecEnv.1.`, as the schema's
//! example has it).

use std::borrow::Cow;
use std::cmp::Ordering;

use cwmp::{
    DeploymentUnitFaultStruct, DeploymentUnitState, FaultCode, InstallOpStruct, OpResultStruct,
    ParameterValue, UninstallOpStruct, UpdateOpStruct,
};
use sha1::{Digest, Sha1};

use crate::data_model::DataModel;
use crate::time::Time;

/// The nil UUID, for a result whose deployment unit has none (the schema requires one).
pub const NIL_UUID: &str = "00000000-0000-0000-0000-000000000000";

/// RFC 4122's URL namespace, `6ba7b811-9dad-11d1-80b4-00c04fd430c8`.
const URL_NAMESPACE: [u8; 16] = [
    0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
];

/// Longest `Version` (the schema's and TR-181's 32 characters).
const MAX_VERSION: usize = 32;

/// Installs the package `file` downloaded from `op.url` (started at `started`): a new
/// `DeploymentUnit` (and its `ExecutionUnit`) in the tree, or a fault (e.g. 9026 duplicate
/// deployment unit, 9023 unknown execution environment, 9031/9032 ...).
pub fn install<M: DataModel + ?Sized>(
    model: &mut M,
    op: &InstallOpStruct<'_>,
    file: &[u8],
    started: Time,
    now: Time,
) -> OpResultStruct<'static> {
    let package = Package::read(&op.url, file);
    let given = op.uuid.as_deref().map(str::trim).filter(|u| !u.is_empty());
    let uuid = match given {
        Some(u) if !is_uuid(u) => {
            return failed(
                u,
                FaultCode::INVALID_UUID_FORMAT,
                &format!("{u:?} is not a UUID"),
                started,
                now,
            );
        }
        // As the ACS wrote it (UUIDs compare without regard to case).
        Some(u) => u.to_owned(),
        None => name_uuid(&package.name),
    };
    let fail = |code: FaultCode, message: &str| failed(&uuid, code, message, started, now);
    let mut sm = Modules::new(model, now);
    let Some(existing) = sm.units() else {
        return fail(
            FaultCode::REQUEST_DENIED,
            "the device has no SoftwareModules.DeploymentUnit table",
        );
    };
    if file.is_empty() {
        return fail(
            FaultCode::FILE_TRANSFER_FILE_CORRUPTED,
            "the package is empty",
        );
    }
    let env = match sm.exec_env(op.execution_env_ref.as_deref()) {
        Ok(env) => env,
        Err((code, message)) => return fail(code, &message),
    };
    if let Err(message) = sm.env_accepts(&env, &op.url) {
        return fail(
            FaultCode::DEPLOYMENT_UNIT_EXECUTION_ENVIRONMENT_MISMATCH,
            &message,
        );
    }
    let version = package.version.clone().unwrap_or_else(|| "1.0".to_owned());
    if existing
        .iter()
        .any(|d| d.uuid.eq_ignore_ascii_case(&uuid) && d.version == version && d.env == env)
    {
        return fail(
            FaultCode::DUPLICATE_DEPLOYMENT_UNIT,
            &format!("{} {version} is already installed on {env}", package.name),
        );
    }
    if let Some(available) = sm.number(&format!("{env}.AvailableDiskSpace")) {
        let needed = i64::try_from(file.len().div_ceil(1024)).unwrap_or(i64::MAX);
        if available >= 0 && needed > available {
            return fail(
                FaultCode::SYSTEM_RESOURCES_EXCEEDED,
                &format!("{needed} KiB needed, {available} KiB available on {env}"),
            );
        }
    }
    let du_table = sm.table("DeploymentUnit.");
    let Some(n) = sm.model.add_instance(&du_table, now) else {
        return fail(
            FaultCode::SYSTEM_RESOURCES_EXCEEDED,
            "no room for another deployment unit",
        );
    };
    let du = format!("{du_table}{n}");
    let eu_table = sm.table("ExecutionUnit.");
    let mut eus = Vec::new();
    if sm.model.instance_numbers(&eu_table).is_some() {
        let Some(m) = sm.model.add_instance(&eu_table, now) else {
            let _ = sm.model.delete_instance(&format!("{du}."), now);
            return fail(
                FaultCode::SYSTEM_RESOURCES_EXCEEDED,
                "no room for another execution unit",
            );
        };
        let eu = format!("{eu_table}{m}");
        let label: String = package.name.chars().take(64).collect();
        for (name, value) in [
            ("EUID", format!("eu-{m}").as_str()),
            ("Name", &package.name),
            ("ExecEnvLabel", &label),
            ("Status", "Idle"),
            ("RequestedState", "Idle"),
            ("ExecutionFaultCode", "NoFault"),
            ("ExecutionFaultMessage", ""),
            ("AutoStart", "false"),
            ("Version", &version),
            ("Description", &package.description),
            ("ExecutionEnvRef", &env),
        ] {
            sm.put(&format!("{eu}.{name}"), value);
        }
        eus.push(eu);
    }
    let list = eus.join(",");
    let installed = now.to_datetime().to_string();
    for (name, value) in [
        ("UUID", uuid.as_str()),
        ("DUID", format!("du-{n}").as_str()),
        ("Name", &package.name),
        ("Status", "Installed"),
        ("Resolved", "true"),
        ("URL", &op.url),
        ("Description", &package.description),
        ("Version", &version),
        ("ExecutionUnitList", &list),
        ("ExecutionEnvRef", &env),
        ("Installed", &installed),
        ("LastUpdate", &installed),
    ] {
        sm.put(&format!("{du}.{name}"), value);
    }
    OpResultStruct {
        uuid: uuid.into(),
        deployment_unit_ref: du.into(),
        version: version.into(),
        current_state: DeploymentUnitState::Installed,
        resolved: true,
        execution_unit_ref_list: list.into(),
        start_time: started.to_datetime(),
        complete_time: now.to_datetime(),
        fault: success(),
    }
}

/// Updates the deployment unit `op` names (UUID, or all with an empty UUID...) with
/// `file` (downloaded from `op.url`, or `None` when the op has no URL).
///
/// An op naming neither UUID nor URL updates every deployment unit; this gives the result
/// of the first (see [`update_each`] for all of them).
pub fn update<M: DataModel + ?Sized>(
    model: &mut M,
    op: &UpdateOpStruct<'_>,
    file: Option<&[u8]>,
    started: Time,
    now: Time,
) -> OpResultStruct<'static> {
    let mut results = update_each(model, op, file, started, now);
    if results.is_empty() {
        return failed(
            op.uuid.as_deref().unwrap_or(""),
            FaultCode::UNKNOWN_DEPLOYMENT_UNIT,
            "no deployment unit to update",
            started,
            now,
        );
    }
    results.swap_remove(0)
}

/// [`update`], with one result per deployment unit updated: several when the op names
/// neither UUID nor URL (every deployment unit is updated, the schema's reading of such an
/// op), else one.
pub fn update_each<M: DataModel + ?Sized>(
    model: &mut M,
    op: &UpdateOpStruct<'_>,
    file: Option<&[u8]>,
    started: Time,
    now: Time,
) -> Vec<OpResultStruct<'static>> {
    let uuid = op.uuid.as_deref().map(str::trim).filter(|u| !u.is_empty());
    let url = op.url.as_deref().map(str::trim).filter(|u| !u.is_empty());
    let version = op
        .version
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let fail =
        |u: &str, code: FaultCode, message: &str| vec![failed(u, code, message, started, now)];
    if let Some(u) = uuid
        && !is_uuid(u)
    {
        return fail(
            u,
            FaultCode::INVALID_UUID_FORMAT,
            &format!("{u:?} is not a UUID"),
        );
    }
    let result_uuid = uuid.unwrap_or(NIL_UUID);
    let mut sm = Modules::new(model, now);
    let Some(all) = sm.units() else {
        return fail(
            result_uuid,
            FaultCode::REQUEST_DENIED,
            "the device has no SoftwareModules.DeploymentUnit table",
        );
    };
    let every = uuid.is_none() && url.is_none();
    let targets: Vec<Unit> = all
        .iter()
        .filter(|d| match (uuid, url) {
            (Some(u), _) => d.uuid.eq_ignore_ascii_case(u),
            (None, Some(url)) => d.url == url,
            (None, None) => true,
        })
        .filter(|d| version.is_none_or(|v| d.version == v))
        .cloned()
        .collect();
    if targets.is_empty() {
        let what = match (uuid, url) {
            (Some(u), _) => format!("UUID {u}"),
            (None, Some(url)) => format!("URL {url}"),
            (None, None) => "any UUID".to_owned(),
        };
        let with = version.map(|v| format!(" version {v}")).unwrap_or_default();
        return fail(
            result_uuid,
            FaultCode::UNKNOWN_DEPLOYMENT_UNIT,
            &format!("no deployment unit with {what}{with}"),
        );
    }
    if !every
        && targets.len() > 1
        && let Some(first) = targets.first()
    {
        let versions: Vec<&str> = targets.iter().map(|d| d.version.as_str()).collect();
        return vec![first.fault(
            FaultCode::DEPLOYMENT_UNIT_VERSION_NOT_SPECIFIED,
            &format!(
                "versions {} are installed: the update must name one",
                versions.join(", ")
            ),
            started,
            now,
        )];
    }
    targets
        .iter()
        .map(|d| sm.update_one(d, &all, url, file, started))
        .collect()
}

/// Uninstalls the deployment unit `op` names.
///
/// Without a `Version`, every version of it is uninstalled (the schema's rule); the result
/// names the first and lists the execution units of all.
pub fn uninstall<M: DataModel + ?Sized>(
    model: &mut M,
    op: &UninstallOpStruct<'_>,
    started: Time,
    now: Time,
) -> OpResultStruct<'static> {
    let uuid = op.uuid.trim();
    let fail = |code: FaultCode, message: &str| failed(uuid, code, message, started, now);
    if !is_uuid(uuid) {
        return fail(
            FaultCode::INVALID_UUID_FORMAT,
            &format!("{uuid:?} is not a UUID"),
        );
    }
    let version = op
        .version
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let wanted_env = op
        .execution_env_ref
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let mut sm = Modules::new(model, now);
    let Some(all) = sm.units() else {
        return fail(
            FaultCode::REQUEST_DENIED,
            "the device has no SoftwareModules.DeploymentUnit table",
        );
    };
    let env = match wanted_env {
        Some(e) => match sm.exec_env(Some(e)) {
            Ok(env) => Some(env),
            Err((code, message)) => return fail(code, &message),
        },
        None => None,
    };
    let targets: Vec<&Unit> = all
        .iter()
        .filter(|d| d.uuid.eq_ignore_ascii_case(uuid))
        .filter(|d| version.is_none_or(|v| d.version == v))
        .filter(|d| env.as_ref().is_none_or(|e| d.env == *e))
        .collect();
    let Some(first) = targets.first() else {
        let with = version.map(|v| format!(" version {v}")).unwrap_or_default();
        return fail(
            FaultCode::UNKNOWN_DEPLOYMENT_UNIT,
            &format!("no deployment unit with UUID {uuid}{with}"),
        );
    };
    if let Some(busy) = targets.iter().find(|d| !d.status_allows_change()) {
        return busy.fault(
            FaultCode::INVALID_DEPLOYMENT_UNIT_STATE,
            &format!("{} is {}", busy.path, busy.status),
            started,
            now,
        );
    }
    let mut removed = Vec::new();
    for d in &targets {
        for eu in &d.eus {
            if sm.model.delete_instance(&format!("{eu}."), now) {
                sm.forget_active(eu);
                removed.push(eu.clone());
            }
        }
        let _ = sm.model.delete_instance(&format!("{}.", d.path), now);
    }
    OpResultStruct {
        uuid: first.uuid.clone().into(),
        deployment_unit_ref: first.path.clone().into(),
        version: first.version.clone().into(),
        current_state: DeploymentUnitState::Uninstalled,
        resolved: false,
        execution_unit_ref_list: removed.join(",").into(),
        start_time: started.to_datetime(),
        complete_time: now.to_datetime(),
        fault: success(),
    }
}

/// The result of an operation that failed before it reached the tree (its download failed,
/// say): `CurrentState` `Failed`, the fault. A `uuid` that is not one (empty: the op gave
/// none) becomes the nil UUID, which the schema accepts.
pub fn failed(
    uuid: &str,
    code: FaultCode,
    message: &str,
    started: Time,
    now: Time,
) -> OpResultStruct<'static> {
    let uuid = uuid.trim();
    let uuid = if is_uuid(uuid) { uuid } else { NIL_UUID };
    OpResultStruct {
        uuid: uuid.to_owned().into(),
        deployment_unit_ref: "".into(),
        version: "".into(),
        current_state: DeploymentUnitState::Failed,
        resolved: false,
        execution_unit_ref_list: "".into(),
        start_time: started.to_datetime(),
        complete_time: now.to_datetime(),
        fault: DeploymentUnitFaultStruct {
            fault_code: code,
            fault_string: Some(fault_string(message).into()),
        },
    }
}

fn success() -> DeploymentUnitFaultStruct<'static> {
    DeploymentUnitFaultStruct {
        fault_code: FaultCode::SUCCESS,
        fault_string: None,
    }
}

/// A FaultString: at most 256 characters.
fn fault_string(message: &str) -> String {
    message.chars().take(256).collect()
}

/// Whether `s` is a UUID as the schema's `DeploymentUnitUUID` has it (8-4-4-4-12 hex).
pub fn is_uuid(s: &str) -> bool {
    let mut groups = s.split('-');
    let ok = [8, 4, 4, 4, 12].iter().all(|&n| {
        groups
            .next()
            .is_some_and(|g| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    ok && groups.next().is_none()
}

/// The version 5 UUID (RFC 4122 §4.3, SHA-1, URL namespace) of a deployment unit's name:
/// what the device generates when the ACS gives no UUID.
pub fn name_uuid(name: &str) -> String {
    let mut h = Sha1::new();
    h.update(URL_NAMESPACE);
    h.update(name.as_bytes());
    let digest = h.finalize();
    let mut b = [0u8; 16];
    for (dst, src) in b.iter_mut().zip(digest.iter()) {
        *dst = *src;
    }
    if let Some(x) = b.get_mut(6) {
        *x = (*x & 0x0F) | 0x50;
    }
    if let Some(x) = b.get_mut(8) {
        *x = (*x & 0x3F) | 0x80;
    }
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let part = |r: std::ops::Range<usize>| hex.get(r).unwrap_or("");
    format!(
        "{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    )
}

/// What the simulation knows of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The deployment unit's name.
    pub name: String,
    /// Its version, if the package or its file name gives one.
    pub version: Option<String>,
    /// The rest of the package's text line after name and version (may be empty).
    pub description: String,
}

impl Package {
    /// Reads name and version from the package's text (when it is short printable text:
    /// `name version [description]` or just a version), else from the URL's file name.
    pub fn read(url: &str, file: &[u8]) -> Package {
        let (url_name, url_version) = from_file_name(url);
        let mut package = Package {
            name: url_name,
            version: url_version,
            description: String::new(),
        };
        let Some(line) = text_line(file) else {
            return package;
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [v] if is_version(v) => package.version = Some(clean_version(v)),
            [name, v, rest @ ..] if is_version(v) => {
                package.name = truncate(name, 256);
                package.version = Some(clean_version(v));
                package.description = truncate(&rest.join(" "), 256);
            }
            _ => {}
        }
        package
    }
}

/// The first line of a package that is short printable text.
fn text_line(file: &[u8]) -> Option<&str> {
    if file.len() > 256 {
        return None;
    }
    let text = std::str::from_utf8(file).ok()?;
    if !text
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
    {
        return None;
    }
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line)
}

/// A version: a digit (after an optional `v`), then up to 32 characters of digits,
/// letters and `.-_+~:`.
fn is_version(s: &str) -> bool {
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    s.len() <= MAX_VERSION
        && s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_+~:".contains(c))
}

fn clean_version(s: &str) -> String {
    s.strip_prefix(['v', 'V']).unwrap_or(s).to_owned()
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Name and version from a URL's file name: `speedtest-agent-1.0.3.ipk` →
/// (`speedtest-agent`, `1.0.3`), `app_2.1_mips.ipk` → (`app`, `2.1`).
fn from_file_name(url: &str) -> (String, Option<String>) {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let after_scheme = path.split_once("://").map_or(path, |(_, rest)| rest);
    let file = after_scheme
        .split_once('/')
        .map_or("", |(_, p)| p)
        .rsplit('/')
        .next()
        .unwrap_or("");
    let mut stem = file;
    const EXTENSIONS: &[&str] = &[
        ".gz", ".bz2", ".xz", ".zst", ".tar", ".tgz", ".ipk", ".opk", ".deb", ".rpm", ".apk",
        ".jar", ".zip", ".bin", ".img", ".pkg", ".sh", ".wgt", ".oci",
    ];
    while let Some(shorter) = EXTENSIONS.iter().find_map(|e| {
        stem.len()
            .checked_sub(e.len())
            .filter(|&at| {
                at > 0
                    && stem
                        .get(at..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(e))
            })
            .and_then(|at| stem.get(..at))
    }) {
        stem = shorter;
    }
    let split = stem.char_indices().find(|&(i, c)| {
        (c == '-' || c == '_')
            && i > 0
            && stem
                .get(i + 1..)
                .is_some_and(|r| r.starts_with(|d: char| d.is_ascii_digit()))
    });
    let (name, version) = match split {
        Some((i, sep)) => {
            let rest = stem.get(i + sep.len_utf8()..).unwrap_or("");
            let v = rest.split('_').next().unwrap_or("");
            (
                stem.get(..i).unwrap_or(stem),
                is_version(v).then(|| v.to_owned()),
            )
        }
        None => (stem, None),
    };
    let name = if name.is_empty() { "package" } else { name };
    (truncate(name, 256), version)
}

/// Compares versions part by part (`1.10` > `1.9`, `1.0.1` > `1.0`); numeric parts as
/// numbers, others as text.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let numeric = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
        let o = if numeric(x) && numeric(y) {
            let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
            x.len().cmp(&y.len()).then_with(|| x.cmp(y))
        } else {
            x.cmp(y)
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

/// The next version: the last number incremented (`1.0.3` → `1.0.4`), or `.1` appended.
fn bump(version: &str) -> String {
    let digits_end = version
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_ascii_digit())
        .map(|(i, _)| i + 1);
    let Some(end) = digits_end else {
        return format!("{version}.1");
    };
    let head = version.get(..end).unwrap_or("");
    let start = head
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit())
        .last()
        .map_or(end, |(i, _)| i);
    let n: Option<u64> = version.get(start..end).and_then(|d| d.parse().ok());
    match n.and_then(|n| n.checked_add(1)) {
        Some(next) => format!(
            "{}{next}{}",
            version.get(..start).unwrap_or(""),
            version.get(end..).unwrap_or("")
        ),
        None => format!("{version}.1"),
    }
}

/// A deployment unit as read from the tree.
#[derive(Debug, Clone)]
struct Unit {
    /// `Device.SoftwareModules.DeploymentUnit.N`.
    path: String,
    uuid: String,
    version: String,
    env: String,
    url: String,
    status: String,
    eus: Vec<String>,
}

impl Unit {
    /// Only an installed unit can be updated or uninstalled (an unknown status, on a
    /// device that lacks the parameter, counts as installed).
    fn status_allows_change(&self) -> bool {
        matches!(self.status.as_str(), "Installed" | "")
    }

    /// A failed update or uninstall of this unit: it stays installed as it was.
    fn fault(
        &self,
        code: FaultCode,
        message: &str,
        started: Time,
        now: Time,
    ) -> OpResultStruct<'static> {
        let uuid = if is_uuid(&self.uuid) {
            self.uuid.clone()
        } else {
            NIL_UUID.to_owned()
        };
        OpResultStruct {
            uuid: uuid.into(),
            deployment_unit_ref: self.path.clone().into(),
            version: truncate(&self.version, MAX_VERSION).into(),
            current_state: DeploymentUnitState::Installed,
            resolved: true,
            execution_unit_ref_list: self.eus.join(",").into(),
            start_time: started.to_datetime(),
            complete_time: now.to_datetime(),
            fault: DeploymentUnitFaultStruct {
                fault_code: code,
                fault_string: Some(fault_string(message).into()),
            },
        }
    }
}

/// `SoftwareModules.` of one device.
struct Modules<'m, M: DataModel + ?Sized> {
    model: &'m mut M,
    /// `Device.SoftwareModules.`.
    base: String,
    now: Time,
}

impl<'m, M: DataModel + ?Sized> Modules<'m, M> {
    fn new(model: &'m mut M, now: Time) -> Self {
        let base = format!("{}SoftwareModules.", model.root());
        Modules { model, base, now }
    }

    fn table(&self, name: &str) -> String {
        format!("{}{name}", self.base)
    }

    fn text(&self, path: &str) -> Option<String> {
        self.model
            .value(path, self.now)
            .map(|v| v.text().trim().to_owned())
    }

    fn number(&self, path: &str) -> Option<i64> {
        self.text(path).and_then(|t| t.parse().ok())
    }

    /// Sets a parameter to `text`, typed as it is; skipped when the device lacks it.
    fn put(&mut self, path: &str, text: &str) {
        let Some(current) = self.model.value(path, self.now) else {
            return;
        };
        let value =
            ParameterValue::from_text(current.xsi_type(), Cow::Owned(text.to_owned())).into_owned();
        let _ = self.model.set_value(path, value, self.now);
    }

    /// The deployment units, `None` without the table.
    fn units(&self) -> Option<Vec<Unit>> {
        let table = self.table("DeploymentUnit.");
        let numbers = self.model.instance_numbers(&table)?;
        Some(
            numbers
                .into_iter()
                .map(|n| {
                    let path = format!("{table}{n}");
                    let get = |name: &str| self.text(&format!("{path}.{name}")).unwrap_or_default();
                    let eus = get("ExecutionUnitList")
                        .split(',')
                        .map(|e| e.trim().trim_end_matches('.').to_owned())
                        .filter(|e| !e.is_empty())
                        .collect();
                    Unit {
                        uuid: get("UUID"),
                        version: get("Version"),
                        env: self.normalize(&get("ExecutionEnvRef")),
                        url: get("URL"),
                        status: get("Status"),
                        eus,
                        path,
                    }
                })
                .collect(),
        )
    }

    /// An execution environment reference as a full path without the trailing dot.
    fn normalize(&self, reference: &str) -> String {
        let r = reference.trim().trim_end_matches('.');
        match r.strip_prefix('.') {
            Some(rel) => format!("{}{rel}", self.model.root()),
            None => r.to_owned(),
        }
    }

    /// The execution environment an operation targets: the one named (which must exist
    /// and be enabled), or the first.
    fn exec_env(&self, wanted: Option<&str>) -> Result<String, (FaultCode, String)> {
        let table = self.table("ExecEnv.");
        let unknown = |what: String| (FaultCode::UNKNOWN_EXECUTION_ENVIRONMENT, what);
        let envs = self.model.instance_numbers(&table).unwrap_or_default();
        let env = match wanted.map(str::trim).filter(|w| !w.is_empty()) {
            Some(w) => {
                let r = self.normalize(w);
                let known = r
                    .strip_prefix(&table)
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some_and(|n| envs.contains(&n));
                if !known {
                    return Err(unknown(format!("no execution environment {w}")));
                }
                r
            }
            None => match envs.first() {
                Some(n) => format!("{table}{n}"),
                None => return Err(unknown("the device has no execution environment".into())),
            },
        };
        let disabled = self.text(&format!("{env}.Enable")).as_deref() == Some("false")
            || self.text(&format!("{env}.Status")).as_deref() == Some("Disabled");
        if disabled {
            return Err((
                FaultCode::DISABLED_EXECUTION_ENVIRONMENT,
                format!("{env} is disabled"),
            ));
        }
        Ok(env)
    }

    /// Whether the environment runs the kind of package the URL names (by extension): a
    /// `.jar` needs a Java/OSGi environment, an `.ipk`/`.deb`/`.rpm` one that is not.
    fn env_accepts(&self, env: &str, url: &str) -> Result<(), String> {
        let Some(kind) = self.text(&format!("{env}.Type")) else {
            return Ok(());
        };
        let kind_lower = kind.to_ascii_lowercase();
        let java = kind_lower.contains("java") || kind_lower.contains("osgi");
        let file = url
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let bundle = file.ends_with(".jar");
        let native = [".ipk", ".deb", ".rpm"].iter().any(|e| file.ends_with(e));
        if (bundle && !java) || (native && java) {
            return Err(format!("{env} ({kind}) cannot run {url}"));
        }
        Ok(())
    }

    /// Takes an execution unit out of its environment's `ActiveExecutionUnits`.
    fn forget_active(&mut self, eu: &str) {
        let table = self.table("ExecEnv.");
        for n in self.model.instance_numbers(&table).unwrap_or_default() {
            let path = format!("{table}{n}.ActiveExecutionUnits");
            let Some(list) = self.text(&path) else {
                continue;
            };
            let kept: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty() && e.trim_end_matches('.') != eu)
                .collect();
            if kept.len() != list.split(',').filter(|e| !e.trim().is_empty()).count() {
                self.put(&path, &kept.join(","));
            }
        }
    }

    /// Updates one deployment unit.
    fn update_one(
        &mut self,
        d: &Unit,
        all: &[Unit],
        url: Option<&str>,
        file: Option<&[u8]>,
        started: Time,
    ) -> OpResultStruct<'static> {
        let now = self.now;
        let fault = |code: FaultCode, message: &str| d.fault(code, message, started, now);
        if !d.status_allows_change() {
            return fault(
                FaultCode::INVALID_DEPLOYMENT_UNIT_STATE,
                &format!("{} is {}", d.path, d.status),
            );
        }
        let source = url.unwrap_or(&d.url);
        let new_version = match file {
            Some([]) => {
                return fault(
                    FaultCode::FILE_TRANSFER_FILE_CORRUPTED,
                    "the package is empty",
                );
            }
            Some(f) => Package::read(source, f).version,
            None => None,
        }
        .unwrap_or_else(|| bump(&d.version));
        if new_version.chars().count() > MAX_VERSION {
            return fault(
                FaultCode::FILE_TRANSFER_FILE_CORRUPTED,
                "the package's version is longer than 32 characters",
            );
        }
        if let Some(url) = url
            && let Err(message) = self.env_accepts(&d.env, url)
        {
            return fault(
                FaultCode::DEPLOYMENT_UNIT_EXECUTION_ENVIRONMENT_MISMATCH,
                &message,
            );
        }
        let exists = new_version == d.version
            || all.iter().any(|o| {
                o.path != d.path
                    && o.uuid.eq_ignore_ascii_case(&d.uuid)
                    && o.env == d.env
                    && o.version == new_version
            });
        if exists {
            return fault(
                FaultCode::DEPLOYMENT_UNIT_VERSION_EXISTS,
                &format!("version {new_version} is already installed"),
            );
        }
        if compare_versions(&new_version, &d.version) == Ordering::Less {
            return fault(
                FaultCode::DEPLOYMENT_UNIT_DOWNGRADE_NOT_PERMITTED,
                &format!("{new_version} is older than {}", d.version),
            );
        }
        let updated = now.to_datetime().to_string();
        self.put(&format!("{}.Version", d.path), &new_version);
        self.put(&format!("{}.LastUpdate", d.path), &updated);
        self.put(&format!("{}.Status", d.path), "Installed");
        self.put(&format!("{}.Resolved", d.path), "true");
        if let Some(url) = url {
            self.put(&format!("{}.URL", d.path), url);
        }
        for eu in &d.eus {
            self.put(&format!("{eu}.Version"), &new_version);
        }
        let uuid = if is_uuid(&d.uuid) {
            d.uuid.clone()
        } else {
            NIL_UUID.to_owned()
        };
        OpResultStruct {
            uuid: uuid.into(),
            deployment_unit_ref: d.path.clone().into(),
            version: new_version.into(),
            current_state: DeploymentUnitState::Installed,
            resolved: true,
            execution_unit_ref_list: d.eus.join(",").into(),
            start_time: started.to_datetime(),
            complete_time: now.to_datetime(),
            fault: success(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cwmp::{DUStateChangeComplete, Envelope, Namespace};

    use super::*;
    use crate::tree::{Template, Tree};

    const STARTED: Time = Time(1_714_564_700_000);
    const NOW: Time = Time(1_714_564_800_000);
    const SM: &str = "Device.SoftwareModules.";
    const URL: &str = "http://apps.example.net/pkg/netmon-agent-2.4.1.ipk";

    fn tree() -> Tree {
        let template = Template::builtin().unwrap();
        let identity = template.identity(0, "SN0");
        Tree::new(Arc::new(template), identity, Time(1_714_564_000_000))
    }

    fn get(t: &Tree, path: &str) -> String {
        t.value(path, NOW)
            .unwrap_or_else(|| panic!("{path} missing"))
            .text()
            .into_owned()
    }

    fn set(t: &mut Tree, path: &str, v: &str) {
        let cur = t.value(path, NOW).unwrap();
        let v = ParameterValue::from_text(cur.xsi_type(), v.to_owned().into()).into_owned();
        assert!(t.set_value(path, v, NOW), "{path}");
    }

    /// The result goes out in a DUStateChangeComplete that the encoder accepts.
    fn encodes(result: &OpResultStruct<'static>) {
        let body = DUStateChangeComplete {
            results: vec![result.clone()],
            command_key: Some("ck".into()),
        };
        let env = Envelope::new(Namespace::Cwmp1_2, Some("1".into()), body);
        env.validate()
            .unwrap_or_else(|e| panic!("{e}: {result:#?}"));
        env.encode().unwrap();
    }

    fn install_op(url: &str, uuid: Option<&str>, env: Option<&str>) -> InstallOpStruct<'static> {
        InstallOpStruct {
            url: url.to_owned().into(),
            uuid: uuid.map(|u| u.to_owned().into()),
            username: None,
            password: None,
            execution_env_ref: env.map(|e| e.to_owned().into()),
        }
    }

    fn update_op(
        uuid: Option<&str>,
        version: Option<&str>,
        url: Option<&str>,
    ) -> UpdateOpStruct<'static> {
        UpdateOpStruct {
            uuid: uuid.map(|u| u.to_owned().into()),
            version: version.map(|v| v.to_owned().into()),
            url: url.map(|u| u.to_owned().into()),
            username: None,
            password: None,
        }
    }

    fn uninstall_op(uuid: &str, version: Option<&str>) -> UninstallOpStruct<'static> {
        UninstallOpStruct {
            uuid: uuid.to_owned().into(),
            version: version.map(|v| v.to_owned().into()),
            execution_env_ref: None,
        }
    }

    fn ok(r: &OpResultStruct<'static>) {
        encodes(r);
        assert_eq!(r.fault.fault_code, FaultCode::SUCCESS, "{r:#?}");
    }

    fn faulted(r: &OpResultStruct<'static>, code: FaultCode) {
        encodes(r);
        assert_eq!(r.fault.fault_code, code, "{r:#?}");
        assert!(
            r.fault
                .fault_string
                .as_deref()
                .is_some_and(|s| !s.is_empty())
        );
    }

    fn builtin_uuid(t: &Tree) -> String {
        get(t, &format!("{SM}DeploymentUnit.1.UUID"))
    }

    #[test]
    fn install_creates_unit_and_execution_unit() {
        let mut t = tree();
        let r = install(
            &mut t,
            &install_op(URL, None, None),
            b"\x7fELF...",
            STARTED,
            NOW,
        );
        ok(&r);
        assert_eq!(r.current_state, DeploymentUnitState::Installed);
        assert!(r.resolved);
        assert_eq!(
            r.deployment_unit_ref,
            "Device.SoftwareModules.DeploymentUnit.2"
        );
        assert_eq!(r.version, "2.4.1");
        assert_eq!(
            r.execution_unit_ref_list,
            "Device.SoftwareModules.ExecutionUnit.2"
        );
        assert_eq!(r.uuid, name_uuid("netmon-agent"));
        assert_eq!(r.start_time, STARTED.to_datetime());
        assert_eq!(r.complete_time, NOW.to_datetime());
        let du = "Device.SoftwareModules.DeploymentUnit.2.";
        assert_eq!(get(&t, &format!("{du}UUID")), *r.uuid);
        assert_eq!(get(&t, &format!("{du}DUID")), "du-2");
        assert_eq!(get(&t, &format!("{du}Name")), "netmon-agent");
        assert_eq!(get(&t, &format!("{du}Version")), "2.4.1");
        assert_eq!(get(&t, &format!("{du}URL")), URL);
        assert_eq!(get(&t, &format!("{du}Status")), "Installed");
        assert_eq!(get(&t, &format!("{du}Resolved")), "true");
        assert_eq!(
            get(&t, &format!("{du}ExecutionEnvRef")),
            "Device.SoftwareModules.ExecEnv.1"
        );
        assert_eq!(
            get(&t, &format!("{du}ExecutionUnitList")),
            "Device.SoftwareModules.ExecutionUnit.2"
        );
        assert_eq!(get(&t, &format!("{du}Installed")), "2024-05-01T12:00:00Z");
        assert_eq!(get(&t, &format!("{du}LastUpdate")), "2024-05-01T12:00:00Z");
        let eu = "Device.SoftwareModules.ExecutionUnit.2.";
        assert_eq!(get(&t, &format!("{eu}EUID")), "eu-2");
        assert_eq!(get(&t, &format!("{eu}Name")), "netmon-agent");
        assert_eq!(get(&t, &format!("{eu}Status")), "Idle");
        assert_eq!(get(&t, &format!("{eu}Version")), "2.4.1");
        assert_eq!(
            get(&t, &format!("{eu}ExecutionEnvRef")),
            "Device.SoftwareModules.ExecEnv.1"
        );
        assert_eq!(get(&t, &format!("{SM}DeploymentUnitNumberOfEntries")), "2");
        assert_eq!(get(&t, &format!("{SM}ExecutionUnitNumberOfEntries")), "2");
        // Idle: not among the active execution units.
        assert_eq!(
            get(&t, &format!("{SM}ExecEnv.1.ActiveExecutionUnits")),
            "Device.SoftwareModules.ExecutionUnit.1"
        );
    }

    #[test]
    fn install_versions_and_names() {
        let mut t = tree();
        // The package's text wins over the file name.
        let op = install_op(
            "http://h/x/tool.ipk",
            Some("AAAAAAAA-BBBB-5CCC-8DDD-EEEEEEEEEEEE"),
            None,
        );
        let r = install(&mut t, &op, b"mytool 3.1.4 Network tool\n", STARTED, NOW);
        ok(&r);
        assert_eq!(r.version, "3.1.4");
        assert_eq!(r.uuid, "AAAAAAAA-BBBB-5CCC-8DDD-EEEEEEEEEEEE");
        // Found again whatever the case.
        let lower = "aaaaaaaa-bbbb-5ccc-8ddd-eeeeeeeeeeee";
        let again = install(
            &mut t,
            &install_op("http://h/x/tool.ipk", Some(lower), None),
            b"mytool 3.1.4",
            STARTED,
            NOW,
        );
        faulted(&again, FaultCode::DUPLICATE_DEPLOYMENT_UNIT);
        let du = &*r.deployment_unit_ref;
        assert_eq!(get(&t, &format!("{du}.Name")), "mytool");
        assert_eq!(get(&t, &format!("{du}.Description")), "Network tool");
        // Just a version.
        let r = install(
            &mut t,
            &install_op("http://h/tool.ipk", None, None),
            b"v0.9",
            STARTED,
            NOW,
        );
        ok(&r);
        assert_eq!(r.version, "0.9");
        assert_eq!(get(&t, &format!("{}.Name", r.deployment_unit_ref)), "tool");
        // Neither: 1.0.
        let r = install(
            &mut t,
            &install_op("http://h/blob", None, None),
            &[0u8, 1, 2],
            STARTED,
            NOW,
        );
        ok(&r);
        assert_eq!(r.version, "1.0");
        assert_eq!(get(&t, &format!("{}.Name", r.deployment_unit_ref)), "blob");
    }

    #[test]
    fn package_reading() {
        let p = Package::read("http://a/b/speedtest-agent-1.0.3.ipk", b"\x00\x01binary");
        assert_eq!(
            (p.name.as_str(), p.version.as_deref()),
            ("speedtest-agent", Some("1.0.3"))
        );
        let p = Package::read("https://a/app_2.1-r3_mips_24kc.ipk?token=1", &[0xFF; 300]);
        assert_eq!(
            (p.name.as_str(), p.version.as_deref()),
            ("app", Some("2.1-r3"))
        );
        let p = Package::read("ftp://a/dir/", b"");
        assert_eq!((p.name.as_str(), p.version), ("package", None));
        let p = Package::read("http://a/v2-tool.tar.gz", b"hello world");
        assert_eq!((p.name.as_str(), p.version), ("v2-tool", None));
        let p = Package::read("http://a/x.jar", b"bundle 1.0.0.qualifier");
        assert_eq!(p.version.as_deref(), Some("1.0.0.qualifier"));
        let long = "1".repeat(40);
        assert_eq!(Package::read("http://a/x", long.as_bytes()).version, None);
        assert_eq!(Package::read("http://a/x", b"n\x071.0").version, None);
    }

    #[test]
    fn uuids() {
        // Python's uuid.uuid5(uuid.NAMESPACE_URL, ...).
        let u = name_uuid("speedtest-agent");
        assert_eq!(u, "4d9bd2de-a56c-5b3c-8c81-c9fa37935444");
        assert!(is_uuid(&u));
        assert_eq!(
            name_uuid("http://www.example.com/"),
            "fcde3c85-2270-590f-9e7c-ee003d65e0e2"
        );
        assert!(is_uuid(NIL_UUID));
        assert!(!is_uuid(""));
        assert!(!is_uuid("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeeee"));
        assert!(!is_uuid("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-1"));
        assert!(!is_uuid("gaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"));
    }

    #[test]
    fn version_order_and_bump() {
        assert_eq!(compare_versions("1.10", "1.9"), Ordering::Greater);
        assert_eq!(compare_versions("1.0.1", "1.0"), Ordering::Greater);
        assert_eq!(compare_versions("1.0", "1.0"), Ordering::Equal);
        assert_eq!(compare_versions("1.02", "1.2"), Ordering::Equal);
        assert_eq!(compare_versions("2.0-rc1", "2.0-rc2"), Ordering::Less);
        assert_eq!(bump("1.0.3"), "1.0.4");
        assert_eq!(bump("1.9"), "1.10");
        assert_eq!(bump("2.1-beta"), "2.2-beta");
        assert_eq!(bump("beta"), "beta.1");
        assert_eq!(bump(""), ".1");
        assert_eq!(bump("99999999999999999999"), "99999999999999999999.1");
    }

    #[test]
    fn install_faults() {
        let mut t = tree();
        let file = b"netmon-agent 2.4.1";
        // 9023: unknown environment (several spellings of a reference).
        for env in [
            "Device.SoftwareModules.ExecEnv.7",
            "Device.WiFi.Radio.1",
            "x",
        ] {
            let r = install(
                &mut t,
                &install_op(URL, None, Some(env)),
                file,
                STARTED,
                NOW,
            );
            faulted(&r, FaultCode::UNKNOWN_EXECUTION_ENVIRONMENT);
            assert_eq!(r.current_state, DeploymentUnitState::Failed);
        }
        for env in [
            "Device.SoftwareModules.ExecEnv.1",
            "Device.SoftwareModules.ExecEnv.1.",
            ".SoftwareModules.ExecEnv.1.",
        ] {
            let mut t = tree();
            ok(&install(
                &mut t,
                &install_op(URL, None, Some(env)),
                file,
                STARTED,
                NOW,
            ));
        }
        // 9018: empty package.
        let r = install(&mut t, &install_op(URL, None, None), b"", STARTED, NOW);
        faulted(&r, FaultCode::FILE_TRANSFER_FILE_CORRUPTED);
        // 9022: malformed UUID (the decoder lets none through; a caller might).
        let r = install(
            &mut t,
            &install_op(URL, Some("not-a-uuid"), None),
            file,
            STARTED,
            NOW,
        );
        faulted(&r, FaultCode::INVALID_UUID_FORMAT);
        assert_eq!(r.uuid, NIL_UUID);
        // 9025: a Java bundle on a Linux container.
        let r = install(
            &mut t,
            &install_op("http://h/b-1.0.jar", None, None),
            file,
            STARTED,
            NOW,
        );
        faulted(
            &r,
            FaultCode::DEPLOYMENT_UNIT_EXECUTION_ENVIRONMENT_MISMATCH,
        );
        // 9026: same UUID, version and environment.
        ok(&install(
            &mut t,
            &install_op(URL, None, None),
            file,
            STARTED,
            NOW,
        ));
        let r = install(&mut t, &install_op(URL, None, None), file, STARTED, NOW);
        faulted(&r, FaultCode::DUPLICATE_DEPLOYMENT_UNIT);
        assert_eq!(r.uuid, name_uuid("netmon-agent"));
        // The built-in unit, by its UUID and version.
        let uuid = builtin_uuid(&t);
        let r = install(
            &mut t,
            &install_op("http://h/speedtest-agent-1.0.3.ipk", Some(&uuid), None),
            &[1],
            STARTED,
            NOW,
        );
        faulted(&r, FaultCode::DUPLICATE_DEPLOYMENT_UNIT);
        // Another version of the same unit is fine.
        let r = install(
            &mut t,
            &install_op("http://h/speedtest-agent-1.1.0.ipk", Some(&uuid), None),
            &[1],
            STARTED,
            NOW,
        );
        ok(&r);
        // 9027: larger than the environment's free space (49152 KiB).
        set(&mut t, &format!("{SM}ExecEnv.1.AvailableDiskSpace"), "1");
        let r = install(
            &mut t,
            &install_op("http://h/big-1.0.ipk", None, None),
            &[7; 2048],
            STARTED,
            NOW,
        );
        faulted(&r, FaultCode::SYSTEM_RESOURCES_EXCEEDED);
        // 9024: disabled environment.
        set(&mut t, &format!("{SM}ExecEnv.1.Enable"), "false");
        let r = install(
            &mut t,
            &install_op("http://h/c-1.0.ipk", None, None),
            file,
            STARTED,
            NOW,
        );
        faulted(&r, FaultCode::DISABLED_EXECUTION_ENVIRONMENT);
        // Nothing half-made by the faults.
        assert_eq!(get(&t, &format!("{SM}DeploymentUnitNumberOfEntries")), "3");
        assert_eq!(get(&t, &format!("{SM}ExecutionUnitNumberOfEntries")), "3");
    }

    #[test]
    fn install_without_software_modules() {
        let text = "Device.DeviceInfo.SerialNumber\txsd:string\t0\t{serial}\n";
        let p = crate::model::Profile::parse(text, "t.tsv").unwrap();
        let template = Template::from_profile(&p, None).unwrap();
        let id = template.identity(0, "S");
        let mut t = Tree::new(Arc::new(template), id, NOW);
        let r = install(&mut t, &install_op(URL, None, None), b"1.0", STARTED, NOW);
        faulted(&r, FaultCode::REQUEST_DENIED);
        let r = update(&mut t, &update_op(None, None, None), None, STARTED, NOW);
        faulted(&r, FaultCode::REQUEST_DENIED);
        let r = uninstall(&mut t, &uninstall_op(NIL_UUID, None), STARTED, NOW);
        faulted(&r, FaultCode::REQUEST_DENIED);
    }

    #[test]
    fn update_paths() {
        let mut t = tree();
        let uuid = builtin_uuid(&t);
        let du = "Device.SoftwareModules.DeploymentUnit.1";
        // A new file with a newer version.
        let new_url = "http://apps.example.net/speedtest-agent-1.1.0.ipk";
        let r = update(
            &mut t,
            &update_op(Some(&uuid), None, Some(new_url)),
            Some(b"\x00bin"),
            STARTED,
            NOW,
        );
        ok(&r);
        assert_eq!(r.deployment_unit_ref, du);
        assert_eq!(r.version, "1.1.0");
        assert_eq!(r.current_state, DeploymentUnitState::Installed);
        assert_eq!(
            r.execution_unit_ref_list,
            "Device.SoftwareModules.ExecutionUnit.1"
        );
        assert_eq!(get(&t, &format!("{du}.Version")), "1.1.0");
        assert_eq!(get(&t, &format!("{du}.URL")), new_url);
        assert_eq!(get(&t, &format!("{du}.UUID")), uuid);
        assert_eq!(get(&t, &format!("{du}.LastUpdate")), "2024-05-01T12:00:00Z");
        assert_eq!(get(&t, &format!("{du}.Installed")), "2024-03-01T09:35:00Z");
        assert_eq!(
            get(&t, "Device.SoftwareModules.ExecutionUnit.1.Version"),
            "1.1.0"
        );
        // No URL, no file: the same URL again, a newer build.
        let r = update(
            &mut t,
            &update_op(Some(&uuid), Some("1.1.0"), None),
            None,
            STARTED,
            NOW,
        );
        ok(&r);
        assert_eq!(r.version, "1.1.1");
        assert_eq!(get(&t, &format!("{du}.URL")), new_url);
        // By URL alone.
        let r = update(
            &mut t,
            &update_op(None, None, Some(new_url)),
            Some(b"2.0"),
            STARTED,
            NOW,
        );
        ok(&r);
        assert_eq!(r.version, "2.0");
        // Every unit.
        ok(&install(
            &mut t,
            &install_op(URL, None, None),
            b"\x01",
            STARTED,
            NOW,
        ));
        let rs = update_each(&mut t, &update_op(None, None, None), None, STARTED, NOW);
        assert_eq!(rs.len(), 2);
        for r in &rs {
            ok(r);
        }
        assert_eq!(rs[0].version, "2.1");
        assert_eq!(rs[1].version, "2.4.2");
    }

    #[test]
    fn update_faults() {
        let mut t = tree();
        let uuid = builtin_uuid(&t);
        let other = "11111111-2222-5333-8444-555555555555";
        // 9028: unknown UUID, or version, or URL.
        let r = update(
            &mut t,
            &update_op(Some(other), None, None),
            None,
            STARTED,
            NOW,
        );
        faulted(&r, FaultCode::UNKNOWN_DEPLOYMENT_UNIT);
        assert_eq!(r.current_state, DeploymentUnitState::Failed);
        assert_eq!(r.uuid, other);
        let r = update(
            &mut t,
            &update_op(Some(&uuid), Some("9.9"), None),
            None,
            STARTED,
            NOW,
        );
        faulted(&r, FaultCode::UNKNOWN_DEPLOYMENT_UNIT);
        let r = update(
            &mut t,
            &update_op(None, None, Some("http://nowhere/x.ipk")),
            Some(b"1"),
            STARTED,
            NOW,
        );
        faulted(&r, FaultCode::UNKNOWN_DEPLOYMENT_UNIT);
        assert_eq!(r.uuid, NIL_UUID);
        // 9030: downgrade; the unit stays as it was, installed.
        let r = update(
            &mut t,
            &update_op(Some(&uuid), None, None),
            Some(b"0.9"),
            STARTED,
            NOW,
        );
        faulted(&r, FaultCode::DEPLOYMENT_UNIT_DOWNGRADE_NOT_PERMITTED);
        assert_eq!(r.current_state, DeploymentUnitState::Installed);
        assert_eq!(r.version, "1.0.3");
        assert_eq!(
            r.deployment_unit_ref,
            "Device.SoftwareModules.DeploymentUnit.1"
        );
        assert_eq!(
            get(&t, "Device.SoftwareModules.DeploymentUnit.1.Version"),
            "1.0.3"
        );
        // 9032: the version installed.
        let r = update(
            &mut t,
            &update_op(Some(&uuid), None, None),
            Some(b"1.0.3"),
            STARTED,
            NOW,
        );
        faulted(&r, FaultCode::DEPLOYMENT_UNIT_VERSION_EXISTS);
        // 9031: two versions installed, the update names none.
        ok(&install(
            &mut t,
            &install_op("http://h/speedtest-agent-1.2.0.ipk", Some(&uuid), None),
            &[1],
            STARTED,
            NOW,
        ));
        let r = update(
            &mut t,
            &update_op(Some(&uuid), None, None),
            Some(b"1.3"),
            STARTED,
            NOW,
        );
        faulted(&r, FaultCode::DEPLOYMENT_UNIT_VERSION_NOT_SPECIFIED);
        // 9032 again: updating 1.0.3 to 1.2.0, which the other instance has.
        let r = update(
            &mut t,
            &update_op(Some(&uuid), Some("1.0.3"), None),
            Some(b"1.2.0"),
            STARTED,
            NOW,
        );
        faulted(&r, FaultCode::DEPLOYMENT_UNIT_VERSION_EXISTS);
        // With the version named it works.
        ok(&update(
            &mut t,
            &update_op(Some(&uuid), Some("1.0.3"), None),
            Some(b"1.3"),
            STARTED,
            NOW,
        ));
        // 9029: not in the Installed state.
        set(
            &mut t,
            "Device.SoftwareModules.DeploymentUnit.1.Status",
            "Installing",
        );
        let r = update(
            &mut t,
            &update_op(Some(&uuid), Some("1.3"), None),
            Some(b"1.4"),
            STARTED,
            NOW,
        );
        faulted(&r, FaultCode::INVALID_DEPLOYMENT_UNIT_STATE);
        // 9022 and 9018.
        let r = update(
            &mut t,
            &update_op(Some("zzz"), None, None),
            None,
            STARTED,
            NOW,
        );
        faulted(&r, FaultCode::INVALID_UUID_FORMAT);
        let r = update(
            &mut t,
            &update_op(Some(&uuid), Some("1.2.0"), None),
            Some(b""),
            STARTED,
            NOW,
        );
        faulted(&r, FaultCode::FILE_TRANSFER_FILE_CORRUPTED);
        // 9025: a Java bundle for the Linux container.
        let r = update(
            &mut t,
            &update_op(Some(&uuid), Some("1.2.0"), Some("http://h/x-2.0.jar")),
            Some(b"2.0"),
            STARTED,
            NOW,
        );
        faulted(
            &r,
            FaultCode::DEPLOYMENT_UNIT_EXECUTION_ENVIRONMENT_MISMATCH,
        );
    }

    #[test]
    fn uninstall_paths() {
        let mut t = tree();
        let uuid = builtin_uuid(&t);
        let r = uninstall(&mut t, &uninstall_op(&uuid, Some("1.0.3")), STARTED, NOW);
        ok(&r);
        assert_eq!(r.current_state, DeploymentUnitState::Uninstalled);
        assert_eq!(
            r.deployment_unit_ref,
            "Device.SoftwareModules.DeploymentUnit.1"
        );
        assert_eq!(r.version, "1.0.3");
        assert_eq!(
            r.execution_unit_ref_list,
            "Device.SoftwareModules.ExecutionUnit.1"
        );
        assert!(!t.exists("Device.SoftwareModules.DeploymentUnit.1."));
        assert!(!t.exists("Device.SoftwareModules.ExecutionUnit.1."));
        assert_eq!(get(&t, &format!("{SM}DeploymentUnitNumberOfEntries")), "0");
        assert_eq!(get(&t, &format!("{SM}ExecutionUnitNumberOfEntries")), "0");
        assert_eq!(get(&t, &format!("{SM}ExecEnv.1.ActiveExecutionUnits")), "");
        // Gone: 9028.
        let r = uninstall(&mut t, &uninstall_op(&uuid, None), STARTED, NOW);
        faulted(&r, FaultCode::UNKNOWN_DEPLOYMENT_UNIT);
        assert_eq!(r.current_state, DeploymentUnitState::Failed);

        // Without a version, every version goes.
        let op = |v: &str| install_op(&format!("http://h/tool-{v}.ipk"), None, None);
        let a = install(&mut t, &op("1.0"), &[1], STARTED, NOW);
        let b = install(&mut t, &op("2.0"), &[1], STARTED, NOW);
        ok(&a);
        ok(&b);
        assert_eq!(a.uuid, b.uuid);
        let r = uninstall(&mut t, &uninstall_op(&a.uuid, None), STARTED, NOW);
        ok(&r);
        assert_eq!(r.deployment_unit_ref, a.deployment_unit_ref);
        assert_eq!(
            r.execution_unit_ref_list,
            format!(
                "{},{}",
                a.execution_unit_ref_list, b.execution_unit_ref_list
            )
        );
        assert_eq!(get(&t, &format!("{SM}DeploymentUnitNumberOfEntries")), "0");
        // A reinstall takes a new instance number.
        let c = install(&mut t, &op("3.0"), &[1], STARTED, NOW);
        ok(&c);
        assert_eq!(
            c.deployment_unit_ref,
            "Device.SoftwareModules.DeploymentUnit.4"
        );
    }

    #[test]
    fn uninstall_faults() {
        let mut t = tree();
        let uuid = builtin_uuid(&t);
        // 9022.
        let r = uninstall(&mut t, &uninstall_op("", None), STARTED, NOW);
        faulted(&r, FaultCode::INVALID_UUID_FORMAT);
        assert_eq!(r.uuid, NIL_UUID);
        // 9028: wrong version.
        let r = uninstall(&mut t, &uninstall_op(&uuid, Some("0.1")), STARTED, NOW);
        faulted(&r, FaultCode::UNKNOWN_DEPLOYMENT_UNIT);
        // 9023: unknown environment.
        let mut op = uninstall_op(&uuid, None);
        op.execution_env_ref = Some("Device.SoftwareModules.ExecEnv.3".into());
        let r = uninstall(&mut t, &op, STARTED, NOW);
        faulted(&r, FaultCode::UNKNOWN_EXECUTION_ENVIRONMENT);
        // 9029: uninstalling already.
        set(
            &mut t,
            "Device.SoftwareModules.DeploymentUnit.1.Status",
            "Uninstalling",
        );
        let r = uninstall(&mut t, &uninstall_op(&uuid, None), STARTED, NOW);
        faulted(&r, FaultCode::INVALID_DEPLOYMENT_UNIT_STATE);
        assert_eq!(r.current_state, DeploymentUnitState::Installed);
        assert!(t.exists("Device.SoftwareModules.DeploymentUnit.1."));
    }

    /// With TR-181's own definitions (UUID and URL data types, enumerations), everything
    /// written fits.
    #[test]
    fn fits_tr181_definitions() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/bbf/tr-181-2-17-0-cwmp-full.xml");
        let Ok(model) = crate::model::Model::from_bbf_file(&path) else {
            eprintln!("skipped: {} not found", path.display());
            return;
        };
        let profile = crate::model::Profile::builtin().unwrap();
        let template = Template::from_profile(&profile, Some(model)).unwrap();
        let identity = template.identity(2, "SN2");
        let mut t = Tree::new(Arc::new(template), identity, STARTED);
        let r = install(&mut t, &install_op(URL, None, None), b"\x01", STARTED, NOW);
        ok(&r);
        let du = r.deployment_unit_ref.to_string();
        for (name, value) in [
            ("UUID", r.uuid.to_string()),
            ("Version", "2.4.1".into()),
            ("Status", "Installed".into()),
            ("URL", URL.into()),
            ("ExecutionUnitList", r.execution_unit_ref_list.to_string()),
            ("Installed", "2024-05-01T12:00:00Z".into()),
        ] {
            assert_eq!(get(&t, &format!("{du}.{name}")), value, "{name}");
        }
        let eu = r.execution_unit_ref_list.to_string();
        assert_eq!(get(&t, &format!("{eu}.Status")), "Idle");
        assert_eq!(get(&t, &format!("{eu}.ExecutionFaultCode")), "NoFault");
        let u = update(
            &mut t,
            &update_op(Some(&r.uuid), None, None),
            None,
            STARTED,
            NOW,
        );
        ok(&u);
        assert_eq!(get(&t, &format!("{du}.Version")), "2.4.2");
        ok(&uninstall(
            &mut t,
            &uninstall_op(&r.uuid, None),
            STARTED,
            NOW,
        ));
        assert!(!t.exists(&format!("{du}.")));
    }

    #[test]
    fn failed_results_encode() {
        for uuid in ["", "junk", NIL_UUID, "AAAAAAAA-BBBB-5CCC-8DDD-EEEEEEEEEEEE"] {
            let r = failed(
                uuid,
                FaultCode::FILE_TRANSFER_FILE_UNREACHABLE,
                &"x".repeat(400),
                STARTED,
                NOW,
            );
            faulted(&r, FaultCode::FILE_TRANSFER_FILE_UNREACHABLE);
            assert_eq!(r.current_state, DeploymentUnitState::Failed);
            assert_eq!(r.fault.fault_string.as_deref().map(str::len), Some(256));
        }
    }
}

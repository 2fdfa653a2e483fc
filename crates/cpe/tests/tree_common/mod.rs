//! Helpers shared by the tree tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use cpe::DataModel;
use cpe::Time;
use cpe::model::Model;
use cpe::tree::{Template, Tree};
use cwmp::{
    AddObject, Body, DeleteObject, GetParameterAttributes, GetParameterNames, GetParameterValues,
    Notification, ParameterValue, ParameterValueStruct, SetParameterAttributes,
    SetParameterAttributesStruct, SetParameterValues,
};

/// A time after the epoch, so that "since boot" arithmetic is visible.
pub const T0: Time = Time(1_700_000_000_000);

pub fn bbf(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/bbf")
        .join(file)
}

pub fn fixture(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(file)
}

pub fn builtin() -> Arc<Template> {
    static T: OnceLock<Arc<Template>> = OnceLock::new();
    Arc::clone(T.get_or_init(|| Arc::new(Template::builtin().unwrap())))
}

pub fn tr181() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| Model::from_bbf_file(bbf("tr-181-2-17-0-cwmp-full.xml")).unwrap())
}

/// The built-in profile with TR-181's definitions.
pub fn builtin_tr181() -> Arc<Template> {
    static T: OnceLock<Arc<Template>> = OnceLock::new();
    Arc::clone(T.get_or_init(|| {
        let p = cpe::model::Profile::builtin().unwrap();
        Arc::new(Template::from_profile(&p, Some(tr181().clone())).unwrap())
    }))
}

pub fn device(t: &Arc<Template>, index: u64) -> Tree {
    let id = t.identity(index, format!("SIM{index:09}"));
    Tree::new(Arc::clone(t), id, T0)
}

/// Sends a request; the answer must encode in every namespace it exists in.
pub fn rpc(tree: &mut Tree, request: impl Into<Body<'static>>) -> Body<'static> {
    rpc_at(tree, request, T0)
}

pub fn rpc_at(tree: &mut Tree, request: impl Into<Body<'static>>, now: Time) -> Body<'static> {
    let body = tree.handle_parameter_rpc(&request.into(), now).unwrap();
    let env = cwmp::Envelope::new(cwmp::Namespace::Cwmp1_2, None, body.clone());
    if let Err(e) = env.encode() {
        panic!("does not encode: {e}\n{body:#?}");
    }
    body
}

pub fn fault_code(body: &Body<'_>) -> Option<u32> {
    match body {
        Body::Fault(f) => f.code().map(|c| c.0),
        _ => None,
    }
}

/// The per-parameter faults of a SetParameterValues fault.
pub fn spv_faults(body: &Body<'_>) -> Vec<(String, u32)> {
    match body {
        Body::Fault(f) => f
            .detail
            .as_ref()
            .unwrap()
            .set_parameter_values_faults
            .iter()
            .map(|f| (f.parameter_name.to_string(), f.fault_code.0))
            .collect(),
        other => panic!("not a fault: {other:?}"),
    }
}

pub fn gpn(tree: &mut Tree, path: &str, next_level: bool) -> Result<Vec<(String, bool)>, u32> {
    let body = rpc(
        tree,
        GetParameterNames {
            parameter_path: Cow::Owned(path.to_owned()),
            next_level,
        },
    );
    match body {
        Body::GetParameterNamesResponse(r) => Ok(r
            .parameter_list
            .into_iter()
            .map(|p| (p.name.into_owned(), p.writable))
            .collect()),
        other => Err(fault_code(&other).unwrap()),
    }
}

pub fn gpv_at(
    tree: &mut Tree,
    names: &[&str],
    now: Time,
) -> Result<Vec<(String, ParameterValue<'static>)>, u32> {
    let body = rpc_at(
        tree,
        GetParameterValues {
            parameter_names: names.iter().map(|n| Cow::Owned((*n).to_owned())).collect(),
        },
        now,
    );
    match body {
        Body::GetParameterValuesResponse(r) => Ok(r
            .parameter_list
            .into_iter()
            .map(|p| (p.name.into_owned(), p.value))
            .collect()),
        other => Err(fault_code(&other).unwrap()),
    }
}

pub fn gpv(tree: &mut Tree, names: &[&str]) -> Result<Vec<(String, ParameterValue<'static>)>, u32> {
    gpv_at(tree, names, T0)
}

/// The single value of a full name.
pub fn get(tree: &mut Tree, name: &str) -> ParameterValue<'static> {
    let mut v = gpv(tree, &[name]).unwrap();
    assert_eq!(v.len(), 1, "{name}");
    v.remove(0).1
}

pub fn spv_body(
    tree: &mut Tree,
    list: &[(&str, ParameterValue<'static>)],
    key: &str,
) -> Body<'static> {
    rpc(
        tree,
        SetParameterValues {
            parameter_list: list
                .iter()
                .map(|(n, v)| ParameterValueStruct::new((*n).to_owned(), v.clone()))
                .collect(),
            parameter_key: Cow::Owned(key.to_owned()),
        },
    )
}

pub fn spv(
    tree: &mut Tree,
    list: &[(&str, ParameterValue<'static>)],
    key: &str,
) -> Result<(), u32> {
    match spv_body(tree, list, key) {
        Body::SetParameterValuesResponse(_) => Ok(()),
        other => Err(fault_code(&other).unwrap()),
    }
}

pub fn gpa(tree: &mut Tree, names: &[&str]) -> Result<Vec<(String, u8, Vec<String>)>, u32> {
    let body = rpc(
        tree,
        GetParameterAttributes {
            parameter_names: names.iter().map(|n| Cow::Owned((*n).to_owned())).collect(),
        },
    );
    match body {
        Body::GetParameterAttributesResponse(r) => Ok(r
            .parameter_list
            .into_iter()
            .map(|p| {
                (
                    p.name.into_owned(),
                    p.notification as u8,
                    p.access_list.into_iter().map(Cow::into_owned).collect(),
                )
            })
            .collect()),
        other => Err(fault_code(&other).unwrap()),
    }
}

pub fn spa_struct(
    name: &str,
    notification: Option<Notification>,
    access_list: Option<&[&str]>,
) -> SetParameterAttributesStruct<'static> {
    SetParameterAttributesStruct {
        name: Cow::Owned(name.to_owned()),
        notification_change: notification.is_some(),
        notification: notification.unwrap_or(Notification::Off),
        access_list_change: access_list.is_some(),
        access_list: access_list
            .unwrap_or(&[])
            .iter()
            .map(|s| Cow::Owned((*s).to_owned()))
            .collect(),
    }
}

pub fn spa(tree: &mut Tree, list: Vec<SetParameterAttributesStruct<'static>>) -> Result<(), u32> {
    match rpc(
        tree,
        SetParameterAttributes {
            parameter_list: list,
        },
    ) {
        Body::SetParameterAttributesResponse(_) => Ok(()),
        other => Err(fault_code(&other).unwrap()),
    }
}

pub fn add_object(tree: &mut Tree, name: &str, key: &str) -> Result<u32, u32> {
    match rpc(
        tree,
        AddObject {
            object_name: Cow::Owned(name.to_owned()),
            parameter_key: Cow::Owned(key.to_owned()),
        },
    ) {
        Body::AddObjectResponse(r) => Ok(r.instance_number),
        other => Err(fault_code(&other).unwrap()),
    }
}

pub fn delete_object(tree: &mut Tree, name: &str, key: &str) -> Result<(), u32> {
    match rpc(
        tree,
        DeleteObject {
            object_name: Cow::Owned(name.to_owned()),
            parameter_key: Cow::Owned(key.to_owned()),
        },
    ) {
        Body::DeleteObjectResponse(_) => Ok(()),
        other => Err(fault_code(&other).unwrap()),
    }
}

pub fn s(v: &str) -> ParameterValue<'static> {
    ParameterValue::String(Cow::Owned(v.to_owned()))
}

pub fn parameter_key(tree: &Tree) -> String {
    tree.parameter_key()
}

//! The northbound REST API, shaped like GenieACS's so that existing integrations can switch:
//! `GET /devices?query=...`, `POST /devices/{id}/tasks?connection_request&timeout=ms`,
//! `GET /tasks`, `GET /faults`, tags, provisioning (`/presets`, `/provisions`,
//! `/virtual_parameters`), plus per-device CPE credentials, `/metrics` and
//! `/openapi.json`. Every route but `/openapi.json` and `/health` needs a bearer token.

use std::time::Duration;

use acs_core::DeviceId;
use acs_core::preset::{Name, Preset, ScriptKind};
use acs_core::query::{parse_filter, parse_projection, parse_sort};
use acs_core::session::TaskOutcome;
use acs_core::task::{parse_task, task_json};
use acs_store::{CpeCredential, DeviceQuery, ListQuery, Page, Store, StoreError};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::cwmp_server::now;
use crate::state::AppState;
use crate::{metrics, tokens};

/// The API's errors, each mapped to its HTTP status here and nowhere else.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 401: no valid token.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// The store failed (500), or refused a query (400).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) | ApiError::Store(StoreError::InvalidQuery(_)) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Store(e) => {
                warn!("store error in API: {e}");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut r = (status, self.to_string()).into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The API's routes.
pub fn router<S: Store + std::fmt::Debug>(state: AppState<S>) -> Router {
    let protected = Router::new()
        .route("/devices", get(list_devices::<S>))
        .route("/devices/{id}", delete(delete_device::<S>))
        .route("/devices/{id}/tasks", post(create_task::<S>))
        .route(
            "/devices/{id}/tags/{tag}",
            post(add_tag::<S>).delete(remove_tag::<S>),
        )
        .route(
            "/devices/{id}/credentials",
            put(set_credentials::<S>).delete(delete_credentials::<S>),
        )
        .route("/tasks", get(list_tasks::<S>))
        .route("/tasks/{id}", delete(delete_task::<S>))
        .route("/tasks/{id}/retry", post(retry_task::<S>))
        .route("/faults", get(list_faults::<S>))
        .route("/faults/{id}", delete(delete_fault::<S>))
        .route("/presets", get(list_presets::<S>))
        .route(
            "/presets/{name}",
            get(get_preset::<S>)
                .put(put_preset::<S>)
                .delete(delete_preset::<S>),
        )
        .route("/provisions", get(list_provisions::<S>))
        .route(
            "/provisions/{name}",
            get(get_provision::<S>)
                .put(put_provision::<S>)
                .delete(delete_provision::<S>),
        )
        .route("/virtual_parameters", get(list_virtual_parameters::<S>))
        .route(
            "/virtual_parameters/{name}",
            get(get_virtual_parameter::<S>)
                .put(put_virtual_parameter::<S>)
                .delete(delete_virtual_parameter::<S>),
        )
        .route("/metrics", get(render_metrics::<S>))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_token::<S>,
        ));
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/health", get(|| async { "ok" }))
        .merge(protected)
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.api.max_body_bytes,
        ))
        .with_state(state)
}

/// Serves the API until `shutdown` turns true.
pub async fn serve<S: Store + std::fmt::Debug>(
    state: AppState<S>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = router(state);
    let stop = async move {
        while !*shutdown.borrow() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
    };
    match tls {
        None => {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                warn!("API server stopped: {e}");
            }
        }
        Some(acceptor) => serve_tls(listener, acceptor, app, stop).await,
    }
}

async fn serve_tls(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: Router,
    stop: impl Future<Output = ()>,
) {
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let acceptor = acceptor.clone();
                let service = TowerToHyperService::new(app.clone());
                tokio::spawn(async move {
                    let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await else {
                        return;
                    };
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                });
            }
            _ = &mut stop => return,
        }
    }
}

async fn require_token<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() == "/metrics" && state.config.api.metrics_public {
        return next.run(request).await;
    }
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match tokens::authenticate(&state.store, value).await {
        Ok(Some(_)) => next.run(request).await,
        Ok(None) => ApiError::Unauthorized.into_response(),
        Err(e) => ApiError::Store(e).into_response(),
    }
}

fn device_id(raw: &str) -> ApiResult<DeviceId> {
    DeviceId::parse(raw).map_err(|e| ApiError::BadRequest(e.to_string()))
}

fn json_param(name: &str, raw: Option<&str>) -> ApiResult<Option<Value>> {
    raw.filter(|s| !s.is_empty())
        .map(|s| {
            serde_json::from_str(s)
                .map_err(|e| ApiError::BadRequest(format!("{name} is not JSON: {e}")))
        })
        .transpose()
}

#[derive(Debug, Deserialize)]
struct ListParams {
    query: Option<String>,
    projection: Option<String>,
    sort: Option<String>,
    skip: Option<u64>,
    limit: Option<u64>,
    /// `exact`: count every match, however many (`api.count_limit` otherwise).
    count: Option<String>,
}

/// A JSON array with the `total` header GenieACS sends, and `total-exact`: `false` when
/// `total` is only a lower bound (more devices match than `api.count_limit`).
fn page_response(page: Page) -> Response {
    let mut r = Json(Value::Array(page.items)).into_response();
    if let Ok(v) = HeaderValue::from_str(&page.total.to_string()) {
        r.headers_mut().insert("total", v);
    }
    r.headers_mut().insert(
        "total-exact",
        HeaderValue::from_static(if page.total_exact { "true" } else { "false" }),
    );
    r
}

async fn list_devices<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Query(p): Query<ListParams>,
) -> ApiResult<Response> {
    let filter = match json_param("query", p.query.as_deref())? {
        Some(q) => parse_filter(&q).map_err(|e| ApiError::BadRequest(e.to_string()))?,
        None => acs_core::query::Filter::All,
    };
    let sort = match json_param("sort", p.sort.as_deref())? {
        Some(s) => parse_sort(&s).map_err(|e| ApiError::BadRequest(e.to_string()))?,
        None => Vec::new(),
    };
    let projection = parse_projection(p.projection.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let count_limit = match p.count.as_deref() {
        None => Some(state.config.api.count_limit),
        Some("exact") => None,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "count must be \"exact\", not {other:?}"
            )));
        }
    };
    let query = DeviceQuery {
        filter,
        projection,
        sort,
        skip: p.skip.unwrap_or(0),
        limit: p.limit,
        count_limit,
    };
    Ok(page_response(state.store.query_devices(&query).await?))
}

async fn delete_device<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = device_id(&id)?;
    if state.store.delete_device(&id).await? {
        info!(device = %id, "device deleted through the API");
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::NotFound("No such device".into()))
    }
}

#[derive(Debug, Deserialize)]
struct TaskParams {
    connection_request: Option<String>,
    timeout: Option<u64>,
}

/// A response with GenieACS's reason phrases ("Task queued but not processed", ...).
fn with_reason(status: StatusCode, reason: &str, body: Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    if let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(reason.as_bytes().to_vec()) {
        r.extensions_mut().insert(phrase);
    }
    r
}

async fn create_task<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
    Query(p): Query<TaskParams>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let device = device_id(&id)?;
    if state.store.device_summary(&device).await?.is_none() {
        return Err(ApiError::NotFound("No such device".into()));
    }
    let wants_cr = p.connection_request.is_some();
    if body.iter().all(u8::is_ascii_whitespace) {
        // No task: a connection request alone (GenieACS).
        if !wants_cr {
            return Err(ApiError::BadRequest(
                "a task, or ?connection_request, is required".into(),
            ));
        }
        return Ok(match connection_request(&state, &device).await {
            Ok(()) => StatusCode::OK.into_response(),
            Err(e) => with_reason(StatusCode::GATEWAY_TIMEOUT, &e, json!({ "error": e })),
        });
    }
    let json: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the task is not JSON: {e}")))?;
    let task = parse_task(device.clone(), &json, now())
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let task_doc = task.json.clone();
    let task_id = state.store.insert_task(task).await?;
    let doc = task_json(task_id, &task_doc);
    info!(device = %device, task = task_id, name = %doc["name"], "task queued");
    if !wants_cr {
        return Ok(with_reason(StatusCode::ACCEPTED, "Accepted", doc));
    }

    let outcome = state.waiters.wait(task_id);
    // A session in progress finishes first; the task is taken by the next one.
    state
        .sessions
        .wait_end(&device, Duration::from_secs(30))
        .await;
    if let Err(e) = connection_request(&state, &device).await {
        return Ok(with_reason(StatusCode::ACCEPTED, &e, doc));
    }
    let wait = Duration::from_millis(
        p.timeout
            .unwrap_or(state.config.connection_request.default_wait_ms),
    );
    Ok(
        match tokio::time::timeout(wait, task_outcome(&state, &device, task_id, outcome)).await {
            Ok(Ok(TaskOutcome::Done(result))) => {
                let mut doc = doc;
                if let Value::Object(o) = &mut doc
                    && !result.is_null()
                {
                    o.insert("result".into(), result);
                }
                with_reason(StatusCode::OK, "OK", doc)
            }
            Ok(Ok(TaskOutcome::Faulted(fault))) => {
                let mut doc = doc;
                if let Value::Object(o) = &mut doc {
                    o.insert(
                    "fault".into(),
                    json!({"code": fault.code, "message": fault.message, "detail": fault.detail}),
                );
                }
                with_reason(StatusCode::ACCEPTED, "Task faulted", doc)
            }
            _ => with_reason(StatusCode::ACCEPTED, "Task queued but not processed", doc),
        },
    )
}

/// How the task ended: told by this node's session with the device, or, when the device
/// went to another node sharing the store, seen in the store (the task gone: done; a fault
/// in its channel: faulted). The store is asked every quarter second, which is cheap (one
/// indexed row) and works on every PostgreSQL-compatible engine (no LISTEN/NOTIFY).
async fn task_outcome<S: Store + std::fmt::Debug>(
    state: &AppState<S>,
    device: &DeviceId,
    task: acs_core::task::TaskId,
    mut local: tokio::sync::oneshot::Receiver<TaskOutcome>,
) -> Result<TaskOutcome, tokio::sync::oneshot::error::RecvError> {
    let mut poll = tokio::time::interval(Duration::from_millis(250));
    poll.tick().await;
    loop {
        tokio::select! {
            outcome = &mut local => return outcome,
            _ = poll.tick() => {}
        }
        if let Some(outcome) = stored_outcome(state, device, task).await {
            // Done here after all? This node's own outcome (with the result) is published
            // right after its commit.
            return Ok(
                match tokio::time::timeout(Duration::from_millis(100), &mut local).await {
                    Ok(Ok(o)) => o,
                    _ => outcome,
                },
            );
        }
    }
}

/// The task's outcome as the store shows it, if it has one.
async fn stored_outcome<S: Store + std::fmt::Debug>(
    state: &AppState<S>,
    device: &DeviceId,
    task: acs_core::task::TaskId,
) -> Option<TaskOutcome> {
    let query = ListQuery {
        equals: vec![
            ("device".into(), Value::String(device.to_string())),
            (
                "channel".into(),
                Value::String(acs_core::fault::task_channel(task)),
            ),
        ],
        skip: 0,
        limit: Some(1),
    };
    if let Ok(page) = state.store.list_faults(&query).await
        && let Some(f) = page.items.first()
    {
        return Some(TaskOutcome::Faulted(acs_core::fault::Fault {
            code: f["code"].as_str().unwrap_or_default().to_owned(),
            message: f["message"].as_str().unwrap_or_default().to_owned(),
            detail: Some(f["detail"].clone()).filter(|d| !d.is_null()),
            timestamp: acs_core::Timestamp::from_millis(0),
            retries: 0,
        }));
    }
    match state.store.task_device(task).await {
        Ok(None) => Some(TaskOutcome::Done(Value::Null)),
        _ => None,
    }
}

/// Sends a connection request; the error is a message for the reason phrase.
async fn connection_request<S: Store + std::fmt::Debug>(
    state: &AppState<S>,
    device: &DeviceId,
) -> Result<(), String> {
    let target = match state.store.connection_request_target(device).await {
        Ok(Some(t)) if !t.url.is_empty() => t,
        Ok(_) => return Err("No connection request URL known for the device".into()),
        Err(e) => return Err(format!("Store error: {e}")),
    };
    let creds = target
        .credentials
        .as_ref()
        .map(|(u, p)| (u.as_str(), p.as_str()));
    match state.conn_req.send(&target.url, creds).await {
        Ok(()) => {
            metrics::connection_request("ok");
            info!(device = %device, "connection request sent");
            Ok(())
        }
        Err(e) => {
            metrics::connection_request(e.outcome());
            info!(device = %device, "connection request failed: {e}");
            Err(format!("Connection request error: {e}"))
        }
    }
}

async fn add_tag<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = device_id(&id)?;
    check_tag(&tag)?;
    if state.store.add_tag(&id, &tag).await? {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::NotFound("No such device".into()))
    }
}

async fn remove_tag<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = device_id(&id)?;
    check_tag(&tag)?;
    if state.store.remove_tag(&id, &tag).await? {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::NotFound("No such device".into()))
    }
}

fn check_tag(tag: &str) -> ApiResult<()> {
    if tag.is_empty() || tag.len() > 256 || tag.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "a tag is 1 to 256 printable characters".into(),
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsBody {
    username: Option<String>,
    password: String,
}

async fn set_credentials<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    // JSON whatever the Content-Type says (curl -d sends a form type), as for tasks.
    let body: CredentialsBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not the expected JSON: {e}")))?;
    let device = device_id(&id)?;
    if body.password.len() < 8 {
        return Err(ApiError::BadRequest(
            "the password must be at least 8 characters".into(),
        ));
    }
    // TR-069 §3.4.4: the CPE's username is normally its OUI-ProductClass-SerialNumber.
    let username = body.username.unwrap_or_else(|| device.to_string());
    if username.is_empty() || username.contains(':') {
        return Err(ApiError::BadRequest(
            "the username cannot be empty or contain ':'".into(),
        ));
    }
    let realm = &state.config.cwmp.auth.realm;
    use cwmp::auth::digest::{Algorithm, ha1};
    let credential = CpeCredential {
        ha1_md5: ha1(Algorithm::Md5, &username, realm, &body.password),
        ha1_sha256: ha1(Algorithm::Sha256, &username, realm, &body.password),
        username,
        device: device.clone(),
    };
    state
        .store
        .set_cpe_credential(&device, Some(credential))
        .await?;
    info!(device = %device, "CPE credentials set");
    Ok(StatusCode::OK)
}

async fn delete_credentials<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let device = device_id(&id)?;
    state.store.set_cpe_credential(&device, None).await?;
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct SimpleListParams {
    query: Option<String>,
    skip: Option<u64>,
    limit: Option<u64>,
}

fn list_query(p: &SimpleListParams) -> ApiResult<ListQuery> {
    let equals = match json_param("query", p.query.as_deref())? {
        None => Vec::new(),
        Some(Value::Object(o)) => o.into_iter().collect(),
        Some(_) => return Err(ApiError::BadRequest("query is a JSON object".into())),
    };
    Ok(ListQuery {
        equals,
        skip: p.skip.unwrap_or(0),
        limit: p.limit,
    })
}

async fn list_tasks<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Query(p): Query<SimpleListParams>,
) -> ApiResult<Response> {
    Ok(page_response(
        state.store.list_tasks(&list_query(&p)?).await?,
    ))
}

fn task_id(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::NotFound("Task not found".into()))
}

async fn delete_task<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    match state.store.delete_task(task_id(&id)?).await? {
        Some(_) => Ok(StatusCode::OK),
        None => Err(ApiError::NotFound("Task not found".into())),
    }
}

async fn retry_task<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if state.store.retry_task(task_id(&id)?).await? {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::NotFound("Task not found".into()))
    }
}

async fn list_faults<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Query(p): Query<SimpleListParams>,
) -> ApiResult<Response> {
    Ok(page_response(
        state.store.list_faults(&list_query(&p)?).await?,
    ))
}

async fn delete_fault<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    // `<device>:<channel>`; device ids cannot hold ':' (it is escaped), channels can.
    let (device, channel) = id
        .split_once(':')
        .ok_or_else(|| ApiError::NotFound("Fault not found".into()))?;
    let device = device_id(device)?;
    if state.store.delete_fault(&device, channel).await? {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::NotFound("Fault not found".into()))
    }
}

/// A preset, provision or virtual parameter name from the path (see [`Name`] for what
/// is allowed and why).
fn provisioning_name(raw: &str) -> ApiResult<Name> {
    Name::parse(raw).map_err(|e| ApiError::BadRequest(e.to_string()))
}

#[derive(Debug, Deserialize)]
struct PageParams {
    skip: Option<u64>,
    limit: Option<u64>,
}

/// One page of a list the store returns whole (provisioning is small).
fn paged(items: Vec<Value>, p: &PageParams) -> Response {
    let total = items.len() as u64;
    let skip = usize::try_from(p.skip.unwrap_or(0)).unwrap_or(usize::MAX);
    let limit = p
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let items = items.into_iter().skip(skip).take(limit).collect();
    page_response(Page::exact(items, total))
}

async fn list_presets<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Query(p): Query<PageParams>,
) -> ApiResult<Response> {
    let presets = state.store.list_presets().await?;
    Ok(paged(presets.iter().map(Preset::to_api_json).collect(), &p))
}

async fn get_preset<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let name = provisioning_name(&name)?;
    match state.store.preset(&name).await? {
        Some(p) => Ok(Json(p.to_api_json())),
        None => Err(ApiError::NotFound("No such preset".into())),
    }
}

async fn put_preset<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let name = provisioning_name(&name)?;
    // JSON whatever the Content-Type says, as for tasks.
    let json: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the preset is not JSON: {e}")))?;
    let preset =
        Preset::from_json(&name, &json).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let revision = state.store.put_preset(&preset).await?;
    state.provisioning.invalidate();
    info!(preset = %name, revision, "preset stored");
    Ok(Json(preset.to_api_json()))
}

async fn delete_preset<S: Store + std::fmt::Debug>(
    State(state): State<AppState<S>>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let name = provisioning_name(&name)?;
    let deleted = state.store.delete_preset(&name).await?;
    state.provisioning.invalidate();
    if deleted {
        info!(preset = %name, "preset deleted");
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::NotFound("No such preset".into()))
    }
}

/// Checks a provision's or virtual parameter's source before it is stored: UTF-8 and not
/// blank. It does not parse the JavaScript yet: the syntax check (with the line and
/// column of an error) belongs to the script sandbox and is added here when that lands.
/// `acs provisioning import` checks every script with this function too.
pub fn check_script(kind: ScriptKind, name: &Name, source: &[u8]) -> Result<(), ApiError> {
    let text = std::str::from_utf8(source).map_err(|e| {
        ApiError::BadRequest(format!("the script of {name} is not UTF-8 text: {e}"))
    })?;
    if text.trim().is_empty() {
        return Err(ApiError::BadRequest(format!(
            "the script of {name} is empty"
        )));
    }
    if kind == ScriptKind::Provision
        && acs_core::provision::BUILTIN_PROVISIONS.contains(&name.as_str())
    {
        return Err(ApiError::BadRequest(format!(
            "{name} is the name of a built-in provision"
        )));
    }
    // Compiled in the sandbox, not run: a syntax error answers with its line and column.
    acs_script::check_syntax(name.as_str(), text)
        .map_err(|e| ApiError::BadRequest(format!("syntax error: {e}")))
}

async fn list_scripts<S: Store + std::fmt::Debug>(
    state: &AppState<S>,
    kind: ScriptKind,
    p: &PageParams,
) -> ApiResult<Response> {
    let scripts = state.store.list_scripts(kind).await?;
    // As GenieACS lists them: `_id` and `script`.
    let items = scripts
        .into_iter()
        .map(|s| json!({"_id": s.name.as_str(), "script": s.source}))
        .collect();
    Ok(paged(items, p))
}

async fn get_script<S: Store + std::fmt::Debug>(
    state: &AppState<S>,
    kind: ScriptKind,
    name: &str,
) -> ApiResult<Response> {
    let name = provisioning_name(name)?;
    match state.store.script(kind, &name).await? {
        Some(source) => Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/javascript; charset=utf-8"),
            )],
            source,
        )
            .into_response()),
        None => Err(ApiError::NotFound(format!("No such {}", kind.noun()))),
    }
}

/// Stores the body as the script, byte for byte, whatever its Content-Type
/// (`text/plain` or `application/javascript` are expected; `curl --data-binary` sends a
/// form type).
async fn put_script<S: Store + std::fmt::Debug>(
    state: &AppState<S>,
    kind: ScriptKind,
    name: &str,
    body: &[u8],
) -> ApiResult<StatusCode> {
    let name = provisioning_name(name)?;
    check_script(kind, &name, body)?;
    let source = std::str::from_utf8(body)
        .map_err(|e| ApiError::BadRequest(format!("the script is not UTF-8 text: {e}")))?;
    let revision = state.store.put_script(kind, &name, source).await?;
    state.provisioning.invalidate();
    info!(name = %name, kind = kind.noun(), revision, "script stored");
    Ok(StatusCode::OK)
}

async fn delete_script<S: Store + std::fmt::Debug>(
    state: &AppState<S>,
    kind: ScriptKind,
    name: &str,
) -> ApiResult<StatusCode> {
    let name = provisioning_name(name)?;
    let deleted = state.store.delete_script(kind, &name).await?;
    state.provisioning.invalidate();
    if deleted {
        info!(name = %name, kind = kind.noun(), "script deleted");
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::NotFound(format!("No such {}", kind.noun())))
    }
}

/// The four handlers of one kind of script.
macro_rules! script_routes {
    ($kind:expr, $list:ident, $get:ident, $put:ident, $delete:ident) => {
        async fn $list<S: Store + std::fmt::Debug>(
            State(state): State<AppState<S>>,
            Query(p): Query<PageParams>,
        ) -> ApiResult<Response> {
            list_scripts(&state, $kind, &p).await
        }

        async fn $get<S: Store + std::fmt::Debug>(
            State(state): State<AppState<S>>,
            Path(name): Path<String>,
        ) -> ApiResult<Response> {
            get_script(&state, $kind, &name).await
        }

        async fn $put<S: Store + std::fmt::Debug>(
            State(state): State<AppState<S>>,
            Path(name): Path<String>,
            body: axum::body::Bytes,
        ) -> ApiResult<StatusCode> {
            put_script(&state, $kind, &name, &body).await
        }

        async fn $delete<S: Store + std::fmt::Debug>(
            State(state): State<AppState<S>>,
            Path(name): Path<String>,
        ) -> ApiResult<StatusCode> {
            delete_script(&state, $kind, &name).await
        }
    };
}

script_routes!(
    ScriptKind::Provision,
    list_provisions,
    get_provision,
    put_provision,
    delete_provision
);
script_routes!(
    ScriptKind::VirtualParameter,
    list_virtual_parameters,
    get_virtual_parameter,
    put_virtual_parameter,
    delete_virtual_parameter
);

async fn render_metrics<S: Store + std::fmt::Debug>(State(state): State<AppState<S>>) -> Response {
    if let Some(stats) = state.store.writer_stats() {
        metrics::store_writer(&stats);
    }
    let mut r = state.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../openapi.json");

async fn openapi() -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (headers, OPENAPI).into_response()
}

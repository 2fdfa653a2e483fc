//! Provision and virtual-parameter scripts run in the JavaScript sandbox (`acs-script`),
//! for the provisioning engine (`acs_core::provision`): [`ScriptRunner`] is the engine's
//! `Runner`, and bridges the sandbox's `Host` to the engine's.
//!
//! One sandbox per thread (QuickJS runtimes are not `Send`): a session's step runs on one
//! thread, and the scripts' compiled forms are cached per sandbox.

use std::collections::HashMap;
use std::sync::Arc;

use acs_core::Timestamp;
use acs_core::provision::{self, RunOutcome};
use acs_script::{ErrorKind, Limits, Outcome, RunEnv, Sandbox, Script};
use serde_json::Value;

/// The scripts of a provisioning configuration, compiled-checked, by name.
#[derive(Debug, Default)]
pub struct ScriptRunner {
    provisions: HashMap<String, Script>,
    virtual_parameters: HashMap<String, Script>,
    limits: Limits,
}

impl ScriptRunner {
    /// A runner for these scripts (`(name, source)`); a script that does not compile is
    /// left out and reported, so that one bad script cannot stop the others.
    pub fn new(
        provisions: impl IntoIterator<Item = (String, String)>,
        virtual_parameters: impl IntoIterator<Item = (String, String)>,
        limits: Limits,
    ) -> (ScriptRunner, Vec<acs_script::ScriptError>) {
        let mut errors = Vec::new();
        let mut compile = |items: &mut dyn Iterator<Item = (String, String)>| {
            let mut out = HashMap::new();
            for (name, source) in items {
                match Script::new(name.clone(), source) {
                    Ok(s) => {
                        out.insert(name, s);
                    }
                    Err(e) => errors.push(e),
                }
            }
            out
        };
        let provisions = compile(&mut provisions.into_iter());
        let virtual_parameters = compile(&mut virtual_parameters.into_iter());
        (
            ScriptRunner {
                provisions,
                virtual_parameters,
                limits,
            },
            errors,
        )
    }

    fn run(&self, script: &Script, args: &[Value], host: &mut provision::Host<'_>) -> RunOutcome {
        let env = RunEnv {
            now_ms: host.now.0,
            random_seed: seed(host.device().as_str()),
        };
        let limits = self.limits;
        let outcome = Sandbox::with_thread_local(limits, |sandbox| {
            sandbox.run(script, args, &env, &mut Bridge { host: &mut *host })
        });
        match outcome {
            Outcome::Finished(v) => RunOutcome::Finished(v),
            // The engine's host knows the run yielded (the bridge passed commit/ext on).
            Outcome::Yielded => RunOutcome::Finished(Value::Null),
            Outcome::Failed(e) => RunOutcome::Failed {
                code: match e.kind {
                    ErrorKind::Syntax => "script.syntax",
                    ErrorKind::Exception => "script.error",
                    ErrorKind::Timeout => "script.timeout",
                    ErrorKind::OutOfMemory => "script.memory",
                    ErrorKind::StackOverflow => "script.stack",
                    ErrorKind::InvalidReturn => "script.result",
                    _ => "script.engine",
                }
                .to_owned(),
                message: e.to_string(),
            },
        }
    }
}

/// `Math.random()`'s seed: the device's, so a script's random choices repeat for a device
/// across its re-runs and sessions (FNV-1a of the device id).
fn seed(device: &str) -> u64 {
    device.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl provision::Runner for ScriptRunner {
    fn run_provision(
        &self,
        name: &str,
        args: &[Value],
        host: &mut provision::Host<'_>,
    ) -> Option<RunOutcome> {
        let script = self.provisions.get(name)?;
        Some(self.run(script, args, host))
    }

    fn run_virtual_parameter(
        &self,
        name: &str,
        args: &[Value],
        host: &mut provision::Host<'_>,
    ) -> Option<RunOutcome> {
        let script = self.virtual_parameters.get(name)?;
        Some(self.run(script, args, host))
    }
}

/// The sandbox's host calls, passed to the engine's.
struct Bridge<'a, 'b> {
    host: &'a mut provision::Host<'b>,
}

impl acs_script::Host for Bridge<'_, '_> {
    fn declare(
        &mut self,
        path: &str,
        timestamps: &Value,
        values: &Value,
    ) -> Result<Vec<acs_script::Instance>, String> {
        Ok(self
            .host
            .declare(path, timestamps, values)?
            .into_iter()
            .map(|i| acs_script::Instance {
                path: i.path,
                object: i.object,
                writable: i.writable,
                value: i.value,
                notification: i.notification.map(i64::from),
                access_list: i.access_list,
            })
            .collect())
    }

    fn clear(&mut self, path: &str, timestamp: f64, _attributes: &Value) -> Result<(), String> {
        self.host.clear(path, Timestamp(timestamp as i64))
    }

    fn commit(&mut self) -> acs_script::Flow {
        match self.host.commit() {
            provision::Flow::Continue => acs_script::Flow::Continue,
            provision::Flow::Yield => acs_script::Flow::Yield,
        }
    }

    fn ext(&mut self, name: &str, function: &str, args: &[Value]) -> acs_script::ExtAnswer {
        match self.host.ext(name, function, args) {
            provision::ExtAnswer::Value(v) => acs_script::ExtAnswer::Value(v),
            provision::ExtAnswer::Yield => acs_script::ExtAnswer::Yield,
        }
    }

    fn log(&mut self, message: &str) {
        self.host.log(message);
    }
}

/// A shareable runner.
pub type SharedRunner = Arc<ScriptRunner>;

/// The provisioning configuration as this node uses it: the presets and the runner of the
/// scripts, at a store revision.
#[derive(Debug)]
pub struct Loaded {
    /// The store's provisioning revision this copy has.
    pub revision: u64,
    /// Every preset.
    pub presets: Arc<Vec<acs_core::preset::Preset>>,
    /// The scripts.
    pub runner: Arc<ScriptRunner>,
}

/// The cache of the provisioning configuration: sessions take it from memory; it is
/// compared with the store's revision (one small row) at most once a second, and reloaded
/// only when another write (through any node) changed it. Writes through this node's API
/// invalidate it at once.
#[derive(Debug)]
pub struct ProvisioningCache {
    current: std::sync::RwLock<Arc<Loaded>>,
    checked: std::sync::Mutex<Option<std::time::Instant>>,
    limits: Limits,
}

/// How often a node compares its copy with the store's revision.
const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl ProvisioningCache {
    /// An empty cache (loaded on first use).
    pub fn new(limits: Limits) -> ProvisioningCache {
        ProvisioningCache {
            current: std::sync::RwLock::new(Arc::new(Loaded {
                revision: u64::MAX,
                presets: Arc::new(Vec::new()),
                runner: Arc::new(ScriptRunner::default()),
            })),
            checked: std::sync::Mutex::new(None),
            limits,
        }
    }

    /// Makes the next [`ProvisioningCache::current`] compare with the store.
    pub fn invalidate(&self) {
        if let Ok(mut c) = self.checked.lock() {
            *c = None;
        }
    }

    /// The configuration, current to within a second (or to this node's own writes).
    pub async fn current<S: acs_store::Store>(&self, store: &S) -> Arc<Loaded> {
        let due = match self.checked.lock() {
            Ok(mut c) => {
                let due = c.is_none_or(|t| t.elapsed() >= CHECK_EVERY);
                if due {
                    *c = Some(std::time::Instant::now());
                }
                due
            }
            Err(_) => true,
        };
        let have = self.snapshot();
        if !due {
            return have;
        }
        // A store that cannot be read now, or provisioning that no longer loads (a preset
        // stored by another version), leaves sessions with the copy they had (logged),
        // rather than failing every session: checked again a second later.
        let revision = match store.provisioning_revision().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("provisioning revision not read, keeping the cached copy: {e}");
                return have;
            }
        };
        if revision == have.revision {
            return have;
        }
        let snapshot = match store.provisioning().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("provisioning not loaded, keeping the cached copy: {e}");
                return have;
            }
        };
        let p = snapshot.provisioning;
        let (runner, errors) = ScriptRunner::new(
            p.provisions
                .iter()
                .map(|s| (s.name.as_str().to_owned(), s.source.clone())),
            p.virtual_parameters
                .iter()
                .map(|s| (s.name.as_str().to_owned(), s.source.clone())),
            self.limits,
        );
        for e in errors {
            // Stored before this version checked syntax, or by an older one: the
            // provision faults where it is used.
            tracing::warn!("script not loaded: {e}");
        }
        let loaded = Arc::new(Loaded {
            revision: snapshot.revision,
            presets: Arc::new(p.presets),
            runner: Arc::new(runner),
        });
        if let Ok(mut c) = self.current.write() {
            *c = loaded.clone();
        }
        tracing::info!(
            revision = snapshot.revision,
            "provisioning configuration loaded"
        );
        loaded
    }

    fn snapshot(&self) -> Arc<Loaded> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

/// The presets a fresh installation starts with (operators change or delete them like any
/// other): at bootstrap, the DeviceInfo and ManagementServer basics are read; at every
/// boot (which a bootstrap also is), periodic Informs are kept on at the hour. Setting
/// connection-request credentials is the session engine's own work (random per device,
/// kept for waking it), not a preset's.
pub fn default_provisioning() -> acs_store::Provisioning {
    // Checked by the test below; a preset that did not parse would be left out.
    let preset = |name: &str, json: Value| {
        let name = acs_core::preset::Name::parse(name).ok()?;
        acs_core::preset::Preset::from_json(&name, &json).ok()
    };
    let mut bootstrap = Vec::new();
    for root in ["Device", "InternetGatewayDevice"] {
        for object in ["DeviceInfo", "ManagementServer"] {
            bootstrap.push(serde_json::json!(["refresh", format!("{root}.{object}")]));
        }
    }
    let mut inform = Vec::new();
    for root in ["Device", "InternetGatewayDevice"] {
        inform.push(serde_json::json!([
            "value",
            format!("{root}.ManagementServer.PeriodicInformEnable"),
            true
        ]));
        inform.push(serde_json::json!([
            "value",
            format!("{root}.ManagementServer.PeriodicInformInterval"),
            3600
        ]));
    }
    acs_store::Provisioning {
        presets: [
            preset(
                "bootstrap",
                serde_json::json!({"channel": "bootstrap", "events": {"0 BOOTSTRAP": true}, "provisions": bootstrap}),
            ),
            preset(
                "inform",
                serde_json::json!({"channel": "inform", "events": {"1 BOOT": true}, "provisions": inform}),
            ),
        ]
        .into_iter()
        .flatten()
        .collect(),
        provisions: Vec::new(),
        virtual_parameters: Vec::new(),
    }
}

/// Installs [`default_provisioning`] on a store that has never had any provisioning
/// written (revision 0), once across nodes starting together.
pub async fn install_defaults<S: acs_store::Store>(
    store: &S,
    node: &str,
    now: Timestamp,
) -> acs_store::Result<bool> {
    if store.provisioning_revision().await? != 0
        || !store
            .claim_job(
                "default_provisioning",
                node,
                now,
                Timestamp::from_millis(i64::MAX),
            )
            .await?
    {
        return Ok(false);
    }
    store
        .import_provisioning(&default_provisioning(), false)
        .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_presets_parse() {
        let names: Vec<String> = default_provisioning()
            .presets
            .iter()
            .map(|p| p.name.to_string())
            .collect();
        assert_eq!(names, ["bootstrap", "inform"]);
    }

    /// A preset stored by another version that this one cannot read leaves the sessions
    /// with the copy they had, until it loads again.
    #[tokio::test]
    async fn a_configuration_that_no_longer_loads_leaves_the_cached_copy() {
        use acs_store::Store;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acs.db");
        let store = acs_store::sqlite::SqliteStore::open(
            &path,
            acs_store::sqlite::SqliteOptions::default(),
        )
        .unwrap();
        let preset = acs_core::preset::Preset::from_json(
            &acs_core::preset::Name::parse("tagged").unwrap(),
            &serde_json::json!({"provisions": [["tag", "x"]]}),
        )
        .unwrap();
        store.put_preset(&preset).await.unwrap();
        let cache = ProvisioningCache::new(Limits::default());
        let first = cache.current(&store).await;
        assert_eq!(first.presets.len(), 1);

        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "UPDATE presets SET json = '{\"weight\": \"heavy\"}';
             UPDATE provisioning_revision SET revision = revision + 1;",
        )
        .unwrap();
        cache.invalidate();
        let kept = cache.current(&store).await;
        assert_eq!(kept.revision, first.revision);
        assert_eq!(kept.presets.len(), 1);

        // Repaired: the next check loads it.
        store.put_preset(&preset).await.unwrap();
        cache.invalidate();
        let loaded = cache.current(&store).await;
        assert!(loaded.revision > first.revision);
        assert_eq!(loaded.presets.len(), 1);
    }

    #[test]
    fn seeds_differ_by_device_and_repeat() {
        assert_eq!(seed("00D09E-HGW-SN1"), seed("00D09E-HGW-SN1"));
        assert_ne!(seed("00D09E-HGW-SN1"), seed("00D09E-HGW-SN2"));
    }
}

//! Configuration: built-in defaults, then an optional TOML file, then `ACS_` environment
//! variables (`ACS_CWMP__LISTEN=0.0.0.0:7547`: a double underscore separates levels).
//! Unknown keys are errors, so a misspelt setting never silently does nothing.
//! `acs.example.toml` documents every key; a test loads it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the embedded store and other state live.
    pub data_dir: PathBuf,
    /// Threads that run sessions, the API and the background jobs; 0: automatic (see
    /// [`Config::worker_threads`]).
    pub worker_threads: usize,
    /// The CWMP endpoint CPEs talk to.
    pub cwmp: CwmpConfig,
    /// The northbound API.
    pub api: ApiConfig,
    /// The device store.
    pub database: DatabaseConfig,
    /// Several nodes sharing a PostgreSQL store.
    pub cluster: ClusterConfig,
    /// Tasks.
    pub tasks: TasksConfig,
    /// Connection requests to devices.
    pub connection_request: ConnectionRequestConfig,
    /// Provisioning: limits and the extensions scripts may call.
    pub provisioning: ProvisioningConfig,
    /// Logging.
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("acs-data"),
            worker_threads: 0,
            cwmp: CwmpConfig::default(),
            api: ApiConfig::default(),
            database: DatabaseConfig::default(),
            cluster: ClusterConfig::default(),
            tasks: TasksConfig::default(),
            connection_request: ConnectionRequestConfig::default(),
            provisioning: ProvisioningConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Config {
    /// The worker threads to run: `worker_threads`, or if 0 one per core of `cores`.
    ///
    /// One fewer on the embedded store, whose writer is a thread of its own beside them,
    /// was tried on two cores with the load generator on the same machine: one worker
    /// used 10% less CPU per session in one set of runs and served 6% fewer sessions in
    /// two others (BENCHMARKS.md), so the default stays one per core.
    pub fn worker_threads(&self, cores: usize) -> usize {
        if self.worker_threads > 0 {
            self.worker_threads
        } else {
            cores.max(1)
        }
    }
}

/// Provisioning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProvisioningConfig {
    /// Rounds (every provision run, then one RPC) per session before the channels still
    /// working are faulted (`too_many_rounds`).
    pub max_rounds: u32,
    /// Longest time an extension call may take, in seconds.
    pub ext_timeout_secs: u64,
    /// Extension calls running at once on this node (more wait).
    pub ext_max_concurrent: usize,
    /// The extensions scripts may call with `ext(name, function, ...args)`, by name.
    pub ext: BTreeMap<String, ExtensionConfig>,
    /// Install the default presets (bootstrap refresh, periodic inform) on a store that has
    /// never had provisioning written.
    pub default_presets: bool,
    /// Where the files named in `Downloads.*.FileName` are served from (a URL the devices
    /// can reach); a FileName that is a URL is used as it is.
    pub file_base_url: Option<String>,
}

impl Default for ProvisioningConfig {
    fn default() -> Self {
        ProvisioningConfig {
            max_rounds: 64,
            ext_timeout_secs: 10,
            ext_max_concurrent: 32,
            ext: BTreeMap::new(),
            default_presets: true,
            file_base_url: None,
        }
    }
}

/// One extension: a program (run without a shell; the call as JSON on its standard input,
/// the result as JSON on its standard output) or an HTTP endpoint (the call POSTed as
/// JSON, the result as the JSON body of a 2xx answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionConfig {
    /// The program and its first arguments.
    #[serde(default)]
    pub command: Vec<String>,
    /// Or the endpoint: `http://host:port/path`.
    #[serde(default)]
    pub url: String,
}

/// TLS for a listener: both files, or neither.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain; TLS is on when set.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
}

/// The CWMP endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CwmpConfig {
    /// Listen address (7547 is IANA's cwmp port).
    pub listen: SocketAddr,
    /// TLS (recommended: TR-069 §3.3).
    pub tls: TlsConfig,
    /// Largest request body, bytes, after decompression.
    pub max_body_bytes: usize,
    /// Most sessions at once; a CPE beyond gets 503 with `Retry-After`.
    pub max_sessions: usize,
    /// The `Retry-After` sent with a 503, seconds.
    pub retry_after_secs: u64,
    /// Time to complete a TLS handshake, seconds.
    pub handshake_timeout_secs: u64,
    /// Time to receive a request's body, seconds.
    pub body_timeout_secs: u64,
    /// Idle time between two requests of a session (also the wait for a request's headers
    /// on an open connection), seconds.
    pub session_timeout_secs: u64,
    /// Longest session, seconds.
    pub max_session_secs: u64,
    /// CWMP versions offered in negotiation.
    pub versions: Vec<String>,
    /// Write booleans as `1`/`0` instead of `true`/`false` (for CPEs that need it).
    pub boolean_digits: bool,
    /// Set connection-request credentials on devices whose credentials are unknown.
    pub set_connection_request_credentials: bool,
    /// Most ACS requests in one session.
    pub max_requests_per_session: usize,
    /// Send HoldRequests while the ACS has work (deprecated since Amendment 5).
    pub hold_requests: bool,
    /// CPE authentication.
    pub auth: CpeAuthConfig,
}

impl Default for CwmpConfig {
    fn default() -> Self {
        CwmpConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 7547)),
            tls: TlsConfig::default(),
            max_body_bytes: 4 * 1024 * 1024,
            max_sessions: 10_000,
            retry_after_secs: 60,
            handshake_timeout_secs: 10,
            body_timeout_secs: 30,
            session_timeout_secs: 30,
            max_session_secs: 300,
            versions: ["1.0", "1.1", "1.2", "1.3", "1.4"]
                .map(String::from)
                .to_vec(),
            boolean_digits: false,
            set_connection_request_credentials: true,
            hold_requests: false,
            max_requests_per_session: 256,
            auth: CpeAuthConfig::default(),
        }
    }
}

/// How CPEs authenticate (TR-069 §3.4.4): Digest always; Basic only over TLS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CpeAuthConfig {
    /// Authentication on. Turning it off is logged as a warning at every start.
    pub enabled: bool,
    /// The Digest realm (HA1 values of per-device credentials depend on it).
    pub realm: String,
    /// A fleet-wide username accepted from any device; empty: per-device credentials only.
    pub default_username: String,
    /// Its password; no default password exists.
    pub default_password: String,
    /// Accept Basic credentials over TLS (never over plain HTTP).
    pub allow_basic_over_tls: bool,
    /// Lifetime of a Digest nonce, seconds.
    pub nonce_lifetime_secs: u64,
}

impl Default for CpeAuthConfig {
    fn default() -> Self {
        CpeAuthConfig {
            enabled: true,
            realm: "acs".into(),
            default_username: String::new(),
            default_password: String::new(),
            allow_basic_over_tls: true,
            nonce_lifetime_secs: 300,
        }
    }
}

/// The northbound API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Listen address; loopback by default.
    pub listen: SocketAddr,
    /// TLS.
    pub tls: TlsConfig,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Serve `/metrics` without a token (for scrapers on a trusted network).
    pub metrics_public: bool,
    /// `GET /devices` counts matches exactly up to this many; beyond it `total` is a lower
    /// bound (header `total-exact: false`) unless the request says `count=exact`. Counting
    /// a broad filter over a million devices takes longer than finding its first page.
    pub count_limit: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7557)),
            tls: TlsConfig::default(),
            max_body_bytes: 1024 * 1024,
            metrics_public: false,
            count_limit: 10_000,
        }
    }
}

/// The device store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (relative to the working directory), empty for
    /// `<data_dir>/acs.db`, or `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` for a
    /// PostgreSQL database that several nodes can share.
    pub url: String,
    /// PostgreSQL: the schema holding the tables (created if needed); empty for the
    /// connection's default (`public`).
    pub schema: String,
    /// PostgreSQL: connections this node opens (half as many again for session leases).
    pub pool_size: u32,
    /// SQLite: fsync every commit (durable across power loss); off trades that for speed.
    /// PostgreSQL commits as the server's `synchronous_commit` says.
    pub synchronous_full: bool,
    /// Days of Inform event history kept per device.
    pub event_retention_days: u32,
    /// SQLite: device summaries held in memory, from which sessions start without a
    /// database read (about 300 bytes each; 0: none). The fleet's size serves every
    /// session from memory.
    pub summary_cache_entries: usize,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: String::new(),
            schema: String::new(),
            pool_size: 8,
            synchronous_full: true,
            event_retention_days: 7,
            summary_cache_entries: 100_000,
        }
    }
}

/// Which store `database.url` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The embedded store in this file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by URL.
    Postgres(String),
}

impl DatabaseConfig {
    /// The store to open.
    pub fn backend(&self, data_dir: &Path) -> Result<Backend, String> {
        if self.url.is_empty() {
            return Ok(Backend::Sqlite(data_dir.join("acs.db")));
        }
        if self.url.starts_with("postgres://") || self.url.starts_with("postgresql://") {
            return Ok(Backend::Postgres(self.url.clone()));
        }
        match self.url.strip_prefix("sqlite://") {
            Some(path) if !path.is_empty() => Ok(Backend::Sqlite(PathBuf::from(path))),
            _ => Err(format!(
                "database.url {:?}: neither sqlite://PATH nor postgres://...",
                redact(&self.url)
            )),
        }
    }
}

/// A database URL with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Several nodes on one PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// This node's name in session leases and job claims; empty: `<hostname>-<pid>-<random>`,
    /// new at each start, so that a restarted node never mistakes a dead one's claims for
    /// its own.
    pub node_id: String,
    /// Seconds a device's session claim lasts without being renewed (each request of the
    /// session renews it): how long the devices of a node that died stay refused (503)
    /// by the others. At least `cwmp.session_timeout_secs`.
    pub session_lease_secs: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            node_id: String::new(),
            session_lease_secs: 60,
        }
    }
}

/// Tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TasksConfig {
    /// Delay before retrying a faulted task, seconds; doubles with each retry.
    pub retry_base_secs: i64,
    /// Longest retry delay, seconds.
    pub retry_max_secs: i64,
    /// How often expired tasks are removed, seconds.
    pub expire_interval_secs: u64,
}

impl Default for TasksConfig {
    fn default() -> Self {
        TasksConfig {
            retry_base_secs: 300,
            retry_max_secs: 86_400,
            expire_interval_secs: 60,
        }
    }
}

/// Connection requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionRequestConfig {
    /// Time for the device to answer, seconds.
    pub timeout_secs: u64,
    /// Answer a Basic challenge (never by default: the password would travel in clear).
    pub allow_basic: bool,
    /// How long `POST /devices/{id}/tasks?connection_request` waits by default for the
    /// device's session to complete the task, milliseconds (the `timeout` parameter
    /// overrides it).
    pub default_wait_ms: u64,
}

impl Default for ConnectionRequestConfig {
    fn default() -> Self {
        ConnectionRequestConfig {
            timeout_secs: 5,
            allow_basic: false,
            default_wait_ms: 30_000,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter: `info`, `acs=debug,info`, ...
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// A configuration that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Loads the configuration: defaults, the file if given (it must exist), the
    /// environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with_env(file, Env::prefixed("ACS_").split("__"))
    }

    fn load_with_env(file: Option<&Path>, env: Env) -> Result<Config, ConfigError> {
        let mut figment = Figment::new().merge(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!("{} does not exist", path.display())));
            }
            figment = figment.merge(Toml::file(path));
        }
        let config: Config = figment
            .merge(env)
            .extract()
            .map_err(|e| ConfigError(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    /// Checks what the types cannot.
    pub fn check(&self) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(m));
        for (name, tls) in [("cwmp.tls", &self.cwmp.tls), ("api.tls", &self.api.tls)] {
            if tls.cert.is_some() != tls.key.is_some() {
                return err(format!("{name} needs both cert and key"));
            }
        }
        if self.cwmp.versions.is_empty() {
            return err("cwmp.versions is empty".into());
        }
        for v in &self.cwmp.versions {
            match v.parse::<cwmp::CwmpVersion>() {
                Ok(version) if version.namespace().is_some() => {}
                _ => {
                    return err(format!(
                        "cwmp.versions: {v:?} is not a CWMP version from 1.0 to 1.4"
                    ));
                }
            }
        }
        let auth = &self.cwmp.auth;
        if auth.default_username.is_empty() != auth.default_password.is_empty() {
            return err("cwmp.auth: default_username and default_password go together".into());
        }
        if !auth.default_password.is_empty() && auth.default_password.len() < 8 {
            return err("cwmp.auth.default_password must be at least 8 characters".into());
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return err(format!(
                "log.format {:?} is not text or json",
                self.log.format
            ));
        }
        if self.cwmp.max_sessions == 0 || self.cwmp.max_body_bytes == 0 {
            return err("cwmp.max_sessions and cwmp.max_body_bytes must be positive".into());
        }
        self.database.backend(&self.data_dir).map_err(ConfigError)?;
        if self.database.pool_size == 0 {
            return err("database.pool_size must be positive".into());
        }
        let p = &self.provisioning;
        if p.max_rounds == 0 || p.ext_timeout_secs == 0 || p.ext_max_concurrent == 0 {
            return err(
                "provisioning.max_rounds, ext_timeout_secs and ext_max_concurrent must be positive"
                    .into(),
            );
        }
        for (name, e) in &p.ext {
            match (e.command.is_empty(), e.url.is_empty()) {
                (false, true) => {}
                (true, false) if e.url.starts_with("http://") => {}
                (true, false) => {
                    return err(format!(
                        "provisioning.ext.{name}.url: only http:// endpoints (a local sidecar) are supported"
                    ));
                }
                _ => {
                    return err(format!(
                        "provisioning.ext.{name} needs exactly one of command and url"
                    ));
                }
            }
        }
        if self.cluster.session_lease_secs < self.cwmp.session_timeout_secs {
            return err(format!(
                "cluster.session_lease_secs ({}) is shorter than cwmp.session_timeout_secs ({})",
                self.cluster.session_lease_secs, self.cwmp.session_timeout_secs
            ));
        }
        Ok(())
    }

    /// The CWMP versions offered, parsed.
    pub fn versions(&self) -> Vec<cwmp::CwmpVersion> {
        self.cwmp
            .versions
            .iter()
            .filter_map(|v| v.parse().ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env() -> Env {
        Env::prefixed("ACS_TEST_NOTHING_").split("__")
    }

    #[test]
    fn worker_threads_are_one_per_core_unless_set() {
        let mut c = Config::default();
        assert_eq!(c.worker_threads(2), 2);
        assert_eq!(c.worker_threads(0), 1, "never none");
        c.worker_threads = 3;
        assert_eq!(c.worker_threads(2), 3, "as configured");
    }

    #[test]
    fn no_file_gives_the_documented_defaults() {
        let c = Config::load_with_env(None, no_env()).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("acs-data"));
        assert_eq!(c.cwmp.listen.to_string(), "0.0.0.0:7547");
        assert_eq!(c.api.listen.to_string(), "127.0.0.1:7557");
        assert!(c.cwmp.auth.enabled);
        assert_eq!(
            c.database.backend(&c.data_dir).unwrap(),
            Backend::Sqlite(PathBuf::from("acs-data/acs.db"))
        );
    }

    #[test]
    fn the_example_config_loads_and_documents_every_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../acs.example.toml");
        let c = Config::load_with_env(Some(&path), no_env()).unwrap();
        // Every key of the configuration appears in the example.
        let example: toml::Value =
            toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let full = toml::Value::try_from(&c).unwrap();
        fn keys(v: &toml::Value, prefix: &str, out: &mut Vec<String>) {
            if let toml::Value::Table(t) = v {
                for (k, v) in t {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    if matches!(v, toml::Value::Table(_)) {
                        keys(v, &p, out);
                    } else {
                        out.push(p);
                    }
                }
            }
        }
        let (mut want, mut have) = (Vec::new(), Vec::new());
        keys(&full, "", &mut want);
        keys(&example, "", &mut have);
        // Options that are unset by default are written commented out in the example.
        let text = std::fs::read_to_string(&path).unwrap();
        let missing: Vec<&String> = want
            .iter()
            .filter(|k| {
                !have.contains(k)
                    && !text.contains(&format!("# {} =", k.rsplit('.').next().unwrap()))
            })
            .collect();
        assert!(missing.is_empty(), "acs.example.toml lacks {missing:?}");
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("postgres://acs:secret@db:5432/acs"),
            "postgres://acs:***@db:5432/acs"
        );
        assert_eq!(redact("postgres://acs@db/acs"), "postgres://acs@db/acs");
        let c = DatabaseConfig {
            url: "mysql://root:hunter2@x".into(),
            ..DatabaseConfig::default()
        };
        assert!(!c.backend(Path::new(".")).unwrap_err().contains("hunter2"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        for bad in [
            "[cwmp]\nlisen = \"0.0.0.0:7547\"\n",
            "bogus = 1\n",
            "[cwmp]\nlisten = \"not an address\"\n",
            "[cwmp]\nversions = [\"2.0\"]\n",
            "[cwmp.tls]\ncert = \"/x.pem\"\n",
            "[cwmp.auth]\ndefault_username = \"u\"\n",
            "[database]\nurl = \"mysql://x\"\n",
            "[database]\npool_size = 0\n",
            "[cluster]\nsession_lease_secs = 5\n",
        ] {
            std::fs::write(&f, bad).unwrap();
            assert!(Config::load_with_env(Some(&f), no_env()).is_err(), "{bad}");
        }
        assert!(Config::load_with_env(Some(&dir.path().join("missing.toml")), no_env()).is_err());
    }

    #[test]
    // figment's Jail returns its own (large) error type; this is its documented use.
    #[allow(clippy::result_large_err)]
    fn environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "[cwmp]\nlisten = \"0.0.0.0:1000\"\n")?;
            jail.set_env("ACS_CWMP__LISTEN", "127.0.0.1:2000");
            jail.set_env("ACS_DATABASE__URL", "sqlite://x.db");
            let c = Config::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.cwmp.listen.to_string(), "127.0.0.1:2000");
            assert_eq!(c.database.url, "sqlite://x.db");
            jail.set_env("ACS_DATABASE__URL", "postgres://acs:secret@db:5432/acs");
            jail.set_env("ACS_DATABASE__SCHEMA", "tenant1");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(
                c.database.backend(&c.data_dir),
                Ok(Backend::Postgres(
                    "postgres://acs:secret@db:5432/acs".into()
                ))
            );
            assert_eq!(c.database.schema, "tenant1");
            jail.set_env("ACS_CWMP__LISEN", "x");
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }
}

//! Configuration: defaults, then a TOML file, then `LATCHKEY_<SECTION>_<KEY>`
//! environment variables. Built once, validated once, then held in the app
//! state; nothing reads configuration from anywhere else.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Every setting, with a default for each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub keys: KeysConfig,
    pub tokens: TokensConfig,
    pub password: PasswordConfig,
    pub rate_limit: RateLimitConfig,
    pub session: SessionConfig,
    pub log: LogConfig,
    pub ui: UiConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// The issuer identifier: an absolute http(s) URL, no query, no fragment.
    pub issuer: String,
    /// Address and port to listen on.
    pub listen: String,
    /// Reverse proxies whose `X-Forwarded-For` is believed (IP addresses).
    pub trusted_proxies: Vec<String>,
    /// Time a client has to send a request's headers, and to send its body;
    /// an idle keep-alive connection is closed after it too (slow clients
    /// must not hold connections open forever).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".into(),
            listen: "127.0.0.1:8080".into(),
            trusted_proxies: Vec::new(),
            request_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub path: PathBuf,
    /// Pooled SQLite connections.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { path: "data/latchkey.db".into(), max_connections: 8 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    pub dir: PathBuf,
    pub rsa_bits: u32,
    /// How long a key signs before the `next` key takes over.
    #[serde(with = "humantime_serde")]
    pub rotate_every: Duration,
    /// Added to the longest token lifetime to get how long a `retiring`
    /// key stays published (clock skew, slow relying parties).
    #[serde(with = "humantime_serde")]
    pub retire_margin: Duration,
    /// A file whose content (first line) is the passphrase that encrypts
    /// key files; empty means none. `LATCHKEY_KEYS_PASSPHRASE` also sets it.
    pub passphrase_file: PathBuf,
    /// The passphrase itself, resolved once while loading the configuration.
    #[serde(skip)]
    pub passphrase: Passphrase,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            dir: "keys".into(),
            rsa_bits: 2048,
            rotate_every: Duration::from_secs(30 * 86_400),
            retire_margin: Duration::from_secs(600),
            passphrase_file: PathBuf::new(),
            passphrase: Passphrase::default(),
        }
    }
}

/// The optional passphrase that encrypts key files at rest. Held in a
/// `SecretString`; `Debug` never shows it.
#[derive(Clone, Default)]
pub struct Passphrase(Option<std::sync::Arc<SecretString>>);

impl Passphrase {
    pub fn new(text: &str) -> Self {
        Self(Some(std::sync::Arc::new(SecretString::from(text))))
    }

    pub fn none() -> Self {
        Self(None)
    }

    pub fn get(&self) -> Option<&SecretString> {
        self.0.as_deref()
    }
}

impl PartialEq for Passphrase {
    fn eq(&self, other: &Self) -> bool {
        match (self.get(), other.get()) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                crate::secrets::constant_time_eq(a.expose_secret().as_bytes(), b.expose_secret().as_bytes())
            }
            _ => false,
        }
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Passphrase(set)" } else { "Passphrase(none)" })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokensConfig {
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub id_token_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub authorization_code_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub refresh_token_ttl: Duration,
    /// How long a retry of the same refresh (after a lost response) gets the
    /// same answer instead of counting as replay.
    #[serde(with = "humantime_serde")]
    pub refresh_retry_window: Duration,
    /// Put the claims of `profile` and `email` into the ID token as well as
    /// `/userinfo` (OIDC Core §5.4 allows either).
    pub id_token_scope_claims: bool,
}

impl Default for TokensConfig {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::from_secs(300),
            id_token_ttl: Duration::from_secs(300),
            authorization_code_ttl: Duration::from_secs(60),
            refresh_token_ttl: Duration::from_secs(30 * 86_400),
            refresh_retry_window: Duration::from_secs(5),
            id_token_scope_claims: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordConfig {
    /// Argon2id memory cost in KiB (OWASP: 19 MiB).
    pub memory_kib: u32,
    /// Argon2id time cost.
    pub iterations: u32,
    /// Argon2id lanes.
    pub parallelism: u32,
    /// Hashes computed at once; 0 means the number of CPU cores.
    pub max_concurrent: usize,
    /// Logins that may wait for a free hasher; beyond this, 503 + Retry-After.
    pub max_queue: usize,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1, max_concurrent: 0, max_queue: 64 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Sustained `POST /login` requests per second per client IP.
    pub login_per_second: u64,
    /// Burst of `POST /login` requests per client IP.
    pub login_burst: u32,
    /// Sustained `POST /token` requests per second per client IP (a ceiling
    /// far above legitimate use: one backend may mint thousands of tokens).
    pub token_per_second: u64,
    /// Burst of `POST /token` requests per client IP.
    pub token_burst: u32,
    /// Failed logins per client IP per `failure_window` before that IP gets 429.
    pub login_failures_per_ip: u32,
    /// Failed client authentications at the token endpoints per client IP per window.
    pub client_auth_failures_per_ip: u32,
    /// The window in which failures per IP are counted.
    #[serde(with = "humantime_serde")]
    pub failure_window: Duration,
    /// Password checks per account per `account_window` before it locks.
    pub account_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub account_window: Duration,
    /// The first lockout of an account; each further one doubles.
    #[serde(with = "humantime_serde")]
    pub account_lockout: Duration,
    /// The longest lockout.
    #[serde(with = "humantime_serde")]
    pub account_lockout_max: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            login_per_second: 20,
            login_burst: 100,
            token_per_second: 5000,
            token_burst: 10_000,
            login_failures_per_ip: 100,
            client_auth_failures_per_ip: 50,
            failure_window: Duration::from_secs(15 * 60),
            account_attempts: 5,
            account_window: Duration::from_secs(15 * 60),
            account_lockout: Duration::from_secs(60),
            account_lockout_max: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// How long a browser stays logged in.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// How long a user has to finish the login and consent pages.
    #[serde(with = "humantime_serde")]
    pub login_ttl: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self { ttl: Duration::from_secs(8 * 3600), login_ttl: Duration::from_secs(15 * 60) }
    }
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people: one readable line per event.
    #[default]
    Text,
    /// For log collectors: one JSON object per line.
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`; the `--log-format` flag wins over this.
    pub format: LogFormat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// The brand name in the page header and page titles.
    pub title: String,
    /// An image shown instead of the built-in mark; empty for none.
    pub logo_url: String,
    /// A CSS file served after the built-in stylesheet; empty for none.
    pub custom_css: PathBuf,
    /// A directory whose `login.html`, `consent.html`, ... replace the
    /// built-in pages (Jinja syntax, read at start-up); empty for none.
    pub templates_dir: PathBuf,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self { title: "latchkey".into(), logo_url: String::new(), custom_css: PathBuf::new(), templates_dir: PathBuf::new() }
    }
}

/// A configuration problem, described in one sentence for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Environment variables that start with `LATCHKEY_` but are not config keys.
const NON_CONFIG_ENV: &[&str] = &["LATCHKEY_LOG", PASSPHRASE_ENV];

/// The environment variable holding the key file passphrase.
pub const PASSPHRASE_ENV: &str = "LATCHKEY_KEYS_PASSPHRASE";

impl Config {
    /// Loads `path` (or `./latchkey.toml` when present), applies the
    /// environment, and validates the result.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let (text, origin) = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|err| {
                    ConfigError(format!("cannot read config file {}: {err}", path.display()))
                })?;
                (Some(text), path.display().to_string())
            }
            None => match std::fs::read_to_string("latchkey.toml") {
                Ok(text) => (Some(text), "latchkey.toml".to_string()),
                Err(_) => (None, String::new()),
            },
        };
        Self::from_sources(text.as_deref(), &origin, std::env::vars())
    }

    /// Builds the configuration from a TOML text and environment pairs.
    pub fn from_sources(
        toml_text: Option<&str>,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let defaults = toml::Value::try_from(Config::default())
            .map_err(|err| ConfigError(format!("internal error serialising defaults: {err}")))?;
        let mut merged = defaults.clone();
        if let Some(text) = toml_text {
            let file: toml::Value = toml::from_str(text)
                .map_err(|err| ConfigError(format!("config file {origin} is not valid TOML: {err}")))?;
            // Deserialising the file alone reports unknown keys with their names.
            let _: Config = file
                .clone()
                .try_into()
                .map_err(|err| ConfigError(format!("config file {origin}: {}", one_line(&err))))?;
            merge(&mut merged, file);
        }
        let mut env: BTreeMap<String, String> =
            env.into_iter().filter(|(name, _)| name.starts_with("LATCHKEY_")).collect();
        // The passphrase is taken out of the map at once, into a secret.
        let passphrase_env = env.remove(PASSPHRASE_ENV).map(SecretString::from);
        for (name, value) in env {
            if NON_CONFIG_ENV.contains(&name.as_str()) {
                continue;
            }
            apply_env(&defaults, &mut merged, &name, &value)?;
        }
        let mut config: Config = merged
            .try_into()
            .map_err(|err| ConfigError(format!("configuration: {}", one_line(&err))))?;
        config.keys.passphrase = resolve_passphrase(passphrase_env, &config.keys.passphrase_file)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks everything that serde's types cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let issuer = url::Url::parse(&self.server.issuer).map_err(|err| {
            ConfigError(format!(
                "server.issuer {:?} is not an absolute URL ({err}); use e.g. https://login.example.com",
                self.server.issuer
            ))
        })?;
        if !matches!(issuer.scheme(), "http" | "https") || issuer.host_str().is_none() {
            return Err(ConfigError(format!(
                "server.issuer {:?} must be an http or https URL with a host",
                self.server.issuer
            )));
        }
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(ConfigError(format!(
                "server.issuer {:?} must not have a query or fragment (OpenID Discovery §3)",
                self.server.issuer
            )));
        }
        if !issuer.username().is_empty() || issuer.password().is_some() {
            return Err(ConfigError(format!("server.issuer {:?} must not contain a user name", self.server.issuer)));
        }
        if self.server.issuer.ends_with('/') {
            return Err(ConfigError(format!(
                "server.issuer {:?} must not end with '/'; remove the trailing slash",
                self.server.issuer
            )));
        }
        self.server.listen.parse::<SocketAddr>().map_err(|_| {
            ConfigError(format!("server.listen {:?} is not an address like 127.0.0.1:8080", self.server.listen))
        })?;
        for proxy in &self.server.trusted_proxies {
            proxy.parse::<std::net::IpAddr>().map_err(|_| {
                ConfigError(format!("server.trusted_proxies entry {proxy:?} is not an IP address"))
            })?;
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError("database.max_connections must be at least 1".into()));
        }
        if !(2048..=8192).contains(&self.keys.rsa_bits) {
            return Err(ConfigError(format!(
                "keys.rsa_bits is {}; it must be between 2048 and 8192 (RFC 7518 §3.3)",
                self.keys.rsa_bits
            )));
        }
        positive("keys.rotate_every", self.keys.rotate_every)?;
        positive("server.request_timeout", self.server.request_timeout)?;
        positive("tokens.access_token_ttl", self.tokens.access_token_ttl)?;
        positive("tokens.id_token_ttl", self.tokens.id_token_ttl)?;
        positive("tokens.refresh_token_ttl", self.tokens.refresh_token_ttl)?;
        positive("tokens.authorization_code_ttl", self.tokens.authorization_code_ttl)?;
        if self.tokens.refresh_retry_window > Duration::from_secs(60) {
            return Err(ConfigError("tokens.refresh_retry_window must be at most 60s".into()));
        }
        if self.tokens.authorization_code_ttl > Duration::from_secs(600) {
            return Err(ConfigError(
                "tokens.authorization_code_ttl must be at most 10m (RFC 6749 §4.1.2)".into(),
            ));
        }
        positive("session.ttl", self.session.ttl)?;
        positive("session.login_ttl", self.session.login_ttl)?;
        argon2::Params::new(self.password.memory_kib, self.password.iterations, self.password.parallelism, None)
            .map_err(|err| ConfigError(format!("password: invalid Argon2 parameters: {err}")))?;
        let limits = &self.rate_limit;
        for (name, value) in [
            ("rate_limit.login_per_second", limits.login_per_second),
            ("rate_limit.login_burst", u64::from(limits.login_burst)),
            ("rate_limit.token_per_second", limits.token_per_second),
            ("rate_limit.token_burst", u64::from(limits.token_burst)),
            ("rate_limit.login_failures_per_ip", u64::from(limits.login_failures_per_ip)),
            ("rate_limit.client_auth_failures_per_ip", u64::from(limits.client_auth_failures_per_ip)),
            ("rate_limit.account_attempts", u64::from(limits.account_attempts)),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("{name} must be at least 1")));
            }
        }
        positive("rate_limit.failure_window", limits.failure_window)?;
        positive("rate_limit.account_window", limits.account_window)?;
        positive("rate_limit.account_lockout", limits.account_lockout)?;
        if limits.account_lockout_max < limits.account_lockout {
            return Err(ConfigError("rate_limit.account_lockout_max must not be shorter than rate_limit.account_lockout".into()));
        }
        if self.password.max_queue == 0 {
            return Err(ConfigError("password.max_queue must be at least 1".into()));
        }
        self.validate_ui()?;
        Ok(())
    }

    fn validate_ui(&self) -> Result<(), ConfigError> {
        let title = self.ui.title.trim();
        if title.is_empty() || title.chars().count() > 64 {
            return Err(ConfigError("ui.title must be between 1 and 64 characters".into()));
        }
        let logo = &self.ui.logo_url;
        if !logo.is_empty() && !logo.starts_with('/') {
            let url = url::Url::parse(logo).map_err(|_| {
                ConfigError(format!("ui.logo_url {logo:?} must be an absolute https URL or a path starting with /"))
            })?;
            if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
                return Err(ConfigError(format!("ui.logo_url {logo:?} must be an http(s) URL or a path starting with /")));
            }
        }
        if logo.starts_with("//") || logo.chars().any(|c| c.is_whitespace() || c == ';' || c == ',') {
            return Err(ConfigError(format!("ui.logo_url {logo:?} must not contain spaces, ';' or ',' or start with //")));
        }
        Ok(())
    }

    /// The issuer with `path` appended: every endpoint URL is built here.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.server.issuer)
    }

    pub fn issuer_is_https(&self) -> bool {
        self.server.issuer.starts_with("https://")
    }

    /// Hashes computed at once, with 0 resolved to the number of cores.
    pub fn password_concurrency(&self) -> usize {
        match self.password.max_concurrent {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            n => n,
        }
    }
}

/// The key passphrase from `LATCHKEY_KEYS_PASSPHRASE` or from the first
/// line of `keys.passphrase_file`; setting both is refused as ambiguous.
fn resolve_passphrase(from_env: Option<SecretString>, file: &Path) -> Result<Passphrase, ConfigError> {
    let from_file = if file.as_os_str().is_empty() {
        None
    } else {
        let text = zeroize::Zeroizing::new(std::fs::read_to_string(file).map_err(|err| {
            ConfigError(format!("cannot read keys.passphrase_file {}: {err}", file.display()))
        })?);
        Some(SecretString::from(text.lines().next().unwrap_or_default()))
    };
    let secret = match (from_env, from_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError(format!(
                "both {PASSPHRASE_ENV} and keys.passphrase_file are set; set only one of them"
            )));
        }
        (Some(secret), None) | (None, Some(secret)) => secret,
        (None, None) => return Ok(Passphrase::none()),
    };
    let text = secret.expose_secret();
    if text.is_empty() || text.contains('\0') {
        return Err(ConfigError(format!(
            "the key passphrase ({PASSPHRASE_ENV} or keys.passphrase_file) must be non-empty text without NUL characters"
        )));
    }
    Ok(Passphrase(Some(std::sync::Arc::new(secret))))
}

fn positive(name: &str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(ConfigError(format!("{name} must be longer than zero")));
    }
    Ok(())
}

fn one_line(err: &impl std::fmt::Display) -> String {
    err.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn merge(base: &mut toml::Value, overlay: toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(base), toml::Value::Table(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// Applies `LATCHKEY_<SECTION>_<KEY>=value`, typed like the default value.
fn apply_env(defaults: &toml::Value, merged: &mut toml::Value, name: &str, value: &str) -> Result<(), ConfigError> {
    let unknown = || ConfigError(format!("environment variable {name} is not a latchkey setting; see config.example.toml"));
    let rest = name.trim_start_matches("LATCHKEY_").to_ascii_lowercase();
    let sections = defaults.as_table().ok_or_else(unknown)?;
    let (section, key) = sections
        .keys()
        .filter_map(|section| {
            rest.strip_prefix(section.as_str())
                .and_then(|tail| tail.strip_prefix('_'))
                .map(|key| (section.clone(), key.to_string()))
        })
        .find(|(section, key)| sections[section].get(key).is_some())
        .ok_or_else(unknown)?;
    let typed = match &sections[&section][&key] {
        toml::Value::Integer(_) => toml::Value::Integer(value.trim().parse().map_err(|_| {
            ConfigError(format!("environment variable {name} must be a whole number, not {value:?}"))
        })?),
        toml::Value::Boolean(_) => toml::Value::Boolean(value.trim().parse().map_err(|_| {
            ConfigError(format!("environment variable {name} must be true or false, not {value:?}"))
        })?),
        toml::Value::Array(_) => toml::Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| toml::Value::String(item.to_string()))
                .collect(),
        ),
        _ => toml::Value::String(value.to_string()),
    };
    if let Some(table) = merged.get_mut(&section).and_then(toml::Value::as_table_mut) {
        table.insert(key, typed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn example_file_parses_to_the_defaults() {
        let text = include_str!("../config.example.toml");
        let config = Config::from_sources(Some(text), "config.example.toml", env(&[])).unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn env_overrides_file_and_defaults() {
        let config = Config::from_sources(
            Some("[server]\nissuer = \"https://a.example\"\n"),
            "t",
            env(&[
                ("LATCHKEY_SERVER_ISSUER", "https://b.example"),
                ("LATCHKEY_RATE_LIMIT_LOGIN_BURST", "7"),
                ("LATCHKEY_SERVER_TRUSTED_PROXIES", "10.0.0.1, 10.0.0.2"),
                ("LATCHKEY_TOKENS_ACCESS_TOKEN_TTL", "10m"),
                ("LATCHKEY_TOKENS_ID_TOKEN_SCOPE_CLAIMS", "false"),
            ]),
        )
        .unwrap();
        assert_eq!(config.server.issuer, "https://b.example");
        assert_eq!(config.rate_limit.login_burst, 7);
        assert_eq!(config.server.trusted_proxies, vec!["10.0.0.1", "10.0.0.2"]);
        assert_eq!(config.tokens.access_token_ttl, Duration::from_secs(600));
        assert!(!config.tokens.id_token_scope_claims);
    }

    #[test]
    fn unknown_keys_are_named_in_the_error() {
        let err = Config::from_sources(Some("[server]\nissuer_url = \"x\"\n"), "f.toml", env(&[])).unwrap_err();
        assert!(err.0.contains("issuer_url"), "{err}");
        let err = Config::from_sources(Some("[serverr]\n"), "f.toml", env(&[])).unwrap_err();
        assert!(err.0.contains("serverr"), "{err}");
        let err = Config::from_sources(None, "", env(&[("LATCHKEY_SERVER_ISUER", "x")])).unwrap_err();
        assert!(err.0.contains("LATCHKEY_SERVER_ISUER"), "{err}");
    }

    #[test]
    fn log_and_ui_sections_parse_and_validate() {
        let config = Config::from_sources(
            Some("[log]\nformat = \"json\"\n[ui]\ntitle = \"Acme login\"\nlogo_url = \"https://cdn.example/logo.svg\"\n"),
            "t",
            env(&[("LATCHKEY_UI_CUSTOM_CSS", "/etc/latchkey/custom.css")]),
        )
        .unwrap();
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.ui.title, "Acme login");
        assert_eq!(config.ui.custom_css, PathBuf::from("/etc/latchkey/custom.css"));
        let err = Config::from_sources(Some("[log]\nformat = \"xml\"\n"), "f.toml", env(&[])).unwrap_err();
        assert!(err.0.contains("xml"), "{err}");
        for logo in ["javascript:alert(1)", "//evil.example/x.png", "https://a.example/x.png; script-src *", "logo.png"] {
            let result = Config::from_sources(None, "", env(&[("LATCHKEY_UI_LOGO_URL", logo)]));
            assert!(result.is_err(), "{logo} was accepted");
        }
        assert!(Config::from_sources(None, "", env(&[("LATCHKEY_UI_TITLE", " ")])).is_err());
    }

    #[test]
    fn bad_issuers_are_refused() {
        for issuer in [
            "not a url",
            "ftp://x.example",
            "https://x.example/?a=b",
            "https://x.example/#f",
            "https://u@x.example",
            "https://x.example/",
            "/relative",
        ] {
            let result = Config::from_sources(None, "", env(&[("LATCHKEY_SERVER_ISSUER", issuer)]));
            assert!(result.is_err(), "{issuer} was accepted");
        }
        let ok = Config::from_sources(None, "", env(&[("LATCHKEY_SERVER_ISSUER", "https://x.example/auth")]));
        assert!(ok.is_ok());
    }

    #[test]
    fn bad_values_are_refused_with_the_key_name() {
        let err = Config::from_sources(None, "", env(&[("LATCHKEY_KEYS_RSA_BITS", "1024")])).unwrap_err();
        assert!(err.0.contains("keys.rsa_bits"), "{err}");
        let err = Config::from_sources(None, "", env(&[("LATCHKEY_KEYS_RSA_BITS", "lots")])).unwrap_err();
        assert!(err.0.contains("LATCHKEY_KEYS_RSA_BITS"), "{err}");
        let err = Config::from_sources(None, "", env(&[("LATCHKEY_SERVER_LISTEN", "nowhere")])).unwrap_err();
        assert!(err.0.contains("server.listen"), "{err}");
    }

    #[test]
    fn the_passphrase_comes_from_the_environment_or_a_file_and_never_prints() {
        let config = Config::from_sources(None, "", env(&[(PASSPHRASE_ENV, "hunter2 hunter2")])).unwrap();
        assert_eq!(config.keys.passphrase, Passphrase::new("hunter2 hunter2"));
        assert!(!format!("{config:?}").contains("hunter2"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pass");
        std::fs::write(&file, "from file\n").unwrap();
        let toml = format!("[keys]\npassphrase_file = {:?}\n", file.display().to_string());
        let config = Config::from_sources(Some(&toml), "t", env(&[])).unwrap();
        assert_eq!(config.keys.passphrase, Passphrase::new("from file"));
        let err = Config::from_sources(Some(&toml), "t", env(&[(PASSPHRASE_ENV, "x")])).unwrap_err();
        assert!(err.0.contains("only one"), "{err}");
        let err = Config::from_sources(None, "", env(&[(PASSPHRASE_ENV, "")])).unwrap_err();
        assert!(err.0.contains(PASSPHRASE_ENV), "{err}");
        let config = Config::from_sources(None, "", env(&[("LATCHKEY_KEYS_RETIRE_MARGIN", "1h")])).unwrap();
        assert_eq!(config.keys.retire_margin, Duration::from_secs(3600));
    }
}

//! The OpenID Connect and OAuth 2.0 rules, with no HTTP types: what an
//! authorization request may ask, when a user must log in or consent, how a
//! code becomes tokens, which claims a token carries.
//!
//! Invariant: every function takes the time from `Provider::clock`; nothing
//! here reads the wall clock, touches axum, or speaks SQL.

pub mod admin;
pub mod authorize;
pub mod claims;
pub mod discovery;
pub mod error;
pub mod introspect;
pub mod logout;
pub mod params;
pub mod pkce;
pub mod redirect_uri;
pub mod retry;
pub mod scopes;
pub mod token;
pub mod userinfo;

use std::sync::Arc;

use crate::auth::PasswordHasher;
use crate::clock::{Clock, UnixTime};
use crate::config::Config;
use crate::store::{ResponseMode, Store};
use crate::tokens::Keys;

pub use error::{OidcError, OidcResult, TokenErrorCode};
pub use params::Params;

/// Everything the protocol needs, shared by the server and the CLI.
#[derive(Debug, Clone)]
pub struct Provider {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub keys: Keys,
    pub hasher: PasswordHasher,
    pub clock: Arc<dyn Clock>,
    /// In-flight and recent refresh exchanges (the retry window).
    pub refresh_retries: retry::RefreshRetries,
    /// Failure counters per client IP.
    pub throttles: Arc<crate::auth::throttle::Throttles>,
}

impl Provider {
    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// The per-account lockout numbers from the configuration.
    pub fn lockout_policy(&self) -> crate::store::LockoutPolicy {
        let limits = &self.config.rate_limit;
        crate::store::LockoutPolicy {
            max_attempts: limits.account_attempts,
            window_seconds: limits.account_window.as_secs() as i64,
            lock_seconds: limits.account_lockout.as_secs() as i64,
            max_lock_seconds: limits.account_lockout_max.as_secs() as i64,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.config.server.issuer
    }

    /// The audience of our access tokens: latchkey's own resource, userinfo
    /// (RFC 9068 §3 default resource).
    pub fn access_token_audience(&self) -> String {
        self.config.endpoint("/userinfo")
    }
}

/// A response delivered to the client's redirect URI: a code or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub params: Vec<(&'static str, String)>,
}

impl Redirect {
    /// The URL for `response_mode=query`: parameters appended to any query
    /// the registered URI already has (RFC 6749 §3.1.2).
    pub fn location(&self) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.params {
            serializer.append_pair(name, value);
        }
        let separator = if self.redirect_uri.contains('?') { '&' } else { '?' };
        format!("{}{separator}{}", self.redirect_uri, serializer.finish())
    }
}

/// What the browser brought: its session cookie and its binding cookie.
#[derive(Clone, Default)]
pub struct Browser {
    /// The `lk_session` cookie value, if any.
    pub session_token: Option<String>,
    /// The `lk_browser` cookie value that login transactions are bound to.
    pub browser_token: String,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").field("has_session", &self.session_token.is_some()).finish_non_exhaustive()
    }
}

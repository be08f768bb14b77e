//! Persistence behind a narrow trait named by use cases. Handlers and
//! protocol code see only `dyn Store`; SQLite is today's implementation and a
//! PostgreSQL one can be added beside it without touching them.
//!
//! Invariant: the store knows nothing about HTTP or OAuth rules; it stores
//! hashes of opaque secrets, never the secrets themselves.

mod migrations;
pub mod sqlite;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::clock::UnixTime;

pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was hit: the thing already exists.
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("database error: {0}")]
    Database(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The stable, random `sub`.
    pub id: String,
    /// Normalised user name (see `auth::username`).
    pub username: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    /// PHC string of the Argon2id hash.
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
}

impl std::fmt::Debug for User {
    // The hash stays out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub id: String,
    /// SHA-256 of the secret; `None` for a public client.
    pub secret_hash: Option<Vec<u8>>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes the client may request.
    pub scopes: Vec<String>,
    /// Grant types the client may use.
    pub grant_types: Vec<String>,
    pub created_at: UnixTime,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("public", &self.is_public())
            .field("redirect_uris", &self.redirect_uris)
            .finish_non_exhaustive()
    }
}

/// A validated authorization request waiting for login and consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub response_mode: ResponseMode,
    pub prompt_login: bool,
    pub prompt_consent: bool,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// The server-side half of a login transaction (the browser holds its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRequest {
    pub id: String,
    /// SHA-256 of the browser cookie this transaction is bound to.
    pub browser_hash: Vec<u8>,
    /// The anti-CSRF token embedded in this transaction's forms.
    pub csrf_token: String,
    pub request: AuthorizationRequest,
    /// Set once the user has authenticated in this transaction.
    pub user_id: Option<String>,
    pub auth_time: Option<UnixTime>,
    pub expires_at: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: Vec<u8>,
    pub user_id: String,
    pub auth_time: UnixTime,
    pub expires_at: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub code_hash: Vec<u8>,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: UnixTime,
    pub expires_at: UnixTime,
    /// The grant that the redemption created, so reuse can revoke it.
    pub grant_id: String,
}

/// What happened when a code was presented.
#[derive(Debug)]
pub enum Redemption {
    /// First use: the caller may issue tokens.
    Redeemed(AuthorizationCode),
    /// The code was used before.
    AlreadyRedeemed(AuthorizationCode),
    Unknown,
}

/// A grant: what a user (or a client for itself) authorised, from which
/// tokens are derived. Revoking it revokes every token that carries its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub scopes: Vec<String>,
    pub auth_time: Option<UnixTime>,
    pub created_at: UnixTime,
    pub revoked: bool,
}

/// One refresh token of a grant's family (stored by hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: Vec<u8>,
    pub grant_id: String,
    pub client_id: String,
    /// The scopes of the grant; a refresh may narrow them, never widen.
    pub scopes: Vec<String>,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    /// Set when the token was exchanged for its successor.
    pub consumed_at: Option<UnixTime>,
}

/// What happened when a refresh token was exchanged.
#[derive(Debug)]
pub enum Rotation {
    /// The token was live; its successor is stored. Holds the old token.
    Rotated(RefreshToken),
    /// The token had already been exchanged: a replay.
    AlreadyConsumed(RefreshToken),
    Unknown,
}

/// The numbers of the per-account lockout (see `begin_login_attempt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Attempts allowed per window before the account locks.
    pub max_attempts: u32,
    pub window_seconds: i64,
    /// The first lockout; each further one doubles, up to `max_lock_seconds`.
    pub lock_seconds: i64,
    pub max_lock_seconds: i64,
}

/// Whether a password check may run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptDecision {
    Allowed,
    Locked { until: UnixTime },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    Next,
    Active,
    Retiring,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Active => "active",
            KeyState::Retiring => "retiring",
            KeyState::Retired => "retired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "next" => KeyState::Next,
            "active" => KeyState::Active,
            "retiring" => KeyState::Retiring,
            "retired" => KeyState::Retired,
            _ => return None,
        })
    }
}

/// The record of a signing key; its private half lives in the key directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub state: KeyState,
    pub created_at: UnixTime,
    pub state_changed_at: UnixTime,
    /// Set when the key was revoked (it is then `retired`).
    pub revoked_at: Option<UnixTime>,
}

/// What one rotation changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRotation {
    /// The former `next` key, now `active`.
    pub activated: String,
    /// The former `active` key, now `retiring` (none if there was none).
    pub retiring: Option<String>,
    /// The new `next` key.
    pub next: String,
}

/// What a revocation changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRevocation {
    Unknown,
    AlreadyRetired,
    Revoked {
        /// The state the key was in.
        was: KeyState,
        /// The key that became `active` because the revoked one was.
        activated: Option<String>,
        /// Whether the replacement record was inserted (as `next`, or as
        /// `active` when no `next` key existed).
        replacement_used: bool,
    },
}

/// Every persistence use case latchkey has.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    // Users.
    async fn insert_user(&self, user: User) -> StoreResult<()>;
    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    async fn find_user_by_id(&self, id: &str) -> StoreResult<Option<User>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Returns false when no such user exists.
    async fn update_user_password(&self, username: &str, hash: &str, now: UnixTime) -> StoreResult<bool>;
    /// Replaces the same password's hash (new parameters) unless it changed
    /// meanwhile; not a profile change, so `updated_at` stays.
    async fn update_user_password_hash(&self, user_id: &str, old_hash: &str, new_hash: &str) -> StoreResult<bool>;
    async fn update_user_disabled(&self, username: &str, disabled: bool, now: UnixTime) -> StoreResult<bool>;
    async fn delete_user(&self, username: &str) -> StoreResult<bool>;

    // Clients.
    async fn insert_client(&self, client: Client) -> StoreResult<()>;
    async fn find_client(&self, id: &str) -> StoreResult<Option<Client>>;
    async fn list_clients(&self) -> StoreResult<Vec<Client>>;
    async fn update_client_secret(&self, id: &str, secret_hash: Vec<u8>) -> StoreResult<bool>;
    async fn delete_client(&self, id: &str) -> StoreResult<bool>;

    // Login transactions, sessions and consent.
    async fn insert_login_request(&self, request: LoginRequest) -> StoreResult<()>;
    async fn find_login_request(&self, id: &str) -> StoreResult<Option<LoginRequest>>;
    async fn update_login_request_user(&self, id: &str, user_id: &str, auth_time: UnixTime) -> StoreResult<()>;
    async fn delete_login_request(&self, id: &str) -> StoreResult<()>;
    async fn insert_session(&self, session: Session) -> StoreResult<()>;
    async fn find_session(&self, id_hash: &[u8]) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, id_hash: &[u8]) -> StoreResult<()>;
    /// The scopes the user has consented to for this client.
    async fn find_consent(&self, user_id: &str, client_id: &str) -> StoreResult<Vec<String>>;
    async fn upsert_consent(&self, user_id: &str, client_id: &str, scopes: &[String], now: UnixTime) -> StoreResult<()>;

    // Codes and grants.
    async fn insert_authorization_code(&self, code: AuthorizationCode) -> StoreResult<()>;
    /// Marks the code used and records its grant (`code.grant_id`, created
    /// `now`) in one transaction: of concurrent callers exactly one gets
    /// `Redeemed`, and the others' `revoke_grant` always finds the grant.
    async fn redeem_authorization_code(&self, code_hash: &[u8], now: UnixTime) -> StoreResult<Redemption>;
    async fn find_grant(&self, id: &str) -> StoreResult<Option<Grant>>;
    async fn revoke_grant(&self, id: &str, now: UnixTime) -> StoreResult<()>;

    // Refresh tokens and access token revocation.
    async fn insert_refresh_token(&self, token: RefreshToken) -> StoreResult<()>;
    async fn find_refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshToken>>;
    /// Consumes `old_hash` and stores `successor` (which inherits the old
    /// token's grant, client and scopes) in one transaction: of concurrent
    /// callers exactly one gets `Rotated`, and there is never a moment with
    /// the old token consumed and no successor.
    async fn rotate_refresh_token(
        &self,
        old_hash: &[u8],
        successor_hash: Vec<u8>,
        successor_expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<Rotation>;
    /// Remembers a revoked access token until it would have expired anyway.
    async fn insert_revoked_access_token(&self, jti: &str, expires_at: UnixTime) -> StoreResult<()>;
    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool>;

    // Login throttling.
    /// Counts a login attempt for `account` before its password is checked,
    /// atomically, so that concurrent attempts cannot all slip under the
    /// limit: at most `max_attempts` checks run per window, then the account
    /// is locked for a growing time.
    async fn begin_login_attempt(&self, account: &str, now: UnixTime, policy: LockoutPolicy) -> StoreResult<AttemptDecision>;
    /// A successful login forgets the account's attempts.
    async fn clear_login_attempts(&self, account: &str) -> StoreResult<()>;

    // Signing keys (the private halves live in the key directory).
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Inserts a `next` or `active` key unless a key in that state exists
    /// already (another process was first); returns whether it was inserted.
    async fn insert_signing_key(&self, record: SigningKeyRecord) -> StoreResult<bool>;
    /// In one transaction, and only if `next_kid` is still the `next` key:
    /// `active` → `retiring`, `next_kid` → `active`, `new_next` inserted as
    /// `next`. `None` when another process rotated first (nothing changed).
    async fn rotate_signing_keys(
        &self,
        next_kid: &str,
        new_next: SigningKeyRecord,
        now: UnixTime,
    ) -> StoreResult<Option<KeyRotation>>;
    /// Compromise: the key becomes `retired` at once. If it was `active`,
    /// the `next` key becomes active; `replacement` (whose file exists) is
    /// inserted as the new `next` when the revocation consumed one.
    async fn revoke_signing_key(
        &self,
        kid: &str,
        replacement: SigningKeyRecord,
        now: UnixTime,
    ) -> StoreResult<KeyRevocation>;
    /// `retiring` → `retired`; false when the key was not `retiring`.
    async fn retire_signing_key(&self, kid: &str, now: UnixTime) -> StoreResult<bool>;

    // Housekeeping.
    /// Deletes expired codes, transactions, sessions, refresh tokens and
    /// revocation records, and grants older than `grant_quiet_seconds`
    /// with no refresh token left (so every access token they minted has
    /// expired: a missing grant reads as revoked).
    async fn purge_expired(&self, now: UnixTime, grant_quiet_seconds: i64) -> StoreResult<u64>;

    // Operations.
    /// Succeeds when a write transaction can be started now (readiness);
    /// nothing is written.
    async fn check_writable(&self) -> StoreResult<()>;
    /// Copies the whole database, as one consistent snapshot taken while
    /// others keep reading and writing, into a new owner-only file at
    /// `dest`, which must not exist.
    async fn backup_to(&self, dest: &std::path::Path) -> StoreResult<()>;
    /// Moves the write-ahead log into the database file and truncates it
    /// (at shutdown, so the database file alone is complete).
    async fn checkpoint(&self) -> StoreResult<Checkpoint>;
}

/// The outcome of a WAL checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// False when a reader or writer kept part of the log from being moved.
    pub complete: bool,
    /// Frames that were in the log, and how many were moved.
    pub log_frames: i64,
    pub checkpointed_frames: i64,
}

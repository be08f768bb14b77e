//! Token cryptography: the signing key ring (`keys`), its lifecycle
//! (`rotation`) and JWS signing and verification (`jwt`). Invariant: knows
//! nothing of OAuth semantics (which claims a token has is `oidc::claims`'
//! business) and never reads the clock: `now` is always passed in.

pub mod jwt;
pub mod keys;
pub mod rotation;

pub use keys::{KeyError, KeyPolicy, KeyRing, KeySettings, Keys};
pub use rotation::{CrashPoint, Maintenance, Revoked};

/// How long relying parties may cache `/jwks` (its `Cache-Control:
/// max-age`), and so how long a `next` key is published before it signs.
pub const JWKS_MAX_AGE_SECS: u64 = 300;

/// `typ` header of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// `typ` header of ID tokens: plain JWT, distinct from access tokens.
pub const ID_TOKEN_TYP: &str = "JWT";

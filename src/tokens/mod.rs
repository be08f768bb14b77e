//! Token cryptography: the signing key ring (`keys`) and JWS signing and
//! verification (`jwt`). Invariant: knows nothing of OAuth semantics (which
//! claims a token has is `oidc::claims`' business) and never reads the clock.

pub mod jwt;
pub mod keys;

pub use keys::{KeyError, KeyRing, Keys};

/// `typ` header of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// `typ` header of ID tokens: plain JWT, distinct from access tokens.
pub const ID_TOKEN_TYP: &str = "JWT";

//! Who the user is: password hashing (`password`) and user name
//! normalisation (`username`). Invariant: no HTTP types, no storage; the
//! callers in `oidc` decide what a failure means.

pub mod password;
pub mod username;

pub use password::{PasswordError, PasswordHasher};

//! Who the user is: password hashing (`password`), user name
//! normalisation (`username`) and failure counting per IP (`throttle`). Invariant: no HTTP types, no storage; the
//! callers in `oidc` decide what a failure means.

pub mod password;
pub mod throttle;
pub mod username;

pub use password::{PasswordError, PasswordHasher};

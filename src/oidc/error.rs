//! The protocol layer's one error type. Each variant says *how* the error
//! must reach the user (a page, a redirect to the client, a JSON body, a
//! bearer challenge); `http::error` turns that into status codes and bodies.

use crate::store::StoreError;
use crate::tokens::KeyError;

use super::Redirect;

/// RFC 6749 §5.2 error codes used at the token endpoint and its siblings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenErrorCode {
    InvalidRequest,
    /// Always answered with 401 and `WWW-Authenticate: Basic` (RFC 6749 §5.2).
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
}

impl TokenErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenErrorCode::InvalidRequest => "invalid_request",
            TokenErrorCode::InvalidClient => "invalid_client",
            TokenErrorCode::InvalidGrant => "invalid_grant",
            TokenErrorCode::UnauthorizedClient => "unauthorized_client",
            TokenErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            TokenErrorCode::InvalidScope => "invalid_scope",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The client or redirect URI cannot be trusted, or a browser form is
    /// stale: show an error page and never redirect (RFC 6749 §4.1.2.1).
    #[error("{0}")]
    Page(String),
    /// An authorization error delivered to the client's redirect URI.
    #[error("authorization error {error}: {description}")]
    Authorize { redirect: Box<Redirect>, error: &'static str, description: String },
    /// A token-endpoint style JSON error.
    #[error("{}: {description}", code.as_str())]
    Token { code: TokenErrorCode, description: String },
    /// A protected-resource error (RFC 6750 §3.1). `error` is `None` when
    /// the request carried no token at all.
    #[error("bearer token rejected: {description}")]
    Bearer { error: Option<&'static str>, description: String },
    /// Too many requests or failures from this client IP or for this
    /// account: 429 with `Retry-After`, as a page or as JSON.
    #[error("throttled for {retry_after}s")]
    Throttled { retry_after: u64, page: bool },
    /// The request body is over the size limit: 413.
    #[error("the request body is too large")]
    TooLarge,
    /// Every password hasher is busy and the queue is full: 503.
    #[error("the password check queue is full")]
    Busy,
    /// Something on our side failed; details are logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl OidcError {
    pub fn token(code: TokenErrorCode, description: impl Into<String>) -> Self {
        OidcError::Token { code, description: description.into() }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::token(TokenErrorCode::InvalidRequest, description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::token(TokenErrorCode::InvalidGrant, description)
    }

    pub fn invalid_token(description: impl Into<String>) -> Self {
        OidcError::Bearer { error: Some("invalid_token"), description: description.into() }
    }
}

impl From<StoreError> for OidcError {
    fn from(err: StoreError) -> Self {
        OidcError::Internal(err.to_string())
    }
}

impl From<KeyError> for OidcError {
    fn from(err: KeyError) -> Self {
        OidcError::Internal(err.to_string())
    }
}

impl From<crate::auth::PasswordError> for OidcError {
    fn from(err: crate::auth::PasswordError) -> Self {
        match err {
            crate::auth::PasswordError::Busy => OidcError::Busy,
            other => OidcError::Internal(other.to_string()),
        }
    }
}

pub type OidcResult<T> = Result<T, OidcError>;

/// RFC 6749 §4.1.2.1 and §5.2 limit `error_description` to %x20-21 /
/// %x23-5B / %x5D-7E; anything else (quotes, backslashes, control
/// characters, non-ASCII that a request may have put in) is replaced.
pub fn safe_description(text: &str) -> String {
    text.chars()
        .map(|c| match c as u32 {
            0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E => c,
            _ => '?',
        })
        .take(256)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_keep_to_the_allowed_characters() {
        assert_eq!(safe_description("a \"b\" \\ é\n"), "a ?b? ? ??");
    }
}

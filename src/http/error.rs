//! The one place where errors become HTTP: statuses, bodies and headers for
//! every `OidcError`. Internal details are logged here and never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::oidc::error::safe_description;
use crate::oidc::{OidcError, TokenErrorCode};

use super::pages;

/// Headers every token-like JSON answer carries (RFC 6749 §5.1).
pub fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A protocol result as a response that no cache may keep.
pub fn respond_no_store(result: Result<impl IntoResponse, OidcError>) -> Response {
    let mut response = result.into_response();
    no_store(&mut response);
    response
}

impl IntoResponse for OidcError {
    fn into_response(self) -> Response {
        match self {
            OidcError::Page(message) => pages::error_page(StatusCode::BAD_REQUEST, &message),
            OidcError::Authorize { redirect, .. } => pages::deliver(&redirect),
            OidcError::Token { code, description } => {
                let status = match code {
                    TokenErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
                    _ => StatusCode::BAD_REQUEST,
                };
                let body = json!({ "error": code.as_str(), "error_description": safe_description(&description) });
                let mut response = (status, axum::Json(body)).into_response();
                no_store(&mut response);
                if code == TokenErrorCode::InvalidClient {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"latchkey\""));
                }
                response
            }
            OidcError::Bearer { error, description } => {
                // RFC 6750 §3.1: no error code when no token was sent.
                let (status, challenge) = match error {
                    None => (StatusCode::UNAUTHORIZED, "Bearer realm=\"latchkey\"".to_string()),
                    Some(code) => {
                        let status = match code {
                            "invalid_request" => StatusCode::BAD_REQUEST,
                            "insufficient_scope" => StatusCode::FORBIDDEN,
                            _ => StatusCode::UNAUTHORIZED,
                        };
                        let description = safe_description(&description);
                        (status, format!("Bearer realm=\"latchkey\", error=\"{code}\", error_description=\"{description}\""))
                    }
                };
                let mut response = match error {
                    Some(code) => (status, axum::Json(json!({ "error": code, "error_description": safe_description(&description) }))).into_response(),
                    None => status.into_response(),
                };
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
                }
                no_store(&mut response);
                response
            }
            OidcError::Throttled { retry_after, page } => {
                let mut response = if page {
                    pages::error_page(StatusCode::TOO_MANY_REQUESTS, "Too many attempts. Wait a little and try again.")
                } else {
                    let body = json!({ "error": "temporarily_unavailable", "error_description": "too many requests; retry later" });
                    (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response()
                };
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
                no_store(&mut response);
                response
            }
            OidcError::TooLarge => {
                let body = json!({ "error": "invalid_request", "error_description": "the request body is larger than 64 KiB" });
                (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response()
            }
            OidcError::Busy => {
                let mut response = pages::error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The server is busy checking other passwords. Try again in a moment.",
                );
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
            OidcError::Internal(details) => {
                tracing::error!(error = %details, "internal error");
                let body = json!({ "error": "server_error", "error_description": "the server could not complete the request" });
                let mut response = (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response();
                no_store(&mut response);
                response
            }
        }
    }
}

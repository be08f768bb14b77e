//! Discovery and JWKS: served from bytes serialised ahead of time. `/jwks`
//! carries `Cache-Control: max-age` (`tokens::JWKS_MAX_AGE_SECS`, which the
//! rotation schedule also uses) and an `ETag`; `If-None-Match` gets a 304.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use axum::body::Bytes;

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery_get))
        .route("/.well-known/oauth-authorization-server", get(discovery_get))
        .route("/jwks", get(jwks_get))
}

fn json_bytes(body: Bytes, cache_control: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache_control)),
        ],
        body,
    )
        .into_response()
}

async fn discovery_get(State(state): State<AppState>) -> Response {
    json_bytes(state.discovery.clone(), "public, max-age=3600")
}

async fn jwks_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let ring = state.provider.keys.current();
    // Built once: this handler is among the hottest.
    static CACHE_CONTROL: std::sync::LazyLock<HeaderValue> = std::sync::LazyLock::new(|| {
        HeaderValue::from_str(&format!("public, max-age={}", crate::tokens::JWKS_MAX_AGE_SECS))
            .unwrap_or(HeaderValue::from_static("public, max-age=300"))
    });
    let cache_control = CACHE_CONTROL.clone();
    let etag = HeaderValue::from_str(ring.etag()).unwrap_or(HeaderValue::from_static("\"jwks\""));
    let unchanged = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == ring.etag());
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        json_bytes(ring.jwks_bytes(), "no-cache")
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, cache_control);
    headers.insert(header::ETAG, etag);
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

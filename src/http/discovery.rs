//! Discovery and JWKS: served from bytes serialised ahead of time.

use axum::extract::State;
use axum::http::{HeaderValue, header};
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

async fn jwks_get(State(state): State<AppState>) -> Response {
    json_bytes(state.provider.keys.current().jwks_bytes(), "public, max-age=300")
}

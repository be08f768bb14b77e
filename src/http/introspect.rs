//! `POST /introspect` (RFC 7662) and `POST /revoke` (RFC 7009).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};

use crate::oidc::introspect;

use super::AppState;
use super::error::respond_no_store;
use super::extract::AuthenticatedClient;

pub fn routes() -> Router<AppState> {
    Router::new().route("/introspect", post(introspect_post)).route("/revoke", post(revoke_post))
}

async fn introspect_post(State(state): State<AppState>, request: AuthenticatedClient) -> Response {
    let result = async {
        introspect::require_confidential(&request.client)?;
        introspect::introspect(&state.provider, &request.client, &request.params).await
    }
    .await;
    respond_no_store(result.map(Json))
}

async fn revoke_post(State(state): State<AppState>, request: AuthenticatedClient) -> Response {
    let result = async {
        introspect::require_confidential(&request.client)?;
        introspect::revoke(&state.provider, &request.client, &request.params).await
    }
    .await;
    respond_no_store(result.map(|()| StatusCode::OK))
}

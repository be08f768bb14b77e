//! `POST /token`.

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};

use crate::oidc::token;

use super::AppState;
use super::error::respond_no_store;
use super::extract::AuthenticatedClient;

pub fn routes() -> Router<AppState> {
    Router::new().route("/token", post(token_post))
}

async fn token_post(State(state): State<AppState>, request: AuthenticatedClient) -> Response {
    respond_no_store(token::exchange(&state.provider, &request.client, &request.params).await.map(Json))
}

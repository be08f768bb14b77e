//! `POST /token`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use crate::oidc::token;

use super::AppState;
use super::client_ip::ClientIp;
use super::error::no_store;
use super::extract::{ApiForm, client_credentials};

pub fn routes() -> Router<AppState> {
    Router::new().route("/token", post(token_post))
}

async fn token_post(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    ApiForm(params): ApiForm,
) -> Response {
    let result = async {
        let credentials = client_credentials(&headers, &params)?;
        let client = token::authenticate_client(&state.provider, &credentials, client_ip).await?;
        token::exchange(&state.provider, &client, &params).await
    }
    .await;
    match result {
        Ok(tokens) => {
            let mut response = Json(tokens).into_response();
            no_store(&mut response);
            response
        }
        Err(err) => err.into_response(),
    }
}

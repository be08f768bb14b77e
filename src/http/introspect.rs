//! `POST /introspect` (RFC 7662) and `POST /revoke` (RFC 7009).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use crate::oidc::{introspect, token};

use super::AppState;
use super::client_ip::ClientIp;
use super::error::no_store;
use super::extract::{ApiForm, client_credentials};

pub fn routes() -> Router<AppState> {
    Router::new().route("/introspect", post(introspect_post)).route("/revoke", post(revoke_post))
}

async fn introspect_post(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    ApiForm(params): ApiForm,
) -> Response {
    let result = async {
        let client = token::authenticate_client(&state.provider, &client_credentials(&headers, &params)?, client_ip).await?;
        introspect::require_confidential(&client)?;
        introspect::introspect(&state.provider, &client, &params).await
    }
    .await;
    match result {
        Ok(answer) => {
            let mut response = Json(answer).into_response();
            no_store(&mut response);
            response
        }
        Err(err) => err.into_response(),
    }
}

async fn revoke_post(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    ApiForm(params): ApiForm,
) -> Response {
    let result = async {
        let client = token::authenticate_client(&state.provider, &client_credentials(&headers, &params)?, client_ip).await?;
        introspect::require_confidential(&client)?;
        introspect::revoke(&state.provider, &client, &params).await
    }
    .await;
    match result {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            no_store(&mut response);
            response
        }
        Err(err) => err.into_response(),
    }
}

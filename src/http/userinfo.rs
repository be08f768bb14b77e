//! `GET|POST /userinfo` (OIDC Core §5.3).

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::oidc::userinfo;

use super::AppState;
use super::error::respond_no_store;
use super::extract::{ApiForm, bearer_token};

pub fn routes() -> Router<AppState> {
    Router::new().route("/userinfo", get(userinfo_handler).post(userinfo_handler))
}

async fn userinfo_handler(State(state): State<AppState>, request: Request) -> Response {
    let headers: HeaderMap = request.headers().clone();
    // A POST may carry the token in a form body (RFC 6750 §2.2); an empty
    // POST with only the header is fine too.
    let has_form = request.method() == Method::POST
        && headers.get(axum::http::header::CONTENT_TYPE).is_some();
    let form = if has_form {
        match ApiForm::from_request(request, &state).await {
            Ok(ApiForm(params)) => Some(params),
            Err(err) => return err.into_response(),
        }
    } else {
        None
    };
    let result = async {
        let token = bearer_token(&headers, form.as_ref())?;
        userinfo::userinfo(&state.provider, &token).await
    }
    .await;
    respond_no_store(result.map(Json))
}

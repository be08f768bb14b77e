//! `GET|POST /logout` (RP-Initiated Logout 1.0).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::oidc::logout::{self, LogoutOutcome};
use crate::oidc::{Browser, OidcResult};

use super::extract::{BrowserCookies, PageForm, QueryParams};
use super::pages::{self, LoggedOutPage, LogoutPage};
use super::{AppState, cookies};

pub fn routes() -> Router<AppState> {
    Router::new().route("/logout", get(logout_get).post(logout_post))
}

async fn logout_get(State(state): State<AppState>, cookies: BrowserCookies, QueryParams(params): QueryParams) -> Response {
    let result = logout::request(&state.provider, &params, &cookies.browser).await;
    respond(&state, &cookies, result)
}

async fn logout_post(State(state): State<AppState>, cookies: BrowserCookies, PageForm(params): PageForm) -> Response {
    // The confirmation form marks itself; anything else is an RP's POST.
    let result = if params.get("confirm") == Some("yes") {
        logout::confirm(&state.provider, &params, &cookies.browser).await
    } else {
        logout::request(&state.provider, &params, &cookies.browser).await
    };
    respond(&state, &cookies, result)
}

fn respond(state: &AppState, cookies: &BrowserCookies, result: OidcResult<LogoutOutcome>) -> Response {
    let response = match result {
        Ok(LogoutOutcome::Redirect(target)) => cookies::clear_session(state, pages::see_other(&target)),
        Ok(LogoutOutcome::LoggedOut) => cookies::clear_session(state, pages::render(StatusCode::OK, &LoggedOutPage)),
        Ok(LogoutOutcome::Confirm { client_id, post_logout_redirect_uri, state: rp_state }) => {
            confirm_page(state, &cookies.browser, client_id.as_deref(), post_logout_redirect_uri.as_deref(), rp_state.as_deref())
        }
        Err(err) => err.into_response(),
    };
    if cookies.is_new { cookies::set_browser(state, response, &cookies.browser.browser_token) } else { response }
}

fn confirm_page(
    state: &AppState,
    browser: &Browser,
    client_id: Option<&str>,
    post_logout_redirect_uri: Option<&str>,
    rp_state: Option<&str>,
) -> Response {
    let action = state.provider.config.endpoint("/logout");
    let csrf_token = logout::csrf_token(browser);
    pages::render(
        StatusCode::OK,
        &LogoutPage { action: &action, csrf_token: &csrf_token, client_id, post_logout_redirect_uri, state: rp_state },
    )
}


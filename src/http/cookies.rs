//! Cookie policy in one place: HttpOnly, SameSite=Lax, scoped to the
//! issuer's path, and Secure whenever the issuer is https.

use axum::http::{HeaderValue, header};
use axum::response::Response;
use cookie::{Cookie, SameSite};

use super::AppState;
use super::extract::{BROWSER_COOKIE, SESSION_COOKIE};

fn build(state: &AppState, name: &'static str, value: String, max_age_seconds: i64) -> Cookie<'static> {
    let config = &state.provider.config;
    let path = url::Url::parse(&config.server.issuer)
        .map(|url| url.path().to_string())
        .unwrap_or_else(|_| "/".into());
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.issuer_is_https())
        .path(if path.is_empty() { "/".to_string() } else { path })
        .max_age(cookie::time::Duration::seconds(max_age_seconds))
        .build()
}

fn append(mut response: Response, cookie: Cookie<'static>) -> Response {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The long-lived cookie that login transactions are bound to.
pub fn set_browser(state: &AppState, response: Response, token: &str) -> Response {
    append(response, build(state, BROWSER_COOKIE, token.to_string(), 400 * 86_400))
}

pub fn set_session(state: &AppState, response: Response, token: &str) -> Response {
    let ttl = state.provider.config.session.ttl.as_secs() as i64;
    append(response, build(state, SESSION_COOKIE, token.to_string(), ttl))
}

pub fn clear_session(state: &AppState, response: Response) -> Response {
    append(response, build(state, SESSION_COOKIE, String::new(), 0))
}

pub const DEMO_COOKIE: &str = "lk_demo";

/// The demo relying party's own state (state, nonce, PKCE verifier).
pub fn set_demo(state: &AppState, response: Response, value: &str) -> Response {
    append(response, build(state, DEMO_COOKIE, value.to_string(), 15 * 60))
}

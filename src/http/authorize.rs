//! `/authorize`, `/login` and `/consent`: thin handlers over
//! `oidc::authorize`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use secrecy::SecretString;

use crate::oidc::authorize::{self, LoginResult, Next};
use crate::oidc::{OidcError, scopes};

use super::client_ip::ClientIp;
use super::extract::{BrowserCookies, PageForm, QueryParams};
use super::pages::{self, ConsentPage, LoginPage, ScopeLine};
use super::{AppState, cookies};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/authorize", get(authorize_get).post(authorize_post))
        .route("/login", get(login_get).post(login_post))
        .route("/consent", get(consent_get).post(consent_post))
}

async fn authorize_get(state: State<AppState>, cookies: BrowserCookies, QueryParams(params): QueryParams) -> Response {
    authorize(state, cookies, params).await
}

async fn authorize_post(state: State<AppState>, cookies: BrowserCookies, PageForm(params): PageForm) -> Response {
    authorize(state, cookies, params).await
}

async fn authorize(State(state): State<AppState>, cookies: BrowserCookies, params: crate::oidc::Params) -> Response {
    let result = authorize::start(&state.provider, &params, &cookies.browser).await;
    if let (Ok(_), Some(client_id)) = (&result, params.get("client_id")) {
        crate::telemetry::note_client(client_id);
    }
    let response = next_response(&state, result);
    if cookies.is_new { cookies::set_browser(&state, response, &cookies.browser.browser_token) } else { response }
}

fn next_response(state: &AppState, result: Result<Next, OidcError>) -> Response {
    match result {
        Ok(Next::Client(redirect)) => pages::deliver(&redirect),
        Ok(Next::Login { request_id }) => pages::see_other(&state.provider.config.endpoint(&format!("/login?request_id={request_id}"))),
        Ok(Next::Consent { request_id }) => pages::see_other(&state.provider.config.endpoint(&format!("/consent?request_id={request_id}"))),
        Err(err) => err.into_response(),
    }
}

async fn login_get(State(state): State<AppState>, cookies: BrowserCookies, QueryParams(params): QueryParams) -> Response {
    let request_id = params.get("request_id").unwrap_or_default();
    match authorize::load_login_request(&state.provider, request_id, &cookies.browser, None).await {
        Ok(login) => render_login(&state, &login, login.request.login_hint.as_deref().unwrap_or_default(), None, StatusCode::OK),
        Err(err) => err.into_response(),
    }
}

fn render_login(
    state: &AppState,
    login: &crate::store::LoginRequest,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let action = state.provider.config.endpoint("/login");
    pages::render(
        status,
        &LoginPage {
            action: &action,
            request_id: &login.id,
            csrf_token: &login.csrf_token,
            client_id: &login.request.client_id,
            username,
            error,
        },
    )
}

async fn login_post(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    cookies: BrowserCookies,
    form: PageForm,
) -> Response {
    let params = match form.strict() {
        Ok(params) => params,
        Err(err) => return err.into_response(),
    };
    let field = |name: &str| params.get(name).unwrap_or_default();
    let password = SecretString::from(field("password").to_string());
    let result = authorize::submit_login(
        &state.provider,
        &cookies.browser,
        client_ip,
        field("request_id"),
        field("csrf_token"),
        field("username"),
        password,
    )
    .await;
    match result {
        Ok(LoginResult::Failed { login, message }) => {
            tracing::info!(event = "login_failed", client_id = %login.request.client_id, "login failed");
            crate::telemetry::login("failed");
            crate::telemetry::note_client(&login.request.client_id);
            let username: String = field("username").chars().take(256).collect();
            render_login(&state, &login, &username, Some(message), StatusCode::UNAUTHORIZED)
        }
        Ok(LoginResult::LoggedIn { session, next }) => {
            tracing::info!(event = "login_succeeded", "login succeeded");
            crate::telemetry::login("succeeded");
            let response = next_response(&state, Ok(next));
            cookies::set_session(&state, response, &session.token)
        }
        Err(err) => err.into_response(),
    }
}

async fn consent_get(State(state): State<AppState>, cookies: BrowserCookies, QueryParams(params): QueryParams) -> Response {
    let request_id = params.get("request_id").unwrap_or_default();
    let (login, user) = match authorize::load_consent(&state.provider, &cookies.browser, request_id, None).await {
        Ok(found) => found,
        Err(err) => return err.into_response(),
    };
    let action = state.provider.config.endpoint("/consent");
    let scopes = login
        .request
        .scopes
        .iter()
        .map(|scope| ScopeLine { name: scope.clone(), description: scopes::describe(scope) })
        .collect();
    pages::render(
        StatusCode::OK,
        &ConsentPage {
            action: &action,
            request_id: &login.id,
            csrf_token: &login.csrf_token,
            client_id: &login.request.client_id,
            username: &user.username,
            scopes,
        },
    )
}

async fn consent_post(State(state): State<AppState>, cookies: BrowserCookies, form: PageForm) -> Response {
    let params = match form.strict() {
        Ok(params) => params,
        Err(err) => return err.into_response(),
    };
    let field = |name: &str| params.get(name).unwrap_or_default();
    let approved = match field("decision") {
        "allow" => true,
        "deny" => false,
        _ => return OidcError::Page("The consent form was not answered.".into()).into_response(),
    };
    match authorize::submit_consent(&state.provider, &cookies.browser, field("request_id"), field("csrf_token"), approved).await {
        Ok(redirect) => {
            tracing::info!(event = if approved { "consent_granted" } else { "consent_denied" }, "consent answered");
            pages::deliver(&redirect)
        }
        Err(err) => err.into_response(),
    }
}

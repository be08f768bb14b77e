//! `/demo` (only with `serve --demo`): a relying party built into the
//! provider. It starts a real authorization code flow with PKCE against
//! latchkey, redeems the code through the same token logic, verifies the ID
//! token, calls userinfo, and shows every result decoded.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{Map, Value};

use crate::oidc::token::{self, ClientCredentials};
use crate::oidc::{OidcError, Params, Provider, userinfo};
use crate::secrets::{constant_time_eq, random_token, sha256_b64url};
use crate::tokens::{ID_TOKEN_TYP, jwt};

use super::extract::QueryParams;
use super::pages;
use super::{AppState, cookies};

pub const DEMO_CLIENT_ID: &str = "latchkey-demo";
pub const DEMO_USERNAME: &str = "demo";

pub fn routes() -> Router<AppState> {
    Router::new().route("/demo", get(demo_get))
}

#[derive(serde::Serialize)]
pub struct DemoResult {
    pub id_token: String,
    pub id_token_header: String,
    pub id_token_claims: String,
    pub access_token_claims: String,
    pub userinfo: String,
}

#[derive(Template, serde::Serialize)]
#[template(path = "demo.html")]
pub struct DemoPage {
    pub signin_url: String,
    pub result: Option<DemoResult>,
    pub error: Option<String>,
}

impl pages::Page for DemoPage {
    const NAME: &'static str = "demo.html";
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

async fn demo_get(State(state): State<AppState>, headers: HeaderMap, QueryParams(params): QueryParams) -> Response {
    let provider = &state.provider;
    let redirect_uri = provider.config.endpoint("/demo");
    // A fresh state, nonce and verifier for the next "Sign in" click.
    let (state_value, nonce, verifier) = (random_token(16), random_token(16), random_token(32));
    // The serializer is not Send, so it must not live across an await.
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", DEMO_CLIENT_ID)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "openid profile email")
        .append_pair("state", &state_value)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &sha256_b64url(verifier.as_bytes()))
        .append_pair("code_challenge_method", "S256")
        .finish();
    let signin_url = format!("{}?{query}", provider.config.endpoint("/authorize"));
    let mut page = DemoPage { signin_url, result: None, error: None };

    let saved = cookie_value(&headers);
    if let Some(error) = params.get("error") {
        page.error = Some(format!("{error}: {}", params.get("error_description").unwrap_or_default()));
    } else if let Some(code) = params.get("code") {
        page.error = match finish(provider, code, params.get("state"), saved.as_deref(), &redirect_uri).await {
            Ok(result) => {
                page.result = Some(result);
                None
            }
            Err(message) => Some(message),
        };
    }
    let response = pages::render(StatusCode::OK, &page);
    cookies::set_demo(&state, response, &format!("{state_value}.{nonce}.{verifier}"))
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == cookies::DEMO_COOKIE)
        .map(|cookie| cookie.value().to_string())
}

/// Redeems the code and checks the ID token as any relying party must
/// (OIDC Core §3.1.3.7).
async fn finish(
    provider: &Provider,
    code: &str,
    returned_state: Option<&str>,
    saved: Option<&str>,
    redirect_uri: &str,
) -> Result<DemoResult, String> {
    let mut parts = saved.unwrap_or_default().split('.');
    let (Some(state), Some(nonce), Some(verifier)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("This browser did not start the sign-in; press Sign in again.".into());
    };
    if !constant_time_eq(state.as_bytes(), returned_state.unwrap_or_default().as_bytes()) {
        return Err("The state does not match: the response was not for this browser.".into());
    }
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_verifier", verifier)
        .finish();
    let params = Params::parse(form.as_bytes());
    let describe = |err: OidcError| err.to_string();
    let credentials = ClientCredentials::None { client_id: DEMO_CLIENT_ID.into() };
    // The demo relying party runs inside the server: its address is loopback.
    let loopback = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    let client = token::authenticate_client(provider, &credentials, loopback).await.map_err(describe)?;
    let tokens = token::exchange(provider, &client, &params).await.map_err(describe)?;
    let id_token = tokens.id_token.clone().ok_or("no ID token was issued")?;

    let claims = jwt::verify(&provider.keys.current(), &id_token, &[ID_TOKEN_TYP]).map_err(|err| err.to_string())?;
    let claim = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    if claim("iss") != provider.issuer() || claim("aud") != DEMO_CLIENT_ID || claim("nonce") != nonce {
        return Err("The ID token failed validation (issuer, audience or nonce).".into());
    }
    let header: Map<String, Value> = decode_segment(&id_token, 0).unwrap_or_default();
    let access = userinfo::validate_access_token(provider, &tokens.access_token).await.map_err(describe)?;
    let info = userinfo::userinfo(provider, &tokens.access_token).await.map_err(describe)?;
    Ok(DemoResult {
        id_token,
        id_token_header: pretty(&header),
        id_token_claims: pretty(&claims),
        access_token_claims: pretty(&access.claims),
        userinfo: pretty(&info),
    })
}

fn decode_segment(token: &str, index: usize) -> Option<Map<String, Value>> {
    use base64::Engine;
    let segment = token.split('.').nth(index)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment).ok()?;
    serde_json::from_slice(&bytes).ok()
}

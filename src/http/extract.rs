//! Extractors that own their rejections, so a bad request gets a
//! spec-shaped error instead of axum's plain-text defaults.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{self, HeaderMap};
use axum::http::request::Parts;
use base64::Engine;
use secrecy::SecretString;

use crate::oidc::token::ClientCredentials;
use crate::oidc::{Browser, OidcError, Params};
use crate::secrets::random_token;

use super::AppState;

pub const SESSION_COOKIE: &str = "lk_session";
pub const BROWSER_COOKIE: &str = "lk_browser";

/// Parameters from the query string (never rejects; problems are recorded
/// in `Params` for the endpoint to answer in its own way).
pub struct QueryParams(pub Params);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = OidcError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(QueryParams(Params::parse(parts.uri.query().unwrap_or_default().as_bytes())))
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime::Mime>().ok())
        .is_some_and(|mime| mime.essence_str() == "application/x-www-form-urlencoded")
}

/// Why a form body was not read.
enum FormProblem {
    NotForm,
    TooLarge,
    Unreadable,
}

impl FormProblem {
    fn describe(&self) -> &'static str {
        match self {
            FormProblem::NotForm => "the body must be application/x-www-form-urlencoded",
            FormProblem::TooLarge => "the body is too large",
            FormProblem::Unreadable => "the body could not be read",
        }
    }
}

async fn read_form<S: Send + Sync>(request: Request, state: &S) -> Result<Params, FormProblem> {
    if !is_form(request.headers()) {
        return Err(FormProblem::NotForm);
    }
    let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE { FormProblem::TooLarge } else { FormProblem::Unreadable }
    })?;
    Ok(Params::parse(&bytes))
}

/// A form body for an API endpoint: rejections are JSON `invalid_request`.
pub struct ApiForm(pub Params);

impl<S: Send + Sync> FromRequest<S> for ApiForm {
    type Rejection = OidcError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let params = read_form(request, state).await.map_err(|problem| match problem {
            FormProblem::TooLarge => OidcError::TooLarge,
            other => OidcError::invalid_request(other.describe()),
        })?;
        if let Some(problem) = params.malformed() {
            return Err(OidcError::invalid_request(problem.to_string()));
        }
        Ok(ApiForm(params))
    }
}

/// A form body for a browser page: rejections are an error page. Bad
/// encoding and duplicates stay recorded in `Params` for endpoints (like
/// `/authorize`) whose spec decides how to answer them.
pub struct PageForm(pub Params);

impl PageForm {
    /// For latchkey's own forms: any duplicate or bad value is a forgery.
    pub fn strict(self) -> Result<Params, OidcError> {
        if let Some(problem) = self.0.malformed() {
            return Err(OidcError::Page(format!("The form could not be read: {problem}.")));
        }
        if let Some(name) = self.0.first_duplicate() {
            return Err(OidcError::Page(format!("The form could not be read: {name} was sent more than once.")));
        }
        Ok(self.0)
    }
}

impl<S: Send + Sync> FromRequest<S> for PageForm {
    type Rejection = OidcError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_form(request, state).await.map(PageForm).map_err(|problem| match problem {
            FormProblem::TooLarge => OidcError::TooLarge,
            other => OidcError::Page(format!("The form could not be read: {}.", other.describe())),
        })
    }
}

/// The browser's cookies. `is_new` says the binding cookie was just made
/// and must be set on the response.
pub struct BrowserCookies {
    pub browser: Browser,
    pub is_new: bool,
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_string())
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

impl FromRequestParts<AppState> for BrowserCookies {
    type Rejection = OidcError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        let session_token = cookie_value(&parts.headers, SESSION_COOKIE);
        let (browser_token, is_new) = match cookie_value(&parts.headers, BROWSER_COOKIE) {
            Some(token) => (token, false),
            None => (random_token(24), true),
        };
        Ok(BrowserCookies { browser: Browser { session_token, browser_token }, is_new })
    }
}

/// An authenticated client and its form, for the endpoints that require
/// client authentication (token, introspection, revocation).
pub struct AuthenticatedClient {
    pub client: crate::store::Client,
    pub params: Params,
}

impl FromRequest<AppState> for AuthenticatedClient {
    type Rejection = OidcError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let super::client_ip::ClientIp(client_ip) = super::client_ip::ClientIp::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let ApiForm(params) = ApiForm::from_request(Request::from_parts(parts, body), state).await?;
        let credentials = client_credentials(&headers, &params)?;
        let client = crate::oidc::token::authenticate_client(&state.provider, &credentials, client_ip).await?;
        Ok(AuthenticatedClient { client, params })
    }
}

/// Builds the client's credentials from the Authorization header and the
/// form (RFC 6749 §2.3.1). Using two methods at once is an error.
pub fn client_credentials(headers: &HeaderMap, params: &Params) -> Result<ClientCredentials, OidcError> {
    let invalid_client = || OidcError::token(crate::oidc::TokenErrorCode::InvalidClient, "client authentication failed");
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| invalid_client())?;
        let (scheme, encoded) = value.split_once(' ').ok_or_else(invalid_client)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(invalid_client());
        }
        if params.has("client_secret") {
            return Err(OidcError::invalid_request("use one client authentication method, not two"));
        }
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| invalid_client())?;
        let decoded = String::from_utf8(decoded).map_err(|_| invalid_client())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
        // Both halves are form-urlencoded before base64 (RFC 6749 §2.3.1).
        let decode = |text: &str| -> String {
            percent_encoding::percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned()
        };
        let client_id = decode(id);
        if params.get("client_id").is_some_and(|body_id| body_id != client_id) {
            return Err(OidcError::invalid_request("client_id in the body differs from the Authorization header"));
        }
        return Ok(ClientCredentials::Basic { client_id, secret: SecretString::from(decode(secret)) });
    }
    let client_id = params.get("client_id").ok_or_else(invalid_client)?.to_string();
    Ok(match params.get("client_secret") {
        Some(secret) => ClientCredentials::Post { client_id, secret: SecretString::from(secret.to_string()) },
        None => ClientCredentials::None { client_id },
    })
}

/// The bearer token from the Authorization header (scheme case-insensitive,
/// RFC 9110 §11.1) or, for form posts, the `access_token` field (RFC 6750
/// §2.2). Sending it both ways is an `invalid_request`.
pub fn bearer_token(headers: &HeaderMap, form: Option<&Params>) -> Result<String, OidcError> {
    let from_header = match headers.get(header::AUTHORIZATION) {
        Some(value) => {
            let value = value.to_str().map_err(|_| OidcError::invalid_token("the Authorization header is malformed"))?;
            match value.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
                    Some(token.trim().to_string())
                }
                _ => None,
            }
        }
        None => None,
    };
    let from_form = form.and_then(|params| params.get("access_token")).map(str::to_string);
    match (from_header, from_form) {
        (Some(_), Some(_)) => Err(OidcError::Bearer {
            error: Some("invalid_request"),
            description: "send the access token in one place only".into(),
        }),
        (Some(token), None) | (None, Some(token)) => Ok(token),
        (None, None) => Err(OidcError::Bearer { error: None, description: "no access token".into() }),
    }
}

//! RP-Initiated Logout 1.0. A valid `id_token_hint` from this provider logs
//! the browser out at once; without one the user confirms first. A
//! `post_logout_redirect_uri` is followed only when it exactly matches one
//! registered for the client the request identifies (§3); a forged or
//! foreign hint is never a redirect.

use serde_json::Value;

use crate::secrets::{constant_time_eq, sha256_b64url, token_hash};
use crate::tokens::{ID_TOKEN_TYP, jwt};

use super::{Browser, OidcError, OidcResult, Params, Provider};

#[derive(Debug)]
pub enum LogoutOutcome {
    /// Logged out; send the browser to this URL.
    Redirect(String),
    /// Logged out; show the "signed out" page.
    LoggedOut,
    /// No valid hint: ask the user, carrying the request along.
    Confirm { client_id: Option<String>, post_logout_redirect_uri: Option<String>, state: Option<String> },
}

fn bad(message: &str) -> OidcError {
    OidcError::Page(format!("This sign-out request is not valid: {message}. You are still signed in."))
}

/// The CSRF token of the confirmation form, tied to the browser cookie.
pub fn csrf_token(browser: &Browser) -> String {
    sha256_b64url(format!("logout:{}", browser.browser_token).as_bytes())
}

/// Handles `GET|POST /logout` from a relying party.
pub async fn request(provider: &Provider, params: &Params, browser: &Browser) -> OidcResult<LogoutOutcome> {
    if let Some(problem) = params.malformed() {
        return Err(bad(problem));
    }
    if let Some(name) = params.first_duplicate() {
        return Err(bad(&format!("{name} was sent more than once")));
    }
    let state = params.get("state").map(str::to_string);
    let (hinted_client, hinted_subject) = match params.get("id_token_hint") {
        Some(hint) => {
            let claims = jwt::verify(&provider.keys.current(), hint, &[ID_TOKEN_TYP])
                .map_err(|_| bad("the id_token_hint was not issued by this provider"))?;
            if claims.get("iss").and_then(Value::as_str) != Some(provider.issuer()) {
                return Err(bad("the id_token_hint was not issued by this provider"));
            }
            // An expired hint is still acceptable (§2): only who it names matters.
            let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
            (Some(text("aud").ok_or_else(|| bad("the id_token_hint has no audience"))?), text("sub"))
        }
        None => (None, None),
    };
    let client_id = match (hinted_client.as_deref(), params.get("client_id")) {
        (Some(hinted), Some(given)) if hinted != given => {
            return Err(bad("client_id does not match the id_token_hint"));
        }
        (Some(hinted), _) => Some(hinted.to_string()),
        (None, given) => given.map(str::to_string),
    };
    let post_logout = params.get("post_logout_redirect_uri").map(str::to_string);
    // Checked before anything happens, so a bad target is refused up front.
    let target = checked_target(provider, client_id.as_deref(), post_logout.as_deref(), state.as_deref()).await?;
    // Without a hint, or with one that names someone other than the user
    // signed in here (anyone can replay an old ID token: §2 says to treat
    // that as suspect), the user decides.
    if hinted_client.is_none() || !hint_names_session_user(provider, browser, hinted_subject.as_deref()).await? {
        return Ok(LogoutOutcome::Confirm { client_id, post_logout_redirect_uri: post_logout, state });
    }
    end_session(provider, browser).await?;
    Ok(target.map_or(LogoutOutcome::LoggedOut, LogoutOutcome::Redirect))
}

/// The confirmation form was submitted.
pub async fn confirm(provider: &Provider, params: &Params, browser: &Browser) -> OidcResult<LogoutOutcome> {
    let token = params.get("csrf_token").unwrap_or_default();
    if !constant_time_eq(token.as_bytes(), csrf_token(browser).as_bytes()) {
        return Err(OidcError::Page("This sign-out form has expired. Nothing was changed.".into()));
    }
    let target = checked_target(
        provider,
        params.get("client_id"),
        params.get("post_logout_redirect_uri"),
        params.get("state"),
    )
    .await?;
    end_session(provider, browser).await?;
    Ok(target.map_or(LogoutOutcome::LoggedOut, LogoutOutcome::Redirect))
}

/// The redirect after logout, if one was asked for and is registered.
async fn checked_target(
    provider: &Provider,
    client_id: Option<&str>,
    post_logout: Option<&str>,
    state: Option<&str>,
) -> OidcResult<Option<String>> {
    let Some(uri) = post_logout else { return Ok(None) };
    let Some(client_id) = client_id else {
        return Err(bad("post_logout_redirect_uri needs an id_token_hint or client_id"));
    };
    let client = provider.store.find_client(client_id).await?.ok_or_else(|| bad("the client is not registered"))?;
    if !client.post_logout_redirect_uris.iter().any(|registered| registered == uri) {
        return Err(bad("post_logout_redirect_uri is not registered for this client"));
    }
    Ok(Some(match state {
        Some(state) => {
            let query = form_urlencoded::Serializer::new(String::new()).append_pair("state", state).finish();
            let separator = if uri.contains('?') { '&' } else { '?' };
            format!("{uri}{separator}{query}")
        }
        None => uri.to_string(),
    }))
}

/// Whether the browser has no session, or one of the user `subject` names.
async fn hint_names_session_user(provider: &Provider, browser: &Browser, subject: Option<&str>) -> OidcResult<bool> {
    let Some(token) = &browser.session_token else { return Ok(true) };
    match provider.store.find_session(&token_hash(token)).await? {
        Some(session) => Ok(subject == Some(session.user_id.as_str())),
        None => Ok(true),
    }
}

async fn end_session(provider: &Provider, browser: &Browser) -> OidcResult<()> {
    if let Some(session) = &browser.session_token {
        provider.store.delete_session(&token_hash(session)).await?;
    }
    tracing::info!(event = "logout", "browser session ended");
    Ok(())
}

//! The authorization endpoint and the login and consent steps that may
//! follow it (OIDC Core §3.1.2, RFC 6749 §4.1, RFC 9700).
//!
//! Invariants: nothing is sent to a redirect URI until the client and the
//! URI are verified; the transaction lives server-side and is bound to the
//! browser that started it; a code is only issued for an authenticated,
//! enabled user who has consented to exactly the scopes in the code.

use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};

use crate::auth::username;
use crate::clock::UnixTime;
use crate::secrets::{constant_time_eq, random_token, token_hash};
use crate::store::{AttemptDecision, AuthorizationCode, AuthorizationRequest, Client, LoginRequest, ResponseMode, Session, User};
use crate::tokens::{ID_TOKEN_TYP, jwt};

use super::{Browser, OidcError, OidcResult, Params, Provider, Redirect, pkce, redirect_uri, scopes};

const MAX_STATE_BYTES: usize = 2048;
const MAX_NONCE_BYTES: usize = 512;
const MAX_LOGIN_HINT_BYTES: usize = 256;

/// Where the browser goes after `/authorize` or a form post.
#[derive(Debug)]
pub enum Next {
    /// Back to the client, with a code or an error.
    Client(Redirect),
    /// To the login page of this transaction.
    Login { request_id: String },
    /// To the consent page of this transaction.
    Consent { request_id: String },
}

/// A new login session to set as the browser's cookie.
pub struct NewSession {
    pub token: String,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewSession(..)")
    }
}

fn error_redirect(request: &AuthorizationRequest, issuer: &str, error: &'static str, description: &str) -> OidcError {
    let mut params = vec![("error", error.to_string()), ("error_description", super::error::safe_description(description))];
    if let Some(state) = &request.state {
        params.push(("state", state.clone()));
    }
    params.push(("iss", issuer.to_string()));
    OidcError::Authorize {
        redirect: Box::new(Redirect { redirect_uri: request.redirect_uri.clone(), mode: request.response_mode, params }),
        error,
        description: description.to_string(),
    }
}

/// Validates an authorization request (GET query or POST form).
pub async fn start(provider: &Provider, params: &Params, browser: &Browser) -> OidcResult<Next> {
    let (_client, request) = validate(provider, params).await?;
    let fail = |error: &'static str, description: &str| Err(error_redirect(&request, provider.issuer(), error, description));
    let now = provider.now();

    let session = current_session(provider, browser).await?;
    let hinted_subject = match (params.get("id_token_hint"), params.get("prompt")) {
        (Some(hint), _) => match subject_of_id_token_hint(provider, hint) {
            Some(subject) => Some(subject),
            None => return fail("invalid_request", "id_token_hint is not an ID token issued by this provider"),
        },
        _ => None,
    };
    let prompt_none = params.get("prompt").is_some_and(|prompt| prompt.split(' ').any(|p| p == "none"));

    let reusable = session.as_ref().filter(|(session, user)| {
        !request.prompt_login
            && request.max_age.is_none_or(|max_age| now - session.auth_time <= max_age)
            && hinted_subject.as_deref().is_none_or(|subject| subject == user.id)
    });
    let Some((session, user)) = reusable else {
        if prompt_none {
            return fail("login_required", "the user must log in");
        }
        let request_id = insert_login_request(provider, browser, request, None).await?;
        return Ok(Next::Login { request_id });
    };
    if needs_consent(provider, &request, &user.id).await? {
        if prompt_none {
            return fail("consent_required", "the user must consent to this request");
        }
        let request_id = insert_login_request(provider, browser, request, Some((&user.id, session.auth_time))).await?;
        return Ok(Next::Consent { request_id });
    }
    Ok(Next::Client(issue_code(provider, &request, &user.id, session.auth_time).await?))
}

/// Checks client and redirect URI (errors become pages), then everything
/// else (errors go back to the client).
async fn validate(provider: &Provider, params: &Params) -> OidcResult<(Client, AuthorizationRequest)> {
    if let Some(problem) = params.malformed() {
        return Err(OidcError::Page(format!("The request is malformed: {problem}.")));
    }
    let client_id = match params.get("client_id") {
        _ if params.is_duplicated("client_id") => return Err(OidcError::Page("client_id was sent more than once.".into())),
        Some(id) if id.len() <= 128 => id,
        Some(_) => return Err(OidcError::Page("client_id is too long.".into())),
        None => return Err(OidcError::Page("The request has no client_id.".into())),
    };
    let Some(client) = provider.store.find_client(client_id).await? else {
        return Err(OidcError::Page("The application that sent you here is not registered.".into()));
    };
    if params.is_duplicated("redirect_uri") {
        return Err(OidcError::Page("redirect_uri was sent more than once.".into()));
    }
    // OIDC Core §3.1.2.1 makes redirect_uri REQUIRED; we never fall back to a
    // default, so a bad one can never be "corrected" into a redirect.
    let Some(requested_uri) = params.get("redirect_uri") else {
        return Err(OidcError::Page("The request has no redirect_uri.".into()));
    };
    let Some(redirect_uri) = redirect_uri::find_match(&client.redirect_uris, requested_uri) else {
        return Err(OidcError::Page("The redirect_uri is not registered for this application.".into()));
    };
    let redirect_uri = if redirect_uri.as_str() == requested_uri { redirect_uri.clone() } else { requested_uri.to_string() };

    let response_mode = match params.get("response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(_) => ResponseMode::Query,
    };
    let state = params.get("state").filter(|_| !params.is_duplicated("state")).map(str::to_string);
    let mut request = AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri,
        scopes: Vec::new(),
        state,
        nonce: None,
        code_challenge: None,
        response_mode,
        prompt_login: false,
        prompt_consent: false,
        max_age: None,
        login_hint: None,
    };
    let fail = |request: &AuthorizationRequest, error: &'static str, description: &str| {
        Err(error_redirect(request, provider.issuer(), error, description))
    };

    if let Some(name) = params.first_duplicate() {
        return fail(&request, "invalid_request", &format!("{name} was sent more than once"));
    }
    if request.state.as_ref().is_some_and(|state| state.len() > MAX_STATE_BYTES) {
        request.state = None;
        return fail(&request, "invalid_request", "state is too long");
    }
    if !matches!(params.get("response_mode"), None | Some("query" | "form_post")) {
        return fail(&request, "invalid_request", "response_mode must be query or form_post");
    }
    if params.has("request") {
        return fail(&request, "request_not_supported", "request objects are not supported");
    }
    if params.has("request_uri") {
        return fail(&request, "request_uri_not_supported", "request_uri is not supported");
    }
    match params.get("response_type") {
        None => return fail(&request, "invalid_request", "response_type is required"),
        Some("code") => {}
        Some(_) => return fail(&request, "unsupported_response_type", "only response_type=code is supported"),
    }
    if !client.allows_grant(super::admin::GRANT_AUTHORIZATION_CODE) {
        return fail(&request, "unauthorized_client", "this client may not use the authorization code flow");
    }

    let Some(scope) = params.get("scope") else {
        return fail(&request, "invalid_request", "scope is required");
    };
    let requested = match scopes::parse(scope) {
        Ok(requested) if !requested.is_empty() => requested,
        Ok(_) => return fail(&request, "invalid_request", "scope is required"),
        Err(problem) => return fail(&request, "invalid_scope", &problem),
    };
    if let Some(unknown) = requested.iter().find(|scope| !client.scopes.contains(scope)) {
        return fail(&request, "invalid_scope", &format!("scope {unknown} is not allowed for this client"));
    }
    request.scopes = requested;

    let prompts: Vec<&str> = params.get("prompt").map(|p| p.split(' ').filter(|p| !p.is_empty()).collect()).unwrap_or_default();
    if prompts.contains(&"none") && prompts.len() > 1 {
        return fail(&request, "invalid_request", "prompt=none cannot be combined with other values");
    }
    if let Some(unknown) = prompts.iter().find(|p| !matches!(**p, "none" | "login" | "consent" | "select_account")) {
        return fail(&request, "invalid_request", &format!("prompt value {unknown} is not supported"));
    }
    request.prompt_login = prompts.contains(&"login") || prompts.contains(&"select_account");
    request.prompt_consent = prompts.contains(&"consent");
    if let Some(max_age) = params.get("max_age") {
        match max_age.parse::<u32>() {
            // OIDC Core §3.1.2.1: max_age=0 means the user must log in again.
            Ok(0) => request.prompt_login = true,
            Ok(seconds) => request.max_age = Some(i64::from(seconds)),
            Err(_) => return fail(&request, "invalid_request", "max_age must be a non-negative integer"),
        }
    }

    request.nonce = match params.get("nonce") {
        Some(nonce) if nonce.len() > MAX_NONCE_BYTES => return fail(&request, "invalid_request", "nonce is too long"),
        nonce => nonce.map(str::to_string),
    };
    request.login_hint = params.get("login_hint").filter(|hint| hint.len() <= MAX_LOGIN_HINT_BYTES).map(str::to_string);

    match (params.get("code_challenge"), params.get("code_challenge_method")) {
        (None, Some(_)) => return fail(&request, "invalid_request", "code_challenge_method without code_challenge"),
        (None, None) if client.is_public() => {
            return fail(&request, "invalid_request", "public clients must use PKCE (code_challenge with S256)");
        }
        (None, None) => {}
        (Some(_), None | Some("plain")) => {
            return fail(&request, "invalid_request", "code_challenge_method must be S256; plain is not supported");
        }
        (Some(_), Some(method)) if method != "S256" => {
            return fail(&request, "invalid_request", "code_challenge_method must be S256");
        }
        (Some(challenge), Some(_)) if !pkce::is_valid_challenge(challenge) => {
            return fail(&request, "invalid_request", "code_challenge must be 43 base64url characters");
        }
        (Some(challenge), Some(_)) => request.code_challenge = Some(challenge.to_string()),
    }
    Ok((client, request))
}

/// The browser's session and its user, when both are still valid.
async fn current_session(provider: &Provider, browser: &Browser) -> OidcResult<Option<(Session, User)>> {
    let Some(token) = &browser.session_token else { return Ok(None) };
    let Some(session) = provider.store.find_session(&token_hash(token)).await? else { return Ok(None) };
    if session.expires_at <= provider.now() {
        return Ok(None);
    }
    match provider.store.find_user_by_id(&session.user_id).await? {
        Some(user) if !user.disabled => Ok(Some((session, user))),
        _ => Ok(None),
    }
}

/// The `sub` of an ID token we issued. Expired hints are still accepted
/// (OIDC Core §3.1.2.1): only the signature and the issuer matter here.
fn subject_of_id_token_hint(provider: &Provider, hint: &str) -> Option<String> {
    let claims = jwt::verify(&provider.keys.current(), hint, &[ID_TOKEN_TYP]).ok()?;
    if claims.get("iss")?.as_str()? != provider.issuer() {
        return None;
    }
    claims.get("sub")?.as_str().map(str::to_string)
}

async fn needs_consent(provider: &Provider, request: &AuthorizationRequest, user_id: &str) -> OidcResult<bool> {
    if request.prompt_consent {
        return Ok(true);
    }
    let granted = provider.store.find_consent(user_id, &request.client_id).await?;
    Ok(!request.scopes.iter().all(|scope| granted.contains(scope)))
}

async fn insert_login_request(
    provider: &Provider,
    browser: &Browser,
    request: AuthorizationRequest,
    authenticated: Option<(&str, UnixTime)>,
) -> OidcResult<String> {
    let id = random_token(24);
    provider
        .store
        .insert_login_request(LoginRequest {
            id: id.clone(),
            browser_hash: token_hash(&browser.browser_token),
            csrf_token: random_token(24),
            request,
            user_id: authenticated.map(|(user_id, _)| user_id.to_string()),
            auth_time: authenticated.map(|(_, auth_time)| auth_time),
            expires_at: provider.now() + provider.config.session.login_ttl.as_secs() as i64,
        })
        .await?;
    Ok(id)
}

/// Loads a transaction for a page, checking it belongs to this browser and,
/// for form posts, that the CSRF token matches.
pub async fn load_login_request(
    provider: &Provider,
    request_id: &str,
    browser: &Browser,
    csrf_token: Option<&str>,
) -> OidcResult<LoginRequest> {
    let expired = || OidcError::Page("This sign-in request has expired or is not valid. Go back to the application and start again.".into());
    if request_id.is_empty() || request_id.len() > 64 {
        return Err(expired());
    }
    let login = provider.store.find_login_request(request_id).await?.ok_or_else(expired)?;
    if login.expires_at <= provider.now() || !constant_time_eq(&login.browser_hash, &token_hash(&browser.browser_token)) {
        return Err(expired());
    }
    if let Some(csrf_token) = csrf_token
        && !constant_time_eq(csrf_token.as_bytes(), login.csrf_token.as_bytes()) {
            return Err(OidcError::Page("This form has expired. Go back to the application and start again.".into()));
        }
    Ok(login)
}

/// The result of a login form post.
#[derive(Debug)]
pub enum LoginResult {
    /// Wrong credentials: show the form again with this message.
    Failed { login: Box<LoginRequest>, message: &'static str },
    /// Logged in: set the new session cookie and go on.
    LoggedIn { session: NewSession, next: Next },
}

/// One message for every failure, so the page never tells whether the user
/// exists (OWASP authentication guidance).
pub const LOGIN_FAILED: &str = "The user name or password is not correct.";

pub async fn submit_login(
    provider: &Provider,
    browser: &Browser,
    client_ip: IpAddr,
    request_id: &str,
    csrf_token: &str,
    username_input: &str,
    password: SecretString,
) -> OidcResult<LoginResult> {
    let login = load_login_request(provider, request_id, browser, Some(csrf_token)).await?;
    let now = provider.now();
    if let Some(retry_after) = provider.throttles.login_failures.blocked_for(client_ip, now) {
        tracing::warn!(event = "login_throttled", reason = "ip", "login refused: too many failures from this address");
        return Err(OidcError::Throttled { retry_after, page: true });
    }
    let account = username::normalize(username_input).ok();
    // Counted before the password check and atomically, so a flood of
    // parallel guesses gets only a handful of real checks. Unknown names are
    // counted alike: the answer never tells whether an account exists.
    if let Some(account) = &account
        && let AttemptDecision::Locked { until } =
            provider.store.begin_login_attempt(account, now, provider.lockout_policy()).await?
        {
            tracing::warn!(event = "login_throttled", reason = "account", "login refused: account temporarily locked");
            return Err(OidcError::Throttled { retry_after: (until - now).max(1) as u64, page: true });
        }
    // An unknown or disabled user still pays for one Argon2 verification so
    // that timing does not reveal which it was.
    let user = match &account {
        Some(name) => provider.store.find_user_by_username(name).await?,
        None => None,
    };
    let stored_hash = user.as_ref().filter(|user| !user.disabled).map(|user| user.password_hash.clone());
    // Kept only when the hash predates today's Argon2 parameters.
    let rehash = stored_hash
        .as_deref()
        .filter(|hash| !provider.hasher.is_current(hash))
        .map(|_| SecretString::from(password.expose_secret().to_string()));
    let matches = provider.hasher.verify(password, stored_hash).await?;
    let Some(user) = user.filter(|_| matches) else {
        provider.throttles.login_failures.record_failure(client_ip, now);
        return Ok(LoginResult::Failed { login: Box::new(login), message: LOGIN_FAILED });
    };
    if let Some(account) = &account {
        provider.store.clear_login_attempts(account).await?;
    }
    if let Some(password) = rehash {
        upgrade_password_hash(provider, &user, password).await;
    }

    // A fresh session id at every login defeats session fixation.
    if let Some(old) = &browser.session_token {
        provider.store.delete_session(&token_hash(old)).await?;
    }
    let token = random_token(32);
    provider
        .store
        .insert_session(Session {
            id_hash: token_hash(&token),
            user_id: user.id.clone(),
            auth_time: now,
            expires_at: now + provider.config.session.ttl.as_secs() as i64,
        })
        .await?;
    provider.store.update_login_request_user(&login.id, &user.id, now).await?;

    let next = if needs_consent(provider, &login.request, &user.id).await? {
        Next::Consent { request_id: login.id }
    } else {
        provider.store.delete_login_request(&login.id).await?;
        Next::Client(issue_code(provider, &login.request, &user.id, now).await?)
    };
    Ok(LoginResult::LoggedIn { session: NewSession { token }, next })
}

/// Rehashes a password with today's parameters after a successful login,
/// so raising them reaches every active account. A failure only delays it.
async fn upgrade_password_hash(provider: &Provider, user: &User, password: SecretString) {
    let updated = match provider.hasher.hash(password).await {
        Ok(hash) => provider.store.update_user_password_hash(&user.id, &user.password_hash, &hash).await.map_err(|err| err.to_string()),
        Err(err) => Err(err.to_string()),
    };
    match updated {
        Ok(_) => tracing::info!(event = "password_rehashed", "password hash upgraded to the current Argon2 parameters"),
        Err(err) => tracing::warn!(error = %err, "upgrading a password hash failed; it is retried at the next login"),
    }
}

/// The consent page's view of a transaction: it must have a logged-in user
/// whose session is still this browser's.
pub async fn load_consent(provider: &Provider, browser: &Browser, request_id: &str, csrf_token: Option<&str>) -> OidcResult<(LoginRequest, User)> {
    let login = load_login_request(provider, request_id, browser, csrf_token).await?;
    let session_user = current_session(provider, browser).await?.map(|(_, user)| user);
    match (session_user, &login.user_id) {
        (Some(user), Some(user_id)) if &user.id == user_id => Ok((login, user)),
        _ => Err(OidcError::Page("Your session has ended. Go back to the application and sign in again.".into())),
    }
}

pub async fn submit_consent(
    provider: &Provider,
    browser: &Browser,
    request_id: &str,
    csrf_token: &str,
    approved: bool,
) -> OidcResult<Redirect> {
    let (login, user) = load_consent(provider, browser, request_id, Some(csrf_token)).await?;
    provider.store.delete_login_request(&login.id).await?;
    let client_id = login.request.client_id.as_str();
    let scope = scopes::join(&login.request.scopes);
    if approved {
        tracing::info!(event = "consent_granted", client_id, sub = %user.id, %scope, "the user consented");
    } else {
        tracing::info!(event = "consent_denied", client_id, sub = %user.id, %scope, "the user declined");
    }
    if !approved {
        return match error_redirect(&login.request, provider.issuer(), "access_denied", "the user declined the request") {
            OidcError::Authorize { redirect, .. } => Ok(*redirect),
            other => Err(other),
        };
    }
    // Remember the union, so asking again for fewer scopes needs no prompt.
    let mut granted = provider.store.find_consent(&user.id, &login.request.client_id).await?;
    for scope in &login.request.scopes {
        if !granted.contains(scope) {
            granted.push(scope.clone());
        }
    }
    provider.store.upsert_consent(&user.id, &login.request.client_id, &granted, provider.now()).await?;
    let auth_time = login.auth_time.unwrap_or_else(|| provider.now());
    issue_code(provider, &login.request, &user.id, auth_time).await
}

/// Creates a single-use code and the redirect that delivers it.
async fn issue_code(provider: &Provider, request: &AuthorizationRequest, user_id: &str, auth_time: UnixTime) -> OidcResult<Redirect> {
    let code = random_token(32);
    let now = provider.now();
    provider
        .store
        .insert_authorization_code(AuthorizationCode {
            code_hash: token_hash(&code),
            client_id: request.client_id.clone(),
            user_id: user_id.to_string(),
            redirect_uri: request.redirect_uri.clone(),
            scopes: request.scopes.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            auth_time,
            expires_at: now + provider.config.tokens.authorization_code_ttl.as_secs() as i64,
            grant_id: random_token(16),
        })
        .await?;
    let mut params = vec![("code", code)];
    if let Some(state) = &request.state {
        params.push(("state", state.clone()));
    }
    // RFC 9207: lets the client detect mix-up attacks.
    params.push(("iss", provider.issuer().to_string()));
    Ok(Redirect { redirect_uri: request.redirect_uri.clone(), mode: request.response_mode, params })
}

//! The token endpoint (RFC 6749 §3.2, §4.1.3, §5; OIDC Core §3.1.3):
//! client authentication and the grants.

use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::clock::UnixTime;
use crate::secrets::{constant_time_eq, random_token, token_hash};
use crate::store::{Client, Grant, Redemption, RefreshToken, Rotation, User};
use crate::tokens::{ACCESS_TOKEN_TYP, ID_TOKEN_TYP, jwt};

use super::admin::{GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS, GRANT_REFRESH_TOKEN};
use super::claims::{self, AccessTokenClaims, IdTokenClaims};
use super::{OidcError, OidcResult, Params, Provider, TokenErrorCode, pkce, scopes};

/// How the client presented itself (RFC 6749 §2.3).
#[derive(Debug)]
pub enum ClientCredentials {
    /// `Authorization: Basic` (client_secret_basic).
    Basic { client_id: String, secret: SecretString },
    /// `client_id` and `client_secret` in the body (client_secret_post).
    Post { client_id: String, secret: SecretString },
    /// Only `client_id` (public clients, auth method `none`).
    None { client_id: String },
}

impl ClientCredentials {
    fn client_id(&self) -> &str {
        match self {
            ClientCredentials::Basic { client_id, .. }
            | ClientCredentials::Post { client_id, .. }
            | ClientCredentials::None { client_id } => client_id,
        }
    }
}

/// Authenticates the client. Every failure is `invalid_client`, with the
/// same description, so the answer does not reveal which clients exist.
/// Failures are counted per client IP; past the limit that IP gets 429.
pub async fn authenticate_client(provider: &Provider, credentials: &ClientCredentials, client_ip: IpAddr) -> OidcResult<Client> {
    let now = provider.now();
    let counter = &provider.throttles.client_auth_failures;
    if let Some(retry_after) = counter.blocked_for(client_ip, now) {
        return Err(OidcError::Throttled { retry_after, page: false });
    }
    let result = check_client_credentials(provider, credentials).await;
    if matches!(result, Err(OidcError::Token { code: TokenErrorCode::InvalidClient, .. })) {
        counter.record_failure(client_ip, now);
        tracing::info!(event = "client_auth_failed", "client authentication failed");
    }
    result
}

async fn check_client_credentials(provider: &Provider, credentials: &ClientCredentials) -> OidcResult<Client> {
    let failed = || OidcError::token(TokenErrorCode::InvalidClient, "client authentication failed");
    let client_id = credentials.client_id();
    if client_id.is_empty() || client_id.len() > 128 {
        return Err(failed());
    }
    let client = provider.store.find_client(client_id).await?.ok_or_else(failed)?;
    // A registered id (not arbitrary input) for the request log line.
    crate::telemetry::note_client(&client.id);
    match (credentials, &client.secret_hash) {
        (ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. }, Some(expected)) => {
            let presented = token_hash(secret.expose_secret());
            if constant_time_eq(&presented, expected) { Ok(client) } else { Err(failed()) }
        }
        (ClientCredentials::None { .. }, None) => Ok(client),
        _ => Err(failed()),
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse").field("scope", &self.scope).finish_non_exhaustive()
    }
}

/// `POST /token` after the client is authenticated.
pub async fn exchange(provider: &Provider, client: &Client, params: &Params) -> OidcResult<TokenResponse> {
    if let Some(problem) = params.malformed() {
        return Err(OidcError::invalid_request(problem.to_string()));
    }
    if let Some(name) = params.first_duplicate() {
        return Err(OidcError::invalid_request(format!("{name} was sent more than once")));
    }
    match params.get("grant_type") {
        None => Err(OidcError::invalid_request("grant_type is required")),
        Some(GRANT_AUTHORIZATION_CODE) => authorization_code(provider, client, params).await,
        Some(GRANT_REFRESH_TOKEN) => refresh_token(provider, client, params).await,
        Some(GRANT_CLIENT_CREDENTIALS) => client_credentials(provider, client, params).await,
        Some(_) => Err(OidcError::token(TokenErrorCode::UnsupportedGrantType, "this grant type is not supported")),
    }
}

fn require_grant(client: &Client, grant: &str) -> OidcResult<()> {
    if client.allows_grant(grant) {
        Ok(())
    } else {
        Err(OidcError::token(TokenErrorCode::UnauthorizedClient, format!("this client may not use the {grant} grant")))
    }
}

async fn authorization_code(provider: &Provider, client: &Client, params: &Params) -> OidcResult<TokenResponse> {
    require_grant(client, GRANT_AUTHORIZATION_CODE)?;
    let code = params.get("code").ok_or_else(|| OidcError::invalid_request("code is required"))?;
    let redirect_uri =
        params.get("redirect_uri").ok_or_else(|| OidcError::invalid_request("redirect_uri is required"))?;
    let now = provider.now();
    let code = match provider.store.redeem_authorization_code(&token_hash(code), now).await? {
        Redemption::Redeemed(code) => code,
        Redemption::AlreadyRedeemed(code) => {
            // RFC 6749 §4.1.2: a reused code is denied, and what the first
            // use produced is revoked: the code has probably leaked.
            provider.store.revoke_grant(&code.grant_id, now).await?;
            tracing::warn!(event = "code_reuse", client_id = %code.client_id, "authorization code used twice; grant revoked");
            crate::telemetry::code_reuse();
            return Err(OidcError::invalid_grant("the authorization code has already been used"));
        }
        Redemption::Unknown => return Err(OidcError::invalid_grant("the authorization code is not valid")),
    };
    if code.client_id != client.id {
        return Err(OidcError::invalid_grant("the authorization code was issued to another client"));
    }
    if code.expires_at <= now {
        return Err(OidcError::invalid_grant("the authorization code has expired"));
    }
    if code.redirect_uri != redirect_uri {
        return Err(OidcError::invalid_grant("redirect_uri does not match the authorization request"));
    }
    match (&code.code_challenge, params.get("code_verifier")) {
        (Some(_), Some(verifier)) if !pkce::is_valid_verifier(verifier) => {
            return Err(OidcError::invalid_grant("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~"));
        }
        (Some(challenge), Some(verifier)) if pkce::verify(verifier, challenge) => {}
        (Some(_), Some(_)) => return Err(OidcError::invalid_grant("code_verifier does not match the code_challenge")),
        (Some(_), None) => return Err(OidcError::invalid_grant("code_verifier is required")),
        // RFC 9700 §4.8.2: a verifier without a challenge is a downgrade attempt.
        (None, Some(_)) => return Err(OidcError::invalid_grant("code_verifier sent for a code issued without PKCE")),
        (None, None) => {}
    }
    let user = active_user(provider, &code.user_id).await?;
    // The store recorded this grant when it redeemed the code.
    let grant = Grant {
        id: code.grant_id.clone(),
        client_id: client.id.clone(),
        user_id: Some(user.id.clone()),
        scopes: code.scopes.clone(),
        auth_time: Some(code.auth_time),
        created_at: now,
        revoked: false,
    };
    // A refresh token only when the user granted offline access and the
    // client may refresh (OIDC Core §11).
    let refresh_token = if client.allows_grant(GRANT_REFRESH_TOKEN) && scopes::contains(&code.scopes, scopes::OFFLINE_ACCESS) {
        let token = random_token(32);
        provider
            .store
            .insert_refresh_token(RefreshToken {
                token_hash: token_hash(&token),
                grant_id: grant.id.clone(),
                client_id: client.id.clone(),
                scopes: code.scopes.clone(),
                created_at: now,
                expires_at: now + provider.config.tokens.refresh_token_ttl.as_secs() as i64,
                consumed_at: None,
            })
            .await?;
        Some(token)
    } else {
        None
    };
    // offline_access means a refresh token: without one it was not granted
    // (and the response's `scope` says so, RFC 6749 §5.1).
    let granted: Vec<String> = match refresh_token {
        Some(_) => code.scopes.clone(),
        None => code.scopes.iter().filter(|scope| *scope != scopes::OFFLINE_ACCESS).cloned().collect(),
    };
    let response = mint(provider, client, &grant, Some(&user), &granted, code.nonce.as_deref(), refresh_token)?;
    tracing::info!(event = "token_issued", grant = "authorization_code", client_id = %client.id, "tokens issued");
    crate::telemetry::token_issued("authorization_code");
    Ok(response)
}

async fn active_user(provider: &Provider, user_id: &str) -> OidcResult<User> {
    match provider.store.find_user_by_id(user_id).await? {
        Some(user) if !user.disabled => Ok(user),
        _ => Err(OidcError::invalid_grant("the user is no longer active")),
    }
}

/// Signs the access token and, for OpenID user grants, the ID token.
fn mint(
    provider: &Provider,
    client: &Client,
    grant: &Grant,
    user: Option<&User>,
    granted: &[String],
    nonce: Option<&str>,
    refresh_token: Option<String>,
) -> OidcResult<TokenResponse> {
    let now = provider.now();
    let ring = provider.keys.current();
    let tokens = &provider.config.tokens;
    let access_ttl = tokens.access_token_ttl.as_secs();
    let subject = user.map_or(client.id.as_str(), |user| user.id.as_str());
    let access_token = jwt::sign(
        &ring,
        ACCESS_TOKEN_TYP,
        claims::access_token(AccessTokenClaims {
            issuer: provider.issuer(),
            audience: &provider.access_token_audience(),
            subject,
            client_id: &client.id,
            scopes: granted,
            grant_id: &grant.id,
            auth_time: grant.auth_time,
            now,
            ttl: access_ttl as i64,
        }),
    )?;
    // OIDC Core §3.1.3.3 / §12.2: ID tokens only for OpenID requests with a user.
    let id_token = match (user, grant.auth_time) {
        (Some(user), Some(auth_time)) if scopes::contains(granted, scopes::OPENID) => Some(jwt::sign(
            &ring,
            ID_TOKEN_TYP,
            claims::id_token(IdTokenClaims {
                issuer: provider.issuer(),
                user,
                client_id: &client.id,
                nonce,
                auth_time,
                access_token: &access_token,
                scopes: granted,
                include_scope_claims: tokens.id_token_scope_claims,
                now,
                ttl: tokens.id_token_ttl.as_secs() as i64,
            }),
        )?),
        _ => None,
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: access_ttl,
        scope: scopes::join(granted),
        id_token,
        refresh_token,
    })
}

/// The requested `scope`, which must be within `allowed`; absent means all.
fn narrowed_scopes(params: &Params, allowed: &[String]) -> OidcResult<Vec<String>> {
    let Some(requested) = params.get("scope") else { return Ok(allowed.to_vec()) };
    let requested = scopes::parse(requested).map_err(|problem| OidcError::token(TokenErrorCode::InvalidScope, problem))?;
    if let Some(extra) = requested.iter().find(|scope| !allowed.contains(scope)) {
        return Err(OidcError::token(TokenErrorCode::InvalidScope, format!("scope {extra} was not granted")));
    }
    Ok(requested)
}

/// RFC 6749 §6 with rotation (RFC 9700 §4.14.2) and the retry window.
async fn refresh_token(provider: &Provider, client: &Client, params: &Params) -> OidcResult<TokenResponse> {
    require_grant(client, GRANT_REFRESH_TOKEN)?;
    let presented = params.get("refresh_token").ok_or_else(|| OidcError::invalid_request("refresh_token is required"))?;
    let presented_hash = token_hash(presented);
    let window = provider.config.tokens.refresh_retry_window.as_secs() as i64;
    if window == 0 {
        return rotate(provider, client, params, &presented_hash).await;
    }
    // Duplicates within the window wait for the first exchange and get its
    // answer; if it failed, each tries for itself (and fails alike).
    let cell = provider.refresh_retries.cell(&presented_hash, &client.id, provider.now(), window);
    let response = cell.get_or_try_init(|| rotate(provider, client, params, &presented_hash)).await.cloned()?;
    if let Some(successor) = &response.refresh_token {
        provider.refresh_retries.note_successor(&presented_hash, &client.id, token_hash(successor));
    }
    Ok(response)
}

async fn rotate(provider: &Provider, client: &Client, params: &Params, presented_hash: &[u8]) -> OidcResult<TokenResponse> {
    let invalid = || OidcError::invalid_grant("the refresh token is not valid");
    let now = provider.now();
    let current = provider.store.find_refresh_token(presented_hash).await?.ok_or_else(invalid)?;
    // RFC 6749 §10.4: a refresh token is bound to its client. Another
    // client presenting it learns nothing and changes nothing.
    if current.client_id != client.id {
        return Err(invalid());
    }
    if current.consumed_at.is_some() {
        return Err(replayed(provider, &current, now).await?);
    }
    if current.expires_at <= now {
        return Err(OidcError::invalid_grant("the refresh token has expired"));
    }
    let grant = match provider.store.find_grant(&current.grant_id).await? {
        Some(grant) if !grant.revoked => grant,
        _ => return Err(OidcError::invalid_grant("the refresh token has been revoked")),
    };
    let user = match &grant.user_id {
        Some(user_id) => Some(active_user(provider, user_id).await?),
        None => None,
    };
    let granted = narrowed_scopes(params, &current.scopes)?;
    let successor = random_token(32);
    let expires_at = now + provider.config.tokens.refresh_token_ttl.as_secs() as i64;
    match provider.store.rotate_refresh_token(presented_hash, token_hash(&successor), expires_at, now).await? {
        Rotation::Rotated(_) => {}
        Rotation::AlreadyConsumed(current) => return Err(replayed(provider, &current, now).await?),
        Rotation::Unknown => return Err(invalid()),
    }
    let response = mint(provider, client, &grant, user.as_ref(), &granted, None, Some(successor))?;
    tracing::info!(event = "token_issued", grant = "refresh_token", client_id = %client.id, "tokens issued");
    crate::telemetry::token_issued("refresh_token");
    Ok(response)
}

/// A consumed refresh token came back: someone holds a copy. Revoke the
/// whole family (RFC 9700 §4.14.2) and refuse.
async fn replayed(provider: &Provider, token: &RefreshToken, now: UnixTime) -> OidcResult<OidcError> {
    provider.store.revoke_grant(&token.grant_id, now).await?;
    tracing::warn!(event = "refresh_reuse", client_id = %token.client_id, "refresh token reused; token family revoked");
    crate::telemetry::refresh_reuse();
    Ok(OidcError::invalid_grant("the refresh token has already been used"))
}

/// RFC 6749 §4.4: a confidential client acting for itself.
async fn client_credentials(provider: &Provider, client: &Client, params: &Params) -> OidcResult<TokenResponse> {
    if client.is_public() {
        return Err(OidcError::token(TokenErrorCode::InvalidClient, "public clients cannot use client_credentials"));
    }
    require_grant(client, GRANT_CLIENT_CREDENTIALS)?;
    // Without a user, openid and offline_access mean nothing: they give no
    // ID token and no refresh token, and are left out of the grant.
    let service_scopes: Vec<String> = client
        .scopes
        .iter()
        .filter(|scope| !matches!(scope.as_str(), scopes::OPENID | scopes::OFFLINE_ACCESS))
        .cloned()
        .collect();
    let granted: Vec<String> = narrowed_scopes(params, &client.scopes)?
        .into_iter()
        .filter(|scope| service_scopes.contains(scope))
        .collect();
    let now = provider.now();
    // No grant row: client_credentials tokens are revoked one by one (by
    // jti), which keeps issuance free of database writes.
    let grant = Grant {
        id: String::new(),
        client_id: client.id.clone(),
        user_id: None,
        scopes: granted.clone(),
        auth_time: None,
        created_at: now,
        revoked: false,
    };
    let response = mint(provider, client, &grant, None, &granted, None, None)?;
    tracing::debug!(event = "token_issued", grant = "client_credentials", client_id = %client.id, "token issued");
    crate::telemetry::token_issued("client_credentials");
    Ok(response)
}

//! The token endpoint (RFC 6749 §3.2, §4.1.3, §5; OIDC Core §3.1.3):
//! client authentication and the grants.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::secrets::{constant_time_eq, token_hash};
use crate::store::{Client, Grant, Redemption};
use crate::tokens::{ACCESS_TOKEN_TYP, ID_TOKEN_TYP, jwt};

use super::admin::GRANT_AUTHORIZATION_CODE;
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
pub async fn authenticate_client(provider: &Provider, credentials: &ClientCredentials) -> OidcResult<Client> {
    let failed = || OidcError::token(TokenErrorCode::InvalidClient, "client authentication failed");
    let client_id = credentials.client_id();
    if client_id.is_empty() || client_id.len() > 128 {
        return Err(failed());
    }
    let client = provider.store.find_client(client_id).await?.ok_or_else(failed)?;
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
#[derive(Serialize)]
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
        Some(_) => Err(OidcError::token(TokenErrorCode::UnsupportedGrantType, "this grant type is not supported")),
    }
}

async fn authorization_code(provider: &Provider, client: &Client, params: &Params) -> OidcResult<TokenResponse> {
    if !client.allows_grant(GRANT_AUTHORIZATION_CODE) {
        return Err(OidcError::token(TokenErrorCode::UnauthorizedClient, "this client may not use authorization codes"));
    }
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
        (Some(challenge), Some(verifier)) if pkce::verify(verifier, challenge) => {}
        (Some(_), Some(_)) => return Err(OidcError::invalid_grant("code_verifier does not match the code_challenge")),
        (Some(_), None) => return Err(OidcError::invalid_grant("code_verifier is required")),
        // RFC 9700 §4.8.2: a verifier without a challenge is a downgrade attempt.
        (None, Some(_)) => return Err(OidcError::invalid_grant("code_verifier sent for a code issued without PKCE")),
        (None, None) => {}
    }
    let user = match provider.store.find_user_by_id(&code.user_id).await? {
        Some(user) if !user.disabled => user,
        _ => return Err(OidcError::invalid_grant("the user is no longer active")),
    };
    provider
        .store
        .insert_grant(Grant {
            id: code.grant_id.clone(),
            client_id: client.id.clone(),
            user_id: Some(user.id.clone()),
            scopes: code.scopes.clone(),
            auth_time: Some(code.auth_time),
            created_at: now,
            revoked: false,
        })
        .await?;

    let ring = provider.keys.current();
    let tokens = &provider.config.tokens;
    let access_ttl = tokens.access_token_ttl.as_secs();
    let access_token = jwt::sign(
        &ring,
        ACCESS_TOKEN_TYP,
        claims::access_token(AccessTokenClaims {
            issuer: provider.issuer(),
            audience: &provider.access_token_audience(),
            subject: &user.id,
            client_id: &client.id,
            scopes: &code.scopes,
            grant_id: &code.grant_id,
            auth_time: Some(code.auth_time),
            now,
            ttl: access_ttl as i64,
        }),
    )?;
    // OIDC Core §3.1.3.3: an ID token only for OpenID requests.
    let id_token = if scopes::contains(&code.scopes, scopes::OPENID) {
        Some(jwt::sign(
            &ring,
            ID_TOKEN_TYP,
            claims::id_token(IdTokenClaims {
                issuer: provider.issuer(),
                user: &user,
                client_id: &client.id,
                nonce: code.nonce.as_deref(),
                auth_time: code.auth_time,
                access_token: &access_token,
                scopes: &code.scopes,
                include_scope_claims: tokens.id_token_scope_claims,
                now,
                ttl: tokens.id_token_ttl.as_secs() as i64,
            }),
        )?)
    } else {
        None
    };
    tracing::info!(event = "token_issued", grant = "authorization_code", client_id = %client.id, "tokens issued");
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: access_ttl,
        scope: scopes::join(&code.scopes),
        id_token,
        refresh_token: None,
    })
}

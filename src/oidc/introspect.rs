//! Token introspection (RFC 7662) and revocation (RFC 7009). Both take an
//! authenticated client; a client sees and revokes only its own tokens.
//! `token_type_hint` is only a hint: every kind of token is looked up.

use serde_json::{Map, Value, json};

use crate::secrets::token_hash;
use crate::store::Client;

use super::userinfo::validate_access_token;
use super::{OidcError, OidcResult, Params, Provider, TokenErrorCode, scopes};

fn token_param(params: &Params) -> OidcResult<&str> {
    if let Some(problem) = params.malformed() {
        return Err(OidcError::invalid_request(problem.to_string()));
    }
    if params.is_duplicated("token") {
        return Err(OidcError::invalid_request("token was sent more than once"));
    }
    params.get("token").ok_or_else(|| OidcError::invalid_request("token is required"))
}

/// Introspection and revocation need a confidential client (RFC 7662 §2.1:
/// no anonymous token scanning).
pub fn require_confidential(client: &Client) -> OidcResult<()> {
    if client.is_public() {
        return Err(OidcError::token(TokenErrorCode::InvalidClient, "this endpoint needs client authentication"));
    }
    Ok(())
}

fn audience_includes(claims: &Map<String, Value>, client_id: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(client_id)),
        _ => false,
    }
}

/// The RFC 7662 §2.2 answer: `{"active": false}` alone for anything that is
/// not an active token of this client.
pub async fn introspect(provider: &Provider, client: &Client, params: &Params) -> OidcResult<Map<String, Value>> {
    let token = token_param(params)?;
    let mut inactive = Map::new();
    inactive.insert("active".into(), json!(false));

    if token.matches('.').count() == 2 {
        let Ok(access) = validate_access_token(provider, token).await else { return Ok(inactive) };
        let claims = access.claims;
        let owner = claims.get("client_id").and_then(Value::as_str) == Some(client.id.as_str());
        if !owner && !audience_includes(&claims, &client.id) {
            return Ok(inactive);
        }
        let mut answer = Map::new();
        answer.insert("active".into(), json!(true));
        answer.insert("token_type".into(), json!("Bearer"));
        for name in ["sub", "client_id", "scope", "exp", "iat", "iss", "aud", "jti", "auth_time"] {
            if let Some(value) = claims.get(name) {
                answer.insert(name.into(), value.clone());
            }
        }
        return Ok(answer);
    }

    let Some(refresh) = provider.store.find_refresh_token(&token_hash(token)).await? else { return Ok(inactive) };
    let now = provider.now();
    if refresh.client_id != client.id || refresh.consumed_at.is_some() || refresh.expires_at <= now {
        return Ok(inactive);
    }
    let Some(grant) = provider.store.find_grant(&refresh.grant_id).await?.filter(|grant| !grant.revoked) else {
        return Ok(inactive);
    };
    let mut answer = Map::new();
    answer.insert("active".into(), json!(true));
    answer.insert("token_type".into(), json!("refresh_token"));
    answer.insert("sub".into(), json!(grant.user_id.as_deref().unwrap_or(&client.id)));
    answer.insert("client_id".into(), json!(client.id));
    answer.insert("scope".into(), json!(scopes::join(&refresh.scopes)));
    answer.insert("exp".into(), json!(refresh.expires_at));
    answer.insert("iat".into(), json!(refresh.created_at));
    answer.insert("iss".into(), json!(provider.issuer()));
    answer.insert("aud".into(), json!(client.id));
    Ok(answer)
}

/// RFC 7009 §2.2: success (200) also for unknown or invalid tokens.
/// Revoking a refresh token revokes its whole family, including the access
/// tokens minted from it; revoking an access token revokes that token.
pub async fn revoke(provider: &Provider, client: &Client, params: &Params) -> OidcResult<()> {
    let token = token_param(params)?;
    let now = provider.now();
    let not_yours = || OidcError::token(TokenErrorCode::UnauthorizedClient, "the token was not issued to this client");

    if token.matches('.').count() == 2 {
        if let Ok(access) = validate_access_token(provider, token).await {
            let claims = access.claims;
            if claims.get("client_id").and_then(Value::as_str) != Some(client.id.as_str()) {
                return Err(not_yours());
            }
            let jti = claims.get("jti").and_then(Value::as_str).unwrap_or_default();
            let expires = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
            provider.store.insert_revoked_access_token(jti, expires).await?;
            tracing::info!(event = "token_revoked", kind = "access_token", client_id = %client.id, "token revoked");
        }
        return Ok(());
    }
    if let Some(refresh) = provider.store.find_refresh_token(&token_hash(token)).await? {
        if refresh.client_id != client.id {
            return Err(not_yours());
        }
        provider.store.revoke_grant(&refresh.grant_id, now).await?;
        tracing::info!(event = "token_revoked", kind = "refresh_token", client_id = %client.id, "token family revoked");
    }
    Ok(())
}

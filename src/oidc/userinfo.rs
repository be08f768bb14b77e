//! Access token validation for latchkey's own protected resource, the
//! UserInfo endpoint (OIDC Core §5.3, RFC 6750, RFC 9068 §4).

use serde_json::{Map, Value, json};

use crate::store::User;
use crate::tokens::{ACCESS_TOKEN_TYP, jwt};

use super::{OidcError, OidcResult, Provider, claims, scopes};

/// An access token that passed every check.
#[derive(Debug)]
pub struct ValidAccessToken {
    pub claims: Map<String, Value>,
    pub scopes: Vec<String>,
}

/// Signature, `typ`, issuer, audience, expiry and grant revocation.
pub async fn validate_access_token(provider: &Provider, token: &str) -> OidcResult<ValidAccessToken> {
    let invalid = || OidcError::invalid_token("the access token is not valid");
    let claims = jwt::verify(&provider.keys.current(), token, &[ACCESS_TOKEN_TYP, "application/at+jwt"])
        .map_err(|_| invalid())?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(provider.issuer()) {
        return Err(invalid());
    }
    let audience = provider.access_token_audience();
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => *aud == audience,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(audience.as_str())),
        _ => false,
    };
    if !audience_ok {
        return Err(invalid());
    }
    let expires = claims.get("exp").and_then(Value::as_i64).ok_or_else(invalid)?;
    if expires <= provider.now() {
        return Err(OidcError::invalid_token("the access token has expired"));
    }
    // Revocation: of the token itself (by jti) or of the grant behind it
    // (code reuse, refresh replay, refresh token revocation).
    let revoked = || OidcError::invalid_token("the access token has been revoked");
    let jti = text("jti").ok_or_else(invalid)?;
    if provider.store.is_access_token_revoked(jti).await? {
        return Err(revoked());
    }
    if let Some(grant_id) = text("grant_id") {
        match provider.store.find_grant(grant_id).await? {
            Some(grant) if !grant.revoked => {}
            _ => return Err(revoked()),
        }
    }
    let scopes = text("scope").map(|scope| scope.split(' ').map(str::to_string).collect()).unwrap_or_default();
    Ok(ValidAccessToken { claims, scopes })
}

/// The UserInfo response: `sub` plus the claims the token's scopes release.
pub async fn userinfo(provider: &Provider, token: &str) -> OidcResult<Map<String, Value>> {
    let token = validate_access_token(provider, token).await?;
    if !scopes::contains(&token.scopes, scopes::OPENID) {
        return Err(OidcError::Bearer {
            error: Some("insufficient_scope"),
            description: "the access token was not granted the openid scope".into(),
        });
    }
    let subject = token.claims.get("sub").and_then(Value::as_str).unwrap_or_default();
    let user: User = match provider.store.find_user_by_id(subject).await? {
        Some(user) if !user.disabled => user,
        _ => return Err(OidcError::invalid_token("the user of this access token is no longer active")),
    };
    let mut response = claims::user_claims(&user, &token.scopes);
    response.insert("sub".into(), json!(user.id));
    Ok(response)
}

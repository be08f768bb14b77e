//! Which claims each token carries. Access tokens follow RFC 9068; ID tokens
//! OIDC Core §2 and §3.1.3.6; scope claims OIDC Core §5.4.

use serde_json::{Map, Value, json};

use crate::clock::UnixTime;
use crate::secrets::{left_half_hash, random_token};
use crate::store::User;

use super::scopes;

/// Claims of `user` that the granted `scopes` release (OIDC Core §5.4).
pub fn user_claims(user: &User, granted: &[String]) -> Map<String, Value> {
    let mut claims = Map::new();
    if scopes::contains(granted, scopes::PROFILE) {
        if let Some(name) = &user.display_name {
            claims.insert("name".into(), json!(name));
        }
        claims.insert("preferred_username".into(), json!(user.username));
        claims.insert("updated_at".into(), json!(user.updated_at));
    }
    if scopes::contains(granted, scopes::EMAIL)
        && let Some(email) = &user.email {
            claims.insert("email".into(), json!(email));
            claims.insert("email_verified".into(), json!(user.email_verified));
        }
    claims
}

pub struct AccessTokenClaims<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub subject: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a [String],
    pub grant_id: &'a str,
    pub auth_time: Option<UnixTime>,
    pub now: UnixTime,
    pub ttl: i64,
}

pub fn access_token(input: AccessTokenClaims<'_>) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(input.issuer));
    claims.insert("sub".into(), json!(input.subject));
    claims.insert("aud".into(), json!(input.audience));
    claims.insert("client_id".into(), json!(input.client_id));
    claims.insert("scope".into(), json!(scopes::join(input.scopes)));
    claims.insert("iat".into(), json!(input.now));
    claims.insert("exp".into(), json!(input.now + input.ttl));
    claims.insert("jti".into(), json!(random_token(16)));
    // Lets userinfo and introspection find the grant, so that revoking it
    // (code reuse, refresh replay, revocation) also kills this token.
    // client_credentials tokens have no grant row and no such claim.
    if !input.grant_id.is_empty() {
        claims.insert("grant_id".into(), json!(input.grant_id));
    }
    if let Some(auth_time) = input.auth_time {
        claims.insert("auth_time".into(), json!(auth_time));
    }
    claims
}

pub struct IdTokenClaims<'a> {
    pub issuer: &'a str,
    pub user: &'a User,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
    pub auth_time: UnixTime,
    pub access_token: &'a str,
    pub scopes: &'a [String],
    pub include_scope_claims: bool,
    pub now: UnixTime,
    pub ttl: i64,
}

pub fn id_token(input: IdTokenClaims<'_>) -> Map<String, Value> {
    let mut claims = if input.include_scope_claims { user_claims(input.user, input.scopes) } else { Map::new() };
    claims.insert("iss".into(), json!(input.issuer));
    claims.insert("sub".into(), json!(input.user.id));
    claims.insert("aud".into(), json!(input.client_id));
    claims.insert("azp".into(), json!(input.client_id));
    claims.insert("iat".into(), json!(input.now));
    claims.insert("exp".into(), json!(input.now + input.ttl));
    claims.insert("auth_time".into(), json!(input.auth_time));
    claims.insert("at_hash".into(), json!(left_half_hash(input.access_token)));
    if let Some(nonce) = input.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: "sub1".into(),
            username: "alice".into(),
            display_name: Some("Alice".into()),
            email: Some("alice@example.com".into()),
            email_verified: false,
            password_hash: "x".into(),
            disabled: false,
            created_at: 1,
            updated_at: 2,
        }
    }

    #[test]
    fn scope_claims_follow_scopes() {
        let none = user_claims(&user(), &["openid".into()]);
        assert!(none.is_empty());
        let profile = user_claims(&user(), &["openid".into(), "profile".into()]);
        assert_eq!(profile["name"], "Alice");
        assert!(!profile.contains_key("email"));
        let email = user_claims(&user(), &["email".into()]);
        assert_eq!(email["email"], "alice@example.com");
        assert_eq!(email["email_verified"], false);
    }

    #[test]
    fn nonce_only_when_sent() {
        let u = user();
        let base = |nonce| IdTokenClaims {
            issuer: "https://i",
            user: &u,
            client_id: "c",
            nonce,
            auth_time: 5,
            access_token: "at",
            scopes: &[],
            include_scope_claims: true,
            now: 10,
            ttl: 60,
        };
        assert!(!id_token(base(None)).contains_key("nonce"));
        assert_eq!(id_token(base(Some("n"))).get("nonce"), Some(&json!("n")));
    }
}

//! The full authorization code flow with the `openidconnect` crate as the
//! relying party: discovery, PKCE, nonce, login, consent, code exchange, ID
//! token verification against /jwks (signature, iss, aud, exp, nonce,
//! at_hash), and userinfo.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

use crate::support::*;

#[derive(Clone, Copy, Debug)]
enum ClientKind {
    SecretBasic,
    SecretPost,
    Public,
}

async fn full_flow(kind: ClientKind) {
    let server = TestServer::start().await;
    let user = server.add_user("alice").await;
    let (client_id, secret) = match kind {
        ClientKind::Public => {
            server.add_public_client("spa", &[RP_CALLBACK]).await;
            ("spa", None)
        }
        _ => ("webapp", Some(server.add_confidential_client("webapp", &[RP_CALLBACK]).await)),
    };

    let http_client = http();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(server.base.clone()).unwrap(), &http_client)
        .await
        .expect("discovery");
    let mut client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.into()),
        secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(RP_CALLBACK.into()).unwrap());
    if matches!(kind, ClientKind::SecretPost) {
        client = client.set_auth_type(AuthType::RequestBody);
    }

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf_state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = browser();
    let callback = login_and_consent(&browser, auth_url.as_str(), "alice").await;
    assert!(callback.starts_with(RP_CALLBACK), "{callback}");
    assert_eq!(query_param(&callback, "state").as_deref(), Some(csrf_state.secret().as_str()));
    assert_eq!(query_param(&callback, "iss").as_deref(), Some(server.base.as_str()));
    let code = query_param(&callback, "code").expect("a code");
    assert!(code.len() >= 22, "codes carry at least 128 bits");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http_client)
        .await
        .expect("token exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let id_verifier = client.id_token_verifier();
    let claims = id_token.claims(&id_verifier, &nonce).expect("a valid ID token");
    assert_eq!(claims.subject().as_str(), user.id);
    assert_eq!(claims.issuer().as_str(), server.base);
    let expected_hash = claims.access_token_hash().expect("at_hash");
    let actual_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&actual_hash, expected_hash);
    assert_eq!(claims.preferred_username().map(|name| name.as_str()), Some("alice"));
    assert_eq!(claims.email().map(|email| email.as_str()), Some("alice@example.com"));

    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().to_owned(), None)
        .unwrap()
        .request_async(&http_client)
        .await
        .expect("userinfo");
    assert_eq!(userinfo.subject().as_str(), user.id);
    assert_eq!(userinfo.email().map(|email| email.as_str()), Some("alice@example.com"));
    server.stop().await;
}

#[tokio::test]
async fn confidential_client_with_client_secret_basic() {
    full_flow(ClientKind::SecretBasic).await;
}

#[tokio::test]
async fn confidential_client_with_client_secret_post() {
    full_flow(ClientKind::SecretPost).await;
}

#[tokio::test]
async fn public_client_with_pkce() {
    full_flow(ClientKind::Public).await;
}

/// Tokens are RFC 9068 access tokens and OIDC ID tokens with the claims the
/// contract lists; `nonce` is absent when none was sent; responses are not cached.
#[tokio::test]
async fn token_response_shape_and_claims() {
    let server = TestServer::start().await;
    let user = server.add_user("bob").await;
    let secret = server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let browser = browser();
    let url = authorize_url(
        &server,
        &[("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid")],
    );
    let callback = login_and_consent(&browser, &url, "bob").await;
    assert_eq!(query_param(&callback, "state"), None, "no state is echoed when none was sent");
    let code = query_param(&callback, "code").unwrap();
    let response = http()
        .post(server.url("/token"))
        .basic_auth("webapp", Some(&secret))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", RP_CALLBACK)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_u64().unwrap() > 0);

    let decode = |token: &str, part: usize| -> serde_json::Value {
        use base64::Engine;
        let segment = token.split('.').nth(part).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
    };
    let access = body["access_token"].as_str().unwrap();
    let header = decode(access, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].is_string());
    let claims = decode(access, 1);
    for name in ["iss", "sub", "aud", "client_id", "scope", "exp", "iat", "jti"] {
        assert!(claims.get(name).is_some(), "access token lacks {name}");
    }
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["client_id"], "webapp");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), body["expires_in"].as_i64().unwrap());

    let id_token = body["id_token"].as_str().unwrap();
    assert!(decode(id_token, 0)["kid"].is_string());
    let id_claims = decode(id_token, 1);
    for name in ["iss", "sub", "aud", "exp", "iat", "auth_time", "at_hash", "azp"] {
        assert!(id_claims.get(name).is_some(), "ID token lacks {name}");
    }
    assert!(id_claims.get("nonce").is_none(), "no nonce was sent");
    assert!(id_claims.get("email").is_none(), "email scope was not requested");

    // The ID token is not an access token (RFC 9068 §4).
    let userinfo = http().get(server.url("/userinfo")).bearer_auth(id_token).send().await.unwrap();
    assert_eq!(userinfo.status(), 401);
    assert!(userinfo.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    // Lower-case scheme and POST with a form body both work.
    let lower = http().get(server.url("/userinfo")).header("authorization", format!("bearer {access}")).send().await.unwrap();
    assert_eq!(lower.status(), 200);
    let posted = http().post(server.url("/userinfo")).form(&[("access_token", access)]).send().await.unwrap();
    assert_eq!(posted.status(), 200);
    let body: serde_json::Value = posted.json().await.unwrap();
    assert_eq!(body["sub"], user.id.as_str());
    server.stop().await;
}

/// A second authorization in the same browser needs neither login nor
/// consent; `prompt=none` then returns a code silently.
#[tokio::test]
async fn existing_session_and_consent_are_reused() {
    let server = TestServer::start().await;
    server.add_user("carol").await;
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let browser = browser();
    let params = [("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid profile"), ("state", "s1")];
    let first = login_and_consent(&browser, &authorize_url(&server, &params), "carol").await;
    assert!(query_param(&first, "code").is_some());

    let mut silent = params.to_vec();
    silent.push(("prompt", "none"));
    let response = browser.get(authorize_url(&server, &silent)).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let redirect = location(response.headers());
    assert!(redirect.starts_with(RP_CALLBACK));
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("s1"));

    // A fresh browser with prompt=none gets login_required.
    let response = super::support::browser().get(authorize_url(&server, &silent)).send().await.unwrap();
    let redirect = location(response.headers());
    assert_eq!(query_param(&redirect, "error").as_deref(), Some("login_required"));
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("s1"));

    // prompt=login forces the login page again.
    let mut forced = params.to_vec();
    forced.push(("prompt", "login"));
    let response = browser.get(authorize_url(&server, &forced)).send().await.unwrap();
    assert!(location(response.headers()).contains("/login?"));
    server.stop().await;
}

/// The /demo page runs the whole flow against latchkey itself.
#[tokio::test]
async fn demo_page_shows_a_verified_id_token() {
    let server = TestServer::start().await;
    let login = latchkey::ensure_demo(&server.provider).await.unwrap();
    let password = secrecy::ExposeSecret::expose_secret(login.password.as_ref().unwrap()).to_string();
    let browser = browser();
    let page = browser.get(server.url("/demo")).send().await.unwrap().text().await.unwrap();
    let marker = "class=\"button primary\" href=\"";
    let start = page.find(marker).unwrap() + marker.len();
    let href = html_unescape(page[start..].split('"').next().unwrap());
    let response = browser.get(&href).send().await.unwrap();
    assert_eq!(response.status(), 303, "{href}");
    let login_url = location(response.headers());
    let next = submit_login(&browser, &login_url, "demo", &password).await;
    let next = submit_consent(&browser, &next, "allow").await;
    assert!(next.starts_with(&server.url("/demo?")), "{next}");
    let page = browser.get(&next).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("ID token verified"), "{page}");
    assert!(page.contains("demo@example.com"));
    server.stop().await;
}

/// Refresh with the openidconnect crate: a rotated refresh token and a new
/// ID token with the same subject and auth_time, verified against /jwks.
#[tokio::test]
async fn refresh_with_the_openidconnect_crate() {
    use openidconnect::{RefreshToken, Nonce as OidcNonce};
    let server = TestServer::start().await;
    server.add_user("alice").await;
    let secret = server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let http_client = http();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(server.base.clone()).unwrap(), &http_client).await.unwrap();
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new("webapp".into()), Some(ClientSecret::new(secret)))
        .set_redirect_uri(RedirectUrl::new(RP_CALLBACK.into()).unwrap());
    let (auth_url, _state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, OidcNonce::new_random)
        .add_scope(Scope::new("offline_access".into()))
        .url();
    let callback = login_and_consent(&browser(), auth_url.as_str(), "alice").await;
    let code = query_param(&callback, "code").unwrap();
    let tokens = client.exchange_code(AuthorizationCode::new(code)).unwrap().request_async(&http_client).await.unwrap();
    let verifier = client.id_token_verifier();
    let first = tokens.id_token().unwrap().claims(&verifier, &nonce).unwrap().clone();
    let refresh_token = tokens.refresh_token().expect("a refresh token").clone();

    let refreshed = client.exchange_refresh_token(&refresh_token).unwrap().request_async(&http_client).await.expect("refresh");
    let rotated: &RefreshToken = refreshed.refresh_token().expect("a rotated refresh token");
    assert_ne!(rotated.secret(), refresh_token.secret());
    let again = refreshed.id_token().expect("an ID token on refresh").claims(&verifier, |_: Option<&OidcNonce>| Ok(())).unwrap();
    assert_eq!(again.subject(), first.subject());
    assert_eq!(again.auth_time(), first.auth_time());
    // The old refresh token, replayed after the retry window, is refused.
    server.clock.advance(10);
    let replay = client.exchange_refresh_token(&refresh_token).unwrap().request_async(&http_client).await;
    assert!(replay.is_err());
    server.stop().await;
}

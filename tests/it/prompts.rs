//! prompt, max_age, login_hint and consent memory (OIDC Core §3.1.2.1).

use crate::support::*;

fn decode_claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

async fn redeem(server: &TestServer, secret: &str, callback: &str) -> serde_json::Value {
    let code = query_param(callback, "code").unwrap_or_else(|| panic!("no code: {callback}"));
    let (status, body, _) = token_request(server, Some(("webapp", secret)), &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", RP_CALLBACK)]).await;
    assert_eq!(status, 200);
    decode_claims(body["id_token"].as_str().unwrap())
}

#[tokio::test]
async fn max_age_and_prompt_login_reauthenticate() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    let secret = server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let browser = browser();
    let base = [("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid")];
    let first = redeem(&server, &secret, &login_and_consent(&browser, &authorize_url(&server, &base), "alice").await).await;

    // max_age not exceeded: silent, same auth_time.
    server.clock.advance(30);
    let mut within = base.to_vec();
    within.push(("max_age", "10000"));
    let response = browser.get(authorize_url(&server, &within)).send().await.unwrap();
    let second = redeem(&server, &secret, &location(response.headers())).await;
    assert_eq!(first["auth_time"], second["auth_time"]);
    assert_eq!(first["sub"], second["sub"]);

    // max_age exceeded: the login page, then a later auth_time.
    let mut short = base.to_vec();
    short.push(("max_age", "1"));
    let callback = login_and_consent(&browser, &authorize_url(&server, &short), "alice").await;
    let third = redeem(&server, &secret, &callback).await;
    assert!(third["auth_time"].as_i64().unwrap() > first["auth_time"].as_i64().unwrap());

    // max_age=0 and prompt=login force a login too.
    for extra in [("max_age", "0"), ("prompt", "login")] {
        let mut forced = base.to_vec();
        forced.push(extra);
        let response = browser.get(authorize_url(&server, &forced)).send().await.unwrap();
        assert!(location(response.headers()).contains("/login?"), "{extra:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn consent_is_remembered_and_prompt_consent_asks_again() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let browser = browser();
    let with_scope = |scope: &'static str, prompt: Option<&'static str>| {
        let mut pairs = vec![("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", scope)];
        if let Some(prompt) = prompt {
            pairs.push(("prompt", prompt));
        }
        authorize_url(&server, &pairs)
    };
    login_and_consent(&browser, &with_scope("openid profile", None), "alice").await;
    // Fewer scopes: no consent page.
    let response = browser.get(with_scope("openid", None)).send().await.unwrap();
    assert!(query_param(&location(response.headers()), "code").is_some());
    // More scopes: consent again; with prompt=none that is consent_required.
    let response = browser.get(with_scope("openid email", Some("none"))).send().await.unwrap();
    assert_eq!(query_param(&location(response.headers()), "error").as_deref(), Some("consent_required"));
    let response = browser.get(with_scope("openid email", None)).send().await.unwrap();
    assert!(location(response.headers()).contains("/consent?"));
    // prompt=consent shows the page even for granted scopes.
    let response = browser.get(with_scope("openid", Some("consent"))).send().await.unwrap();
    assert!(location(response.headers()).contains("/consent?"));
    server.stop().await;
}

#[tokio::test]
async fn id_token_hint_with_prompt_none() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    server.add_user("bob").await;
    let secret = server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let alice_browser = browser();
    let bob_browser = browser();
    let base = [("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid")];
    let code = query_param(&login_and_consent(&alice_browser, &authorize_url(&server, &base), "alice").await, "code").unwrap();
    let (_, alice_tokens, _) = token_request(&server, Some(("webapp", &secret)), &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", RP_CALLBACK)]).await;
    let alice_id_token = alice_tokens["id_token"].as_str().unwrap();
    login_and_consent(&bob_browser, &authorize_url(&server, &base), "bob").await;

    let mut silent = base.to_vec();
    silent.push(("prompt", "none"));
    silent.push(("id_token_hint", alice_id_token));
    let response = alice_browser.get(authorize_url(&server, &silent)).send().await.unwrap();
    assert!(query_param(&location(response.headers()), "code").is_some(), "the hinted user's own session");
    // Bob's browser must not get a code for Bob when the hint names Alice.
    let response = bob_browser.get(authorize_url(&server, &silent)).send().await.unwrap();
    let redirect = location(response.headers());
    assert_eq!(query_param(&redirect, "error").as_deref(), Some("login_required"));
    assert!(query_param(&redirect, "code").is_none());
    server.stop().await;
}

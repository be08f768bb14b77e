//! RP-Initiated Logout 1.0.

use latchkey::oidc::admin::{self, NewClient};

use crate::support::*;

const POST_LOGOUT: &str = "https://rp.example/logged-out";

async fn setup() -> (TestServer, String) {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    let created = admin::add_client(
        &server.provider,
        NewClient {
            id: "webapp".into(),
            public: false,
            redirect_uris: vec![RP_CALLBACK.into()],
            post_logout_redirect_uris: vec![POST_LOGOUT.into()],
            scopes: vec![],
            grant_types: vec![],
        },
    )
    .await
    .unwrap();
    (server, secrecy::ExposeSecret::expose_secret(&created.secret.unwrap()).to_string())
}

/// Logs in with `browser` and returns the ID token.
async fn login(server: &TestServer, browser: &reqwest::Client, secret: &str) -> String {
    let code = obtain_code(server, browser, "webapp", &[]).await;
    let (status, body, _) = token_request(server, Some(("webapp", secret)), &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", RP_CALLBACK)]).await;
    assert_eq!(status, 200);
    body["id_token"].as_str().unwrap().to_string()
}

async fn silent_authorize_error(server: &TestServer, browser: &reqwest::Client) -> Option<String> {
    let url = authorize_url(server, &[("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid"), ("prompt", "none")]);
    let response = browser.get(&url).send().await.unwrap();
    query_param(&location(response.headers()), "error")
}

fn logout_url(server: &TestServer, pairs: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    server.url(&format!("/logout?{query}"))
}

#[tokio::test]
async fn valid_hint_logs_out_and_redirects_with_state() {
    let (server, secret) = setup().await;
    let browser = browser();
    let id_token = login(&server, &browser, &secret).await;
    assert_eq!(silent_authorize_error(&server, &browser).await, None, "logged in");
    let state = "s".repeat(128);
    let response = browser
        .get(logout_url(&server, &[("id_token_hint", &id_token), ("post_logout_redirect_uri", POST_LOGOUT), ("state", &state)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let target = location(response.headers());
    assert!(target.starts_with(POST_LOGOUT));
    assert_eq!(query_param(&target, "state").as_deref(), Some(state.as_str()));
    assert!(response.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(silent_authorize_error(&server, &browser).await.as_deref(), Some("login_required"));

    // Without state, the redirect carries none; POST works like GET; an
    // expired hint is still accepted.
    let id_token = login(&server, &browser, &secret).await;
    server.clock.advance(3600);
    let response = browser.post(server.url("/logout")).form(&[("id_token_hint", id_token.as_str()), ("post_logout_redirect_uri", POST_LOGOUT)]).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(response.headers()), POST_LOGOUT);
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_never_redirect() {
    let (server, secret) = setup().await;
    let other = server.add_confidential_client("other", &[RP_CALLBACK]).await;
    let _ = other;
    let browser = browser();
    let id_token = login(&server, &browser, &secret).await;
    let mut forged = id_token.clone();
    forged.push('x');
    let header_none = {
        use base64::Engine;
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let payload = id_token.split('.').nth(1).unwrap();
        format!("{header}.{payload}.")
    };
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("id_token_hint", &id_token), ("post_logout_redirect_uri", "https://rp.example/bad")],
        vec![("id_token_hint", &id_token), ("post_logout_redirect_uri", "https://rp.example/logged-out?foo=bar")],
        vec![("id_token_hint", &forged), ("post_logout_redirect_uri", POST_LOGOUT)],
        vec![("id_token_hint", &header_none), ("post_logout_redirect_uri", POST_LOGOUT)],
        vec![("id_token_hint", &id_token), ("client_id", "other"), ("post_logout_redirect_uri", POST_LOGOUT)],
        vec![("post_logout_redirect_uri", POST_LOGOUT), ("state", "x")],
    ];
    for case in cases {
        let response = browser.get(logout_url(&server, &case)).send().await.unwrap();
        assert!(response.headers().get("location").is_none(), "{case:?} redirected");
        assert!(response.status() == 200 || response.status() == 400, "{case:?}");
    }
    assert_eq!(silent_authorize_error(&server, &browser).await, None, "still logged in");
    server.stop().await;
}

#[tokio::test]
async fn without_a_hint_the_user_confirms() {
    let (server, secret) = setup().await;
    let browser = browser();
    login(&server, &browser, &secret).await;
    for pairs in [vec![], vec![("state", "only")]] {
        let response = browser.get(logout_url(&server, &pairs)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("location").is_none());
        assert_eq!(response.headers()["x-frame-options"], "DENY");
        assert!(response.text().await.unwrap().contains("Sign out?"));
    }
    assert_eq!(silent_authorize_error(&server, &browser).await, None, "nothing happened yet");
    // A forged confirmation is refused.
    let response = browser.post(server.url("/logout")).form(&[("confirm", "yes"), ("csrf_token", "forged")]).send().await.unwrap();
    assert_eq!(response.status(), 400);
    // With client_id, the confirmation leads back to the client.
    let page = browser.get(logout_url(&server, &[("client_id", "webapp"), ("post_logout_redirect_uri", POST_LOGOUT), ("state", "z")])).send().await.unwrap().text().await.unwrap();
    let form = [
        ("confirm", "yes".to_string()),
        ("csrf_token", hidden_field(&page, "csrf_token")),
        ("client_id", hidden_field(&page, "client_id")),
        ("post_logout_redirect_uri", html_unescape(&hidden_field(&page, "post_logout_redirect_uri"))),
        ("state", hidden_field(&page, "state")),
    ];
    let response = browser.post(server.url("/logout")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(response.headers()), format!("{POST_LOGOUT}?state=z"));
    assert_eq!(silent_authorize_error(&server, &browser).await.as_deref(), Some("login_required"));
    server.stop().await;
}

#[tokio::test]
async fn a_hint_for_someone_else_asks_before_ending_this_session() {
    let (server, secret) = setup().await;
    server.add_user("bob").await;
    let alice = browser();
    login(&server, &alice, &secret).await;
    // Bob's ID token, from his own browser: anyone can replay such a token.
    let bob = browser();
    let url = authorize_url(&server, &[("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid")]);
    let code = query_param(&login_and_consent(&bob, &url, "bob").await, "code").unwrap();
    let (status, body, _) = token_request(&server, Some(("webapp", &secret)), &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", RP_CALLBACK)]).await;
    assert_eq!(status, 200);
    let bob_hint = body["id_token"].as_str().unwrap();

    let response = alice.get(logout_url(&server, &[("id_token_hint", bob_hint), ("post_logout_redirect_uri", POST_LOGOUT)])).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.unwrap().contains("Sign out?"));
    assert_eq!(silent_authorize_error(&server, &alice).await, None, "alice is still signed in");
    // Bob's own browser is signed out at once by his hint.
    let response = bob.get(logout_url(&server, &[("id_token_hint", bob_hint)])).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(silent_authorize_error(&server, &bob).await.as_deref(), Some("login_required"));
    server.stop().await;
}

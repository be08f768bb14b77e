//! Authorization request errors: an untrusted client or redirect URI gets an
//! HTML page and no Location; everything else goes back to the client.

use crate::support::*;

async fn setup() -> TestServer {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    server.add_public_client("spa", &["https://spa.example/cb"]).await;
    server
}

#[tokio::test]
async fn redirect_uri_attacks_get_a_page_and_no_redirect() {
    let server = setup().await;
    let attacks = [
        "https://rp.example/cb/extra",
        "https://rp.example/cb/",
        "https://rp.example:8443/cb",
        "http://rp.example/cb",
        "https://rp.example/cb?x=1",
        "https://rp.example/cb#frag",
        "https://rp.example/cb/../cb",
        "https://rp.example/cb/%2e%2e/cb",
        "https://rp.example@evil.test/cb",
        "https://rp.example/cb@evil.test",
        "https://RP.example/cb",
        "https://rp.example/CB",
        "https://evil.rp.example/cb",
        "https://rp.example.evil.test/cb",
        "https://rp.example/cb%2F",
        "https://spa.example/cb",
    ];
    for attack in attacks {
        let url = authorize_url(
            &server,
            &[("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", attack), ("scope", "openid"), ("state", "s")],
        );
        let response = http().get(&url).send().await.unwrap();
        assert_eq!(response.status(), 400, "{attack}");
        assert!(response.headers().get("location").is_none(), "{attack} redirected");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }
    // An unknown client with an attacker's redirect.
    let url = authorize_url(&server, &[("response_type", "code"), ("client_id", "nobody"), ("redirect_uri", "https://evil.test/cb"), ("scope", "openid")]);
    let response = http().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    // No client_id, no redirect_uri.
    for url in [
        authorize_url(&server, &[("response_type", "code"), ("redirect_uri", RP_CALLBACK)]),
        authorize_url(&server, &[("response_type", "code"), ("client_id", "webapp")]),
    ] {
        let response = http().get(&url).send().await.unwrap();
        assert_eq!(response.status(), 400);
        assert!(response.headers().get("location").is_none());
    }
    // redirect_uri sent twice, even with the registered value both times.
    let twice = server.url(&format!(
        "/authorize?response_type=code&client_id=webapp&scope=openid&redirect_uri={0}&redirect_uri={0}",
        "https%3A%2F%2Frp.example%2Fcb"
    ));
    let response = http().get(&twice).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    server.stop().await;
}

/// Sends an authorization request that must come back to the client with
/// `error`; returns the redirect URL.
async fn expect_error_redirect(server: &TestServer, pairs: &[(&str, &str)], error: &str) -> String {
    let response = browser().get(authorize_url(server, pairs)).send().await.unwrap();
    assert_eq!(response.status(), 303, "{pairs:?}");
    let redirect = location(response.headers());
    assert_eq!(query_param(&redirect, "error").as_deref(), Some(error), "{pairs:?} -> {redirect}");
    assert!(query_param(&redirect, "code").is_none());
    assert_eq!(query_param(&redirect, "iss").as_deref(), Some(server.base.as_str()));
    redirect
}

#[tokio::test]
async fn errors_after_the_redirect_uri_is_trusted_go_back_to_the_client() {
    let server = setup().await;
    let base = [("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid"), ("state", "st<>\"ate")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut pairs = base.to_vec();
        pairs.extend_from_slice(extra);
        pairs
    };
    for response_type in ["token", "id_token", "code id_token", "code token", "id_token token"] {
        let redirect = expect_error_redirect(&server, &with(&[("response_type", response_type)]), "unsupported_response_type").await;
        assert!(!redirect.contains("access_token") && !redirect.contains("id_token="));
        assert_eq!(query_param(&redirect, "state").as_deref(), Some("st<>\"ate"), "state is echoed exactly");
    }
    expect_error_redirect(&server, &base, "invalid_request").await;
    expect_error_redirect(&server, &with(&[("response_type", "code"), ("request", "eyJhbGciOiJub25lIn0.e30.")]), "request_not_supported").await;
    expect_error_redirect(&server, &with(&[("response_type", "code"), ("request_uri", "https://evil.test/r")]), "request_uri_not_supported").await;
    expect_error_redirect(&server, &with(&[("response_type", "code"), ("prompt", "none login")]), "invalid_request").await;
    expect_error_redirect(&server, &with(&[("response_type", "code"), ("max_age", "soon")]), "invalid_request").await;
    let mut unknown_scope = with(&[("response_type", "code")]);
    unknown_scope[2] = ("scope", "openid admin");
    expect_error_redirect(&server, &unknown_scope, "invalid_scope").await;
    // A duplicated parameter other than client_id/redirect_uri.
    let url = server.url("/authorize?response_type=code&client_id=webapp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&scope=openid&scope=email&state=s");
    let response = http().get(&url).send().await.unwrap();
    assert_eq!(query_param(&location(response.headers()), "error").as_deref(), Some("invalid_request"));
    server.stop().await;
}

#[tokio::test]
async fn unknown_and_tolerated_parameters_do_not_cause_errors() {
    let server = setup().await;
    let response = browser()
        .get(authorize_url(
            &server,
            &[
                ("response_type", "code"),
                ("client_id", "webapp"),
                ("redirect_uri", RP_CALLBACK),
                ("scope", "email openid"),
                ("extra", "foobar"),
                ("display", "popup"),
                ("ui_locales", "se"),
                ("claims_locales", "se"),
                ("acr_values", "1 2"),
                ("login_hint", "alice"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(location(response.headers()).contains("/login?"));
    server.stop().await;
}

#[tokio::test]
async fn pkce_is_required_for_public_clients_and_plain_is_refused() {
    let server = setup().await;
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGKSJw-cM0";
    let spa = [("response_type", "code"), ("client_id", "spa"), ("redirect_uri", "https://spa.example/cb"), ("scope", "openid"), ("state", "p")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut pairs = spa.to_vec();
        pairs.extend_from_slice(extra);
        pairs
    };
    expect_error_redirect(&server, &spa, "invalid_request").await;
    expect_error_redirect(&server, &with(&[("code_challenge", challenge), ("code_challenge_method", "plain")]), "invalid_request").await;
    expect_error_redirect(&server, &with(&[("code_challenge", challenge)]), "invalid_request").await;
    expect_error_redirect(&server, &with(&[("code_challenge", challenge), ("code_challenge_method", "S512")]), "invalid_request").await;
    expect_error_redirect(&server, &with(&[("code_challenge_method", "S256")]), "invalid_request").await;
    expect_error_redirect(&server, &with(&[("code_challenge", "short"), ("code_challenge_method", "S256")]), "invalid_request").await;
    let response = browser().get(authorize_url(&server, &with(&[("code_challenge", challenge), ("code_challenge_method", "S256")]))).send().await.unwrap();
    assert!(location(response.headers()).contains("/login?"));
    server.stop().await;
}

#[tokio::test]
async fn authorization_by_post_works_and_consent_can_be_denied() {
    let server = setup().await;
    let browser = browser();
    let response = browser
        .post(server.url("/authorize"))
        .form(&[("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid"), ("state", "d")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let login = location(response.headers());
    let consent = submit_login(&browser, &login, "alice", PASSWORD).await;
    let denied = submit_consent(&browser, &consent, "deny").await;
    assert!(denied.starts_with(RP_CALLBACK));
    assert_eq!(query_param(&denied, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&denied, "state").as_deref(), Some("d"));
    assert!(query_param(&denied, "code").is_none());
    server.stop().await;
}

#[tokio::test]
async fn form_post_response_mode_renders_an_auto_submitting_form() {
    let server = setup().await;
    let browser = browser();
    let url = authorize_url(
        &server,
        &[("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid"), ("state", "fp"), ("response_mode", "form_post")],
    );
    let response = browser.get(&url).send().await.unwrap();
    let login = location(response.headers());
    let consent = submit_login(&browser, &login, "alice", PASSWORD).await;
    let page = browser.get(&consent).send().await.unwrap().text().await.unwrap();
    let form = [("request_id", hidden_field(&page, "request_id")), ("csrf_token", hidden_field(&page, "csrf_token")), ("decision", "allow".into())];
    let response = browser.post(server.url("/consent")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("form-action https://rp.example"), "{csp}");
    assert!(!csp.contains("unsafe-inline"));
    let html = response.text().await.unwrap();
    assert!(html.contains("action=\"https://rp.example/cb\"") || html.contains("action=\"https:&#x2f;&#x2f;rp.example&#x2f;cb\""), "{html}");
    assert!(!hidden_field(&html, "code").is_empty());
    assert_eq!(hidden_field(&html, "state"), "fp");
    server.stop().await;
}

/// HP-ERR: error_description keeps to the RFC 6749 character set even when
/// it names a parameter the request chose.
#[tokio::test]
async fn error_descriptions_use_only_allowed_characters() {
    let server = setup().await;
    let url = server.url("/authorize?response_type=code&client_id=webapp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&scope=openid&%C3%A9%22x=1&%C3%A9%22x=2");
    let response = http().get(&url).send().await.unwrap();
    let redirect = location(response.headers());
    let description = query_param(&redirect, "error_description").unwrap();
    assert!(description.bytes().all(|b| b == 0x20 || b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)), "{description}");
    server.stop().await;
}

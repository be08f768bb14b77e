//! Token endpoint errors (RFC 6749 §5.2, RFC 7636 §4.6, RFC 9700 §4.8.2).

use crate::support::*;

const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9rDvWwG1YXL3pgKLqe4Oq7p6k";
const CHALLENGE: &str = "p1yJuNUzMumfsGERCVdjaRCf-caEM5TDZMJTdM6urxA";

fn assert_error(status: u16, body: &serde_json::Value, headers: &reqwest::header::HeaderMap, want_status: u16, want: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"], want, "{body}");
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(headers["cache-control"], "no-store");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.bytes().all(|b| b == 0x20 || b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)));
}

#[tokio::test]
async fn code_is_single_use_and_bound_to_client_redirect_and_time() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    let secret = server.add_confidential_client("webapp", &[RP_CALLBACK, "https://rp.example/other"]).await;
    let other_secret = server.add_confidential_client("other", &[RP_CALLBACK]).await;
    let browser = browser();

    // Used twice: the second is invalid_grant, and the first tokens die.
    let code = obtain_code(&server, &browser, "webapp", &[]).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", RP_CALLBACK)];
    let (status, first, _) = token_request(&server, Some(("webapp", &secret)), &form).await;
    assert_eq!(status, 200);
    let (status, body, headers) = token_request(&server, Some(("webapp", &secret)), &form).await;
    assert_error(status, &body, &headers, 400, "invalid_grant");
    let access = first["access_token"].as_str().unwrap();
    let userinfo = http().get(server.url("/userinfo")).bearer_auth(access).send().await.unwrap();
    assert_eq!(userinfo.status(), 401, "tokens from a reused code are revoked");

    // Another client's code.
    let code = obtain_code(&server, &browser, "webapp", &[]).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", RP_CALLBACK)];
    let (status, body, headers) = token_request(&server, Some(("other", &other_secret)), &form).await;
    assert_error(status, &body, &headers, 400, "invalid_grant");

    // A different registered redirect_uri, or none.
    let code = obtain_code(&server, &browser, "webapp", &[]).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", "https://rp.example/other")];
    let (status, body, headers) = token_request(&server, Some(("webapp", &secret)), &form).await;
    assert_error(status, &body, &headers, 400, "invalid_grant");
    let code = obtain_code(&server, &browser, "webapp", &[]).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str())];
    let (status, body, headers) = token_request(&server, Some(("webapp", &secret)), &form).await;
    assert_error(status, &body, &headers, 400, "invalid_request");

    // Expired: the clock moves past the code lifetime.
    let code = obtain_code(&server, &browser, "webapp", &[]).await;
    server.clock.advance(server.provider.config.tokens.authorization_code_ttl.as_secs() as i64 + 1);
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", RP_CALLBACK)];
    let (status, body, headers) = token_request(&server, Some(("webapp", &secret)), &form).await;
    assert_error(status, &body, &headers, 400, "invalid_grant");

    // Unknown code.
    let form = [("grant_type", "authorization_code"), ("code", "not-a-code"), ("redirect_uri", RP_CALLBACK)];
    let (status, body, headers) = token_request(&server, Some(("webapp", &secret)), &form).await;
    assert_error(status, &body, &headers, 400, "invalid_grant");
    server.stop().await;
}

#[tokio::test]
async fn pkce_verifier_rules_at_the_token_endpoint() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    let secret = server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let browser = browser();
    let pkce = [("code_challenge", CHALLENGE), ("code_challenge_method", "S256")];
    let redeem = |code: String, verifier: Option<&'static str>| {
        let mut form = vec![("grant_type", "authorization_code".to_string()), ("code", code), ("redirect_uri", RP_CALLBACK.to_string())];
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier.to_string()));
        }
        form
    };
    let cases: [(bool, Option<&'static str>, u16); 5] = [
        (true, Some("wrong-verifier-wrong-verifier-wrong-verifier-x"), 400),
        (true, None, 400),
        (false, Some(VERIFIER), 400),
        (true, Some("short"), 400),
        (true, Some(VERIFIER), 200),
    ];
    for (with_challenge, verifier, expected) in cases {
        let code = obtain_code(&server, &browser, "webapp", if with_challenge { &pkce } else { &[] }).await;
        let form = redeem(code, verifier);
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body, headers) = token_request(&server, Some(("webapp", &secret)), &pairs).await;
        if expected == 200 {
            assert_eq!(status, 200, "{body}");
        } else {
            assert_error(status, &body, &headers, 400, "invalid_grant");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn client_authentication_failures() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    let secret = server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    server.add_public_client("spa", &[RP_CALLBACK]).await;
    let form = [("grant_type", "authorization_code"), ("code", "x"), ("redirect_uri", RP_CALLBACK)];

    let (status, body, headers) = token_request(&server, Some(("webapp", "wrong")), &form).await;
    assert_error(status, &body, &headers, 401, "invalid_client");
    assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    let (status, body, headers) = token_request(&server, Some(("nobody", &secret)), &form).await;
    assert_error(status, &body, &headers, 401, "invalid_client");
    // client_secret_post with a wrong secret; no credentials at all.
    let mut post = form.to_vec();
    post.extend([("client_id", "webapp"), ("client_secret", "wrong")]);
    let (status, body, headers) = token_request(&server, None, &post).await;
    assert_error(status, &body, &headers, 401, "invalid_client");
    let (status, body, headers) = token_request(&server, None, &form).await;
    assert_error(status, &body, &headers, 401, "invalid_client");
    // A confidential client cannot authenticate as public.
    let mut none = form.to_vec();
    none.push(("client_id", "webapp"));
    let (status, body, headers) = token_request(&server, None, &none).await;
    assert_error(status, &body, &headers, 401, "invalid_client");
    // Two methods at once.
    let mut both = form.to_vec();
    both.push(("client_secret", secret.as_str()));
    let (status, body, headers) = token_request(&server, Some(("webapp", &secret)), &both).await;
    assert_error(status, &body, &headers, 400, "invalid_request");
    server.stop().await;
}

#[tokio::test]
async fn malformed_token_requests() {
    let server = TestServer::start().await;
    let secret = server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let auth = Some(("webapp", secret.as_str()));
    let (status, body, headers) = token_request(&server, auth, &[("grant_type", "password"), ("username", "a"), ("password", "b")]).await;
    assert_error(status, &body, &headers, 400, "unsupported_grant_type");
    let (status, body, headers) = token_request(&server, auth, &[("grant_type", "authorization_code")]).await;
    assert_error(status, &body, &headers, 400, "invalid_request");
    let (status, body, headers) = token_request(&server, auth, &[("code", "x")]).await;
    assert_error(status, &body, &headers, 400, "invalid_request");
    let (status, body, headers) =
        token_request(&server, auth, &[("grant_type", "authorization_code"), ("code", "x"), ("code", "y"), ("redirect_uri", RP_CALLBACK)]).await;
    assert_error(status, &body, &headers, 400, "invalid_request");
    // Not a form body.
    let response = http()
        .post(server.url("/token"))
        .basic_auth("webapp", Some(&secret))
        .header("content-type", "application/json")
        .body("{\"grant_type\":\"authorization_code\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    // GET is not served.
    let response = http().get(server.url("/token")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    // Oversized body.
    let big = "a".repeat(100 * 1024);
    let response = http()
        .post(server.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=authorization_code&code={big}"))
        .send()
        .await
        .unwrap();
    assert!(response.status() == 413 || response.status() == 400, "{}", response.status());
    server.stop().await;
}

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64.
#[tokio::test]
async fn basic_credentials_are_form_decoded() {
    use base64::Engine;
    let server = TestServer::start().await;
    let secret = server.add_confidential_client("web.app", &[RP_CALLBACK]).await;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("web%2Eapp:{secret}"));
    let response = http()
        .post(server.url("/token"))
        .header("authorization", format!("Basic {encoded}"))
        .form(&[("grant_type", "authorization_code"), ("code", "x"), ("redirect_uri", RP_CALLBACK)])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    // Authenticated: the failure is about the code, not the client.
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    server.stop().await;
}

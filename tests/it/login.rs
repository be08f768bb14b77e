//! The login and consent pages: one message for every failure, disabled
//! users, CSRF and browser binding, session regeneration, cookie flags.

use crate::support::*;

async fn start_login(server: &TestServer, browser: &reqwest::Client) -> String {
    let url = authorize_url(server, &[("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid"), ("state", "s")]);
    let response = browser.get(&url).send().await.unwrap();
    location(response.headers())
}

async fn post_login(browser: &reqwest::Client, login_url: &str, username: &str, password: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let html = browser.get(login_url).send().await.unwrap().text().await.unwrap();
    let form = [
        ("request_id", hidden_field(&html, "request_id")),
        ("csrf_token", hidden_field(&html, "csrf_token")),
        ("username", username.to_string()),
        ("password", password.to_string()),
    ];
    let response = browser.post(login_url.split('?').next().unwrap()).form(&form).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.text().await.unwrap(), headers)
}

fn error_message(html: &str) -> String {
    let start = html.find("role=\"alert\"").expect("an error message");
    let start = html[start..].find('>').unwrap() + start + 1;
    html[start..start + html[start..].find('<').unwrap()].to_string()
}

#[tokio::test]
async fn wrong_password_unknown_user_and_disabled_user_look_the_same() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    server.add_user("dave").await;
    latchkey::oidc::admin::set_disabled(&server.provider, "dave", true).await.unwrap();
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let browser = browser();
    let login = start_login(&server, &browser).await;
    let (wrong_status, wrong_page, wrong_headers) = post_login(&browser, &login, "alice", "not the password").await;
    let (unknown_status, unknown_page, unknown_headers) = post_login(&browser, &login, "mallory", PASSWORD).await;
    let (disabled_status, disabled_page, _) = post_login(&browser, &login, "dave", PASSWORD).await;
    assert_eq!(wrong_status, 401);
    assert_eq!(unknown_status, wrong_status);
    assert_eq!(disabled_status, wrong_status);
    assert_eq!(error_message(&wrong_page), error_message(&unknown_page));
    assert_eq!(error_message(&wrong_page), error_message(&disabled_page));
    assert!(wrong_headers.get("set-cookie").is_none() && unknown_headers.get("set-cookie").is_none());
    // The form can still be used after a failure.
    let (status, _, headers) = post_login(&browser, &login, "ALICE", PASSWORD).await;
    assert_eq!(status, 303, "user names are case-insensitive");
    assert!(location(&headers).contains("/consent?"));
    server.stop().await;
}

#[tokio::test]
async fn session_cookie_flags_and_regeneration() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let browser = browser();
    let login = start_login(&server, &browser).await;
    let (status, _, headers) = post_login(&browser, &login, "alice", PASSWORD).await;
    assert_eq!(status, 303);
    let cookie = headers["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("lk_session="));
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"), "the test issuer is http");
    let first = cookie.split(';').next().unwrap().to_string();

    // Logging in again gives a new session id.
    let url = authorize_url(&server, &[("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid"), ("prompt", "login")]);
    let login = location(browser.get(&url).send().await.unwrap().headers());
    let (_, _, headers) = post_login(&browser, &login, "alice", PASSWORD).await;
    let second = headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    assert_ne!(first, second);
    server.stop().await;
}

#[tokio::test]
async fn secure_cookies_when_the_issuer_is_https() {
    let server = TestServer::start_with(|config| config.server.issuer = "https://login.example".into()).await;
    let response = http()
        .get(server.url("/authorize?client_id=x&redirect_uri=https%3A%2F%2Fa.example%2Fcb&response_type=code"))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    server.stop().await;
}

#[tokio::test]
async fn forms_need_the_csrf_token_and_the_same_browser() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let browser = browser();
    let login = start_login(&server, &browser).await;
    let html = browser.get(&login).send().await.unwrap().text().await.unwrap();
    let request_id = hidden_field(&html, "request_id");
    let csrf = hidden_field(&html, "csrf_token");
    let post = |client: reqwest::Client, csrf: String| {
        let request_id = request_id.clone();
        let url = server.url("/login");
        async move {
            client
                .post(url)
                .form(&[("request_id", request_id), ("csrf_token", csrf), ("username", "alice".into()), ("password", PASSWORD.into())])
                .send()
                .await
                .unwrap()
        }
    };
    let wrong_csrf = post(browser.clone(), "forged".into()).await;
    assert_eq!(wrong_csrf.status(), 400);
    assert!(wrong_csrf.headers().get("set-cookie").is_none());
    // Another browser (no binding cookie) with the right token.
    let other = post(super::support::browser(), csrf.clone()).await;
    assert_eq!(other.status(), 400);
    // The genuine form still works.
    let genuine = post(browser.clone(), csrf).await;
    assert_eq!(genuine.status(), 303);
    server.stop().await;
}

#[tokio::test]
async fn expired_login_requests_are_refused() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let browser = browser();
    let login = start_login(&server, &browser).await;
    server.clock.advance(server.provider.config.session.login_ttl.as_secs() as i64 + 1);
    let response = browser.get(&login).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("expired"));
    server.stop().await;
}

#[tokio::test]
async fn a_login_upgrades_a_hash_made_with_older_parameters() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    // As if alice's password was set before the operator raised the cost.
    let older = latchkey::config::PasswordConfig { memory_kib: 128, iterations: 1, ..server.provider.config.password.clone() };
    let old_hasher = latchkey::auth::PasswordHasher::new(&older, 1).unwrap();
    let old_hash = old_hasher.hash(secrecy::SecretString::from(PASSWORD)).await.unwrap();
    let store = &server.provider.store;
    assert!(store.update_user_password("alice", &old_hash, server.provider.now()).await.unwrap());
    let before = store.find_user_by_username("alice").await.unwrap().unwrap();
    assert!(!server.provider.hasher.is_current(&before.password_hash));

    // A wrong password changes nothing.
    let browser = browser();
    let login = start_login(&server, &browser).await;
    let (status, _, _) = post_login(&browser, &login, "alice", "not the password").await;
    assert_eq!(status, 401);
    assert_eq!(store.find_user_by_username("alice").await.unwrap().unwrap().password_hash, old_hash);

    // The right one logs in and is rehashed with today's parameters; the
    // profile's updated_at stays.
    let (status, _, _) = post_login(&browser, &login, "alice", PASSWORD).await;
    assert_eq!(status, 303);
    let after = store.find_user_by_username("alice").await.unwrap().unwrap();
    assert_ne!(after.password_hash, old_hash);
    assert!(server.provider.hasher.is_current(&after.password_hash));
    assert_eq!(after.updated_at, before.updated_at);
    let fresh = crate::support::browser();
    let (status, _, _) = post_login(&fresh, &start_login(&server, &fresh).await, "alice", PASSWORD).await;
    assert_eq!(status, 303, "the new hash verifies");
    server.stop().await;
}

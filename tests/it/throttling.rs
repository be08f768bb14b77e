//! Brute force: request ceilings per IP, failure limits per IP and per
//! account, the bounded Argon2 queue, and which address counts.

use std::sync::Arc;

use crate::support::*;

/// Opens a login transaction; returns (login form URL, request_id, csrf).
async fn login_form(server: &TestServer, browser: &reqwest::Client) -> (String, String) {
    let url = authorize_url(server, &[("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid")]);
    let login = location(browser.get(&url).send().await.unwrap().headers());
    let html = browser.get(&login).send().await.unwrap().text().await.unwrap();
    (hidden_field(&html, "request_id"), hidden_field(&html, "csrf_token"))
}

async fn post_login(server: &TestServer, browser: &reqwest::Client, form: &(String, String), username: &str, password: &str, forwarded: Option<&str>) -> reqwest::Response {
    let mut request = browser.post(server.url("/login")).form(&[
        ("request_id", form.0.as_str()),
        ("csrf_token", form.1.as_str()),
        ("username", username),
        ("password", password),
    ]);
    if let Some(xff) = forwarded {
        request = request.header("x-forwarded-for", xff);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn parallel_guesses_for_one_account_get_a_handful_of_checks() {
    let server = TestServer::start_with(|config| {
        config.rate_limit.account_attempts = 5;
    })
    .await;
    server.add_user("alice").await;
    server.add_user("bob").await;
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let server = Arc::new(server);
    let browser = browser();
    let form = Arc::new(login_form(&server, &browser).await);
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let (server, browser, form) = (server.clone(), browser.clone(), form.clone());
            tokio::spawn(async move { post_login(&server, &browser, &form, "alice", &format!("guess {i}"), None).await.status().as_u16() })
        })
        .collect();
    let (mut checked, mut throttled) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            401 => checked += 1,
            429 => throttled += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(checked <= 5, "{checked} real password checks");
    assert_eq!(checked + throttled, 100);

    // Others are unaffected, and the public endpoints answer.
    let bob_browser = super::support::browser();
    let url = authorize_url(&server, &[("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid")]);
    let callback = login_and_consent(&bob_browser, &url, "bob").await;
    assert!(query_param(&callback, "code").is_some());
    assert_eq!(http().get(server.url("/jwks")).send().await.unwrap().status(), 200);

    // Locked even with the right password, with Retry-After; unlocked later.
    let locked = post_login(&server, &browser, &form, "alice", PASSWORD, None).await;
    assert_eq!(locked.status(), 429);
    assert!(locked.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    server.clock.advance(server.provider.config.rate_limit.account_lockout_max.as_secs() as i64 + 1);
    let form = login_form(&server, &browser).await;
    let open = post_login(&server, &browser, &form, "alice", PASSWORD, None).await;
    assert_eq!(open.status(), 303);
}

#[tokio::test]
async fn unknown_accounts_lock_exactly_like_real_ones() {
    let server = TestServer::start_with(|config| config.rate_limit.account_attempts = 2).await;
    server.add_user("alice").await;
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let browser = browser();
    let form = login_form(&server, &browser).await;
    let mut statuses = Vec::new();
    for name in ["alice", "nobody"] {
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(post_login(&server, &browser, &form, name, "wrong", None).await.status().as_u16());
        }
        statuses.push(seen);
    }
    assert_eq!(statuses[0], vec![401, 401, 429]);
    assert_eq!(statuses[0], statuses[1]);
    server.stop().await;
}

#[tokio::test]
async fn failed_logins_per_ip_and_trusted_proxies() {
    let server = TestServer::start_with(|config| {
        config.rate_limit.login_failures_per_ip = 3;
        config.server.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    server.add_user("alice").await;
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let browser = browser();
    let form = login_form(&server, &browser).await;
    // Failures from 203.0.113.9 (behind the trusted proxy 127.0.0.1), each on another account.
    for name in ["a1", "a2", "a3"] {
        assert_eq!(post_login(&server, &browser, &form, name, "x", Some("203.0.113.9")).await.status(), 401);
    }
    let blocked = post_login(&server, &browser, &form, "alice", PASSWORD, Some("203.0.113.9")).await;
    assert_eq!(blocked.status(), 429);
    assert!(blocked.headers().get("retry-after").is_some());
    // A client-chosen left part does not escape the count...
    let spoofed = post_login(&server, &browser, &form, "alice", PASSWORD, Some("1.1.1.1, 203.0.113.9")).await;
    assert_eq!(spoofed.status(), 429);
    // ...while another address behind the proxy is unaffected.
    assert_eq!(post_login(&server, &browser, &form, "alice", PASSWORD, Some("203.0.113.10")).await.status(), 303);
    server.stop().await;
}

#[tokio::test]
async fn forwarding_headers_are_ignored_without_trusted_proxies() {
    let server = TestServer::start_with(|config| config.rate_limit.login_failures_per_ip = 2).await;
    server.add_user("alice").await;
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let browser = browser();
    let form = login_form(&server, &browser).await;
    // Rotating X-Forwarded-For, Forwarded and X-Real-IP does not reset the counter.
    for (i, name) in ["b1", "b2"].iter().enumerate() {
        let response = browser
            .post(server.url("/login"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .header("forwarded", format!("for=198.51.100.{i}"))
            .header("x-real-ip", format!("198.51.100.{i}"))
            .form(&[("request_id", form.0.as_str()), ("csrf_token", form.1.as_str()), ("username", name), ("password", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    assert_eq!(post_login(&server, &browser, &form, "alice", PASSWORD, Some("198.51.100.77")).await.status(), 429);
    server.stop().await;
}

#[tokio::test]
async fn request_ceilings_answer_429_with_retry_after() {
    let server = TestServer::start_with(|config| {
        config.rate_limit.login_per_second = 1;
        config.rate_limit.login_burst = 2;
        config.rate_limit.token_per_second = 1;
        config.rate_limit.token_burst = 2;
    })
    .await;
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let mut login_statuses = Vec::new();
    for _ in 0..4 {
        let response = http().post(server.url("/login")).form(&[("request_id", "x")]).send().await.unwrap();
        if response.status() == 429 {
            assert!(response.headers().get("retry-after").is_some());
        }
        login_statuses.push(response.status().as_u16());
    }
    assert!(login_statuses.contains(&429), "{login_statuses:?}");
    // GET pages are not limited by the POST ceiling.
    assert_eq!(http().get(server.url("/login?request_id=x")).send().await.unwrap().status(), 400);
    let mut token_statuses = Vec::new();
    for _ in 0..4 {
        let (status, body, headers) = token_request(&server, None, &[("grant_type", "client_credentials")]).await;
        if status == 429 {
            assert!(headers.get("retry-after").is_some());
            assert!(body["error"].is_string());
        }
        token_statuses.push(status);
    }
    assert!(token_statuses.contains(&429), "{token_statuses:?}");
    server.stop().await;
}

#[tokio::test]
async fn failed_client_authentication_per_ip() {
    let server = TestServer::start_with(|config| config.rate_limit.client_auth_failures_per_ip = 2).await;
    let secret = server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let form = [("grant_type", "client_credentials")];
    for _ in 0..2 {
        let (status, _, _) = token_request(&server, Some(("webapp", "wrong")), &form).await;
        assert_eq!(status, 401);
    }
    let (status, _, headers) = token_request(&server, Some(("webapp", &secret)), &form).await;
    assert_eq!(status, 429);
    assert!(headers.get("retry-after").is_some());
    server.stop().await;
}

#[tokio::test]
async fn a_full_hasher_queue_answers_503() {
    let server = TestServer::start_with(|config| {
        config.password.memory_kib = 16 * 1024;
        config.password.iterations = 2;
        config.password.max_concurrent = 1;
        config.password.max_queue = 1;
    })
    .await;
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let server = Arc::new(server);
    let browser = browser();
    let form = Arc::new(login_form(&server, &browser).await);
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (server, browser, form) = (server.clone(), browser.clone(), form.clone());
            tokio::spawn(async move {
                let response = post_login(&server, &browser, &form, &format!("user{i}"), "pw", None).await;
                let retry = response.headers().get("retry-after").is_some();
                (response.status().as_u16(), retry)
            })
        })
        .collect();
    let mut busy = 0;
    for task in tasks {
        let (status, has_retry_after) = task.await.unwrap();
        match status {
            401 => {}
            503 => {
                assert!(has_retry_after);
                busy += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(busy > 0, "the queue never filled");
}

//! Refresh tokens: rotation, the retry window, replay revoking the family,
//! scope narrowing, client binding, and atomicity under concurrency.

use crate::support::*;

async fn setup() -> (TestServer, String) {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    let secret = server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    (server, secret)
}

#[tokio::test]
async fn refresh_tokens_need_offline_access() {
    let (server, secret) = setup().await;
    let without = obtain_tokens(&server, "webapp", &secret, "openid").await;
    assert!(without.get("refresh_token").is_none());
    // A client that may not refresh asks for offline_access: no refresh
    // token, and the granted scope does not claim it.
    let created = latchkey::oidc::admin::add_client(
        &server.provider,
        latchkey::oidc::admin::NewClient {
            id: "norefresh".into(),
            public: false,
            redirect_uris: vec![RP_CALLBACK.into()],
            post_logout_redirect_uris: Vec::new(),
            scopes: Vec::new(),
            grant_types: vec!["authorization_code".into()],
        },
    )
    .await
    .unwrap();
    use secrecy::ExposeSecret;
    let no_refresh_secret = created.secret.unwrap().expose_secret().to_string();
    let narrowed = obtain_tokens(&server, "norefresh", &no_refresh_secret, "openid offline_access").await;
    assert!(narrowed.get("refresh_token").is_none());
    assert_eq!(narrowed["scope"], "openid");
    let with = obtain_tokens(&server, "webapp", &secret, "openid offline_access").await;
    let refresh_token = with["refresh_token"].as_str().unwrap();
    assert!(refresh_token.len() >= 43 && refresh_token.bytes().all(|b| (0x20..=0x7e).contains(&b)));
    server.stop().await;
}

#[tokio::test]
async fn rotation_replay_and_family_revocation() {
    let (server, secret) = setup().await;
    let first = obtain_tokens(&server, "webapp", &secret, "openid profile offline_access").await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();

    let (status, second) = refresh(&server, "webapp", &secret, &rt1, None).await;
    assert_eq!(status, 200, "{second}");
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2, "refresh tokens rotate");
    assert_eq!(second["scope"], "openid profile offline_access");
    assert!(second["id_token"].is_string(), "a new ID token on refresh");
    assert_eq!(userinfo_status(&server, second["access_token"].as_str().unwrap()).await, 200);

    // A retry inside the window gets the identical answer.
    let (status, retry) = refresh(&server, "webapp", &secret, &rt1, None).await;
    assert_eq!(status, 200);
    assert_eq!(retry, second);

    // Outside the window, replaying RT1 revokes the whole family.
    server.clock.advance(server.provider.config.tokens.refresh_retry_window.as_secs() as i64 + 1);
    let (status, body) = refresh(&server, "webapp", &secret, &rt1, None).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    let (status, body) = refresh(&server, "webapp", &secret, &rt2, None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "the successor died too");
    assert_eq!(userinfo_status(&server, second["access_token"].as_str().unwrap()).await, 401);
    assert_eq!(userinfo_status(&server, first["access_token"].as_str().unwrap()).await, 401);
    server.stop().await;
}

#[tokio::test]
async fn scope_may_only_narrow_and_tokens_are_bound_to_their_client() {
    let (server, secret) = setup().await;
    let other_secret = server.add_confidential_client("other", &[RP_CALLBACK]).await;
    let tokens = obtain_tokens(&server, "webapp", &secret, "openid offline_access").await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();

    let (status, body) = refresh(&server, "webapp", &secret, &rt, Some("openid email")).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));
    let (status, body) = refresh(&server, "other", &other_secret, &rt, None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    // Neither failure consumed the token.
    let (status, body) = refresh(&server, "webapp", &secret, &rt, Some("openid")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid");
    // The narrowed refresh still carries the full grant forward.
    let rt2 = body["refresh_token"].as_str().unwrap().to_string();
    let (status, body) = refresh(&server, "webapp", &secret, &rt2, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["scope"], "openid offline_access");
    // Unknown and expired tokens.
    let (status, _) = refresh(&server, "webapp", &secret, "nonsense", None).await;
    assert_eq!(status, 400);
    let rt3 = body["refresh_token"].as_str().unwrap().to_string();
    server.clock.advance(server.provider.config.tokens.refresh_token_ttl.as_secs() as i64 + 1);
    let (status, body) = refresh(&server, "webapp", &secret, &rt3, None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    server.stop().await;
}

#[tokio::test]
async fn once_the_successor_is_used_the_old_token_is_a_replay_even_inside_the_window() {
    let (server, secret) = setup().await;
    let first = obtain_tokens(&server, "webapp", &secret, "openid offline_access").await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();
    let (status, second) = refresh(&server, "webapp", &secret, &rt1, None).await;
    assert_eq!(status, 200);
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    // The holder of RT2 received the answer to RT1; using RT2 ends RT1's
    // retry window although the clock has not moved.
    let (status, third) = refresh(&server, "webapp", &secret, &rt2, None).await;
    assert_eq!(status, 200);
    let (status, body) = refresh(&server, "webapp", &secret, &rt1, None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "a copy of RT1 is a replay");
    let (status, _) = refresh(&server, "webapp", &secret, third["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(status, 400, "the family is revoked");
    assert_eq!(userinfo_status(&server, third["access_token"].as_str().unwrap()).await, 401);
    server.stop().await;
}

#[tokio::test]
async fn another_client_presenting_a_token_does_not_hold_up_its_owner() {
    let (server, secret) = setup().await;
    let other_secret = server.add_confidential_client("other", &[RP_CALLBACK]).await;
    let tokens = obtain_tokens(&server, "webapp", &secret, "openid offline_access").await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    // The foreign client comes first, within what would be the owner's
    // retry window (the clock does not move).
    let (status, body) = refresh(&server, "other", &other_secret, &rt, None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let (status, body) = refresh(&server, "webapp", &secret, &rt, None).await;
    assert_eq!(status, 200, "{body}");
    // And the foreign client does not get the owner's answer either.
    let (status, body) = refresh(&server, "other", &other_secret, &rt, None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    server.stop().await;
}

#[tokio::test]
async fn twenty_parallel_refreshes_of_one_token_make_one_chain() {
    let (server, secret) = setup().await;
    let tokens = obtain_tokens(&server, "webapp", &secret, "openid offline_access").await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let server = std::sync::Arc::new(server);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (server, secret, rt) = (server.clone(), secret.clone(), rt.clone());
        tasks.push(tokio::spawn(async move { refresh(&server, "webapp", &secret, &rt, None).await }));
    }
    let mut successes = std::collections::HashSet::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            200 => {
                successes.insert(body["refresh_token"].as_str().unwrap().to_string());
            }
            400 => assert_eq!(body["error"], "invalid_grant"),
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(successes.len(), 1, "exactly one new token chain");
    let successor = successes.into_iter().next().unwrap();
    let (status, body) = refresh(&server, "webapp", &secret, &successor, None).await;
    assert_eq!(status, 200, "the surviving chain works: {body}");
}

#[tokio::test]
async fn fifty_parallel_refreshes_of_different_tokens_all_succeed() {
    let (server, secret) = setup().await;
    let mut refresh_tokens = Vec::new();
    for _ in 0..50 {
        let tokens = obtain_tokens(&server, "webapp", &secret, "openid offline_access").await;
        refresh_tokens.push(tokens["refresh_token"].as_str().unwrap().to_string());
    }
    let server = std::sync::Arc::new(server);
    let tasks: Vec<_> = refresh_tokens
        .into_iter()
        .map(|rt| {
            let (server, secret) = (server.clone(), secret.clone());
            tokio::spawn(async move { refresh(&server, "webapp", &secret, &rt, None).await })
        })
        .collect();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test]
async fn consumed_state_survives_a_restart() {
    let (server, secret) = setup().await;
    let tokens = obtain_tokens(&server, "webapp", &secret, "openid offline_access").await;
    let rt1 = tokens["refresh_token"].as_str().unwrap().to_string();
    let (status, _) = refresh(&server, "webapp", &secret, &rt1, None).await;
    assert_eq!(status, 200);
    // A second provider on the same database has an empty retry window.
    let config = server.provider.config.as_ref().clone();
    let clock: std::sync::Arc<dyn latchkey::clock::Clock> = std::sync::Arc::new(server.clock.clone());
    let restarted = latchkey::open_provider(config, clock).await.unwrap();
    let client = restarted.store.find_client("webapp").await.unwrap().unwrap();
    let params = latchkey::oidc::Params::parse(format!("grant_type=refresh_token&refresh_token={rt1}").as_bytes());
    let err = latchkey::oidc::token::exchange(&restarted, &client, &params).await.unwrap_err();
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    server.stop().await;
}

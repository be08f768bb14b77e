//! Introspection (RFC 7662) and revocation (RFC 7009), and code reuse
//! revoking what the first redemption produced.

use crate::support::*;

async fn setup() -> (TestServer, String, String) {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    let secret = server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let other = server.add_confidential_client("other", &[RP_CALLBACK]).await;
    (server, secret, other)
}

fn assert_inactive(status: u16, body: &serde_json::Value) {
    assert_eq!(status, 200);
    assert_eq!(body, &serde_json::json!({ "active": false }));
}

#[tokio::test]
async fn introspection_of_access_and_refresh_tokens() {
    let (server, secret, other) = setup().await;
    let user = server.provider.store.find_user_by_username("alice").await.unwrap().unwrap();
    let tokens = obtain_tokens(&server, "webapp", &secret, "openid offline_access").await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    let (status, body) = post_as(&server, "/introspect", ("webapp", &secret), &[("token", access)]).await;
    assert_eq!(status, 200);
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], user.id.as_str());
    assert_eq!(body["client_id"], "webapp");
    assert_eq!(body["scope"], "openid offline_access");
    assert_eq!(body["iss"], server.base.as_str());
    assert_eq!(body["token_type"], "Bearer");
    for name in ["exp", "iat", "aud"] {
        assert!(body.get(name).is_some(), "{name}");
    }
    // A wrong hint still finds the token.
    let (_, body) = post_as(&server, "/introspect", ("webapp", &secret), &[("token", refresh_token), ("token_type_hint", "access_token")]).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], user.id.as_str());
    // Another client sees nothing; unknown and tampered tokens are inactive.
    let (status, body) = post_as(&server, "/introspect", ("other", &other), &[("token", access)]).await;
    assert_inactive(status, &body);
    let (status, body) = post_as(&server, "/introspect", ("webapp", &secret), &[("token", "garbage")]).await;
    assert_inactive(status, &body);
    let mut tampered = access.to_string();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let (status, body) = post_as(&server, "/introspect", ("webapp", &secret), &[("token", &tampered)]).await;
    assert_inactive(status, &body);
    // Expired.
    server.clock.advance(server.provider.config.tokens.access_token_ttl.as_secs() as i64 + 1);
    let (status, body) = post_as(&server, "/introspect", ("webapp", &secret), &[("token", access)]).await;
    assert_inactive(status, &body);
    server.stop().await;
}

#[tokio::test]
async fn introspection_requires_client_authentication() {
    let (server, secret, _) = setup().await;
    let tokens = obtain_tokens(&server, "webapp", &secret, "openid").await;
    let access = tokens["access_token"].as_str().unwrap();
    let response = http().post(server.url("/introspect")).form(&[("token", access)]).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let (status, body) = post_as(&server, "/introspect", ("webapp", "wrong"), &[("token", access)]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    assert!(body.get("active").is_none());
    server.add_public_client("spa", &[RP_CALLBACK]).await;
    let response = http().post(server.url("/introspect")).form(&[("token", access), ("client_id", "spa")]).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let (status, body) = post_as(&server, "/introspect", ("webapp", &secret), &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    assert_eq!(http().get(server.url("/introspect")).send().await.unwrap().status(), 405);
    server.stop().await;
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family() {
    let (server, secret, other) = setup().await;
    let tokens = obtain_tokens(&server, "webapp", &secret, "openid offline_access").await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    // Another client cannot revoke it.
    let (status, _) = post_as(&server, "/revoke", ("other", &other), &[("token", refresh_token)]).await;
    assert_ne!(status, 200);
    assert_eq!(userinfo_status(&server, access).await, 200);

    // The hint is only a hint.
    let (status, _) = post_as(&server, "/revoke", ("webapp", &secret), &[("token", refresh_token), ("token_type_hint", "access_token")]).await;
    assert_eq!(status, 200);
    let (status, body) = refresh(&server, "webapp", &secret, refresh_token, None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(userinfo_status(&server, access).await, 401);
    let (status, body) = post_as(&server, "/introspect", ("webapp", &secret), &[("token", access)]).await;
    assert_inactive(status, &body);

    // Unknown and already revoked tokens: still 200.
    let (status, _) = post_as(&server, "/revoke", ("webapp", &secret), &[("token", "unknown")]).await;
    assert_eq!(status, 200);
    let (status, _) = post_as(&server, "/revoke", ("webapp", &secret), &[("token", refresh_token), ("token_type_hint", "foo")]).await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn revoking_an_access_token() {
    let (server, secret, _) = setup().await;
    let tokens = obtain_tokens(&server, "webapp", &secret, "openid offline_access").await;
    let access = tokens["access_token"].as_str().unwrap();
    let (status, _) = post_as(&server, "/revoke", ("webapp", &secret), &[("token", access), ("token_type_hint", "access_token")]).await;
    assert_eq!(status, 200);
    let response = http().get(server.url("/userinfo")).bearer_auth(access).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    let (status, body) = post_as(&server, "/introspect", ("webapp", &secret), &[("token", access)]).await;
    assert_inactive(status, &body);
    // The refresh token of the grant still works: only that token was revoked.
    let (status, _) = refresh(&server, "webapp", &secret, tokens["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn code_reuse_revokes_the_first_tokens_and_concurrent_redemptions_win_once() {
    let (server, secret, _) = setup().await;
    let browser = browser();
    let code = obtain_code(&server, &browser, "webapp", &[("scope", "openid offline_access")]).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", RP_CALLBACK)];
    let (status, first, _) = token_request(&server, Some(("webapp", &secret)), &form).await;
    assert_eq!(status, 200);
    let (status, _, _) = token_request(&server, Some(("webapp", &secret)), &form).await;
    assert_eq!(status, 400);
    assert_eq!(userinfo_status(&server, first["access_token"].as_str().unwrap()).await, 401);
    let (status, body) = post_as(&server, "/introspect", ("webapp", &secret), &[("token", first["access_token"].as_str().unwrap())]).await;
    assert_inactive(status, &body);
    let (status, _) = refresh(&server, "webapp", &secret, first["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(status, 400);

    // Concurrent redemptions: one wins, and since the others are reuses,
    // what the winner got is revoked however the requests interleave (the
    // losers once revoked a grant the winner had not yet recorded).
    let server = std::sync::Arc::new(server);
    for round in 0..5 {
        let code = obtain_code(&server, &browser, "webapp", &[("scope", "openid offline_access")]).await;
        let tasks: Vec<_> = (0..if round % 2 == 0 { 2 } else { 10 })
            .map(|_| {
                let (server, secret, code) = (server.clone(), secret.clone(), code.clone());
                tokio::spawn(async move {
                    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", RP_CALLBACK)];
                    let (status, body, _) = token_request(&server, Some(("webapp", &secret)), &form).await;
                    (status, body)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                (200, body) => winners.push(body),
                (400, body) => assert_eq!(body["error"], "invalid_grant"),
                (other, body) => panic!("unexpected status {other}: {body}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        let winner = &winners[0];
        assert_eq!(userinfo_status(&server, winner["access_token"].as_str().unwrap()).await, 401, "round {round}");
        let (status, _) = refresh(&server, "webapp", &secret, winner["refresh_token"].as_str().unwrap(), None).await;
        assert_eq!(status, 400, "round {round}");
    }
}

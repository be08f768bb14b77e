//! The client_credentials grant (RFC 6749 §4.4).

use latchkey::oidc::admin::{self, NewClient};

use crate::support::*;

async fn add_service(server: &TestServer, id: &str, public: bool, grants: &[&str]) -> Option<String> {
    let created = admin::add_client(
        &server.provider,
        NewClient {
            id: id.into(),
            public,
            redirect_uris: vec![RP_CALLBACK.into()],
            post_logout_redirect_uris: vec![],
            scopes: vec!["openid".into(), "offline_access".into(), "reports.read".into(), "reports.write".into()],
            grant_types: grants.iter().map(|g| g.to_string()).collect(),
        },
    )
    .await
    .unwrap();
    created.secret.map(|secret| secrecy::ExposeSecret::expose_secret(&secret).to_string())
}

#[tokio::test]
async fn issues_an_access_token_for_the_client_itself() {
    let server = TestServer::start().await;
    let secret = add_service(&server, "reporter", false, &["client_credentials"]).await.unwrap();
    let (status, body, headers) =
        token_request(&server, Some(("reporter", &secret)), &[("grant_type", "client_credentials"), ("scope", "reports.read openid offline_access")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "reports.read");
    assert!(body.get("id_token").is_none() && body.get("refresh_token").is_none());
    let access = body["access_token"].as_str().unwrap();
    use base64::Engine;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(access.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], "reporter");
    assert_eq!(claims["client_id"], "reporter");
    // No user behind it: userinfo refuses.
    assert!(matches!(userinfo_status(&server, access).await, 401 | 403));
    // No scope asked: every service scope of the client.
    let (status, body, _) = token_request(&server, Some(("reporter", &secret)), &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["scope"], "reports.read reports.write");
    server.stop().await;
}

#[tokio::test]
async fn misuse_is_refused() {
    let server = TestServer::start().await;
    let secret = add_service(&server, "reporter", false, &["client_credentials"]).await.unwrap();
    let webapp = server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    add_service(&server, "spa", true, &["authorization_code"]).await;
    let (status, body, _) = token_request(&server, Some(("reporter", &secret)), &[("grant_type", "client_credentials"), ("scope", "admin")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));
    let (status, body, _) = token_request(&server, Some(("webapp", &webapp)), &[("grant_type", "client_credentials")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")));
    let (status, body, _) = token_request(&server, None, &[("grant_type", "client_credentials"), ("client_id", "spa")]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    let (status, body, _) = token_request(&server, Some(("reporter", "wrong")), &[("grant_type", "client_credentials")]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    server.stop().await;
}

//! Discovery metadata and JWKS as the conformance suite checks them.

use crate::support::*;

#[tokio::test]
async fn discovery_advertises_only_what_is_supported() {
    let server = TestServer::start().await;
    for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
        let response = http().get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let doc: serde_json::Value = response.json().await.unwrap();
        assert_eq!(doc["issuer"], server.base.as_str());
        for (name, path) in [("authorization_endpoint", "/authorize"), ("token_endpoint", "/token"), ("userinfo_endpoint", "/userinfo"), ("jwks_uri", "/jwks")] {
            assert_eq!(doc[name], server.url(path), "{name}");
        }
        assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        assert_eq!(doc["id_token_signing_alg_values_supported"], serde_json::json!(["RS256"]));
        assert_eq!(doc["request_parameter_supported"], false);
        assert_eq!(doc["request_uri_parameter_supported"], false);
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert!(doc["subject_types_supported"].as_array().unwrap().contains(&"public".into()));
        assert!(doc["scopes_supported"].as_array().unwrap().contains(&"openid".into()));
        let methods = doc["token_endpoint_auth_methods_supported"].as_array().unwrap();
        assert!(methods.contains(&"client_secret_basic".into()) && methods.contains(&"client_secret_post".into()));
        assert!(!doc["grant_types_supported"].as_array().unwrap().contains(&"password".into()));
    }
    server.stop().await;
}

#[tokio::test]
async fn jwks_has_public_keys_with_distinct_kids() {
    let server = TestServer::start().await;
    let response = http().get(server.url("/jwks")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    let jwks: serde_json::Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    let mut kids = Vec::new();
    for key in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(key.get(private).is_none(), "private member {private}");
        }
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "RS256");
        let n = key["n"].as_str().unwrap();
        assert!(!n.contains('=') && !n.contains('+') && !n.contains('/'));
        use base64::Engine;
        let modulus = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(n).unwrap();
        assert!(modulus.len() * 8 >= 2048);
        kids.push(key["kid"].as_str().unwrap().to_string());
    }
    let before = kids.len();
    kids.dedup();
    assert_eq!(kids.len(), before);
    server.stop().await;
}

#[tokio::test]
async fn the_key_survives_a_restart_and_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start().await;
    let first: serde_json::Value = http().get(server.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let config = server.provider.config.as_ref().clone();
    let dir_mode = std::fs::metadata(&config.keys.dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    for entry in std::fs::read_dir(&config.keys.dir).unwrap() {
        let mode = entry.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let db_mode = std::fs::metadata(&config.database.path).unwrap().permissions().mode() & 0o777;
    assert_eq!(db_mode, 0o600);
    let dir = server.dir.path().to_path_buf();
    let provider = latchkey::open_provider(config, std::sync::Arc::new(latchkey::clock::SystemClock)).await.unwrap();
    let again: serde_json::Value = serde_json::from_slice(&provider.keys.current().jwks_bytes()).unwrap();
    assert_eq!(first, again);
    assert!(dir.exists());
    server.stop().await;
}

/// Browser apps may call discovery, JWKS, token and userinfo across
/// origins; the authorization endpoint never answers CORS (RFC 9700 §2.6).
#[tokio::test]
async fn cors_only_where_browser_apps_need_it() {
    let server = TestServer::start().await;
    for path in ["/.well-known/openid-configuration", "/jwks", "/token", "/userinfo"] {
        let response = http()
            .request(reqwest::Method::OPTIONS, server.url(path))
            .header("origin", "https://spa.example")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["access-control-allow-origin"], "*", "{path}");
        assert!(response.headers().get("access-control-allow-credentials").is_none());
    }
    let response = http().get(server.url("/jwks")).header("origin", "https://spa.example").send().await.unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    for method in [reqwest::Method::GET, reqwest::Method::OPTIONS] {
        let response = http()
            .request(method, server.url("/authorize?client_id=x"))
            .header("origin", "https://evil.example")
            .header("access-control-request-method", "GET")
            .send()
            .await
            .unwrap();
        assert!(response.headers().get("access-control-allow-origin").is_none());
    }
    server.stop().await;
}

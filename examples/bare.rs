//! The framework ceiling for `scripts/bench`: axum on tokio's default
//! multi-threaded runtime, one route returning a fixed JSON body of about the
//! size of latchkey's discovery document, nothing else (no layers, no state).
//!
//! Usage: `cargo run --release --example bare -- 127.0.0.1:18081`

use axum::Router;
use axum::http::header;
use axum::routing::get;

const BODY: &str = r#"{"issuer":"http://127.0.0.1:18080","authorization_endpoint":"http://127.0.0.1:18080/authorize","token_endpoint":"http://127.0.0.1:18080/token","userinfo_endpoint":"http://127.0.0.1:18080/userinfo","jwks_uri":"http://127.0.0.1:18080/jwks","introspection_endpoint":"http://127.0.0.1:18080/introspect","revocation_endpoint":"http://127.0.0.1:18080/revoke","end_session_endpoint":"http://127.0.0.1:18080/logout","scopes_supported":["openid","profile","email","offline_access"],"response_types_supported":["code"],"response_modes_supported":["query","form_post"],"grant_types_supported":["authorization_code","refresh_token","client_credentials"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["RS256"],"token_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post","none"],"introspection_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post"],"revocation_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post"],"code_challenge_methods_supported":["S256"],"claims_supported":["sub","iss","aud","exp","iat","auth_time","nonce","azp","at_hash","name","preferred_username","updated_at","email","email_verified"],"prompt_values_supported":["none","login","consent","select_account"],"claims_parameter_supported":false,"request_parameter_supported":false,"request_uri_parameter_supported":false,"authorization_response_iss_parameter_supported":true}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18081".into());
    let app = Router::new().route("/", get(|| async { ([(header::CONTENT_TYPE, "application/json")], BODY) }));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("bare axum listening on {listen}");
    axum::serve(listener, app).await
}

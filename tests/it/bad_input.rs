//! The bad-input battery: each row is a request and the answer it must get.
//! Never a 500, never a redirect to an unregistered place, always the
//! spec-shaped error. Forged tokens of every usual kind are in it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use josekit::jws::{HS256, JwsHeader, RS256};
use josekit::jwt::{self, JwtPayload};

use crate::support::*;

#[derive(Clone)]
enum Auth {
    None,
    Basic(String, String),
    Bearer(String),
    Raw(String),
}

#[derive(Clone)]
struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    auth: Auth,
    status: u16,
    /// The `error` in the JSON body, the Location query, or WWW-Authenticate.
    error: Option<&'static str>,
}

fn case(name: &'static str, method: &'static str, path: impl Into<String>, status: u16, error: Option<&'static str>) -> Case {
    Case { name, method, path: path.into(), content_type: None, body: Vec::new(), auth: Auth::None, status, error }
}

impl Case {
    fn form(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some("application/x-www-form-urlencoded");
        self.body = body.into();
        self
    }
    fn typed(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some(content_type);
        self.body = body.into();
        self
    }
    fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Tokens an attacker could make from a real access token.
struct Forgeries {
    alg_none: String,
    hs256_with_public_key: String,
    unknown_kid: String,
    missing_kid: String,
    modified_payload: String,
    embedded_jwk: String,
    jku: String,
    x5u: String,
}

fn forge(real: &str, jwks: &serde_json::Value) -> Forgeries {
    let mut parts = real.split('.');
    let (header_b64, payload_b64, signature) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let header: serde_json::Value = serde_json::from_slice(&B64.decode(header_b64).unwrap()).unwrap();
    let kid = header["kid"].as_str().unwrap().to_string();
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&B64.decode(payload_b64).unwrap()).unwrap();
    let payload = JwtPayload::from_map(claims.clone()).unwrap();
    let with_header = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut header = header.clone();
        edit(&mut header);
        B64.encode(serde_json::to_vec(&header).unwrap())
    };
    let alg_none = format!("{}.{payload_b64}.", with_header(&|h| h["alg"] = "none".into()));
    // HS256 keyed with the public modulus, the classic algorithm confusion.
    let n = jwks["keys"][0]["n"].as_str().unwrap();
    let hs_signer = HS256.signer_from_bytes(n.as_bytes()).unwrap();
    let mut hs_header = JwsHeader::new();
    hs_header.set_token_type("at+jwt");
    hs_header.set_key_id(kid.clone());
    let hs256_with_public_key = jwt::encode_with_signer(&payload, &hs_header, &hs_signer).unwrap();
    // An attacker's own RSA key, announced in various headers.
    let attacker = RS256.generate_key_pair(2048).unwrap();
    let signer = RS256.signer_from_der(attacker.to_der_private_key()).unwrap();
    let sign = |edit: &dyn Fn(&mut JwsHeader)| {
        let mut header = JwsHeader::new();
        header.set_token_type("at+jwt");
        edit(&mut header);
        jwt::encode_with_signer(&payload, &header, &signer).unwrap()
    };
    let public_jwk = attacker.to_jwk_public_key();
    let unknown_kid = sign(&|h| h.set_key_id("not-a-kid"));
    let missing_kid = sign(&|_| {});
    let embedded_jwk = sign(&|h| {
        h.set_key_id(kid.clone());
        h.set_jwk(public_jwk.clone());
    });
    let jku = sign(&|h| {
        h.set_key_id(kid.clone());
        h.set_jwk_set_url("https://evil.test/jwks");
    });
    let x5u = sign(&|h| {
        h.set_key_id(kid.clone());
        h.set_x509_url("https://evil.test/cert.pem");
    });
    let mut modified = claims;
    modified.insert("scope".into(), "openid profile email admin".into());
    let modified_payload = format!("{header_b64}.{}.{signature}", B64.encode(serde_json::to_vec(&modified).unwrap()));
    Forgeries { alg_none, hs256_with_public_key, unknown_kid, missing_kid, modified_payload, embedded_jwk, jku, x5u }
}

#[tokio::test]
async fn every_endpoint_answers_bad_input_with_the_right_error() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    let secret = server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let tokens = obtain_tokens(&server, "webapp", &secret, "openid offline_access").await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let id_token = tokens["id_token"].as_str().unwrap().to_string();
    let jwks: serde_json::Value = http().get(server.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let forged = forge(&access, &jwks);
    let webapp = Auth::Basic("webapp".into(), secret.clone());
    let cb = encode(RP_CALLBACK);
    let authorize = |extra: &str| format!("/authorize?client_id=webapp&redirect_uri={cb}&scope=openid&state=s{extra}");
    let injection = encode("' OR '1'='1'; DROP TABLE users; --");
    let long = "a".repeat(10_000);

    let cases = vec![
        // Authorization endpoint: untrusted client or redirect → page, no redirect.
        case("authorize without parameters", "GET", "/authorize", 400, None),
        case("authorize unknown client", "GET", format!("/authorize?client_id=nobody&redirect_uri={cb}&response_type=code"), 400, None),
        case("authorize client_id twice", "GET", format!("/authorize?client_id=webapp&client_id=webapp&redirect_uri={cb}&response_type=code"), 400, None),
        case("authorize invalid UTF-8", "GET", format!("/authorize?client_id=web%FFapp&redirect_uri={cb}&response_type=code"), 400, None),
        case("authorize NUL in state", "GET", format!("{}&response_type=code&state=a%00b", authorize("")), 400, None),
        case("authorize injection as client_id", "GET", format!("/authorize?client_id={injection}&redirect_uri={cb}&response_type=code"), 400, None),
        case("authorize javascript redirect", "GET", format!("/authorize?client_id=webapp&redirect_uri={}&response_type=code", encode("javascript:alert(1)")), 400, None),
        case("authorize overlong redirect_uri", "GET", format!("/authorize?client_id=webapp&redirect_uri={cb}{long}&response_type=code"), 400, None),
        case("authorize POST as JSON", "POST", "/authorize", 400, None).typed("application/json", "{}"),
        // Authorization endpoint: errors delivered to the client.
        case("authorize response_type token", "GET", authorize("&response_type=token"), 303, Some("unsupported_response_type")),
        case("authorize response_type missing", "GET", authorize(""), 303, Some("invalid_request")),
        case("authorize scope with quote", "GET", format!("/authorize?client_id=webapp&redirect_uri={cb}&response_type=code&scope=openid%20%22x"), 303, Some("invalid_scope")),
        case("authorize scope injection", "GET", format!("/authorize?client_id=webapp&redirect_uri={cb}&response_type=code&scope={injection}"), 303, Some("invalid_scope")),
        case("authorize unknown scope", "GET", format!("/authorize?client_id=webapp&redirect_uri={cb}&response_type=code&scope=openid%20admin"), 303, Some("invalid_scope")),
        case("authorize prompt none+login", "GET", authorize("&response_type=code&prompt=none%20login"), 303, Some("invalid_request")),
        case("authorize unknown prompt", "GET", authorize("&response_type=code&prompt=bogus"), 303, Some("invalid_request")),
        case("authorize negative max_age", "GET", authorize("&response_type=code&max_age=-1"), 303, Some("invalid_request")),
        case("authorize plain PKCE", "GET", authorize("&response_type=code&code_challenge=abc&code_challenge_method=plain"), 303, Some("invalid_request")),
        case("authorize request object", "GET", authorize("&response_type=code&request=eyJhbGciOiJub25lIn0.e30."), 303, Some("request_not_supported")),
        case("authorize request_uri", "GET", authorize("&response_type=code&request_uri=https%3A%2F%2Fevil.test%2Fr"), 303, Some("request_uri_not_supported")),
        case("authorize overlong nonce", "GET", format!("{}&response_type=code&nonce={}", authorize(""), "n".repeat(1000)), 303, Some("invalid_request")),
        case("authorize overlong state", "GET", format!("/authorize?client_id=webapp&redirect_uri={cb}&scope=openid&response_type=code&state={}", "s".repeat(3000)), 303, Some("invalid_request")),
        case("authorize response_mode fragment", "GET", authorize("&response_type=code&response_mode=fragment"), 303, Some("invalid_request")),
        case("authorize scope twice", "GET", authorize("&response_type=code&scope=email"), 303, Some("invalid_request")),
        // Token endpoint.
        case("token GET", "GET", "/token", 405, None),
        case("token JSON body", "POST", "/token", 400, Some("invalid_request")).typed("application/json", "{\"grant_type\":\"client_credentials\"}").auth(webapp.clone()),
        case("token no content type", "POST", "/token", 400, Some("invalid_request")).auth(webapp.clone()),
        case("token text/plain", "POST", "/token", 400, Some("invalid_request")).typed("text/plain", "grant_type=x").auth(webapp.clone()),
        case("token grant_type missing", "POST", "/token", 400, Some("invalid_request")).form("code=x").auth(webapp.clone()),
        case("token password grant", "POST", "/token", 400, Some("unsupported_grant_type")).form("grant_type=password&username=alice&password=x").auth(webapp.clone()),
        case("token implicit grant", "POST", "/token", 400, Some("unsupported_grant_type")).form("grant_type=implicit").auth(webapp.clone()),
        case("token grant_type twice", "POST", "/token", 400, Some("invalid_request")).form("grant_type=authorization_code&grant_type=refresh_token").auth(webapp.clone()),
        case("token NUL in code", "POST", "/token", 400, Some("invalid_request")).form(format!("grant_type=authorization_code&code=a%00b&redirect_uri={cb}")).auth(webapp.clone()),
        case("token invalid UTF-8", "POST", "/token", 400, Some("invalid_request")).form(format!("grant_type=authorization_code&code=%C3%28&redirect_uri={cb}")).auth(webapp.clone()),
        case("token code missing", "POST", "/token", 400, Some("invalid_request")).form(format!("grant_type=authorization_code&redirect_uri={cb}")).auth(webapp.clone()),
        case("token injection as code", "POST", "/token", 400, Some("invalid_grant")).form(format!("grant_type=authorization_code&code={injection}&redirect_uri={cb}")).auth(webapp.clone()),
        case("token overlong parameter name", "POST", "/token", 400, Some("invalid_request")).form(format!("grant_type=client_credentials&{}=1", "n".repeat(200))).auth(webapp.clone()),
        case("authorize overlong parameter name", "GET", format!("{}&response_type=code&{}=1", authorize(""), "n".repeat(200)), 400, None),
        case("token overlong code", "POST", "/token", 400, Some("invalid_request")).form(format!("grant_type=authorization_code&code={long}&redirect_uri={cb}")).auth(webapp.clone()),
        case("token oversized body", "POST", "/token", 413, None).form(format!("grant_type=authorization_code&code={}", "a".repeat(100_000))).auth(webapp.clone()),
        case("token Basic not base64", "POST", "/token", 401, Some("invalid_client")).form("grant_type=client_credentials").auth(Auth::Raw("Basic !!!".into())),
        case("token Basic without colon", "POST", "/token", 401, Some("invalid_client")).form("grant_type=client_credentials").auth(Auth::Raw(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("webapp")))),
        case("token Bearer scheme", "POST", "/token", 401, Some("invalid_client")).form("grant_type=client_credentials").auth(Auth::Bearer(access.clone())),
        case("token unknown client", "POST", "/token", 401, Some("invalid_client")).form("grant_type=client_credentials&client_id=nobody&client_secret=x"),
        case("token injection as client_id", "POST", "/token", 401, Some("invalid_client")).form(format!("grant_type=client_credentials&client_id={injection}&client_secret=x")),
        case("token empty secret", "POST", "/token", 401, Some("invalid_client")).form("grant_type=client_credentials&client_id=webapp&client_secret="),
        case("token garbage refresh token", "POST", "/token", 400, Some("invalid_grant")).form("grant_type=refresh_token&refresh_token=garbage").auth(webapp.clone()),
        case("token injection as refresh token", "POST", "/token", 400, Some("invalid_grant")).form(format!("grant_type=refresh_token&refresh_token={injection}")).auth(webapp.clone()),
        case("token refresh without token", "POST", "/token", 400, Some("invalid_request")).form("grant_type=refresh_token").auth(webapp.clone()),
        case("token client_credentials not allowed", "POST", "/token", 400, Some("unauthorized_client")).form("grant_type=client_credentials").auth(webapp.clone()),
        // UserInfo and forged tokens.
        case("userinfo without token", "GET", "/userinfo", 401, None),
        case("userinfo garbage token", "GET", "/userinfo", 401, Some("invalid_token")).auth(Auth::Bearer("garbage".into())),
        case("userinfo alg none", "GET", "/userinfo", 401, Some("invalid_token")).auth(Auth::Bearer(forged.alg_none.clone())),
        case("userinfo HS256 with the public key", "GET", "/userinfo", 401, Some("invalid_token")).auth(Auth::Bearer(forged.hs256_with_public_key.clone())),
        case("userinfo unknown kid", "GET", "/userinfo", 401, Some("invalid_token")).auth(Auth::Bearer(forged.unknown_kid.clone())),
        case("userinfo missing kid", "GET", "/userinfo", 401, Some("invalid_token")).auth(Auth::Bearer(forged.missing_kid.clone())),
        case("userinfo modified payload", "GET", "/userinfo", 401, Some("invalid_token")).auth(Auth::Bearer(forged.modified_payload.clone())),
        case("userinfo embedded jwk", "GET", "/userinfo", 401, Some("invalid_token")).auth(Auth::Bearer(forged.embedded_jwk.clone())),
        case("userinfo jku header", "GET", "/userinfo", 401, Some("invalid_token")).auth(Auth::Bearer(forged.jku.clone())),
        case("userinfo x5u header", "GET", "/userinfo", 401, Some("invalid_token")).auth(Auth::Bearer(forged.x5u.clone())),
        case("userinfo ID token as bearer", "GET", "/userinfo", 401, Some("invalid_token")).auth(Auth::Bearer(id_token.clone())),
        case("userinfo injection as token", "GET", "/userinfo", 401, Some("invalid_token")).auth(Auth::Bearer("'%20OR%201=1--".into())),
        case("userinfo Basic scheme", "GET", "/userinfo", 401, None).auth(webapp.clone()),
        case("userinfo token twice", "POST", "/userinfo", 400, Some("invalid_request")).form(format!("access_token={access}")).auth(Auth::Bearer(access.clone())),
        case("userinfo JSON body", "POST", "/userinfo", 400, Some("invalid_request")).typed("application/json", "{}").auth(Auth::Bearer(access.clone())),
        // Introspection and revocation.
        case("introspect without client", "POST", "/introspect", 401, Some("invalid_client")).form(format!("token={access}")),
        case("introspect without token", "POST", "/introspect", 400, Some("invalid_request")).form("token_type_hint=access_token").auth(webapp.clone()),
        case("introspect token twice", "POST", "/introspect", 400, Some("invalid_request")).form("token=a&token=b").auth(webapp.clone()),
        case("introspect GET", "GET", "/introspect", 405, None),
        case("introspect forged token", "POST", "/introspect", 200, None).form(format!("token={}", forged.alg_none)).auth(webapp.clone()),
        case("revoke without token", "POST", "/revoke", 400, Some("invalid_request")).form("").auth(webapp.clone()),
        case("revoke unknown token", "POST", "/revoke", 200, None).form("token=unknown").auth(webapp.clone()),
        case("revoke without client", "POST", "/revoke", 401, Some("invalid_client")).form("token=unknown"),
        case("revoke forged token", "POST", "/revoke", 200, None).form(format!("token={}", forged.modified_payload)).auth(webapp.clone()),
        // Logout.
        case("logout forged hint", "GET", format!("/logout?id_token_hint={}&post_logout_redirect_uri={cb}", forged.alg_none), 400, None),
        case("logout NUL", "GET", "/logout?state=a%00b", 400, None),
        case("logout unknown client", "GET", format!("/logout?client_id=nobody&post_logout_redirect_uri={cb}"), 400, None),
        case("logout state twice", "GET", "/logout?state=a&state=b", 400, None),
        // Login and consent pages.
        case("login without request", "GET", "/login", 400, None),
        case("login injection as request_id", "GET", format!("/login?request_id={injection}"), 400, None),
        case("login JSON body", "POST", "/login", 400, None).typed("application/json", "{}"),
        case("login username twice", "POST", "/login", 400, None).form("request_id=x&csrf_token=y&username=a&username=b&password=p"),
        case("login unknown request", "POST", "/login", 400, None).form("request_id=x&csrf_token=y&username=a&password=p"),
        case("login overlong password", "POST", "/login", 400, None).form(format!("request_id=x&csrf_token=y&username=a&password={long}")),
        case("consent without decision", "POST", "/consent", 400, None).form("request_id=x&csrf_token=y"),
        case("consent unknown request", "GET", "/consent?request_id=x", 400, None),
        // Everything else.
        case("discovery POST", "POST", "/.well-known/openid-configuration", 405, None),
        case("jwks POST", "POST", "/jwks", 405, None),
        case("unknown path", "GET", "/admin", 404, None),
        case("path traversal", "GET", "/static/..%2F..%2FCargo.toml", 404, None),
    ];
    assert!(cases.len() >= 60, "{} cases", cases.len());

    for case in cases {
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
        let mut request = http().request(method, server.url(&case.path));
        if let Some(content_type) = case.content_type {
            request = request.header("content-type", content_type);
        }
        request = match &case.auth {
            Auth::None => request,
            Auth::Basic(id, secret) => request.basic_auth(id, Some(secret)),
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Raw(value) => request.header("authorization", value),
        };
        let response = request.body(case.body.clone()).send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        assert_eq!(status, case.status, "{}: {text}", case.name);
        if status == 303 {
            let target = location(&headers);
            assert!(target.starts_with(RP_CALLBACK), "{}: redirected to {target}", case.name);
        } else {
            assert!(headers.get("location").is_none(), "{}: unexpected redirect", case.name);
        }
        if let Some(error) = case.error {
            let found = if status == 303 {
                query_param(&location(&headers), "error")
            } else if let Ok(body) = serde_json::from_str::<serde_json::Value>(&text) {
                body["error"].as_str().map(str::to_string)
            } else {
                None
            };
            let challenge = headers.get("www-authenticate").map(|value| value.to_str().unwrap().to_string()).unwrap_or_default();
            assert!(
                found.as_deref() == Some(error) || challenge.contains(&format!("error=\"{error}\"")),
                "{}: expected {error}, got {found:?} / {challenge:?} / {text}",
                case.name
            );
        }
        if case.path.starts_with("/introspect") && status == 200 {
            assert_eq!(text, "{\"active\":false}", "{}", case.name);
        }
    }
    // The real token still works: nothing above damaged state.
    assert_eq!(userinfo_status(&server, &access).await, 200);
    server.stop().await;
}

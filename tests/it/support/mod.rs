//! A real latchkey on 127.0.0.1:0 with a temporary SQLite file and key
//! directory, a manual clock, and a cookie-keeping "browser".

use std::sync::Arc;

use latchkey::clock::ManualClock;
use latchkey::config::Config;
use latchkey::oidc::Provider;
use latchkey::oidc::admin::{self, NewClient, NewUser};
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::redirect::Policy;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct horse battery staple";
pub const RP_CALLBACK: &str = "https://rp.example/cb";

pub struct TestServer {
    pub base: String,
    pub provider: Provider,
    pub clock: ManualClock,
    pub dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

/// The configuration tests use: real defaults, except cheap Argon2.
pub fn test_config(dir: &std::path::Path, base: &str) -> Config {
    let mut config = Config::default();
    config.server.issuer = base.to_string();
    config.server.listen = base.trim_start_matches("http://").to_string();
    config.database.path = dir.join("latchkey.db");
    config.keys.dir = dir.join("keys");
    config.password.memory_kib = 256;
    config.password.iterations = 1;
    // The suite sets every limit explicitly: high enough that the ordinary
    // tests never meet them; the throttling tests lower the one they test.
    config.rate_limit.login_per_second = 1000;
    config.rate_limit.login_burst = 1000;
    config.rate_limit.token_per_second = 10_000;
    config.rate_limit.token_burst = 10_000;
    config.rate_limit.login_failures_per_ip = 1000;
    config.rate_limit.client_auth_failures_per_ip = 1000;
    config.rate_limit.account_attempts = 100;
    config
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = test_config(dir.path(), &base);
        adjust(&mut config);
        config.validate().unwrap();
        let clock = ManualClock::new();
        let provider = latchkey::open_provider(config, Arc::new(clock.clone())).await.unwrap();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let serving = provider.clone();
        let handle = tokio::spawn(async move {
            latchkey::serve(serving, true, listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        TestServer { base, provider, clock, dir, shutdown: Some(shutdown), handle: Some(handle) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn add_user(&self, name: &str) -> latchkey::store::User {
        admin::add_user(
            &self.provider,
            NewUser {
                username: name.into(),
                display_name: Some(format!("{name} Example")),
                email: Some(format!("{name}@example.com")),
                password: SecretString::from(PASSWORD),
            },
        )
        .await
        .unwrap()
    }

    /// Registers a confidential client; returns its secret.
    pub async fn add_confidential_client(&self, id: &str, redirect_uris: &[&str]) -> String {
        let created = admin::add_client(
            &self.provider,
            NewClient {
                id: id.into(),
                public: false,
                redirect_uris: redirect_uris.iter().map(|uri| uri.to_string()).collect(),
                post_logout_redirect_uris: Vec::new(),
                scopes: Vec::new(),
                grant_types: Vec::new(),
            },
        )
        .await
        .unwrap();
        created.secret.unwrap().expose_secret().to_string()
    }

    pub async fn add_public_client(&self, id: &str, redirect_uris: &[&str]) {
        admin::add_client(
            &self.provider,
            NewClient {
                id: id.into(),
                public: true,
                redirect_uris: redirect_uris.iter().map(|uri| uri.to_string()).collect(),
                post_logout_redirect_uris: Vec::new(),
                scopes: Vec::new(),
                grant_types: Vec::new(),
            },
        )
        .await
        .unwrap();
    }

    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }
}

/// A plain HTTP client that does not follow redirects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
}

/// A browser: keeps cookies, does not follow redirects (tests look at each hop).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).cookie_store(true).build().unwrap()
}

pub fn location(headers: &HeaderMap) -> String {
    headers.get(LOCATION).expect("a Location header").to_str().unwrap().to_string()
}

/// The value of `<input ... name="NAME" value="VALUE">` in a page.
pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no field {name} in page:\n{html}")) + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

/// Query parameters of a URL as pairs.
pub fn query_pairs(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url).unwrap().query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    query_pairs(url).into_iter().find(|(key, _)| key == name).map(|(_, value)| value)
}

/// Drives the login and consent pages from an authorization URL to the
/// final redirect back to the client; returns that redirect's URL.
pub async fn login_and_consent(browser: &reqwest::Client, authorize_url: &str, username: &str) -> String {
    let response = browser.get(authorize_url).send().await.unwrap();
    assert_eq!(response.status(), 303, "authorize: {:?}", response.text().await);
    let mut next = location(response.headers());
    if next.contains("/login?") {
        next = submit_login(browser, &next, username, PASSWORD).await;
    }
    if next.contains("/consent?") {
        next = submit_consent(browser, &next, "allow").await;
    }
    next
}

/// Fills and posts the login form; returns where it redirects.
pub async fn submit_login(browser: &reqwest::Client, login_url: &str, username: &str, password: &str) -> String {
    let page = browser.get(login_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let form = [
        ("request_id", hidden_field(&html, "request_id")),
        ("csrf_token", hidden_field(&html, "csrf_token")),
        ("username", username.to_string()),
        ("password", password.to_string()),
    ];
    let action = login_url.split('?').next().unwrap();
    let response = browser.post(action).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 303, "login: {:?}", response.text().await);
    location(response.headers())
}

pub async fn submit_consent(browser: &reqwest::Client, consent_url: &str, decision: &str) -> String {
    let page = browser.get(consent_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let form = [
        ("request_id", hidden_field(&html, "request_id")),
        ("csrf_token", hidden_field(&html, "csrf_token")),
        ("decision", decision.to_string()),
    ];
    let action = consent_url.split('?').next().unwrap();
    let response = browser.post(action).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 303, "consent: {:?}", response.text().await);
    location(response.headers())
}

/// A URL-encoded authorization request for `client_id` at the server.
pub fn authorize_url(server: &TestServer, pairs: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    server.url(&format!("/authorize?{query}"))
}

/// Undoes the HTML escaping of an attribute value.
pub fn html_unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Runs the whole flow for `client_id` (confidential, registered at
/// RP_CALLBACK) and returns the code.
pub async fn obtain_code(server: &TestServer, browser: &reqwest::Client, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut params = vec![("response_type", "code"), ("client_id", client_id), ("redirect_uri", RP_CALLBACK), ("state", "xyz")];
    if !extra.iter().any(|(name, _)| *name == "scope") {
        params.push(("scope", "openid"));
    }
    params.extend_from_slice(extra);
    let callback = login_and_consent(browser, &authorize_url(server, &params), "alice").await;
    query_param(&callback, "code").unwrap_or_else(|| panic!("no code in {callback}"))
}

/// POSTs to /token and returns (status, JSON body, headers).
pub async fn token_request(
    server: &TestServer,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value, HeaderMap) {
    let mut request = http().post(server.url("/token")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body, headers)
}

/// Logs alice in for `client_id` with `scope` and redeems the code with
/// client_secret_basic; returns the token response.
pub async fn obtain_tokens(server: &TestServer, client_id: &str, secret: &str, scope: &str) -> serde_json::Value {
    let browser = browser();
    let code = obtain_code(server, &browser, client_id, &[("scope", scope)]).await;
    let (status, body, _) = token_request(
        server,
        Some((client_id, secret)),
        &[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", RP_CALLBACK)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

pub async fn refresh(server: &TestServer, client_id: &str, secret: &str, refresh_token: &str, scope: Option<&str>) -> (u16, serde_json::Value) {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let (status, body, _) = token_request(server, Some((client_id, secret)), &form).await;
    (status, body)
}

pub async fn userinfo_status(server: &TestServer, access_token: &str) -> u16 {
    http().get(server.url("/userinfo")).bearer_auth(access_token).send().await.unwrap().status().as_u16()
}

/// POSTs a form to `path` with Basic client authentication.
pub async fn post_as(server: &TestServer, path: &str, client: (&str, &str), form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let response = http().post(server.url(path)).basic_auth(client.0, Some(client.1)).form(form).send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

//! Every reflected value is escaped, and HTML pages carry the security
//! headers (RFC 9700 §4.16).

use crate::support::*;

const PAYLOADS: [&str; 3] = ["<script>alert(1)</script>", "\"><svg onload=alert(1)>", "'><img src=x onerror=alert(1)>"];

fn assert_no_payload(html: &str, payload: &str) {
    assert!(!html.contains(payload), "unescaped {payload} in:\n{html}");
    assert!(!html.contains("<script>alert") && !html.contains("<svg onload") && !html.contains("<img src=x"), "{html}");
}

fn assert_page_headers(headers: &reqwest::header::HeaderMap) {
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
}

#[tokio::test]
async fn reflected_values_are_escaped() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    for payload in PAYLOADS {
        // login_hint and state on the login page.
        let browser = browser();
        let url = authorize_url(
            &server,
            &[("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid"), ("state", payload), ("login_hint", payload)],
        );
        let login = location(browser.get(&url).send().await.unwrap().headers());
        let response = browser.get(&login).send().await.unwrap();
        assert_page_headers(response.headers());
        let html = response.text().await.unwrap();
        assert_no_payload(&html, payload);
        let marker = "name=\"username\" type=\"text\" value=\"";
        let start = html.find(marker).unwrap() + marker.len();
        let prefilled = &html[start..start + html[start..].find('"').unwrap()];
        assert_eq!(html_unescape(prefilled), payload, "the hint is pre-filled");

        // The username echoed after a failed login.
        let form = [
            ("request_id", hidden_field(&html, "request_id")),
            ("csrf_token", hidden_field(&html, "csrf_token")),
            ("username", payload.to_string()),
            ("password", "x".to_string()),
        ];
        let response = browser.post(server.url("/login")).form(&form).send().await.unwrap();
        assert_page_headers(response.headers());
        assert_no_payload(&response.text().await.unwrap(), payload);

        // client_id and redirect_uri on the error page.
        let url = authorize_url(&server, &[("response_type", "code"), ("client_id", payload), ("redirect_uri", payload)]);
        let response = http().get(&url).send().await.unwrap();
        assert_eq!(response.status(), 400);
        assert_page_headers(response.headers());
        assert_no_payload(&response.text().await.unwrap(), payload);
    }
    server.stop().await;
}

#[tokio::test]
async fn scopes_on_the_consent_page_are_escaped_and_described() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    latchkey::oidc::admin::add_client(
        &server.provider,
        latchkey::oidc::admin::NewClient {
            id: "api-client".into(),
            public: false,
            redirect_uris: vec![RP_CALLBACK.into()],
            post_logout_redirect_uris: vec![],
            scopes: vec!["openid".into(), "email".into(), "<b>x</b>".into()],
            grant_types: vec![],
        },
    )
    .await
    .unwrap();
    let browser = browser();
    let url = authorize_url(&server, &[("response_type", "code"), ("client_id", "api-client"), ("redirect_uri", RP_CALLBACK), ("scope", "openid email <b>x</b>")]);
    let login = location(browser.get(&url).send().await.unwrap().headers());
    let consent = submit_login(&browser, &login, "alice", PASSWORD).await;
    let response = browser.get(&consent).send().await.unwrap();
    assert_page_headers(response.headers());
    let html = response.text().await.unwrap();
    assert!(html.contains("See your email address"));
    assert!(!html.contains("<b>x</b>"), "{html}");
    server.stop().await;
}

//! The real binary's log never contains a password, secret, code, token or
//! code verifier, even at debug level, after every flow has run.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use crate::support::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn cli(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .current_dir(dir)
        .env("LATCHKEY_PASSWORD_MEMORY_KIB", "256")
        .env("LATCHKEY_PASSWORD_ITERATIONS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn logs_hold_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    cli(dir.path(), &["user", "add", "alice", "--password-stdin"], Some(&format!("{PASSWORD}\n")));
    let added = cli(dir.path(), &["client", "add", "webapp", "--redirect-uri", RP_CALLBACK], None);
    let secret = added.lines().find_map(|line| line.strip_prefix("client_secret: ")).unwrap().to_string();

    let mut server = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("serve")
        .current_dir(dir.path())
        .env("LATCHKEY_SERVER_ISSUER", &base)
        .env("LATCHKEY_SERVER_LISTEN", format!("127.0.0.1:{port}"))
        .env("LATCHKEY_PASSWORD_MEMORY_KIB", "256")
        .env("LATCHKEY_PASSWORD_ITERATIONS", "1")
        .env("LATCHKEY_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = http();
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let browser = browser();
    let verifier = "v".repeat(43) + "-secret-verifier";
    let challenge = latchkey::secrets::sha256_b64url(verifier.as_bytes());
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", "webapp"),
            ("redirect_uri", RP_CALLBACK),
            ("scope", "openid offline_access"),
            ("state", "st"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let response = browser.get(format!("{base}/authorize?{query}")).send().await.unwrap();
    let login = location(response.headers());
    // A failed login first, with a recognisable wrong password and a forged log line as user name.
    let html = browser.get(&login).send().await.unwrap().text().await.unwrap();
    let wrong_password = "Wr0ng-Passw0rd-Marker";
    browser
        .post(format!("{base}/login"))
        .form(&[
            ("request_id", hidden_field(&html, "request_id")),
            ("csrf_token", hidden_field(&html, "csrf_token")),
            ("username", "alice\nINFO forged=1 event=login_succeeded".into()),
            ("password", wrong_password.into()),
        ])
        .send()
        .await
        .unwrap();
    let consent = submit_login(&browser, &login, "alice", PASSWORD).await;
    let session_cookie = browser.get(format!("{base}/jwks")).send().await.unwrap().headers().get("set-cookie").map(|v| v.to_str().unwrap().to_string());
    let callback = submit_consent(&browser, &consent, "allow").await;
    let code = query_param(&callback, "code").unwrap();
    let response = client
        .post(format!("{base}/token"))
        .basic_auth("webapp", Some(&secret))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", RP_CALLBACK), ("code_verifier", &verifier)])
        .send()
        .await
        .unwrap();
    let tokens: serde_json::Value = response.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();
    let id_token = tokens["id_token"].as_str().unwrap().to_string();
    let refreshed: serde_json::Value = client
        .post(format!("{base}/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str()), ("client_id", "webapp"), ("client_secret", secret.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    client.get(format!("{base}/userinfo")).bearer_auth(&access).send().await.unwrap();
    client.get(format!("{base}/userinfo?access_token={access}")).send().await.unwrap();
    client.post(format!("{base}/introspect")).basic_auth("webapp", Some(&secret)).form(&[("token", access.as_str())]).send().await.unwrap();
    client.post(format!("{base}/token")).basic_auth("webapp", Some("wrong-secret-marker")).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    let new_refresh = refreshed["refresh_token"].as_str().unwrap().to_string();
    client.post(format!("{base}/revoke")).basic_auth("webapp", Some(&secret)).form(&[("token", new_refresh.as_str())]).send().await.unwrap();
    browser.get(format!("{base}/logout?id_token_hint={id_token}")).send().await.unwrap();

    // SIGTERM, so the server flushes its log writer before it exits.
    let status = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut log = String::new();
    server.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    server.wait().unwrap();
    assert!(log.contains("login_failed") && log.contains("token_issued"), "the log is too quiet to judge:\n{log}");
    for event in ["login_succeeded", "consent_granted", "token_revoked", "logout", "client_auth_failed"] {
        assert!(log.contains(&format!("event={event}")) || log.contains(&format!("event=\"{event}\"")), "no {event} audit event:\n{log}");
    }
    let mut secrets = vec![
        ("password", PASSWORD.to_string()),
        ("wrong password", wrong_password.to_string()),
        ("client secret", secret.clone()),
        ("wrong client secret", "wrong-secret-marker".to_string()),
        ("code", code),
        ("code verifier", verifier),
        ("access token", access),
        ("refresh token", refresh_token),
        ("new refresh token", new_refresh),
        ("ID token", id_token),
    ];
    if let Some(cookie) = session_cookie {
        secrets.push(("cookie", cookie));
    }
    for (what, value) in secrets {
        assert!(!log.contains(&value), "the log contains the {what}");
    }
    assert!(!log.lines().any(|line| line.starts_with("INFO forged")), "a forged log line");
}

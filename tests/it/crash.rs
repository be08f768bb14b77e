//! Nothing lost: the server is killed with SIGKILL while users are created
//! (CLI) and tokens issued (HTTP). After each restart the database is
//! intact, every acknowledged user exists, and every token that reached a
//! client is known to introspection.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::*;

fn command(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    command
        .current_dir(dir)
        .env("LATCHKEY_PASSWORD_MEMORY_KIB", "256")
        .env("LATCHKEY_PASSWORD_ITERATIONS", "1")
        .env("LATCHKEY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

async fn start_server(dir: &std::path::Path, port: u16) -> Child {
    let child = command(dir)
        .arg("serve")
        .env("LATCHKEY_SERVER_ISSUER", format!("http://127.0.0.1:{port}"))
        .env("LATCHKEY_SERVER_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = child;
    for _ in 0..400 {
        if http().get(format!("http://127.0.0.1:{port}/healthz")).send().await.is_ok() {
            return child;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start");
}

#[tokio::test]
async fn kill_nine_loses_nothing_that_was_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = command(dir.path()).args(["user", "add", "alice", "--password-stdin"]).stdin(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    let output = command(dir.path()).args(["client", "add", "webapp", "--redirect-uri", RP_CALLBACK]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let secret = stdout.lines().find_map(|line| line.strip_prefix("client_secret: ")).unwrap().to_string();

    let acknowledged_users = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut returned_refresh_tokens = Vec::<String>::new();
    for round in 0..3 {
        let mut server = start_server(dir.path(), port).await;
        // Users are created by the CLI in the background while the server works.
        let stop = Arc::new(AtomicBool::new(false));
        let creator = {
            let (stop, users, path) = (stop.clone(), acknowledged_users.clone(), dir.path().to_path_buf());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let name = format!("user{round}x{i}");
                    let mut child = command(&path).args(["user", "add", &name, "--password-stdin"]).stdin(Stdio::piped()).spawn().unwrap();
                    child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
                    if child.wait().unwrap().success() {
                        users.lock().unwrap().push(name);
                    }
                    i += 1;
                }
            })
        };
        // Logins and code exchanges until the kill.
        let browser = browser();
        for _ in 0..4 {
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs([("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid offline_access")])
                .finish();
            let callback = login_and_consent(&browser, &format!("{base}/authorize?{query}"), "alice").await;
            let code = query_param(&callback, "code").unwrap();
            let response = http()
                .post(format!("{base}/token"))
                .basic_auth("webapp", Some(&secret))
                .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", RP_CALLBACK)])
                .send()
                .await
                .unwrap();
            let body: serde_json::Value = response.json().await.unwrap();
            returned_refresh_tokens.push(body["refresh_token"].as_str().unwrap().to_string());
        }
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        creator.join().unwrap();
    }

    let mut server = start_server(dir.path(), port).await;
    let db = rusqlite::Connection::open(dir.path().join("data/latchkey.db")).unwrap();
    let check: String = db.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
    assert_eq!(check, "ok");
    for name in acknowledged_users.lock().unwrap().iter() {
        let exists: bool = db.query_row("SELECT EXISTS(SELECT 1 FROM users WHERE username = ?1)", [name], |row| row.get(0)).unwrap();
        assert!(exists, "acknowledged user {name} is missing");
    }
    assert!(!acknowledged_users.lock().unwrap().is_empty());
    for token in &returned_refresh_tokens {
        let response = http().post(format!("{base}/introspect")).basic_auth("webapp", Some(&secret)).form(&[("token", token.as_str())]).send().await.unwrap();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["active"], true, "a refresh token that reached the client was lost");
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

//! Operating latchkey: /metrics, /readyz, the request log line and JSON
//! logs, graceful shutdown with a WAL checkpoint, `latchkey backup`, and the
//! `[ui]` theme.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey::oidc::admin::{self, NewUser};
use secrecy::SecretString;

use crate::support::*;

/// One sample of the Prometheus text: name and labels.
fn samples(body: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let labels = rest.trim_end_matches('}');
                    let map = labels
                        .split("\",")
                        .filter(|pair| !pair.is_empty())
                        .map(|pair| {
                            let (key, value) = pair.split_once('=').unwrap();
                            (key.to_string(), value.trim_matches('"').to_string())
                        })
                        .collect();
                    (name.to_string(), map)
                }
                None => (series.to_string(), BTreeMap::new()),
            };
            (name, labels, value.parse().unwrap())
        })
        .collect()
}

/// The value of the series `name` whose labels include `labels` (0 if absent).
fn metric(body: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(body)
        .into_iter()
        .filter(|(sample, map, _)| {
            sample == name && labels.iter().all(|(key, value)| map.get(*key).map(String::as_str) == Some(*value))
        })
        .map(|(_, _, value)| value)
        .sum()
}

async fn scrape(server: &TestServer) -> String {
    let response = http().get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_logins_tokens_and_reuse() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    let secret = server.add_confidential_client("rp", &[RP_CALLBACK]).await;
    // Counters belong to the process, which other tests share: compare
    // before and after, and expect at least this test's own counts.
    let before = scrape(&server).await;

    let browser = browser();
    let url = authorize_url(&server, &[("response_type", "code"), ("client_id", "rp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid")]);
    let response = browser.get(&url).send().await.unwrap();
    let login_url = location(response.headers());
    let page = browser.get(&login_url).send().await.unwrap().text().await.unwrap();
    let form = [
        ("request_id", hidden_field(&page, "request_id")),
        ("csrf_token", hidden_field(&page, "csrf_token")),
        ("username", "alice".to_string()),
        ("password", "wrong password".to_string()),
    ];
    let failed = browser.post(server.url("/login")).form(&form).send().await.unwrap();
    assert_eq!(failed.status(), 401);

    let tokens = obtain_tokens(&server, "rp", &secret, "openid offline_access").await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();
    let (status, _) = refresh(&server, "rp", &secret, &refresh_token, None).await;
    assert_eq!(status, 200);
    server.clock.advance(60);
    let (status, _) = refresh(&server, "rp", &secret, &refresh_token, None).await;
    assert_eq!(status, 400, "a reuse after the retry window");

    let after = scrape(&server).await;
    let delta = |name: &str, labels: &[(&str, &str)]| metric(&after, name, labels) - metric(&before, name, labels);
    assert!(delta("latchkey_logins_total", &[("result", "failed")]) >= 1.0, "{after}");
    assert!(delta("latchkey_logins_total", &[("result", "succeeded")]) >= 1.0);
    assert!(delta("latchkey_tokens_issued_total", &[("grant", "authorization_code")]) >= 1.0);
    assert!(delta("latchkey_tokens_issued_total", &[("grant", "refresh_token")]) >= 1.0);
    assert!(delta("latchkey_refresh_token_reuse_total", &[]) >= 1.0);
    assert!(delta("latchkey_http_requests_total", &[("endpoint", "/token"), ("method", "POST"), ("status", "200")]) >= 2.0);
    assert!(delta("latchkey_http_requests_total", &[("endpoint", "/login"), ("method", "POST"), ("status", "401")]) >= 1.0);
    assert!(metric(&after, "latchkey_http_request_duration_seconds_count", &[("endpoint", "/token")]) >= 2.0);
    assert!(metric(&after, "latchkey_http_request_duration_seconds_bucket", &[("endpoint", "/token"), ("le", "+Inf")]) >= 2.0);
    // Labels are route templates, never raw paths or queries.
    assert!(!after.contains("request_id="), "a query string leaked into a label");
    for (name, labels, _) in samples(&after) {
        if let Some(endpoint) = labels.get("endpoint") {
            assert!(endpoint.starts_with('/') || endpoint == "unmatched", "{name} {endpoint}");
            assert!(!endpoint.contains('?'));
        }
    }
    // Gauges sampled for this server at scrape time.
    assert_eq!(metric(&after, "latchkey_signing_keys", &[("state", "active")]), 1.0);
    assert_eq!(metric(&after, "latchkey_signing_keys", &[("state", "retired")]), 0.0);
    let due = metric(&after, "latchkey_signing_key_rotation_due_seconds", &[]);
    let period = server.provider.config.keys.rotate_every.as_secs() as f64;
    assert!(due <= period - 60.0 && due > period - 120.0, "rotation due in {due}s (the clock moved 60s)");
    assert!(after.contains("latchkey_password_hashes_running 0"), "{after}");
    assert!(after.contains("latchkey_password_hashes_waiting 0"));
    assert!(!after.contains(&refresh_token) && !after.contains(&secret));

    // A client may send any token as a method: it must not become a label
    // (each would be a series kept forever).
    let odd = reqwest::Method::from_bytes(b"XYZZYMETHOD").unwrap();
    let response = http().request(odd, server.url("/jwks")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let scraped = scrape(&server).await;
    assert!(!scraped.contains("XYZZYMETHOD"), "a method became a label");
    assert!(metric(&scraped, "latchkey_http_requests_total", &[("endpoint", "/jwks"), ("method", "other"), ("status", "405")]) >= 1.0);

    // The rotation countdown starts when a key becomes active, as the
    // schedule counts it (not when it was created as the next key).
    server.clock.advance(1000);
    server.provider.keys.rotate(server.provider.store.as_ref(), server.provider.now()).await.unwrap();
    let due = metric(&scrape(&server).await, "latchkey_signing_key_rotation_due_seconds", &[]);
    assert!(due > period - 60.0, "rotation due in {due}s right after a rotation");
    server.stop().await;
}

#[tokio::test]
async fn throttled_logins_are_counted() {
    let server = TestServer::start_with(|config| {
        config.rate_limit.login_per_second = 1;
        config.rate_limit.login_burst = 1;
    })
    .await;
    let before = scrape(&server).await;
    let mut throttled = 0;
    for _ in 0..5 {
        let response = http().post(server.url("/login")).form(&[("request_id", "x")]).send().await.unwrap();
        if response.status() == 429 {
            throttled += 1;
        }
    }
    assert!(throttled >= 1);
    let after = scrape(&server).await;
    let counted = metric(&after, "latchkey_logins_total", &[("result", "throttled")])
        - metric(&before, "latchkey_logins_total", &[("result", "throttled")]);
    assert!(counted >= throttled as f64, "{counted} < {throttled}");
    server.stop().await;
}

#[tokio::test]
async fn readyz_answers_503_while_the_database_cannot_be_written() {
    let server = TestServer::start().await;
    let response = http().get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");

    // Another connection holds the write lock.
    let db = server.provider.config.database.path.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let locker = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        locked_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        conn.execute_batch("ROLLBACK").unwrap();
    });
    locked_rx.recv().unwrap();
    let response = http().get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["reason"], "the database is not writable");
    // Liveness does not depend on the database.
    assert_eq!(http().get(server.url("/healthz")).send().await.unwrap().status(), 200);
    release_tx.send(()).unwrap();
    locker.join().unwrap();
    assert_eq!(http().get(server.url("/readyz")).send().await.unwrap().status(), 200);
    server.stop().await;
}

fn wal_len(server_db: &std::path::Path) -> u64 {
    let wal = server_db.with_extension("db-wal");
    std::fs::metadata(wal).map(|meta| meta.len()).unwrap_or(0)
}

#[tokio::test]
async fn checkpoint_empties_the_write_ahead_log_and_shutdown_runs_it() {
    let mut server = TestServer::start().await;
    let db = server.provider.config.database.path.clone();
    // Keep the database directory after the server is gone.
    let _dir = std::mem::replace(&mut server.dir, tempfile::tempdir().unwrap());
    server.add_user("alice").await;
    assert!(wal_len(&db) > 0, "writes go to the WAL first");
    // The start-up purge runs concurrently and may write in between: a
    // later checkpoint must still empty the log.
    let mut attempts = 0;
    loop {
        let checkpoint = server.provider.store.checkpoint().await.unwrap();
        assert_eq!(checkpoint.log_frames, checkpoint.checkpointed_frames, "{checkpoint:?}");
        if checkpoint.complete && wal_len(&db) == 0 {
            break;
        }
        attempts += 1;
        assert!(attempts < 10, "the WAL is still {} bytes after {checkpoint:?}", wal_len(&db));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    server.add_user("bob").await;
    assert!(wal_len(&db) > 0);
    // A request in flight when shutdown starts is answered first: /readyz
    // waits (up to 500 ms) for a write lock that another connection holds.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let locker = std::thread::spawn({
        let db = db.clone();
        move || {
            let conn = rusqlite::Connection::open(db).unwrap();
            conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
            locked_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            conn.execute_batch("ROLLBACK").unwrap();
        }
    });
    locked_rx.recv().unwrap();
    let in_flight = tokio::spawn({
        let url = server.url("/readyz");
        async move { http().get(url).send().await.map(|response| response.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = tokio::spawn(server.stop());
    assert_eq!(in_flight.await.unwrap().unwrap(), 503, "the in-flight request was answered");
    release_tx.send(()).unwrap();
    locker.join().unwrap();
    stopping.await.unwrap();
    assert_eq!(wal_len(&db), 0, "shutdown checkpointed the WAL");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let users: i64 = conn.query_row("SELECT count(*) FROM users", [], |row| row.get(0)).unwrap();
    assert_eq!(users, 2);
}

fn latchkey(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    command
        .current_dir(dir)
        .env("LATCHKEY_PASSWORD_MEMORY_KIB", "256")
        .env("LATCHKEY_PASSWORD_ITERATIONS", "1")
        .env("LATCHKEY_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[tokio::test]
async fn backup_while_users_are_created_is_complete_and_consistent() {
    let server = TestServer::start().await;
    let db = server.provider.config.database.path.clone();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let creator = tokio::spawn({
        let provider = server.provider.clone();
        let acknowledged = acknowledged.clone();
        let stop = stop.clone();
        async move {
            for n in 0.. {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let name = format!("user{n}");
                admin::add_user(
                    &provider,
                    NewUser { username: name.clone(), display_name: None, email: None, password: SecretString::from(PASSWORD) },
                )
                .await
                .unwrap();
                acknowledged.lock().unwrap().push(name);
            }
        }
    });
    while acknowledged.lock().unwrap().len() < 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("latchkey-backup.db");
    let before_backup: Vec<String> = acknowledged.lock().unwrap().clone();
    let output = {
        let mut command = latchkey(work.path());
        command.env("LATCHKEY_DATABASE_PATH", &db).args(["backup", target.to_str().unwrap()]);
        tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
    };
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("backup written to"));
    let during_backup = acknowledged.lock().unwrap().len();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    creator.await.unwrap();
    assert!(during_backup > before_backup.len(), "users were created while the backup ran");
    let total = acknowledged.lock().unwrap().len() as i64;

    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
    let conn = rusqlite::Connection::open(&target).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
    assert_eq!(check, "ok");
    let mut statement = conn.prepare("SELECT username FROM users").unwrap();
    let names: Vec<String> = statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect();
    for name in &before_backup {
        assert!(names.contains(name), "{name} was acknowledged before the backup but is missing");
    }
    let keys: i64 = conn.query_row("SELECT count(*) FROM signing_keys", [], |row| row.get(0)).unwrap();
    assert!(keys >= 1);
    drop(statement);
    drop(conn);

    // An existing file is never overwritten without --force.
    let mut command = latchkey(work.path());
    let output = command.env("LATCHKEY_DATABASE_PATH", &db).args(["backup", target.to_str().unwrap()]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--force"));
    let mut command = latchkey(work.path());
    let output =
        command.env("LATCHKEY_DATABASE_PATH", &db).args(["backup", "--force", target.to_str().unwrap()]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let conn = rusqlite::Connection::open(&target).unwrap();
    let users: i64 = conn.query_row("SELECT count(*) FROM users", [], |row| row.get(0)).unwrap();
    assert_eq!(users, total);
    let leftovers: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // No database: a clear error, not a new empty one.
    let mut command = latchkey(work.path());
    let output = command.env("LATCHKEY_DATABASE_PATH", work.path().join("missing.db")).args(["backup", "x.db"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no database"));
    assert!(!work.path().join("missing.db").exists());
    server.stop().await;
}

#[test]
fn cli_audit_events_are_json_lines_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = latchkey(dir.path());
    let mut child = command
        .args(["--log-format", "json", "user", "add", "carol", "--password-stdin"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"hunter2 hunter2\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let events: Vec<serde_json::Value> = stderr.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let created = events.iter().find(|event| event["event"] == "user_created").unwrap_or_else(|| panic!("{stderr}"));
    assert_eq!(created["username"], "carol");
    assert!(!stderr.contains("hunter2") && !stderr.contains("argon2"));

    // The config file's [log] format, and the flag beating it.
    let output = latchkey(dir.path()).env("LATCHKEY_LOG_FORMAT", "json").args(["client", "delete", "nope"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let output = latchkey(dir.path()).env("LATCHKEY_LOG_FORMAT", "json").args(["client", "add", "app", "--redirect-uri", "https://app.example/cb"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let secret = stdout.lines().find_map(|line| line.strip_prefix("client_secret: ")).unwrap();
    assert!(stderr.lines().any(|line| serde_json::from_str::<serde_json::Value>(line).is_ok_and(|event| event["event"] == "client_created")), "{stderr}");
    assert!(!stderr.contains(secret));
    let output = latchkey(dir.path())
        .env("LATCHKEY_LOG_FORMAT", "json")
        .args(["--log-format", "text", "client", "rotate-secret", "app"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(stderr.contains("client_secret_rotated") && serde_json::from_str::<serde_json::Value>(stderr.lines().next().unwrap()).is_err(), "{stderr}");
    let output = latchkey(dir.path()).args(["--log-format", "xml", "user", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn serve_logs_one_json_line_per_request_and_checkpoints_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let added = latchkey(dir.path())
        .env("LATCHKEY_SERVER_ISSUER", &base)
        .args(["client", "add", "app", "--public", "--redirect-uri", "http://127.0.0.1:9/cb"])
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let mut child = latchkey(dir.path())
        .env("LATCHKEY_SERVER_LISTEN", format!("127.0.0.1:{port}"))
        .env("LATCHKEY_SERVER_ISSUER", &base)
        .args(["--log-format", "json", "serve"])
        .spawn()
        .unwrap();
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(response) = http().get(format!("{base}/healthz")).send().await {
            ready = response.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the server did not start");
    let secret_code = "c0de-that-must-not-be-logged";
    let response = http()
        .get(format!("{base}/authorize?client_id=nobody&code={secret_code}&response_type=code"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let known = http()
        .get(format!(
            "{base}/authorize?response_type=code&client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&scope=openid&state=s\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(known.status(), 303);
    assert_eq!(http().get(format!("{base}/readyz")).send().await.unwrap().status(), 200);
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || {
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        (child.wait().unwrap(), stderr)
    })
    .await
    .unwrap();
    let (exit, stderr) = output;
    assert!(exit.success(), "exit {exit:?}: {stderr}");
    assert!(!stderr.contains(secret_code), "a query string was logged: {stderr}");
    let events: Vec<serde_json::Value> = BufReader::new(stderr.as_bytes())
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap_or_else(|err| panic!("not JSON ({err}): {stderr}")))
        .collect();
    let authorize = events
        .iter()
        .find(|event| event["event"] == "request" && event["path"] == "/authorize")
        .unwrap_or_else(|| panic!("no request line: {stderr}"));
    assert_eq!(authorize["method"], "GET");
    assert_eq!(authorize["status"], 400);
    assert!(authorize["latency_ms"].as_f64().is_some());
    assert_eq!(authorize["client_id"], "-", "an unregistered client id is not echoed");
    assert!(events.iter().any(|event| event["event"] == "request" && event["path"] == "/readyz" && event["status"] == 200));
    assert!(
        events.iter().any(|event| event["event"] == "request" && event["status"] == 303 && event["client_id"] == "app"),
        "the request line names a registered client: {stderr}"
    );
    let checkpoint = events.iter().position(|event| event["event"] == "shutdown_checkpoint").unwrap_or_else(|| panic!("{stderr}"));
    let last_request = events.iter().rposition(|event| event["event"] == "request").unwrap();
    assert!(checkpoint > last_request);
    assert_eq!(std::fs::metadata(dir.path().join("data/latchkey.db-wal")).map(|meta| meta.len()).unwrap_or(0), 0);
}

#[tokio::test]
async fn the_ui_theme_is_configurable_escaped_and_keeps_the_csp() {
    let assets = tempfile::tempdir().unwrap();
    let css_path = assets.path().join("custom.css");
    std::fs::write(&css_path, ":root { --accent: #0a7f4f; }\n").unwrap();
    let server = TestServer::start_with(|config| {
        config.ui.title = "<b>Acme & Co</b>".into();
        config.ui.logo_url = "https://cdn.example/logo.svg?v=\"2\"&x=<y>".into();
        config.ui.custom_css = css_path.clone();
    })
    .await;
    let response = http().get(server.url("/demo")).send().await.unwrap();
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    let page = response.text().await.unwrap();
    assert!(!page.contains("<b>Acme"), "the title was not escaped: {page}");
    assert!(!page.contains("\"2\"") && !page.contains("<y>"), "the logo URL was not escaped: {page}");
    let unescaped = html_unescape(&page);
    assert!(unescaped.contains("<title>Demo · <b>Acme & Co</b></title>"), "{page}");
    assert!(unescaped.contains("<span class=\"brand-name\"><b>Acme & Co</b></span>"));
    assert!(unescaped.contains("src=\"https://cdn.example/logo.svg?v=\"2\"&x=<y>\""));
    assert!(!page.contains("brand-mark"), "the logo replaces the built-in mark");
    assert!(page.contains("<link rel=\"stylesheet\" href=\"/static/custom.css\">"));
    let style_at = page.find("/static/style.css").unwrap();
    assert!(page.find("/static/custom.css").unwrap() > style_at, "custom CSS comes after the built-in one");
    assert!(csp.contains("img-src 'self' data: https://cdn.example;"), "{csp}");
    assert!(csp.contains("style-src 'self';") && !csp.contains("unsafe-inline"), "{csp}");

    let css = http().get(server.url("/static/custom.css")).send().await.unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(css.text().await.unwrap(), ":root { --accent: #0a7f4f; }\n");
    server.stop().await;

    // Defaults: the built-in mark and name, no custom stylesheet.
    let server = TestServer::start().await;
    let response = http().get(server.url("/demo")).send().await.unwrap();
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    let page = response.text().await.unwrap();
    assert!(page.contains("<title>Demo · latchkey</title>") && page.contains("brand-mark"), "{page}");
    assert!(!page.contains("custom.css"));
    assert!(csp.contains("img-src 'self' data:;"), "{csp}");
    assert_eq!(http().get(server.url("/static/custom.css")).send().await.unwrap().status(), 404);
    let icon = http().get(server.url("/static/favicon.svg")).send().await.unwrap();
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    assert!(page.contains("href=\"/static/favicon.svg\""));
    server.stop().await;
}

#[tokio::test]
async fn an_unreadable_custom_stylesheet_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = test_config(dir.path(), &base);
    config.ui.custom_css = dir.path().join("missing.css");
    let provider = latchkey::open_provider(config, Arc::new(latchkey::clock::SystemClock)).await.unwrap();
    let err = latchkey::serve(provider, false, listener, async {}).await.unwrap_err();
    assert!(err.to_string().contains("ui.custom_css") && err.to_string().contains("missing.css"), "{err}");
}

/// `ui.templates_dir` replaces built-in pages without rebuilding; values
/// stay escaped and the page headers stay; a stray or broken template
/// stops the start with a message naming it.
#[tokio::test]
async fn operator_templates_replace_pages() {
    let templates = tempfile::tempdir().unwrap();
    std::fs::write(
        templates.path().join("error.html"),
        "<!doctype html><title>{{ brand }}</title><p class=\"custom-error\">Custom: {{ message }}</p>",
    )
    .unwrap();
    std::fs::write(
        templates.path().join("login.html"),
        "<form method=\"post\" action=\"{{ action }}\"><h1 class=\"custom-login\">{{ client_id }}</h1>\
         <input type=\"hidden\" name=\"request_id\" value=\"{{ request_id }}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{{ csrf_token }}\">\
         <input name=\"username\" value=\"{{ username }}\"><input name=\"password\" type=\"password\"></form>",
    )
    .unwrap();
    let dir = templates.path().to_path_buf();
    let server = TestServer::start_with(move |config| {
        config.ui.templates_dir = dir;
        config.ui.title = "Acme <Login>".into();
    })
    .await;
    server.add_user("alice").await;
    server.add_confidential_client("webapp", &[RP_CALLBACK]).await;

    let response = http().get(server.url("/authorize?client_id=<script>x</script>")).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let html = response.text().await.unwrap();
    assert!(html.contains("class=\"custom-error\""), "{html}");
    assert!(html.contains("Acme &lt;Login&gt;"), "{html}");
    assert!(!html.contains("<script>"));

    // The replaced login page still works end to end.
    let browser = browser();
    let url = authorize_url(&server, &[("response_type", "code"), ("client_id", "webapp"), ("redirect_uri", RP_CALLBACK), ("scope", "openid"), ("login_hint", "\"><b>x</b>")]);
    let login = location(browser.get(&url).send().await.unwrap().headers());
    let page = browser.get(&login).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("class=\"custom-login\""), "{page}");
    assert!(!page.contains("<b>x</b>"), "{page}");
    let consent = submit_login(&browser, &login, "alice", PASSWORD).await;
    assert!(consent.contains("/consent?"));
    server.stop().await;

    // A file that is not a page, and one that does not compile.
    for (name, body, expected) in [("admin.html", "x", "not a latchkey page"), ("consent.html", "{% if %}", "does not compile")] {
        let bad = tempfile::tempdir().unwrap();
        std::fs::write(bad.path().join(name), body).unwrap();
        let ui = latchkey::config::UiConfig { templates_dir: bad.path().to_path_buf(), ..Default::default() };
        let err = latchkey::http::theme::Theme::load(&ui).unwrap_err();
        assert!(err.contains(name) && err.contains(expected), "{err}");
    }
}

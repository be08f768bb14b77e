//! Signing key rotation as relying parties live through it: rotation under
//! traffic, revocation, the schedule driven by the manual clock, crash
//! points, concurrent rotations, file permissions, encryption at rest and
//! the `latchkey keys` commands.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use latchkey::clock::{Clock, ManualClock};
use latchkey::config::{Config, Passphrase};
use latchkey::oidc::Provider;
use latchkey::store::{KeyState, SigningKeyRecord};
use latchkey::tokens::rotation::ORPHAN_GRACE_SECS;
use latchkey::tokens::{CrashPoint, KeyError, KeyPolicy};
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, Nonce};

use crate::support::*;

fn header_kid(token: &str) -> String {
    use base64::Engine;
    let segment = token.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_string()
}

async fn jwks(server: &TestServer) -> serde_json::Value {
    let response = http().get(server.url("/jwks")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn jwks_kids(jwks: &serde_json::Value) -> HashSet<String> {
    jwks["keys"].as_array().unwrap().iter().map(|key| key["kid"].as_str().unwrap().to_string()).collect()
}

async fn records(provider: &Provider) -> Vec<SigningKeyRecord> {
    provider.store.list_signing_keys().await.unwrap()
}

fn kid_in(records: &[SigningKeyRecord], state: KeyState) -> String {
    let found: Vec<&SigningKeyRecord> = records.iter().filter(|record| record.state == state).collect();
    assert_eq!(found.len(), 1, "exactly one {state:?} key in {records:?}");
    found[0].kid.clone()
}

fn key_files(dir: &Path) -> HashSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".pem") || name.ends_with(".pem.tmp"))
        .collect()
}

/// The invariants every crash must preserve: one active and one next key,
/// and a file for every key that is published.
async fn assert_store_consistent(provider: &Provider) -> Vec<SigningKeyRecord> {
    let records = records(provider).await;
    kid_in(&records, KeyState::Active);
    kid_in(&records, KeyState::Next);
    let files = key_files(&provider.config.keys.dir);
    for record in records.iter().filter(|record| record.state != KeyState::Retired) {
        assert!(files.contains(&format!("{}.pem", record.kid)), "published key {} has no file", record.kid);
    }
    records
}

/// As `assert_store_consistent`, and the provider's ring signs with the active key.
async fn assert_consistent(provider: &Provider) -> Vec<SigningKeyRecord> {
    let records = assert_store_consistent(provider).await;
    let ring = provider.keys.current();
    assert_eq!(ring.active().unwrap().kid, kid_in(&records, KeyState::Active));
    records
}

/// One full code flow and token request; returns the token response.
async fn fetch_tokens(server: &TestServer, browser: &reqwest::Client, secret: &str) -> (u16, serde_json::Value) {
    let code = obtain_code(server, browser, "webapp", &[]).await;
    let (status, body, _) = token_request(
        server,
        Some(("webapp", secret)),
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", RP_CALLBACK)],
    )
    .await;
    (status, body)
}

async fn userinfo_status(server: &TestServer, access_token: &str) -> u16 {
    http().get(server.url("/userinfo")).bearer_auth(access_token).send().await.unwrap().status().as_u16()
}

/// Waits until the client task has `count` token responses; fails if it ended first.
async fn wait_for<T>(issued: &AtomicUsize, count: usize, client: &tokio::task::JoinHandle<T>) {
    while issued.load(Ordering::SeqCst) < count {
        assert!(!client.is_finished(), "the client stopped before {count} token responses");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_by_another_process_under_traffic_fails_no_request() {
    let server = Arc::new(TestServer::start().await);
    server.add_user("alice").await;
    let secret = server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let before = records(&server.provider).await;
    let old_active = kid_in(&before, KeyState::Active);
    let old_next = kid_in(&before, KeyState::Next);

    let issued = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (server, secret, issued, stop) = (server.clone(), secret.clone(), issued.clone(), stop.clone());
        tokio::spawn(async move {
            let browser = browser();
            let mut tokens = Vec::new();
            // Bounded: at most 300 rounds, paced so that they outlast the
            // server's maintenance interval.
            for _ in 0..300 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let (status, body) = fetch_tokens(&server, &browser, &secret).await;
                assert_eq!(status, 200, "token request failed: {body}");
                let id_token = body["id_token"].as_str().unwrap().to_string();
                let access_token = body["access_token"].as_str().unwrap().to_string();
                // Whatever key signed it is in the JWKS a relying party fetches now.
                let published = jwks_kids(&jwks(&server).await);
                assert!(published.contains(&header_kid(&id_token)), "{} not in {published:?}", header_kid(&id_token));
                assert!(published.contains(&header_kid(&access_token)));
                assert_eq!(userinfo_status(&server, &access_token).await, 200);
                tokens.push((id_token, access_token));
                issued.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            tokens
        })
    };
    wait_for(&issued, 5, &client).await;
    // `latchkey keys rotate` in another process: its own provider on the same files.
    let cli = latchkey::open_provider(server.provider.config.as_ref().clone(), Arc::new(server.clock.clone())).await.unwrap();
    let rotation = cli.keys.rotate(cli.store.as_ref(), cli.now()).await.unwrap();
    assert_eq!(rotation.activated, old_next);
    assert_eq!(rotation.retiring.as_deref(), Some(old_active.as_str()));
    // The running server notices within 10 s, by itself.
    let mut waited = Duration::ZERO;
    while server.provider.keys.current().active().unwrap().kid != old_next {
        assert!(waited < Duration::from_secs(10), "the server did not pick up the rotation");
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
    wait_for(&issued, issued.load(Ordering::SeqCst) + 5, &client).await;
    stop.store(true, Ordering::SeqCst);
    let tokens = client.await.unwrap();

    let kids: Vec<String> = tokens.iter().map(|(id_token, _)| header_kid(id_token)).collect();
    assert!(kids.contains(&old_active), "tokens were issued before the rotation");
    assert_eq!(kids.last(), Some(&old_next), "new tokens carry the new kid");
    let final_jwks = jwks(&server).await;
    let published = jwks_kids(&final_jwks);
    assert_eq!(published, HashSet::from([old_active.clone(), old_next.clone(), rotation.next.clone()]));

    // Every token, old or new, verifies against the JWKS with a standard RP library.
    let key_set: CoreJsonWebKeySet = serde_json::from_value(final_jwks).unwrap();
    let verifier = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new("webapp".into()),
        ClientSecret::new(secret.clone()),
        IssuerUrl::new(server.base.clone()).unwrap(),
        key_set,
    );
    for (id_token, access_token) in &tokens {
        let parsed: CoreIdToken = id_token.parse().unwrap();
        parsed.claims(&verifier, |_: Option<&Nonce>| Ok(())).expect("a valid ID token");
        assert_eq!(userinfo_status(&server, access_token).await, 200);
    }
    assert_consistent(&server.provider).await;
}

#[tokio::test]
async fn revocation_removes_the_key_at_once_and_its_tokens_fail() {
    let server = TestServer::start().await;
    server.add_user("alice").await;
    let secret = server.add_confidential_client("webapp", &[RP_CALLBACK]).await;
    let browser = browser();
    let (_, body) = fetch_tokens(&server, &browser, &secret).await;
    let old_token = body["access_token"].as_str().unwrap().to_string();
    let compromised = header_kid(&old_token);
    let next = kid_in(&records(&server.provider).await, KeyState::Next);
    assert_eq!(userinfo_status(&server, &old_token).await, 200);

    let provider = &server.provider;
    let revoked = provider.keys.revoke(provider.store.as_ref(), &compromised, provider.now()).await.unwrap();
    assert_eq!(revoked.was, KeyState::Active);
    assert_eq!(revoked.activated.as_deref(), Some(next.as_str()));
    let published = jwks_kids(&jwks(&server).await);
    assert!(!published.contains(&compromised), "the revoked key is still published");
    assert!(published.contains(&next));
    assert_eq!(userinfo_status(&server, &old_token).await, 401);
    assert!(!provider.config.keys.dir.join(format!("{compromised}.pem")).exists(), "the file is wiped");

    let (status, body) = fetch_tokens(&server, &browser, &secret).await;
    assert_eq!(status, 200);
    let new_token = body["access_token"].as_str().unwrap();
    assert_eq!(header_kid(new_token), next);
    assert_eq!(userinfo_status(&server, new_token).await, 200);
    let records = assert_consistent(provider).await;
    let record = records.iter().find(|record| record.kid == compromised).unwrap();
    assert_eq!(record.state, KeyState::Retired);
    assert!(record.revoked_at.is_some());

    let err = provider.keys.revoke(provider.store.as_ref(), "no-such-kid", provider.now()).await.unwrap_err();
    assert!(matches!(err, KeyError::UnknownKid(_)), "{err}");
    let err = provider.keys.revoke(provider.store.as_ref(), &compromised, provider.now()).await.unwrap_err();
    assert!(matches!(err, KeyError::AlreadyRetired(_)), "{err}");
    assert_eq!(key_files(&provider.config.keys.dir).len(), 2, "unused replacement files are removed");
    server.stop().await;
}

#[tokio::test]
async fn the_schedule_rotates_and_retires_by_the_clock() {
    let server = TestServer::start_with(|config| {
        config.keys.rotate_every = Duration::from_secs(60);
        config.keys.retire_margin = Duration::from_secs(60);
        config.tokens.access_token_ttl = Duration::from_secs(600);
        config.tokens.id_token_ttl = Duration::from_secs(300);
    })
    .await;
    let provider = &server.provider;
    let policy = provider.keys.settings().policy;
    assert_eq!(policy, KeyPolicy { rotate_every: 60, publish_before_use: 300, retain_after_use: 660 });
    let response = http().get(server.url("/jwks")).send().await.unwrap();
    assert_eq!(response.headers()["cache-control"], "public, max-age=300", "the same max-age the schedule uses");

    let first = records(provider).await;
    let (a, n) = (kid_in(&first, KeyState::Active), kid_in(&first, KeyState::Next));
    // Active is due after 60 s, but next has not been published a JWKS max-age yet.
    server.clock.advance(120);
    latchkey::maintain_keys(provider).await.unwrap();
    assert_eq!(kid_in(&records(provider).await, KeyState::Active), a);
    server.clock.advance(180);
    latchkey::maintain_keys(provider).await.unwrap();
    let rotated = records(provider).await;
    assert_eq!(kid_in(&rotated, KeyState::Active), n);
    assert_eq!(kid_in(&rotated, KeyState::Retiring), a);
    let m = kid_in(&rotated, KeyState::Next);
    assert_eq!(provider.keys.current().active().unwrap().kid, n);
    assert_eq!(jwks_kids(&jwks(&server).await), HashSet::from([a.clone(), n.clone(), m.clone()]));

    // Retention: the longest token lifetime (10m) plus the margin (1m).
    server.clock.advance(659);
    latchkey::maintain_keys(provider).await.unwrap();
    assert!(jwks_kids(&jwks(&server).await).contains(&a), "still within retention");
    server.clock.advance(1);
    latchkey::maintain_keys(provider).await.unwrap();
    let after = records(provider).await;
    assert_eq!(after.iter().find(|record| record.kid == a).unwrap().state, KeyState::Retired);
    assert!(!jwks_kids(&jwks(&server).await).contains(&a), "retired keys leave the JWKS");
    assert!(!provider.config.keys.dir.join(format!("{a}.pem")).exists(), "retired key files are deleted");
    // Meanwhile n was due and m published long enough: the schedule went on.
    assert_eq!(kid_in(&after, KeyState::Active), m);
    assert_consistent(provider).await;
    server.stop().await;
}

#[tokio::test]
async fn jwks_has_an_etag_and_answers_if_none_match() {
    let server = TestServer::start().await;
    let response = http().get(server.url("/jwks")).send().await.unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    let not_modified = http().get(server.url("/jwks")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(not_modified.status(), 304);
    assert_eq!(not_modified.headers()["etag"].to_str().unwrap(), etag);
    assert!(not_modified.headers()["cache-control"].to_str().unwrap().contains("max-age=300"));
    let provider = &server.provider;
    provider.keys.rotate(provider.store.as_ref(), provider.now()).await.unwrap();
    let changed = http().get(server.url("/jwks")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
    server.stop().await;
}

/// A provider on a fresh directory, as `latchkey` would open it.
async fn open(config: &Config, clock: &ManualClock) -> Result<Provider, latchkey::Fatal> {
    latchkey::open_provider(config.clone(), Arc::new(clock.clone())).await
}

fn fresh_config() -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), "http://127.0.0.1:9");
    (dir, config)
}

#[tokio::test]
async fn a_crash_at_any_step_of_rotation_leaves_a_consistent_store_and_restart_resumes() {
    for crash in [CrashPoint::AfterTempFile, CrashPoint::AfterKeyFile, CrashPoint::AfterCommit] {
        let (_dir, config) = fresh_config();
        let clock = ManualClock::new();
        let provider = open(&config, &clock).await.unwrap();
        let before = records(&provider).await;
        let err = provider.keys.rotate_until(provider.store.as_ref(), clock.now(), crash).await.unwrap_err();
        assert!(matches!(err, KeyError::Interrupted(_)), "{crash:?}: {err}");
        // The "killed" process left its state; what is published has files.
        assert_store_consistent(&provider).await;
        let after = records(&provider).await;
        if crash == CrashPoint::AfterCommit {
            assert_eq!(kid_in(&after, KeyState::Active), kid_in(&before, KeyState::Next));
        } else {
            assert_eq!(after, before, "{crash:?}: nothing recorded before the file is complete");
        }
        drop(provider);

        // Restart at once: resumes; the orphan file is not touched yet (it
        // could belong to another process that is about to record it).
        let restarted = open(&config, &clock).await.unwrap();
        let records_now = assert_consistent(&restarted).await;
        let live: HashSet<String> = records_now.iter().map(|record| format!("{}.pem", record.kid)).collect();
        let orphans: Vec<String> = key_files(&config.keys.dir).difference(&live).cloned().collect();
        assert_eq!(orphans.len(), usize::from(crash != CrashPoint::AfterCommit), "{crash:?}: {orphans:?}");
        // Restart later: the orphan is gone, the rotation can proceed.
        drop(restarted);
        clock.advance(ORPHAN_GRACE_SECS + 600);
        let restarted = open(&config, &clock).await.unwrap();
        assert_consistent(&restarted).await;
        assert_eq!(key_files(&config.keys.dir), live, "{crash:?}: only live keys have files");
        restarted.keys.rotate(restarted.store.as_ref(), clock.now()).await.unwrap();
        assert_consistent(&restarted).await;
    }
}

#[tokio::test]
async fn a_crash_during_retirement_and_a_missing_next_key_are_repaired_at_start() {
    let (_dir, config) = fresh_config();
    let clock = ManualClock::new();
    let provider = open(&config, &clock).await.unwrap();
    let rotation = provider.keys.rotate(provider.store.as_ref(), clock.now()).await.unwrap();
    let old = rotation.retiring.unwrap();
    clock.advance(provider.keys.settings().policy.retain_after_use);
    let err = provider.keys.maintain_until(provider.store.as_ref(), clock.now(), CrashPoint::AfterMarkRetired).await.unwrap_err();
    assert!(matches!(err, KeyError::Interrupted(_)), "{err}");
    let old_file = config.keys.dir.join(format!("{old}.pem"));
    assert!(old_file.exists(), "killed between marking and wiping");
    drop(provider);
    let restarted = open(&config, &clock).await.unwrap();
    assert!(!old_file.exists(), "the retired key's file is wiped at start");
    assert!(!jwks_kids(&serde_json::from_slice(&restarted.keys.current().jwks_bytes()).unwrap()).contains(&old));
    let next = kid_in(&assert_consistent(&restarted).await, KeyState::Next);
    drop(restarted);

    // An active key but no next one (an older version, or a lost row): a next key is made.
    let db = rusqlite::Connection::open(&config.database.path).unwrap();
    db.execute("DELETE FROM signing_keys WHERE kid = ?1", [&next]).unwrap();
    drop(db);
    let restarted = open(&config, &clock).await.unwrap();
    let records = assert_consistent(&restarted).await;
    assert_ne!(kid_in(&records, KeyState::Next), next);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_and_rotations_end_in_one_consistent_state() {
    let (_dir, config) = fresh_config();
    let clock = ManualClock::new();
    // Two processes starting on an empty store at once.
    let (first, second) = tokio::join!(open(&config, &clock), open(&config, &clock));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_consistent(&first).await;
    assert_eq!(records(&first).await.len(), 2);

    for _ in 0..3 {
        let rotations: Vec<_> = [first.clone(), second.clone()]
            .into_iter()
            .map(|provider| {
                let now = clock.now();
                tokio::spawn(async move { provider.keys.rotate(provider.store.as_ref(), now).await })
            })
            .collect();
        let mut succeeded = 0;
        for rotation in rotations {
            match rotation.await.unwrap() {
                Ok(_) => succeeded += 1,
                Err(KeyError::RotatedElsewhere) => {}
                Err(err) => panic!("unexpected error: {err}"),
            }
        }
        assert!(succeeded >= 1);
        latchkey::maintain_keys(&first).await.unwrap();
        latchkey::maintain_keys(&second).await.unwrap();
        let records = assert_consistent(&first).await;
        assert_consistent(&second).await;
        // No lost key: every published key has a file, every file a live record.
        let live: HashSet<String> = records
            .iter()
            .filter(|record| record.state != KeyState::Retired)
            .map(|record| format!("{}.pem", record.kid))
            .collect();
        assert_eq!(key_files(&config.keys.dir), live);
    }
}

#[tokio::test]
async fn key_files_are_encrypted_with_a_passphrase_and_a_wrong_one_stops_start_up() {
    let (_dir, mut config) = fresh_config();
    config.keys.passphrase = Passphrase::new("correct passphrase");
    let clock = ManualClock::new();
    let provider = open(&config, &clock).await.unwrap();
    provider.keys.rotate(provider.store.as_ref(), clock.now()).await.unwrap();
    let files = key_files(&config.keys.dir);
    assert_eq!(files.len(), 3);
    for name in &files {
        let text = std::fs::read_to_string(config.keys.dir.join(name)).unwrap();
        assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"), "{name}: {}", &text[..40]);
    }
    let before = records(&provider).await;
    drop(provider);

    for (passphrase, words) in [(Passphrase::new("wrong passphrase"), "wrong passphrase"), (Passphrase::none(), "is encrypted")] {
        config.keys.passphrase = passphrase;
        let err = open(&config, &clock).await.unwrap_err();
        assert!(err.0.contains(words) && err.0.contains("LATCHKEY_KEYS_PASSPHRASE"), "{err}");
        assert_eq!(key_files(&config.keys.dir), files, "no new key was made");
    }
    config.keys.passphrase = Passphrase::new("correct passphrase");
    let provider = open(&config, &clock).await.unwrap();
    assert_eq!(records(&provider).await, before);
}

// The CLI, as an operator uses it (see cli.rs for the conventions).

fn run_cli(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    command
        .args(args)
        .current_dir(dir)
        .env("LATCHKEY_PASSWORD_MEMORY_KIB", "256")
        .env("LATCHKEY_PASSWORD_ITERATIONS", "1")
        .env("LATCHKEY_LOG", "warn")
        .stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn states(keys: &[(String, String, String)]) -> Vec<&str> {
    let mut states: Vec<&str> = keys.iter().map(|(_, state, _)| state.as_str()).collect();
    states.sort();
    states
}

fn with_state<'a>(keys: &'a [(String, String, String)], state: &str) -> &'a (String, String, String) {
    keys.iter().find(|(_, s, _)| s == state).unwrap()
}

fn listed(dir: &Path) -> Vec<(String, String, String)> {
    let out = run_cli(dir, &["keys", "list"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields[0].to_string(), fields[1].to_string(), line.to_string())
        })
        .collect()
}

#[test]
fn keys_rotate_list_and_revoke_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let keys = listed(dir.path());
    assert_eq!(states(&keys), ["active", "next"]);
    assert!(keys[0].2.matches(":00").count() + keys[0].2.matches('Z').count() >= 2, "times: {}", keys[0].2);
    let next = with_state(&keys, "next").0.clone();

    let out = run_cli(dir.path(), &["keys", "rotate"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("active:   {next}")), "{}", text(&out.stdout));
    let keys = listed(dir.path());
    assert_eq!(states(&keys), ["active", "next", "retiring"]);

    let out = run_cli(dir.path(), &["keys", "revoke", "nonexistent"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: no signing key has kid \"nonexistent\""), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
    assert_eq!(run_cli(dir.path(), &["keys", "revoke"], &[]).status.code(), Some(2));

    let retiring = with_state(&keys, "retiring").0.clone();
    let out = run_cli(dir.path(), &["keys", "revoke", &retiring], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let keys = listed(dir.path());
    let retired = with_state(&keys, "retired");
    assert_eq!(retired.0, retiring);
    assert!(retired.2.contains("revoked"), "{}", retired.2);
    assert!(!dir.path().join("keys").join(format!("{retiring}.pem")).exists());
    let out = run_cli(dir.path(), &["keys", "revoke", &retiring], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("already retired"));
}

#[test]
fn a_group_readable_key_directory_stops_the_server() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    assert!(run_cli(dir.path(), &["keys", "list"], &[]).status.success());
    let keys_dir: PathBuf = dir.path().join("keys");
    std::fs::set_permissions(&keys_dir, std::fs::Permissions::from_mode(0o750)).unwrap();
    let out = run_cli(dir.path(), &["serve"], &[("LATCHKEY_SERVER_LISTEN", "127.0.0.1:0")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("key directory") && stderr.contains("chmod 700"), "{stderr}");
    assert!(stderr.contains(&keys_dir.display().to_string()) || stderr.contains("keys"), "{stderr}");
    assert_eq!(std::fs::metadata(&keys_dir).unwrap().permissions().mode() & 0o777, 0o750, "refused, not silently fixed");
}

#[test]
fn the_passphrase_from_the_environment_encrypts_and_a_wrong_one_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let right = [("LATCHKEY_KEYS_PASSPHRASE", "open sesame")];
    assert!(run_cli(dir.path(), &["keys", "list"], &right).status.success());
    let files = key_files(&dir.path().join("keys"));
    assert_eq!(files.len(), 2);
    for name in &files {
        let pem = std::fs::read_to_string(dir.path().join("keys").join(name)).unwrap();
        assert!(pem.contains("ENCRYPTED PRIVATE KEY"));
    }
    let out = run_cli(dir.path(), &["keys", "rotate"], &[("LATCHKEY_KEYS_PASSPHRASE", "close sesame")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("wrong passphrase"), "{stderr}");
    assert!(!stderr.contains("close sesame"));
    assert_eq!(key_files(&dir.path().join("keys")), files, "no new key");
    assert!(run_cli(dir.path(), &["keys", "rotate"], &right).status.success());
}

#[test]
fn a_fresh_clones_empty_key_directory_is_tightened() {
    use std::os::unix::fs::PermissionsExt;
    // What `git clone` leaves: keys/ with only .gitkeep, mode 0755.
    let dir = tempfile::tempdir().unwrap();
    let keys_dir: PathBuf = dir.path().join("keys");
    std::fs::create_dir(&keys_dir).unwrap();
    std::fs::write(keys_dir.join(".gitkeep"), b"").unwrap();
    std::fs::set_permissions(&keys_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run_cli(dir.path(), &["keys", "list"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::metadata(&keys_dir).unwrap().permissions().mode() & 0o777, 0o700);
    assert!(text(&out.stdout).contains("active"));
}

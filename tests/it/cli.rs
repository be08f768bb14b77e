//! The admin CLI as an operator uses it: the real binary, a temp working
//! directory, exit codes 0/1/2 and one-sentence errors.

use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Cli { dir: tempfile::tempdir().unwrap() }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_env(args, stdin, &[])
    }

    fn run_env(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("LATCHKEY_PASSWORD_MEMORY_KIB", "256")
            .env("LATCHKEY_PASSWORD_ITERATIONS", "1")
            .env("LATCHKEY_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn users_can_be_managed() {
    let cli = Cli::new();
    let out = cli.run(&["user", "add", "Alice", "--email", "alice@example.com", "--name", "Alice Example", "--password-stdin"], Some("s3cret pass\n"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = cli.run(&["user", "add", "ALICE", "--password-stdin"], Some("x\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("already exists"), "{}", text(&out.stderr));
    let out = cli.run(&["user", "add", "al\u{200b}ice", "--password-stdin"], Some("x\n"));
    assert_eq!(out.status.code(), Some(1));
    let out = cli.run(&["user", "add", "bob"], None);
    assert_eq!(out.status.code(), Some(1), "no terminal and no --password-stdin");
    assert!(text(&out.stderr).contains("--password-stdin"));
    // What is wrong with the name is said before any password is asked for.
    let out = cli.run(&["user", "add", "alice"], None);
    assert!(text(&out.stderr).contains("already exists"), "{}", text(&out.stderr));
    let out = cli.run(&["user", "passwd", "nobody"], None);
    assert!(text(&out.stderr).starts_with("error: no user named"), "{}", text(&out.stderr));
    let out = cli.run(&["user", "add", "bob", "--password-stdin"], Some("short\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("at least 8 characters"), "{}", text(&out.stderr));

    let list = text(&cli.run(&["user", "list"], None).stdout);
    assert!(list.contains("alice") && list.contains("alice@example.com"), "{list}");
    assert!(!list.contains("argon2"));
    assert!(cli.run(&["user", "passwd", "alice", "--password-stdin"], Some("new pass\n")).status.success());
    assert!(cli.run(&["user", "disable", "alice"], None).status.success());
    assert!(text(&cli.run(&["user", "list"], None).stdout).contains("disabled"));
    assert!(cli.run(&["user", "enable", "alice"], None).status.success());
    assert!(cli.run(&["user", "delete", "alice"], None).status.success());
    let out = cli.run(&["user", "delete", "alice"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: no user named"));
}

#[test]
fn clients_can_be_managed_and_secrets_are_shown_once() {
    let cli = Cli::new();
    let out = cli.run(&["client", "add", "webapp", "--redirect-uri", "https://rp.example/cb"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let secret = stdout.lines().find_map(|line| line.strip_prefix("client_secret: ")).expect("a client_secret line").to_string();
    assert!(secret.len() >= 43);
    let list = text(&cli.run(&["client", "list"], None).stdout);
    assert!(list.contains("webapp") && !list.contains(&secret));
    let rotated = text(&cli.run(&["client", "rotate-secret", "webapp"], None).stdout);
    assert!(rotated.contains("client_secret: ") && !rotated.contains(&secret));
    let out = cli.run(&["client", "add", "spa", "--public", "--redirect-uri", "http://127.0.0.1:5173/cb"], None);
    assert!(out.status.success());
    assert!(!text(&out.stdout).contains("client_secret"));
    assert!(cli.run(&["client", "delete", "spa"], None).status.success());

    for (uri, words) in [
        ("https://rp.example/cb#frag", "fragment"),
        ("https://user@rp.example/cb", "user information"),
        ("http://rp.example/cb", "https"),
        ("/relative", "absolute"),
    ] {
        let out = cli.run(&["client", "add", "bad", "--redirect-uri", uri], None);
        assert_eq!(out.status.code(), Some(1), "{uri}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(words), "{uri}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
    }
}

#[test]
fn usage_and_configuration_errors_have_their_exit_codes() {
    let cli = Cli::new();
    assert_eq!(cli.run(&["user", "frobnicate"], None).status.code(), Some(2));
    assert_eq!(cli.run(&["--version"], None).status.code(), Some(0));
    assert_eq!(cli.run(&["client", "add", "--help"], None).status.code(), Some(0));
    let out = cli.run_env(&["keys", "list"], None, &[("LATCHKEY_SERVER_ISSUER", "ftp://x")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("server.issuer"));
    std::fs::write(cli.dir.path().join("latchkey.toml"), "[server]\nissuer_url = \"x\"\n").unwrap();
    let out = cli.run(&["keys", "list"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("issuer_url"), "{}", text(&out.stderr));
}

#[test]
fn keys_list_shows_the_active_key_and_loose_permissions_stop_the_server() {
    use std::os::unix::fs::PermissionsExt;
    let cli = Cli::new();
    let list = text(&cli.run(&["keys", "list"], None).stdout);
    assert!(list.contains("active"), "{list}");
    let key = std::fs::read_dir(cli.dir.path().join("keys")).unwrap().next().unwrap().unwrap().path();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = cli.run_env(&["serve"], None, &[("LATCHKEY_SERVER_LISTEN", "127.0.0.1:0")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let name = key.file_name().unwrap().to_string_lossy().into_owned();
    assert!(stderr.contains(&name) && stderr.contains("chmod 600"), "{stderr}");
}

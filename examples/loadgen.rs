//! The load driver of `scripts/bench` for what a fixed-request load generator
//! (wrk, oha) cannot do: the full browser login (authorize → login → consent
//! → token, each with its own cookies) and refresh-token rotation (every
//! refresh consumes its token, so each worker chains the successors).
//!
//! `N` workers run for a fixed time; it prints one line of `key=value`
//! pairs: `ok`, `errors`, `seconds`, `rps`, `p50_ms`, `p99_ms`.
//!
//! ```text
//! loadgen login   BASE CLIENT SECRET REDIRECT USER_PREFIX USERS PASSWORD WORKERS SECONDS
//! loadgen mint    BASE CLIENT SECRET REDIRECT USER_PREFIX USERS PASSWORD COUNT   > tokens
//! loadgen refresh BASE CLIENT SECRET TOKEN_FILE WORKERS SECONDS
//! loadgen probe   URL RATE SECONDS
//! ```
//!
//! `mint` prints `REFRESH_TOKEN ACCESS_TOKEN` per line. `probe` is open
//! loop: it starts a GET every 1/RATE s whatever the answers do, so its
//! latencies are those a light client sees while something else loads the
//! server.
//!
//! A benchmark tool, not product code: it stops at the first unexpected
//! answer of a step and counts the flow as an error.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
struct Target {
    base: String,
    client_id: String,
    secret: String,
    redirect_uri: String,
}

/// One browser's cookies for one login flow.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn take(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                let expired = text.to_ascii_lowercase().contains("max-age=0");
                if value.is_empty() || expired {
                    self.0.remove(name.trim());
                } else {
                    self.0.insert(name.trim().to_string(), value.trim().to_string());
                }
            }
        }
    }

    fn header(&self) -> String {
        self.0.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }
}

fn location(response: &reqwest::Response) -> Result<String, Error> {
    Ok(response.headers().get(LOCATION).ok_or("no Location header")?.to_str()?.to_string())
}

fn hidden_field(html: &str, name: &str) -> Result<String, Error> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).ok_or_else(|| format!("no field {name} in page"))? + marker.len();
    let end = html[start..].find('"').ok_or("unterminated field")? + start;
    Ok(html[start..end].to_string())
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

async fn expect_status(response: reqwest::Response, status: u16, step: &str) -> Result<reqwest::Response, Error> {
    if response.status().as_u16() == status {
        Ok(response)
    } else {
        let got = response.status();
        let body = response.text().await.unwrap_or_default();
        Err(format!("{step}: expected {status}, got {got}: {}", body.chars().take(200).collect::<String>()).into())
    }
}

/// GETs a form page and POSTs it back with `fields`; returns the redirect.
async fn submit_form(
    http: &reqwest::Client,
    jar: &mut Jar,
    url: &str,
    fields: &[(&str, &str)],
    step: &str,
) -> Result<String, Error> {
    let page = http.get(url).header(COOKIE, jar.header()).send().await?;
    let page = expect_status(page, 200, step).await?;
    jar.take(&page);
    let html = page.text().await?;
    let mut form = vec![("request_id", hidden_field(&html, "request_id")?), ("csrf_token", hidden_field(&html, "csrf_token")?)];
    form.extend(fields.iter().map(|(name, value)| (*name, value.to_string())));
    let action = url.split('?').next().unwrap_or(url);
    let response = http.post(action).header(COOKIE, jar.header()).form(&form).send().await?;
    let response = expect_status(response, 303, step).await?;
    jar.take(&response);
    location(&response)
}

/// One full login with a fresh browser; returns the token response.
async fn login(http: &reqwest::Client, target: &Target, username: &str, password: &str) -> Result<serde_json::Value, Error> {
    let mut jar = Jar::default();
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", target.client_id.as_str()),
            ("redirect_uri", target.redirect_uri.as_str()),
            ("scope", "openid profile email offline_access"),
            ("state", "bench"),
        ])
        .finish();
    let response = http.get(format!("{}/authorize?{query}", target.base)).send().await?;
    let response = expect_status(response, 303, "authorize").await?;
    jar.take(&response);
    let mut next = location(&response)?;
    if next.contains("/login?") {
        next = submit_form(http, &mut jar, &next, &[("username", username), ("password", password)], "login").await?;
    }
    if next.contains("/consent?") {
        next = submit_form(http, &mut jar, &next, &[("decision", "allow")], "consent").await?;
    }
    let code = query_param(&next, "code").ok_or_else(|| format!("no code in {next}"))?;
    let response = http
        .post(format!("{}/token", target.base))
        .basic_auth(&target.client_id, Some(&target.secret))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", target.redirect_uri.as_str())])
        .send()
        .await?;
    let response = expect_status(response, 200, "token").await?;
    Ok(response.json().await?)
}

async fn refresh(http: &reqwest::Client, target: &Target, token: &str) -> Result<String, Error> {
    let response = http
        .post(format!("{}/token", target.base))
        .basic_auth(&target.client_id, Some(&target.secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await?;
    let response = expect_status(response, 200, "refresh").await?;
    let body: serde_json::Value = response.json().await?;
    Ok(body["refresh_token"].as_str().ok_or("no refresh_token in the answer")?.to_string())
}

/// What one worker saw.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

fn report(tallies: Vec<Tally>, elapsed: Duration) {
    let mut latencies: Vec<Duration> = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for tally in tallies {
        latencies.extend(tally.latencies);
        errors += tally.errors;
        first_error = first_error.or(tally.first_error);
    }
    latencies.sort();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let index = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index].as_secs_f64() * 1000.0
    };
    let seconds = elapsed.as_secs_f64();
    println!(
        "ok={} errors={} seconds={:.2} rps={:.1} p50_ms={:.2} p99_ms={:.2}",
        latencies.len(),
        errors,
        seconds,
        latencies.len() as f64 / seconds,
        percentile(0.50),
        percentile(0.99)
    );
    if let Some(error) = first_error {
        eprintln!("loadgen: first error: {error}");
    }
}

fn client() -> Result<reqwest::Client, Error> {
    Ok(reqwest::Client::builder().redirect(Policy::none()).pool_max_idle_per_host(64).build()?)
}

fn arg(args: &[String], index: usize, name: &str) -> Result<String, Error> {
    args.get(index).cloned().ok_or_else(|| format!("missing argument {name}").into())
}

fn number<T: std::str::FromStr>(args: &[String], index: usize, name: &str) -> Result<T, Error> {
    arg(args, index, name)?.parse().map_err(|_| format!("{name} must be a number").into())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = arg(&args, 0, "mode")?;
    let target = Target {
        base: args.get(1).cloned().unwrap_or_default(),
        client_id: args.get(2).cloned().unwrap_or_default(),
        secret: args.get(3).cloned().unwrap_or_default(),
        redirect_uri: String::new(),
    };
    let http = client()?;
    match mode.as_str() {
        "login" | "mint" => {
            let target = Target { redirect_uri: arg(&args, 4, "REDIRECT")?, ..target };
            let prefix = arg(&args, 5, "USER_PREFIX")?;
            let users: usize = number(&args, 6, "USERS")?;
            let password = Arc::new(arg(&args, 7, "PASSWORD")?);
            if mode == "mint" {
                let count: usize = number(&args, 8, "COUNT")?;
                let mut minted = 0;
                let mut tasks = Vec::new();
                for index in 0..count {
                    let (http, target, password) = (http.clone(), target.clone(), password.clone());
                    let username = format!("{prefix}{}", index % users.max(1));
                    tasks.push(tokio::spawn(async move { login(&http, &target, &username, &password).await }));
                }
                for task in tasks {
                    let body = task.await??;
                    let refresh = body["refresh_token"].as_str().ok_or("no refresh_token: the client needs offline_access")?;
                    let access = body["access_token"].as_str().ok_or("no access_token")?;
                    println!("{refresh} {access}");
                    minted += 1;
                }
                eprintln!("loadgen: minted {minted} refresh tokens");
                return Ok(());
            }
            let workers: usize = number(&args, 8, "WORKERS")?;
            let seconds: f64 = number(&args, 9, "SECONDS")?;
            let started = Instant::now();
            let deadline = started + Duration::from_secs_f64(seconds);
            let mut tasks = Vec::new();
            for worker in 0..workers {
                let (http, target, password, prefix) = (http.clone(), target.clone(), password.clone(), prefix.clone());
                tasks.push(tokio::spawn(async move {
                    let mut tally = Tally::default();
                    let mut round = 0;
                    while Instant::now() < deadline {
                        let username = format!("{prefix}{}", (worker + round * workers) % users.max(1));
                        round += 1;
                        let began = Instant::now();
                        match login(&http, &target, &username, &password).await {
                            Ok(_) => tally.latencies.push(began.elapsed()),
                            Err(err) => {
                                tally.errors += 1;
                                tally.first_error.get_or_insert(err.to_string());
                            }
                        }
                    }
                    tally
                }));
            }
            let mut tallies = Vec::new();
            for task in tasks {
                tallies.push(task.await?);
            }
            report(tallies, started.elapsed());
        }
        "refresh" => {
            let tokens: Vec<String> = std::fs::read_to_string(arg(&args, 4, "TOKEN_FILE")?)?
                .lines()
                .filter_map(|line| line.split_whitespace().next())
                .map(str::to_string)
                .collect();
            let workers: usize = number(&args, 5, "WORKERS")?;
            let seconds: f64 = number(&args, 6, "SECONDS")?;
            if tokens.len() < workers {
                return Err(format!("{} tokens for {workers} workers", tokens.len()).into());
            }
            let started = Instant::now();
            let deadline = started + Duration::from_secs_f64(seconds);
            let mut tasks = Vec::new();
            for mut token in tokens.into_iter().take(workers) {
                let (http, target) = (http.clone(), target.clone());
                tasks.push(tokio::spawn(async move {
                    let mut tally = Tally::default();
                    while Instant::now() < deadline {
                        let began = Instant::now();
                        match refresh(&http, &target, &token).await {
                            Ok(successor) => {
                                tally.latencies.push(began.elapsed());
                                token = successor;
                            }
                            Err(err) => {
                                tally.errors += 1;
                                tally.first_error.get_or_insert(err.to_string());
                                // The chain is broken (the token is spent): stop this worker.
                                break;
                            }
                        }
                    }
                    tally
                }));
            }
            let mut tallies = Vec::new();
            for task in tasks {
                tallies.push(task.await?);
            }
            report(tallies, started.elapsed());
        }
        "probe" => {
            let url = arg(&args, 1, "URL")?;
            let rate: f64 = number(&args, 2, "RATE")?;
            let seconds: f64 = number(&args, 3, "SECONDS")?;
            let started = Instant::now();
            let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1.0)));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut tasks = Vec::new();
            while started.elapsed().as_secs_f64() < seconds {
                ticker.tick().await;
                let (http, url) = (http.clone(), url.clone());
                tasks.push(tokio::spawn(async move {
                    let mut tally = Tally::default();
                    let began = Instant::now();
                    let result = async { expect_status(http.get(&url).send().await?, 200, "probe").await?.bytes().await.map_err(Error::from) };
                    match result.await {
                        Ok(_) => tally.latencies.push(began.elapsed()),
                        Err(err) => {
                            tally.errors += 1;
                            tally.first_error = Some(err.to_string());
                        }
                    }
                    tally
                }));
            }
            let mut tallies = Vec::new();
            for task in tasks {
                tallies.push(task.await?);
            }
            report(tallies, started.elapsed());
        }
        other => return Err(format!("unknown mode {other}; use login, mint, refresh or probe").into()),
    }
    Ok(())
}

//! Logs and metrics. Logging is set up once per process (text or JSON lines
//! on stderr); metrics go to one Prometheus recorder per process, installed
//! on first use, and are counted at the same points that emit the stable
//! `event = "..."` audit logs.
//!
//! Invariants: no secret, password, code or token is ever a log field or a
//! metric label; labels have a bounded set of values (route templates, grant
//! names, key states), never raw paths or user input.

use std::sync::{Mutex, OnceLock};

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::config::LogFormat;

pub const HTTP_REQUESTS: &str = "latchkey_http_requests_total";
pub const HTTP_DURATION: &str = "latchkey_http_request_duration_seconds";
pub const LOGINS: &str = "latchkey_logins_total";
pub const TOKENS_ISSUED: &str = "latchkey_tokens_issued_total";
pub const REFRESH_REUSE: &str = "latchkey_refresh_token_reuse_total";
pub const CODE_REUSE: &str = "latchkey_authorization_code_reuse_total";
pub const SIGNING_KEYS: &str = "latchkey_signing_keys";
pub const ROTATION_DUE: &str = "latchkey_signing_key_rotation_due_seconds";
pub const HASHES_RUNNING: &str = "latchkey_password_hashes_running";
pub const HASHES_WAITING: &str = "latchkey_password_hashes_waiting";

/// How often histogram samples are folded into their buckets.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Sets up the process-wide log subscriber. `LATCHKEY_LOG` is the filter
/// (default `info`). Lines are written to stderr by a background thread
/// (one `write` per request line on the serving threads cost a third of the
/// throughput of `/jwks`); the returned guard flushes them when dropped, so
/// the caller keeps it until the process is about to exit. The writer never
/// drops lines: when it falls behind, logging waits. Calling it again does
/// nothing and returns `None`.
pub fn init_logging(format: LogFormat) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("LATCHKEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        // The queue is allocated up front; 4096 lines is ample (a full
        // queue makes logging wait, it never drops a line). The default,
        // 128,000 lines, cost 4 MB of resident memory before any request.
        .buffered_lines_limit(4096)
        .thread_name("latchkey-log")
        // The writer thread writes every line waiting in the queue, then
        // flushes: through a buffer that is one write(2) per batch instead
        // of one per line (stderr itself is unbuffered).
        .finish(std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr()));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let result = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).with_span_list(false).try_init(),
    };
    // An error means a subscriber exists already (a second call, or a test
    // harness): keep that one.
    result.ok().map(|()| guard)
}

/// The process's Prometheus handle; installs the recorder on first call.
/// Tests start many servers in one process: they share this recorder, so
/// counters are per process, as they are in production.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let builder = match builder.set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), LATENCY_BUCKETS) {
            Ok(builder) => builder,
            Err(err) => {
                tracing::warn!(error = %err, "latency buckets refused; latency is exported as a summary");
                PrometheusBuilder::new()
            }
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will stay empty");
        }
        describe();
        // The recorder keeps every histogram sample until upkeep folds it
        // into the buckets: without this, memory grows with every request
        // between scrapes (about 8 bytes each; megabytes a minute under load).
        let upkeep = handle.clone();
        let started = std::thread::Builder::new().name("latchkey-metrics".into()).spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            }
        });
        if let Err(err) = started {
            tracing::warn!(error = %err, "cannot start the metrics upkeep thread; samples are folded at each scrape only");
        }
        handle
    })
}

fn describe() {
    describe_counter!(HTTP_REQUESTS, "HTTP requests by route template, method and status.");
    describe_histogram!(HTTP_DURATION, metrics::Unit::Seconds, "HTTP request latency by route template.");
    describe_counter!(LOGINS, "Password logins by result: succeeded, failed, throttled.");
    describe_counter!(TOKENS_ISSUED, "Token responses issued by grant type.");
    describe_counter!(REFRESH_REUSE, "Consumed refresh tokens presented again (the family was revoked).");
    describe_counter!(CODE_REUSE, "Authorization codes presented twice (the grant was revoked).");
    describe_gauge!(SIGNING_KEYS, "Signing keys by state.");
    describe_gauge!(ROTATION_DUE, metrics::Unit::Seconds, "Seconds until the active signing key is due for rotation (negative: overdue).");
    describe_gauge!(HASHES_RUNNING, "Argon2 password hashes being computed.");
    describe_gauge!(HASHES_WAITING, "Argon2 password hashes waiting for a permit.");
}

/// Renders the process's metrics after `update` has set the gauges that
/// are sampled at scrape time. A lock keeps one scrape's gauges from being
/// overwritten by another server's (several run in one test process).
pub fn render_metrics(update: impl FnOnce()) -> String {
    static SCRAPE: Mutex<()> = Mutex::new(());
    let handle = metrics_handle();
    let _guard = match SCRAPE.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    update();
    handle.run_upkeep();
    handle.render()
}

/// Sets a gauge sampled at scrape time, with at most one label.
pub fn set_gauge(name: &'static str, label: Option<(&'static str, &'static str)>, value: f64) {
    match label {
        Some((key, label_value)) => gauge!(name, key => label_value).set(value),
        None => gauge!(name).set(value),
    }
}

/// The method as a label: the standard ones by name, anything else (a
/// client may send any token as a method) as `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Records one finished HTTP request.
pub fn http_request(endpoint: &str, method: &'static str, status: u16, seconds: f64) {
    let endpoint = endpoint.to_string();
    counter!(HTTP_REQUESTS, "endpoint" => endpoint.clone(), "method" => method, "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_DURATION, "endpoint" => endpoint).record(seconds);
}

/// `result` is `succeeded`, `failed` or `throttled`.
pub fn login(result: &'static str) {
    counter!(LOGINS, "result" => result).increment(1);
}

pub fn token_issued(grant: &'static str) {
    counter!(TOKENS_ISSUED, "grant" => grant).increment(1);
}

pub fn refresh_reuse() {
    counter!(REFRESH_REUSE).increment(1);
}

pub fn code_reuse() {
    counter!(CODE_REUSE).increment(1);
}

tokio::task_local! {
    /// The client a request turned out to be for, filled in by the layers
    /// below and read by the request log line.
    static REQUEST_CLIENT: Mutex<Option<String>>;
}

/// Runs `request` with a slot for its client id; returns the id found.
pub async fn with_client_slot<T>(request: impl std::future::Future<Output = T>) -> (T, Option<String>) {
    REQUEST_CLIENT
        .scope(Mutex::new(None), async {
            let output = request.await;
            let client = REQUEST_CLIENT
                .try_with(|slot| match slot.lock() {
                    Ok(guard) => guard.clone(),
                    Err(poisoned) => poisoned.into_inner().clone(),
                })
                .ok()
                .flatten();
            (output, client)
        })
        .await
}

/// Notes the client the current request is for (a no-op outside a request).
pub fn note_client(client_id: &str) {
    let _ = REQUEST_CLIENT.try_with(|slot| {
        let mut guard = match slot.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Some(client_id.chars().take(128).collect());
    });
}

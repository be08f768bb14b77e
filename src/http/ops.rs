//! Operating endpoints and the per-request layer: `/readyz` (database
//! writable and an active key loaded), `/metrics` (Prometheus text), and
//! `observe`, which logs one line per request and counts it by route
//! template.
//!
//! Invariant: the request line carries the path without its query string
//! (queries carry codes and tokens) and no header values.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::store::KeyState;
use crate::telemetry;

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

/// Longest path written to a log line.
const MAX_LOGGED_PATH: usize = 200;

/// Logs and counts every request, and adds the headers every response
/// carries (`nosniff`, `no-referrer`). Routes are labelled by their
/// template (`/authorize`), unmatched paths as `unmatched`, so labels stay
/// bounded.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Bounded: a client may send any token as the method.
    let method = telemetry::method_label(request.method());
    let endpoint = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_string());
    let path: String = request.uri().path().chars().take(MAX_LOGGED_PATH).collect();
    let (mut response, client_id) = telemetry::with_client_slot(next.run(request)).await;
    // Here rather than in two more layers: every response passes anyway.
    let headers = response.headers_mut();
    headers.entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
    headers.entry(header::REFERRER_POLICY).or_insert(HeaderValue::from_static("no-referrer"));
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let endpoint = endpoint.as_deref().unwrap_or("unmatched");
    telemetry::http_request(endpoint, method, status, elapsed.as_secs_f64());
    // Counted here, where every source of a 429 passes (the request
    // ceiling, the failure counters, the account lockout); each of those
    // logs its own line with the reason.
    if endpoint == "/login" && method == "POST" && status == StatusCode::TOO_MANY_REQUESTS.as_u16() {
        telemetry::login("throttled");
    }
    let latency_ms = (elapsed.as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
    let client_id = client_id.as_deref().unwrap_or("-");
    if status >= 500 {
        tracing::warn!(event = "request", method, path = %path, status, latency_ms, client_id, "request");
    } else {
        tracing::info!(event = "request", method, path = %path, status, latency_ms, client_id, "request");
    }
    response
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Readiness: 200 when a write transaction can start and an active signing
/// key is loaded; 503 with the reason otherwise.
async fn readyz(State(state): State<AppState>) -> Response {
    let provider = &state.provider;
    if let Err(err) = provider.store.check_writable().await {
        tracing::warn!(event = "not_ready", error = %err, "database is not writable");
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "status": "unavailable", "reason": "the database is not writable" }),
        );
    }
    if provider.keys.current().active().is_none() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "status": "unavailable", "reason": "no active signing key is loaded" }),
        );
    }
    json_response(StatusCode::OK, serde_json::json!({ "status": "ready" }))
}

const KEY_STATES: [KeyState; 4] = [KeyState::Next, KeyState::Active, KeyState::Retiring, KeyState::Retired];

/// Prometheus text format. Gauges that describe this server (keys, the
/// password hashing queue) are sampled now, then everything is rendered.
async fn metrics(State(state): State<AppState>) -> Response {
    let provider = &state.provider;
    let keys = match provider.store.list_signing_keys().await {
        Ok(keys) => Some(keys),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read signing keys for /metrics");
            None
        }
    };
    let now = provider.now();
    let rotate_every = i64::try_from(provider.config.keys.rotate_every.as_secs()).unwrap_or(i64::MAX);
    let queue = provider.hasher.queue();
    let body = telemetry::render_metrics(|| {
        if let Some(keys) = &keys {
            for key_state in KEY_STATES {
                let count = keys.iter().filter(|key| key.state == key_state).count();
                telemetry::set_gauge(telemetry::SIGNING_KEYS, Some(("state", key_state.as_str())), count as f64);
            }
            // Due `rotate_every` after the key became active, as the
            // schedule (`Keys::maintain`) counts it.
            if let Some(active) = keys.iter().filter(|key| key.state == KeyState::Active).map(|key| key.state_changed_at).max() {
                let due = active.saturating_add(rotate_every).saturating_sub(now);
                telemetry::set_gauge(telemetry::ROTATION_DUE, None, due as f64);
            }
        }
        telemetry::set_gauge(telemetry::HASHES_RUNNING, None, queue.running as f64);
        telemetry::set_gauge(telemetry::HASHES_WAITING, None, queue.waiting as f64);
    });
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

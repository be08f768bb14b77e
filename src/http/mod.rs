//! The HTTP surface: one module per endpoint group, each exporting its
//! routes; this file merges them and adds the layers every request passes.
//!
//! Invariant: handlers are thin (extract, call one `oidc` function,
//! render); no axum type appears below this module.

pub mod authorize;
pub mod client_ip;
pub mod cookies;
pub mod demo;
pub mod discovery;
pub mod error;
pub mod extract;
pub mod introspect;
pub mod logout;
pub mod ops;
pub mod pages;
pub mod theme;
pub mod token;
pub mod userinfo;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_http::cors::CorsLayer;

use crate::oidc::Provider;

/// Largest request body accepted anywhere (413 beyond it).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The state every handler gets: one `Arc`, so the per-request clones that
/// axum's `State` extractor and the layers make cost one atomic increment
/// (cloning the fields one by one showed up in profiles of `/jwks`).
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

/// What `AppState` shares; reached through `Deref` (`state.provider`).
#[derive(Debug, Clone)]
pub struct Shared {
    pub provider: Provider,
    /// The discovery document, serialised once.
    pub discovery: Bytes,
    /// Whether `/demo` is served.
    pub demo: bool,
    /// Proxies whose `X-Forwarded-For` is believed (parsed once).
    pub trusted_proxies: Arc<Vec<IpAddr>>,
    /// The `[ui]` look: brand, logo, custom stylesheet.
    pub theme: Arc<theme::Theme>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(provider: Provider, demo: bool) -> Self {
        let document = crate::oidc::discovery::document(&provider.config);
        let discovery = Bytes::from(serde_json::to_vec(&document).unwrap_or_default());
        let trusted_proxies =
            Arc::new(provider.config.server.trusted_proxies.iter().filter_map(|proxy| proxy.parse().ok()).collect());
        let theme = Arc::new(theme::Theme::without_css(&provider.config.ui));
        // The recorder is installed before the first request counts.
        crate::telemetry::metrics_handle();
        Self(Arc::new(Shared { provider, discovery, demo, trusted_proxies, theme }))
    }

    /// Uses `theme` (loaded with its stylesheet) for every page.
    pub fn with_theme(self, theme: theme::Theme) -> Self {
        let mut shared = Arc::unwrap_or_clone(self.0);
        shared.theme = Arc::new(theme);
        Self(Arc::new(shared))
    }
}

/// The whole application. Requests need a `ConnectInfo<SocketAddr>`
/// extension (`serve` adds it): the throttles key on the peer address.
pub fn app(state: AppState) -> Router {
    let limits = &state.provider.config.rate_limit;
    let mut router = Router::new()
        .merge(with_ceiling(authorize::routes(), &state, limits.login_per_second, limits.login_burst, true))
        .merge(with_ceiling(token::routes(), &state, limits.token_per_second, limits.token_burst, false).route_layer(cors()))
        .merge(userinfo::routes().route_layer(cors()))
        .merge(introspect::routes())
        .merge(logout::routes())
        .merge(ops::routes())
        .merge(theme::routes())
        .route("/static/style.css", get(style_css))
        .route("/static/form_post.js", get(form_post_js))
        .fallback(not_found);
    if state.demo {
        router = router.merge(demo::routes());
    }
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // A body trickled in slower than this is refused (400), so a slow
        // client cannot hold a handler and its connection indefinitely.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(state.provider.config.server.request_timeout))
        .layer(axum::middleware::from_fn_with_state(state.clone(), theme::scope))
        // The documents relying parties and resource servers poll (discovery,
        // JWKS) and liveness read no body and render no page: they skip the
        // layers above (a quarter more requests per second for them).
        .merge(discovery::routes().route_layer(cors()))
        .route("/healthz", get(healthz))
        // Also adds `nosniff` and `no-referrer` to every response.
        .layer(axum::middleware::from_fn(ops::observe))
        .with_state(state)
}

/// CORS for the endpoints browser apps call directly (discovery, JWKS,
/// token, userinfo): any origin, no cookies. Never on `/authorize` or the
/// pages (RFC 9700 §2.6).
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(3600))
}

/// Adds a per-client-IP ceiling on POST requests (tower-governor) to
/// `routes`, answering 429 with `Retry-After` as a page (`page`) or as
/// OAuth JSON.
fn with_ceiling(routes: Router<AppState>, state: &AppState, per_second: u64, burst: u32, page: bool) -> Router<AppState> {
    let key = client_ip::ClientIpKey { trusted: state.trusted_proxies.clone() };
    let mut builder = GovernorConfigBuilder::default().key_extractor(key);
    builder
        .period(Duration::from_nanos(1_000_000_000 / per_second.max(1)))
        .burst_size(burst)
        .methods(vec![axum::http::Method::POST]);
    // Both numbers are validated non-zero at start-up, so this is Some.
    let Some(config) = builder.finish() else { return routes };
    let layer = GovernorLayer::new(Arc::new(config)).error_handler(move |error| {
        let retry_after = match error {
            tower_governor::GovernorError::TooManyRequests { wait_time, .. } => wait_time,
            _ => 1,
        };
        tracing::warn!(event = "request_throttled", "request ceiling reached");
        crate::oidc::OidcError::Throttled { retry_after, page }.into_response()
    });
    routes.route_layer(layer)
}

/// How long in-flight requests may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish (at most `SHUTDOWN_GRACE`).
///
/// hyper directly rather than `axum::serve`, which cannot bound how long a
/// client takes to send its headers: without that, connections that trickle
/// a header byte at a time (slowloris) pile up until no file descriptor is
/// left for anyone. Each request carries `ConnectInfo<SocketAddr>` as with
/// `into_make_service_with_connect_info`.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::extract::ConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let timeout = state.provider.config.server.request_timeout;
    let app = app(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, most likely: wait for some
                    // to close instead of spinning.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small responses go out at once rather than after the ACK delay.
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(move |mut request: axum::http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(timeout);
        let connection = builder.serve_connection(TokioIo::new(stream), hyper_util::service::TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection closed with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still running {}s after shutdown began; stopping anyway", SHUTDOWN_GRACE.as_secs());
        }
    }
    Ok(())
}

async fn healthz() -> &'static str {
    "ok"
}

async fn not_found() -> Response {
    pages::error_page(StatusCode::NOT_FOUND, "There is nothing at this address.")
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        body,
    )
        .into_response()
}

// The assets are compiled in, so the binary is the whole deployment.
async fn style_css() -> Response {
    asset("text/css; charset=utf-8", include_str!("../../static/style.css"))
}

async fn form_post_js() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../../static/form_post.js"))
}

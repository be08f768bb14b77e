//! The HTTP surface: one module per endpoint group, each exporting its
//! routes; this file merges them and adds the layers every request passes.
//!
//! Invariant: handlers are thin (extract, call one `oidc` function,
//! render); no axum type appears below this module.

pub mod authorize;
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

use std::net::SocketAddr;
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
use tower_http::set_header::SetResponseHeaderLayer;

use crate::oidc::Provider;

/// Largest request body accepted anywhere (413 beyond it).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct AppState {
    pub provider: Provider,
    /// The discovery document, serialised once.
    pub discovery: Bytes,
    /// Whether `/demo` is served.
    pub demo: bool,
    /// The `[ui]` look: brand, logo, custom stylesheet.
    pub theme: Arc<theme::Theme>,
}

impl AppState {
    pub fn new(provider: Provider, demo: bool) -> Self {
        let document = crate::oidc::discovery::document(&provider.config);
        let discovery = Bytes::from(serde_json::to_vec(&document).unwrap_or_default());
        let theme = Arc::new(theme::Theme::without_css(&provider.config.ui));
        // The recorder is installed before the first request counts.
        crate::telemetry::metrics_handle();
        Self { provider, discovery, demo, theme }
    }

    /// Uses `theme` (loaded with its stylesheet) for every page.
    pub fn with_theme(mut self, theme: theme::Theme) -> Self {
        self.theme = Arc::new(theme);
        self
    }
}

/// The whole application. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`: the login
/// throttle keys on the peer address.
pub fn app(state: AppState) -> Router {
    let limits = &state.provider.config.rate_limit;
    let interval = Duration::from_millis((1000 / limits.login_per_second).max(1));
    let throttle = GovernorConfigBuilder::default()
        .period(interval)
        .burst_size(limits.login_burst)
        .finish()
        .map(|config| GovernorLayer::new(Arc::new(config)));
    let mut login = authorize::routes();
    if let Some(throttle) = throttle {
        login = login.route_layer(throttle);
    }
    let mut router = Router::new()
        .merge(login)
        .merge(discovery::routes())
        .merge(token::routes())
        .merge(userinfo::routes())
        .merge(introspect::routes())
        .merge(logout::routes())
        .route("/healthz", get(healthz))
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
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(axum::middleware::from_fn_with_state(state.clone(), theme::scope))
        .layer(axum::middleware::from_fn(ops::observe))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
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

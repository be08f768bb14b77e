//! The configurable look (`[ui]`): the brand name, an optional logo, an
//! optional operator stylesheet served as `/static/custom.css` after the
//! built-in one, optional operator page templates (Jinja, read at start-up,
//! rendered instead of the compiled askama page of the same name); also
//! the favicon. The askama templates read these as runtime values; the
//! theme of the server handling a request is set for that request by
//! `scope`, so every page renders with it without each handler passing it.
//!
//! Invariants: the values are HTML-escaped by askama like every other
//! value; the CSS is a file served from our origin, so the CSP still allows
//! no inline style or script; a logo URL only widens `img-src`, to its own
//! origin.

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::config::UiConfig;

use super::AppState;

#[derive(Debug, Clone)]
pub struct Theme {
    pub title: String,
    /// Empty when the built-in mark is shown.
    pub logo_url: String,
    /// The operator's stylesheet, read at start-up.
    pub custom_css: Option<Bytes>,
    /// The logo's origin when it is on another site, for `img-src`.
    pub logo_origin: Option<String>,
    /// Operator templates that replace built-in pages, by page file name.
    pub overrides: Option<Arc<minijinja::Environment<'static>>>,
}

impl Default for Theme {
    fn default() -> Self {
        Self::without_css(&UiConfig::default())
    }
}

impl Theme {
    /// The theme without reading any file (for `AppState::new`).
    pub fn without_css(ui: &UiConfig) -> Self {
        let logo_origin = url::Url::parse(&ui.logo_url)
            .ok()
            .map(|url| url.origin().ascii_serialization())
            .filter(|origin| origin != "null");
        Self { title: ui.title.trim().to_string(), logo_url: ui.logo_url.clone(), custom_css: None, logo_origin, overrides: None }
    }

    /// The theme with `ui.custom_css` read; an unreadable file is an error
    /// that names it.
    pub fn load(ui: &UiConfig) -> Result<Self, String> {
        let mut theme = Self::without_css(ui);
        if !ui.custom_css.as_os_str().is_empty() {
            let css = std::fs::read(&ui.custom_css).map_err(|err| {
                format!("cannot read ui.custom_css {}: {err}; fix the path or set it to \"\"", ui.custom_css.display())
            })?;
            theme.custom_css = Some(Bytes::from(css));
        }
        if !ui.templates_dir.as_os_str().is_empty() {
            theme.overrides = Some(Arc::new(load_overrides(&ui.templates_dir)?));
        }
        Ok(theme)
    }

    /// The extra `img-src` source the logo needs, if any.
    pub fn img_source(&self) -> Option<&str> {
        self.logo_origin.as_deref()
    }
}

/// Reads every page template in `dir`. A file that is not one of
/// latchkey's pages, or that does not compile, stops the start with a
/// message naming it, rather than showing a broken page later.
fn load_overrides(dir: &std::path::Path) -> Result<minijinja::Environment<'static>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|err| format!("cannot read ui.templates_dir {}: {err}; fix the path or set it to \"\"", dir.display()))?;
    let mut environment = minijinja::Environment::new();
    // Auto-escaping follows the file name: every page is `.html`.
    environment.set_auto_escape_callback(minijinja::default_auto_escape_callback);
    for entry in entries {
        let path = entry.map_err(|err| format!("cannot read ui.templates_dir {}: {err}", dir.display()))?.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()).map(str::to_string) else { continue };
        if !name.ends_with(".html") {
            continue;
        }
        if !super::pages::PAGE_NAMES.contains(&name.as_str()) {
            return Err(format!(
                "ui.templates_dir has {name}, which is not a latchkey page; the pages are {}",
                super::pages::PAGE_NAMES.join(", ")
            ));
        }
        let source = std::fs::read_to_string(&path).map_err(|err| format!("cannot read template {}: {err}", path.display()))?;
        environment
            .add_template_owned(name, source)
            .map_err(|err| format!("template {} does not compile: {err}", path.display()))?;
    }
    Ok(environment)
}

/// Runtime values for the templates: `brand`, `logo_url` (only when set)
/// and `custom_css` (only when set).
impl askama::Values for Theme {
    fn get_value<'a>(&'a self, key: &str) -> Option<&'a dyn Any> {
        match key {
            "brand" => Some(&self.title),
            "logo_url" if !self.logo_url.is_empty() => Some(&self.logo_url),
            "custom_css" if self.custom_css.is_some() => Some(&true),
            _ => None,
        }
    }
}

tokio::task_local! {
    static CURRENT: Arc<Theme>;
}

/// The theme of the request being handled (the default outside one).
pub fn current() -> Arc<Theme> {
    CURRENT.try_with(Arc::clone).unwrap_or_else(|_| Arc::new(Theme::default()))
}

/// Layer: handles the request with this server's theme.
pub async fn scope(State(state): State<AppState>, request: Request, next: Next) -> Response {
    CURRENT.scope(state.theme.clone(), next.run(request)).await
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/static/custom.css", get(custom_css)).route("/static/favicon.svg", get(favicon))
}

async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
        ],
        include_str!("../../static/favicon.svg"),
    )
        .into_response()
}

async fn custom_css(State(state): State<AppState>) -> Response {
    match &state.theme.custom_css {
        Some(css) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
            ],
            css.clone(),
        )
            .into_response(),
        None => super::pages::error_page(axum::http::StatusCode::NOT_FOUND, "There is nothing at this address."),
    }
}

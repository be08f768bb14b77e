//! HTML pages (askama templates in `templates/`) and the security headers
//! every page carries: a strict CSP with no inline script, no framing
//! (RFC 9700 §4.16), no caching, no referrer. Pages render with the
//! request's `theme` (brand, logo, custom stylesheet) as askama runtime values.

use askama::Template;
use serde::Serialize;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::oidc::Redirect;
use crate::store::ResponseMode;

const PAGE_CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; base-uri 'none'; frame-ancestors 'none'";

#[derive(Serialize)]
pub struct ScopeLine {
    pub name: String,
    pub description: String,
}

#[derive(Template, Serialize)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub action: &'a str,
    pub request_id: &'a str,
    pub csrf_token: &'a str,
    pub client_id: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template, Serialize)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub action: &'a str,
    pub request_id: &'a str,
    pub csrf_token: &'a str,
    pub client_id: &'a str,
    pub username: &'a str,
    pub scopes: Vec<ScopeLine>,
}

#[derive(Template, Serialize)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub message: &'a str,
}

#[derive(Template, Serialize)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub action: &'a str,
    pub csrf_token: &'a str,
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
}

#[derive(Template, Serialize)]
#[template(path = "logged_out.html")]
pub struct LoggedOutPage;

#[derive(Template, Serialize)]
#[template(path = "form_post.html")]
pub struct FormPostPage<'a> {
    pub redirect_uri: &'a str,
    pub params: &'a [(&'static str, String)],
}

/// The page CSP, with the logo's origin added to `img-src` when it has one.
fn page_csp(theme: &super::theme::Theme) -> String {
    match theme.img_source() {
        Some(origin) => PAGE_CSP.replacen("img-src 'self' data:", &format!("img-src 'self' data: {origin}"), 1),
        None => PAGE_CSP.to_string(),
    }
}

/// Renders a template with the page security headers.
/// The pages an operator may replace through `ui.templates_dir`.
pub const PAGE_NAMES: &[&str] =
    &["login.html", "consent.html", "error.html", "logout.html", "logged_out.html", "form_post.html", "demo.html"];

/// A page: an askama template that can also be handed, as data, to an
/// operator's replacement template of the same name.
pub trait Page: Template + Serialize {
    const NAME: &'static str;
}

macro_rules! page_names {
    ($($page:ty => $name:literal),* $(,)?) => {
        $(impl Page for $page { const NAME: &'static str = $name; })*
    };
}

page_names! {
    LoginPage<'_> => "login.html",
    ConsentPage<'_> => "consent.html",
    ErrorPage<'_> => "error.html",
    LogoutPage<'_> => "logout.html",
    LoggedOutPage => "logged_out.html",
    FormPostPage<'_> => "form_post.html",
}

/// Renders an operator's replacement for `page`, when there is one. The
/// template sees the page's fields plus `brand`, `logo_url` and `custom_css`.
fn render_override<P: Page>(theme: &super::theme::Theme, page: &P) -> Option<Result<String, String>> {
    let environment = theme.overrides.as_ref()?;
    let template = environment.get_template(P::NAME).ok()?;
    let context = minijinja::context! {
        brand => &theme.title,
        logo_url => &theme.logo_url,
        custom_css => theme.custom_css.is_some(),
        ..minijinja::Value::from_serialize(page)
    };
    Some(template.render(context).map_err(|err| err.to_string()))
}

pub fn render<P: Page>(status: StatusCode, page: &P) -> Response {
    render_page(status, page, None)
}

/// Renders `page` (or its operator replacement) with the page headers;
/// `form_action` adds the one origin a page's form may post to.
fn render_page<P: Page>(status: StatusCode, page: &P, form_action: Option<&str>) -> Response {
    let theme = super::theme::current();
    let rendered = match render_override(&theme, page) {
        Some(result) => result,
        None => page.render_with_values(theme.as_ref()).map_err(|err| err.to_string()),
    };
    let csp = match form_action {
        Some(origin) => format!("{}; form-action {origin}", page_csp(&theme)),
        None => page_csp(&theme),
    };
    match rendered {
        Ok(body) => with_page_headers((status, Html(body)).into_response(), &csp),
        Err(err) => {
            tracing::error!(error = %err, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

pub fn with_page_headers(mut response: Response, csp: &str) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub fn error_page(status: StatusCode, message: &str) -> Response {
    render(status, &ErrorPage { message })
}

/// Sends an authorization response to the client: a 303 to the redirect
/// URI (RFC 9700 §4.12: never 307), or an auto-submitting form for
/// `response_mode=form_post`.
pub fn deliver(redirect: &Redirect) -> Response {
    match redirect.mode {
        ResponseMode::Query => see_other(&redirect.location()),
        ResponseMode::FormPost => {
            let page = FormPostPage { redirect_uri: &redirect.redirect_uri, params: &redirect.params };
            render_page(StatusCode::OK, &page, Some(&csp_source(&redirect.redirect_uri)))
        }
    }
}

/// The origin of a URI, for a CSP source list.
fn csp_source(uri: &str) -> String {
    url::Url::parse(uri)
        .ok()
        .map(|url| url.origin().ascii_serialization())
        .filter(|origin| origin != "null")
        .unwrap_or_else(|| "'none'".into())
}

pub fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => error_page(StatusCode::BAD_REQUEST, "The redirect address is not valid."),
    }
}

//! latchkey: a self-hosted OpenID Connect provider. This file wires the
//! layers together; `main.rs` only parses arguments and calls in here.
//! See ARCHITECTURE.md for the map.

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod oidc;
pub mod secrets;
pub mod store;
pub mod telemetry;
pub mod tokens;

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use crate::auth::PasswordHasher;
use crate::clock::Clock;
use crate::config::Config;
use crate::oidc::Provider;
use crate::oidc::admin::{self, NewClient, NewUser};
use crate::store::{SqliteStore, Store};
use crate::tokens::{KeySettings, Keys, Maintenance};

/// Why latchkey could not start or finish a command; one sentence.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Fatal(pub String);

impl Fatal {
    pub fn from_display(err: impl std::fmt::Display) -> Self {
        Fatal(err.to_string())
    }
}

/// Opens the store and the keys and builds the provider.
pub async fn open_provider(config: Config, clock: Arc<dyn Clock>) -> Result<Provider, Fatal> {
    let config = Arc::new(config);
    let store = SqliteStore::open(&config.database.path, config.database.max_connections).map_err(Fatal::from_display)?;
    let store: Arc<dyn Store> = Arc::new(store);
    let keys = Keys::load_or_create(store.as_ref(), KeySettings::from_config(&config), clock.now())
        .await
        .map_err(Fatal::from_display)?;
    let hasher = PasswordHasher::new(&config.password, config.password_concurrency()).map_err(Fatal::from_display)?;
    let throttles = Arc::new(auth::throttle::Throttles::new(&config.rate_limit));
    Ok(Provider { config, store, keys, hasher, clock, refresh_retries: Default::default(), throttles })
}

/// One pass of signing key maintenance at the provider's `now`: scheduled
/// rotation, retirement, clean-up, and reloading keys changed by another
/// process. The server runs it every `tokens::rotation::MAINTENANCE_INTERVAL`;
/// tests call it directly after moving the clock.
pub async fn maintain_keys(provider: &Provider) -> Result<Maintenance, Fatal> {
    provider.keys.maintain(provider.store.as_ref(), provider.now()).await.map_err(Fatal::from_display)
}

/// The demo login, created on first `serve --demo`.
pub struct DemoLogin {
    pub username: String,
    /// `None` when the demo user already existed.
    pub password: Option<SecretString>,
}

/// Creates the demo client and user unless they exist.
pub async fn ensure_demo(provider: &Provider) -> Result<DemoLogin, Fatal> {
    use crate::http::demo::{DEMO_CLIENT_ID, DEMO_USERNAME};
    if provider.store.find_client(DEMO_CLIENT_ID).await.map_err(Fatal::from_display)?.is_none() {
        admin::add_client(
            provider,
            NewClient {
                id: DEMO_CLIENT_ID.into(),
                public: true,
                redirect_uris: vec![provider.config.endpoint("/demo")],
                post_logout_redirect_uris: vec![provider.config.endpoint("/demo")],
                scopes: vec!["openid".into(), "profile".into(), "email".into()],
                grant_types: Vec::new(),
            },
        )
        .await
        .map_err(Fatal::from_display)?;
    }
    if provider.store.find_user_by_username(DEMO_USERNAME).await.map_err(Fatal::from_display)?.is_some() {
        return Ok(DemoLogin { username: DEMO_USERNAME.into(), password: None });
    }
    let password = SecretString::from(secrets::random_token(12));
    admin::add_user(
        provider,
        NewUser {
            username: DEMO_USERNAME.into(),
            display_name: Some("Demo User".into()),
            email: Some("demo@example.com".into()),
            password: SecretString::from(password.expose_secret().to_string()),
        },
    )
    .await
    .map_err(Fatal::from_display)?;
    Ok(DemoLogin { username: DEMO_USERNAME.into(), password: Some(password) })
}

/// Runs the server on an already-bound listener until `shutdown`; used by
/// `latchkey serve` and by the tests (which bind 127.0.0.1:0).
pub async fn serve(
    provider: Provider,
    demo: bool,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Fatal> {
    let theme = http::theme::Theme::load(&provider.config.ui).map_err(Fatal)?;
    let purge_store = provider.store.clone();
    let purge_clock = provider.clock.clone();
    // A grant's access tokens all expire within the longest token lifetime
    // after its last refresh; an hour on top covers clock steps.
    let grant_quiet = provider.config.tokens.access_token_ttl.max(provider.config.tokens.id_token_ttl).as_secs() as i64 + 3600;
    let purger = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            ticker.tick().await;
            if let Err(err) = purge_store.purge_expired(purge_clock.now(), grant_quiet).await {
                tracing::warn!(error = %err, "purging expired records failed");
            }
        }
    });
    let key_provider = provider.clone();
    let key_keeper = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(tokens::rotation::MAINTENANCE_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(err) = maintain_keys(&key_provider).await {
                tracing::error!(error = %err, "signing key maintenance failed; retrying");
            }
        }
    });
    let store = provider.store.clone();
    let result = http::serve(http::AppState::new(provider, demo).with_theme(theme), listener, shutdown).await;
    purger.abort();
    key_keeper.abort();
    // In-flight requests have finished: fold the write-ahead log into the
    // database file so it is complete on its own.
    match store.checkpoint().await {
        Ok(checkpoint) => tracing::info!(
            event = "shutdown_checkpoint",
            complete = checkpoint.complete,
            frames = checkpoint.checkpointed_frames,
            "database checkpointed"
        ),
        Err(err) => tracing::warn!(error = %err, "checkpoint at shutdown failed"),
    }
    result.map_err(|err| Fatal(format!("the server stopped: {err}")))
}

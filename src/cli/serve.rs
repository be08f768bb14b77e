//! `latchkey serve [--demo]`.

use std::sync::Arc;

use clap::Args;
use secrecy::ExposeSecret;

use crate::Fatal;
use crate::clock::SystemClock;
use crate::config::Config;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Also create a demo user and client and serve /demo, a built-in relying party.
    #[arg(long)]
    pub demo: bool,
}

pub async fn run(config: Config, args: ServeArgs) -> Result<(), Fatal> {
    let listen = config.server.listen.clone();
    let issuer = config.server.issuer.clone();
    let provider = crate::open_provider(config, Arc::new(SystemClock)).await?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|err| Fatal(format!("cannot listen on {listen}: {err}; is another process using it? Set server.listen to change it")))?;
    if args.demo {
        let login = crate::ensure_demo(&provider).await?;
        eprintln!();
        eprintln!("  latchkey demo is ready: open {issuer}/demo");
        match login.password {
            Some(password) => {
                eprintln!("  user name: {}", login.username);
                eprintln!("  password:  {}", password.expose_secret());
                eprintln!("  (shown once; change it with `latchkey user passwd {}`)", login.username);
            }
            None => eprintln!("  user name: {} (password set earlier; reset it with `latchkey user passwd {}`)", login.username, login.username),
        }
        eprintln!();
    }
    let bound = listener.local_addr().map(|addr| addr.to_string()).unwrap_or(listen);
    tracing::info!(%issuer, listen = %bound, "latchkey is serving");
    crate::serve(provider, args.demo, listener, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

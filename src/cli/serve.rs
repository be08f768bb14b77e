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
        .map_err(|err| {
            Fatal(format!(
                "cannot listen on {listen}: {err}; is another process using it? To use another port set server.listen and server.issuer (LATCHKEY_SERVER_LISTEN=127.0.0.1:8081 LATCHKEY_SERVER_ISSUER=http://127.0.0.1:8081)"
            ))
        })?;
    if let Some(warning) = local_issuer_mismatch(&issuer, listener.local_addr().ok()) {
        eprintln!("warning: {warning}");
    }
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

/// A loopback issuer on another port than the one we listen on sends every
/// browser to some other server (a common slip: changing only the port).
fn local_issuer_mismatch(issuer: &str, bound: Option<std::net::SocketAddr>) -> Option<String> {
    let bound = bound?;
    let url = url::Url::parse(issuer).ok()?;
    let loopback = match url.host()? {
        url::Host::Domain(domain) => domain == "localhost",
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    let port = url.port_or_known_default()?;
    (loopback && bound.ip().is_loopback() && port != bound.port()).then(|| {
        format!(
            "server.issuer is {issuer} but latchkey listens on port {}: browsers and clients will be sent to port {port}; set server.issuer (LATCHKEY_SERVER_ISSUER) to http://127.0.0.1:{}",
            bound.port(),
            bound.port()
        )
    })
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

#[cfg(test)]
mod tests {
    use super::local_issuer_mismatch;

    #[test]
    fn a_loopback_issuer_on_another_port_is_flagged() {
        let bound = Some("127.0.0.1:18301".parse().unwrap());
        assert!(local_issuer_mismatch("http://127.0.0.1:8080", bound).is_some());
        assert!(local_issuer_mismatch("http://localhost:8080", bound).is_some());
        assert!(local_issuer_mismatch("http://127.0.0.1:18301", bound).is_none());
        // Behind a proxy the public issuer differs from the listener, rightly.
        assert!(local_issuer_mismatch("https://login.example.com", bound).is_none());
    }
}

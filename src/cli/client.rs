//! `latchkey client ...`.

use clap::Subcommand;
use secrecy::ExposeSecret;

use crate::Fatal;
use crate::oidc::Provider;
use crate::oidc::admin::{self, NewClient};

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; a confidential client's secret is printed once.
    Add {
        /// The client_id.
        client_id: String,
        /// A redirect URI, registered exactly (repeat for several).
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// A public client (browser or native app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// A scope the client may request (repeat; default: openid profile email offline_access).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Where the client may send users after logout (repeat for several).
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// A grant type the client may use (repeat; default: authorization_code refresh_token).
        #[arg(long = "grant", value_name = "GRANT")]
        grant_types: Vec<String>,
    },
    /// List clients (never shows secrets).
    List,
    /// Delete a client and everything issued to it.
    Delete {
        /// The client_id, as `client list` shows it.
        client_id: String,
    },
    /// Replace a confidential client's secret; the new one is printed once.
    RotateSecret {
        /// The client_id, as `client list` shows it.
        client_id: String,
    },
}

pub async fn run(provider: &Provider, command: ClientCommand) -> Result<(), Fatal> {
    match command {
        ClientCommand::Add { client_id, redirect_uris, public, scopes, post_logout_redirect_uris, grant_types } => {
            let created = admin::add_client(
                provider,
                NewClient { id: client_id, public, redirect_uris, post_logout_redirect_uris, scopes, grant_types },
            )
            .await
            .map_err(Fatal::from_display)?;
            println!("client_id: {}", created.client.id);
            match created.secret {
                Some(secret) => {
                    println!("client_secret: {}", secret.expose_secret());
                    eprintln!("Store the secret now: it is not shown again (rotate it with `latchkey client rotate-secret`).");
                }
                None => println!("public client: no secret; it must use PKCE (S256)"),
            }
        }
        ClientCommand::List => {
            let clients = provider.store.list_clients().await.map_err(Fatal::from_display)?;
            println!("{:<24} {:<13} {:<34} REDIRECT URIS", "CLIENT_ID", "TYPE", "GRANTS");
            for client in clients {
                println!(
                    "{:<24} {:<13} {:<34} {}",
                    client.id,
                    if client.is_public() { "public" } else { "confidential" },
                    client.grant_types.join(","),
                    client.redirect_uris.join(" ")
                );
            }
        }
        ClientCommand::Delete { client_id } => {
            admin::delete_client(provider, &client_id).await.map_err(Fatal::from_display)?;
            println!("client deleted");
        }
        ClientCommand::RotateSecret { client_id } => {
            let secret = admin::rotate_client_secret(provider, &client_id).await.map_err(Fatal::from_display)?;
            println!("client_id: {client_id}");
            println!("client_secret: {}", secret.expose_secret());
            eprintln!("The old secret no longer works. Store the new one now: it is not shown again.");
        }
    }
    Ok(())
}

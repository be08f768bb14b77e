//! `latchkey keys ...`.

use clap::Subcommand;

use crate::Fatal;
use crate::clock::format_time;
use crate::oidc::Provider;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// One line per signing key: kid, state, created, last state change.
    List,
}

pub async fn run(provider: &Provider, command: KeysCommand) -> Result<(), Fatal> {
    match command {
        KeysCommand::List => {
            let keys = provider.store.list_signing_keys().await.map_err(Fatal::from_display)?;
            println!("{:<18} {:<9} {:<26} STATE CHANGED", "KID", "STATE", "CREATED");
            for key in keys {
                println!(
                    "{:<18} {:<9} {:<26} {}",
                    key.kid,
                    key.state.as_str(),
                    format_time(key.created_at),
                    format_time(key.state_changed_at)
                );
            }
        }
    }
    Ok(())
}

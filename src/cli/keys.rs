//! `latchkey keys list|rotate|revoke`: the same `Keys` functions the
//! server's schedule uses, on the same store and key directory; a running
//! server picks the change up at its next maintenance pass (within a second).

use clap::Subcommand;

use crate::Fatal;
use crate::clock::format_time;
use crate::oidc::Provider;
use crate::store::KeyState;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// One line per signing key: kid, state, created, last state change.
    List,
    /// Promote the next key to active now; the active key starts retiring and a new next key is made.
    Rotate,
    /// Emergency (key compromise): remove the key from /jwks and from signing at once.
    Revoke {
        /// The kid of the key, as `keys list` shows it.
        kid: String,
    },
}

pub async fn run(provider: &Provider, command: KeysCommand) -> Result<(), Fatal> {
    let store = provider.store.as_ref();
    match command {
        KeysCommand::List => {
            let keys = store.list_signing_keys().await.map_err(Fatal::from_display)?;
            println!("{:<18} {:<9} {:<26} STATE CHANGED", "KID", "STATE", "CREATED");
            for key in keys {
                let revoked = if key.revoked_at.is_some() { " (revoked)" } else { "" };
                println!(
                    "{:<18} {:<9} {:<26} {}{revoked}",
                    key.kid,
                    key.state.as_str(),
                    format_time(key.created_at),
                    format_time(key.state_changed_at)
                );
            }
        }
        KeysCommand::Rotate => {
            let now = provider.now();
            let records = store.list_signing_keys().await.map_err(Fatal::from_display)?;
            let publish = provider.keys.settings().policy.publish_before_use;
            if let Some(next) = records.iter().find(|record| record.state == KeyState::Next)
                && now - next.state_changed_at < publish
            {
                eprintln!(
                    "warning: the next key {} has been published for only {}s (JWKS max-age is {publish}s); relying parties with a cached JWKS will refetch it when they see the new kid",
                    next.kid,
                    now - next.state_changed_at
                );
            }
            let rotation = provider.keys.rotate(store, now).await.map_err(Fatal::from_display)?;
            println!("active:   {}", rotation.activated);
            if let Some(retiring) = rotation.retiring {
                println!("retiring: {retiring}");
            }
            println!("next:     {}", rotation.next);
        }
        KeysCommand::Revoke { kid } => {
            let revoked = provider.keys.revoke(store, &kid, provider.now()).await.map_err(Fatal::from_display)?;
            println!("revoked:  {} (was {})", revoked.kid, revoked.was.as_str());
            if let Some(active) = revoked.activated {
                println!("active:   {active}");
            }
        }
    }
    Ok(())
}

//! The command line: clap definitions and dispatch, one file per noun. Admin
//! commands call the same `oidc::admin` functions the server uses.

mod client;
mod keys;
mod serve;
mod user;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::Fatal;
use crate::clock::SystemClock;
use crate::config::Config;

/// latchkey: a self-hosted OpenID Connect provider in one binary and one SQLite file.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, propagate_version = true)]
pub struct Cli {
    /// Configuration file (default: ./latchkey.toml when it exists).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the provider.
    Serve(serve::ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage relying parties (OAuth clients).
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Inspect, rotate and revoke signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

/// Runs a parsed command line. Errors are one sentence for stderr.
pub async fn run(cli: Cli) -> Result<(), Fatal> {
    let config = Config::load(cli.config.as_deref()).map_err(Fatal::from_display)?;
    match cli.command {
        Command::Serve(args) => serve::run(config, args).await,
        command => {
            let provider = crate::open_provider(config, Arc::new(SystemClock)).await?;
            match command {
                Command::User(command) => user::run(&provider, command).await,
                Command::Client(command) => client::run(&provider, command).await,
                Command::Keys(command) => keys::run(&provider, command).await,
                Command::Serve(_) => Ok(()),
            }
        }
    }
}

//! The command line: clap definitions and dispatch, one file per noun. Admin
//! commands call the same `oidc::admin` functions the server uses.

mod backup;
mod client;
mod keys;
mod serve;
mod user;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::Fatal;
use crate::clock::SystemClock;
use crate::config::{Config, LogFormat};

/// latchkey: a self-hosted OpenID Connect provider in one binary and one SQLite file.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, propagate_version = true)]
pub struct Cli {
    /// Configuration file (default: ./latchkey.toml when it exists).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Log line format on stderr: text or json (default: log.format, else text).
    #[arg(long, global = true, value_name = "FORMAT", value_parser = parse_log_format)]
    pub log_format: Option<LogFormat>,

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
    /// Write a consistent copy of the database (safe while the server runs).
    Backup(backup::BackupArgs),
}

fn parse_log_format(text: &str) -> Result<LogFormat, String> {
    match text {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("{text:?} is not a log format; use text or json")),
    }
}

/// Runs a parsed command line. Errors are one sentence for stderr.
pub async fn run(cli: Cli) -> Result<(), Fatal> {
    let config = Config::load(cli.config.as_deref());
    // Logging starts before anything can fail after parsing, with the flag
    // winning over the file.
    let format = cli.log_format.or_else(|| config.as_ref().ok().map(|config| config.log.format)).unwrap_or_default();
    // Held to the end of the command: dropping it flushes the log.
    let _log_guard = crate::telemetry::init_logging(format);
    let config = config.map_err(Fatal::from_display)?;
    match cli.command {
        Command::Serve(args) => serve::run(config, args).await,
        Command::Backup(args) => backup::run(&config, args).await,
        command => {
            let provider = crate::open_provider(config, Arc::new(SystemClock)).await?;
            match command {
                Command::User(command) => user::run(&provider, command).await,
                Command::Client(command) => client::run(&provider, command).await,
                Command::Keys(command) => keys::run(&provider, command).await,
                Command::Serve(_) | Command::Backup(_) => Ok(()),
            }
        }
    }
}

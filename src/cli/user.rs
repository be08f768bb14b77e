//! `latchkey user ...`.

use std::io::{BufRead, IsTerminal};

use clap::Subcommand;
use secrecy::{ExposeSecret, SecretString};

use crate::Fatal;
use crate::clock::format_time;
use crate::oidc::Provider;
use crate::oidc::admin::{self, NewUser};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add {
        /// User name (normalised: case-folded, NFKC).
        name: String,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// Full name.
        #[arg(long = "name", value_name = "FULL NAME")]
        full_name: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password.
    Passwd {
        /// User name, as `user list` shows it.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users (never shows password hashes).
    List,
    /// Stop a user from logging in and end their sessions.
    Disable {
        /// User name, as `user list` shows it.
        name: String,
    },
    /// Allow a disabled user to log in again.
    Enable {
        /// User name, as `user list` shows it.
        name: String,
    },
    /// Delete a user and everything issued to them.
    Delete {
        /// User name, as `user list` shows it.
        name: String,
    },
}

fn read_password(from_stdin: bool) -> Result<SecretString, Fatal> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|err| Fatal(format!("cannot read the password from standard input: {err}")))?;
        let password = line.trim_end_matches(['\r', '\n']).to_string();
        if password.is_empty() {
            return Err(Fatal("the password read from standard input is empty".into()));
        }
        return Ok(SecretString::from(password));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Fatal("no terminal to ask for a password; pass --password-stdin and pipe it in".into()));
    }
    let first = rpassword::prompt_password("Password: ").map_err(|err| Fatal(format!("cannot read the password: {err}")))?;
    let second = rpassword::prompt_password("Repeat password: ").map_err(|err| Fatal(format!("cannot read the password: {err}")))?;
    if first != second {
        return Err(Fatal("the two passwords differ; nothing was changed".into()));
    }
    if first.is_empty() {
        return Err(Fatal("the password is empty; nothing was changed".into()));
    }
    Ok(SecretString::from(first))
}

pub async fn run(provider: &Provider, command: UserCommand) -> Result<(), Fatal> {
    match command {
        UserCommand::Add { name, email, full_name, password_stdin } => {
            // Before the prompt: a name that cannot be used is said first.
            admin::check_new_username(provider, &name).await.map_err(Fatal::from_display)?;
            let password = read_password(password_stdin)?;
            let user = admin::add_user(provider, NewUser { username: name, display_name: full_name, email, password })
                .await
                .map_err(Fatal::from_display)?;
            println!("created user {} (sub {})", user.username, user.id);
        }
        UserCommand::Passwd { name, password_stdin } => {
            admin::check_existing_username(provider, &name).await.map_err(Fatal::from_display)?;
            let password = read_password(password_stdin)?;
            debug_assert!(!password.expose_secret().is_empty());
            admin::set_password(provider, &name, password).await.map_err(Fatal::from_display)?;
            println!("password changed");
        }
        UserCommand::List => {
            let users = provider.store.list_users().await.map_err(Fatal::from_display)?;
            println!("{:<24} {:<24} {:<9} {:<32} CREATED", "USERNAME", "SUB", "STATUS", "EMAIL");
            for user in users {
                println!(
                    "{:<24} {:<24} {:<9} {:<32} {}",
                    user.username,
                    user.id,
                    if user.disabled { "disabled" } else { "active" },
                    user.email.as_deref().unwrap_or("-"),
                    format_time(user.created_at)
                );
            }
        }
        UserCommand::Disable { name } => {
            admin::set_disabled(provider, &name, true).await.map_err(Fatal::from_display)?;
            println!("user disabled; their sessions have ended");
        }
        UserCommand::Enable { name } => {
            admin::set_disabled(provider, &name, false).await.map_err(Fatal::from_display)?;
            println!("user enabled");
        }
        UserCommand::Delete { name } => {
            admin::delete_user(provider, &name).await.map_err(Fatal::from_display)?;
            println!("user deleted");
        }
    }
    Ok(())
}

//! Administration use cases (users and clients), shared by the CLI and the
//! demo bootstrap so that every path applies the same rules.

use secrecy::{ExposeSecret, SecretString};

use crate::auth::username;
use crate::secrets::{random_token, token_hash};
use crate::store::{Client, StoreError, User};

use super::{Provider, redirect_uri, scopes};

pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
const KNOWN_GRANTS: &[&str] = &[GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_CLIENT_CREDENTIALS];

/// An administration failure, worded for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AdminError(pub String);

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        AdminError(err.to_string())
    }
}

impl From<crate::auth::PasswordError> for AdminError {
    fn from(err: crate::auth::PasswordError) -> Self {
        AdminError(err.to_string())
    }
}

pub struct NewUser {
    pub username: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub password: SecretString,
}

fn canonical_username(name: &str) -> Result<String, AdminError> {
    username::normalize(name).map_err(|err| AdminError(format!("user name {name:?} is not acceptable: {err}")))
}

/// Fewest characters a new password may have (NIST SP 800-63B §3.1.1.2).
pub const MIN_PASSWORD_CHARS: usize = 8;

fn check_new_password(password: &SecretString) -> Result<(), AdminError> {
    if password.expose_secret().chars().count() < MIN_PASSWORD_CHARS {
        return Err(AdminError(format!("the password is too short; use at least {MIN_PASSWORD_CHARS} characters")));
    }
    Ok(())
}

/// Checks, before a password is asked for, that `name` can be created.
pub async fn check_new_username(provider: &Provider, name: &str) -> Result<(), AdminError> {
    let username = canonical_username(name)?;
    if provider.store.find_user_by_username(&username).await?.is_some() {
        return Err(AdminError(format!("a user named {username:?} already exists")));
    }
    Ok(())
}

/// Checks, before a password is asked for, that the user `name` exists.
pub async fn check_existing_username(provider: &Provider, name: &str) -> Result<(), AdminError> {
    let username = canonical_username(name)?;
    if provider.store.find_user_by_username(&username).await?.is_none() {
        return Err(AdminError(format!("no user named {username:?}; see `latchkey user list`")));
    }
    Ok(())
}

pub async fn add_user(provider: &Provider, new: NewUser) -> Result<User, AdminError> {
    let username = canonical_username(&new.username)?;
    if let Some(email) = &new.email
        && (email.len() > 254 || !email.contains('@') || email.chars().any(char::is_control)) {
            return Err(AdminError(format!("{email:?} is not an email address")));
        }
    if let Some(name) = &new.display_name
        && (name.trim().is_empty() || name.len() > 256 || name.chars().any(char::is_control)) {
            return Err(AdminError("the full name must be 1 to 256 printable characters".into()));
        }
    check_new_password(&new.password)?;
    let password_hash = provider.hasher.hash(new.password).await?;
    let now = provider.now();
    let user = User {
        id: random_token(16),
        username,
        display_name: new.display_name.map(|name| name.trim().to_string()),
        email: new.email,
        email_verified: false,
        password_hash,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    provider.store.insert_user(user.clone()).await.map_err(|err| match err {
        StoreError::Conflict(_) => AdminError(format!("a user named {:?} already exists", user.username)),
        other => other.into(),
    })?;
    tracing::info!(event = "user_created", username = %user.username, sub = %user.id, "user created");
    Ok(user)
}

pub async fn set_password(provider: &Provider, name: &str, password: SecretString) -> Result<(), AdminError> {
    let username = canonical_username(name)?;
    check_new_password(&password)?;
    let hash = provider.hasher.hash(password).await?;
    if !provider.store.update_user_password(&username, &hash, provider.now()).await? {
        return Err(AdminError(format!("no user named {username:?}; see `latchkey user list`")));
    }
    tracing::info!(event = "user_password_changed", %username, "password changed");
    Ok(())
}

pub async fn set_disabled(provider: &Provider, name: &str, disabled: bool) -> Result<(), AdminError> {
    let username = canonical_username(name)?;
    if !provider.store.update_user_disabled(&username, disabled, provider.now()).await? {
        return Err(AdminError(format!("no user named {username:?}; see `latchkey user list`")));
    }
    tracing::info!(event = if disabled { "user_disabled" } else { "user_enabled" }, %username, "user changed");
    Ok(())
}

pub async fn delete_user(provider: &Provider, name: &str) -> Result<(), AdminError> {
    let username = canonical_username(name)?;
    if !provider.store.delete_user(&username).await? {
        return Err(AdminError(format!("no user named {username:?}; see `latchkey user list`")));
    }
    tracing::info!(event = "user_deleted", %username, "user deleted");
    Ok(())
}

pub struct NewClient {
    pub id: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Empty means the default scopes.
    pub scopes: Vec<String>,
    /// Empty means authorization_code and refresh_token.
    pub grant_types: Vec<String>,
}

/// The stored client and, for a confidential one, its secret: shown once.
pub struct CreatedClient {
    pub client: Client,
    pub secret: Option<SecretString>,
}

fn validate_client_id(id: &str) -> Result<(), AdminError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !ok {
        return Err(AdminError(format!(
            "client id {id:?} must be 1 to 128 characters of letters, digits and - . _ ~"
        )));
    }
    Ok(())
}

pub async fn add_client(provider: &Provider, new: NewClient) -> Result<CreatedClient, AdminError> {
    validate_client_id(&new.id)?;
    let grant_types = if new.grant_types.is_empty() {
        vec![GRANT_AUTHORIZATION_CODE.to_string(), GRANT_REFRESH_TOKEN.to_string()]
    } else {
        new.grant_types.clone()
    };
    for grant in &grant_types {
        if !KNOWN_GRANTS.contains(&grant.as_str()) {
            return Err(AdminError(format!("unknown grant {grant:?}; use one of {}", KNOWN_GRANTS.join(", "))));
        }
    }
    if new.public && grant_types.iter().any(|grant| grant == GRANT_CLIENT_CREDENTIALS) {
        return Err(AdminError("a public client cannot use client_credentials (RFC 6749 §4.4)".into()));
    }
    let uses_code = grant_types.iter().any(|grant| grant == GRANT_AUTHORIZATION_CODE);
    if uses_code && new.redirect_uris.is_empty() {
        return Err(AdminError("give at least one --redirect-uri for a client that logs users in".into()));
    }
    for uri in new.redirect_uris.iter().chain(&new.post_logout_redirect_uris) {
        redirect_uri::validate_for_registration(uri).map_err(AdminError)?;
    }
    let scopes = if new.scopes.is_empty() {
        scopes::DEFAULT_CLIENT_SCOPES.iter().map(|scope| scope.to_string()).collect()
    } else {
        new.scopes.clone()
    };
    for scope in &scopes {
        if !scopes::is_valid_token(scope) {
            return Err(AdminError(format!("scope {scope:?} has characters RFC 6749 §3.3 does not allow")));
        }
    }
    let secret = (!new.public).then(|| random_token(32));
    let client = Client {
        id: new.id,
        secret_hash: secret.as_deref().map(token_hash),
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        scopes,
        grant_types,
        created_at: provider.now(),
    };
    provider.store.insert_client(client.clone()).await.map_err(|err| match err {
        StoreError::Conflict(_) => AdminError(format!("a client with id {:?} already exists", client.id)),
        other => other.into(),
    })?;
    tracing::info!(event = "client_created", client_id = %client.id, public = client.is_public(), "client registered");
    Ok(CreatedClient { client, secret: secret.map(SecretString::from) })
}

pub async fn rotate_client_secret(provider: &Provider, id: &str) -> Result<SecretString, AdminError> {
    let secret = random_token(32);
    if !provider.store.update_client_secret(id, token_hash(&secret)).await? {
        return Err(match provider.store.find_client(id).await? {
            Some(_) => AdminError(format!("client {id:?} is public and has no secret")),
            None => AdminError(format!("no client with id {id:?}; see `latchkey client list`")),
        });
    }
    tracing::info!(event = "client_secret_rotated", client_id = %id, "client secret rotated");
    Ok(SecretString::from(secret))
}

pub async fn delete_client(provider: &Provider, id: &str) -> Result<(), AdminError> {
    if !provider.store.delete_client(id).await? {
        return Err(AdminError(format!("no client with id {id:?}; see `latchkey client list`")));
    }
    tracing::info!(event = "client_deleted", client_id = %id, "client deleted");
    Ok(())
}

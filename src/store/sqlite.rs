//! The SQLite implementation of `Store`: a pool of connections in WAL mode,
//! each blocking call run on tokio's blocking pool through `call`.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::*;

#[derive(Clone)]
pub struct SqliteStore {
    pool: Pool<SqliteConnectionManager>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

/// `Connection::execute` through the statement cache: the same few
/// statements run on every login and token request, so each is parsed once
/// per connection instead of every time.
fn execute_cached(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

fn db_err(err: impl std::fmt::Display) -> StoreError {
    StoreError::Database(err.to_string())
}

/// Maps a unique-constraint violation to `Conflict(what)`.
fn conflict(what: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |err| match &err {
        rusqlite::Error::SqliteFailure(inner, _) if inner.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(what)
        }
        _ => db_err(err),
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

fn from_json<T: serde::de::DeserializeOwned>(text: String) -> rusqlite::Result<T> {
    serde_json::from_str(&text)
        .map_err(|err| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(err)))
}

impl SqliteStore {
    /// Opens (creating if needed) the database and applies migrations.
    pub fn open(path: &Path, max_connections: u32) -> StoreResult<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|err| db_err(format!("cannot create directory {}: {err}", parent.display())))?;
        }
        create_private_file(path)?;
        let manager = SqliteConnectionManager::file(path).with_init(|conn| {
            conn.busy_timeout(Duration::from_secs(5))?;
            // A 512 KiB page cache per connection instead of SQLite's 2 MiB:
            // the hot pages of an identity database are few, the OS caches
            // the file anyway, and eight full caches were most of the
            // memory a busy server kept.
            conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -512;")
        });
        // Connections open on demand (up to `max_connections`) and close
        // after ten idle minutes, so an idle server holds one, not eight.
        let pool = Pool::builder()
            .max_size(max_connections)
            .min_idle(Some(1))
            .idle_timeout(Some(Duration::from_secs(600)))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(|err| db_err(format!("cannot open database {}: {err}", path.display())))?;
        let mut conn = pool.get().map_err(db_err)?;
        // WAL lets readers proceed while one writer commits; it is a property
        // of the file, so setting it once here is enough.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).map_err(db_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(db_err(format!("database {} refused WAL mode ({mode})", path.display())));
        }
        super::migrations::apply(&mut conn).map_err(db_err)?;
        Ok(Self { pool })
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    async fn call<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(db_err)?;
            f(&mut conn)
        })
        .await
        .map_err(db_err)?
    }
}

const USER_COLUMNS: &str =
    "id, username, display_name, email, email_verified, password_hash, disabled, created_at, updated_at";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        display_name: row.get(2)?,
        email: row.get(3)?,
        email_verified: row.get(4)?,
        password_hash: row.get(5)?,
        disabled: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
    })
}

const CLIENT_COLUMNS: &str = "id, secret_hash, redirect_uris, post_logout_redirect_uris, scopes, grant_types, created_at";

fn client_from_row(row: &Row<'_>) -> rusqlite::Result<Client> {
    Ok(Client {
        id: row.get(0)?,
        secret_hash: row.get(1)?,
        redirect_uris: from_json(row.get(2)?)?,
        post_logout_redirect_uris: from_json(row.get(3)?)?,
        scopes: from_json(row.get(4)?)?,
        grant_types: from_json(row.get(5)?)?,
        created_at: row.get(6)?,
    })
}

const CODE_COLUMNS: &str =
    "code_hash, client_id, user_id, redirect_uri, scopes, nonce, code_challenge, auth_time, expires_at, grant_id, redeemed_at";

fn code_from_row(row: &Row<'_>) -> rusqlite::Result<(AuthorizationCode, Option<i64>)> {
    Ok((
        AuthorizationCode {
            code_hash: row.get(0)?,
            client_id: row.get(1)?,
            user_id: row.get(2)?,
            redirect_uri: row.get(3)?,
            scopes: from_json(row.get(4)?)?,
            nonce: row.get(5)?,
            code_challenge: row.get(6)?,
            auth_time: row.get(7)?,
            expires_at: row.get(8)?,
            grant_id: row.get(9)?,
        },
        row.get(10)?,
    ))
}

const KEY_COLUMNS: &str = "kid, state, created_at, state_changed_at, revoked_at";

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<SigningKeyRecord> {
    let state: String = row.get(1)?;
    Ok(SigningKeyRecord {
        kid: row.get(0)?,
        // The CHECK constraint allows only the four states; anything else
        // is treated as unusable rather than published.
        state: KeyState::parse(&state).unwrap_or(KeyState::Retired),
        created_at: row.get(2)?,
        state_changed_at: row.get(3)?,
        revoked_at: row.get(4)?,
    })
}

fn key_state(conn: &Connection, kid: &str) -> StoreResult<Option<KeyState>> {
    let state: Option<String> = conn
        .prepare_cached("SELECT state FROM signing_keys WHERE kid = ?1")
        .and_then(|mut stmt| stmt.query_row([kid], |row| row.get(0)).optional())
        .map_err(db_err)?;
    Ok(state.map(|state| KeyState::parse(&state).unwrap_or(KeyState::Retired)))
}

/// The kid of the one key in `state` (`active` or `next`), if any.
fn live_key(conn: &Connection, state: KeyState) -> StoreResult<Option<String>> {
    conn.prepare_cached("SELECT kid FROM signing_keys WHERE state = ?1")
        .and_then(|mut stmt| stmt.query_row([state.as_str()], |row| row.get(0)).optional())
        .map_err(db_err)
}

/// Inserts a key record; false when the unique index already holds a key
/// in its (`active` or `next`) state.
fn insert_key(conn: &Connection, record: &SigningKeyRecord) -> StoreResult<bool> {
    let changed = execute_cached(
        conn,
        &format!("INSERT INTO signing_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING"),
        params![record.kid, record.state.as_str(), record.created_at, record.state_changed_at, record.revoked_at],
    )
    .map_err(db_err)?;
    Ok(changed > 0)
}

/// Creates the database file owner-only (0600) before SQLite opens it; the
/// `-wal` and `-shm` files SQLite makes inherit that mode.
fn create_private_file(path: &Path) -> StoreResult<()> {
    if path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop).map_err(|err| db_err(format!("cannot create database {}: {err}", path.display())))
}

const REFRESH_COLUMNS: &str = "token_hash, grant_id, client_id, scopes, created_at, expires_at, consumed_at";

fn refresh_from_row(row: &Row<'_>) -> rusqlite::Result<RefreshToken> {
    Ok(RefreshToken {
        token_hash: row.get(0)?,
        grant_id: row.get(1)?,
        client_id: row.get(2)?,
        scopes: from_json(row.get(3)?)?,
        created_at: row.get(4)?,
        expires_at: row.get(5)?,
        consumed_at: row.get(6)?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_user(&self, user: User) -> StoreResult<()> {
        self.call(move |conn| {
            conn.prepare_cached(&format!("INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"))
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        user.id,
                        user.username,
                        user.display_name,
                        user.email,
                        user.email_verified,
                        user.password_hash,
                        user.disabled,
                        user.created_at,
                        user.updated_at
                    ])
                })
                .map_err(conflict("a user with this name"))?;
            Ok(())
        })
        .await
    }

    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let username = username.to_string();
        self.call(move |conn| {
            conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"))
                .and_then(|mut stmt| stmt.query_row([username], user_from_row).optional())
                .map_err(db_err)
        })
        .await
    }

    async fn find_user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        let id = id.to_string();
        self.call(move |conn| {
            conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))
                .and_then(|mut stmt| stmt.query_row([id], user_from_row).optional())
                .map_err(db_err)
        })
        .await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.call(move |conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username")).map_err(db_err)?;
            let rows = stmt.query_map([], user_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
        })
        .await
    }

    async fn update_user_password(&self, username: &str, hash: &str, now: UnixTime) -> StoreResult<bool> {
        let (username, hash) = (username.to_string(), hash.to_string());
        self.call(move |conn| {
            let changed = execute_cached(
                conn,
                "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE username = ?1",
                params![username, hash, now],
            )
            .map_err(db_err)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn update_user_password_hash(&self, user_id: &str, old_hash: &str, new_hash: &str) -> StoreResult<bool> {
        let (user_id, old_hash, new_hash) = (user_id.to_string(), old_hash.to_string(), new_hash.to_string());
        self.call(move |conn| {
            let changed = execute_cached(
                conn,
                "UPDATE users SET password_hash = ?3 WHERE id = ?1 AND password_hash = ?2",
                params![user_id, old_hash, new_hash],
            )
            .map_err(db_err)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn update_user_disabled(&self, username: &str, disabled: bool, now: UnixTime) -> StoreResult<bool> {
        let username = username.to_string();
        self.call(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            let changed = execute_cached(
                &tx,
                "UPDATE users SET disabled = ?2, updated_at = ?3 WHERE username = ?1",
                params![username, disabled, now],
            )
            .map_err(db_err)?;
            if disabled {
                // A disabled user is logged out everywhere at once.
                execute_cached(
                    &tx,
                    "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = ?1)",
                    [&username],
                )
                .map_err(db_err)?;
            }
            tx.commit().map_err(db_err)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn delete_user(&self, username: &str) -> StoreResult<bool> {
        let username = username.to_string();
        self.call(move |conn| {
            let changed = execute_cached(conn, "DELETE FROM users WHERE username = ?1", [username]).map_err(db_err)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn insert_client(&self, client: Client) -> StoreResult<()> {
        self.call(move |conn| {
            execute_cached(
                conn,
                &format!("INSERT INTO clients ({CLIENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                params![
                    client.id,
                    client.secret_hash,
                    json(&client.redirect_uris),
                    json(&client.post_logout_redirect_uris),
                    json(&client.scopes),
                    json(&client.grant_types),
                    client.created_at
                ],
            )
            .map_err(conflict("a client with this id"))?;
            Ok(())
        })
        .await
    }

    async fn find_client(&self, id: &str) -> StoreResult<Option<Client>> {
        let id = id.to_string();
        self.call(move |conn| {
            conn.prepare_cached(&format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE id = ?1"))
                .and_then(|mut stmt| stmt.query_row([id], client_from_row).optional())
                .map_err(db_err)
        })
        .await
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        self.call(move |conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {CLIENT_COLUMNS} FROM clients ORDER BY id")).map_err(db_err)?;
            let rows = stmt.query_map([], client_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
        })
        .await
    }

    async fn update_client_secret(&self, id: &str, secret_hash: Vec<u8>) -> StoreResult<bool> {
        let id = id.to_string();
        self.call(move |conn| {
            let changed = execute_cached(
                conn,
                "UPDATE clients SET secret_hash = ?2 WHERE id = ?1 AND secret_hash IS NOT NULL",
                params![id, secret_hash],
            )
            .map_err(db_err)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn delete_client(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        self.call(move |conn| {
            let changed = execute_cached(conn, "DELETE FROM clients WHERE id = ?1", [id]).map_err(db_err)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn insert_login_request(&self, request: LoginRequest) -> StoreResult<()> {
        self.call(move |conn| {
            conn.prepare_cached(
                "INSERT INTO login_requests (id, browser_hash, csrf_token, client_id, request, user_id, auth_time, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    request.id,
                    request.browser_hash,
                    request.csrf_token,
                    request.request.client_id,
                    json(&request.request),
                    request.user_id,
                    request.auth_time,
                    request.expires_at
                ])
            })
            .map_err(conflict("login request"))?;
            Ok(())
        })
        .await
    }

    async fn find_login_request(&self, id: &str) -> StoreResult<Option<LoginRequest>> {
        let id = id.to_string();
        self.call(move |conn| {
            conn.prepare_cached(
                "SELECT id, browser_hash, csrf_token, request, user_id, auth_time, expires_at
                 FROM login_requests WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([id], |row| {
                    Ok(LoginRequest {
                        id: row.get(0)?,
                        browser_hash: row.get(1)?,
                        csrf_token: row.get(2)?,
                        request: from_json(row.get(3)?)?,
                        user_id: row.get(4)?,
                        auth_time: row.get(5)?,
                        expires_at: row.get(6)?,
                    })
                })
                .optional()
            })
            .map_err(db_err)
        })
        .await
    }

    async fn update_login_request_user(&self, id: &str, user_id: &str, auth_time: UnixTime) -> StoreResult<()> {
        let (id, user_id) = (id.to_string(), user_id.to_string());
        self.call(move |conn| {
            execute_cached(
                conn,
                "UPDATE login_requests SET user_id = ?2, auth_time = ?3 WHERE id = ?1",
                params![id, user_id, auth_time],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn delete_login_request(&self, id: &str) -> StoreResult<()> {
        let id = id.to_string();
        self.call(move |conn| {
            execute_cached(conn, "DELETE FROM login_requests WHERE id = ?1", [id]).map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn insert_session(&self, session: Session) -> StoreResult<()> {
        self.call(move |conn| {
            execute_cached(
                conn,
                "INSERT INTO sessions (id_hash, user_id, auth_time, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![session.id_hash, session.user_id, session.auth_time, session.expires_at],
            )
            .map_err(conflict("session"))?;
            Ok(())
        })
        .await
    }

    async fn find_session(&self, id_hash: &[u8]) -> StoreResult<Option<Session>> {
        let id_hash = id_hash.to_vec();
        self.call(move |conn| {
            conn.prepare_cached("SELECT id_hash, user_id, auth_time, expires_at FROM sessions WHERE id_hash = ?1")
                .and_then(|mut stmt| {
                    stmt.query_row([id_hash], |row| {
                        Ok(Session {
                            id_hash: row.get(0)?,
                            user_id: row.get(1)?,
                            auth_time: row.get(2)?,
                            expires_at: row.get(3)?,
                        })
                    })
                    .optional()
                })
                .map_err(db_err)
        })
        .await
    }

    async fn delete_session(&self, id_hash: &[u8]) -> StoreResult<()> {
        let id_hash = id_hash.to_vec();
        self.call(move |conn| {
            execute_cached(conn, "DELETE FROM sessions WHERE id_hash = ?1", [id_hash]).map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn find_consent(&self, user_id: &str, client_id: &str) -> StoreResult<Vec<String>> {
        let (user_id, client_id) = (user_id.to_string(), client_id.to_string());
        self.call(move |conn| {
            let scopes: Option<String> = conn
                .prepare_cached("SELECT scopes FROM consents WHERE user_id = ?1 AND client_id = ?2")
                .and_then(|mut stmt| stmt.query_row([user_id, client_id], |row| row.get(0)).optional())
                .map_err(db_err)?;
            match scopes {
                Some(text) => from_json(text).map_err(db_err),
                None => Ok(Vec::new()),
            }
        })
        .await
    }

    async fn upsert_consent(&self, user_id: &str, client_id: &str, scopes: &[String], now: UnixTime) -> StoreResult<()> {
        let (user_id, client_id, scopes) = (user_id.to_string(), client_id.to_string(), json(&scopes));
        self.call(move |conn| {
            execute_cached(
                conn,
                "INSERT INTO consents (user_id, client_id, scopes, granted_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
                params![user_id, client_id, scopes, now],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn insert_authorization_code(&self, code: AuthorizationCode) -> StoreResult<()> {
        self.call(move |conn| {
            conn.prepare_cached(&format!(
                "INSERT INTO authorization_codes ({CODE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL)"
            ))
            .and_then(|mut stmt| {
                stmt.execute(params![
                    code.code_hash,
                    code.client_id,
                    code.user_id,
                    code.redirect_uri,
                    json(&code.scopes),
                    code.nonce,
                    code.code_challenge,
                    code.auth_time,
                    code.expires_at,
                    code.grant_id
                ])
            })
            .map_err(conflict("authorization code"))?;
            Ok(())
        })
        .await
    }

    async fn redeem_authorization_code(&self, code_hash: &[u8], now: UnixTime) -> StoreResult<Redemption> {
        let code_hash = code_hash.to_vec();
        self.call(move |conn| {
            // IMMEDIATE takes the write lock first, so two redemptions of one
            // code are serialised and only the first sees redeemed_at NULL.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            let found = tx
                .prepare_cached(&format!("SELECT {CODE_COLUMNS} FROM authorization_codes WHERE code_hash = ?1"))
                .and_then(|mut stmt| stmt.query_row([&code_hash], code_from_row).optional())
                .map_err(db_err)?;
            let outcome = match found {
                None => Redemption::Unknown,
                Some((code, Some(_))) => Redemption::AlreadyRedeemed(code),
                Some((code, None)) => {
                    execute_cached(
                        &tx,
                        "UPDATE authorization_codes SET redeemed_at = ?2 WHERE code_hash = ?1",
                        params![code_hash, now],
                    )
                    .map_err(db_err)?;
                    // The grant exists from the moment the code is spent, so
                    // a concurrent reuse that loses the race always finds
                    // it to revoke (RFC 6749 §4.1.2).
                    tx.prepare_cached(
                        "INSERT INTO grants (id, client_id, user_id, scopes, auth_time, created_at, revoked_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
                    )
                    .and_then(|mut stmt| {
                        stmt.execute(params![
                            code.grant_id,
                            code.client_id,
                            code.user_id,
                            json(&code.scopes),
                            code.auth_time,
                            now
                        ])
                    })
                    .map_err(conflict("grant"))?;
                    Redemption::Redeemed(code)
                }
            };
            tx.commit().map_err(db_err)?;
            Ok(outcome)
        })
        .await
    }

    async fn find_grant(&self, id: &str) -> StoreResult<Option<Grant>> {
        let id = id.to_string();
        self.call(move |conn| {
            conn.prepare_cached(
                "SELECT id, client_id, user_id, scopes, auth_time, created_at, revoked_at FROM grants WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([id], |row| {
                    Ok(Grant {
                        id: row.get(0)?,
                        client_id: row.get(1)?,
                        user_id: row.get(2)?,
                        scopes: from_json(row.get(3)?)?,
                        auth_time: row.get(4)?,
                        created_at: row.get(5)?,
                        revoked: row.get::<_, Option<i64>>(6)?.is_some(),
                    })
                })
                .optional()
            })
            .map_err(db_err)
        })
        .await
    }

    async fn revoke_grant(&self, id: &str, now: UnixTime) -> StoreResult<()> {
        let id = id.to_string();
        self.call(move |conn| {
            execute_cached(
                conn,
                "UPDATE grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn insert_refresh_token(&self, token: RefreshToken) -> StoreResult<()> {
        self.call(move |conn| {
            conn.prepare_cached(&format!(
                "INSERT INTO refresh_tokens ({REFRESH_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))
            .and_then(|mut stmt| {
                stmt.execute(params![
                    token.token_hash,
                    token.grant_id,
                    token.client_id,
                    json(&token.scopes),
                    token.created_at,
                    token.expires_at,
                    token.consumed_at
                ])
            })
            .map_err(conflict("refresh token"))?;
            Ok(())
        })
        .await
    }

    async fn find_refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshToken>> {
        let token_hash = token_hash.to_vec();
        self.call(move |conn| {
            conn.prepare_cached(&format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE token_hash = ?1"))
                .and_then(|mut stmt| stmt.query_row([token_hash], refresh_from_row).optional())
                .map_err(db_err)
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &[u8],
        successor_hash: Vec<u8>,
        successor_expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<Rotation> {
        let old_hash = old_hash.to_vec();
        self.call(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            let old = tx
                .prepare_cached(&format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE token_hash = ?1"))
                .and_then(|mut stmt| stmt.query_row([&old_hash], refresh_from_row).optional())
                .map_err(db_err)?;
            let outcome = match old {
                None => Rotation::Unknown,
                Some(old) if old.consumed_at.is_some() => Rotation::AlreadyConsumed(old),
                Some(old) => {
                    execute_cached(
                        &tx,
                        "UPDATE refresh_tokens SET consumed_at = ?2, replaced_by = ?3 WHERE token_hash = ?1",
                        params![old_hash, now, successor_hash],
                    )
                    .map_err(db_err)?;
                    execute_cached(
                        &tx,
                        &format!("INSERT INTO refresh_tokens ({REFRESH_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)"),
                        params![successor_hash, old.grant_id, old.client_id, json(&old.scopes), now, successor_expires_at],
                    )
                    .map_err(db_err)?;
                    Rotation::Rotated(old)
                }
            };
            tx.commit().map_err(db_err)?;
            Ok(outcome)
        })
        .await
    }

    async fn insert_revoked_access_token(&self, jti: &str, expires_at: UnixTime) -> StoreResult<()> {
        let jti = jti.to_string();
        self.call(move |conn| {
            execute_cached(
                conn,
                "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (?1, ?2) ON CONFLICT (jti) DO NOTHING",
                params![jti, expires_at],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        let jti = jti.to_string();
        self.call(move |conn| {
            conn.prepare_cached("SELECT 1 FROM revoked_access_tokens WHERE jti = ?1")
                .and_then(|mut stmt| stmt.exists([jti]))
                .map_err(db_err)
        })
        .await
    }

    async fn begin_login_attempt(&self, account: &str, now: UnixTime, policy: LockoutPolicy) -> StoreResult<AttemptDecision> {
        let account = account.to_string();
        self.call(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            let row: Option<(i64, i64, i64, i64)> = tx
                .prepare_cached("SELECT attempts, window_start, lockouts, locked_until FROM login_attempts WHERE account = ?1")
                .and_then(|mut stmt| stmt.query_row([&account], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))).optional())
                .map_err(db_err)?;
            let (mut attempts, mut window_start, mut lockouts, locked_until) = row.unwrap_or((0, now, 0, 0));
            let decision = if locked_until > now {
                AttemptDecision::Locked { until: locked_until }
            } else {
                if now - window_start >= policy.window_seconds {
                    // A quiet period long enough also forgets earlier lockouts.
                    if now - window_start >= 4 * policy.window_seconds {
                        lockouts = 0;
                    }
                    attempts = 0;
                    window_start = now;
                }
                if attempts >= i64::from(policy.max_attempts) {
                    lockouts += 1;
                    let factor = 1_i64.checked_shl(lockouts.clamp(1, 30) as u32 - 1).unwrap_or(i64::MAX);
                    let until = now + policy.lock_seconds.saturating_mul(factor).min(policy.max_lock_seconds);
                    execute_cached(
                        &tx,
                        "INSERT INTO login_attempts (account, attempts, window_start, lockouts, locked_until)
                         VALUES (?1, 0, ?2, ?3, ?4)
                         ON CONFLICT (account) DO UPDATE SET attempts = 0, window_start = ?2, lockouts = ?3, locked_until = ?4",
                        params![account, now, lockouts, until],
                    )
                    .map_err(db_err)?;
                    AttemptDecision::Locked { until }
                } else {
                    execute_cached(
                        &tx,
                        "INSERT INTO login_attempts (account, attempts, window_start, lockouts, locked_until)
                         VALUES (?1, ?2, ?3, ?4, 0)
                         ON CONFLICT (account) DO UPDATE SET attempts = ?2, window_start = ?3, lockouts = ?4, locked_until = 0",
                        params![account, attempts + 1, window_start, lockouts],
                    )
                    .map_err(db_err)?;
                    AttemptDecision::Allowed
                }
            };
            tx.commit().map_err(db_err)?;
            Ok(decision)
        })
        .await
    }

    async fn clear_login_attempts(&self, account: &str) -> StoreResult<()> {
        let account = account.to_string();
        self.call(move |conn| {
            execute_cached(conn, "DELETE FROM login_attempts WHERE account = ?1", [account]).map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        self.call(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM signing_keys ORDER BY created_at, kid"))
                .map_err(db_err)?;
            let rows = stmt.query_map([], key_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
        })
        .await
    }

    async fn insert_signing_key(&self, record: SigningKeyRecord) -> StoreResult<bool> {
        self.call(move |conn| insert_key(conn, &record)).await
    }

    async fn rotate_signing_keys(
        &self,
        next_kid: &str,
        new_next: SigningKeyRecord,
        now: UnixTime,
    ) -> StoreResult<Option<KeyRotation>> {
        let next_kid = next_kid.to_string();
        self.call(move |conn| {
            // IMMEDIATE: two rotations are serialised and the second sees
            // that its `next` key is `next` no longer.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            if key_state(&tx, &next_kid)? != Some(KeyState::Next) {
                return Ok(None);
            }
            let retiring = live_key(&tx, KeyState::Active)?;
            // The unique index allows one `active` row: demote first.
            execute_cached(
                &tx,
                "UPDATE signing_keys SET state = 'retiring', state_changed_at = ?1 WHERE state = 'active'",
                [now],
            )
            .map_err(db_err)?;
            execute_cached(
                &tx,
                "UPDATE signing_keys SET state = 'active', state_changed_at = ?2 WHERE kid = ?1 AND state = 'next'",
                params![next_kid, now],
            )
            .map_err(db_err)?;
            let record = SigningKeyRecord { state: KeyState::Next, ..new_next };
            if !insert_key(&tx, &record)? {
                return Err(db_err("a second next key appeared during rotation"));
            }
            tx.commit().map_err(db_err)?;
            Ok(Some(KeyRotation { activated: next_kid, retiring, next: record.kid }))
        })
        .await
    }

    async fn revoke_signing_key(
        &self,
        kid: &str,
        replacement: SigningKeyRecord,
        now: UnixTime,
    ) -> StoreResult<KeyRevocation> {
        let kid = kid.to_string();
        self.call(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            let was = match key_state(&tx, &kid)? {
                None => return Ok(KeyRevocation::Unknown),
                Some(KeyState::Retired) => return Ok(KeyRevocation::AlreadyRetired),
                Some(state) => state,
            };
            execute_cached(
                &tx,
                "UPDATE signing_keys SET state = 'retired', state_changed_at = ?2, revoked_at = ?2 WHERE kid = ?1",
                params![kid, now],
            )
            .map_err(db_err)?;
            let mut activated = None;
            let mut replacement_state = None;
            if was == KeyState::Active {
                match live_key(&tx, KeyState::Next)? {
                    Some(next) => {
                        execute_cached(
                            &tx,
                            "UPDATE signing_keys SET state = 'active', state_changed_at = ?2 WHERE kid = ?1",
                            params![next, now],
                        )
                        .map_err(db_err)?;
                        activated = Some(next);
                        replacement_state = Some(KeyState::Next);
                    }
                    None => {
                        activated = Some(replacement.kid.clone());
                        replacement_state = Some(KeyState::Active);
                    }
                }
            } else if was == KeyState::Next {
                replacement_state = Some(KeyState::Next);
            }
            if let Some(state) = replacement_state {
                let record = SigningKeyRecord { state, created_at: now, state_changed_at: now, ..replacement };
                if !insert_key(&tx, &record)? {
                    return Err(db_err("a second live key appeared during revocation"));
                }
            }
            tx.commit().map_err(db_err)?;
            Ok(KeyRevocation::Revoked { was, activated, replacement_used: replacement_state.is_some() })
        })
        .await
    }

    async fn retire_signing_key(&self, kid: &str, now: UnixTime) -> StoreResult<bool> {
        let kid = kid.to_string();
        self.call(move |conn| {
            let changed = execute_cached(
                conn,
                "UPDATE signing_keys SET state = 'retired', state_changed_at = ?2 WHERE kid = ?1 AND state = 'retiring'",
                params![kid, now],
            )
            .map_err(db_err)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn purge_expired(&self, now: UnixTime, grant_quiet_seconds: i64) -> StoreResult<u64> {
        self.call(move |conn| {
            // Before the refresh tokens go: a grant whose last refresh token
            // expired in this pass is removed in the next one.
            let mut removed = execute_cached(
                conn,
                "DELETE FROM grants WHERE created_at < ?1 - ?2
                 AND NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE refresh_tokens.grant_id = grants.id)",
                params![now, grant_quiet_seconds],
            )
            .map_err(db_err)? as u64;
            for sql in [
                "DELETE FROM login_requests WHERE expires_at < ?1",
                "DELETE FROM sessions WHERE expires_at < ?1",
                // Redeemed codes are kept an hour past expiry so that a late
                // replay is still recognised as reuse.
                "DELETE FROM authorization_codes WHERE expires_at < ?1 - 3600",
                "DELETE FROM refresh_tokens WHERE expires_at < ?1",
                "DELETE FROM revoked_access_tokens WHERE expires_at < ?1",
                // Attempt records of accounts quiet for a day.
                "DELETE FROM login_attempts WHERE window_start < ?1 - 86400 AND locked_until < ?1",
            ] {
                removed += execute_cached(conn, sql, [now]).map_err(db_err)? as u64;
            }
            Ok(removed)
        })
        .await
    }

    async fn check_writable(&self) -> StoreResult<()> {
        self.call(|conn| {
            // A short wait: readiness must answer quickly, and a database
            // locked for this long is not ready.
            conn.busy_timeout(Duration::from_millis(500)).map_err(db_err)?;
            let result = conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;");
            if result.is_err() && !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            conn.busy_timeout(Duration::from_secs(5)).map_err(db_err)?;
            result.map_err(db_err)
        })
        .await
    }

    async fn backup_to(&self, dest: &Path) -> StoreResult<()> {
        let dest = dest.to_path_buf();
        self.call(move |conn| {
            if dest.exists() {
                return Err(db_err(format!("{} already exists", dest.display())));
            }
            create_private_file(&dest)?;
            let mut target = Connection::open(&dest).map_err(db_err)?;
            {
                use rusqlite::backup::{Backup, StepResult};
                let backup = Backup::new(conn, &mut target).map_err(db_err)?;
                // All pages in one step (-1): one read transaction, so the
                // copy is a single snapshot however busy the writers are.
                let mut attempts = 0;
                loop {
                    match backup.step(-1).map_err(db_err)? {
                        StepResult::Done => break,
                        StepResult::More => {}
                        StepResult::Busy | StepResult::Locked if attempts < 100 => {
                            attempts += 1;
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        _ => return Err(db_err("the database stayed locked; try the backup again")),
                    }
                }
            }
            // A self-contained file: no -wal beside it to forget.
            target.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(())).map_err(db_err)?;
            target.close().map_err(|(_, err)| db_err(err))?;
            std::fs::File::open(&dest).and_then(|file| file.sync_all()).map_err(db_err)
        })
        .await
    }

    async fn checkpoint(&self) -> StoreResult<Checkpoint> {
        self.call(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                Ok(Checkpoint { complete: row.get::<_, i64>(0)? == 0, log_frames: row.get(1)?, checkpointed_frames: row.get(2)? })
            })
            .map_err(db_err)
        })
        .await
    }
}

//! Versioned schema migrations, applied in order at start-up inside one
//! transaction each; `PRAGMA user_version` records how far a file has come.

use rusqlite::Connection;

/// Each entry is one schema version. Append; never edit a released entry.
const MIGRATIONS: &[&str] = &[
    // 1: users, clients, login transactions, sessions, consents, codes,
    // grants, signing keys.
    "
    CREATE TABLE users (
        id             TEXT PRIMARY KEY,
        username       TEXT NOT NULL UNIQUE,
        display_name   TEXT,
        email          TEXT,
        email_verified INTEGER NOT NULL DEFAULT 0,
        password_hash  TEXT NOT NULL,
        disabled       INTEGER NOT NULL DEFAULT 0,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL
    );
    CREATE TABLE clients (
        id                        TEXT PRIMARY KEY,
        secret_hash               BLOB,
        redirect_uris             TEXT NOT NULL,
        post_logout_redirect_uris TEXT NOT NULL,
        scopes                    TEXT NOT NULL,
        grant_types               TEXT NOT NULL,
        created_at                INTEGER NOT NULL
    );
    CREATE TABLE login_requests (
        id           TEXT PRIMARY KEY,
        browser_hash BLOB NOT NULL,
        csrf_token   TEXT NOT NULL,
        client_id    TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        request      TEXT NOT NULL,
        user_id      TEXT REFERENCES users(id) ON DELETE CASCADE,
        auth_time    INTEGER,
        expires_at   INTEGER NOT NULL
    );
    CREATE INDEX login_requests_expiry ON login_requests(expires_at);
    CREATE TABLE sessions (
        id_hash    BLOB PRIMARY KEY,
        user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        auth_time  INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX sessions_user ON sessions(user_id);
    CREATE TABLE consents (
        user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        scopes     TEXT NOT NULL,
        granted_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, client_id)
    );
    CREATE TABLE grants (
        id         TEXT PRIMARY KEY,
        client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
        scopes     TEXT NOT NULL,
        auth_time  INTEGER,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE TABLE authorization_codes (
        code_hash      BLOB PRIMARY KEY,
        client_id      TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        redirect_uri   TEXT NOT NULL,
        scopes         TEXT NOT NULL,
        nonce          TEXT,
        code_challenge TEXT,
        auth_time      INTEGER NOT NULL,
        expires_at     INTEGER NOT NULL,
        grant_id       TEXT NOT NULL,
        redeemed_at    INTEGER
    );
    CREATE TABLE signing_keys (
        kid              TEXT PRIMARY KEY,
        state            TEXT NOT NULL CHECK (state IN ('next', 'active', 'retiring', 'retired')),
        created_at       INTEGER NOT NULL,
        state_changed_at INTEGER NOT NULL
    );
    ",
    // 2: refresh token families and revoked access tokens.
    "
    CREATE TABLE refresh_tokens (
        token_hash  BLOB PRIMARY KEY,
        grant_id    TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
        client_id   TEXT NOT NULL,
        scopes      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        consumed_at INTEGER,
        replaced_by BLOB
    );
    CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);
    CREATE INDEX refresh_tokens_expiry ON refresh_tokens(expires_at);
    CREATE TABLE revoked_access_tokens (
        jti        TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
    );
    ",
    // 3: per-account login attempt counting and lockout.
    "
    CREATE TABLE login_attempts (
        account      TEXT PRIMARY KEY,
        attempts     INTEGER NOT NULL,
        window_start INTEGER NOT NULL,
        lockouts     INTEGER NOT NULL DEFAULT 0,
        locked_until INTEGER NOT NULL DEFAULT 0
    );
    ",
    // 4: signing key lifecycle. At most one `active` and one `next` key,
    // enforced by the database itself; revocations are recorded.
    "
    ALTER TABLE signing_keys ADD COLUMN revoked_at INTEGER;
    CREATE UNIQUE INDEX signing_keys_one_per_live_state ON signing_keys(state) WHERE state IN ('active', 'next');
    ",
];

pub fn apply(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: usize = tx.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))? as usize;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_are_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn).unwrap();
        apply(&mut conn).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
    }
}

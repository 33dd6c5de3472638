//! The PostgreSQL the tests use (this crate's and the end-to-end tests'
//! in `tests/`; nothing in the server calls it): its URL from
//! `POCKETBOOK_TEST_DATABASE_URL` (`scripts/test-all` starts a throwaway
//! server and sets it), and a fresh schema per test so the tests run in
//! parallel on one database.
//!
//! Without the variable the PostgreSQL tests are skipped, each saying so,
//! so a developer without PostgreSQL can run the suite; with
//! `POCKETBOOK_TEST_POSTGRES_REQUIRED=1` (set by `scripts/test-all`, so by
//! CI) a missing or unreachable database fails them instead.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::PostgresStorage;

/// The test database's URL.
pub const TEST_URL_ENV: &str = "POCKETBOOK_TEST_DATABASE_URL";
/// Set to `1` where the PostgreSQL tests must run (CI).
pub const REQUIRED_ENV: &str = "POCKETBOOK_TEST_POSTGRES_REQUIRED";

/// The test database's URL, `None` (after saying the test is skipped) when
/// there is none; panics when one is required.
pub fn url() -> Option<String> {
    match std::env::var(TEST_URL_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var(REQUIRED_ENV).is_ok_and(|v| v == "1") => panic!(
            "{REQUIRED_ENV}=1 but {TEST_URL_ENV} is not set: the PostgreSQL suites must run here"
        ),
        _ => {
            eprintln!(
                "skipped: no PostgreSQL to test ({TEST_URL_ENV} unset; scripts/test-all starts one)"
            );
            None
        }
    }
}

/// Whether the PostgreSQL tests run here (see [`url`]).
pub fn available() -> bool {
    url().is_some()
}

/// The schema a test's store lives in, named after its temporary
/// directory: opening the same directory again opens the same store.
pub fn schema_for(dir: &Path) -> String {
    let digest = Sha256::digest(dir.as_os_str().as_encoded_bytes());
    format!("pb_test_{}", &hex::encode(digest)[..20])
}

/// A connection configuration for `schema` (created if missing) on the
/// test database.
pub fn config(schema: &str) -> postgres::Config {
    let url = url().expect("a test database");
    let mut admin = postgres::Client::connect(&url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("the test database at {TEST_URL_ENV} does not answer: {e}"));
    admin
        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .expect("create the test schema");
    let mut config: postgres::Config = url.parse().expect("a postgres:// URL");
    config.options(&format!("-c search_path={schema}"));
    config
}

/// A URL of the test database whose connections use `schema` (created if
/// missing), for a server process's `--database-url`.
pub fn url_for(schema: &str) -> String {
    let _created = config(schema);
    let url = url().expect("a test database");
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}options=-c%20search_path%3D{schema}")
}

/// The store of the test whose temporary directory is `dir`.
pub fn open(dir: &Path) -> PostgresStorage {
    PostgresStorage::open_config(config(&schema_for(dir)), 4).expect("open the PostgreSQL store")
}

/// The same, with a pool of `size` connections (an instance under load).
pub fn open_sized(dir: &Path, size: u32) -> PostgresStorage {
    PostgresStorage::open_config(config(&schema_for(dir)), size).expect("open the PostgreSQL store")
}

/// An error with every error under it, down to the database's own words
/// (its SQLSTATE, message and where it was raised), for a test's failure
/// message: the store's own message gives only the SQLSTATE
/// (`storage/postgres.rs`, `backend`), and a flaky failure must say all
/// it can the first time it happens.
pub fn full_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut under = e.source();
    while let Some(cause) = under {
        match cause.downcast_ref::<postgres::error::DbError>() {
            Some(db) => text.push_str(&format!(
                ": {} {} ({:?}, {}:{})",
                db.code().code(),
                db.message(),
                db.routine(),
                db.file().unwrap_or("-"),
                db.line().unwrap_or(0),
            )),
            // A wrapper repeating its source's words adds nothing.
            None if text.ends_with(&cause.to_string()) => {}
            None => text.push_str(&format!(": {cause}")),
        }
        under = cause.source();
    }
    text
}

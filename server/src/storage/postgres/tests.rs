//! Backend-specific checks of the PostgreSQL store: the shared suite on
//! PostgreSQL, the two backends' schemas kept in step, migrations under
//! concurrent start-up, and the plans of the main queries.

crate::storage::suite::storage_suite!(
    |dir| Box::new(super::testdb::open(dir)),
    ready: super::testdb::available
);

use std::collections::BTreeSet;

use super::testdb;

use crate::storage::{Storage, StorageError};

/// Columns only PostgreSQL has, each for a reason (`postgres/schema.rs`):
/// the schema version row (SQLite: `PRAGMA user_version`), the feed
/// counter row, the typed copy of the encounter time, and the staging of
/// writes not yet sequenced (`postgres/sequencer.rs`; SQLite's one writer
/// numbers in its own transaction).
const POSTGRES_ONLY: &[&str] = &[
    "schema_version.id",
    "schema_version.version",
    "feed_head.id",
    "feed_head.seq",
    "records.occurred_at_ts",
    "feed.pending_id",
    "feed_pending.id",
    "feed_pending.record_id",
    "feed_pending.kind",
    "feed_pending.author",
    "feed_pending.station",
    "feed_pending.origin_device",
    "feed_pending.changes",
    "feed_pending.received_at",
    "audit_pending.id",
    "audit_pending.at",
    "audit_pending.actor",
    "audit_pending.action",
    "audit_pending.record_id",
    "audit_pending.detail",
];

fn sqlite_columns() -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    drop(crate::storage::sqlite::SqliteStorage::open(dir.path()).unwrap());
    let conn =
        rusqlite::Connection::open(dir.path().join(crate::storage::sqlite::STORE_FILE)).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT m.name || '.' || p.name FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn postgres_columns(dir: &std::path::Path) -> BTreeSet<String> {
    let _store = testdb::open(dir);
    let mut client = testdb::config(&testdb::schema_for(dir))
        .connect(postgres::NoTls)
        .unwrap();
    client
        .query(
            "SELECT table_name || '.' || column_name FROM information_schema.columns
             WHERE table_schema = current_schema()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A migration added to one backend and not the other fails this: both
/// have the same tables and columns, but for [`POSTGRES_ONLY`].
#[test]
fn both_backends_have_the_same_tables_and_columns() {
    if !testdb::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_columns();
    let mut postgres = postgres_columns(dir.path());
    for only in POSTGRES_ONLY {
        assert!(postgres.remove(*only), "{only} is no longer in PostgreSQL");
    }
    let missing: Vec<_> = sqlite.difference(&postgres).collect();
    let extra: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "only in SQLite: {missing:?}; only in PostgreSQL: {extra:?}"
    );
}

/// Six instances opening one empty database at once: the schema's
/// version row, every instance's failure (with the database's own words,
/// so a flaky failure says everything the first time), in order.
fn open_at_once(config: &postgres::Config) -> Vec<String> {
    // Released together, so their creates meet.
    let start = std::sync::Barrier::new(6);
    std::thread::scope(|threads| {
        let instances: Vec<_> = (0..6)
            .map(|_| {
                let (config, start) = (config.clone(), &start);
                threads.spawn(move || {
                    start.wait();
                    super::PostgresStorage::open_config(config, 1).and_then(|store| store.ping())
                })
            })
            .collect();
        instances
            .into_iter()
            .enumerate()
            .filter_map(|(n, instance)| match instance.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("instance {n}: {}", testdb::full_error(&e))),
                Err(_) => Some(format!("instance {n} panicked")),
            })
            .collect()
    })
}

/// Instances starting at once on an empty database migrate it once, and
/// each comes up; a database written by a newer server is refused. The
/// race on creating the version table is run on a few empty databases:
/// it once failed one run in sixty under load (`schema::bootstrap`).
#[test]
fn instances_starting_at_once_migrate_once() {
    if !testdb::available() {
        return;
    }
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let config = testdb::config(&testdb::schema_for(dir.path()));
        let failures = open_at_once(&config);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        let mut client = config.connect(postgres::NoTls).unwrap();
        let version: i32 = client
            .query_one("SELECT version FROM schema_version", &[])
            .unwrap()
            .get(0);
        assert_eq!(version, super::schema::CURRENT_VERSION);
        let heads: i64 = client
            .query_one("SELECT count(*) FROM feed_head", &[])
            .unwrap()
            .get(0);
        assert_eq!(heads, 1);

        client
            .execute("UPDATE schema_version SET version = 99", &[])
            .unwrap();
        assert!(matches!(
            super::PostgresStorage::open_config(config, 1),
            Err(StorageError::TooNew { found: 99, .. })
        ));
    }
}

/// A version 2 database's feed is indexed by audience when it migrates
/// (the feed counter row says where the head is, as a version 2 one did).
#[test]
fn a_version_2_feed_is_indexed_by_audience_when_it_migrates() {
    if !testdb::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    drop(testdb::open(dir.path()));
    let mut client = testdb::config(&testdb::schema_for(dir.path()))
        .connect(postgres::NoTls)
        .unwrap();
    client
        .batch_execute(
            &crate::storage::suite::scoped::BEFORE_THE_INDEX.replace("CHANGES", "'\\x00'::bytea"),
        )
        .unwrap();
    client
        .batch_execute(
            "UPDATE feed_head SET seq = 3;
             DROP TABLE feed_audience, feed_pending, audit_pending, retention_clock;
             ALTER TABLE feed DROP COLUMN pending_id;
             DROP INDEX records_by_station_kind;
             UPDATE schema_version SET version = 2;",
        )
        .unwrap();
    let store = testdb::open(dir.path());
    crate::storage::suite::scoped::backfilled(&store);
}

/// The plan of `sql` with `params` on the store in `client`'s schema.
fn explain(
    client: &mut postgres::Client,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> String {
    client
        .query(&format!("EXPLAIN {sql}"), params)
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The main queries use their indexes on a store of realistic shape
/// (20,000 records over two years at 20 stations, 20,000 feed entries
/// indexed under their author and station,
/// 5,000 devices, 20,000 copy attempts, 20,000 audit events): the plans
/// are printed (`--nocapture`) and written up in `docs/postgres.md`.
#[test]
fn the_main_queries_use_their_indexes() {
    use chrono::{DateTime, Utc};
    use pocketbook_core::model::RecordKind;
    if !testdb::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let _store = testdb::open(dir.path());
    let mut client = testdb::config(&testdb::schema_for(dir.path()))
        .connect(postgres::NoTls)
        .unwrap();
    let kinds: Vec<&str> = RecordKind::ALL.iter().map(|k| k.as_str()).collect();
    client
        .execute(
            "INSERT INTO records (id, kind, reference, author, station, occurred_at,
                                  occurred_at_ts, status, created_at, updated_at, snapshot, version)
             SELECT 'r' || g, ($1::text[])[1 + g % cardinality($1::text[])], 'REF' || g,
                    'PC' || (g % 2000), 'station-' || (g % 20), '-', t, 'open', '-', '-', '\\x00', 1
             FROM generate_series(1, 20000) g,
                  LATERAL (SELECT timestamptz '2025-01-01 00:00Z' + g * interval '1 hour' AS t) x",
            &[&kinds],
        )
        .unwrap();
    client
        .batch_execute(
            "INSERT INTO officers SELECT 'PC' || g, '-', 'station-' || (g % 20), 'officer', TRUE
                 FROM generate_series(0, 1999) g;
             INSERT INTO devices (id, officer, token_hash, label, enrolled_at)
                 SELECT 'd' || g, 'PC' || (g % 2000), sha256(g::text::bytea), '-', '-'
                 FROM generate_series(1, 5000) g;
             INSERT INTO feed SELECT g, 'r' || g, 'scene', 'PC1', 'station-1', 'd1', '\\x00', FALSE
                 FROM generate_series(1, 20000) g;
             UPDATE feed_head SET seq = 20000;
             INSERT INTO feed_audience SELECT 'o:PC' || (g % 2000), g
                 FROM generate_series(1, 20000) g;
             INSERT INTO feed_audience SELECT 's:station-' || (g % 20), g
                 FROM generate_series(1, 20000) g;
             INSERT INTO record_access SELECT 'r' || g, 'PC' || (g % 2000), '-'
                 FROM generate_series(1, 20000, 3) g;
             INSERT INTO copy_attempts SELECT 'client:' || (g % 500), g, g % 3 = 0
                 FROM generate_series(1, 20000) g;
             INSERT INTO audit SELECT g, '-', 'system', 'record-read', 'r' || (g % 20000), '{}',
                                      '\\x00', '\\x00'
                 FROM generate_series(1, 20000) g;
             -- This test's tables only: a bare ANALYZE (one transaction,
             -- here) locks every table and index of every test's schema
             -- until it ends, and on a cluster many tests had used it ran
             -- PostgreSQL out of lock slots (53200, out of shared
             -- memory), failing the tests running beside it.
             ANALYZE records, officers, devices, feed, feed_audience, record_access,
                     copy_attempts, audit;",
        )
        .unwrap();
    // As autovacuum leaves a table settled: its pages marked all-visible,
    // so an index holding every column a query asks answers it alone.
    client.batch_execute("VACUUM records").unwrap();
    let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
    let encounters = vec![
        RecordKind::StopSearch.as_str(),
        RecordKind::StopAccount.as_str(),
    ];
    let promise_kinds = vec![
        RecordKind::SceneAttendance.as_str(),
        RecordKind::HomeBurglary.as_str(),
    ];
    let token = {
        use sha2::Digest;
        sha2::Sha256::digest(b"42").to_vec()
    };
    let plans: Vec<(&str, &str, String)> = vec![
        (
            "feed window (sync)",
            "feed_pkey",
            explain(
                &mut client,
                &super::records::feed_window_sql(),
                &[&19_000i64, &500i64, &(4i64 << 20)],
            ),
        ),
        (
            "feed read per scope: positions (sync)",
            "feed_audience_pkey",
            explain(
                &mut client,
                super::records::audience_positions_sql(),
                &[
                    &vec!["o:PC7".to_string(), "s:station-7".to_string()],
                    &0i64,
                    &2000i64,
                ],
            ),
        ),
        (
            "feed read per scope: entries (sync)",
            "feed_pkey",
            explain(
                &mut client,
                &super::records::entries_at_sql(),
                &[&vec![7i64, 27, 2007], &(4i64 << 20)],
            ),
        ),
        (
            "retention due",
            "records_by_kind",
            explain(
                &mut client,
                &super::retention::retention_due_sql(),
                &[&encounters, &at("2025-02-01T00:00:00Z"), &500i64],
            ),
        ),
        (
            "desk lookup by station and day (staff)",
            "records_by_station",
            explain(
                &mut client,
                &super::copy::at_station_sql(),
                &[
                    &"station-3",
                    &encounters,
                    &at("2025-06-01T00:00:00Z"),
                    &at("2025-06-02T00:00:00Z"),
                ],
            ),
        ),
        (
            "stations holding promises (gauges, every minute)",
            "records_by_station",
            explain(
                &mut client,
                super::records::STATIONS_HOLDING,
                &[&promise_kinds],
            ),
        ),
        (
            "a station's ids and versions (gauges, every minute)",
            "Index Only Scan using records_by_station_kind",
            explain(
                &mut client,
                super::records::VERSIONS_AT_STATION,
                &[&"station-3", &promise_kinds],
            ),
        ),
        (
            "records fetched by id (gauges, those changed)",
            "records_pkey",
            explain(
                &mut client,
                "SELECT id, snapshot FROM records WHERE id = ANY($1)",
                &[&vec!["r3".to_string(), "r4".to_string()]],
            ),
        ),
        (
            "a record's readers (scope)",
            "record_access_pkey",
            explain(
                &mut client,
                "SELECT officer FROM record_access WHERE record_id = $1",
                &[&"r4"],
            ),
        ),
        (
            "principal by token (every sync)",
            "devices_token_hash_key",
            explain(
                &mut client,
                "SELECT d.id, o.role FROM devices d
                 JOIN officers o ON o.shoulder_number = d.officer WHERE d.token_hash = $1",
                &[&token],
            ),
        ),
        (
            "public copy by reference",
            "records_",
            explain(
                &mut client,
                "SELECT id FROM records WHERE reference = $1",
                &[&"REF42"],
            ),
        ),
        (
            "rate-limit attempts of a key",
            "copy_attempts_by_key",
            explain(
                &mut client,
                "SELECT count(*), count(*) FILTER (WHERE failed) FROM copy_attempts
                 WHERE key = $1 AND at >= $2",
                &[&"client:7", &10_000i64],
            ),
        ),
        (
            "audit events of a record",
            "audit_by_record",
            explain(
                &mut client,
                "SELECT seq FROM audit WHERE seq > $1 AND record_id = $2 ORDER BY seq LIMIT 100",
                &[&0i64, &"r7"],
            ),
        ),
    ];
    for (what, index, plan) in &plans {
        eprintln!("-- {what}\n{plan}\n");
        assert!(plan.contains(index), "{what} does not use {index}:\n{plan}");
        if what.contains("gauges") {
            assert!(!plan.contains("Seq Scan"), "{what} scans a table:\n{plan}");
        }
    }
}

/// A free loopback port nothing listens on (for now).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A database that never answers is waited for, then refused with an
/// error that says what to check and carries neither the URL's password
/// nor its address.
#[test]
fn a_database_that_never_answers_fails_opening_with_a_clear_error() {
    let port = free_port();
    let url = format!("postgres://pocketbook:s3cret-pw@127.0.0.1:{port}/postgres");
    let wait = std::time::Duration::from_secs(1);
    let e = super::PostgresStorage::open_waiting(&url, wait).unwrap_err();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(&format!(" / {s}"));
        source = s.source();
    }
    assert!(
        text.contains("PostgreSQL did not answer within 1 s"),
        "{text}"
    );
    assert!(text.contains("refused"), "the cause is named: {text}");
    assert!(!text.contains("s3cret-pw"), "{text}");
    assert!(!text.contains(&port.to_string()), "{text}");
}

/// Copies bytes both ways between two streams until either side closes.
fn pipe(a: std::net::TcpStream, b: std::net::TcpStream) {
    let (mut a_read, mut a_write) = (a.try_clone().unwrap(), a);
    let (mut b_read, mut b_write) = (b.try_clone().unwrap(), b);
    std::thread::spawn(move || {
        let _copied = std::io::copy(&mut a_read, &mut b_write);
        let _closed = b_write.shutdown(std::net::Shutdown::Write);
    });
    std::thread::spawn(move || {
        let _copied = std::io::copy(&mut b_read, &mut a_write);
        let _closed = a_write.shutdown(std::net::Shutdown::Write);
    });
}

/// A server started before its database answers waits for it: the store
/// opens once the database appears (here: a relay to the test database
/// that starts listening a moment later).
#[test]
fn a_store_opened_before_the_database_answers_waits_for_it() {
    if !testdb::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let real_url = testdb::url_for(&testdb::schema_for(dir.path()));
    let real: postgres::Config = real_url.parse().unwrap();
    let (postgres::config::Host::Tcp(host), Some(real_port)) =
        (&real.get_hosts()[0], real.get_ports().first())
    else {
        panic!("the test database is not on TCP");
    };
    let real_addr = format!("{host}:{real_port}");
    let port = free_port();
    let url = real_url.replace(&real_addr, &format!("127.0.0.1:{port}"));
    assert_ne!(url, real_url);

    let opening = std::thread::spawn(move || {
        super::PostgresStorage::open_waiting(&url, std::time::Duration::from_secs(30))
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        !opening.is_finished(),
        "opened (or gave up) with nothing listening"
    );
    let relay = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for client in relay.incoming().flatten() {
            let server = std::net::TcpStream::connect(&real_addr).unwrap();
            pipe(client, server);
        }
    });
    let store = opening
        .join()
        .unwrap()
        .expect("the store opens once the database answers");
    store.ping().unwrap();
}

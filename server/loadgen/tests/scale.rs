//! A smoke of every scale-out scenario at tiny sizes (seconds), so none
//! can rot: the load generator binary runs `scale` against real server
//! processes and must print every table. Nothing about time or memory is
//! asserted (BENCHMARKS.md has the figures of the full run, by hand).
//!
//! The PostgreSQL scenarios (two instances, the force-scale simulation)
//! run when `POCKETBOOK_TEST_DATABASE_URL` names a PostgreSQL
//! (`scripts/test-all` starts one); with
//! `POCKETBOOK_TEST_POSTGRES_REQUIRED=1` they must. The server binary must
//! be built beside this test (`cargo build -p pocketbook-server`).

use std::process::Command;

#[test]
fn every_scale_scenario_runs_at_tiny_sizes_and_reports_its_table() {
    let postgres = std::env::var("POCKETBOOK_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    if postgres.is_none()
        && std::env::var("POCKETBOOK_TEST_POSTGRES_REQUIRED").as_deref() == Ok("1")
    {
        panic!("POCKETBOOK_TEST_POSTGRES_REQUIRED=1 but POCKETBOOK_TEST_DATABASE_URL is not set");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_pocketbook-loadgen"))
        .args([
            "scale",
            "--push-records",
            "10",
            "--repeat",
            "1",
            "--devices",
            "2",
            "--rounds",
            "2",
            "--stored",
            "50",
            "--cold",
            "10",
            "--force-devices",
            "30",
            "--force-duration",
            "2s",
            "--idle-rate",
            "20",
            "--write-rate",
            "4",
            "--writers",
            "2",
        ])
        // Without a PostgreSQL, only the SQLite scenarios run.
        .env(
            "POCKETBOOK_TEST_DATABASE_URL",
            postgres.clone().unwrap_or_default(),
        )
        .output()
        .expect("the load generator runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scale failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for table in [
        "### Push of 10 new records",
        "| SQLite | ",
        "### Idle sync and server memory with 50 records stored",
        "### Cold download of 10 records to a new device",
    ] {
        assert!(stdout.contains(table), "missing {table:?}:\n{stdout}");
    }
    if postgres.is_some() {
        for table in [
            "| PostgreSQL | ",
            "### 2 devices writing through one and two instances",
            "### Force-scale simulation: 30 devices",
            "| idle sync | ",
            "| write (one new record) | ",
            "- server RSS, peak per instance: ",
        ] {
            assert!(stdout.contains(table), "missing {table:?}:\n{stdout}");
        }
        // Nothing failed in the simulation: errors are the last column.
        for row in stdout
            .lines()
            .filter(|l| l.starts_with("| idle sync |") || l.starts_with("| write (one"))
        {
            assert!(row.ends_with("| 0 |"), "errors in the simulation: {row}");
        }
    }
}

#[test]
fn bad_scale_sizes_are_refused_with_exit_2() {
    for args in [
        &["scale", "--push-records", "0"][..],
        &["scale", "--force-duration", "soon"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_pocketbook-loadgen"))
            .args(args)
            .output()
            .expect("the load generator runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

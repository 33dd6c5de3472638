//! A careless admin's config file: a database URL (with its password)
//! mistyped, unquoted, under a misspelt key or of the wrong type. `serve`
//! and `admin` refuse it naming the file, the line and what is wrong, and
//! never print the line itself: the password would reach the terminal and,
//! under a service manager, the logs.

use std::process::Command;

const PASSWORD: &str = "s3cret-Pa55word";

#[test]
fn a_broken_config_file_is_refused_by_line_without_quoting_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://pocketbook:{PASSWORD}@db.internal:5432/pocketbook");
    let broken = [
        (format!("database_url = {url}\n"), 1),
        (
            format!("listen = \"127.0.0.1:0\"\ndatabase_url = \"{url}\n"),
            2,
        ),
        (format!("database_urll = \"{url}\"\n"), 1),
        (format!("database_url = [\"{url}\"]\n"), 1),
        (
            format!("listen = \"127.0.0.1:0\"\nmax_connections = \"{url}\"\n"),
            2,
        ),
        (format!("[limits]\nmax_connections = \"{url}\"\n"), 2),
    ];
    for (i, (text, line)) in broken.iter().enumerate() {
        let file = dir.path().join(format!("server-{i}.toml"));
        std::fs::write(&file, text).unwrap();
        for args in [
            vec!["admin", "officer", "list"],
            vec!["serve", "--listen", "127.0.0.1:0"],
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
                .args(&args)
                .env("POCKETBOOK_CONFIG", &file)
                .env_remove("POCKETBOOK_DATABASE_URL")
                .env("POCKETBOOK_DATA_DIR", dir.path().join("data"))
                .output()
                .unwrap();
            assert!(!out.status.success(), "{text:?} {args:?}");
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!said.contains(PASSWORD), "{text:?} {args:?}: {said}");
            assert!(said.contains(&format!("server-{i}.toml")), "{said}");
            assert!(said.contains(&format!("line {line}")), "{text:?}: {said}");
        }
    }
}

/// Retention periods that would erase what they should keep: 0 days for
/// scene and burglary records (every one erased at the next run, the one
/// made a minute ago included, and on every device at its next sync),
/// searches kept less than the 12 months their receipts promise, or a
/// job run so rarely (or so large it overflowed) that records outlive
/// their period. `serve` refuses to start and names the key; nothing is
/// erased.
#[test]
fn a_retention_that_would_erase_everything_or_nothing_on_time_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (text, key)) in [
        ("[retention]\nattendance_days = 0\n", "attendance_days"),
        ("[retention]\nencounter_months = 11\n", "encounter_months"),
        (
            "[retention]\nevery_minutes = 9223372036854775807\n",
            "every_minutes",
        ),
        ("[retention]\nevery_minutes = 1441\n", "every_minutes"),
        // A step that would hold every scheduled run, or let a jump of
        // weeks erase early (the retention clock guard).
        ("[retention]\nclock_step_hours = 0\n", "clock_step_hours"),
        ("[retention]\nclock_step_hours = 337\n", "clock_step_hours"),
        (
            "[retention]\nevery_minutes = 1440\nclock_step_hours = 47\n",
            "clock_step_hours",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let file = dir.path().join(format!("retention-{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("POCKETBOOK_CONFIG", &file)
            .env_remove("POCKETBOOK_DATABASE_URL")
            .env("POCKETBOOK_DATA_DIR", dir.path().join("data"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A server that started would run until stopped: give it a few
        // seconds to refuse, then stop it and fail.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let out = child.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            status.is_some_and(|s| !s.success()),
            "{text:?} started: {said}"
        );
        assert!(
            said.contains(&format!("retention.{key}")),
            "{text:?}: {said}"
        );
    }
    // The shortest and longest sensible values are read (by an admin
    // command, which resolves the same file).
    let file = dir.path().join("sane.toml");
    std::fs::write(
        &file,
        "[retention]\nencounter_months = 12\nattendance_days = 1\nevery_minutes = 1440\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
        .args(["admin", "officer", "add", "--shoulder-number", "PC1"])
        .args(["--name", "Jo Smith", "--station", "Lewisham"])
        .env("POCKETBOOK_CONFIG", &file)
        .env_remove("POCKETBOOK_DATABASE_URL")
        .env("POCKETBOOK_DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// A settings path mistyped onto something huge (a log file, a disk
/// image; `/dev/zero` too, which never ends): the config file, the TLS
/// certificate and the TLS key are each refused at once for their size,
/// not read whole into memory.
#[test]
fn a_settings_path_onto_a_huge_file_is_refused_for_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.log");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(64 * 1024 * 1024)
        .unwrap();
    let huge = huge.to_str().unwrap();
    let key = dir.path().join("key.pem");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let key = key.to_str().unwrap();
    for (args, named) in [
        (vec!["--config", huge], "config file"),
        (
            vec!["--tls-cert", huge, "--tls-key", key],
            "TLS certificate",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(&args)
            .env_remove("POCKETBOOK_CONFIG")
            .env_remove("POCKETBOOK_DATABASE_URL")
            .env("POCKETBOOK_DATA_DIR", dir.path().join("data"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains(named) && said.contains("larger than"),
            "{args:?}: {said}"
        );
    }
}

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

//! What a member of the public types never reaches the logs, even at the
//! most verbose level: the server binary at `RUST_LOG=trace` is asked for
//! a copy with the reference and date in the query string (a bookmarked
//! or hand-typed address), in a form post and as JSON, and none of them
//! appears in any log line, while each request is still logged by its endpoint.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The server process, killed if the test ends before it stops it.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        // Best effort: the test is already failing if the server still runs.
        if matches!(self.0.try_wait(), Ok(None)) && self.0.kill().is_ok() {
            self.0.wait().ok();
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn what_the_public_types_is_not_logged_even_at_trace() {
    pocketbook_core::sync::client::install_crypto_provider();
    let cwd = tempfile::tempdir().unwrap();
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
            .arg("serve")
            .current_dir(cwd.path())
            .env("POCKETBOOK_LISTEN", "127.0.0.1:0")
            .env("POCKETBOOK_LOG_FORMAT", "json")
            .env("RUST_LOG", "trace")
            .env_remove("POCKETBOOK_DATA_DIR")
            .env_remove("POCKETBOOK_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut ready = String::new();
    stdout.read_line(&mut ready).unwrap();
    let url = ready.split_whitespace().nth(3).unwrap().to_string();

    let reference = pocketbook_core::reference::Reference::generate().to_string();
    let date = "2026-02-30"; // never a log line's own date
    let http = reqwest::Client::new();
    let page = http
        .get(format!("{url}/copy?reference={reference}&date={date}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let form = http
        .post(format!("{url}/copy"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("reference={reference}&date={date}"))
        .send()
        .await
        .unwrap();
    assert!(form.status().is_client_error(), "{}", form.status());
    let json = http
        .post(format!("{url}/v1/copy"))
        .json(&serde_json::json!({"reference": reference, "date": date}))
        .send()
        .await
        .unwrap();
    assert!(json.status().is_client_error(), "{}", json.status());
    let figures = http
        .get(format!(
            "{url}/figures?month=2026-10&station=Jo%20Smith%27s%20street"
        ))
        .send()
        .await
        .unwrap();
    assert!(figures.status().is_success() || figures.status().is_client_error());

    let logs = crate::support::stop_and_read_logs(&mut child.0);
    // Each request is still logged, by its endpoint.
    for endpoint in ["copy-page", "copy", "figures"] {
        assert!(
            logs.contains(&format!(r#""endpoint":"{endpoint}""#)),
            "{endpoint}: {logs}"
        );
    }
    let compact = reference.replace('-', "");
    for typed in [reference.as_str(), &compact, date, "Jo%20Smith", "Jo Smith"] {
        assert!(!logs.contains(typed), "{typed} leaked into the logs");
    }
}

//! A ten-second smoke of the soak (and a three-second idle tail), so the
//! mode cannot rot: the load generator binary runs `soak` with four handsets through a link that
//! faults a fifth of the requests, against the real server binary, and
//! must report a clean convergence. Nothing about time or memory is
//! asserted (BENCHMARKS.md has the figures of the full soak, run by hand).
//!
//! The server binary must be built beside this test, as the fault suite
//! needs it (`cargo test --workspace` builds it; a focused run:
//! `cargo build -p pocketbook-server && cargo test -p pocketbook-loadgen`).

use std::process::Command;

#[test]
fn a_short_soak_converges_and_reports_latency_and_memory() {
    let out = Command::new(env!("CARGO_BIN_EXE_pocketbook-loadgen"))
        .args([
            "soak",
            "--devices",
            "4",
            "--duration",
            "10s",
            "--idle-tail",
            "3s",
            "--fault-rate",
            "0.2",
            "--seed",
            "20261201",
            "--sample-every",
            "1s",
        ])
        .output()
        .expect("the load generator runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the soak failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("| converged | yes"), "{stdout}");
    assert!(
        stdout.contains("| sync latency, while editing, succeeded | p50 "),
        "{stdout}"
    );
    assert!(
        stdout.contains("| server RSS in the idle tail | "),
        "{stdout}"
    );
    // The samples over time: `| 3 s | 27.1 MiB | 0.2 MiB |`.
    let rss_rows = stdout
        .lines()
        .filter(|l| {
            l.strip_prefix("| ")
                .and_then(|l| l.split_once(" s | "))
                .is_some_and(|(t, rest)| t.parse::<u64>().is_ok() && rest.ends_with(" MiB |"))
        })
        .count();
    assert!(rss_rows >= 2, "server memory sampled over time:\n{stdout}");
}

#[test]
fn bad_soak_flags_are_refused_with_exit_2() {
    for args in [
        &["soak", "--fault-rate", "1.5"][..],
        &["soak", "--devices", "0"],
        &["soak", "--duration", "ten"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_pocketbook-loadgen"))
            .args(args)
            .output()
            .expect("the load generator runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

//! The smoke harness's command line, run as `scripts/fuzz-smoke` and a
//! developer replaying a crash run it: its flags as RELIABILITY.md
//! ("Fuzzing") gives them, and a flag value it cannot use refused,
//! naming the flag, before anything runs.

use std::process::{Command, Output};

fn smoke(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smoke"))
        .args(args)
        .output()
        .expect("the smoke binary runs")
}

#[test]
fn a_short_run_of_one_target_reports_its_runs() {
    let out = smoke(&["--seconds", "0.2", "--seed", "42", "--target", "import"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("import: "), "{stdout}");
}

#[test]
fn a_saved_input_is_replayed_through_the_named_target() {
    let regression = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/regressions/import-hexane-slab-panic.bin"
    );
    let out = smoke(&["--target", "import", "--replay", regression]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "no panic\n");
}

#[test]
fn the_seeds_are_written_as_a_corpus_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().to_str().unwrap();
    let out = smoke(&["--target", "import", "--write-seeds", corpus]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "nothing ran");
    assert!(dir.path().join("import/seed-0").is_file());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn an_unknown_target_is_refused() {
    let out = smoke(&["--seconds", "0.2", "--target", "no-such-target"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8(out.stderr).unwrap(), "no such target\n");
}

/// A value the harness cannot use is refused, naming its flag (exit 2),
/// before anything runs: not run for the default budget or with the
/// default seed instead, and no panic on a budget no `Duration` holds.
#[test]
fn a_flag_value_that_cannot_be_used_is_refused_naming_the_flag() {
    for (args, flag) in [
        (["--seconds", "soon"], "'--seconds <N>'"),
        (["--seconds", "inf"], "'--seconds <N>'"),
        (["--seconds=-1", "--seed=1"], "'--seconds <N>'"),
        (["--seed", "-"], "'--seed <S>'"),
        (["--seconds", "--target"], "'--seconds <N>'"),
    ] {
        let mut args = args.to_vec();
        args.extend(["--target", "import"]);
        let out = smoke(&args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing ran");
    }
}

//! The encrypted device edit against its floors, timed round-robin
//! (issue 16, item 6). The fsync of a shared disk moves by a factor of 40
//! minutes apart, so benchmarks timed one after the other cannot be
//! compared; here every round makes one of each, in the same loop, each
//! its own durable commit on its own store file in one directory, so
//! whatever the disk does hits all of them alike. Each round gives ratios
//! (edit over floor) in wall time and in this thread's CPU time; the run
//! reports their median and interquartile range.
//!
//! The four operations, each a fresh commit:
//! - `encrypted edit`: one scene action through the facade on the
//!   encrypted store, on records of 10 to 60 actions (as `store.rs`'s
//!   `after_10`);
//! - `plain edit`: the same on a plain store (what encryption costs an edit);
//! - `plain floor`: the edit's change bytes inserted and committed on plain
//!   SQLite, same pragmas;
//! - `sqlcipher floor`: the same on SQLCipher, keyed as the store is.
//!
//! Usage (release; arguments after `--`):
//! - `cargo bench -p pocketbook-core --bench interleaved -- --rounds 3000`
//! - under callgrind, one operation only (`--only edit|plain-edit|plain-floor|sqlcipher-floor`),
//!   counted inside `measured` alone: see "The encrypted store against its
//!   floors" in `BENCHMARKS.md` for the command.

use std::path::Path;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

use pocketbook_core::Notebook;
use pocketbook_fixtures::thread_cpu;

mod common;
use common::*;

/// Untimed rounds first: caches, statements, the first record.
const WARM_UP: usize = 100;

/// One of the four operations with what it writes to.
enum Op {
    Edit(Editor),
    Floor(rusqlite::Connection, Vec<u8>),
}

/// Appends scene actions to records of 10 to [`AFTER_10_BOUND`] actions.
struct Editor {
    nb: std::sync::Arc<Notebook>,
    id: String,
    held: usize,
}

impl Editor {
    fn new(dir: &Path, key: Option<&[u8]>) -> Editor {
        let path = dir.display().to_string();
        let nb = match key {
            Some(key) => Notebook::open_encrypted(path, officer(), key.to_vec()).unwrap(),
            None => Notebook::open(path, officer()).unwrap(),
        };
        let mut editor = Editor {
            nb,
            id: String::new(),
            held: AFTER_10_BOUND,
        };
        editor.ready();
        editor
    }

    /// A record with room for the next edit (untimed).
    fn ready(&mut self) {
        if self.held < AFTER_10_BOUND {
            return;
        }
        self.id = self.nb.create_scene(scene_input()).unwrap().header.id;
        for n in 0..10 {
            self.nb.add_scene_action(self.id.clone(), note(n)).unwrap();
        }
        self.held = 10;
    }

    fn edit(&mut self) {
        self.nb
            .add_scene_action(self.id.clone(), note(self.held))
            .unwrap();
        self.held += 1;
    }
}

impl Op {
    fn ready(&mut self) {
        if let Op::Edit(editor) = self {
            editor.ready();
        }
    }

    fn run(&mut self) {
        match self {
            Op::Edit(editor) => editor.edit(),
            Op::Floor(conn, change) => floor_insert(conn, change),
        }
    }
}

const NAMES: [&str; 4] = ["edit", "plain-edit", "plain-floor", "sqlcipher-floor"];

/// The command line (after `--`).
#[derive(Parser)]
#[command(about = "The encrypted device edit against its floors, timed round-robin")]
struct Args {
    /// Timed rounds of the four operations, after the warm-up rounds.
    #[arg(long, default_value_t = 2000)]
    rounds: usize,
    /// One operation only, `rounds` times, untimed: for callgrind, which
    /// counts inside `measured`.
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// What `cargo bench` passes to every bench binary; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The operations, in the order of [`NAMES`].
#[derive(Clone, Copy, ValueEnum)]
enum Only {
    Edit,
    PlainEdit,
    PlainFloor,
    SqlcipherFloor,
}
const ENC_EDIT: usize = 0;
const PLAIN_EDIT: usize = 1;
const PLAIN_FLOOR: usize = 2;
const CIPHER_FLOOR: usize = 3;

fn ops(dir: &Path) -> Vec<Op> {
    let change = one_change();
    let encrypted = dir.join("encrypted");
    let plain = dir.join("plain");
    vec![
        Op::Edit(Editor::new(&encrypted, Some(&KEY))),
        Op::Edit(Editor::new(&plain, None)),
        Op::Floor(floor_db(dir, "floor-plain.db", false), change.clone()),
        Op::Floor(floor_db(dir, "floor-sqlcipher.db", true), change),
    ]
}

/// One operation, the only code counted under callgrind
/// (`--toggle-collect` names this function); making a fresh record ready
/// is outside it.
#[inline(never)]
fn measured(op: &mut Op) {
    op.run();
}

/// Quartiles of `values` (sorted in place): first, median, third.
fn quartiles(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

fn main() {
    let Args { rounds, only, .. } = Args::parse();
    let dir = tempfile::tempdir().unwrap();
    let mut ops = ops(dir.path());
    for _ in 0..WARM_UP {
        for op in &mut ops {
            op.ready();
            op.run();
        }
    }
    if let Some(only) = only {
        let at = only as usize;
        for _ in 0..rounds {
            ops[at].ready();
            measured(&mut ops[at]);
        }
        println!("{}: {rounds} operations counted in `measured`", NAMES[at]);
        return;
    }

    // wall[op][round], cpu[op][round]
    let mut wall = vec![Vec::with_capacity(rounds); ops.len()];
    let mut cpu = vec![Vec::with_capacity(rounds); ops.len()];
    let started = Instant::now();
    for round in 0..rounds {
        for op in &mut ops {
            op.ready();
        }
        // Round-robin: each operation goes first, second... in turn.
        for k in 0..ops.len() {
            let at = (round + k) % ops.len();
            let (w, c) = (Instant::now(), thread_cpu());
            ops[at].run();
            let c = thread_cpu() - c;
            let w = w.elapsed();
            wall[at].push(w);
            cpu[at].push(c);
        }
    }
    let took = started.elapsed();

    let secs = |d: &Duration| d.as_secs_f64();
    let ratio = |times: &[Vec<Duration>], a: usize, b: usize| -> (f64, f64, f64) {
        let mut r: Vec<f64> = times[a]
            .iter()
            .zip(&times[b])
            .map(|(x, y)| secs(x) / secs(y).max(1e-9))
            .collect();
        quartiles(&mut r)
    };
    let ms = |times: &[Vec<Duration>], a: usize| -> (f64, f64, f64) {
        let mut v: Vec<f64> = times[a].iter().map(|d| secs(d) * 1e3).collect();
        quartiles(&mut v)
    };
    println!(
        "interleaved: {rounds} rounds of {} operations in {:.1} s (after {WARM_UP} warm-up rounds)",
        ops.len(),
        took.as_secs_f64()
    );
    println!();
    println!("| operation | wall ms: median (p25-p75) | CPU ms: median (p25-p75) |");
    println!("|---|---|---|");
    for (at, name) in NAMES.iter().enumerate() {
        let (w1, w2, w3) = ms(&wall, at);
        let (c1, c2, c3) = ms(&cpu, at);
        println!("| {name} | {w2:.3} ({w1:.3}-{w3:.3}) | {c2:.3} ({c1:.3}-{c3:.3}) |");
    }
    println!();
    println!("| per-round ratio | wall: median (p25-p75) | CPU: median (p25-p75) |");
    println!("|---|---|---|");
    for (name, a, b) in [
        (
            "encrypted edit / plain floor (target <= 2.5)",
            ENC_EDIT,
            PLAIN_FLOOR,
        ),
        ("encrypted edit / sqlcipher floor", ENC_EDIT, CIPHER_FLOOR),
        (
            "encryption itself: sqlcipher floor / plain floor",
            CIPHER_FLOOR,
            PLAIN_FLOOR,
        ),
        ("encrypted edit / plain edit", ENC_EDIT, PLAIN_EDIT),
        ("plain edit / plain floor", PLAIN_EDIT, PLAIN_FLOOR),
    ] {
        let (w1, w2, w3) = ratio(&wall, a, b);
        let (c1, c2, c3) = ratio(&cpu, a, b);
        println!("| {name} | {w2:.2}x ({w1:.2}-{w3:.2}) | {c2:.2}x ({c1:.2}-{c3:.2}) |");
    }
}

//! The stable randomized harness: seeded random mutations of each target's
//! seeds through the same bodies cargo-fuzz runs, for a time budget. No
//! nightly, no cargo-fuzz: `scripts/fuzz-smoke` runs it on any machine.
//!
//! `smoke [--seconds N] [--seed S] [--target NAME] [--replay FILE]
//! [--write-seeds DIR]`: N seconds in all,
//! shared by the targets. A panic saves the input under
//! `fuzz/artifacts/smoke/` and exits 1. The flags are clap's, as the
//! server's command line is: a value that does not parse, or a flag the
//! harness does not know, is refused, naming it (exit 2), rather than
//! run with a default nobody asked for.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;

/// Seeded random mutations of each fuzz target's seeds through the bodies
/// cargo-fuzz runs, for a time budget.
#[derive(Parser)]
#[command(about)]
struct Args {
    /// Seconds of mutation in all, shared by the targets.
    #[arg(long, value_name = "N", default_value_t = 30.0, value_parser = budget)]
    seconds: f64,
    /// The mutations' seed: the same seed makes the same inputs.
    #[arg(long, value_name = "S", default_value_t = 0x5eed_b0b5)]
    seed: u64,
    /// Only this target.
    #[arg(long, value_name = "NAME")]
    target: Option<String>,
    /// Runs one saved input through the target (`--target`, else the
    /// first) and shows the panic's message.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Writes each target's seeds as a cargo-fuzz corpus directory under
    /// DIR, and runs nothing.
    #[arg(long, value_name = "DIR")]
    write_seeds: Option<PathBuf>,
}

/// A time budget: a number of seconds a `Duration` holds (not negative,
/// not infinite), so the run never panics on the flag it was given.
fn budget(text: &str) -> Result<f64, String> {
    let seconds: f64 = text.parse().map_err(|e| format!("{e}"))?;
    match Duration::try_from_secs_f64(seconds) {
        Ok(_) => Ok(seconds),
        Err(_) => Err("a number of seconds, 0 or more".into()),
    }
}

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// LEB128 values that stress length and run-length fields.
const INTERESTING: [u64; 8] = [0, 1, 0x7f, 0x80, 0xffff, 1 << 31, 1 << 40, u64::MAX];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(4) {
        // Keep the mode byte (index 0) most of the time.
        let start = usize::from(input.len() > 1 && rng.below(8) != 0);
        let at = start + rng.below(input.len().saturating_sub(start));
        match rng.below(8) {
            0 if !input.is_empty() => {
                let i = at.min(input.len() - 1);
                input[i] ^= 1 << rng.below(8);
            }
            1 if !input.is_empty() => {
                let i = at.min(input.len() - 1);
                input[i] = [0, 0xff, 0x7f, 0x80][rng.below(4)];
            }
            2 => {
                let n = 1 + rng.below(8);
                for _ in 0..n {
                    input.insert(at.min(input.len()), rng.next() as u8);
                }
            }
            3 if input.len() > start + 1 => {
                let end = (at + 1 + rng.below(16)).min(input.len());
                input.drain(at.min(end)..end);
            }
            4 => {
                let mut leb = Vec::new();
                pocketbook_core::chunks::write_uleb(&mut leb, INTERESTING[rng.below(8)]);
                let at = at.min(input.len());
                let end = (at + leb.len()).min(input.len());
                input.splice(at..end, leb);
            }
            5 if !input.is_empty() => input.truncate(start.max(rng.below(input.len()))),
            6 => {
                // Splice in a piece of another seed.
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let to = (from + 1 + rng.below(64)).min(other.len());
                    let at = at.min(input.len());
                    input.splice(at..at, other[from..to].iter().copied());
                }
            }
            _ => {
                // Duplicate a range in place (repeats runs and chunks).
                if !input.is_empty() {
                    let from = at.min(input.len() - 1);
                    let to = (from + 1 + rng.below(32)).min(input.len());
                    let piece = input[from..to].to_vec();
                    input.splice(to..to, piece);
                }
            }
        }
    }
}

fn main() {
    let Args {
        seconds,
        seed,
        target: only,
        replay,
        write_seeds,
    } = Args::parse();
    let targets: Vec<_> = pocketbook_fuzz::TARGETS
        .iter()
        .filter(|(name, _)| only.as_deref().is_none_or(|o| o == *name))
        .collect();
    if targets.is_empty() {
        eprintln!("no such target");
        std::process::exit(2);
    }
    if let Some(dir) = write_seeds {
        // The seeds as cargo-fuzz corpus directories, one per target.
        for (name, _) in &targets {
            let target_dir = std::path::Path::new(&dir).join(name);
            std::fs::create_dir_all(&target_dir).expect("a corpus directory");
            for (i, seed) in pocketbook_fuzz::seeds(name).iter().enumerate() {
                std::fs::write(target_dir.join(format!("seed-{i}")), seed).expect("a seed");
            }
        }
        return;
    }
    if let Some(file) = replay {
        // One saved input through one target, with the panic's message.
        let input = std::fs::read(&file).expect("the input file");
        let (_, body) = targets[0];
        body(&input);
        println!("no panic");
        return;
    }
    // Panics are reported once, as crashes, not as hook noise per input.
    std::panic::set_hook(Box::new(|_| {}));
    let per_target = Duration::from_secs_f64(seconds / targets.len() as f64);
    let mut rng = Rng(seed | 1);
    let mut failed = false;
    for (name, body) in targets {
        let seeds = pocketbook_fuzz::seeds(name);
        let started = Instant::now();
        let mut runs = 0u64;
        // Every seed once as it is, then mutations until the budget is spent.
        let mut queue: Vec<Vec<u8>> = seeds.clone();
        while started.elapsed() < per_target {
            let input = match queue.pop() {
                Some(input) => input,
                None => {
                    let mut input = seeds[rng.below(seeds.len())].clone();
                    mutate(&mut rng, &mut input, &seeds);
                    input
                }
            };
            runs += 1;
            if catch_unwind(AssertUnwindSafe(|| body(&input))).is_err() {
                let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/smoke");
                let file = dir.join(format!("{name}-{seed}-{runs}.bin"));
                if let Err(e) =
                    std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, &input))
                {
                    eprintln!("{name}: could not save the input: {e}");
                }
                eprintln!(
                    "{name}: PANIC on input {} (seed {seed}, run {runs})",
                    file.display()
                );
                failed = true;
                break;
            }
        }
        println!(
            "{name}: {runs} runs in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    if failed {
        std::process::exit(1);
    }
}

//! What the soak measured and its Markdown report: sync latency
//! percentiles per phase, the faults injected, and the server's resident
//! memory beside its store's size over time, with the growth in each phase
//! (while handsets edit, the store grows; in the idle tail it does not, so
//! memory that still grows there would be a leak per request).

use std::time::Duration;

/// One sync attempt.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    pub latency: Duration,
    pub ok: bool,
    /// Made while handsets were still editing (not in the idle tail).
    pub editing: bool,
}

/// One sample of the server process.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Duration,
    /// `VmRSS`, KiB.
    pub rss_kib: u64,
    /// The store's files (database, write-ahead log, shared memory), bytes.
    pub store_bytes: u64,
}

/// Everything the report says.
#[derive(Debug)]
pub struct Report {
    pub devices: usize,
    pub officers: usize,
    pub fault_rate: f64,
    pub seed: u64,
    pub editing: Duration,
    pub idle_tail: Duration,
    pub load_before: String,
    pub load_after: String,
    pub attempts: Vec<Attempt>,
    pub requests: u64,
    pub faults: String,
    pub edits: usize,
    pub records: usize,
    pub log_lines: usize,
    pub log_errors: usize,
    pub samples: Vec<Sample>,
    pub passes: usize,
    pub compared: usize,
}

impl Report {
    pub fn render(&self) -> String {
        let mut lines = vec![
            format!(
                "soak: {} handsets ({} officers), {:.0} s editing + {:.0} s idle tail, fault rate {}, seed {}",
                self.devices,
                self.officers,
                self.editing.as_secs_f64(),
                self.idle_tail.as_secs_f64(),
                self.fault_rate,
                self.seed
            ),
            format!(
                "load average: {} before, {} after; {} CPUs",
                self.load_before,
                self.load_after,
                std::thread::available_parallelism().map_or(0, |n| n.get())
            ),
            "\n| measure | value |\n|---|---|".into(),
        ];
        for (phase, editing) in [("while editing", true), ("idle tail", false)] {
            let mine: Vec<&Attempt> = self
                .attempts
                .iter()
                .filter(|a| a.editing == editing)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let ok: Vec<Duration> = mine.iter().filter(|a| a.ok).map(|a| a.latency).collect();
            let all: Vec<Duration> = mine.iter().map(|a| a.latency).collect();
            lines.push(format!(
                "| sync attempts, {phase} | {} ({} succeeded, {} failed) |",
                all.len(),
                ok.len(),
                all.len() - ok.len()
            ));
            lines.push(format!(
                "| sync latency, {phase}, succeeded | p50 {} ms, p99 {} ms, max {} ms |",
                millis(percentile(&ok, 0.50)),
                millis(percentile(&ok, 0.99)),
                millis(percentile(&ok, 1.0))
            ));
            lines.push(format!(
                "| sync latency, {phase}, every attempt | p50 {} ms, p99 {} ms |",
                millis(percentile(&all, 0.50)),
                millis(percentile(&all, 0.99))
            ));
        }
        lines.push(format!(
            "| requests through the proxy | {} ({}) |",
            self.requests, self.faults
        ));
        lines.push(format!(
            "| edits made | {}, on {} records |",
            self.edits, self.records
        ));
        lines.push(format!(
            "| server log | {} lines, {} at error level |",
            self.log_lines, self.log_errors
        ));
        lines.push(format!(
            "| server RSS while editing | {} |",
            growth(&self.samples, Duration::ZERO, self.editing, true)
        ));
        if !self.idle_tail.is_zero() {
            lines.push(format!(
                "| server RSS in the idle tail | {} |",
                growth(
                    &self.samples,
                    self.editing,
                    self.editing + self.idle_tail,
                    false
                )
            ));
        }
        lines.push(format!(
            "| converged | yes: after {} clean pass(es), every handset holds exactly its scope's records with the server's heads ({} record copies compared), every edit is on the server once, the feed carries each change once, the audit chain verifies |",
            self.passes, self.compared
        ));
        lines.push(
            "\nThe server over time:\n\n| time | RSS | store on disk |\n|---|---|---|".into(),
        );
        for sample in thin(&self.samples, 25) {
            lines.push(format!(
                "| {:.0} s | {:.1} MiB | {:.1} MiB |",
                sample.at.as_secs_f64(),
                sample.rss_kib as f64 / 1024.0,
                sample.store_bytes as f64 / (1024.0 * 1024.0)
            ));
        }
        lines.join("\n")
    }
}

/// RSS and store size over a phase (`from..=to`): at its start (after a
/// quarter of it when `warm_up`, so start-up allocation is not counted as
/// growth), at its end, and the change.
fn growth(samples: &[Sample], from: Duration, to: Duration, warm_up: bool) -> String {
    let phase: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at >= from && s.at <= to + Duration::from_secs(1))
        .collect();
    let (Some(first), Some(last)) = (phase.first(), phase.last()) else {
        return "no samples".into();
    };
    let start = if warm_up {
        phase
            .iter()
            .find(|s| s.at >= from + (to - from) / 4)
            .unwrap_or(first)
    } else {
        first
    };
    let mib = |kib: u64| kib as f64 / 1024.0;
    let store = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    format!(
        "{:.1} MiB at {:.0} s, {:.1} MiB at {:.0} s ({:+.1}%), max {:.1} MiB; the store {:.1} MiB to {:.1} MiB",
        mib(start.rss_kib),
        start.at.as_secs_f64(),
        mib(last.rss_kib),
        last.at.as_secs_f64(),
        (last.rss_kib as f64 / start.rss_kib.max(1) as f64 - 1.0) * 100.0,
        mib(phase.iter().map(|s| s.rss_kib).max().unwrap_or(0)),
        store(start.store_bytes),
        store(last.store_bytes)
    )
}

/// At most `n` samples, evenly spread, the last included.
fn thin(samples: &[Sample], n: usize) -> Vec<Sample> {
    if samples.len() <= n {
        return samples.to_vec();
    }
    (0..n)
        .map(|i| samples[i * (samples.len() - 1) / (n - 1)])
        .collect()
}

/// The `p` quantile (nearest rank) of the samples.
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied()
}

fn millis(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.1}", d.as_secs_f64() * 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 0.50), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&samples, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&samples, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn growth_is_measured_after_the_warm_up_and_per_phase() {
        let samples: Vec<Sample> = (0..=10)
            .map(|i| Sample {
                at: Duration::from_secs(i * 10),
                rss_kib: if i <= 5 { 1024 * (10 + i) } else { 1024 * 15 },
                store_bytes: 1 << 20,
            })
            .collect();
        let editing = growth(&samples, Duration::ZERO, Duration::from_secs(50), true);
        assert!(
            editing.starts_with("12.0 MiB at 20 s, 15.0 MiB at 50 s (+25.0%)"),
            "{editing}"
        );
        let tail = growth(
            &samples,
            Duration::from_secs(50),
            Duration::from_secs(100),
            false,
        );
        assert!(
            tail.starts_with("15.0 MiB at 50 s, 15.0 MiB at 100 s (+0.0%)"),
            "{tail}"
        );
    }
}

//! Where and how the server runs: flags over environment over a TOML file
//! over defaults, resolved once at start. Besides the data directory and
//! the listen address, this is where the edge's bounds live ([`Limits`]:
//! timeouts, connection and concurrency caps), the reverse proxies whose
//! `X-Forwarded-For` is believed, and the separate metrics address.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::clock::Clock;
use crate::retention::RetentionPolicy;
use crate::tls::{DevicePins, TlsFiles};

mod pins;
mod retention;
pub use pins::*;
pub use retention::*;

/// Default data directory, relative to where the server is started.
pub const DEFAULT_DATA_DIR: &str = "./pocketbook-data";
/// Default listen address: loopback, so a fresh start exposes nothing.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8650";

/// Everything the server needs to run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    /// A PostgreSQL database (`postgres://...`) to use instead of the
    /// SQLite store in `data_dir`: the backend is chosen once, at start
    /// ([`crate::storage::open`]).
    pub database_url: Option<String>,
    pub listen: SocketAddr,
    pub clock: Clock,
    pub retention: RetentionPolicy,
    /// How often the retention job runs inside the server.
    pub retention_every: std::time::Duration,
    /// Timeouts and caps at the edge.
    pub limits: Limits,
    /// Reverse proxies whose `X-Forwarded-For` names the client (see
    /// [`crate::http::edge::client_ip`]); empty: the socket address is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// When set, `/metrics` is served here and not on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// When set, the server terminates TLS itself with these files.
    pub tls: Option<TlsFiles>,
    /// Pin rotation: the pins (`sha256/...`) of the keys the server will
    /// move to, announced in every sync answer so devices trust them
    /// before the certificate changes (`--tls-next-pin`,
    /// `POCKETBOOK_TLS_NEXT_PIN`, config key `tls_next_pins`). Checked by
    /// [`next_pins`].
    pub next_pins: Vec<String>,
    /// The pins devices were given for the key they see (config keys
    /// `tls_pin` and `tls_backup_pin`, as `admin device enrol` reads
    /// them): a certificate reload is held to these ([`crate::tls`]).
    pub device_pins: DevicePins,
}

/// The bounds that keep slow, idle or numerous clients from holding the
/// server: every one is a config key under `[limits]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A connection must deliver a request's complete headers within this
    /// time from when the server starts waiting for them (also the idle
    /// time of a kept-alive connection), or it is closed.
    pub header_read: Duration,
    /// A request body must arrive whole within this time, or 408. The
    /// default leaves room for the largest push (2 MiB before gzip) over
    /// a poor mobile link.
    pub body_read: Duration,
    /// A response write that cannot make progress for this long (the
    /// client stopped reading) closes the connection.
    pub write_stall: Duration,
    /// Connections held open at once; beyond it the server stops
    /// accepting until one closes (the kernel's backlog holds the rest).
    pub max_connections: usize,
    /// Connections held open at once from one client address (IPv6 by its
    /// /64); more are closed at once. Trusted proxies are exempt.
    pub max_connections_per_client: usize,
    /// Requests handled at once (health checks exempt); more wait up to
    /// `queue_wait` for a turn, then get 503 with `Retry-After`.
    pub max_concurrent_requests: usize,
    /// How long a request waits for a turn before 503.
    pub queue_wait: Duration,
    /// Refusals by a rate limit are written to the audit trail as one
    /// summary event per this window, not one event each.
    pub audit_summary_every: Duration,
    /// Refused attempts at the public doors (a copy not given, an
    /// enrolment code refused) audited one event each per hour on this
    /// instance; beyond it they are counted into the summaries instead.
    /// The per-client limits bound each address, not how many addresses
    /// there are (an IPv6 /48 holds 65,536 clients).
    pub audited_refusals_per_hour: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(60),
            write_stall: Duration::from_secs(30),
            max_connections: 512,
            max_connections_per_client: 64,
            max_concurrent_requests: 64,
            queue_wait: Duration::from_secs(2),
            audit_summary_every: Duration::from_secs(300),
            audited_refusals_per_hour: 1_000,
        }
    }
}

/// The `[limits]` table of the config file: see [`Limits`] for each key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub header_read_seconds: Option<u64>,
    pub body_read_seconds: Option<u64>,
    pub write_stall_seconds: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_connections_per_client: Option<usize>,
    pub max_concurrent_requests: Option<usize>,
    pub queue_wait_ms: Option<u64>,
    pub audit_summary_seconds: Option<u64>,
    pub audited_refusals_per_hour: Option<u32>,
}

impl LimitsFile {
    fn resolve(&self) -> Result<Limits, String> {
        fn positive<T: PartialEq + Default + Copy>(
            value: Option<T>,
            key: &str,
        ) -> Result<Option<T>, String> {
            match value {
                Some(v) if v == T::default() => Err(format!("limits.{key} must be at least 1")),
                other => Ok(other),
            }
        }
        let d = Limits::default();
        let secs = |v: Option<u64>, key: &str, default: Duration| {
            positive(v, key).map(|v| v.map_or(default, Duration::from_secs))
        };
        Ok(Limits {
            header_read: secs(
                self.header_read_seconds,
                "header_read_seconds",
                d.header_read,
            )?,
            body_read: secs(self.body_read_seconds, "body_read_seconds", d.body_read)?,
            write_stall: secs(
                self.write_stall_seconds,
                "write_stall_seconds",
                d.write_stall,
            )?,
            max_connections: positive(self.max_connections, "max_connections")?
                .unwrap_or(d.max_connections),
            max_connections_per_client: positive(
                self.max_connections_per_client,
                "max_connections_per_client",
            )?
            .unwrap_or(d.max_connections_per_client),
            max_concurrent_requests: positive(
                self.max_concurrent_requests,
                "max_concurrent_requests",
            )?
            .unwrap_or(d.max_concurrent_requests),
            queue_wait: positive(self.queue_wait_ms, "queue_wait_ms")?
                .map_or(d.queue_wait, Duration::from_millis),
            audit_summary_every: secs(
                self.audit_summary_seconds,
                "audit_summary_seconds",
                d.audit_summary_every,
            )?,
            audited_refusals_per_hour: positive(
                self.audited_refusals_per_hour,
                "audited_refusals_per_hour",
            )?
            .unwrap_or(d.audited_refusals_per_hour),
        })
    }
}

/// Parses `trusted_proxies` entries: an address (`192.0.2.10`) or a
/// network (`10.0.0.0/8`, `fd00::/8`).
pub fn parse_proxies(entries: &[String]) -> Result<Vec<IpNet>, String> {
    entries
        .iter()
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "trusted_proxies: {entry:?} is not an address or a network (e.g. 10.0.0.5 or 10.0.0.0/8)"
                    )
                })
        })
        .collect()
}

/// Parses a listen address; `what` names the setting in the error.
pub fn parse_listen(text: &str, what: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|e| format!("{what} {text:?}: {e} (expected host:port, e.g. 127.0.0.1:8650)"))
}

impl ServerConfig {
    /// A configuration for tests: the given data directory, a free loopback port.
    pub fn for_tests(data_dir: &Path) -> Self {
        ServerConfig {
            data_dir: data_dir.to_path_buf(),
            database_url: None,
            listen: "127.0.0.1:0".parse().expect("loopback address"),
            clock: Clock::system(),
            retention: RetentionPolicy::default(),
            retention_every: DEFAULT_RETENTION_EVERY,
            limits: Limits::default(),
            trusted_proxies: Vec::new(),
            metrics_listen: None,
            tls: None,
            next_pins: Vec::new(),
            device_pins: DevicePins::default(),
        }
    }
}

/// The keys a config file may hold (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    /// `postgres://...`: the PostgreSQL backend instead of `data_dir`.
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub log_format: Option<LogFormat>,
    /// Where `/metrics` is served instead of on `listen`.
    pub metrics_listen: Option<String>,
    /// Reverse proxies (addresses or networks) whose `X-Forwarded-For` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    #[serde(default)]
    pub retention: RetentionFile,
    #[serde(default)]
    pub limits: LimitsFile,
    /// The TLS certificate chain (PEM) when the server terminates TLS.
    pub tls_cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// The URL devices reach the server at (the enrolment link).
    pub public_url: Option<String>,
    /// The pin of the key devices see (the enrolment link).
    pub tls_pin: Option<String>,
    /// The pin of the next key (the enrolment link).
    pub tls_backup_pin: Option<String>,
    /// The pins announced to devices in sync answers before a key change.
    #[serde(default)]
    pub tls_next_pins: Vec<String>,
}

/// How log lines are written (to stderr; stdout carries only the ready line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The log format from the flag or environment, else the file, else text.
pub fn resolve_log_format(
    flag_or_env: Option<LogFormat>,
    file: Option<&Path>,
) -> Result<LogFormat, String> {
    if let Some(format) = flag_or_env {
        return Ok(format);
    }
    Ok(match file {
        Some(path) => FileConfig::read(path)?.log_format.unwrap_or_default(),
        None => LogFormat::default(),
    })
}

/// Largest file the server reads as configuration: the config file, a
/// TLS certificate chain or key. Real ones are a few kilobytes.
pub const MAX_SETTINGS_FILE_BYTES: u64 = 1024 * 1024;

/// The bytes of a small settings file (`what` names it in errors), at
/// most [`MAX_SETTINGS_FILE_BYTES`]: a path mistyped onto a log file, a
/// disk image or `/dev/zero` is refused at once, not read until memory
/// runs out.
pub fn read_settings_file(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| {
            file.take(MAX_SETTINGS_FILE_BYTES + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_SETTINGS_FILE_BYTES {
        return Err(format!(
            "{what} {} is larger than {} KiB: is that the right file?",
            path.display(),
            MAX_SETTINGS_FILE_BYTES / 1024
        ));
    }
    Ok(bytes)
}

impl FileConfig {
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = String::from_utf8(read_settings_file(path, "config file")?)
            .map_err(|_| format!("config file {}: not UTF-8 text", path.display()))?;
        toml::from_str(&text)
            .map_err(|e| format!("config file {}: {}", path.display(), unquoted(&e, &text)))
    }
}

/// What is wrong with a config file, by line and column, without the
/// line itself or a string value (toml's own message prints the line, and
/// serde's names a string of the wrong type or value in full: a
/// `database_url` carries the database password).
fn unquoted(error: &toml::de::Error, text: &str) -> String {
    const STRING: &str = "string \"";
    let mut message = error.message().trim().replace('\n', "; ");
    let mut from = 0;
    while let Some(at) = message[from..]
        .find(STRING)
        .map(|i| from + i + STRING.len())
    {
        let rest = &message[at..];
        let mut escaped = false;
        let len = rest
            .char_indices()
            .find(|&(_, c)| {
                let closing = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                closing
            })
            .map_or(rest.len(), |(i, _)| i);
        message.replace_range(at..at + len, "...");
        from = at + "...\"".len();
    }
    match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// Resolves the final configuration from flag/env values (clap merges
/// those two) and the file.
pub fn resolve(
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    file: Option<&Path>,
) -> Result<ServerConfig, String> {
    let file = match file {
        Some(path) => FileConfig::read(path)?,
        None => FileConfig::default(),
    };
    let data_dir = data_dir
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let listen_text = listen
        .or(file.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listen = parse_listen(&listen_text, "listen address")?;
    let metrics_listen = file
        .metrics_listen
        .as_deref()
        .map(|text| parse_listen(text, "metrics_listen"))
        .transpose()?;
    let (retention, retention_every) = file.retention.resolve()?;
    Ok(ServerConfig {
        data_dir,
        database_url: file.database_url,
        listen,
        clock: Clock::system(),
        retention,
        retention_every,
        limits: file.limits.resolve()?,
        trusted_proxies: parse_proxies(&file.trusted_proxies)?,
        metrics_listen,
        tls: tls_files(file.tls_cert, file.tls_key)?,
        next_pins: next_pins(file.tls_next_pins)?,
        device_pins: DevicePins {
            pin: pin(file.tls_pin.as_deref(), "tls_pin")?,
            backup: pin(file.tls_backup_pin.as_deref(), "tls_backup_pin")?,
        },
    })
}

/// The enrolment link's settings: flag or environment over the file.
pub fn resolve_link(
    flags: crate::link::LinkSettings,
    file: Option<&Path>,
) -> Result<crate::link::LinkSettings, String> {
    let file = match file {
        Some(path) => FileConfig::read(path)?,
        None => FileConfig::default(),
    };
    Ok(crate::link::LinkSettings {
        public_url: flags.public_url.or(file.public_url),
        pin: flags.pin.or(file.tls_pin),
        backup_pin: flags.backup_pin.or(file.tls_backup_pin),
        tls_cert: flags.tls_cert.or(file.tls_cert),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_sets_limits_proxies_and_the_metrics_address() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.toml");
        std::fs::write(
            &path,
            "trusted_proxies = [\"10.0.0.0/8\", \"192.0.2.10\"]\n\
             metrics_listen = \"127.0.0.1:9650\"\n\
             [limits]\nheader_read_seconds = 3\nmax_connections_per_client = 8\n",
        )
        .unwrap();
        let config = resolve(None, None, Some(&path)).unwrap();
        assert_eq!(config.limits.header_read, Duration::from_secs(3));
        assert_eq!(config.limits.max_connections_per_client, 8);
        assert_eq!(config.limits.body_read, Limits::default().body_read);
        assert_eq!(config.trusted_proxies.len(), 2);
        assert!(
            config.trusted_proxies[1].contains(&"192.0.2.10".parse::<std::net::IpAddr>().unwrap())
        );
        assert_eq!(
            config.metrics_listen,
            Some("127.0.0.1:9650".parse().unwrap())
        );

        std::fs::write(&path, "trusted_proxies = [\"everyone\"]\n").unwrap();
        assert!(
            resolve(None, None, Some(&path))
                .unwrap_err()
                .contains("everyone")
        );
        std::fs::write(&path, "[limits]\nmax_connections = 0\n").unwrap();
        assert!(
            resolve(None, None, Some(&path))
                .unwrap_err()
                .contains("max_connections")
        );
    }
}

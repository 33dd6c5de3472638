//! Where and how the server runs: flags over environment over a TOML file
//! over defaults, resolved once at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::retention::RetentionPolicy;

/// Default data directory, relative to where the server is started.
pub const DEFAULT_DATA_DIR: &str = "./pocketbook-data";
/// Default listen address: loopback, so a fresh start exposes nothing.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8650";

/// The time source; tests inject one to jump ahead without sleeping.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    pub fn system() -> Self {
        Clock(Arc::new(Utc::now))
    }

    pub fn new(f: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Clock(Arc::new(f))
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }

    /// Now, written as the store writes times: see [`stamp`].
    pub fn stamp(&self) -> String {
        stamp(self.now())
    }
}

/// The one way the server writes an instant (RFC 3339, UTC, milliseconds):
/// in the store, the feed and the audit trail, so times compare as text.
pub fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// Everything the server needs to run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub clock: Clock,
    pub retention: RetentionPolicy,
    /// How often the retention job runs inside the server.
    pub retention_every: std::time::Duration,
}

/// Default pause between retention runs.
pub const DEFAULT_RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The `[retention]` table of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionFile {
    /// Months a stop and search or stop and account record is kept (default 12).
    pub encounter_months: Option<u32>,
    /// Days a scene or burglary record is kept (default: not erased automatically).
    pub attendance_days: Option<u32>,
    /// Minutes between runs of the job (default 60).
    pub every_minutes: Option<u64>,
}

impl ServerConfig {
    /// A configuration for tests: the given data directory, a free loopback port.
    pub fn for_tests(data_dir: &Path) -> Self {
        ServerConfig {
            data_dir: data_dir.to_path_buf(),
            listen: "127.0.0.1:0".parse().expect("loopback address"),
            clock: Clock::system(),
            retention: RetentionPolicy::default(),
            retention_every: DEFAULT_RETENTION_EVERY,
        }
    }
}

/// The keys a config file may hold (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub log_format: Option<LogFormat>,
    #[serde(default)]
    pub retention: RetentionFile,
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

impl FileConfig {
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))
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
    let listen = listen_text.parse().map_err(|e| {
        format!("listen address {listen_text:?}: {e} (expected host:port, e.g. 127.0.0.1:8650)")
    })?;
    let defaults = RetentionPolicy::default();
    let retention = RetentionPolicy {
        encounter_months: file
            .retention
            .encounter_months
            .unwrap_or(defaults.encounter_months),
        attendance_days: file.retention.attendance_days.or(defaults.attendance_days),
    };
    if retention.encounter_months == 0 {
        return Err("retention.encounter_months must be at least 1".into());
    }
    let retention_every = match file.retention.every_minutes {
        Some(0) => return Err("retention.every_minutes must be at least 1".into()),
        Some(minutes) => std::time::Duration::from_secs(minutes * 60),
        None => DEFAULT_RETENTION_EVERY,
    };
    Ok(ServerConfig {
        data_dir,
        listen,
        clock: Clock::system(),
        retention,
        retention_every,
    })
}

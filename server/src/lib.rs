//! The Pocketbook sync server. Devices enrol with a one-time code and then
//! sync their records over HTTP (`docs/sync-protocol.md`); admins manage
//! officers and devices from the command line; the public gets copies of
//! their stop records. `ARCHITECTURE.md` draws the layers.
//!
//! The map, top to bottom (dependencies point down):
//!
//! | layer | modules | what |
//! |---|---|---|
//! | entry | [`cli`], `serve` | the `serve` and `admin` commands; [`start`] runs the server |
//! | surface | [`http`] (`metrics`) | axum routes that decode, call, encode and count |
//! | operations | [`admin`], [`sync`], [`copy`], [`figures`], [`pledge`], [`config`] | audited admin operations, the sync round trip, the public copy, the published figures, promises from the synced records, the config file |
//! | rules | [`auth`], [`scope`], [`retention`], `limit`, [`audit`] | tokens and codes, who sees what, erasure, rate limits, the hash chain |
//! | storage | [`storage`] | the traits every backend implements, rows, errors; SQLite in `storage::sqlite` |
//! | bottom | [`identity`], `clock` | who is who, the one clock |
//!
//! The names a caller needs are re-exported here; the modules stay public
//! where the tests, the load generator and the fuzz targets name paths
//! inside them.

#![forbid(unsafe_code)]

pub mod admin;
pub mod audit;
pub mod auth;
pub mod cli;
mod clock;
pub mod config;
pub mod copy;
pub mod figures;
pub mod http;
pub mod identity;
mod limit;
pub mod link;
mod metrics;
pub mod pledge;
pub mod retention;
pub mod scope;
mod serve;
pub mod station_entries;
pub mod storage;
pub mod sync;
pub mod tls;

// Entry: running the server.
pub use serve::{RunningServer, StartError, start, start_with};

// Surface and configuration.
pub use config::{Limits, ServerConfig};
pub use http::{AppState, HttpError, router};

// Operations.
pub use admin::{Admin, AdminError};
pub use copy::{CopyError, RecordCopy};
pub use sync::round_trip;

// Rules.
pub use auth::{AuthError, authenticate};
pub use retention::RetentionPolicy;

// Storage.
pub use storage::sqlite::SqliteStorage;
pub use storage::{AuditLog, Storage, StorageError};

// Bottom: identity and time.
pub use clock::Clock;
pub use identity::{DeviceRow, OfficerRow, Principal, RevokeReason, Role};

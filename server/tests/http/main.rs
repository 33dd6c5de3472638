//! The server over real HTTP on a loopback port: enrolment, authentication,
//! the sync protocol, and every kind of hostile input.

mod support;

mod access;
mod admin;
mod audit;
mod bodies;
mod bombs;
mod closed;
mod concurrency;
mod config_file;
mod copy;
mod cost;
mod devices;
mod edge;
mod enrol;
mod enrol_owner;
mod feed_retention;
mod figures;
mod gauge_scale;
mod group_commit;
mod holds_scale;
mod hostile;
mod logs;
mod ops;
mod promises;
mod protocol;
mod retention_clock;
mod retention_clock_held;
mod serve;
mod strings;
mod sync;
mod terminal;
mod tls;
mod tls_dates;
mod tls_pins;
mod trust;

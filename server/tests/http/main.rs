//! The server over real HTTP on a loopback port: enrolment, authentication,
//! the sync protocol, and every kind of hostile input.

mod support;

mod admin;
mod concurrency;
mod cost;
mod enrol;
mod hostile;
mod ops;
mod serve;
mod sync;

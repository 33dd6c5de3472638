//! End to end: a real server on a loopback port and several real device
//! cores syncing through the public API.

mod clocks;
mod converge;
mod failures;
mod identity;
mod minimisation;
mod offline_retention;
mod pins;
mod promise_entries;
mod random_histories;
mod redirects;
mod retention;
mod retire;
mod rollback;

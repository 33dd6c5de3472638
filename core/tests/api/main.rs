//! The core's public API, driven as an app drives it: every record kind and
//! rule, merges between two and three replicas, the store's durability and
//! recovery, a crash in the middle of a stream of edits, sharing with
//! co-attending officers, and the remote wipe of a revoked or retired device
//! (against a scripted stand-in for the server).

mod support;

mod bounded;
mod crash;
mod merge;
mod records;
mod sharing;
mod store;

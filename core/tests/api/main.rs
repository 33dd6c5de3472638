//! The core's public API, driven as an app drives it: every record kind and
//! rule, merges between two and three replicas, the notebook as evidence, the store's durability and
//! recovery, a crash in the middle of a stream of edits, sharing with
//! co-attending officers, and the remote wipe of a revoked or retired device
//! (against a scripted stand-in for the server).

mod support;

mod crash;
mod merge;
mod notebook;
mod records;
mod sharing;
mod store;

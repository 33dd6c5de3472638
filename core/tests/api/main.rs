//! The core's public API, driven as an app drives it: every record kind and
//! rule, merges between two and three replicas, the store's durability and
//! recovery, and a crash in the middle of a stream of edits.

mod support;

mod crash;
mod merge;
mod records;
mod store;

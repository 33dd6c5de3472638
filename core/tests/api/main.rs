//! The core's public API, driven as an app drives it: every record kind and
//! rule, merges between two and three replicas, the notebook as evidence, the store's durability and
//! recovery, a crash in the middle of a stream of edits, sharing with
//! co-attending officers, app callbacks that fail, request timeouts against
//! a server that never answers, and feed entries this app cannot apply.

mod support;

mod access;
mod bounded;
mod callbacks;
mod change_rows;
mod concurrent;
mod crash;
mod edit_pages;
mod encounters;
mod encryption;
mod feed;
mod merge;
mod network;
mod notebook;
mod promise_terms;
mod promises;
mod records;
mod redirects;
mod rekey_race;
mod retention;
mod scenes;
mod sharing;
mod store;

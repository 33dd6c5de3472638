//! Faults, tried many times at random: real process crashes (`crash`), a
//! link that drops, stalls, cuts, duplicates and reorders (`link`), and a
//! store that runs out of room (`disk`). The real `pocketbook-server` and
//! `pocketbook-device` binaries run as child processes (see
//! `pocketbook_tests::process` for where they are found); every random
//! choice comes from a seed that is printed (`POCKETBOOK_FAULTS_SEED`
//! replays it). `POCKETBOOK_FAULTS_LONG=1` runs the longer variants
//! (`RELIABILITY.md`, "Faults").

mod crash;
mod disk;
mod link;

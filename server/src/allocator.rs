//! The server's heap allocator: mimalloc, declared once here for every
//! binary that runs the server's work (`main.rs`, and the `push` bench,
//! which includes this file with `#[path]` so it measures what runs).
//!
//! A push's merge and checks allocate and free many small values per
//! record (Automerge's columns and operations, the schema walk's tree, the
//! typed record); the system allocator spent about a sixth of a new
//! record's CPU on them (BENCHMARKS.md, "Group commit", fourth pass). It
//! is declared in the binaries only: the core library is a cdylib loaded
//! by the apps, which keep their own allocator, and the server's library
//! leaves the choice to whoever links it (its tests use the system's).
//!
//! Off with `--no-default-features` (the feature `mimalloc`), to measure
//! the system allocator against it from the same source.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

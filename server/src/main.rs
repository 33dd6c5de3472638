//! `pocketbook-server`: `serve` runs the sync server; `admin ...` manages
//! officers, devices and records on the same data directory.

#![forbid(unsafe_code)]

mod allocator;

fn main() -> std::process::ExitCode {
    pocketbook_server::cli::main()
}

//! Waiting for PostgreSQL at start: instances and their database often
//! start together (a host reboot, a container platform), so a server that
//! finds the database not answering yet tries again for a while, saying
//! so, before it gives up with a clear error. Neither message carries the
//! database URL (it may hold a password) nor the address.

use std::time::{Duration, Instant};

use postgres::NoTls;
use postgres::error::SqlState;

use crate::storage::StorageError;

/// How long opening the store waits for PostgreSQL to answer.
pub const CONNECT_WAIT: Duration = Duration::from_secs(30);

/// The longest pause between two tries.
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// Whether a failed connection may succeed later: the server is not
/// listening, not reachable, or still starting (`57P03`). A refused
/// password or a missing database fails at once.
fn may_answer_later(e: &postgres::Error) -> bool {
    match e.code() {
        None => e.as_db_error().is_none(),
        Some(code) => code == &SqlState::CANNOT_CONNECT_NOW,
    }
}

/// Returns once PostgreSQL accepts a connection with `config`, trying
/// again for up to `wait` while it does not answer; a refusal (a wrong
/// password, say) fails at once.
pub fn until_reachable(config: &postgres::Config, wait: Duration) -> Result<(), StorageError> {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(250);
    let mut warned = false;
    loop {
        let e = match config.connect(NoTls) {
            Ok(_client) => {
                if warned {
                    tracing::info!("PostgreSQL answers: opening the store");
                }
                return Ok(());
            }
            Err(e) if may_answer_later(&e) => e,
            Err(e) => {
                return Err(StorageError::backend_from(
                    Some(
                        "PostgreSQL refused the connection (check the database URL's user, password and database)",
                    ),
                    e,
                ));
            }
        };
        // The driver's words for the cause (connection refused, timed
        // out, no such host), which name neither the address nor the URL.
        let cause = match std::error::Error::source(&e) {
            Some(inner) => format!("{e}: {inner}"),
            None => e.to_string(),
        };
        if Instant::now() + pause > deadline {
            return Err(StorageError::backend(format!(
                "PostgreSQL did not answer within {} s ({cause}): is it running, and do the host \
                 and port of the database URL point at it?",
                wait.as_secs()
            )));
        }
        if !warned {
            tracing::warn!(
                cause = %cause,
                "PostgreSQL does not answer yet; trying again for up to {} s",
                wait.as_secs()
            );
            warned = true;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

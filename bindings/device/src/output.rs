//! Files the device CLI writes (`export --out`, `set-aside --version ID
//! --out`): a record as it is, unencrypted, with a person's details. Each
//! is the owner's only (0600), as the server's admin commands write a
//! person's copy and the audit trail.

use std::io::Write;
use std::path::Path;

use crate::{Failure, input_error};

/// Writes `bytes` to `path`, created or emptied, the owner's only. The
/// mode given at creation applies only to a file the call creates, so a
/// file that was already there is narrowed through the open handle before
/// anything is written into it.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let failed = |e: std::io::Error| input_error(format!("cannot write {}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(failed)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(failed)?;
    }
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(failed)
}

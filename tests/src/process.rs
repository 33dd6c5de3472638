//! The real binaries as child processes: `pocketbook-server` (serve and
//! admin) and `pocketbook-device`, so a test can SIGKILL a process and
//! start it again on the same data, as a crash or a flat battery would.
//!
//! **Where the binaries come from.** `env!("CARGO_BIN_EXE_...")` exists only
//! in the crate that owns a binary, and stable cargo cannot make this crate
//! depend on another package's binary. The test command (`cargo test
//! --workspace`) builds every workspace binary before any test runs, into
//! the same profile directory as the test executable
//! (`target/<profile>/deps/<test>`), so [`binary`] looks in the directory
//! above the test executable. A focused run must build them first:
//! `cargo build -p pocketbook-server -p pocketbook-device && cargo test -p
//! pocketbook-tests --test faults`. A missing binary fails with that advice;
//! one older than the test executable is reported on stderr (it may be stale).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The path of a workspace binary built beside this test executable.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps directory");
    let profile = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().expect("profile directory")
    } else {
        deps
    };
    let path = profile.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build -p pocketbook-server -p pocketbook-device` \
         (the test command `cargo test --workspace` builds it)",
        path.display()
    );
    path
}

/// A `pocketbook-server serve` child process on a data directory. Its log
/// (stderr) is kept in memory for assertions about log lines.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    pub data: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

/// How a server process is started.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Listen here (restart on the same port); `None`: a free port.
    pub listen: Option<SocketAddr>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Ignore SIGXFSZ, so a file-size limit (`prlimit --fsize`) makes
    /// writes fail with an I/O error instead of killing the process.
    pub ignore_file_size_signal: bool,
}

impl ServerProcess {
    /// Starts `serve` on `data` and waits until it listens.
    pub fn start(data: &Path, options: &ServerOptions) -> Self {
        let listen = options
            .listen
            .map_or_else(|| "127.0.0.1:0".to_string(), |a| a.to_string());
        // A restart on the same port can race the kernel's release of the
        // old socket: try a few times.
        let mut last = String::new();
        for _ in 0..50 {
            match Self::try_start(data, &listen, options) {
                Ok(server) => return server,
                Err(why) => last = why,
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the server did not start: {last}");
    }

    fn try_start(data: &Path, listen: &str, options: &ServerOptions) -> Result<Self, String> {
        let bin = binary("pocketbook-server");
        let mut command = if options.ignore_file_size_signal {
            // An ignored signal stays ignored across exec.
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg("trap '' XFSZ; exec \"$0\" \"$@\"")
                .arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(data)
            .arg("--listen")
            .arg(listen)
            .env_remove("POCKETBOOK_DATA_DIR")
            .env_remove("POCKETBOOK_LISTEN")
            .env_remove("POCKETBOOK_CONFIG")
            .env_remove("POCKETBOOK_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in &options.env {
            command.env(key, value);
        }
        let mut child = command.spawn().map_err(|e| e.to_string())?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = BufReader::new(child.stderr.take().expect("stderr piped"));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
        let mut ready = String::new();
        stdout.read_line(&mut ready).map_err(|e| e.to_string())?;
        // Keep reading: a closed pipe would fail the server's writes.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let Some(url) = ready.split_whitespace().nth(3) else {
            child.wait().ok();
            return Err(format!(
                "no listening line; log: {:?}",
                log.lock().unwrap().join("\n")
            ));
        };
        let addr = url
            .trim_start_matches("http://")
            .parse()
            .map_err(|e| format!("{url}: {e}"))?;
        Ok(ServerProcess {
            child,
            addr,
            data: data.to_path_buf(),
            log,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, in-flight requests and transactions cut.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM, and waits for the graceful exit.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let exit = self.child.wait().expect("reaped");
        assert!(exit.success(), "the server exited with {exit}");
    }

    /// The log lines written so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Already gone is fine: this only cleans up.
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// `pocketbook-server admin ...` on a data directory; panics on failure.
pub fn admin(data: &Path, args: &[&str]) -> String {
    let out = admin_output(data, args);
    assert!(
        out.status.success(),
        "admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `pocketbook-server admin ...`, its output whatever the exit.
pub fn admin_output(data: &Path, args: &[&str]) -> Output {
    admin_output_with(data, &[], args)
}

/// `pocketbook-server admin ...` with extra environment variables (e.g.
/// `POCKETBOOK_DATABASE_URL` for a PostgreSQL store), its output whatever
/// the exit.
pub fn admin_output_with(data: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    let mut command = Command::new(binary("pocketbook-server"));
    command
        .arg("admin")
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("POCKETBOOK_CONFIG")
        .env_remove("POCKETBOOK_DATABASE_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("admin command runs")
}

/// Adds an officer with the admin CLI (`role`: officer, supervisor, ...).
pub fn add_officer(data: &Path, number: &str, station: &str, role: &str) {
    admin(
        data,
        &[
            "officer",
            "add",
            "--shoulder-number",
            number,
            "--name",
            &format!("Officer {number}"),
            "--station",
            station,
            "--role",
            role,
        ],
    );
}

/// A one-time enrolment code from the admin CLI.
pub fn enrolment_code(data: &Path, officer: &str) -> String {
    admin(data, &["device", "enrol", "--officer", officer])
}

/// `pocketbook-device --store DIR ...` as a command, to spawn or run.
pub fn device_command(store: &Path) -> Command {
    let mut command = Command::new(binary("pocketbook-device"));
    command
        .arg("--store")
        .arg(store)
        .env_remove("POCKETBOOK_STORE");
    command
}

//! A private `PostgreSQL` server for tests: `initdb` into a fresh temporary
//! directory (nothing is cached between runs), `postgres` on a free loopback
//! port with its socket in that directory, durability switched off (`fsync`,
//! `synchronous_commit`, `full_page_writes`: tests only), one database ready.
//!
//! - [`PostgresServer::start`] retries on a fresh port when the port it picked
//!   was taken in the meantime; [`PostgresServer::url`] is
//!   `postgres://postgres@127.0.0.1:PORT/resetgate` (trust authentication).
//! - [`PostgresServer::fresh_database`] creates another database, so that tests
//!   sharing one server (one per test binary is plenty) stay independent.
//! - [`PostgresServer::stop`] (fast shutdown), [`PostgresServer::start_again`]
//!   and [`PostgresServer::restart`] keep the port and the data: for tests of
//!   what clients do while the server is away.
//!
//! The binaries are found on `PATH` or under `/usr/lib/postgresql/*/bin`
//! (newest version first). `initdb` and `postgres` refuse to run as root: when
//! the tests do, the server runs as `nobody` and owns its temporary directory.
//!
//! Cleaning up: dropping the server shuts it down (immediate shutdown, then
//! `SIGKILL` if it lingers) and removes the directory. A server that is never
//! dropped — one kept in a `static` for a whole test binary, or a test process
//! that is killed — is shut down by a small watchdog shell that waits for the
//! test process to go away (its standard input is a pipe from the test
//! process) and then stops the server and removes the directory. Server and
//! watchdog run in their own process groups, so Ctrl-C in a terminal reaches
//! the test process only and the watchdog still cleans up after it.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The database [`PostgresServer::url`] names.
pub const DATABASE: &str = "resetgate";

/// Ports tried by [`PostgresServer::start`] before giving up.
const PORT_ATTEMPTS: usize = 5;
/// How long a starting server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_mins(1);
/// How long a shutdown may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Stops the server and removes its directory once the test process is gone
/// (end of file on standard input). `$1` is the directory. The pid file is
/// only believed when it names a live `postgres` process.
const WATCHDOG: &str = r#"
cat >/dev/null
pidfile="$1/data/postmaster.pid"
if [ -f "$pidfile" ]; then
    pid=$(head -n 1 "$pidfile")
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ]; then
        kill -QUIT "$pid" 2>/dev/null
        i=0
        while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -KILL "$pid" 2>/dev/null
    fi
fi
rm -rf "$1"
"#;

/// A running (or deliberately stopped) private `PostgreSQL` server.
#[derive(Debug)]
pub struct PostgresServer {
    tools: Tools,
    /// Owns the data directory, the socket and the log; removed last.
    dir: TempDir,
    port: u16,
    /// The (uid, gid) the server runs as, when the tests run as root.
    run_as: Option<(u32, u32)>,
    /// The `postgres` process while it runs.
    server: Option<Child>,
    /// The watchdog (see the module documentation); its stdin is our end.
    watchdog: Option<Child>,
    /// Numbers the databases of [`Self::fresh_database`].
    databases: AtomicU64,
}

impl PostgresServer {
    /// Start a server with a database [`DATABASE`], or panic saying why.
    pub fn start() -> Self {
        Self::try_start().unwrap_or_else(|e| panic!("starting a private PostgreSQL: {e}"))
    }

    /// Start a server with a database [`DATABASE`].
    pub fn try_start() -> io::Result<Self> {
        let tools = Tools::find()?;
        let dir = tempfile::Builder::new().prefix("resetgate-pg-").tempdir()?;
        let run_as = unprivileged_user()?;
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
        }
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let mut server = Self {
            tools,
            dir,
            port: 0,
            run_as,
            server: None,
            watchdog: Some(watchdog),
            databases: AtomicU64::new(0),
        };
        server.initdb()?;
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            server.port = crate::free_port();
            match server.launch() {
                Ok(()) => {
                    last_error = None;
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        if let Some(e) = last_error {
            return Err(e);
        }
        server.create_database(DATABASE)?;
        Ok(server)
    }

    /// The loopback port the server listens on (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of the [`DATABASE`] database.
    pub fn url(&self) -> String {
        self.url_of(DATABASE)
    }

    /// The URL of database `name` on this server.
    pub fn url_of(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Create a new, empty database and return its URL.
    pub fn fresh_database(&self) -> String {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("test_{n}");
        self.create_database(&name)
            .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
        self.url_of(&name)
    }

    /// Run SQL as the superuser on database `name`; its standard output.
    pub fn psql(&self, database: &str, sql: &str) -> io::Result<String> {
        let out = Command::new(&self.tools.psql)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", database, "-c", sql])
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE")
            .stdin(Stdio::null())
            .output()?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(io::Error::other(format!(
                "psql {sql:?}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// Whether the server process is running.
    pub fn is_running(&self) -> bool {
        self.server.is_some()
    }

    /// Fast shutdown (`SIGINT`: clients are disconnected, work is rolled back),
    /// waiting until the server is gone. Port and data stay.
    pub fn stop(&mut self) {
        if let Some(child) = self.server.take() {
            shut_down(child, "INT");
        }
    }

    /// Start the stopped server again, on the same port and data.
    pub fn start_again(&mut self) {
        assert!(self.server.is_none(), "the server is running");
        let port = self.port;
        relaunch("PostgreSQL", port, || self.launch());
    }

    /// [`Self::stop`], then [`Self::start_again`].
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// The server's log so far (initdb's and the server's output).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// A command for a server binary, as the unprivileged user when needed,
    /// its output appended to the log.
    fn server_command(&self, program: &Path) -> io::Result<Command> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let mut cmd = Command::new(program);
        cmd.current_dir(self.dir.path())
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        Ok(cmd)
    }

    fn initdb(&self) -> io::Result<()> {
        let status = self
            .server_command(&self.tools.initdb)?
            .arg("-D")
            .arg(self.data())
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(self.failure(&format!("initdb: {status}")))
        }
    }

    /// Start `postgres` on `self.port` and wait until it accepts connections.
    fn launch(&mut self) -> io::Result<()> {
        let mut child = self
            .server_command(&self.tools.postgres)?
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string()])
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1"])
            // Tests only: nothing here needs to survive a crash of the machine.
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .args(["-c", "max_connections=200", "-c", "shared_buffers=32MB"])
            .spawn()?;
        match self.wait_ready(&mut child) {
            Ok(()) => {
                self.server = Some(child);
                Ok(())
            }
            Err(e) => {
                shut_down(child, "QUIT");
                Err(e)
            }
        }
    }

    /// Ready: the process runs, its pid file says `ready` for our port, and
    /// the port takes a TCP connection.
    fn wait_ready(&self, child: &mut Child) -> io::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let pid_file = self.data().join("postmaster.pid");
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(self.failure(&format!("postgres exited: {status}")));
            }
            let ready = fs::read_to_string(&pid_file).is_ok_and(|text| {
                let lines: Vec<&str> = text.lines().map(str::trim).collect();
                lines.first() == Some(&child.id().to_string().as_str())
                    && lines.get(3) == Some(&self.port.to_string().as_str())
                    && lines.get(7) == Some(&"ready")
            });
            if ready
                && TcpStream::connect_timeout(
                    &([127, 0, 0, 1], self.port).into(),
                    Duration::from_secs(1),
                )
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.failure("postgres did not become ready"));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn create_database(&self, name: &str) -> io::Result<()> {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))
            .map(drop)
    }

    /// An error carrying `what` and the end of the log.
    fn failure(&self, what: &str) -> io::Error {
        io::Error::other(format!(
            "{what}; log {}:\n{}",
            self.log_path().display(),
            tail(&self.log_path(), 4000)
        ))
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if let Some(child) = self.server.take() {
            // Immediate shutdown: the data is thrown away anyway.
            shut_down(child, "QUIT");
        }
        // No pid file left for the watchdog to act on, then let it finish
        // (it removes the directory) and reap it.
        let _ = fs::remove_file(self.data().join("postmaster.pid"));
        if let Some(mut watchdog) = self.watchdog.take() {
            drop(watchdog.stdin.take());
            let _ = wait_for(&mut watchdog, Duration::from_secs(5));
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// Start a stopped server again with `launch` on its old `port`, retrying
/// briefly should the old process's sockets still be closing; panics with the
/// last error when it does not come up.
pub(crate) fn relaunch(what: &str, port: u16, mut launch: impl FnMut() -> io::Result<()>) {
    let mut last_error = None;
    for _ in 0..10 {
        match launch() {
            Ok(()) => return,
            Err(e) => last_error = Some(e),
        }
        thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "restarting {what} on port {port}: {}",
        last_error.map_or_else(String::new, |e| e.to_string())
    );
}

/// Send `signal` (a name for `kill -s`), wait for the exit; `SIGKILL` after
/// [`STOP_TIMEOUT`].
pub(crate) fn shut_down(mut child: Child, signal: &str) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    // The server may run as another user, which only root can signal; and a
    // signal other than SIGKILL needs `kill`, as std has no other.
    let _ = Command::new("kill")
        .args(["-s", signal, &child.id().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !matches!(wait_for(&mut child, STOP_TIMEOUT), Ok(Some(_))) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Wait up to `timeout` for `child` to exit.
pub(crate) fn wait_for(child: &mut Child, timeout: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() > deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The last `max` bytes of a file, as text.
pub(crate) fn tail(path: &Path, max: u64) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(max)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// When this process runs as root: `nobody`'s uid and gid (initdb and postgres
/// refuse root).
fn unprivileged_user() -> io::Result<Option<(u32, u32)>> {
    let out = Command::new("id").arg("-u").output()?;
    if String::from_utf8_lossy(&out.stdout).trim() != "0" {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd")?;
    let nobody = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&"nobody") && fields.len() > 3)
        .and_then(|fields| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)));
    // 65534 is nobody/nogroup on Debian and most other systems.
    Ok(Some(nobody.unwrap_or((65_534, 65_534))))
}

/// Where the `PostgreSQL` programs are.
#[derive(Debug, Clone)]
struct Tools {
    initdb: PathBuf,
    postgres: PathBuf,
    psql: PathBuf,
}

impl Tools {
    /// `postgres` from `PATH` (its real directory preferred for the other
    /// programs, so they are of the same version) or the newest
    /// `/usr/lib/postgresql/*/bin`.
    fn find() -> io::Result<Self> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Some(postgres) = on_path("postgres") {
            if let Some(dir) = fs::canonicalize(&postgres)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
            {
                dirs.push(dir);
            }
            if let Some(dir) = postgres.parent() {
                dirs.push(dir.to_path_buf());
            }
        }
        let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let version = entry.file_name().to_str()?.parse().ok()?;
                Some((version, entry.path().join("bin")))
            })
            .collect();
        versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
        dirs.extend(versions.into_iter().map(|(_, dir)| dir));
        let find = |name: &str| {
            dirs.iter()
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
                .or_else(|| on_path(name))
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!(
                            "`{name}` is neither on PATH nor under /usr/lib/postgresql/*/bin \
                             (install PostgreSQL's server package)"
                        ),
                    )
                })
        };
        Ok(Self {
            postgres: find("postgres")?,
            initdb: find("initdb")?,
            psql: find("psql")?,
        })
    }
}

pub(crate) fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_stops_restarts_and_cleans_up() {
        let mut pg = PostgresServer::start();
        assert_eq!(pg.psql(DATABASE, "SELECT 40 + 2").unwrap().trim(), "42");
        let url = pg.fresh_database();
        let name = url.rsplit('/').next().unwrap().to_owned();
        pg.psql(&name, "CREATE TABLE t (x int); INSERT INTO t VALUES (7)")
            .unwrap();
        pg.stop();
        assert!(!pg.is_running());
        assert!(pg.psql(&name, "SELECT 1").is_err(), "stopped");
        pg.start_again();
        assert_eq!(pg.psql(&name, "SELECT x FROM t").unwrap().trim(), "7");
        let dir = pg.dir.path().to_path_buf();
        drop(pg);
        assert!(!dir.exists(), "directory removed");
    }
}

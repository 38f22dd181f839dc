//! Private Redis servers for tests: one node ([`RedisServer`]) or a Redis
//! Cluster of primaries ([`RedisCluster`]), each node a `redis-server` from
//! `PATH` on a free loopback port, without persistence, in its own temporary
//! directory, killed when dropped.
//!
//! Readiness is checked over raw RESP on a TCP socket (no Redis client crate):
//! a node is up when `INFO server` answers with the spawned process's id, so a
//! foreign server that happens to hold the port is never mistaken for ours. A
//! start that fails (typically the port was taken between [`free_port`] and the
//! bind) is retried on fresh ports; a start that keeps failing panics with the
//! server's log.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::free_port;

/// How many fresh ports a start tries before giving up.
const START_ATTEMPTS: usize = 5;
/// How long a node may take to answer after being spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new cluster may take to reach `cluster_state:ok` on every node.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);

/// One `redis-server` process and how to start it again.
#[derive(Debug)]
struct Node {
    port: u16,
    /// The cluster bus port (cluster nodes only).
    bus_port: Option<u16>,
    dir: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// Spawn on `port` and wait until it answers; `Err` carries the reason and
    /// the log when it exits or does not answer in time.
    fn start(dir: &Path, port: u16, bus_port: Option<u16>) -> Result<Self, String> {
        let mut node = Self {
            port,
            bus_port,
            dir: dir.to_owned(),
            child: None,
        };
        node.spawn()?;
        Ok(node)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.log_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(bus_port) = self.bus_port {
            cmd.args(["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"])
                .arg("--cluster-port")
                .arg(bus_port.to_string())
                .arg("--cluster-config-file")
                .arg(self.dir.join("nodes.conf"));
        }
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot run redis-server from PATH ({e}); install it (apt-get install redis-server)"
            )
        });
        let pid = child.id();
        self.child = Some(child);

        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!(
                    "redis-server on port {} exited with {status}; log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            let ours = format!("process_id:{pid}");
            if query(self.port, "INFO server").is_ok_and(|i| i.lines().any(|l| l.trim() == ours)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(format!(
                    "redis-server on port {} did not answer within {READY_TIMEOUT:?}; log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            sleep(POLL);
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Send one inline command over a fresh connection and return the reply's text
/// (a simple string, or a bulk string's contents). Errors, including `-ERR`
/// replies, come back as `Err`.
fn query(port: u16, command: &str) -> std::io::Result<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    (&stream).write_all(format!("{command}\r\n").as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end();
    let bad = |msg: String| std::io::Error::new(std::io::ErrorKind::InvalidData, msg);
    match line.split_at_checked(1) {
        Some(("+", text)) => Ok(text.to_owned()),
        Some(("$", len)) => {
            let len: usize = len.parse().map_err(|_| bad(format!("bad reply {line}")))?;
            let mut body = vec![0; len + 2];
            reader.read_exact(&mut body)?;
            body.truncate(len);
            String::from_utf8(body).map_err(|e| bad(e.to_string()))
        }
        _ => Err(bad(format!("unexpected reply {line:?}"))),
    }
}

/// Start one node on fresh ports until it comes up; panic with every log after
/// [`START_ATTEMPTS`] failures.
fn start_node(dir: &Path, cluster: bool) -> Node {
    let mut failures = Vec::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port();
        let bus_port = cluster.then(|| {
            loop {
                let bus = free_port();
                if bus != port {
                    break bus;
                }
            }
        });
        match Node::start(dir, port, bus_port) {
            Ok(node) => return node,
            Err(e) => failures.push(e),
        }
    }
    panic!(
        "redis-server failed to start {START_ATTEMPTS} times:\n{}",
        failures.join("\n---\n")
    );
}

/// A private single Redis server on a free loopback port.
#[derive(Debug)]
pub struct RedisServer {
    node: Node,
    _dir: TempDir,
}

impl RedisServer {
    /// Start `redis-server` (`--save "" --appendonly no`) and wait until it
    /// answers.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for redis-server");
        let node = start_node(dir.path(), false);
        Self { node, _dir: dir }
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.node.port)
    }

    pub fn port(&self) -> u16 {
        self.node.port
    }

    /// Kill the server (SIGKILL, like a crash) and wait for it to exit. Its
    /// data is gone: nothing is persisted.
    pub fn stop(&mut self) {
        self.node.kill();
    }

    /// Start the server again on the same port (stopping it first if it runs).
    pub fn restart(&mut self) {
        self.node.kill();
        if let Err(e) = self.node.spawn() {
            panic!("restarting redis-server: {e}");
        }
    }
}

/// A private Redis Cluster of primaries only, each on its own free port.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Node>,
    _dirs: Vec<TempDir>,
}

impl RedisCluster {
    /// Start `primaries` cluster-enabled nodes (at least 3, Redis's minimum),
    /// join them with `redis-cli --cluster create … --cluster-replicas 0`, and
    /// wait until every node reports `cluster_state:ok`.
    pub fn start(primaries: usize) -> Self {
        assert!(primaries >= 3, "a Redis Cluster needs at least 3 primaries");
        let mut dirs = Vec::new();
        let mut nodes = Vec::new();
        for _ in 0..primaries {
            let dir = tempfile::tempdir().expect("temp dir for redis-server");
            nodes.push(start_node(dir.path(), true));
            dirs.push(dir);
        }
        let cluster = Self { nodes, _dirs: dirs };
        cluster.create();
        cluster
    }

    fn create(&self) {
        let output = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-cli from PATH ({e}); install it (apt-get install redis-tools)"
                )
            });
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed ({}):\n{}{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.logs()
        );
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        while !self.nodes.iter().all(|n| {
            query(n.port, "CLUSTER INFO").is_ok_and(|info| info.contains("cluster_state:ok"))
        }) {
            assert!(
                Instant::now() < deadline,
                "the cluster did not reach cluster_state:ok within {CLUSTER_TIMEOUT:?}:\n{}",
                self.logs()
            );
            sleep(Duration::from_millis(50));
        }
    }

    fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("--- node {} ---\n{}", n.port, n.log()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,…` (every node as a seed).
    pub fn url(&self) -> String {
        let seeds: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", seeds.join(","))
    }

    /// The nodes' client ports, in start order.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }
}

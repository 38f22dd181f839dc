//! A local SMTP sink: the far end of `email.smtp_url`.
//!
//! Python's `aiosmtpd` (`tests/smtp/requirements.txt`) listens on a free
//! loopback port with its `Mailbox` handler, which writes every message it
//! accepts, whole (headers, body, and the `X-RcptTo` envelope header it adds), into a
//! Maildir the test reads. `aiosmtpd` lives in a virtualenv under
//! `target/smtp-venv/`, built by `resetgate_services::python::venv` (race-safe
//! across test processes; a missing `python3`, `venv` or `pip` is a failure
//! with the reason, never a skip). The server is killed when the sink is dropped.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::binary::{target_dir, workspace_root};

/// How long a test waits for a mail by default.
pub const MAIL_TIMEOUT: Duration = Duration::from_secs(20);
const START_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: u32 = 3;

/// One received message, as the sink stored it.
#[derive(Clone, Debug)]
pub struct Mail {
    /// The whole message: headers (with aiosmtpd's `X-MailFrom`/`X-RcptTo`) and body.
    pub raw: String,
}

impl Mail {
    /// The first header `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\n\n").next().unwrap_or_default();
        let mut value: Option<String> = None;
        for line in head.lines() {
            if let Some(v) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push(' ');
                    v.push_str(line.trim());
                    continue;
                }
                break;
            }
            if let Some((key, rest)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim().to_owned());
            }
        }
        value
    }

    /// The body (plain text; lettre sends short ASCII/UTF-8 lines as 7bit or
    /// quoted-printable, which is decoded here).
    pub fn body(&self) -> String {
        let normalized = self.raw.replace("\r\n", "\n");
        let body = normalized
            .split_once("\n\n")
            .map_or("", |(_, body)| body)
            .to_owned();
        let qp = self
            .header("Content-Transfer-Encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"));
        if qp { decode_qp(&body) } else { body }
    }

    /// The one-time code of a reset code mail: the first body line that is
    /// six digits and nothing else.
    pub fn code(&self) -> Option<String> {
        self.body()
            .lines()
            .map(str::trim)
            .find(|line| line.len() == 6 && line.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_owned)
    }
}

fn decode_qp(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if let Some(hex) = text.get(i + 1..i + 3)
                && let Ok(b) = u8::from_str_radix(hex, 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The running sink; the server stops when dropped.
pub struct SmtpSink {
    port: u16,
    dir: TempDir,
    child: Child,
}

impl SmtpSink {
    /// Builds the venv if needed, starts `aiosmtpd` on a free port and waits
    /// until it greets.
    pub fn start() -> Self {
        let python = venv_python();
        let dir = tempfile::Builder::new()
            .prefix("resetgate-smtp-")
            .tempdir()
            .expect("a temporary directory");
        let maildir = dir.path().join("maildir");
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            // Bind, read the port, let go: another process could take it in
            // between, hence the attempts.
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let log = std::fs::File::create(dir.path().join("aiosmtpd.log")).unwrap();
            let mut child = Command::new(&python)
                .args(["-m", "aiosmtpd", "-n", "-l"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(&maildir)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting aiosmtpd ({}): {e}", python.display()));
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last = format!(
                        "aiosmtpd exited ({status}):\n{}",
                        std::fs::read_to_string(dir.path().join("aiosmtpd.log"))
                            .unwrap_or_default()
                    );
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self { port, dir, child };
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last = format!("aiosmtpd did not listen on {port} within {START_TIMEOUT:?}");
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("the SMTP sink did not start: {last}");
    }

    /// `email.smtp_url` for the gateway: plain SMTP on loopback.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Where the messages are stored.
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Every message received so far, in file-name order (Maildir names start
    /// with the delivery time).
    pub fn received(&self) -> Vec<Mail> {
        let new = self.maildir().join("new");
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&new)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        paths.sort();
        paths
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .map(|bytes| Mail {
                raw: String::from_utf8_lossy(&bytes).replace("\r\n", "\n"),
            })
            .collect()
    }

    /// Waits (polling) for a message to `to` whose subject contains `subject`.
    pub async fn wait_for(&self, to: &str, subject: &str, timeout: Duration) -> Mail {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.received().into_iter().find(|m| {
                m.header("To").is_some_and(|t| t.contains(to))
                    && m.header("Subject").is_some_and(|s| s.contains(subject))
            });
            if let Some(mail) = found {
                return mail;
            }
            assert!(
                Instant::now() < deadline,
                "no mail to {to} with subject {subject:?} within {timeout:?}; received: {:#?}",
                self.received()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The venv's interpreter, building the venv first if needed.
fn venv_python() -> PathBuf {
    resetgate_services::python::venv(
        &workspace_root().join("tests/smtp/requirements.txt"),
        &target_dir(),
        "smtp-venv",
    )
}

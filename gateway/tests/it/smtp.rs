//! A minimal in-process SMTP sink for router tests: plain SMTP on a loopback
//! port, accepts every message and keeps it (headers and body, dot-unstuffed).
//! The end-to-end suite uses a real relay (`aiosmtpd`, `tests/src/smtp.rs`);
//! this one needs no Python and speaks just enough of RFC 5321 for `lettre`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;

/// One received message.
#[derive(Clone, Debug)]
pub struct Mail {
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The message as sent (headers, blank line, body), `\n` line ends.
    pub data: String,
}

impl Mail {
    /// The `Subject` header.
    pub fn subject(&self) -> String {
        self.data
            .lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_default()
            .to_owned()
    }

    /// The body (after the first blank line); soft line breaks of
    /// quoted-printable joined.
    pub fn body(&self) -> String {
        let body = self.data.split_once("\n\n").map_or("", |(_, b)| b);
        body.replace("=\n", "")
    }

    /// The first line of the body that is a 6-digit code.
    pub fn code(&self) -> Option<String> {
        self.body()
            .lines()
            .map(str::trim)
            .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_owned)
    }
}

/// The running sink; it stops with the test's runtime.
#[derive(Clone)]
pub struct SmtpSink {
    port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let kept = mails.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let _ = session(stream, &kept).await;
                });
            }
        });
        Self { port, mails }
    }

    /// `email.smtp_url`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first.
    pub fn received(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits (at most 10 s) until `count` messages have arrived; returns the newest.
    pub async fn wait_for(&self, count: usize) -> Mail {
        for _ in 0..500 {
            let mails = self.received();
            if mails.len() >= count {
                return mails[count - 1].clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "no mail #{count} within 10 s; received: {:#?}",
            self.received()
        );
    }
}

async fn session(stream: tokio::net::TcpStream, mails: &Mutex<Vec<Mail>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut to = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250 sink\r\n"
        } else if upper.starts_with("RCPT TO:") {
            let address = line["RCPT TO:".len()..]
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned();
            to.push(address);
            b"250 OK\r\n"
        } else if upper.starts_with("DATA") {
            write.write_all(b"354 go ahead\r\n").await?;
            let mut data = String::new();
            while let Some(line) = lines.next_line().await? {
                if line == "." {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                data.push('\n');
            }
            mails.lock().unwrap().push(Mail {
                to: std::mem::take(&mut to),
                data,
            });
            b"250 OK queued\r\n"
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            // MAIL FROM, RSET, NOOP.
            b"250 OK\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

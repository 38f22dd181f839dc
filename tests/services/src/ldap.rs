//! A private `OpenLDAP` directory for tests: `slapd` on a free loopback port,
//! its configuration (`cn=config`, built with `slapadd -n0`) and its `mdb`
//! database in a fresh temporary directory (nothing is cached between runs),
//! seeded offline with `slapadd` before the first start.
//!
//! The directory, suffix [`BASE_DN`]:
//!
//! - `ou=people`: [`ALICE`] (mail and mobile), [`BOB`] (mail, no mobile) and
//!   [`CAROL`] (locked by an administrator: `pwdAccountLockedTime:
//!   000001010000Z`, so her binds fail), all `inetOrgPerson` with `{SSHA}`
//!   passwords ([`USERS`]);
//! - `ou=services`: the gateway's service account [`SERVICE_DN`];
//! - `ou=policies`: the default password policy [`POLICY_DN`] of the `ppolicy`
//!   overlay: [`PWD_MIN_LENGTH`], `pwdCheckQuality: 2` (a password the server
//!   cannot check, such as a pre-hashed one, is refused), [`PWD_IN_HISTORY`],
//!   `pwdLockout: TRUE` (so that `pwdAccountLockedTime` is honoured) without
//!   `pwdMaxFailure` (wrong passwords never lock anyone). Cleartext passwords
//!   written by LDAP operations are hashed (`olcPPolicyHashCleartext`).
//!
//! Access: a user may bind, read their own entry and change their own
//! `userPassword`; the service account may read every entry (`uid`, `mail`,
//! `mobile`, `cn`, `pwdAccountLockedTime`, `pwdChangedTime`, the policy's
//! `pwdMinLength`, ...) except password hashes and `pwdHistory`, and may
//! replace any `userPassword` without reading it (`=w`): the Password Modify
//! extended operation (RFC 3062) on a user's behalf, which `ppolicy` checks
//! (`Constraint violation (19)` with a reason). Anonymous clients may only
//! bind, and read the root DSE and the schema. The root DN [`ADMIN_DN`]
//! bypasses access control and the policy checks (`ppolicy` exempts it): the
//! way [`LdapServer::add_ldif`] and [`LdapServer::modify_ldif`] set entries up.
//! Unauthenticated binds (a DN with an empty password) are refused, as slapd
//! does by default.
//!
//! - [`LdapServer::start`] retries on a fresh port when the port it picked was
//!   taken in the meantime; [`LdapServer::url`] is `ldap://127.0.0.1:PORT`.
//! - [`LdapServer::start_tls`] also generates a throwaway CA and a server
//!   certificate for `127.0.0.1` and `localhost` (the `openssl` command), so
//!   the same URL offers `StartTLS`, and listens on [`LdapServer::ldaps_url`]
//!   too; clients trust [`LdapServer::ca_cert_path`]. Plain binds stay allowed.
//! - [`LdapServer::stop`] and [`LdapServer::start_again`] keep the ports and
//!   the data: for tests of what clients do while the directory is away.
//! - [`LdapServer::whoami`], [`LdapServer::password_modify`],
//!   [`LdapServer::search`]: the `ldap-utils` clients, for checking from the
//!   outside what a test did.
//!
//! The programs are found on `PATH`, else in `/usr/sbin` (`slapd`, `slapadd`,
//! `slappasswd`: Debian's `slapd` package) and `/usr/bin` (`ldap-utils`); the
//! modules (`back_mdb`, `ppolicy`) in `/usr/lib/ldap` (Debian) or the other
//! usual places, the schema in `/etc/ldap/schema` or `/etc/openldap/schema`.
//! `OpenLDAP` 2.5 and later build the `ppolicy` schema into the overlay; for
//! 2.4 its `ppolicy.ldif` is loaded (untested). `slapd` does not refuse root,
//! so it runs as the tests' own user.
//!
//! Cleaning up: dropping the server stops it and removes the directory; a
//! server that is never dropped (kept in a `static`, or a killed test process)
//! is stopped by a watchdog shell waiting for the test process to go away, as
//! for [`crate::postgres::PostgresServer`]. Server and watchdog run in their
//! own process groups.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::postgres::{on_path, relaunch, shut_down, tail, wait_for};

/// The suffix of the directory.
pub const BASE_DN: &str = "dc=example,dc=test";
/// Where the users are.
pub const PEOPLE_DN: &str = "ou=people,dc=example,dc=test";
/// The root DN (no access control, no policy checks).
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=test";
/// [`ADMIN_DN`]'s password.
pub const ADMIN_PASSWORD: &str = "Admin-Quarry-Lichen-63";
/// The gateway's service account.
pub const SERVICE_DN: &str = "cn=resetgate,ou=services,dc=example,dc=test";
/// [`SERVICE_DN`]'s password.
pub const SERVICE_PASSWORD: &str = "Service-Beacon-Thistle-27";
/// The default password policy (`olcPPolicyDefault`).
pub const POLICY_DN: &str = "cn=default,ou=policies,dc=example,dc=test";
/// The policy's `pwdMinLength`.
pub const PWD_MIN_LENGTH: usize = 12;
/// The policy's `pwdInHistory`.
pub const PWD_IN_HISTORY: usize = 3;

/// A user the directory starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    pub uid: &'static str,
    pub cn: &'static str,
    pub password: &'static str,
    pub mail: &'static str,
    pub mobile: Option<&'static str>,
    /// Locked by an administrator (`pwdAccountLockedTime: 000001010000Z`).
    pub locked: bool,
}

impl User {
    /// `uid=...,ou=people,dc=example,dc=test`.
    pub fn dn(&self) -> String {
        user_dn(self.uid)
    }
}

/// The DN of the user `uid` (which must not need escaping).
pub fn user_dn(uid: &str) -> String {
    format!("uid={uid},{PEOPLE_DN}")
}

pub const ALICE: User = User {
    uid: "alice",
    cn: "Alice Example",
    password: "Orchard-Lantern-Velvet-42",
    mail: "alice@example.test",
    mobile: Some("+15550100001"),
    locked: false,
};

pub const BOB: User = User {
    uid: "bob",
    cn: "Bob Example",
    password: "Granite-Meadow-Falcon-58",
    mail: "bob@example.test",
    mobile: None,
    locked: false,
};

pub const CAROL: User = User {
    uid: "carol",
    cn: "Carol Example",
    password: "Copper-Harbor-Willow-73",
    mail: "carol@example.test",
    mobile: Some("+15550100003"),
    locked: true,
};

/// Everyone in `ou=people` at the start.
pub const USERS: [User; 3] = [ALICE, BOB, CAROL];

/// Ports tried by [`LdapServer::start`] before giving up.
const PORT_ATTEMPTS: usize = 5;
/// How long a starting server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client command may wait for the network (`nettimeout`).
const CLIENT_TIMEOUT_SECS: u32 = 10;
/// How long the readiness probe waits for an answer: whatever holds the port
/// may take connections and never answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Stops the server and removes its directory once the test process is gone
/// (end of file on standard input). `$1` is the directory. The pid file is
/// only believed when it names a live `slapd` process. Once the test process
/// is gone, nobody may reap `slapd`, so an exited one (a zombie, state `Z`)
/// counts as gone.
const WATCHDOG: &str = r#"
cat >/dev/null
pidfile="$1/slapd.pid"
running() {
    kill -0 "$1" 2>/dev/null && [ "$(cut -d ' ' -f 3 "/proc/$1/stat" 2>/dev/null)" != Z ]
}
if [ -f "$pidfile" ]; then
    pid=$(head -n 1 "$pidfile")
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = slapd ]; then
        kill -TERM "$pid" 2>/dev/null
        i=0
        while running "$pid" && [ "$i" -lt 100 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -KILL "$pid" 2>/dev/null
    fi
fi
rm -rf "$1"
"#;

/// A running (or deliberately stopped) private `slapd`.
#[derive(Debug)]
pub struct LdapServer {
    tools: Tools,
    /// Owns the configuration, the database, the certificates and the log.
    dir: TempDir,
    port: u16,
    /// The `ldaps://` port, with TLS.
    tls_port: Option<u16>,
    /// The `slapd` process while it runs.
    server: Option<Child>,
    /// The watchdog (see the module documentation); its stdin is our end.
    watchdog: Option<Child>,
}

impl LdapServer {
    /// Start a seeded directory on `ldap://` (no TLS), or panic saying why.
    pub fn start() -> Self {
        Self::try_start(false).unwrap_or_else(|e| panic!("starting a private OpenLDAP: {e}"))
    }

    /// Start a seeded directory offering `StartTLS` on [`Self::url`] and TLS on
    /// [`Self::ldaps_url`], with a certificate from a throwaway CA
    /// ([`Self::ca_cert_path`]), or panic saying why.
    pub fn start_tls() -> Self {
        Self::try_start(true)
            .unwrap_or_else(|e| panic!("starting a private OpenLDAP with TLS: {e}"))
    }

    /// Start a seeded directory, with TLS when `tls`.
    pub fn try_start(tls: bool) -> io::Result<Self> {
        let mut server = Self::prepare(tls)?;
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            server.port = crate::free_port();
            server.tls_port = tls.then(crate::free_port);
            match server.launch() {
                Ok(()) => {
                    last_error = None;
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        match last_error {
            Some(e) => Err(e),
            None => Ok(server),
        }
    }

    /// A configured and seeded directory, not running yet.
    fn prepare(tls: bool) -> io::Result<Self> {
        let tools = Tools::find()?;
        let dir = tempfile::Builder::new()
            .prefix("resetgate-ldap-")
            .tempdir()?;
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
        let server = Self {
            tools,
            dir,
            port: 0,
            tls_port: None,
            server: None,
            watchdog: Some(watchdog),
        };
        if tls {
            server.make_certificates()?;
        }
        server.configure(tls)?;
        server.seed()?;
        Ok(server)
    }

    /// The loopback port of [`Self::url`] (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `ldap://127.0.0.1:PORT` (`StartTLS` available after [`Self::start_tls`]).
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// `ldaps://127.0.0.1:PORT`, after [`Self::start_tls`].
    pub fn ldaps_url(&self) -> Option<String> {
        self.tls_port
            .map(|port| format!("ldaps://127.0.0.1:{port}"))
    }

    /// The PEM certificate of the CA that issued the server's certificate
    /// (subject alternative names `127.0.0.1` and `localhost`), after
    /// [`Self::start_tls`].
    pub fn ca_cert_path(&self) -> Option<PathBuf> {
        self.tls_port.map(|_| self.tls_dir().join("ca.crt"))
    }

    /// [`BASE_DN`].
    pub fn base_dn(&self) -> &'static str {
        BASE_DN
    }

    /// [`SERVICE_DN`].
    pub fn service_dn(&self) -> &'static str {
        SERVICE_DN
    }

    /// [`SERVICE_PASSWORD`].
    pub fn service_password(&self) -> &'static str {
        SERVICE_PASSWORD
    }

    /// [`ADMIN_DN`].
    pub fn admin_dn(&self) -> &'static str {
        ADMIN_DN
    }

    /// [`ADMIN_PASSWORD`].
    pub fn admin_password(&self) -> &'static str {
        ADMIN_PASSWORD
    }

    /// Whether a simple bind as `dn` with `password` succeeds (`ldapwhoami`).
    /// False for a wrong password, a locked account, an empty password
    /// (unauthenticated binds are refused) and a server that is down.
    pub fn whoami(&self, dn: &str, password: &str) -> bool {
        self.ldap_tool("ldapwhoami", &self.url(), false)
            .args(["-D", dn, "-w", password])
            .output()
            .is_ok_and(|out| out.status.success())
    }

    /// The Password Modify extended operation (RFC 3062, `ldappasswd`): bound
    /// as `bind_dn`, set `user_dn`'s password to `new_password`. `Err` carries
    /// the server's answer, e.g. `Constraint violation (19)` and `Password
    /// fails quality checking policy`.
    pub fn password_modify(
        &self,
        bind_dn: &str,
        bind_password: &str,
        user_dn: &str,
        new_password: &str,
    ) -> io::Result<()> {
        let out = self
            .ldap_tool("ldappasswd", &self.url(), false)
            .args([
                "-D",
                bind_dn,
                "-w",
                bind_password,
                "-s",
                new_password,
                user_dn,
            ])
            .output()?;
        checked("ldappasswd", &out).map(drop)
    }

    /// Entries under `base` matching `filter` (subtree), as LDIF without line
    /// wrapping, read as the root DN; `attrs` as for `ldapsearch` (none: the
    /// user attributes; `+`: the operational ones).
    pub fn search(&self, base: &str, filter: &str, attrs: &[&str]) -> io::Result<String> {
        let out = self
            .ldap_tool("ldapsearch", &self.url(), false)
            .args(["-D", ADMIN_DN, "-w", ADMIN_PASSWORD])
            .args(["-LLL", "-o", "ldif_wrap=no", "-b", base, filter])
            .args(attrs)
            .output()?;
        checked("ldapsearch", &out)
    }

    /// Add the entries of `ldif` as the root DN (`ldapadd`). Cleartext
    /// `userPassword` values are stored hashed; the policy does not apply.
    pub fn add_ldif(&self, ldif: &str) -> io::Result<()> {
        self.as_admin("ldapadd", ldif)
    }

    /// Apply the change records of `ldif` (`changetype: modify`, `delete`,
    /// ...) as the root DN (`ldapmodify`), e.g. to lock an account or change
    /// the policy.
    pub fn modify_ldif(&self, ldif: &str) -> io::Result<()> {
        self.as_admin("ldapmodify", ldif)
    }

    /// Whether the server process is running.
    pub fn is_running(&self) -> bool {
        self.server.is_some()
    }

    /// Shut down (`SIGTERM`: connections are closed), waiting until the
    /// server is gone. Ports and data stay.
    pub fn stop(&mut self) {
        if let Some(child) = self.server.take() {
            shut_down(child, "TERM");
        }
    }

    /// Start the stopped server again, on the same ports and data.
    pub fn start_again(&mut self) {
        assert!(self.server.is_none(), "the server is running");
        let port = self.port;
        relaunch("slapd", port, || self.launch());
    }

    /// [`Self::stop`], then [`Self::start_again`].
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// The server's log so far (`slapadd`'s and `slapd`'s output; `slapd`
    /// logs every operation and its result).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn config_dir(&self) -> PathBuf {
        self.dir.path().join("slapd.d")
    }

    fn db_dir(&self) -> PathBuf {
        self.dir.path().join("db")
    }

    fn tls_dir(&self) -> PathBuf {
        self.dir.path().join("tls")
    }

    fn pid_path(&self) -> PathBuf {
        self.dir.path().join("slapd.pid")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("slapd.log")
    }

    /// A command for a server-side program, its output appended to the log.
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
        Ok(cmd)
    }

    /// A command for an `ldap-utils` client, simple bind to `url`, bounded
    /// waits; with TLS set up, the CA is trusted, and `start_tls` requires
    /// `StartTLS` (`-ZZ`). Configuration that could redirect it (`LDAPURI`,
    /// `LDAPBINDDN`, ...) is not inherited.
    fn ldap_tool(&self, name: &str, url: &str, start_tls: bool) -> Command {
        let mut cmd = Command::new(self.tools.client(name));
        cmd.env("LC_ALL", "C")
            .env_remove("LDAPRC")
            .env_remove("LDAPCONF")
            .env_remove("LDAPURI")
            .env_remove("LDAPBASE")
            .env_remove("LDAPBINDDN")
            .env_remove("LDAPSASL_MECH")
            .env_remove("LDAPSASL_AUTHCID")
            .env("LDAPTLS_REQCERT", "demand")
            .stdin(Stdio::null())
            .args(["-x", "-H", url])
            .args(["-o", &format!("nettimeout={CLIENT_TIMEOUT_SECS}")]);
        if let Some(ca) = self.ca_cert_path() {
            cmd.env("LDAPTLS_CACERT", ca);
        } else {
            cmd.env_remove("LDAPTLS_CACERT");
        }
        if start_tls {
            cmd.arg("-ZZ");
        }
        cmd
    }

    fn as_admin(&self, program: &str, ldif: &str) -> io::Result<()> {
        let mut child = self
            .ldap_tool(program, &self.url(), false)
            .args(["-D", ADMIN_DN, "-w", ADMIN_PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let written = child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(ldif.as_bytes());
        let out = child.wait_with_output()?;
        // The client's own complaint first: it may have stopped reading.
        checked(program, &out)?;
        written
    }

    /// A throwaway CA and a server certificate it issued, for `127.0.0.1`
    /// and `localhost` (P-256 keys: instant to make). The server certificate
    /// is a proper end-entity one (`CA:FALSE`, `serverAuth`), which strict
    /// clients such as rustls require.
    fn make_certificates(&self) -> io::Result<()> {
        let tls = self.tls_dir();
        fs::create_dir(&tls)?;
        fs::write(
            tls.join("server.ext"),
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature\n\
             extendedKeyUsage = serverAuth\n\
             subjectAltName = IP:127.0.0.1, DNS:localhost\n",
        )?;
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        self.openssl(&tls, |cmd| {
            cmd.args(["req", "-x509"])
                .args(ec)
                .args(["-keyout", "ca.key", "-out", "ca.crt", "-days", "7"])
                .args(["-subj", "/CN=resetgate test CA"])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
        })?;
        self.openssl(&tls, |cmd| {
            cmd.args(["req", "-new"])
                .args(ec)
                .args(["-keyout", "server.key", "-out", "server.csr"])
                .args(["-subj", "/CN=127.0.0.1"]);
        })?;
        self.openssl(&tls, |cmd| {
            cmd.args(["x509", "-req", "-in", "server.csr"])
                .args(["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"])
                .args(["-days", "7", "-extfile", "server.ext"])
                .args(["-out", "server.crt"]);
        })?;
        Ok(())
    }

    fn openssl(&self, dir: &Path, args: impl FnOnce(&mut Command)) -> io::Result<()> {
        let mut cmd = Command::new(&self.tools.openssl);
        cmd.current_dir(dir).stdin(Stdio::null());
        args(&mut cmd);
        let out = cmd.output()?;
        checked("openssl", &out).map(drop)
    }

    /// `cn=config` from a generated LDIF, with `slapadd -n0`.
    fn configure(&self, tls: bool) -> io::Result<()> {
        fs::create_dir(self.config_dir())?;
        fs::create_dir(self.db_dir())?;
        let admin_hash = self.hash(ADMIN_PASSWORD)?;
        let ldif = config_ldif(&ConfigParams {
            dir: self.dir.path(),
            db_dir: &self.db_dir(),
            tls_dir: tls.then(|| self.tls_dir()).as_deref(),
            module_dir: &self.tools.module_dir,
            schema_dir: &self.tools.schema_dir,
            ppolicy_schema: self.tools.needs_ppolicy_schema,
            admin_hash: &admin_hash,
        });
        let path = self.dir.path().join("config.ldif");
        fs::write(&path, ldif)?;
        self.slapadd(&["-n0"], &path)
    }

    /// The seed entries, with `slapadd -n1` (offline, before the first start).
    fn seed(&self) -> io::Result<()> {
        let mut ldif = format!(
            "dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\n\
             dc: example\no: Example\ndescription: {}\n\n",
            self.instance_id()
        );
        for ou in ["people", "services", "policies"] {
            let _ = write!(
                ldif,
                "dn: ou={ou},{BASE_DN}\nobjectClass: organizationalUnit\nou: {ou}\n\n"
            );
        }
        let _ = write!(
            ldif,
            "dn: {POLICY_DN}\nobjectClass: organizationalRole\nobjectClass: pwdPolicy\n\
             cn: default\npwdAttribute: userPassword\npwdMinLength: {PWD_MIN_LENGTH}\n\
             pwdCheckQuality: 2\npwdInHistory: {PWD_IN_HISTORY}\npwdLockout: TRUE\n\n"
        );
        let _ = write!(
            ldif,
            "dn: {SERVICE_DN}\nobjectClass: applicationProcess\n\
             objectClass: simpleSecurityObject\ncn: resetgate\nuserPassword: {}\n\n",
            self.hash(SERVICE_PASSWORD)?
        );
        for user in USERS {
            let sn = user.cn.rsplit(' ').next().unwrap_or(user.cn);
            let _ = write!(
                ldif,
                "dn: {}\nobjectClass: inetOrgPerson\nuid: {}\ncn: {}\nsn: {sn}\nmail: {}\n\
                 userPassword: {}\n",
                user.dn(),
                user.uid,
                user.cn,
                user.mail,
                self.hash(user.password)?
            );
            if let Some(mobile) = user.mobile {
                let _ = writeln!(ldif, "mobile: {mobile}");
            }
            if user.locked {
                ldif.push_str("pwdAccountLockedTime: 000001010000Z\n");
            }
            ldif.push('\n');
        }
        let path = self.dir.path().join("seed.ldif");
        fs::write(&path, ldif)?;
        self.slapadd(&["-n1", "-q"], &path)
    }

    fn slapadd(&self, args: &[&str], ldif: &Path) -> io::Result<()> {
        let status = self
            .server_command(&self.tools.slapadd)?
            .arg("-F")
            .arg(self.config_dir())
            .args(args)
            .arg("-l")
            .arg(ldif)
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(self.failure(&format!(
                "slapadd {} {}: {status}",
                args.join(" "),
                ldif.display()
            )))
        }
    }

    /// `{SSHA}` of `password` (`slappasswd`).
    fn hash(&self, password: &str) -> io::Result<String> {
        let out = Command::new(&self.tools.slappasswd)
            .args(["-h", "{SSHA}", "-s", password])
            .stdin(Stdio::null())
            .output()?;
        let hash = checked("slappasswd", &out)?.trim().to_owned();
        if hash.starts_with("{SSHA}") {
            Ok(hash)
        } else {
            Err(io::Error::other(format!("slappasswd printed {hash:?}")))
        }
    }

    /// Start `slapd` on `self.port` (and `self.tls_port`) and wait until it
    /// accepts connections.
    fn launch(&mut self) -> io::Result<()> {
        let _ = fs::remove_file(self.pid_path());
        let mut urls = format!("ldap://127.0.0.1:{}/", self.port);
        if let Some(port) = self.tls_port {
            let _ = write!(urls, " ldaps://127.0.0.1:{port}/");
        }
        let mut child = self
            .server_command(&self.tools.slapd)?
            .arg("-F")
            .arg(self.config_dir())
            .args(["-h", &urls])
            // In the foreground, operations and results to the log, nothing
            // to syslog.
            .args(["-d", "stats", "-s", "0"])
            .spawn()?;
        match self.wait_ready(&mut child) {
            Ok(()) => {
                self.server = Some(child);
                Ok(())
            }
            Err(e) => {
                shut_down(child, "KILL");
                Err(e)
            }
        }
    }

    /// Ready: the process runs, has written its pid file (after binding its
    /// listeners, so a port held by another process makes it exit instead),
    /// and its ports take TCP connections.
    fn wait_ready(&self, child: &mut Child) -> io::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let ports: Vec<u16> = [Some(self.port), self.tls_port]
            .into_iter()
            .flatten()
            .collect();
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(self.failure(&format!("slapd exited: {status}")));
            }
            let ours = fs::read_to_string(self.pid_path())
                .is_ok_and(|text| text.trim() == child.id().to_string());
            if ours
                && ports.iter().all(|&port| {
                    TcpStream::connect_timeout(
                        &([127, 0, 0, 1], port).into(),
                        Duration::from_secs(1),
                    )
                    .is_ok()
                })
                && self.answers_as_itself()
                && child.try_wait()?.is_none()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.failure("slapd did not become ready"));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// What sets this instance apart from every other one running: its
    /// directory, written into the base entry's `description` when seeded.
    fn instance_id(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// Whether every URL is answered by this instance. A port that takes TCP
    /// connections is not enough: `slapd` binds its listeners (with
    /// `SO_REUSEADDR`) before it listens on them, so another process that
    /// bound the same port in between may be the one listening, and this
    /// `slapd` then stops ("listener initialization failed"). Reading the
    /// base entry's [`Self::instance_id`] proves the answer came from here.
    fn answers_as_itself(&self) -> bool {
        let id = self.instance_id();
        [Some(self.url()), self.ldaps_url()]
            .into_iter()
            .flatten()
            .all(|url| {
                let mut cmd = self.ldap_tool("ldapsearch", &url, false);
                cmd.args(["-D", ADMIN_DN, "-w", ADMIN_PASSWORD])
                    .args(["-LLL", "-o", "ldif_wrap=no", "-s", "base", "-b", BASE_DN])
                    .arg("description")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null());
                output_within(cmd, PROBE_TIMEOUT).is_some_and(|out| {
                    out.status.success()
                        && String::from_utf8_lossy(&out.stdout)
                            .lines()
                            .any(|line| line == format!("description: {id}"))
                })
            })
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

impl Drop for LdapServer {
    fn drop(&mut self) {
        // A failing test shows what the directory did (its directory goes
        // with the watchdog, below): whether it was up, and what it answered.
        if thread::panicking() {
            let running = self.server.as_mut().map(|child| match child.try_wait() {
                Ok(None) => "running".to_owned(),
                Ok(Some(status)) => format!("exited: {status}"),
                Err(e) => format!("unknown: {e}"),
            });
            eprintln!(
                "--- slapd on port {} ({}), the end of {} ---\n{}",
                self.port,
                running.as_deref().unwrap_or("stopped"),
                self.log_path().display(),
                tail(&self.log_path(), 4000)
            );
        }
        if let Some(child) = self.server.take() {
            shut_down(child, "TERM");
        }
        // No pid file left for the watchdog to act on, then let it finish
        // (it removes the directory) and reap it.
        let _ = fs::remove_file(self.pid_path());
        if let Some(mut watchdog) = self.watchdog.take() {
            drop(watchdog.stdin.take());
            let _ = wait_for(&mut watchdog, Duration::from_secs(5));
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// A client's standard output when it succeeded, else an error with its exit
/// status and what it printed.
fn checked(program: &str, out: &Output) -> io::Result<String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(io::Error::other(format!(
            "{program}: {}: {} {}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

struct ConfigParams<'a> {
    dir: &'a Path,
    db_dir: &'a Path,
    tls_dir: Option<&'a Path>,
    module_dir: &'a Path,
    schema_dir: &'a Path,
    ppolicy_schema: bool,
    admin_hash: &'a str,
}

/// The `cn=config` LDIF: global settings (pid file, TLS), the modules, the
/// schema, the frontend (root DSE and schema readable), the config database
/// (closed), and the `mdb` database with its ACLs and the `ppolicy` overlay.
fn config_ldif(p: &ConfigParams<'_>) -> String {
    let dir = p.dir.display();
    let mut ldif = format!(
        "dn: cn=config\nobjectClass: olcGlobal\ncn: config\n\
         olcPidFile: {dir}/slapd.pid\nolcArgsFile: {dir}/slapd.args\n"
    );
    if let Some(tls) = p.tls_dir {
        let tls = tls.display();
        let _ = write!(
            ldif,
            "olcTLSCACertificateFile: {tls}/ca.crt\n\
             olcTLSCertificateFile: {tls}/server.crt\n\
             olcTLSCertificateKeyFile: {tls}/server.key\n"
        );
    }
    let _ = write!(
        ldif,
        "\ndn: cn=module{{0}},cn=config\nobjectClass: olcModuleList\ncn: module{{0}}\n\
         olcModulePath: {}\nolcModuleLoad: {{0}}back_mdb\nolcModuleLoad: {{1}}ppolicy\n\n\
         dn: cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: schema\n\n",
        p.module_dir.display()
    );
    let mut schemas = vec!["core", "cosine", "inetorgperson"];
    if p.ppolicy_schema {
        schemas.push("ppolicy");
    }
    for schema in schemas {
        let _ = write!(
            ldif,
            "include: file://{}/{schema}.ldif\n\n",
            p.schema_dir.display()
        );
    }
    let service = format!("dn.exact=\"{SERVICE_DN}\"");
    let _ = write!(
        ldif,
        "dn: olcDatabase={{-1}}frontend,cn=config\nobjectClass: olcDatabaseConfig\n\
         objectClass: olcFrontendConfig\nolcDatabase: {{-1}}frontend\n\
         olcAccess: {{0}}to dn.base=\"\" by * read\n\
         olcAccess: {{1}}to dn.base=\"cn=Subschema\" by * read\n\n\
         dn: olcDatabase={{0}}config,cn=config\nobjectClass: olcDatabaseConfig\n\
         olcDatabase: {{0}}config\nolcAccess: {{0}}to * by * none\n\n\
         dn: olcDatabase={{1}}mdb,cn=config\nobjectClass: olcDatabaseConfig\n\
         objectClass: olcMdbConfig\nolcDatabase: {{1}}mdb\nolcSuffix: {BASE_DN}\n\
         olcRootDN: {ADMIN_DN}\nolcRootPW: {admin_hash}\nolcDbDirectory: {db}\n\
         olcDbMaxSize: 67108864\nolcDbNoSync: TRUE\n\
         olcDbIndex: objectClass eq\nolcDbIndex: uid eq\nolcDbIndex: mail eq\n\
         olcAccess: {{0}}to attrs=userPassword by self write by {service} =w \
         by anonymous auth by * none\n\
         olcAccess: {{1}}to attrs=pwdHistory by * none\n\
         olcAccess: {{2}}to dn.subtree=\"{BASE_DN}\" by {service} read by self read \
         by * none\n\n\
         dn: olcOverlay={{0}}ppolicy,olcDatabase={{1}}mdb,cn=config\n\
         objectClass: olcOverlayConfig\nobjectClass: olcPPolicyConfig\n\
         olcOverlay: {{0}}ppolicy\nolcPPolicyDefault: {POLICY_DN}\n\
         olcPPolicyHashCleartext: TRUE\nolcPPolicyUseLockout: TRUE\n",
        admin_hash = p.admin_hash,
        db = p.db_dir.display(),
    );
    ldif
}

/// Where the `OpenLDAP` programs, modules and schema are.
#[derive(Debug, Clone)]
struct Tools {
    slapd: PathBuf,
    slapadd: PathBuf,
    slappasswd: PathBuf,
    /// The directory of `ldapwhoami` (and the other `ldap-utils`).
    client_dir: PathBuf,
    openssl: PathBuf,
    module_dir: PathBuf,
    schema_dir: PathBuf,
    /// `OpenLDAP` before 2.5: the `ppolicy` schema is a file, not built in.
    needs_ppolicy_schema: bool,
}

impl Tools {
    fn find() -> io::Result<Self> {
        let find = |name: &str, dirs: &[&str], package: &str| {
            on_path(name)
                .or_else(|| {
                    dirs.iter()
                        .map(|dir| Path::new(dir).join(name))
                        .find(|p| p.is_file())
                })
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!(
                            "`{name}` is neither on PATH nor in {} (install Debian's `{package}`)",
                            dirs.join(", ")
                        ),
                    )
                })
        };
        let sbin = ["/usr/sbin", "/usr/local/sbin", "/usr/local/libexec"];
        let slapd = find("slapd", &sbin, "slapd")?;
        let slapadd = find("slapadd", &sbin, "slapd")?;
        let slappasswd = find("slappasswd", &sbin, "slapd")?;
        let ldapwhoami = find("ldapwhoami", &["/usr/bin", "/usr/local/bin"], "ldap-utils")?;
        let openssl = find("openssl", &["/usr/bin"], "openssl")?;
        let client_dir = ldapwhoami
            .parent()
            .map_or_else(PathBuf::new, Path::to_path_buf);
        let module_dir = [
            "/usr/lib/ldap",
            "/usr/lib64/openldap",
            "/usr/lib/openldap",
            "/usr/libexec/openldap",
            "/usr/local/libexec/openldap",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|dir| dir.join("ppolicy.la").is_file() || dir.join("ppolicy.so").is_file())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no OpenLDAP module directory with the ppolicy overlay \
                 (/usr/lib/ldap on Debian: install `slapd`)",
            )
        })?;
        let schema_dir = [
            "/etc/ldap/schema",
            "/etc/openldap/schema",
            "/usr/local/etc/openldap/schema",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|dir| dir.join("core.ldif").is_file())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no OpenLDAP schema directory with core.ldif (/etc/ldap/schema on Debian)",
            )
        })?;
        let version = Command::new(&slapd)
            .arg("-VV")
            .stdin(Stdio::null())
            .output()?;
        let version = String::from_utf8_lossy(&version.stderr).into_owned()
            + &String::from_utf8_lossy(&version.stdout);
        let needs_ppolicy_schema =
            version.contains("slapd 2.4.") && schema_dir.join("ppolicy.ldif").is_file();
        Ok(Self {
            slapd,
            slapadd,
            slappasswd,
            client_dir,
            openssl,
            module_dir,
            schema_dir,
            needs_ppolicy_schema,
        })
    }

    /// An `ldap-utils` program, from the directory `ldapwhoami` is in.
    fn client(&self, name: &str) -> PathBuf {
        self.client_dir.join(name)
    }
}

/// Run `cmd` and collect its output, or kill it and give `None` when it has
/// not finished within `limit` (or could not start).
fn output_within(mut cmd: Command, limit: Duration) -> Option<Output> {
    let mut child = cmd.spawn().ok()?;
    let deadline = Instant::now() + limit;
    while child.try_wait().ok()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_needs_this_instance_to_answer_not_just_an_open_port() {
        let running = LdapServer::start();
        assert!(running.answers_as_itself());
        // A second directory whose port is the running one's: the port takes
        // connections and a bind as the root DN succeeds, but the answer is
        // not this instance's, so it is not ready.
        let mut other = LdapServer::prepare(false).expect("prepare a second directory");
        other.port = running.port();
        assert!(other.whoami(ADMIN_DN, ADMIN_PASSWORD));
        assert!(!other.answers_as_itself());
    }

    fn service_passwd(ldap: &LdapServer, user: &User, new: &str) -> io::Result<()> {
        ldap.password_modify(SERVICE_DN, SERVICE_PASSWORD, &user.dn(), new)
    }

    #[test]
    fn binds_with_the_right_password_of_an_unlocked_account_only() {
        let ldap = LdapServer::start();
        assert!(ldap.url().starts_with("ldap://127.0.0.1:"));
        assert!(ldap.ca_cert_path().is_none() && ldap.ldaps_url().is_none());
        assert!(ldap.whoami(&ALICE.dn(), ALICE.password), "{}", ldap.log());
        assert!(ldap.whoami(&BOB.dn(), BOB.password));
        assert!(!ldap.whoami(&ALICE.dn(), BOB.password), "wrong password");
        assert!(!ldap.whoami(&ALICE.dn(), ""), "unauthenticated bind");
        assert!(!ldap.whoami(&CAROL.dn(), CAROL.password), "locked");
        assert!(
            !ldap.whoami(&user_dn("nobody"), ALICE.password),
            "no such user"
        );
        assert!(ldap.whoami(ldap.service_dn(), ldap.service_password()));
        assert!(ldap.whoami(ldap.admin_dn(), ldap.admin_password()));
        // Failed binds lock nobody out.
        for _ in 0..8 {
            assert!(!ldap.whoami(&BOB.dn(), "not-his-password"));
        }
        assert!(
            ldap.whoami(&BOB.dn(), BOB.password),
            "no lockout by failures"
        );
    }

    #[test]
    fn password_modify_as_the_service_account_under_the_policy() {
        let ldap = LdapServer::start();
        let new = "Saffron-Glacier-Meteor-81";
        service_passwd(&ldap, &ALICE, new).unwrap();
        assert!(ldap.whoami(&ALICE.dn(), new));
        assert!(!ldap.whoami(&ALICE.dn(), ALICE.password), "old one gone");
        let stored = ldap
            .search(&ALICE.dn(), "(objectClass=*)", &["userPassword"])
            .unwrap();
        assert!(
            stored.contains("userPassword:: "),
            "stored hashed: {stored}"
        );
        assert!(!stored.contains(new), "not in cleartext: {stored}");

        // The policy refuses a short password, and a recent one; the current
        // password keeps working.
        let short = service_passwd(&ldap, &ALICE, "short")
            .unwrap_err()
            .to_string();
        assert!(short.contains("Constraint violation (19)"), "{short}");
        assert!(short.contains("quality"), "{short}");
        let reused = service_passwd(&ldap, &ALICE, ALICE.password)
            .unwrap_err()
            .to_string();
        assert!(reused.contains("Constraint violation (19)"), "{reused}");
        assert!(reused.contains("history"), "{reused}");
        assert!(ldap.whoami(&ALICE.dn(), new));
        assert!(!ldap.whoami(&ALICE.dn(), "short"));

        // A user changes their own password (under the same policy), not
        // someone else's.
        let own = "Juniper-Comet-Pebble-19";
        ldap.password_modify(&ALICE.dn(), new, &ALICE.dn(), own)
            .unwrap();
        assert!(ldap.whoami(&ALICE.dn(), own));
        let tiny = ldap
            .password_modify(&ALICE.dn(), own, &ALICE.dn(), "tiny")
            .unwrap_err()
            .to_string();
        assert!(tiny.contains("Constraint violation (19)"), "{tiny}");
        let others = ldap
            .password_modify(
                &BOB.dn(),
                BOB.password,
                &ALICE.dn(),
                "Another-Long-Secret-1",
            )
            .unwrap_err()
            .to_string();
        assert!(others.contains("Insufficient access (50)"), "{others}");
        assert!(ldap.whoami(&ALICE.dn(), own));
    }

    #[test]
    fn the_service_account_reads_users_and_the_policy_anonymous_nothing() {
        let ldap = LdapServer::start();
        let entries = ldap_search_as(&ldap, SERVICE_DN, SERVICE_PASSWORD, "(uid=*)").unwrap();
        for user in USERS {
            assert!(
                entries.contains(&format!("mail: {}", user.mail)),
                "{entries}"
            );
        }
        assert!(entries.contains("mobile: +15550100001"), "{entries}");
        assert!(
            entries.contains("pwdAccountLockedTime: 000001010000Z"),
            "{entries}"
        );
        assert!(!entries.contains("userPassword"), "{entries}");
        let policy = ldap_search_as_base(&ldap, SERVICE_DN, SERVICE_PASSWORD, POLICY_DN).unwrap();
        assert!(policy.contains("pwdMinLength: 12"), "{policy}");
        // No password history either, once there is one.
        service_passwd(&ldap, &BOB, "Saffron-Glacier-Meteor-81").unwrap();
        let bob = ldap_search_as(&ldap, SERVICE_DN, SERVICE_PASSWORD, "(uid=bob)").unwrap();
        assert!(bob.contains("pwdChangedTime: "), "{bob}");
        assert!(!bob.contains("pwdHistory"), "{bob}");
        let history = ldap
            .search(&BOB.dn(), "(objectClass=*)", &["pwdHistory"])
            .unwrap();
        assert!(
            history.contains("pwdHistory: "),
            "the root DN sees it: {history}"
        );
        // A user reads their own entry only.
        let own = ldap_search_as_base(&ldap, &ALICE.dn(), ALICE.password, &ALICE.dn()).unwrap();
        assert!(own.contains("mail: alice@example.test"), "{own}");
        assert!(ldap_search_as_base(&ldap, &ALICE.dn(), ALICE.password, &BOB.dn()).is_err());
        assert!(
            ldap_search_as(&ldap, "", "", "(uid=*)").is_err(),
            "anonymous"
        );
    }

    #[test]
    fn more_entries_and_changes_as_the_root_dn() {
        let ldap = LdapServer::start();
        let dave = user_dn("dave");
        ldap.add_ldif(&format!(
            "dn: {dave}\nobjectClass: inetOrgPerson\nuid: dave\ncn: Dave Example\n\
             sn: Example\nuserPassword: short\n"
        ))
        .unwrap();
        assert!(
            ldap.whoami(&dave, "short"),
            "the root DN is not held to the policy"
        );
        let stored = ldap
            .search(&dave, "(objectClass=*)", &["userPassword"])
            .unwrap();
        assert!(!stored.contains("short"), "hashed: {stored}");
        ldap.modify_ldif(&format!(
            "dn: {dave}\nchangetype: modify\nadd: pwdAccountLockedTime\n\
             pwdAccountLockedTime: 000001010000Z\n"
        ))
        .unwrap();
        assert!(!ldap.whoami(&dave, "short"), "locked");
        let err = ldap.add_ldif(&format!(
            "dn: {dave}\nobjectClass: inetOrgPerson\nuid: dave\ncn: D\nsn: D\n"
        ));
        assert!(err.unwrap_err().to_string().contains("Already exists (68)"));
    }

    #[test]
    fn stop_and_start_again_keep_port_and_data() {
        let mut ldap = LdapServer::start();
        let new = "Saffron-Glacier-Meteor-81";
        service_passwd(&ldap, &ALICE, new).unwrap();
        let port = ldap.port();
        ldap.stop();
        assert!(!ldap.is_running());
        assert!(!ldap.whoami(&BOB.dn(), BOB.password), "stopped");
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
        assert!(service_passwd(&ldap, &BOB, new).is_err());
        ldap.start_again();
        assert!(ldap.is_running());
        assert_eq!(ldap.port(), port);
        assert!(
            ldap.whoami(&ALICE.dn(), new),
            "the changed password persisted"
        );
        assert!(!ldap.whoami(&ALICE.dn(), ALICE.password));
        assert!(ldap.whoami(&BOB.dn(), BOB.password));
        assert!(!ldap.whoami(&CAROL.dn(), CAROL.password), "still locked");
        // The history persisted too.
        assert!(service_passwd(&ldap, &ALICE, ALICE.password).is_err());
        ldap.restart();
        assert!(ldap.whoami(&ALICE.dn(), new));

        let dir = ldap.dir.path().to_path_buf();
        drop(ldap);
        assert!(!dir.exists(), "directory removed");
    }

    #[test]
    fn start_tls_and_ldaps_with_the_test_ca() {
        let mut ldap = LdapServer::start_tls();
        let ca = ldap.ca_cert_path().unwrap();
        assert!(ca.is_file());
        let ldaps = ldap.ldaps_url().unwrap();
        let bind = |ldap: &LdapServer, url: &str, start_tls: bool| {
            ldap.ldap_tool("ldapwhoami", url, start_tls)
                .args(["-D", &ALICE.dn(), "-w", ALICE.password])
                .output()
                .unwrap()
        };
        let out = bind(&ldap, &ldap.url(), true);
        assert!(out.status.success(), "StartTLS: {out:?}\n{}", ldap.log());
        let out = bind(&ldap, &ldaps, false);
        assert!(out.status.success(), "ldaps: {out:?}\n{}", ldap.log());
        // Plain binds stay allowed.
        assert!(ldap.whoami(&ALICE.dn(), ALICE.password));
        // Without the CA, the certificate is not trusted.
        let out = ldap
            .ldap_tool("ldapwhoami", &ldap.url(), true)
            .env("LDAPTLS_CACERT", "/dev/null")
            .args(["-D", &ALICE.dn(), "-w", ALICE.password])
            .output()
            .unwrap();
        assert!(!out.status.success(), "untrusted CA accepted: {out:?}");
        // The server's certificate is an end-entity one for 127.0.0.1, issued
        // by the CA.
        let server_crt = ldap.tls_dir().join("server.crt");
        let text = Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(&server_crt)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.contains("CA:FALSE"), "{text}");
        let verify = Command::new("openssl")
            .args(["verify", "-purpose", "sslserver", "-verify_ip", "127.0.0.1"])
            .arg("-CAfile")
            .arg(&ca)
            .arg(&server_crt)
            .output()
            .unwrap();
        assert!(verify.status.success(), "{verify:?}");

        ldap.restart();
        let out = bind(&ldap, &ldaps, false);
        assert!(out.status.success(), "ldaps after restart: {out:?}");
    }

    fn ldap_search_as(
        ldap: &LdapServer,
        dn: &str,
        password: &str,
        filter: &str,
    ) -> io::Result<String> {
        let mut cmd = ldap.ldap_tool("ldapsearch", &ldap.url(), false);
        if !dn.is_empty() {
            cmd.args(["-D", dn, "-w", password]);
        }
        let out = cmd
            .args(["-LLL", "-o", "ldif_wrap=no", "-b", PEOPLE_DN, filter])
            .args(["*", "pwdAccountLockedTime", "pwdHistory", "pwdChangedTime"])
            .output()?;
        let text = checked("ldapsearch", &out)?;
        if text.trim().is_empty() {
            Err(io::Error::other("no entries"))
        } else {
            Ok(text)
        }
    }

    fn ldap_search_as_base(
        ldap: &LdapServer,
        dn: &str,
        password: &str,
        base: &str,
    ) -> io::Result<String> {
        let out = ldap
            .ldap_tool("ldapsearch", &ldap.url(), false)
            .args(["-D", dn, "-w", password])
            .args(["-LLL", "-o", "ldif_wrap=no", "-s", "base", "-b", base])
            .output()?;
        checked("ldapsearch", &out)
    }
}

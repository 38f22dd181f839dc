//! Private instances of the real servers that tests need, each started on a
//! free loopback port in its own temporary directory and stopped when dropped:
//! Redis ([`redis::RedisServer`]), a Redis Cluster ([`redis::RedisCluster`]),
//! `PostgreSQL` ([`postgres::PostgresServer`]) and an `OpenLDAP` directory with
//! seeded users and a password policy ([`ldap::LdapServer`]); virtualenvs for
//! the Python tools that tests run as independent peers ([`python::venv`]);
//! the test policies both suites share ([`policy`]); and how a code is read
//! from an SMS message ([`sms`]).
//!
//! Nothing here depends on the gateway, so both the gateway's own tests and the
//! end-to-end tests of the built binary use it.

pub mod ldap;
pub mod policy;
pub mod postgres;
pub mod python;
pub mod redis;
pub mod sms;

use std::net::TcpListener;

/// A loopback port that was free a moment ago (bind port 0, read it, close).
/// Another process may take it before the server binds it; the servers retry
/// on a fresh port when their start fails.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

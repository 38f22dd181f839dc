//! Where a webhook may be sent: the SSRF guard.
//!
//! A webhook URL is chosen by an operator (config) or an admin (admin API), but
//! the gateway is the one that connects, from inside the network. Without a
//! guard an endpoint could point the gateway at the cloud metadata service
//! (`169.254.169.254`), an internal admin port, or Redis on loopback. So:
//!
//! - [`check_url`], when an endpoint is configured or created: `https` (or `http`,
//!   see below), a host, no `user:password@`, and, unless private targets are
//!   allowed, no host that is plainly not public (an IP literal in a
//!   non-public range, `localhost`, `*.localhost`).
//! - [`resolve_checked`], before **every** attempt: resolve the host once and
//!   refuse if *any* address is not public (unless allowed). A name that resolves
//!   to one public and one private address is refused: the connector could pick
//!   either.
//!
//! Plain `http` is accepted only with `webhook_delivery.allow_private_targets =
//! true`, and then only to private addresses: the signature protects the
//! integrity of an event but not its confidentiality (usernames, addresses,
//! reasons), so an event never crosses a public network unencrypted. A
//! hostname with `http` is therefore checked again at send time: every address
//! it resolves to must be non-public.
//!
//! # How the dispatcher must send
//!
//! The addresses [`resolve_checked`] returns are the *only* ones it may connect
//! to. Resolving again (letting the HTTP client look the name up) reopens DNS
//! rebinding: a name with a short TTL answers a public address to the check and
//! `127.0.0.1` to the connect. [`pinned_client`] builds such a client:
//!
//! - `reqwest::ClientBuilder::resolve_to_addrs(host, &addrs)` pins the name to
//!   the checked addresses (TLS still verifies the certificate against the
//!   host name, so `https` keeps its meaning);
//! - `redirect(Policy::none())`: a `3xx` is an answer (a failed attempt), never
//!   followed; a redirect would go to a URL nobody checked;
//! - `no_proxy()`: a proxy from `HTTP(S)_PROXY` would resolve the name itself
//!   and reach whatever the proxy can reach;
//! - a total timeout (`webhook_delivery.timeout`).
//!
//! A client is cheap to reuse while the resolved addresses stay the same; the
//! dispatcher may cache one per (endpoint, addresses) and must still call
//! [`resolve_checked`] for each attempt.
//!
//! # What counts as not public
//!
//! IPv4 (IANA special-purpose registry): `0.0.0.0/8` (incl. unspecified),
//! `10/8`, `100.64/10` (CGNAT), `127/8`, `169.254/16` (link-local, incl. cloud
//! metadata), `172.16/12`, `192.0.0/24` (IETF), `192.0.2/24`, `198.51.100/24`,
//! `203.0.113/24` (documentation), `192.168/16`, `198.18/15` (benchmarking),
//! `224/4` (multicast), `240/4` (reserved) and `255.255.255.255` (broadcast).
//!
//! IPv6: `::` and `::1`, `::/96` (IPv4-compatible, deprecated), `::ffff:0:0/96`
//! (IPv4-mapped) and `64:ff9b::/96` (NAT64) and `2002::/16` (6to4) judged by the
//! IPv4 address they carry, `64:ff9b:1::/48` (local NAT64), `100::/64`
//! (discard), `2001::/32` (Teredo), `2001:2::/48` (benchmarking), `2001:10::/28`
//! (ORCHID), `2001:db8::/32` and `3fff::/20` (documentation), `fc00::/7`
//! (unique local), `fe80::/10` (link-local), `fec0::/10` (site-local,
//! deprecated), `ff00::/8` (multicast).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use url::{Host, Url};

/// The config key that allows private targets, for messages.
const ALLOW_KEY: &str = "webhook_delivery.allow_private_targets";

/// Why a webhook URL may not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("scheme must be https (or http to a private target), got {0:?}")]
    Scheme(String),
    #[error("must not carry a user name or password (`user:pass@`)")]
    UserInfo,
    #[error("must name a host")]
    NoHost,
    #[error("has no port and its scheme has no default port")]
    NoPort,
    #[error(
        "plain http is only allowed to private targets (set {ALLOW_KEY} = true for an \
         on-premises receiver); use https: the signature protects an event's integrity, \
         not its confidentiality"
    )]
    PlainHttp,
    #[error(
        "plain http to {addr}, a public address: use https (the signature protects an \
         event's integrity, not its confidentiality)"
    )]
    PlainHttpToPublic { addr: IpAddr },
    #[error("{host} is {range}, not a public address (set {ALLOW_KEY} = true to allow it)")]
    NotPublic { host: String, range: &'static str },
    #[error(
        "{host} resolves to {addr}, {range}, not a public address (set {ALLOW_KEY} = true to allow it)"
    )]
    ResolvesNotPublic {
        host: String,
        addr: IpAddr,
        range: &'static str,
    },
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("{host} resolves to no address")]
    NoAddresses { host: String },
}

/// Config-time checks of a webhook URL (no DNS): scheme, no user info, a host,
/// and unless `allow_private`, no host that is plainly not public.
pub fn check_url(url: &Url, allow_private: bool) -> Result<(), TargetError> {
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        other => return Err(TargetError::Scheme(other.to_owned())),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::UserInfo);
    }
    let host = url.host().ok_or(TargetError::NoHost)?;
    if url.port_or_known_default().is_none() {
        return Err(TargetError::NoPort);
    }
    if !https && !allow_private {
        return Err(TargetError::PlainHttp);
    }
    match host {
        Host::Domain(name) => {
            if !allow_private && is_localhost_name(name) {
                return Err(TargetError::NotPublic {
                    host: name.to_owned(),
                    range: "loopback (localhost)",
                });
            }
        }
        Host::Ipv4(ip) => check_literal(IpAddr::V4(ip), https, allow_private)?,
        Host::Ipv6(ip) => check_literal(IpAddr::V6(ip), https, allow_private)?,
    }
    Ok(())
}

fn check_literal(ip: IpAddr, https: bool, allow_private: bool) -> Result<(), TargetError> {
    match not_public(ip) {
        Some(range) if !allow_private => Err(TargetError::NotPublic {
            host: ip.to_string(),
            range,
        }),
        None if !https => Err(TargetError::PlainHttpToPublic { addr: ip }),
        _ => Ok(()),
    }
}

/// `localhost`, `localhost.` and `*.localhost` (RFC 6761: always loopback).
fn is_localhost_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Send-time check: [`check_url`], then resolve the host once and refuse if any
/// address is not allowed. Returns the addresses (with the URL's port) that the
/// sender must connect to, and only to (see [`pinned_client`]).
pub async fn resolve_checked(
    url: &Url,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, TargetError> {
    check_url(url, allow_private)?;
    let port = url.port_or_known_default().ok_or(TargetError::NoPort)?;
    let addrs: Vec<SocketAddr> = match url.host().ok_or(TargetError::NoHost)? {
        Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Host::Domain(name) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|e| TargetError::Resolve {
                host: name.to_owned(),
                reason: e.to_string(),
            })?
            .collect(),
    };
    check_resolved(url, addrs, allow_private)
}

/// The part of [`resolve_checked`] after DNS: every address must be allowed;
/// duplicates are dropped, order kept.
fn check_resolved(
    url: &Url,
    addrs: Vec<SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, TargetError> {
    let host = url.host_str().unwrap_or_default();
    let https = url.scheme() == "https";
    if addrs.is_empty() {
        return Err(TargetError::NoAddresses {
            host: host.to_owned(),
        });
    }
    let mut checked: Vec<SocketAddr> = Vec::with_capacity(addrs.len());
    for addr in addrs {
        match not_public(addr.ip()) {
            Some(range) if !allow_private => {
                return Err(TargetError::ResolvesNotPublic {
                    host: host.to_owned(),
                    addr: addr.ip(),
                    range,
                });
            }
            None if !https => return Err(TargetError::PlainHttpToPublic { addr: addr.ip() }),
            _ => {}
        }
        if !checked.contains(&addr) {
            checked.push(addr);
        }
    }
    Ok(checked)
}

/// An HTTP client that connects to `url`'s host only at `addrs` (from
/// [`resolve_checked`]), follows no redirect, uses no proxy, and gives up after
/// `timeout`.
pub fn pinned_client(
    url: &Url,
    addrs: &[SocketAddr],
    timeout: Duration,
) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout);
    if let Some(Host::Domain(name)) = url.host() {
        builder = builder.resolve_to_addrs(name, addrs);
    }
    builder.build()
}

/// Which non-public range `ip` is in, or `None` for a public address.
pub fn not_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => not_public_v4(v4),
        IpAddr::V6(v6) => not_public_v6(v6),
    }
}

fn not_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let range = match (a, b, c) {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_broadcast() => "broadcast",
        (0, ..) => "\"this network\" (0.0.0.0/8)",
        (10, ..) | (172, 16..=31, _) | (192, 168, _) => "private",
        (100, 64..=127, _) => "shared address space (CGNAT, 100.64.0.0/10)",
        (127, ..) => "loopback",
        (169, 254, _) => "link-local (incl. cloud metadata)",
        (192, 0, 0) => "IETF protocol assignments (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (224..=239, ..) => "multicast",
        (240..=255, ..) => "reserved (240.0.0.0/4)",
        _ => return None,
    };
    Some(range)
}

fn not_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let range = match s {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        // ::ffff:a.b.c.d (IPv4-mapped): the IPv4 address is where it goes.
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => {
            return not_public_v4(embedded(hi, lo));
        }
        // ::a.b.c.d (IPv4-compatible): deprecated, never a public target.
        [0, 0, 0, 0, 0, 0, _, _] => "IPv4-compatible (deprecated, ::/96)",
        // 64:ff9b::a.b.c.d (NAT64 well-known prefix): judged by the IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => {
            return not_public_v4(embedded(hi, lo)).map(|_| "NAT64 of a non-public IPv4 address");
        }
        [0x64, 0xff9b, 1, ..] => "local-use NAT64 (64:ff9b:1::/48)",
        [0x100, 0, 0, 0, ..] => "discard-only (100::/64)",
        [0x2001, 0, ..] => "Teredo (2001::/32)",
        [0x2001, 2, 0, ..] => "benchmarking (2001:2::/48)",
        [0x2001, 0x10..=0x1f, ..] => "ORCHID (2001:10::/28)",
        [0x2001, 0xdb8, ..] | [0x3fff, 0..=0x0fff, ..] => "documentation",
        // 2002:AABB:CCDD::/48 (6to4): judged by the IPv4 address a.b.c.d.
        [0x2002, hi, lo, ..] => {
            return not_public_v4(embedded(hi, lo)).map(|_| "6to4 of a non-public IPv4 address");
        }
        [0xfc00..=0xfdff, ..] => "unique local (fc00::/7)",
        [0xfe80..=0xfebf, ..] => "link-local (fe80::/10)",
        [0xfec0..=0xfeff, ..] => "site-local (deprecated, fec0::/10)",
        [0xff00..=0xffff, ..] => "multicast",
        _ => return None,
    };
    Some(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn every_non_public_range_is_refused_in_v4_and_v6_forms() {
        for (addr, range) in [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "this network"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.254", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "CGNAT"),
            ("100.127.255.254", "CGNAT"),
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("169.254.169.254", "link-local"),
            ("169.254.0.1", "link-local"),
            ("192.0.0.8", "IETF"),
            ("192.0.2.10", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.200", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.254", "reserved"),
            ("255.255.255.255", "broadcast"),
        ] {
            let v4: Ipv4Addr = addr.parse().unwrap();
            let got = not_public(IpAddr::V4(v4)).unwrap_or_else(|| panic!("{addr} passed"));
            assert!(got.contains(range), "{addr}: {got}");
            // The same address in IPv6 clothing: mapped, compatible, NAT64, 6to4.
            let [a, b, c, d] = v4.octets();
            let hi = u16::from_be_bytes([a, b]);
            let lo = u16::from_be_bytes([c, d]);
            for v6 in [
                v4.to_ipv6_mapped(),
                Ipv6Addr::new(0, 0, 0, 0, 0, 0, hi, lo),
                Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo),
                Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1),
            ] {
                assert!(not_public(IpAddr::V6(v6)).is_some(), "{v6} ({addr}) passed");
            }
        }
        assert_eq!(not_public(ip("::ffff:127.0.0.1")), Some("loopback"));
    }

    #[test]
    fn ipv6_ranges_are_refused() {
        for (addr, range) in [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::8.8.8.8", "IPv4-compatible"),
            ("64:ff9b:1::1", "local-use NAT64"),
            ("100::1", "discard"),
            ("2001::1", "Teredo"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
            ("2001:2::1", "benchmarking"),
            ("2001:10::1", "ORCHID"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("fc00::1", "unique local"),
            ("fd12:3456:789a::1", "unique local"),
            ("fe80::1", "link-local"),
            ("febf:ffff::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("ff0e::fb", "multicast"),
        ] {
            let got = not_public(ip(addr)).unwrap_or_else(|| panic!("{addr} passed"));
            assert!(got.contains(range), "{addr}: {got}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for addr in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "169.253.1.1",
            "192.0.1.1",
            "192.167.1.1",
            "192.169.1.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:4860::8888",
            "2001:20::1",
        ] {
            assert_eq!(not_public(ip(addr)), None, "{addr}");
        }
    }

    #[test]
    fn check_url_shapes() {
        assert!(check_url(&url("https://soc.example.com/hook"), false).is_ok());
        assert!(check_url(&url("https://8.8.8.8:8443/hook"), false).is_ok());
        assert!(matches!(
            check_url(&url("ftp://soc.example.com/"), true),
            Err(TargetError::Scheme(s)) if s == "ftp"
        ));
        assert_eq!(
            check_url(&url("https://user:pw@soc.example.com/"), true),
            Err(TargetError::UserInfo)
        );
        assert_eq!(
            check_url(&url("https://user@soc.example.com/"), true),
            Err(TargetError::UserInfo)
        );
        assert_eq!(
            check_url(&url("unix:/run/soc.sock"), true),
            Err(TargetError::Scheme("unix".into()))
        );
    }

    #[test]
    fn check_url_refuses_private_literals_and_localhost_unless_allowed() {
        for text in [
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.1.2.3/",
            "https://[fd00::1]/",
            "https://localhost:9000/",
            "https://LOCALHOST./",
            "https://soc.localhost/",
            // WHATWG host parsing: these are 127.0.0.1 too.
            "https://2130706433/",
            "https://0x7f.1/",
        ] {
            let u = url(text);
            assert!(
                matches!(check_url(&u, false), Err(TargetError::NotPublic { .. })),
                "{text}: {:?}",
                check_url(&u, false)
            );
            assert_eq!(check_url(&u, true), Ok(()), "{text}");
        }
    }

    #[test]
    fn plain_http_only_to_private_targets() {
        // Refused without allow_private, whatever the host.
        for text in [
            "http://soc.example.com/",
            "http://10.0.0.5/",
            "http://localhost/",
        ] {
            assert_eq!(
                check_url(&url(text), false),
                Err(TargetError::PlainHttp),
                "{text}"
            );
        }
        // Allowed: to a private literal or a name (checked again after DNS).
        assert_eq!(check_url(&url("http://10.0.0.5:8088/hec"), true), Ok(()));
        assert_eq!(check_url(&url("http://siem.corp.internal/"), true), Ok(()));
        // Never to a public literal.
        assert_eq!(
            check_url(&url("http://8.8.8.8/"), true),
            Err(TargetError::PlainHttpToPublic {
                addr: ip("8.8.8.8")
            })
        );
        // After DNS: a name over http must resolve to private addresses only.
        let u = url("http://siem.corp.internal:8088/");
        let private = SocketAddr::new(ip("10.0.0.5"), 8088);
        let public = SocketAddr::new(ip("8.8.8.8"), 8088);
        assert_eq!(check_resolved(&u, vec![private], true), Ok(vec![private]));
        assert_eq!(
            check_resolved(&u, vec![private, public], true),
            Err(TargetError::PlainHttpToPublic {
                addr: ip("8.8.8.8")
            })
        );
    }

    #[test]
    fn any_non_public_resolved_address_refuses_the_name() {
        let u = url("https://soc.example.com/");
        let public = SocketAddr::new(ip("93.184.215.14"), 443);
        let metadata = SocketAddr::new(ip("169.254.169.254"), 443);
        let mapped = SocketAddr::new(ip("::ffff:10.0.0.1"), 443);
        assert_eq!(
            check_resolved(&u, vec![public, public], false),
            Ok(vec![public])
        );
        for bad in [metadata, mapped] {
            let err = check_resolved(&u, vec![public, bad], false).unwrap_err();
            assert!(
                matches!(&err, TargetError::ResolvesNotPublic { addr, .. } if *addr == bad.ip()),
                "{err}"
            );
            assert!(err.to_string().contains(ALLOW_KEY), "{err}");
        }
        assert_eq!(
            check_resolved(&u, vec![public, metadata], true),
            Ok(vec![public, metadata])
        );
        assert_eq!(
            check_resolved(&u, vec![], true),
            Err(TargetError::NoAddresses {
                host: "soc.example.com".into()
            })
        );
    }

    #[tokio::test]
    async fn localhost_resolves_to_loopback_and_is_refused_unless_allowed() {
        let u = url("https://localhost:9443/hook");
        let err = resolve_checked(&u, false).await.unwrap_err();
        assert!(matches!(err, TargetError::NotPublic { .. }), "{err}");
        let addrs = resolve_checked(&u, true).await.expect("localhost resolves");
        assert!(!addrs.is_empty());
        for addr in &addrs {
            assert!(addr.ip().is_loopback(), "{addr}");
            assert_eq!(addr.port(), 9443);
        }
        // The post-DNS check alone refuses what localhost resolves to.
        let err = check_resolved(&u, addrs, false).unwrap_err();
        assert!(
            matches!(
                err,
                TargetError::ResolvesNotPublic {
                    range: "loopback",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn literals_resolve_to_themselves_with_the_default_port() {
        assert_eq!(
            resolve_checked(&url("https://[::1]/"), true).await,
            Ok(vec![SocketAddr::new(ip("::1"), 443)])
        );
        assert_eq!(
            resolve_checked(&url("http://192.168.0.9/x"), true).await,
            Ok(vec![SocketAddr::new(ip("192.168.0.9"), 80)])
        );
        assert!(matches!(
            resolve_checked(&url("https://192.168.0.9/x"), false).await,
            Err(TargetError::NotPublic { .. })
        ));
    }

    #[tokio::test]
    async fn pinned_client_connects_to_the_checked_address_and_does_not_follow_redirects() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = socket.read(&mut buf).await.unwrap();
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            socket
                .write_all(
                    b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://169.254.169.254/\r\n\
                      Content-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await
                .unwrap();
            request
        });
        // A name nobody resolves: the client may only use the pinned address.
        let u = url(&format!("http://soc.invalid:{port}/hook"));
        let addrs = check_resolved(&u, vec![SocketAddr::new(ip("127.0.0.1"), port)], true).unwrap();
        let client = pinned_client(&u, &addrs, Duration::from_secs(5)).unwrap();
        let response = client.post(u.clone()).body("{}").send().await.unwrap();
        assert_eq!(response.status().as_u16(), 307);
        let request = server.await.unwrap();
        assert!(request.starts_with("POST /hook HTTP/1.1"), "{request}");
        assert!(
            request.to_ascii_lowercase().contains("host: soc.invalid"),
            "{request}"
        );
    }
}

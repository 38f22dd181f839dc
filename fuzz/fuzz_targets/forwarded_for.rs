//! The client address behind trusted proxies
//! (`resetgate::http::client_addr::resolve`) and its rate-limit key
//! (`bucket`), on an arbitrary peer, trusted CIDRs and `X-Forwarded-For`
//! header lines.
//!
//! The input is text, one item a line, so seeds and crashes read as what they
//! are (lines that are none of these are ignored):
//!
//! ```text
//! peer 10.0.0.2                  the TCP peer (default 10.0.0.2)
//! trust 10.0.0.0/8               a trusted proxy network (any number)
//! xff 1.1.1.1, 203.0.113.9       one X-Forwarded-For line, raw bytes (any number)
//! hdr x-real-ip 6.6.6.6          another header, which must be ignored
//! ```
//!
//! `resolve` must pick exactly the address its contract names. With the hops
//! of every `X-Forwarded-For` line in order, split at commas:
//!
//! - an untrusted peer is the client, whatever the headers say;
//! - otherwise, with no hops or an unreadable last hop, the peer is;
//! - otherwise the client is the hop `i` where the walk from the right stops:
//!   every hop right of `i` is readable and trusted, and hop `i` is untrusted,
//!   the leftmost hop, or right of an unreadable one. So the client is never a
//!   hop left of an unreadable hop, never a hop a trusted proxy did not vouch
//!   for, and always the peer or one of the hops.
//!
//! `bucket`: an IPv4 address is its own bucket; an IPv6 one is its /64, which
//! contains it; bucketing is idempotent.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use http::{HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use resetgate::http::client_addr::{bucket, resolve};

/// Lines and headers looked at per input: this only bounds the work.
const MAX_ITEMS: usize = 64;

fuzz_target!(|data: &[u8]| {
    let mut peer = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    let mut trusted: Vec<IpNet> = Vec::new();
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n').take(MAX_ITEMS) {
        if let Some(rest) = line.strip_prefix(b"peer ") {
            if let Some(ip) = text(rest).and_then(|t| t.trim().parse().ok()) {
                peer = ip;
            }
        } else if let Some(rest) = line.strip_prefix(b"trust ") {
            trusted.extend(text(rest).and_then(|t| t.trim().parse::<IpNet>().ok()));
        } else if let Some(rest) = line.strip_prefix(b"xff ") {
            if let Ok(value) = HeaderValue::from_bytes(rest) {
                headers.append("x-forwarded-for", value);
            }
        } else if let Some(rest) = line.strip_prefix(b"hdr ") {
            let (name, value) = rest.split_at(rest.iter().position(|&b| b == b' ').unwrap_or(0));
            let name = HeaderName::from_bytes(name);
            let value = HeaderValue::from_bytes(value.get(1..).unwrap_or_default());
            if let (Ok(name), Ok(value)) = (name, value)
                && name != "x-forwarded-for"
            {
                headers.append(name, value);
            }
        }
    }

    let client = resolve(peer, &headers, &trusted);
    assert_eq!(client, expected(peer, &headers, &trusted), "{headers:?}");
    check_bucket(client);
    check_bucket(peer);
});

fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

/// The contract, stated over the hops (see the module doc).
fn expected(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Every hop, readable (Some) or not (None), leftmost first.
    let hops: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(|hop| {
            let hop = hop.trim_ascii();
            std::str::from_utf8(hop)
                .ok()
                .and_then(|text| text.parse::<IpAddr>().ok())
                .map(|ip| ip.to_canonical())
        })
        .collect();
    let Some(Some(_)) = hops.last() else {
        return peer;
    };
    for i in (0..hops.len()).rev() {
        let Some(ip) = hops[i] else {
            unreachable!("the walk stops right of an unreadable hop");
        };
        let stops = !is_trusted(&ip) || i == 0 || hops[i - 1].is_none();
        if stops {
            return ip;
        }
    }
    unreachable!("hop 0 stops the walk")
}

fn check_bucket(ip: IpAddr) {
    let b = bucket(ip);
    assert_eq!(bucket(b), b, "idempotent");
    match (ip, b) {
        (IpAddr::V4(_), _) => assert_eq!(b, ip),
        (IpAddr::V6(v6), IpAddr::V6(key)) => {
            let net = IpNet::new(b, 64).expect("/64");
            assert!(net.contains(&ip), "{key} /64 contains {v6}");
            assert_eq!(u128::from(key) & ((1 << 64) - 1), 0);
        }
        (IpAddr::V6(_), IpAddr::V4(_)) => panic!("an IPv6 bucket is IPv6"),
    }
}

//! The client address: the TCP peer, or — when the peer is one of
//! `server.trusted_proxies` — the rightmost `X-Forwarded-For` hop that is not a
//! trusted proxy. Leftmost hops are client-controlled and never believed.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use super::error::ApiError;
use crate::app::AppState;

/// The address signals, limits and the audit use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Resolve the client address from the peer and the headers. IPv4-mapped IPv6
/// addresses (a dual-stack listener's view of IPv4 peers) become plain IPv4, so
/// IPv4 `trusted_proxies` match them.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Split as bytes: a value with bytes that are not text (obs-text) still
    // has its hops, and only the hop holding them is unreadable.
    let hops: Vec<&[u8]> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .collect();
    // From the right: skip our proxies; the first other hop is the client. A
    // hop we cannot read stops the walk (falling back to the last trusted
    // address): skipping it would let a client-written hop further left win.
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        let Some(ip) = std::str::from_utf8(hop)
            .ok()
            .and_then(|hop| hop.parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical())
        else {
            return client;
        };
        client = ip;
        if !is_trusted(&ip) {
            return ip;
        }
    }
    client
}

/// The key per-address limits and counters use: the address itself for IPv4,
/// its /64 for IPv6 (one subscriber usually holds a whole /64, so counting
/// single IPv6 addresses would let one attacker look like millions).
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(bits))
        }
    }
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| {
                ApiError::internal("no peer address (server not started with connect info)")
            })?;
        Ok(ClientAddr(resolve(
            peer,
            &parts.headers,
            &state.config.server.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn untrusted_peer_is_the_client() {
        let peer: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(resolve(peer, &headers("203.0.113.9"), &[]), peer);
    }

    #[test]
    fn rightmost_untrusted_hop_behind_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let got = resolve(peer, &headers("1.1.1.1, 203.0.113.9, 10.0.0.5"), &trusted);
        assert_eq!(got, "203.0.113.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn garbage_hops_are_skipped_and_no_header_means_the_peer() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(
            resolve(peer, &headers("not-an-ip, 203.0.113.9"), &trusted),
            client
        );
        assert_eq!(resolve(peer, &HeaderMap::new(), &trusted), peer);
    }

    /// Found by the `forwarded_for` fuzz target: a value that was not text
    /// (a byte over 0x7f) was skipped whole, so a client-written hop left of
    /// it won instead of the walk stopping there.
    #[test]
    fn a_hop_that_is_not_text_stops_the_walk() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let mut h = headers("6.6.6.6");
        h.append(
            "x-forwarded-for",
            axum::http::HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        assert_eq!(resolve(peer, &h, &trusted), peer);
        // Only the hop holding such a byte is unreadable: those right of it count.
        let mut h = headers("6.6.6.6");
        h.append(
            "x-forwarded-for",
            axum::http::HeaderValue::from_bytes(b"1.2.3.4, 10.9\xff8.7 ,10.0.0.1").unwrap(),
        );
        assert_eq!(
            resolve(peer, &h, &trusted),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
        h.append("x-forwarded-for", "203.0.113.9".parse().unwrap());
        assert_eq!(
            resolve(peer, &h, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(resolve(peer, &headers("203.0.113.9"), &trusted), client);
    }

    #[test]
    fn ipv6_buckets_are_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(bucket(a), bucket(b));
        assert_eq!(bucket(a).to_string(), "2001:db8:1:2::");
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(bucket(v4), v4);
    }
}

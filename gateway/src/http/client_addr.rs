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

/// Resolve the client address from the peer and the headers.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .map(|hop| hop.parse::<IpAddr>().ok())
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    hops.into_iter()
        .rev()
        .find(|hop| !is_trusted(hop))
        .unwrap_or(peer)
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
    fn garbage_header_falls_back_to_peer() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            resolve(peer, &headers("not-an-ip, 203.0.113.9"), &trusted),
            peer
        );
        assert_eq!(resolve(peer, &HeaderMap::new(), &trusted), peer);
    }
}

//! Which address a request comes from. The socket's peer address, unless
//! the peer is a configured trusted proxy: then the right-most entry of
//! `X-Forwarded-For` that is not itself a trusted proxy. Without trusted
//! proxies every forwarding header is ignored, or any client could pick the
//! address its failures are counted against.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request};
use tower_governor::GovernorError;
use tower_governor::key_extractor::KeyExtractor;

use crate::oidc::OidcError;

use super::AppState;

/// The client address for `peer`, given the request headers.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut client = peer;
    // Walk from the nearest hop outwards; stop at the first address that no
    // trusted proxy vouches for. Garbage ends the walk at the last good hop.
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(address) => {
                client = address;
                if !trusted.contains(&address) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

fn peer_of<T>(request: &Request<T>) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// The client address as an extractor.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = OidcError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(ClientIp(resolve(peer, &parts.headers, &state.trusted_proxies)))
    }
}

/// The same rule as the key of the tower-governor request ceilings.
#[derive(Debug, Clone)]
pub struct ClientIpKey {
    pub trusted: Arc<Vec<IpAddr>>,
}

impl KeyExtractor for ClientIpKey {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<Self::Key, GovernorError> {
        Ok(resolve(peer_of(request), request.headers(), &self.trusted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", xff.parse().unwrap());
        headers
    }

    #[test]
    fn forwarding_headers_count_only_behind_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let peer: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(resolve(peer, &headers("1.2.3.4"), &[]), peer);
        assert_eq!(resolve(peer, &headers("1.2.3.4"), &[proxy]), peer);
        assert_eq!(resolve(proxy, &headers("1.2.3.4"), &[proxy]), "1.2.3.4".parse::<IpAddr>().unwrap());
        // A client-supplied left part cannot move the address.
        assert_eq!(resolve(proxy, &headers("6.6.6.6, 1.2.3.4"), &[proxy]), "1.2.3.4".parse::<IpAddr>().unwrap());
        let second: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(resolve(proxy, &headers("1.2.3.4, 10.0.0.2"), &[proxy, second]), "1.2.3.4".parse::<IpAddr>().unwrap());
        assert_eq!(resolve(proxy, &headers("garbage, <script>"), &[proxy]), proxy);
        assert_eq!(resolve(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }
}

//! Who a request comes from, and how often an address may ask: the client's address
//! (through trusted reverse proxies), the login limiter, and the limit on anonymous
//! public requests (BRIEF Q4, Q10: the public side is open to everyone, so no one
//! address may take the server's time from the rest).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

/// Login and registration attempts allowed per client address and minute.
pub const LOGIN_ATTEMPTS_PER_MINUTE: u32 = 20;

/// Addresses no limiter keeps track of at once; past it, idle ones are forgotten.
const TRACKED_ADDRESSES: usize = 100_000;

pub use platform::settings::{Network, PublicRate};

/// The client's address: the peer's, or, when the peer is one of `trusted` (the
/// platform's own reverse proxies), the nearest address in `X-Forwarded-For` that is
/// not a trusted proxy. Proxies append the address they received from, so entries left
/// of the last untrusted one were written by the client and are never believed; an
/// entry that does not parse stops the walk at the proxy that passed it on. IPv4
/// addresses mapped into IPv6 (a server listening on `[::]`) count as IPv4.
pub fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[Network],
) -> Option<IpAddr> {
    let trusted = |a: &IpAddr| trusted.iter().any(|t| t.contains(a));
    let mut nearest = peer?.to_canonical();
    if !trusted(&nearest) {
        return Some(nearest);
    }
    // Entries are split as bytes: a client's own entry with bytes that are not text
    // must not hide the entries its proxies appended.
    let hops: Vec<&[u8]> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .collect();
    for hop in hops.iter().rev() {
        let Some(address) = std::str::from_utf8(hop)
            .ok()
            .and_then(|h| parse_hop(h.trim()))
        else {
            break;
        };
        nearest = address.to_canonical();
        if !trusted(&nearest) {
            break;
        }
    }
    Some(nearest)
}

/// What a limiter counts by: an IPv4 address, or the /64 network of an IPv6 address
/// (one subscriber's allocation, whose addresses cost nothing to change).
fn limit_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from_bits(
            v6.to_bits() & !((1u128 << 64) - 1),
        )),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, with a port or in brackets as some proxies
/// write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse().ok())
        })
}

/// The client's address (see [`client_address`]), for the limiters.
pub(crate) struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<ClientIp, Self::Rejection> {
        Ok(ClientIp(client_of(
            state,
            &parts.extensions,
            &parts.headers,
        )))
    }
}

/// The client of a request with these extensions and headers, by the state's trusted
/// proxies.
fn client_of(
    state: &AppState,
    extensions: &axum::http::Extensions,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    client_address(
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip()),
        headers,
        &state.settings.trusted_proxies,
    )
}

/// Counts login attempts per client address in one-minute windows.
#[derive(Debug, Default)]
pub(crate) struct LoginLimiter(Mutex<HashMap<IpAddr, (Instant, u32)>>);

impl LoginLimiter {
    /// Whether another attempt from `ip` is allowed now; else the seconds until it is.
    pub(crate) fn allow(&self, ip: IpAddr) -> Result<(), u64> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if map.len() > TRACKED_ADDRESSES {
            map.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let entry = map.entry(limit_key(ip)).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 <= LOGIN_ATTEMPTS_PER_MINUTE {
            Ok(())
        } else {
            Err(60u64
                .saturating_sub(now.duration_since(entry.0).as_secs())
                .max(1))
        }
    }
}

/// A token bucket per client address.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: PublicRate,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    pub(crate) fn new(rate: PublicRate) -> Self {
        RateLimiter {
            rate,
            buckets: Mutex::default(),
        }
    }

    /// Takes a token for `ip` at `now`; `Err(wait)` when its bucket is empty.
    fn take(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.rate.per_minute == 0 {
            return Ok(());
        }
        // Tokens a second.
        let (rate, burst) = (
            f64::from(self.rate.per_minute) / 60.0,
            f64::from(self.rate.burst.max(1)),
        );
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > TRACKED_ADDRESSES {
            // A bucket that has filled up again is the same as none.
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(limit_key(ip)).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

/// Whether the request carries the live credential of someone an administrator gave
/// an account (staff, reviewers, institutions' users): they are not the anonymous
/// public, and an institution's users have their own quota. A self-registered person or
/// applicant, or a credential that does not authenticate, is limited by address as
/// anyone is: registering is open to all, so it cannot lift the limit.
async fn staff_credential(state: &AppState, headers: &HeaderMap) -> bool {
    use governance::identity::Role;
    let Some(token) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 128)
    else {
        return false;
    };
    governance::identity::authenticate(&state.store, token)
        .await
        .is_ok_and(|caller| !matches!(caller.role, Role::Person | Role::Applicant))
}

/// Refuses anonymous public requests past the address's rate with 429 and
/// `Retry-After`; staff signed in are not the anonymous public ([`staff_credential`]).
pub(super) async fn limit_public(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let page = crate::site::is_page(path);
    if state.settings.public_rate.per_minute > 0
        && (path.starts_with("/api/v1/public/") || page)
        && !staff_credential(&state, request.headers()).await
        && let Some(ip) = client_of(&state, request.extensions(), request.headers())
        && let Err(wait) = state.public_limiter.take(ip, Instant::now())
    {
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        let rate = state.settings.public_rate;
        let error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "too many requests from your address: at most {} a minute, {} at once; retry in {seconds} s",
                rate.per_minute, rate.burst
            ),
        )
        .with_zh(format!(
            "您的地址请求过于频繁：每分钟最多 {} 次，请 {seconds} 秒后再试。",
            rate.per_minute
        ))
        .with_details(serde_json::json!({ "retry_after_seconds": seconds }));
        let mut response = if page {
            let mut response = crate::site::error_page(error);
            if let Ok(value) = axum::http::HeaderValue::from_str(&seconds.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
            response
        } else {
            error.into_response()
        };
        // Measured under its route, like any other answer (`tag_route` did not run).
        if let Some(route) = request.extensions().get::<MatchedPath>().cloned() {
            response.extensions_mut().insert(route);
        }
        return response;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> Network {
        s.parse().unwrap()
    }

    #[test]
    fn networks_hold_their_addresses_and_refuse_nonsense() {
        let private = net("10.0.0.0/8");
        assert!(private.contains(&ip("10.200.3.4")));
        assert!(private.contains(&ip("::ffff:10.1.2.3")));
        assert!(!private.contains(&ip("11.0.0.1")));
        assert!(!private.contains(&ip("::a00:1")), "IPv6 is not IPv4");
        let site = net("fd00:1:2:3::/64");
        assert!(site.contains(&ip("fd00:1:2:3:ffff::1")));
        assert!(!site.contains(&ip("fd00:1:2:4::1")));
        assert!(net("127.0.0.1").contains(&ip("127.0.0.1")));
        assert!(!net("127.0.0.1").contains(&ip("127.0.0.2")));
        assert!(net("0.0.0.0/1").contains(&ip("10.0.0.1")));
        assert!(!net("0.0.0.0/1").contains(&ip("203.0.113.9")));
        let mapped = net("::ffff:10.0.0.0/104");
        assert!(mapped.contains(&ip("10.9.8.7")) && !mapped.contains(&ip("11.0.0.1")));
        for everyone in ["0.0.0.0/0", "::/0"] {
            let e = everyone.parse::<Network>().unwrap_err();
            assert!(e.contains("trusts every address"), "{e}");
        }
        for bad in [
            "",
            "localhost",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/x",
            "10.0.0.0/",
            "::ffff:10.0.0.0/64",
        ] {
            let e = bad.parse::<Network>().unwrap_err();
            assert!(e.contains("not an address or a network"), "{bad}: {e}");
        }
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_address(Some(ip("198.51.100.7")), &headers, &[net("127.0.0.1")]),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(client_address(None, &headers, &[]), None);
    }

    #[test]
    fn a_trusted_proxy_names_the_nearest_untrusted_hop() {
        let trusted = [net("127.0.0.1"), net("10.0.0.0/24")];
        let proxy = Some(ip("127.0.0.1"));
        // The client's own claim (left) is not believed; the address the proxies saw is.
        let headers = forwarded(&["1.1.1.1, 203.0.113.9, 10.0.0.2"]);
        assert_eq!(
            client_address(proxy, &headers, &trusted),
            Some(ip("203.0.113.9"))
        );
        // Several headers read as one list, in order.
        let headers = forwarded(&["1.1.1.1", "203.0.113.9"]);
        assert_eq!(
            client_address(proxy, &headers, &trusted),
            Some(ip("203.0.113.9"))
        );
        // Ports and brackets as proxies write them.
        let headers = forwarded(&["203.0.113.9:5123"]);
        assert_eq!(
            client_address(proxy, &headers, &trusted),
            Some(ip("203.0.113.9"))
        );
        let headers = forwarded(&["[2001:db8::7]"]);
        assert_eq!(
            client_address(proxy, &headers, &trusted),
            Some(ip("2001:db8::7"))
        );
        // No header: the proxy itself; garbage: the last hop that parsed.
        assert_eq!(client_address(proxy, &HeaderMap::new(), &trusted), proxy);
        let headers = forwarded(&["203.0.113.9, not-an-address, 10.0.0.2"]);
        assert_eq!(
            client_address(proxy, &headers, &trusted),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn odd_bytes_mapped_addresses_and_ipv6_networks_change_nothing() {
        let trusted = [net("127.0.0.1")];
        // A client's entry that is not text does not hide what its proxy appended.
        let mut headers = HeaderMap::new();
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff\xfe, 203.0.113.9").unwrap(),
        );
        assert_eq!(
            client_address(Some(ip("127.0.0.1")), &headers, &trusted),
            Some(ip("203.0.113.9"))
        );
        // A server on [::] sees its IPv4 proxy as ::ffff:127.0.0.1: still trusted.
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_address(Some(ip("::ffff:127.0.0.1")), &headers, &trusted),
            Some(ip("203.0.113.9"))
        );
        // Addresses of one IPv6 /64 share a bucket; another /64 has its own.
        let limiter = RateLimiter::new(PublicRate {
            per_minute: 60,
            burst: 2,
        });
        let now = Instant::now();
        assert!(limiter.take(ip("2001:db8:1:2::1"), now).is_ok());
        assert!(limiter.take(ip("2001:db8:1:2:ffff::9"), now).is_ok());
        assert!(limiter.take(ip("2001:db8:1:2::abcd"), now).is_err());
        assert!(limiter.take(ip("2001:db8:1:3::1"), now).is_ok());
    }

    #[test]
    fn buckets_allow_the_burst_then_the_rate_per_address() {
        let limiter = RateLimiter::new(PublicRate {
            per_minute: 600,
            burst: 5,
        });
        let start = Instant::now();
        let (a, b) = (ip("203.0.113.9"), ip("203.0.113.10"));
        for _ in 0..5 {
            assert_eq!(limiter.take(a, start), Ok(()));
        }
        let wait = limiter.take(a, start).unwrap_err();
        assert!(
            (Duration::from_millis(99)..=Duration::from_millis(101)).contains(&wait),
            "{wait:?}"
        );
        // Another address has its own bucket.
        assert_eq!(limiter.take(b, start), Ok(()));
        // A tenth of a second later, one more; seconds later, the burst again (no more).
        assert_eq!(limiter.take(a, start + Duration::from_millis(100)), Ok(()));
        assert!(limiter.take(a, start + Duration::from_millis(100)).is_err());
        let later = start + Duration::from_secs(5);
        for _ in 0..5 {
            assert_eq!(limiter.take(a, later), Ok(()));
        }
        assert!(limiter.take(a, later).is_err());
    }

    #[test]
    fn a_rate_of_zero_is_no_limit() {
        let limiter = RateLimiter::new(PublicRate {
            per_minute: 0,
            burst: 0,
        });
        let now = Instant::now();
        assert!((0..10_000).all(|_| limiter.take(ip("203.0.113.9"), now).is_ok()));
    }
}

//! Throttling of failed authentication per client address (api.md, "Security hardening"): after
//! `max_failures` failed attempts (an unknown token, a session cookie that names no session)
//! within `window`, every request of that address that carries a credential is answered 429
//! `too_many_attempts` with Retry-After until the oldest of those failures is `window` old. A
//! stolen-token guesser gets 20 tries a minute against 256-bit tokens; a long ADMIN_TOKEN is
//! refused at start for the same reason.
//!
//! Counted per server process, in memory: behind a balancer each process allows its own 20, which
//! is still nothing against a 256-bit token, and no request pays a database write for it.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

use crate::config::AuthThrottleSettings;

/// Addresses remembered at most; past that, addresses with no failure inside the window are
/// forgotten (and if that is not enough, all are: memory stays bounded under a flood of
/// addresses, at the price of forgetting some counts).
const MAX_ADDRESSES: usize = 100_000;

/// The failure counts of one server process.
#[derive(Debug)]
pub struct AuthThrottle {
    settings: AuthThrottleSettings,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl AuthThrottle {
    /// No failures yet.
    pub fn new(settings: AuthThrottleSettings) -> Self {
        Self {
            settings,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// How long the address must wait, if it is throttled now.
    pub fn blocked(&self, address: IpAddr) -> Option<Duration> {
        self.blocked_at(address, Instant::now())
    }

    fn blocked_at(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let key = key(address);
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let times = failures.get(&key)?;
        if times.len() < self.settings.max_failures {
            return None;
        }
        // The oldest of the last `max_failures` failures: once it is a window old, one more try.
        let oldest = *times.front()?;
        let free_at = oldest + self.settings.window;
        (free_at > now).then(|| free_at - now)
    }

    /// Records a failed authentication of the address.
    pub fn failed(&self, address: IpAddr) {
        self.failed_at(address, Instant::now());
    }

    fn failed_at(&self, address: IpAddr, now: Instant) {
        let key = key(address);
        let window = self.settings.window;
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_ADDRESSES && !failures.contains_key(&key) {
            failures.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < window));
            if failures.len() >= MAX_ADDRESSES {
                tracing::warn!("authentication throttle: {MAX_ADDRESSES} addresses with recent failures; counts reset");
                failures.clear();
            }
        }
        let times = failures.entry(key).or_default();
        times.push_back(now);
        while times.len() > self.settings.max_failures.max(1) {
            times.pop_front();
        }
    }
}

/// The unit counted: an IPv4 address, or an IPv6 /64 (one subscriber usually holds a whole /64,
/// so counting single IPv6 addresses would count nothing).
fn key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The client's address: the peer of the connection. Only when that peer is one of
/// TRUSTED_PROXIES is X-Forwarded-For read, from the right, skipping trusted proxies: anyone can
/// write the header, so trusting it from anyone would let a guesser pick a new address per try.
pub fn client_address(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted_proxies.contains(a))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn throttle() -> AuthThrottle {
        AuthThrottle::new(AuthThrottleSettings {
            max_failures: 3,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn the_limit_blocks_until_the_oldest_failure_is_a_window_old() {
        let t = throttle();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let start = Instant::now();
        for i in 0..3 {
            assert_eq!(t.blocked_at(a, start), None, "attempt {i}");
            t.failed_at(a, start + Duration::from_secs(i));
        }
        let wait = t.blocked_at(a, start + Duration::from_secs(3)).unwrap();
        assert_eq!(wait, Duration::from_secs(57));
        assert_eq!(t.blocked_at(b, start), None, "other addresses are not affected");
        assert_eq!(t.blocked_at(a, start + Duration::from_secs(60)), None, "free again");
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let t = throttle();
        let now = Instant::now();
        for last in 1..=3u16 {
            t.failed_at(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, last)), now);
        }
        assert!(t.blocked_at("2001:db8:1:2::ffff".parse().unwrap(), now).is_some());
        assert!(t.blocked_at("2001:db8:1:3::1".parse().unwrap(), now).is_none());
        for _ in 0..3 {
            t.failed_at("::ffff:192.0.2.9".parse().unwrap(), now);
        }
        assert!(t.blocked_at("192.0.2.9".parse().unwrap(), now).is_some());
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.5:1234".parse().unwrap())
            .insert_header(("X-Forwarded-For", "198.51.100.7, 10.0.0.9"))
            .to_http_request();
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(client_address(&req, &[]), Some(peer), "not trusted by default");
        let proxy: IpAddr = "10.0.0.9".parse().unwrap();
        assert_eq!(
            client_address(&req, &[peer, proxy]),
            Some("198.51.100.7".parse().unwrap()),
            "the rightmost address no trusted proxy wrote"
        );
    }
}

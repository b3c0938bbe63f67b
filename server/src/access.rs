//! Who may run code: a per-client rate limit (token bucket by IP), an
//! optional allow-list of page origins, and API keys that lift both.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, ORIGIN};
use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};
use ipnet::IpNet;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Config;

/// Why a client may not run code now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("too many runs from {client}: retry in {retry_after} s")]
    RateLimited { client: IpAddr, retry_after: u64 },
    #[error("pages from {0} may not run code on this server")]
    Origin(String),
    #[error("the API key is not valid")]
    BadKey,
}

pub struct Access {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Clients in one IPv6 network of this prefix share a bucket: one host
    /// usually has a whole /64 to pick addresses from.
    ipv6_prefix: u8,
    trusted_proxies: Vec<IpNet>,
    /// `None`: any origin.
    origins: Option<Vec<String>>,
    /// The keys' SHA-256 digests: a presented key is compared by its
    /// digest, in constant time, so neither its bytes nor its length show
    /// in the time an answer takes.
    api_keys: Vec<[u8; 32]>,
    /// Whether the hint about an untrusted proxy was logged (once).
    proxy_hinted: AtomicBool,
}

impl Access {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let limiter = NonZeroU32::new(config.rate_limit).map(|per_minute| {
            let burst = NonZeroU32::new(config.rate_burst).unwrap_or(NonZeroU32::MIN);
            DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst))
        });
        let trusted_proxies = config
            .trusted_proxies
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "--trusted-proxies: {s:?} is not an IP address or a CIDR range"
                        )
                    })
            })
            .collect::<anyhow::Result<_>>()?;
        let origins = config.origins();
        let api_keys = config
            .api_keys
            .iter()
            .filter(|k| !k.is_empty())
            .map(|k| key_digest(k))
            .collect();
        if config.rate_limit_ipv6_prefix > 128 {
            anyhow::bail!("--rate-limit-ipv6-prefix must be at most 128");
        }
        Ok(Access {
            limiter,
            ipv6_prefix: config.rate_limit_ipv6_prefix,
            trusted_proxies,
            origins,
            api_keys,
            proxy_hinted: AtomicBool::new(false),
        })
    }

    /// The networks of the proxies this server trusts.
    pub fn trusted_proxies(&self) -> Vec<IpNet> {
        self.trusted_proxies.clone()
    }

    /// The client's address: the peer, or, when the peer is a trusted proxy,
    /// the nearest untrusted address in `X-Forwarded-For`. An entry that is
    /// not an address (or `address:port`) ends the walk at the proxy that
    /// wrote it: nothing before it can be believed.
    ///
    /// Addresses are canonical: an IPv4 client reaching a `[::]` listener
    /// (`::ffff:a.b.c.d`) is the IPv4 address, for the rate limit and for
    /// matching trusted proxies alike.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        let trusted = |ip: &IpAddr| self.trusted_proxies.iter().any(|net| net.contains(ip));
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.to_str().unwrap_or("?"))
            .flat_map(|v| v.split(','))
            .collect();
        if !hops.is_empty() && !trusted(&peer) {
            self.hint_untrusted_proxy(peer);
        }
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            if !trusted(&client) {
                break;
            }
            match parse_hop(hop) {
                Some(ip) => client = ip.to_canonical(),
                None => break,
            }
        }
        client
    }

    /// Says once that a proxy no one trusts forwards requests (behind
    /// Coolify's, every reader would share its rate limit), with the
    /// setting that trusts it: the network this server shares with it,
    /// which the operator cannot easily see from a web UI.
    fn hint_untrusted_proxy(&self, peer: IpAddr) -> Option<String> {
        if self.proxy_hinted.swap(true, Ordering::Relaxed) {
            return None;
        }
        let trust = local_network_of(peer).map_or_else(|| peer.to_string(), |net| net.to_string());
        let hint = format!(
            "requests arrive through a proxy at {peer} (they carry X-Forwarded-For) that is not \
             trusted: all its clients share one rate limit; if it is your proxy, set \
             SNIPBOX_TRUSTED_PROXIES={trust}"
        );
        tracing::warn!("{hint}");
        Some(hint)
    }

    /// The rate limit's key for a client: its address, or its IPv6 network.
    fn bucket(&self, client: IpAddr) -> IpAddr {
        match client {
            IpAddr::V6(v6) => IpNet::new(IpAddr::V6(v6), self.ipv6_prefix)
                .map_or(client, |net| net.trunc().addr()),
            v4 => v4,
        }
    }

    /// Lets the request run, or says why not. A valid API key lifts the
    /// rate limit and the origin check; an invalid one is refused, and
    /// counts against the client's bucket first, so keys cannot be
    /// guessed faster than runs can be sent.
    pub fn check(&self, peer: IpAddr, headers: &HeaderMap) -> Result<(), Refusal> {
        if let Some(auth) = headers.get(AUTHORIZATION) {
            let key = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            let digest = key_digest(key);
            if self.api_keys.iter().any(|k| bool::from(k.ct_eq(&digest))) {
                return Ok(());
            }
            if !self.api_keys.is_empty() {
                self.take_token(peer, headers)?;
                return Err(Refusal::BadKey);
            }
        }
        // Browsers always send Origin with a cross-origin POST; tools that
        // send none are not pages, and the rate limit still applies to them.
        if let (Some(allowed), Some(origin)) = (&self.origins, headers.get(ORIGIN)) {
            let origin = origin.to_str().unwrap_or_default();
            if !allowed.iter().any(|o| o == origin) {
                return Err(Refusal::Origin(origin.to_string()));
            }
        }
        self.take_token(peer, headers)
    }

    /// Takes one token from the client's bucket, or says when to retry.
    fn take_token(&self, peer: IpAddr, headers: &HeaderMap) -> Result<(), Refusal> {
        if let Some(limiter) = &self.limiter {
            let client = self.client_ip(peer, headers);
            if let Err(not_until) = limiter.check_key(&self.bucket(client)) {
                let wait = not_until.wait_time_from(limiter.clock().now());
                return Err(Refusal::RateLimited {
                    client,
                    retry_after: wait.as_secs().max(1),
                });
            }
        }
        Ok(())
    }

    /// Forgets clients whose buckets are full again, so that memory stays
    /// bounded by the clients of the last minutes.
    pub fn prune(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The network of this host's interface that `peer` is on, if any.
fn local_network_of(peer: IpAddr) -> Option<IpNet> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list`, freed below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return None;
    }
    let mut found = None;
    let mut cur = list;
    while !cur.is_null() && found.is_none() {
        // SAFETY: `cur` is a node of the list getifaddrs made.
        let ifa = unsafe { &*cur };
        // SAFETY: the addresses are null or valid sockaddrs of the list.
        let (addr, mask) = unsafe { (sockaddr_ip(ifa.ifa_addr), sockaddr_ip(ifa.ifa_netmask)) };
        if let (Some(addr), Some(mask)) = (addr, mask) {
            found = IpNet::with_netmask(addr, mask)
                .ok()
                .map(|net| net.trunc())
                .filter(|net| net.contains(&peer));
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `list` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(list) };
    found
}

/// The IP address of an IPv4 or IPv6 sockaddr.
///
/// # Safety
/// `sa` is null or points to a valid sockaddr of its family's size.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: the caller's promise; the family says which struct it is.
    unsafe {
        match i32::from((*sa).sa_family) {
            libc::AF_INET => {
                let v4 = &*(sa as *const libc::sockaddr_in);
                Some(IpAddr::from(u32::from_be(v4.sin_addr.s_addr).to_be_bytes()))
            }
            libc::AF_INET6 => {
                let v6 = &*(sa as *const libc::sockaddr_in6);
                Some(IpAddr::from(v6.sin6_addr.s6_addr))
            }
            _ => None,
        }
    }
}

/// An `X-Forwarded-For` entry: an address, or an address with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn access(args: &[&str]) -> Access {
        let cli =
            crate::config::Cli::parse_from(std::iter::once("snipbox").chain(args.iter().copied()));
        Access::from_config(&cli.config).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
            .collect()
    }

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));

    #[test]
    fn an_untrusted_proxy_is_named_once_with_the_network_to_trust() {
        let a = access(&[]);
        let forwarded = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(a.client_ip(PEER, &forwarded), PEER, "not believed");
        assert!(a.proxy_hinted.load(Ordering::Relaxed));
        let hint = Access::hint_untrusted_proxy(&access(&[]), PEER).unwrap();
        assert!(
            hint.contains("proxy at 127.0.0.1")
                && hint.ends_with("SNIPBOX_TRUSTED_PROXIES=127.0.0.0/8"),
            "{hint}"
        );
        assert_eq!(a.hint_untrusted_proxy(PEER), None, "once");
        let trusted = access(&["--trusted-proxies", "127.0.0.1"]);
        trusted.client_ip(PEER, &forwarded);
        assert!(!trusted.proxy_hinted.load(Ordering::Relaxed));
    }

    #[test]
    fn the_burst_then_the_rate_apply_per_client() {
        let a = access(&["--rate-limit", "60", "--rate-burst", "2"]);
        let none = HeaderMap::new();
        assert!(a.check(PEER, &none).is_ok());
        assert!(a.check(PEER, &none).is_ok());
        assert!(matches!(
            a.check(PEER, &none),
            Err(Refusal::RateLimited { retry_after: 1, .. })
        ));
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(
            a.check(other, &none).is_ok(),
            "another client has its own bucket"
        );
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let xff = headers(&[("x-forwarded-for", "203.0.113.7, 10.0.0.2")]);
        let untrusted = access(&[]);
        assert_eq!(untrusted.client_ip(PEER, &xff), PEER);
        let one = access(&["--trusted-proxies", "127.0.0.1"]);
        assert_eq!(
            one.client_ip(PEER, &xff),
            "10.0.0.2".parse::<IpAddr>().unwrap()
        );
        let both = access(&["--trusted-proxies", "127.0.0.0/8,10.0.0.0/8"]);
        assert_eq!(
            both.client_ip(PEER, &xff),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn an_unreadable_forwarded_entry_stops_at_the_proxy_that_wrote_it() {
        let a = access(&["--trusted-proxies", "127.0.0.1"]);
        // A forged first entry, then what the proxy appended, unreadable.
        let xff = headers(&[("x-forwarded-for", "203.0.113.7, garbage")]);
        assert_eq!(a.client_ip(PEER, &xff), PEER);
        let with_port = headers(&[("x-forwarded-for", "203.0.113.7, 198.51.100.9:4711")]);
        assert_eq!(
            a.client_ip(PEER, &with_port),
            "198.51.100.9".parse::<IpAddr>().unwrap()
        );
        let v6 = headers(&[("x-forwarded-for", "[2001:db8::1]:80")]);
        assert_eq!(
            a.client_ip(PEER, &v6),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn one_ipv6_network_shares_a_bucket() {
        let a = access(&["--rate-limit", "60", "--rate-burst", "1"]);
        let none = HeaderMap::new();
        let first: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(a.check(first, &none).is_ok());
        assert!(a.check(same_64, &none).is_err(), "same /64, same bucket");
        assert!(a.check(other_64, &none).is_ok());
        let per_address = access(&[
            "--rate-limit",
            "60",
            "--rate-burst",
            "1",
            "--rate-limit-ipv6-prefix",
            "128",
        ]);
        assert!(per_address.check(first, &none).is_ok());
        assert!(per_address.check(same_64, &none).is_ok());
    }

    #[test]
    fn origins_outside_the_list_are_refused() {
        let a = access(&[
            "--cors-origins",
            "https://docs.example,https://blog.example/",
        ]);
        assert!(
            a.check(PEER, &headers(&[("origin", "https://docs.example")]))
                .is_ok()
        );
        assert!(
            a.check(PEER, &headers(&[("origin", "https://blog.example")]))
                .is_ok()
        );
        assert_eq!(
            a.check(PEER, &headers(&[("origin", "https://evil.example")])),
            Err(Refusal::Origin("https://evil.example".into()))
        );
        assert!(
            a.check(PEER, &HeaderMap::new()).is_ok(),
            "no Origin: not a page"
        );
    }

    #[test]
    fn an_api_key_lifts_the_limits_and_a_wrong_one_is_refused() {
        let a = access(&[
            "--rate-limit",
            "1",
            "--rate-burst",
            "1",
            "--api-keys",
            "k1,k2",
            "--cors-origins",
            "https://a.example",
        ]);
        let good = headers(&[
            ("authorization", "Bearer k2"),
            ("origin", "https://evil.example"),
        ]);
        for _ in 0..5 {
            assert!(a.check(PEER, &good).is_ok());
        }
        assert_eq!(
            a.check(PEER, &headers(&[("authorization", "Bearer nope")])),
            Err(Refusal::BadKey)
        );
    }

    #[test]
    fn guessing_keys_is_rate_limited_like_runs() {
        let a = access(&["--rate-limit", "1", "--rate-burst", "2", "--api-keys", "k1"]);
        let wrong = headers(&[("authorization", "Bearer guess")]);
        assert_eq!(a.check(PEER, &wrong), Err(Refusal::BadKey));
        assert_eq!(a.check(PEER, &wrong), Err(Refusal::BadKey));
        assert!(
            matches!(a.check(PEER, &wrong), Err(Refusal::RateLimited { .. })),
            "the third guess within the burst of two is a 429"
        );
        let other: IpAddr = "192.0.2.99".parse().unwrap();
        assert_eq!(a.check(other, &wrong), Err(Refusal::BadKey));
    }

    #[test]
    fn ipv4_clients_of_a_dual_stack_listener_have_buckets_of_their_own() {
        let a = access(&["--rate-limit", "1", "--rate-burst", "1"]);
        let none = HeaderMap::new();
        let mapped =
            |s: &str| IpAddr::V6(s.parse::<std::net::Ipv4Addr>().unwrap().to_ipv6_mapped());
        assert!(a.check(mapped("192.0.2.1"), &none).is_ok());
        assert!(
            a.check(mapped("192.0.2.2"), &none).is_ok(),
            "another IPv4 client, not the same /64 of ::ffff:0:0"
        );
        assert!(a.check(mapped("192.0.2.1"), &none).is_err());
        assert!(
            a.check("192.0.2.1".parse().unwrap(), &none).is_err(),
            "the mapped and the plain form are one client"
        );
    }

    #[test]
    fn a_trusted_proxy_is_recognised_through_an_ipv4_mapped_peer() {
        let a = access(&["--trusted-proxies", "10.0.0.0/8"]);
        let proxy = IpAddr::V6(
            "10.0.0.5"
                .parse::<std::net::Ipv4Addr>()
                .unwrap()
                .to_ipv6_mapped(),
        );
        let fwd = headers(&[("x-forwarded-for", "::ffff:198.51.100.7")]);
        assert_eq!(
            a.client_ip(proxy, &fwd),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }
}

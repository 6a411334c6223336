//! Abuse limits: requests per second per client address on the public visitor API, per token
//! on every authenticated request, and WebSocket sessions per token. A request over a limit
//! is answered 429 `rate_limited` with `Retry-After` (whole seconds) and changes nothing.
//!
//! These limits protect the server, not a chat rule, so they live at the HTTP edge. The
//! client address is the TCP peer's: behind a reverse proxy every visitor shares the proxy's
//! address, so set `--public-rate-limit 0` there and limit at the proxy (see
//! `docs/OPERATING.md`). Token keys are SipHash digests under a per-process random key: no
//! token is kept in memory by the limiter.

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// Requests per second and burst of one limit; `None` when the limit is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Rate {
    /// `per_second` 0 turns the limit off; a burst below the rate is raised to it.
    pub fn new(per_second: u32, burst: u32) -> Option<Rate> {
        let per_second = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst.max(per_second.get()))?;
        Some(Rate { per_second, burst })
    }

    /// The 429 of a request over this rate (`whose`: which requests were counted).
    fn refusal(self, whose: &str, wait: Duration) -> Refused {
        Refused::new(
            "rate_limited",
            format!(
                "Too many requests {whose}: at most {} per second (bursts of {}).",
                self.per_second, self.burst
            ),
            wait,
        )
    }

    fn quota(self) -> Quota {
        Quota::per_second(self.per_second).allow_burst(self.burst)
    }
}

/// The limits of one server.
pub struct RateLimits {
    public_per_ip: Option<(Rate, DefaultKeyedRateLimiter<IpAddr>)>,
    per_token: Option<(Rate, DefaultKeyedRateLimiter<u64>)>,
    sockets_per_token: usize,
    sockets: Mutex<HashMap<u64, usize>>,
    token_digest: RandomState,
    clock: DefaultClock,
}

impl RateLimits {
    /// `sockets_per_token` 0: no cap on WebSocket sessions.
    pub fn new(
        public_per_ip: Option<Rate>,
        per_token: Option<Rate>,
        sockets_per_token: usize,
    ) -> Arc<RateLimits> {
        Arc::new(RateLimits {
            public_per_ip: public_per_ip.map(|r| (r, RateLimiter::keyed(r.quota()))),
            per_token: per_token.map(|r| (r, RateLimiter::keyed(r.quota()))),
            sockets_per_token,
            sockets: Mutex::new(HashMap::new()),
            token_digest: RandomState::new(),
            clock: DefaultClock::default(),
        })
    }

    fn digest(&self, token: &str) -> u64 {
        self.token_digest.hash_one(token)
    }

    /// Forgets the keys whose buckets are full again, so that the limiter's memory follows the
    /// clients of the last seconds, not every client ever seen.
    pub fn forget_idle_keys(&self) {
        if let Some((_, l)) = &self.public_per_ip {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some((_, l)) = &self.per_token {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Takes one of `token`'s WebSocket sessions, or answers the 429 refusing it. The session
    /// is given back when the returned guard drops.
    pub fn open_socket(self: &Arc<Self>, token: &str) -> Result<SocketSlot, Refused> {
        let key = self.digest(token);
        if self.sockets_per_token > 0 {
            let mut open = self.sockets.lock();
            let n = open.entry(key).or_insert(0);
            if *n >= self.sockets_per_token {
                return Err(Refused::new(
                    "too_many_sockets",
                    format!(
                        "This token already has {} WebSocket sessions open, the most allowed; close one first.",
                        self.sockets_per_token
                    ),
                    Duration::from_secs(1),
                ));
            }
            *n += 1;
        }
        Ok(SocketSlot {
            limits: self.clone(),
            key,
        })
    }

    /// The refusal of a request over a limit, if it is.
    fn check(&self, ip: Option<IpAddr>, path: &str, token: Option<&str>) -> Option<Refused> {
        if let (Some((rate, limiter)), Some(ip)) = (&self.public_per_ip, ip)
            && path
                .strip_prefix(crate::routes::PREFIX)
                .is_some_and(|p| p.starts_with("/public/"))
            && let Err(not_until) = limiter.check_key(&ip)
        {
            let wait = not_until.wait_time_from(self.clock.now());
            return Some(rate.refusal("to the public API from this address", wait));
        }
        if let (Some((rate, limiter)), Some(token)) = (&self.per_token, token)
            && let Err(not_until) = limiter.check_key(&self.digest(token))
        {
            let wait = not_until.wait_time_from(self.clock.now());
            return Some(rate.refusal("with this token", wait));
        }
        None
    }
}

/// One open WebSocket session of a token (see [`RateLimits::open_socket`]).
pub struct SocketSlot {
    limits: Arc<RateLimits>,
    key: u64,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        if self.limits.sockets_per_token == 0 {
            return;
        }
        let mut open = self.limits.sockets.lock();
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// A request over a limit: answered 429 with the contract's error body and `Retry-After` in
/// whole seconds (at least 1).
pub struct Refused {
    code: &'static str,
    detail: String,
    retry_after_secs: u64,
}

impl Refused {
    fn new(code: &'static str, detail: String, wait: Duration) -> Refused {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Refused {
            code,
            detail,
            retry_after_secs: secs.max(1),
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut res = crate::http::error(
            StatusCode::TOO_MANY_REQUESTS,
            self.code,
            &format!("{} Retry after {} s.", self.detail, self.retry_after_secs),
        );
        res.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(self.retry_after_secs),
        );
        res
    }
}

/// `router` behind the request limits. The client address comes from the connection
/// ([`ConnectInfo`], set by [`crate::connections`]); the token from `Authorization`, or from
/// `?token=` on the WebSocket path as [`crate::http`] reads it.
pub fn guard(router: Router, limits: Arc<RateLimits>) -> Router {
    router.layer(middleware::from_fn(move |req: Request, next: Next| {
        let limits = limits.clone();
        async move {
            let ip = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            let token = crate::http::request_token(&req);
            match limits.check(ip, req.uri().path(), token.as_deref()) {
                Some(refused) => refused.into_response(),
                None => next.run(req).await,
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_of_zero_is_off_and_a_small_burst_is_raised_to_the_rate() {
        assert_eq!(Rate::new(0, 100), None);
        let r = Rate::new(10, 2).unwrap();
        assert_eq!((r.per_second.get(), r.burst.get()), (10, 10));
    }

    #[test]
    fn the_public_limit_counts_per_address_and_only_on_the_public_api() {
        let limits = RateLimits::new(Rate::new(1, 2), None, 0);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let auth = "/api/v5/public/orgs/x/auth";
        assert!(limits.check(Some(a), auth, None).is_none());
        assert!(limits.check(Some(a), auth, None).is_none());
        let refused = limits
            .check(Some(a), auth, None)
            .expect("third is over the burst")
            .into_response();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = refused.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=1).contains(&retry), "{retry}");
        assert!(limits.check(Some(b), auth, None).is_none());
        assert!(limits.check(Some(a), "/api/v5/users/me", None).is_none());
    }

    #[test]
    fn sockets_are_counted_per_token_and_given_back() {
        let limits = RateLimits::new(None, None, 2);
        let one = limits.open_socket("t1").ok().unwrap();
        let _two = limits.open_socket("t1").ok().unwrap();
        let refused = limits.open_socket("t1").err().unwrap().into_response();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(limits.open_socket("t2").is_ok());
        drop(one);
        assert!(limits.open_socket("t1").is_ok());
    }
}

//! Who is calling: the `x-api-key` header checked against the configured
//! key hashes (SHA-256, compared in constant time with `subtle`, every key
//! compared so the time says nothing about which one matched), the
//! `x-workspace-id` the key may act in, and each key's request rate (a token
//! bucket per key).
//!
//! A missing and a wrong key get the same 401; a known key outside its
//! workspaces gets 403.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::config::{hash_key, HashedKey};
use super::error::ApiError;

/// The caller of one request, once authenticated: handlers take it from the
/// request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Tenant {
    /// The workspace the request acts in.
    pub(super) workspace: String,
}

/// The keys and their buckets.
pub(super) struct Gate {
    keys: Vec<HashedKey>,
    buckets: Mutex<Vec<Bucket>>,
    rate_per_second: f64,
    burst: f64,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Option<Instant>,
}

/// What the gate decided about one request.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Let it through in this workspace.
    Pass(Tenant),
    /// Refuse it with this error.
    Refuse(ApiErrorKind),
}

/// Which refusal (kept apart from the response so the gate is testable).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(super) enum ApiErrorKind {
    /// 401.
    Unauthorized,
    /// 400: no `x-workspace-id`.
    NoWorkspace,
    /// 403.
    Forbidden,
    /// 429, retry after this many seconds.
    RateLimited(u64),
}

impl Gate {
    /// A gate over `keys`, each allowed `rate_per_second` requests on average
    /// and `burst` at once.
    pub(super) fn new(keys: Vec<HashedKey>, rate_per_second: u32, burst: u32) -> Gate {
        let buckets = vec![
            Bucket {
                tokens: f64::from(burst),
                at: None
            };
            keys.len()
        ];
        Gate {
            keys,
            buckets: Mutex::new(buckets),
            rate_per_second: f64::from(rate_per_second),
            burst: f64::from(burst),
        }
    }

    /// The index of the key whose hash matches `presented`, comparing all.
    fn find(&self, presented: &str) -> Option<usize> {
        let hash = hash_key(presented);
        let mut found = None;
        for (index, key) in self.keys.iter().enumerate() {
            if bool::from(key.hash.ct_eq(&hash)) {
                found = Some(index);
            }
        }
        found
    }

    /// Decides about a request with these headers at `now`.
    pub(super) fn check(
        &self,
        key: Option<&str>,
        workspace: Option<&str>,
        now: Instant,
    ) -> Verdict {
        let Some(index) = key.and_then(|key| self.find(key)) else {
            return Verdict::Refuse(ApiErrorKind::Unauthorized);
        };
        if let Some(wait) = self.take_token(index, now) {
            return Verdict::Refuse(ApiErrorKind::RateLimited(wait.as_secs().max(1)));
        }
        let Some(workspace) = workspace.filter(|w| !w.is_empty()) else {
            return Verdict::Refuse(ApiErrorKind::NoWorkspace);
        };
        if !self.keys[index].workspaces.iter().any(|w| w == workspace) {
            return Verdict::Refuse(ApiErrorKind::Forbidden);
        }
        Verdict::Pass(Tenant {
            workspace: workspace.to_owned(),
        })
    }

    /// Takes one token from key `index`'s bucket; `Some(wait)` when it is empty.
    fn take_token(&self, index: usize, now: Instant) -> Option<Duration> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = &mut buckets[index];
        if let Some(at) = bucket.at {
            let refill = now.saturating_duration_since(at).as_secs_f64() * self.rate_per_second;
            bucket.tokens = (bucket.tokens + refill).min(self.burst);
        }
        bucket.at = Some(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.rate_per_second,
            ))
        }
    }
}

/// The axum middleware: refuses or lets the request on with its [`Tenant`].
pub(super) async fn authenticate(
    State(gate): State<Arc<Gate>>,
    mut request: Request,
    next: Next,
) -> Response {
    let verdict = {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
        };
        gate.check(
            header("x-api-key"),
            header("x-workspace-id"),
            Instant::now(),
        )
    };
    match verdict {
        Verdict::Pass(tenant) => {
            request.extensions_mut().insert(tenant);
            next.run(request).await
        }
        Verdict::Refuse(kind) => match kind {
            ApiErrorKind::Unauthorized => ApiError::unauthorized(),
            ApiErrorKind::NoWorkspace => ApiError::bad_request("x-workspace-id is required"),
            ApiErrorKind::Forbidden => ApiError::forbidden(),
            ApiErrorKind::RateLimited(secs) => ApiError::rate_limited(secs),
        }
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(rate: u32, burst: u32) -> Gate {
        Gate::new(
            vec![
                HashedKey {
                    name: "a".into(),
                    hash: hash_key("key-of-workspace-a"),
                    workspaces: vec!["wa".into()],
                },
                HashedKey {
                    name: "b".into(),
                    hash: hash_key("key-of-workspace-b"),
                    workspaces: vec!["wb".into()],
                },
            ],
            rate,
            burst,
        )
    }

    #[test]
    fn keys_and_workspaces() {
        let gate = gate(100, 100);
        let now = Instant::now();
        assert_eq!(
            gate.check(Some("key-of-workspace-a"), Some("wa"), now),
            Verdict::Pass(Tenant {
                workspace: "wa".into()
            })
        );
        assert_eq!(
            gate.check(Some("key-of-workspace-a"), Some("wb"), now),
            Verdict::Refuse(ApiErrorKind::Forbidden)
        );
        assert_eq!(
            gate.check(Some("key-of-workspace-a"), None, now),
            Verdict::Refuse(ApiErrorKind::NoWorkspace)
        );
        for wrong in [
            None,
            Some(""),
            Some("key-of-workspace-c"),
            Some("key-of-workspace-a "),
        ] {
            assert_eq!(
                gate.check(wrong, Some("wa"), now),
                Verdict::Refuse(ApiErrorKind::Unauthorized),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn each_key_has_its_own_bucket_refilled_at_the_rate() {
        let gate = gate(10, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(matches!(
                gate.check(Some("key-of-workspace-a"), Some("wa"), start),
                Verdict::Pass(_)
            ));
        }
        assert_eq!(
            gate.check(Some("key-of-workspace-a"), Some("wa"), start),
            Verdict::Refuse(ApiErrorKind::RateLimited(1))
        );
        // The other key is untouched.
        assert!(matches!(
            gate.check(Some("key-of-workspace-b"), Some("wb"), start),
            Verdict::Pass(_)
        ));
        // 100 ms at 10/s gives one token back, and only one.
        let later = start + Duration::from_millis(100);
        assert!(matches!(
            gate.check(Some("key-of-workspace-a"), Some("wa"), later),
            Verdict::Pass(_)
        ));
        assert!(matches!(
            gate.check(Some("key-of-workspace-a"), Some("wa"), later),
            Verdict::Refuse(ApiErrorKind::RateLimited(_))
        ));
        // A long pause refills to the burst, no more.
        let much_later = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(matches!(
                gate.check(Some("key-of-workspace-a"), Some("wa"), much_later),
                Verdict::Pass(_)
            ));
        }
        assert!(matches!(
            gate.check(Some("key-of-workspace-a"), Some("wa"), much_later),
            Verdict::Refuse(ApiErrorKind::RateLimited(_))
        ));
    }
}

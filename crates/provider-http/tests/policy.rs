//! The HTTP policy against a stub server on loopback: what is retried, how long it waits, and
//! that the total budget and the per-account limit hold.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use availability_core::CoreError;
use availability_domain::IntegrationType;
use common::{serve, StubResponse};
use provider_http::{google_rate_limit_403, AccountLimiter, HttpPolicy, ProviderHttpError, SendOptions};
use reqwest::StatusCode;

const GOOGLE: IntegrationType = IntegrationType::from_static("google_calendar");

/// Quick backoff so the tests are fast; the behaviour is the same.
fn policy() -> HttpPolicy {
    HttpPolicy::default()
        .with_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .with_max_attempts(4)
}

/// Answers with the scripted statuses in turn (the last one from then on) and counts requests.
async fn scripted(script: Vec<StubResponse>) -> (common::Stub, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let stub = serve(move |_request| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let response = script[n.min(script.len() - 1)].clone();
        async move { response }
    })
    .await;
    (stub, count)
}

#[tokio::test]
async fn a_500_is_retried_until_success() {
    let (stub, count) = scripted(vec![
        StubResponse::new(500),
        StubResponse::new(502),
        StubResponse::json(200, serde_json::json!({"ok": true})),
    ])
    .await;
    let client = policy().client().unwrap();
    let reply = policy()
        .send(&SendOptions::new(), || client.get(stub.url("/busy")))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json::<serde_json::Value>().unwrap()["ok"], true);
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_no_sooner_than_asked() {
    let times = Arc::new(Mutex::new(Vec::new()));
    let seen = times.clone();
    let stub = serve(move |_request| {
        let mut seen = seen.lock().unwrap();
        seen.push(Instant::now());
        let response = if seen.len() == 1 {
            StubResponse::json(429, serde_json::json!({"error": {"code": "TooManyRequests"}}))
                .header("Retry-After", "2")
        } else {
            StubResponse::new(204)
        };
        async move { response }
    })
    .await;
    let client = policy().client().unwrap();
    let reply = policy()
        .send(&SendOptions::new(), || client.get(stub.url("/me/events")))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let times = times.lock().unwrap();
    assert_eq!(times.len(), 2);
    let gap = times[1] - times[0];
    assert!(
        gap >= Duration::from_secs(2),
        "retried after {gap:?}, Retry-After said 2 s"
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_ends_the_call_at_once() {
    let (stub, count) = scripted(vec![StubResponse::new(429).header("Retry-After", "30")]).await;
    let client = policy().client().unwrap();
    let started = Instant::now();
    let error = policy()
        .send(&SendOptions::new(), || client.get(stub.url("/x")))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(error.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert!(matches!(error.into_core(GOOGLE), CoreError::ProviderUnavailable { .. }));
}

fn google_403(reason: &str) -> StubResponse {
    StubResponse::json(
        403,
        serde_json::json!({"error": {"errors": [{"domain": "usageLimits", "reason": reason, "message": "x"}], "code": 403, "message": "x"}}),
    )
}

#[tokio::test]
async fn a_rate_limit_403_is_retried() {
    let (stub, count) = scripted(vec![
        google_403("userRateLimitExceeded"),
        google_403("rateLimitExceeded"),
        StubResponse::new(200),
    ])
    .await;
    let client = policy().client().unwrap();
    let options = SendOptions::new().with_rate_limit_classifier(google_rate_limit_403);
    let reply = policy()
        .send(&options, || client.get(stub.url("/freeBusy")))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn another_403_is_not_retried() {
    let (stub, count) = scripted(vec![google_403("forbidden"), StubResponse::new(200)]).await;
    let client = policy().client().unwrap();
    let options = SendOptions::new().with_rate_limit_classifier(google_rate_limit_403);
    let error = policy()
        .send(&options, || client.get(stub.url("/freeBusy")))
        .await
        .unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(error.status(), Some(StatusCode::FORBIDDEN));
    assert!(matches!(error.into_core(GOOGLE), CoreError::ProviderResponse { .. }));

    // Without a classifier even a rate-limit 403 is final.
    let (stub, count) = scripted(vec![google_403("rateLimitExceeded"), StubResponse::new(200)]).await;
    let error = policy()
        .send(&SendOptions::new(), || client.get(stub.url("/freeBusy")))
        .await
        .unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(error.status(), Some(StatusCode::FORBIDDEN));
}

#[tokio::test]
async fn rate_limit_403s_that_never_end_are_unavailable() {
    let (stub, count) = scripted(vec![google_403("rateLimitExceeded")]).await;
    let client = policy().client().unwrap();
    let options = SendOptions::new().with_rate_limit_classifier(google_rate_limit_403);
    let error = policy()
        .send(&options, || client.get(stub.url("/freeBusy")))
        .await
        .unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 4);
    assert!(matches!(error.into_core(GOOGLE), CoreError::ProviderUnavailable { .. }));
}

#[tokio::test]
async fn a_server_that_always_503s_is_unavailable_within_the_budget() {
    let (stub, count) = scripted(vec![StubResponse::new(503)]).await;
    let budget = Duration::from_millis(1500);
    let policy = HttpPolicy::default()
        .with_total_timeout(budget)
        .with_max_attempts(1000)
        .with_backoff(Duration::from_millis(50), Duration::from_millis(200));
    let client = policy.client().unwrap();
    let started = Instant::now();
    let error = policy
        .send(&SendOptions::new(), || client.get(stub.url("/x")))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed <= budget + Duration::from_millis(300),
        "took {elapsed:?} with a budget of {budget:?}"
    );
    assert!(
        count.load(Ordering::SeqCst) > 2,
        "retried only {} times",
        count.load(Ordering::SeqCst)
    );
    assert!(matches!(error.into_core(GOOGLE), CoreError::ProviderUnavailable { .. }));
}

#[tokio::test]
async fn a_server_too_slow_for_the_budget_is_unavailable_within_it() {
    let stub = serve(|_request| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        StubResponse::new(200)
    })
    .await;
    let budget = Duration::from_millis(800);
    let policy = HttpPolicy::default().with_total_timeout(budget);
    let client = policy.client().unwrap();
    let started = Instant::now();
    let error = policy
        .send(&SendOptions::new(), || client.get(stub.url("/x")))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() <= budget + Duration::from_millis(300),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(error, ProviderHttpError::Timeout(_)), "{error:?}");
    assert!(matches!(error.into_core(GOOGLE), CoreError::ProviderUnavailable { .. }));
}

#[tokio::test]
async fn an_unreachable_provider_is_unavailable() {
    // A port nobody listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let policy = policy().with_total_timeout(Duration::from_secs(2));
    let client = policy.client().unwrap();
    let error = policy
        .send(&SendOptions::new(), || client.get(format!("http://127.0.0.1:{port}/x")))
        .await
        .unwrap_err();
    assert!(matches!(error, ProviderHttpError::Connect(_)), "{error:?}");
    assert!(matches!(error.into_core(GOOGLE), CoreError::ProviderUnavailable { .. }));
}

#[tokio::test]
async fn a_post_is_not_repeated_after_a_500_unless_it_is_idempotent() {
    let (stub, count) = scripted(vec![StubResponse::new(500), StubResponse::new(201)]).await;
    let client = policy().client().unwrap();
    let error = policy()
        .send(&SendOptions::new(), || client.post(stub.url("/invitees")).body("{}"))
        .await
        .unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    // Not retried, but still a provider failure, not an unusable answer.
    assert!(matches!(error.into_core(GOOGLE), CoreError::ProviderUnavailable { .. }));

    let (stub, count) = scripted(vec![StubResponse::new(500), StubResponse::new(201)]).await;
    let reply = policy()
        .send(&SendOptions::new().idempotent(true), || {
            client.post(stub.url("/freeBusy")).body("{}")
        })
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(count.load(Ordering::SeqCst), 2);

    // A 429 means "not processed": a POST is retried after it too.
    let (stub, count) = scripted(vec![StubResponse::new(429), StubResponse::new(201)]).await;
    let reply = policy()
        .send(&SendOptions::new(), || client.post(stub.url("/invitees")).body("{}"))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (target, target_count) = scripted(vec![StubResponse::new(200)]).await;
    let location = target.url("/elsewhere");
    let (stub, _) = scripted(vec![StubResponse::new(302).header("Location", &location)]).await;
    let client = policy().client().unwrap();
    let reply = policy()
        .send(&SendOptions::new(), || client.get(stub.url("/x")))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(target_count.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_account_limiter_bounds_requests_in_flight() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (now, peak) = (in_flight.clone(), most.clone());
    let stub = serve(move |_request| {
        let (now, peak) = (now.clone(), peak.clone());
        async move {
            let current = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(current, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            StubResponse::new(200)
        }
    })
    .await;
    let limiter = AccountLimiter::new(4);
    let policy = policy();
    let client = policy.client().unwrap();
    let calls = (0..16).map(|_| {
        let (limiter, policy, client, url) = (limiter.clone(), policy.clone(), client.clone(), stub.url("/me/events"));
        tokio::spawn(async move {
            let options = SendOptions::new().with_limiter(&limiter, "ada@contoso.com");
            policy.send(&options, || client.get(&url)).await.map(|r| r.status)
        })
    });
    for call in futures_join(calls.collect()).await {
        assert_eq!(call.unwrap().unwrap(), StatusCode::OK);
    }
    assert_eq!(most.load(Ordering::SeqCst), 4, "the limit is 4 in flight per mailbox");
    assert_eq!(limiter.active_accounts(), 0);
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await);
    }
    results
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let (stub, _) = scripted(vec![StubResponse::new(200).body(vec![b'x'; 4096])]).await;
    let policy = policy().with_max_body_bytes(1024);
    let client = policy.client().unwrap();
    let error = policy
        .send(&SendOptions::new(), || client.get(stub.url("/x")))
        .await
        .unwrap_err();
    assert!(matches!(error, ProviderHttpError::Decode(_)), "{error:?}");
}

//! What the tests share: the in-memory store as credential and integration repository, experts,
//! clients and appointments, a strategy with short backoffs, and raw HTTP helpers that read and
//! write calendar objects behind the crate's back (to seed events and to check what it wrote).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use availability_core::domain::jiff::Timestamp;
use availability_core::domain::{
    Appointment, AppointmentId, AppointmentStatus, BookingPolicy, Client, ClientId, Expert, ExpertId, Interval, Secret,
    SyncStatus, Zone,
};
use availability_core::{CredentialRepository, InMemoryStore};
use provider_caldav::{CaldavBuilder, CaldavStrategy, ConnectError, ConnectedAccount, CALENDAR_TYPE, INTEGRATION};
use provider_http::HttpPolicy;

/// The default policy with short backoffs and a budget a loopback server meets easily.
pub fn quick_policy() -> HttpPolicy {
    HttpPolicy::default()
        .with_backoff(Duration::from_millis(5), Duration::from_millis(50))
        .with_total_timeout(Duration::from_secs(5))
}

pub fn expert(zone: &str, email: &str) -> Expert {
    Expert {
        id: ExpertId::new(),
        name: "Dr. Ada Example".into(),
        email: email.into(),
        timezone: Zone::new(zone).unwrap(),
        integration_type: INTEGRATION,
        booking_policy: BookingPolicy::default(),
    }
}

pub fn client() -> Client {
    Client {
        id: ClientId::new(),
        name: "Ann Lee".into(),
        email: "ann@example.com".into(),
        timezone: Zone::new("America/New_York").unwrap(),
    }
}

pub fn appointment(expert: &Expert, client: &Client, start: &str, minutes: i64) -> Appointment {
    let start: Timestamp = start.parse().unwrap();
    Appointment {
        id: AppointmentId::new(),
        expert_id: expert.id,
        client_id: client.id,
        start_time: start,
        end_time: start + availability_core::domain::jiff::SignedDuration::from_mins(minutes),
        status: AppointmentStatus::Confirmed,
        calendar_type: Some(CALENDAR_TYPE),
        external_calendar_event_id: None,
        scheduling_url: None,
        sync_status: SyncStatus::Pending,
        cancellation_reason: None,
        cancelled_by: None,
        sync_error: None,
        meeting_url: None,
        meeting_error: None,
        series_id: None,
        created_at: start,
        updated_at: start,
    }
}

pub fn interval(start: &str, end: &str) -> Interval {
    Interval::new(start.parse().unwrap(), end.parse().unwrap()).unwrap()
}

pub fn strategy(store: &Arc<InMemoryStore>, policy: HttpPolicy) -> Arc<CaldavStrategy> {
    Arc::new(
        CaldavBuilder::new(store.clone(), store.clone())
            .with_policy(policy)
            .with_marketplace_name(Some("Tutors".to_owned()))
            .with_appointment_base_url(Some("https://book.example.com".to_owned()))
            .build()
            .unwrap(),
    )
}

/// Connects as the server does: the strategy checks the credentials and discovers the
/// calendars, and only a success is stored (here in the in-memory store).
pub async fn connect(
    store: &InMemoryStore,
    strategy: &CaldavStrategy,
    expert: ExpertId,
    server_url: &str,
    username: &str,
    password: &str,
) -> Result<ConnectedAccount, ConnectError> {
    let account = strategy
        .connect(expert, server_url, username, Secret::new(password.to_owned()))
        .await?;
    store
        .save(expert, INTEGRATION, account.credential.to_credential())
        .await
        .unwrap();
    Ok(account)
}

/// Raw CalDAV access with Basic credentials (Xandikos ignores them).
#[derive(Clone)]
pub struct Raw {
    pub username: String,
    pub password: String,
    client: reqwest::Client,
}

impl Raw {
    pub fn new(username: &str, password: &str) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            client: reqwest::Client::new(),
        }
    }

    /// PUTs a calendar object (CRLF line ends) at `{calendar}{name}.ics`.
    pub async fn put(&self, calendar: &str, name: &str, body: &str) {
        let url = format!("{calendar}{name}.ics");
        let response = self
            .client
            .put(&url)
            .basic_auth(&self.username, Some(&self.password))
            .header("content-type", "text/calendar; charset=utf-8")
            .body(body.replace("\r\n", "\n").replace('\n', "\r\n"))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "PUT {url}: {}", response.status());
    }

    /// A plain GET: the body, or None for 404.
    pub async fn get(&self, url: &str) -> Option<String> {
        let response = self
            .client
            .get(url)
            .basic_auth(&self.username, Some(&self.password))
            .send()
            .await
            .unwrap();
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return None;
        }
        assert!(response.status().is_success(), "GET {url}: {}", response.status());
        Some(response.text().await.unwrap())
    }

    /// PUTs a calendar object (CRLF line ends) at `url`, as another client would (no
    /// precondition).
    pub async fn put_url(&self, url: &str, body: &str) {
        let response = self
            .client
            .put(url)
            .basic_auth(&self.username, Some(&self.password))
            .header("content-type", "text/calendar; charset=utf-8")
            .body(body.replace("\r\n", "\n").replace('\n', "\r\n"))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "PUT {url}: {}", response.status());
    }

    /// A plain DELETE, as another client would.
    pub async fn delete(&self, url: &str) {
        let response = self
            .client
            .delete(url)
            .basic_auth(&self.username, Some(&self.password))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "DELETE {url}: {}", response.status());
    }

    /// The calendar's CalendarServer CTag (PROPFIND Depth 0).
    pub async fn ctag(&self, calendar: &str) -> Option<String> {
        let response = self
            .client
            .request(reqwest::Method::from_bytes(b"PROPFIND").unwrap(), calendar)
            .basic_auth(&self.username, Some(&self.password))
            .header("depth", "0")
            .header("content-type", "application/xml")
            .body(r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><cs:getctag/></d:prop></d:propfind>"#)
            .send()
            .await
            .unwrap();
        let body = response.text().await.unwrap();
        let after = body.split("getctag>").nth(1)?;
        let value = after.split('<').next()?.trim();
        (!value.is_empty()).then(|| value.to_owned())
    }

    /// The hrefs of the calendar objects in a calendar (PROPFIND Depth 1).
    pub async fn objects(&self, calendar: &str) -> Vec<String> {
        let response = self
            .client
            .request(reqwest::Method::from_bytes(b"PROPFIND").unwrap(), calendar)
            .basic_auth(&self.username, Some(&self.password))
            .header("depth", "1")
            .header("content-type", "application/xml")
            .body(r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#)
            .send()
            .await
            .unwrap();
        let body = response.text().await.unwrap();
        body.split("href>")
            .filter_map(|part| part.strip_suffix("</").or_else(|| part.split("</").next()))
            .filter(|href| href.ends_with(".ics"))
            .map(str::to_owned)
            .collect()
    }
}

/// The (start, end) of the one event in an iCalendar text, read with the crate's expansion.
pub fn event_time(ics: &str) -> Option<Interval> {
    let context = provider_caldav::ExpansionContext {
        expert_zone: availability_core::domain::jiff::tz::TimeZone::UTC,
        expert_addresses: vec![],
        limits: Default::default(),
    };
    let all = provider_caldav::expand_occurrences(
        ics,
        &context,
        (
            "2000-01-01T00:00:00Z".parse().unwrap(),
            "2100-01-01T00:00:00Z".parse().unwrap(),
        ),
    )
    .ok()?;
    let first = all.first()?;
    Interval::new(first.start, first.end).ok()
}

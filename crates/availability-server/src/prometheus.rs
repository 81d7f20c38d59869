//! Prometheus metrics (`GET /metrics`, docs/api.md "Metrics"): HTTP requests by route pattern
//! and status with latency histograms, bookings by outcome, provider calls by provider,
//! operation and outcome with latency (every strategy is wrapped in [`Instrumented`]), and, read
//! from the database when /metrics is asked (so every server process reports the same), the
//! calendar-sync outbox's depth and oldest age and the integrations by status.
//!
//! The `metrics` facade records into one recorder per process: that is how the crate works (its
//! macros reach a process-wide recorder), so the recorder is installed once here, whichever
//! server of the process binds first.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use async_trait::async_trait;
use availability_core::domain::{Appointment, CalendarType, Client, Expert, IntegrationType, Interval, Slot};
use availability_core::engine::SlotQuery;
use availability_core::{
    AvailabilityStrategy, BusyTimeSource, ChangeBatch, ChangeFeed, ChannelRequest, CoreError, EventWriter,
    ExpertCalendar, ExternalEvent, Meeting, OpenedChannel, ProviderBooking, PushChannels, PushDelivery, Scheduler,
    VideoMeetings,
};
use availability_domain::jiff::Timestamp;
use availability_store::Store;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: from a cached slot query to a provider timing out.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The name of the calendar-sync outbox in the `queue` label.
const SYNC_QUEUE: &str = "calendar_sync";

/// The name of the outgoing-webhook delivery outbox in the `queue` label.
const WEBHOOK_QUEUE: &str = "webhooks";

/// The process's recorder, installed on first use.
pub(crate) fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let builder = match builder.set_buckets(BUCKETS) {
            Ok(with_buckets) => with_buckets,
            // Only an empty list is refused; BUCKETS is not empty.
            Err(_) => PrometheusBuilder::new(),
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            // An embedder installed a recorder of its own: ours stays empty, theirs gets the data.
            tracing::warn!("a metrics recorder was installed already: /metrics shows only the database's gauges");
        }
        describe();
        handle
    })
}

fn describe() {
    describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by method, route pattern and status"
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by method, route pattern and status"
    );
    describe_counter!(
        "bookings_total",
        "Booking requests (POST /api/v1/appointments), by outcome: created, pending, or the error code"
    );
    describe_counter!(
        "provider_calls_total",
        "Calls to calendar providers, by provider, operation and outcome"
    );
    describe_histogram!(
        "provider_call_duration_seconds",
        Unit::Seconds,
        "Duration of calls to calendar providers, by provider, operation and outcome"
    );
    describe_gauge!("outbox_jobs", "Jobs waiting in an outbox, by queue");
    describe_gauge!(
        "outbox_oldest_job_age_seconds",
        Unit::Seconds,
        "Age of the oldest job waiting in an outbox, by queue (0 when empty)"
    );
    describe_gauge!("integrations", "Calendar integrations, by integration type and status");
    // Reported from the start, so that a rate over the first booking sees it rise from 0.
    for outcome in ["created", "pending"] {
        counter!("bookings_total", "outcome" => outcome).increment(0);
    }
}

/// Records every request: by method, route pattern (never the raw path, which holds ids and
/// secrets) and status.
pub(crate) async fn record_http(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = match req.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m.to_owned(),
        _ => "other".to_owned(),
    };
    let answer = next.call(req).await;
    let (route, status) = match &answer {
        Ok(res) => (
            res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned()),
            res.status().as_u16(),
        ),
        Err(e) => ("unmatched".to_owned(), e.as_response_error().status_code().as_u16()),
    };
    let labels = [("method", method), ("route", route), ("status", status.to_string())];
    counter!("http_requests_total", &labels).increment(1);
    histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    answer
}

/// Counts a booking request's outcome.
pub(crate) fn booking(outcome: &'static str) {
    counter!("bookings_total", "outcome" => outcome).increment(1);
}

/// What the database says, for the gauges; and which integration label pairs were reported
/// before, so that a pair with no integrations left reads 0 instead of its last count.
#[derive(Default)]
pub(crate) struct DatabaseGauges {
    seen: Mutex<HashSet<(String, String)>>,
}

impl DatabaseGauges {
    async fn refresh(&self, store: &Store) {
        match store.sync_queue().await {
            Ok((depth, oldest)) => {
                gauge!("outbox_jobs", "queue" => SYNC_QUEUE).set(depth as f64);
                let age = oldest.map_or(0.0, |t| (Timestamp::now().as_second() - t.as_second()).max(0) as f64);
                gauge!("outbox_oldest_job_age_seconds", "queue" => SYNC_QUEUE).set(age);
            }
            Err(e) => tracing::warn!("metrics: reading the outbox: {e}"),
        }
        match store.webhook_queue().await {
            Ok((depth, oldest)) => {
                gauge!("outbox_jobs", "queue" => WEBHOOK_QUEUE).set(depth as f64);
                let age = oldest.map_or(0.0, |t| (Timestamp::now().as_second() - t.as_second()).max(0) as f64);
                gauge!("outbox_oldest_job_age_seconds", "queue" => WEBHOOK_QUEUE).set(age);
            }
            Err(e) => tracing::warn!("metrics: reading the webhook queue: {e}"),
        }
        match store.integration_counts().await {
            Ok(counts) => {
                let now: HashSet<(String, String)> = counts.iter().map(|(t, s, _)| (t.clone(), s.clone())).collect();
                let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                for (integration, status) in seen.difference(&now) {
                    gauge!("integrations", "integration_type" => integration.clone(), "status" => status.clone())
                        .set(0.0);
                }
                for (integration, status, n) in counts {
                    gauge!("integrations", "integration_type" => integration, "status" => status).set(n as f64);
                }
                seen.extend(now);
            }
            Err(e) => tracing::warn!("metrics: reading the integrations: {e}"),
        }
    }

    /// The Prometheus text, with the database's gauges read now.
    pub(crate) async fn render(&self, store: &Store) -> String {
        let handle = handle();
        self.refresh(store).await;
        handle.run_upkeep();
        handle.render()
    }
}

/// A strategy whose provider calls are counted and timed; it has exactly the parts of the
/// strategy it wraps.
#[derive(Debug)]
pub(crate) struct Instrumented(Arc<dyn AvailabilityStrategy>);

impl Instrumented {
    /// Wraps a strategy.
    pub(crate) fn wrap(strategy: Arc<dyn AvailabilityStrategy>) -> Arc<dyn AvailabilityStrategy> {
        // The recorder must exist before the first call is recorded.
        handle();
        Arc::new(Self(strategy))
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl std::future::Future<Output = Result<T, CoreError>>,
    ) -> Result<T, CoreError> {
        let started = Instant::now();
        let result = call.await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(CoreError::ProviderUnavailable { .. }) => "unavailable",
            Err(CoreError::NeedsReauth { .. }) => "needs_reauth",
            Err(CoreError::ProviderResponse { .. }) => "bad_response",
            Err(CoreError::ProviderRefused { .. }) => "refused",
            Err(_) => "error",
        };
        let labels = [
            ("provider", self.0.integration_type().as_str().to_owned()),
            ("operation", operation.to_owned()),
            ("outcome", outcome.to_owned()),
        ];
        counter!("provider_calls_total", &labels).increment(1);
        histogram!("provider_call_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
        result
    }

    fn missing(&self, operation: &'static str) -> CoreError {
        CoreError::Unsupported {
            integration: self.0.integration_type(),
            operation,
        }
    }
}

impl AvailabilityStrategy for Instrumented {
    fn integration_type(&self) -> IntegrationType {
        self.0.integration_type()
    }

    fn display_name(&self) -> &'static str {
        self.0.display_name()
    }

    fn calendar_type(&self) -> Option<CalendarType> {
        self.0.calendar_type()
    }

    fn busy_time(&self) -> Option<&dyn BusyTimeSource> {
        self.0.busy_time().map(|_| self as &dyn BusyTimeSource)
    }

    fn event_writer(&self) -> Option<&dyn EventWriter> {
        self.0.event_writer().map(|_| self as &dyn EventWriter)
    }

    fn scheduler(&self) -> Option<&dyn Scheduler> {
        self.0.scheduler().map(|_| self as &dyn Scheduler)
    }

    fn video(&self) -> Option<&dyn VideoMeetings> {
        self.0.video().map(|_| self as &dyn VideoMeetings)
    }

    fn change_feed(&self) -> Option<&dyn ChangeFeed> {
        self.0.change_feed().map(|_| self as &dyn ChangeFeed)
    }

    fn push(&self) -> Option<&dyn PushChannels> {
        self.0.push().map(|_| self as &dyn PushChannels)
    }
}

#[async_trait]
impl PushChannels for Instrumented {
    async fn open_channel(&self, expert: &Expert, request: &ChannelRequest) -> Result<OpenedChannel, CoreError> {
        let inner = self.0.push().ok_or_else(|| self.missing("open_channel"))?;
        self.timed("open_channel", inner.open_channel(expert, request)).await
    }

    async fn close_channel(&self, expert: &Expert, channel_id: &str, resource_id: &str) -> Result<(), CoreError> {
        let inner = self.0.push().ok_or_else(|| self.missing("close_channel"))?;
        self.timed("close_channel", inner.close_channel(expert, channel_id, resource_id))
            .await
    }

    async fn renew_channel(
        &self,
        expert: &Expert,
        channel_id: &str,
        ttl_seconds: i64,
    ) -> Result<Option<Timestamp>, CoreError> {
        let inner = self.0.push().ok_or_else(|| self.missing("renew_channel"))?;
        self.timed("renew_channel", inner.renew_channel(expert, channel_id, ttl_seconds))
            .await
    }

    fn read_delivery(&self, request: &availability_core::WebhookRequest<'_>) -> Option<PushDelivery> {
        self.0.push()?.read_delivery(request)
    }

    fn answers_accepted(&self) -> bool {
        self.0.push().is_some_and(|p| p.answers_accepted())
    }
}

#[async_trait]
impl ChangeFeed for Instrumented {
    async fn changes(&self, expert: &Expert, cursor: Option<&str>) -> Result<ChangeBatch, CoreError> {
        let inner = self.0.change_feed().ok_or_else(|| self.missing("changes"))?;
        self.timed("changes", inner.changes(expert, cursor)).await
    }

    fn poll_interval(&self) -> Option<std::time::Duration> {
        self.0.change_feed().and_then(|f| f.poll_interval())
    }
}

#[async_trait]
impl VideoMeetings for Instrumented {
    async fn meeting(&self, expert: &Expert, appointment: &Appointment) -> Result<Meeting, CoreError> {
        let inner = self.0.video().ok_or_else(|| self.missing("meeting"))?;
        self.timed("meeting", inner.meeting(expert, appointment)).await
    }
}

#[async_trait]
impl BusyTimeSource for Instrumented {
    async fn busy_intervals(&self, expert: &Expert, window: Interval) -> Result<Vec<Interval>, CoreError> {
        let inner = self.0.busy_time().ok_or_else(|| self.missing("busy_intervals"))?;
        self.timed("busy_intervals", inner.busy_intervals(expert, window)).await
    }
}

#[async_trait]
impl EventWriter for Instrumented {
    async fn create_event(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError> {
        let inner = self.0.event_writer().ok_or_else(|| self.missing("create_event"))?;
        self.timed("create_event", inner.create_event(expert, client, appointment))
            .await
    }

    async fn update_event(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError> {
        let inner = self.0.event_writer().ok_or_else(|| self.missing("update_event"))?;
        self.timed("update_event", inner.update_event(expert, client, appointment))
            .await
    }

    async fn delete_event(&self, expert: &Expert, appointment: &Appointment) -> Result<(), CoreError> {
        let inner = self.0.event_writer().ok_or_else(|| self.missing("delete_event"))?;
        self.timed("delete_event", inner.delete_event(expert, appointment))
            .await
    }
}

#[async_trait]
impl Scheduler for Instrumented {
    async fn available_slots(&self, calendar: &ExpertCalendar, query: &SlotQuery) -> Result<Vec<Slot>, CoreError> {
        let inner = self.0.scheduler().ok_or_else(|| self.missing("available_slots"))?;
        self.timed("available_slots", inner.available_slots(calendar, query))
            .await
    }

    async fn book(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ProviderBooking, CoreError> {
        let inner = self.0.scheduler().ok_or_else(|| self.missing("book"))?;
        self.timed("book", inner.book(expert, client, appointment)).await
    }

    async fn cancel(&self, expert: &Expert, appointment: &Appointment) -> Result<(), CoreError> {
        let inner = self.0.scheduler().ok_or_else(|| self.missing("cancel"))?;
        self.timed("cancel", inner.cancel(expert, appointment)).await
    }
}

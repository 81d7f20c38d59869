//! The shapes of the API's answers as the OpenAPI document describes them. The handlers write
//! domain types (which stay free of any web crate) or JSON they build themselves, so these mirror
//! types are never built: they exist to be derived into schemas. `tests/tests/openapi.rs` and the
//! schemathesis run (`scripts/schemathesis.sh`, response schema conformance) check the server's
//! real answers against them, so a mirror that drifts from what a handler writes fails CI.
//!
//! Request bodies are not here: they are the handlers' own `Deserialize` structs, derived in place.

// Never constructed (see above): only their derived schemas are used.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Every error answer: `{"error":{"code","message"}}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorAnswer {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// A snake_case code; each route lists the codes it answers with.
    #[schema(example = "not_found")]
    code: String,
    /// For a person, in the server's own words.
    message: String,
}

/// An expert.
#[derive(Serialize, ToSchema)]
pub(crate) struct Expert {
    id: Uuid,
    name: String,
    email: String,
    /// IANA time zone.
    #[schema(example = "Europe/Berlin")]
    timezone: String,
    /// The registered provider whose availability applies (`manual`: hours typed in).
    #[schema(example = "manual")]
    integration_type: String,
    booking_policy: BookingPolicy,
}

/// A client.
#[derive(Serialize, ToSchema)]
pub(crate) struct Client {
    id: Uuid,
    name: String,
    email: String,
    /// IANA time zone.
    timezone: String,
}

/// How an expert's slots are cut and guarded.
#[derive(Serialize, ToSchema)]
pub(crate) struct BookingPolicy {
    #[schema(minimum = 5, maximum = 1440)]
    slot_duration_minutes: u32,
    #[schema(minimum = 5, maximum = 1440)]
    slot_interval_minutes: u32,
    #[schema(maximum = 1440)]
    buffer_before_minutes: u32,
    #[schema(maximum = 1440)]
    buffer_after_minutes: u32,
    #[schema(maximum = 525600)]
    minimum_notice_minutes: u32,
    #[schema(minimum = 1, maximum = 730)]
    booking_horizon_days: u32,
    /// Left out while 0.
    max_series_occurrences: Option<u32>,
    /// Left out while there is no limit.
    max_bookings_per_day: Option<u32>,
    /// Left out while there is no limit.
    max_bookings_per_week: Option<u32>,
    /// Left out while there is no limit.
    max_bookings_per_month: Option<u32>,
    /// Left out while there is no limit.
    max_booked_minutes_per_day: Option<u32>,
    /// Left out while `none`.
    video: Option<Video>,
    /// The expert's own room, with `video: static`.
    video_url: Option<String>,
}

/// Where video meetings come from.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Video {
    None,
    Provider,
    Static,
}

/// An expert's weekly hours and date overrides.
#[derive(Serialize, ToSchema)]
pub(crate) struct Availability {
    /// IANA time zone the local times are in.
    timezone: String,
    rules: Vec<WeeklyRule>,
    overrides: Vec<DateOverride>,
}

/// A named schedule (availability template): weekly hours and date overrides in its zone.
#[derive(Serialize, ToSchema)]
pub(crate) struct NamedSchedule {
    id: Uuid,
    /// 1-100 characters.
    #[schema(example = "Summer")]
    name: String,
    /// IANA time zone the local times are in (the default schedule's is the expert's).
    timezone: String,
    rules: Vec<WeeklyRule>,
    overrides: Vec<DateOverride>,
    /// Exactly one of an expert's schedules is the default: it applies on every date no period
    /// covers, and GET/PUT availability show and change it.
    is_default: bool,
}

/// An expert's schedules, the default first, then in the order they were made.
#[derive(Serialize, ToSchema)]
pub(crate) struct Schedules {
    schedules: Vec<NamedSchedule>,
}

/// Dates (inclusive, in the expert's zone) on which a schedule applies instead of the default.
#[derive(Serialize, ToSchema)]
pub(crate) struct SchedulePeriod {
    schedule_id: Uuid,
    #[schema(format = Date, example = "2027-08-01")]
    from_date: String,
    #[schema(format = Date, example = "2027-08-31")]
    to_date: String,
}

/// An expert's periods, by date.
#[derive(Serialize, ToSchema)]
pub(crate) struct SchedulePeriods {
    periods: Vec<SchedulePeriod>,
}

/// Hours on one day of the week (`is_available` false cuts time out, e.g. a break).
#[derive(Serialize, ToSchema)]
pub(crate) struct WeeklyRule {
    /// 0 = Sunday.
    #[schema(minimum = 0, maximum = 6)]
    day_of_week: u8,
    #[schema(example = "09:00")]
    start_time: String,
    #[schema(example = "17:00")]
    end_time: String,
    is_available: bool,
}

/// The hours of one date, instead of the weekly rules (no windows: a day off).
#[derive(Serialize, ToSchema)]
pub(crate) struct DateOverride {
    #[schema(format = Date, example = "2026-12-24")]
    date: String,
    windows: Vec<TimeWindow>,
}

/// Local times, "HH:MM".
#[derive(Serialize, ToSchema)]
pub(crate) struct TimeWindow {
    start_time: String,
    end_time: String,
}

/// Bookable slots.
#[derive(Serialize, ToSchema)]
pub(crate) struct Slots {
    expert_id: Uuid,
    duration_minutes: i64,
    /// The zone the times are written in, when one was asked for.
    timezone: Option<String>,
    slots: Vec<Slot>,
}

/// One bookable slot, [start, end).
#[derive(Serialize, ToSchema)]
pub(crate) struct Slot {
    #[schema(format = DateTime)]
    start: String,
    #[schema(format = DateTime)]
    end: String,
}

/// Why a time is or is not bookable.
#[derive(Serialize, ToSchema)]
pub(crate) struct Explanation {
    bookable: bool,
    reasons: Vec<Reason>,
}

/// One reason a time is not a slot.
#[derive(Serialize, ToSchema)]
pub(crate) struct Reason {
    /// `outside_hours`, `break`, `day_off`, `special_hours`, `calendar_busy`, `appointment`,
    /// `buffer`, `minimum_notice`, `beyond_horizon`, `limit_reached`, `held`, `not_on_grid`,
    /// `in_past`, `invalid_length`.
    code: String,
    message: String,
    #[schema(format = DateTime)]
    from: String,
    #[schema(format = DateTime)]
    to: String,
    detail: Option<String>,
}

/// An appointment.
#[derive(Serialize, ToSchema)]
pub(crate) struct Appointment {
    id: Uuid,
    expert_id: Uuid,
    client_id: Uuid,
    #[schema(format = DateTime)]
    start_time: String,
    #[schema(format = DateTime)]
    end_time: String,
    status: AppointmentStatus,
    /// The calendar it is written to (`google`, `office365`, `calendly`, ...), null for hours
    /// typed in.
    calendar_type: Option<String>,
    external_calendar_event_id: Option<String>,
    /// Where the client finishes a pending booking.
    scheduling_url: Option<String>,
    sync_status: SyncStatus,
    sync_error: Option<String>,
    meeting_url: Option<String>,
    meeting_error: Option<String>,
    cancellation_reason: Option<String>,
    /// Who cancelled it (null unless cancelled, and for appointments cancelled before this was
    /// recorded).
    cancelled_by: Option<CancelledBy>,
    /// The series it is an occurrence of; left out otherwise.
    series_id: Option<Uuid>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// What `POST /api/v1/appointments` made: one appointment, or a series.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum Booked {
    /// One booking.
    Appointment(Box<Appointment>),
    /// A recurring booking (`recurrence` in the request).
    Series(SeriesBooked),
}

/// A recurring booking as booked.
#[derive(Serialize, ToSchema)]
pub(crate) struct SeriesBooked {
    series_id: Uuid,
    /// The occurrences booked, in order.
    appointments: Vec<Appointment>,
    /// With `on_conflict: skip`: the occurrences left out, and why.
    skipped: Vec<SeriesConflict>,
}

/// An occurrence of a series that cannot be booked.
#[derive(Serialize, ToSchema)]
pub(crate) struct SeriesConflict {
    #[schema(format = DateTime)]
    start_time: String,
    #[schema(format = DateTime)]
    end_time: String,
    /// `slot_taken`, `slot_unavailable` or `limit_reached`.
    code: String,
}

/// How a series repeats.
#[derive(Serialize, ToSchema)]
pub(crate) struct RecurrenceAnswer {
    #[schema(pattern = "^(daily|weekly|monthly)$")]
    frequency: String,
    interval: u32,
    count: Option<u32>,
    #[schema(format = DateTime)]
    until: Option<String>,
}

/// A series and all its appointments.
#[derive(Serialize, ToSchema)]
pub(crate) struct SeriesAnswer {
    id: Uuid,
    expert_id: Uuid,
    client_id: Uuid,
    recurrence: RecurrenceAnswer,
    #[schema(format = DateTime)]
    created_at: String,
    /// Every occurrence, cancelled ones too, in order.
    appointments: Vec<Appointment>,
}

/// An outgoing webhook's event type.
#[derive(Serialize, ToSchema)]
pub(crate) enum WebhookEventName {
    #[serde(rename = "appointment.created")]
    AppointmentCreated,
    #[serde(rename = "appointment.rescheduled")]
    AppointmentRescheduled,
    #[serde(rename = "appointment.cancelled")]
    AppointmentCancelled,
    #[serde(rename = "appointment.confirmed")]
    AppointmentConfirmed,
    #[serde(rename = "appointment.sync_failed")]
    AppointmentSyncFailed,
    #[serde(rename = "series.created")]
    SeriesCreated,
    #[serde(rename = "integration.connected")]
    IntegrationConnected,
    #[serde(rename = "integration.disconnected")]
    IntegrationDisconnected,
    #[serde(rename = "integration.needs_reauth")]
    IntegrationNeedsReauth,
}

/// Where an appointment stands.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AppointmentStatus {
    Confirmed,
    Cancelled,
    Pending,
}

/// Whether the appointment's calendar event is up to date.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SyncStatus {
    Pending,
    Synced,
    Failed,
    NotApplicable,
    Conflict,
}

/// Who cancelled an appointment: its client, its expert, the platform (admin token), the
/// expert's calendar (its event was deleted there), the provider that booked it (Calendly), or the
/// server (an unused scheduling link expired).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CancelledBy {
    Client,
    Expert,
    Admin,
    Calendar,
    Provider,
    System,
}

/// Appointments sorted by start.
#[derive(Serialize, ToSchema)]
pub(crate) struct AppointmentList {
    appointments: Vec<Appointment>,
}

/// A token as it is listed (never its secret).
#[derive(Serialize, ToSchema)]
pub(crate) struct Token {
    id: Uuid,
    role: Role,
    /// The expert or client it speaks for; null for admin.
    subject_id: Option<Uuid>,
    #[schema(format = DateTime)]
    created_at: String,
    /// Null: never.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

/// A new token: the secret is shown only here.
#[derive(Serialize, ToSchema)]
pub(crate) struct IssuedToken {
    id: Uuid,
    /// The bearer token, shown once.
    token: String,
    role: Role,
    subject_id: Option<Uuid>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

/// Who a token or session speaks for.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Role {
    Admin,
    Expert,
    Client,
}

/// Tokens, oldest first.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenList {
    tokens: Vec<Token>,
}

/// Every registered provider, in registration order.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProviderList {
    providers: Vec<ProviderEntry>,
}

/// A registered calendar provider, as the pages draw it.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProviderEntry {
    #[schema(example = "google_calendar")]
    integration_type: String,
    display_name: String,
    description: String,
    calendar_type: Option<String>,
    connect: ConnectMethod,
    /// Whether an OAuth connect is configured on this server.
    oauth: bool,
    credential_fields: Vec<CredentialField>,
    capabilities: Capabilities,
    features: Features,
    available: bool,
    /// Why it is not available on this server.
    unavailable_reason: Option<String>,
}

/// How a provider is connected.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ConnectMethod {
    Oauth,
    Credentials,
    Token,
    None,
}

/// A field of a provider's connect form.
#[derive(Serialize, ToSchema)]
pub(crate) struct CredentialField {
    name: String,
    label: String,
    secret: bool,
    placeholder: Option<String>,
    presets: Option<Vec<Preset>>,
    help: Option<String>,
}

/// A ready-made value of a credential field.
#[derive(Serialize, ToSchema)]
pub(crate) struct Preset {
    label: String,
    value: String,
}

/// What a provider does.
#[derive(Serialize, ToSchema)]
pub(crate) struct Capabilities {
    reads_busy_time: bool,
    writes_events: bool,
    provider_slots: bool,
    push: bool,
    video: bool,
}

/// Which settings routes a provider offers.
#[derive(Serialize, ToSchema)]
pub(crate) struct Features {
    calendars: bool,
    event_types: bool,
    working_hours: bool,
}

/// One integration of an expert; a provider may add fields of its own (Calendly: `event_type`,
/// `event_type_uri`).
#[derive(Serialize, ToSchema)]
pub(crate) struct Integration {
    #[serde(rename = "type")]
    #[schema(example = "google_calendar")]
    kind: String,
    status: IntegrationStatus,
    /// Whether it is the expert's active integration.
    active: bool,
    /// The provider account, where the provider reveals it.
    account: Option<String>,
    #[schema(format = DateTime)]
    connected_at: Option<String>,
    #[schema(format = DateTime)]
    last_synced_at: Option<String>,
    last_error: Option<String>,
    #[schema(format = DateTime)]
    last_error_at: Option<String>,
    /// Only for a calendar that sends push notifications (Google).
    #[serde(skip_serializing_if = "Option::is_none")]
    push: Option<PushState>,
}

/// The push channel of an integration's calendar.
#[derive(Serialize, ToSchema)]
pub(crate) struct PushState {
    /// `active`, `renewing` (being opened or replaced), `unavailable` (push off, or not the active
    /// calendar), `failed` (the grant is gone).
    #[schema(example = "active")]
    state: String,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    #[schema(format = DateTime)]
    last_notification_at: Option<String>,
    /// Why push is unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Whether an integration is usable.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum IntegrationStatus {
    Connected,
    Disconnected,
    NeedsReauth,
}

/// Where the expert's browser goes to connect with OAuth.
#[derive(Serialize, ToSchema)]
pub(crate) struct OAuthConnect {
    /// The provider's authorization URL (for the browser that called connect).
    authorization_url: String,
    /// A single-use link for another browser (10 minutes).
    start_url: String,
}

/// A provider's calendars of the expert.
#[derive(Serialize, ToSchema)]
pub(crate) struct CalendarList {
    calendars: Vec<Calendar>,
}

/// One calendar of the connected account.
#[derive(Serialize, ToSchema)]
pub(crate) struct Calendar {
    id: String,
    summary: String,
    primary: bool,
    blocks_time: bool,
    receives_events: bool,
    read_only: bool,
    access_role: Option<String>,
    time_zone: Option<String>,
}

/// A scheduler's active event types.
#[derive(Serialize, ToSchema)]
pub(crate) struct EventTypeList {
    event_types: Vec<EventType>,
}

/// One event type.
#[derive(Serialize, ToSchema)]
pub(crate) struct EventType {
    uri: String,
    name: String,
    duration_minutes: u32,
    scheduling_url: Option<String>,
}

/// A provider's answer to a webhook delivery.
#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookAnswer {
    /// `ok`, `unchanged` or `ignored`.
    status: String,
    /// Why it was ignored.
    reason: Option<String>,
}

/// The address of an expert's calendar feed (the secret is in it; shown once).
#[derive(Serialize, ToSchema)]
pub(crate) struct FeedUrl {
    #[schema(example = "https://book.example.com/ics/4f1c.../9a3e....ics")]
    url: String,
}

/// An outgoing webhook endpoint (never its secret, except in [`CreatedWebhookEndpoint`]).
#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookEndpoint {
    id: Uuid,
    url: String,
    events: Vec<WebhookEventName>,
    enabled: bool,
    /// Why the server disabled it (a 410 from the receiver).
    disabled_reason: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// A new endpoint, with its signing secret (shown only here).
#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedWebhookEndpoint {
    id: Uuid,
    url: String,
    events: Vec<String>,
    enabled: bool,
    disabled_reason: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// `whsec_<base64>`, the Standard Webhooks signing secret.
    secret: String,
}

/// Webhook endpoints, oldest first.
#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookEndpointList {
    webhook_endpoints: Vec<WebhookEndpoint>,
}

/// One delivery of an event to an endpoint.
#[derive(Serialize, ToSchema)]
pub(crate) struct Delivery {
    id: i64,
    event_type: String,
    webhook_id: String,
    appointment_id: Option<Uuid>,
    status: DeliveryStatus,
    attempts: i64,
    last_error: Option<String>,
    last_status_code: Option<i64>,
    /// At most the first 1 KB of the receiver's last answer.
    last_response_body: Option<String>,
    #[schema(format = DateTime)]
    next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    delivered_at: Option<String>,
    #[schema(format = DateTime)]
    queued_at: String,
}

/// Where a delivery stands.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

/// Deliveries, newest first.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryList {
    deliveries: Vec<Delivery>,
}

/// The signed-in user of a browser session.
#[derive(Serialize, ToSchema)]
pub(crate) struct Session {
    role: Role,
    expert_id: Option<Uuid>,
    client_id: Option<Uuid>,
    name: String,
    /// What `X-CSRF-Token` must carry on the session's writes.
    csrf_token: String,
    #[schema(format = DateTime)]
    expires_at: String,
}

/// Liveness or readiness.
#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    #[schema(example = "ok")]
    status: String,
    /// `sqlite` or `postgres` (readiness only).
    database: Option<String>,
}

/// A provider's credential fields (`credential_fields` of `GET /api/v1/providers`), by name.
#[derive(Serialize, ToSchema)]
pub(crate) struct CredentialFields(BTreeMap<String, serde_json::Value>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_webhook_events_are_the_stores() {
        let schema = serde_json::to_value(<WebhookEventName as utoipa::PartialSchema>::schema()).unwrap();
        let documented: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let known: Vec<&str> = availability_store::WebhookEvent::ALL
            .iter()
            .map(|e| e.as_str())
            .collect();
        assert_eq!(documented, known);
    }
}

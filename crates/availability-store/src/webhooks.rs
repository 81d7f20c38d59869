//! Outgoing webhooks: the endpoints an admin registers (their signing secrets encrypted at rest
//! like credentials) and the delivery outbox. An event is written here in the same transaction
//! as the change it reports, one row per subscribed, enabled endpoint; the server's workers claim
//! due rows with leases (as sync jobs are claimed), so any number of server processes share the
//! work and a crash loses nothing. A delivery of an appointment's event is claimed only when no
//! earlier event of the same appointment to the same endpoint is still pending, so each receiver
//! sees an appointment's events in order.

use std::fmt;
use std::str::FromStr;

use availability_domain::jiff::Timestamp;
use availability_domain::{Appointment, IntegrationType, Secret, Series};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use diesel::prelude::*;
use ring::rand::SecureRandom;

use crate::crypto::{CryptoError, Keyring};
use crate::db::{db_run, Conn};
use crate::schema::{webhook_deliveries as wd, webhook_endpoints as we};
use crate::StoreError;

/// How long a claimed delivery is reserved for its worker: well beyond the 10 s a receiver is
/// given to answer.
pub const LEASE_SECONDS: i64 = 60;

macro_rules! event_types {
    ($($(#[$doc:meta])* $variant:ident = $text:literal),+ $(,)?) => {
        /// What an outgoing webhook reports.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum WebhookEvent {
            $($(#[$doc])* $variant),+
        }

        impl WebhookEvent {
            /// Every event, in the order the API lists them.
            pub const ALL: &'static [WebhookEvent] = &[$(WebhookEvent::$variant),+];

            /// The event's name (`type` in the body, and in an endpoint's `events`).
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl FromStr for WebhookEvent {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(format!("unknown event {s:?}")),
                }
            }
        }
    };
}

event_types!(
    /// An appointment was stored (confirmed, or pending a scheduler's link).
    AppointmentCreated = "appointment.created",
    /// A confirmed appointment moved to another time.
    AppointmentRescheduled = "appointment.rescheduled",
    /// An appointment was cancelled (here, by the provider, or because its link went unused).
    AppointmentCancelled = "appointment.cancelled",
    /// A pending appointment was confirmed.
    AppointmentConfirmed = "appointment.confirmed",
    /// The appointment's calendar sync failed for good (or a provider's booking is held
    /// unconfirmed because it overlaps another appointment).
    AppointmentSyncFailed = "appointment.sync_failed",
    /// A recurring series of appointments was booked (besides each occurrence's own
    /// `appointment.created`).
    SeriesCreated = "series.created",
    /// An expert connected an integration.
    IntegrationConnected = "integration.connected",
    /// An expert's integration was disconnected.
    IntegrationDisconnected = "integration.disconnected",
    /// An integration's grant is gone: the expert must connect again.
    IntegrationNeedsReauth = "integration.needs_reauth",
);

impl fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Its id (a UUID).
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// The event names it subscribes to.
    pub events: Vec<String>,
    /// Whether events are written for it and delivered to it.
    pub enabled: bool,
    /// Why the server disabled it (a 410 answer), if it did.
    pub disabled_reason: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A change to an endpoint; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    /// A new URL (already checked by the caller).
    pub url: Option<String>,
    /// New subscriptions (already checked by the caller).
    pub events: Option<Vec<String>>,
    /// Turn it on or off; turning it on clears `disabled_reason`.
    pub enabled: Option<bool>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up: retries ran out, or the receiver answered 410.
    Failed,
}

impl DeliveryStatus {
    /// The name in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for DeliveryStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "failed" => Ok(Self::Failed),
            other => Err(crate::rows::corrupt("delivery status", other)),
        }
    }
}

/// One event to one endpoint, as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id (its place in the outbox).
    pub id: i64,
    /// The endpoint.
    pub endpoint_id: String,
    /// The event's name.
    pub event_type: String,
    /// The webhook-id header: the same for every attempt and every endpoint of one event.
    pub webhook_id: String,
    /// The appointment the event is about, if any.
    pub appointment_id: Option<String>,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The HTTP status of the last answer, if there was one.
    pub last_status_code: Option<i32>,
    /// The start of the last answer's body (at most 1 KB).
    pub last_response: Option<String>,
    /// When the next attempt is due (pending only), Unix seconds.
    pub next_attempt_at: Option<i64>,
    /// When the receiver took it, Unix seconds.
    pub delivered_at: Option<i64>,
    /// When it was queued (or last retried by hand), Unix seconds.
    pub queued_at: i64,
}

/// A delivery a worker holds, with what it needs to send it.
#[derive(Debug)]
pub struct ClaimedDelivery {
    /// The delivery's id (its place in the outbox).
    pub seq: i64,
    /// The endpoint.
    pub endpoint_id: String,
    /// Where to POST.
    pub url: String,
    /// The endpoint's secret, `whsec_<base64>`.
    pub secret: Secret<String>,
    /// The webhook-id header.
    pub webhook_id: String,
    /// The event's name.
    pub event_type: String,
    /// The exact body to sign and send.
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
    /// When it was queued (or last retried by hand), Unix seconds: retries stop 3 days later.
    pub first_queued_at: i64,
    /// This claim's token (proves the lease is still ours when finishing).
    pub claim_token: String,
}

/// What came of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered 2xx.
    Delivered {
        /// Its status.
        status_code: u16,
        /// The start of its body (at most 1 KB).
        response: String,
    },
    /// Try again after `retry_in` seconds.
    Retry {
        /// Why it failed, in the server's words.
        error: String,
        /// The answer's status, if there was an answer.
        status_code: Option<u16>,
        /// The start of its body (at most 1 KB).
        response: Option<String>,
        /// Seconds until the next attempt.
        retry_in: i64,
    },
    /// Stop trying; with `disable_endpoint`, the endpoint is disabled with that reason too.
    GiveUp {
        /// Why it failed, in the server's words.
        error: String,
        /// The answer's status, if there was an answer.
        status_code: Option<u16>,
        /// The start of its body (at most 1 KB).
        response: Option<String>,
        /// Disable the endpoint (a 410 answer), with this reason.
        disable_endpoint: Option<String>,
    },
}

/// Makes a new endpoint secret: `whsec_` and the base64 of 32 random bytes.
fn new_secret() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StoreError::Credential(CryptoError::Corrupt))?;
    Ok(format!("whsec_{}", STANDARD.encode(bytes)))
}

/// What an endpoint's ciphertext is bound to: it only opens in its own row.
pub(crate) fn secret_context(endpoint: &str) -> String {
    format!("webhook_endpoint:{endpoint}")
}

fn rfc3339(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// An event about to be written to the outbox.
pub(crate) struct Event {
    kind: WebhookEvent,
    /// The ordering key: events of one appointment are delivered in order.
    appointment: Option<String>,
    data: serde_json::Value,
    at: i64,
}

impl Event {
    /// An event about an appointment, carrying it as the API shows it.
    pub(crate) fn appointment(kind: WebhookEvent, appointment: &Appointment, at: i64) -> Result<Self, StoreError> {
        let json = serde_json::to_value(appointment).map_err(|e| crate::rows::corrupt("appointment", e))?;
        Ok(Self {
            kind,
            appointment: Some(appointment.id.to_string()),
            data: serde_json::json!({ "appointment": json }),
            at,
        })
    }

    /// A series booked: the series and its appointments as the API shows them.
    pub(crate) fn series(series: &Series, appointments: &[Appointment], at: i64) -> Result<Self, StoreError> {
        let series = serde_json::to_value(series).map_err(|e| crate::rows::corrupt("series", e))?;
        let appointments = serde_json::to_value(appointments).map_err(|e| crate::rows::corrupt("appointments", e))?;
        Ok(Self {
            kind: WebhookEvent::SeriesCreated,
            appointment: None,
            data: serde_json::json!({ "series": series, "appointments": appointments }),
            at,
        })
    }

    /// An event about an expert's integration.
    pub(crate) fn integration(kind: WebhookEvent, integration: serde_json::Value, at: i64) -> Self {
        Self {
            kind,
            appointment: None,
            data: serde_json::json!({ "integration": integration }),
            at,
        }
    }
}

/// Writes events to the outbox on the connection of the change's transaction (implemented for
/// both backends with the same body).
pub(crate) trait Emit {
    /// One row per enabled endpoint subscribed to the event.
    fn emit(&mut self, event: Event) -> Result<(), StoreError> {
        let endpoints = self.endpoints()?;
        self.emit_to(&endpoints, event)
    }

    /// The enabled endpoints and the events each is subscribed to (read once for many events
    /// of one transaction).
    fn endpoints(&mut self) -> Result<Vec<(String, String)>, StoreError>;

    /// [`Emit::emit`] to endpoints read in this transaction.
    fn emit_to(&mut self, endpoints: &[(String, String)], event: Event) -> Result<(), StoreError>;
}

macro_rules! emit_for {
    ($conn:ty) => {
        impl Emit for $conn {
            fn endpoints(&mut self) -> Result<Vec<(String, String)>, StoreError> {
                Ok(we::table
                    .filter(we::enabled.eq(true))
                    .select((we::id, we::events))
                    .load(self)?)
            }

            fn emit_to(&mut self, endpoints: &[(String, String)], event: Event) -> Result<(), StoreError> {
                let subscribed: Vec<&String> = endpoints
                    .iter()
                    .filter(|(_, events)| parse_events(events).iter().any(|e| e == event.kind.as_str()))
                    .map(|(id, _)| id)
                    .collect();
                if subscribed.is_empty() {
                    return Ok(());
                }
                let webhook_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
                let payload = serde_json::json!({
                    "type": event.kind.as_str(),
                    "timestamp": rfc3339(event.at),
                    "data": event.data,
                })
                .to_string();
                for endpoint in subscribed {
                    diesel::insert_into(wd::table)
                        .values((
                            wd::endpoint_id.eq(endpoint),
                            wd::event_id.eq(&webhook_id),
                            wd::event_type.eq(event.kind.as_str()),
                            wd::appointment_id.eq(event.appointment.as_deref()),
                            wd::payload.eq(&payload),
                            wd::status.eq(DeliveryStatus::Pending.as_str()),
                            wd::attempts.eq(0),
                            wd::next_attempt_at.eq(event.at),
                            wd::first_queued_at.eq(event.at),
                        ))
                        .execute(self)?;
                }
                Ok(())
            }
        }
    };
}
emit_for!(diesel::SqliteConnection);
emit_for!(diesel::PgConnection);

/// The integration as an event carries it (read inside the change's transaction).
macro_rules! integration_json {
    ($c:ident, $expert:expr, $integration:expr) => {{
        let key = $expert.to_string();
        use $crate::schema::expert_integrations as row_of;
        let row: Option<$crate::webhooks::IntegrationRow> = row_of::table
            .filter(row_of::expert_id.eq(&key))
            .filter(row_of::integration_type.eq($integration.as_str()))
            .select((
                row_of::status,
                row_of::account,
                row_of::connected_at,
                row_of::last_error,
                row_of::last_error_at,
            ))
            .first($c)
            .optional()?;
        $crate::webhooks::integration_value(&key, $integration, row)
    }};
}
pub(crate) use integration_json;

/// An integration's (status, account, connected_at, last_error, last_error_at).
pub(crate) type IntegrationRow = (String, Option<String>, i64, Option<String>, Option<i64>);

/// {expert_id, type, status, account, connected_at, last_error, last_error_at}; a row that is
/// gone (disconnected) is status "disconnected" with nothing else known.
pub(crate) fn integration_value(
    expert: &str,
    integration: IntegrationType,
    row: Option<IntegrationRow>,
) -> serde_json::Value {
    match row {
        Some((status, account, connected_at, last_error, last_error_at)) => serde_json::json!({
            "expert_id": expert,
            "type": integration.as_str(),
            "status": status,
            "account": account,
            "connected_at": rfc3339(connected_at),
            "last_error": last_error,
            "last_error_at": last_error_at.map(rfc3339),
        }),
        None => serde_json::json!({
            "expert_id": expert,
            "type": integration.as_str(),
            "status": "disconnected",
            "account": null,
            "connected_at": null,
            "last_error": null,
            "last_error_at": null,
        }),
    }
}

fn parse_events(stored: &str) -> Vec<String> {
    serde_json::from_str(stored).unwrap_or_default()
}

type EndpointRow = (String, String, String, bool, Option<String>, i64, i64);

fn endpoint_of(row: EndpointRow) -> WebhookEndpoint {
    let (id, url, events, enabled, disabled_reason, created_at, updated_at) = row;
    WebhookEndpoint {
        id,
        url,
        events: parse_events(&events),
        enabled,
        disabled_reason,
        created_at,
        updated_at,
    }
}

macro_rules! endpoint_columns {
    () => {
        (
            we::id,
            we::url,
            we::events,
            we::enabled,
            we::disabled_reason,
            we::created_at,
            we::updated_at,
        )
    };
}

fn endpoint_not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        what: "webhook endpoint",
        id: id.to_owned(),
    }
}

/// Registers an endpoint; returns it and its secret (shown once).
pub(crate) fn create_endpoint(
    conn: &mut Conn,
    keyring: &Keyring,
    url: &str,
    events: &[String],
    now: i64,
) -> Result<(WebhookEndpoint, Secret<String>), StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    let secret = new_secret()?;
    let sealed = keyring.encrypt(secret.as_bytes(), &secret_context(&id))?;
    let events_json = serde_json::to_string(events).map_err(|e| crate::rows::corrupt("events", e))?;
    db_run!(conn, |c| diesel::insert_into(we::table)
        .values((
            we::id.eq(&id),
            we::url.eq(url),
            we::events.eq(&events_json),
            we::enabled.eq(true),
            we::secret.eq(&sealed),
            we::created_at.eq(now),
            we::updated_at.eq(now),
        ))
        .execute(c))?;
    Ok((
        WebhookEndpoint {
            id,
            url: url.to_owned(),
            events: events.to_vec(),
            enabled: true,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
        },
        Secret::new(secret),
    ))
}

/// Every endpoint, oldest first.
pub(crate) fn endpoints(conn: &mut Conn) -> Result<Vec<WebhookEndpoint>, StoreError> {
    let rows: Vec<EndpointRow> = db_run!(conn, |c| we::table
        .select(endpoint_columns!())
        .order((we::created_at, we::id))
        .load(c))?;
    Ok(rows.into_iter().map(endpoint_of).collect())
}

/// One endpoint.
pub(crate) fn endpoint(conn: &mut Conn, id: &str) -> Result<WebhookEndpoint, StoreError> {
    let row: Option<EndpointRow> = db_run!(conn, |c| we::table
        .find(id)
        .select(endpoint_columns!())
        .first(c)
        .optional())?;
    row.map(endpoint_of).ok_or_else(|| endpoint_not_found(id))
}

/// Changes an endpoint.
pub(crate) fn update_endpoint(
    conn: &mut Conn,
    id: &str,
    patch: &EndpointPatch,
    now: i64,
) -> Result<WebhookEndpoint, StoreError> {
    let events = patch
        .events
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| crate::rows::corrupt("events", e))?;
    db_run!(conn, |c| c.transaction(|c| {
        let n = diesel::update(we::table.find(id))
            .set(we::updated_at.eq(now))
            .execute(c)?;
        if n == 0 {
            return Err(endpoint_not_found(id));
        }
        if let Some(url) = &patch.url {
            diesel::update(we::table.find(id)).set(we::url.eq(url)).execute(c)?;
        }
        if let Some(events) = &events {
            diesel::update(we::table.find(id))
                .set(we::events.eq(events))
                .execute(c)?;
        }
        match patch.enabled {
            Some(true) => diesel::update(we::table.find(id))
                .set((we::enabled.eq(true), we::disabled_reason.eq(None::<String>)))
                .execute(c)?,
            Some(false) => diesel::update(we::table.find(id))
                .set(we::enabled.eq(false))
                .execute(c)?,
            None => 0,
        };
        Ok::<_, StoreError>(())
    }))?;
    endpoint(conn, id)
}

/// Removes an endpoint and its deliveries. Returns whether it existed.
pub(crate) fn delete_endpoint(conn: &mut Conn, id: &str) -> Result<bool, StoreError> {
    let n = db_run!(conn, |c| c.transaction(|c| {
        diesel::delete(wd::table.filter(wd::endpoint_id.eq(id))).execute(c)?;
        diesel::delete(we::table.find(id)).execute(c)
    }))?;
    Ok(n == 1)
}

type DeliveryRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    i32,
    Option<String>,
    Option<i32>,
    Option<String>,
    i64,
    Option<i64>,
    i64,
);

macro_rules! delivery_columns {
    () => {
        (
            wd::seq,
            wd::endpoint_id,
            wd::event_type,
            wd::event_id,
            wd::appointment_id,
            wd::status,
            wd::attempts,
            wd::last_error,
            wd::last_status_code,
            wd::last_response,
            wd::next_attempt_at,
            wd::delivered_at,
            wd::first_queued_at,
        )
    };
}

fn delivery_of(row: DeliveryRow) -> Result<Delivery, StoreError> {
    let (
        id,
        endpoint_id,
        event_type,
        webhook_id,
        appointment_id,
        status,
        attempts,
        last_error,
        last_status_code,
        last_response,
        next_attempt_at,
        delivered_at,
        queued_at,
    ) = row;
    let status: DeliveryStatus = status.parse()?;
    Ok(Delivery {
        id,
        endpoint_id,
        event_type,
        webhook_id,
        appointment_id,
        status,
        attempts,
        last_error,
        last_status_code,
        last_response,
        next_attempt_at: (status == DeliveryStatus::Pending).then_some(next_attempt_at),
        delivered_at,
        queued_at,
    })
}

/// An endpoint's deliveries, newest first, at most `limit`.
pub(crate) fn deliveries(conn: &mut Conn, endpoint_id: &str, limit: i64) -> Result<Vec<Delivery>, StoreError> {
    endpoint(conn, endpoint_id)?;
    let rows: Vec<DeliveryRow> = db_run!(conn, |c| wd::table
        .filter(wd::endpoint_id.eq(endpoint_id))
        .order(wd::seq.desc())
        .limit(limit)
        .select(delivery_columns!())
        .load(c))?;
    rows.into_iter().map(delivery_of).collect()
}

/// One delivery of an endpoint.
pub(crate) fn delivery(conn: &mut Conn, endpoint_id: &str, id: i64) -> Result<Delivery, StoreError> {
    let row: Option<DeliveryRow> = db_run!(conn, |c| wd::table
        .filter(wd::endpoint_id.eq(endpoint_id))
        .filter(wd::seq.eq(id))
        .select(delivery_columns!())
        .first(c)
        .optional())?;
    row.map(delivery_of).transpose()?.ok_or_else(|| StoreError::NotFound {
        what: "delivery",
        id: id.to_string(),
    })
}

/// Queues a delivery again at once (whatever its status), with a fresh 3-day retry window. The
/// webhook-id and body stay the same, so a receiver that had it already sees a duplicate.
pub(crate) fn retry_delivery(conn: &mut Conn, endpoint_id: &str, id: i64, now: i64) -> Result<Delivery, StoreError> {
    delivery(conn, endpoint_id, id)?;
    db_run!(conn, |c| diesel::update(
        wd::table.filter(wd::endpoint_id.eq(endpoint_id)).filter(wd::seq.eq(id))
    )
    .set((
        wd::status.eq(DeliveryStatus::Pending.as_str()),
        wd::next_attempt_at.eq(now),
        wd::first_queued_at.eq(now),
        wd::delivered_at.eq(None::<i64>),
        wd::claimed_until.eq(None::<i64>),
        wd::claim_token.eq(None::<String>),
    ))
    .execute(c))?;
    delivery(conn, endpoint_id, id)
}

/// An earlier delivery of the same appointment to the same endpoint is still pending: this one
/// waits (its order is the receiver's order). Written as SQL once; both backends read it alike.
const NO_EARLIER_PENDING: &str = "NOT EXISTS (SELECT 1 FROM webhook_deliveries earlier \
     WHERE earlier.endpoint_id = webhook_deliveries.endpoint_id \
     AND earlier.appointment_id = webhook_deliveries.appointment_id \
     AND earlier.seq < webhook_deliveries.seq AND earlier.status = 'pending')";

/// Claims up to `limit` due deliveries of enabled endpoints, each the earliest pending one of
/// its appointment and endpoint.
pub(crate) fn claim(
    conn: &mut Conn,
    keyring: &Keyring,
    now: i64,
    limit: i64,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let due: Vec<i64> = db_run!(conn, |c| wd::table
        .inner_join(we::table)
        .filter(wd::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(wd::next_attempt_at.le(now))
        .filter(wd::claimed_until.is_null().or(wd::claimed_until.lt(now)))
        .filter(we::enabled.eq(true))
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(NO_EARLIER_PENDING))
        .order(wd::seq)
        .limit(limit)
        .select(wd::seq)
        .load(c))?;
    let mut claimed = Vec::new();
    for seq in due {
        let token = uuid::Uuid::new_v4().to_string();
        // Compare-and-set: only one worker's update finds the lease free.
        let won = db_run!(conn, |c| diesel::update(
            wd::table
                .find(seq)
                .filter(wd::status.eq(DeliveryStatus::Pending.as_str()))
                .filter(wd::claimed_until.is_null().or(wd::claimed_until.lt(now)))
        )
        .set((
            wd::claimed_until.eq(now + LEASE_SECONDS),
            wd::claim_token.eq(&token),
            wd::attempts.eq(wd::attempts + 1),
        ))
        .execute(c))?;
        if won != 1 {
            continue;
        }
        type Row = (String, String, String, String, String, String, i32, i64);
        let row: Row = db_run!(conn, |c| wd::table
            .inner_join(we::table)
            .filter(wd::seq.eq(seq))
            .select((
                wd::endpoint_id,
                we::url,
                we::secret,
                wd::event_id,
                wd::event_type,
                wd::payload,
                wd::attempts,
                wd::first_queued_at,
            ))
            .first(c))?;
        let (endpoint_id, url, sealed, webhook_id, event_type, payload, attempts, first_queued_at) = row;
        let secret = keyring
            .decrypt(&sealed, &secret_context(&endpoint_id))
            .ok()
            .and_then(|p| String::from_utf8(p.into_inner()).ok());
        let Some(secret) = secret else {
            // Nothing can be signed: the attempt fails here, and is retried (a key may be
            // restored to ENCRYPTION_OLD_KEYS meanwhile).
            tracing::warn!(endpoint = %endpoint_id, "the webhook endpoint's secret cannot be decrypted");
            let claim = ClaimedDelivery {
                seq,
                endpoint_id,
                url,
                secret: Secret::new(String::new()),
                webhook_id,
                event_type,
                payload,
                attempts,
                first_queued_at,
                claim_token: token,
            };
            finish(
                conn,
                &claim,
                &AttemptOutcome::Retry {
                    error: "the endpoint's secret cannot be decrypted with the configured keys".into(),
                    status_code: None,
                    response: None,
                    retry_in: LEASE_SECONDS,
                },
                now,
            )?;
            continue;
        };
        claimed.push(ClaimedDelivery {
            seq,
            endpoint_id,
            url,
            secret: Secret::new(secret),
            webhook_id,
            event_type,
            payload,
            attempts,
            first_queued_at,
            claim_token: token,
        });
    }
    Ok(claimed)
}

/// Records an attempt's outcome, if the lease is still this claim's.
pub(crate) fn finish(
    conn: &mut Conn,
    claim: &ClaimedDelivery,
    outcome: &AttemptOutcome,
    now: i64,
) -> Result<(), StoreError> {
    let seq = claim.seq;
    let token = claim.claim_token.as_str();
    let code = |c: &Option<u16>| c.map(i32::from);
    db_run!(conn, |c| c.transaction(|c| {
        let row = wd::table.find(seq).filter(wd::claim_token.eq(token));
        match outcome {
            AttemptOutcome::Delivered { status_code, response } => diesel::update(row)
                .set((
                    wd::status.eq(DeliveryStatus::Delivered.as_str()),
                    wd::delivered_at.eq(Some(now)),
                    wd::last_status_code.eq(Some(i32::from(*status_code))),
                    wd::last_response.eq(Some(response)),
                    wd::last_error.eq(None::<String>),
                    wd::claimed_until.eq(None::<i64>),
                ))
                .execute(c)?,
            AttemptOutcome::Retry {
                error,
                status_code,
                response,
                retry_in,
            } => diesel::update(row)
                .set((
                    wd::next_attempt_at.eq(now + retry_in),
                    wd::last_status_code.eq(code(status_code)),
                    wd::last_response.eq(response.as_deref()),
                    wd::last_error.eq(Some(error)),
                    wd::claimed_until.eq(None::<i64>),
                ))
                .execute(c)?,
            AttemptOutcome::GiveUp {
                error,
                status_code,
                response,
                disable_endpoint,
            } => {
                let n = diesel::update(row)
                    .set((
                        wd::status.eq(DeliveryStatus::Failed.as_str()),
                        wd::last_status_code.eq(code(status_code)),
                        wd::last_response.eq(response.as_deref()),
                        wd::last_error.eq(Some(error)),
                        wd::claimed_until.eq(None::<i64>),
                    ))
                    .execute(c)?;
                if let (1, Some(reason)) = (n, disable_endpoint) {
                    diesel::update(we::table.find(&claim.endpoint_id))
                        .set((
                            we::enabled.eq(false),
                            we::disabled_reason.eq(Some(reason)),
                            we::updated_at.eq(now),
                        ))
                        .execute(c)?;
                }
                n
            }
        };
        Ok::<_, StoreError>(())
    }))
}

/// How many deliveries wait for an attempt.
pub(crate) fn pending(conn: &mut Conn) -> Result<i64, StoreError> {
    Ok(db_run!(conn, |c| wd::table
        .filter(wd::status.eq(DeliveryStatus::Pending.as_str()))
        .count()
        .get_result(c))?)
}

/// How long delivered and failed deliveries stay in the log.
pub const KEEP_FINISHED_SECONDS: i64 = 30 * 24 * 3600;

/// Forgets delivered and failed deliveries queued more than 30 days before `now`.
pub(crate) fn purge(conn: &mut Conn, now: i64) -> Result<usize, StoreError> {
    Ok(db_run!(conn, |c| diesel::delete(
        wd::table
            .filter(wd::status.ne(DeliveryStatus::Pending.as_str()))
            .filter(wd::first_queued_at.lt(now - KEEP_FINISHED_SECONDS))
    )
    .execute(c))?)
}

/// Every endpoint's encrypted secret: (endpoint id, stored text), for re-encryption.
pub(crate) fn all_secrets(conn: &mut Conn) -> Result<Vec<(String, String)>, StoreError> {
    Ok(db_run!(conn, |c| we::table.select((we::id, we::secret)).load(c))?)
}

/// Replaces an endpoint's stored secret if it is still the one that was read.
pub(crate) fn replace_secret(conn: &mut Conn, id: &str, old: &str, new: &str) -> Result<bool, StoreError> {
    let n = db_run!(conn, |c| diesel::update(we::table.find(id).filter(we::secret.eq(old)))
        .set(we::secret.eq(new))
        .execute(c))?;
    Ok(n == 1)
}

/// The webhook queue's depth (deliveries still pending) and the enqueue time (Unix seconds) of
/// the oldest of them, for /metrics.
pub(crate) fn depth(conn: &mut Conn) -> Result<(i64, Option<i64>), StoreError> {
    use diesel::dsl::{count_star, min};
    Ok(db_run!(conn, |c| wd::table
        .filter(wd::status.eq(DeliveryStatus::Pending.as_str()))
        .select((count_star(), min(wd::first_queued_at)))
        .get_result::<(i64, Option<i64>)>(c))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_round_trip() {
        for e in WebhookEvent::ALL {
            assert_eq!(e.as_str().parse::<WebhookEvent>().unwrap(), *e);
        }
        assert_eq!(WebhookEvent::ALL.len(), 9);
        assert!("appointment.deleted".parse::<WebhookEvent>().is_err());
    }

    #[test]
    fn secrets_are_whsec_and_32_random_bytes() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_ne!(a, b);
        let raw = STANDARD.decode(a.strip_prefix("whsec_").unwrap()).unwrap();
        assert_eq!(raw.len(), 32);
    }
}

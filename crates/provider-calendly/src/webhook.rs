//! Calendly webhooks: the signature check, on the raw body before anything is parsed, and the
//! payload of `invitee.created` / `invitee.canceled`.
//!
//! `Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex>`, where
//! `v1 = hex(HMAC-SHA256(signing_key, t + "." + raw_body))`. A delivery is accepted when a `v1`
//! matches (compared in constant time by `ring::hmac::verify`) and `t` lies within
//! [`MAX_SIGNATURE_AGE`] of now, either way, so that a captured delivery cannot be replayed later.

use availability_domain::jiff::{SignedDuration, Timestamp};
use ring::hmac;
use serde::Deserialize;

use crate::wire;

/// The header Calendly signs deliveries in.
pub const SIGNATURE_HEADER: &str = "Calendly-Webhook-Signature";

/// How far a signature's `t` may lie from now, either way (provider-apis.md: 180 s).
pub const MAX_SIGNATURE_AGE: SignedDuration = SignedDuration::from_secs(180);

/// Why a delivery is refused. The server answers all of them but
/// [`WebhookError::UnsupportedEvent`] with 401 `invalid_signature` (signature) or 400 (payload).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// No `Calendly-Webhook-Signature` header.
    #[error("the Calendly-Webhook-Signature header is missing")]
    MissingSignature,
    /// The header is not `t=<unix>,v1=<hex>`.
    #[error("the Calendly-Webhook-Signature header is malformed")]
    MalformedSignature,
    /// `t` is more than [`MAX_SIGNATURE_AGE`] away from now.
    #[error("the webhook signature is stale (signed at {signed_at}, more than 180 s from now)")]
    StaleSignature {
        /// The `t` of the header, in Unix seconds.
        signed_at: i64,
    },
    /// No `v1` matches the body: another key signed it, or the body was changed.
    #[error("the webhook signature does not match the body")]
    InvalidSignature,
    /// The (verified) body is not a Calendly invitee event.
    #[error("the webhook payload is unusable: {0}")]
    InvalidPayload(String),
    /// A well-formed event this crate does not handle (e.g. `invitee_no_show.created`): answer
    /// it with 2xx so that Calendly does not retry it, and ignore it.
    #[error("the webhook event {0} is not handled")]
    UnsupportedEvent(String),
}

/// Checks a delivery's signature over its raw body at `now`. Call it before parsing anything.
pub fn verify_webhook(
    signing_key: &[u8],
    header: Option<&str>,
    raw_body: &[u8],
    now: Timestamp,
) -> Result<(), WebhookError> {
    let header = header.ok_or(WebhookError::MissingSignature)?;
    let mut signed_at: Option<i64> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let (name, value) = part.trim().split_once('=').ok_or(WebhookError::MalformedSignature)?;
        match name.trim() {
            "t" => {
                let value = value.trim();
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) || signed_at.is_some() {
                    return Err(WebhookError::MalformedSignature);
                }
                signed_at = Some(value.parse().map_err(|_| WebhookError::MalformedSignature)?);
            }
            "v1" => signatures.push(hex::decode(value.trim()).map_err(|_| WebhookError::MalformedSignature)?),
            // Other schemes may be added by Calendly; they are not ours to check.
            _ => {}
        }
    }
    let signed_at = signed_at.ok_or(WebhookError::MalformedSignature)?;
    if signatures.is_empty() {
        return Err(WebhookError::MalformedSignature);
    }
    let age = i128::from(now.as_second()) - i128::from(signed_at);
    if age.abs() > i128::from(MAX_SIGNATURE_AGE.as_secs()) {
        return Err(WebhookError::StaleSignature { signed_at });
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, signing_key);
    let mut signed = format!("{signed_at}.").into_bytes();
    signed.extend_from_slice(raw_body);
    if signatures
        .iter()
        .any(|signature| hmac::verify(&key, &signed, signature).is_ok())
    {
        Ok(())
    } else {
        Err(WebhookError::InvalidSignature)
    }
}

/// Which invitee event a delivery reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookEventKind {
    /// `invitee.created`: a booking (on Calendly's pages or through the API).
    Created,
    /// `invitee.canceled`: a cancellation (also the first half of a reschedule on Calendly).
    Canceled,
}

/// An `invitee.created` or `invitee.canceled` delivery, as the server needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// Created or canceled.
    pub event: WebhookEventKind,
    /// When Calendly made the delivery's event, if it said.
    pub created_at: Option<Timestamp>,
    /// The invitee (what `external_calendar_event_id` holds).
    pub invitee_uri: String,
    /// The scheduled event.
    pub event_uri: String,
    /// The invitee's email (find or create the client by it).
    pub email: String,
    /// The invitee's name.
    pub name: String,
    /// The invitee's IANA zone, if given.
    pub timezone: Option<String>,
    /// The event's start, from the payload's `scheduled_event`; None when the payload has none:
    /// then ask [`crate::CalendlyStrategy::webhook_event_time`].
    pub start_time: Option<Timestamp>,
    /// The event's end, like `start_time`.
    pub end_time: Option<Timestamp>,
    /// The event type booked, if the payload says.
    pub event_type_uri: Option<String>,
    /// The Calendly user the event belongs to: the host in `scheduled_event.event_memberships`,
    /// else the delivery's `created_by` (the subscription's owner). Match it to the expert whose
    /// connection has this `user_uri` (see [`crate::StoredCalendly::settings_json`]).
    pub user_uri: Option<String>,
    /// Whether the cancellation is part of a reschedule on Calendly (a new invitee follows).
    pub rescheduled: bool,
    /// invitee.created of a reschedule on Calendly: the invitee it replaces (whose
    /// invitee.canceled has `rescheduled`). Such a booking is a move, not a new booking.
    pub old_invitee_uri: Option<String>,
    /// invitee.canceled: the reason given.
    pub cancellation_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delivery {
    event: String,
    #[serde(default)]
    created_at: Option<Timestamp>,
    #[serde(default)]
    created_by: Option<String>,
    payload: Payload,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(flatten)]
    invitee: wire::Invitee,
    #[serde(default)]
    rescheduled: bool,
    #[serde(default)]
    old_invitee: Option<String>,
    #[serde(default)]
    scheduled_event: Option<wire::ScheduledEvent>,
    #[serde(default)]
    cancellation: Option<Cancellation>,
}

#[derive(Deserialize)]
struct Cancellation {
    #[serde(default)]
    reason: Option<String>,
}

/// Reads a verified delivery's body. Only `invitee.created` and `invitee.canceled` are handled;
/// another event is [`WebhookError::UnsupportedEvent`].
pub fn parse_webhook(raw_body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let delivery: Delivery =
        serde_json::from_slice(raw_body).map_err(|e| WebhookError::InvalidPayload(crate::stored::describe(&e)))?;
    let event = match delivery.event.as_str() {
        "invitee.created" => WebhookEventKind::Created,
        "invitee.canceled" => WebhookEventKind::Canceled,
        other => {
            let name: String = other
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_'))
                .take(64)
                .collect();
            return Err(WebhookError::UnsupportedEvent(name));
        }
    };
    let payload = delivery.payload;
    let invitee = payload.invitee;
    if invitee.uri.is_empty() || invitee.event.is_empty() {
        return Err(WebhookError::InvalidPayload("the invitee has no uri or event".into()));
    }
    let scheduled = payload.scheduled_event;
    let host = scheduled
        .as_ref()
        .and_then(|e| e.event_memberships.iter().find_map(|m| m.user.clone()));
    Ok(WebhookEvent {
        event,
        created_at: delivery.created_at,
        invitee_uri: invitee.uri,
        event_uri: invitee.event,
        email: invitee.email,
        name: invitee.name,
        timezone: invitee.timezone,
        start_time: scheduled.as_ref().map(|e| e.start_time),
        end_time: scheduled.as_ref().map(|e| e.end_time),
        event_type_uri: scheduled.as_ref().and_then(|e| e.event_type.clone()),
        user_uri: host.or(delivery.created_by),
        rescheduled: payload.rescheduled,
        old_invitee_uri: payload.old_invitee.filter(|u| !u.is_empty()),
        cancellation_reason: payload.cancellation.and_then(|c| c.reason),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(key: &[u8], t: i64, body: &[u8]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key);
        let mut signed = format!("{t}.").into_bytes();
        signed.extend_from_slice(body);
        format!("t={t},v1={}", hex::encode(hmac::sign(&key, &signed).as_ref()))
    }

    #[test]
    fn signatures() {
        let now = Timestamp::from_second(1_780_000_000).unwrap();
        let t = now.as_second();
        let body = br#"{"event":"invitee.created"}"#;
        let ok = sign(b"key", t, body);
        assert_eq!(verify_webhook(b"key", Some(&ok), body, now), Ok(()));
        // Within 180 s either way, not beyond.
        assert_eq!(
            verify_webhook(b"key", Some(&sign(b"key", t - 180, body)), body, now),
            Ok(())
        );
        assert_eq!(
            verify_webhook(b"key", Some(&sign(b"key", t + 180, body)), body, now),
            Ok(())
        );
        assert_eq!(
            verify_webhook(b"key", Some(&sign(b"key", t - 181, body)), body, now),
            Err(WebhookError::StaleSignature { signed_at: t - 181 })
        );
        assert_eq!(
            verify_webhook(b"other", Some(&ok), body, now),
            Err(WebhookError::InvalidSignature)
        );
        assert_eq!(
            verify_webhook(b"key", Some(&ok), b"{\"event\":\"invitee.canceled\"}", now),
            Err(WebhookError::InvalidSignature)
        );
        assert_eq!(
            verify_webhook(b"key", None, body, now),
            Err(WebhookError::MissingSignature)
        );
        // One matching v1 among several (a key rotation on Calendly's side) is enough.
        let two = format!("{ok},v1={}", "00".repeat(32));
        assert_eq!(verify_webhook(b"key", Some(&two), body, now), Ok(()));
        for malformed in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "garbage", "t=1,t=2,v1=00"] {
            assert_eq!(
                verify_webhook(b"key", Some(malformed), body, now),
                Err(WebhookError::MalformedSignature),
                "{malformed}"
            );
        }
        let huge = format!("t={},v1=00", u64::MAX);
        assert_eq!(
            verify_webhook(b"key", Some(&huge), body, now),
            Err(WebhookError::MalformedSignature)
        );
    }

    #[test]
    fn payloads() {
        let body = br#"{"event":"invitee.canceled","created_at":"2026-03-01T10:00:00.000000Z","created_by":"https://api.calendly.com/users/U",
            "payload":{"uri":"https://api.calendly.com/scheduled_events/E/invitees/I","event":"https://api.calendly.com/scheduled_events/E",
            "email":"ann@x.com","name":"Ann Lee","status":"canceled","timezone":"Europe/Berlin","rescheduled":true,
            "cancellation":{"canceled_by":"Ann Lee","reason":"ill","canceler_type":"invitee"}}}"#;
        let event = parse_webhook(body).unwrap();
        assert_eq!(event.event, WebhookEventKind::Canceled);
        assert_eq!(
            event.invitee_uri,
            "https://api.calendly.com/scheduled_events/E/invitees/I"
        );
        assert_eq!(event.event_uri, "https://api.calendly.com/scheduled_events/E");
        assert_eq!(event.email, "ann@x.com");
        assert_eq!(event.start_time, None);
        assert_eq!(event.user_uri.as_deref(), Some("https://api.calendly.com/users/U"));
        assert!(event.rescheduled);
        assert_eq!(event.old_invitee_uri, None);
        assert_eq!(event.cancellation_reason.as_deref(), Some("ill"));
        let moved = br#"{"event":"invitee.created","payload":{"uri":"https://api.calendly.com/scheduled_events/F/invitees/J",
            "event":"https://api.calendly.com/scheduled_events/F","email":"ann@x.com","name":"Ann Lee","status":"active",
            "old_invitee":"https://api.calendly.com/scheduled_events/E/invitees/I"}}"#;
        assert_eq!(
            parse_webhook(moved).unwrap().old_invitee_uri.as_deref(),
            Some("https://api.calendly.com/scheduled_events/E/invitees/I")
        );
        assert_eq!(
            parse_webhook(br#"{"event":"invitee_no_show.created","payload":{"uri":"u","event":"e"}}"#),
            Err(WebhookError::UnsupportedEvent("invitee_no_show.created".into()))
        );
        assert!(matches!(parse_webhook(b"[]"), Err(WebhookError::InvalidPayload(_))));
    }
}

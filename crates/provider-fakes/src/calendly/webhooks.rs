//! Calendly webhooks: subscriptions, and deliveries signed exactly as Calendly signs them
//! (`Calendly-Webhook-Signature: t=<unix>,v1=<hex HMAC-SHA256(signing_key, t + "." + raw_body)>`),
//! or deliberately wrong so a receiver's checks can be tested.

use jiff::Timestamp;
use ring::hmac;
use serde_json::Value;

use crate::FakeError;

/// A webhook subscription as the fake stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSubscription {
    /// Its URI (`…/webhook_subscriptions/<uuid>`).
    pub uri: String,
    /// Where deliveries go (`callback_url`).
    pub url: String,
    /// The events it asked for, e.g. `invitee.created`.
    pub events: Vec<String>,
    /// `user` or `organization`.
    pub scope: String,
    /// The key deliveries are signed with (the client's, or one the fake made up).
    pub signing_key: String,
}

/// How a delivery is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// As Calendly signs: now, with the subscription's key, over the exact body sent.
    Valid,
    /// Signed with another key (a forgery).
    WrongKey,
    /// Signed correctly, then the body was changed on the way (the invitee's email).
    AlteredBody,
    /// Signed correctly, but ten minutes ago (receivers reject |now - t| > 180 s).
    Stale,
    /// No signature header at all.
    Missing,
}

/// What a delivery sent and how the receiver answered.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The receiver's status code.
    pub status: u16,
    /// The receiver's answer body.
    pub response_body: String,
    /// The exact bytes sent.
    pub body: Vec<u8>,
    /// The Calendly-Webhook-Signature header sent, if any.
    pub signature_header: Option<String>,
}

/// `t=<unix>,v1=<hex>` for `body` signed with `key` at `t`.
pub(crate) fn signature_header(key: &str, t: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    format!("t={t},v1={}", hex::encode(hmac::sign(&key, &signed).as_ref()))
}

pub(crate) async fn deliver(url: &str, key: &str, body: Vec<u8>, signature: Signature) -> Result<Delivery, FakeError> {
    let now = Timestamp::now().as_second();
    let header = match signature {
        Signature::Valid | Signature::AlteredBody => Some(signature_header(key, now, &body)),
        Signature::WrongKey => Some(signature_header(&format!("forged-{key}"), now, &body)),
        Signature::Stale => Some(signature_header(key, now - 600, &body)),
        Signature::Missing => None,
    };
    let body = if signature == Signature::AlteredBody {
        altered(body)
    } else {
        body
    };
    // Calendly does not follow redirects from a receiver; neither does the fake.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| FakeError::Delivery(e.to_string()))?;
    let mut request = client
        .post(url)
        .header("content-type", "application/json; charset=utf-8")
        .header("user-agent", "Calendly")
        .body(body.clone());
    if let Some(header) = &header {
        request = request.header("Calendly-Webhook-Signature", header);
    }
    let response = request.send().await.map_err(|e| FakeError::Delivery(e.to_string()))?;
    let status = response.status().as_u16();
    let response_body = response.text().await.unwrap_or_default();
    Ok(Delivery {
        status,
        response_body,
        body,
        signature_header: header,
    })
}

/// The body with the invitee's email changed (or, for a body that is not such JSON, one byte more).
fn altered(body: Vec<u8>) -> Vec<u8> {
    match serde_json::from_slice::<Value>(&body) {
        Ok(mut value) if value.pointer("/payload/email").is_some() => {
            value["payload"]["email"] = Value::from("attacker@example.com");
            serde_json::to_vec(&value).unwrap_or(body)
        }
        _ => {
            let mut body = body;
            body.push(b' ');
            body
        }
    }
}

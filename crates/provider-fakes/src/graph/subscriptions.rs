//! Change notifications on `me/events`: `POST /subscriptions` (with Graph's validation handshake
//! on the notification and lifecycle URLs), `GET`/`PATCH`/`DELETE /subscriptions/{id}`, and the
//! notifications the test controls deliver (Graph's JSON bodies, POSTed to the subscription's URLs).

use std::time::Duration;

use actix_web::HttpResponse;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Map, Value};

use super::{GraphError, Inner, TENANT_ID};
use crate::harness::{self, lock, with_query};
use crate::time;

/// The longest an Outlook event subscription lives: 10,080 minutes (7 days).
pub(crate) const MAX_LIFETIME: SignedDuration = SignedDuration::from_mins(10_080);

/// The longest `clientState` Graph accepts.
const MAX_CLIENT_STATE_CHARS: usize = 128;

/// How long Graph waits for a receiver (the validation handshake's documented 10 seconds; the
/// fake waits as long for notifications).
const RECEIVER_TIMEOUT: Duration = Duration::from_secs(10);

const CONTEXT: &str = "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity";

/// A change notification subscription as the fake stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphSubscription {
    /// Graph's id for it (a GUID).
    pub id: String,
    /// The watched resource as the client wrote it (`me/events` or `/me/events`).
    pub resource: String,
    /// The comma-separated change types, as the client wrote them (e.g. `created,updated,deleted`).
    pub change_type: String,
    /// Where change notifications go.
    pub notification_url: String,
    /// Where lifecycle notifications go, if the client gave a URL for them.
    pub lifecycle_notification_url: Option<String>,
    /// The secret the client gave, repeated in every notification.
    pub client_state: Option<String>,
    /// The granted expiration.
    pub expiration: Timestamp,
    /// Whether it was deleted (by the client's `DELETE`, or by the fake as Graph removes one).
    pub deleted: bool,
}

impl GraphSubscription {
    fn live(&self, now: Timestamp) -> bool {
        !self.deleted && self.expiration > now
    }

    fn watches(&self, change_type: &str) -> bool {
        self.change_type.split(',').any(|c| c.trim() == change_type)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    list: Vec<GraphSubscription>,
}

/// One notification to send, prepared under the lock and sent after it is released.
#[derive(Debug, Clone)]
pub(crate) struct Notification {
    pub(crate) subscription_id: String,
    pub(crate) url: String,
    pub(crate) body: Value,
}

impl Subscriptions {
    pub(crate) fn all(&self) -> Vec<GraphSubscription> {
        self.list.clone()
    }

    /// The subscription's expiration becomes now: from then on it is expired.
    pub(crate) fn expire(&mut self, id: &str) {
        if let Some(subscription) = self.list.iter_mut().find(|s| s.id == id) {
            subscription.expiration = Timestamp::now();
        }
    }

    /// A change notification for every live, unexpired subscription watching `change_type`.
    pub(crate) fn changed(&self, change_type: &str, event_id: &str, user_id: &str, etag: &str) -> Vec<Notification> {
        let now = Timestamp::now();
        let resource = format!("Users/{user_id}/Events/{event_id}");
        self.list
            .iter()
            .filter(|s| s.live(now) && s.watches(change_type))
            .map(|s| {
                let mut item = json!({
                    "subscriptionId": s.id,
                    "subscriptionExpirationDateTime": graph_instant(s.expiration),
                    "changeType": change_type,
                    "resource": resource,
                    "resourceData": {
                        "@odata.type": "#Microsoft.Graph.Event",
                        "@odata.id": resource,
                        "@odata.etag": etag,
                        "id": event_id,
                    },
                    "tenantId": TENANT_ID,
                });
                if let Some(client_state) = &s.client_state {
                    item["clientState"] = json!(client_state);
                }
                Notification {
                    subscription_id: s.id.clone(),
                    url: s.notification_url.clone(),
                    body: json!({"value": [item]}),
                }
            })
            .collect()
    }

    /// The lifecycle notification `lifecycle_event` of a subscription that is not deleted and has
    /// a lifecycle URL; `subscriptionRemoved` deletes the subscription first (Graph removed it).
    pub(crate) fn lifecycle(&mut self, id: &str, lifecycle_event: &str) -> Option<Notification> {
        let subscription = self.list.iter_mut().find(|s| s.id == id && !s.deleted)?;
        let url = subscription.lifecycle_notification_url.clone()?;
        if lifecycle_event == "subscriptionRemoved" {
            subscription.deleted = true;
        }
        let mut item = json!({
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": graph_instant(subscription.expiration),
            "tenantId": TENANT_ID,
            "lifecycleEvent": lifecycle_event,
        });
        if let Some(client_state) = &subscription.client_state {
            item["clientState"] = json!(client_state);
        }
        Some(Notification {
            subscription_id: subscription.id.clone(),
            url,
            body: json!({"value": [item]}),
        })
    }
}

/// Graph's instants of record: UTC, seven decimals, `Z`.
fn graph_instant(ts: Timestamp) -> String {
    time::graph(ts, &TimeZone::UTC) + "Z"
}

fn invalid_request(message: impl Into<String>) -> GraphError {
    GraphError::new(400, "InvalidRequest", message)
}

fn resource_not_found() -> GraphError {
    GraphError::new(404, "ResourceNotFound", "The object was not found.")
}

/// `https`, or `http` on a loopback host (so that tests can receive notifications).
fn acceptable_url(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    match url.scheme() {
        "https" => url.host_str().is_some_and(|h| !h.is_empty()),
        "http" => matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
        _ => false,
    }
}

/// `expirationDateTime`: required, RFC 3339 (or without an offset, read as UTC), in the future and
/// at most 10,080 minutes from now. Not documented which message Graph gives for a missing,
/// unreadable or past value: the fake gives the one it gives for too far a value.
fn expiration(body: &Map<String, Value>) -> Result<Timestamp, GraphError> {
    let refused = || invalid_request("Subscription expiration can only be 10080 minutes in the future.");
    let text = body
        .get("expirationDateTime")
        .and_then(Value::as_str)
        .ok_or_else(refused)?;
    let requested = time::parse_instant(text)
        .or_else(|| time::parse_civil(text).and_then(|c| time::civil_to_instant(c, &TimeZone::UTC)))
        .ok_or_else(refused)?;
    let now = Timestamp::now();
    let latest = now.checked_add(MAX_LIFETIME).map_err(|_| refused())?;
    if requested <= now || requested > latest {
        return Err(refused());
    }
    Ok(requested)
}

/// A URL field of the request (`required`: notificationUrl), checked for https or loopback http.
fn url_field(body: &Map<String, Value>, name: &str, required: bool) -> Result<Option<String>, GraphError> {
    match body.get(name) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(invalid_request(format!("{name} is required."))),
        Some(Value::String(url)) if acceptable_url(url) => Ok(Some(url.clone())),
        Some(_) => Err(invalid_request("The Notification Url must use HTTPS")),
    }
}

/// A new subscription from the body of `POST /subscriptions`, before the handshake.
fn requested(body: &Map<String, Value>) -> Result<GraphSubscription, GraphError> {
    let change_type = body
        .get("changeType")
        .and_then(Value::as_str)
        .filter(|c| {
            c.split(',')
                .all(|t| matches!(t.trim(), "created" | "updated" | "deleted"))
        })
        .ok_or_else(|| GraphError::new(400, "ValidationError", "Invalid changeType"))?;
    let resource = body
        .get("resource")
        .and_then(Value::as_str)
        .filter(|r| matches!(*r, "me/events" | "/me/events"))
        .ok_or_else(|| invalid_request("Unsupported resource"))?;
    let notification_url = url_field(body, "notificationUrl", true)?.unwrap_or_default();
    let lifecycle_notification_url = url_field(body, "lifecycleNotificationUrl", false)?;
    let expiration = expiration(body)?;
    let client_state = match body.get("clientState") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= MAX_CLIENT_STATE_CHARS => Some(s.clone()),
        Some(_) => {
            return Err(invalid_request(format!(
                "clientState must be a string of at most {MAX_CLIENT_STATE_CHARS} characters."
            )))
        }
    };
    Ok(GraphSubscription {
        id: uuid::Uuid::new_v4().to_string(),
        resource: resource.to_owned(),
        change_type: change_type.to_owned(),
        notification_url,
        lifecycle_notification_url,
        client_state,
        expiration,
        deleted: false,
    })
}

fn render(subscription: &GraphSubscription, application_id: &str, creator_id: &str) -> Value {
    json!({
        "@odata.context": CONTEXT,
        "id": subscription.id,
        "resource": subscription.resource,
        "applicationId": application_id,
        "changeType": subscription.change_type,
        "clientState": subscription.client_state,
        "notificationUrl": subscription.notification_url,
        "lifecycleNotificationUrl": subscription.lifecycle_notification_url,
        "expirationDateTime": graph_instant(subscription.expiration),
        "creatorId": creator_id,
        "latestSupportedTlsVersion": "v1_2",
        "notificationContentType": "application/json",
    })
}

fn client() -> Option<reqwest::Client> {
    // Graph follows no redirects from a receiver; neither does the fake.
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(RECEIVER_TIMEOUT)
        .build()
        .ok()
}

/// Graph's validation handshake: an empty `text/plain` POST to `{url}?validationToken=...`, which
/// must answer 200 with the decoded token as its body, byte for byte.
async fn validates(url: &str) -> bool {
    let token = format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        uuid::Uuid::new_v4()
    );
    let Some(client) = client() else {
        return false;
    };
    let answer = client
        .post(with_query(url, &[("validationToken", &token)]))
        .header("content-type", "text/plain; charset=utf-8")
        .body(Vec::new())
        .send()
        .await;
    match answer {
        Ok(response) if response.status().as_u16() == 200 => response
            .bytes()
            .await
            .is_ok_and(|body| body.as_ref() == token.as_bytes()),
        _ => false,
    }
}

/// POSTs the notification as JSON; the receiver's status, or 0 when no answer arrived.
pub(crate) async fn deliver(notification: &Notification) -> u16 {
    let Some(client) = client() else {
        return 0;
    };
    match client
        .post(&notification.url)
        .header("content-type", "application/json")
        .body(notification.body.to_string())
        .send()
        .await
    {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

/// The `/subscriptions` routes, after authentication and throttling. Async because the
/// handshake calls the receiver, which may be the very server calling this: no lock is held
/// across an `.await`.
pub(super) async fn serve(
    inner: &Inner,
    method: &str,
    segs: &[String],
    body: &[u8],
) -> Result<HttpResponse, GraphError> {
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let object = || {
        harness::json_object(body)
            .ok_or_else(|| GraphError::new(400, "BadRequest", "Unable to read JSON request payload."))
    };
    let application_id = inner.oauth.client_id();
    let creator_id = lock(&inner.mailbox).user_id();
    let now = Timestamp::now();
    match (method, segs.as_slice()) {
        ("POST", ["subscriptions"]) => {
            let subscription = requested(&object()?)?;
            let urls =
                std::iter::once(&subscription.notification_url).chain(subscription.lifecycle_notification_url.as_ref());
            for url in urls {
                if !validates(url).await {
                    return Err(invalid_request(
                        "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
                    ));
                }
            }
            lock(&inner.subscriptions).list.push(subscription.clone());
            Ok(HttpResponse::Created().json(render(&subscription, &application_id, &creator_id)))
        }
        ("GET", ["subscriptions"]) => {
            let value: Vec<Value> = lock(&inner.subscriptions)
                .list
                .iter()
                .filter(|s| !s.deleted)
                .map(|s| render(s, &application_id, &creator_id))
                .map(|mut v| {
                    if let Some(map) = v.as_object_mut() {
                        map.remove("@odata.context");
                    }
                    v
                })
                .collect();
            Ok(HttpResponse::Ok().json(json!({
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions",
                "value": value,
            })))
        }
        ("GET", ["subscriptions", id]) => {
            let subscriptions = lock(&inner.subscriptions);
            let subscription = subscriptions
                .list
                .iter()
                .find(|s| s.id == *id && !s.deleted)
                .ok_or_else(resource_not_found)?;
            Ok(HttpResponse::Ok().json(render(subscription, &application_id, &creator_id)))
        }
        ("PATCH", ["subscriptions", id]) => {
            let patch = object()?;
            let mut subscriptions = lock(&inner.subscriptions);
            let subscription = subscriptions
                .list
                .iter_mut()
                .find(|s| s.id == *id && s.live(now))
                .ok_or_else(resource_not_found)?;
            subscription.expiration = expiration(&patch)?;
            Ok(HttpResponse::Ok().json(render(subscription, &application_id, &creator_id)))
        }
        ("DELETE", ["subscriptions", id]) => {
            let mut subscriptions = lock(&inner.subscriptions);
            let subscription = subscriptions
                .list
                .iter_mut()
                .find(|s| s.id == *id && !s.deleted)
                .ok_or_else(resource_not_found)?;
            subscription.deleted = true;
            Ok(HttpResponse::NoContent().finish())
        }
        _ => Err(GraphError::new(
            400,
            "BadRequest",
            "Resource not found for the segment.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_change_types_and_expirations() {
        assert!(acceptable_url("https://example.com/webhooks/microsoft"));
        assert!(acceptable_url("http://127.0.0.1:8080/hook"));
        assert!(acceptable_url("http://localhost/hook"));
        assert!(acceptable_url("http://[::1]:9/hook"));
        assert!(!acceptable_url("http://example.com/hook"));
        assert!(!acceptable_url("ftp://example.com/hook"));
        assert!(!acceptable_url("not a url"));
        let soon = graph_instant(Timestamp::now() + SignedDuration::from_hours(1));
        let body = |change_type: &str, expiration: &str| {
            let body = json!({
                "changeType": change_type,
                "notificationUrl": "https://example.com/hook",
                "resource": "me/events",
                "expirationDateTime": expiration,
            });
            body.as_object().cloned().unwrap_or_default()
        };
        assert!(requested(&body("created,updated,deleted", &soon)).is_ok());
        assert!(requested(&body("created, deleted", &soon)).is_ok());
        for bad in ["", "created,", "moved", "created,,deleted"] {
            assert!(requested(&body(bad, &soon)).is_err_and(|e| e.code == "ValidationError"));
        }
        let too_far = graph_instant(Timestamp::now() + SignedDuration::from_mins(10_081));
        let past = graph_instant(Timestamp::now() - SignedDuration::from_mins(1));
        for bad in [too_far.as_str(), past.as_str(), "tomorrow"] {
            assert!(requested(&body("created", bad)).is_err_and(|e| e.code == "InvalidRequest"));
        }
    }
}

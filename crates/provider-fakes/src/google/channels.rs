//! Push notification channels: `events.watch` opens one on a calendar, `channels.stop` stops it,
//! and the test controls deliver Google's notifications (empty-body POSTs whose headers say
//! what happened) to the channel's address.

use std::collections::HashMap;

use actix_web::HttpResponse;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde_json::{json, Map, Value};

use super::GoogleError;
use crate::harness::random_hex;

/// The longest a Calendar channel lives (Google caps the asked-for expiration at a week).
pub(crate) const MAX_CHANNEL_LIFETIME_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The longest token Google accepts.
const MAX_TOKEN_CHARS: usize = 256;

/// The longest channel id Google accepts.
const MAX_ID_CHARS: usize = 64;

/// A notification channel as the fake stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedChannel {
    /// The client's id for the channel (`X-Goog-Channel-ID`).
    pub id: String,
    /// The watched resource's id (stable per calendar; `X-Goog-Resource-ID`).
    pub resource_id: String,
    /// The token the client gave (`X-Goog-Channel-Token`), if any.
    pub token: Option<String>,
    /// Where notifications go.
    pub address: String,
    /// The watched calendar's id (the calendar's own id, also when watched as `primary`).
    pub calendar_id: String,
    /// The granted expiration, in Unix milliseconds.
    pub expiration: i64,
    /// Whether `channels.stop` stopped it (a stopped channel sends nothing more).
    pub stopped: bool,
}

#[derive(Debug)]
struct Stored {
    channel: WatchedChannel,
    resource_uri: String,
    /// The last message number sent (1 is the `sync` handshake).
    last_message: u64,
}

/// One notification to send, prepared under the lock and sent after it is released.
#[derive(Debug, Clone)]
pub(crate) struct Notification {
    pub(crate) channel_id: String,
    pub(crate) address: String,
    headers: Vec<(&'static str, String)>,
}

#[derive(Debug, Default)]
pub(crate) struct Channels {
    list: Vec<Stored>,
    /// The resource id of each watched calendar (by the calendar's own id).
    resource_ids: HashMap<String, String>,
}

fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

fn invalid(message: impl Into<String>) -> GoogleError {
    GoogleError::new(400, "invalid", message)
}

/// `https`, or `http` on a loopback host (so that tests can receive notifications).
fn acceptable_address(address: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(address) else {
        return false;
    };
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]" | "::1"));
    match url.scheme() {
        "https" => url.host_str().is_some_and(|h| !h.is_empty()),
        "http" => loopback,
        _ => false,
    }
}

/// Google's channel ids: at most 64 characters of `[A-Za-z0-9-_+/=]`.
fn acceptable_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/' | '='))
}

/// The Channel's `expiration`: an int64 as a string (as the discovery document types it) or a
/// JSON number (as most clients send it).
fn requested_expiration(value: Option<&Value>) -> Result<Option<i64>, GoogleError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| invalid("Invalid expiration value.")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| invalid("Invalid expiration value.")),
        Some(_) => Err(invalid("Invalid expiration value.")),
    }
}

/// `X-Goog-Channel-Expiration`: the human-readable form Google sends, e.g.
/// `Tue, 19 Nov 2013 01:13:52 GMT`.
pub(crate) fn expiration_header(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => TimeZone::UTC
            .to_datetime(ts)
            .strftime("%a, %d %b %Y %H:%M:%S GMT")
            .to_string(),
        Err(_) => ms.to_string(),
    }
}

impl Channels {
    /// events.watch on `calendar_id` (the calendar's own id), watched as `path_calendar` (the id
    /// the request's path named, which the resource URI repeats).
    pub(crate) fn watch(
        &mut self,
        calendar_id: &str,
        path_calendar: &str,
        body: &Map<String, Value>,
    ) -> Result<HttpResponse, GoogleError> {
        let id = match body.get("id") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            None | Some(Value::Null) => return Err(GoogleError::new(400, "required", "Required: id")),
            Some(Value::String(_)) => return Err(GoogleError::new(400, "required", "Required: id")),
            Some(_) => return Err(invalid("Invalid channel id.")),
        };
        if !acceptable_id(&id) {
            return Err(invalid(format!(
                "Invalid channel id {id:?}: at most {MAX_ID_CHARS} characters of [A-Za-z0-9-_+/=]."
            )));
        }
        match body.get("type").and_then(Value::as_str) {
            Some("web_hook" | "webhook") => {}
            None => return Err(GoogleError::new(400, "required", "Required: type")),
            Some(other) => return Err(invalid(format!("Invalid channel type {other:?}."))),
        }
        let address = match body.get("address") {
            Some(Value::String(a)) if !a.is_empty() => a.clone(),
            None | Some(Value::Null) => return Err(GoogleError::new(400, "required", "Required: address")),
            Some(_) => return Err(invalid("Invalid address.")),
        };
        if !acceptable_address(&address) {
            return Err(GoogleError::new(
                400,
                "push.webhookUrlNotHttps",
                "WebHook callback must be HTTPS: ".to_owned() + &address,
            ));
        }
        let token = match body.get("token") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if t.chars().count() <= MAX_TOKEN_CHARS => Some(t.clone()),
            Some(Value::String(_)) => {
                return Err(invalid(format!(
                    "The channel token is longer than {MAX_TOKEN_CHARS} characters."
                )))
            }
            Some(_) => return Err(invalid("Invalid token.")),
        };
        let now = now_ms();
        let cap = now + MAX_CHANNEL_LIFETIME_MS;
        let expiration = match requested_expiration(body.get("expiration"))? {
            None => cap,
            Some(ms) if ms <= now => return Err(invalid("The channel expiration must be in the future.")),
            Some(ms) => ms.min(cap),
        };
        if self.list.iter().any(|s| s.channel.id == id) {
            return Err(GoogleError::new(
                400,
                "channelIdNotUnique",
                format!("Channel id {id} not unique"),
            ));
        }
        let resource_id = self
            .resource_ids
            .entry(calendar_id.to_owned())
            .or_insert_with(random_hex)
            .clone();
        let encoded: String = reqwest::Url::parse("https://www.googleapis.com/calendar/v3/calendars/")
            .ok()
            .and_then(|mut url| {
                url.path_segments_mut()
                    .ok()?
                    .pop_if_empty()
                    .extend([path_calendar, "events"]);
                Some(url.to_string())
            })
            .unwrap_or_default();
        let resource_uri = format!("{encoded}?alt=json");
        let mut answer = json!({
            "kind": "api#channel",
            "id": id,
            "resourceId": resource_id,
            "resourceUri": resource_uri,
            "expiration": expiration.to_string(),
        });
        if let (Some(token), Some(map)) = (&token, answer.as_object_mut()) {
            map.insert("token".into(), json!(token));
        }
        self.list.push(Stored {
            channel: WatchedChannel {
                id,
                resource_id,
                token,
                address,
                calendar_id: calendar_id.to_owned(),
                expiration,
                stopped: false,
            },
            resource_uri,
            last_message: 1,
        });
        Ok(HttpResponse::Ok().json(answer))
    }

    /// channels.stop: a live channel with this id and resource id stops; anything else is 404.
    pub(crate) fn stop(&mut self, body: &Map<String, Value>) -> Result<HttpResponse, GoogleError> {
        let id = body.get("id").and_then(Value::as_str).unwrap_or_default();
        let resource_id = body.get("resourceId").and_then(Value::as_str).unwrap_or_default();
        if id.is_empty() {
            return Err(GoogleError::new(400, "required", "Required: id"));
        }
        let now = now_ms();
        let stored = self
            .list
            .iter_mut()
            .find(|s| s.channel.id == id && s.channel.resource_id == resource_id)
            .filter(|s| !s.channel.stopped && s.channel.expiration > now)
            .ok_or_else(|| {
                GoogleError::new(
                    404,
                    "notFound",
                    format!("Channel '{id}' not found for project 'fake-google'"),
                )
            })?;
        stored.channel.stopped = true;
        Ok(HttpResponse::NoContent().finish())
    }

    pub(crate) fn all(&self) -> Vec<WatchedChannel> {
        self.list.iter().map(|s| s.channel.clone()).collect()
    }

    /// An `exists` notification for every live, unexpired channel on the calendar (its own id),
    /// each with the channel's next message number.
    pub(crate) fn changed(&mut self, calendar_id: &str) -> Vec<Notification> {
        let now = now_ms();
        self.list
            .iter_mut()
            .filter(|s| s.channel.calendar_id == calendar_id && !s.channel.stopped && s.channel.expiration > now)
            .map(|s| {
                s.last_message += 1;
                notification(s, "exists", s.last_message)
            })
            .collect()
    }

    /// The `sync` handshake of a live, unexpired channel (message number 1).
    pub(crate) fn handshake(&self, channel_id: &str) -> Option<Notification> {
        let now = now_ms();
        self.list
            .iter()
            .find(|s| s.channel.id == channel_id && !s.channel.stopped && s.channel.expiration > now)
            .map(|s| notification(s, "sync", 1))
    }
}

fn notification(stored: &Stored, state: &str, number: u64) -> Notification {
    let channel = &stored.channel;
    let mut headers = vec![
        ("X-Goog-Channel-ID", channel.id.clone()),
        ("X-Goog-Channel-Expiration", expiration_header(channel.expiration)),
        ("X-Goog-Resource-State", state.to_owned()),
        ("X-Goog-Message-Number", number.to_string()),
        ("X-Goog-Resource-ID", channel.resource_id.clone()),
        ("X-Goog-Resource-URI", stored.resource_uri.clone()),
    ];
    if let Some(token) = &channel.token {
        headers.push(("X-Goog-Channel-Token", token.clone()));
    }
    Notification {
        channel_id: channel.id.clone(),
        address: channel.address.clone(),
        headers,
    }
}

/// POSTs the notification (an empty body, as Google sends it); the receiver's status, or 0 when
/// no answer arrived.
pub(crate) async fn deliver(notification: &Notification) -> u16 {
    // Google does not follow redirects from a receiver; neither does the fake.
    let Ok(client) = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
    else {
        return 0;
    };
    let mut request = client
        .post(&notification.address)
        .header(
            "user-agent",
            "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
        )
        .body(Vec::new());
    for (name, value) in &notification.headers {
        request = request.header(*name, value);
    }
    match request.send().await {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_ids_and_expiration_headers() {
        assert!(acceptable_address("https://example.com/webhooks/google_calendar"));
        assert!(acceptable_address("http://127.0.0.1:8080/hook"));
        assert!(acceptable_address("http://localhost/hook"));
        assert!(acceptable_address("http://[::1]:9/hook"));
        assert!(!acceptable_address("http://example.com/hook"));
        assert!(!acceptable_address("ftp://example.com/hook"));
        assert!(!acceptable_address("not a url"));
        assert!(acceptable_id("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!acceptable_id("has space"));
        assert!(!acceptable_id(&"a".repeat(65)));
        assert_eq!(expiration_header(1_384_823_632_000), "Tue, 19 Nov 2013 01:13:52 GMT");
    }
}

//! Two-way sync and push for Outlook calendars (api.md "Push notifications and two-way sync"):
//! the change feed on calendarView delta queries, push on Graph subscriptions to `me/events`.

use availability_core::{
    CalendarChange, ChangeBatch, ChannelRequest, CoreError, OpenedChannel, PushDelivery, PushEvent, PushNotice,
    WebhookRequest,
};
use availability_domain::jiff::tz::TimeZone;
use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::ExpertId;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::graph::{self, core, is_gone, unusable, Graph, GraphEvent, PREFER_UTC};
use crate::time::floor_second;

/// What a subscription watches: the signed-in user's events (the default calendar receives the
/// appointments).
pub(crate) const RESOURCE: &str = "me/events";

/// api.md: a subscription lives three days at most (Graph allows Outlook events a week).
const MAX_SUBSCRIPTION_SECONDS: i64 = 3 * 24 * 60 * 60;

/// How far back and ahead a delta round looks. Graph fixes the window at a round's first request
/// and every deltaLink after it keeps it; a full read (a new connection, an expired token)
/// starts a new window. A year and a month ahead covers the booking horizon.
const WINDOW_BEHIND_DAYS: i32 = 1;
const WINDOW_AHEAD_DAYS: i32 = 400;

/// Events per delta page (`Prefer: odata.maxpagesize`).
const PAGE_SIZE: u32 = 250;

/// A runaway chain of nextLinks ends here.
const MAX_PAGES: usize = 400;

/// One row of a delta page: an event, or only its id with `@removed`.
#[derive(Deserialize)]
struct DeltaRow {
    #[serde(flatten)]
    event: GraphEvent,
    #[serde(default, rename = "@removed")]
    removed: Option<Value>,
}

#[derive(Deserialize)]
struct DeltaPage {
    #[serde(default)]
    value: Vec<DeltaRow>,
    #[serde(default, rename = "@odata.nextLink")]
    next_link: Option<String>,
    #[serde(default, rename = "@odata.deltaLink")]
    delta_link: Option<String>,
}

/// A subscription as Graph answers it, as far as read here.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Subscription {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    expiration_date_time: Option<String>,
}

/// One notification of a delivery, change or lifecycle.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    #[serde(default)]
    subscription_id: Option<String>,
    #[serde(default)]
    client_state: Option<String>,
    #[serde(default)]
    lifecycle_event: Option<String>,
}

#[derive(Deserialize)]
struct Notifications {
    value: Vec<Notification>,
}

/// How one delta round ended.
enum Round {
    Done(ChangeBatch),
    /// Graph no longer knows the token's sync state (410 syncStateNotFound): read everything.
    Expired,
}

fn expiration(now: Timestamp, ttl_seconds: i64) -> Result<(Timestamp, String), CoreError> {
    if ttl_seconds <= 0 {
        return Err(unusable(format!(
            "a push channel needs a positive lifetime, not {ttl_seconds} s"
        )));
    }
    let at = now
        .checked_add(SignedDuration::from_secs(ttl_seconds.min(MAX_SUBSCRIPTION_SECONDS)))
        .map_err(|e| unusable(format!("no expiration {ttl_seconds} s from now: {e}")))?;
    // Graph's own form: seven decimals and Z.
    let text = TimeZone::UTC
        .to_datetime(at)
        .strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
        .to_string();
    Ok((at, text))
}

fn granted(subscription: &Subscription, asked: Timestamp) -> Timestamp {
    subscription
        .expiration_date_time
        .as_deref()
        .and_then(|t| t.trim().parse::<Timestamp>().ok())
        .unwrap_or(asked)
}

impl Graph {
    /// The changes since `cursor` (a deltaLink), or a full read when there is none, when it is
    /// not Graph's (another base URL) or when Graph refuses it as expired.
    pub(crate) async fn changes(&self, expert: ExpertId, cursor: Option<&str>) -> Result<ChangeBatch, CoreError> {
        let resumed = cursor.and_then(|c| match self.next_link(c) {
            Ok(url) => Some(url),
            Err(e) => {
                tracing::info!(%expert, "the stored delta link is not usable ({e}): reading the calendar in full");
                None
            }
        });
        if let Some(url) = resumed {
            match self.round(expert, url).await? {
                Round::Done(batch) => return Ok(batch),
                Round::Expired => {
                    tracing::info!(%expert, "Graph expired the delta token: reading the calendar in full")
                }
            }
        }
        match self.round(expert, self.first_delta_url(Timestamp::now())).await? {
            Round::Done(batch) => Ok(batch),
            Round::Expired => Err(unusable("Graph refused a new delta round as expired")),
        }
    }

    /// The first request of a round. It lists the live events of its window only: a deletion
    /// made while no cursor was kept is not seen (see `follow_calendar`).
    fn first_delta_url(&self, now: Timestamp) -> Url {
        let day = SignedDuration::from_hours(24);
        let start = now.checked_sub(day * WINDOW_BEHIND_DAYS).unwrap_or(now);
        let end = now.checked_add(day * WINDOW_AHEAD_DAYS).unwrap_or(now);
        let mut url = self.url(&["me", "calendarView", "delta"]);
        url.query_pairs_mut()
            .append_pair("startDateTime", &floor_second(start).to_string())
            .append_pair("endDateTime", &floor_second(end).to_string());
        url
    }

    /// Follows nextLinks to the deltaLink. A removed row is checked with a read of the event: an
    /// event moved out of the round's window is reported as removed too, and must not cancel
    /// its appointment.
    async fn round(&self, expert: ExpertId, mut url: Url) -> Result<Round, CoreError> {
        let prefer = format!("{PREFER_UTC}, odata.maxpagesize={PAGE_SIZE}");
        let mut changes = Vec::new();
        for _ in 0..MAX_PAGES {
            let reply = self
                .send(expert, None, || {
                    self.client().get(url.clone()).header("Prefer", prefer.as_str())
                })
                .await;
            let reply = match reply {
                Ok(reply) => reply,
                Err(error) if error.status() == Some(StatusCode::GONE) => return Ok(Round::Expired),
                Err(error) => return Err(core(error)),
            };
            let page: DeltaPage = reply.json().map_err(core)?;
            for row in page.value {
                let Some(id) = row.event.id.clone().filter(|id| !id.is_empty()) else {
                    continue;
                };
                let event = if row.removed.is_some() {
                    self.get_event(expert, &id).await?
                } else {
                    Some(row.event)
                };
                if let Some(change) = change_of(id, event)? {
                    changes.push(change);
                }
            }
            match (page.next_link, page.delta_link) {
                (Some(next), _) => url = self.next_link(&next)?,
                (None, Some(delta)) => {
                    // Checked now, so that a stored cursor always points at Graph.
                    self.next_link(&delta)?;
                    return Ok(Round::Done(ChangeBatch { changes, cursor: delta }));
                }
                (None, None) => return Err(unusable("a delta page had neither a nextLink nor a deltaLink")),
            }
        }
        Err(unusable(format!("the delta round kept paging past {MAX_PAGES} pages")))
    }

    /// POST /subscriptions on `me/events`: created, updated and deleted, notifications and
    /// lifecycle notifications to `request.address`, `clientState` the request's token. Graph
    /// checks the address first (the validation handshake, answered by the webhook route). Not
    /// retried after an answer may have been lost: the orphan expires on its own and its
    /// notifications are refused as unknown.
    pub(crate) async fn subscribe(
        &self,
        expert: ExpertId,
        request: &ChannelRequest,
    ) -> Result<OpenedChannel, CoreError> {
        let (asked, text) = expiration(Timestamp::now(), request.ttl_seconds)?;
        let body = json!({
            "changeType": "created,updated,deleted",
            "notificationUrl": request.address,
            "lifecycleNotificationUrl": request.address,
            "resource": RESOURCE,
            "expirationDateTime": text,
            "clientState": request.token,
        });
        let url = self.url(&["subscriptions"]);
        let reply = self
            .send(expert, Some(false), || self.client().post(url.clone()).json(&body))
            .await
            .map_err(core)?;
        let subscription: Subscription = reply.json().map_err(core)?;
        let id = subscription
            .id
            .clone()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| unusable("Graph made a subscription without an id"))?;
        Ok(OpenedChannel {
            id,
            resource_id: RESOURCE.to_owned(),
            expires_at: granted(&subscription, asked),
        })
    }

    /// PATCH /subscriptions/{id} with a new expiration; None when Graph no longer knows it.
    pub(crate) async fn renew(
        &self,
        expert: ExpertId,
        id: &str,
        ttl_seconds: i64,
    ) -> Result<Option<Timestamp>, CoreError> {
        let (asked, text) = expiration(Timestamp::now(), ttl_seconds)?;
        let body = json!({ "expirationDateTime": text });
        let url = self.url(&["subscriptions", id]);
        // The patch sets an absolute value: sending it twice is harmless.
        match self
            .send(expert, Some(true), || self.client().patch(url.clone()).json(&body))
            .await
        {
            Ok(reply) => {
                let subscription: Subscription = reply.json().map_err(core)?;
                Ok(Some(granted(&subscription, asked)))
            }
            Err(error) if is_gone(&error) => Ok(None),
            Err(error) => Err(core(error)),
        }
    }

    /// DELETE /subscriptions/{id}; one already gone is success.
    pub(crate) async fn unsubscribe(&self, expert: ExpertId, id: &str) -> Result<(), CoreError> {
        let url = self.url(&["subscriptions", id]);
        match self.send(expert, None, || self.client().delete(url.clone())).await {
            Ok(_) => Ok(()),
            Err(error) if is_gone(&error) => Ok(()),
            Err(error) => Err(core(error)),
        }
    }
}

/// What became of an event: removed when it is gone or cancelled, else where it is now.
fn change_of(id: String, event: Option<GraphEvent>) -> Result<Option<CalendarChange>, CoreError> {
    match event {
        None => Ok(Some(CalendarChange::Removed { event_id: id })),
        Some(event) if event.is_cancelled == Some(true) => Ok(Some(CalendarChange::Removed { event_id: id })),
        Some(event) => Ok(graph::event_interval(&event)?.map(|time| CalendarChange::At { event_id: id, time })),
    }
}

/// A request to the webhook: Graph's validation (`?validationToken=`), or a JSON body with
/// `value` notifications (changes, or lifecycle events with `lifecycleEvent`). Office 365 takes
/// nothing else at its webhook: a body that is not such a delivery reads as one without
/// notifications (refused as such, 400).
pub(crate) fn read_delivery(request: &WebhookRequest<'_>) -> Option<PushDelivery> {
    if let Some(token) = request.query_value("validationToken") {
        return Some(PushDelivery::Validation(token.to_owned()));
    }
    let Ok(notifications) = serde_json::from_slice::<Notifications>(request.body) else {
        return Some(PushDelivery::Notices(Vec::new()));
    };
    let notices = notifications
        .value
        .into_iter()
        .filter_map(|n| {
            let channel_id = n.subscription_id.filter(|id| !id.trim().is_empty())?;
            let event = match n.lifecycle_event.as_deref() {
                None => PushEvent::Changed,
                Some("reauthorizationRequired") => PushEvent::RenewNow,
                Some("subscriptionRemoved") => PushEvent::Removed,
                // `missed`, and any lifecycle event Graph adds later: read what changed.
                Some(_) => PushEvent::Missed,
            };
            Some(PushNotice {
                channel_id,
                token: n.client_state.unwrap_or_default(),
                event,
            })
        })
        .collect();
    Some(PushDelivery::Notices(notices))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(query: &'a [(String, String)], body: &'a [u8]) -> WebhookRequest<'a> {
        WebhookRequest {
            headers: &[],
            query,
            body,
            received_at: Timestamp::now(),
        }
    }

    #[test]
    fn deliveries_read_as_graph_sends_them() {
        let query = vec![("validationToken".to_owned(), "Validation: Token <x>".to_owned())];
        assert_eq!(
            read_delivery(&request(&query, b"")),
            Some(PushDelivery::Validation("Validation: Token <x>".into()))
        );
        let body = br#"{"value":[
            {"subscriptionId":"s1","clientState":"c1","changeType":"updated","resource":"Users/u/Events/e"},
            {"subscriptionId":"s2","lifecycleEvent":"reauthorizationRequired","clientState":"c2"},
            {"subscriptionId":"s3","lifecycleEvent":"subscriptionRemoved"},
            {"subscriptionId":"s4","lifecycleEvent":"missed","clientState":"c4"},
            {"subscriptionId":"","clientState":"c5"}
        ]}"#;
        let Some(PushDelivery::Notices(notices)) = read_delivery(&request(&[], body)) else {
            panic!("notices expected");
        };
        let read: Vec<(&str, &str, PushEvent)> = notices
            .iter()
            .map(|n| (n.channel_id.as_str(), n.token.as_str(), n.event))
            .collect();
        assert_eq!(
            read,
            vec![
                ("s1", "c1", PushEvent::Changed),
                ("s2", "c2", PushEvent::RenewNow),
                ("s3", "", PushEvent::Removed),
                ("s4", "c4", PushEvent::Missed),
            ]
        );
        for foreign in [&b""[..], br#"{"event":"invitee.created"}"#, b"\xff"] {
            assert_eq!(
                read_delivery(&request(&[], foreign)),
                Some(PushDelivery::Notices(Vec::new()))
            );
        }
    }

    #[test]
    fn expirations_are_capped_at_three_days_in_graphs_form() {
        let now: Timestamp = "2026-12-04T10:00:00.5Z".parse().unwrap();
        let (at, text) = expiration(now, 3600).unwrap();
        assert_eq!(text, "2026-12-04T11:00:00.0000000Z");
        assert_eq!(at, "2026-12-04T11:00:00.5Z".parse::<Timestamp>().unwrap());
        let (_, capped) = expiration(now, 7 * 24 * 3600).unwrap();
        assert_eq!(capped, "2026-12-07T10:00:00.0000000Z");
        assert!(expiration(now, 0).is_err());
    }

    #[test]
    fn changes_of_rows() {
        assert_eq!(
            change_of("a".into(), None).unwrap(),
            Some(CalendarChange::Removed { event_id: "a".into() })
        );
        let cancelled = GraphEvent {
            is_cancelled: Some(true),
            ..GraphEvent::default()
        };
        assert_eq!(
            change_of("b".into(), Some(cancelled)).unwrap(),
            Some(CalendarChange::Removed { event_id: "b".into() })
        );
        let timeless = GraphEvent::default();
        assert_eq!(change_of("c".into(), Some(timeless)).unwrap(), None);
    }
}

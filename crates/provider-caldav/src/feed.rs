//! The change feed of the calendar that receives the expert's appointments (two-way sync): what
//! another client did to its events since the last read.
//!
//! - The cursor is the calendar's RFC 6578 sync token. A read from it is a sync-collection
//!   REPORT: a member reported 404 is [`CalendarChange::Removed`]; the changed ones are fetched
//!   (calendar-multiget, in chunks) and are [`CalendarChange::At`] their time, or `Removed` when
//!   cancelled (STATUS:CANCELLED). A truncated answer (507) is continued from its new token.
//! - A full read (no cursor, or a token the server refuses: any 4xx but 401 and 429, which covers
//!   the DAV:valid-sync-token precondition's 403 and 409) takes the calendar's sync token first
//!   (PROPFIND, Depth 0), then every event from a day ago to past the longest booking horizon
//!   (calendar-query), each as `At`; a change made between the two is read again next time.
//! - A calendar without a sync token (no sync-collection support) is read by CTag: the cursor is
//!   `ctag:<value>`; an unchanged CTag is no change, a changed one a full read.
//!
//! Event ids are the members' URLs, resolved against the calendar's URL exactly as the event
//! writer makes them (`{calendar}/{uid}.ics`), so an appointment's `external_calendar_event_id`
//! matches. Recurring events are skipped: appointments never recur. Times are read like busy
//! time (TZID, VTIMEZONE, floating times in the expert's zone).

use std::collections::HashMap;

use availability_core::strategy::{CalendarChange, ChangeBatch};
use availability_domain::Interval;
use http::{StatusCode, Uri};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use libdav::caldav::GetCalendarResources;
use libdav::Depth;

use crate::error::DavError;
use crate::expand::{single_event, SingleEvent};
use crate::transport::{origin, resolve, PolicyClient};
use crate::wire::{self, CollectionState, EventsInWindow, SyncChanges, STATE_PROPERTIES};

/// The cursor of a calendar read by CTag.
pub(crate) const CTAG_PREFIX: &str = "ctag:";

/// A full read starts this long ago (an appointment that just began can still move)...
const FULL_READ_BEFORE: SignedDuration = SignedDuration::from_hours(24);
/// ... and reaches this far ahead: past the longest booking horizon (730 days).
const FULL_READ_AHEAD: SignedDuration = SignedDuration::from_hours(24 * 731);

/// Changed members fetched per calendar-multiget.
const MULTIGET_CHUNK: usize = 100;

/// Truncated sync answers followed at most this many times in one read.
const MAX_SYNC_ROUNDS: usize = 20;

/// The changes of `calendar` since `cursor` (None or empty: a full read).
pub(crate) async fn changes(
    http: &PolicyClient,
    calendar: &Uri,
    floating: &TimeZone,
    cursor: Option<&str>,
    now: Timestamp,
) -> Result<ChangeBatch, DavError> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return full_read(http, calendar, floating, now).await;
    };
    if let Some(ctag) = cursor.strip_prefix(CTAG_PREFIX) {
        let state = state(http, calendar).await?;
        if !ctag.is_empty() && state.ctag.as_deref() == Some(ctag) {
            return Ok(ChangeBatch {
                changes: Vec::new(),
                cursor: cursor.to_owned(),
            });
        }
        return read_window(http, calendar, floating, now, state).await;
    }
    match since(http, calendar, floating, cursor).await {
        Err(e) if refused(&e) => {
            tracing::info!(calendar = %calendar, error = %e, "the CalDAV server refused the sync token; reading the calendar again");
            full_read(http, calendar, floating, now).await
        }
        other => other,
    }
}

/// A token the server does not accept (RFC 6578 DAV:valid-sync-token: 403, or 409, 412 and
/// others on some servers): any client error but a refused password and a rate limit. A
/// permission problem fails again in the full read, where it is reported.
fn refused(error: &DavError) -> bool {
    error
        .status()
        .is_some_and(|s| s.is_client_error() && s != StatusCode::UNAUTHORIZED && s != StatusCode::TOO_MANY_REQUESTS)
}

/// The calendar's sync token and CTag.
async fn state(http: &PolicyClient, calendar: &Uri) -> Result<CollectionState, DavError> {
    let response = http
        .run(
            &origin(calendar)?,
            &wire::propfind(calendar.path(), &STATE_PROPERTIES, Depth::Zero),
        )
        .await?;
    wire::parse_collection_state(&response.body).map_err(|e| DavError::Parse(e.to_string()))
}

async fn full_read(
    http: &PolicyClient,
    calendar: &Uri,
    floating: &TimeZone,
    now: Timestamp,
) -> Result<ChangeBatch, DavError> {
    let state = state(http, calendar).await?;
    read_window(http, calendar, floating, now, state).await
}

/// Every event of the full read's window, with the cursor `state` gives (read before the events).
async fn read_window(
    http: &PolicyClient,
    calendar: &Uri,
    floating: &TimeZone,
    now: Timestamp,
    state: CollectionState,
) -> Result<ChangeBatch, DavError> {
    let cursor = match state.sync_token {
        Some(token) if !token.starts_with(CTAG_PREFIX) => token,
        _ => format!("{CTAG_PREFIX}{}", state.ctag.unwrap_or_default()),
    };
    let format = |t: Timestamp| t.strftime("%Y%m%dT%H%M%SZ").to_string();
    let start = now.checked_sub(FULL_READ_BEFORE).unwrap_or(now);
    let end = now.checked_add(FULL_READ_AHEAD).unwrap_or(now);
    let request = EventsInWindow {
        calendar_href: calendar.path(),
        start: format(start),
        end: format(end),
    };
    let objects = http.run(&origin(calendar)?, &request).await?;
    let mut changes = Vec::with_capacity(objects.len());
    for object in objects {
        let id = resolve(calendar, &object.href)?.to_string();
        changes.extend(change_of(id, &object.data, floating));
    }
    Ok(ChangeBatch { changes, cursor })
}

/// What changed since a sync token (an error with the server's status if it refuses it).
async fn since(http: &PolicyClient, calendar: &Uri, floating: &TimeZone, token: &str) -> Result<ChangeBatch, DavError> {
    let base = origin(calendar)?;
    let mut token = token.to_owned();
    // Each member once, at its latest state, in the order the server reported them.
    let mut members: Vec<(String, bool)> = Vec::new();
    for round in 0.. {
        let answer = http
            .run(
                &base,
                &SyncChanges {
                    calendar_href: calendar.path(),
                    token: &token,
                },
            )
            .await?;
        for (href, removed) in answer.members {
            let id = resolve(calendar, &href)?.to_string();
            members.retain(|(seen, _)| *seen != id);
            members.push((id, removed));
        }
        token = answer.token;
        if !answer.truncated || round + 1 >= MAX_SYNC_ROUNDS {
            break;
        }
    }
    let changed: Vec<&str> = members
        .iter()
        .filter(|(_, removed)| !removed)
        .map(|(id, _)| id.as_str())
        .collect();
    let mut fetched: HashMap<String, String> = HashMap::new();
    for chunk in changed.chunks(MULTIGET_CHUNK) {
        let paths: Vec<String> = chunk
            .iter()
            .filter_map(|id| id.parse::<Uri>().ok())
            .map(|url| url.path().to_owned())
            .collect();
        let request = GetCalendarResources::new(calendar.path()).with_hrefs(&paths);
        let response = http.run(&base, &request).await?;
        for resource in response.resources {
            if let Ok(content) = resource.content {
                fetched.insert(resolve(calendar, &resource.href)?.to_string(), content.data);
            }
        }
    }
    let mut changes = Vec::with_capacity(members.len());
    for (id, removed) in members {
        if removed {
            changes.push(CalendarChange::Removed { event_id: id });
        } else if let Some(data) = fetched.get(&id) {
            changes.extend(change_of(id, data, floating));
        }
        // Changed and then gone before the multiget: the next read reports it removed.
    }
    Ok(ChangeBatch { changes, cursor: token })
}

/// The change one member's data says, if any (recurring and unreadable objects say nothing).
fn change_of(event_id: String, data: &str, floating: &TimeZone) -> Option<CalendarChange> {
    match single_event(data, floating) {
        Ok(Some(SingleEvent::At(start, end))) => Interval::new(start, end)
            .ok()
            .map(|time| CalendarChange::At { event_id, time }),
        Ok(Some(SingleEvent::Cancelled)) => Some(CalendarChange::Removed { event_id }),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(href = %event_id, error = %e, "a calendar object could not be read; the change feed skips it");
            None
        }
    }
}

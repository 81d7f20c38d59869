//! Appointments as events, written idempotently with ETags (the outbox worker retries every
//! call, so every operation converges whatever happened to an earlier attempt):
//!
//! - create: PUT `{calendar}/{uid}.ics` with `If-None-Match: *`. A 412 means the event exists
//!   (a retried create whose first answer was lost): it is read back and, if its time differs,
//!   updated. Never a second event.
//! - update: read the event (calendar-multiget: data and current ETag), then PUT with
//!   `If-Match` on that ETag; a 412 (changed meanwhile) is read again and retried. An event
//!   already at the appointment's time is left alone; one that is gone is created again.
//! - cancel: read the ETag, DELETE with `If-Match`; gone already (404) is success.
//!
//! The ETag is always read right before the conditional request, so nothing depends on a PUT
//! answer carrying one (Radicale's may not). The appointment's external event id is the
//! event's URL.

use availability_domain::{Appointment, Client};
use http::{StatusCode, Uri};
use libdav::caldav::GetCalendarResources;
use libdav::dav::{Delete, PutResource};

use crate::error::DavError;
use crate::event::{appointment_ics, sequence_of, EventText};
use crate::expand::{expand_occurrences, ExpansionContext, ExpansionLimits};
use crate::transport::{origin, PolicyClient};

/// Conditional writes that lost a race this many times in a row give up (with 412).
const MAX_CONFLICTS: usize = 4;

const CALENDAR_CONTENT_TYPE: &str = "text/calendar; charset=utf-8";

/// An event as stored on the server.
struct StoredEvent {
    etag: String,
    data: String,
}

/// The URL of the event an appointment gets in a calendar.
pub(crate) fn event_url(calendar_url: &str, appointment: &Appointment) -> Result<Uri, DavError> {
    let base = if calendar_url.ends_with('/') {
        calendar_url.to_owned()
    } else {
        format!("{calendar_url}/")
    };
    format!("{base}{}.ics", crate::appointment_uid(appointment.id))
        .parse()
        .map_err(|e: http::uri::InvalidUri| DavError::Request(e.to_string()))
}

fn collection_of(url: &Uri) -> String {
    let path = url.path();
    match path.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/"),
        None => "/".to_owned(),
    }
}

/// The event at `url` (data and ETag), or `None` if there is none.
async fn read(http: &PolicyClient, url: &Uri) -> Result<Option<StoredEvent>, DavError> {
    let collection = collection_of(url);
    let request = GetCalendarResources::new(&collection).with_hrefs([url.path()]);
    let response = match http.run(&origin(url)?, &request).await {
        Ok(response) => response,
        Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => return Ok(None),
        Err(e) => return Err(e),
    };
    let found = response.resources.into_iter().find_map(|r| r.content.ok());
    Ok(found.map(|content| StoredEvent {
        etag: content.etag,
        data: content.data,
    }))
}

/// The event already holds the appointment's time.
fn holds_time(data: &str, appointment: &Appointment) -> bool {
    let context = ExpansionContext {
        expert_zone: jiff::tz::TimeZone::UTC,
        expert_addresses: Vec::new(),
        limits: ExpansionLimits::default(),
    };
    expand_occurrences(data, &context, (appointment.start_time, appointment.end_time))
        .map(|found| {
            found
                .iter()
                .any(|o| o.start == appointment.start_time && o.end == appointment.end_time)
        })
        .unwrap_or(false)
}

/// PUT `If-None-Match: *`; `Ok(false)` if something is there already (412).
async fn put_new(http: &PolicyClient, url: &Uri, data: String) -> Result<bool, DavError> {
    let request = PutResource::new(url.path()).create(data, CALENDAR_CONTENT_TYPE);
    match http.run(&origin(url)?, &request).await {
        Ok(_) => Ok(true),
        Err(e) if e.status() == Some(StatusCode::PRECONDITION_FAILED) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes the appointment's event at `url`: created if absent, updated if its time differs.
pub(crate) async fn write(
    http: &PolicyClient,
    url: &Uri,
    client: &Client,
    appointment: &Appointment,
    text: &EventText,
    create_first: bool,
) -> Result<(), DavError> {
    if create_first && put_new(http, url, appointment_ics(client, appointment, text, 0)).await? {
        return Ok(());
    }
    for _ in 0..MAX_CONFLICTS {
        let Some(current) = read(http, url).await? else {
            // Gone (deleted by the expert, or never written): write it anew.
            if put_new(http, url, appointment_ics(client, appointment, text, 0)).await? {
                return Ok(());
            }
            continue;
        };
        if holds_time(&current.data, appointment) {
            return Ok(());
        }
        let sequence = sequence_of(&current.data).unwrap_or(0) + 1;
        let request = PutResource::new(url.path()).update(
            appointment_ics(client, appointment, text, sequence),
            CALENDAR_CONTENT_TYPE,
            current.etag,
        );
        match http.run(&origin(url)?, &request).await {
            Ok(_) => return Ok(()),
            // Changed since it was read: read it again.
            Err(e) if e.status() == Some(StatusCode::PRECONDITION_FAILED) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(DavError::Status(StatusCode::PRECONDITION_FAILED))
}

/// Deletes the event at `url` with `If-Match`; an event already gone is success.
pub(crate) async fn delete(http: &PolicyClient, url: &Uri) -> Result<(), DavError> {
    for _ in 0..MAX_CONFLICTS {
        let Some(current) = read(http, url).await? else {
            return Ok(());
        };
        let request = Delete::new(url.path()).with_etag(current.etag);
        match http.run(&origin(url)?, &request).await {
            Ok(_) => return Ok(()),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => return Ok(()),
            Err(e) if e.status() == Some(StatusCode::PRECONDITION_FAILED) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(DavError::Status(StatusCode::PRECONDITION_FAILED))
}

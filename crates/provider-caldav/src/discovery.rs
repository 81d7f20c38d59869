//! Connecting an account: RFC 6764 discovery from the URL the expert typed (the
//! `/.well-known/caldav` redirect, current-user-principal, calendar-home-set), then the Depth 1
//! listing of the calendar home. The credentials are checked by these very requests, so a wrong
//! password is a typed error before anything is stored.

use std::sync::Arc;

use availability_domain::Secret;
use http::Uri;
use libdav::dav::{FindCurrentUserPrincipalError, RequestError, ResolveContextPathError, WebDavClient, WebDavError};
use libdav::Depth;
use provider_http::{HttpPolicy, ProviderHttpError};
use serde::Serialize;

use crate::error::{ConnectError, DavError};
use crate::stored::{StoredCaldav, StoredCalendar};
use crate::transport::{origin, resolve, BasicAuth, PolicyClient};
use crate::wire::{self, ListedCalendar, LISTING_PROPERTIES, PRINCIPAL_PROPERTIES, SCHEDULE_DEFAULT_CALENDAR_URL};

/// A calendar as the calendars route shows it (the shape of Google's route).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CalendarInfo {
    /// The calendar's id (its absolute URL).
    pub id: String,
    /// Its name.
    pub summary: String,
    /// The principal's default calendar.
    pub primary: bool,
    /// Its events block the expert's time.
    pub blocks_time: bool,
    /// Appointments are written to it.
    pub receives_events: bool,
    /// The account cannot write to it.
    pub read_only: bool,
}

/// A connected account: what to show, and the credential document to store.
#[derive(Debug, Clone)]
pub struct ConnectedAccount {
    /// The account as the expert knows it (the username).
    pub account: String,
    /// The calendars that hold events, with the default choice applied.
    pub calendars: Vec<CalendarInfo>,
    /// What to store (`credential.to_credential()`, encrypted by the store).
    pub credential: StoredCaldav,
}

/// Checks the credentials against the server and discovers the account's calendars. Nothing is
/// stored here: the server stores `credential` (through the provider's `Connection`) only on
/// success.
///
/// `server_url` may be a bare host (`caldav.icloud.com`, taken as https), a service root
/// (`https://HOST/remote.php/dav`) or a principal or calendar-home URL.
pub async fn discover(
    client: &reqwest::Client,
    policy: &HttpPolicy,
    server_url: &str,
    username: &str,
    password: Secret<String>,
) -> Result<ConnectedAccount, ConnectError> {
    let start = parse_server_url(server_url)?;
    let http = PolicyClient::new(
        client.clone(),
        Arc::new(policy.clone()),
        BasicAuth {
            username: username.to_owned(),
            password: password.clone(),
        },
    );
    let (context, principal) = find_principal(&http, &start).await?;
    let found = discover_calendars(&http, &principal).await?;
    let calendars = found.calendars;
    if calendars.is_empty() {
        return Err(ConnectError::DiscoveryFailed(
            "the account has no calendar that holds events".to_owned(),
        ));
    }
    let (busy, event) = StoredCaldav::default_choice(&calendars);
    let credential = StoredCaldav {
        server_url: context.to_string(),
        username: username.to_owned(),
        password,
        principal_url: principal.to_string(),
        calendar_home_url: found.home.to_string(),
        user_addresses: found.user_addresses,
        calendars,
        busy_calendar_ids: busy,
        event_calendar_id: event,
    };
    Ok(ConnectedAccount {
        account: username.to_owned(),
        calendars: credential.calendar_infos(),
        credential,
    })
}

/// The server URL as a URI: https when no scheme is given, only http and https accepted.
fn parse_server_url(server_url: &str) -> Result<Uri, ConnectError> {
    let trimmed = server_url.trim();
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("https://{trimmed}")
    };
    let uri: Uri = with_scheme
        .parse()
        .map_err(|e: http::uri::InvalidUri| ConnectError::InvalidUrl(e.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(uri),
        _ => Err(ConnectError::InvalidUrl(format!(
            "{trimmed} is not an http(s) URL with a host"
        ))),
    }
}

fn from_webdav(error: WebDavError<ProviderHttpError>) -> DavError {
    match error {
        WebDavError::Request(RequestError::Client(e)) => DavError::Http(e),
        WebDavError::Request(RequestError::Http(e)) => DavError::Parse(e.to_string()),
        WebDavError::BadStatusCode(status) => DavError::Status(status),
        other => DavError::Parse(other.to_string()),
    }
}

fn from_principal_error(error: FindCurrentUserPrincipalError<ProviderHttpError>) -> DavError {
    match error {
        FindCurrentUserPrincipalError::RequestError(e) => from_webdav(e),
        FindCurrentUserPrincipalError::InvalidInput(e) => DavError::Request(e.to_string()),
    }
}

fn from_context_error(error: ResolveContextPathError<ProviderHttpError>) -> DavError {
    match error {
        ResolveContextPathError::Request(RequestError::Client(e)) => DavError::Http(e),
        ResolveContextPathError::BadStatusCode(status) => DavError::Status(status),
        other => DavError::Parse(other.to_string()),
    }
}

/// The principal, looked for at the URL given and at the context the RFC 6764 well-known URL
/// redirects to (libdav follows the redirects); for a bare host the well-known context first.
///
/// A 401 anywhere means the password was refused, a server that cannot answer ends discovery;
/// any other failure at one candidate only means the principal is not there (libdav follows
/// GET redirects to their end, which on Radicale is its web interface, answering 403 to
/// PROPFIND). A 403 everywhere is taken as refused credentials.
async fn find_principal(http: &PolicyClient, start: &Uri) -> Result<(Uri, Uri), ConnectError> {
    let well_known = well_known_context(http, start).await?;
    let bare_host = matches!(start.path(), "" | "/");
    let mut candidates = vec![start.clone()];
    if let Some(context) = well_known {
        if bare_host {
            candidates.insert(0, context);
        } else {
            candidates.push(context);
        }
    }
    let mut forbidden = None;
    for candidate in candidates {
        match principal_at(http, &candidate).await {
            Ok(Some(principal)) => return Ok((candidate, principal)),
            Ok(None) => {}
            Err(e) if e.status() == Some(http::StatusCode::UNAUTHORIZED) || e.is_unavailable() => {
                return Err(e.into_connect("finding the principal"))
            }
            Err(e) if e.status() == Some(http::StatusCode::FORBIDDEN) => forbidden = Some(e),
            Err(_) => {}
        }
    }
    if let Some(e) = forbidden {
        return Err(e.into_connect("finding the principal"));
    }
    Err(ConnectError::DiscoveryFailed(format!(
        "neither {start} nor its /.well-known/caldav names a current-user-principal"
    )))
}

/// `/.well-known/caldav` on the start URL's host: the context path it redirects to, if any.
async fn well_known_context(http: &PolicyClient, start: &Uri) -> Result<Option<Uri>, ConnectError> {
    let webdav = WebDavClient::new(start.clone(), http.clone());
    let service = libdav::caldav_service_for_url(start).map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
    let host = start.host().unwrap_or_default();
    let port = start
        .port_u16()
        .unwrap_or(if start.scheme_str() == Some("http") { 80 } else { 443 });
    match webdav.find_context_path(service, host, port).await {
        Ok(found) => Ok(found),
        Err(e) => {
            let e = from_context_error(e);
            // libdav GETs the redirect target to confirm it; a 403 there (Radicale's web UI is
            // off) says nothing about the password, which the PROPFINDs that follow check.
            if e.status() == Some(http::StatusCode::UNAUTHORIZED) || e.is_unavailable() {
                Err(e.into_connect("following /.well-known/caldav"))
            } else {
                Ok(None)
            }
        }
    }
}

/// current-user-principal at `url` (then at the server root, as libdav does).
async fn principal_at(http: &PolicyClient, url: &Uri) -> Result<Option<Uri>, DavError> {
    let webdav = WebDavClient::new(url.clone(), http.clone());
    let found = webdav
        .find_current_user_principal()
        .await
        .map_err(from_principal_error)?;
    found.map(|href| resolve(url, &href.to_string())).transpose()
}

/// What discovery found under a principal.
pub(crate) struct DiscoveredCalendars {
    pub(crate) home: Uri,
    pub(crate) user_addresses: Vec<String>,
    pub(crate) calendars: Vec<StoredCalendar>,
}

/// The principal's calendar home, its calendars that hold events, the principal's addresses and
/// its default calendar.
pub(crate) async fn discover_calendars(
    http: &PolicyClient,
    principal: &Uri,
) -> Result<DiscoveredCalendars, ConnectError> {
    let at_principal = origin(principal).map_err(|e| e.into_connect("reading the principal"))?;
    let response = http
        .run(
            &at_principal,
            &wire::propfind(principal.path(), &PRINCIPAL_PROPERTIES, Depth::Zero),
        )
        .await
        .map_err(|e| e.into_connect("reading the principal"))?;
    let properties = wire::parse_principal(&response.body)
        .map_err(|e| ConnectError::DiscoveryFailed(format!("the principal's properties: {e}")))?;
    let home_href = properties
        .calendar_home_set
        .first()
        .ok_or_else(|| ConnectError::DiscoveryFailed("the principal names no calendar-home-set".to_owned()))?;
    let home = resolve(principal, home_href).map_err(|e| e.into_connect("the calendar home"))?;
    let listed = list_home(http, &home)
        .await
        .map_err(|e| e.into_connect("listing the calendar home"))?;
    let default = match &properties.schedule_inbox {
        Some(inbox) => default_calendar(http, principal, inbox).await,
        None => None,
    };
    let calendars = listed
        .into_iter()
        .filter(ListedCalendar::supports_events)
        .filter_map(|c| {
            let url = resolve(&home, &c.href).ok()?;
            let id = url.to_string();
            let name = c.display_name.clone().unwrap_or_else(|| last_segment(url.path()));
            let is_default = default.as_ref().is_some_and(|d| d.path() == url.path());
            Some((
                c.order,
                StoredCalendar {
                    id,
                    name,
                    writable: c.writable,
                    default: is_default,
                },
            ))
        })
        .collect::<Vec<_>>();
    let mut calendars = calendars;
    // Apple's calendar-order is the order the expert sees in their own calendar app.
    calendars.sort_by_key(|(order, _)| order.unwrap_or(i64::MAX));
    Ok(DiscoveredCalendars {
        home,
        user_addresses: properties.user_addresses,
        calendars: calendars.into_iter().map(|(_, c)| c).collect(),
    })
}

/// The Depth 1 listing of a calendar home.
pub(crate) async fn list_home(http: &PolicyClient, home: &Uri) -> Result<Vec<ListedCalendar>, DavError> {
    let response = http
        .run(
            &origin(home)?,
            &wire::propfind(home.path(), &LISTING_PROPERTIES, Depth::One),
        )
        .await?;
    wire::parse_calendar_listing(&response.body).map_err(|e| DavError::Parse(e.to_string()))
}

/// The principal's default calendar, where the server names one (best effort: a server without
/// RFC 6638 scheduling simply has none).
async fn default_calendar(http: &PolicyClient, principal: &Uri, inbox_href: &str) -> Option<Uri> {
    let inbox = resolve(principal, inbox_href).ok()?;
    let properties = [&SCHEDULE_DEFAULT_CALENDAR_URL];
    let response = http
        .run(
            &origin(&inbox).ok()?,
            &wire::propfind(inbox.path(), &properties, Depth::Zero),
        )
        .await
        .ok()?;
    let href = wire::parse_default_calendar(&response.body).ok()??;
    resolve(&inbox, &href).ok()
}

fn last_segment(path: &str) -> String {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or(path).to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn server_urls_default_to_https_and_need_a_host() {
        assert_eq!(
            parse_server_url("caldav.icloud.com").unwrap().to_string(),
            "https://caldav.icloud.com/"
        );
        assert_eq!(
            parse_server_url(" https://cloud.example.org/remote.php/dav ")
                .unwrap()
                .path(),
            "/remote.php/dav"
        );
        assert!(matches!(
            parse_server_url("ftp://example.org"),
            Err(ConnectError::InvalidUrl(_))
        ));
        assert_eq!(last_segment("/alice/work-calendar/"), "work-calendar");
    }
}

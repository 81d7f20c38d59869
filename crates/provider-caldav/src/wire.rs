//! The CalDAV requests libdav does not ship as request types, written as libdav `DavRequest`s
//! (built with its XML writer and names): the one-round-trip calendar-query that returns the
//! events of a window with their data, and the PROPFIND answers discovery reads (calendar
//! listing with supported components and privileges, principal properties).

use http::{Method, Request, Uri};
use libdav::dav::{make_relative_url, Propfind, SyncCollection};
use libdav::names;
use libdav::requests::{xml_content_type_header, DavRequest, ParseResponseError};
use libdav::xmlutils::XmlNode;
use libdav::{Depth, PropertyName};
use roxmltree::Node;

/// CalendarServer's collection tag (changes on every change of the calendar).
pub(crate) const GETCTAG: PropertyName<'static, 'static> = PropertyName::new(names::CALENDAR_SERVER, "getctag");
/// RFC 3744: what the authenticated user may do with a resource.
pub(crate) const CURRENT_USER_PRIVILEGE_SET: PropertyName<'static, 'static> =
    PropertyName::new(names::DAV, "current-user-privilege-set");
/// RFC 6638: the principal's scheduling inbox, which names the default calendar.
pub(crate) const SCHEDULE_INBOX_URL: PropertyName<'static, 'static> =
    PropertyName::new(names::CALDAV, "schedule-inbox-URL");
/// RFC 6638: where the server puts new invitations: the principal's default calendar.
pub(crate) const SCHEDULE_DEFAULT_CALENDAR_URL: PropertyName<'static, 'static> =
    PropertyName::new(names::CALDAV, "schedule-default-calendar-URL");

/// The properties of a calendar home's Depth 1 listing (provider-apis.md D).
pub(crate) const LISTING_PROPERTIES: [&PropertyName<'static, 'static>; 7] = [
    &names::RESOURCETYPE,
    &names::DISPLAY_NAME,
    &names::SUPPORTED_CALENDAR_COMPONENT_SET,
    &GETCTAG,
    &names::SYNC_TOKEN,
    &CURRENT_USER_PRIVILEGE_SET,
    &names::CALENDAR_ORDER,
];

/// The properties of the calendar that receives appointments its change feed reads: its RFC 6578
/// sync token (the server supports sync-collection) and its CTag (the fallback).
pub(crate) const STATE_PROPERTIES: [&PropertyName<'static, 'static>; 2] = [&names::SYNC_TOKEN, &GETCTAG];

/// The properties read from the principal.
pub(crate) const PRINCIPAL_PROPERTIES: [&PropertyName<'static, 'static>; 3] = [
    &names::CALENDAR_HOME_SET,
    &names::CALENDAR_USER_ADDRESS_SET,
    &SCHEDULE_INBOX_URL,
];

fn is(node: &Node, name: &PropertyName) -> bool {
    node.is_element() && node.tag_name().name() == name.name() && node.tag_name().namespace() == Some(name.namespace())
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &PropertyName) -> Option<Node<'a, 'i>> {
    node.descendants().find(|n| is(n, name))
}

/// The `<response>` elements of a multistatus, each with its href and the properties of its
/// propstats that answered 2xx (a 404 propstat lists the properties the server lacks).
fn responses<'a, 'i>(doc: &'a roxmltree::Document<'i>) -> Vec<(String, Vec<Node<'a, 'i>>)> {
    doc.root_element()
        .children()
        .filter(|n| is(n, &names::RESPONSE))
        .filter_map(|response| {
            let href = child(response, &names::HREF)?.text()?.trim().to_owned();
            let props = response
                .children()
                .filter(|n| is(n, &names::PROPSTAT))
                .filter(|propstat| {
                    child(*propstat, &names::STATUS)
                        .and_then(|s| s.text())
                        .map(|s| s.split_whitespace().nth(1).is_some_and(|code| code.starts_with('2')))
                        .unwrap_or(true)
                })
                .filter_map(|propstat| child(propstat, &names::PROP))
                .collect();
            Some((href, props))
        })
        .collect()
}

fn prop<'a, 'i>(props: &[Node<'a, 'i>], name: &PropertyName) -> Option<Node<'a, 'i>> {
    props.iter().find_map(|p| p.children().find(|n| is(n, name)))
}

fn text(props: &[Node], name: &PropertyName) -> Option<String> {
    prop(props, name)
        .and_then(|n| n.text())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn hrefs(props: &[Node], name: &PropertyName) -> Vec<String> {
    prop(props, name)
        .map(|n| {
            n.children()
                .filter(|c| is(c, &names::HREF))
                .filter_map(|c| c.text())
                .map(|t| t.trim().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn parse_doc(body: &[u8]) -> Result<roxmltree::Document<'_>, ParseResponseError> {
    let text = std::str::from_utf8(body)?;
    Ok(roxmltree::Document::parse(text)?)
}

/// One collection of a calendar home, as the listing describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListedCalendar {
    pub(crate) href: String,
    pub(crate) display_name: Option<String>,
    /// `None`: the server did not say, which RFC 4791 reads as "any component".
    pub(crate) components: Option<Vec<String>>,
    /// The user may write events into it (privileges `write`, `write-content`, `bind` or `all`;
    /// a server that does not report privileges is taken at its word that it is writable).
    pub(crate) writable: bool,
    pub(crate) ctag: Option<String>,
    pub(crate) sync_token: Option<String>,
    pub(crate) order: Option<i64>,
}

impl ListedCalendar {
    /// Holds events (so can block time and receive appointments).
    pub(crate) fn supports_events(&self) -> bool {
        self.components
            .as_ref()
            .is_none_or(|c| c.iter().any(|c| c.eq_ignore_ascii_case("VEVENT")))
    }
}

/// The calendars in a Depth 1 PROPFIND answer of a calendar home (the home itself and other
/// collections left out).
pub(crate) fn parse_calendar_listing(body: &[u8]) -> Result<Vec<ListedCalendar>, ParseResponseError> {
    let doc = parse_doc(body)?;
    let mut calendars = Vec::new();
    for (href, props) in responses(&doc) {
        let is_calendar =
            prop(&props, &names::RESOURCETYPE).is_some_and(|rt| rt.children().any(|c| is(&c, &names::CALENDAR)));
        if !is_calendar {
            continue;
        }
        let components = prop(&props, &names::SUPPORTED_CALENDAR_COMPONENT_SET).map(|set| {
            set.children()
                .filter(|c| is(c, &names::COMP))
                .filter_map(|c| c.attribute("name"))
                .map(str::to_owned)
                .collect()
        });
        let writable = prop(&props, &CURRENT_USER_PRIVILEGE_SET).is_none_or(|set| {
            set.descendants()
                .filter(|n| n.is_element() && n.tag_name().namespace() == Some(names::DAV))
                .any(|n| matches!(n.tag_name().name(), "all" | "write" | "write-content" | "bind"))
        });
        calendars.push(ListedCalendar {
            href,
            display_name: text(&props, &names::DISPLAY_NAME),
            components,
            writable,
            ctag: text(&props, &GETCTAG),
            sync_token: text(&props, &names::SYNC_TOKEN),
            order: text(&props, &names::CALENDAR_ORDER).and_then(|o| o.parse().ok()),
        });
    }
    Ok(calendars)
}

/// What the principal says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PrincipalProperties {
    pub(crate) calendar_home_set: Vec<String>,
    pub(crate) user_addresses: Vec<String>,
    pub(crate) schedule_inbox: Option<String>,
}

/// A Depth 0 PROPFIND answer of the principal for [`PRINCIPAL_PROPERTIES`].
pub(crate) fn parse_principal(body: &[u8]) -> Result<PrincipalProperties, ParseResponseError> {
    let doc = parse_doc(body)?;
    let mut found = PrincipalProperties::default();
    for (_, props) in responses(&doc) {
        found.calendar_home_set.extend(hrefs(&props, &names::CALENDAR_HOME_SET));
        found
            .user_addresses
            .extend(hrefs(&props, &names::CALENDAR_USER_ADDRESS_SET));
        found.schedule_inbox = found
            .schedule_inbox
            .or_else(|| hrefs(&props, &SCHEDULE_INBOX_URL).into_iter().next());
    }
    Ok(found)
}

/// A Depth 0 PROPFIND answer of the scheduling inbox: the default calendar's href.
pub(crate) fn parse_default_calendar(body: &[u8]) -> Result<Option<String>, ParseResponseError> {
    let doc = parse_doc(body)?;
    Ok(responses(&doc)
        .into_iter()
        .find_map(|(_, props)| hrefs(&props, &SCHEDULE_DEFAULT_CALENDAR_URL).into_iter().next()))
}

/// A PROPFIND of `href` with these properties at this depth (libdav's request type).
pub(crate) fn propfind<'a>(href: &'a str, properties: &[&'a PropertyName<'a, 'a>], depth: Depth) -> Propfind<'a> {
    Propfind::new(href).with_properties(properties).with_depth(depth)
}

/// One calendar object resource of a calendar-query answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CalendarObject {
    pub(crate) href: String,
    pub(crate) etag: Option<String>,
    pub(crate) data: String,
}

/// REPORT calendar-query for the VEVENTs that overlap a window, with their iCalendar data, in
/// one round trip (libdav's `ListCalendarResources` returns only hrefs and its
/// `GetCalendarResources` has no time range, which would cost a second round trip). The VEVENT
/// comp-filter is always present: iCloud refuses a calendar-query without it. Server-side
/// `<C:expand>` is not asked for: servers disagree on it, so recurrences are expanded locally.
#[derive(Debug, Clone)]
pub(crate) struct EventsInWindow<'a> {
    pub(crate) calendar_href: &'a str,
    /// `YYYYMMDDTHHMMSSZ`.
    pub(crate) start: String,
    /// `YYYYMMDDTHHMMSSZ`.
    pub(crate) end: String,
}

impl DavRequest for EventsInWindow<'_> {
    type Response = Vec<CalendarObject>;
    type ParseError = ParseResponseError;
    type Error<E> = libdav::dav::WebDavError<E>;

    fn prepare_request(&self, base_url: Uri) -> Result<Request<String>, http::Error> {
        let mut prop = XmlNode::new(&names::PROP);
        prop.children = vec![XmlNode::new(&names::GETETAG), XmlNode::new(&names::CALENDAR_DATA)];
        let time_range = XmlNode::new(&names::TIME_RANGE)
            .with_attributes(vec![("start", self.start.as_str()), ("end", self.end.as_str())]);
        let vevent = XmlNode::new(&names::COMP_FILTER)
            .with_attributes(vec![("name", "VEVENT")])
            .with_children(vec![time_range]);
        let vcalendar = XmlNode::new(&names::COMP_FILTER)
            .with_attributes(vec![("name", "VCALENDAR")])
            .with_children(vec![vevent]);
        let filter = XmlNode::new(&names::FILTER).with_children(vec![vcalendar]);
        let mut query = XmlNode::new(&names::CALENDAR_QUERY);
        query.children = vec![prop, filter];
        let (ct_name, ct_value) = xml_content_type_header();
        Request::builder()
            .method(Method::from_bytes(b"REPORT")?)
            .uri(make_relative_url(base_url, self.calendar_href)?)
            .header("Depth", "1")
            .header(ct_name, ct_value)
            .body(query.render_node())
    }

    fn parse_response(&self, parts: &http::response::Parts, body: &[u8]) -> Result<Self::Response, ParseResponseError> {
        if !parts.status.is_success() {
            return Err(ParseResponseError::BadStatusCode(parts.status));
        }
        parse_calendar_objects(body)
    }
}

/// The calendar objects (href, etag, data) of a calendar-query or calendar-multiget answer;
/// responses without data (404 hrefs of a multiget) are left out.
pub(crate) fn parse_calendar_objects(body: &[u8]) -> Result<Vec<CalendarObject>, ParseResponseError> {
    let doc = parse_doc(body)?;
    Ok(responses(&doc)
        .into_iter()
        .filter_map(|(href, props)| {
            let data = prop(&props, &names::CALENDAR_DATA)?.text()?.to_owned();
            Some(CalendarObject {
                href,
                etag: text(&props, &names::GETETAG),
                data,
            })
        })
        .collect())
}

/// What a calendar says of its own state: its sync token and CTag, when it has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CollectionState {
    pub(crate) sync_token: Option<String>,
    pub(crate) ctag: Option<String>,
}

/// A Depth 0 PROPFIND answer of a calendar for [`STATE_PROPERTIES`].
pub(crate) fn parse_collection_state(body: &[u8]) -> Result<CollectionState, ParseResponseError> {
    let doc = parse_doc(body)?;
    let mut state = CollectionState::default();
    for (_, props) in responses(&doc) {
        state.sync_token = state.sync_token.or_else(|| text(&props, &names::SYNC_TOKEN));
        state.ctag = state.ctag.or_else(|| text(&props, &GETCTAG));
    }
    Ok(state)
}

/// REPORT sync-collection (RFC 6578, sync-level 1) from a sync token: libdav's request, with
/// an answer read here, because libdav's reader fails on a response without an ETag that is not
/// a 404 (the collection itself, or its 507 when the server truncates the answer).
#[derive(Debug, Clone)]
pub(crate) struct SyncChanges<'a> {
    pub(crate) calendar_href: &'a str,
    pub(crate) token: &'a str,
}

/// What changed since a sync token: hrefs as the server wrote them, in its order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SyncAnswer {
    /// Where the next report starts.
    pub(crate) token: String,
    /// Members created or changed (hrefs; `true`: removed, a 404 response).
    pub(crate) members: Vec<(String, bool)>,
    /// The server left changes out (507 on the collection): report again from `token`.
    pub(crate) truncated: bool,
}

impl DavRequest for SyncChanges<'_> {
    type Response = SyncAnswer;
    type ParseError = ParseResponseError;
    type Error<E> = libdav::dav::WebDavError<E>;

    fn prepare_request(&self, base_url: Uri) -> Result<Request<String>, http::Error> {
        SyncCollection::new(self.calendar_href)
            .with_sync_token(self.token)
            .prepare_request(base_url)
    }

    fn parse_response(&self, parts: &http::response::Parts, body: &[u8]) -> Result<Self::Response, ParseResponseError> {
        if !parts.status.is_success() {
            return Err(ParseResponseError::BadStatusCode(parts.status));
        }
        parse_sync_answer(body, self.calendar_href)
    }
}

/// The path of an href (absolute URL or path), without a trailing slash, for comparisons.
fn href_path(href: &str) -> &str {
    let path = match href.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => href,
    };
    path.trim_end_matches('/')
}

/// A sync-collection answer: the new token, the members that changed or went (404), and whether
/// the server truncated it (507 on the collection).
pub(crate) fn parse_sync_answer(body: &[u8], calendar_href: &str) -> Result<SyncAnswer, ParseResponseError> {
    let doc = parse_doc(body)?;
    let root = doc.root_element();
    let token = root
        .children()
        .find(|n| is(n, &names::SYNC_TOKEN))
        .and_then(|n| n.text())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ParseResponseError::InvalidResponse("no DAV:sync-token in a sync-collection answer".into()))?;
    let mut answer = SyncAnswer {
        token,
        ..SyncAnswer::default()
    };
    let collection = href_path(calendar_href);
    for response in root.children().filter(|n| is(n, &names::RESPONSE)) {
        let Some(href) = response
            .children()
            .find(|n| is(n, &names::HREF))
            .and_then(|n| n.text())
            .map(str::trim)
        else {
            continue;
        };
        let status = response
            .children()
            .find(|n| is(n, &names::STATUS))
            .and_then(|s| s.text())
            .and_then(|s| s.split_whitespace().nth(1))
            .and_then(|code| code.parse::<u16>().ok());
        if href_path(href) == collection {
            answer.truncated |= status == Some(507);
            continue;
        }
        answer.members.push((href.to_owned(), status == Some(404)));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn listing_keeps_calendars_and_reads_components_and_privileges() {
        // Xandikos' answer (prefixed namespaces), plus a read-only calendar and a collection
        // that is not a calendar.
        let body = br#"<ns0:multistatus xmlns:ns0="DAV:" xmlns:ns1="http://calendarserver.org/ns/" xmlns:ns2="urn:ietf:params:xml:ns:caldav">
<ns0:response><ns0:href>/user/calendars/</ns0:href><ns0:propstat><ns0:status>HTTP/1.1 200 OK</ns0:status><ns0:prop><ns0:resourcetype><ns0:collection /></ns0:resourcetype></ns0:prop></ns0:propstat></ns0:response>
<ns0:response><ns0:href>/user/calendars/calendar/</ns0:href><ns0:propstat><ns0:status>HTTP/1.1 200 OK</ns0:status><ns0:prop><ns0:resourcetype><ns0:collection /><ns2:calendar /></ns0:resourcetype><ns0:displayname>calendar</ns0:displayname><ns2:supported-calendar-component-set><ns2:comp name="VEVENT" /><ns2:comp name="VTODO" /></ns2:supported-calendar-component-set><ns1:getctag>ae44</ns1:getctag><ns0:current-user-privilege-set><ns0:privilege><ns0:all /></ns0:privilege></ns0:current-user-privilege-set></ns0:prop></ns0:propstat></ns0:response>
<ns0:response><ns0:href>/user/calendars/holidays/</ns0:href><ns0:propstat><ns0:status>HTTP/1.1 200 OK</ns0:status><ns0:prop><ns0:resourcetype><ns0:collection /><ns2:calendar /></ns0:resourcetype><ns0:current-user-privilege-set><ns0:privilege><ns0:read /></ns0:privilege></ns0:current-user-privilege-set></ns0:prop></ns0:propstat><ns0:propstat><ns0:status>HTTP/1.1 404 Not Found</ns0:status><ns0:prop><ns0:displayname/></ns0:prop></ns0:propstat></ns0:response>
<ns0:response><ns0:href>/user/calendars/tasks/</ns0:href><ns0:propstat><ns0:status>HTTP/1.1 200 OK</ns0:status><ns0:prop><ns0:resourcetype><ns0:collection /><ns2:calendar /></ns0:resourcetype><ns2:supported-calendar-component-set><ns2:comp name="VTODO" /></ns2:supported-calendar-component-set></ns0:prop></ns0:propstat></ns0:response>
</ns0:multistatus>"#;
        let calendars = parse_calendar_listing(body).unwrap();
        assert_eq!(calendars.len(), 3);
        assert_eq!(calendars[0].href, "/user/calendars/calendar/");
        assert_eq!(calendars[0].display_name.as_deref(), Some("calendar"));
        assert!(calendars[0].writable && calendars[0].supports_events());
        assert_eq!(calendars[0].ctag.as_deref(), Some("ae44"));
        assert!(!calendars[1].writable, "read-only privileges");
        assert!(calendars[1].supports_events(), "no component set means any component");
        assert!(!calendars[2].supports_events(), "a task list holds no events");
    }

    #[test]
    fn principal_properties_in_radicales_unprefixed_namespace() {
        let body = br#"<?xml version='1.0' encoding='utf-8'?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><response><href>/alice/</href><propstat><prop><C:calendar-home-set><href>/alice/</href></C:calendar-home-set><C:calendar-user-address-set><href>mailto:alice@example.com</href></C:calendar-user-address-set></prop><status>HTTP/1.1 200 OK</status></propstat><propstat><prop><C:schedule-inbox-URL /></prop><status>HTTP/1.1 404 Not Found</status></propstat></response></multistatus>"#;
        let p = parse_principal(body).unwrap();
        assert_eq!(p.calendar_home_set, vec!["/alice/".to_owned()]);
        assert_eq!(p.user_addresses, vec!["mailto:alice@example.com".to_owned()]);
        assert_eq!(p.schedule_inbox, None);
    }

    #[test]
    fn the_window_query_filters_vevents_by_time_range() {
        let q = EventsInWindow {
            calendar_href: "/alice/work/",
            start: "20270301T000000Z".into(),
            end: "20270308T000000Z".into(),
        };
        let r = q.prepare_request("http://127.0.0.1:1/".parse().unwrap()).unwrap();
        assert_eq!(r.method().as_str(), "REPORT");
        assert_eq!(r.uri().path(), "/alice/work/");
        let body = r.body();
        assert!(
            body.contains(
                r#"<C:comp-filter name="VEVENT"><C:time-range start="20270301T000000Z" end="20270308T000000Z"/>"#
            ),
            "{body}"
        );
        assert!(body.contains("<C:calendar-data/>"), "{body}");
    }

    #[test]
    fn sync_answers_list_changes_and_removals_and_see_truncation() {
        // Radicale's shape (unprefixed DAV namespace), with the collection itself reported 507.
        let body = br#"<?xml version='1.0' encoding='utf-8'?>
<multistatus xmlns="DAV:"><sync-token>http://radicale.org/ns/sync/abc</sync-token>
<response><href>/ada/cal/new.ics</href><propstat><prop><getetag>"1"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>
<response><href>/ada/cal/gone.ics</href><status>HTTP/1.1 404 Not Found</status></response>
<response><href>/ada/cal/</href><status>HTTP/1.1 507 Insufficient Storage</status></response>
</multistatus>"#;
        let answer = parse_sync_answer(body, "/ada/cal/").unwrap();
        assert_eq!(answer.token, "http://radicale.org/ns/sync/abc");
        assert_eq!(
            answer.members,
            vec![
                ("/ada/cal/new.ics".to_owned(), false),
                ("/ada/cal/gone.ics".to_owned(), true)
            ]
        );
        assert!(answer.truncated);
        let without_token = br#"<multistatus xmlns="DAV:"></multistatus>"#;
        assert!(parse_sync_answer(without_token, "/ada/cal/").is_err());
    }

    #[test]
    fn collection_state_reads_the_sync_token_and_ctag() {
        let body = br#"<ns0:multistatus xmlns:ns0="DAV:" xmlns:ns1="http://calendarserver.org/ns/"><ns0:response><ns0:href>/user/calendars/c/</ns0:href><ns0:propstat><ns0:status>HTTP/1.1 200 OK</ns0:status><ns0:prop><ns0:sync-token>http://xandikos/1</ns0:sync-token><ns1:getctag>ae44</ns1:getctag></ns0:prop></ns0:propstat></ns0:response></ns0:multistatus>"#;
        let state = parse_collection_state(body).unwrap();
        assert_eq!(state.sync_token.as_deref(), Some("http://xandikos/1"));
        assert_eq!(state.ctag.as_deref(), Some("ae44"));
        let no_sync = br#"<multistatus xmlns="DAV:"><response><href>/c/</href><propstat><prop><sync-token/></prop><status>HTTP/1.1 404 Not Found</status></propstat></response></multistatus>"#;
        assert_eq!(parse_collection_state(no_sync).unwrap(), CollectionState::default());
    }
}

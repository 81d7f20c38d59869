//! The Google fake against Google's own description of the API (provider-fakes/specs/
//! google-calendar-v3.discovery.json): its routes, scopes and query parameters, and the field names
//! of what it answers and of the request bodies provider-apis.md documents.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;

use provider_fakes::google::{ROUTES, SCOPE_CALENDARLIST_READONLY, SCOPE_EVENTS, SCOPE_FREEBUSY};
use provider_fakes::FakeGoogle;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{get, post};

fn discovery() -> Value {
    serde_json::from_str(provider_fakes::google::DISCOVERY_DOCUMENT).expect("the discovery document is JSON")
}

/// The discovery method with this id, e.g. `calendar.events.insert`.
fn method<'a>(doc: &'a Value, id: &str) -> &'a Value {
    fn find<'a>(resources: &'a Value, id: &str) -> Option<&'a Value> {
        resources.as_object()?.values().find_map(|resource| {
            resource["methods"]
                .as_object()
                .and_then(|methods| methods.values().find(|m| m["id"] == id))
                .or_else(|| find(&resource["resources"], id))
        })
    }
    find(&doc["resources"], id).unwrap_or_else(|| panic!("discovery has no method {id}"))
}

/// Every field of `value` must be a property of the schema (followed through $ref, items,
/// additionalProperties and inline objects).
fn check_fields(doc: &Value, value: &Value, schema: &Value, at: &str) {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(name) => &doc["schemas"][name],
        None => schema,
    };
    match value {
        Value::Object(fields) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, field) in fields {
                    let property = properties
                        .get(name)
                        .unwrap_or_else(|| panic!("{at}.{name} is not in the discovery schema {}", schema["id"]));
                    check_fields(doc, field, property, &format!("{at}.{name}"));
                }
            } else if let Some(additional) = schema.get("additionalProperties") {
                for (name, field) in fields {
                    check_fields(doc, field, additional, &format!("{at}[{name}]"));
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check_fields(doc, item, item_schema, &format!("{at}[{i}]"));
                }
            }
        }
        _ => {}
    }
}

fn schema(name: &str) -> Value {
    json!({"$ref": name})
}

#[test]
fn routes_scopes_and_parameters_match_the_discovery_document() {
    let doc = discovery();
    assert_eq!(
        doc["servicePath"], "calendar/v3/",
        "the fake serves the API under /calendar/v3"
    );
    for route in ROUTES {
        let method = method(&doc, route.id);
        assert_eq!(method["httpMethod"], route.http_method, "{}", route.id);
        assert_eq!(method["path"], route.path, "{}", route.id);
        let scopes: BTreeSet<&str> = method["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        let ours: BTreeSet<&str> = route.scopes.iter().copied().collect();
        assert_eq!(ours, scopes, "scopes of {}", route.id);
        for param in route.query {
            let spec = &method["parameters"][*param];
            assert_eq!(spec["location"], "query", "{} has query parameter {param}", route.id);
        }
    }
    // The scope facts provider-apis.md relies on.
    let freebusy = &method(&doc, "calendar.freebusy.query")["scopes"];
    assert!(
        !freebusy.as_array().unwrap().contains(&json!(SCOPE_EVENTS)),
        "calendar.events alone cannot query free/busy"
    );
    assert!(freebusy.as_array().unwrap().contains(&json!(SCOPE_FREEBUSY)));
    let insert = &method(&doc, "calendar.events.insert")["scopes"];
    assert!(insert.as_array().unwrap().contains(&json!(SCOPE_EVENTS)));
}

#[test]
fn documented_request_bodies_use_discovery_field_names() {
    let doc = discovery();
    let freebusy = json!({"timeMin": "2026-03-02T00:00:00Z", "timeMax": "2026-03-09T00:00:00Z", "timeZone": "UTC", "items": [{"id": "primary"}]});
    check_fields(&doc, &freebusy, &schema("FreeBusyRequest"), "FreeBusyRequest");
    let event = json!({
        "id": "appt0123456789abcdef",
        "summary": "Consult",
        "start": {"dateTime": "2026-03-02T10:00:00+01:00", "timeZone": "Europe/Berlin"},
        "end": {"date": "2026-03-03"},
        "attendees": [{"email": "client@x.com"}],
        "transparency": "opaque",
        "extendedProperties": {"private": {"appointmentId": "A-1"}},
    });
    check_fields(&doc, &event, &schema("Event"), "Event");
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_use_discovery_field_names() {
    let doc = discovery();
    let google = FakeGoogle::start().await;
    google
        .add_event(
            "primary",
            json!({"start": {"date": "2026-03-04"}, "end": {"date": "2026-03-05"}}),
        )
        .unwrap();
    let token = google
        .issue_token(&[SCOPE_EVENTS, SCOPE_FREEBUSY, SCOPE_CALENDARLIST_READONLY])
        .access_token;
    let api = google.api_base();

    let (status, body) = post(
        &format!("{api}/freeBusy"),
        &token,
        &json!({"timeMin": "2026-03-02T00:00:00Z", "timeMax": "2026-03-09T00:00:00Z", "items": [{"id": "primary"}, {"id": "x@y.com"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    check_fields(&doc, &body, &schema("FreeBusyResponse"), "FreeBusyResponse");

    let (status, body) = get(&format!("{api}/users/me/calendarList"), &token).await;
    assert_eq!(status, StatusCode::OK);
    check_fields(&doc, &body, &schema("CalendarList"), "CalendarList");

    let event = json!({
        "id": "appt0123456789abcdef",
        "summary": "Consult",
        "start": {"dateTime": "2026-03-02T10:00:00+01:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-03-02T10:30:00+01:00", "timeZone": "Europe/Berlin"},
        "attendees": [{"email": "client@x.com"}],
        "extendedProperties": {"private": {"appointmentId": "A-1"}},
    });
    let (status, body) = post(&format!("{api}/calendars/primary/events"), &token, &event).await;
    assert_eq!(status, StatusCode::OK);
    check_fields(&doc, &body, &schema("Event"), "Event");

    support::call(
        reqwest::Method::DELETE,
        &format!("{api}/calendars/primary/events/appt0123456789abcdef"),
        &token,
        None,
    )
    .await;
    let (status, body) = get(&format!("{api}/calendars/primary/events?showDeleted=true"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    check_fields(&doc, &body, &schema("Events"), "Events");

    let channel = json!({"id": "chan-1", "type": "web_hook", "address": "https://push.example.com/hook", "token": "t", "expiration": "4102444800000"});
    check_fields(&doc, &channel, &schema("Channel"), "Channel");
    let (status, body) = post(&format!("{api}/calendars/primary/events/watch"), &token, &channel).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    check_fields(&doc, &body, &schema("Channel"), "Channel");
    assert!(body["expiration"].is_string(), "int64 as a string: {body}");
}

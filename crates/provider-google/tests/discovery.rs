//! What the strategy sends, checked against Google's own description of the API
//! (provider-fakes/specs/google-calendar-v3.discovery.json): every request is a documented method, its
//! query parameters are the method's, its body fields are the request schema's, and the scopes of
//! `oauth_config` allow it. The fake is checked against the same document in provider-fakes; this
//! catches drift on the client side.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use availability_core::{AvailabilityStrategy, BusyTimeSource, ChannelRequest, EventWriter};
use common::{interval, Setup};
use provider_google::SCOPES;
use serde_json::Value;

fn discovery() -> Value {
    serde_json::from_str(provider_fakes::google::DISCOVERY_DOCUMENT).expect("the discovery document is JSON")
}

/// Every method of the document, nested resources included.
fn methods(resources: &Value, out: &mut Vec<Value>) {
    for resource in resources.as_object().into_iter().flat_map(|r| r.values()) {
        if let Some(methods) = resource["methods"].as_object() {
            out.extend(methods.values().cloned());
        }
        methods(&resource["resources"], out);
    }
}

/// The method whose HTTP method and path template match the request.
fn method_of<'a>(all: &'a [Value], http_method: &str, path: &str) -> &'a Value {
    let segments: Vec<&str> = path.split('/').collect();
    all.iter()
        .find(|m| {
            let template: Vec<&str> = m["path"].as_str().unwrap().split('/').collect();
            m["httpMethod"] == http_method
                && template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| (t.starts_with('{') && t.ends_with('}')) || t == s)
        })
        .unwrap_or_else(|| panic!("{http_method} {path} is not a method of the discovery document"))
}

/// Every field of `value` must be a property of the schema (through $ref, items and
/// additionalProperties).
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

#[tokio::test(flavor = "multi_thread")]
async fn every_request_is_a_documented_method_with_documented_fields() {
    let doc = discovery();
    let mut all = Vec::new();
    methods(&doc["resources"], &mut all);
    let base = doc["basePath"].as_str().unwrap().to_owned();

    let s = Setup::start().await;
    let team = "team@group.calendar.google.com";
    s.fake.add_calendar(team, "Team", false);
    // Every kind of call the strategy makes.
    s.strategy.calendars(s.expert.id).await.unwrap();
    s.strategy
        .set_calendars(s.expert.id, vec!["primary".into(), team.into()], "primary".into())
        .await
        .unwrap();
    let long = interval("2030-03-01T00:00:00Z", "2030-06-01T00:00:00Z");
    s.strategy.busy_intervals(&s.expert, long).await.unwrap();
    let mut appointment = s.appointment("2030-03-04T09:00:00Z", 30);
    s.strategy
        .create_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap();
    appointment.start_time = "2030-03-04T10:00:00Z".parse().unwrap();
    appointment.end_time = "2030-03-04T10:30:00Z".parse().unwrap();
    // A duplicate insert that must catch up: insert, get, patch.
    s.strategy
        .create_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap();
    s.strategy
        .update_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap();
    s.strategy.delete_event(&s.expert, &appointment).await.unwrap();
    // A push channel, opened and closed.
    let push = s.strategy.push().unwrap();
    let channel = ChannelRequest {
        id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        token: "channel-secret".into(),
        address: "https://push.example.com/webhooks/google_calendar".into(),
        ttl_seconds: 3600,
    };
    let opened = push.open_channel(&s.expert, &channel).await.unwrap();
    push.close_channel(&s.expert, &channel.id, &opened.resource_id)
        .await
        .unwrap();

    let mut seen = std::collections::BTreeSet::new();
    for request in s.fake.requests() {
        let Some(path) = request.path.strip_prefix(&base) else {
            panic!("{} is not below the API base {base}", request.path);
        };
        let method = method_of(&all, &request.method, path);
        let id = method["id"].as_str().unwrap();
        seen.insert(id.to_owned());
        let parameters = method["parameters"].as_object().cloned().unwrap_or_default();
        let query: Vec<(String, String)> = query_pairs(&request.query);
        for (name, _) in &query {
            let parameter = parameters
                .get(name)
                .unwrap_or_else(|| panic!("{id} has no query parameter {name}"));
            assert_eq!(parameter["location"], "query", "{id}: {name}");
        }
        if !request.body.is_empty() {
            let body: Value = serde_json::from_str(&request.body).unwrap();
            let schema = method.get("request").unwrap_or_else(|| panic!("{id} takes no body"));
            check_fields(&doc, &body, schema, id);
        }
        let allowed: Vec<&str> = method["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            SCOPES.iter().any(|s| allowed.contains(s)),
            "{id} needs one of {allowed:?}, none of which oauth_config asks for"
        );
    }
    let expected = [
        "calendar.calendarList.list",
        "calendar.channels.stop",
        "calendar.events.delete",
        "calendar.events.get",
        "calendar.events.insert",
        "calendar.events.patch",
        "calendar.events.watch",
        "calendar.freebusy.query",
    ];
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), expected);
    // The scopes themselves exist in the document (no typo), and the broad one is not asked for.
    let documented = doc["auth"]["oauth2"]["scopes"].as_object().unwrap();
    for scope in SCOPES.iter().filter(|s| s.starts_with("https://")) {
        assert!(documented.contains_key(*scope), "{scope} is not a documented scope");
    }
    assert!(!SCOPES.contains(&"https://www.googleapis.com/auth/calendar"));
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    if query.is_empty() {
        return Vec::new();
    }
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

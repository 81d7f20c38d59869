//! Named schedules and periods (api.md "Schedules"; slot-semantics rule 10) through the real
//! server on SQLite and PostgreSQL: a period applies its schedule's hours on its dates (slots,
//! explanations and bookings agree at once, no cache to wait out), the default cannot be deleted
//! or unset, making another schedule the default moves GET/PUT availability and the expert's zone
//! to it, deleting a schedule removes its periods, and bad periods are refused with nothing
//! changed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::{databases, next_monday, Api};

fn day_after(day: &str, n: i64) -> String {
    use availability_core::domain::jiff::civil::Date;
    let d: Date = day.parse().unwrap();
    d.checked_add(availability_core::domain::jiff::Span::new().days(n))
        .unwrap()
        .to_string()
}

/// The local start times ("HH:MM", Europe/Berlin) of the slots that start on one local day.
async fn local_starts(api: &Api, expert: &str, token: &str, day: &str) -> Vec<String> {
    use availability_core::domain::jiff::{tz::TimeZone, Timestamp};
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    api.slots(
        expert,
        token,
        &format!("{}T00:00:00Z", day_after(day, -1)),
        &format!("{}T00:00:00Z", day_after(day, 2)),
    )
    .await
    .into_iter()
    .map(|(start, _)| berlin.to_datetime(start.parse::<Timestamp>().unwrap()))
    .filter(|local| local.date().to_string() == day)
    .map(|local| local.strftime("%H:%M").to_string())
    .collect()
}

/// The instant of a Berlin wall-clock time on a day, as RFC 3339.
fn berlin(day: &str, time: &str) -> String {
    use availability_core::domain::jiff::civil::DateTime;
    let local: DateTime = format!("{day}T{time}").parse().unwrap();
    local.in_tz("Europe/Berlin").unwrap().timestamp().to_string()
}

fn weekdays(from: &str, to: &str) -> Vec<Value> {
    (1..=5)
        .map(|d| json!({"day_of_week": d, "start_time": from, "end_time": to}))
        .collect()
}

fn names(list: &Value) -> Vec<(String, bool)> {
    list["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["is_default"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_period_applies_its_schedule_and_the_default_stays_one() {
    for db in databases("a_period_applies_its_schedule_and_the_default_stays_one") {
        let l = db.label;
        let server = support::TestServer::start(&db).await;
        let api = &server.api;
        let (expert, token) = api.expert_with_hours().await;
        let (client, client_token) = api.client_with_token().await;
        let base = format!("/api/v1/experts/{expert}");
        let policy = api
            .put(
                &format!("{base}/booking-policy"),
                &token,
                json!({"slot_duration_minutes": 60}),
            )
            .await;
        assert_eq!(policy.status, 200, "{l}: {:?}", policy.body);

        // Every expert has one schedule from the start: the default, the hours PUT availability set.
        let list = api.get(&format!("{base}/schedules"), &token).await;
        assert_eq!(list.status, 200, "{l}: {:?}", list.body);
        assert_eq!(names(&list.body), vec![("Working hours".into(), true)], "{l}");
        let default_id = list.body["schedules"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(list.body["schedules"][0]["timezone"], "Europe/Berlin", "{l}");
        assert_eq!(list.body["schedules"][0]["rules"].as_array().unwrap().len(), 5, "{l}");

        let summer = api
            .post(
                &format!("{base}/schedules"),
                &token,
                json!({"name": "  Summer ", "rules": weekdays("14:00", "16:00")}),
            )
            .await;
        assert_eq!(summer.status, 201, "{l}: {:?}", summer.body);
        assert_eq!(summer.body["name"], "Summer", "{l}: trimmed");
        assert_eq!(summer.body["is_default"], false, "{l}");
        assert_eq!(
            summer.body["timezone"], "Europe/Berlin",
            "{l}: the expert's zone by default"
        );
        let summer_id = summer.body["id"].as_str().unwrap().to_owned();

        // A period over one week: its days take the summer hours at once; the next week does not.
        let monday = next_monday();
        let friday = day_after(&monday, 4);
        let next = day_after(&monday, 7);
        assert_eq!(local_starts(api, &expert, &client_token, &monday).await.len(), 8, "{l}");
        let put = api
            .put(
                &format!("{base}/schedule-periods"),
                &token,
                json!({"periods": [{"schedule_id": summer_id, "from_date": monday, "to_date": friday}]}),
            )
            .await;
        assert_eq!(put.status, 200, "{l}: {:?}", put.body);
        assert_eq!(put.body["periods"][0]["from_date"], monday.as_str(), "{l}");
        assert_eq!(
            local_starts(api, &expert, &client_token, &monday).await,
            vec!["14:00", "15:00"],
            "{l}: the period's schedule"
        );
        assert_eq!(
            local_starts(api, &expert, &client_token, &friday).await,
            vec!["14:00", "15:00"],
            "{l}: to_date is inclusive"
        );
        assert_eq!(
            local_starts(api, &expert, &client_token, &next).await.len(),
            8,
            "{l}: the default after the period"
        );

        // Explanations and bookings agree with the slots.
        let why = api
            .get(
                &format!("{base}/availability/explain?start={}", berlin(&monday, "09:00")),
                &token,
            )
            .await;
        assert_eq!(why.status, 200, "{l}: {:?}", why.body);
        assert_eq!(why.body["bookable"], false, "{l}");
        assert_eq!(why.body["reasons"][0]["code"], "outside_hours", "{l}: {:?}", why.body);
        let book = |start: String, end: String| {
            let body = json!({"expert_id": expert, "client_id": client, "start_time": start, "end_time": end});
            let token = client_token.clone();
            async move { api.post("/api/v1/appointments", &token, body).await }
        };
        let refused = book(berlin(&monday, "09:00"), berlin(&monday, "10:00")).await;
        assert_eq!(refused.status, 422, "{l}: {:?}", refused.body);
        assert_eq!(refused.code(), "slot_unavailable", "{l}");
        let booked = book(berlin(&monday, "14:00"), berlin(&monday, "15:00")).await;
        assert_eq!(booked.status, 201, "{l}: {:?}", booked.body);
        let booked_next = book(berlin(&next, "09:00"), berlin(&next, "10:00")).await;
        assert_eq!(booked_next.status, 201, "{l}: {:?}", booked_next.body);

        // Bad periods are refused and the stored ones stay.
        for (periods, code) in [
            (
                json!([{"schedule_id": summer_id, "from_date": monday, "to_date": friday},
                       {"schedule_id": default_id, "from_date": friday, "to_date": next}]),
                "overlapping_periods",
            ),
            (
                json!([{"schedule_id": uuid::Uuid::new_v4().to_string(), "from_date": monday, "to_date": friday}]),
                "unknown_schedule",
            ),
            (
                json!([{"schedule_id": summer_id, "from_date": friday, "to_date": monday}]),
                "invalid_period",
            ),
            (
                json!([{"schedule_id": summer_id, "from_date": "2027-02-30", "to_date": friday}]),
                "invalid_date",
            ),
        ] {
            let bad = api
                .put(&format!("{base}/schedule-periods"), &token, json!({"periods": periods}))
                .await;
            assert_eq!((bad.status.as_u16(), bad.code()), (422, code), "{l}: {:?}", bad.body);
        }
        let kept = api.get(&format!("{base}/schedule-periods"), &token).await;
        assert_eq!(
            kept.body["periods"].as_array().unwrap().len(),
            1,
            "{l}: {:?}",
            kept.body
        );

        // The default can be neither deleted nor unset.
        let delete_default = api
            .call(
                reqwest::Method::DELETE,
                &format!("{base}/schedules/{default_id}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(delete_default.status, 409, "{l}: {:?}", delete_default.body);
        assert_eq!(delete_default.code(), "default_schedule", "{l}");
        let unset = api
            .put(
                &format!("{base}/schedules/{default_id}"),
                &token,
                json!({"name": "Working hours", "rules": weekdays("09:00", "17:00"), "is_default": false}),
            )
            .await;
        assert_eq!((unset.status.as_u16(), unset.code()), (409, "default_schedule"), "{l}");

        // Others' schedules are not theirs to see or change.
        let (_, other_token) = api.expert_with_hours().await;
        for (method, path) in [
            (reqwest::Method::GET, format!("{base}/schedules")),
            (reqwest::Method::GET, format!("{base}/schedules/{summer_id}")),
            (reqwest::Method::GET, format!("{base}/schedule-periods")),
            (reqwest::Method::DELETE, format!("{base}/schedules/{summer_id}")),
        ] {
            for who in [&other_token, &client_token] {
                let denied = api.call(method.clone(), &path, Some(who), None).await;
                assert_eq!(denied.status, 403, "{l}: {method} {path}: {:?}", denied.body);
            }
        }

        // Making Summer the default (in another zone) moves availability and the zone to it.
        let made_default = api
            .put(
                &format!("{base}/schedules/{summer_id}"),
                &token,
                json!({"name": "Summer", "timezone": "Europe/Lisbon", "rules": weekdays("14:00", "16:00"), "is_default": true}),
            )
            .await;
        assert_eq!(made_default.status, 200, "{l}: {:?}", made_default.body);
        assert_eq!(made_default.body["is_default"], true, "{l}");
        let list = api.get(&format!("{base}/schedules"), &token).await;
        assert_eq!(
            names(&list.body),
            vec![("Summer".into(), true), ("Working hours".into(), false)],
            "{l}: the default first"
        );
        assert_eq!(
            list.body["schedules"][1]["timezone"], "Europe/Berlin",
            "{l}: keeps its zone"
        );
        let profile = api.get(&base, &token).await;
        assert_eq!(
            profile.body["timezone"], "Europe/Lisbon",
            "{l}: the default's zone is the expert's"
        );
        let availability = api.get(&format!("{base}/availability"), &token).await;
        assert_eq!(availability.body["timezone"], "Europe/Lisbon", "{l}");
        assert_eq!(availability.body["rules"][0]["start_time"], "14:00", "{l}");

        // Deleting a schedule removes its periods. Summer is the default now: it stays.
        let keep_default = api
            .call(
                reqwest::Method::DELETE,
                &format!("{base}/schedules/{summer_id}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(
            (keep_default.status.as_u16(), keep_default.code()),
            (409, "default_schedule"),
            "{l}"
        );
        let put = api
            .put(
                &format!("{base}/schedule-periods"),
                &token,
                json!({"periods": [{"schedule_id": default_id, "from_date": next, "to_date": next}]}),
            )
            .await;
        assert_eq!(put.status, 200, "{l}: {:?}", put.body);
        let deleted = api
            .call(
                reqwest::Method::DELETE,
                &format!("{base}/schedules/{default_id}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(deleted.status, 204, "{l}: {:?}", deleted.body);
        let periods = api.get(&format!("{base}/schedule-periods"), &token).await;
        assert_eq!(periods.body["periods"], json!([]), "{l}: removed with its schedule");
        let missing = api.get(&format!("{base}/schedules/{default_id}"), &token).await;
        assert_eq!(missing.status, 404, "{l}");
        server.stop().await;
    }
}

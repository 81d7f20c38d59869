//! Recurring appointments through the real server on SQLite and PostgreSQL: a weekly series of
//! ten at 10:00 Berlin across a DST change keeps 10:00 on the wall clock; a conflict in the 7th
//! occurrence rejects the series with that one listed and nothing stored, and "skip" books the
//! other nine; the series is read back and cancelled from an occurrence on; recurrences the policy
//! does not allow and malformed ones are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use availability_core::domain::jiff::tz::TimeZone;
use availability_core::domain::jiff::{civil, SignedDuration, Timestamp, ToSpan};
use serde_json::{json, Value};
use support::{databases, Api, TestServer};

/// A Monday (10:00 Berlin) whose weekly series of ten crosses Berlin's next DST change: the
/// change falls between its 5th and 6th occurrences.
fn first_occurrence() -> (Timestamp, Timestamp) {
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let change = berlin
        .following(Timestamp::now() + SignedDuration::from_hours(24 * 40))
        .next()
        .unwrap()
        .timestamp();
    // The change is on a Sunday; the Monday five weeks before it.
    let sunday = berlin.to_datetime(change).date();
    let monday = sunday.checked_sub(34.days()).unwrap();
    let start = berlin
        .to_ambiguous_timestamp(monday.to_datetime(civil::time(10, 0, 0, 0)))
        .compatible()
        .unwrap();
    (start, start + SignedDuration::from_hours(1))
}

fn series_body(expert: &str, client: &str, first: (Timestamp, Timestamp), recurrence: Value) -> Value {
    json!({
        "expert_id": expert,
        "client_id": client,
        "start_time": first.0.to_string(),
        "end_time": first.1.to_string(),
        "recurrence": recurrence,
    })
}

fn berlin_clock(t: &str) -> String {
    let t: Timestamp = t.parse().unwrap();
    let local = TimeZone::get("Europe/Berlin").unwrap().to_datetime(t);
    format!("{:02}:{:02}", local.hour(), local.minute())
}

async fn appointments_of(api: &Api, client: &str, token: &str) -> Vec<Value> {
    let listed = api
        .get(
            &format!(
                "/api/v1/clients/{client}/appointments?to={}",
                Timestamp::now() + SignedDuration::from_hours(24 * 700)
            ),
            token,
        )
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    listed.body["appointments"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_series_keeps_ten_o_clock_across_dst_and_conflicts_reject_or_skip() {
    for db in databases("a_weekly_series_keeps_ten_o_clock_across_dst_and_conflicts_reject_or_skip") {
        let l = db.label;
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let (ann, ann_token) = api.client_with_token().await;
        let (bob, bob_token) = api.client_with_token().await;
        let policy_path = format!("/api/v1/experts/{expert}/booking-policy");

        // Off by default.
        let first = first_occurrence();
        let weekly_ten = json!({"frequency": "weekly", "count": 10});
        let off = api
            .post(
                "/api/v1/appointments",
                &ann_token,
                series_body(&expert, &ann, first, weekly_ten.clone()),
            )
            .await;
        assert_eq!(
            (off.status.as_u16(), off.code()),
            (422, "series_not_allowed"),
            "{l}: {:?}",
            off.body
        );

        let policy = api
            .put(
                &policy_path,
                &expert_token,
                json!({"slot_duration_minutes": 60, "booking_horizon_days": 400, "max_series_occurrences": 12}),
            )
            .await;
        assert_eq!(policy.status, 200, "{l}: {:?}", policy.body);
        assert_eq!(policy.body["max_series_occurrences"], 12, "{l}");

        // Bob has the 7th occurrence's time already.
        let seventh = (
            first.0 + SignedDuration::from_hours(24 * 7 * 6),
            first.1 + SignedDuration::from_hours(24 * 7 * 6),
        );
        // 10:00 Berlin that day, whatever the offset.
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let seventh_day = berlin.to_datetime(seventh.0).date();
        let seventh_start = berlin
            .to_ambiguous_timestamp(seventh_day.to_datetime(civil::time(10, 0, 0, 0)))
            .compatible()
            .unwrap();
        let bobs = api
            .post(
                "/api/v1/appointments",
                &bob_token,
                json!({"expert_id": expert, "client_id": bob, "start_time": seventh_start.to_string(),
                       "end_time": (seventh_start + SignedDuration::from_hours(1)).to_string()}),
            )
            .await;
        assert_eq!(bobs.status, 201, "{l}: {:?}", bobs.body);

        // "reject" (the default): 409 with exactly the 7th listed, nothing stored.
        let rejected = api
            .post(
                "/api/v1/appointments",
                &ann_token,
                series_body(&expert, &ann, first, weekly_ten.clone()),
            )
            .await;
        assert_eq!(
            (rejected.status.as_u16(), rejected.code()),
            (409, "series_conflict"),
            "{l}: {:?}",
            rejected.body
        );
        let listed = rejected.body["error"]["occurrences"].as_array().unwrap().clone();
        assert_eq!(listed.len(), 1, "{l}: {listed:?}");
        assert_eq!(listed[0]["start_time"], seventh_start.to_string().as_str(), "{l}");
        assert_eq!(listed[0]["code"], "slot_taken", "{l}");
        assert!(
            appointments_of(api, &ann, &ann_token).await.is_empty(),
            "{l}: nothing stored"
        );

        // "skip": the other nine, each at 10:00 Berlin, on both sides of the change.
        let mut skip = series_body(&expert, &ann, first, weekly_ten.clone());
        skip["on_conflict"] = json!("skip");
        let booked = api.post("/api/v1/appointments", &ann_token, skip).await;
        assert_eq!(booked.status, 201, "{l}: {:?}", booked.body);
        let series_id = booked.body["series_id"].as_str().unwrap().to_owned();
        let occurrences = booked.body["appointments"].as_array().unwrap().clone();
        assert_eq!(occurrences.len(), 9, "{l}");
        assert_eq!(booked.body["skipped"].as_array().unwrap().len(), 1, "{l}");
        let starts: Vec<&str> = occurrences.iter().map(|a| a["start_time"].as_str().unwrap()).collect();
        assert!(starts.iter().all(|s| berlin_clock(s) == "10:00"), "{l}: {starts:?}");
        let utc_hours: std::collections::BTreeSet<&str> = starts.iter().map(|s| &s[11..13]).collect();
        assert_eq!(
            utc_hours.len(),
            2,
            "{l}: the UTC time moves with the DST change: {starts:?}"
        );
        assert!(!starts.contains(&seventh_start.to_string().as_str()), "{l}");
        assert!(occurrences.iter().all(|a| a["series_id"] == series_id.as_str()), "{l}");

        // Read back, then cancelled from the 5th occurrence on (the 5th to the 10th, the 7th
        // being Bob's).
        let read = api.get(&format!("/api/v1/series/{series_id}"), &expert_token).await;
        assert_eq!(read.status, 200, "{l}: {:?}", read.body);
        assert_eq!(read.body["recurrence"]["count"], 10, "{l}");
        assert_eq!(read.body["appointments"].as_array().unwrap().len(), 9, "{l}");
        let not_bobs = api.get(&format!("/api/v1/series/{series_id}"), &bob_token).await;
        assert_eq!(not_bobs.status, 403, "{l}");
        let cancelled = api
            .post(
                &format!("/api/v1/series/{series_id}/cancel"),
                &ann_token,
                json!({"reason": "moving away", "from": starts[4]}),
            )
            .await;
        assert_eq!(cancelled.status, 200, "{l}: {:?}", cancelled.body);
        let statuses: Vec<&str> = cancelled.body["appointments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            [vec!["confirmed"; 4], vec!["cancelled"; 5]].concat(),
            "{l}: this and the following"
        );

        // Refused recurrences change nothing.
        for (recurrence, status, code) in [
            (json!({"frequency": "weekly", "count": 13}), 422, "series_not_allowed"),
            (json!({"frequency": "weekly", "count": 1}), 422, "out_of_range"),
            (json!({"frequency": "yearly", "count": 3}), 422, "invalid_recurrence"),
            (
                json!({"frequency": "daily", "count": 3, "until": "2027-01-01T00:00:00Z"}),
                422,
                "invalid_recurrence",
            ),
            (json!({"frequency": "daily"}), 422, "invalid_recurrence"),
        ] {
            let refused = api
                .post(
                    "/api/v1/appointments",
                    &ann_token,
                    series_body(&expert, &ann, first, recurrence.clone()),
                )
                .await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (status, code),
                "{l}: {recurrence}: {:?}",
                refused.body
            );
        }
        assert_eq!(appointments_of(api, &ann, &ann_token).await.len(), 9, "{l}");
        server.stop().await;
    }
}

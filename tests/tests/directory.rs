//! The directory's routes end to end, held against GET slots for the same experts: GET
//! /api/v1/experts lists every expert with a slot in the window, with next_slot the first slot GET
//! slots lists and slot_count its length, none missing, in order, across pages; GET
//! /api/v1/availability/search finds exactly the experts whose slots include the time; an expert
//! whose calendar is down is listed under `unavailable` and the answer is still 200; bad input
//! answers 4xx in the error shape. And the calendar sync's retry (POST .../sync/retry).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
mod switchable;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use support::{databases, next_monday, Api, TestServer, ADMIN_TOKEN};
use switchable::{age_sync_job, use_calendar, SwitchableCalendar};

/// An expert with these weekly hours ((day_of_week, start, end)) in a zone; their token.
async fn expert(api: &Api, name: &str, zone: &str, hours: &[(i64, &str, &str)]) -> (String, String) {
    let e = api
        .post(
            "/api/v1/experts",
            ADMIN_TOKEN,
            json!({"name": name, "email": format!("{}@example.com", uuid::Uuid::new_v4().simple()), "timezone": zone}),
        )
        .await;
    assert_eq!(e.status, 201, "{:?}", e.body);
    let id = e.body["id"].as_str().unwrap().to_owned();
    let token = api.token("expert", &id).await;
    let rules: Vec<Value> = hours
        .iter()
        .map(|(d, s, e)| json!({"day_of_week": d, "start_time": s, "end_time": e}))
        .collect();
    let put = api
        .put(
            &format!("/api/v1/experts/{id}/availability"),
            &token,
            json!({"rules": rules}),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    (id, token)
}

/// Every page of GET /api/v1/experts with this query, following next_cursor.
async fn all_pages(api: &Api, token: &str, query: &str, limit: usize) -> (Vec<Value>, Vec<Value>) {
    let (mut experts, mut unavailable) = (Vec::new(), Vec::new());
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/experts?{query}&limit={limit}&cursor={c}"),
            None => format!("/api/v1/experts?{query}&limit={limit}"),
        };
        let page = api.get(&path, token).await;
        assert_eq!(page.status, 200, "{path}: {:?}", page.body);
        let listed = page.body["experts"].as_array().unwrap();
        assert!(listed.len() <= limit, "{:?}", page.body);
        experts.extend(listed.iter().cloned());
        if cursor.is_none() {
            unavailable = page.body["unavailable"].as_array().cloned().unwrap_or_default();
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return (experts, unavailable),
        }
    }
    panic!("more than 50 pages");
}

/// The windowed directory's entry of `id` is as GET slots has it: listed exactly when it has
/// slots, with the first as next_slot and their number as slot_count. The entry, if listed.
fn listed_as_slots<'a>(listed: &'a [Value], id: &str, slots: &[(String, String)], label: &str) -> Option<&'a Value> {
    let entry = listed.iter().find(|e| e["id"] == id);
    match slots.first() {
        None => assert!(entry.is_none(), "{label}: {id} has no slots but is listed"),
        Some((start, end)) => {
            let entry = entry.unwrap_or_else(|| panic!("{label}: {id} has slots but is missing"));
            assert_eq!(entry["next_slot"], json!({"start": start, "end": end}), "{label}");
            assert_eq!(entry["slot_count"], slots.len(), "{label}");
        }
    }
    entry
}

fn day_after(day: &str, days: i64) -> String {
    use availability_core::domain::jiff::civil::Date;
    let d: Date = day.parse().unwrap();
    d.checked_add(availability_core::domain::jiff::Span::new().days(days))
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_and_the_search_agree_with_the_slots() {
    for db in databases("the_directory_and_the_search_agree_with_the_slots") {
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let weekdays: Vec<(i64, &str, &str)> = (1..=5).map(|d| (d, "09:00", "17:00")).collect();
        let (berlin, _) = expert(api, "Berta Berlin", "Europe/Berlin", &weekdays).await;
        let (york, _) = expert(api, "Yusuf York", "America/New_York", &[(2, "13:00", "14:00")]).await;
        let (tokyo, _) = expert(api, "Tomoko Tokyo", "Asia/Tokyo", &[(3, "08:00", "09:30")]).await;
        let (idle, _) = expert(api, "Ida Idle", "UTC", &[]).await;
        let (client, client_token) = api.client_with_token().await;
        let monday = next_monday();
        let from = format!("{monday}T00:00:00Z");
        let to = format!("{}T00:00:00Z", day_after(&monday, 7));
        // Berta's first slot is taken: her next slot is the one after it.
        let first = api.slots(&berlin, &client_token, &from, &to).await[0].clone();
        api.book(&client_token, &berlin, &client, &first.0, &first.1).await;

        let query = format!("available_from={from}&available_to={to}");
        let (listed, unavailable) = all_pages(api, &client_token, &query, 100).await;
        assert_eq!(unavailable, Vec::<Value>::new(), "{}", db.label);
        let mut expected = Vec::new();
        for id in [&berlin, &york, &tokyo, &idle] {
            let slots = api.slots(id, &client_token, &from, &to).await;
            if let Some(entry) = listed_as_slots(&listed, id, &slots, db.label) {
                assert!(entry.get("email").is_none(), "the directory shows no email address");
                expected.push((slots[0].0.clone(), id.clone()));
            }
        }
        assert_ne!(expected[0].0, first.0, "the booked slot is not Berta's next one");
        expected.sort();
        let order: Vec<String> = listed.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(order, expected.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>());
        // Page by page, the same list.
        let (paged, _) = all_pages(api, &client_token, &query, 1).await;
        assert_eq!(paged, listed, "{}", db.label);
        // Another length: as GET slots with duration_minutes.
        let (long, _) = all_pages(api, &client_token, &format!("{query}&duration_minutes=90"), 100).await;
        let york_long = api
            .get(
                &format!("/api/v1/experts/{york}/slots?from={from}&to={to}&duration_minutes=90"),
                &client_token,
            )
            .await;
        assert_eq!(york_long.body["slots"], json!([]));
        assert!(long.iter().all(|e| e["id"] != york.as_str()), "{long:?}");
        assert!(long.iter().any(|e| e["id"] == tokyo.as_str()), "{long:?}");

        // Without a window: everyone, by name, paged; a name search.
        let (everyone, none) = all_pages(api, &client_token, "", 3).await;
        assert!(none.is_empty());
        let names: Vec<&str> = everyone.iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Berta Berlin", "Ida Idle", "Tomoko Tokyo", "Yusuf York"]);
        let (found, _) = all_pages(api, &client_token, "q=TOKYO", 10).await;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["id"], tokyo.as_str());
        let (percent, _) = all_pages(api, &client_token, "q=%25", 10).await;
        assert!(percent.is_empty(), "% is matched as itself: {percent:?}");

        // Search: exactly the experts whose slots include the time.
        let times = [
            expected[0].0.clone(),
            format!("{monday}T10:00:00Z"),
            format!("{monday}T10:10:00Z"),
            first.0.clone(),
        ];
        for start in times {
            let start_at: availability_core::domain::jiff::Timestamp = start.parse().unwrap();
            let end = (start_at + availability_core::domain::jiff::SignedDuration::from_mins(30)).to_string();
            let found = api
                .get(
                    &format!("/api/v1/availability/search?start={start}&end={end}"),
                    &client_token,
                )
                .await;
            assert_eq!(found.status, 200, "{:?}", found.body);
            let ids: Vec<&str> = found.body["experts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap())
                .collect();
            for id in [&berlin, &york, &tokyo, &idle] {
                let slots = api.slots(id, &client_token, &start, &end).await;
                let free = slots.iter().any(|(s, e)| *s == start && *e == end);
                assert_eq!(ids.contains(&id.as_str()), free, "{}: {id} at {start}", db.label);
            }
        }
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expert_whose_calendar_is_down_is_listed_as_unavailable() {
    for db in databases("an_expert_whose_calendar_is_down_is_listed_as_unavailable") {
        let calendar = Arc::new(SwitchableCalendar::default());
        let server = TestServer::start_with(&db, vec![support::provider_of(calendar.clone())]).await;
        let api = &server.api;
        let weekdays: Vec<(i64, &str, &str)> = (1..=5).map(|d| (d, "09:00", "17:00")).collect();
        let (manual, _) = expert(api, "Mia Manual", "Europe/Berlin", &weekdays).await;
        let (cal, _) = expert(api, "Carl Calendar", "Europe/Berlin", &weekdays).await;
        use_calendar(api, &db.url, &cal).await;
        let (_, client_token) = api.client_with_token().await;
        let monday = next_monday();
        let from = format!("{monday}T00:00:00Z");
        let to = format!("{}T00:00:00Z", day_after(&monday, 2));
        calendar.down.store(true, Ordering::SeqCst);
        // GET slots of that expert fails; the directory does not.
        let slots = api
            .get(
                &format!("/api/v1/experts/{cal}/slots?from={from}&to={to}"),
                &client_token,
            )
            .await;
        assert_eq!((slots.status.as_u16(), slots.code()), (503, "provider_unavailable"));
        let (listed, unavailable) = all_pages(
            api,
            &client_token,
            &format!("available_from={from}&available_to={to}"),
            10,
        )
        .await;
        let ids: Vec<&str> = listed.iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [manual.as_str()], "{}", db.label);
        assert_eq!(unavailable.len(), 1, "{unavailable:?}");
        assert_eq!(unavailable[0]["expert_id"], cal.as_str());
        assert_eq!(unavailable[0]["code"], "provider_unavailable");
        let reason = unavailable[0]["reason"].as_str().unwrap();
        assert!(reason.contains("Directory Calendar"), "{reason}");
        assert!(
            !reason.contains("upstream.example"),
            "the provider's words stay in the log: {reason}"
        );
        let search = api
            .get(
                &format!("/api/v1/availability/search?start={monday}T09:00:00Z&end={monday}T09:30:00Z"),
                &client_token,
            )
            .await;
        assert_eq!(search.status, 200, "{:?}", search.body);
        assert_eq!(search.body["experts"][0]["id"], manual.as_str());
        assert_eq!(search.body["experts"].as_array().unwrap().len(), 1);
        assert_eq!(search.body["unavailable"][0]["expert_id"], cal.as_str());
        // Back up: listed again (the failure was not cached).
        calendar.down.store(false, Ordering::SeqCst);
        let (listed, unavailable) = all_pages(
            api,
            &client_token,
            &format!("available_from={from}&available_to={to}"),
            10,
        )
        .await;
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert!(unavailable.is_empty());
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_directory_questions_are_refused_in_the_error_shape() {
    let db = databases("bad_directory_questions_are_refused_in_the_error_shape").remove(0);
    let server = TestServer::start(&db).await;
    let api = &server.api;
    let (_, token) = api.client_with_token().await;
    let monday = next_monday();
    let window = format!("available_from={monday}T00:00:00Z&available_to={monday}T12:00:00Z");
    let cases: Vec<(String, u16, &str)> = vec![
        ("/api/v1/experts?limit=0".into(), 400, "invalid_parameter"),
        ("/api/v1/experts?limit=101".into(), 400, "invalid_parameter"),
        ("/api/v1/experts?limit=ten".into(), 400, "invalid_parameter"),
        ("/api/v1/experts?cursor=nonsense".into(), 400, "invalid_parameter"),
        (
            format!("/api/v1/experts?available_from={monday}T00:00:00Z"),
            400,
            "invalid_parameter",
        ),
        (
            "/api/v1/experts?available_from=monday&available_to=tuesday".into(),
            400,
            "invalid_parameter",
        ),
        ("/api/v1/experts?duration_minutes=30".into(), 400, "invalid_parameter"),
        (
            format!("/api/v1/experts?{window}&duration_minutes=3"),
            422,
            "out_of_range",
        ),
        (
            format!("/api/v1/experts?{window}&duration_minutes=thirty"),
            400,
            "invalid_parameter",
        ),
        (
            format!("/api/v1/experts?available_from={monday}T12:00:00Z&available_to={monday}T00:00:00Z"),
            422,
            "invalid_window",
        ),
        (
            format!("/api/v1/experts?available_from={monday}T00:00:00Z&available_to=2099-01-01T00:00:00Z"),
            422,
            "window_too_long",
        ),
        (
            format!("/api/v1/experts?q={}", "x".repeat(201)),
            400,
            "invalid_parameter",
        ),
        (
            format!("/api/v1/availability/search?start={monday}T09:00:00Z"),
            400,
            "invalid_parameter",
        ),
        (
            "/api/v1/availability/search?start=9am&end=10am".into(),
            400,
            "invalid_parameter",
        ),
        (
            format!("/api/v1/availability/search?start={monday}T10:00:00Z&end={monday}T09:00:00Z"),
            422,
            "end_before_start",
        ),
        (
            format!("/api/v1/availability/search?start={monday}T09:00:00Z&end={monday}T09:00:30Z"),
            422,
            "invalid_length",
        ),
        (
            format!("/api/v1/availability/search?start={monday}T09:00:00Z&end={monday}T09:02:00Z"),
            422,
            "out_of_range",
        ),
    ];
    for (path, status, code) in cases {
        let answer = api.get(&path, &token).await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (status, code),
            "{path}: {:?}",
            answer.body
        );
        assert!(answer.body["error"]["message"].is_string(), "{path}");
    }
    // A cursor of the other kind of list.
    expert(api, "Ann One", "UTC", &[]).await;
    expert(api, "Bob Two", "UTC", &[]).await;
    let by_name = api.get("/api/v1/experts?limit=1", &token).await;
    assert_eq!(by_name.status, 200, "{:?}", by_name.body);
    let cursor = by_name.body["next_cursor"].as_str().unwrap();
    let mixed = api
        .get(&format!("/api/v1/experts?{window}&cursor={cursor}"), &token)
        .await;
    assert_eq!((mixed.status.as_u16(), mixed.code()), (400, "invalid_parameter"));
    for path in ["/api/v1/experts", "/api/v1/availability/search"] {
        let anonymous = api.call(Method::GET, path, None, None).await;
        assert_eq!(
            (anonymous.status.as_u16(), anonymous.code()),
            (401, "unauthorized"),
            "{path}"
        );
    }
    server.stop().await;
}

async fn wait_for(api: &Api, appointment: &str, token: &str, sync_status: &str) -> Value {
    for _ in 0..150 {
        let a = api.get(&format!("/api/v1/appointments/{appointment}"), token).await;
        if a.body["sync_status"] == sync_status {
            return a.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("appointment {appointment} never reached sync_status {sync_status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_calendar_sync_can_be_retried_by_the_expert() {
    for db in databases("a_failed_calendar_sync_can_be_retried_by_the_expert") {
        let calendar = Arc::new(SwitchableCalendar::default());
        let server = TestServer::start_with(&db, vec![support::provider_of(calendar.clone())]).await;
        let api = &server.api;
        let weekdays: Vec<(i64, &str, &str)> = (1..=5).map(|d| (d, "09:00", "17:00")).collect();
        let (cal, expert_token) = expert(api, "Carl Calendar", "Europe/Berlin", &weekdays).await;
        use_calendar(api, &db.url, &cal).await;
        let (client, client_token) = api.client_with_token().await;
        let monday = next_monday();
        let start = format!("{monday}T09:00:00Z");
        let id = api
            .book(&client_token, &cal, &client, &start, &format!("{monday}T09:30:00Z"))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // Whom the agenda names: the expert's clients, for the expert only.
        let clients = api.get(&format!("/api/v1/experts/{cal}/clients"), &expert_token).await;
        assert_eq!(clients.status, 200, "{:?}", clients.body);
        assert_eq!(clients.body, json!({"clients": [{"id": client, "name": "Ann"}]}));
        let not_yours = api.get(&format!("/api/v1/experts/{cal}/clients"), &client_token).await;
        assert_eq!(not_yours.status, 403);
        let retry = format!("/api/v1/appointments/{id}/sync/retry");
        // Nothing has failed yet.
        wait_for(api, &id, &client_token, "synced").await;
        let early = api.call(Method::POST, &retry, Some(&expert_token), None).await;
        assert_eq!(
            (early.status.as_u16(), early.code()),
            (409, "sync_not_failed"),
            "{:?}",
            early.body
        );
        // The calendar stops taking writes and the job is a day old: the worker gives up.
        calendar.writes_down.store(true, Ordering::SeqCst);
        let moved = api
            .patch(
                &format!("/api/v1/appointments/{id}"),
                &client_token,
                json!({"start_time": format!("{monday}T10:00:00Z"), "end_time": format!("{monday}T10:30:00Z")}),
            )
            .await;
        assert_eq!(moved.status, 200, "{:?}", moved.body);
        age_sync_job(&db.url, &id);
        let failed = wait_for(api, &id, &client_token, "failed").await;
        assert!(
            failed["sync_error"].as_str().unwrap().contains("Directory Calendar"),
            "{failed:?}"
        );
        // The client may not retry; the expert may.
        let refused = api.call(Method::POST, &retry, Some(&client_token), None).await;
        assert_eq!(refused.status, 403, "{:?}", refused.body);
        calendar.writes_down.store(false, Ordering::SeqCst);
        let queued = api.call(Method::POST, &retry, Some(&expert_token), None).await;
        assert_eq!(queued.status, 200, "{:?}", queued.body);
        assert!(queued.body["sync_error"].is_null());
        assert!(
            ["pending", "synced"].contains(&queued.body["sync_status"].as_str().unwrap()),
            "{:?}",
            queued.body
        );
        wait_for(api, &id, &expert_token, "synced").await;
        let unknown = api
            .call(
                Method::POST,
                &format!("/api/v1/appointments/{}/sync/retry", uuid::Uuid::new_v4()),
                Some(ADMIN_TOKEN),
                None,
            )
            .await;
        assert_eq!(unknown.status, 404);
        server.stop().await;
    }
}

/// #19's equality at scale: 300 experts in six zones (one with a half-hour offset), with
/// different days and hours, lengths, intervals and buffers, some with a booking. The search at
/// many times, and the windowed directory, answer exactly what GET slots answers for each of
/// them; a booking, and new hours, show in the next search (the calendars read together are kept
/// exact by the calendar versions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_and_the_directory_agree_with_the_slots_of_three_hundred_experts() {
    const EXPERTS: usize = 300;
    const ZONES: [&str; 6] = [
        "Europe/Berlin",
        "America/New_York",
        "Asia/Tokyo",
        "Asia/Kolkata",
        "UTC",
        "Australia/Sydney",
    ];
    for db in databases("the_search_and_the_directory_agree_with_the_slots_of_three_hundred_experts") {
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (client, client_token) = api.client_with_token().await;
        let monday = next_monday();
        let from = format!("{monday}T00:00:00Z");
        let to = format!("{}T00:00:00Z", day_after(&monday, 7));
        let mut ids = Vec::new();
        for i in 0..EXPERTS {
            let days: &[i64] = match i % 3 {
                0 => &[1, 2, 3, 4, 5],
                1 => &[1, 3, 5],
                _ => &[0, 2, 4, 6],
            };
            let start = 6 + i % 7;
            let end = (start + 2 + i % 9).min(24);
            let hours: Vec<(i64, String, String)> = days
                .iter()
                .map(|d| (*d, format!("{start:02}:00"), format!("{end:02}:00")))
                .collect();
            let hours: Vec<(i64, &str, &str)> = hours.iter().map(|(d, s, e)| (*d, s.as_str(), e.as_str())).collect();
            let (id, _) = expert(api, &format!("Expert {i:03}"), ZONES[i % ZONES.len()], &hours).await;
            let (length, interval, buffer) = ([30, 45, 60][i % 3], [15, 30, 60, 45][i % 4], [0, 10][i % 2]);
            let policy = json!({
                "slot_duration_minutes": length,
                "slot_interval_minutes": interval,
                "buffer_after_minutes": buffer,
                "minimum_notice_minutes": 0,
                "booking_horizon_days": 60,
            });
            let put = api
                .put(&format!("/api/v1/experts/{id}/booking-policy"), ADMIN_TOKEN, policy)
                .await;
            assert_eq!(put.status, 200, "{:?}", put.body);
            if i % 4 == 0 {
                if let Some((start, end)) = api.slots(&id, &client_token, &from, &to).await.into_iter().nth(i % 3) {
                    api.book(&client_token, &id, &client, &start, &end).await;
                }
            }
            ids.push(id);
        }

        // The search, at times across the day and the week, for two lengths.
        // What GET slots says of [start, end) for its length.
        let is_free = |id: String, start: String, end: String, minutes: i64| {
            let token = client_token.clone();
            async move {
                let slots = api.slots_for(&id, &token, &start, &end, Some(minutes)).await;
                slots.iter().any(|(s, e)| *s == start && *e == end)
            }
        };
        let search = |start: String, end: String| {
            let token = client_token.clone();
            async move {
                let found = api
                    .get(&format!("/api/v1/availability/search?start={start}&end={end}"), &token)
                    .await;
                assert_eq!(found.status, 200, "{:?}", found.body);
                assert_eq!(found.body["unavailable"], json!([]));
                found.body["experts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_str().unwrap().to_owned())
                    .collect::<std::collections::HashSet<String>>()
            }
        };
        let mut matched = 0;
        for (day, time, minutes) in [
            (0, "06:00", 30),
            (0, "08:00", 30),
            (0, "09:30", 30),
            (0, "13:15", 45),
            (1, "00:00", 60),
            (2, "10:00", 30),
            (3, "22:30", 30),
            (6, "03:00", 60),
        ] {
            let start = format!("{}T{time}:00Z", day_after(&monday, day));
            let start_at: availability_core::domain::jiff::Timestamp = start.parse().unwrap();
            let end = (start_at + availability_core::domain::jiff::SignedDuration::from_mins(minutes)).to_string();
            let found = search(start.clone(), end.clone()).await;
            for id in &ids {
                let free = is_free(id.clone(), start.clone(), end.clone(), minutes).await;
                assert_eq!(
                    found.contains(id),
                    free,
                    "{}: {id} at {start} for {minutes} min",
                    db.label
                );
            }
            matched += found.len();
        }
        assert!(matched > EXPERTS / 2, "the times chosen find experts: {matched}");

        // The directory over the week: next_slot and slot_count as GET slots has them.
        let (listed, unavailable) = all_pages(
            api,
            &client_token,
            &format!("available_from={from}&available_to={to}"),
            100,
        )
        .await;
        assert_eq!(unavailable, Vec::<Value>::new());
        for id in &ids {
            let slots = api.slots(id, &client_token, &from, &to).await;
            listed_as_slots(&listed, id, &slots, db.label);
        }

        // What changes shows at once: a booking takes an expert out of the search at its time;
        // new hours put another one in.
        let start = format!("{}T10:00:00Z", day_after(&monday, 2));
        let end = format!("{}T10:30:00Z", day_after(&monday, 2));
        let before = search(start.clone(), end.clone()).await;
        let taken = before
            .iter()
            .next()
            .expect("someone is free on Wednesday at 10:00")
            .clone();
        api.book(&client_token, &taken, &client, &start, &end).await;
        let outsider = ids.iter().find(|id| !before.contains(*id)).unwrap().clone();
        let put = api
            .put(
                &format!("/api/v1/experts/{outsider}/availability"),
                ADMIN_TOKEN,
                json!({"timezone": "UTC", "rules": [{"day_of_week": 3, "start_time": "10:00", "end_time": "11:00"}]}),
            )
            .await;
        assert_eq!(put.status, 200, "{:?}", put.body);
        let after = search(start.clone(), end.clone()).await;
        assert!(
            !after.contains(&taken),
            "{}: the booked expert is still found",
            db.label
        );
        assert_eq!(
            after.contains(&outsider),
            is_free(outsider.clone(), start.clone(), end.clone(), 30).await,
            "{}",
            db.label
        );
        assert!(after.contains(&outsider), "{}: the new hours are not found", db.label);
        server.stop().await;
    }
}

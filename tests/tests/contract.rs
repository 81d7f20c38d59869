//! The v1 contract of api.md walked over real HTTP, on SQLite and on PostgreSQL: profiles and tokens,
//! availability, booking policy, slots, bookings with Idempotency-Key, reschedule, cancel, lists, who
//! may do what, and health.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use availability_domain::jiff::civil::Date;
use availability_domain::jiff::{SignedDuration, Timestamp, ToSpan};
use reqwest::Method;
use serde_json::{json, Value};
use support::{databases, next_monday, Answer, Api, TestServer, ADMIN_TOKEN};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The instant of a Europe/Berlin wall-clock time on `day`, written as the server writes it (UTC, "Z").
fn berlin(day: &str, hm: &str) -> String {
    let date: Date = day.parse().unwrap();
    let (h, m) = hm.split_once(':').unwrap();
    date.at(h.parse().unwrap(), m.parse().unwrap(), 0, 0)
        .in_tz("Europe/Berlin")
        .unwrap()
        .timestamp()
        .to_string()
}

/// `day` plus `n` days, "YYYY-MM-DD".
fn plus_days(day: &str, n: i64) -> String {
    day.parse::<Date>().unwrap().checked_add(n.days()).unwrap().to_string()
}

/// An RFC 3339 instant plus `minutes`, in UTC.
fn plus_minutes(t: &str, minutes: i64) -> String {
    (instant(t) + SignedDuration::from_mins(minutes)).to_string()
}

fn instant(t: &str) -> Timestamp {
    t.parse().unwrap_or_else(|e| panic!("{t:?} is not RFC 3339: {e}"))
}

/// The whole Berlin day `day` as a [from, to) query.
fn whole_day(day: &str) -> (String, String) {
    (berlin(day, "00:00"), berlin(&plus_days(day, 1), "00:00"))
}

/// Slot starts of an expert on a Berlin day.
async fn starts_on(api: &Api, expert: &str, token: &str, day: &str) -> Vec<String> {
    let (from, to) = whole_day(day);
    api.slots(expert, token, &from, &to)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect()
}

/// The Berlin slot starts from `first` to `last` (inclusive) every `step` minutes.
fn grid(day: &str, first: &str, last: &str, step: i64) -> Vec<String> {
    let (first, last) = (berlin(day, first), berlin(day, last));
    let mut out = vec![];
    let mut t = first;
    while instant(&t) <= instant(&last) {
        out.push(t.clone());
        t = plus_minutes(&t, step);
    }
    out
}

async fn book(api: &Api, token: &str, expert: &str, client: &str, start: &str, end: &str) -> Answer {
    api.post(
        "/api/v1/appointments",
        token,
        json!({"expert_id": expert, "client_id": client, "start_time": start, "end_time": end}),
    )
    .await
}

/// Asserts an error answer: its status, its code and the `{"error":{"code","message"}}` shape.
#[track_caller]
fn assert_error(a: &Answer, status: u16, code: &str, context: &str) {
    assert_eq!(a.status.as_u16(), status, "{context}: {:?}", a.body);
    assert_eq!(a.code(), code, "{context}: {:?}", a.body);
    let message = a.body["error"]["message"].as_str().unwrap_or("");
    assert!(!message.is_empty(), "{context}: an error has a message: {:?}", a.body);
}

/// Ids of a list answer, in order.
fn ids(a: &Answer) -> Vec<String> {
    assert_eq!(a.status, 200, "{:?}", a.body);
    a.body["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

fn id_of(a: &Answer) -> String {
    a.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {:?}", a.body))
        .to_owned()
}

/// Mon-Fri 09:00-17:00 with a Monday lunch break 12:00-13:00, Europe/Berlin.
fn hours_with_break() -> Value {
    let mut rules: Vec<Value> = (1..=5)
        .map(|d| json!({"day_of_week": d, "start_time": "09:00", "end_time": "17:00", "is_available": true}))
        .collect();
    rules.push(json!({"day_of_week": 1, "start_time": "12:00", "end_time": "13:00", "is_available": false}));
    json!({"rules": rules, "overrides": [], "timezone": "Europe/Berlin"})
}

// ---------------------------------------------------------------------------------------------
// Profiles and tokens
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_creates_experts_clients_and_tokens_and_an_expert_edits_its_profile() {
    for db in databases("admin_creates_experts_clients_and_tokens_and_an_expert_edits_its_profile") {
        let l = db.label;
        let server = TestServer::start(&db).await;
        let api = &server.api;

        let e = api
            .post(
                "/api/v1/experts",
                ADMIN_TOKEN,
                json!({"name": "Dr. Ada", "email": "ada@example.com", "timezone": "Europe/Berlin"}),
            )
            .await;
        assert_eq!(e.status, 201, "{l}: {:?}", e.body);
        let expert = id_of(&e);
        uuid::Uuid::parse_str(&expert).unwrap();
        assert_eq!(e.body["name"], "Dr. Ada", "{l}");
        assert_eq!(e.body["email"], "ada@example.com", "{l}");
        assert_eq!(e.body["timezone"], "Europe/Berlin", "{l}");
        assert_eq!(e.body["integration_type"], "manual", "{l}");
        assert_eq!(
            e.body["booking_policy"],
            json!({
                "slot_duration_minutes": 30, "slot_interval_minutes": 30, "buffer_before_minutes": 0,
                "buffer_after_minutes": 0, "minimum_notice_minutes": 0, "booking_horizon_days": 60
            }),
            "{l}"
        );

        // A client's time zone defaults to UTC; an explicit one is kept.
        let c = api
            .post(
                "/api/v1/clients",
                ADMIN_TOKEN,
                json!({"name": "Ann", "email": "ann@example.com"}),
            )
            .await;
        assert_eq!(c.status, 201, "{l}: {:?}", c.body);
        let client = id_of(&c);
        uuid::Uuid::parse_str(&client).unwrap();
        assert_eq!(c.body["name"], "Ann", "{l}");
        assert_eq!(c.body["email"], "ann@example.com", "{l}");
        assert_eq!(c.body["timezone"], "UTC", "{l}");
        let c2 = api
            .post(
                "/api/v1/clients",
                ADMIN_TOKEN,
                json!({"name": "Bo", "email": "bo@example.com", "timezone": "Asia/Tokyo"}),
            )
            .await;
        assert_eq!(c2.status, 201, "{l}: {:?}", c2.body);
        assert_eq!(c2.body["timezone"], "Asia/Tokyo", "{l}");
        assert_ne!(id_of(&c2), client, "{l}");

        // Tokens: 201 {token}, one per role.
        let mut tokens = vec![];
        for (role, subject) in [("expert", Some(&expert)), ("client", Some(&client)), ("admin", None)] {
            let mut body = json!({"role": role});
            if let Some(s) = subject {
                body["subject_id"] = json!(s);
            }
            let t = api.post("/api/v1/tokens", ADMIN_TOKEN, body).await;
            assert_eq!(t.status, 201, "{l} {role}: {:?}", t.body);
            let token = t.body["token"].as_str().unwrap().to_owned();
            assert!(
                token.len() >= 16,
                "{l}: a token is long enough to be unguessable: {token:?}"
            );
            tokens.push(token);
        }
        let [expert_token, client_token, admin2] = <[String; 3]>::try_from(tokens).unwrap();
        assert_ne!(expert_token, client_token, "{l}");
        // A minted admin token acts as an admin.
        let other = api
            .post(
                "/api/v1/experts",
                &admin2,
                json!({"name": "Dr. Bob", "email": "bob@example.com", "timezone": "UTC"}),
            )
            .await;
        assert_eq!(other.status, 201, "{l}: {:?}", other.body);
        let other_token = api.token("expert", &id_of(&other)).await;

        // Anyone authenticated reads an expert's profile.
        for token in [ADMIN_TOKEN, &expert_token, &client_token, &other_token, &admin2] {
            let g = api.get(&format!("/api/v1/experts/{expert}"), token).await;
            assert_eq!(g.status, 200, "{l}: {:?}", g.body);
            assert_eq!(g.body, e.body, "{l}: GET gives what POST answered");
        }

        // The expert edits its own profile; a missing field stays as it was.
        let p = api
            .patch(
                &format!("/api/v1/experts/{expert}"),
                &expert_token,
                json!({"name": "Dr. Ada L.", "timezone": "America/New_York"}),
            )
            .await;
        assert_eq!(p.status, 200, "{l}: {:?}", p.body);
        assert_eq!(p.body["id"], expert.as_str(), "{l}");
        assert_eq!(p.body["name"], "Dr. Ada L.", "{l}");
        assert_eq!(p.body["email"], "ada@example.com", "{l}");
        assert_eq!(p.body["timezone"], "America/New_York", "{l}");
        assert_eq!(p.body["integration_type"], "manual", "{l}");
        assert_eq!(p.body["booking_policy"], e.body["booking_policy"], "{l}");
        let g = api.get(&format!("/api/v1/experts/{expert}"), &client_token).await;
        assert_eq!(g.body, p.body, "{l}: the change is kept");
        // The zone of the profile is the zone of the availability.
        let av = api
            .get(&format!("/api/v1/experts/{expert}/availability"), &expert_token)
            .await;
        assert_eq!(av.status, 200, "{l}: {:?}", av.body);
        assert_eq!(av.body["timezone"], "America/New_York", "{l}");

        let p = api
            .patch(
                &format!("/api/v1/experts/{expert}"),
                &expert_token,
                json!({"email": "ada@lovelace.example"}),
            )
            .await;
        assert_eq!(p.status, 200, "{l}: {:?}", p.body);
        assert_eq!(p.body["email"], "ada@lovelace.example", "{l}");
        assert_eq!(p.body["name"], "Dr. Ada L.", "{l}");
        // Admin may too; another expert and a client may not.
        let p = api
            .patch(
                &format!("/api/v1/experts/{expert}"),
                ADMIN_TOKEN,
                json!({"name": "Ada"}),
            )
            .await;
        assert_eq!(p.status, 200, "{l}: {:?}", p.body);
        for token in [&other_token, &client_token] {
            let p = api
                .patch(&format!("/api/v1/experts/{expert}"), token, json!({"name": "Mallory"}))
                .await;
            assert_error(&p, 403, "forbidden", l);
        }
        let g = api.get(&format!("/api/v1/experts/{expert}"), ADMIN_TOKEN).await;
        assert_eq!(g.body["name"], "Ada", "{l}: the refused patches changed nothing");
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Availability
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_put_answers_what_was_sent_and_a_refused_put_changes_nothing() {
    for db in databases("availability_put_answers_what_was_sent_and_a_refused_put_changes_nothing") {
        let l = db.label;
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let (_, client_token) = api.client_with_token().await;
        let monday = next_monday();
        let (tuesday, wednesday, friday, saturday) = (
            plus_days(&monday, 1),
            plus_days(&monday, 2),
            plus_days(&monday, 4),
            plus_days(&monday, 5),
        );
        let path = format!("/api/v1/experts/{expert}/availability");
        let sent = json!({
            "timezone": "Europe/Berlin",
            "rules": [
                {"day_of_week": 1, "start_time": "09:00", "end_time": "17:00", "is_available": true},
                {"day_of_week": 1, "start_time": "12:00", "end_time": "13:00", "is_available": false},
                {"day_of_week": 5, "start_time": "22:00", "end_time": "24:00", "is_available": true},
                {"day_of_week": 6, "start_time": "00:00", "end_time": "02:00", "is_available": true},
                {"day_of_week": 3, "start_time": "08:05", "end_time": "12:15", "is_available": true},
                {"day_of_week": 4, "start_time": "10:00", "end_time": "11:00", "is_available": true},
                {"day_of_week": 4, "start_time": "10:30", "end_time": "11:30", "is_available": true},
                {"day_of_week": 2, "start_time": "09:00", "end_time": "17:00", "is_available": true}
            ],
            "overrides": [
                {"date": tuesday, "windows": []},
                {"date": wednesday, "windows": [
                    {"start_time": "07:45", "end_time": "09:00"},
                    {"start_time": "18:00", "end_time": "24:00"}
                ]}
            ]
        });
        let put = api.put(&path, &expert_token, sent.clone()).await;
        assert_eq!(put.status, 200, "{l}: {:?}", put.body);
        assert_eq!(put.body, sent, "{l}: PUT answers exactly what was sent");
        let get = api.get(&path, &expert_token).await;
        assert_eq!(get.status, 200, "{l}: {:?}", get.body);
        assert_eq!(get.body, sent, "{l}: GET answers exactly what was sent");
        let admin_get = api.get(&path, ADMIN_TOKEN).await;
        assert_eq!(admin_get.body, sent, "{l}: admin reads it too");

        // The slots follow: a lunch break, a day off, special hours, an overnight shift.
        let mut mon = grid(&monday, "09:00", "11:30", 30);
        mon.extend(grid(&monday, "13:00", "16:30", 30));
        assert_eq!(
            starts_on(api, &expert, &client_token, &monday).await,
            mon,
            "{l}: Monday"
        );
        assert!(
            starts_on(api, &expert, &client_token, &tuesday).await.is_empty(),
            "{l}: the empty override is a day off"
        );
        let mut wed = grid(&wednesday, "07:45", "08:15", 30);
        wed.extend(grid(&wednesday, "18:00", "23:30", 30));
        assert_eq!(
            starts_on(api, &expert, &client_token, &wednesday).await,
            wed,
            "{l}: the override replaces the Wednesday rule"
        );
        let thursday = plus_days(&monday, 3);
        assert_eq!(
            starts_on(api, &expert, &client_token, &thursday).await,
            grid(&thursday, "10:00", "11:00", 30),
            "{l}: overlapping rules merge"
        );
        let overnight = api
            .slots(
                &expert,
                &client_token,
                &berlin(&friday, "12:00"),
                &berlin(&saturday, "12:00"),
            )
            .await;
        let expected: Vec<String> = (0..8)
            .map(|i| plus_minutes(&berlin(&friday, "22:00"), 30 * i))
            .collect();
        assert_eq!(
            overnight.into_iter().map(|(s, _)| s).collect::<Vec<_>>(),
            expected,
            "{l}: Friday 22:00-24:00 and Saturday 00:00-02:00 are one window"
        );

        // Refused PUTs change nothing (neither the rules nor the zone).
        let rule = |d: i64, s: &str, e: &str| json!({"day_of_week": d, "start_time": s, "end_time": e});
        let refused = [
            (
                json!({"rules": [], "timezone": "Asia/Tokyo", "overrides": [
                    {"date": tuesday, "windows": []},
                    {"date": tuesday, "windows": [{"start_time": "10:00", "end_time": "11:00"}]}
                ]}),
                "duplicate_override",
            ),
            (
                json!({
                    "rules": [rule(1, "09:00", "10:00"), rule(7, "09:00", "10:00")],
                    "overrides": [],
                    "timezone": "Asia/Tokyo"
                }),
                "invalid_day_of_week",
            ),
            (
                json!({"rules": [rule(1, "09:00", "25:00")], "overrides": [], "timezone": "Asia/Tokyo"}),
                "invalid_time",
            ),
            (
                json!({"rules": [rule(1, "09:00", "10:00")], "overrides": [], "timezone": "Mars/Olympus_Mons"}),
                "unknown_timezone",
            ),
        ];
        for (body, code) in refused {
            let a = api.put(&path, &expert_token, body.clone()).await;
            assert_error(&a, 422, code, &format!("{l}: {body}"));
            let get = api.get(&path, &expert_token).await;
            assert_eq!(get.body, sent, "{l}: a refused PUT ({code}) changed nothing");
            let profile = api.get(&format!("/api/v1/experts/{expert}"), &expert_token).await;
            assert_eq!(profile.body["timezone"], "Europe/Berlin", "{l}: nor the zone ({code})");
        }

        // Without a timezone the zone stays; the answer says which one.
        let plain = json!({"rules": [rule(1, "10:00", "24:00")], "overrides": []});
        let put = api.put(&path, &expert_token, plain).await;
        assert_eq!(put.status, 200, "{l}: {:?}", put.body);
        assert_eq!(
            put.body,
            json!({"timezone": "Europe/Berlin", "rules": [
                {"day_of_week": 1, "start_time": "10:00", "end_time": "24:00", "is_available": true}
            ], "overrides": []}),
            "{l}: is_available defaults to true"
        );
        // A zone given with the hours becomes the expert's zone.
        let tokyo = json!({"timezone": "Asia/Tokyo", "rules": [], "overrides": []});
        let put = api.put(&path, &expert_token, tokyo.clone()).await;
        assert_eq!(put.status, 200, "{l}: {:?}", put.body);
        assert_eq!(put.body, tokyo, "{l}");
        assert_eq!(api.get(&path, ADMIN_TOKEN).await.body, tokyo, "{l}");
        let profile = api.get(&format!("/api/v1/experts/{expert}"), &client_token).await;
        assert_eq!(profile.body["timezone"], "Asia/Tokyo", "{l}");
        assert!(
            starts_on(api, &expert, &client_token, &monday).await.is_empty(),
            "{l}: no rules, no slots"
        );
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Booking policy
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_policy_put_replaces_with_defaults_and_checks_ranges() {
    for db in databases("booking_policy_put_replaces_with_defaults_and_checks_ranges") {
        let l = db.label;
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, token) = api.expert_with_hours().await;
        let path = format!("/api/v1/experts/{expert}/booking-policy");
        let policy = |d: u32, i: u32, bb: u32, ba: u32, n: u32, h: u32| {
            json!({
                "slot_duration_minutes": d, "slot_interval_minutes": i, "buffer_before_minutes": bb,
                "buffer_after_minutes": ba, "minimum_notice_minutes": n, "booking_horizon_days": h
            })
        };
        let defaults = policy(30, 30, 0, 0, 0, 60);
        let g = api.get(&path, &token).await;
        assert_eq!(g.status, 200, "{l}: {:?}", g.body);
        assert_eq!(g.body, defaults, "{l}");

        let cases = [
            (json!({"slot_duration_minutes": 45}), policy(45, 45, 0, 0, 0, 60)),
            (
                json!({"slot_duration_minutes": 60, "slot_interval_minutes": 15, "buffer_before_minutes": 10,
                       "buffer_after_minutes": 5, "minimum_notice_minutes": 120, "booking_horizon_days": 30}),
                policy(60, 15, 10, 5, 120, 30),
            ),
            // PUT replaces: what is missing goes back to its default.
            (json!({"buffer_after_minutes": 10}), policy(30, 30, 0, 10, 0, 60)),
            (json!({"slot_interval_minutes": 20}), policy(30, 20, 0, 0, 0, 60)),
            (json!({}), defaults.clone()),
            // The edges of every range.
            (policy(5, 5, 0, 0, 0, 1), policy(5, 5, 0, 0, 0, 1)),
            (
                policy(1440, 1440, 1440, 1440, 525_600, 730),
                policy(1440, 1440, 1440, 1440, 525_600, 730),
            ),
            (json!({"slot_duration_minutes": 50}), policy(50, 50, 0, 0, 0, 60)),
        ];
        for (body, want) in cases {
            let p = api.put(&path, &token, body.clone()).await;
            assert_eq!(p.status, 200, "{l}: {body}: {:?}", p.body);
            assert_eq!(p.body, want, "{l}: {body}");
            assert_eq!(api.get(&path, &token).await.body, want, "{l}: {body}");
            let e = api.get(&format!("/api/v1/experts/{expert}"), &token).await;
            assert_eq!(e.body["booking_policy"], want, "{l}: the profile shows the policy");
        }
        let kept = policy(50, 50, 0, 0, 0, 60);

        let out_of_range = [
            json!({"slot_duration_minutes": 4}),
            json!({"slot_duration_minutes": 1441}),
            json!({"slot_duration_minutes": 0}),
            json!({"slot_duration_minutes": -30}),
            json!({"slot_interval_minutes": 4}),
            json!({"slot_interval_minutes": 1441}),
            json!({"buffer_before_minutes": -1}),
            json!({"buffer_before_minutes": 1441}),
            json!({"buffer_after_minutes": -1}),
            json!({"buffer_after_minutes": 1441}),
            json!({"minimum_notice_minutes": -1}),
            json!({"minimum_notice_minutes": 525_601}),
            json!({"booking_horizon_days": 0}),
            json!({"booking_horizon_days": 731}),
            json!({"slot_duration_minutes": 1_000_000_000_000_i64}),
        ];
        for body in out_of_range {
            let p = api.put(&path, &token, body.clone()).await;
            assert_error(&p, 422, "out_of_range", &format!("{l}: {body}"));
            assert_eq!(api.get(&path, &token).await.body, kept, "{l}: {body} changed nothing");
        }
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Slots and bookings
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shown_slot_can_be_booked_and_a_time_not_shown_cannot() {
    for db in databases("a_shown_slot_can_be_booked_and_a_time_not_shown_cannot") {
        let l = db.label;
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let put = api
            .put(
                &format!("/api/v1/experts/{expert}/availability"),
                &expert_token,
                hours_with_break(),
            )
            .await;
        assert_eq!(put.status, 200, "{l}: {:?}", put.body);
        let (client, client_token) = api.client_with_token().await;
        let day = next_monday();

        let (from, to) = whole_day(&day);
        let s = api
            .get(
                &format!("/api/v1/experts/{expert}/slots?from={from}&to={to}"),
                &client_token,
            )
            .await;
        assert_eq!(s.status, 200, "{l}: {:?}", s.body);
        assert_eq!(s.body["expert_id"], expert.as_str(), "{l}");
        assert_eq!(s.body["duration_minutes"], 30, "{l}");
        let mut want = grid(&day, "09:00", "11:30", 30);
        want.extend(grid(&day, "13:00", "16:30", 30));
        let slots = s.body["slots"].as_array().unwrap();
        assert_eq!(
            slots.iter().map(|x| x["start"].as_str().unwrap()).collect::<Vec<_>>(),
            want,
            "{l}: the slots of a Monday with a lunch break"
        );
        for slot in slots {
            let (start, end) = (slot["start"].as_str().unwrap(), slot["end"].as_str().unwrap());
            assert!(
                start.ends_with('Z') && end.ends_with('Z'),
                "{l}: UTC by default: {slot}"
            );
            assert_eq!(plus_minutes(start, 30), end, "{l}: 30-minute slots");
        }

        // Times that are not slots are refused with 422 slot_unavailable.
        let nine = berlin(&day, "09:00");
        let refused = [
            (plus_minutes(&nine, 10), "off the grid"),
            (berlin(&day, "08:00"), "before the hours"),
            (berlin(&day, "17:00"), "after the hours"),
            (berlin(&day, "16:45"), "ending after the hours (and off the grid)"),
            (berlin(&day, "12:00"), "in the break"),
            (berlin(&day, "12:30"), "in the break"),
            (berlin(&plus_days(&day, 5), "10:00"), "on a Saturday"),
            (berlin(&plus_days(&day, -21), "10:00"), "in the past"),
            (berlin(&plus_days(&day, 70), "10:00"), "beyond the 60-day horizon"),
        ];
        for (start, why) in &refused {
            let a = book(api, &client_token, &expert, &client, start, &plus_minutes(start, 30)).await;
            assert_error(&a, 422, "slot_unavailable", &format!("{l}: {why} ({start})"));
        }
        // A slot that ends where the break begins is fine.
        let before_break = berlin(&day, "11:30");
        let a = book(
            api,
            &client_token,
            &expert,
            &client,
            &before_break,
            &plus_minutes(&before_break, 30),
        )
        .await;
        assert_eq!(a.status, 201, "{l}: {:?}", a.body);

        // A shown slot is booked: 201, confirmed, no calendar.
        let ten = berlin(&day, "10:00");
        let ten_end = plus_minutes(&ten, 30);
        let a = book(api, &client_token, &expert, &client, &ten, &ten_end).await;
        assert_eq!(a.status, 201, "{l}: {:?}", a.body);
        let appointment = id_of(&a);
        uuid::Uuid::parse_str(&appointment).unwrap();
        assert_eq!(a.body["expert_id"], expert.as_str(), "{l}");
        assert_eq!(a.body["client_id"], client.as_str(), "{l}");
        assert_eq!(a.body["start_time"], ten.as_str(), "{l}");
        assert_eq!(a.body["end_time"], ten_end.as_str(), "{l}");
        assert_eq!(a.body["status"], "confirmed", "{l}");
        assert_eq!(a.body["sync_status"], "not_applicable", "{l}");
        assert_eq!(a.body.get("calendar_type"), Some(&Value::Null), "{l}: {:?}", a.body);
        assert_eq!(
            a.body.get("external_calendar_event_id"),
            Some(&Value::Null),
            "{l}: {:?}",
            a.body
        );
        let g = api
            .get(&format!("/api/v1/appointments/{appointment}"), &client_token)
            .await;
        assert_eq!(g.status, 200, "{l}: {:?}", g.body);
        assert_eq!(g.body, a.body, "{l}: GET gives what POST answered");
        let g = api
            .get(&format!("/api/v1/appointments/{appointment}"), &expert_token)
            .await;
        assert_eq!(g.status, 200, "{l}: the expert sees it too: {:?}", g.body);

        // It is gone from the slots, and nothing else is.
        let after: Vec<String> = want
            .iter()
            .filter(|s| **s != ten && **s != before_break)
            .cloned()
            .collect();
        assert_eq!(starts_on(api, &expert, &client_token, &day).await, after, "{l}");

        // Booking it again, or anything overlapping it, is 409 slot_taken (also for the admin).
        let a = book(api, &client_token, &expert, &client, &ten, &ten_end).await;
        assert_error(&a, 409, "slot_taken", &format!("{l}: the same slot again"));
        let a = book(api, ADMIN_TOKEN, &expert, &client, &ten, &ten_end).await;
        assert_error(&a, 409, "slot_taken", &format!("{l}: the same slot by the admin"));
        let quarter_past = plus_minutes(&ten, 15);
        let a = book(
            api,
            &client_token,
            &expert,
            &client,
            &quarter_past,
            &plus_minutes(&quarter_past, 30),
        )
        .await;
        assert_error(&a, 409, "slot_taken", &format!("{l}: overlapping the booking"));
        let (_, other_client_token) = api.client_with_token().await;
        let other_client = api
            .post(
                "/api/v1/clients",
                ADMIN_TOKEN,
                json!({"name": "Cy", "email": "cy@example.com"}),
            )
            .await;
        let other_client = id_of(&other_client);
        let a = book(
            api,
            &api.token("client", &other_client).await,
            &expert,
            &other_client,
            &ten,
            &ten_end,
        )
        .await;
        assert_error(&a, 409, "slot_taken", &format!("{l}: by another client"));
        drop(other_client_token);

        // Cancelled (twice: both 200), the slot is back and can be booked again.
        let c = api
            .post(
                &format!("/api/v1/appointments/{appointment}/cancel"),
                &client_token,
                json!({"reason": "cannot make it"}),
            )
            .await;
        assert_eq!(c.status, 200, "{l}: {:?}", c.body);
        assert_eq!(c.body["status"], "cancelled", "{l}");
        assert_eq!(c.body["id"], appointment.as_str(), "{l}");
        assert_eq!(c.body["start_time"], ten.as_str(), "{l}");
        let again = api
            .call(
                Method::POST,
                &format!("/api/v1/appointments/{appointment}/cancel"),
                Some(&client_token),
                None,
            )
            .await;
        assert_eq!(again.status, 200, "{l}: cancelling again: {:?}", again.body);
        assert_eq!(again.body["status"], "cancelled", "{l}");
        let g = api
            .get(&format!("/api/v1/appointments/{appointment}"), &client_token)
            .await;
        assert_eq!(g.body["status"], "cancelled", "{l}");
        let back: Vec<String> = want.iter().filter(|s| **s != before_break).cloned().collect();
        assert_eq!(
            starts_on(api, &expert, &client_token, &day).await,
            back,
            "{l}: the slot is back"
        );
        let a = book(api, &client_token, &expert, &client, &ten, &ten_end).await;
        assert_eq!(a.status, 201, "{l}: {:?}", a.body);
        assert_ne!(id_of(&a), appointment, "{l}: a new appointment");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_and_timezone_parameters_shape_the_slots() {
    for db in databases("duration_and_timezone_parameters_shape_the_slots") {
        let l = db.label;
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, _) = api.expert_with_hours().await;
        let (client, client_token) = api.client_with_token().await;
        let day = next_monday();
        let (from, to) = whole_day(&day);
        let base = format!("/api/v1/experts/{expert}/slots?from={from}&to={to}");

        // 60-minute slots, still every 30 minutes (the policy's interval).
        let s = api.get(&format!("{base}&duration_minutes=60"), &client_token).await;
        assert_eq!(s.status, 200, "{l}: {:?}", s.body);
        assert_eq!(s.body["duration_minutes"], 60, "{l}");
        let slots = s.body["slots"].as_array().unwrap();
        assert_eq!(
            slots.iter().map(|x| x["start"].as_str().unwrap()).collect::<Vec<_>>(),
            grid(&day, "09:00", "16:00", 30),
            "{l}"
        );
        for slot in slots {
            assert_eq!(
                plus_minutes(slot["start"].as_str().unwrap(), 60),
                slot["end"].as_str().unwrap(),
                "{l}"
            );
        }
        let s = api.get(&format!("{base}&duration_minutes=480"), &client_token).await;
        assert_eq!(s.status, 200, "{l}: {:?}", s.body);
        assert_eq!(s.body["slots"].as_array().unwrap().len(), 1, "{l}: one 8-hour slot");
        let s = api.get(&format!("{base}&duration_minutes=481"), &client_token).await;
        assert_eq!(s.status, 200, "{l}: {:?}", s.body);
        assert!(
            s.body["slots"].as_array().unwrap().is_empty(),
            "{l}: longer than the day"
        );
        assert_eq!(
            s.body["duration_minutes"], 481,
            "{l}: the asked duration, also when empty"
        );
        let s = api.get(&base, &client_token).await;
        assert_eq!(s.body["slots"].as_array().unwrap().len(), 16, "{l}");

        // A booking of length L at s is accepted exactly when s is a slot for L.
        let late = berlin(&day, "16:30");
        let a = book(api, &client_token, &expert, &client, &late, &plus_minutes(&late, 60)).await;
        assert_error(&a, 422, "slot_unavailable", &format!("{l}: 60 minutes from 16:30"));
        let half_past_nine = berlin(&day, "09:30");
        let a = book(
            api,
            &client_token,
            &expert,
            &client,
            &half_past_nine,
            &plus_minutes(&half_past_nine, 60),
        )
        .await;
        assert_eq!(a.status, 201, "{l}: a 60-minute slot: {:?}", a.body);
        let three = berlin(&day, "15:00");
        let a = book(api, &client_token, &expert, &client, &three, &plus_minutes(&three, 45)).await;
        assert_eq!(a.status, 201, "{l}: a 45-minute slot: {:?}", a.body);
        let s = api.get(&base, &client_token).await;
        let starts: Vec<&str> = s.body["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["start"].as_str().unwrap())
            .collect();
        let mut want = grid(&day, "09:00", "09:00", 30);
        want.extend(grid(&day, "10:30", "14:30", 30));
        want.extend(grid(&day, "16:00", "16:30", 30));
        assert_eq!(starts, want, "{l}: both bookings block their time");

        // The same instants in New York time.
        let utc = api.get(&base, &client_token).await;
        for zone_query in ["America/New_York", "America%2FNew_York"] {
            let ny = api.get(&format!("{base}&timezone={zone_query}"), &client_token).await;
            assert_eq!(ny.status, 200, "{l}: {:?}", ny.body);
            assert_eq!(ny.body["expert_id"], utc.body["expert_id"], "{l}");
            assert_eq!(ny.body["duration_minutes"], utc.body["duration_minutes"], "{l}");
            let (u, n) = (
                utc.body["slots"].as_array().unwrap(),
                ny.body["slots"].as_array().unwrap(),
            );
            assert_eq!(u.len(), n.len(), "{l}: the same slots");
            for (u, n) in u.iter().zip(n) {
                for key in ["start", "end"] {
                    let (us, ns) = (u[key].as_str().unwrap(), n[key].as_str().unwrap());
                    assert!(
                        ns.ends_with("-05:00") || ns.ends_with("-04:00"),
                        "{l}: a New York offset: {ns}"
                    );
                    assert_eq!(instant(us), instant(ns), "{l}: {us} and {ns} are the same instant");
                    let offset = &ns[ns.len() - 6..];
                    let local = instant(us)
                        .in_tz("America/New_York")
                        .unwrap()
                        .strftime("%Y-%m-%dT%H:%M:%S%:z")
                        .to_string();
                    assert_eq!(ns, local, "{l}: the local time at that instant ({offset})");
                }
            }
        }
        // UTC asked for by name: the same instants, with a full offset.
        let named_utc = api.get(&format!("{base}&timezone=UTC"), &client_token).await;
        assert_eq!(named_utc.status, 200, "{l}: {:?}", named_utc.body);
        let first = named_utc.body["slots"][0]["start"].as_str().unwrap();
        assert!(
            first.ends_with("+00:00") || first.ends_with('Z'),
            "{l}: RFC 3339: {first}"
        );
        assert_eq!(instant(first), instant(&berlin(&day, "09:00")), "{l}");
        // Whatever the expert's zone, the answer is in the asked zone.
        let tokyo = api.get(&format!("{base}&timezone=Asia/Tokyo"), &client_token).await;
        assert_eq!(tokyo.status, 200, "{l}: {:?}", tokyo.body);
        let first = tokyo.body["slots"][0]["start"].as_str().unwrap();
        assert!(first.ends_with("+09:00"), "{l}: {first}");
        assert_eq!(instant(first), instant(&berlin(&day, "09:00")), "{l}");

        // An offset in from/to (encoded or as typed) names the same instant.
        let offset_from = instant(&from)
            .in_tz("Europe/Berlin")
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string();
        let encoded = offset_from.replace('+', "%2B");
        for f in [encoded, offset_from.clone()] {
            let s = api
                .get(
                    &format!("/api/v1/experts/{expert}/slots?from={f}&to={to}"),
                    &client_token,
                )
                .await;
            assert_eq!(s.status, 200, "{l}: from={f}: {:?}", s.body);
            assert_eq!(s.body["slots"], utc.body["slots"], "{l}: from={f}");
        }
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_buffers_notice_and_horizon_hold_through_the_api() {
    for db in databases("policy_buffers_notice_and_horizon_hold_through_the_api") {
        let l = db.label;
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let (client, client_token) = api.client_with_token().await;
        let day = next_monday();
        let policy_path = format!("/api/v1/experts/{expert}/booking-policy");
        let p = api
            .put(
                &policy_path,
                &expert_token,
                json!({"buffer_before_minutes": 15, "buffer_after_minutes": 15}),
            )
            .await;
        assert_eq!(p.status, 200, "{l}: {:?}", p.body);

        let ten = berlin(&day, "10:00");
        let a = book(api, &client_token, &expert, &client, &ten, &plus_minutes(&ten, 30)).await;
        assert_eq!(a.status, 201, "{l}: {:?}", a.body);
        let starts = starts_on(api, &expert, &client_token, &day).await;
        let (half_nine, half_ten) = (berlin(&day, "09:30"), berlin(&day, "10:30"));
        assert!(!starts.contains(&half_nine), "{l}: its buffer reaches the booking");
        assert!(!starts.contains(&half_ten), "{l}: its buffer reaches the booking");
        assert!(starts.contains(&berlin(&day, "09:00")), "{l}");
        assert!(starts.contains(&berlin(&day, "11:00")), "{l}");
        assert_eq!(starts.len(), 16 - 3, "{l}");
        // A neighbour touches the booking without overlapping it: 422, not 409.
        for start in [&half_nine, &half_ten] {
            let a = book(api, &client_token, &expert, &client, start, &plus_minutes(start, 30)).await;
            assert_error(&a, 422, "slot_unavailable", &format!("{l}: buffer at {start}"));
        }
        // The first slot of the day has a buffer outside the hours: that is allowed.
        let nine = berlin(&day, "09:00");
        let a = book(api, &client_token, &expert, &client, &nine, &plus_minutes(&nine, 30)).await;
        assert_eq!(a.status, 201, "{l}: {:?}", a.body);

        // Minimum notice larger than the time to that day: no slots, no booking.
        let p = api
            .put(&policy_path, &expert_token, json!({"minimum_notice_minutes": 525_600}))
            .await;
        assert_eq!(p.status, 200, "{l}: {:?}", p.body);
        assert!(
            starts_on(api, &expert, &client_token, &day).await.is_empty(),
            "{l}: notice"
        );
        let two = berlin(&day, "14:00");
        let a = book(api, &client_token, &expert, &client, &two, &plus_minutes(&two, 30)).await;
        assert_error(&a, 422, "slot_unavailable", &format!("{l}: too soon"));

        // A one-day horizon: the same.
        let p = api
            .put(&policy_path, &expert_token, json!({"booking_horizon_days": 1}))
            .await;
        assert_eq!(p.status, 200, "{l}: {:?}", p.body);
        assert!(
            starts_on(api, &expert, &client_token, &day).await.is_empty(),
            "{l}: horizon"
        );
        let a = book(api, &client_token, &expert, &client, &two, &plus_minutes(&two, 30)).await;
        assert_error(&a, 422, "slot_unavailable", &format!("{l}: beyond the horizon"));

        // 45-minute slots every 60 minutes with the default policy otherwise.
        let p = api
            .put(
                &policy_path,
                &expert_token,
                json!({"slot_duration_minutes": 45, "slot_interval_minutes": 60}),
            )
            .await;
        assert_eq!(p.status, 200, "{l}: {:?}", p.body);
        let s = starts_on(api, &expert, &client_token, &day).await;
        assert_eq!(
            s,
            grid(&day, "11:00", "16:00", 60),
            "{l}: the grid is anchored at 09:00; the bookings block 09:00 and 10:00"
        );
        let eleven_fifteen = berlin(&day, "11:15");
        let a = book(
            api,
            &client_token,
            &expert,
            &client,
            &eleven_fifteen,
            &plus_minutes(&eleven_fifteen, 45),
        )
        .await;
        assert_error(&a, 422, "slot_unavailable", &format!("{l}: off the 60-minute grid"));
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Idempotency-Key
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_replays_the_first_answer_for_the_same_caller_and_body() {
    for db in databases("an_idempotency_key_replays_the_first_answer_for_the_same_caller_and_body") {
        let l = db.label;
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let (client, client_token) = api.client_with_token().await;
        let (other_client, other_token) = api.client_with_token().await;
        let day = next_monday();
        let ten = berlin(&day, "10:00");
        let body =
            json!({"expert_id": expert, "client_id": client, "start_time": ten, "end_time": plus_minutes(&ten, 30)});
        let post = |token: &str, body: &Value, key: &str| {
            let (api, token, body, key) = (api.clone(), token.to_owned(), body.clone(), key.to_owned());
            async move {
                api.call_with(
                    Method::POST,
                    "/api/v1/appointments",
                    Some(&token),
                    Some(&body),
                    &[("Idempotency-Key", &key)],
                )
                .await
            }
        };

        let first = post(&client_token, &body, "key-1").await;
        assert_eq!(first.status, 201, "{l}: {:?}", first.body);
        for _ in 0..3 {
            let again = post(&client_token, &body, "key-1").await;
            assert_eq!(again.status, 201, "{l}: {:?}", again.body);
            assert_eq!(again.body, first.body, "{l}: the first answer again");
        }
        // The same body without the key is a new request: the slot is taken by the first.
        let plain = api.post("/api/v1/appointments", &client_token, body.clone()).await;
        assert_error(&plain, 409, "slot_taken", &format!("{l}: no key"));
        let list = api
            .get(
                &format!(
                    "/api/v1/clients/{client}/appointments?from={}&to={}",
                    berlin(&day, "00:00"),
                    berlin(&plus_days(&day, 1), "00:00")
                ),
                &client_token,
            )
            .await;
        assert_eq!(ids(&list), vec![id_of(&first)], "{l}: only one appointment exists");

        // The same key with another body: 422, and nothing is booked.
        let eleven = berlin(&day, "11:00");
        let other_body = json!({
            "expert_id": expert, "client_id": client, "start_time": eleven, "end_time": plus_minutes(&eleven, 30)
        });
        let reused = post(&client_token, &other_body, "key-1").await;
        assert_error(&reused, 422, "idempotency_key_reused", l);
        assert!(
            starts_on(api, &expert, &client_token, &day).await.contains(&eleven),
            "{l}: 11:00 is still free"
        );

        // Keys are per caller: the same key by someone else is their own request.
        let other_body_2 = json!({
            "expert_id": expert, "client_id": other_client, "start_time": eleven, "end_time": plus_minutes(&eleven, 30)
        });
        let theirs = post(&other_token, &other_body_2, "key-1").await;
        assert_eq!(theirs.status, 201, "{l}: {:?}", theirs.body);
        assert_ne!(id_of(&theirs), id_of(&first), "{l}");
        assert_eq!(theirs.body["client_id"], other_client.as_str(), "{l}");
        // Another caller sending the first caller's very body and key does not get its answer.
        let stolen = post(&other_token, &body, "key-1").await;
        assert_error(
            &stolen,
            422,
            "idempotency_key_reused",
            &format!("{l}: their key-1 had another body"),
        );
        let stolen_2 = post(&other_token, &body, "key-2").await;
        assert_error(&stolen_2, 403, "forbidden", &format!("{l}: not their client id"));
        let admin = post(ADMIN_TOKEN, &body, "key-1").await;
        assert_error(
            &admin,
            409,
            "slot_taken",
            &format!("{l}: the admin's own key-1 is a new request"),
        );
        let expert_try = post(&expert_token, &body, "key-1").await;
        assert_error(&expert_try, 403, "forbidden", &format!("{l}: experts do not book"));

        // A refusal is kept too: the same key and body answer the same again.
        let taken = post(&client_token, &other_body, "key-3").await;
        assert_error(&taken, 409, "slot_taken", l);
        let taken_again = post(&client_token, &other_body, "key-3").await;
        assert_eq!(taken_again.status, 409, "{l}");
        assert_eq!(taken_again.body, taken.body, "{l}");

        // A different key with the same body is a new request.
        let twelve = berlin(&day, "12:00");
        let b12 = json!({
            "expert_id": expert, "client_id": client, "start_time": twelve, "end_time": plus_minutes(&twelve, 30)
        });
        let k4 = post(&client_token, &b12, "key-4").await;
        assert_eq!(k4.status, 201, "{l}: {:?}", k4.body);
        let k5 = post(&client_token, &b12, "key-5").await;
        assert_error(&k5, 409, "slot_taken", l);
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Reschedule
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reschedule_moves_to_a_free_slot_only() {
    for db in databases("reschedule_moves_to_a_free_slot_only") {
        let l = db.label;
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let (client, client_token) = api.client_with_token().await;
        let (_, stranger_token) = api.client_with_token().await;
        let day = next_monday();
        let at = |hm: &str| berlin(&day, hm);
        let a = book(api, &client_token, &expert, &client, &at("10:00"), &at("10:30")).await;
        assert_eq!(a.status, 201, "{l}: {:?}", a.body);
        let b = book(api, &client_token, &expert, &client, &at("11:00"), &at("11:30")).await;
        assert_eq!(b.status, 201, "{l}: {:?}", b.body);
        let (a_id, b_id) = (id_of(&a), id_of(&b));
        let path = format!("/api/v1/appointments/{a_id}");
        let to = |s: &str, e: &str| json!({"start_time": s, "end_time": e});

        let r = api.patch(&path, &client_token, to(&at("13:00"), &at("13:30"))).await;
        assert_eq!(r.status, 200, "{l}: {:?}", r.body);
        assert_eq!(r.body["id"], a_id.as_str(), "{l}");
        assert_eq!(r.body["start_time"], at("13:00").as_str(), "{l}");
        assert_eq!(r.body["end_time"], at("13:30").as_str(), "{l}");
        assert_eq!(r.body["status"], "confirmed", "{l}");
        assert_eq!(api.get(&path, &client_token).await.body, r.body, "{l}");
        let starts = starts_on(api, &expert, &client_token, &day).await;
        assert!(starts.contains(&at("10:00")), "{l}: the old time is free");
        assert!(!starts.contains(&at("13:00")), "{l}: the new time is taken");
        let a2 = book(api, &client_token, &expert, &client, &at("13:00"), &at("13:30")).await;
        assert_error(&a2, 409, "slot_taken", l);

        // Onto another appointment: 409; off the grid: 422; outside the hours: 422.
        let r = api.patch(&path, &client_token, to(&at("11:00"), &at("11:30"))).await;
        assert_error(&r, 409, "slot_taken", &format!("{l}: onto B"));
        let r = api.patch(&path, &client_token, to(&at("10:50"), &at("11:20"))).await;
        assert_error(&r, 409, "slot_taken", &format!("{l}: overlapping B"));
        let r = api.patch(&path, &client_token, to(&at("14:10"), &at("14:40"))).await;
        assert_error(&r, 422, "slot_unavailable", &format!("{l}: off the grid"));
        let r = api.patch(&path, &client_token, to(&at("18:00"), &at("18:30"))).await;
        assert_error(&r, 422, "slot_unavailable", &format!("{l}: after hours"));
        assert_eq!(
            api.get(&path, &client_token).await.body["start_time"],
            at("13:00").as_str(),
            "{l}: refused moves change nothing"
        );

        // Moving onto its own time, or overlapping itself, is fine (it ignores itself).
        let r = api.patch(&path, &client_token, to(&at("13:00"), &at("13:30"))).await;
        assert_eq!(r.status, 200, "{l}: {:?}", r.body);
        let r = api.patch(&path, &client_token, to(&at("13:00"), &at("14:00"))).await;
        assert_eq!(r.status, 200, "{l}: longer, over its own time: {:?}", r.body);
        // The expert may move it, the admin too; a stranger may not.
        let r = api.patch(&path, &expert_token, to(&at("15:00"), &at("15:30"))).await;
        assert_eq!(r.status, 200, "{l}: {:?}", r.body);
        let r = api.patch(&path, ADMIN_TOKEN, to(&at("15:30"), &at("16:00"))).await;
        assert_eq!(r.status, 200, "{l}: {:?}", r.body);
        let r = api.patch(&path, &stranger_token, to(&at("09:00"), &at("09:30"))).await;
        assert_error(&r, 403, "forbidden", l);
        assert!(
            starts_on(api, &expert, &client_token, &day)
                .await
                .contains(&at("13:00")),
            "{l}: 13:00 free again"
        );

        // A cancelled appointment cannot be moved.
        let c = api
            .post(&format!("/api/v1/appointments/{b_id}/cancel"), &client_token, json!({}))
            .await;
        assert_eq!(c.status, 200, "{l}: {:?}", c.body);
        let r = api
            .patch(
                &format!("/api/v1/appointments/{b_id}"),
                &client_token,
                to(&at("09:00"), &at("09:30")),
            )
            .await;
        assert_error(&r, 409, "conflict", &format!("{l}: rescheduling a cancelled one"));
        assert_eq!(
            api.get(&format!("/api/v1/appointments/{b_id}"), &client_token)
                .await
                .body["status"],
            "cancelled",
            "{l}"
        );
        // Moving A onto the time of the cancelled B is fine.
        let r = api.patch(&path, &client_token, to(&at("11:00"), &at("11:30"))).await;
        assert_eq!(r.status, 200, "{l}: {:?}", r.body);
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appointment_lists_are_sorted_filtered_and_windowed() {
    for db in databases("appointment_lists_are_sorted_filtered_and_windowed") {
        let l = db.label;
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let (other_expert, _) = api.expert_with_hours().await;
        let (client, client_token) = api.client_with_token().await;
        let (other_client, other_client_token) = api.client_with_token().await;
        let day = next_monday();
        let tuesday = plus_days(&day, 1);
        let at = |d: &str, hm: &str| berlin(d, hm);

        // Booked out of order.
        let mut made = vec![];
        for (who, token, ex, d, hm) in [
            (&client, &client_token, &expert, &day, "14:00"),
            (&client, &client_token, &expert, &day, "09:00"),
            (&client, &client_token, &expert, &tuesday, "10:00"),
            (&client, &client_token, &expert, &day, "11:00"),
            (&other_client, &other_client_token, &expert, &day, "12:00"),
            (&client, &client_token, &other_expert, &day, "09:30"),
        ] {
            let start = at(d, hm);
            let a = book(api, token, ex, who, &start, &plus_minutes(&start, 30)).await;
            assert_eq!(a.status, 201, "{l}: {:?}", a.body);
            made.push(id_of(&a));
        }
        let [e14, e09, t10, e11, o12, x0930] = <[String; 6]>::try_from(made).unwrap();
        let c = api
            .post(&format!("/api/v1/appointments/{e11}/cancel"), &client_token, json!({}))
            .await;
        assert_eq!(c.status, 200, "{l}: {:?}", c.body);

        let (from, to) = (at(&day, "00:00"), at(&plus_days(&day, 2), "00:00"));
        let expert_list = |q: String| {
            let api = api.clone();
            let path = format!("/api/v1/experts/{expert}/appointments{q}");
            let token = expert_token.clone();
            async move { api.get(&path, &token).await }
        };
        let a = expert_list(format!("?from={from}&to={to}")).await;
        assert_eq!(
            ids(&a),
            vec![e09.clone(), e11.clone(), o12.clone(), e14.clone(), t10.clone()],
            "{l}"
        );
        for appt in a.body["appointments"].as_array().unwrap() {
            assert_eq!(appt["expert_id"], expert.as_str(), "{l}");
        }
        let a = expert_list(format!("?from={from}&to={to}&status=confirmed")).await;
        assert_eq!(ids(&a), vec![e09.clone(), o12.clone(), e14.clone(), t10.clone()], "{l}");
        let a = expert_list(format!("?from={from}&to={to}&status=cancelled")).await;
        assert_eq!(ids(&a), vec![e11.clone()], "{l}");
        assert_eq!(a.body["appointments"][0]["status"], "cancelled", "{l}");
        // The window: those that overlap [from, to).
        let a = expert_list(format!("?from={}&to={}", at(&day, "00:00"), at(&tuesday, "00:00"))).await;
        assert_eq!(
            ids(&a),
            vec![e09.clone(), e11.clone(), o12.clone(), e14.clone()],
            "{l}: Monday only"
        );
        let a = expert_list(format!("?from={}&to={}", at(&day, "09:15"), at(&day, "12:00"))).await;
        assert_eq!(
            ids(&a),
            vec![e09.clone(), e11.clone()],
            "{l}: 09:00-09:30 overlaps, 12:00 does not"
        );
        let a = expert_list(format!("?from={}&to={}", at(&day, "09:30"), at(&day, "12:01"))).await;
        assert_eq!(
            ids(&a),
            vec![e11.clone(), o12.clone()],
            "{l}: touching is not overlapping"
        );
        // Defaults: from now, 93 days.
        let a = expert_list(String::new()).await;
        assert_eq!(
            ids(&a),
            vec![e09.clone(), e11.clone(), o12.clone(), e14.clone(), t10.clone()],
            "{l}"
        );
        let a = expert_list(format!("?from={}", at(&tuesday, "00:00"))).await;
        assert_eq!(ids(&a), vec![t10.clone()], "{l}: from alone");
        let a = expert_list(format!("?to={}", at(&day, "10:00"))).await;
        assert_eq!(ids(&a), vec![e09.clone()], "{l}: to alone");
        let a = expert_list(format!(
            "?from={}&to={}",
            at(&plus_days(&day, -30), "00:00"),
            at(&day, "00:00")
        ))
        .await;
        assert!(ids(&a).is_empty(), "{l}: nothing before");

        // A client's list: their own appointments, with every expert.
        let client_list = |token: &str, q: String| {
            let (api, token) = (api.clone(), token.to_owned());
            let path = format!("/api/v1/clients/{client}/appointments{q}");
            async move { api.get(&path, &token).await }
        };
        let a = client_list(&client_token, format!("?from={from}&to={to}")).await;
        assert_eq!(
            ids(&a),
            vec![e09.clone(), x0930.clone(), e11.clone(), e14.clone(), t10.clone()],
            "{l}"
        );
        for appt in a.body["appointments"].as_array().unwrap() {
            assert_eq!(appt["client_id"], client.as_str(), "{l}");
        }
        let a = client_list(&client_token, format!("?from={from}&to={to}&status=confirmed")).await;
        assert_eq!(
            ids(&a),
            vec![e09.clone(), x0930.clone(), e14.clone(), t10.clone()],
            "{l}"
        );
        let a = client_list(&client_token, format!("?from={from}&to={to}&status=cancelled")).await;
        assert_eq!(ids(&a), vec![e11.clone()], "{l}");
        let a = client_list(ADMIN_TOKEN, format!("?from={}&to={}", at(&tuesday, "00:00"), to)).await;
        assert_eq!(ids(&a), vec![t10.clone()], "{l}: admin, Tuesday");
        let a = api
            .get(
                &format!("/api/v1/clients/{other_client}/appointments"),
                &other_client_token,
            )
            .await;
        assert_eq!(ids(&a), vec![o12.clone()], "{l}");

        // Lists are their owner's.
        let a = client_list(&other_client_token, String::new()).await;
        assert_error(&a, 403, "forbidden", &format!("{l}: another client's list"));
        let a = client_list(&expert_token, String::new()).await;
        assert_error(&a, 403, "forbidden", &format!("{l}: an expert on a client's list"));
        let a = api
            .get(&format!("/api/v1/experts/{expert}/appointments"), &client_token)
            .await;
        assert_error(&a, 403, "forbidden", &format!("{l}: a client on an expert's list"));
        let other_expert_token = api.token("expert", &other_expert).await;
        let a = api
            .get(&format!("/api/v1/experts/{expert}/appointments"), &other_expert_token)
            .await;
        assert_error(&a, 403, "forbidden", &format!("{l}: another expert's list"));
        let a = api
            .get(
                &format!("/api/v1/experts/{other_expert}/appointments"),
                &other_expert_token,
            )
            .await;
        assert_eq!(ids(&a), vec![x0930], "{l}");
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Who may do what
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_do_what() {
    for db in databases("who_may_do_what") {
        let l = db.label;
        // Dozens of wrong tokens from one address: the throttle (tests/tests/security.rs) would
        // answer 429 after 20; here every one must be seen answered 401.
        let server = TestServer::start_configured(&db, &[], |c| c.auth_throttle.max_failures = usize::MAX).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let (other_expert, other_expert_token) = api.expert_with_hours().await;
        let (client, client_token) = api.client_with_token().await;
        let (other_client, other_client_token) = api.client_with_token().await;
        let day = next_monday();
        let ten = berlin(&day, "10:00");
        let booked = book(api, &client_token, &expert, &client, &ten, &plus_minutes(&ten, 30)).await;
        assert_eq!(booked.status, 201, "{l}: {:?}", booked.body);
        let appointment = id_of(&booked);
        let (from, to) = whole_day(&day);
        let slots_path = format!("/api/v1/experts/{expert}/slots?from={from}&to={to}");
        let hours = json!({"rules": [{"day_of_week": 1, "start_time": "08:00", "end_time": "12:00"}], "overrides": []});

        // No token, an unknown token, a malformed header: 401 unauthorized, as JSON.
        let everything: Vec<(Method, String, Option<Value>)> = vec![
            (
                Method::POST,
                "/api/v1/experts".into(),
                Some(json!({"name": "X", "email": "x@example.com", "timezone": "UTC"})),
            ),
            (
                Method::POST,
                "/api/v1/clients".into(),
                Some(json!({"name": "X", "email": "x@example.com"})),
            ),
            (Method::POST, "/api/v1/tokens".into(), Some(json!({"role": "admin"}))),
            (Method::GET, format!("/api/v1/experts/{expert}"), None),
            (
                Method::PATCH,
                format!("/api/v1/experts/{expert}"),
                Some(json!({"name": "X"})),
            ),
            (Method::GET, format!("/api/v1/experts/{expert}/availability"), None),
            (
                Method::PUT,
                format!("/api/v1/experts/{expert}/availability"),
                Some(hours.clone()),
            ),
            (Method::GET, format!("/api/v1/experts/{expert}/booking-policy"), None),
            (
                Method::PUT,
                format!("/api/v1/experts/{expert}/booking-policy"),
                Some(json!({})),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{expert}/integration"),
                Some(json!({"integration_type": "manual"})),
            ),
            (Method::GET, slots_path.clone(), None),
            (
                Method::POST,
                "/api/v1/appointments".into(),
                Some(json!({
                    "expert_id": expert, "client_id": client,
                    "start_time": berlin(&day, "11:00"), "end_time": berlin(&day, "11:30")
                })),
            ),
            (Method::GET, format!("/api/v1/appointments/{appointment}"), None),
            (
                Method::PATCH,
                format!("/api/v1/appointments/{appointment}"),
                Some(json!({"start_time": berlin(&day, "11:00"), "end_time": berlin(&day, "11:30")})),
            ),
            (
                Method::POST,
                format!("/api/v1/appointments/{appointment}/cancel"),
                Some(json!({})),
            ),
            (Method::GET, format!("/api/v1/experts/{expert}/appointments"), None),
            (Method::GET, format!("/api/v1/clients/{client}/appointments"), None),
        ];
        for (method, path, body) in &everything {
            for token in [None, Some("not-a-token"), Some(""), Some(&ADMIN_TOKEN[1..])] {
                let a = api.call(method.clone(), path, token, body.as_ref()).await;
                assert_error(&a, 401, "unauthorized", &format!("{l}: {method} {path} with {token:?}"));
            }
            for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer  ", ADMIN_TOKEN, "Token e2e"] {
                let mut req = api
                    .client
                    .request(method.clone(), format!("{}{}", api.base, path))
                    .header("Authorization", header);
                if let Some(b) = body {
                    req = req.json(b);
                }
                let res = req.send().await.unwrap();
                let status = res.status();
                support::assert_api_answer_headers(path, status, res.headers());
                let body: Value = res.json().await.unwrap_or(Value::Null);
                assert_eq!(status, 401, "{l}: {method} {path} with Authorization: {header}: {body}");
                assert_eq!(body["error"]["code"], "unauthorized", "{l}: {body}");
            }
        }
        let g = api
            .get(&format!("/api/v1/appointments/{appointment}"), ADMIN_TOKEN)
            .await;
        assert_eq!(g.body["status"], "confirmed", "{l}: nothing happened without a token");

        // Only the admin creates experts, clients and tokens.
        for token in [&expert_token, &client_token] {
            for (path, body) in [
                (
                    "/api/v1/experts",
                    json!({"name": "X", "email": "x@example.com", "timezone": "UTC"}),
                ),
                ("/api/v1/clients", json!({"name": "X", "email": "x@example.com"})),
                ("/api/v1/tokens", json!({"role": "admin"})),
                ("/api/v1/tokens", json!({"role": "client", "subject_id": other_client})),
            ] {
                let a = api.post(path, token, body).await;
                assert_error(&a, 403, "forbidden", &format!("{l}: {path}"));
            }
        }

        // Anyone authenticated reads an expert's profile and slots.
        for token in [&expert_token, &other_expert_token, &client_token, &other_client_token] {
            let a = api.get(&format!("/api/v1/experts/{expert}"), token).await;
            assert_eq!(a.status, 200, "{l}: {:?}", a.body);
            let a = api.get(&slots_path, token).await;
            assert_eq!(a.status, 200, "{l}: {:?}", a.body);
            assert_eq!(a.body["slots"].as_array().unwrap().len(), 15, "{l}");
        }
        // Availability rules are the expert's and admin's only.
        for token in [&client_token, &other_client_token, &other_expert_token] {
            let a = api.get(&format!("/api/v1/experts/{expert}/availability"), token).await;
            assert_error(&a, 403, "forbidden", &format!("{l}: reading another's rules"));
        }
        // Experts manage only their own availability, policy and integration.
        let theirs = [
            (format!("/api/v1/experts/{expert}/availability"), hours.clone()),
            (
                format!("/api/v1/experts/{expert}/booking-policy"),
                json!({"slot_duration_minutes": 60}),
            ),
            (
                format!("/api/v1/experts/{expert}/integration"),
                json!({"integration_type": "manual"}),
            ),
        ];
        for (path, body) in &theirs {
            for token in [&other_expert_token, &client_token] {
                let a = api.put(path, token, body.clone()).await;
                assert_error(&a, 403, "forbidden", &format!("{l}: PUT {path}"));
            }
        }
        let a = api
            .get(&format!("/api/v1/experts/{expert}/availability"), &expert_token)
            .await;
        assert_eq!(
            a.body["rules"].as_array().unwrap().len(),
            5,
            "{l}: the refused PUTs changed nothing"
        );
        let a = api
            .get(&format!("/api/v1/experts/{expert}/booking-policy"), &expert_token)
            .await;
        assert_eq!(a.body["slot_duration_minutes"], 30, "{l}");

        // Experts do not book, not even with themselves.
        let eleven = berlin(&day, "11:00");
        for token in [&expert_token, &other_expert_token] {
            let a = book(api, token, &expert, &client, &eleven, &plus_minutes(&eleven, 30)).await;
            assert_error(&a, 403, "forbidden", &format!("{l}: an expert booking"));
        }
        // Clients book for themselves only.
        let a = book(
            api,
            &other_client_token,
            &expert,
            &client,
            &eleven,
            &plus_minutes(&eleven, 30),
        )
        .await;
        assert_error(&a, 403, "forbidden", &format!("{l}: booking for another client"));
        assert!(
            starts_on(api, &expert, &client_token, &day).await.contains(&eleven),
            "{l}: nothing was booked"
        );

        // An appointment is its client's, its expert's and the admin's.
        let path = format!("/api/v1/appointments/{appointment}");
        let move_to = json!({"start_time": berlin(&day, "13:00"), "end_time": berlin(&day, "13:30")});
        for token in [&other_client_token, &other_expert_token] {
            let a = api.get(&path, token).await;
            assert_error(&a, 403, "forbidden", &format!("{l}: GET another's appointment"));
            let a = api.patch(&path, token, move_to.clone()).await;
            assert_error(&a, 403, "forbidden", &format!("{l}: PATCH another's appointment"));
            let a = api.post(&format!("{path}/cancel"), token, json!({})).await;
            assert_error(&a, 403, "forbidden", &format!("{l}: cancel another's appointment"));
        }
        let a = api.get(&path, &client_token).await;
        assert_eq!(a.body["status"], "confirmed", "{l}");
        assert_eq!(
            a.body["start_time"],
            ten.as_str(),
            "{l}: the refused calls changed nothing"
        );
        for token in [&client_token, &expert_token] {
            let a = api.get(&path, token).await;
            assert_eq!(a.status, 200, "{l}: {:?}", a.body);
        }

        // The admin does everything.
        let a = api
            .get(&format!("/api/v1/experts/{expert}/availability"), ADMIN_TOKEN)
            .await;
        assert_eq!(a.status, 200, "{l}: {:?}", a.body);
        for (path, body) in &theirs {
            let a = api.put(path, ADMIN_TOKEN, body.clone()).await;
            assert_eq!(a.status, 200, "{l}: admin PUT {path}: {:?}", a.body);
        }
        let a = api
            .patch(
                &format!("/api/v1/experts/{expert}"),
                ADMIN_TOKEN,
                json!({"name": "Renamed"}),
            )
            .await;
        assert_eq!(a.status, 200, "{l}: {:?}", a.body);
        let a = api.get(&path, ADMIN_TOKEN).await;
        assert_eq!(a.status, 200, "{l}: {:?}", a.body);
        let eight = berlin(&day, "08:00");
        let a = book(
            api,
            ADMIN_TOKEN,
            &expert,
            &other_client,
            &eight,
            &plus_minutes(&eight, 60),
        )
        .await;
        assert_eq!(a.status, 201, "{l}: the admin books for a client: {:?}", a.body);
        let admin_booked = id_of(&a);
        let a = api
            .patch(
                &path,
                ADMIN_TOKEN,
                json!({"start_time": berlin(&day, "09:00"), "end_time": berlin(&day, "09:30")}),
            )
            .await;
        assert_eq!(a.status, 200, "{l}: {:?}", a.body);
        let a = api
            .post(
                &format!("/api/v1/appointments/{admin_booked}/cancel"),
                ADMIN_TOKEN,
                json!({}),
            )
            .await;
        assert_eq!(a.status, 200, "{l}: {:?}", a.body);
        for list in [
            format!("/api/v1/experts/{expert}/appointments"),
            format!("/api/v1/clients/{client}/appointments"),
            format!("/api/v1/experts/{other_expert}/appointments"),
        ] {
            let a = api.get(&list, ADMIN_TOKEN).await;
            assert_eq!(a.status, 200, "{l}: {list}: {:?}", a.body);
        }
        // The expert cancels an appointment with them.
        let a = api
            .post(&format!("{path}/cancel"), &expert_token, json!({"reason": "ill"}))
            .await;
        assert_eq!(a.status, 200, "{l}: {:?}", a.body);
        assert_eq!(a.body["status"], "cancelled", "{l}");
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Explanations
// ---------------------------------------------------------------------------------------------

/// The reason codes of an explain answer, in order.
fn reason_codes(a: &Answer) -> Vec<String> {
    a.body["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("no reasons in {:?}", a.body))
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_says_why_a_time_is_not_a_slot_and_agrees_with_the_slots() {
    for db in databases("explain_says_why_a_time_is_not_a_slot_and_agrees_with_the_slots") {
        let l = db.label;
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let put = api
            .put(
                &format!("/api/v1/experts/{expert}/availability"),
                &expert_token,
                hours_with_break(),
            )
            .await;
        assert_eq!(put.status, 200, "{l}: {:?}", put.body);
        let (client, client_token) = api.client_with_token().await;
        let day = next_monday();
        let ten = berlin(&day, "10:00");
        let booked = book(api, &client_token, &expert, &client, &ten, &plus_minutes(&ten, 30)).await;
        assert_eq!(booked.status, 201, "{l}: {:?}", booked.body);
        let explain = |start: &str| format!("/api/v1/experts/{expert}/availability/explain?start={start}");

        // Every ten minutes of the day: bookable exactly when the slots show it, and then only.
        let shown = starts_on(api, &expert, &expert_token, &day).await;
        for start in grid(&day, "08:00", "17:30", 10) {
            let a = api.get(&explain(&start), &expert_token).await;
            assert_eq!(a.status, 200, "{l}: {start}: {:?}", a.body);
            let bookable = a.body["bookable"].as_bool().unwrap();
            assert_eq!(bookable, shown.contains(&start), "{l}: {start}: {:?}", a.body);
            assert_eq!(bookable, reason_codes(&a).is_empty(), "{l}: {start}: {:?}", a.body);
        }

        // The reasons, each with a message and the offending time.
        let taken = api.get(&explain(&ten), &expert_token).await;
        assert_eq!(reason_codes(&taken), ["appointment"], "{l}: {:?}", taken.body);
        let reason = &taken.body["reasons"][0];
        assert!(!reason["message"].as_str().unwrap().is_empty(), "{l}: {reason}");
        assert_eq!(reason["from"], ten.as_str(), "{l}: {reason}");
        assert_eq!(reason["to"], plus_minutes(&ten, 30).as_str(), "{l}: {reason}");
        let lunch = api.get(&explain(&berlin(&day, "12:00")), &expert_token).await;
        assert_eq!(reason_codes(&lunch), ["break"], "{l}: {:?}", lunch.body);
        let early = api.get(&explain(&berlin(&day, "08:00")), &expert_token).await;
        assert_eq!(reason_codes(&early), ["outside_hours"], "{l}: {:?}", early.body);
        let past = api
            .get(&explain(&berlin(&plus_days(&day, -21), "10:00")), &expert_token)
            .await;
        assert!(
            reason_codes(&past).contains(&"in_past".to_owned()),
            "{l}: {:?}",
            past.body
        );
        // `end` gives the length: 11:00-12:30 runs into the break.
        let eleven = berlin(&day, "11:00");
        let long = api
            .get(
                &format!("{}&end={}", explain(&eleven), plus_minutes(&eleven, 90)),
                &expert_token,
            )
            .await;
        assert_eq!(reason_codes(&long), ["break"], "{l}: {:?}", long.body);
        let free = api.get(&explain(&eleven), ADMIN_TOKEN).await;
        assert_eq!(free.status, 200, "{l}: an admin may ask: {:?}", free.body);
        assert_eq!(free.body, json!({"bookable": true, "reasons": []}), "{l}");

        // Who may ask, and what is refused.
        assert_error(
            &api.get(&explain(&eleven), &client_token).await,
            403,
            "forbidden",
            &format!("{l}: a client"),
        );
        let nobody = uuid::Uuid::new_v4();
        assert_error(
            &api.get(
                &format!("/api/v1/experts/{nobody}/availability/explain?start={eleven}"),
                ADMIN_TOKEN,
            )
            .await,
            404,
            "not_found",
            &format!("{l}: an unknown expert"),
        );
        assert_error(
            &api.get(&format!("{}&end={eleven}", explain(&eleven)), &expert_token)
                .await,
            422,
            "end_before_start",
            &format!("{l}: an empty time"),
        );
        assert_error(
            &api.get(&explain("tomorrow"), &expert_token).await,
            400,
            "invalid_parameter",
            &format!("{l}: not a time"),
        );
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer_without_a_token() {
    for db in databases("health_and_readiness_answer_without_a_token") {
        let l = db.label;
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let h = api.call(Method::GET, "/healthz", None, None).await;
        assert_eq!(h.status, 200, "{l}");
        assert_eq!(h.body, json!({"status": "ok"}), "{l}");
        let r = api.call(Method::GET, "/readyz", None, None).await;
        assert_eq!(r.status, 200, "{l}: {:?}", r.body);
        assert_eq!(r.body["status"], "ok", "{l}");
        // A token does not hurt.
        let h = api.get("/healthz", ADMIN_TOKEN).await;
        assert_eq!(h.status, 200, "{l}");
        server.stop().await;
    }
}

//! Video meetings through the real server over HTTP, against the Google and Graph fakes: a Google
//! expert's bookings get the Meet link the fake made (pending first, finished by the outbox), a
//! retried insert after a lost answer leaves one event and one meeting, a reschedule keeps the
//! link; an Outlook expert's bookings get the Teams joinUrl, a personal account without Teams says
//! why there is none; "static" puts the expert's own room on the booking; "provider" is refused
//! for a calendar that makes no meetings, and so is the switch to one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use provider_fakes::{FakeGoogle, FakeGraph};
use serde_json::{json, Value};
use support::{databases, next_monday, Api, TestServer};

/// The appointment once `done` says so (100 tries, 100 ms apart).
async fn wait_for(api: &Api, id: &str, token: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        let a = api.get(&format!("/api/v1/appointments/{id}"), token).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        if done(&a.body) {
            return a.body;
        }
        last = a.body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("appointment {id}: never {what}: {last}");
}

fn assert_error(answer: &support::Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    assert_eq!(answer.body["error"]["code"], code, "{:?}", answer.body);
    assert!(
        answer.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{:?}",
        answer.body
    );
}

/// The live (not cancelled) events the fake holds for one appointment.
fn google_events_of(google: &FakeGoogle, appointment: &str) -> Vec<Value> {
    google
        .events("primary")
        .into_iter()
        .filter(|e| e["status"] != "cancelled" && e["extendedProperties"]["private"]["appointmentId"] == appointment)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_bookings_get_the_meet_link_once_and_keep_it() {
    for db in databases("google_bookings_get_the_meet_link_once_and_keep_it") {
        let l = db.label;
        let google = FakeGoogle::start().await;
        let env = support::google_env(&google);
        let server = TestServer::start_with_env(&db, &support::env_refs(&env)).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        support::connect_google(api, &expert, &expert_token).await;
        let (client, client_token) = api.client_with_token().await;

        let providers = api.get("/api/v1/providers", &client_token).await;
        let capability = |t: &str| {
            providers.body["providers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["integration_type"] == t)
                .map(|p| p["capabilities"]["video"].clone())
        };
        assert_eq!(capability("google_calendar"), Some(json!(true)), "{l}");
        assert_eq!(capability("manual"), Some(json!(false)), "{l}");
        assert_eq!(capability("calendly"), Some(json!(false)), "{l}");

        let policy_path = format!("/api/v1/experts/{expert}/booking-policy");
        let set = api.put(&policy_path, &expert_token, json!({"video": "provider"})).await;
        assert_eq!(set.status, 200, "{l}: {:?}", set.body);
        assert_eq!(set.body["video"], "provider", "{l}");
        assert!(set.body.get("video_url").is_none(), "{l}: {:?}", set.body);

        // Switching to hours typed in would drop the meetings: refused, nothing changes.
        let switch = api
            .put(
                &format!("/api/v1/experts/{expert}/integration"),
                &expert_token,
                json!({"integration_type": "manual"}),
            )
            .await;
        assert_error(&switch, 422, "video_unsupported");
        let kept = api.get(&format!("/api/v1/experts/{expert}"), &expert_token).await;
        assert_eq!(kept.body["integration_type"], "google_calendar", "{l}");
        assert_eq!(kept.body["booking_policy"]["video"], "provider", "{l}");

        // 1. The conference comes back pending; the outbox reads the event again for the link.
        google.set_conference_pending_reads(1);
        let day = next_monday();
        let first = api
            .book(
                &client_token,
                &expert,
                &client,
                &format!("{day}T09:00:00Z"),
                &format!("{day}T09:30:00Z"),
            )
            .await;
        assert_eq!(first["meeting_url"], Value::Null, "{l}: not known at booking");
        let first_id = first["id"].as_str().unwrap().to_owned();
        let first = wait_for(api, &first_id, &client_token, "got its meeting", |a| {
            a["meeting_url"].is_string() && a["sync_status"] == "synced"
        })
        .await;
        let events = google_events_of(&google, &first_id);
        assert_eq!(events.len(), 1, "{l}: {events:?}");
        let event = &events[0];
        assert_eq!(
            first["meeting_url"], event["hangoutLink"],
            "{l}: the link the fake made"
        );
        assert!(
            first["meeting_url"]
                .as_str()
                .unwrap()
                .starts_with("https://meet.google.com/"),
            "{l}: {first}"
        );
        assert_eq!(first["meeting_error"], Value::Null, "{l}");
        assert_eq!(
            event["conferenceData"]["createRequest"]["status"]["statusCode"],
            "success"
        );
        let event_path = format!(
            "/calendar/v3/calendars/primary/events/{}",
            event["id"].as_str().unwrap()
        );
        let requests = google.requests();
        let insert = requests
            .iter()
            .position(|r| r.method == "POST" && r.path.ends_with("/events"))
            .expect("the event was inserted");
        assert!(
            requests[insert].query.contains("conferenceDataVersion=1"),
            "{l}: {:?}",
            requests[insert]
        );
        assert!(
            requests[insert..]
                .iter()
                .any(|r| r.method == "GET" && r.path == event_path),
            "{l}: the pending conference was read again by the outbox"
        );

        // 2. The insert's answer is lost: the retry finds the event; one event, one meeting.
        google.set_conference_pending_reads(0);
        google.lose_next_answer("calendar.events.insert");
        let second = api
            .book(
                &client_token,
                &expert,
                &client,
                &format!("{day}T11:00:00Z"),
                &format!("{day}T11:30:00Z"),
            )
            .await;
        let second_id = second["id"].as_str().unwrap().to_owned();
        let second = wait_for(api, &second_id, &client_token, "got its meeting", |a| {
            a["meeting_url"].is_string() && a["sync_status"] == "synced"
        })
        .await;
        let inserts = google
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/events") && r.body.contains(&second_id))
            .count();
        assert!(
            inserts >= 2,
            "{l}: the insert was retried after its answer was lost ({inserts})"
        );
        let events = google_events_of(&google, &second_id);
        assert_eq!(events.len(), 1, "{l}: one event: {events:?}");
        assert_eq!(second["meeting_url"], events[0]["hangoutLink"], "{l}");
        let conferences = google.conferences();
        assert_eq!(conferences.len(), 2, "{l}: one meeting per booking: {conferences:?}");
        assert_ne!(first["meeting_url"], second["meeting_url"], "{l}");

        // 3. A reschedule keeps the meeting.
        let moved = api
            .patch(
                &format!("/api/v1/appointments/{first_id}"),
                &client_token,
                json!({"start_time": format!("{day}T13:00:00Z"), "end_time": format!("{day}T13:30:00Z")}),
            )
            .await;
        assert_eq!(moved.status, 200, "{l}: {:?}", moved.body);
        assert_eq!(moved.body["meeting_url"], first["meeting_url"], "{l}");
        let moved = wait_for(api, &first_id, &client_token, "synced after the move", |a| {
            a["sync_status"] == "synced"
        })
        .await;
        assert_eq!(moved["meeting_url"], first["meeting_url"], "{l}");
        let events = google_events_of(&google, &first_id);
        assert_eq!(events.len(), 1, "{l}");
        assert!(
            events[0]["start"]["dateTime"]
                .as_str()
                .unwrap()
                .contains("14:00:00+01:00"),
            "{l}: {}",
            events[0]
        );
        assert_eq!(
            events[0]["hangoutLink"], first["meeting_url"],
            "{l}: the event kept its meeting"
        );
        assert_eq!(google.conferences().len(), 2, "{l}: no new meeting for a move");

        // The expert sees the link too.
        let seen = api
            .get(&format!("/api/v1/appointments/{first_id}"), &expert_token)
            .await;
        assert_eq!(seen.body["meeting_url"], first["meeting_url"], "{l}");

        // Disconnecting Google falls back to hours typed in; the policy still asks for meetings,
        // so a new booking says why it has none (and the policy cannot be saved so again).
        let gone = api
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v1/experts/{expert}/integrations/google_calendar"),
                Some(&expert_token),
                None,
            )
            .await;
        assert_eq!(gone.status, 204, "{l}: {:?}", gone.body);
        let now_manual = api.get(&format!("/api/v1/experts/{expert}"), &expert_token).await;
        assert_eq!(now_manual.body["integration_type"], "manual", "{l}");
        assert_eq!(now_manual.body["booking_policy"]["video"], "provider", "{l}");
        let third = api
            .book(
                &client_token,
                &expert,
                &client,
                &format!("{day}T15:00:00Z"),
                &format!("{day}T15:30:00Z"),
            )
            .await;
        assert_eq!(third["meeting_url"], Value::Null, "{l}: {third}");
        assert!(
            third["meeting_error"]
                .as_str()
                .is_some_and(|e| e.contains("cannot make video meetings")),
            "{l}: {third}"
        );
        let again = api.put(&policy_path, &expert_token, json!({"video": "provider"})).await;
        assert_error(&again, 422, "video_unsupported");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_bookings_get_the_teams_join_url() {
    for db in databases("outlook_bookings_get_the_teams_join_url") {
        let l = db.label;
        let graph = FakeGraph::start().await;
        let env = support::graph_env(&graph);
        let server = TestServer::start_with_env(&db, &support::env_refs(&env)).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        support::connect_oauth(api, &expert, &expert_token, "office365_calendar").await;
        let set = api
            .put(
                &format!("/api/v1/experts/{expert}/booking-policy"),
                &expert_token,
                json!({"video": "provider"}),
            )
            .await;
        assert_eq!(set.status, 200, "{l}: {:?}", set.body);
        let providers = api.get("/api/v1/providers", &expert_token).await;
        let office365 = providers.body["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["integration_type"] == "office365_calendar")
            .cloned()
            .unwrap();
        assert_eq!(office365["capabilities"]["video"], true, "{l}: {office365}");
        let (client, client_token) = api.client_with_token().await;
        let day = next_monday();
        let booked = api
            .book(
                &client_token,
                &expert,
                &client,
                &format!("{day}T09:00:00Z"),
                &format!("{day}T09:30:00Z"),
            )
            .await;
        let id = booked["id"].as_str().unwrap().to_owned();
        let synced = wait_for(api, &id, &client_token, "synced", |a| a["sync_status"] == "synced").await;
        let meetings = graph.online_meetings();
        assert_eq!(meetings.len(), 1, "{l}: {meetings:?}");
        assert_eq!(synced["meeting_url"], meetings[0].as_str(), "{l}");
        assert!(
            meetings[0].starts_with("https://teams.microsoft.com/l/meetup-join/"),
            "{l}"
        );
        assert_eq!(synced["meeting_error"], Value::Null, "{l}");
        let events = graph.events();
        let event = events
            .iter()
            .find(|e| e["id"] == synced["external_calendar_event_id"])
            .expect("the event is in Outlook");
        assert_eq!(event["onlineMeeting"]["joinUrl"], synced["meeting_url"], "{l}");
        let create = graph
            .requests()
            .into_iter()
            .find(|r| r.method == "POST" && r.path.ends_with("/me/events"))
            .expect("the event was created");
        let body: Value = serde_json::from_str(&create.body).unwrap();
        assert_eq!(body["isOnlineMeeting"], true, "{l}");
        assert_eq!(body["onlineMeetingProvider"], "teamsForBusiness", "{l}");

        // A move keeps the meeting.
        let moved = api
            .patch(
                &format!("/api/v1/appointments/{id}"),
                &client_token,
                json!({"start_time": format!("{day}T13:00:00Z"), "end_time": format!("{day}T13:30:00Z")}),
            )
            .await;
        assert_eq!(moved.status, 200, "{l}: {:?}", moved.body);
        let moved = wait_for(api, &id, &client_token, "synced after the move", |a| {
            a["sync_status"] == "synced"
        })
        .await;
        assert_eq!(moved["meeting_url"], synced["meeting_url"], "{l}");
        assert_eq!(graph.online_meetings().len(), 1, "{l}");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personal_microsoft_account_without_teams_says_why_there_is_no_link() {
    for db in databases("a_personal_microsoft_account_without_teams_says_why_there_is_no_link") {
        let l = db.label;
        let graph = FakeGraph::start().await;
        graph.set_personal_account(true);
        let env = support::graph_env(&graph);
        let server = TestServer::start_with_env(&db, &support::env_refs(&env)).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        support::connect_oauth(api, &expert, &expert_token, "office365_calendar").await;
        let set = api
            .put(
                &format!("/api/v1/experts/{expert}/booking-policy"),
                &expert_token,
                json!({"video": "provider"}),
            )
            .await;
        assert_eq!(set.status, 200, "{l}: {:?}", set.body);
        let (client, client_token) = api.client_with_token().await;
        let day = next_monday();
        let booked = api
            .book(
                &client_token,
                &expert,
                &client,
                &format!("{day}T10:00:00Z"),
                &format!("{day}T10:30:00Z"),
            )
            .await;
        let id = booked["id"].as_str().unwrap().to_owned();
        let synced = wait_for(api, &id, &client_token, "synced", |a| a["sync_status"] == "synced").await;
        assert_eq!(synced["meeting_url"], Value::Null, "{l}: {synced}");
        let reason = synced["meeting_error"].as_str().unwrap_or_default();
        assert!(
            reason.contains("Teams") && reason.contains("skypeForConsumer"),
            "{l}: the appointment says why: {synced}"
        );
        assert!(graph.online_meetings().is_empty(), "{l}");
        // The booking itself is fine: the event is in Outlook.
        assert!(
            graph
                .events()
                .iter()
                .any(|e| e["id"] == synced["external_calendar_event_id"]),
            "{l}"
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_rooms_are_set_at_booking_and_provider_needs_a_calendar_that_makes_meetings() {
    for db in databases("static_rooms_are_set_at_booking_and_provider_needs_a_calendar_that_makes_meetings") {
        let l = db.label;
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let path = format!("/api/v1/experts/{expert}/booking-policy");
        let before = api.get(&path, &expert_token).await;

        // Hours typed in make no meetings.
        let refused = api
            .put(
                &path,
                &expert_token,
                json!({"slot_duration_minutes": 45, "video": "provider"}),
            )
            .await;
        assert_error(&refused, 422, "video_unsupported");
        assert_eq!(
            api.get(&path, &expert_token).await.body,
            before.body,
            "{l}: nothing changed"
        );

        for bad in [
            json!({"video": "static"}),
            json!({"video": "static", "video_url": "http://zoom.us/j/1"}),
            json!({"video": "static", "video_url": "zoom.us/j/1"}),
            json!({"video": "static", "video_url": ""}),
            json!({"video": "zoom"}),
        ] {
            let answer = api.put(&path, &expert_token, bad.clone()).await;
            assert_error(&answer, 422, "invalid_video");
        }
        let wrong_type = api.put(&path, &expert_token, json!({"video": 3})).await;
        assert_eq!(wrong_type.status, 400, "{l}: {:?}", wrong_type.body);
        assert_eq!(
            api.get(&path, &expert_token).await.body,
            before.body,
            "{l}: nothing changed"
        );

        // A room address beside another choice is dropped.
        let dropped = api
            .put(
                &path,
                &expert_token,
                json!({"video": "none", "video_url": "https://zoom.us/j/1"}),
            )
            .await;
        assert_eq!(dropped.status, 200, "{l}: {:?}", dropped.body);
        assert!(dropped.body.get("video_url").is_none(), "{l}: {:?}", dropped.body);

        let room = "https://zoom.us/j/5551234567?pwd=abc";
        let set = api
            .put(&path, &expert_token, json!({"video": "static", "video_url": room}))
            .await;
        assert_eq!(set.status, 200, "{l}: {:?}", set.body);
        assert_eq!(
            (set.body["video"].as_str(), set.body["video_url"].as_str()),
            (Some("static"), Some(room))
        );
        let expert_body = api.get(&format!("/api/v1/experts/{expert}"), &expert_token).await;
        assert_eq!(expert_body.body["booking_policy"]["video_url"], room, "{l}");

        let (client, client_token) = api.client_with_token().await;
        let day = next_monday();
        let booked = api
            .book(
                &client_token,
                &expert,
                &client,
                &format!("{day}T09:00:00Z"),
                &format!("{day}T09:30:00Z"),
            )
            .await;
        assert_eq!(booked["meeting_url"], room, "{l}: the room is set at booking");
        assert_eq!(booked["meeting_error"], Value::Null, "{l}");
        let id = booked["id"].as_str().unwrap();
        let listed = api
            .get(
                &format!("/api/v1/clients/{client}/appointments?from={day}T00:00:00Z"),
                &client_token,
            )
            .await;
        assert_eq!(listed.body["appointments"][0]["meeting_url"], room, "{l}");
        let moved = api
            .patch(
                &format!("/api/v1/appointments/{id}"),
                &client_token,
                json!({"start_time": format!("{day}T13:00:00Z"), "end_time": format!("{day}T13:30:00Z")}),
            )
            .await;
        assert_eq!(moved.status, 200, "{l}: {:?}", moved.body);
        assert_eq!(moved.body["meeting_url"], room, "{l}: a move keeps the room");
        // The appointment's .ics carries the room as LOCATION and URL (iCalendar escapes the
        // query's characters in LOCATION, a TEXT value; URL is a URI and stays as it is).
        let ics = api
            .client
            .get(format!("{}/api/v1/appointments/{id}/ics", api.base))
            .bearer_auth(&client_token)
            .send()
            .await
            .unwrap();
        assert_eq!(ics.status(), 200, "{l}");
        let ics = ics.text().await.unwrap().replace("\r\n ", "");
        assert!(ics.contains(&format!("\r\nURL:{room}\r\n")), "{l}: {ics}");
        assert!(
            ics.contains("\r\nLOCATION:https://zoom.us/j/5551234567?pwd=abc\r\n"),
            "{l}: {ics}"
        );

        // Without video, no link.
        api.put(&path, &expert_token, json!({})).await;
        let plain = api
            .book(
                &client_token,
                &expert,
                &client,
                &format!("{day}T10:00:00Z"),
                &format!("{day}T10:30:00Z"),
            )
            .await;
        assert_eq!(plain["meeting_url"], Value::Null, "{l}");
        server.stop().await;
    }
}

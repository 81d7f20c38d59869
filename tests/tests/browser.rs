//! The pages in a real browser: headless Chromium driven over WebDriver (chromedriver) against the
//! real server. An expert signs in, sets weekly hours and a break and sees the live preview change;
//! a client books a slot in another browser session, a second client who still sees it is told
//! plainly that it was just booked, sees it vanish from their page (and come back when it is
//! cancelled); a write without the CSRF header is refused. The sign-in page's `?next=` goes only to
//! paths of its own origin (every open-redirect form the security review found lands on the default
//! page). The API reference (`/docs`) draws every operation of the OpenAPI document under the CSP.
//!
//! Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them and sets
//! REQUIRE_BROWSER=1, so CI never skips this). Elsewhere, without chromedriver, the test says so
//! and passes. `UPDATE_SCREENSHOTS=1` also writes docs/screenshots/*.png (desktop and phone).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
mod switchable;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use availability_core::domain::jiff::{civil::Date, tz::TimeZone, SignedDuration, Timestamp, ToSpan};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use support::{databases, Api, TestServer, ADMIN_TOKEN};

const EXPERT_ZONE: &str = "Europe/Berlin";
/// The browsers run in another zone than the expert, so every page must convert.
const BROWSER_ZONE: &str = "America/New_York";
const WAIT: Duration = Duration::from_secs(15);

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("chromedriver"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .into_iter()
        .chain(on_path)
        .find(|p| p.is_file())
}

async fn start_driver() -> Option<Driver> {
    let Some(path) = chromedriver() else {
        if std::env::var("REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("REQUIRE_BROWSER=1 but chromedriver was not found (apt-get install chromium chromium-driver)");
        }
        eprintln!(
            "SKIPPED browser tests: chromedriver not found (install Debian's chromium and chromium-driver, \
             or set CHROMEDRIVER)"
        );
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .env("TZ", BROWSER_ZONE)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let started = Instant::now();
    while started.elapsed() < WAIT {
        if let Ok(r) = http.get(format!("{}/status", driver.url)).send().await {
            if r.status().is_success() {
                return Some(driver);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer within {WAIT:?}");
}

/// A new browser with a profile of its own (its own cookies).
async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-quic", "--no-first-run", "--window-size=1280,900", "--lang=en-US",
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

/// Runs a JavaScript expression in the page until it is truthy.
async fn wait_for(c: &Client, what: &str, expression: &str) -> Value {
    let started = Instant::now();
    loop {
        let value = c
            .execute(&format!("return ({expression});"), vec![])
            .await
            .unwrap_or(Value::Null);
        let truthy = !matches!(&value, Value::Null | Value::Bool(false)) && value != json!(0) && value != json!("");
        if truthy {
            return value;
        }
        if started.elapsed() > WAIT {
            let url = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            let notice = c
                .execute(
                    "const n = document.getElementById('notice'); return n ? n.textContent : null;",
                    vec![],
                )
                .await
                .unwrap_or(Value::Null);
            panic!("waited {WAIT:?} for {what} ({expression}) on {url}; #notice: {notice}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sets an input's value the way typing would, with the events a page listens to.
async fn set_value(c: &Client, selector: &str, value: &str) {
    let done = c
        .execute(
            "const el = document.querySelector(arguments[0]);
             if (!el) return false;
             el.focus();
             el.value = arguments[1];
             el.dispatchEvent(new Event('input', {bubbles: true}));
             el.dispatchEvent(new Event('change', {bubbles: true}));
             return true;",
            vec![json!(selector), json!(value)],
        )
        .await
        .unwrap();
    assert_eq!(done, json!(true), "no element {selector}");
}

/// Clicks the element; found again when the page replaced it between finding and clicking (a
/// list that re-renders), a few times at most.
async fn click(c: &Client, selector: &str) {
    for attempt in 1..=3 {
        let element = c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no {selector}: {e}"));
        match element.click().await {
            Ok(()) => return,
            Err(e) if attempt < 3 && e.to_string().contains("stale element") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("clicking {selector}: {e}"),
        }
    }
}

async fn path_of(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_owned()
}

/// Signs in through the sign-in form and waits until the browser has left it.
async fn sign_in(c: &Client, base: &str, token: &str, next: &str) {
    c.goto(&format!("{base}/?next={next}")).await.unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(token)
        .await
        .unwrap();
    click(c, "#sign-in button[type=submit]").await;
    wait_for(c, "the page after sign-in", &format!("location.pathname === {next:?}")).await;
}

/// The instant of a local time of the expert, as the API writes it.
fn expert_instant(date: Date, hour: i8, minute: i8) -> String {
    let zone = TimeZone::get(EXPERT_ZONE).unwrap();
    zone.to_ambiguous_timestamp(date.at(hour, minute, 0, 0))
        .compatible()
        .unwrap()
        .to_string()
}

async fn preview_starts(c: &Client) -> Vec<String> {
    let v = c
        .execute(
            "return [...document.querySelectorAll('#preview [data-slot-start]')].map(e => e.dataset.slotStart);",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

async fn shown_slots(c: &Client) -> Vec<String> {
    let v = c
        .execute(
            "return [...document.querySelectorAll('#slots button[data-slot-start]')].map(e => e.dataset.slotStart);",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

/// Opens the booking page and shows one day's slots.
async fn open_day(c: &Client, base: &str, expert: &str, day: Date) -> Vec<String> {
    c.goto(&format!("{base}/book/{expert}")).await.unwrap();
    wait_for(c, "the booking page", "document.body.dataset.ready === 'true'").await;
    click(c, &format!("#week [data-date=\"{day}\"]")).await;
    wait_for(
        c,
        "the day's slots",
        "document.querySelector('#slots').getAttribute('aria-busy') === 'false'",
    )
    .await;
    shown_slots(c).await
}

/// What every page must hold to, checked where the test stands: every form control has a name a
/// screen reader can say (a label, aria-label or aria-labelledby), and at a phone's width (390 px)
/// nothing is wider than the screen.
async fn check_page(c: &Client, page: &str) {
    let unlabelled = c
        .execute(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
               .filter(e => e.offsetParent !== null)
               .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                            && !e.getAttribute('aria-labelledby')
                            && !(e.tagName === 'BUTTON' && e.textContent.trim()))
               .map(e => e.outerHTML.slice(0, 120));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabelled, json!([]), "{page}: controls without an accessible name");
    c.set_window_size(390, 844).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .unwrap();
    c.set_window_size(1280, 900).await.unwrap();
    assert_eq!(overflow, json!(0), "{page}: wider than a phone's screen");
}

fn screenshots_wanted() -> bool {
    std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1")
}

/// docs/screenshots/{name}-desktop.png and -phone.png of the current page.
async fn screenshots(c: &Client, name: &str) {
    if !screenshots_wanted() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    for (label, width, height) in [("desktop", 1280, 900), ("phone", 390, 844)] {
        c.set_window_size(width, height).await.unwrap();
        c.execute("window.scrollTo(0, 0);", vec![]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = c.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}-{label}.png")), png).unwrap();
    }
    c.set_window_size(1280, 900).await.unwrap();
}

async fn new_expert(api: &Api) -> (String, String) {
    let e = api
        .post(
            "/api/v1/experts",
            ADMIN_TOKEN,
            json!({"name": "Dr. Ada Byron", "email": "ada@example.com", "timezone": EXPERT_ZONE}),
        )
        .await;
    assert_eq!(e.status, 201, "{:?}", e.body);
    let id = e.body["id"].as_str().unwrap().to_owned();
    let token = api.token("expert", &id).await;
    (id, token)
}

/// An expert (see [`new_expert`]) with weekly hours `from`-`to` on the given days (0 = Sunday).
async fn expert_with_hours(api: &Api, days: std::ops::RangeInclusive<i64>, from: &str, to: &str) -> (String, String) {
    let (expert, token) = new_expert(api).await;
    let rules: Vec<Value> = days
        .map(|d| json!({"day_of_week": d, "start_time": from, "end_time": to, "is_available": true}))
        .collect();
    let put = api
        .put(
            &format!("/api/v1/experts/{expert}/availability"),
            &token,
            json!({"rules": rules, "overrides": []}),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    (expert, token)
}

/// A client in the browser's zone: its id and a token of theirs.
async fn client_with_id(api: &Api, name: &str, email: &str) -> (String, String) {
    let c = api
        .post(
            "/api/v1/clients",
            ADMIN_TOKEN,
            json!({"name": name, "email": email, "timezone": BROWSER_ZONE}),
        )
        .await;
    assert_eq!(c.status, 201, "{:?}", c.body);
    let id = c.body["id"].as_str().unwrap().to_owned();
    let token = api.token("client", &id).await;
    (id, token)
}

async fn new_client(api: &Api, name: &str, email: &str) -> String {
    let c = api
        .post(
            "/api/v1/clients",
            ADMIN_TOKEN,
            json!({"name": name, "email": email, "timezone": BROWSER_ZONE}),
        )
        .await;
    assert_eq!(c.status, 201, "{:?}", c.body);
    api.token("client", c.body["id"].as_str().unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experts_set_hours_and_clients_book_in_the_browser() {
    let Some(driver) = start_driver().await else {
        return;
    };
    // The pages only speak the API; the API's storage is covered on both databases elsewhere.
    let db = databases("experts_set_hours_and_clients_book_in_the_browser").remove(0);
    let server = TestServer::start(&db).await;
    let api = &server.api;
    let base = api.base.clone();
    let (expert, expert_token) = new_expert(api).await;
    let ann = new_client(api, "Ann Lee", "ann@example.com").await;
    let bob = new_client(api, "Bob Ray", "bob@example.com").await;
    // Two days ahead: inside the preview's week and clear of "now" in every zone.
    let day = TimeZone::get(EXPERT_ZONE)
        .unwrap()
        .to_datetime(Timestamp::now() + SignedDuration::from_hours(48))
        .date();
    let weekday = day.weekday().to_sunday_zero_offset();
    let nine = expert_instant(day, 9, 0);
    let noon = expert_instant(day, 12, 0);
    let half_past_twelve = expert_instant(day, 12, 30);

    // The expert: sign in, land on the manage page.
    let expert_browser = browser(&driver).await;
    expert_browser.goto(&base).await.unwrap();
    wait_for(
        &expert_browser,
        "the sign-in form",
        "document.querySelector('#token') !== null",
    )
    .await;
    check_page(&expert_browser, "sign-in").await;
    screenshots(&expert_browser, "sign-in").await;
    sign_in(
        &expert_browser,
        &base,
        &expert_token,
        &format!("/experts/{expert}/manage"),
    )
    .await;
    let day_box = format!("#day-{weekday}");
    wait_for(
        &expert_browser,
        "the weekly editor",
        &format!("document.querySelector('{day_box} .add-window') !== null"),
    )
    .await;
    assert!(
        preview_starts(&expert_browser).await.is_empty(),
        "no hours yet, no slots"
    );

    // Hours 09:00-17:00 on that weekday: the preview shows them before anything is saved.
    click(&expert_browser, &format!("{day_box} .add-window")).await;
    set_value(&expert_browser, &format!("{day_box} .window input.start"), "09:00").await;
    set_value(&expert_browser, &format!("{day_box} .window input.end"), "17:00").await;
    wait_for(
        &expert_browser,
        "the preview to show the new hours",
        &format!("document.querySelector('#preview [data-slot-start=\"{nine}\"]') !== null"),
    )
    .await;
    let with_hours = preview_starts(&expert_browser).await;
    assert!(with_hours.contains(&noon), "{with_hours:?}");

    // A lunch break 12:00-13:00: those slots leave the preview, the morning stays.
    click(&expert_browser, &format!("{day_box} .add-break")).await;
    set_value(&expert_browser, &format!("{day_box} .break input.start"), "12:00").await;
    set_value(&expert_browser, &format!("{day_box} .break input.end"), "13:00").await;
    wait_for(
        &expert_browser,
        "the break to leave the preview",
        &format!("document.querySelector('#preview [data-slot-start=\"{noon}\"]') === null"),
    )
    .await;
    wait_for(
        &expert_browser,
        "the preview to settle",
        "document.querySelector('#preview').getAttribute('aria-busy') === 'false'",
    )
    .await;
    let with_break = preview_starts(&expert_browser).await;
    assert!(with_break.contains(&nine), "{with_break:?}");
    assert!(!with_break.contains(&half_past_twelve), "{with_break:?}");
    assert_eq!(
        with_break.len() + 2,
        with_hours.len(),
        "exactly the two lunch slots went"
    );
    let stored = api
        .get(&format!("/api/v1/experts/{expert}/availability"), &expert_token)
        .await;
    assert_eq!(stored.body["rules"], json!([]), "nothing is stored before Save");

    click(&expert_browser, "#save-availability").await;
    wait_for(
        &expert_browser,
        "the save",
        "(document.querySelector('#notice').textContent || '').includes('Saved')",
    )
    .await;
    let stored = api
        .get(&format!("/api/v1/experts/{expert}/availability"), &expert_token)
        .await;
    let mut rules: Vec<Value> = stored.body["rules"].as_array().unwrap().clone();
    rules.sort_by_key(|r| r["is_available"].as_bool());
    assert_eq!(
        rules,
        vec![
            json!({"day_of_week": weekday, "start_time": "12:00", "end_time": "13:00", "is_available": false}),
            json!({"day_of_week": weekday, "start_time": "09:00", "end_time": "17:00", "is_available": true}),
        ]
    );
    check_page(&expert_browser, "manage").await;
    screenshots(&expert_browser, "manage").await;

    // Bob looks first: 09:00 is offered.
    let bob_browser = browser(&driver).await;
    sign_in(&bob_browser, &base, &bob, &format!("/book/{expert}")).await;
    let bob_sees = open_day(&bob_browser, &base, &expert, day).await;
    assert!(bob_sees.contains(&nine), "{bob_sees:?}");
    assert!(!bob_sees.contains(&noon), "the break is not offered: {bob_sees:?}");

    // Ann books 09:00 in her own session.
    let ann_browser = browser(&driver).await;
    sign_in(&ann_browser, &base, &ann, &format!("/book/{expert}")).await;
    let ann_sees = open_day(&ann_browser, &base, &expert, day).await;
    assert_eq!(ann_sees, bob_sees, "both clients see the same slots");
    check_page(&ann_browser, "book").await;
    screenshots(&ann_browser, "book").await;
    click(&ann_browser, &format!("#slots button[data-slot-start=\"{nine}\"]")).await;
    // While Ann reads the confirmation, the time is held for her: nobody else is offered it.
    wait_for(
        &ann_browser,
        "the hold on the picked time",
        "(document.querySelector('#confirm-hold').textContent || '').includes('held for you')",
    )
    .await;
    let while_held = api
        .slots(&expert, &bob, &format!("{day}T00:00:00Z"), &format!("{day}T23:59:59Z"))
        .await;
    assert!(
        !while_held.iter().any(|(start, _)| *start == nine),
        "held for Ann: {while_held:?}"
    );
    click(&ann_browser, "#confirm-book").await;
    wait_for(
        &ann_browser,
        "the appointment page",
        "location.pathname.startsWith('/appointments/')",
    )
    .await;
    wait_for(
        &ann_browser,
        "the confirmed appointment",
        "(document.querySelector('#status') || {}).textContent?.includes('Confirmed')",
    )
    .await;
    let appointment = path_of(&ann_browser)
        .await
        .trim_start_matches("/appointments/")
        .to_owned();
    let stored = api
        .get(&format!("/api/v1/appointments/{appointment}"), ADMIN_TOKEN)
        .await;
    assert_eq!(
        (stored.body["start_time"].as_str(), stored.body["status"].as_str()),
        (Some(nine.as_str()), Some("confirmed"))
    );
    check_page(&ann_browser, "appointment").await;
    screenshots(&ann_browser, "appointment").await;

    // Bob's page still shows 09:00 from before. He picks it: the server refuses (409), and the
    // page says so plainly and offers the times that are left.
    click(&bob_browser, &format!("#slots button[data-slot-start=\"{nine}\"]")).await;
    click(&bob_browser, "#confirm-book").await;
    wait_for(
        &bob_browser,
        "the slot-taken message",
        "(document.querySelector('#notice').textContent || '').includes('just booked')",
    )
    .await;
    wait_for(
        &bob_browser,
        "the refreshed slots without 09:00",
        &format!(
            "document.querySelector('#slots').getAttribute('aria-busy') === 'false' \
             && document.querySelector('#slots button[data-slot-start=\"{nine}\"]') === null"
        ),
    )
    .await;
    let bobs = api
        .get(
            &format!("/api/v1/experts/{expert}/appointments?from={}T00:00:00Z", day),
            ADMIN_TOKEN,
        )
        .await;
    assert_eq!(
        bobs.body["appointments"].as_array().unwrap().len(),
        1,
        "only Ann's booking"
    );

    // After a reload too, Bob's page no longer offers it.
    let bob_sees = open_day(&bob_browser, &base, &expert, day).await;
    assert!(!bob_sees.contains(&nine), "a booked slot vanishes: {bob_sees:?}");
    assert!(bob_sees.contains(&expert_instant(day, 9, 30)), "{bob_sees:?}");

    // A write without the CSRF header is refused, even with the session cookie.
    let refused = ann_browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0], {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}',
                                  credentials: 'same-origin'})
               .then(async r => done([r.status, (await r.json()).error.code]));",
            vec![json!(format!("/api/v1/appointments/{appointment}/cancel"))],
        )
        .await
        .unwrap();
    assert_eq!(refused, json!([403, "csrf_token_invalid"]));
    let still = api
        .get(&format!("/api/v1/appointments/{appointment}"), ADMIN_TOKEN)
        .await;
    assert_eq!(still.body["status"], "confirmed", "the refused write changed nothing");

    // "Add to calendar" is a plain link to the appointment's .ics, which the session cookie alone
    // fetches (a GET needs no CSRF header): a calendar file of this appointment.
    let ics = ann_browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const link = document.querySelector('#add-to-calendar');
             fetch(link.href, {credentials: 'same-origin'})
               .then(async r => done([link.hidden, link.hasAttribute('download'), new URL(link.href).pathname,
                                      r.status, r.headers.get('content-type'), await r.text()]));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(ics[0], json!(false), "the link is shown");
    assert_eq!(ics[1], json!(true), "it downloads");
    assert_eq!(ics[2], json!(format!("/api/v1/appointments/{appointment}/ics")));
    assert_eq!(ics[3], json!(200));
    assert!(ics[4].as_str().unwrap().starts_with("text/calendar"), "{ics:?}");
    let ics_text = ics[5].as_str().unwrap();
    assert!(
        ics_text.starts_with("BEGIN:VCALENDAR\r\n") && ics_text.contains(&appointment),
        "{ics_text}"
    );

    // Ann cancels on the appointment page; Bob sees 09:00 again.
    click(&ann_browser, "#cancel").await;
    click(&ann_browser, "#confirm-cancel").await;
    wait_for(
        &ann_browser,
        "the cancellation",
        "(document.querySelector('#status') || {}).textContent?.includes('Cancelled')",
    )
    .await;
    let cancelled = api
        .get(&format!("/api/v1/appointments/{appointment}"), ADMIN_TOKEN)
        .await;
    assert_eq!(cancelled.body["status"], "cancelled");
    let bob_sees = open_day(&bob_browser, &base, &expert, day).await;
    assert!(
        bob_sees.contains(&nine),
        "a cancelled slot is offered again: {bob_sees:?}"
    );

    for c in [expert_browser, ann_browser, bob_browser] {
        c.close().await.unwrap();
    }
    server.stop().await;
}

/// The panels against the provider fakes: Google connects through the real OAuth redirects (the
/// fake consents at once) and shows the account and its calendars; choosing a second calendar
/// that blocks time is saved; Office 365 connects the same way, shows the mailbox and puts Outlook's
/// working hours into the editor (unsaved); Calendly connects with a personal access token and an event type
/// picked from the list Calendly gives; disconnecting Google asks first, then says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_panels_connect_to_the_providers() {
    use provider_fakes::{google::ACCOUNT_EMAIL, FakeCalendly, FakeGoogle, FakeGraph};
    let Some(driver) = start_driver().await else {
        return;
    };
    let db = databases("the_calendar_panels_connect_to_the_providers").remove(0);
    let google = FakeGoogle::start().await;
    let calendly = FakeCalendly::start().await;
    let graph = FakeGraph::start().await;
    let mut env = support::google_env(&google);
    env.extend([
        ("CALENDLY_API_BASE", calendly.api_base()),
        ("MS_CLIENT_ID", graph.client_id()),
        ("MS_CLIENT_SECRET", graph.client_secret()),
        ("MS_AUTH_URL", graph.auth_url()),
        ("MS_TOKEN_URL", graph.token_url()),
        ("MS_GRAPH_BASE", graph.graph_base()),
        // Push notifications to this loopback server, so the pages can show live updates.
        ("PUSH_ALLOW_HTTP", "1".into()),
    ]);
    let server = TestServer::start_with_env(&db, &support::env_refs(&env)).await;
    let api = &server.api;
    let base = api.base.clone();
    let (expert, token) = new_expert(api).await;
    google.add_calendar("family@example.com", "Family", false);

    let c = browser(&driver).await;
    let calendars = format!("/experts/{expert}/calendars");
    let manage = format!("/experts/{expert}/manage");
    sign_in(&c, &base, &token, &calendars).await;
    let status = |panel: &str| format!("(document.querySelector('#panel-{panel} .status') || {{}}).textContent");
    wait_for(
        &c,
        "the Google panel",
        &format!("{} === 'Not connected'", status("google_calendar")),
    )
    .await;

    // Google: the OAuth round trip in the browser, back on the calendars page.
    click(&c, "#panel-google_calendar .connect").await;
    wait_for(
        &c,
        "the return from Google",
        &format!("{} === 'Connected'", status("google_calendar")),
    )
    .await;
    assert_eq!(path_of(&c).await, calendars);
    let panel_text = wait_for(
        &c,
        "the account and calendars",
        "document.querySelector('#panel-google_calendar input[name=busy][value=\"family@example.com\"]') \
         && document.querySelector('#panel-google_calendar').textContent",
    )
    .await;
    assert!(panel_text.as_str().unwrap().contains(ACCOUNT_EMAIL), "{panel_text}");
    c.execute(
        "document.querySelector('#panel-google_calendar input[name=busy][value=\"family@example.com\"]').click();",
        vec![],
    )
    .await
    .unwrap();
    click(&c, "#panel-google_calendar .save-calendars").await;
    let blocks = || async {
        let list = api
            .get(
                &format!("/api/v1/experts/{expert}/integrations/google_calendar/calendars"),
                &token,
            )
            .await;
        list.body["calendars"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "family@example.com")
            .map(|c| c["blocks_time"] == true)
            .unwrap()
    };
    let started = Instant::now();
    while !blocks().await {
        assert!(
            started.elapsed() < WAIT,
            "the family calendar was never saved as blocking time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Google in use: the server opens a push channel, and both pages say live updates are on
    // (the message of the save, kept in view at the top, dismissed first).
    click(&c, "#notice .notice-close").await;
    click(&c, "#integration-google_calendar").await;
    click(&c, "#use-integration").await;
    wait_for(
        &c,
        "Google in use",
        "document.querySelector('#panel-google_calendar .badge-active') !== null",
    )
    .await;
    let started = Instant::now();
    loop {
        let listed = api.get(&format!("/api/v1/experts/{expert}/integrations"), &token).await;
        let google_entry = listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["type"] == "google_calendar")
            .unwrap()
            .clone();
        if google_entry["push"]["state"] == "active" {
            break;
        }
        assert!(started.elapsed() < WAIT, "no push channel for Google: {google_entry}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (page, push) in [
        (&calendars, "#panel-google_calendar .push-state"),
        (&manage, "#source .push-state"),
    ] {
        c.goto(&format!("{base}{page}")).await.unwrap();
        let text = wait_for(
            &c,
            "the live updates",
            &format!("(document.querySelector('{push}') || {{}}).textContent"),
        )
        .await;
        let text = text.as_str().unwrap();
        assert!(
            text.starts_with("On: changes in Google Calendar show at once"),
            "{page}: {text}"
        );
    }
    let source = c
        .execute("return document.getElementById('source').textContent;", vec![])
        .await
        .unwrap();
    assert!(source.as_str().unwrap().contains(ACCOUNT_EMAIL), "{source}");
    check_page(&c, "manage, a calendar in use").await;
    c.goto(&format!("{base}{calendars}")).await.unwrap();
    wait_for(
        &c,
        "the calendars page",
        &format!("{} === 'Connected'", status("google_calendar")),
    )
    .await;
    check_page(&c, "calendars, Google in use").await;
    screenshots(&c, "calendars").await;

    // Office 365: the same round trip through Microsoft's sign-in; the mailbox is shown.
    click(&c, "#panel-office365_calendar .connect").await;
    wait_for(
        &c,
        "the return from Microsoft",
        &format!("{} === 'Connected'", status("office365_calendar")),
    )
    .await;
    assert_eq!(path_of(&c).await, calendars);
    let mailbox = wait_for(
        &c,
        "the mailbox",
        &format!(
            "document.querySelector('#panel-office365_calendar').textContent.includes({:?})",
            graph.user_address()
        ),
    )
    .await;
    assert_eq!(mailbox, json!(true));
    // Outlook's working hours (the fake: Mon-Fri 08:00-17:00 Pacific) go into the manage page's
    // editor, unsaved.
    click(&c, "#panel-office365_calendar .use-working-hours").await;
    wait_for(
        &c,
        "Outlook's hours in the editor",
        "document.querySelector('#timezone').value === 'America/Los_Angeles' \
         && [1, 2, 3, 4, 5].every(d => (document.querySelector(`#day-${d} .window input.start`) || {}).value === '08:00') \
         && !document.querySelector('#day-0 .window') && !document.querySelector('#day-6 .window')",
    )
    .await;
    assert_eq!(path_of(&c).await, manage);
    let stored = api.get(&format!("/api/v1/experts/{expert}/availability"), &token).await;
    assert_eq!(stored.body["rules"], json!([]), "nothing is stored before Save");
    click(&c, "#discard-availability").await;
    c.goto(&format!("{base}{calendars}")).await.unwrap();
    wait_for(
        &c,
        "the calendars page",
        &format!("{} === 'Connected'", status("office365_calendar")),
    )
    .await;

    // Calendly: a personal access token, the event type picked from Calendly's list.
    let pat = calendly.personal_access_token(&[]);
    calendly.add_event_type("Consult", 30);
    let intro = calendly.add_event_type("Intro", 15);
    set_value(&c, "#panel-calendly input[name=personal_access_token]", &pat).await;
    click(&c, "#panel-calendly .find-event-types").await;
    click(&c, &format!("#panel-calendly .event-types input[value=\"{intro}\"]")).await;
    click(&c, "#panel-calendly .connect-token").await;
    wait_for(
        &c,
        "Calendly connected",
        &format!("{} === 'Connected'", status("calendly")),
    )
    .await;
    let listed = api.get(&format!("/api/v1/experts/{expert}/integrations"), &token).await;
    let entry = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "calendly")
        .unwrap()
        .clone();
    assert_eq!(entry["event_type"]["uri"], intro.as_str());

    // Disconnecting Google asks first.
    click(&c, "#panel-google_calendar .disconnect").await;
    click(&c, "#panel-google_calendar .confirm-disconnect").await;
    wait_for(
        &c,
        "Google disconnected",
        &format!("{} === 'Not connected'", status("google_calendar")),
    )
    .await;
    let listed = api.get(&format!("/api/v1/experts/{expert}/integrations"), &token).await;
    assert_eq!(listed.body[0]["status"], "disconnected");
    c.close().await.unwrap();
    server.stop().await;
}

/// A provider the pages have never heard of gets a working panel with no page edit: the test
/// registers a calendar connected like CalDAV (a server address with presets, a user name, a
/// password; see `support::password_calendar`). The integration choice lists it from
/// GET /api/v1/providers (and shows the providers this server lacks the settings of as not
/// available, with why); its panel has the fields with their labels, a password input, help with
/// a link and a picker of presets that fills in the server address ("your own server" is typed
/// over); a wrong password is refused in plain words and nothing is stored; the right one
/// connects, shows the account and the calendar choice (the read-only calendar cannot receive
/// appointments), a choice is saved; the expert switches to it, then disconnects it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_provider_gets_a_working_panel_with_no_page_edit() {
    use support::{password_calendar, PASSWORD_CALENDAR as DAV};
    let Some(driver) = start_driver().await else {
        return;
    };
    let db = databases("a_new_provider_gets_a_working_panel_with_no_page_edit").remove(0);
    let server = TestServer::start_with(&db, vec![password_calendar()]).await;
    let api = &server.api;
    let base = api.base.clone();
    let (expert, token) = new_expert(api).await;
    let integration = || async {
        let listed = api.get(&format!("/api/v1/experts/{expert}/integrations"), &token).await;
        assert_eq!(listed.status, 200, "{:?}", listed.body);
        listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["type"] == DAV)
            .cloned()
            .expect("GET integrations lists the new provider")
    };

    let c = browser(&driver).await;
    let calendars = format!("/experts/{expert}/calendars");
    sign_in(&c, &base, &token, &calendars).await;
    let panel = format!("#panel-{DAV}");
    let status = format!("(document.querySelector('{panel} .status') || {{}}).textContent");
    wait_for(&c, "the new provider's panel", &format!("{status} === 'Not connected'")).await;

    // The choice: its name, description and status; Google (no settings here) is not available.
    let choice = c
        .execute(
            "const label = id => document.querySelector(`label[for=${id}]`);
             return [label(arguments[0]).textContent, document.getElementById(arguments[0]).disabled,
                     document.getElementById('integration-google_calendar').disabled,
                     label('integration-google_calendar').textContent];",
            vec![json!(format!("integration-{DAV}"))],
        )
        .await
        .unwrap();
    let text = choice[0].as_str().unwrap();
    assert!(
        text.contains("Test CalDAV") && text.contains("Not connected") && text.contains("a CalDAV account"),
        "{text}"
    );
    assert_eq!(choice[1], false, "a provider that is available can be chosen");
    assert_eq!(choice[2], true, "a provider without its settings cannot be chosen");
    let google = choice[3].as_str().unwrap();
    assert!(
        google.contains("Not available") && google.contains("GOOGLE_CLIENT_ID"),
        "{google}"
    );

    // The panel: the descriptor's fields, labelled, the secret one a password input, the help
    // with its link, the presets; no OAuth button (none is configured).
    let form = c
        .execute(
            "const p = document.querySelector(arguments[0]);
             const input = n => p.querySelector(`input[name=${n}]`);
             return [input('server_url').labels[0].textContent, input('username').labels[0].textContent,
                     input('password').labels[0].textContent, input('password').type, input('username').type,
                     [...p.querySelectorAll('select.preset option')].map(o => o.textContent),
                     p.querySelector('a[href=\"https://support.apple.com/en-us/102654\"]') !== null,
                     p.querySelector('.connect') === null];",
            vec![json!(panel)],
        )
        .await
        .unwrap();
    assert_eq!(
        form,
        json!([
            "Server address",
            "User name",
            "Password",
            "password",
            "text",
            [
                "Choose…",
                "iCloud",
                "Yahoo",
                "Fastmail",
                "Your own server (Nextcloud)",
                "Other: type it in"
            ],
            true,
            true
        ])
    );
    check_page(&c, "calendars, a new provider's connect form").await;

    // A preset fills in the server address; "your own server" leaves its host to type over.
    let server_url = format!("{panel} input[name=server_url]");
    set_value(&c, &format!("{panel} select.preset"), "0").await;
    let filled = c
        .execute(
            "return document.querySelector(arguments[0]).value;",
            vec![json!(server_url)],
        )
        .await
        .unwrap();
    assert_eq!(filled, "https://caldav.icloud.com");
    set_value(&c, &format!("{panel} select.preset"), "3").await;
    let own = c
        .execute(
            "const i = document.querySelector(arguments[0]);
             return [i.value, document.activeElement === i, i.value.slice(i.selectionStart, i.selectionEnd)];",
            vec![json!(server_url)],
        )
        .await
        .unwrap();
    assert_eq!(own, json!(["https://HOST/remote.php/dav", true, "HOST"]));
    c.active_element()
        .await
        .unwrap()
        .send_keys("cloud.example.org")
        .await
        .unwrap();
    let typed = c
        .execute(
            "return document.querySelector(arguments[0]).value;",
            vec![json!(server_url)],
        )
        .await
        .unwrap();
    assert_eq!(typed, "https://cloud.example.org/remote.php/dav");

    // A wrong password: refused in plain words, nothing stored.
    set_value(&c, &format!("{panel} input[name=username]"), "ada").await;
    set_value(&c, &format!("{panel} input[name=password]"), "wrong").await;
    click(&c, &format!("{panel} .connect-credentials")).await;
    let refusal = wait_for(
        &c,
        "the refusal",
        &format!("document.querySelector('{panel} .form-error').textContent"),
    )
    .await;
    let refusal = refusal.as_str().unwrap();
    assert!(
        refusal.starts_with("Test CalDAV did not accept these sign-in details")
            && refusal.contains("refused this user name and password")
            && refusal.contains("nothing was saved"),
        "{refusal}"
    );
    let marked = c
        .execute(
            "return document.querySelector(arguments[0]).getAttribute('aria-invalid');",
            vec![json!(format!("{panel} input[name=password]"))],
        )
        .await
        .unwrap();
    assert_eq!(marked, "true");
    let entry = integration().await;
    assert_eq!(
        (entry["status"].as_str(), &entry["account"]),
        (Some("disconnected"), &Value::Null),
        "a refused login stores nothing"
    );

    // The right one connects: the account and the calendar choice.
    set_value(&c, &format!("{panel} input[name=password]"), "right").await;
    click(&c, &format!("{panel} .connect-credentials")).await;
    wait_for(&c, "the connection", &format!("{status} === 'Connected'")).await;
    let entry = integration().await;
    assert_eq!(
        (entry["status"].as_str(), entry["account"].as_str()),
        (Some("connected"), Some("ada@cloud.example.org"))
    );
    let shown = wait_for(
        &c,
        "the account and the calendars",
        &format!(
            "document.querySelector('{panel} input[name=busy][value=holidays]') \
             && [document.querySelector('{panel} .facts').textContent,
                 [...document.querySelectorAll('{panel} input[name=busy]')].map(i => i.value + ':' + i.checked),
                 [...document.querySelectorAll('{panel} select[name=event_calendar_id] option')].map(o => o.value)]"
        ),
    )
    .await;
    assert!(shown[0].as_str().unwrap().contains("ada@cloud.example.org"), "{shown}");
    assert_eq!(shown[1], json!(["home:true", "holidays:false"]));
    assert_eq!(
        shown[2],
        json!(["home"]),
        "a read-only calendar cannot receive appointments"
    );
    check_page(&c, "calendars, a new provider connected").await;

    // Holidays blocks time too: saved.
    c.execute(
        "document.querySelector(arguments[0]).click();",
        vec![json!(format!("{panel} input[name=busy][value=holidays]"))],
    )
    .await
    .unwrap();
    click(&c, &format!("{panel} .save-calendars")).await;
    wait_for(
        &c,
        "the saved choice",
        "(document.querySelector('#notice').textContent || '').includes('Saved your Test CalDAV calendars')",
    )
    .await;
    let calendars = api
        .get(
            &format!("/api/v1/experts/{expert}/integrations/{DAV}/calendars"),
            &token,
        )
        .await;
    let blocking: Vec<&str> = calendars.body["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["blocks_time"] == true)
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(blocking, ["home", "holidays"]);

    // Switching to it (the message of the save, kept in view at the top, dismissed first).
    click(&c, "#notice .notice-close").await;
    click(&c, &format!("#integration-{DAV}")).await;
    click(&c, "#use-integration").await;
    wait_for(
        &c,
        "the new provider in use",
        &format!("document.querySelector('{panel} .badge-active') !== null"),
    )
    .await;
    let stored = api.get(&format!("/api/v1/experts/{expert}"), &token).await;
    assert_eq!(stored.body["integration_type"], DAV);

    // Disconnecting asks first; the expert is back on their own hours.
    click(&c, &format!("{panel} .disconnect")).await;
    click(&c, &format!("{panel} .confirm-disconnect")).await;
    wait_for(&c, "the disconnection", &format!("{status} === 'Not connected'")).await;
    wait_for(
        &c,
        "the own hours in use",
        "document.querySelector('label[for=integration-manual]').classList.contains('is-active')",
    )
    .await;
    assert_eq!(integration().await["status"], "disconnected");
    let stored = api.get(&format!("/api/v1/experts/{expert}"), &token).await;
    assert_eq!(stored.body["integration_type"], "manual");
    c.close().await.unwrap();
    server.stop().await;
}

/// Types the token into the sign-in form of the page shown and sends it.
async fn submit_token(c: &Client, token: &str) {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(token)
        .await
        .unwrap();
    click(c, "#sign-in button[type=submit]").await;
}

/// The sign-in page follows `?next=` only to a path of its own origin: every form of the open
/// redirect the review found (a tab, LF or CR that browsers drop, backslashes they read as "/",
/// `//host`, absolute URLs, percent-encoded and double-encoded forms) lands on the default page,
/// both after signing in with the form and when already signed in; a plain path is followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_page_follows_next_only_to_its_own_paths() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let db = databases("the_sign_in_page_follows_next_only_to_its_own_paths").remove(0);
    let server = TestServer::start(&db).await;
    let api = &server.api;
    let base = api.base.clone();
    let (expert, token) = new_expert(api).await;
    // An expert's default page after sign-in: their agenda.
    let default_page = format!("/experts/{expert}/appointments");
    // As they would appear in a link's query string.
    let hostile = [
        "%2F%09%2Fevil.example%2Fpath",
        "/%09/evil.example/path",
        "%2F%0A%2Fevil.example%2Fpath",
        "%2F%0D%2Fevil.example%2Fpath",
        "%2F%5Cevil.example%2Fpath",
        "%5C%5Cevil.example%2Fpath",
        "/%5C/evil.example/path",
        "//evil.example/path",
        "%2F%2Fevil.example%2Fpath",
        "https://evil.example/path",
        "https%3A%2F%2Fevil.example%2Fpath",
        "%252F%252Fevil.example%252Fpath",
        "javascript%3Aalert(1)",
        "evil.example/path",
    ];

    let c = browser(&driver).await;
    let signed_in_here = "!document.getElementById('signed-in').hidden";
    for next in hostile {
        // Signed out: the form, then the default page.
        c.goto(&format!("{base}/")).await.unwrap();
        c.delete_all_cookies().await.unwrap();
        c.goto(&format!("{base}/?next={next}")).await.unwrap();
        submit_token(&c, &token).await;
        wait_for(
            &c,
            &format!("the default page after next={next}"),
            &format!("location.origin === {base:?} && location.pathname === {default_page:?}"),
        )
        .await;
        // Signed in already: the page says so and goes nowhere.
        c.goto(&format!("{base}/?next={next}")).await.unwrap();
        wait_for(&c, &format!("the signed-in view with next={next}"), signed_in_here).await;
        assert_eq!(path_of(&c).await, "/", "next={next}");
    }

    // A plain path of the site (with its query) is followed, both ways.
    let plain = format!("/book/{expert}?from=sign-in");
    let encoded = format!("%2Fbook%2F{expert}%3Ffrom%3Dsign-in");
    for next in [plain.as_str(), encoded.as_str()] {
        c.goto(&format!("{base}/")).await.unwrap();
        c.delete_all_cookies().await.unwrap();
        c.goto(&format!("{base}/?next={next}")).await.unwrap();
        submit_token(&c, &token).await;
        wait_for(
            &c,
            &format!("the page next={next} names"),
            &format!("location.pathname + location.search === {plain:?}"),
        )
        .await;
        c.goto(&format!("{base}/?next={next}")).await.unwrap();
        wait_for(
            &c,
            &format!("the page next={next} names, signed in"),
            &format!("location.pathname + location.search === {plain:?}"),
        )
        .await;
    }
    c.close().await.unwrap();
    server.stop().await;
}

/// CalDAV from the calendars page against a real Radicale: the preset picker fills the server
/// address, a wrong password is refused with nothing stored, the right one connects and lists
/// the account's calendars, and the calendar choice made on the page is what the API keeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expert_connects_a_caldav_calendar_with_the_preset_picker() {
    use provider_caldav::testing::{peers_or_skip, radicale};
    let test = "an_expert_connects_a_caldav_calendar_with_the_preset_picker";
    let Some(dav_server) = peers_or_skip(test, radicale()) else {
        return;
    };
    let Some(driver) = start_driver().await else {
        return;
    };
    let user = format!("browser-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    dav_server.add_user(&user, "app-password").unwrap();
    let work = dav_server
        .create_calendar(&user, "app-password", "work", "Work")
        .await
        .unwrap();
    let appointments = dav_server
        .create_calendar(&user, "app-password", "appointments", "Appointments")
        .await
        .unwrap();

    let db = databases(test).remove(0);
    let server = TestServer::start(&db).await;
    let api = &server.api;
    let (expert, token) = new_expert(api).await;
    let c = browser(&driver).await;
    sign_in(&c, &api.base, &token, &format!("/experts/{expert}/calendars")).await;
    let panel = "#panel-caldav";
    let status = format!("(document.querySelector('{panel} .status') || {{}}).textContent");
    wait_for(&c, "the CalDAV panel", &format!("{status} === 'Not connected'")).await;

    // The picker offers every preset of the provider; choosing iCloud fills in its address, and
    // the password's help links to the page where iCloud makes app-specific passwords.
    let offered = c
        .execute(
            "return [...document.querySelectorAll(arguments[0])].map(o => o.textContent);",
            vec![json!(format!("{panel} select.preset option"))],
        )
        .await
        .unwrap();
    for preset in provider_caldav::PRESETS {
        assert!(
            offered.as_array().unwrap().iter().any(|o| o == preset.label),
            "{} offered: {offered}",
            preset.label
        );
    }
    let icloud = provider_caldav::PRESETS
        .iter()
        .position(|p| p.label == "Apple iCloud")
        .unwrap();
    set_value(&c, &format!("{panel} select.preset"), &icloud.to_string()).await;
    let server_url = format!("{panel} input[name=server_url]");
    let filled = c
        .execute(
            "return [document.querySelector(arguments[0]).value,
                     document.querySelector(arguments[1]) !== null];",
            vec![
                json!(server_url),
                json!(format!("{panel} a[href^=\"https://support.apple.com/\"]")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(filled, json!(["https://caldav.icloud.com", true]));

    // The expert's own server instead (here: the Radicale), with a wrong password first.
    set_value(&c, &server_url, &dav_server.base_url).await;
    set_value(&c, &format!("{panel} input[name=username]"), &user).await;
    set_value(&c, &format!("{panel} input[name=password]"), "not-the-password").await;
    click(&c, &format!("{panel} .connect-credentials")).await;
    let refusal = wait_for(
        &c,
        "the refusal",
        &format!("document.querySelector('{panel} .form-error').textContent"),
    )
    .await;
    assert!(refusal.as_str().unwrap().contains("nothing was saved"), "{refusal}");
    let listed = api.get(&format!("/api/v1/experts/{expert}/integrations"), &token).await;
    let caldav = |list: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|i| i["type"] == "caldav")
            .cloned()
            .unwrap()
    };
    assert_eq!(
        caldav(&listed.body)["status"],
        "disconnected",
        "a refused login stores nothing"
    );

    // The right password: connected, and the account's two calendars to choose from.
    set_value(&c, &format!("{panel} input[name=password]"), "app-password").await;
    click(&c, &format!("{panel} .connect-credentials")).await;
    wait_for(&c, "the connection", &format!("{status} === 'Connected'")).await;
    let listed = api.get(&format!("/api/v1/experts/{expert}/integrations"), &token).await;
    assert_eq!(caldav(&listed.body)["account"], user.as_str());
    let calendars = api
        .get(
            &format!("/api/v1/experts/{expert}/integrations/caldav/calendars"),
            &token,
        )
        .await;
    assert_eq!(calendars.status, 200, "{:?}", calendars.body);
    let id_of = |name: &str| {
        calendars.body["calendars"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["summary"] == name)
            .unwrap_or_else(|| panic!("{name} listed: {}", calendars.body))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (work_id, appointments_id) = (id_of("Work"), id_of("Appointments"));
    // The ids are the calendars' addresses on the server.
    assert!(work.ends_with(work_id.as_str()) && appointments.ends_with(appointments_id.as_str()));
    let shown = wait_for(
        &c,
        "the calendars on the page",
        &format!(
            "document.querySelectorAll('{panel} input[name=busy]').length === 2 \
             && [...document.querySelectorAll('{panel} select[name=event_calendar_id] option')].map(o => o.value)"
        ),
    )
    .await;
    let mut options: Vec<&str> = shown.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    options.sort_unstable();
    let mut expected = [work_id.as_str(), appointments_id.as_str()];
    expected.sort_unstable();
    assert_eq!(options, expected, "both calendars can receive appointments");

    // Only Work blocks time; appointments go to Appointments: saved, and kept by the API.
    c.execute(
        "for (const i of document.querySelectorAll(arguments[0])) {
             if (i.checked !== (i.value === arguments[1])) i.click();
         }",
        vec![json!(format!("{panel} input[name=busy]")), json!(work_id)],
    )
    .await
    .unwrap();
    set_value(&c, &format!("{panel} select[name=event_calendar_id]"), &appointments_id).await;
    click(&c, &format!("{panel} .save-calendars")).await;
    wait_for(
        &c,
        "the saved choice",
        "(document.querySelector('#notice').textContent || '').includes('Saved')",
    )
    .await;
    let calendars = api
        .get(
            &format!("/api/v1/experts/{expert}/integrations/caldav/calendars"),
            &token,
        )
        .await;
    let flags: Vec<(String, bool, bool)> = calendars.body["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["summary"].as_str().unwrap().to_owned(),
                c["blocks_time"].as_bool().unwrap(),
                c["receives_events"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(flags.contains(&("Work".to_owned(), true, false)), "{flags:?}");
    assert!(flags.contains(&("Appointments".to_owned(), false, true)), "{flags:?}");
    check_page(&c, "calendars, a CalDAV calendar connected").await;
    c.close().await.unwrap();
    server.stop().await;
}

/// Video meetings on the pages: the appointment page shows "Join" with the expert's room for a
/// meeting that starts in about 5 minutes and none for one tomorrow (a note instead); on the
/// manage page the video choice is part of the booking rules, so saving the rules keeps it, and
/// "made by my calendar" for hours typed in is refused with the reason at the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_appointment_page_offers_join_from_ten_minutes_before() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let db = databases("the_appointment_page_offers_join_from_ten_minutes_before").remove(0);
    let server = TestServer::start(&db).await;
    let api = &server.api;
    let base = api.base.clone();
    // Round the clock, every day: a slot starts every 5 minutes.
    let (expert, expert_token) = expert_with_hours(api, 0..=6, "00:00", "24:00").await;
    let room = "https://zoom.us/j/5551234567?pwd=video";
    let policy_path = format!("/api/v1/experts/{expert}/booking-policy");
    let set = api
        .put(
            &policy_path,
            &expert_token,
            json!({"slot_interval_minutes": 5, "video": "static", "video_url": room}),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    let (client_id, client_token) = client_with_id(api, "Ann Video", "ann.video@example.com").await;

    // The next 5-minute mark at least 5 minutes away: between 5 and 10 minutes from now.
    let now = Timestamp::now().as_second();
    let soon = Timestamp::from_second(((now + 299) / 300) * 300 + 300).unwrap();
    let book = |start: Timestamp| {
        let end = start + SignedDuration::from_mins(30);
        api.post(
            "/api/v1/appointments",
            &client_token,
            json!({"expert_id": expert, "client_id": client_id, "start_time": start.to_string(), "end_time": end.to_string()}),
        )
    };
    let near = book(soon).await;
    assert_eq!(near.status, 201, "{:?}", near.body);
    assert_eq!(near.body["meeting_url"], room);
    let tomorrow = book(soon + SignedDuration::from_hours(24)).await;
    assert_eq!(tomorrow.status, 201, "{:?}", tomorrow.body);
    assert_eq!(tomorrow.body["meeting_url"], room);

    let c = browser(&driver).await;
    let near_page = format!("/appointments/{}", near.body["id"].as_str().unwrap());
    sign_in(&c, &base, &client_token, &near_page).await;
    wait_for(&c, "the appointment page", "document.body.dataset.ready === 'true'").await;
    let join = wait_for(
        &c,
        "the Join link",
        "(() => { const a = document.querySelector('#meeting-box a#join'); \
              return a && {href: a.getAttribute('href'), text: a.textContent.trim(), target: a.target}; })()",
    )
    .await;
    assert_eq!(join, json!({"href": room, "text": "Join", "target": "_blank"}));
    check_page(&c, "appointment with a meeting").await;

    let later_page = format!("/appointments/{}", tomorrow.body["id"].as_str().unwrap());
    c.goto(&format!("{base}{later_page}")).await.unwrap();
    wait_for(&c, "the appointment page", "document.body.dataset.ready === 'true'").await;
    let note = wait_for(
        &c,
        "the note on the meeting",
        "(() => { const n = document.querySelector('#meeting-note'); return n && n.textContent; })()",
    )
    .await;
    assert!(note.as_str().unwrap().contains("10 minutes before"), "{note}");
    let links = c
        .execute(
            "return [...document.querySelectorAll('a')].filter(a => a.id === 'join' || a.textContent.trim() === 'Join' \
                 || a.getAttribute('href') === arguments[0]).length;",
            vec![json!(room)],
        )
        .await
        .unwrap();
    assert_eq!(links, json!(0), "no Join and no link for tomorrow's meeting yet");

    // The manage page: the video choice is in the booking rules and survives saving them.
    c.goto(&format!("{base}/")).await.unwrap();
    c.delete_all_cookies().await.unwrap();
    let manage = format!("/experts/{expert}/manage");
    sign_in(&c, &base, &expert_token, &manage).await;
    wait_for(
        &c,
        "the booking rules with the video choice",
        &format!(
            "document.querySelector('#policy-video').value === 'static' \
             && document.querySelector('#policy-video_url').value === {room:?} \
             && !document.querySelector('#policy-video-url-field').hidden"
        ),
    )
    .await;
    set_value(&c, "#policy-slot_duration_minutes", "45").await;
    // A limit typed in is saved with the rules; the empty ones stay off.
    set_value(&c, "#policy-max_bookings_per_day", "3").await;
    set_value(&c, "#policy-max_series_occurrences", "6").await;
    click(&c, "#save-policy").await;
    wait_for(
        &c,
        "the rules saved",
        "document.querySelector('#policy-state').textContent === '' \
         && !document.querySelector('#policy').classList.contains('is-dirty')",
    )
    .await;
    let saved = api.get(&policy_path, &expert_token).await;
    assert_eq!(saved.body["slot_duration_minutes"], 45, "{:?}", saved.body);
    assert_eq!(saved.body["max_bookings_per_day"], 3, "{:?}", saved.body);
    assert_eq!(saved.body["max_series_occurrences"], 6, "{:?}", saved.body);
    assert!(saved.body.get("max_bookings_per_week").is_none(), "{:?}", saved.body);
    assert_eq!(
        (saved.body["video"].as_str(), saved.body["video_url"].as_str()),
        (Some("static"), Some(room)),
        "saving the booking rules keeps the video choice: {:?}",
        saved.body
    );

    // Hours typed in cannot make meetings: refused, with the reason at the field.
    set_value(&c, "#policy-video", "provider").await;
    click(&c, "#save-policy").await;
    let error = wait_for(
        &c,
        "the refusal at the video field",
        "document.querySelector('#policy-video-error').textContent",
    )
    .await;
    assert!(
        error.as_str().unwrap().contains("cannot make video meetings"),
        "{error}"
    );
    let kept = api.get(&policy_path, &expert_token).await;
    assert_eq!(kept.body, saved.body, "nothing changed");
    check_page(&c, "manage with video").await;
    c.close().await.unwrap();
    server.stop().await;
}

/// Signs in through the form with no `?next=`, and waits for the role's start page.
async fn sign_in_to_start_page(c: &Client, base: &str, token: &str, start: &str) {
    c.goto(&format!("{base}/")).await.unwrap();
    submit_token(c, token).await;
    wait_for(
        c,
        "the start page after sign-in",
        &format!("location.pathname === {start:?}"),
    )
    .await;
    wait_for(c, "the page to be ready", "document.body.dataset.ready === 'true'").await;
}

/// A zone in which it is now within two hours of noon.
fn zone_at_midday() -> &'static str {
    const ZONES: [&str; 21] = [
        "Pacific/Honolulu",
        "America/Anchorage",
        "America/Los_Angeles",
        "America/Denver",
        "America/Chicago",
        "America/New_York",
        "America/Sao_Paulo",
        "Atlantic/Azores",
        "Europe/London",
        "Europe/Berlin",
        "Europe/Athens",
        "Europe/Moscow",
        "Asia/Dubai",
        "Asia/Karachi",
        "Asia/Dhaka",
        "Asia/Bangkok",
        "Asia/Shanghai",
        "Asia/Tokyo",
        "Australia/Brisbane",
        "Pacific/Noumea",
        "Pacific/Auckland",
    ];
    let now = Timestamp::now();
    ZONES
        .into_iter()
        .min_by_key(|zone| (i32::from(TimeZone::get(zone).unwrap().to_datetime(now).hour()) - 12).abs())
        .unwrap()
}

/// Two open times of one day on the booking page, and that day's key: the first day it opens on
/// (the first with an open time) when that day has two, else the next day. Late in the evening
/// the first day can hold a single time, so the day is chosen rather than assumed.
async fn two_open_times_of_a_day(c: &Client) -> (String, String, String) {
    wait_for(c, "the booking page", "document.body.dataset.ready === 'true'").await;
    wait_for(
        c,
        "open times",
        "document.querySelectorAll('#slots button[data-slot-start]').length >= 1",
    )
    .await;
    if shown_slots(c).await.len() < 2 {
        let next = c
            .execute(
                "return document.querySelector('#week button[aria-pressed=true]').nextElementSibling.dataset.date;",
                vec![],
            )
            .await
            .unwrap();
        click(c, &format!("#week [data-date=\"{}\"]", next.as_str().unwrap())).await;
        wait_for(
            c,
            "two open times on the next day",
            "document.querySelectorAll('#slots button[data-slot-start]').length >= 2",
        )
        .await;
    }
    let day = c
        .execute(
            "return document.querySelector('#week button[aria-pressed=true]').dataset.date;",
            vec![],
        )
        .await
        .unwrap();
    let shown = shown_slots(c).await;
    (day.as_str().unwrap().to_owned(), shown[0].clone(), shown[1].clone())
}

/// The pages for people: a client signs in and lands on the directory, finds the expert with
/// "free today", books; the expert signs in, lands on the agenda and sees the booking; the client
/// reschedules from the appointment page (the old time stays until the new one is confirmed) and
/// the agenda shows the new time; the expert cancels it with a reason and the client's list shows
/// it cancelled with that reason. Every new page passes the accessible-name and phone checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_find_book_and_reschedule_and_experts_keep_an_agenda() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let db = databases("clients_find_book_and_reschedule_and_experts_keep_an_agenda").remove(0);
    let server = TestServer::start(&db).await;
    let api = &server.api;
    let base = api.base.clone();
    let (expert, expert_token) = new_expert(api).await;
    // Open all day every day: in a zone where it is midday, "free today" always has times left.
    let rules: Vec<Value> = (0..7)
        .map(|d| json!({"day_of_week": d, "start_time": "00:00", "end_time": "24:00"}))
        .collect();
    let put = api
        .put(
            &format!("/api/v1/experts/{expert}/availability"),
            &expert_token,
            json!({"rules": rules}),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let idle = api
        .post(
            "/api/v1/experts",
            ADMIN_TOKEN,
            json!({"name": "Ivo Idle", "email": "ivo@example.com", "timezone": EXPERT_ZONE}),
        )
        .await;
    assert_eq!(idle.status, 201);
    let ann = new_client(api, "Ann Lee", "ann@example.com").await;

    // The client lands on the directory; "free today" lists the expert with hours, not the idle one.
    // The client's page shows times in a zone where it is now around midday, so "today" has hours
    // left whenever the test runs (in New York at 23:40 it has none).
    let ann_browser = browser(&driver).await;
    sign_in_to_start_page(&ann_browser, &base, &ann, "/experts").await;
    let zone = zone_at_midday();
    ann_browser
        .execute(
            &format!("sessionStorage.setItem('availability.timezone', {zone:?});"),
            vec![],
        )
        .await
        .unwrap();
    ann_browser.goto(&format!("{base}/experts")).await.unwrap();
    wait_for(
        &ann_browser,
        "the directory in the chosen zone",
        &format!(
            "document.body.dataset.ready === 'true' && document.querySelector('#zone-line').textContent.includes({:?})",
            zone.replace('_', " ")
        ),
    )
    .await;
    let listed = format!("#results li[data-expert-id=\"{expert}\"]");
    wait_for(
        &ann_browser,
        "the directory",
        &format!("document.querySelector('{listed}') !== null"),
    )
    .await;
    click(&ann_browser, "input[name=when][value=today]").await;
    wait_for(
        &ann_browser,
        "the free-today list",
        &format!(
            "document.querySelector('#results').getAttribute('aria-busy') === 'false' \
             && document.querySelector('{listed} .next') !== null"
        ),
    )
    .await;
    let idle_listed = ann_browser
        .execute(
            &format!(
                "return document.querySelector('#results li[data-expert-id=\"{}\"]') !== null;",
                idle.body["id"].as_str().unwrap()
            ),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(idle_listed, json!(false), "an expert with no hours is not free today");
    check_page(&ann_browser, "directory").await;
    screenshots(&ann_browser, "directory").await;

    // "At a time": tomorrow 10:00 in the page's zone, for 30 minutes (the expert's grid).
    let tomorrow = TimeZone::get(zone)
        .unwrap()
        .to_datetime(Timestamp::now() + SignedDuration::from_hours(24))
        .date();
    click(&ann_browser, "input[name=when][value=at]").await;
    set_value(&ann_browser, "#at-date", &tomorrow.to_string()).await;
    set_value(&ann_browser, "#at-clock", "10:00").await;
    click(&ann_browser, "#search button[type=submit]").await;
    wait_for(
        &ann_browser,
        "the experts free at that time",
        &format!(
            "document.querySelector('#results').getAttribute('aria-busy') === 'false' \
             && (document.querySelector('{listed} .next') || {{}}).textContent?.includes('10:00')"
        ),
    )
    .await;
    click(&ann_browser, "input[name=when][value=today]").await;
    wait_for(
        &ann_browser,
        "the free-today list again",
        &format!(
            "document.querySelector('#at-time').hidden \
             && document.querySelector('#results').getAttribute('aria-busy') === 'false' \
             && document.querySelector('{listed}') !== null"
        ),
    )
    .await;

    // Book the first open time.
    click(&ann_browser, &format!("{listed} a[data-expert]")).await;
    let (day, first, second) = two_open_times_of_a_day(&ann_browser).await;
    click(&ann_browser, &format!("#slots button[data-slot-start=\"{first}\"]")).await;
    click(&ann_browser, "#confirm-book").await;
    wait_for(
        &ann_browser,
        "the appointment page",
        "location.pathname.startsWith('/appointments/') && document.body.dataset.ready === 'true'",
    )
    .await;
    let appointment = path_of(&ann_browser)
        .await
        .trim_start_matches("/appointments/")
        .to_owned();

    // The expert lands on the agenda and sees it.
    let expert_browser = browser(&driver).await;
    sign_in_to_start_page(
        &expert_browser,
        &base,
        &expert_token,
        &format!("/experts/{expert}/appointments"),
    )
    .await;
    let entry = format!("#upcoming li[data-appointment-id=\"{appointment}\"]");
    wait_for(
        &expert_browser,
        "the booking in the agenda",
        &format!(
            "document.querySelector('{entry}')?.dataset.start === {first:?} \
             && document.querySelector('{entry} .with').textContent === 'With Ann Lee'"
        ),
    )
    .await;
    check_page(&expert_browser, "agenda").await;
    screenshots(&expert_browser, "agenda").await;

    // The client reschedules from the appointment page; until confirmed the old time holds.
    click(&ann_browser, "#reschedule").await;
    wait_for(
        &ann_browser,
        "the picker in reschedule mode",
        "location.search.includes('reschedule=')",
    )
    .await;
    wait_for(&ann_browser, "the picker", "document.body.dataset.ready === 'true'").await;
    click(&ann_browser, &format!("#week [data-date=\"{day}\"]")).await;
    wait_for(
        &ann_browser,
        "the other open time of that day",
        &format!("document.querySelector('#slots button[data-slot-start=\"{second}\"]') !== null"),
    )
    .await;
    wait_for(
        &ann_browser,
        "the time being moved",
        "document.querySelector('#moving-from') !== null",
    )
    .await;
    click(&ann_browser, &format!("#slots button[data-slot-start=\"{second}\"]")).await;
    let still = api
        .get(&format!("/api/v1/appointments/{appointment}"), ADMIN_TOKEN)
        .await;
    assert_eq!(
        still.body["start_time"],
        first.as_str(),
        "not moved before it is confirmed"
    );
    click(&ann_browser, "#confirm-book").await;
    wait_for(
        &ann_browser,
        "the moved appointment",
        &format!("location.pathname === '/appointments/{appointment}' && document.body.dataset.ready === 'true'"),
    )
    .await;
    let moved = api
        .get(&format!("/api/v1/appointments/{appointment}"), ADMIN_TOKEN)
        .await;
    assert_eq!(
        (moved.body["start_time"].as_str(), moved.body["status"].as_str()),
        (Some(second.as_str()), Some("confirmed"))
    );

    // The agenda shows the new time; the expert cancels it with a reason.
    expert_browser
        .goto(&format!("{base}/experts/{expert}/appointments"))
        .await
        .unwrap();
    wait_for(
        &expert_browser,
        "the new time in the agenda",
        &format!("document.querySelector('{entry}')?.dataset.start === {second:?}"),
    )
    .await;
    click(&expert_browser, &format!("{entry} [data-action=cancel]")).await;
    set_value(&expert_browser, "#cancel-reason", "I am ill today, sorry").await;
    click(&expert_browser, "#confirm-cancel").await;
    wait_for(
        &expert_browser,
        "the cancel",
        &format!(
            "document.querySelector('#cancelled li[data-appointment-id=\"{appointment}\"]') !== null \
             && document.querySelector('{entry}') === null"
        ),
    )
    .await;
    let cancelled = api
        .get(&format!("/api/v1/appointments/{appointment}"), ADMIN_TOKEN)
        .await;
    assert_eq!(
        (
            cancelled.body["status"].as_str(),
            cancelled.body["cancellation_reason"].as_str(),
            cancelled.body["cancelled_by"].as_str()
        ),
        (Some("cancelled"), Some("I am ill today, sorry"), Some("expert"))
    );

    // The client's list shows it cancelled, with the reason.
    ann_browser.goto(&format!("{base}/appointments")).await.unwrap();
    wait_for(
        &ann_browser,
        "the cancelled appointment with its reason",
        &format!(
            "(document.querySelector('#cancelled li[data-appointment-id=\"{appointment}\"]') || {{}})\
             .textContent?.includes('I am ill today, sorry')"
        ),
    )
    .await;
    check_page(&ann_browser, "appointments").await;
    screenshots(&ann_browser, "appointments").await;

    ann_browser.close().await.unwrap();
    expert_browser.close().await.unwrap();
    server.stop().await;
}

/// The agenda shows a calendar sync that failed, with the reason, and its retry brings the
/// appointment into the calendar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agenda_shows_a_failed_calendar_sync_and_retries_it() {
    use std::sync::atomic::Ordering;
    let Some(driver) = start_driver().await else {
        return;
    };
    let db = databases("the_agenda_shows_a_failed_calendar_sync_and_retries_it").remove(0);
    let calendar = std::sync::Arc::new(switchable::SwitchableCalendar::default());
    let server = TestServer::start_with(&db, vec![support::provider_of(calendar.clone())]).await;
    let api = &server.api;
    let base = api.base.clone();
    let (expert, expert_token) = new_expert(api).await;
    let rules: Vec<Value> = (0..7)
        .map(|d| json!({"day_of_week": d, "start_time": "08:00", "end_time": "18:00"}))
        .collect();
    let put = api
        .put(
            &format!("/api/v1/experts/{expert}/availability"),
            &expert_token,
            json!({"rules": rules}),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    switchable::use_calendar(api, &db.url, &expert).await;
    let client = api
        .post(
            "/api/v1/clients",
            ADMIN_TOKEN,
            json!({"name": "Cleo Client", "email": "cleo@example.com"}),
        )
        .await;
    let client = client.body["id"].as_str().unwrap().to_owned();
    let day = TimeZone::get(EXPERT_ZONE)
        .unwrap()
        .to_datetime(Timestamp::now() + SignedDuration::from_hours(48))
        .date();
    calendar.writes_down.store(true, Ordering::SeqCst);
    let booked = api
        .post(
            "/api/v1/appointments",
            ADMIN_TOKEN,
            json!({"expert_id": expert, "client_id": client,
                   "start_time": expert_instant(day, 9, 0), "end_time": expert_instant(day, 9, 30)}),
        )
        .await;
    assert_eq!(booked.status, 201, "{:?}", booked.body);
    let appointment = booked.body["id"].as_str().unwrap().to_owned();
    switchable::age_sync_job(&db.url, &appointment);
    let started = Instant::now();
    loop {
        let a = api
            .get(&format!("/api/v1/appointments/{appointment}"), ADMIN_TOKEN)
            .await;
        if a.body["sync_status"] == "failed" {
            break;
        }
        assert!(started.elapsed() < WAIT, "the sync never failed: {:?}", a.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let c = browser(&driver).await;
    sign_in(&c, &base, &expert_token, &format!("/experts/{expert}/appointments")).await;
    let failed = format!("#attention-list li[data-appointment-id=\"{appointment}\"]");
    let text = wait_for(
        &c,
        "the failed sync in the agenda",
        &format!("document.querySelector('{failed}')?.textContent"),
    )
    .await;
    let text = text.as_str().unwrap();
    assert!(
        text.contains("Your calendar could not be updated") && text.contains("cannot be reached"),
        "{text}"
    );
    check_page(&c, "agenda with a failed sync").await;
    calendar.writes_down.store(false, Ordering::SeqCst);
    click(&c, &format!("{failed} [data-action=retry]")).await;
    wait_for(
        &c,
        "the retry",
        "(document.querySelector('#notice').textContent || '').includes('Trying again')",
    )
    .await;
    let started = Instant::now();
    loop {
        let a = api
            .get(&format!("/api/v1/appointments/{appointment}"), ADMIN_TOKEN)
            .await;
        if a.body["sync_status"] == "synced" {
            break;
        }
        assert!(started.elapsed() < WAIT, "the retry never synced: {:?}", a.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.refresh().await.unwrap();
    wait_for(
        &c,
        "the agenda without the failure",
        &format!(
            "document.body.dataset.ready === 'true' && document.querySelector('#attention').hidden \
             && document.querySelector('#upcoming li[data-appointment-id=\"{appointment}\"]') !== null"
        ),
    )
    .await;
    c.close().await.unwrap();
    server.stop().await;
}

/// `/docs`: the vendored Swagger UI draws every operation of `GET /api/v1/openapi.json` in a real
/// browser under the pages' CSP (`'self'` only, no inline script): its scripts ran, and its
/// stylesheet applied.
#[tokio::test]
async fn the_api_reference_draws_every_operation_under_the_csp() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let db = databases("the_api_reference_draws_every_operation_under_the_csp").remove(0);
    let server = TestServer::start(&db).await;
    let base = server.api.base.clone();
    let doc: Value = reqwest::get(format!("{base}/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    let c = browser(&driver).await;
    c.goto(&format!("{base}/docs")).await.unwrap();
    let drawn = wait_for(
        &c,
        "every operation drawn by the API reference",
        &format!("document.querySelectorAll('.opblock').length >= {operations} && document.querySelectorAll('.opblock').length"),
    )
    .await;
    assert_eq!(drawn, json!(operations));
    let border = c
        .execute(
            "return getComputedStyle(document.querySelector('.opblock')).borderTopStyle;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(border, json!("solid"), "swagger-ui.css did not apply");
    c.close().await.unwrap();
    server.stop().await;
}

/// A weekly series from the booking page: where the expert takes series of up to four, the
/// confirmation offers "every week", lists each week as free, and one click books the four, as
/// four appointments of one series at the same local time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_books_a_weekly_series_of_four() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let db = databases("a_client_books_a_weekly_series_of_four").remove(0);
    let server = TestServer::start(&db).await;
    let api = &server.api;
    let base = api.base.clone();
    let (expert, expert_token) = expert_with_hours(api, 0..=6, "09:00", "17:00").await;
    let policy = api
        .put(
            &format!("/api/v1/experts/{expert}/booking-policy"),
            &expert_token,
            json!({"slot_duration_minutes": 60, "max_series_occurrences": 4}),
        )
        .await;
    assert_eq!(policy.status, 200, "{:?}", policy.body);
    let (client_id, client_token) = client_with_id(api, "Sam Series", "sam.series@example.com").await;

    let day = TimeZone::get(EXPERT_ZONE)
        .unwrap()
        .to_datetime(Timestamp::now() + SignedDuration::from_hours(48))
        .date();
    let ten = expert_instant(day, 10, 0);
    let c = browser(&driver).await;
    sign_in(&c, &base, &client_token, &format!("/book/{expert}")).await;
    let shown = open_day(&c, &base, &expert, day).await;
    assert!(shown.contains(&ten), "{shown:?}");
    click(&c, &format!("#slots button[data-slot-start=\"{ten}\"]")).await;
    wait_for(
        &c,
        "the repeat choice",
        "!document.querySelector('#confirm-repeat-field').hidden",
    )
    .await;
    set_value(&c, "#confirm-repeat", "4").await;
    wait_for(
        &c,
        "four free weeks listed",
        "document.querySelectorAll('#confirm-occurrences li[data-free=\"true\"]').length === 4",
    )
    .await;
    check_page(&c, "book, a weekly series").await;
    click(&c, "#confirm-book").await;
    wait_for(
        &c,
        "the first appointment's page",
        "location.pathname.startsWith('/appointments/')",
    )
    .await;
    let listed = api
        .get(&format!("/api/v1/clients/{client_id}/appointments"), &client_token)
        .await;
    let appointments = listed.body["appointments"].as_array().unwrap().clone();
    assert_eq!(appointments.len(), 4, "{:?}", listed.body);
    let series = appointments[0]["series_id"].as_str().unwrap();
    let berlin = TimeZone::get(EXPERT_ZONE).unwrap();
    for (k, a) in appointments.iter().enumerate() {
        assert_eq!(a["series_id"], series);
        let start: Timestamp = a["start_time"].as_str().unwrap().parse().unwrap();
        let local = berlin.to_datetime(start);
        assert_eq!((local.hour(), local.minute()), (10, 0), "{a}");
        assert_eq!(local.date(), day.checked_add((7 * k as i64).days()).unwrap(), "{a}");
    }
    c.close().await.unwrap();
    server.stop().await;
}

/// "Why can't clients book a time?" on the agenda: a Saturday without hours says so, a Monday
/// at 10:00 is bookable, and once a client books it the reason is that appointment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agenda_explains_why_a_time_is_not_bookable() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let db = databases("the_agenda_explains_why_a_time_is_not_bookable").remove(0);
    let server = TestServer::start(&db).await;
    let api = &server.api;
    let base = api.base.clone();
    let (expert, expert_token) = expert_with_hours(api, 1..=5, "09:00", "17:00").await;
    let mut monday = TimeZone::get(EXPERT_ZONE)
        .unwrap()
        .to_datetime(Timestamp::now() + SignedDuration::from_hours(48))
        .date();
    while monday.weekday() != availability_core::domain::jiff::civil::Weekday::Monday {
        monday = monday.tomorrow().unwrap();
    }
    let saturday = monday.checked_sub(2.days()).unwrap();

    let c = browser(&driver).await;
    let agenda = format!("/experts/{expert}/appointments");
    sign_in(&c, &base, &expert_token, &agenda).await;
    click(&c, "#why summary").await;
    let ask = |day: Date| {
        let c = c.clone();
        async move {
            set_value(&c, "#why-date", &day.to_string()).await;
            set_value(&c, "#why-time", "10:00").await;
            c.execute("document.querySelector('#why-result').replaceChildren();", vec![])
                .await
                .unwrap();
            click(&c, "#why-go").await;
            wait_for(
                &c,
                "the explanation",
                "document.querySelector('#why-result').firstChild !== null \
                 && document.querySelector('#why-result').getAttribute('aria-busy') === 'false'",
            )
            .await;
            c.execute(
                "const ok = document.querySelector('#why-result [data-bookable]'); \
                 return ok ? ['bookable'] : [...document.querySelectorAll('#why-result li')].map((li) => li.dataset.code);",
                vec![],
            )
            .await
            .unwrap()
        }
    };
    assert_eq!(ask(saturday).await, json!(["outside_hours"]));
    assert_eq!(ask(monday).await, json!(["bookable"]));
    let (client_id, _) = client_with_id(api, "Kim Why", "kim.why@example.com").await;
    let ten = expert_instant(monday, 10, 0);
    let booked = api
        .post(
            "/api/v1/appointments",
            ADMIN_TOKEN,
            json!({"expert_id": expert, "client_id": client_id, "start_time": ten,
                   "end_time": expert_instant(monday, 10, 30)}),
        )
        .await;
    assert_eq!(booked.status, 201, "{:?}", booked.body);
    assert_eq!(ask(monday).await, json!(["appointment"]));
    check_page(&c, "agenda, why not").await;
    c.close().await.unwrap();
    server.stop().await;
}

/// The schedules page: an expert whose weekday hours are 09:00-12:00 copies them into "Summer",
/// changes Monday to Friday to 14:00-16:00, gives it a season from 1 to 31 August next year and
/// saves; the page's preview of a week in August shows only the afternoon times, a week in
/// September still the morning ones, and the API has exactly what the page saved. Deleting the
/// default schedule is refused with the server's word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expert_makes_a_summer_schedule_for_august_and_the_preview_follows() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let db = databases("an_expert_makes_a_summer_schedule_for_august_and_the_preview_follows").remove(0);
    let server = TestServer::start(&db).await;
    let api = &server.api;
    let base = api.base.clone();
    let (expert, token) = expert_with_hours(api, 1..=5, "09:00", "12:00").await;
    // August next year is further ahead than the default 60 days clients may book.
    let policy = api
        .put(
            &format!("/api/v1/experts/{expert}/booking-policy"),
            &token,
            json!({"booking_horizon_days": 730}),
        )
        .await;
    assert_eq!(policy.status, 200, "{:?}", policy.body);
    let listed = api.get(&format!("/api/v1/experts/{expert}/schedules"), &token).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let default_id = listed.body["schedules"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        listed.body["schedules"][0]["is_default"],
        json!(true),
        "{:?}",
        listed.body
    );

    let year = TimeZone::get(EXPERT_ZONE)
        .unwrap()
        .to_datetime(Timestamp::now())
        .date()
        .year()
        + 1;
    let first_monday = |month: i8| {
        let mut day = Date::new(year, month, 1).unwrap();
        while day.weekday() != availability_core::domain::jiff::civil::Weekday::Monday {
            day = day.tomorrow().unwrap();
        }
        day
    };
    let (august, september) = (first_monday(8), first_monday(9));
    let (from, to) = (Date::new(year, 8, 1).unwrap(), Date::new(year, 8, 31).unwrap());
    let expected = |monday: Date, hours: &[i8]| -> Vec<String> {
        (0..5)
            .flat_map(move |d| {
                let day = monday.checked_add(d.days()).unwrap();
                hours
                    .iter()
                    .flat_map(move |&h| [expert_instant(day, h, 0), expert_instant(day, h, 30)])
            })
            .collect()
    };
    let summer_starts = expected(august, &[14, 15]);
    let usual_starts = expected(september, &[9, 10, 11]);

    let c = browser(&driver).await;
    let page = format!("/experts/{expert}/schedules");
    sign_in(&c, &base, &token, &page).await;
    wait_for(&c, "the schedules page", "document.body.dataset.ready === 'true'").await;
    wait_for(
        &c,
        "the default schedule listed",
        "document.querySelectorAll('#schedule-list li').length === 1 \
         && document.querySelector('#schedule-list li').textContent.includes('Default')",
    )
    .await;

    // "Summer": a copy of the default, then Monday to Friday 14:00-16:00.
    set_value(&c, "#new-schedule-name", "Summer").await;
    set_value(&c, "#new-schedule-from", &default_id).await;
    click(&c, "#create-schedule").await;
    wait_for(
        &c,
        "Summer created and open",
        "document.querySelectorAll('#schedule-list li').length === 2 \
         && document.querySelector('#schedule-name').value === 'Summer'",
    )
    .await;
    for d in 1..=5 {
        set_value(&c, &format!("#day-{d} .window input.start"), "14:00").await;
        set_value(&c, &format!("#day-{d} .window input.end"), "16:00").await;
    }
    wait_for(
        &c,
        "unsaved hours",
        "document.querySelector('#schedule-state').textContent.startsWith('Unsaved')",
    )
    .await;
    click(&c, "#save-schedule").await;
    wait_for(
        &c,
        "Summer saved",
        "document.querySelector('#schedule-state').textContent === 'All changes saved' \
         && !document.querySelector('#save-schedule').disabled",
    )
    .await;
    let listed = api.get(&format!("/api/v1/experts/{expert}/schedules"), &token).await;
    let schedules = listed.body["schedules"].as_array().unwrap().clone();
    assert_eq!(schedules.len(), 2, "{:?}", listed.body);
    assert_eq!(schedules[0]["id"], json!(default_id), "the default stays first");
    let summer = &schedules[1];
    assert_eq!(summer["name"], "Summer");
    assert_eq!(summer["is_default"], json!(false));
    assert_eq!(summer["timezone"], EXPERT_ZONE);
    let mut rules: Vec<(i64, String, String, bool)> = summer["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["day_of_week"].as_i64().unwrap(),
                r["start_time"].as_str().unwrap().to_owned(),
                r["end_time"].as_str().unwrap().to_owned(),
                r["is_available"].as_bool().unwrap(),
            )
        })
        .collect();
    rules.sort();
    let want: Vec<_> = (1..=5)
        .map(|d| (d, "14:00".to_owned(), "16:00".to_owned(), true))
        .collect();
    assert_eq!(rules, want, "{summer}");
    let summer_id = summer["id"].as_str().unwrap().to_owned();

    // Its season: 1 to 31 August.
    set_value(&c, "#period-schedule", &summer_id).await;
    set_value(&c, "#period-from", &from.to_string()).await;
    set_value(&c, "#period-to", &to.to_string()).await;
    click(&c, "#add-period").await;
    wait_for(
        &c,
        "the season listed",
        "document.querySelectorAll('#periods .period').length === 1 \
         && document.querySelector('#periods-state').textContent !== ''",
    )
    .await;
    click(&c, "#save-periods").await;
    wait_for(
        &c,
        "the seasons saved",
        "document.querySelector('#periods-state').textContent === '' \
         && !document.querySelector('#save-periods').disabled",
    )
    .await;
    let periods = api
        .get(&format!("/api/v1/experts/{expert}/schedule-periods"), &token)
        .await;
    assert_eq!(periods.status, 200, "{:?}", periods.body);
    let saved: Vec<Value> = periods.body["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| json!({"schedule_id": p["schedule_id"], "from_date": p["from_date"], "to_date": p["to_date"]}))
        .collect();
    assert_eq!(
        saved,
        vec![json!({"schedule_id": summer_id, "from_date": from.to_string(), "to_date": to.to_string()})],
        "{:?}",
        periods.body
    );

    // The preview of a week in August, then one in September.
    let week = |monday: Date| {
        let c = c.clone();
        async move {
            set_value(&c, "#preview-week", &monday.to_string()).await;
            wait_for(
                &c,
                "the week's preview",
                &format!(
                    "document.querySelector('#preview').getAttribute('aria-busy') === 'false' \
                     && document.querySelector('#preview [data-date=\"{monday}\"]') !== null"
                ),
            )
            .await;
            let v = c
                .execute(
                    "return [...document.querySelectorAll('#preview [data-start]')].map(e => e.dataset.start);",
                    vec![],
                )
                .await
                .unwrap();
            serde_json::from_value::<Vec<String>>(v).unwrap()
        }
    };
    let slots_of = |monday: Date| {
        let zone = TimeZone::get(EXPERT_ZONE).unwrap();
        let midnight = |day: Date| zone.to_ambiguous_timestamp(day.at(0, 0, 0, 0)).compatible().unwrap();
        let (start, end) = (midnight(monday), midnight(monday.checked_add(7.days()).unwrap()));
        format!("/api/v1/experts/{expert}/slots?from={start}&to={end}")
    };
    let shown_august = week(august).await;
    assert_eq!(shown_august, summer_starts, "the August week shows Summer's hours");
    check_page(&c, "schedules").await;
    screenshots(&c, "schedules").await;
    let shown_september = week(september).await;
    assert_eq!(
        shown_september, usual_starts,
        "the September week keeps the default hours"
    );
    for (monday, shown) in [(august, &shown_august), (september, &shown_september)] {
        let slots = api.get(&slots_of(monday), &token).await;
        assert_eq!(slots.status, 200, "{:?}", slots.body);
        let starts: Vec<String> = slots.body["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["start"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            &starts, shown,
            "the page shows what clients get for the week of {monday}"
        );
    }

    // The default schedule cannot be deleted: the server's 409 is shown. (The last message is
    // dismissed first: the sticky notice would cover the list.)
    c.execute(
        "const close = document.querySelector('#notice .notice-close'); if (close) close.click();",
        vec![],
    )
    .await
    .unwrap();
    click(
        &c,
        &format!("#schedule-list li[data-schedule-id=\"{default_id}\"] button"),
    )
    .await;
    wait_for(&c, "the default open", "document.querySelector('#make-default').hidden").await;
    click(&c, "#delete-schedule").await;
    wait_for(
        &c,
        "the refusal",
        "document.querySelector('#notice').textContent.includes('Not deleted')",
    )
    .await;
    let listed = api.get(&format!("/api/v1/experts/{expert}/schedules"), &token).await;
    assert_eq!(
        listed.body["schedules"].as_array().unwrap().len(),
        2,
        "{:?}",
        listed.body
    );
    c.close().await.unwrap();
    server.stop().await;
}

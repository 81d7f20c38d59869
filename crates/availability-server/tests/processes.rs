//! Real server processes (the binary cargo built for these tests): two processes on one
//! PostgreSQL never double-book, refuse a revoked or expired token at once, and data survive a
//! restart of the process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../tests/tests/support/mod.rs"]
mod support;

use serde_json::json;
use support::{databases, next_monday, postgres, race, ProcessServer, ADMIN_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_server_processes_on_one_postgres_never_double_book() {
    let Some(db) = postgres("two_server_processes_on_one_postgres_never_double_book") else {
        return;
    };
    let a = ProcessServer::spawn(&db).await;
    let b = ProcessServer::spawn(&db).await;
    let (expert, _) = a.api.expert_with_hours().await;
    let (client, client_token) = b.api.client_with_token().await;
    let day = next_monday();
    // Several slots in turn, each raced by both processes at once.
    for hour in ["09", "10", "11"] {
        let (start, end) = (format!("{day}T{hour}:00:00Z"), format!("{day}T{hour}:30:00Z"));
        let apis = [a.api.clone(), b.api.clone()];
        assert_eq!(
            race(&apis, &expert, &client, &client_token, &start, &end).await,
            (1, 49),
            "slot {start}"
        );
    }
    let list = b
        .api
        .get(
            &format!("/api/v1/clients/{client}/appointments?from={day}T00:00:00Z&to={day}T23:59:00Z"),
            ADMIN_TOKEN,
        )
        .await;
    assert_eq!(list.body["appointments"].as_array().unwrap().len(), 3);
    a.stop();
    b.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_on_one_postgres_refuse_a_revoked_or_expired_token_at_once() {
    let Some(db) = postgres("two_server_processes_on_one_postgres_refuse_a_revoked_or_expired_token_at_once") else {
        return;
    };
    let a = ProcessServer::spawn(&db).await;
    let b = ProcessServer::spawn(&db).await;
    let (expert, _) = a.api.expert_with_hours().await;
    let expert_path = format!("/api/v1/experts/{expert}");
    let issue = |expires_in_days: Option<i64>| {
        let api = a.api.clone();
        let expert = expert.clone();
        async move {
            let mut body = json!({"role": "expert", "subject_id": expert});
            if let Some(days) = expires_in_days {
                body["expires_in_days"] = json!(days);
            }
            let made = api.post("/api/v1/tokens", ADMIN_TOKEN, body).await;
            assert_eq!(made.status, 201, "{:?}", made.body);
            (
                made.body["token"].as_str().unwrap().to_owned(),
                made.body["id"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (revoked, revoked_id) = issue(None).await;
    let (expiring, expiring_id) = issue(Some(1)).await;

    // Both processes serve both tokens (and so have looked them up once already).
    for server in [&a, &b] {
        for token in [&revoked, &expiring] {
            assert_eq!(server.api.get(&expert_path, token).await.status, 200);
        }
    }
    // A browser session on B, opened with the token about to be revoked.
    let signed_in = b
        .api
        .client
        .post(format!("{}/session", b.api.base))
        .json(&json!({"token": revoked}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let cookie = support::set_cookie(&signed_in, "availability_session").unwrap();
    let session = || {
        b.api
            .client
            .get(format!("{}/session", b.api.base))
            .header("cookie", &cookie)
            .send()
    };
    assert_eq!(session().await.unwrap().status(), 200);

    // Listed by B without the secrets.
    let list = b
        .api
        .get(&format!("/api/v1/tokens?subject_id={expert}"), ADMIN_TOKEN)
        .await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let text = list.body.to_string();
    assert!(text.contains(&revoked_id) && text.contains(&expiring_id), "{text}");
    assert!(
        !text.contains(&revoked) && !text.contains(&expiring),
        "a secret in the list: {text}"
    );

    // Revoked through A: refused by B (and A) from the very next request, its session too.
    let gone = a
        .api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/tokens/{revoked_id}"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(gone.status, 204, "{:?}", gone.body);
    for server in [&b, &a] {
        let answer = server.api.get(&expert_path, &revoked).await;
        assert_eq!((answer.status.as_u16(), answer.code()), (401, "unauthorized"));
    }
    assert_eq!(
        session().await.unwrap().status(),
        401,
        "the session ended with its token"
    );

    // Expired (its time passed): refused by both at once; the other token was not touched.
    let store = availability_store::Store::open(&db.url).await.unwrap();
    availability_store::testing::expire_token(&store, expiring_id)
        .await
        .unwrap();
    for server in [&a, &b] {
        let answer = server.api.get(&expert_path, &expiring).await;
        assert_eq!((answer.status.as_u16(), answer.code()), (401, "unauthorized"));
        assert_eq!(server.api.get(&expert_path, ADMIN_TOKEN).await.status, 200);
    }
    a.stop();
    b.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survive_a_restart_of_the_server_process() {
    for db in databases("data_survive_a_restart_of_the_server_process") {
        let first = ProcessServer::spawn(&db).await;
        let (expert, expert_token) = first.api.expert_with_hours().await;
        let (client, client_token) = first.api.client_with_token().await;
        let day = next_monday();
        let booked = first
            .api
            .post(
                "/api/v1/appointments",
                &client_token,
                json!({"expert_id": expert, "client_id": client, "start_time": format!("{day}T10:00:00Z"), "end_time": format!("{day}T10:30:00Z")}),
            )
            .await;
        assert_eq!(booked.status, 201, "{:?}", booked.body);
        first.stop();

        let second = ProcessServer::spawn(&db).await;
        let again = second
            .api
            .get(
                &format!("/api/v1/appointments/{}", booked.body["id"].as_str().unwrap()),
                &client_token,
            )
            .await;
        assert_eq!(again.status, 200, "{}", db.label);
        assert_eq!(again.body, booked.body, "{}: the appointment is unchanged", db.label);
        let rules = second
            .api
            .get(&format!("/api/v1/experts/{expert}/availability"), &expert_token)
            .await;
        assert_eq!(
            rules.body["rules"].as_array().unwrap().len(),
            5,
            "{}: the rules are still there",
            db.label
        );
        let slots = second
            .api
            .slots(
                &expert,
                &client_token,
                &format!("{day}T00:00:00Z"),
                &format!("{day}T23:59:00Z"),
            )
            .await;
        assert!(
            !slots.iter().any(|(s, _)| s == &format!("{day}T10:00:00Z")),
            "{}: the booked slot stays taken",
            db.label
        );
        second.stop();
    }
}

/// Starts the server binary on a new SQLite file as a newcomer does (`--demo`, RUST_LOG and
/// LOG_FORMAT as given), waits for /readyz, stops it, and returns what it wrote to stdout and
/// stderr (pipes, not a terminal).
async fn first_start(log_format: Option<&str>) -> (String, String) {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(support::server_binary());
    command
        .arg("--demo")
        .current_dir(dir.path())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("new.db").display()),
        )
        .env("BIND", format!("127.0.0.1:{port}"))
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .env_remove("ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match log_format {
        Some(f) => command.env("LOG_FORMAT", f),
        None => command.env_remove("LOG_FORMAT"),
    };
    let mut child = command.spawn().unwrap();
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..400 {
        if http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let (mut out, mut err) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(ready, "the server never became ready; it wrote:\n{out}\n{err}");
    (out, err)
}

/// A newcomer's first `cargo run -p availability-server -- --demo` on a new database: nothing
/// but INFO lines, and no colour escapes in a log that goes to a pipe. Several starts, because
/// the old failure (the pool's connections setting up a new SQLite file together, "database is
/// locked") came in about one start of ten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_on_a_new_sqlite_file_prints_no_error_or_warning() {
    for _ in 0..8 {
        let (out, err) = first_start(None).await;
        assert!(out.contains("listening on http://127.0.0.1:"), "{out}");
        for line in out.lines().chain(err.lines()) {
            assert!(
                !line.contains("ERROR") && !line.contains("WARN"),
                "a first start printed: {line}\n{err}"
            );
            assert!(!line.contains('\u{1b}'), "colour escapes in a piped log: {line:?}");
        }
        assert!(err.contains("INFO"), "the log goes to stderr: {err}");
    }
}

/// LOG_FORMAT=json: every log line is one JSON object with a level and a message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let (out, err) = first_start(Some("json")).await;
    assert!(out.contains("listening on"), "people's output stays on stdout: {out}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "the server logged nothing");
    for line in lines {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
        assert!(event["level"].is_string() && event["timestamp"].is_string(), "{line}");
        assert!(event["fields"]["message"].is_string(), "{line}");
    }
}

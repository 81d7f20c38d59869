//! Real server processes (the binary cargo built for these tests): two processes on one
//! PostgreSQL never double-book, and data survive a restart of the process.

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

//! The OpenAPI document (`GET /api/v1/openapi.json`) and the interactive reference (`GET /docs`)
//! over real HTTP: the document is valid OpenAPI 3.1 by an independent validator
//! (`openapi-spec-validator` from PyPI); it has every route of docs/api.md's route tables and no
//! route they lack; every error answer it describes is the contract's error shape; real answers
//! of the routes the fuzzer cannot reach with ids it does not know (a booking, its cancel, a
//! session, a webhook endpoint and its deliveries, ...) match their schemas in it; and /docs is
//! served from the binary under the pages' CSP, with no inline script and nothing from another
//! origin. Generated requests are held to the document by scripts/schemathesis.sh.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;

use availability_store::testing;
use reqwest::Method;
use reqwest::StatusCode;
use serde_json::json;
use serde_json::Value;
use support::python::{python_or_skip, run_script};
use support::{next_monday, TestDb, TestServer, ADMIN_TOKEN};

/// Validates an OpenAPI document (stdin) with openapi-spec-validator; prints its version.
const OPENAPI_VALIDATOR: &str = r#"
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
spec = json.load(sys.stdin)
validate(spec, cls=OpenAPIV31SpecValidator)
print(json.dumps({"openapi": spec["openapi"]}))
"#;

/// Validates answers (stdin: {doc, answers:[{method, path, status, body}]}) against the schema the
/// document gives their operation and status (JSON Schema 2020-12, formats checked); prints the
/// number checked, or fails naming each answer that does not match.
const ANSWER_VALIDATOR: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
input = json.load(sys.stdin)
doc = input["doc"]
problems = []
for a in input["answers"]:
    op = doc["paths"][a["path"]][a["method"]]
    response = op["responses"].get(str(a["status"]))
    if response is None:
        problems.append(f'{a["method"]} {a["path"]}: status {a["status"]} is not in the document')
        continue
    if "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response["content"]["application/json"]["schema"]
    root = {"components": doc["components"], "allOf": [schema]}
    validator = Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for error in validator.iter_errors(a["body"]):
        problems.append(f'{a["method"]} {a["path"]} {a["status"]}: {error.message} at {list(error.absolute_path)}')
if problems:
    sys.exit("answers that do not match the document:\n" + "\n".join(problems))
print(json.dumps({"checked": len(input["answers"])}))
"#;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// `METHOD /path` with every `{parameter}` written `{}`, so a parameter's name may differ
/// between the prose and the code.
fn route(method: &str, path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if !in_param => out.push(c),
            _ => {}
        }
    }
    format!("{} {out}", method.to_ascii_uppercase())
}

/// The routes of docs/api.md's tables: each row whose first cell starts with `` `METHOD /path ``
/// (a query, `[optional part]` or body after the path is left out).
fn documented_routes() -> BTreeSet<String> {
    let api_md = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md");
    let text = std::fs::read_to_string(&api_md).unwrap();
    let mut routes = BTreeSet::new();
    for line in text.lines() {
        let Some(cell) = line.strip_prefix("| `") else {
            continue;
        };
        let Some((code, _)) = cell.split_once('`') else {
            continue;
        };
        let Some((method, path)) = code.split_once(' ') else {
            continue;
        };
        if !METHODS.contains(&method) || !path.starts_with('/') {
            continue;
        }
        let path = path.split(['?', '[', ' ']).next().unwrap();
        routes.insert(route(method, path));
    }
    routes
}

/// The operations of the document, as `METHOD /path`.
fn document_routes(doc: &Value) -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if METHODS.contains(&method.to_ascii_uppercase().as_str()) {
                routes.insert(route(method, path));
            }
        }
    }
    routes
}

async fn fetch(url: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let res = reqwest::get(url).await.unwrap();
    (res.status(), res.headers().clone(), res.text().await.unwrap())
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1_and_has_every_route_of_api_md() {
    let db = TestDb {
        label: "sqlite",
        url: testing::fresh_sqlite_url(),
    };
    let server = TestServer::start(&db).await;
    // No token: the /docs page reads it before anyone signs in.
    let (status, headers, body) = fetch(&format!("{}/api/v1/openapi.json", server.api.base)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(header(&headers, "content-type").starts_with("application/json"));
    assert_eq!(header(&headers, "cache-control"), "no-store");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );

    let documented = documented_routes();
    let described = document_routes(&doc);
    assert!(
        documented.len() >= 50,
        "docs/api.md's route tables were not read: {documented:?}"
    );
    let not_described: Vec<&String> = documented.difference(&described).collect();
    assert!(
        not_described.is_empty(),
        "routes in docs/api.md's route tables that GET /api/v1/openapi.json lacks: {not_described:?}. \
         Annotate the handler with #[utoipa::path(...)] and add its name to its module's `Doc` \
         (see `routes::openapi` in crates/availability-server/src/routes/mod.rs)"
    );
    let not_documented: Vec<&String> = described.difference(&documented).collect();
    assert!(
        not_documented.is_empty(),
        "routes in GET /api/v1/openapi.json that no route table of docs/api.md has: {not_documented:?}. \
         Add a row for each to the right table of docs/api.md (`| \\`METHOD /path\\` ... |`)"
    );

    // Every error answer it describes is {"error":{"code","message"}}, and every operation says
    // what it answers when it works.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2') || s.starts_with('3')),
                "{method} {path} has no success answer"
            );
            for (status, response) in responses {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let response = match response["$ref"].as_str() {
                    Some(r) => &doc["components"]["responses"][r.rsplit('/').next().unwrap()],
                    None => response,
                };
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorAnswer",
                    "{method} {path} {status}"
                );
            }
        }
    }

    if let Some(python) = python_or_skip("the OpenAPI document's validation") {
        let checked = run_script(&python, OPENAPI_VALIDATOR, &body);
        assert_eq!(checked["openapi"], doc["openapi"]);
    }
    server.stop().await;
}

#[tokio::test]
async fn docs_are_served_from_the_binary_under_the_pages_csp() {
    let db = TestDb {
        label: "sqlite",
        url: testing::fresh_sqlite_url(),
    };
    let server = TestServer::start(&db).await;
    let base = &server.api.base;
    let (status, headers, html) = fetch(&format!("{base}/docs")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&headers, "content-type").starts_with("text/html"));
    let csp = header(&headers, "content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
    ] {
        assert!(csp.contains(directive), "CSP {csp:?} lacks {directive:?}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");

    // No inline script (the CSP would refuse it), and every file from this server.
    let mut assets = Vec::new();
    for tag in html.split("<script").skip(1) {
        let tag = &tag[..tag.find('>').unwrap()];
        let src = tag.split("src=\"").nth(1).map(|s| &s[..s.find('"').unwrap()]);
        let src = src.unwrap_or_else(|| panic!("an inline script in /docs: <script{tag}>"));
        let rest = html.split(&format!("src=\"{src}\"")).nth(1).unwrap();
        assert!(rest[rest.find('>').unwrap() + 1..]
            .trim_start()
            .starts_with("</script>"));
        assets.push((src.to_owned(), "text/javascript"));
    }
    for tag in html.split("<link").skip(1) {
        if tag.contains("rel=\"stylesheet\"") {
            let href = tag.split("href=\"").nth(1).unwrap();
            assets.push((href[..href.find('"').unwrap()].to_owned(), "text/css"));
        }
    }
    assert_eq!(assets.len(), 3, "{assets:?}");
    for (asset, kind) in &assets {
        assert!(
            asset.starts_with("/assets/"),
            "{asset} is not one of this server's files"
        );
        let (status, headers, body) = fetch(&format!("{base}{asset}")).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert!(header(&headers, "content-type").starts_with(kind), "{asset}");
        assert!(!body.is_empty(), "{asset}");
        if asset.ends_with("docs.js") {
            assert!(body.contains("/api/v1/openapi.json"), "{body}");
        }
    }
    server.stop().await;
}

/// One answer, with the operation (as the document writes its path) that gave it.
struct Seen {
    method: &'static str,
    template: &'static str,
    status: u16,
    body: Value,
}

#[tokio::test]
async fn real_answers_match_their_schemas_in_the_document() {
    let db = TestDb {
        label: "sqlite",
        url: testing::fresh_sqlite_url(),
    };
    let server = TestServer::start(&db).await;
    let api = &server.api;
    let mut seen: Vec<Seen> = Vec::new();
    let mut see = |method: &'static str, template: &'static str, answer: support::Answer| {
        let body = answer.body.clone();
        seen.push(Seen {
            method,
            template,
            status: answer.status.as_u16(),
            body: answer.body,
        });
        body
    };

    let (expert, expert_token) = api.expert_with_hours().await;
    let (client, client_token) = api.client_with_token().await;
    let e = format!("/api/v1/experts/{expert}");
    see("get", "/api/v1/experts/{id}", api.get(&e, &client_token).await);
    see(
        "get",
        "/api/v1/experts/{id}/availability",
        api.get(&format!("{e}/availability"), &expert_token).await,
    );
    let policy = json!({"slot_duration_minutes": 30, "video": "static", "video_url": "https://meet.example.com/ada"});
    see(
        "put",
        "/api/v1/experts/{id}/booking-policy",
        api.put(&format!("{e}/booking-policy"), &expert_token, policy).await,
    );
    see(
        "get",
        "/api/v1/experts/{id}/booking-policy",
        api.get(&format!("{e}/booking-policy"), &client_token).await,
    );
    let day = next_monday();
    let (from, to) = (format!("{day}T00:00:00Z"), format!("{day}T23:59:00Z"));
    let slots = see(
        "get",
        "/api/v1/experts/{id}/slots",
        api.get(
            &format!("{e}/slots?from={from}&to={to}&timezone=America/New_York"),
            &client_token,
        )
        .await,
    );
    let start = slots["slots"][0]["start"].as_str().unwrap().to_owned();
    see(
        "get",
        "/api/v1/experts/{id}/availability/explain",
        api.get(&format!("{e}/availability/explain?start={from}"), &expert_token)
            .await,
    );
    let booked = see(
        "post",
        "/api/v1/appointments",
        api.post(
            "/api/v1/appointments",
            &client_token,
            json!({"expert_id": expert, "client_id": client, "start_time": start,
                   "end_time": slots["slots"][0]["end"]}),
        )
        .await,
    );
    let a = format!("/api/v1/appointments/{}", booked["id"].as_str().unwrap());
    see("get", "/api/v1/appointments/{id}", api.get(&a, &expert_token).await);
    see(
        "post",
        "/api/v1/appointments/{id}/cancel",
        api.post(&format!("{a}/cancel"), &client_token, json!({"reason": "moved"}))
            .await,
    );
    see(
        "get",
        "/api/v1/experts/{id}/appointments",
        api.get(&format!("{e}/appointments"), &expert_token).await,
    );
    see(
        "get",
        "/api/v1/clients/{id}/appointments",
        api.get(&format!("/api/v1/clients/{client}/appointments"), &client_token)
            .await,
    );
    see(
        "get",
        "/api/v1/providers",
        api.get("/api/v1/providers", &client_token).await,
    );
    see(
        "get",
        "/api/v1/experts/{id}/integrations",
        api.get(&format!("{e}/integrations"), &expert_token).await,
    );
    see(
        "post",
        "/api/v1/experts/{id}/ics-feed",
        api.post(&format!("{e}/ics-feed"), &expert_token, json!({})).await,
    );
    see(
        "post",
        "/api/v1/tokens",
        api.post(
            "/api/v1/tokens",
            ADMIN_TOKEN,
            json!({"role": "client", "subject_id": client, "expires_in_days": 1}),
        )
        .await,
    );
    see("get", "/api/v1/tokens", api.get("/api/v1/tokens", ADMIN_TOKEN).await);
    let endpoint = see(
        "post",
        "/api/v1/webhook-endpoints",
        api.post(
            "/api/v1/webhook-endpoints",
            ADMIN_TOKEN,
            json!({"url": "http://127.0.0.1:9/hooks", "events": ["appointment.created"]}),
        )
        .await,
    );
    let w = format!("/api/v1/webhook-endpoints/{}", endpoint["id"].as_str().unwrap());
    // A booking after the endpoint exists, so that it has a delivery to list.
    let second = &slots["slots"][1];
    let booked = api
        .post(
            "/api/v1/appointments",
            &client_token,
            json!({"expert_id": expert, "client_id": client, "start_time": second["start"], "end_time": second["end"]}),
        )
        .await;
    assert_eq!(booked.status, 201, "{:?}", booked.body);
    see(
        "get",
        "/api/v1/webhook-endpoints",
        api.get("/api/v1/webhook-endpoints", ADMIN_TOKEN).await,
    );
    see(
        "patch",
        "/api/v1/webhook-endpoints/{id}",
        api.patch(&w, ADMIN_TOKEN, json!({"enabled": true})).await,
    );
    let deliveries = see(
        "get",
        "/api/v1/webhook-endpoints/{id}/deliveries",
        api.get(&format!("{w}/deliveries"), ADMIN_TOKEN).await,
    );
    assert!(!deliveries["deliveries"].as_array().unwrap().is_empty(), "{deliveries}");
    let session = api
        .call(Method::POST, "/session", None, Some(&json!({"token": expert_token})))
        .await;
    see("post", "/session", session);
    see("get", "/healthz", api.call(Method::GET, "/healthz", None, None).await);
    see("get", "/readyz", api.call(Method::GET, "/readyz", None, None).await);
    // Refusals: the error shape.
    see(
        "get",
        "/api/v1/appointments/{id}",
        api.get(&format!("/api/v1/appointments/{expert}"), ADMIN_TOKEN).await,
    );
    see(
        "put",
        "/api/v1/experts/{id}/booking-policy",
        api.put(
            &format!("{e}/booking-policy"),
            &expert_token,
            json!({"slot_duration_minutes": 1}),
        )
        .await,
    );
    see(
        "get",
        "/api/v1/experts/{id}/slots",
        api.get(&format!("{e}/slots?from=x&to=y"), &client_token).await,
    );

    for s in &seen {
        assert!(s.status < 500, "{} {}: {} {}", s.method, s.template, s.status, s.body);
    }
    if let Some(python) = python_or_skip("checking real answers against the OpenAPI document") {
        let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", api.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let answers: Vec<Value> = seen
            .iter()
            .map(|s| json!({"method": s.method, "path": s.template, "status": s.status, "body": s.body}))
            .collect();
        let input = json!({"doc": doc, "answers": answers}).to_string();
        let checked = run_script(&python, ANSWER_VALIDATOR, &input);
        assert_eq!(checked["checked"], json!(seen.len()));
    }
    server.stop().await;
}

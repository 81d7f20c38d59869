//! The OpenAPI document (`GET /api/v1/openapi.json`) and the interactive reference (`GET /docs`)
//! over real HTTP: the document is valid OpenAPI 3.1 by an independent validator
//! (`openapi-spec-validator` from PyPI); it has every route of docs/api.md's route tables and no
//! route they lack; every error answer it describes is the contract's error shape; and /docs is
//! served from the binary under the pages' CSP, with no inline script and nothing from another
//! origin. The server's answers are held to the document by scripts/schemathesis.sh.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;

use availability_store::testing;
use reqwest::StatusCode;
use serde_json::Value;
use support::python::{python_or_skip, run_script};
use support::{TestDb, TestServer};

/// Validates an OpenAPI document (stdin) with openapi-spec-validator; prints its version.
const OPENAPI_VALIDATOR: &str = r#"
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
spec = json.load(sys.stdin)
validate(spec, cls=OpenAPIV31SpecValidator)
print(json.dumps({"openapi": spec["openapi"]}))
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

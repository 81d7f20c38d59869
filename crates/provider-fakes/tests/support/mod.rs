//! Helpers the fakes' tests share: a client that never follows redirects, PKCE, and the browser
//! leg of the OAuth code flow.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::Value;

pub const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";

/// Token endpoints must never be followed through redirects; neither does the authorize leg here,
/// so the test sees the provider's 302.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A PKCE pair: (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let verifier = format!(
        "verifier-{}-{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
    (verifier, challenge)
}

/// The query of a redirect's Location.
pub fn location_query(response: &reqwest::Response) -> BTreeMap<String, String> {
    assert_eq!(response.status(), StatusCode::FOUND, "authorize answers a redirect");
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(REDIRECT_URI),
        "redirects to the client: {location}"
    );
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap()
        .into_iter()
        .collect()
}

/// GET authorize with `params`; returns the redirect's query.
pub async fn authorize(auth_url: &str, params: &[(&str, &str)]) -> BTreeMap<String, String> {
    let response = http().get(auth_url).query(params).send().await.unwrap();
    location_query(&response)
}

/// POST a form to a token endpoint; returns (status, JSON body).
pub async fn post_form(url: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = http().post(url).form(form).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A JSON call with a bearer token; returns (status, JSON body or Null).
pub async fn call(method: reqwest::Method, url: &str, token: &str, body: Option<&Value>) -> (StatusCode, Value) {
    let mut request = http().request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub async fn get(url: &str, token: &str) -> (StatusCode, Value) {
    call(reqwest::Method::GET, url, token, None).await
}

pub async fn post(url: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    call(reqwest::Method::POST, url, token, Some(body)).await
}

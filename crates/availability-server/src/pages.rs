//! The pages of api.md: plain HTML shells and ES modules from `web/`, embedded in the binary (a
//! debug build reads them from disk, so editing a page needs no rebuild). The pages hold no data:
//! they call the JSON API with the session cookie, so every rule of the API applies to them too.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Web;

/// Scripts and styles only from this server; nothing may frame the pages (clickjacking).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/",
        web::get().to(|req: HttpRequest| async move { page(&req, "index.html") }),
    )
    .route(
        "/experts",
        web::get().to(|req: HttpRequest| async move { page(&req, "directory.html") }),
    )
    .route(
        "/experts/{id}/appointments",
        web::get().to(|req: HttpRequest| async move { page(&req, "agenda.html") }),
    )
    .route(
        "/appointments",
        web::get().to(|req: HttpRequest| async move { page(&req, "appointments.html") }),
    )
    .route(
        "/experts/{id}/manage",
        web::get().to(|req: HttpRequest| async move { page(&req, "manage.html") }),
    )
    .route(
        "/experts/{id}/calendars",
        web::get().to(|req: HttpRequest| async move { page(&req, "calendars.html") }),
    )
    .route(
        "/experts/{id}/schedules",
        web::get().to(|req: HttpRequest| async move { page(&req, "schedules.html") }),
    )
    .route(
        "/book/{expert_id}",
        web::get().to(|req: HttpRequest| async move { page(&req, "book.html") }),
    )
    .route(
        "/appointments/{id}",
        web::get().to(|req: HttpRequest| async move { page(&req, "appointment.html") }),
    )
    // The interactive API reference: Swagger UI (vendored in web/assets/swagger-ui) drawing
    // GET /api/v1/openapi.json.
    .route(
        "/docs",
        web::get().to(|req: HttpRequest| async move { page(&req, "docs.html") }),
    )
    .route("/assets/{file:.+}", web::get().to(asset));
}

fn page(req: &HttpRequest, name: &str) -> Result<HttpResponse, ApiError> {
    serve(req, &format!("pages/{name}"))
}

async fn asset(req: HttpRequest, file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    if file.contains("..") {
        return Err(ApiError::not_found("asset", file.as_str()));
    }
    serve(&req, &format!("assets/{file}"))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// One embedded file, revalidated by its hash: browsers keep it and ask "still this one?", so a
/// new release is picked up at once and an unchanged file costs a 304.
fn serve(req: &HttpRequest, path: &str) -> Result<HttpResponse, ApiError> {
    let file = Web::get(path).ok_or_else(|| ApiError::not_found("page", path))?;
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut answer = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    answer
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .insert_header((header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY));
    if fresh {
        return Ok(answer.finish());
    }
    Ok(answer
        .insert_header((header::CONTENT_TYPE, content_type(path)))
        .body(file.data.into_owned()))
}

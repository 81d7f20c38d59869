//! The OpenAPI 3.1 document's frame: its info, the ways to authenticate (a token, the pages' session,
//! METRICS_TOKEN), and the error answers every operation shares (added to each operation here, so a
//! route's annotation lists only the answers of its own: its 2xx, and its 409 and 422 codes). The
//! operations come from the `#[utoipa::path]` annotations next to the handlers; `routes::openapi`
//! puts them together.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Response, ResponseBuilder,
};
use utoipa::openapi::{ObjectBuilder, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::api_schema::ErrorAnswer;

/// The name of the bearer-token security scheme (`Authorization: Bearer <token>`).
pub(crate) const BEARER: &str = "bearer";
/// The name of the session-cookie security scheme of the pages.
pub(crate) const SESSION: &str = "session_cookie";

/// The shared error answers: (status, component name, what the status means here).
const SHARED_ERRORS: &[(&str, &str, &str)] = &[
    (
        "400",
        "BadRequest",
        "`invalid_json` (malformed JSON or a wrong JSON type), `invalid_parameter` (an unparseable \
         query, path or id)",
    ),
    (
        "401",
        "Unauthorized",
        "`unauthorized`: no token, or an unknown, revoked or expired one",
    ),
    (
        "403",
        "Forbidden",
        "`forbidden` (the token may not act on this), `csrf_token_invalid` (a session write without \
         its X-CSRF-Token)",
    ),
    ("404", "NotFound", "`not_found`: an unknown id"),
    ("413", "PayloadTooLarge", "`payload_too_large`"),
    (
        "422",
        "InvalidText",
        "`invalid_text`: a text of the body holds the NUL character (U+0000)",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "`unsupported_media_type`: send JSON with Content-Type: application/json",
    ),
    (
        "429",
        "TooManyAttempts",
        "`too_many_attempts`: too many failed authentications from this address; wait Retry-After seconds",
    ),
    (
        "503",
        "DatabaseUnavailable",
        "`database_unavailable`: the database cannot be reached",
    ),
];

/// The document's frame, before the operations are merged in.
pub(crate) fn frame() -> OpenApi {
    let mut components = ComponentsBuilder::new()
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from POST /api/v1/tokens (or ADMIN_TOKEN): admin, expert or client",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("METRICS_TOKEN (GET /metrics on the main listener)"))
                    .build(),
            ),
        )
        .security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::session::SESSION_COOKIE,
                "The pages' session (POST /session); writes also need the X-CSRF-Token header",
            ))),
        )
        .schema(ErrorAnswer::name(), ErrorAnswer::schema());
    for (status, name, description) in SHARED_ERRORS {
        components = components.response(*name, error_response(status, description));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Availability and booking engine API")
                .version("1")
                .description(Some(
                    "The v1 HTTP API of availability-server: experts, their hours and booking \
                     policy, slots, appointments, calendar integrations, outgoing webhooks and \
                     calendar feeds. Times are RFC 3339, answered in UTC unless a `timezone` asks \
                     for another zone. Every error answer is `{\"error\":{\"code\",\"message\"}}`. \
                     docs/api.md is the prose reference.",
                ))
                .build(),
        )
        .components(Some(components.build()))
        // Every operation takes a token or the session unless its annotation says `security(())`.
        .security(Some(vec![
            SecurityRequirement::new(BEARER, Vec::<String>::new()),
            SecurityRequirement::new(SESSION, Vec::<String>::new()),
        ]))
        .build()
}

fn error_response(status: &str, description: &str) -> Response {
    let content = ContentBuilder::new()
        .schema(Some(RefOr::<utoipa::openapi::schema::Schema>::Ref(
            Ref::from_schema_name(ErrorAnswer::name()),
        )))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    if status == "429" {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::Integer))
                .description(Some("seconds to wait"))
                .build(),
        );
    }
    response.build()
}

/// Adds to every operation the shared error answers it can give and that its annotation does not
/// list: 401, 403 and 429 where a credential is asked for, 400 where something is parsed, 413 and
/// 415 where a body is read, and 404 and 503 everywhere.
pub(crate) fn add_shared_errors(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let authenticated = operation.security.as_ref().is_none_or(|s| !s.is_empty() && !is_open(s));
            let mut statuses = vec!["404", "503"];
            // The throttle and the roles are the API's and the session's.
            let api = path.starts_with("/api/") || path == "/session";
            if api && (authenticated || path == "/session") {
                statuses.extend(["401", "403", "429"]);
            }
            if operation.parameters.as_ref().is_some_and(|p| !p.is_empty()) || path.contains('{') {
                statuses.push("400");
            }
            // Webhook deliveries are read raw by their provider, and a sign-in's token only looked up.
            let json_body = !(path.starts_with("/webhooks/") || path == "/session");
            if operation.request_body.is_some() {
                statuses.extend(["400", "413", "415"]);
            }
            if operation.request_body.is_some() && json_body {
                statuses.push("422");
                name_invalid_text(operation);
            }
            add(operation, &statuses);
        }
    }
}

/// Every JSON body is refused with 422 `invalid_text` when a text holds U+0000: said in the
/// operation's own 422, if it has one (the shared one is added otherwise).
fn name_invalid_text(operation: &mut Operation) {
    if let Some(RefOr::T(response)) = operation.responses.responses.get_mut("422") {
        response
            .description
            .push_str(", `invalid_text` (a NUL character in a text)");
    }
}

/// `security(())` in an annotation: an operation anyone may call.
fn is_open(requirements: &[SecurityRequirement]) -> bool {
    requirements.iter().all(|r| *r == SecurityRequirement::default())
}

fn add(operation: &mut Operation, statuses: &[&str]) {
    for status in statuses {
        let Some((_, name, _)) = SHARED_ERRORS.iter().find(|(s, _, _)| s == status) else {
            continue;
        };
        operation
            .responses
            .responses
            .entry((*status).to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
    }
}

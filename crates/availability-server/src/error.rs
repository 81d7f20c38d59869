//! The one JSON error shape of the API, `{"error":{"code","message"}}`, and the mapping of every
//! library error onto HTTP status codes (only this crate speaks HTTP).

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use availability_core::CoreError;
use availability_domain::{DomainError, IntegrationType};
use availability_store::StoreError;
use serde_json::json;

use crate::provider_words::ProviderTrouble;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// snake_case code.
    pub code: &'static str,
    /// For a person, in the server's own words; never a secret, a provider's answer or an
    /// upstream host.
    pub message: String,
    /// Seconds for a Retry-After header (429).
    pub retry_after: Option<u64>,
    /// A provider's failure: the message is rewritten with the provider's display name from the
    /// registry (see [`ApiError::naming`]) before it is answered.
    pub provider: Option<(IntegrationType, ProviderTrouble)>,
    /// More fields of the error object beside code and message (a series' conflicting
    /// occurrences).
    pub details: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

impl ApiError {
    /// Any status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            provider: None,
            details: None,
        }
    }

    /// The answer's body: `{"error": {code, message, ...details}}`.
    pub fn body(&self) -> serde_json::Value {
        let mut error = serde_json::Map::new();
        error.insert("code".into(), json!(self.code));
        error.insert("message".into(), json!(self.message));
        if let Some(details) = &self.details {
            error.extend(details.as_ref().clone());
        }
        json!({ "error": error })
    }
    /// 429 `too_many_attempts`: too many failed authentications from the caller's address.
    pub fn too_many_attempts(retry_after: std::time::Duration) -> Self {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        Self {
            retry_after: Some(seconds.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many failed sign-in attempts from this address; wait and try again",
            )
        }
    }
    /// A provider's failure, in the server's words (the detail is logged by the caller).
    fn provider(
        status: StatusCode,
        code: &'static str,
        integration: IntegrationType,
        trouble: ProviderTrouble,
    ) -> Self {
        Self {
            provider: Some((integration, trouble)),
            ..Self::new(status, code, trouble.words(integration.as_str()))
        }
    }
    /// The provider's failure named as people know the provider (`display_name` from the
    /// registry); other errors as they are.
    pub fn naming(mut self, display_name: &str) -> Self {
        if let Some((_, trouble)) = self.provider {
            self.message = trouble.words(display_name);
        }
        self
    }
    /// 400 for malformed input.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// 422 for well-formed but invalid input.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }
    /// 403.
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token may not act on this resource",
        )
    }
    /// 404.
    pub fn not_found(what: &str, id: impl fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} {id} not found"))
    }
    fn internal(message: impl fmt::Display) -> Self {
        // The detail goes to the log, not to the caller.
        tracing::error!("internal error: {message}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "something went wrong on our side",
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut answer = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            answer.insert_header((actix_web::http::header::RETRY_AFTER, seconds));
        }
        answer.json(self.body())
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let code = match &e {
            DomainError::InvalidDayOfWeek(_) => "invalid_day_of_week",
            DomainError::InvalidLocalTime(_) => "invalid_time",
            DomainError::StartAtEndOfDay | DomainError::EndNotAfterStart { .. } => "end_before_start",
            DomainError::UnknownTimeZone(_) => "unknown_timezone",
            DomainError::OutOfRange { .. } => "out_of_range",
            DomainError::DuplicateOverride(_) => "duplicate_override",
            DomainError::InvalidVideo(_) => "invalid_video",
            DomainError::InvalidScheduleName => "invalid_name",
            DomainError::UnknownSchedule(_) => "unknown_schedule",
            DomainError::PeriodEndsBeforeStart { .. } => "invalid_period",
            DomainError::OverlappingPeriods { .. } => "overlapping_periods",
            _ => "invalid",
        };
        ApiError::invalid(code, e.to_string())
    }
}

impl From<CoreError> for ApiError {
    /// One code per variant; messages are the variants' own words.
    fn from(e: CoreError) -> Self {
        use StatusCode as S;
        let (status, code) = match &e {
            CoreError::NotFound { what, id } => return ApiError::not_found(what, id),
            CoreError::Invalid(d) => return d.clone().into(),
            CoreError::WindowReversed => (S::UNPROCESSABLE_ENTITY, "invalid_window"),
            CoreError::WindowTooLong { .. } => (S::UNPROCESSABLE_ENTITY, "window_too_long"),
            CoreError::DurationNotOffered { .. } => (S::UNPROCESSABLE_ENTITY, "duration_not_offered"),
            CoreError::SlotTaken => (S::CONFLICT, "slot_taken"),
            CoreError::SlotUnavailable(_) => (S::UNPROCESSABLE_ENTITY, "slot_unavailable"),
            CoreError::LimitReached(_) => (S::UNPROCESSABLE_ENTITY, "limit_reached"),
            CoreError::HoldExpired(_) => (S::CONFLICT, "hold_expired"),
            CoreError::SeriesRefused(refusal) => (S::UNPROCESSABLE_ENTITY, refusal.code()),
            CoreError::SeriesConflict(occurrences) => {
                let mut error = ApiError::new(S::CONFLICT, "series_conflict", e.to_string());
                let mut details = serde_json::Map::new();
                details.insert("occurrences".into(), json!(occurrences));
                error.details = Some(Box::new(details));
                return error;
            }
            CoreError::HoldMismatch(_) => (S::UNPROCESSABLE_ENTITY, "hold_mismatch"),
            CoreError::DefaultSchedule(_) => (S::CONFLICT, "default_schedule"),
            CoreError::NotConfirmed(_)
            | CoreError::NotPending(_)
            | CoreError::PendingNotReschedulable(_)
            | CoreError::AlreadyRecorded { .. } => (S::CONFLICT, "conflict"),
            CoreError::ProviderRefused { .. } => (S::CONFLICT, "provider_refused"),
            // What the provider said (a body, an upstream URL) goes to the log, not to the caller.
            CoreError::ProviderUnavailable { integration, message } => {
                tracing::warn!(%integration, "provider unavailable: {message}");
                return ApiError::provider(
                    S::SERVICE_UNAVAILABLE,
                    "provider_unavailable",
                    *integration,
                    ProviderTrouble::Unavailable,
                );
            }
            CoreError::NeedsReauth { integration, message } => {
                tracing::warn!(%integration, "needs reauthorization: {message}");
                return ApiError::provider(
                    S::SERVICE_UNAVAILABLE,
                    "needs_reauth",
                    *integration,
                    ProviderTrouble::NeedsReauth,
                );
            }
            CoreError::ProviderResponse { integration, message } => {
                tracing::warn!(%integration, "unusable provider answer: {message}");
                return ApiError::provider(
                    S::BAD_GATEWAY,
                    "provider_error",
                    *integration,
                    ProviderTrouble::Unusable,
                );
            }
            CoreError::StrategyMissing(integration) => {
                return ApiError::new(
                    S::SERVICE_UNAVAILABLE,
                    "provider_unavailable",
                    format!("this server has no {integration} provider installed"),
                )
            }
            CoreError::Unsupported { .. } => (S::UNPROCESSABLE_ENTITY, "unsupported"),
            CoreError::UnknownIntegration(_) => (S::UNPROCESSABLE_ENTITY, "unknown_integration"),
            CoreError::IntegrationUnavailable(_) => (S::UNPROCESSABLE_ENTITY, "integration_unavailable"),
            CoreError::VideoUnsupported(_) => (S::UNPROCESSABLE_ENTITY, "video_unsupported"),
            CoreError::IntegrationNotConnected(_) => (S::UNPROCESSABLE_ENTITY, "integration_not_connected"),
            CoreError::InvalidCredentials(_) => (S::UNPROCESSABLE_ENTITY, "invalid_credentials"),
            CoreError::InvalidToken(_) => (S::UNPROCESSABLE_ENTITY, "invalid_token"),
            CoreError::DiscoveryFailed(_) => (S::UNPROCESSABLE_ENTITY, "discovery_failed"),
            CoreError::EventTypeRequired(_) => (S::UNPROCESSABLE_ENTITY, "event_type_required"),
            CoreError::UnknownEventType(_) => (S::UNPROCESSABLE_ENTITY, "unknown_event_type"),
            CoreError::InvalidCalendarChoice(_) => (S::UNPROCESSABLE_ENTITY, "invalid_calendar_choice"),
            CoreError::InvalidSettings(_) => (S::UNPROCESSABLE_ENTITY, "invalid_settings"),
            CoreError::NotOffered(_) => (S::NOT_FOUND, "not_offered"),
            CoreError::InvalidSignature(_) => (S::UNAUTHORIZED, "invalid_signature"),
            CoreError::MalformedWebhook(_) => (S::BAD_REQUEST, "invalid_json"),
            CoreError::EncryptionKeyMissing => (S::SERVICE_UNAVAILABLE, "encryption_key_missing"),
            CoreError::Storage(m) => {
                tracing::error!("storage: {m}");
                return ApiError::new(
                    S::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database cannot be reached",
                );
            }
            _ => return ApiError::internal(e),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) | StoreError::Connect(m) => {
                tracing::error!("database unavailable: {m}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database cannot be reached",
                )
            }
            StoreError::EmailTaken => ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "another client has this email address (emails are compared case-insensitively)",
            ),
            StoreError::NotFound { .. }
            | StoreError::SlotTaken
            | StoreError::SlotUnavailable(_)
            | StoreError::Refused(_) => CoreError::from(e).into(),
            other => ApiError::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use availability_core::Limit;

    use super::*;

    #[test]
    fn engine_refusals_keep_their_status_and_code() {
        let full = ApiError::from(CoreError::LimitReached(Limit::BookingsPerDay));
        assert_eq!(
            (full.status, full.code),
            (StatusCode::UNPROCESSABLE_ENTITY, "limit_reached")
        );
        assert_eq!(full.message, "the expert's bookings for that day are full");
        let taken = ApiError::from(CoreError::SlotTaken);
        assert_eq!((taken.status, taken.code), (StatusCode::CONFLICT, "slot_taken"));
    }
}

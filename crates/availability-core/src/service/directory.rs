//! The marketplace's questions about many experts at once: "when is each of them next free in
//! this window?" and "who is free for exactly this time?". Both are answered expert by expert
//! through [`AvailabilityService::slots`], the path of GET slots (the same engine, the same
//! busy-time cache), so a directory never shows a time the slot route would not. An expert whose
//! provider cannot be asked is reported as such, never failing the whole question.

use availability_domain::jiff::Timestamp;
use availability_domain::{ExpertId, Interval, Slot};

use super::AvailabilityService;
use crate::CoreError;

/// When an expert is next free in a window, and how many slots they have there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreeTime {
    /// The first slot in the window (what GET slots lists first).
    pub next_slot: Slot,
    /// How many slots the window holds.
    pub slot_count: usize,
}

/// One expert's answer to a directory question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryAnswer<T> {
    /// The expert's slots were read.
    Answered(T),
    /// The expert's calendar could not be asked (down, needs reauthorization, no strategy on
    /// this server): left out, with the reason.
    Unavailable(CoreError),
}

impl CoreError {
    /// Whether the error says the expert's calendar could not be asked right now (as opposed to
    /// a question that is wrong, or an expert who offers nothing for it).
    pub fn is_provider_trouble(&self) -> bool {
        matches!(
            self,
            CoreError::ProviderUnavailable { .. }
                | CoreError::ProviderResponse { .. }
                | CoreError::NeedsReauth { .. }
                | CoreError::StrategyMissing(_)
                | CoreError::IntegrationNotConnected(_)
                | CoreError::IntegrationUnavailable(_)
        )
    }
}

impl AvailabilityService {
    /// The expert's first slot in [from, to) and the number of slots there, exactly as
    /// [`slots`](Self::slots) lists them; `None` when there are none (or the expert offers no
    /// slot of that length). Errors in the question itself (window, duration) are checked before
    /// the expert is asked, by [`check_directory_question`].
    pub async fn next_free(
        &self,
        expert: ExpertId,
        from: Timestamp,
        to: Timestamp,
        duration_minutes: Option<i64>,
    ) -> Result<DirectoryAnswer<Option<FreeTime>>, CoreError> {
        match self.slots(expert, from, to, duration_minutes).await {
            Ok(slots) => Ok(DirectoryAnswer::Answered(slots.first().map(|first| FreeTime {
                next_slot: *first,
                slot_count: slots.len(),
            }))),
            Err(e) => Self::directory_error(e).map(|free| free.map(|()| None)),
        }
    }

    /// Whether [start, end) is exactly one of the expert's slots of that length (GET slots with
    /// `from=start`, `to=end`, `duration_minutes` the time's length lists a slot starting at
    /// `start`).
    pub async fn is_free(&self, expert: ExpertId, time: Interval) -> Result<DirectoryAnswer<bool>, CoreError> {
        let minutes = time.seconds() / 60;
        match self.slots(expert, time.start(), time.end(), Some(minutes)).await {
            Ok(slots) => Ok(DirectoryAnswer::Answered(
                slots.iter().any(|s| s.start == time.start() && s.end == time.end()),
            )),
            Err(e) => Self::directory_error(e).map(|free| free.map(|()| false)),
        }
    }

    /// Provider trouble is one expert's answer; an expert who offers no slot of this length is
    /// simply not free; anything else (the database) fails the question.
    fn directory_error(e: CoreError) -> Result<DirectoryAnswer<()>, CoreError> {
        if e.is_provider_trouble() {
            return Ok(DirectoryAnswer::Unavailable(e));
        }
        match e {
            CoreError::DurationNotOffered { .. } | CoreError::Unsupported { .. } | CoreError::NotFound { .. } => {
                Ok(DirectoryAnswer::Answered(()))
            }
            other => Err(other),
        }
    }
}

impl<T> DirectoryAnswer<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> DirectoryAnswer<U> {
        match self {
            DirectoryAnswer::Answered(t) => DirectoryAnswer::Answered(f(t)),
            DirectoryAnswer::Unavailable(e) => DirectoryAnswer::Unavailable(e),
        }
    }
}

/// Checks a directory question before any expert is asked, so that a bad window or length is
/// the caller's error (4xx) once, not every expert's: the window as for slots (from < to, at most
/// [`MAX_QUERY_DAYS`](super::MAX_QUERY_DAYS)), the length 5-1440 minutes.
pub fn check_directory_question(
    from: Timestamp,
    to: Timestamp,
    duration_minutes: Option<i64>,
) -> Result<Interval, CoreError> {
    let window = super::check_window(from, to)?;
    if let Some(d) = duration_minutes {
        availability_domain::BookingPolicy::check_duration(d)?;
    }
    Ok(window)
}

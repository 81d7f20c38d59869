//! The marketplace's questions about many experts at once: "when is each of them next free in
//! this window?" and "who is free for exactly this time?". Both are answered expert by expert
//! with the slot path of GET slots (the same engine, the same busy-time cache), so a directory
//! never shows a time the slot route would not. An expert whose provider cannot be asked is
//! reported as such, never failing the whole question.
//!
//! Many experts are read at once ([`ExpertRepository::expert_calendars`]: one query checks all
//! their calendar versions, and only calendars that changed are read again), for the whole UTC
//! days around the question, so that every question about the same days reuses what the last
//! one read. The slots of a window computed from a calendar read for a larger window are the
//! same: the engine takes from it exactly what the smaller read would hold.
//!
//! [`ExpertRepository::expert_calendars`]: crate::ports::ExpertRepository::expert_calendars

use availability_domain::jiff::Timestamp;
use availability_domain::{BookingPolicy, ExpertId, Interval, Slot};
use futures_util::stream::{self, StreamExt};

use super::AvailabilityService;
use crate::strategy::ExpertCalendar;
use crate::CoreError;

/// How many experts' slots are computed at the same time (those whose calendar is a provider's
/// may wait on it; the others are answered at once).
const ASKED_AT_ONCE: usize = 8;

/// The whole UTC days that hold `window`: what a directory question reads of each expert.
fn read_window(window: Interval) -> Interval {
    const DAY: i64 = 86_400;
    let start = window.start().as_second().div_euclid(DAY) * DAY;
    let end = (window.end().as_second() + DAY - 1).div_euclid(DAY) * DAY;
    match (Timestamp::from_second(start), Timestamp::from_second(end)) {
        (Ok(s), Ok(e)) => Interval::new(s, e).unwrap_or(window),
        _ => window,
    }
}

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
        let answers = self.next_free_many(&[expert], from, to, duration_minutes).await?;
        Ok(answers.into_iter().next().unwrap_or(DirectoryAnswer::Answered(None)))
    }

    /// Whether [start, end) is exactly one of the expert's slots of that length (GET slots with
    /// `from=start`, `to=end`, `duration_minutes` the time's length lists a slot starting at
    /// `start`).
    pub async fn is_free(&self, expert: ExpertId, time: Interval) -> Result<DirectoryAnswer<bool>, CoreError> {
        let answers = self.is_free_many(&[expert], time).await?;
        Ok(answers.into_iter().next().unwrap_or(DirectoryAnswer::Answered(false)))
    }

    /// [`next_free`](Self::next_free) for many experts, in the order given, reading them together.
    pub async fn next_free_many(
        &self,
        experts: &[ExpertId],
        from: Timestamp,
        to: Timestamp,
        duration_minutes: Option<i64>,
    ) -> Result<Vec<DirectoryAnswer<Option<FreeTime>>>, CoreError> {
        let window = super::check_window(from, to)?;
        let duration = duration_minutes.map(BookingPolicy::check_duration).transpose()?;
        let answers = self.slots_of_many(experts, window, duration).await?;
        answers
            .into_iter()
            .map(|answer| match answer {
                Ok(slots) => Ok(DirectoryAnswer::Answered(slots.first().map(|first| FreeTime {
                    next_slot: *first,
                    slot_count: slots.len(),
                }))),
                Err(e) => Self::directory_error(e).map(|free| free.map(|()| None)),
            })
            .collect()
    }

    /// [`is_free`](Self::is_free) for many experts, in the order given, reading them together.
    pub async fn is_free_many(
        &self,
        experts: &[ExpertId],
        time: Interval,
    ) -> Result<Vec<DirectoryAnswer<bool>>, CoreError> {
        let window = super::check_window(time.start(), time.end())?;
        let duration = BookingPolicy::check_duration(time.seconds() / 60)?;
        let answers = self.slots_of_many(experts, window, Some(duration)).await?;
        answers
            .into_iter()
            .map(|answer| match answer {
                Ok(slots) => Ok(DirectoryAnswer::Answered(
                    slots.iter().any(|s| s.start == time.start() && s.end == time.end()),
                )),
                Err(e) => Self::directory_error(e).map(|free| free.map(|()| false)),
            })
            .collect()
    }

    /// Each expert's slots in `window` (what GET slots answers), or why not; an error of the
    /// database fails the whole question.
    async fn slots_of_many(
        &self,
        experts: &[ExpertId],
        window: Interval,
        duration_minutes: Option<u32>,
    ) -> Result<Vec<Result<Vec<Slot>, CoreError>>, CoreError> {
        let calendars = self
            .experts
            .expert_calendars(experts, read_window(window), duration_minutes)
            .await?;
        Ok(stream::iter(calendars)
            .map(|calendar: Result<ExpertCalendar, CoreError>| async move {
                self.slots_of(calendar?, window, duration_minutes).await
            })
            .buffered(ASKED_AT_ONCE)
            .collect()
            .await)
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

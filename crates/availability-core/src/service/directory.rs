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
//! same: the engine takes from it exactly what the smaller read would hold. The slots of those
//! days are kept per calendar version ([`slot_memo`](super::slot_memo)), before the bounds that
//! move with the clock, so an unchanged calendar is answered without being read or computed.
//!
//! [`ExpertRepository::expert_calendars`]: crate::ports::ExpertRepository::expert_calendars

use std::sync::Arc;

use availability_domain::jiff::Timestamp;
use availability_domain::{BookingPolicy, ExpertId, Interval, Slot};
use futures_util::stream::{self, StreamExt};

use super::slot_memo::Memo;
use super::{engine_slots, AvailabilityService};
use crate::engine::StartBounds;
use crate::ports::CalendarRead;
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

/// An expert of a directory question, with their calendar version as the repository listed it
/// while the question began (`None`: not listed with one). An expert listed at the version the
/// service keeps their slots for is answered from those without asking the repository again.
pub type Listed = (ExpertId, Option<i64>);

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
        let answers = self
            .next_free_many(&[(expert, None)], from, to, duration_minutes)
            .await?;
        Ok(answers.into_iter().next().unwrap_or(DirectoryAnswer::Answered(None)))
    }

    /// Whether [start, end) is exactly one of the expert's slots of that length (GET slots with
    /// `from=start`, `to=end`, `duration_minutes` the time's length lists a slot starting at
    /// `start`).
    pub async fn is_free(&self, expert: ExpertId, time: Interval) -> Result<DirectoryAnswer<bool>, CoreError> {
        let answers = self.is_free_many(&[(expert, None)], time).await?;
        Ok(answers.into_iter().next().unwrap_or(DirectoryAnswer::Answered(false)))
    }

    /// [`next_free`](Self::next_free) for many experts (with their listed versions, see
    /// [`Listed`]), in the order given, reading them together.
    pub async fn next_free_many(
        &self,
        experts: &[Listed],
        from: Timestamp,
        to: Timestamp,
        duration_minutes: Option<i64>,
    ) -> Result<Vec<DirectoryAnswer<Option<FreeTime>>>, CoreError> {
        let window = super::check_window(from, to)?;
        let duration = duration_minutes.map(BookingPolicy::check_duration).transpose()?;
        let free_time = |slots: &[Slot]| {
            slots.first().map(|first| FreeTime {
                next_slot: *first,
                slot_count: slots.len(),
            })
        };
        self.slots_of_many(experts, window, duration, free_time, None).await
    }

    /// [`is_free`](Self::is_free) for many experts (with their listed versions, see [`Listed`]),
    /// in the order given, reading them together.
    pub async fn is_free_many(
        &self,
        experts: &[Listed],
        time: Interval,
    ) -> Result<Vec<DirectoryAnswer<bool>>, CoreError> {
        let window = super::check_window(time.start(), time.end())?;
        let duration = BookingPolicy::check_duration(time.seconds() / 60)?;
        let is_free = |slots: &[Slot]| slots.iter().any(|s| s.start == time.start() && s.end == time.end());
        self.slots_of_many(experts, window, Some(duration), is_free, false)
            .await
    }

    /// What `answer` makes of each expert's slots in `window` (what GET slots answers), `none` for
    /// an expert who offers no slot of this length, or why the expert could not be asked; an
    /// error of the database fails the whole question. Slots that depend on the calendar alone
    /// come from the memo while the calendar's version is unchanged, and are kept there when
    /// read; the others (provider calendars, holds) go through the slot path, 8 at a time.
    async fn slots_of_many<T: Clone>(
        &self,
        experts: &[Listed],
        window: Interval,
        duration_minutes: Option<u32>,
        answer: impl Fn(&[Slot]) -> T,
        none: T,
    ) -> Result<Vec<DirectoryAnswer<T>>, CoreError> {
        let read = read_window(window);
        let now = self.clock.now();
        let ids: Vec<ExpertId> = experts.iter().map(|(id, _)| *id).collect();
        let memos = self.slot_memo.get_all(&ids, read, duration_minutes);
        // Experts listed at the version of their memo are answered from it; the others are asked.
        let current = |(listed, memo): (&Listed, &Option<Arc<Memo>>)| match (listed.1, memo) {
            (Some(version), Some(memo)) => memo.version == version,
            _ => false,
        };
        let asked: Vec<(ExpertId, Option<i64>)> = experts
            .iter()
            .zip(&memos)
            .filter(|&pair| !current(pair))
            .map(|(listed, memo)| (listed.0, memo.as_ref().map(|m| m.version)))
            .collect();
        let mut calendars = self
            .experts
            .expert_calendars(&asked, read, duration_minutes)
            .await?
            .into_iter();
        let mut answers: Vec<Option<Result<T, CoreError>>> = Vec::with_capacity(experts.len());
        let mut new_memos = Vec::new();
        let mut through_slot_path = Vec::new();
        for (listed, memo) in experts.iter().zip(memos) {
            let id = &listed.0;
            let calendar = if current((listed, &memo)) {
                Ok(CalendarRead::Unchanged)
            } else {
                calendars
                    .next()
                    .unwrap_or_else(|| Err(CoreError::Storage("an expert's calendar was not read".into())))
            };
            let memo = match (calendar, memo) {
                (Err(e), _) => {
                    answers.push(Some(Err(e)));
                    continue;
                }
                (Ok(CalendarRead::Unchanged), Some(memo)) => memo,
                (Ok(CalendarRead::Unchanged), None) => {
                    let e = CoreError::Storage(format!("expert {id}: no calendar and no version to keep"));
                    answers.push(Some(Err(e)));
                    continue;
                }
                (Ok(CalendarRead::Read(calendar, Some(version))), _)
                    if self.slots_are_the_calendars_alone(&calendar) =>
                {
                    let slots = engine_slots(&calendar, Vec::new(), read, duration_minutes, None);
                    let bounds = StartBounds::of(&calendar.expert.booking_policy);
                    let memo = Arc::new(Memo::new(version, slots, bounds));
                    new_memos.push((*id, Arc::clone(&memo)));
                    memo
                }
                (Ok(CalendarRead::Read(calendar, _)), _) => {
                    through_slot_path.push((answers.len(), *calendar));
                    answers.push(None);
                    continue;
                }
            };
            answers.push(Some(Ok(answer(memo.slots_in(window, now)))));
        }
        self.slot_memo.put_all(read, duration_minutes, new_memos);
        let asked_one_by_one: Vec<(usize, Result<Vec<Slot>, CoreError>)> = stream::iter(through_slot_path)
            .map(|(at, calendar)| async move { (at, self.slots_of(calendar, window, duration_minutes).await) })
            .buffered(ASKED_AT_ONCE)
            .collect()
            .await;
        for (at, slots) in asked_one_by_one {
            answers[at] = Some(slots.map(|slots| answer(&slots)));
        }
        answers
            .into_iter()
            .map(
                |a| match a.unwrap_or_else(|| Err(CoreError::Storage("an expert was not answered".into()))) {
                    Ok(found) => Ok(DirectoryAnswer::Answered(found)),
                    Err(e) => Self::directory_error(e).map(|answer| answer.map(|()| none.clone())),
                },
            )
            .collect()
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

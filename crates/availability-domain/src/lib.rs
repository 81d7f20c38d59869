#![doc = include_str!("../README.md")]

mod appointment;
mod error;
mod hold;
mod ident;
mod ids;
mod party;
mod policy;
mod recurrence;
mod schedule;
mod schedule_set;
mod secret;
mod series;
mod time;
mod video;
#[cfg(feature = "chrono")]
pub mod with_chrono;

pub use appointment::{Appointment, AppointmentStatus, BookingState, CancelledBy, NewAppointment, Slot, SyncStatus};
pub use error::DomainError;
pub use hold::Hold;
pub use ident::{CalendarType, IntegrationType, InvalidIdentifier};
pub use ids::{AppointmentId, ClientId, ExpertId, HoldId, ScheduleId, SeriesId};
pub use party::{Client, Expert};
pub use policy::BookingPolicy;
pub use recurrence::{Frequency, Recurrence, RecurrenceEnd};
pub use schedule::{DateOverride, Schedule, TimeWindow, WeeklyRule};
pub use schedule_set::{NamedSchedule, SchedulePeriod, ScheduleSet};
pub use secret::Secret;
pub use series::Series;
pub use time::{DayOfWeek, Interval, LocalTime, Zone};
pub use video::{RoomUrl, VideoPolicy};

#[cfg(feature = "chrono")]
pub use with_chrono::{FromChrono, ToChrono};

/// Re-exported so embedders use the same date-time types as the engine.
pub use jiff;

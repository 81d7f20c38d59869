#![doc = include_str!("../README.md")]

mod appointment;
mod error;
mod ids;
mod party;
mod policy;
mod schedule;
mod secret;
mod time;

pub use appointment::{Appointment, AppointmentStatus, CalendarType, NewAppointment, Slot, SyncStatus};
pub use error::DomainError;
pub use ids::{AppointmentId, ClientId, ExpertId};
pub use party::{Client, Expert, IntegrationType, UnknownIntegrationType};
pub use policy::BookingPolicy;
pub use schedule::{DateOverride, Schedule, TimeWindow, WeeklyRule};
pub use secret::Secret;
pub use time::{DayOfWeek, Interval, LocalTime, Zone};

/// Re-exported so embedders use the same date-time types as the engine.
pub use jiff;

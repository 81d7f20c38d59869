#![doc = include_str!("../README.md")]

mod appointment;
mod error;
mod ident;
mod ids;
mod party;
mod policy;
mod schedule;
mod secret;
mod time;

pub use appointment::{Appointment, AppointmentStatus, BookingState, NewAppointment, Slot, SyncStatus};
pub use error::DomainError;
pub use ident::{CalendarType, IntegrationType, InvalidIdentifier};
pub use ids::{AppointmentId, ClientId, ExpertId};
pub use party::{Client, Expert};
pub use policy::BookingPolicy;
pub use schedule::{DateOverride, Schedule, TimeWindow, WeeklyRule};
pub use secret::Secret;
pub use time::{DayOfWeek, Interval, LocalTime, Zone};

/// Re-exported so embedders use the same date-time types as the engine.
pub use jiff;

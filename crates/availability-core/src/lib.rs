#![doc = include_str!("../README.md")]

pub mod busy_cache;
pub mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod engine;
mod error;
pub mod memory;
pub mod ports;
mod service;
pub mod strategy;

pub use clock::{Clock, FixedClock, SystemClock};
pub use engine::{
    available_slots, check_booking, counted_bookings_window, plan_series, series_occurrences, Booking, BookingContext,
    BookingRefusal, BookingStatus, BusyTime, Explanation, Hours, Limit, Reason, ReasonCode, Refusal, Requester,
    SeriesRefusal, SlotQuery,
};
pub use error::CoreError;
pub use memory::InMemoryStore;
pub use ports::{
    AppointmentRepository, BookingGuard, Credential, CredentialRepository, ExpertRepository, IntegrationRepository,
};
pub use service::{check_window, AvailabilityService, MAX_QUERY_DAYS};
pub use strategy::{
    AvailabilityStrategy, Capabilities, ExpertCalendar, ExternalEvent, ProviderBooking, StrategyRegistry,
};

pub use availability_domain as domain;

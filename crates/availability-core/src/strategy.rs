//! The Strategy pattern of the design: one [`AvailabilityStrategy`] per integration type, picked
//! by the expert's `integration_type`. A provider crate implements the trait; the service and the
//! engine do the rest.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use availability_domain::jiff::SignedDuration;
use availability_domain::{Appointment, Client, Expert, IntegrationType, Interval, Schedule, Slot};

use crate::engine::{self, SlotQuery};
use crate::CoreError;

/// What one expert's slots are computed from: the expert, their working hours and their
/// confirmed appointments around the queried window (from the database, never from a cache).
#[derive(Debug, Clone)]
pub struct ExpertCalendar {
    /// The expert (zone, integration type, booking policy).
    pub expert: Expert,
    /// Weekly rules and date overrides.
    pub schedule: Schedule,
    /// Confirmed appointments that may block the queried window.
    pub appointments: Vec<Appointment>,
}

impl ExpertCalendar {
    /// The confirmed appointments as busy intervals.
    pub fn appointment_intervals(&self) -> Vec<Interval> {
        self.appointments
            .iter()
            .filter(|a| a.is_confirmed())
            .filter_map(Appointment::interval)
            .collect()
    }
}

/// What a strategy can do; the conformance suite skips what a strategy does not claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Capabilities {
    /// Reads busy time from an external calendar.
    pub reads_busy_time: bool,
    /// Writes appointments as events to an external calendar.
    pub writes_events: bool,
    /// The provider computes the slots itself (Calendly); the weekly rules are not used.
    pub provider_slots: bool,
}

impl Capabilities {
    /// Hours typed in, no external calendar.
    pub const MANUAL: Capabilities = Capabilities {
        reads_busy_time: false,
        writes_events: false,
        provider_slots: false,
    };
    /// A calendar that blocks time and receives appointments (Google, Microsoft, CalDAV).
    pub const CALENDAR: Capabilities = Capabilities {
        reads_busy_time: true,
        writes_events: true,
        provider_slots: false,
    };
    /// A scheduler that computes the slots and receives bookings (Calendly).
    pub const SCHEDULER: Capabilities = Capabilities {
        reads_busy_time: false,
        writes_events: true,
        provider_slots: true,
    };
}

/// The provider's reference to an appointment written to its calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalEvent {
    /// Google event id, Graph event id, Calendly invitee URI.
    pub id: String,
}

/// What a booking made in a scheduler (a strategy with [`Capabilities::provider_slots`], the
/// system of record for its bookings) came to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderBooking {
    /// The provider booked it; its reference to the booking, if it gives one.
    Booked(Option<ExternalEvent>),
    /// The provider did not book it: the client finishes the booking at this link, and the
    /// provider reports the booking later (Calendly: an invitee.created webhook). The
    /// appointment is stored pending meanwhile and holds no time.
    Pending {
        /// Where the client finishes the booking (single use where the provider allows).
        scheduling_url: String,
    },
}

/// Where one kind of availability comes from, and where appointments are written.
///
/// Object safe: the service holds `Arc<dyn AvailabilityStrategy>`. Implementors write
/// [`busy_intervals`](Self::busy_intervals) and the three appointment operations; slots come from
/// the shared engine unless the provider computes them itself.
#[async_trait]
pub trait AvailabilityStrategy: Send + Sync + Debug {
    /// The integration type this strategy serves.
    fn integration_type(&self) -> IntegrationType;

    /// What this strategy can do.
    fn capabilities(&self) -> Capabilities;

    /// The busy time of the expert's external calendar in `window` (none for manual hours).
    async fn busy_intervals(&self, expert: &Expert, window: Interval) -> Result<Vec<Interval>, CoreError>;

    /// The bookable slots for `query`: by default the engine over the expert's hours, minus the
    /// confirmed appointments and the external busy time.
    async fn available_slots(&self, calendar: &ExpertCalendar, query: &SlotQuery) -> Result<Vec<Slot>, CoreError> {
        let policy = &calendar.expert.booking_policy;
        let duration = query.duration_minutes.unwrap_or(policy.slot_duration_minutes());
        let external = self
            .busy_intervals(&calendar.expert, busy_window(query.window, policy, duration))
            .await?;
        let appointments = calendar.appointment_intervals();
        Ok(engine::available_slots(
            &calendar.schedule,
            policy,
            appointments.iter().chain(&external),
            query,
        ))
    }

    /// Writes a new appointment to the external calendar. Must be idempotent for one appointment
    /// id (a retried create must not make a second event).
    async fn create_appointment(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<Option<ExternalEvent>, CoreError>;

    /// Books `appointment` in a scheduler that is the system of record (called by the service,
    /// before anything is stored, for strategies with [`Capabilities::provider_slots`]): booked
    /// at once, or pending until the client finishes it at a link the provider gives. The
    /// default is [`create_appointment`](Self::create_appointment)'s event, booked; only a
    /// provider that can answer with a link overrides it.
    async fn book_in_provider(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ProviderBooking, CoreError> {
        Ok(ProviderBooking::Booked(
            self.create_appointment(expert, client, appointment).await?,
        ))
    }

    /// Moves the appointment's external event to the appointment's current time.
    async fn update_appointment(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<Option<ExternalEvent>, CoreError>;

    /// Removes or cancels the external event; an event already gone is success.
    async fn cancel_appointment(&self, expert: &Expert, appointment: &Appointment) -> Result<(), CoreError>;
}

/// The instants whose busy time can affect slots starting in `window`: buffers and the slot's
/// length reach past its start.
pub fn busy_window(window: Interval, policy: &availability_domain::BookingPolicy, duration_minutes: u32) -> Interval {
    let before = SignedDuration::from_mins(i64::from(policy.buffer_before_minutes()));
    let after = SignedDuration::from_mins(i64::from(duration_minutes) + i64::from(policy.buffer_after_minutes()));
    let start = window.start().checked_sub(before).unwrap_or(window.start());
    let end = window.end().checked_add(after).unwrap_or(window.end());
    Interval::new(start, end).unwrap_or(window)
}

/// The strategies a service can choose from, one per integration type.
#[derive(Debug, Clone, Default)]
pub struct StrategyRegistry {
    strategies: HashMap<IntegrationType, Arc<dyn AvailabilityStrategy>>,
}

impl StrategyRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a strategy under its own integration type (replacing an earlier one).
    pub fn with(mut self, strategy: Arc<dyn AvailabilityStrategy>) -> Self {
        self.strategies.insert(strategy.integration_type(), strategy);
        self
    }

    /// The strategy for an integration type.
    pub fn get(&self, integration: IntegrationType) -> Result<&Arc<dyn AvailabilityStrategy>, CoreError> {
        self.strategies
            .get(&integration)
            .ok_or(CoreError::StrategyMissing(integration))
    }
}

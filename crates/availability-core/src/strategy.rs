//! The Strategy pattern of the design: one [`AvailabilityStrategy`] per integration type, picked
//! by the expert's `integration_type`. A strategy is made of the small parts its provider really
//! has, each implemented fully: a [`BusyTimeSource`] (a calendar that blocks time), an
//! [`EventWriter`] (a calendar that receives appointments), a [`Scheduler`] (a provider that
//! computes the slots and takes the bookings itself), [`VideoMeetings`] (a calendar that makes a
//! video meeting with the event). Hours typed in have none
//! of them. The service composes the parts with the engine and a busy-time cache, so no provider
//! re-implements (or stubs out) what another part does.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use availability_domain::jiff::SignedDuration;
use availability_domain::{
    Appointment, CalendarType, Client, Expert, Hold, IntegrationType, Interval, ScheduleSet, Slot, Zone,
};

use crate::engine::{counted_bookings_window, Booking, BookingStatus, Hours, SlotQuery};
use crate::CoreError;

/// What one expert's slots are computed from: the expert, their working hours and their
/// confirmed appointments around the queried window (from the database, never from a cache).
#[derive(Debug, Clone)]
pub struct ExpertCalendar {
    /// The expert (zone, integration type, booking policy).
    pub expert: Expert,
    /// The expert's schedules: the default one, and others on the dates of their periods.
    pub schedules: ScheduleSet,
    /// Confirmed appointments that may block the queried window and, when the booking policy has
    /// limits, the confirmed and pending appointments that start in
    /// [`counted_bookings_window`] of it (they count towards the limits).
    pub appointments: Vec<Appointment>,
    /// Holds that overlap the queried window (widened like the appointments); an expired one
    /// blocks nothing, so a cached calendar stays right as holds run out.
    pub holds: Vec<Hold>,
    /// Which connection of the expert's active calendar this is: it changes whenever the expert
    /// connects, reconnects, disconnects or switches a calendar (or its stored grant or settings
    /// change), so busy time cached for one connection is never served for another.
    pub connection: i64,
}

impl ExpertCalendar {
    /// The hours for the engine (see [`Hours::of`]).
    pub fn hours(&self) -> Hours<'_> {
        Hours::of(&self.schedules)
    }

    /// The expert's zone (the default schedule's), in which limits are counted and series
    /// occurrences keep their wall-clock time.
    pub fn zone(&self) -> &Zone {
        &self.schedules.default_schedule().hours.zone
    }

    /// The confirmed appointments as busy intervals.
    pub fn appointment_intervals(&self) -> Vec<Interval> {
        self.appointments
            .iter()
            .filter(|a| a.is_confirmed())
            .filter_map(Appointment::interval)
            .collect()
    }

    /// The appointments as the engine's bookings (confirmed ones block and count, pending ones
    /// count), for rule 10.
    pub fn bookings(&self) -> Vec<Booking> {
        bookings_of(&self.appointments)
    }
}

/// Appointments as the engine's bookings: confirmed ones block time and count towards the
/// limits, pending ones only count, cancelled ones are left out.
pub fn bookings_of(appointments: &[Appointment]) -> Vec<Booking> {
    appointments
        .iter()
        .filter_map(|a| {
            let status = if a.is_confirmed() {
                BookingStatus::Confirmed
            } else if a.is_pending() {
                BookingStatus::Pending
            } else {
                return None;
            };
            Some(Booking {
                id: Some(a.id),
                time: a.interval()?,
                status,
            })
        })
        .collect()
}

/// `list` and the `counted` appointments together, each once, in order of start (a store reads
/// the two sets separately and they overlap).
pub fn with_counted(mut list: Vec<Appointment>, counted: Vec<Appointment>) -> Vec<Appointment> {
    list.extend(counted);
    list.sort_by_key(|a| (a.start_time, a.id));
    list.dedup_by_key(|a| a.id);
    list
}

/// Where the appointments that count towards the policy's limits for `window` start (None without
/// limits): a store loads the confirmed and pending ones starting there beside those around the
/// window (see [`ExpertCalendar::appointments`]).
pub fn counted_window(expert: &Expert, window: Interval) -> Option<Interval> {
    expert
        .booking_policy
        .has_limits()
        .then(|| counted_bookings_window(&expert.timezone, window))
}

/// What a provider can do, as `GET /api/v1/providers` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// Reads busy time from an external calendar.
    pub reads_busy_time: bool,
    /// Writes appointments to the provider (events in a calendar, or bookings in a scheduler).
    pub writes_events: bool,
    /// The provider computes the slots itself (a scheduler); the weekly rules are not used.
    pub provider_slots: bool,
    /// The provider tells the server when a calendar changes (push notifications).
    pub push: bool,
    /// The provider's calendar makes a video meeting with each event (booking policy `video:
    /// "provider"`).
    pub video: bool,
}

impl Capabilities {
    /// What a strategy's parts give.
    pub fn of(strategy: &dyn AvailabilityStrategy) -> Self {
        Self {
            reads_busy_time: strategy.busy_time().is_some(),
            writes_events: strategy.event_writer().is_some() || strategy.scheduler().is_some(),
            provider_slots: strategy.scheduler().is_some(),
            push: strategy.push().is_some(),
            video: strategy.event_writer().is_some() && strategy.video().is_some(),
        }
    }

    /// The same capabilities, with push as given.
    pub fn with_push(mut self, push: bool) -> Self {
        self.push = push;
        self
    }
}

/// The provider's reference to an appointment written to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalEvent {
    /// The provider's own reference: an event id, an invitee URI, an event URL.
    pub id: String,
    /// The video meeting made with the event, when the expert's policy asked the calendar for
    /// one (`video: "provider"`); None when none was asked for.
    pub meeting: Option<Meeting>,
}

impl ExternalEvent {
    /// A reference without a meeting.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            meeting: None,
        }
    }

    /// The same reference with what became of its meeting.
    pub fn with_meeting(mut self, meeting: Meeting) -> Self {
        self.meeting = Some(meeting);
        self
    }
}

/// What became of the video meeting a calendar was asked to make with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Meeting {
    /// Made: where to join.
    Ready {
        /// The join link (https).
        url: String,
    },
    /// Asked for and still being made (a Google conference whose create request is
    /// `pending`): read it again later with [`VideoMeetings::meeting`].
    Pending,
    /// The calendar made no meeting, for good: why, in words for the expert (a personal
    /// Microsoft account that offers no Teams meetings, say).
    Unavailable {
        /// Why not.
        reason: String,
    },
}

/// A calendar that makes a video meeting with each event it writes, when the expert's booking
/// policy says `video: "provider"` ([`EventWriter::create_event`] asks for it and answers with
/// [`ExternalEvent::meeting`]). The meeting belongs to the event: it is made once per
/// appointment, whatever the retries, and stays across reschedules.
#[async_trait]
pub trait VideoMeetings: Send + Sync {
    /// The meeting of the appointment's event (`external_calendar_event_id`), as the calendar
    /// shows it now: used to finish a meeting that was [`Meeting::Pending`].
    async fn meeting(&self, expert: &Expert, appointment: &Appointment) -> Result<Meeting, CoreError>;
}

/// What a booking made in a [`Scheduler`] (the system of record for its bookings) came to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderBooking {
    /// The provider booked it: its reference to the booking.
    Booked(ExternalEvent),
    /// The provider did not book it: the client finishes the booking at this link, and the
    /// provider reports the booking later (see `AvailabilityService::apply_provider_event`).
    /// The appointment is stored pending meanwhile and holds no time.
    Pending {
        /// Where the client finishes the booking (single use where the provider allows).
        scheduling_url: String,
    },
}

/// A calendar whose events block the expert's time.
#[async_trait]
pub trait BusyTimeSource: Send + Sync {
    /// The busy time of the expert's calendar that overlaps `window`: every event that blocks
    /// time there (timed, all-day, multi-day, recurring occurrences; not free, declined or
    /// cancelled ones). Failures are `ProviderUnavailable` or `NeedsReauth`, never an empty
    /// calendar.
    async fn busy_intervals(&self, expert: &Expert, window: Interval) -> Result<Vec<Interval>, CoreError>;
}

/// A calendar that receives the expert's appointments as events. Every method is idempotent for
/// one appointment: the outbox retries them after failures and lost answers.
#[async_trait]
pub trait EventWriter: Send + Sync {
    /// Writes a new appointment as an event. A retried create must not make a second event.
    /// When the strategy has [`VideoMeetings`] and the expert's policy says `video: "provider"`,
    /// the event carries a meeting (one per appointment, also over retries) and the answer says
    /// what became of it; update answers the same for the meeting the event keeps.
    async fn create_event(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError>;

    /// Moves the appointment's event (`external_calendar_event_id`) to the appointment's time.
    async fn update_event(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError>;

    /// Removes the appointment's event; an event that is already gone (or was never written:
    /// the create may have raced the cancel) is success.
    async fn delete_event(&self, expert: &Expert, appointment: &Appointment) -> Result<(), CoreError>;
}

/// What became of one event of the calendar that receives the expert's appointments, as a
/// [`ChangeFeed`] read it (two-way sync).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarChange {
    /// The event was deleted or cancelled in the calendar.
    Removed {
        /// The calendar's id of the event (an appointment's `external_calendar_event_id`).
        event_id: String,
    },
    /// The event exists and is at this time (moved, or unchanged in a full read).
    At {
        /// The calendar's id of the event.
        event_id: String,
        /// Its time now.
        time: Interval,
    },
}

/// One read of a [`ChangeFeed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeBatch {
    /// What changed since the cursor, in the calendar's order. A full read (no cursor, or one
    /// the calendar no longer accepts) lists every event it has as [`CalendarChange::At`]
    /// (applying changes is idempotent, so that is safe).
    pub changes: Vec<CalendarChange>,
    /// Where the next read starts (Google's nextSyncToken, a CalDAV sync-token); the service
    /// stores it.
    pub cursor: String,
}

/// The calendar that receives the expert's appointments, read for what changed there since the
/// last read, so that an appointment whose event the expert deletes or moves in their own
/// calendar follows (api.md "Push notifications and two-way sync").
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// The changes since `cursor` (None: a full read). A cursor the calendar refuses as expired
    /// (Google's 410 fullSyncRequired) is not an error: the feed reads everything again and
    /// returns a new cursor.
    async fn changes(&self, expert: &Expert, cursor: Option<&str>) -> Result<ChangeBatch, CoreError>;

    /// How often the feed must be read when nothing tells the server that the calendar changed:
    /// a calendar without push (CalDAV) says so here; None: the server's catch-up interval.
    fn poll_interval(&self) -> Option<std::time::Duration> {
        None
    }
}

/// A notification channel to open on the calendar that receives the expert's appointments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRequest {
    /// Our id for the channel (a UUID): notifications carry it.
    pub id: String,
    /// A random secret the calendar sends back with every notification (compared in constant
    /// time before anything else is read).
    pub token: String,
    /// Where the calendar sends notifications (`PUBLIC_BASE_URL/webhooks/{type}`).
    pub address: String,
    /// How long the channel should live (the calendar may give less).
    pub ttl_seconds: i64,
}

/// A channel the calendar opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedChannel {
    /// The channel's id as its notifications name it: the request's own for a calendar that
    /// takes the client's id (Google), the calendar's for one that assigns it (Graph's
    /// subscription id).
    pub id: String,
    /// The calendar's id of what is watched (needed to stop the channel).
    pub resource_id: String,
    /// When the calendar stops sending on it.
    pub expires_at: availability_domain::jiff::Timestamp,
}

/// What a push notification reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushEvent {
    /// The handshake a new channel sends first (Google's `sync`): nothing changed yet.
    Handshake,
    /// Something changed in the calendar: read its [`ChangeFeed`].
    Changed,
    /// The channel must be renewed now to keep working (Graph's `reauthorizationRequired`).
    RenewNow,
    /// The calendar removed the channel (Graph's `subscriptionRemoved`): open a new one and read
    /// the changes, as some may have been missed.
    Removed,
    /// Notifications were lost (Graph's `missed`): read the changes.
    Missed,
}

/// One push notification, once the provider read it (nothing is trusted before the server
/// checked `channel_id` and `token` against the channel it opened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushNotice {
    /// The channel it came on ([`OpenedChannel::id`]).
    pub channel_id: String,
    /// The secret it carries (Google's channel token, Graph's clientState; empty if none).
    pub token: String,
    /// What it reports.
    pub event: PushEvent,
}

/// A request to `POST /webhooks/{type}` as a provider's push reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushDelivery {
    /// The calendar checks a new channel's address (Graph's `validationToken`): answered 200
    /// `text/plain` with this text, nothing else read or done.
    Validation(String),
    /// Notifications (Graph sends several in one request), each checked against its channel.
    Notices(Vec<PushNotice>),
}

/// A calendar that tells the server when it changes (Google's events.watch channels, Graph's
/// subscriptions), so that its [`ChangeFeed`] is read at once rather than at the next catch-up.
#[async_trait]
pub trait PushChannels: Send + Sync {
    /// Opens a channel on the calendar that receives the expert's appointments.
    async fn open_channel(&self, expert: &Expert, request: &ChannelRequest) -> Result<OpenedChannel, CoreError>;
    /// Extends a live channel in place (Graph's PATCH of a subscription) to about `ttl_seconds`
    /// from now: its new expiry, or None when the calendar does not renew channels in place
    /// (Google) or no longer knows this one; then a new channel is opened and this one stopped.
    async fn renew_channel(
        &self,
        _expert: &Expert,
        _channel_id: &str,
        _ttl_seconds: i64,
    ) -> Result<Option<availability_domain::jiff::Timestamp>, CoreError> {
        Ok(None)
    }
    /// Stops a channel; one that is already gone is success.
    async fn close_channel(&self, expert: &Expert, channel_id: &str, resource_id: &str) -> Result<(), CoreError>;
    /// Reads a request delivered to `POST /webhooks/{type}`; None if it is not one of this
    /// provider's push deliveries.
    fn read_delivery(&self, request: &crate::provider::WebhookRequest<'_>) -> Option<PushDelivery>;
    /// Whether a notification is answered 202 Accepted (Graph asks for it) rather than 200.
    fn answers_accepted(&self) -> bool {
        false
    }
}

/// A provider that is the system of record for its bookings: it computes the slots from its own
/// rules and books them itself (an event-type scheduler). It has no reschedule: a move is the provider's own
/// (its reschedule link), reported back like any booking.
#[async_trait]
pub trait Scheduler: Send + Sync {
    /// The provider's bookable slots for `query`, minus the expert's confirmed appointments of
    /// `calendar` (with the policy's buffers). A duration the provider does not offer is
    /// `CoreError::DurationNotOffered`.
    async fn available_slots(&self, calendar: &ExpertCalendar, query: &SlotQuery) -> Result<Vec<Slot>, CoreError>;

    /// Books `appointment` for `client` in the provider, before anything is stored: booked, or
    /// pending until the client finishes it at a link. Booking an appointment the provider
    /// booked already is that same booking again, never a second one.
    async fn book(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ProviderBooking, CoreError>;

    /// Cancels the provider's booking of the appointment; already cancelled or gone is success.
    async fn cancel(&self, expert: &Expert, appointment: &Appointment) -> Result<(), CoreError>;
}

/// Where one kind of availability comes from, and where appointments go: the parts its provider
/// has. Object safe: the service holds `Arc<dyn AvailabilityStrategy>`.
pub trait AvailabilityStrategy: Send + Sync + Debug {
    /// The integration type this strategy serves.
    fn integration_type(&self) -> IntegrationType;

    /// The name people know the provider by, for messages.
    fn display_name(&self) -> &'static str;

    /// The `calendar_type` of the appointments it writes; None if it writes none.
    fn calendar_type(&self) -> Option<CalendarType> {
        None
    }

    /// The calendar that blocks the expert's time, if the provider has one.
    fn busy_time(&self) -> Option<&dyn BusyTimeSource> {
        None
    }

    /// The calendar that receives appointments, if the provider has one.
    fn event_writer(&self) -> Option<&dyn EventWriter> {
        None
    }

    /// The provider's own slots and bookings, if it is a scheduler.
    fn scheduler(&self) -> Option<&dyn Scheduler> {
        None
    }

    /// The video meetings its calendar makes with events, if it makes any.
    fn video(&self) -> Option<&dyn VideoMeetings> {
        None
    }

    /// What changed in the calendar that receives the appointments, if it can say (two-way sync).
    fn change_feed(&self) -> Option<&dyn ChangeFeed> {
        None
    }

    /// Push notifications of that calendar's changes, if it sends them.
    fn push(&self) -> Option<&dyn PushChannels> {
        None
    }
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

    /// Every registered strategy, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn AvailabilityStrategy>> {
        self.strategies.values()
    }

    /// The strategy that writes appointments of this calendar type (the one an appointment was
    /// written to, whatever the expert uses now).
    pub fn by_calendar_type(&self, calendar: CalendarType) -> Option<&Arc<dyn AvailabilityStrategy>> {
        self.strategies.values().find(|s| s.calendar_type() == Some(calendar))
    }
}

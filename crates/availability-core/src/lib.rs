#![doc = include_str!("../README.md")]

pub mod busy_cache;
pub mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod engine;
mod error;
pub mod memory;
pub mod ports;
pub mod provider;
pub mod provider_events;
pub mod series;
mod service;
pub mod strategy;

pub use clock::{Clock, FixedClock, SystemClock};
pub use engine::{
    available_slots, check_booking, counted_bookings_window, plan_series, series_occurrences, Booking, BookingContext,
    BookingRefusal, BookingStatus, BusyTime, Explanation, Hours, Limit, Reason, ReasonCode, Refusal, Requester,
    SeriesRefusal, SlotQuery,
};
pub use error::{CoreError, SeriesConflict};
pub use memory::InMemoryStore;
pub use ports::{
    AppointmentRepository, BookingGuard, CalendarFollow, CalendarRead, Credential, CredentialRepository,
    ExpertRepository, IntegrationRepository, NewSeries, SeriesBooking,
};
pub use provider::{
    AuthorizationRequest, CalendarEntry, ConnectMethod, Connection, CredentialField, EventTypeEntry, Features,
    OAuthConnector, Preset, Provider, ProviderContext, ProviderDescriptor, ProviderFactory, ProviderRegistry,
    ProviderSetupError, ReportedChange, WebhookHandler, WebhookOutcome, WebhookReply, WebhookRequest,
};
pub use provider_events::{EventOutcome, Invitee, ProviderEvent};
pub use service::{
    check_directory_question, check_window, AvailabilityService, CalendarSyncSummary, DirectoryAnswer, FreeTime,
    Listed, MAX_QUERY_DAYS,
};
pub use strategy::{
    bookings_of, counted_window, with_counted, AvailabilityStrategy, BusyTimeSource, CalendarChange, Capabilities,
    ChangeBatch, ChangeFeed, ChannelRequest, EventWriter, ExpertCalendar, ExternalEvent, Meeting, OpenedChannel,
    ProviderBooking, PushChannels, PushDelivery, PushEvent, PushNotice, Scheduler, StrategyRegistry, VideoMeetings,
};

pub use availability_domain as domain;

//! Slots and appointments.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{AppointmentId, CalendarType, ClientId, ExpertId, Interval, SeriesId};

/// A bookable time: [start, end) in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Slot {
    /// When the appointment would begin.
    pub start: Timestamp,
    /// When it would end (start + duration).
    pub end: Timestamp,
}

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// The name used in the API and the database.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(format!("unknown {} {s:?}", stringify!($name))),
                }
            }
        }
    };
}

string_enum!(
    /// Where an appointment stands.
    AppointmentStatus {
        /// Holds the expert's time.
        Confirmed = "confirmed",
        /// Released; does not block time.
        Cancelled = "cancelled",
        /// Waiting for the provider to confirm (e.g. a scheduler's link); does not block time.
        Pending = "pending",
    }
);

string_enum!(
    /// Whether the appointment's external calendar event is up to date.
    SyncStatus {
        /// A sync job is queued or running.
        Pending = "pending",
        /// The external calendar holds the current state.
        Synced = "synced",
        /// The last retry failed; the reason is kept.
        Failed = "failed",
        /// No external calendar (manual hours).
        NotApplicable = "not_applicable",
        /// The expert moved the event in their calendar onto the time of another confirmed
        /// appointment: the appointment keeps its time; sync_error says which one it would overlap.
        Conflict = "conflict",
    }
);

string_enum!(
    /// Who cancelled an appointment.
    CancelledBy {
        /// The client (their token or session).
        Client = "client",
        /// The expert (their token or session).
        Expert = "expert",
        /// The platform, with the admin token.
        Admin = "admin",
        /// The expert's calendar: its event was deleted or cancelled there (two-way sync).
        Calendar = "calendar",
        /// A scheduler that books for the expert reported it cancelled (Calendly's webhook).
        Provider = "provider",
        /// The server itself (an unused scheduling link expired).
        System = "system",
    }
);

/// A booking request, before it is validated and stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAppointment {
    /// Whose time.
    pub expert_id: ExpertId,
    /// Who books.
    pub client_id: ClientId,
    /// The requested time.
    pub time: Interval,
}

/// One appointment between an expert and a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appointment {
    /// Stable id; also the idempotency key for external calendar writes.
    pub id: AppointmentId,
    /// Whose time.
    pub expert_id: ExpertId,
    /// Who booked.
    pub client_id: ClientId,
    /// When it begins (UTC).
    pub start_time: Timestamp,
    /// When it ends (UTC).
    pub end_time: Timestamp,
    /// Confirmed appointments block time; others do not.
    pub status: AppointmentStatus,
    /// The calendar the appointment was written to, if any.
    pub calendar_type: Option<CalendarType>,
    /// The provider's id for the event (an event id, an invitee URI, an event URL).
    pub external_calendar_event_id: Option<String>,
    /// Where the client finishes a pending booking (a scheduler's single-use link); None
    /// unless the appointment is pending.
    #[serde(default)]
    pub scheduling_url: Option<String>,
    /// Whether the external event is up to date.
    pub sync_status: SyncStatus,
    /// Why it was cancelled, if it was.
    pub cancellation_reason: Option<String>,
    /// Who cancelled it, if it was cancelled (None too for appointments cancelled before this
    /// was recorded).
    #[serde(default)]
    pub cancelled_by: Option<CancelledBy>,
    /// Why the external calendar could not be updated, once the retries gave up.
    #[serde(default)]
    pub sync_error: Option<String>,
    /// Where client and expert meet on video: the expert's room ("static"), or the meeting the
    /// expert's calendar made ("provider") once it is known; None otherwise.
    #[serde(default)]
    pub meeting_url: Option<String>,
    /// Why the expert's calendar made no meeting although the policy asks for one (an account
    /// that cannot make Teams meetings, say); None otherwise.
    #[serde(default)]
    pub meeting_error: Option<String>,
    /// The recurring booking it is an occurrence of; left out of the JSON otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_id: Option<SeriesId>,
    /// When it was stored.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Appointment {
    /// The time it occupies.
    pub fn interval(&self) -> Option<Interval> {
        Interval::new(self.start_time, self.end_time).ok()
    }

    /// Whether it blocks the expert's time.
    pub fn is_confirmed(&self) -> bool {
        self.status == AppointmentStatus::Confirmed
    }

    /// Whether it waits for the provider to confirm it (it holds no time meanwhile).
    pub fn is_pending(&self) -> bool {
        self.status == AppointmentStatus::Pending
    }

    /// Where it stands, by name: what `status` and the provider's reference mean together.
    pub fn state(&self) -> BookingState {
        match (self.status, &self.external_calendar_event_id) {
            (AppointmentStatus::Confirmed, _) => BookingState::Confirmed,
            (AppointmentStatus::Cancelled, _) => BookingState::Cancelled,
            (AppointmentStatus::Pending, None) => BookingState::AwaitingClient,
            (AppointmentStatus::Pending, Some(_)) => BookingState::Held,
        }
    }

    /// Whether a provider booked it but it is held here unconfirmed (see [`BookingState::Held`]).
    pub fn is_held(&self) -> bool {
        self.state() == BookingState::Held
    }
}

/// An appointment's state by name. The API shows `status` (confirmed, cancelled, pending); the
/// two kinds of pending appointment differ in what the expert must do about them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookingState {
    /// Holds the expert's time.
    Confirmed,
    /// Released; holds nothing.
    Cancelled,
    /// A scheduler could not book it through its API and gave a link instead: nothing is booked
    /// until the client finishes the booking at `scheduling_url` and the provider reports it.
    AwaitingClient,
    /// The provider, the system of record for its bookings, booked it, but its time overlaps
    /// another confirmed appointment here; it holds no time and waits, with the clash in
    /// `sync_error`, until the other appointment is cancelled or moved (then it is confirmed) or
    /// it is cancelled itself.
    Held,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in [
            AppointmentStatus::Confirmed,
            AppointmentStatus::Cancelled,
            AppointmentStatus::Pending,
        ] {
            assert_eq!(s.as_str().parse::<AppointmentStatus>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(SyncStatus::NotApplicable.to_string(), "not_applicable");
        assert!("done".parse::<SyncStatus>().is_err());
    }

    #[test]
    fn the_scheduling_link_is_always_shown_and_optional_when_read() {
        let json = serde_json::json!({
            "id": AppointmentId::new(), "expert_id": ExpertId::new(), "client_id": ClientId::new(),
            "start_time": "2026-03-02T09:00:00Z", "end_time": "2026-03-02T09:30:00Z",
            "status": "pending", "calendar_type": "scheduler", "external_calendar_event_id": null,
            "sync_status": "not_applicable", "cancellation_reason": null,
            "created_at": "2026-03-01T00:00:00Z", "updated_at": "2026-03-01T00:00:00Z",
        });
        let mut appointment: Appointment = serde_json::from_value(json).unwrap();
        assert!(appointment.is_pending() && !appointment.is_confirmed());
        assert_eq!(appointment.scheduling_url, None);
        assert_eq!(
            serde_json::to_value(&appointment).unwrap()["scheduling_url"],
            serde_json::Value::Null
        );
        appointment.scheduling_url = Some("https://scheduler.example/d/abc/consult".into());
        assert_eq!(
            serde_json::to_value(&appointment).unwrap()["scheduling_url"],
            "https://scheduler.example/d/abc/consult"
        );
    }
}

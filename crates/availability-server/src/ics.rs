//! iCalendar documents of appointments (RFC 5545, METHOD:PUBLISH), built with calcard's builder
//! and written by its writer: CRLF line ends, lines folded at 75 octets without splitting a UTF-8
//! character, TEXT values escaped. Nothing here is concatenated by hand.

use availability_domain::jiff::Timestamp;
use availability_domain::{AppointmentId, AppointmentStatus};
use availability_store::CalendarEntry;
use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarMethod, ICalendarProperty, ICalendarStatus,
    ICalendarTransparency, ICalendarValue, Uri,
};

/// How much an event tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    /// Names, the appointment page and the status.
    Full,
    /// The time only: no names, no link (a feed shared as "busy").
    BusyOnly,
}

/// The UID of an appointment's event: the same for every version of it, so a calendar replaces
/// the event it holds (by SEQUENCE) instead of adding another.
pub(crate) fn uid(id: AppointmentId) -> String {
    format!("availability-appointment-{id}")
}

fn utc(at: Timestamp) -> PartialDateTime {
    PartialDateTime::from_utc_timestamp(at.as_second())
}

fn text(value: impl Into<String>) -> ICalendarValue {
    ICalendarValue::Text(value.into())
}

fn event(entry: &CalendarEntry, detail: Detail, base_url: &str) -> ICalendarComponent {
    let a = &entry.appointment;
    let mut event = ICalendarComponent::new(ICalendarComponentType::VEvent);
    event.add_uid(&uid(a.id));
    // The time of this version of the appointment (not of the request), so that the same
    // appointment always gives the same bytes and the feed's ETag holds until something changes.
    event.add_dtstamp(utc(a.updated_at));
    event.add_sequence(entry.sequence);
    event.add_property(ICalendarProperty::Dtstart, utc(a.start_time));
    event.add_property(ICalendarProperty::Dtend, utc(a.end_time));
    let status = match a.status {
        AppointmentStatus::Confirmed => ICalendarStatus::Confirmed,
        AppointmentStatus::Pending => ICalendarStatus::Tentative,
        AppointmentStatus::Cancelled => ICalendarStatus::Cancelled,
    };
    match detail {
        Detail::Full => {
            event.add_property(
                ICalendarProperty::Summary,
                text(format!("Appointment: {} with {}", entry.client_name, entry.expert_name)),
            );
            event.add_property(
                ICalendarProperty::Description,
                text(format!(
                    "{} with {}.\n{}/appointments/{}",
                    entry.client_name,
                    entry.expert_name,
                    base_url.trim_end_matches('/'),
                    a.id
                )),
            );
            event.add_property(ICalendarProperty::Status, ICalendarValue::Status(status));
            // The video meeting's link, where calendar apps look for it: LOCATION (shown as the
            // place, made clickable) and URL.
            if let Some(meeting) = &a.meeting_url {
                event.add_property(ICalendarProperty::Location, text(meeting.as_str()));
                event.add_property(
                    ICalendarProperty::Url,
                    ICalendarValue::Uri(Uri::Location(meeting.clone())),
                );
            }
        }
        Detail::BusyOnly => {
            event.add_property(ICalendarProperty::Summary, text("Busy"));
            // Tentative or confirmed says something about the client; busy is busy.
        }
    }
    let transparency = if a.status == AppointmentStatus::Cancelled {
        ICalendarTransparency::Transparent
    } else {
        ICalendarTransparency::Opaque
    };
    event.add_property(ICalendarProperty::Transp, ICalendarValue::Transparency(transparency));
    event
}

/// A VCALENDAR (METHOD:PUBLISH) with one VEVENT per entry, as text.
pub(crate) fn calendar(entries: &[CalendarEntry], detail: Detail, base_url: &str) -> String {
    let mut root = ICalendarComponent::new(ICalendarComponentType::VCalendar);
    root.add_property(ICalendarProperty::Version, text("2.0"));
    root.add_property(
        ICalendarProperty::Prodid,
        text("-//availability//availability-server//EN"),
    );
    root.add_property(ICalendarProperty::Calscale, text("GREGORIAN"));
    root.add_property(
        ICalendarProperty::Method,
        ICalendarValue::Method(ICalendarMethod::Publish),
    );
    let mut components = vec![root];
    for entry in entries {
        let id = u32::try_from(components.len()).unwrap_or(u32::MAX);
        components[0].component_ids.push(id);
        components.push(event(entry, detail, base_url));
    }
    ICalendar { components }.to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use availability_domain::{Appointment, ClientId, ExpertId, SyncStatus};

    use super::*;

    fn entry(client: &str, status: AppointmentStatus) -> CalendarEntry {
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        CalendarEntry {
            appointment: Appointment {
                id: AppointmentId::new(),
                expert_id: ExpertId::new(),
                client_id: ClientId::new(),
                start_time: at("2030-03-04T08:00:00Z"),
                end_time: at("2030-03-04T08:30:00Z"),
                status,
                calendar_type: None,
                external_calendar_event_id: None,
                scheduling_url: None,
                sync_status: SyncStatus::NotApplicable,
                cancellation_reason: None,
                cancelled_by: None,
                sync_error: None,
                meeting_url: None,
                meeting_error: None,
                series_id: None,
                created_at: at("2030-03-01T00:00:00Z"),
                updated_at: at("2030-03-02T00:00:00Z"),
            },
            sequence: 3,
            expert_name: "Dr. Ada".into(),
            client_name: client.into(),
        }
    }

    #[test]
    fn lines_end_in_crlf_fold_at_75_octets_on_character_boundaries_and_text_is_escaped() {
        let name = "Zoë, the 🦀; Ünïcödé ".repeat(6);
        let ics = calendar(
            &[entry(&name, AppointmentStatus::Confirmed)],
            Detail::Full,
            "https://x.example",
        );
        assert!(ics.ends_with("\r\n"));
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{line:?} is {} octets", line.len());
            assert!(!line.contains('\n') && !line.contains('\r'));
        }
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains("Zoë\\, the 🦀\\; Ünïcödé"), "{unfolded}");
        assert!(unfolded.contains("METHOD:PUBLISH"));
        assert!(unfolded.contains("SEQUENCE:3"));
        assert!(unfolded.contains("DTSTART:20300304T080000Z"));
        assert!(unfolded.contains("STATUS:CONFIRMED"));
    }

    #[test]
    fn busy_only_names_nobody() {
        let ics = calendar(
            &[entry("Secret Client", AppointmentStatus::Pending)],
            Detail::BusyOnly,
            "https://x.example",
        );
        assert!(!ics.contains("Secret Client") && !ics.contains("Dr. Ada") && !ics.contains("x.example"));
        assert!(ics.contains("SUMMARY:Busy"));
    }

    #[test]
    fn states_map_to_ical_statuses_and_the_same_entry_gives_the_same_bytes() {
        let pending = entry("A", AppointmentStatus::Pending);
        let ics = calendar(std::slice::from_ref(&pending), Detail::Full, "");
        assert!(ics.contains("STATUS:TENTATIVE"));
        assert_eq!(ics, calendar(&[pending], Detail::Full, ""));
        let cancelled = calendar(&[entry("A", AppointmentStatus::Cancelled)], Detail::Full, "");
        assert!(cancelled.contains("STATUS:CANCELLED"));
    }

    #[test]
    fn the_meeting_link_is_the_location_and_the_url_but_not_in_a_busy_only_feed() {
        let mut with_room = entry("A", AppointmentStatus::Confirmed);
        with_room.appointment.meeting_url = Some("https://meet.example/abc-defg-hij".into());
        let ics = calendar(std::slice::from_ref(&with_room), Detail::Full, "").replace("\r\n ", "");
        assert!(ics.contains("LOCATION:https://meet.example/abc-defg-hij\r\n"), "{ics}");
        assert!(ics.contains("URL:https://meet.example/abc-defg-hij\r\n"), "{ics}");
        let busy = calendar(&[with_room], Detail::BusyOnly, "");
        assert!(!busy.contains("meet.example"), "{busy}");
        let without = calendar(&[entry("A", AppointmentStatus::Confirmed)], Detail::Full, "");
        assert!(!without.contains("LOCATION") && !without.contains("URL:"), "{without}");
    }
}

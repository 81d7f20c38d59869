//! The iCalendar object of an appointment, written with calcard's builder and writer: one
//! VEVENT whose UID is derived from the appointment id, DTSTART/DTEND in UTC, SUMMARY (the
//! client's name, and the marketplace's if configured), DESCRIPTION with the appointment page
//! when a base URL is configured. No ATTENDEE is written, so no server sends invitations
//! (RFC 6638 scheduling only acts on attendees).

use availability_domain::{Appointment, Client};
use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarProperty, ICalendarStatus, ICalendarTransparency,
    ICalendarValue,
};
use jiff::Timestamp;

use crate::appointment_uid;

/// What the written event says besides the time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EventText {
    /// The marketplace's name, added to the summary.
    pub(crate) marketplace: Option<String>,
    /// The public base URL; the description links `{base}/appointments/{id}`.
    pub(crate) appointment_base_url: Option<String>,
}

fn utc(at: Timestamp) -> PartialDateTime {
    PartialDateTime::from_utc_timestamp(at.as_second())
}

fn text(value: impl Into<String>) -> ICalendarValue {
    ICalendarValue::Text(value.into())
}

/// The iCalendar text of an appointment's event. `sequence` grows with every rewrite (clients
/// use it to tell the newer version).
pub(crate) fn appointment_ics(
    client: &Client,
    appointment: &Appointment,
    text_options: &EventText,
    sequence: i64,
) -> String {
    let mut root = ICalendarComponent::new(ICalendarComponentType::VCalendar);
    root.add_property(ICalendarProperty::Version, text("2.0"));
    root.add_property(ICalendarProperty::Prodid, text("-//availability//provider-caldav//EN"));
    root.component_ids = vec![1];

    let mut event = ICalendarComponent::new(ICalendarComponentType::VEvent);
    event.add_uid(&appointment_uid(appointment.id));
    event.add_dtstamp(PartialDateTime::now());
    event.add_sequence(sequence);
    event.add_property(ICalendarProperty::Dtstart, utc(appointment.start_time));
    event.add_property(ICalendarProperty::Dtend, utc(appointment.end_time));
    let summary = match &text_options.marketplace {
        Some(marketplace) => format!("{} ({marketplace})", client.name),
        None => client.name.clone(),
    };
    event.add_property(ICalendarProperty::Summary, text(summary));
    let mut description = format!("Appointment with {}.", client.name);
    if let Some(base) = &text_options.appointment_base_url {
        description.push_str(&format!(
            "\n{}/appointments/{}",
            base.trim_end_matches('/'),
            appointment.id
        ));
    }
    event.add_property(ICalendarProperty::Description, text(description));
    event.add_property(
        ICalendarProperty::Status,
        ICalendarValue::Status(ICalendarStatus::Confirmed),
    );
    event.add_property(
        ICalendarProperty::Transp,
        ICalendarValue::Transparency(ICalendarTransparency::Opaque),
    );

    let calendar = ICalendar {
        components: vec![root, event],
    };
    calendar.to_string()
}

/// The SEQUENCE of a stored event, to write the next one.
pub(crate) fn sequence_of(ics: &str) -> Option<i64> {
    let calendar = match calcard::Parser::new(ics).entry() {
        calcard::Entry::ICalendar(calendar) => calendar,
        _ => return None,
    };
    calendar
        .components
        .iter()
        .find(|c| c.component_type == ICalendarComponentType::VEvent)?
        .property(&ICalendarProperty::Sequence)?
        .values
        .first()?
        .as_integer()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::expand::{expand_occurrences, ExpansionContext, ExpansionLimits};
    use availability_domain::{AppointmentId, AppointmentStatus, ClientId, ExpertId, SyncStatus, Zone};

    #[test]
    fn the_event_holds_the_appointment_and_invites_nobody() {
        let start: Timestamp = "2027-03-29T07:00:00Z".parse().unwrap();
        let appointment = Appointment {
            id: AppointmentId::new(),
            expert_id: ExpertId::new(),
            client_id: ClientId::new(),
            start_time: start,
            end_time: start + jiff::SignedDuration::from_mins(45),
            status: AppointmentStatus::Confirmed,
            calendar_type: Some(crate::CALENDAR_TYPE),
            external_calendar_event_id: None,
            scheduling_url: None,
            sync_status: SyncStatus::Pending,
            cancellation_reason: None,
            cancelled_by: None,
            sync_error: None,
            meeting_url: None,
            meeting_error: None,
            series_id: None,
            created_at: start,
            updated_at: start,
        };
        let client = Client {
            id: appointment.client_id,
            name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
            timezone: Zone::utc(),
        };
        let options = EventText {
            marketplace: Some("Tutors".into()),
            appointment_base_url: Some("https://book.example.com/".into()),
        };
        let ics = appointment_ics(&client, &appointment, &options, 2);
        assert!(
            ics.contains(&format!("UID:{}", appointment_uid(appointment.id))),
            "{ics}"
        );
        assert!(ics.contains("SUMMARY:Ada Lovelace (Tutors)"), "{ics}");
        // Long lines are folded (RFC 5545 3.1): unfold before looking for the link.
        let unfolded = ics.replace("\r\n ", "");
        assert!(
            unfolded.contains(&format!("https://book.example.com/appointments/{}", appointment.id)),
            "{ics}"
        );
        assert!(ics.contains("DTSTART:20270329T070000Z"), "{ics}");
        assert!(!ics.contains("ATTENDEE"), "{ics}");
        assert_eq!(sequence_of(&ics), Some(2));
        let context = ExpansionContext {
            expert_zone: jiff::tz::TimeZone::UTC,
            expert_addresses: vec![],
            limits: ExpansionLimits::default(),
        };
        let read = expand_occurrences(
            &ics,
            &context,
            (
                start - jiff::SignedDuration::from_hours(1),
                start + jiff::SignedDuration::from_hours(2),
            ),
        )
        .unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(
            (read[0].start, read[0].end),
            (appointment.start_time, appointment.end_time)
        );
        assert!(read[0].blocks);
    }
}

//! Identifiers. UUIDs so that ids made by several server processes never collide.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new random id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// An expert (consultant, tutor, clinician) whose time is booked.
    ExpertId
);
id_type!(
    /// A client who books experts.
    ClientId
);
id_type!(
    /// One appointment between an expert and a client.
    AppointmentId
);
id_type!(
    /// One of an expert's named schedules (availability templates).
    ScheduleId
);
id_type!(
    /// A hold: time kept for one client for a few minutes while they finish booking.
    HoldId
);
id_type!(
    /// A recurring booking: occurrences booked together, each an appointment of its own.
    SeriesId
);

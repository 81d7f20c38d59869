//! A recurring booking: occurrences booked together on the expert's local wall clock, each an
//! ordinary appointment that names its series.

use jiff::Timestamp;
use serde::Serialize;

use crate::{ClientId, ExpertId, Recurrence, SeriesId};

/// A series as stored (its occurrences are the appointments with its id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Series {
    /// Stable id.
    pub id: SeriesId,
    /// Whose time.
    pub expert_id: ExpertId,
    /// Who booked.
    pub client_id: ClientId,
    /// How it repeats, as booked.
    pub recurrence: Recurrence,
    /// When it was booked.
    pub created_at: Timestamp,
}

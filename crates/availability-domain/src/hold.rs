//! Holds: time kept for one client for a few minutes while they fill in the booking form, so a
//! faster client cannot take it. An active hold is busy time for everyone but its own booking.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{ClientId, DomainError, ExpertId, HoldId, Interval};

/// A hold on an expert's time for one client, until it expires or is released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// Stable id; a booking that redeems the hold names it.
    pub id: HoldId,
    /// Whose time.
    pub expert_id: ExpertId,
    /// For whom (only this client may book it).
    pub client_id: ClientId,
    /// The time held.
    pub time: Interval,
    /// From this instant on the hold no longer blocks anything.
    pub expires_at: Timestamp,
}

const TTL_RANGE: (i64, i64) = (60, 900);

impl Hold {
    /// How long a hold lasts when the request does not say.
    pub const DEFAULT_TTL_SECONDS: u32 = 300;

    /// Checks a requested time to live (60-900 seconds).
    pub fn check_ttl_seconds(seconds: i64) -> Result<u32, DomainError> {
        let (min, max) = TTL_RANGE;
        if (min..=max).contains(&seconds) {
            // 60..=900 fits in u32.
            Ok(seconds as u32)
        } else {
            Err(DomainError::OutOfRange {
                field: "ttl_seconds",
                value: seconds,
                min,
                max,
            })
        }
    }

    /// Whether it still blocks time at `now` (it expires at `expires_at`, exclusive).
    pub fn is_active(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_one_to_fifteen_minutes_and_expiry_is_exclusive() {
        assert_eq!(Hold::check_ttl_seconds(60), Ok(60));
        assert_eq!(Hold::check_ttl_seconds(900), Ok(900));
        assert!(Hold::check_ttl_seconds(59).is_err());
        assert!(Hold::check_ttl_seconds(901).is_err());
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let hold = Hold {
            id: HoldId::new(),
            expert_id: ExpertId::new(),
            client_id: ClientId::new(),
            time: Interval::new(t("2026-03-02T09:00:00Z"), t("2026-03-02T09:30:00Z")).unwrap(),
            expires_at: t("2026-03-01T12:05:00Z"),
        };
        assert!(hold.is_active(t("2026-03-01T12:04:59Z")));
        assert!(!hold.is_active(t("2026-03-01T12:05:00Z")));
    }
}

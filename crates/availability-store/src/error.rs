//! The store's error enum.

use availability_core::{BookingRefusal, CoreError, Refusal};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// DATABASE_URL is not a supported database URL.
    #[error("DATABASE_URL: {0}")]
    BadUrl(String),
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Connect(String),
    /// No connection could be had in time (database down or overloaded).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// No such row.
    #[error("{what} {id} not found")]
    NotFound {
        /// "expert", "client", "appointment".
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// Another confirmed appointment of the expert overlaps.
    #[error("the time overlaps another confirmed appointment of this expert")]
    SlotTaken,
    /// The time is not a slot.
    #[error("the time is not a bookable slot: {0}")]
    SlotUnavailable(String),
    /// A write the state of the data refuses (an appointment that is not pending any more, a
    /// provider booking recorded already), as the core's variant of it.
    #[error(transparent)]
    Refused(CoreError),
    /// Another client has this email address (compared case-insensitively).
    #[error("another client has this email address")]
    EmailTaken,
    /// A row that breaks a uniqueness rule.
    #[error("duplicate: {0}")]
    Duplicate(String),
    /// A stored value that cannot be read back into the domain (should never happen).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// A credential could not be encrypted or decrypted.
    #[error(transparent)]
    Credential(#[from] crate::crypto::CryptoError),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(String),
}

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> Self {
        match &e {
            DieselError::NotFound => StoreError::NotFound {
                what: "row",
                id: String::new(),
            },
            DieselError::DatabaseError(kind, info) => {
                let overlap = ["appointments_no_overlap", "holds_no_overlap"]
                    .iter()
                    .any(|name| info.constraint_name() == Some(name) || info.message().contains(name));
                if overlap {
                    return StoreError::SlotTaken;
                }
                match kind {
                    DatabaseErrorKind::UniqueViolation => StoreError::Duplicate(info.message().to_owned()),
                    DatabaseErrorKind::ClosedConnection => StoreError::Unavailable(info.message().to_owned()),
                    _ => StoreError::Database(info.message().to_owned()),
                }
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

impl From<BookingRefusal> for StoreError {
    fn from(r: BookingRefusal) -> Self {
        match r {
            BookingRefusal::SlotTaken => StoreError::SlotTaken,
            BookingRefusal::SlotUnavailable(why) => StoreError::SlotUnavailable(why.to_owned()),
        }
    }
}

impl From<Refusal> for StoreError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::SlotTaken => StoreError::SlotTaken,
            // Refusal is non-exhaustive: a full period and any later kind keep the core's error.
            other => StoreError::Refused(CoreError::from(other)),
        }
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, id } => CoreError::NotFound { what, id },
            StoreError::SlotTaken => CoreError::SlotTaken,
            StoreError::SlotUnavailable(why) => CoreError::SlotUnavailable(why),
            StoreError::Refused(refusal) => refusal,
            other => CoreError::Storage(other.to_string()),
        }
    }
}

//! What a control of a fake reports when a test hands it something unusable.

/// An error from a fake's control (seeding, delivery), never from the HTTP API it serves: the API
/// answers with the provider's own error bodies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FakeError {
    /// The fake could not listen on the loopback interface.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Listen(#[from] std::io::Error),
    /// A time the test passed is not RFC 3339 (or, for all-day values, not a date).
    #[error("invalid time {0:?}")]
    InvalidTime(String),
    /// Seed data the provider itself would refuse.
    #[error("invalid seed data: {0}")]
    InvalidSeed(String),
    /// The named calendar, event type, event or subscription does not exist in the fake.
    #[error("unknown {0}")]
    Unknown(String),
    /// Delivering a webhook failed before an answer arrived.
    #[error("webhook delivery failed: {0}")]
    Delivery(String),
}

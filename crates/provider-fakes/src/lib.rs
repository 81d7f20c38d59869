#![doc = include_str!("../README.md")]

pub mod calendly;
mod error;
pub mod google;
pub mod graph;
mod harness;
pub mod oauth;
mod time;

pub use calendly::FakeCalendly;
pub use error::FakeError;
pub use google::FakeGoogle;
pub use graph::FakeGraph;
pub use harness::RequestRecord;
pub use oauth::{IssuedTokens, TokenRequest};

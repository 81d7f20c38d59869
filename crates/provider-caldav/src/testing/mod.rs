//! Test support (draft).

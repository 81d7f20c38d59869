//! End-to-end tests of the workspace live in `tests/`; this library only turns the top-level
//! README's examples into doc tests, so the README cannot drift from the code.
#![doc = include_str!("../../README.md")]

//! Names of integrations and of the calendars appointments are written to. They are identifiers
//! owned by the provider crates (`manual`, `google_calendar`, `caldav`, ...), not a closed list:
//! a new provider brings its own name and nothing here changes. A name is at most 32 ASCII
//! bytes, kept inline, so these types stay `Copy` and cost no allocation.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest name (api.md: `^[a-z][a-z0-9_]{1,31}$`).
const MAX_LEN: usize = 32;

/// A validated name: a lowercase ASCII letter, then 1-31 lowercase letters, digits or `_`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Name {
    len: u8,
    bytes: [u8; MAX_LEN],
}

impl Name {
    /// Whether `s` is a valid name; usable in constants.
    const fn check(s: &str) -> bool {
        let b = s.as_bytes();
        if b.len() < 2 || b.len() > MAX_LEN || !b[0].is_ascii_lowercase() {
            return false;
        }
        let mut i = 1;
        while i < b.len() {
            let c = b[i];
            if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_') {
                return false;
            }
            i += 1;
        }
        true
    }

    /// A name known when the program is written; an invalid one stops the build when used in a
    /// constant (and panics otherwise).
    #[allow(clippy::panic)]
    const fn from_static(s: &'static str) -> Self {
        if !Self::check(s) {
            panic!("an identifier is a lowercase letter then 1-31 lowercase letters, digits or '_'");
        }
        let b = s.as_bytes();
        let mut bytes = [0u8; MAX_LEN];
        let mut i = 0;
        while i < b.len() {
            bytes[i] = b[i];
            i += 1;
        }
        Self {
            len: b.len() as u8,
            bytes,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        if !Self::check(s) {
            return None;
        }
        let mut bytes = [0u8; MAX_LEN];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Some(Self {
            len: s.len() as u8,
            bytes,
        })
    }

    fn as_str(&self) -> &str {
        // Only ASCII is ever stored (checked on construction).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

/// A name that is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid {1}: a lowercase letter, then 1-31 lowercase letters, digits or underscores")]
pub struct InvalidIdentifier(pub String, pub &'static str);

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Name);

        impl $name {
            /// A name known when the program is written (provider crates declare theirs as
            /// constants); an invalid one fails the build.
            pub const fn from_static(name: &'static str) -> Self {
                Self(Name::from_static(name))
            }

            /// Validates a name that comes from outside (a path, a body, a database row).
            pub fn parse(name: &str) -> Result<Self, InvalidIdentifier> {
                Name::parse(name)
                    .map(Self)
                    .ok_or_else(|| InvalidIdentifier(name.chars().take(64).collect(), $what))
            }

            /// The name used in the API and the database.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = InvalidIdentifier;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

identifier!(
    /// Where an expert's availability comes from: the name of a registered provider
    /// (`manual`, `google_calendar`, `office365_calendar`, `calendly`, `caldav`, ...).
    IntegrationType,
    "integration type"
);

identifier!(
    /// The external calendar an appointment was written to, as the API shows it in
    /// `calendar_type` (`google`, `office365`, `calendly`, ...). Each provider that writes
    /// appointments names its own.
    CalendarType,
    "calendar type"
);

impl IntegrationType {
    /// Hours typed in by the expert, no external calendar: every expert's starting point and
    /// where an expert falls back to when their calendar is disconnected.
    pub const MANUAL: IntegrationType = IntegrationType::from_static("manual");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_contract_pattern() {
        for ok in ["manual", "google_calendar", "caldav", "x1", &"a".repeat(32)] {
            let t = IntegrationType::parse(ok).unwrap();
            assert_eq!(t.as_str(), ok);
            assert_eq!(t.to_string(), ok);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{ok}\""));
            assert_eq!(
                serde_json::from_str::<IntegrationType>(&format!("\"{ok}\"")).unwrap(),
                t
            );
        }
        for bad in [
            "",
            "a",
            "Google",
            "1abc",
            "google-calendar",
            "a b",
            "é_x",
            &"a".repeat(33),
        ] {
            assert!(IntegrationType::parse(bad).is_err(), "{bad:?}");
            assert!(serde_json::from_str::<IntegrationType>(&format!("\"{bad}\"")).is_err());
        }
        assert_eq!(IntegrationType::MANUAL.as_str(), "manual");
        const GOOGLE: CalendarType = CalendarType::from_static("google");
        assert_eq!(GOOGLE, "google".parse().unwrap());
        assert_eq!(format!("{GOOGLE:?}"), "CalendarType(\"google\")");
    }
}

//! Video meetings: where the appointment's meeting comes from (the expert's calendar, a fixed room
//! of the expert's, or nowhere) and the checks on a room's address.

use std::fmt;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::DomainError;

/// The longest room address accepted (browsers and calendars cope with far longer, but a room
/// link this long is a mistake).
const MAX_URL_LEN: usize = 2048;

/// Where an appointment's video meeting comes from (the booking policy's `video` and
/// `video_url`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum VideoPolicy {
    /// No meeting link.
    #[default]
    None,
    /// The expert's calendar makes a meeting with the event (Google Meet, Microsoft Teams).
    Provider,
    /// The expert's own fixed room (a Zoom personal meeting link, say), set at booking.
    Static(RoomUrl),
}

impl VideoPolicy {
    /// Builds the policy from the API's two fields. `video_url` counts only with "static" (it is
    /// dropped otherwise); "static" needs an https address.
    pub fn parse(video: Option<&str>, video_url: Option<&str>) -> Result<Self, DomainError> {
        match video.unwrap_or("none") {
            "none" => Ok(Self::None),
            "provider" => Ok(Self::Provider),
            "static" => match video_url {
                Some(url) => Ok(Self::Static(RoomUrl::parse(url)?)),
                None => Err(DomainError::InvalidVideo(
                    "video \"static\" needs video_url, the https address of the room".into(),
                )),
            },
            other => Err(DomainError::InvalidVideo(format!(
                "video must be \"none\", \"provider\" or \"static\", got {:?}",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }

    /// The API's name of the choice.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Provider => "provider",
            Self::Static(_) => "static",
        }
    }

    /// Whether no meeting is wanted.
    pub fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }

    /// The fixed room, with "static".
    pub fn room(&self) -> Option<&RoomUrl> {
        match self {
            Self::Static(room) => Some(room),
            _ => None,
        }
    }
}

/// As the booking policy's fields: nothing while "none" (so a policy without video reads as it
/// always did), `video`, and `video_url` with "static". Flattened into the policy's object.
impl Serialize for VideoPolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if !self.is_none() {
            map.serialize_entry("video", self.as_str())?;
        }
        if let Self::Static(room) = self {
            map.serialize_entry("video_url", room.as_str())?;
        }
        map.end()
    }
}

/// An https address of a video room: absolute, with a host, no spaces or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomUrl(String);

impl RoomUrl {
    /// Checks an address (surrounding spaces are trimmed).
    pub fn parse(url: &str) -> Result<Self, DomainError> {
        let url = url.trim();
        let invalid = |why: &str| DomainError::InvalidVideo(format!("video_url {why}"));
        if url.len() > MAX_URL_LEN {
            return Err(invalid(&format!("is longer than {MAX_URL_LEN} characters")));
        }
        let Some(rest) = url
            .get(..8)
            .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
            .map(|_| &url[8..])
        else {
            return Err(invalid("must be an https:// address"));
        };
        if url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\'))
        {
            return Err(invalid(
                "must not contain spaces, quotes, angle brackets or control characters",
            ));
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority.rsplit('@').next().unwrap_or_default();
        let host = host.split(':').next().unwrap_or_default();
        if host.is_empty() || authority.contains('@') {
            return Err(invalid("must name a host (and no user name)"));
        }
        Ok(Self(url.to_owned()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_choices_and_their_room() {
        assert_eq!(VideoPolicy::parse(None, None), Ok(VideoPolicy::None));
        assert_eq!(VideoPolicy::parse(Some("none"), None), Ok(VideoPolicy::None));
        assert_eq!(VideoPolicy::parse(Some("provider"), None), Ok(VideoPolicy::Provider));
        let room = VideoPolicy::parse(Some("static"), Some(" https://zoom.us/j/123?pwd=x ")).unwrap();
        assert_eq!(room.room().map(RoomUrl::as_str), Some("https://zoom.us/j/123?pwd=x"));
        // A room address beside another choice is dropped.
        assert_eq!(
            VideoPolicy::parse(Some("provider"), Some("https://zoom.us/j/1")),
            Ok(VideoPolicy::Provider)
        );
        assert_eq!(
            VideoPolicy::parse(Some("none"), Some("not even a url")),
            Ok(VideoPolicy::None)
        );
    }

    #[test]
    fn static_needs_an_https_room_and_unknown_choices_are_refused() {
        for (video, url) in [
            (Some("static"), None),
            (Some("static"), Some("")),
            (Some("static"), Some("http://zoom.us/j/1")),
            (Some("static"), Some("zoom.us/j/1")),
            (Some("static"), Some("https://")),
            (Some("static"), Some("https:///path")),
            (Some("static"), Some("https://user:pw@zoom.us/j/1")),
            (Some("static"), Some("https://zoom.us/j/1 2")),
            (Some("static"), Some("https://zoom.us/\"><script>")),
            (Some("static"), Some("javascript:alert(1)")),
            (Some("zoom"), None),
            (Some(""), None),
            (Some("Provider"), None),
        ] {
            assert!(
                matches!(VideoPolicy::parse(video, url), Err(DomainError::InvalidVideo(_))),
                "{video:?} {url:?}"
            );
        }
        let long = format!("https://zoom.us/{}", "a".repeat(MAX_URL_LEN));
        assert!(RoomUrl::parse(&long).is_err());
        assert!(RoomUrl::parse("HTTPS://Zoom.us:443/j/1").is_ok());
    }

    #[test]
    fn serialized_as_the_policys_fields() {
        let json = |v: &VideoPolicy| serde_json::to_value(v).unwrap();
        assert_eq!(json(&VideoPolicy::None), serde_json::json!({}));
        assert_eq!(json(&VideoPolicy::Provider), serde_json::json!({"video": "provider"}));
        let room = VideoPolicy::parse(Some("static"), Some("https://meet.example/ada")).unwrap();
        assert_eq!(
            json(&room),
            serde_json::json!({"video": "static", "video_url": "https://meet.example/ada"})
        );
    }
}

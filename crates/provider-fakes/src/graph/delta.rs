//! The delta query on the calendar view: its rounds, its opaque `$skiptoken`s and
//! `$deltatoken`s, and the page size a client asks for with `Prefer: odata.maxpagesize`.

use actix_web::HttpRequest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jiff::Timestamp;

use super::GraphError;

/// The page size without `Prefer: odata.maxpagesize`.
const DEFAULT_PAGE_SIZE: usize = 10;
/// The page sizes the fake grants (a larger ask gets the largest).
const PAGE_SIZES: std::ops::RangeInclusive<usize> = 1..=1000;

/// Where a page of a delta round starts. Not documented what Graph's tokens hold (they are
/// opaque): the fake's are base64url of the sync state generation, the window, the moment the
/// round lists changes after (none for a first round), the round's snapshot and the last change
/// listed so far.
#[derive(Debug, Clone)]
pub(crate) struct Round {
    generation: String,
    /// The window, from the round that started the chain of tokens.
    pub(crate) start: Timestamp,
    pub(crate) end: Timestamp,
    /// A round of changes lists what changed after this change number; a first round (None)
    /// lists every live event in the window.
    pub(crate) since: Option<u64>,
    /// The mailbox's change counter when the round's first page was read: later changes come in
    /// the next round.
    pub(crate) snapshot: u64,
    /// The last change number listed by the round's earlier pages.
    pub(crate) after: u64,
}

/// Graph's answer to a token it does not know (or no longer knows).
pub(crate) fn sync_state_not_found() -> GraphError {
    GraphError::new(
        410,
        "syncStateNotFound",
        "The sync state generation is not found. Please resync.",
    )
}

impl Round {
    /// A round without a token, read as of `changes`.
    pub(crate) fn first(generation: &str, start: Timestamp, end: Timestamp, changes: u64) -> Self {
        Round {
            generation: generation.to_owned(),
            start,
            end,
            since: None,
            snapshot: changes,
            after: 0,
        }
    }

    /// The round a `$deltatoken` starts: the changes after its moment, read as of `changes`.
    pub(crate) fn changes_since(token: &str, generation: &str, changes: u64) -> Result<Self, GraphError> {
        let parts = decode(token, "delta", 5).ok_or_else(sync_state_not_found)?;
        let [gen, start, end, moment] = [&parts[1], &parts[2], &parts[3], &parts[4]];
        let moment: u64 = moment.parse().map_err(|_| sync_state_not_found())?;
        if gen != generation || moment > changes {
            return Err(sync_state_not_found());
        }
        Ok(Round {
            generation: generation.to_owned(),
            start: instant(start)?,
            end: instant(end)?,
            since: Some(moment),
            snapshot: changes,
            after: moment,
        })
    }

    /// The round a `$skiptoken` goes on with.
    pub(crate) fn resume(token: &str, generation: &str, changes: u64) -> Result<Self, GraphError> {
        let parts = decode(token, "skip", 7).ok_or_else(sync_state_not_found)?;
        let number = |text: &str| text.parse::<u64>().map_err(|_| sync_state_not_found());
        let since = match parts[4].as_str() {
            "-" => None,
            text => Some(number(text)?),
        };
        let (snapshot, after) = (number(&parts[5])?, number(&parts[6])?);
        if parts[1] != generation || snapshot > changes || after > snapshot || since.is_some_and(|s| s > after) {
            return Err(sync_state_not_found());
        }
        Ok(Round {
            generation: generation.to_owned(),
            start: instant(&parts[2])?,
            end: instant(&parts[3])?,
            since,
            snapshot,
            after,
        })
    }

    /// The `$skiptoken` of the page after the one that listed up to change `after`.
    pub(crate) fn skip_token(&self, after: u64) -> String {
        let since = self.since.map_or_else(|| "-".to_owned(), |s| s.to_string());
        encode(&format!(
            "skip:{}:{}:{}:{since}:{}:{after}",
            self.generation,
            self.start.as_nanosecond(),
            self.end.as_nanosecond(),
            self.snapshot,
        ))
    }

    /// The `$deltatoken` of the round's last page: its moment is the round's snapshot.
    pub(crate) fn delta_token(&self) -> String {
        encode(&format!(
            "delta:{}:{}:{}:{}",
            self.generation,
            self.start.as_nanosecond(),
            self.end.as_nanosecond(),
            self.snapshot,
        ))
    }
}

fn encode(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

/// The token's `:`-separated parts, when it decodes, has the `kind` and `count` parts.
fn decode(token: &str, kind: &str, count: usize) -> Option<Vec<String>> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token.trim()).ok()?).ok()?;
    let parts: Vec<String> = text.split(':').map(str::to_owned).collect();
    (parts.len() == count && parts.first().map(String::as_str) == Some(kind)).then_some(parts)
}

fn instant(nanos: &str) -> Result<Timestamp, GraphError> {
    nanos
        .parse::<i128>()
        .ok()
        .and_then(|n| Timestamp::from_nanosecond(n).ok())
        .ok_or_else(sync_state_not_found)
}

/// The page size of `Prefer: odata.maxpagesize=N` (in any of the Prefer headers, among other
/// comma-separated preferences such as `outlook.timezone`), default 10. Not documented what Graph
/// does with a size it does not grant: the fake clamps it to 1..=1000 and ignores a non-number.
pub(crate) fn page_size(req: &HttpRequest) -> usize {
    req.headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|p| p.trim().strip_prefix("odata.maxpagesize="))
        .filter_map(|v| v.trim().trim_matches('"').parse::<usize>().ok())
        .next()
        .map_or(DEFAULT_PAGE_SIZE, |n| n.clamp(*PAGE_SIZES.start(), *PAGE_SIZES.end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_strangers() {
        let start: Timestamp = "2026-03-02T00:00:00Z".parse().unwrap_or_default();
        let end: Timestamp = "2026-03-03T00:00:00Z".parse().unwrap_or_default();
        let round = Round::first("gen", start, end, 4);
        let resumed = Round::resume(&round.skip_token(2), "gen", 5);
        assert!(resumed.as_ref().is_ok_and(|r| r.start == start
            && r.end == end
            && r.since.is_none()
            && r.snapshot == 4
            && r.after == 2));
        let next = Round::changes_since(&round.delta_token(), "gen", 9);
        assert!(next
            .as_ref()
            .is_ok_and(|r| r.since == Some(4) && r.after == 4 && r.snapshot == 9));
        for bad in [
            Round::changes_since(&round.delta_token(), "other", 9),
            Round::changes_since(&round.skip_token(2), "gen", 9),
            Round::changes_since("not a token", "gen", 9),
            Round::resume(&round.delta_token(), "gen", 9),
            Round::resume(&round.skip_token(2), "gen", 3),
        ] {
            assert!(bad.is_err_and(|e| e.status == 410 && e.code == "syncStateNotFound"));
        }
    }
}

//! Rules 3 and 4 of `slot-semantics.md`: the candidate grid of each merged window and the starts
//! that busy time (with buffers) and full days, weeks or months forbid. The slot walk and the
//! per-candidate evaluation of `explain` share these predicates.

use availability_domain::jiff::Timestamp;
use availability_domain::{Interval, Slot};

use super::windows::Span;
use super::DAY;

/// How long a window's own grid lasts. Availability without a break for longer than this (round
/// the clock for a year) continues on a grid anchored at the Unix epoch. The rule depends only on
/// the window's start and the candidate, never on the query, and the look-back always reaches a
/// start that is closer than this, so display and booking agree.
const OWN_GRID_SECONDS: i64 = 365 * DAY;

/// Where a window's own grid gives way to the epoch grid.
fn grid_switch(w: &Span) -> i64 {
    if w.start_unknown {
        w.start
    } else {
        w.start.saturating_add(OWN_GRID_SECONDS)
    }
}

/// The anchor of the grid that start `s` (inside `w`) is measured on.
fn grid_anchor(w: &Span, s: i64) -> i64 {
    if s < grid_switch(w) {
        w.start
    } else {
        0
    }
}

/// Whether `s` is a grid point of window `w` (rule 3).
pub(super) fn on_grid(w: &Span, s: i64, step: i64) -> bool {
    (s - grid_anchor(w, s)).rem_euclid(step) == 0
}

/// The grid points of `w` on either side of `s` (for a person: "the nearest start times are").
pub(super) fn grid_neighbours(w: &Span, s: i64, step: i64) -> (i64, i64) {
    let anchor = grid_anchor(w, s);
    let before = anchor + (s - anchor).div_euclid(step) * step;
    (before, before + step)
}

/// The starts whose candidate [s, s + duration) overlaps busy time `b`: (bs - duration, be) in
/// whole seconds. Sub-second busy edges are widened outwards.
pub(super) fn overlapping_starts(b: &Interval, duration: i64) -> Span {
    Span::new(floor_second(b.start()) - duration + 1, ceil_second(b.end()))
}

/// The starts whose candidate widened by the buffers, [s - before, s + duration + after), overlaps
/// busy time `b`: (bs - duration - after, be + before) in whole seconds.
pub(super) fn guarded_starts(b: &Interval, duration: i64, before: i64, after: i64) -> Span {
    Span::new(
        floor_second(b.start()) - duration - after + 1,
        ceil_second(b.end()) + before,
    )
}

/// Adds the forbidden start ranges of busy time (rule 4) that meet [lo, hi) to `spans` (one call
/// per source of busy time: a chain of sources is slower to walk than its parts).
pub(super) fn add_forbidden_starts<'a>(
    spans: &mut Vec<Span>,
    busy: impl IntoIterator<Item = &'a Interval>,
    duration: i64,
    (buffer_before, buffer_after): (i64, i64),
    (lo, hi): (i64, i64),
) {
    for b in busy {
        let f = guarded_starts(b, duration, buffer_before, buffer_after);
        if f.start < f.end && f.end > lo && f.start < hi {
            spans.push(f);
        }
    }
}

pub(super) fn floor_second(t: Timestamp) -> i64 {
    let s = t.as_second();
    if t.subsec_nanosecond() < 0 {
        s - 1
    } else {
        s
    }
}

pub(super) fn ceil_second(t: Timestamp) -> i64 {
    let s = t.as_second();
    if t.subsec_nanosecond() > 0 {
        s + 1
    } else {
        s
    }
}

/// Rules 3 and 4: the grid of each window, anchored at its start, minus forbidden starts.
pub(super) fn grid_slots(
    windows: &[Span],
    forbidden: &[Span],
    duration: i64,
    step: i64,
    (lo, hi): (i64, i64),
) -> Vec<Slot> {
    // At most one slot per grid point of each window in [lo, hi): sized once, not regrown.
    let grid_points: i64 = windows
        .iter()
        .map(|w| (w.end.min(hi) - w.start.max(lo)).max(0) / step + 1)
        .sum();
    let mut slots = Vec::with_capacity(usize::try_from(grid_points).unwrap_or(0).min(1 << 14));
    let mut f = 0;
    for w in windows {
        if w.end - w.start < duration || w.end <= lo || w.start >= hi {
            continue;
        }
        // The window's own grid, anchored at its start; after a year without a break, the epoch grid.
        let switch = grid_switch(w);
        let own = (w.start, lo.max(w.start), switch.min(w.end));
        let epoch = (0, lo.max(switch), w.end);
        for (anchor, from, until) in [own, epoch] {
            // The first grid point at or after t (Euclidean division: t may precede the anchor).
            let grid_at_or_after = |t: i64| anchor + (t - anchor + step - 1).div_euclid(step) * step;
            let mut s = grid_at_or_after(from);
            while s < hi && s < until && s + duration <= w.end {
                while f < forbidden.len() && forbidden[f].end <= s {
                    f += 1;
                }
                if f < forbidden.len() && forbidden[f].start <= s {
                    s = grid_at_or_after(forbidden[f].end);
                    continue;
                }
                if let (Ok(start), Ok(end)) = (Timestamp::from_second(s), Timestamp::from_second(s + duration)) {
                    slots.push(Slot { start, end });
                }
                s += step;
            }
        }
    }
    slots
}

//! The slot engine on the standard workload of `benchmark-workload.md` (Europe/Berlin, Mon-Fri
//! 09:00-12:00 and 13:00-17:00, 90 days, 30-minute slots every 15 minutes) with 0, 1,000 and
//! 10,000 busy intervals from mulberry32 seed 42: through `available_slots` (one schedule, busy
//! intervals) and through `BookingContext::slots` with rule 10's machinery (schedules with
//! periods, limits, holds, pending appointments) arranged to give the same answer.
//!
//! `cargo bench -p availability-core --bench slot_engine`

#[path = "../tests/support/workload.rs"]
mod workload;

use std::hint::black_box;

use availability_core::engine::{available_slots, Requester};
use criterion::{BenchmarkId, Criterion};
use workload::{Rule10Workload, Workload, EXPECTED_SLOTS};

fn or_exit<T>(built: Result<T, Box<dyn std::error::Error>>) -> T {
    match built {
        Ok(w) => w,
        Err(e) => {
            eprintln!("cannot build the standard workload: {e}");
            std::process::exit(1);
        }
    }
}

fn standard_workload(c: &mut Criterion) {
    let w = or_exit(Workload::standard());
    let mut group = c.benchmark_group("standard_workload");
    for (n, expected) in EXPECTED_SLOTS {
        let busy = &w.busy[..n];
        // Outside the timed loop: a figure is only worth recording for the documented answer.
        let slots = available_slots(&w.schedule, &w.policy, busy, &w.query);
        assert_eq!(slots.len(), expected, "slots with {n} busy intervals");
        group.bench_with_input(BenchmarkId::new("busy", n), &busy, |b, busy| {
            b.iter(|| {
                available_slots(
                    black_box(&w.schedule),
                    black_box(&w.policy),
                    black_box(*busy),
                    black_box(&w.query),
                )
            })
        });
    }
    group.finish();
}

fn rule_10(c: &mut Criterion) {
    let w = or_exit(Rule10Workload::standard());
    let requester = Requester::default();
    let mut group = c.benchmark_group("rule_10");
    for (part, (n, expected)) in w.parts.iter().zip(EXPECTED_SLOTS) {
        assert_eq!(part.n, n, "the parts follow EXPECTED_SLOTS");
        let ctx = w.context(part);
        assert_eq!(
            ctx.slots(&w.query, &requester).len(),
            expected,
            "slots with {n} busy intervals"
        );
        group.bench_with_input(BenchmarkId::new("busy", n), &ctx, |b, ctx| {
            b.iter(|| black_box(ctx).slots(black_box(&w.query), black_box(&requester)))
        });
    }
    group.finish();
}

// What `criterion_group!` and `criterion_main!` expand to, written out: the macros define an
// undocumented `pub fn`, which the workspace's `missing_docs` lint refuses.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    standard_workload(&mut c);
    rule_10(&mut c);
    c.final_summary();
}

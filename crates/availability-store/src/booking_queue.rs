//! Bookings of one expert that arrive together are stored together: while one transaction holds
//! the expert's lock, the bookings that come in for that expert wait here, and the next
//! transaction takes them all (group commit). Each is still checked by the engine inside the
//! locked transaction against everything stored before it, the others of its batch included, so
//! nothing is double-booked; what changes is that many bookings share one lock, one round trip
//! of BEGIN/COMMIT and one flush to disk. Measured: PostgreSQL flushes a commit in 2-4 ms here,
//! which capped one expert at a few hundred bookings per second however fast the rest was.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use availability_core::BookingGuard;
use availability_domain::{Appointment, ExpertId, NewAppointment};
use tokio::sync::oneshot;

use crate::{Store, StoreError};

/// At most this many bookings in one transaction: the lock is held for all of them, and other
/// processes' bookings of the expert wait for it.
const MOST_PER_TRANSACTION: usize = 64;

type Answer = oneshot::Sender<Result<Appointment, StoreError>>;

/// A booking waiting, and where its answer goes.
type Waiting = (NewAppointment, BookingGuard, Answer);

/// The bookings waiting, per expert. An expert is in the map while a task is storing their
/// bookings; that task takes what waits until nothing does, then removes the expert.
#[derive(Debug, Default)]
pub(crate) struct BookingQueue {
    waiting: Mutex<HashMap<ExpertId, Vec<Waiting>>>,
    /// What the batches did, for tests and for the log (see [`crate::testing::booking_batches`]).
    pub(crate) counts: BatchCounts,
}

/// How many batches (two bookings or more) were checked in memory or each booking in its
/// savepoint, and how many failed as a whole and were booked one by one.
#[derive(Debug, Default)]
pub(crate) struct BatchCounts {
    pub(crate) in_memory: AtomicU64,
    pub(crate) with_savepoints: AtomicU64,
    pub(crate) booked_alone: AtomicU64,
}

impl BookingQueue {
    /// Adds a booking; true if nobody is storing this expert's bookings (the caller starts).
    fn push(&self, booking: Waiting) -> bool {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        match waiting.get_mut(&booking.0.expert_id) {
            Some(queue) => {
                queue.push(booking);
                false
            }
            None => {
                waiting.insert(booking.0.expert_id, vec![booking]);
                true
            }
        }
    }

    /// The next bookings of the expert to store together; none: the expert is done (removed).
    fn next(&self, expert: ExpertId) -> Vec<Waiting> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let Some(queue) = waiting.get_mut(&expert) else {
            return Vec::new();
        };
        if queue.is_empty() {
            waiting.remove(&expert);
            return Vec::new();
        }
        let rest = queue.split_off(queue.len().min(MOST_PER_TRANSACTION));
        std::mem::replace(queue, rest)
    }
}

/// The same failure for every booking of a batch (StoreError is not Clone, so made for each).
fn answer_all(answers: Vec<Answer>, error: impl Fn() -> StoreError) {
    for answer in answers {
        let _ = answer.send(Err(error()));
    }
}

impl Store {
    /// Books through the expert's queue (see the module's comment).
    pub(crate) async fn book_queued(
        &self,
        new: NewAppointment,
        guard: BookingGuard,
    ) -> Result<Appointment, StoreError> {
        let expert = new.expert_id;
        let (answer, answered) = oneshot::channel();
        if self.bookings.push((new, guard, answer)) {
            // Its own task: a caller that goes away (a closed connection) must not strand the
            // bookings that queued behind it.
            let store = self.clone();
            tokio::spawn(async move { store.store_bookings_of(expert).await });
        }
        answered
            .await
            .map_err(|_| StoreError::Database("the booking task stopped before it answered".into()))?
    }

    async fn store_bookings_of(&self, expert: ExpertId) {
        loop {
            let batch = self.bookings.next(expert);
            if batch.is_empty() {
                return;
            }
            let (bookings, answers): (Vec<_>, Vec<_>) = batch.into_iter().map(|(n, g, a)| ((n, g), a)).unzip();
            // Shared with the blocking call, and kept to book each alone if the batch fails.
            let bookings = std::sync::Arc::new(bookings);
            let together = bookings.clone();
            let stored = self
                .run_write(move |c| crate::appointments::book_together(c, expert, &together))
                .await;
            match stored {
                Ok(booked) => {
                    if answers.len() > 1 {
                        let counts = &self.bookings.counts;
                        let count = if booked.in_memory {
                            &counts.in_memory
                        } else {
                            &counts.with_savepoints
                        };
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    for (answer, outcome) in answers.into_iter().zip(booked.answers) {
                        // A caller that went away no longer listens; its booking stands.
                        let _ = answer.send(outcome);
                    }
                }
                // Alone in its transaction, a booking's refusal is the transaction's error.
                Err(error) if answers.len() == 1 => {
                    if let Some(answer) = answers.into_iter().next() {
                        let _ = answer.send(Err(error));
                    }
                }
                // The database is unavailable (503) or the expert is gone (404): the same for each.
                Err(StoreError::Unavailable(why)) => answer_all(answers, || StoreError::Unavailable(why.clone())),
                Err(StoreError::NotFound { what, id }) => {
                    answer_all(answers, || StoreError::NotFound { what, id: id.clone() })
                }
                // A statement of the batch failed (with the bookings checked in memory, nothing
                // says which booking caused it): each is booked alone, for its own answer.
                Err(error) => {
                    tracing::warn!(%error, bookings = answers.len(), "a batch of bookings failed; booking each alone");
                    self.bookings.counts.booked_alone.fetch_add(1, Ordering::Relaxed);
                    for (booking, answer) in bookings.iter().zip(answers) {
                        let alone = [booking.clone()];
                        let outcome = self
                            .run_write(move |c| crate::appointments::book_together(c, expert, &alone))
                            .await
                            .and_then(|booked| {
                                booked
                                    .answers
                                    .into_iter()
                                    .next()
                                    .unwrap_or_else(|| Err(StoreError::Database("no answer".into())))
                            });
                        let _ = answer.send(outcome);
                    }
                }
            }
        }
    }
}

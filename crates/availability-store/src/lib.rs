#![doc = include_str!("../README.md")]

mod appointments;
mod booking_queue;
mod calendar_cache;
mod calendar_sync;
pub mod crypto;
mod db;
mod directory_cache;
mod error;
mod experts;
mod holds;
mod hot_reads;
mod ics;
pub mod idempotency;
mod integrations;
pub mod outbox;
mod ports;
mod push;
mod rows;
mod schedules;
mod schema;
mod series;
pub mod sessions;
pub mod testing;
pub mod tokens;
pub mod webhooks;

use std::sync::Arc;

use availability_domain::jiff::Timestamp;
use availability_domain::{
    Appointment, AppointmentId, AppointmentStatus, BookingPolicy, Client, ClientId, DateOverride, Expert, ExpertId,
    IntegrationType, Interval, NamedSchedule, Schedule, ScheduleId, SchedulePeriod, ScheduleSet, WeeklyRule, Zone,
};

pub use appointments::Party;
pub use db::DatabaseUrl;
pub use directory_cache::DirectoryRow;
pub use error::StoreError;
pub use experts::{DirectoryEntry, ExpertCursor, ExpertPatch};
pub use ics::CalendarEntry;
pub use idempotency::StoredAnswer;
pub use integrations::{IntegrationRecord, OAuthStart, STATE_TTL_SECONDS as OAUTH_STATE_SECONDS};
pub use outbox::ClaimedJob;
pub use push::{NewPushChannel, PushChannel};
pub use schedules::ScheduleChange;

use crypto::Keyring;
pub use sessions::{NewSession, Session};
pub use tokens::{Principal, TokenRecord};
pub use webhooks::{
    AttemptOutcome, ClaimedDelivery, Delivery, DeliveryStatus, EndpointPatch, WebhookEndpoint, WebhookEvent,
};

use db::{Conn, DbPool};

/// The database: a pool of connections to SQLite or PostgreSQL, migrated on open. Every method
/// runs its diesel work on tokio's blocking pool, never on the async executor.
#[derive(Clone)]
pub struct Store {
    pool: Arc<DbPool>,
    backend: &'static str,
    /// SQLite has one writer at a time. Queuing this process's writers here, instead of in
    /// SQLite's busy handler (which sleeps in growing steps), keeps write latency flat under load.
    /// Other processes on the same file still wait in the busy handler.
    write_gate: Option<Arc<tokio::sync::Mutex<()>>>,
    /// Encrypts credentials at rest.
    keyring: Arc<Keyring>,
    /// Slot queries' reads, reused while the expert's calendar version is unchanged.
    calendars: Arc<calendar_cache::CalendarCache>,
    /// The whole directory for the marketplace's questions, reused row by row while each
    /// expert's calendar version is unchanged.
    directory: Arc<directory_cache::DirectoryCache>,
    /// One permit per pooled connection. Requests wait for a connection here, in arrival order,
    /// instead of on blocking threads inside the pool (whose wake-ups are not in order: under load
    /// some requests waited hundreds of milliseconds while later ones went first).
    connections: Arc<tokio::sync::Semaphore>,
    /// Bookings waiting to be stored together with others of the same expert.
    bookings: Arc<booking_queue::BookingQueue>,
    /// PostgreSQL only: the token and calendar-version reads over async connections.
    hot: Option<Arc<hot_reads::HotReads>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// How long a request waits for a free connection before it is answered 503.
const CONNECTION_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn now() -> i64 {
    Timestamp::now().as_second()
}

impl Store {
    /// Opens the database DATABASE_URL names and applies pending migrations. SQLite files are
    /// created when missing; an unknown scheme is an error.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let parsed = DatabaseUrl::parse(url)?;
        let backend = match parsed {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        };
        // SQLite has one writer at a time; a few connections serve concurrent readers (WAL).
        // PostgreSQL: about two busy connections per core do the most work; more only queue
        // inside the database and stretch the tail (on 2 cores, 16 connections gave slots a p99
        // of 190 ms against 7 ms with 4; docs/benchmarks.md).
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let size = if backend == "sqlite" {
            8
        } else {
            u32::try_from(2 * cores).unwrap_or(16).clamp(4, 32)
        };
        let hot = match &parsed {
            // Few, shared by the server's threads: see `hot_reads::connections_for`.
            DatabaseUrl::Postgres(url) => {
                hot_reads::HotReads::for_url(url, hot_reads::connections_for(cores)).map(Arc::new)
            }
            DatabaseUrl::Sqlite(_) => None,
        };
        let pool = tokio::task::spawn_blocking(move || -> Result<DbPool, StoreError> { DbPool::open(&parsed, size) })
            .await
            .map_err(|e| StoreError::Database(e.to_string()))??;
        let write_gate = (backend == "sqlite").then(|| Arc::new(tokio::sync::Mutex::new(())));
        Ok(Self {
            pool: Arc::new(pool),
            backend,
            write_gate,
            keyring: Arc::new(Keyring::empty()),
            calendars: Arc::default(),
            directory: Arc::default(),
            connections: Arc::new(tokio::sync::Semaphore::new(size as usize)),
            bookings: Arc::default(),
            hot,
        })
    }

    /// Uses these keys for credentials at rest (without, storing a credential fails clearly).
    pub fn with_keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Arc::new(keyring);
        self
    }

    /// Whether credentials can be stored (ENCRYPTION_KEY is configured).
    pub fn can_store_credentials(&self) -> bool {
        self.keyring.can_encrypt()
    }

    /// "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let waiting = self.connections.clone().acquire_owned();
        let permit = match tokio::time::timeout(CONNECTION_WAIT, waiting).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(StoreError::Database("the store is closed".into())),
            Err(_) => {
                return Err(StoreError::Unavailable(format!(
                    "no database connection became free within {} s",
                    CONNECTION_WAIT.as_secs()
                )))
            }
        };
        tokio::task::spawn_blocking(move || {
            // Held until the connection is back in the pool, even if the caller gave up waiting.
            let _permit = permit;
            f(&mut pool.get()?)
        })
        .await
        .map_err(|e| StoreError::Database(format!("database task failed: {e}")))?
    }

    /// Like [`Store::run`], for a short read on the hot path. On SQLite with an idle connection at
    /// hand it runs right here: a WAL read never waits for a writer and takes microseconds, less
    /// than the two thread hand-offs of the blocking pool (measured: the hand-offs were the largest
    /// cost of a slot query). Otherwise (PostgreSQL, whose reads cross the network, or no idle
    /// connection) it goes to the blocking pool like everything else.
    pub(crate) async fn run_read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    {
        if let Some(mut conn) = self.pool.try_get_sqlite() {
            return f(&mut conn);
        }
        self.run(f).await
    }

    /// Like [`Store::run`], for work that writes: on SQLite it waits its turn in this process first.
    pub(crate) async fn run_write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    {
        let _turn = match &self.write_gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        };
        self.run(f).await
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(|conn| {
            use diesel::connection::SimpleConnection;
            db::db_run!(conn, |c| c.batch_execute("SELECT 1"))?;
            Ok(())
        })
        .await
    }

    /// Creates an expert with the default policy and manual integration.
    pub async fn create_expert(&self, name: String, email: String, timezone: Zone) -> Result<Expert, StoreError> {
        let expert = Expert {
            id: ExpertId::new(),
            name,
            email,
            timezone,
            integration_type: IntegrationType::MANUAL,
            booking_policy: BookingPolicy::default(),
        };
        let stored = expert.clone();
        self.run_write(move |c| experts::insert_expert(c, &stored, now()))
            .await?;
        Ok(expert)
    }

    /// One expert.
    pub async fn expert(&self, id: ExpertId) -> Result<Expert, StoreError> {
        self.run(move |c| experts::expert(c, id)).await
    }

    /// Experts by name, then id: whose name contains `q` (case-insensitively), after `after`, at
    /// most `limit`, as the directory lists them (one query, four columns).
    pub async fn directory(
        &self,
        q: Option<String>,
        after: Option<ExpertCursor>,
        limit: i64,
    ) -> Result<Vec<DirectoryEntry>, StoreError> {
        self.run(move |c| experts::directory(c, q.as_deref(), after.as_ref(), limit))
            .await
    }

    /// Every expert by name then id (at most `limit`), each with their calendar version as this
    /// call read it: the directory's questions. Rows are kept in the process and read again
    /// only when their expert's version changed.
    pub async fn whole_directory(&self, limit: i64) -> Result<Arc<Vec<DirectoryRow>>, StoreError> {
        let cache = Arc::clone(&self.directory);
        self.run_read(move |c| directory_cache::whole_directory(c, &cache, limit))
            .await
    }

    /// The clients who have (or had) an appointment with the expert, by name.
    pub async fn clients_of_expert(&self, expert: ExpertId) -> Result<Vec<Client>, StoreError> {
        self.run(move |c| experts::clients_of_expert(c, expert)).await
    }

    /// Changes an expert's name, email or zone.
    pub async fn update_expert(&self, id: ExpertId, patch: ExpertPatch) -> Result<Expert, StoreError> {
        self.run_write(move |c| experts::update_expert(c, id, &patch, now()))
            .await
    }

    /// Replaces an expert's booking policy.
    pub async fn set_booking_policy(&self, id: ExpertId, policy: BookingPolicy) -> Result<Expert, StoreError> {
        self.run_write(move |c| experts::set_policy(c, id, &policy, None, now()))
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("expert {id}: the policy was not stored")))
    }

    /// Replaces an expert's booking policy, unless it asks the calendar for video meetings
    /// (`video: "provider"`) and the expert's integration is not one of `video_integrations`:
    /// then None, and nothing changes. The check and the write are one statement, so a switch
    /// of integration at the same moment cannot slip between them.
    pub async fn set_booking_policy_with_video(
        &self,
        id: ExpertId,
        policy: BookingPolicy,
        video_integrations: Vec<IntegrationType>,
    ) -> Result<Option<Expert>, StoreError> {
        self.run_write(move |c| experts::set_policy(c, id, &policy, Some(&video_integrations), now()))
            .await
    }

    /// Sets where the expert's availability comes from.
    pub async fn set_integration(&self, id: ExpertId, integration: IntegrationType) -> Result<Expert, StoreError> {
        self.run_write(move |c| experts::set_integration(c, id, integration, true, now()))
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("expert {id}: the integration was not stored")))
    }

    /// Switches the expert's integration, unless `makes_video` is false and the expert's policy
    /// asks the calendar for video meetings: then None, and nothing changes (one statement, as
    /// for [`Store::set_booking_policy_with_video`]).
    pub async fn switch_integration(
        &self,
        id: ExpertId,
        integration: IntegrationType,
        makes_video: bool,
    ) -> Result<Option<Expert>, StoreError> {
        self.run_write(move |c| experts::set_integration(c, id, integration, makes_video, now()))
            .await
    }

    /// Records what became of an appointment's video meeting.
    pub async fn record_meeting(
        &self,
        id: AppointmentId,
        meeting: availability_core::Meeting,
    ) -> Result<Appointment, StoreError> {
        self.run_write(move |c| appointments::record_meeting(c, id, &meeting))
            .await
    }

    /// The expert's zone, rules and overrides.
    pub async fn schedule(&self, id: ExpertId) -> Result<Schedule, StoreError> {
        self.run(move |c| {
            let expert = experts::expert(c, id)?;
            experts::schedule(c, &expert)
        })
        .await
    }

    /// Replaces every rule and override (and the zone, if given) atomically.
    pub async fn replace_schedule(
        &self,
        id: ExpertId,
        rules: Vec<WeeklyRule>,
        overrides: Vec<DateOverride>,
        timezone: Option<Zone>,
    ) -> Result<Schedule, StoreError> {
        self.run_write(move |c| {
            experts::replace_schedule(c, id, &rules, &overrides, timezone.as_ref(), now())?;
            let expert = experts::expert(c, id)?;
            experts::schedule(c, &expert)
        })
        .await
    }

    /// The expert's schedules (the default first, then in the order they were made) and periods.
    pub async fn schedules(&self, id: ExpertId) -> Result<ScheduleSet, StoreError> {
        self.run(move |c| schedules::schedule_set(c, id)).await
    }

    /// Stores a new schedule for the expert (the default one if the change says so).
    pub async fn create_schedule(&self, expert: ExpertId, change: ScheduleChange) -> Result<NamedSchedule, StoreError> {
        self.run_write(move |c| schedules::create(c, expert, &change, now()))
            .await
    }

    /// Replaces one schedule's name, zone, rules and overrides (making it the default if asked).
    pub async fn update_schedule(
        &self,
        expert: ExpertId,
        id: ScheduleId,
        change: ScheduleChange,
    ) -> Result<NamedSchedule, StoreError> {
        self.run_write(move |c| schedules::update(c, expert, id, &change, now()))
            .await
    }

    /// Deletes a schedule that is not the default, with its periods.
    pub async fn delete_schedule(&self, expert: ExpertId, id: ScheduleId) -> Result<(), StoreError> {
        self.run_write(move |c| schedules::delete(c, expert, id)).await
    }

    /// Replaces every period of the expert; the schedules with the new periods.
    pub async fn replace_periods(
        &self,
        expert: ExpertId,
        periods: Vec<SchedulePeriod>,
    ) -> Result<ScheduleSet, StoreError> {
        self.run_write(move |c| schedules::replace_periods(c, expert, &periods))
            .await
    }

    /// Creates a client; [`StoreError::EmailTaken`] if another client has this email (compared
    /// case-insensitively).
    pub async fn create_client(&self, name: String, email: String, timezone: Zone) -> Result<Client, StoreError> {
        let client = Client {
            id: ClientId::new(),
            name,
            email,
            timezone,
        };
        let stored = client.clone();
        self.run_write(move |c| experts::insert_client(c, &stored, now()))
            .await?;
        Ok(client)
    }

    /// One client.
    pub async fn client(&self, id: ClientId) -> Result<Client, StoreError> {
        self.run(move |c| experts::client(c, id)).await
    }

    /// Stores a token's hash for a principal, never expiring (an existing hash is left as it is).
    pub async fn add_token(&self, token: String, principal: Principal) -> Result<(), StoreError> {
        self.run_write(move |c| tokens::insert(c, &token, principal, None, now()))
            .await
            .map(drop)
    }

    /// Makes a new token for a principal, expiring at `expires_at` (Unix seconds) if given:
    /// the secret (shown once, stored only as its hash) and its record.
    pub async fn issue_token(
        &self,
        principal: Principal,
        expires_at: Option<i64>,
    ) -> Result<(String, TokenRecord), StoreError> {
        let token = tokens::new_token()?;
        let stored = token.clone();
        let record = self
            .run_write(move |c| tokens::insert(c, &stored, principal, expires_at, now()))
            .await?;
        Ok((token, record))
    }

    /// Who a presented token speaks for (an unknown, revoked or expired token: None).
    pub async fn principal(&self, token: String) -> Result<Option<Principal>, StoreError> {
        self.run_read(move |c| tokens::principal(c, &token, now())).await
    }

    /// The stored, unexpired token a caller presented: one primary-key read, on every request
    /// (nothing is cached, so a revocation holds in every process at once).
    pub async fn token(&self, token: String) -> Result<Option<TokenRecord>, StoreError> {
        if let Some(hot) = &self.hot {
            if let Some(answer) = hot.token(&tokens::token_hash(&token), now()).await {
                return answer;
            }
        }
        self.run_read(move |c| tokens::lookup(c, &token, now())).await
    }

    /// [`Store::token`], and the expert's calendar version read in the same statement where the
    /// store can (PostgreSQL over its async connections; None otherwise, or for an unknown
    /// expert). The busiest route, GET slots, needs both: one statement instead of two. Pass the
    /// version to [`Store::with_calendar_version`] around the slot computation.
    pub async fn token_and_version(
        &self,
        token: String,
        expert: ExpertId,
    ) -> Result<(Option<TokenRecord>, Option<i64>), StoreError> {
        if let Some(hot) = &self.hot {
            if let Some(answer) = hot.token_and_version(&tokens::token_hash(&token), now(), expert).await {
                return answer;
            }
        }
        Ok((self.token(token).await?, None))
    }

    /// Runs `work` (one request's slot computation) with the expert's calendar version as read
    /// in this request by [`Store::token_and_version`]: the calendar read takes it instead of
    /// reading it again. As exact as a second read (both are this request's, made after it
    /// arrived); a calendar kept at another version is read afresh as always.
    pub async fn with_calendar_version<F: std::future::Future>(expert: ExpertId, version: i64, work: F) -> F::Output {
        ports::READ_VERSION.scope((expert, version), work).await
    }

    /// The stored tokens, of one subject (an expert or client id) if given, without secrets.
    pub async fn tokens(&self, subject: Option<String>) -> Result<Vec<TokenRecord>, StoreError> {
        self.run(move |c| tokens::list(c, subject.as_deref())).await
    }

    /// One stored token by its id.
    pub async fn token_by_id(&self, id: String) -> Result<Option<TokenRecord>, StoreError> {
        self.run(move |c| tokens::by_id(c, &id)).await
    }

    /// Revokes a token: it and the sessions opened with it are deleted. Returns whether it existed.
    pub async fn revoke_token(&self, id: String) -> Result<bool, StoreError> {
        self.run_write(move |c| tokens::revoke(c, &id)).await
    }

    /// Forgets expired tokens and their sessions.
    pub async fn purge_expired_tokens(&self) -> Result<usize, StoreError> {
        self.run_write(move |c| tokens::purge_expired(c, now())).await
    }

    /// Opens a browser session for a principal; `token` is the stored token signed in with (None
    /// for ADMIN_TOKEN): revoking it ends the session, and the session ends when it expires.
    pub async fn create_session(
        &self,
        principal: Principal,
        token: Option<TokenRecord>,
    ) -> Result<NewSession, StoreError> {
        self.run_write(move |c| sessions::create(c, principal, token.as_ref(), now()))
            .await
    }

    /// The unexpired session with this cookie value, if any.
    pub async fn session(&self, id: String) -> Result<Option<Session>, StoreError> {
        self.run(move |c| sessions::find(c, &id, now())).await
    }

    /// Ends a session (an unknown one: nothing to do).
    pub async fn end_session(&self, id: String) -> Result<(), StoreError> {
        self.run_write(move |c| sessions::end(c, &id)).await
    }

    /// Cancels pending appointments whose scheduling link went unused for 24 hours.
    pub async fn expire_pending_appointments(&self) -> Result<usize, StoreError> {
        self.run_write(move |c| appointments::expire_pending(c, now())).await
    }

    /// Forgets expired sessions.
    pub async fn purge_sessions(&self) -> Result<usize, StoreError> {
        self.run_write(move |c| sessions::purge(c, now())).await
    }

    /// One appointment.
    pub async fn appointment(&self, id: AppointmentId) -> Result<Appointment, StoreError> {
        self.run(move |c| appointments::appointment(c, id)).await
    }

    /// A party's appointments overlapping the window, sorted by start.
    pub async fn appointments(
        &self,
        party: Party,
        window: Interval,
        status: Option<AppointmentStatus>,
    ) -> Result<Vec<Appointment>, StoreError> {
        self.run(move |c| appointments::list(c, party, window, status)).await
    }

    /// An expert's pending appointments that no provider booking has reached yet, of clients
    /// with this email address (compared case-insensitively), oldest first: where a booking the
    /// provider reports (an invitee of a scheduler) may belong.
    pub async fn pending_for_email(&self, expert: ExpertId, email: String) -> Result<Vec<Appointment>, StoreError> {
        self.run(move |c| appointments::pending_for_email(c, expert, &email))
            .await
    }

    /// Records the provider's booking (external id, time) on a pending appointment that cannot be
    /// confirmed because it overlaps a confirmed one: it stays pending (so it holds no time and
    /// the database's overlap guard holds), with sync_status failed and `reason` as sync_error,
    /// for the expert to resolve. Only for a pending appointment; else `CoreError::NotPending`.
    pub async fn hold_unconfirmed(
        &self,
        id: AppointmentId,
        external_event_id: String,
        time: Interval,
        reason: String,
    ) -> Result<Appointment, StoreError> {
        self.run_write(move |c| appointments::hold_unconfirmed(c, id, &external_event_id, time, &reason, now()))
            .await
    }

    /// Queues once more the calendar sync of an appointment whose sync failed; `None` when there
    /// is nothing to retry (its sync did not fail, or it is a held provider booking).
    pub async fn retry_sync(&self, id: AppointmentId) -> Result<Option<Appointment>, StoreError> {
        self.run_write(move |c| appointments::retry_sync(c, id, now())).await
    }

    /// The expert's held bookings: pending appointments holding a provider's booking that
    /// overlapped a confirmed appointment when it arrived, earliest first.
    pub async fn held_bookings(&self, expert: ExpertId) -> Result<Vec<Appointment>, StoreError> {
        self.run(move |c| appointments::held(c, expert)).await
    }

    /// The experts whose active integration is one of `types` (the calendars to follow).
    pub async fn experts_using(&self, types: Vec<IntegrationType>) -> Result<Vec<ExpertId>, StoreError> {
        self.run(move |c| calendar_sync::experts_using(c, &types)).await
    }

    /// Stores a push channel just opened on an expert's calendar.
    pub async fn insert_push_channel(&self, channel: NewPushChannel) -> Result<(), StoreError> {
        self.run_write(move |c| push::insert(c, &channel, now())).await
    }

    /// The push channel with this id, if stored.
    pub async fn push_channel(&self, id: String) -> Result<Option<PushChannel>, StoreError> {
        self.run(move |c| push::find(c, &id)).await
    }

    /// The expert's push channels of one integration, newest first.
    pub async fn push_channels_of(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
    ) -> Result<Vec<PushChannel>, StoreError> {
        self.run(move |c| push::of_expert(c, expert, integration)).await
    }

    /// Every stored push channel.
    pub async fn all_push_channels(&self) -> Result<Vec<PushChannel>, StoreError> {
        self.run(push::all).await
    }

    /// Records a push channel's renewal in place (its new expiry).
    pub async fn renewed_push_channel(&self, id: String, expires_at: i64) -> Result<(), StoreError> {
        self.run_write(move |c| push::renewed(c, &id, expires_at, now())).await
    }

    /// Marks a push channel for renewal at the next keeper round (the calendar asked for it).
    pub async fn push_channel_due(&self, id: String) -> Result<(), StoreError> {
        self.run_write(move |c| push::due(c, &id)).await
    }

    /// Forgets a push channel (after stopping it).
    pub async fn delete_push_channel(&self, id: String) -> Result<(), StoreError> {
        self.run_write(move |c| push::delete(c, &id)).await
    }

    /// Records that a notification came on the channel.
    pub async fn push_noticed(&self, id: String) -> Result<(), StoreError> {
        self.run_write(move |c| push::noticed(c, &id, now())).await
    }

    /// The expert's current calendar connection number (it changes with every reconnect or
    /// switch of calendar).
    pub async fn calendar_connection(&self, expert: ExpertId) -> Result<i64, StoreError> {
        self.run(move |c| push::connection(c, expert)).await
    }

    /// Takes the lease on the expert's channels of one integration for `seconds`, unless
    /// another process holds it: true when taken.
    pub async fn take_push_lease(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        seconds: i64,
    ) -> Result<bool, StoreError> {
        let at = now();
        self.run_write(move |c| push::take_lease(c, expert, integration, at, at + seconds))
            .await
    }

    /// Gives the lease back.
    pub async fn release_push_lease(&self, expert: ExpertId, integration: IntegrationType) -> Result<(), StoreError> {
        self.run_write(move |c| push::release_lease(c, expert, integration))
            .await
    }

    /// A stored Idempotency-Key answer for this caller, if one younger than 24 hours exists.
    pub async fn idempotent_answer(&self, scope: String, key: String) -> Result<Option<StoredAnswer>, StoreError> {
        self.run(move |c| idempotency::find(c, &scope, &key, now())).await
    }

    /// Keeps an answer for an Idempotency-Key; if another request kept one first, returns that.
    pub async fn keep_idempotent_answer(
        &self,
        scope: String,
        key: String,
        answer: StoredAnswer,
    ) -> Result<StoredAnswer, StoreError> {
        self.run_write(move |c| idempotency::save(c, &scope, &key, &answer, now()))
            .await
    }

    /// Forgets Idempotency-Key answers older than 24 hours.
    pub async fn purge_idempotency_keys(&self) -> Result<usize, StoreError> {
        self.run_write(move |c| idempotency::purge(c, now())).await
    }
}

/// iCalendar: appointments as calendars show them, and the experts' secret feeds.
impl Store {
    /// One appointment with its SEQUENCE and the names its event shows.
    pub async fn calendar_entry(&self, id: AppointmentId) -> Result<CalendarEntry, StoreError> {
        self.run(move |c| ics::entry(c, id)).await
    }

    /// The expert's confirmed and pending appointments that end after `since`, by start.
    pub async fn feed_entries(&self, expert: ExpertId, since: Timestamp) -> Result<Vec<CalendarEntry>, StoreError> {
        self.run(move |c| ics::feed(c, expert, since.as_second())).await
    }

    /// Turns the expert's feed on with a new 256-bit secret (hex), replacing any earlier one:
    /// the URL of the old secret stops working at once. Only the secret's SHA-256 is stored.
    pub async fn rotate_ics_feed(&self, expert: ExpertId) -> Result<String, StoreError> {
        let secret = tokens::new_token()?;
        let hash = tokens::token_hash(&secret);
        self.run_write(move |c| ics::set_feed_hash(c, expert, Some(&hash)))
            .await?;
        Ok(secret)
    }

    /// Turns the expert's feed off (already off: nothing to do).
    pub async fn disable_ics_feed(&self, expert: ExpertId) -> Result<(), StoreError> {
        self.run_write(move |c| ics::set_feed_hash(c, expert, None)).await
    }

    /// Whether `secret` is the expert's current feed secret (compared on hashes, in constant
    /// time). False for an unknown expert, a feed that is off, or any other secret.
    pub async fn ics_feed_secret_matches(&self, expert: ExpertId, secret: String) -> Result<bool, StoreError> {
        let stored = self.run_read(move |c| ics::feed_hash(c, expert)).await?;
        let Some(stored) = stored else {
            return Ok(false);
        };
        let presented = tokens::token_hash(&secret);
        #[allow(deprecated)]
        let same = ring::constant_time::verify_slices_are_equal(stored.as_bytes(), presented.as_bytes()).is_ok();
        Ok(same)
    }
}

/// Integrations, OAuth states and the outbox.
impl Store {
    /// The expert's connected integrations.
    pub async fn integrations(&self, expert: ExpertId) -> Result<Vec<IntegrationRecord>, StoreError> {
        self.run(move |c| integrations::list(c, expert)).await
    }

    /// Stores a new grant encrypted and marks the integration connected, in one transaction.
    pub async fn connect_integration(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        credential: availability_domain::Secret<String>,
        account: Option<String>,
        settings: String,
    ) -> Result<(), StoreError> {
        let keyring = self.keyring.clone();
        let grant = integrations::Grant {
            credential,
            account,
            settings,
        };
        self.run_write(move |c| integrations::connect(c, &keyring, expert, integration, &grant, now()))
            .await
    }

    /// Replaces an integration's non-secret settings (JSON), e.g. a newly chosen event type.
    pub async fn set_integration_settings(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        settings: String,
    ) -> Result<(), StoreError> {
        self.run_write(move |c| integrations::set_settings(c, expert, integration, &settings))
            .await
    }

    /// The client with this email address (compared case-insensitively).
    pub async fn client_by_email(&self, email: String) -> Result<Option<Client>, StoreError> {
        self.run(move |c| experts::client_by_email(c, &email)).await
    }

    /// Sets the provider account shown for a connected integration.
    pub async fn set_integration_account(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        account: String,
    ) -> Result<(), StoreError> {
        self.run_write(move |c| integrations::set_account(c, expert, integration, &account))
            .await
    }

    /// Wipes an integration (credential, status) and falls back to manual if it was active; one
    /// transaction, idempotent. Returns the wiped credential so that the caller can revoke it.
    pub async fn disconnect_integration(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
    ) -> Result<Option<availability_domain::Secret<String>>, StoreError> {
        let keyring = self.keyring.clone();
        self.run_write(move |c| integrations::disconnect(c, &keyring, expert, integration, now()))
            .await
    }

    /// Starts an OAuth connect: keeps the state, binding and ticket (hashed), the PKCE verifier
    /// and the authorization URL (encrypted).
    pub async fn save_oauth_state(&self, start: OAuthStart) -> Result<(), StoreError> {
        let keyring = self.keyring.clone();
        self.run_write(move |c| integrations::save_state(c, &keyring, &start, now()))
            .await
    }

    /// Uses a start ticket once: binds its state to `binding` and returns the authorization URL;
    /// None when the ticket is unknown, used, expired or for another integration.
    pub async fn take_oauth_ticket(
        &self,
        ticket: String,
        integration: IntegrationType,
        binding: availability_domain::Secret<String>,
    ) -> Result<Option<availability_domain::Secret<String>>, StoreError> {
        let keyring = self.keyring.clone();
        self.run_write(move |c| integrations::take_ticket(c, &keyring, &ticket, integration, &binding, now()))
            .await
    }

    /// Uses an OAuth state once, from the browser it is bound to (`binding`: its cookie's
    /// value); None when unknown, used, expired, for another integration or another browser.
    pub async fn consume_oauth_state(
        &self,
        state: String,
        integration: IntegrationType,
        binding: String,
    ) -> Result<Option<(ExpertId, availability_domain::Secret<String>)>, StoreError> {
        let keyring = self.keyring.clone();
        self.run_write(move |c| integrations::consume_state(c, &keyring, &state, integration, &binding, now()))
            .await
    }

    /// Claims up to `limit` due sync jobs for this worker.
    pub async fn claim_sync_jobs(&self, limit: i64) -> Result<Vec<ClaimedJob>, StoreError> {
        self.run_write(move |c| outbox::claim(c, now(), limit)).await
    }

    /// Finishes a sync job that succeeded.
    pub async fn sync_succeeded(&self, job: ClaimedJob, external_id: Option<String>) -> Result<(), StoreError> {
        self.sync_succeeded_with_meeting(job, external_id, None, 0).await
    }

    /// Finishes a sync job that succeeded, with what became of the event's video meeting: a
    /// meeting still being made keeps the job, to read it again in `retry_in_seconds`.
    pub async fn sync_succeeded_with_meeting(
        &self,
        job: ClaimedJob,
        external_id: Option<String>,
        meeting: Option<availability_core::Meeting>,
        retry_in_seconds: i64,
    ) -> Result<(), StoreError> {
        self.run_write(move |c| {
            outbox::succeed(
                c,
                &job,
                external_id.as_deref(),
                meeting.as_ref(),
                now(),
                retry_in_seconds,
            )
        })
        .await
    }

    /// Records a failed attempt; returns true when the job gave up (after 24 hours).
    pub async fn sync_failed(
        &self,
        job: ClaimedJob,
        reason: String,
        retry_in_seconds: i64,
    ) -> Result<bool, StoreError> {
        self.run_write(move |c| outbox::fail(c, &job, &reason, now(), retry_in_seconds))
            .await
    }

    /// The sync queue's depth and the enqueue time of its oldest job, for /metrics.
    pub async fn sync_queue(&self) -> Result<(i64, Option<Timestamp>), StoreError> {
        let (depth, oldest) = self.run(outbox::depth).await?;
        Ok((depth, oldest.map(rows::instant).transpose()?))
    }

    /// The webhook queue's depth (pending deliveries) and the enqueue time of its oldest
    /// delivery, for /metrics.
    pub async fn webhook_queue(&self) -> Result<(i64, Option<Timestamp>), StoreError> {
        let (depth, oldest) = self.run(webhooks::depth).await?;
        Ok((depth, oldest.map(rows::instant).transpose()?))
    }

    /// How many integrations each (integration type, status) has, for /metrics.
    pub async fn integration_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        self.run(integrations::counts).await
    }

    /// How many sync jobs are queued.
    pub async fn pending_sync_jobs(&self) -> Result<i64, StoreError> {
        self.run(outbox::pending).await
    }

    /// Registers a webhook endpoint (URL and events checked by the caller); returns it and its
    /// secret, which is stored encrypted and never shown again.
    pub async fn create_webhook_endpoint(
        &self,
        url: String,
        events: Vec<String>,
    ) -> Result<(WebhookEndpoint, availability_domain::Secret<String>), StoreError> {
        let keyring = self.keyring.clone();
        self.run_write(move |c| webhooks::create_endpoint(c, &keyring, &url, &events, now()))
            .await
    }

    /// Every webhook endpoint, oldest first.
    pub async fn webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.run(webhooks::endpoints).await
    }

    /// One webhook endpoint.
    pub async fn webhook_endpoint(&self, id: String) -> Result<WebhookEndpoint, StoreError> {
        self.run(move |c| webhooks::endpoint(c, &id)).await
    }

    /// Changes a webhook endpoint.
    pub async fn update_webhook_endpoint(
        &self,
        id: String,
        patch: EndpointPatch,
    ) -> Result<WebhookEndpoint, StoreError> {
        self.run_write(move |c| webhooks::update_endpoint(c, &id, &patch, now()))
            .await
    }

    /// Removes a webhook endpoint and its deliveries; whether it existed.
    pub async fn delete_webhook_endpoint(&self, id: String) -> Result<bool, StoreError> {
        self.run_write(move |c| webhooks::delete_endpoint(c, &id)).await
    }

    /// An endpoint's deliveries, newest first, at most `limit`.
    pub async fn webhook_deliveries(&self, endpoint: String, limit: i64) -> Result<Vec<Delivery>, StoreError> {
        self.run(move |c| webhooks::deliveries(c, &endpoint, limit)).await
    }

    /// Queues a delivery again at once, with a fresh retry window.
    pub async fn retry_webhook_delivery(&self, endpoint: String, delivery: i64) -> Result<Delivery, StoreError> {
        self.run_write(move |c| webhooks::retry_delivery(c, &endpoint, delivery, now()))
            .await
    }

    /// Claims up to `limit` due webhook deliveries for this worker (leases of
    /// [`webhooks::LEASE_SECONDS`]).
    pub async fn claim_webhook_deliveries(&self, limit: i64) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let keyring = self.keyring.clone();
        self.run_write(move |c| webhooks::claim(c, &keyring, now(), limit))
            .await
    }

    /// Records what came of a delivery attempt.
    pub async fn finish_webhook_delivery(
        &self,
        claim: ClaimedDelivery,
        outcome: AttemptOutcome,
    ) -> Result<(), StoreError> {
        self.run_write(move |c| webhooks::finish(c, &claim, &outcome, now()))
            .await
    }

    /// Forgets delivered and failed webhook deliveries older than 30 days.
    pub async fn purge_webhook_deliveries(&self) -> Result<usize, StoreError> {
        self.run_write(move |c| webhooks::purge(c, now())).await
    }

    /// How many webhook deliveries wait for an attempt.
    pub async fn pending_webhook_deliveries(&self) -> Result<i64, StoreError> {
        self.run(webhooks::pending).await
    }

    /// Rewrites every credential that is not under the current key. Returns (rewritten, failed):
    /// credentials that cannot be decrypted are reported and left as they are.
    pub async fn reencrypt_credentials(&self) -> Result<(usize, Vec<String>), StoreError> {
        let keyring = self.keyring.clone();
        if !keyring.can_encrypt() {
            return Err(crypto::CryptoError::NoKey.into());
        }
        self.run_write(move |c| {
            let mut rewritten = 0;
            let mut failed = Vec::new();
            for (expert, integration, stored) in integrations::all_credentials(c)? {
                if !keyring.is_stale(&stored) {
                    continue;
                }
                let ctx = integrations::credential_context(&expert, integration);
                match keyring.decrypt(&stored, &ctx) {
                    Ok(plain) => {
                        let sealed = keyring.encrypt(plain.expose(), &ctx)?;
                        if integrations::replace_ciphertext(c, &expert, integration, &stored, &sealed)? {
                            rewritten += 1;
                        }
                    }
                    Err(e) => failed.push(format!("expert {expert} {integration}: {e}")),
                }
            }
            for (endpoint, stored) in webhooks::all_secrets(c)? {
                if !keyring.is_stale(&stored) {
                    continue;
                }
                let ctx = webhooks::secret_context(&endpoint);
                match keyring.decrypt(&stored, &ctx) {
                    Ok(plain) => {
                        let sealed = keyring.encrypt(plain.expose(), &ctx)?;
                        if webhooks::replace_secret(c, &endpoint, &stored, &sealed)? {
                            rewritten += 1;
                        }
                    }
                    Err(e) => failed.push(format!("webhook endpoint {endpoint}: {e}")),
                }
            }
            Ok((rewritten, failed))
        })
        .await
    }
}

//! A per-account concurrency limit. Providers throttle per account as well as per app (Outlook
//! allows 4 concurrent requests per app per mailbox), and a fan-out over many calendars of one
//! expert must not trip that limit only to be told to wait by `Retry-After`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ProviderHttpError;

/// At most `per_account` requests in flight per account key (a mailbox address, an expert id).
/// Cheap to clone; clones share the limits. One limiter per provider: keys of different
/// providers do not share a budget.
#[derive(Clone)]
pub struct AccountLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    per_account: usize,
    /// One semaphore per account with requests in flight or waiting; an idle account's entry is
    /// removed, so the map does not grow with every account ever seen.
    accounts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl fmt::Debug for AccountLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountLimiter")
            .field("per_account", &self.inner.per_account)
            .finish_non_exhaustive()
    }
}

impl AccountLimiter {
    /// A limiter allowing `per_account` concurrent requests per account (at least 1).
    pub fn new(per_account: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                per_account: per_account.max(1),
                accounts: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The limit per account.
    pub fn per_account(&self) -> usize {
        self.inner.per_account
    }

    /// Waits for a free place for `account`; the place is held until the permit is dropped.
    pub async fn acquire(&self, account: &str) -> Result<AccountPermit, ProviderHttpError> {
        let semaphore = {
            let mut accounts = self.inner.accounts.lock().unwrap_or_else(PoisonError::into_inner);
            accounts
                .entry(account.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.inner.per_account)))
                .clone()
        };
        // The semaphores are never closed, so this fails only if that invariant is broken.
        let permit = semaphore
            .acquire_owned()
            .await
            .map_err(|_| ProviderHttpError::InvalidRequest("the account limiter was closed".into()))?;
        Ok(AccountPermit {
            permit: Some(permit),
            account: account.to_owned(),
            limiter: self.inner.clone(),
        })
    }

    /// How many accounts currently have requests in flight or waiting (for tests and metrics).
    pub fn active_accounts(&self) -> usize {
        self.inner.accounts.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// A place in an account's limit, given back on drop.
pub struct AccountPermit {
    permit: Option<OwnedSemaphorePermit>,
    account: String,
    limiter: Arc<Inner>,
}

impl fmt::Debug for AccountPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountPermit").field("account", &self.account).finish()
    }
}

impl Drop for AccountPermit {
    fn drop(&mut self) {
        // Give the place back first, so that the count below sees only the map's reference when
        // nobody else holds or waits for this account. Everyone who takes a reference does so
        // under the map's lock, so the check cannot race with a new waiter.
        drop(self.permit.take());
        let mut accounts = self.limiter.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        if accounts
            .get(&self.account)
            .is_some_and(|semaphore| Arc::strong_count(semaphore) == 1)
        {
            accounts.remove(&self.account);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_accounts_are_forgotten() {
        let limiter = AccountLimiter::new(2);
        let a = limiter.acquire("a").await.unwrap();
        let b = limiter.acquire("a").await.unwrap();
        let c = limiter.acquire("b").await.unwrap();
        assert_eq!(limiter.active_accounts(), 2);
        drop(a);
        assert_eq!(limiter.active_accounts(), 2);
        drop(b);
        drop(c);
        assert_eq!(limiter.active_accounts(), 0);
    }

    #[tokio::test]
    async fn a_full_account_waits() {
        let limiter = AccountLimiter::new(1);
        let held = limiter.acquire("a").await.unwrap();
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), limiter.acquire("a")).await;
        assert!(waiting.is_err(), "a second permit for a full account was granted");
        let other = tokio::time::timeout(std::time::Duration::from_millis(50), limiter.acquire("b")).await;
        assert!(other.is_ok(), "another account had to wait");
        drop(held);
        assert!(limiter.acquire("a").await.is_ok());
    }
}

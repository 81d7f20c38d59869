//! Security hardening in the store, on SQLite always and on PostgreSQL when TEST_DATABASE_URL is
//! set: tokens with ids, expiry and revocation (which ends their sessions), unique client emails
//! compared case-insensitively, and the migration that brings both to an existing database
//! without failing on duplicate emails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use availability_core::domain::jiff::Timestamp;
use availability_core::domain::{ClientId, Zone};
use availability_core::ExpertRepository;
use availability_store::{testing, tokens, Principal, Store, StoreError};

#[tokio::test]
async fn tokens_are_listed_without_secrets_revoked_with_their_sessions_and_expire() {
    for url in
        testing::database_urls("tokens_are_listed_without_secrets_revoked_with_their_sessions_and_expire").unwrap()
    {
        let store = Store::open(&url).await.unwrap();
        let expert = store
            .create_expert("E".into(), "e@example.com".into(), Zone::utc())
            .await
            .unwrap();
        let other = store
            .create_expert("O".into(), "o@example.com".into(), Zone::utc())
            .await
            .unwrap();
        let who = Principal::Expert(expert.id);
        let in_an_hour = Timestamp::now().as_second() + 3600;
        let (forever, forever_record) = store.issue_token(who, None).await.unwrap();
        let (soon, soon_record) = store.issue_token(who, Some(in_an_hour)).await.unwrap();
        store.issue_token(Principal::Expert(other.id), None).await.unwrap();

        let mut listed = store.tokens(Some(expert.id.to_string())).await.unwrap();
        listed.sort_by(|a, b| a.id.cmp(&b.id));
        let mut expected = vec![forever_record.clone(), soon_record.clone()];
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(listed, expected, "the expert's, not the other's");
        assert_eq!(store.tokens(None).await.unwrap().len(), 3);
        assert_eq!(
            store.token(forever.clone()).await.unwrap(),
            Some(forever_record.clone())
        );

        // A session ends when its token does, and with it when the token is revoked.
        let session = store.create_session(who, Some(soon_record.clone())).await.unwrap();
        assert_eq!(session.session.expires_at, in_an_hour, "no longer than the token");
        let kept = store.create_session(who, Some(forever_record.clone())).await.unwrap();
        assert!(store.revoke_token(soon_record.id.clone()).await.unwrap());
        assert_eq!(store.token(soon.clone()).await.unwrap(), None, "refused at once");
        assert_eq!(store.principal(soon).await.unwrap(), None);
        assert_eq!(store.session(session.id).await.unwrap(), None, "its session ended");
        assert!(store.session(kept.id.clone()).await.unwrap().is_some(), "others stay");
        assert!(!store.revoke_token(soon_record.id).await.unwrap(), "gone already");

        // An expired token is refused, then forgotten with its sessions.
        testing::expire_token(&store, forever_record.id.clone()).await.unwrap();
        assert_eq!(store.token(forever).await.unwrap(), None);
        assert_eq!(store.tokens(Some(expert.id.to_string())).await.unwrap().len(), 1);
        assert_eq!(store.purge_expired_tokens().await.unwrap(), 1);
        assert!(store.tokens(Some(expert.id.to_string())).await.unwrap().is_empty());
        assert_eq!(store.session(kept.id).await.unwrap(), None);
    }
}

#[tokio::test]
async fn client_emails_are_unique_compared_case_insensitively() {
    for url in testing::database_urls("client_emails_are_unique_compared_case_insensitively").unwrap() {
        let store = Store::open(&url).await.unwrap();
        let ann = store
            .create_client("Ann".into(), "Ann@Example.com".into(), Zone::utc())
            .await
            .unwrap();
        for again in ["ann@example.com", "ANN@EXAMPLE.COM", " ann@example.com "] {
            let refused = store.create_client("Ann 2".into(), again.into(), Zone::utc()).await;
            assert!(matches!(refused, Err(StoreError::EmailTaken)), "{again:?}: {refused:?}");
        }
        let found = store.client_by_email("aNN@example.COM".into()).await.unwrap().unwrap();
        assert_eq!(found.id, ann.id);
        assert_eq!(found.email, "Ann@Example.com", "stored as given");
        // A provider's booking for that address is the same client, not a second one.
        let via_port = ExpertRepository::create_client(&store, "A".into(), "ANN@example.com".into(), Zone::utc())
            .await
            .unwrap();
        assert_eq!(via_port.id, ann.id);
        store
            .create_client("Bo".into(), "bo@example.com".into(), Zone::utc())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_migration_keeps_duplicate_emails_and_existing_tokens() {
    for url in testing::database_urls("the_migration_keeps_duplicate_emails_and_existing_tokens").unwrap() {
        let (oldest, newer, other) = (ClientId::new(), ClientId::new(), ClientId::new());
        let token = tokens::new_token().unwrap();
        // A database of the release before: two clients whose emails differ only in case.
        testing::migrate_until(&url, "2026-12-03-000006").unwrap();
        testing::execute_sql(
            &url,
            &format!(
                "INSERT INTO clients (id, name, email, timezone, created_at) VALUES
                   ('{oldest}', 'First', 'dup@x.example', 'UTC', 100),
                   ('{newer}', 'Second', 'DUP@X.example', 'UTC', 200),
                   ('{other}', 'Other', 'other@x.example', 'UTC', 300);
                 INSERT INTO api_tokens (token_hash, role, subject_id, created_at)
                   VALUES ('{}', 'client', '{newer}', 100);",
                tokens::token_hash(&token)
            ),
        )
        .unwrap();
        let store = Store::open(&url).await.unwrap();
        assert_eq!(
            store.client_by_email("Dup@x.example".into()).await.unwrap().unwrap().id,
            oldest,
            "the oldest keeps the address, as lookups found it before"
        );
        assert_eq!(
            store.client(newer).await.unwrap().email,
            "DUP@X.example",
            "nothing changed"
        );
        assert_eq!(
            store
                .client_by_email("other@x.example".into())
                .await
                .unwrap()
                .unwrap()
                .id,
            other
        );
        assert!(matches!(
            store
                .create_client("Third".into(), "dup@X.EXAMPLE".into(), Zone::utc())
                .await,
            Err(StoreError::EmailTaken)
        ));
        // The token made before has an id now, still works, and can be revoked.
        let record = store.token(token.clone()).await.unwrap().unwrap();
        assert_eq!(record.principal, Principal::Client(newer));
        assert_eq!(record.expires_at, None);
        assert_eq!(record.id.len(), 36, "a UUID: {}", record.id);
        assert_eq!(
            store.tokens(Some(newer.to_string())).await.unwrap(),
            vec![record.clone()]
        );
        assert!(store.revoke_token(record.id).await.unwrap());
        assert_eq!(store.token(token).await.unwrap(), None);
    }
}

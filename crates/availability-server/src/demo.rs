//! `--demo`: an example expert with weekly hours, a client, and tokens, printed with a curl
//! command, so a newcomer sees slots within a minute of cloning.

use availability_domain::{DayOfWeek, Expert, WeeklyRule, Zone};
use availability_store::{tokens, Principal, Store};

/// What the demo seeded.
#[derive(Debug)]
pub struct Demo {
    /// The example expert.
    pub expert: Expert,
    /// A token with the admin role (ADMIN_TOKEN when set, else a new stored one).
    pub admin_token: String,
    /// A token of the expert.
    pub expert_token: String,
    /// A token of the client.
    pub client_token: String,
    /// The client's id.
    pub client_id: String,
}

/// Seeds the example data (new rows each run; earlier demo rows stay) and returns the tokens.
pub async fn seed(store: &Store, admin_token: Option<&str>) -> anyhow::Result<Demo> {
    let berlin = Zone::new("Europe/Berlin")?;
    let expert = store
        .create_expert("Dr. Ada Example".into(), "ada@example.com".into(), berlin)
        .await?;
    let mut rules = Vec::new();
    for day in 1..=5 {
        let day = DayOfWeek::new(day)?;
        rules.push(WeeklyRule::new(day, "09:00".parse()?, "17:00".parse()?, true)?);
        rules.push(WeeklyRule::new(day, "12:00".parse()?, "13:00".parse()?, false)?);
    }
    store.replace_schedule(expert.id, rules, vec![], None).await?;
    // Client emails are unique: an earlier run's client is the demo's client.
    let client = match store.client_by_email("ann@example.com".into()).await? {
        Some(client) => client,
        None => {
            store
                .create_client(
                    "Ann Client".into(),
                    "ann@example.com".into(),
                    Zone::new("America/New_York")?,
                )
                .await?
        }
    };
    let admin_token = match admin_token {
        Some(t) => t.to_owned(),
        None => {
            let t = tokens::new_token()?;
            store.add_token(t.clone(), Principal::Admin).await?;
            t
        }
    };
    let expert_token = tokens::new_token()?;
    store
        .add_token(expert_token.clone(), Principal::Expert(expert.id))
        .await?;
    let client_token = tokens::new_token()?;
    store
        .add_token(client_token.clone(), Principal::Client(client.id))
        .await?;
    Ok(Demo {
        expert,
        admin_token,
        expert_token,
        client_token,
        client_id: client.id.to_string(),
    })
}

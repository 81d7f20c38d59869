//! The whole directory (every expert's id, name, zone and integration, by name) kept per process
//! for the marketplace's questions, with each expert's calendar version. A question reads every
//! version in one query; an expert's row changes only with their version (the version trigger of
//! `expert_profiles` fires on every update of it), so rows whose version is unchanged are reused,
//! the others read again. The versions go with the rows to the service, which answers an expert
//! whose slots it keeps at that version without asking again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use availability_domain::ExpertId;
use diesel::prelude::*;

use crate::db::{db_run, Conn};
use crate::experts::{directory, directory_rows, DirectoryEntry};
use crate::StoreError;

/// Up to how many changed rows are read again by id; more, and the whole directory is read.
const REREAD_BY_ID: usize = 1000;

/// An expert as a directory question lists them, with their calendar version at that moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryRow {
    /// The expert's row.
    pub entry: DirectoryEntry,
    /// Their calendar version when the question began (`None`: listed without one).
    pub calendar_version: Option<i64>,
}

/// The directory as this process last read it, by name then id.
#[derive(Debug, Default)]
pub(crate) struct DirectoryCache {
    listed: Mutex<Option<Arc<Vec<DirectoryRow>>>>,
}

/// Every expert by name then id (at most `limit`) with their current calendar versions: the
/// versions are read first, in one query, so a row read after them is at least as new as its
/// version (a change in between shows as a newer version next time, and is read again).
pub(crate) fn whole_directory(
    conn: &mut Conn,
    cache: &DirectoryCache,
    limit: i64,
) -> Result<Arc<Vec<DirectoryRow>>, StoreError> {
    use crate::schema::expert_calendar_versions as v;
    let rows: Vec<(String, i64)> = db_run!(conn, |c| v::table.select((v::expert_id, v::version)).load(c))?;
    let mut versions: HashMap<ExpertId, i64> = HashMap::with_capacity(rows.len());
    for (id, version) in rows {
        if let Ok(id) = id.parse() {
            versions.insert(id, version);
        }
    }
    let kept = cache.listed.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let listed = match kept.map(|kept| patched(conn, &kept, &versions)).transpose()? {
        Some(Some(same_or_patched)) => same_or_patched,
        // Nothing kept, experts came or went, a name changed, or too much changed.
        _ => Arc::new(read_all(conn, &versions)?),
    };
    *cache.listed.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&listed));
    if listed.len() as i64 > limit {
        return Ok(Arc::new(listed[..limit as usize].to_vec()));
    }
    Ok(listed)
}

/// The kept directory brought to `versions` by reading the changed rows again, if that keeps its
/// order (the same experts, no name changed); `None` otherwise.
fn patched(
    conn: &mut Conn,
    kept: &Arc<Vec<DirectoryRow>>,
    versions: &HashMap<ExpertId, i64>,
) -> Result<Option<Arc<Vec<DirectoryRow>>>, StoreError> {
    if kept.len() != versions.len() {
        return Ok(None);
    }
    let mut changed = Vec::new();
    for (at, listed) in kept.iter().enumerate() {
        match versions.get(&listed.entry.id) {
            None => return Ok(None),
            Some(&v) if Some(v) != listed.calendar_version => changed.push((at, v)),
            Some(_) => {}
        }
    }
    if changed.is_empty() {
        return Ok(Some(Arc::clone(kept)));
    }
    if changed.len() > REREAD_BY_ID {
        return Ok(None);
    }
    let ids: Vec<ExpertId> = changed.iter().map(|&(at, _)| kept[at].entry.id).collect();
    let fresh: HashMap<ExpertId, DirectoryEntry> = directory_rows(conn, &ids)?.into_iter().map(|e| (e.id, e)).collect();
    let mut listed = kept.as_ref().clone();
    for (at, version) in changed {
        let Some(entry) = fresh.get(&listed[at].entry.id) else {
            return Ok(None);
        };
        if entry.name != listed[at].entry.name {
            return Ok(None);
        }
        listed[at] = DirectoryRow {
            entry: entry.clone(),
            calendar_version: Some(version),
        };
    }
    Ok(Some(Arc::new(listed)))
}

/// The whole directory read again; experts without a version in `versions` (made after it was
/// read) are left out, as the question began before them.
fn read_all(conn: &mut Conn, versions: &HashMap<ExpertId, i64>) -> Result<Vec<DirectoryRow>, StoreError> {
    let entries = directory(conn, None, None, i64::MAX)?;
    Ok(entries
        .into_iter()
        .filter_map(|entry| {
            let calendar_version = Some(*versions.get(&entry.id)?);
            Some(DirectoryRow {
                entry,
                calendar_version,
            })
        })
        .collect())
}

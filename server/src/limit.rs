//! Rate limits on the public doors (the copy lookup, enrolment), as one
//! mechanism: who a client is ([`client_key`]), how many attempts it made
//! in the window ([`check`], over the store's attempt counts, so limits
//! hold across restarts where the key allows), and what happens to the
//! refusals a limit causes ([`Throttled`]).
//!
//! **Refusals by a limit are not audited one by one.** Anyone can make
//! hundreds of throttled requests a second; one permanent, chained audit
//! event each would let the public grow the trail without bound. They are
//! counted in metrics (`pocketbook_throttled_total{limit}`) and written as
//! one summary event per action and window, with the counts. Attempts that
//! pass the limits are audited individually by their door, and there are
//! at most a limit's worth of them per client and window, and at most
//! `limits.audited_refusals_per_hour` refused ones in all per hour on one
//! instance ([`Throttled::single_event`]): beyond it they are summarised
//! too, since there is no bound on the number of clients.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::{self, Action, actor};
use crate::clock::stamp;
use crate::metrics::LimitLabels;
use crate::storage::{Storage, StorageError};

/// The rate-limit window: one hour.
pub const WINDOW_SECS: i64 = 3600;

/// Most distinct keys (e.g. hashed references) named in one summary; the
/// rest are counted under `other`, so a summary stays small.
pub const SUMMARY_KEYS: usize = 32;

/// How long one salt of client addresses lasts: a day.
pub const SALT_PERIOD_SECS: i64 = 86_400;

/// The salt client addresses are hashed with, the same for every instance
/// on one store: the day's salt is kept in the store
/// ([`crate::storage::CopyStore::limit_salt`]), so per-client counts hold
/// across instances and restarts within the day, and yesterday's salt is
/// forgotten, so keys of different days cannot be linked (nor the
/// addresses behind them found by trying every address against a kept
/// salt). Each server holds the current one and refreshes it from the
/// store ([`Salt::refresh`]) at start and every minute.
#[derive(Debug)]
pub struct Salt {
    current: std::sync::RwLock<[u8; 32]>,
}

impl Default for Salt {
    /// A random salt of this process alone, until the first refresh.
    fn default() -> Self {
        Salt {
            current: std::sync::RwLock::new(random_salt()),
        }
    }
}

fn random_salt() -> [u8; 32] {
    let mut salt = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
    salt
}

impl Salt {
    /// Takes the salt of the day `now_unix` falls in from the store (a
    /// fresh random one is stored if the day has none yet).
    pub fn refresh(&self, storage: &dyn Storage, now_unix: i64) -> Result<(), StorageError> {
        let stored = storage.limit_salt(now_unix.div_euclid(SALT_PERIOD_SECS), &random_salt())?;
        let salt: [u8; 32] = stored
            .try_into()
            .map_err(|_| StorageError::backend("the stored rate-limit salt is not 32 bytes"))?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = salt;
        Ok(())
    }

    /// The rate-limit and audit key of a client address (see [`client_key`]).
    pub fn client_key(&self, addr: Option<IpAddr>) -> String {
        client_key(
            &self.current.read().unwrap_or_else(|p| p.into_inner()),
            addr,
        )
    }
}

/// The rate-limit and audit key of a client address: a truncated SHA-256
/// of the [`Salt`] and the address (IPv6 by its /64, which one household
/// or phone usually holds whole). The address cannot be read back from it.
pub fn client_key(salt: &[u8; 32], addr: Option<IpAddr>) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    match addr.map(client_network) {
        Some(IpAddr::V4(v4)) => h.update(v4.octets()),
        Some(IpAddr::V6(v6)) => h.update(v6.octets()),
        None => h.update(b"unknown"),
    }
    format!("client:{}", &hex::encode(h.finalize())[..16])
}

/// The address that stands for one client: an IPv4 address (also when
/// written IPv4-mapped), or an IPv6 address's /64.
pub fn client_network(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::V6(octets.into())
            }
        },
        v4 => v4,
    }
}

/// One limit: at most `max` attempts (failed ones only if `failed_only`)
/// under a key in [`WINDOW_SECS`].
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// The metric label and audit reason scope, e.g. `copy-client`.
    pub name: &'static str,
    pub max: u32,
    pub failed_only: bool,
}

/// Serialises a limit's check, the work it guards and the counting, so
/// parallel requests from one client cannot overshoot a limit on this
/// instance. Held across one door's check-work-count sequence only.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `Ok(None)` when `key` is under `limit` at `now` (unix seconds), else
/// `Ok(Some(seconds))` until it is under again (for `Retry-After`).
pub fn check(
    storage: &dyn Storage,
    key: &str,
    limit: Limit,
    now: i64,
) -> Result<Option<u64>, StorageError> {
    let since = now - WINDOW_SECS;
    let (all, failed) = storage.attempts_since(key, since)?;
    let counted = if limit.failed_only { failed } else { all };
    if counted < limit.max {
        return Ok(None);
    }
    // Under again when the `max`-th newest counted attempt leaves the window.
    let oldest_counted = storage
        .nth_newest_attempt(key, since, limit.max, limit.failed_only)?
        .unwrap_or(now);
    Ok(Some(
        u64::try_from(oldest_counted + WINDOW_SECS + 1 - now)
            .unwrap_or(1)
            .max(1),
    ))
}

/// The metric label of refusals summarised because the hour's budget of
/// single audit events was spent ([`Throttled::single_event`]).
pub const AUDIT_BUDGET: &str = "audit-budget";

/// Refusals by a limit, counted in metrics and summarised into the audit
/// trail once per window (see the module docs); and the budget of refused
/// attempts audited one event each per hour.
pub struct Throttled {
    metric: Family<LimitLabels, Counter>,
    pending: Mutex<Pending>,
    /// Refused attempts audited one by one per hour, at most.
    budget: u32,
    /// The hour (unix seconds / 3600) and the single events spent in it.
    spent: Mutex<(i64, u32)>,
}

#[derive(Default)]
struct Pending {
    /// When the first refusal not yet written was counted.
    since: Option<DateTime<Utc>>,
    /// Per action: per reason, the count; per key, the count.
    actions: BTreeMap<&'static str, Tally>,
}

#[derive(Default)]
struct Tally {
    action: Option<Action>,
    reasons: BTreeMap<&'static str, u64>,
    keys: BTreeMap<String, u64>,
}

impl std::fmt::Debug for Throttled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttled").finish_non_exhaustive()
    }
}

impl Throttled {
    /// Counts into `metric` (labelled by limit name); at most `budget`
    /// refused attempts an hour are audited one event each.
    pub fn new(metric: Family<LimitLabels, Counter>, budget: u32) -> Self {
        Throttled {
            metric,
            pending: Mutex::new(Pending::default()),
            budget,
            spent: Mutex::new((i64::MIN, 0)),
        }
    }

    /// Whether a refused attempt at a public door made at `now` may be
    /// audited as an event of its own: yes while this hour's budget lasts
    /// (the call spends one), else the caller counts it with
    /// [`Throttled::refused`] under [`AUDIT_BUDGET`]. The per-client
    /// limits bound each address, not the number of addresses, so without
    /// it the public could grow the permanent trail without bound.
    pub fn single_event(&self, now: DateTime<Utc>) -> bool {
        let hour = now.timestamp().div_euclid(WINDOW_SECS);
        let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
        if spent.0 != hour {
            *spent = (hour, 0);
        }
        if spent.1 >= self.budget {
            return false;
        }
        spent.1 += 1;
        true
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one refusal by `limit`, to be summarised under `action` with
    /// `reason` (the refusal's code) and, if given, a non-personal `key`
    /// (a hashed reference) so a targeted key stands out in the summary.
    pub fn refused(
        &self,
        limit: &'static str,
        action: Action,
        reason: &'static str,
        key: Option<&str>,
        now: DateTime<Utc>,
    ) {
        self.metric.get_or_create(&LimitLabels { limit }).inc();
        let mut pending = self.pending();
        pending.since.get_or_insert(now);
        let tally = pending.actions.entry(action.as_str()).or_default();
        tally.action = Some(action);
        *tally.reasons.entry(reason).or_default() += 1;
        if let Some(key) = key {
            let key = if tally.keys.contains_key(key) || tally.keys.len() < SUMMARY_KEYS {
                key.to_string()
            } else {
                "other".to_string()
            };
            *tally.keys.entry(key).or_default() += 1;
        }
    }

    /// Counts one refusal that is not audited at all (e.g. the server
    /// being busy: nobody tried anything they may not do).
    pub fn shed(&self, limit: &'static str) {
        self.metric.get_or_create(&LimitLabels { limit }).inc();
    }

    /// Writes what was counted since the last flush as one audit event per
    /// action (nothing when nothing was refused), and starts a new window.
    /// Returns how many events were written. On a storage failure the
    /// counts are kept for the next flush.
    pub fn flush(&self, storage: &dyn Storage, now: DateTime<Utc>) -> Result<usize, StorageError> {
        let mut pending = self.pending();
        let Some(since) = pending.since else {
            return Ok(0);
        };
        let events: Vec<_> = pending
            .actions
            .values()
            .filter_map(|tally| {
                let action = tally.action?;
                let count: u64 = tally.reasons.values().sum();
                let mut detail = json!({
                    "summary": "refused by a rate limit, or past the hour's budget of single events",
                    "count": count,
                    "reasons": tally.reasons,
                    "from": stamp(since),
                    "until": stamp(now),
                });
                if !tally.keys.is_empty() {
                    detail["keys"] = json!(tally.keys);
                }
                Some(audit::event(actor::PUBLIC, action, None, detail))
            })
            .collect();
        storage.append_audit(&stamp(now), &events)?;
        *pending = Pending::default();
        Ok(events.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_keys_hide_the_address() {
        const SALT: [u8; 32] = [7; 32];
        let a = client_key(&SALT, Some("192.0.2.7".parse().unwrap()));
        assert!(!a.contains("192"));
        assert_eq!(
            a,
            client_key(&SALT, Some("::ffff:192.0.2.7".parse().unwrap()))
        );
        assert_ne!(a, client_key(&SALT, Some("192.0.2.8".parse().unwrap())));
        // One IPv6 /64 is one client.
        assert_eq!(
            client_key(&SALT, Some("2001:db8::1".parse().unwrap())),
            client_key(&SALT, Some("2001:db8::2".parse().unwrap()))
        );
        assert_ne!(
            client_key(&SALT, Some("2001:db8::1".parse().unwrap())),
            client_key(&SALT, Some("2001:db8:0:1::1".parse().unwrap()))
        );
    }
}

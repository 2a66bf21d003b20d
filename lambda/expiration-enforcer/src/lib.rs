//! expiration-enforcer (hourly): every active grant past its expiry is marked revoked in the
//! registry — whose stream makes the policy-reconciler drop its statements and revoke its KMS
//! grant — its owner is notified, and the revocation is written to the access log.
//!
//! Idempotent and safe to run late or twice: the revocation record is written first (its key is
//! deterministic, so a second write is the same record), then the revoke, conditional on the
//! grant still being active; a grant already revoked by another run is skipped without a second
//! notice. When the record cannot be written the grant is left active and the next run does both:
//! no revocation without its audit record. The owner's notice goes out once, and only for a
//! revocation that happened: only the run whose conditional revoke succeeded sends it; it claims
//! the notice in the alert ledger (under the revocation record's key) first and marks it sent
//! after SNS accepted it, and a notice SNS refused stays in the ledger, where the next run finds
//! and sends it — the grant is no longer active by then, so only the ledger remembers it.
//! Access
//! has already stopped at the expiry instant anyway: every rendered statement carries
//! `DateLessThan aws:CurrentTime`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use warden_core::cloudtrail::normalise::{Attr, PK, TTL_ATTRIBUTE};
use warden_core::ports::{
    AlertKey, AlertLedger, AuditStore, Claim, GrantRef, GrantStore, LedgerAlert, Notifier,
    PortError, WriteOutcome,
};

/// The ledger partition holding owner notices (`event_id`), keyed by revocation (`detector`).
pub const NOTICES: &str = "warden-owner-notices";

/// How long a run holds a notice's claim, from the run's start: twice the function's timeout
/// (300 s, lambda-expiration.tf), so a claim made late in a run still outlives the run.
const NOTICE_LEASE_SECONDS: i64 = 600;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Active grants past their expiry.
    pub expired: usize,
    /// Grants this run revoked.
    pub revoked: Vec<String>,
    /// Grants another run had already revoked.
    pub already_revoked: usize,
    /// Owner notices sent by this run (this run's revocations and earlier runs' unsent ones).
    pub notices_sent: usize,
    /// Of those, notices earlier runs could not send.
    pub notices_resumed: usize,
    /// Per-grant failures (the next hourly run retries them).
    pub errors: Vec<String>,
}

fn revocation_id(g: &GrantRef) -> String {
    format!(
        "warden-revocation:{}:{}:{}",
        g.account_id, g.grant_id, g.expiration_date
    )
}

/// Publish a claimed notice, then mark it sent (or give it back for the next run).
async fn send_notice<N: Notifier, L: AlertLedger>(
    owners: &N,
    ledger: &L,
    notice: &LedgerAlert,
    account: &str,
    run: &str,
    now: DateTime<Utc>,
) -> Result<(), String> {
    match owners
        .publish_for_account(account, &notice.subject, &notice.message)
        .await
    {
        Ok(()) => {
            if let Err(e) = ledger.mark_sent(&notice.key, run, now).await {
                tracing::error!(error = %e, notice = %notice.key.detector, "owner notice sent but not marked sent");
            }
            Ok(())
        }
        Err(e) => {
            if let Err(re) = ledger.release(&notice.key, run).await {
                tracing::warn!(error = %re, "notice claim not released; its lease runs out instead");
            }
            Err(format!("owner not notified (the next run sends it): {e}"))
        }
    }
}

/// The access-log item recording one revocation (same table and layout as CloudTrail records).
fn revocation_item(
    g: &GrantRef,
    now: DateTime<Utc>,
    retention_days: u32,
) -> BTreeMap<String, Attr> {
    let s = |v: &str| Attr::S(v.to_owned());
    let ts = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    BTreeMap::from([
        (PK.to_owned(), s(&revocation_id(g))),
        ("timestamp".to_owned(), s(&ts)),
        ("account_id".to_owned(), s(&g.account_id)),
        ("principal_arn".to_owned(), s("warden:expiration-enforcer")),
        ("action".to_owned(), s("warden:RevokeGrant")),
        ("event_source".to_owned(), s("warden")),
        ("event_name".to_owned(), s("RevokeGrant")),
        ("bytes_transferred".to_owned(), Attr::N("0".into())),
        ("source_ip".to_owned(), s("warden")),
        ("success_status".to_owned(), Attr::Bool(true)),
        ("identity_type".to_owned(), s("WardenService")),
        (
            TTL_ATTRIBUTE.to_owned(),
            Attr::N((now.timestamp() + i64::from(retention_days) * 86_400).to_string()),
        ),
    ])
}

/// Revoke everything that has expired, and send the owner notices earlier runs could not.
/// `run` names this run in the ledger (unique per invocation).
///
/// # Errors
/// Only when the expiry index cannot be read; per-grant failures are reported in [`Report`].
pub async fn enforce<G: GrantStore, A: AuditStore, N: Notifier, L: AlertLedger>(
    grants: &G,
    audit: &A,
    owners: &N,
    ledger: &L,
    retention_days: u32,
    run: &str,
    now: DateTime<Utc>,
) -> Result<Report, PortError> {
    let expired = grants.expired(now).await?;
    let mut report = Report {
        expired: expired.len(),
        ..Report::default()
    };
    let lease = now + chrono::Duration::seconds(NOTICE_LEASE_SECONDS);
    let mut handled = std::collections::BTreeSet::new();
    for g in &expired {
        let label = format!("{}/{}", g.account_id, g.grant_id);
        // Record first: a revocation is never left unlogged by a failed write.
        if let Err(e) = audit
            .write_records(vec![revocation_item(g, now, retention_days)])
            .await
            .and_then(WriteOutcome::require_all)
        {
            report.errors.push(format!(
                "{label}: revocation record not written, grant left for the next run: {e}"
            ));
            continue;
        }
        let notice = LedgerAlert {
            key: AlertKey {
                event_id: NOTICES.to_owned(),
                detector: revocation_id(g),
            },
            subject: format!("Warden: access of account {} expired", g.account_id),
            message: format!(
                "The {} grant of account {} on {} expired at {} and has been revoked. Ask the data owner for a new grant if access is still needed.",
                g.access_level,
                g.account_id,
                g.allowed_prefixes.join(", "),
                g.expiration_date
            ),
        };
        handled.insert(notice.key.detector.clone());
        match grants.revoke(g, now).await {
            Ok(false) => report.already_revoked += 1,
            Ok(true) => {
                tracing::info!(grant = %label, expiry = %g.expiration_date, "revoked");
                report.revoked.push(label.clone());
                // Only the run whose conditional revoke succeeded gets here: it sends the notice.
                match ledger.claim(&notice, run, now, lease).await {
                    Ok(Claim::Mine) => {
                        match send_notice(owners, ledger, &notice, &g.account_id, run, now).await {
                            Ok(()) => report.notices_sent += 1,
                            Err(e) => report.errors.push(format!("{label}: {e}")),
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        // The ledger is unavailable after its retries: a notice sent without it
                        // is still sent once (no other run revoked this grant).
                        tracing::warn!(error = %e, grant = %label, "owner notice not recorded; sending it anyway");
                        match owners
                            .publish_for_account(&g.account_id, &notice.subject, &notice.message)
                            .await
                        {
                            Ok(()) => report.notices_sent += 1,
                            Err(pe) => report.errors.push(format!(
                                "{label}: owner not notified and the notice not recorded: {pe}"
                            )),
                        }
                    }
                }
            }
            Err(e) => report.errors.push(format!("{label}: {e}")),
        }
    }
    // Notices of grants revoked by earlier runs whose publish failed (their grants are no longer
    // active, so only the ledger remembers them).
    match ledger.unsent(NOTICES).await {
        Ok(pending) => {
            for notice in pending {
                if handled.contains(&notice.key.detector) {
                    continue;
                }
                let account = notice
                    .key
                    .detector
                    .split(':')
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                match ledger.claim(&notice, run, now, lease).await {
                    Ok(Claim::Mine) => {
                        match send_notice(owners, ledger, &notice, &account, run, now).await {
                            Ok(()) => {
                                report.notices_sent += 1;
                                report.notices_resumed += 1;
                            }
                            Err(e) => report.errors.push(format!("{}: {e}", notice.key.detector)),
                        }
                    }
                    Ok(_) => {}
                    Err(e) => report.errors.push(format!(
                        "{}: owner notice not claimed (the next run sends it): {e}",
                        notice.key.detector
                    )),
                }
            }
        }
        Err(e) => report.errors.push(format!(
            "unsent owner notices not read (the next run retries): {e}"
        )),
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use warden_core::grant::{Grant, GrantInput, Registry, Timestamp};
    use warden_core::ports::WriteOutcome;
    use warden_testkit::{FakeGrants, FakeNotifier};

    #[derive(Default)]
    struct Audit(Mutex<Vec<BTreeMap<String, Attr>>>);
    impl AuditStore for Audit {
        async fn write_records(
            &self,
            items: Vec<BTreeMap<String, Attr>>,
        ) -> Result<WriteOutcome, PortError> {
            let n = items.len();
            self.0.lock().unwrap().extend(items);
            Ok(WriteOutcome {
                written: n,
                failed: vec![],
            })
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        Timestamp::parse(s).unwrap().0
    }

    fn store() -> FakeGrants {
        let mk = |acct: &str, exp: &str| {
            Grant::from_input(
                &GrantInput {
                    account_id: acct.into(),
                    name: None,
                    allowed_prefixes: vec!["data/".into()],
                    access_level: "read".into(),
                    expiration_date: exp.into(),
                    owner_email: None,
                    external_id: None,
                    created_by: None,
                    created_at: None,
                },
                t("2026-01-01T00:00:00Z"),
            )
            .unwrap()
        };
        FakeGrants::new(
            Registry::new(vec![
                mk("210000000000", "2026-11-23T09:00:00Z"),
                mk("210000001001", "2027-01-01T00:00:00Z"),
            ])
            .unwrap(),
        )
    }

    #[tokio::test]
    async fn revokes_expired_once_notifies_and_logs() {
        let l = warden_testkit::FakeLedger::default();
        let (g, a, n) = (store(), Audit::default(), FakeNotifier::default());
        let now = t("2026-11-23T10:00:00Z");
        let r = enforce(&g, &a, &n, &l, 365, "run", now).await.unwrap();
        assert_eq!((r.expired, r.revoked.len(), r.already_revoked), (1, 1, 0));
        assert_eq!(r.revoked[0], "210000000000/declared");
        assert_eq!(n.messages.lock().unwrap().len(), 1);
        assert!(
            n.messages.lock().unwrap()[0]
                .0
                .starts_with("[210000000000]")
        );
        assert_eq!(a.0.lock().unwrap().len(), 1);
        // A second (or late) run finds nothing active to revoke and sends no second notice.
        let again = enforce(&g, &a, &n, &l, 365, "run", now).await.unwrap();
        assert_eq!((again.expired, again.revoked.len()), (0, 0));
        assert_eq!(n.messages.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn nothing_expires_early() {
        let l = warden_testkit::FakeLedger::default();
        let (g, a, n) = (store(), Audit::default(), FakeNotifier::default());
        let r = enforce(&g, &a, &n, &l, 365, "run", t("2026-11-23T08:59:59Z"))
            .await
            .unwrap();
        assert_eq!(r.expired, 0);
    }

    /// An audit table that fails the first `n` writes (throttled past the adapter's retries).
    struct FlakyAudit {
        failures_left: Mutex<usize>,
        written: Mutex<Vec<BTreeMap<String, Attr>>>,
    }
    impl AuditStore for FlakyAudit {
        async fn write_records(
            &self,
            items: Vec<BTreeMap<String, Attr>>,
        ) -> Result<WriteOutcome, PortError> {
            let mut left = self.failures_left.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return Ok(WriteOutcome {
                    written: 0,
                    failed: items.iter().map(|_| "revocation".to_owned()).collect(),
                });
            }
            let n = items.len();
            self.written.lock().unwrap().extend(items);
            Ok(WriteOutcome {
                written: n,
                failed: vec![],
            })
        }
    }

    /// Failure: the revocation record cannot be written. The grant must stay active (so the next
    /// run sees it), nothing is revoked unlogged, and the next run finishes: one record, one
    /// revocation, one notice.
    #[tokio::test]
    async fn a_failed_revocation_record_leaves_the_grant_for_the_next_run() {
        let l = warden_testkit::FakeLedger::default();
        let (g, n) = (store(), FakeNotifier::default());
        let a = FlakyAudit {
            failures_left: Mutex::new(1),
            written: Mutex::new(Vec::new()),
        };
        let now = t("2026-11-23T10:00:00Z");
        let first = enforce(&g, &a, &n, &l, 365, "run", now).await.unwrap();
        assert_eq!((first.expired, first.revoked.len()), (1, 0), "{first:?}");
        assert!(
            first.errors[0].contains("grant left for the next run"),
            "{first:?}"
        );
        assert!(
            n.messages.lock().unwrap().is_empty(),
            "no notice before the revocation"
        );
        let second = enforce(&g, &a, &n, &l, 365, "run", t("2026-11-23T11:00:00Z"))
            .await
            .unwrap();
        assert_eq!((second.expired, second.revoked.len()), (1, 1), "{second:?}");
        assert_eq!(a.written.lock().unwrap().len(), 1);
        assert_eq!(n.messages.lock().unwrap().len(), 1);
        let third = enforce(&g, &a, &n, &l, 365, "run", t("2026-11-23T12:00:00Z"))
            .await
            .unwrap();
        assert_eq!(third.expired, 0);
    }
}

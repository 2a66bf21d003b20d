//! `warden doctor`: the README's troubleshooting section as checks of one consumer, each `ok`,
//! `problem` (with the fix in one line) or `skipped` (what it needs). Pure: the CLI reads what is
//! live (with the operator's or the consumer's credentials) into [`Live`], and [`checks`] judges
//! it with the same engine as governance-check and `warden access check`.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::governance::{self, RoleExpectation};
use crate::grant::{AccountId, Registry, SkippedItem};
use crate::policy::access_point::{ACCESS_POINT_POLICY_BUDGET, Tiering};
use crate::policy::eval::{CompiledPolicy, Decision};
use crate::policy::model::Policy;
use crate::policy::path::{self, AccessPointPath, Deployment};
use crate::policy::render::{self, BUCKET_POLICY_BUDGET, KEY_POLICY_BUDGET, RenderSettings};
use crate::ports::RoleFacts;
use crate::reconcile::LiveGrant;

/// A document at or above this share of its limit is a problem: the next consumer may not fit.
pub const HEADROOM_PERCENT: usize = 90;

/// CloudTrail delivers a trail's log files about every 5 minutes while there is activity; an
/// account where Warden runs is never idle for this long.
pub const TRAIL_DELIVERY_MAX_AGE_HOURS: i64 = 2;

/// What one observation gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Obs<T> {
    /// Read.
    Read(T),
    /// The call failed (the message names it).
    Failed(String),
    /// Not read: these credentials cannot (the reason names what is needed).
    NotRead(String),
}

/// A trail's status (CloudTrail GetTrailStatus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailStatus {
    /// The trail's name or ARN.
    pub trail: String,
    /// `IsLogging`.
    pub is_logging: bool,
    /// `LatestDeliveryTime`: the last log file delivered to S3.
    pub latest_delivery: Option<DateTime<Utc>>,
    /// `LatestDeliveryError`: the S3 error of the last failed delivery.
    pub latest_delivery_error: Option<String>,
}

/// One subscription of the alerts topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// `email`, `sqs`, `https`…
    pub protocol: String,
    /// Where it delivers.
    pub endpoint: String,
    /// False while its `SubscriptionArn` is `PendingConfirmation`: nothing is delivered to it.
    pub confirmed: bool,
}

/// What is live, as read for one consumer account.
#[derive(Debug, Clone)]
pub struct Live {
    /// The registry as the reconciler reads it, with the items it leaves out.
    pub registry: Obs<(Registry, Vec<SkippedItem>)>,
    /// What `consumer-role/` renders beyond the registry (external ID from the directory…).
    pub expectation: RoleExpectation,
    /// The consumer role.
    pub role: Obs<RoleFacts>,
    /// The shared bucket's policy (`None`: the bucket has none).
    pub bucket_policy: Obs<Option<String>>,
    /// The consumer's access point policy when it is on the access-point tier (`None`: no
    /// policy, or the access point does not exist).
    pub access_point_policy: Obs<Option<String>>,
    /// The data key's policy.
    pub key_policy: Obs<String>,
    /// The data key's grants.
    pub kms_grants: Obs<Vec<LiveGrant>>,
    /// The trail.
    pub trail: Obs<TrailStatus>,
    /// The alerts topic's subscriptions.
    pub subscriptions: Obs<Vec<Subscription>>,
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As it should be.
    Ok,
    /// Wrong: `fix` says what to do.
    Problem,
    /// Not run: `detail` says what it needs.
    Skipped,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `grant`, `consumer-role`, `access-path`, `kms-grant`, `headroom`, `trail`,
    /// `alerts-topic`.
    pub name: &'static str,
    /// Its outcome.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// For a problem: what to do, in one line.
    pub fix: Option<String>,
}

fn ok(name: &'static str, detail: String) -> Check {
    Check {
        name,
        status: Status::Ok,
        detail,
        fix: None,
    }
}

fn problem(name: &'static str, detail: String, fix: String) -> Check {
    Check {
        name,
        status: Status::Problem,
        detail,
        fix: Some(fix),
    }
}

fn not_run<T>(name: &'static str, what: &str, o: &Obs<T>) -> Option<Check> {
    let (status, detail, fix) = match o {
        Obs::Read(_) => return None,
        Obs::Failed(e) => (
            Status::Problem,
            format!("reading {what} failed: {e}"),
            Some(format!(
                "give these credentials read access to {what}, or run with the operator's"
            )),
        ),
        Obs::NotRead(why) => (Status::Skipped, format!("{what} not read: {why}"), None),
    };
    Some(Check {
        name,
        status,
        detail,
        fix,
    })
}

/// `f` of what was read, or why it was not.
fn judge<T>(name: &'static str, what: &str, o: &Obs<T>, f: impl FnOnce(&T) -> Check) -> Check {
    match o {
        Obs::Read(t) => f(t),
        _ => not_run(name, what, o).unwrap_or_else(|| f_unread(name)),
    }
}

/// Never reached (`not_run` answers every unread observation); a check, not a panic.
fn f_unread(name: &'static str) -> Check {
    Check {
        name,
        status: Status::Skipped,
        detail: "not read".into(),
        fix: None,
    }
}

/// The object key probed along the path: `key` when given, else one under the account's first
/// granted prefix.
fn probe_key(registry: &Registry, account: &AccountId, key: Option<&str>) -> Option<String> {
    if let Some(k) = key {
        return Some(k.to_owned());
    }
    registry
        .account(account.as_str())
        .and_then(|g| g.iter().next())
        .and_then(|g| {
            g.allowed_prefixes
                .first()
                .map(|p| format!("{p}warden-doctor"))
        })
}

/// Every check for `account`, in the troubleshooting section's order. `key` is the object to
/// probe (default: one under the first granted prefix), read with `s3:GetObject`.
#[must_use]
pub fn checks(
    account: &AccountId,
    key: Option<&str>,
    live: &Live,
    s: &RenderSettings,
    tiering: &Tiering,
    now: DateTime<Utc>,
) -> Vec<Check> {
    let acct = account.as_str();
    let mut out = Vec::new();
    let registry = match &live.registry {
        Obs::Read((r, _)) => Some(r),
        _ => None,
    };

    // 1. A grant in force.
    out.push(judge("grant", "the registry", &live.registry, |(r, left_out)| {
            let mine: Vec<&SkippedItem> = left_out
                .iter()
                .filter(|i| i.item.starts_with(&format!("{acct}/")))
                .collect();
            match r.account(acct) {
                _ if !mine.is_empty() => problem(
                    "grant",
                    format!(
                        "registry item(s) of {acct} left out by the reconciler: {}",
                        mine.iter()
                            .map(|i| format!("{} ({})", i.item, i.rule))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    "correct the entry in consumer_accounts (the rule is named) and apply, or revoke the conflicting request".into(),
                ),
                Some(g) if g.iter().any(|g| g.is_active(now)) => {
                    let list: Vec<String> = g
                        .iter()
                        .map(|g| {
                            format!(
                                "{} {} until {}",
                                g.access_level.as_str(),
                                g.allowed_prefixes
                                    .iter()
                                    .map(ToString::to_string)
                                    .collect::<Vec<_>>()
                                    .join(","),
                                g.expiration_date
                                    .0
                                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                            )
                        })
                        .collect();
                    ok("grant", format!("{acct} holds {}", list.join("; ")))
                }
                _ => problem(
                    "grant",
                    format!("{acct} has no active grant in the registry"),
                    format!("add {acct} to consumer_accounts and apply, or have it request access (warden access request)"),
                ),
            }
    }));

    // 2. The consumer role: exists, trust as consumer-role/ renders it, no more than its grant.
    let role = match &live.role {
        Obs::Read(f) => Some(f),
        _ => None,
    };
    out.push(judge("consumer-role", "the consumer role", &live.role, |f| {
            let findings = match registry {
                Some(r) => governance::role_findings(acct, f, &live.expectation, r, s, now),
                // Without the registry only what does not depend on the grant is judged.
                None if !f.exists => vec![format!(
                    "role {} does not exist: apply consumer-role/ in account {acct}",
                    s.consumer_role_name
                )],
                None => f
                    .trust_policy
                    .as_deref()
                    .map(|t| governance::trust_findings(acct, t, &live.expectation, s, now))
                    .unwrap_or_else(|| vec!["GetRole returned no trust policy".into()]),
            };
            if findings.is_empty() {
                ok(
                    "consumer-role",
                    format!(
                        "{} exists; its trust admits account {acct}'s principals {}and the access-validator only; {}",
                        s.consumer_role_name,
                        if live.expectation.external_id.is_some() {
                            "with the external ID "
                        } else {
                            ""
                        },
                        if registry.is_some() {
                            "its policies allow no more than the grant"
                        } else {
                            "its permissions were not compared (the registry was not read)"
                        }
                    ),
                )
            } else {
                problem(
                    "consumer-role",
                    findings.join("; "),
                    format!("apply consumer-role/ in account {acct} (it renders the role, its trust and policies)"),
                )
            }
    }));

    // 3. The whole path for one object: role policy, bucket policy, access point, key.
    out.push(access_path(
        account, key, live, registry, role, s, tiering, now,
    ));

    // 4. The KMS grant the reconciler keeps for this consumer.
    out.push(kms_grant(account, live, registry, s, now));

    // 5. Headroom of the documents every consumer shares.
    out.push(headroom(live));

    // 6. The trail.
    out.push(judge("trail", "the trail's status", &live.trail, |t| {
            let fix_err = "the trail's bucket policy or KMS key policy no longer admits cloudtrail.amazonaws.com: re-apply security-baseline/ (and find who changed it: PutBucketPolicy / PutKeyPolicy in CloudTrail)";
            if !t.is_logging {
                problem(
                    "trail",
                    format!("{} is not logging: no access is recorded", t.trail),
                    format!("aws cloudtrail start-logging --name {}, then find who stopped it (StopLogging in the audit table; the trail-tampering detector alerts on it)", t.trail),
                )
            } else if let Some(e) = &t.latest_delivery_error {
                problem(
                    "trail",
                    format!("{} fails to deliver log files: {e}", t.trail),
                    fix_err.into(),
                )
            } else {
                match t.latest_delivery {
                    Some(d) if now - d <= Duration::hours(TRAIL_DELIVERY_MAX_AGE_HOURS) => ok(
                        "trail",
                        format!(
                            "{} is logging; latest delivery {} ({} min ago)",
                            t.trail,
                            d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            (now - d).num_minutes().max(0)
                        ),
                    ),
                    Some(d) => problem(
                        "trail",
                        format!(
                            "{} is logging but delivered nothing since {} (over {TRAIL_DELIVERY_MAX_AGE_HOURS} h)",
                            t.trail,
                            d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        ),
                        fix_err.into(),
                    ),
                    None => problem(
                        "trail",
                        format!("{} is logging but has never delivered a log file", t.trail),
                        fix_err.into(),
                    ),
                }
            }
    }));

    // 7. Someone receives the alerts.
    out.push(judge("alerts-topic", "the alerts topic's subscriptions", &live.subscriptions, |subs| {
                let confirmed: Vec<&Subscription> = subs.iter().filter(|s| s.confirmed).collect();
                let pending = subs.len() - confirmed.len();
                if confirmed.is_empty() {
                    problem(
                        "alerts-topic",
                        format!(
                            "no confirmed subscription ({pending} pending confirmation): alerts reach nobody"
                        ),
                        "confirm the subscription from its email (the link expires after 3 days; subscribe again if it has), or subscribe the security team's endpoint".into(),
                    )
                } else {
                    ok(
                        "alerts-topic",
                        format!(
                            "{} confirmed subscription(s) ({}){}",
                            confirmed.len(),
                            confirmed
                                .iter()
                                .map(|s| format!("{} {}", s.protocol, s.endpoint))
                                .collect::<Vec<_>>()
                                .join(", "),
                            if pending > 0 {
                                format!(", {pending} pending confirmation")
                            } else {
                                String::new()
                            }
                        ),
                    )
                }
    }));
    out
}

#[allow(clippy::too_many_arguments)]
fn access_path(
    account: &AccountId,
    key: Option<&str>,
    live: &Live,
    registry: Option<&Registry>,
    role: Option<&RoleFacts>,
    s: &RenderSettings,
    tiering: &Tiering,
    now: DateTime<Utc>,
) -> Check {
    const NAME: &str = "access-path";
    if let Some(c) = [
        not_run(NAME, "the registry", &live.registry),
        not_run(NAME, "the consumer role", &live.role),
        not_run(NAME, "the bucket policy", &live.bucket_policy),
        not_run(NAME, "the key policy", &live.key_policy),
        not_run(NAME, "the key's grants", &live.kms_grants),
    ]
    .into_iter()
    .flatten()
    .next()
    {
        return c;
    }
    let (Some(registry), Some(role), Obs::Read(bucket), Obs::Read(key_policy), Obs::Read(grants)) = (
        registry,
        role,
        &live.bucket_policy,
        &live.key_policy,
        &live.kms_grants,
    ) else {
        return f_unread(NAME);
    };
    if !role.exists {
        return Check {
            name: NAME,
            status: Status::Skipped,
            detail: "the consumer role does not exist (see consumer-role)".into(),
            fix: None,
        };
    }
    let Some(key) = probe_key(registry, account, key) else {
        return Check {
            name: NAME,
            status: Status::Skipped,
            detail: "no grant to probe and no --key given (see grant)".into(),
            fix: None,
        };
    };
    let parse = |what: &str, text: &str| {
        Policy::parse(text).map_err(|e| {
            problem(
                NAME,
                format!("the live {what} does not parse ({e})"),
                "re-apply the stack, then let the policy-reconciler run".into(),
            )
        })
    };
    let bucket_policy = match bucket.as_deref().map(|t| parse("bucket policy", t)) {
        Some(Ok(p)) => p,
        Some(Err(c)) => return c,
        None => Policy::new(Vec::new()),
    };
    let key_policy = match parse("key policy", key_policy) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let ap = match tiering.access_point(registry, account, s) {
        Ok(Some(r)) => {
            if let Some(c) = not_run(NAME, "the access point policy", &live.access_point_policy) {
                return c;
            }
            let text = match &live.access_point_policy {
                Obs::Read(t) => t.clone(),
                _ => None,
            };
            let policy = match text.as_deref().map(|t| parse("access point policy", t)) {
                Some(Ok(p)) => p,
                Some(Err(c)) => return c,
                None => Policy::new(Vec::new()),
            };
            Some(AccessPointPath {
                policy: CompiledPolicy::new("access point policy", &policy),
                name: r.name,
                arn: r.arn,
            })
        }
        Ok(None) => None,
        Err(e) => {
            return problem(
                NAME,
                format!("the access point name: {e}"),
                "fix project_name/environment (the access point prefix)".into(),
            );
        }
    };
    let mut role_policies = Vec::new();
    for (i, doc) in role.inline_policies.iter().enumerate() {
        match Policy::parse(doc) {
            Ok(p) => role_policies.push(CompiledPolicy::new(
                &format!("role inline policy {}", i + 1),
                &p,
            )),
            Err(e) => {
                return problem(
                    NAME,
                    format!(
                        "inline policy {} of the consumer role does not parse ({e})",
                        i + 1
                    ),
                    format!("apply consumer-role/ in account {}", account.as_str()),
                );
            }
        }
    }
    let tier = if ap.is_some() {
        "access point"
    } else {
        "bucket policy"
    };
    let d = Deployment {
        settings: s.clone(),
        bucket_policy: CompiledPolicy::new("bucket policy", &bucket_policy),
        key_policy: CompiledPolicy::new("key policy", &key_policy),
        kms_grants: governance::live_kms_grants(grants),
        key_aliases: live.expectation.key_aliases.clone(),
        access_point: ap,
    };
    let action = "s3:GetObject";
    match path::check(&d, &role_policies, account, action, &key, now) {
        Ok(r) if r.decision == Decision::Allowed => ok(
            NAME,
            format!(
                "{action} of s3://{}/{key} is allowed along the whole path (role policy, {tier}, key policy and grants, live documents)",
                s.bucket
            ),
        ),
        Ok(r) => {
            let layer = r
                .denied_layer()
                .map(|l| {
                    format!(
                        "{} ({} on {}): {:?}",
                        l.layer, l.action, l.resource, l.decision
                    )
                })
                .unwrap_or_default();
            let fix = path::advise(&r, registry, s, account, action, &key, now).unwrap_or_else(
                || "run `warden access check` with the live documents for every layer's explanation".into(),
            );
            problem(
                NAME,
                format!("{action} of s3://{}/{key} is refused at {layer}", s.bucket),
                fix,
            )
        }
        Err(e) => problem(
            NAME,
            format!("the path could not be evaluated: {e}"),
            "check --key and the consumer role's ARN".into(),
        ),
    }
}

fn kms_grant(
    account: &AccountId,
    live: &Live,
    registry: Option<&Registry>,
    s: &RenderSettings,
    now: DateTime<Utc>,
) -> Check {
    const NAME: &str = "kms-grant";
    if let Some(c) = [
        not_run(NAME, "the registry", &live.registry),
        not_run(NAME, "the key's grants", &live.kms_grants),
    ]
    .into_iter()
    .flatten()
    .next()
    {
        return c;
    }
    let (Some(registry), Obs::Read(grants)) = (registry, &live.kms_grants) else {
        return f_unread(NAME);
    };
    let wanted: Vec<render::KmsGrantSpec> = render::kms_grants(registry, s, now)
        .into_iter()
        .filter(|g| g.account_id == account.as_str())
        .collect();
    if wanted.is_empty() {
        return Check {
            name: NAME,
            status: Status::Skipped,
            detail: "no active grant, so no KMS grant is expected (see grant)".into(),
            fix: None,
        };
    }
    let mut missing = Vec::new();
    for w in &wanted {
        let found = grants.iter().any(|g| {
            g.grantee_principal == w.grantee_principal
                && w.operations.iter().all(|o| g.operations.contains(o))
                && g.encryption_context_subset.as_ref() == Some(&w.encryption_context_subset)
        });
        if !found {
            let near = grants
                .iter()
                .find(|g| g.grantee_principal == w.grantee_principal);
            missing.push(match near {
                Some(g) => format!(
                    "{}: the grant to {} has operations {} and EncryptionContextSubset {:?}, expected {} and {:?}",
                    w.name,
                    w.grantee_principal,
                    g.operations.join(","),
                    g.encryption_context_subset,
                    w.operations.join(","),
                    w.encryption_context_subset
                ),
                None => format!("{}: no grant to {}", w.name, w.grantee_principal),
            });
        }
    }
    if missing.is_empty() {
        ok(
            NAME,
            format!(
                "{} grant(s) on the key for {} with {} constrained to EncryptionContextSubset aws:s3:arn = {}",
                wanted.len(),
                s.consumer_role_arn(account),
                wanted
                    .iter()
                    .flat_map(|w| w.operations.iter().cloned())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(","),
                s.bucket_arn()
            ),
        )
    } else {
        problem(
            NAME,
            missing.join("; "),
            "run the policy-reconciler (aws lambda invoke --function-name <project>-<env>-policy-reconciler), which creates the grant; if it fails, its log names why".into(),
        )
    }
}

fn headroom(live: &Live) -> Check {
    const NAME: &str = "headroom";
    let mut docs: Vec<(&str, usize, usize)> = Vec::new();
    let size = |t: &str| Policy::parse(t).map_or(t.len(), |p| p.to_compact_json().len());
    if let Obs::Read(Some(t)) = &live.bucket_policy {
        docs.push(("bucket policy", size(t), BUCKET_POLICY_BUDGET));
    }
    if let Obs::Read(t) = &live.key_policy {
        docs.push(("key policy", size(t), KEY_POLICY_BUDGET));
    }
    if let Obs::Read(Some(t)) = &live.access_point_policy {
        docs.push(("access point policy", size(t), ACCESS_POINT_POLICY_BUDGET));
    }
    if docs.is_empty() {
        return not_run(NAME, "the bucket and key policies", &live.bucket_policy)
            .or_else(|| not_run(NAME, "the key policy", &live.key_policy))
            .unwrap_or_else(|| Check {
                name: NAME,
                status: Status::Skipped,
                detail: "the bucket has no policy".into(),
                fix: None,
            });
    }
    let line = |(what, size, budget): &(&str, usize, usize)| {
        format!("{what} {size} of {budget} bytes ({}%)", size * 100 / budget)
    };
    let tight: Vec<&(&str, usize, usize)> = docs
        .iter()
        .filter(|(_, size, budget)| size * 100 >= budget * HEADROOM_PERCENT)
        .collect();
    if tight.is_empty() {
        ok(NAME, docs.iter().map(line).collect::<Vec<_>>().join(", "))
    } else {
        problem(
            NAME,
            format!(
                "at or above {HEADROOM_PERCENT}% of the limit: {}",
                tight.iter().map(|d| line(d)).collect::<Vec<_>>().join(", ")
            ),
            "move consumers to access points (sharing_mode = \"auto\" with a lower access_point_threshold, or \"access-points\"); warden grants diff shows the sizes after".into(),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::policy::access_point::SharingMode;
    use std::collections::BTreeMap;

    const ACCT: &str = "222233334444";

    fn settings() -> RenderSettings {
        RenderSettings {
            partition: "aws".into(),
            region: "us-east-1".into(),
            primary_account: AccountId::parse("111122223333").unwrap(),
            bucket: "shared".into(),
            kms_key_arn: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
            consumer_role_name: "warden-consumer".into(),
            require_mfa: false,
            vending_role_arn: None,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn tiering() -> Tiering {
        Tiering {
            mode: SharingMode::BucketPolicy,
            name_prefix: "warden-prod".into(),
        }
    }

    fn registry() -> Registry {
        Registry::from_json(
            &format!(r#"{{"consumer_accounts":[{{"account_id":"{ACCT}","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}}]}}"#),
            now(),
        )
        .unwrap()
    }

    /// Everything as the stack and the reconciler leave it.
    fn healthy() -> Live {
        let s = settings();
        let r = registry();
        let acct = AccountId::parse(ACCT).unwrap();
        let tiers = crate::policy::access_point::render_tiers(
            &r,
            &s,
            render::baseline_statements(&s),
            SharingMode::BucketPolicy,
            "warden-prod",
            now(),
        )
        .unwrap();
        let ext = crate::grant::ExternalId::parse("ext-0123456789abcdef").unwrap();
        let trust = render::trust_policy(&acct, &ext, &s).unwrap();
        // As consumer-role/main.tf writes it: objects and listing under the prefix, the data
        // key by alias and only through S3.
        let role_policy = Policy::parse(r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"Objects","Effect":"Allow","Action":["s3:GetObject","s3:GetObjectVersion"],"Resource":"arn:aws:s3:::shared/sales/*"},
          {"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::shared","Condition":{"StringLike":{"s3:prefix":["sales/*"]}}},
          {"Sid":"DataKeyViaS3","Effect":"Allow","Action":["kms:Decrypt","kms:DescribeKey"],"Resource":"arn:aws:kms:us-east-1:111122223333:key/*",
           "Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":["alias/warden-data"]},"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}}]}"#).unwrap();
        let mut key_policy = Policy::new(vec![render::key_admin_statement(&s)]);
        key_policy
            .statements
            .extend(tiers.kms.key_policy.policy.statements.clone());
        let grants = tiers
            .kms
            .grants
            .iter()
            .map(|g| LiveGrant {
                grant_id: format!("id-{}", g.name),
                name: Some(g.name.clone()),
                grantee_principal: g.grantee_principal.clone(),
                operations: g.operations.clone(),
                encryption_context_subset: Some(g.encryption_context_subset.clone()),
                encryption_context_equals: None,
            })
            .collect();
        Live {
            registry: Obs::Read((r, Vec::new())),
            expectation: RoleExpectation {
                external_id: Some("ext-0123456789abcdef".into()),
                permissions_boundary: None,
                key_aliases: vec!["alias/warden-data".into()],
            },
            role: Obs::Read(RoleFacts {
                exists: true,
                inline_policies: vec![role_policy.to_compact_json()],
                attached_policies: Vec::new(),
                trust_policy: Some(trust.policy.to_compact_json()),
                permissions_boundary: None,
            }),
            bucket_policy: Obs::Read(Some(tiers.bucket.policy.to_compact_json())),
            access_point_policy: Obs::Read(None),
            key_policy: Obs::Read(key_policy.to_compact_json()),
            kms_grants: Obs::Read(grants),
            trail: Obs::Read(TrailStatus {
                trail: "warden-prod-trail".into(),
                is_logging: true,
                latest_delivery: Some(now() - Duration::minutes(4)),
                latest_delivery_error: None,
            }),
            subscriptions: Obs::Read(vec![Subscription {
                protocol: "email".into(),
                endpoint: "soc@example.com".into(),
                confirmed: true,
            }]),
        }
    }

    fn run(live: &Live) -> BTreeMap<&'static str, Check> {
        checks(
            &AccountId::parse(ACCT).unwrap(),
            None,
            live,
            &settings(),
            &tiering(),
            now(),
        )
        .into_iter()
        .map(|c| (c.name, c))
        .collect()
    }

    #[test]
    fn a_healthy_consumer_passes_every_check() {
        let r = run(&healthy());
        assert_eq!(r.len(), 7);
        for c in r.values() {
            assert_eq!(c.status, Status::Ok, "{c:?}");
        }
        assert!(
            r["access-path"]
                .detail
                .contains("s3://shared/sales/warden-doctor")
        );
    }

    #[test]
    fn each_broken_part_is_named_with_its_fix() {
        let mut l = healthy();
        l.kms_grants = Obs::Read(Vec::new());
        let r = run(&l);
        assert_eq!(r["kms-grant"].status, Status::Problem);
        assert!(
            r["kms-grant"]
                .detail
                .contains("no grant to arn:aws:iam::222233334444:role/warden-consumer")
        );
        assert!(
            r["kms-grant"]
                .fix
                .as_deref()
                .unwrap()
                .contains("policy-reconciler")
        );

        let mut l = healthy();
        l.bucket_policy = Obs::Read(None);
        let r = run(&l);
        assert_eq!(
            r["access-path"].status,
            Status::Problem,
            "{:?}",
            r["access-path"]
        );
        assert!(r["access-path"].detail.contains("refused at"));
        assert!(r["access-path"].fix.is_some());

        let mut l = healthy();
        if let Obs::Read(f) = &mut l.role {
            f.trust_policy = Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222233334444:root"},"Action":"sts:AssumeRole"}]}"#.into());
        }
        let r = run(&l);
        assert_eq!(r["consumer-role"].status, Status::Problem);
        assert!(
            r["consumer-role"].detail.contains("ExternalId"),
            "{:?}",
            r["consumer-role"]
        );

        let mut l = healthy();
        l.role = Obs::Read(RoleFacts::missing());
        let r = run(&l);
        assert!(r["consumer-role"].detail.contains("does not exist"));
        assert_eq!(r["access-path"].status, Status::Skipped);

        let mut l = healthy();
        l.trail = Obs::Read(TrailStatus {
            trail: "t".into(),
            is_logging: false,
            latest_delivery: None,
            latest_delivery_error: None,
        });
        l.subscriptions = Obs::Read(vec![Subscription {
            protocol: "email".into(),
            endpoint: "soc@example.com".into(),
            confirmed: false,
        }]);
        let r = run(&l);
        assert!(
            r["trail"]
                .fix
                .as_deref()
                .unwrap()
                .contains("start-logging --name t")
        );
        assert!(r["alerts-topic"].detail.contains("1 pending confirmation"));

        let mut l = healthy();
        l.trail = Obs::Read(TrailStatus {
            trail: "t".into(),
            is_logging: true,
            latest_delivery: Some(now() - Duration::hours(3)),
            latest_delivery_error: None,
        });
        assert_eq!(run(&l)["trail"].status, Status::Problem);
        l.trail = Obs::Read(TrailStatus {
            trail: "t".into(),
            is_logging: true,
            latest_delivery: Some(now()),
            latest_delivery_error: Some("AccessDenied".into()),
        });
        assert!(run(&l)["trail"].detail.contains("AccessDenied"));

        let mut l = healthy();
        l.registry = Obs::Read((Registry::default(), Vec::new()));
        let r = run(&l);
        assert_eq!(r["grant"].status, Status::Problem);
        assert!(
            r["grant"]
                .fix
                .as_deref()
                .unwrap()
                .contains("consumer_accounts")
        );
    }

    #[test]
    fn a_document_near_its_limit_is_a_problem() {
        let mut l = healthy();
        let big: Vec<String> = (0..400)
            .map(|i| format!(r#"{{"Sid":"S{i}","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::shared/x{i}/*"}}"#))
            .collect();
        l.bucket_policy = Obs::Read(Some(format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            big.join(",")
        )));
        let r = run(&l);
        assert_eq!(r["headroom"].status, Status::Problem, "{:?}", r["headroom"]);
        assert!(r["headroom"].detail.contains("bucket policy"));
    }

    #[test]
    fn what_these_credentials_cannot_read_is_skipped_and_a_failed_read_is_a_problem() {
        let mut l = healthy();
        l.registry = Obs::NotRead("needs the operator's credentials".into());
        l.bucket_policy = Obs::NotRead("needs the operator's credentials".into());
        l.kms_grants = Obs::Failed("kms ListGrants: AccessDeniedException".into());
        let r = run(&l);
        assert_eq!(r["grant"].status, Status::Skipped);
        assert!(r["grant"].detail.contains("operator"));
        assert_eq!(r["access-path"].status, Status::Skipped);
        assert_eq!(
            r["kms-grant"].status,
            Status::Skipped,
            "the registry comes first"
        );
        // The role is still judged on what does not depend on the grant.
        assert_eq!(
            r["consumer-role"].status,
            Status::Ok,
            "{:?}",
            r["consumer-role"]
        );
        assert!(r["consumer-role"].detail.contains("not compared"));
        let mut l = healthy();
        l.kms_grants = Obs::Failed("kms ListGrants: AccessDeniedException".into());
        let r = run(&l);
        assert_eq!(r["kms-grant"].status, Status::Problem);
        assert!(r["kms-grant"].detail.contains("AccessDeniedException"));
    }
}

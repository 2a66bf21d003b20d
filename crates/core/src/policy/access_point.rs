//! The access-point tier (DESIGN.md, decision 3): past the bucket-policy budget a consumer gets
//! its own S3 Access Point, whose policy grants its role its prefixes and level with the same
//! `DateLessThan` expiry, and the bucket policy delegates to access points of the primary account
//! with one statement.
//!
//! AWS behaviour relied on (Amazon S3 User Guide):
//! - "For an application or user to be able to access objects through an access point, both the
//!   access point and the underlying bucket must permit the request", and the recommended way is
//!   to delegate access control from the bucket to access points with a bucket policy allowing
//!   `*` on the bucket when `s3:DataAccessPointAccount` is the bucket owner's account
//!   (access-points-policies.html, "Delegating access control to access points"). The bucket's
//!   baseline denies (TLS, SSE-KMS, the right key) therefore still hold through an access point.
//! - An access point's resource is `arn:<partition>:s3:<region>:<account>:accesspoint/<name>` and an
//!   object through it `…/accesspoint/<name>/object/<key>` ("ARNs for objects accessed through an
//!   access point use the format …/object/resource", using-access-points.html); its policy is
//!   limited to 20 KB (access-points-restrictions-limitations.html). Listing through an access
//!   point is allowed on the access point's own ARN, as AWS's example of an access point policy
//!   allowing bucket listing does (`s3:ListBucket` on `…:accesspoint/my-access-point`,
//!   access-points-policies.html); the `s3:prefix` condition on it is Warden's, as on the bucket.
//!   Not found on AWS's pages: that the caller's identity and session policies are judged on the
//!   access point's ARNs alone (Warden's sessions and consumer-role/ name those ARNs; if S3 also
//!   judged them on the bucket's, requests would be denied, never widened).
//! - "S3 access points introduce three new condition keys": `s3:DataAccessPointArn`,
//!   `s3:DataAccessPointAccount` (the access point owner's account) and
//!   `s3:AccessPointNetworkOrigin` (`Internet` or `VPC`) (access-points-policies.html,
//!   "Condition keys").
//! - Names: unique per account and Region, 3–50 characters, lower-case letters, digits and
//!   hyphens, beginning with a letter or digit, not beginning or ending with `-`, not ending with
//!   `-s3alias` (access-points-restrictions-limitations.html); 10,000 access points per account
//!   per Region by default (creating-access-points.html).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::model::{CondValues, Effect, Policy, Principal, Statement, StrList};
use super::render::{self, KmsRender, LIST_ACTIONS, RenderError, RenderSettings, Rendered};
use crate::grant::{AccountId, GrantError, Registry, Timestamp};

/// AWS's access point policy limit (20 KB).
pub const ACCESS_POINT_POLICY_BUDGET: usize = 20 * 1024;

/// A name or policy that AWS would refuse, with the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessPointError {
    /// The access point name breaks S3's naming rules.
    #[error("access point name {name:?}: {rule}")]
    Name {
        /// The name as built.
        name: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// The access point policy is over 20 KB.
    #[error(
        "the access point policy for {account} is {size} bytes, {over} over the {budget}-byte limit AWS enforces; shorten or merge that consumer's prefixes"
    )]
    OverBudget {
        /// The consumer account.
        account: String,
        /// Compact JSON size.
        size: usize,
        /// The limit.
        budget: usize,
        /// Bytes over.
        over: usize,
    },
}

/// The access point name of a consumer: `<name_prefix>-<account>` (`name_prefix` is
/// `<project>-<env>`), checked against S3's naming rules.
///
/// # Errors
/// [`AccessPointError::Name`] naming the rule.
pub fn name(name_prefix: &str, account: &AccountId) -> Result<String, AccessPointError> {
    let name = format!("{name_prefix}-{account}");
    let bad = |rule| {
        Err(AccessPointError::Name {
            name: name.clone(),
            rule,
        })
    };
    if !(3..=50).contains(&name.len()) {
        return bad("must be 3 to 50 characters (shorten the project or environment name)");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return bad("may hold only lower-case letters, digits and hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return bad("must not begin or end with a hyphen");
    }
    if name.ends_with("-s3alias") {
        return bad("must not end with -s3alias (reserved for access point aliases)");
    }
    Ok(name)
}

/// The ARN of the access point `name`, owned by the primary account in the stack's Region.
#[must_use]
pub fn arn(s: &RenderSettings, name: &str) -> String {
    format!(
        "arn:{}:s3:{}:{}:accesspoint/{name}",
        s.partition, s.region, s.primary_account
    )
}

/// The bucket policy statement delegating access control to Warden's access points: the
/// documented `s3:DataAccessPointAccount` pattern (only requests made through an access point of
/// the primary account, and only as far as that access point's policy allows), narrowed with
/// `s3:DataAccessPointArn` to the names `<name_prefix>-` + exactly twelve characters (an account
/// ID), so that no other access point in the primary account — another name, or another
/// environment's `<project>-<env>-x-<account>` — is trusted by the delegation; and to the
/// actions Warden grants (object reads and writes, listing), not `*`.
#[must_use]
pub fn delegation_statement(s: &RenderSettings, name_prefix: &str) -> Statement {
    let bucket = s.bucket_arn();
    let mut st = Statement::new(Effect::Allow)
        .with_condition(
            "StringEquals",
            "s3:DataAccessPointAccount",
            CondValues::strs([s.primary_account.to_string()]),
        )
        .with_condition(
            "StringLike",
            "s3:DataAccessPointArn",
            CondValues::strs([format!("{}-????????????", arn(s, name_prefix))]),
        );
    st.sid = Some("DelegateToWardenAccessPoints".into());
    st.principal = Some(Principal::Any);
    let mut actions: Vec<&str> = render::READ_OBJECT_ACTIONS.to_vec();
    actions.extend(render::WRITE_OBJECT_ACTIONS);
    actions.extend(LIST_ACTIONS);
    st.action = Some(StrList::of(actions));
    st.resource = Some(StrList::of([bucket.clone(), format!("{bucket}/*")]));
    st
}

/// An access point policy with its size against the 20 KB limit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessPointPolicy {
    /// The access point's name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The policy with its size and limit (no statements when the consumer has no active
    /// grant: the reconciler then removes the policy).
    #[serde(flatten)]
    pub doc: Rendered,
}

/// Render the policy of `account`'s access point: per active grant, the object actions of its
/// level on `<ap>/object/<prefix>*` and listing restricted by `s3:prefix`, for the consumer role
/// only, each expiring with the grant.
///
/// # Errors
/// [`AccessPointError`] when the name breaks S3's rules or the policy is over 20 KB.
pub fn policy(
    registry: &Registry,
    account: &AccountId,
    s: &RenderSettings,
    name_prefix: &str,
    now: DateTime<Utc>,
) -> Result<AccessPointPolicy, AccessPointError> {
    let name = name(name_prefix, account)?;
    let ap = arn(s, &name);
    let role = s.consumer_role_arn(account);
    let mut statements = Vec::new();
    for (n, g) in registry
        .active(now)
        .filter(|g| g.account_id == *account)
        .enumerate()
    {
        let mut objects =
            render::expiry_condition(Statement::new(Effect::Allow), &g.expiration_date);
        objects.sid = Some(format!("Grant{n}Objects"));
        objects.principal = Some(Principal::aws([role.clone()]));
        objects.action = Some(StrList::of(render::object_actions(g.access_level)));
        objects.resource = Some(StrList::of(
            g.allowed_prefixes
                .iter()
                .map(|p| format!("{ap}/object/{p}*")),
        ));
        statements.push(objects);

        let mut list = render::expiry_condition(
            Statement::new(Effect::Allow).with_condition(
                "StringLike",
                "s3:prefix",
                CondValues::strs(g.allowed_prefixes.iter().map(|p| format!("{p}*"))),
            ),
            &g.expiration_date,
        );
        list.sid = Some(format!("Grant{n}List"));
        list.principal = Some(Principal::aws([role.clone()]));
        list.action = Some(StrList::of(LIST_ACTIONS));
        list.resource = Some(StrList::of([ap.clone()]));
        statements.push(list);
    }
    let doc = Rendered::new(Policy::new(statements), ACCESS_POINT_POLICY_BUDGET);
    if doc.size > doc.budget {
        return Err(AccessPointError::OverBudget {
            account: account.to_string(),
            size: doc.size,
            budget: doc.budget,
            over: doc.size - doc.budget,
        });
    }
    Ok(AccessPointPolicy { name, arn: ap, doc })
}

/// How consumers are spread over the two tiers (`sharing_mode` in Terraform).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SharingMode {
    /// Every consumer in the bucket policy (refused past its 20 KB).
    BucketPolicy,
    /// Every consumer on its own access point.
    AccessPoints,
    /// The first `threshold` consumers in the bucket policy, the rest on access points.
    Auto {
        /// How many consumers the bucket policy holds.
        threshold: usize,
    },
}

impl std::fmt::Display for SharingMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SharingMode::BucketPolicy => f.write_str("bucket-policy"),
            SharingMode::AccessPoints => f.write_str("access-points"),
            SharingMode::Auto { threshold } => write!(f, "auto, threshold {threshold}"),
        }
    }
}

impl SharingMode {
    /// `bucket-policy`, `access-points` or `auto` (with its threshold).
    ///
    /// # Errors
    /// `sharing_mode: …` naming the accepted values.
    pub fn parse(mode: &str, threshold: usize) -> Result<Self, String> {
        match mode {
            "bucket-policy" => Ok(SharingMode::BucketPolicy),
            "access-points" => Ok(SharingMode::AccessPoints),
            "auto" => Ok(SharingMode::Auto { threshold }),
            other => Err(format!(
                "sharing_mode: {other:?} must be one of bucket-policy, access-points, auto"
            )),
        }
    }
}

/// The consumers on the access-point tier. With [`SharingMode::Auto`], consumers fill the
/// bucket policy in the order they were first granted (earliest `created_at`, then account ID),
/// so adding a consumer never moves one that is already placed.
#[must_use]
pub fn access_point_accounts(registry: &Registry, mode: SharingMode) -> BTreeSet<AccountId> {
    let mut first: BTreeMap<AccountId, Timestamp> = BTreeMap::new();
    for g in registry.grants() {
        let at = first.entry(g.account_id.clone()).or_insert(g.created_at);
        if g.created_at < *at {
            *at = g.created_at;
        }
    }
    match mode {
        SharingMode::BucketPolicy => BTreeSet::new(),
        SharingMode::AccessPoints => first.into_keys().collect(),
        SharingMode::Auto { threshold } => {
            let mut order: Vec<(Timestamp, AccountId)> =
                first.into_iter().map(|(a, t)| (t, a)).collect();
            order.sort();
            order.into_iter().skip(threshold).map(|(_, a)| a).collect()
        }
    }
}

/// A consumer's access point: what it passes as the bucket (the ARN works wherever a bucket
/// name does in the SDKs and the AWS CLI).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessPointRef {
    /// The access point's name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
}

/// How a deployment places consumers on the tiers: the mode and the access point name prefix
/// (`<project>-<env>`), as the policy-reconciler is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tiering {
    /// The sharing mode.
    pub mode: SharingMode,
    /// Access point names are `<name_prefix>-<account>`.
    pub name_prefix: String,
}

impl Tiering {
    /// From the functions' settings: `SHARING_MODE`, `ACCESS_POINT_THRESHOLD` (required with
    /// `auto`) and `ACCESS_POINT_PREFIX`.
    ///
    /// # Errors
    /// A value out of its range, naming the variable and the rule.
    pub fn from_settings(
        mode: &str,
        threshold: Option<&str>,
        name_prefix: &str,
    ) -> Result<Self, String> {
        let threshold = match threshold {
            Some(t) => t.trim().parse::<usize>().map_err(|_| {
                format!("ACCESS_POINT_THRESHOLD: {t:?} must be a whole number of consumers")
            })?,
            None if mode == "auto" => {
                return Err("ACCESS_POINT_THRESHOLD is required with SHARING_MODE=auto".into());
            }
            None => 0,
        };
        let mode = SharingMode::parse(mode, threshold).map_err(|e| format!("SHARING_MODE: {e}"))?;
        if mode != SharingMode::BucketPolicy {
            // Checked here, once, rather than on the first consumer past the threshold.
            name(
                name_prefix,
                &AccountId::parse("000000000000").map_err(|e| e.to_string())?,
            )
            .map_err(|e| format!("ACCESS_POINT_PREFIX: {e}"))?;
        }
        Ok(Tiering {
            mode,
            name_prefix: name_prefix.to_owned(),
        })
    }

    /// Every consumer in the bucket policy.
    #[must_use]
    pub fn bucket_only() -> Self {
        Tiering {
            mode: SharingMode::BucketPolicy,
            name_prefix: String::new(),
        }
    }

    /// The access point of `account` when the registry puts it on the access-point tier.
    ///
    /// # Errors
    /// The access point name breaks S3's rules (a misconfigured prefix).
    pub fn access_point(
        &self,
        registry: &Registry,
        account: &AccountId,
        s: &RenderSettings,
    ) -> Result<Option<AccessPointRef>, AccessPointError> {
        if self.mode == SharingMode::BucketPolicy
            || !access_point_accounts(registry, self.mode).contains(account)
        {
            return Ok(None);
        }
        let name = name(&self.name_prefix, account)?;
        Ok(Some(AccessPointRef {
            arn: arn(s, &name),
            name,
        }))
    }
}

/// Everything rendered for both tiers: the bucket policy (the bucket tier's grants, plus the
/// delegation statement when any consumer is on an access point), one access point policy per
/// access-point consumer, and the KMS side (key-policy statements for the bucket tier's roles,
/// a grant for every consumer whatever its tier).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tiered {
    /// The bucket policy.
    pub bucket: Rendered,
    /// Access point policies by consumer account.
    pub access_points: BTreeMap<AccountId, AccessPointPolicy>,
    /// Key policy statements and grants.
    pub kms: KmsRender,
}

/// A render of both tiers that AWS would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TierError {
    /// The bucket policy or key policy is over its limit.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// An access point name or policy breaks S3's rules.
    #[error(transparent)]
    AccessPoint(#[from] AccessPointError),
    /// The bucket tier's grants did not form a registry (cannot happen for a subset of a valid
    /// one; kept as an error rather than a panic).
    #[error("the bucket tier's grants: {0}")]
    Registry(#[from] GrantError),
}

/// Render both tiers from the registry (`baseline`: the statements Terraform owns).
///
/// # Errors
/// [`TierError`] naming the document over its limit or the access point name AWS would refuse.
pub fn render_tiers(
    registry: &Registry,
    s: &RenderSettings,
    baseline: Vec<Statement>,
    mode: SharingMode,
    name_prefix: &str,
    now: DateTime<Utc>,
) -> Result<Tiered, TierError> {
    let on_ap = access_point_accounts(registry, mode);
    let bucket_grants = registry
        .grants()
        .iter()
        .filter(|g| !on_ap.contains(&g.account_id))
        .cloned()
        .collect();
    // A subset of a valid registry is valid: no duplicates or overlaps appear by removing some.
    let bucket_registry = Registry::new(bucket_grants)?;
    let mut statements = baseline;
    if !on_ap.is_empty() {
        statements.push(delegation_statement(s, name_prefix));
    }
    let bucket = render::bucket_policy_with_baseline(&bucket_registry, s, statements, now)?;
    let access_points = on_ap
        .iter()
        .map(|a| Ok((a.clone(), policy(registry, a, s, name_prefix, now)?)))
        .collect::<Result<_, AccessPointError>>()?;
    // The key policy names only the bucket tier's roles; every consumer, on either tier, is
    // carried by its KMS grant (50,000 per key), so the key policy does not grow past the
    // threshold.
    let mut kms = render::kms(&bucket_registry, s, now)?;
    kms.grants = render::kms_grants(registry, s, now);
    Ok(Tiered {
        bucket,
        access_points,
        kms,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::grant::{Grant, GrantInput, Timestamp};
    use crate::policy::condition::Context;
    use crate::policy::eval::{Caller, CompiledPolicy, Decision, PolicySet, Request, evaluate};
    use crate::policy::model::PolicyKind;
    use crate::policy::render;

    fn now() -> DateTime<Utc> {
        Timestamp::parse("2026-11-22T12:00:00Z").unwrap().0
    }

    fn settings() -> RenderSettings {
        RenderSettings {
            partition: "aws".into(),
            region: "us-east-1".into(),
            primary_account: AccountId::parse("111111111111").unwrap(),
            bucket: "warden-shared-data".into(),
            kms_key_arn: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
            consumer_role_name: "warden-consumer".into(),
            require_mfa: false,
            vending_role_arn: None,
        }
    }

    /// One grant of `acct` (created `created_at`, default now).
    fn grant(
        acct: &str,
        prefixes: &[String],
        level: &str,
        until: &str,
        created_at: Option<String>,
    ) -> Grant {
        Grant::from_input(
            &GrantInput {
                account_id: acct.into(),
                name: None,
                allowed_prefixes: prefixes.to_vec(),
                access_level: level.into(),
                expiration_date: until.into(),
                owner_email: None,
                external_id: None,
                created_by: None,
                created_at,
            },
            now(),
        )
        .unwrap()
    }

    fn registry() -> Registry {
        let g = |acct: &str, prefixes: &[&str], level: &str, until: &str| {
            let prefixes: Vec<String> = prefixes.iter().map(|p| (*p).to_owned()).collect();
            grant(acct, &prefixes, level, until, None)
        };
        Registry::new(vec![
            g(
                "222222222222",
                &["sales/", "shared/"],
                "read",
                "2027-01-01T00:00:00Z",
            ),
            g(
                "333333333333",
                &["finance/"],
                "read-write",
                "2027-01-01T00:00:00Z",
            ),
            g("444444444444", &["old/"], "read", "2026-01-01T00:00:00Z"),
        ])
        .unwrap()
    }

    #[test]
    fn names_follow_s3_rules() {
        let a = AccountId::parse("222222222222").unwrap();
        assert_eq!(name("warden-prod", &a).unwrap(), "warden-prod-222222222222");
        for (prefix, rule) in [
            ("Warden-prod", "lower-case"),
            ("warden_prod", "lower-case"),
            ("-warden", "hyphen"),
            (&"w".repeat(40) as &str, "3 to 50"),
        ] {
            let e = name(prefix, &a).unwrap_err().to_string();
            assert!(e.contains(rule), "{prefix}: {e}");
        }
    }

    fn request(principal: &str, action: &str, resource: &str, ctx: &[(&str, &str)]) -> Request {
        let mut context = Context::new();
        context.set("aws:SecureTransport", "true");
        context.set("aws:CurrentTime", "2026-11-22T12:00:00Z");
        for (k, v) in ctx {
            context.set(k, *v);
        }
        Request {
            caller: Caller::parse(principal).unwrap(),
            action: action.into(),
            resource: resource.into(),
            resource_account: Some("111111111111".into()),
            context,
        }
        .with_global_keys()
    }

    /// Through the access point both documents decide: the access point policy on the access
    /// point's ARN, the delegating bucket policy (baseline denies included) on the bucket's.
    #[test]
    fn access_point_and_delegating_bucket_policy_both_decide() {
        let s = settings();
        let reg = registry();
        let a = AccountId::parse("222222222222").unwrap();
        let ap = policy(&reg, &a, &s, "warden-prod", now()).unwrap();
        ap.doc.policy.validate(PolicyKind::Resource).unwrap();
        assert!(ap.doc.size < ACCESS_POINT_POLICY_BUDGET);
        let mut baseline = render::baseline_statements(&s);
        baseline.push(delegation_statement(&s, "warden-prod"));
        let bucket = Policy::new(baseline);
        bucket.validate(PolicyKind::Resource).unwrap();
        let role_policy = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
        )
        .unwrap();
        let identity = vec![CompiledPolicy::new("role", &role_policy)];
        let ap_set = PolicySet {
            identity: identity.clone(),
            resource: Some(CompiledPolicy::new("access_point_policy", &ap.doc.policy)),
            ..Default::default()
        };
        let bucket_set = PolicySet {
            identity,
            resource: Some(CompiledPolicy::new("bucket_policy", &bucket)),
            ..Default::default()
        };
        let session = "arn:aws:sts::222222222222:assumed-role/warden-consumer/s";
        let via_ap = [
            ("s3:DataAccessPointAccount", "111111111111"),
            ("s3:DataAccessPointArn", ap.arn.as_str()),
            ("s3:AccessPointNetworkOrigin", "Internet"),
        ];
        let both = |key: &str, ctx: &[(&str, &str)]| {
            let on_ap = evaluate(
                &ap_set,
                &request(
                    session,
                    "s3:GetObject",
                    &format!("{}/object/{key}", ap.arn),
                    ctx,
                ),
            );
            let on_bucket = evaluate(
                &bucket_set,
                &request(
                    session,
                    "s3:GetObject",
                    &format!("arn:aws:s3:::warden-shared-data/{key}"),
                    ctx,
                ),
            );
            (on_ap.decision, on_bucket.decision)
        };
        assert_eq!(
            both("sales/2026/a.csv", &via_ap),
            (Decision::Allowed, Decision::Allowed)
        );
        assert_eq!(both("finance/a.csv", &via_ap).0, Decision::ImplicitlyDenied);
        // The bucket delegates only to the primary account's access points, and only through
        // one: the same request straight to the bucket is not allowed by the delegation.
        assert_eq!(both("sales/a.csv", &[]).1, Decision::ImplicitlyDenied);
        assert_eq!(
            both(
                "sales/a.csv",
                &[("s3:DataAccessPointAccount", "999999999999")]
            )
            .1,
            Decision::ImplicitlyDenied
        );
        // An access point someone else created in the primary account on this bucket is not
        // trusted by the delegation: another name, a Warden-like name that is not
        // <prefix>-<12 characters>, or another environment's (warden-prod-eu-…).
        for rogue in [
            "open-to-all",
            "warden-prod-evil",
            "warden-prod-eu-222222222222",
            "warden-prod-2222222222222",
        ] {
            assert_eq!(
                both(
                    "sales/a.csv",
                    &[
                        ("s3:DataAccessPointAccount", "111111111111"),
                        (
                            "s3:DataAccessPointArn",
                            &format!("arn:aws:s3:us-east-1:111111111111:accesspoint/{rogue}")
                        ),
                    ]
                )
                .1,
                Decision::ImplicitlyDenied,
                "{rogue}"
            );
        }
        // The baseline still holds through the access point: no TLS, explicit deny.
        let plain = evaluate(
            &bucket_set,
            &request(
                session,
                "s3:GetObject",
                "arn:aws:s3:::warden-shared-data/sales/a.csv",
                &[
                    ("aws:SecureTransport", "false"),
                    ("s3:DataAccessPointAccount", "111111111111"),
                ],
            ),
        );
        assert_eq!(plain.decision, Decision::ExplicitlyDenied);
        // Another consumer's session gets nothing from this access point.
        let other = evaluate(
            &ap_set,
            &request(
                "arn:aws:sts::333333333333:assumed-role/warden-consumer/s",
                "s3:GetObject",
                &format!("{}/object/sales/a.csv", ap.arn),
                &via_ap,
            ),
        );
        assert_eq!(other.decision, Decision::ImplicitlyDenied);
        // Listing through the access point is limited to the granted prefixes.
        let list = |prefix: &str| {
            let mut ctx = via_ap.to_vec();
            ctx.push(("s3:prefix", prefix));
            evaluate(&ap_set, &request(session, "s3:ListBucket", &ap.arn, &ctx)).decision
        };
        assert_eq!(list("shared/x"), Decision::Allowed);
        assert_eq!(list("finance/"), Decision::ImplicitlyDenied);
    }

    #[test]
    fn expired_and_write_grants() {
        let s = settings();
        let reg = registry();
        let expired = policy(
            &reg,
            &AccountId::parse("444444444444").unwrap(),
            &s,
            "warden-prod",
            now(),
        )
        .unwrap();
        assert!(
            expired.doc.policy.statements.is_empty(),
            "nothing active: no grant"
        );
        let rw = policy(
            &reg,
            &AccountId::parse("333333333333").unwrap(),
            &s,
            "warden-prod",
            now(),
        )
        .unwrap();
        let json = rw.doc.policy.to_compact_json();
        assert!(
            json.contains("s3:PutObject") && json.contains("DateLessThan"),
            "{json}"
        );
        assert!(json.contains("accesspoint/warden-prod-333333333333/object/finance/*"));
    }

    fn consumers(n: usize) -> Registry {
        let grants = (0..n)
            .map(|i| {
                grant(
                    &format!("{:012}", 200_000_000_000u64 + i as u64),
                    // Each consumer on its own namespace, two prefixes (spec 000's layout).
                    &[
                        format!("consumers/{i:04}/inbox/"),
                        format!("consumers/{i:04}/shared/"),
                    ],
                    if i % 3 == 0 { "read-write" } else { "read" },
                    "2027-12-31T00:00:00Z",
                    // Consumers granted one minute apart, in account order.
                    Some((now() - chrono::Duration::minutes((n - i) as i64)).to_rfc3339()),
                )
            })
            .collect();
        Registry::new(grants).unwrap()
    }

    /// 1,000 consumers × 2 prefixes: every document within its limit on either tier split, and
    /// the bucket policy alone refuses them.
    #[test]
    fn a_thousand_consumers_fit_on_access_points() {
        let s = settings();
        let reg = consumers(1000);
        for mode in [
            SharingMode::AccessPoints,
            SharingMode::Auto { threshold: 20 },
        ] {
            let t = render_tiers(
                &reg,
                &s,
                render::baseline_statements(&s),
                mode,
                "warden-prod",
                now(),
            )
            .unwrap();
            let expected = if mode == SharingMode::AccessPoints {
                1000
            } else {
                980
            };
            assert_eq!(t.access_points.len(), expected, "{mode:?}");
            assert!(
                t.bucket.size <= t.bucket.budget,
                "{mode:?}: {}",
                t.bucket.size
            );
            assert!(
                t.bucket
                    .policy
                    .to_compact_json()
                    .contains("s3:DataAccessPointAccount"),
                "the bucket delegates"
            );
            for p in t.access_points.values() {
                assert!(p.doc.size <= p.doc.budget);
            }
            assert_eq!(
                t.kms.grants.len(),
                1000,
                "KMS stays on grants for every consumer"
            );
            assert!(t.kms.key_policy.size <= t.kms.key_policy.budget);
        }
        let e = render_tiers(
            &reg,
            &s,
            render::baseline_statements(&s),
            SharingMode::BucketPolicy,
            "warden-prod",
            now(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("over the 20480-byte limit"), "{e}");
    }

    /// Adding a consumer never moves one already placed: the newest ones take access points.
    #[test]
    fn placement_is_stable_as_consumers_arrive() {
        let mode = SharingMode::Auto { threshold: 5 };
        let before = access_point_accounts(&consumers(8), mode);
        let after = access_point_accounts(&consumers(9), mode);
        assert_eq!(before.len(), 3);
        assert!(before.is_subset(&after), "{before:?} {after:?}");
        assert_eq!(after.len(), 4);
        assert_eq!(
            SharingMode::parse("auto", 20).unwrap(),
            SharingMode::Auto { threshold: 20 }
        );
        let e = SharingMode::parse("buckets", 0).unwrap_err();
        assert!(e.starts_with("sharing_mode:"), "{e}");
    }

    #[test]
    fn oversized_access_point_policy_is_refused_by_name() {
        let s = settings();
        let many: Vec<String> = (0..400).map(|i| format!("dataset-{i:04}/part/")).collect();
        let g = grant("222222222222", &many, "read", "2027-01-01T00:00:00Z", None);
        let reg = Registry::new(vec![g]).unwrap();
        let e = policy(
            &reg,
            &AccountId::parse("222222222222").unwrap(),
            &s,
            "warden-prod",
            now(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("over the 20480-byte limit"), "{e}");
    }
}

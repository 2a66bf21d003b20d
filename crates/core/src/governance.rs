//! Governance: compare what is live with what the registry and `consumer-role/` say should be
//! (the daily check).
//!
//! - the bucket policy and KMS grants against the render of the registry on the baseline
//!   compiled into warden-core ([`policy_drift`]), and the baseline parameter itself against
//!   that compiled baseline ([`baseline_drift`]);
//! - each consumer role ([`role_drift`]): its trust policy and permissions boundary against what
//!   `consumer-role/` renders, and its identity policies *decided by the evaluator* — every
//!   action class on probe keys inside and outside each granted prefix, in other buckets and on
//!   other keys — against what the registry grants. A finding names the statement that allows.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::grant::Registry;
use crate::policy::access_point::{self, Tiering};
use crate::policy::condition::{Context, current_time};
use crate::policy::eval::{
    Caller, CompiledPolicy, Decision, GRANT_OPERATIONS, KmsGrant, PolicySet, Request, evaluate,
    evaluate_principal_policies,
};
use crate::policy::model::{Effect, Policy, Principal, Statement, StrList};
use crate::policy::path::{self, Deployment};
use crate::policy::render::{
    self, LIST_ACTIONS, READ_OBJECT_ACTIONS, RenderSettings, WRITE_OBJECT_ACTIONS,
};
use crate::ports::RoleFacts;
use crate::reconcile::{self, LiveGrant};

/// One difference between desired and live state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// `bucket-policy`, `baseline`, `kms-grants`, `kms-decrypt`, `consumer-role`, `registry`.
    pub kind: &'static str,
    /// The account concerned, if one.
    pub account_id: Option<String>,
    /// What differs and what to do.
    pub detail: String,
}

/// Drift of the bucket policy, the access point policies and the KMS grants (what the
/// reconciler would change), judged against the registry rendered on the baseline compiled into
/// warden-core — never on the baseline parameter, which anyone with `ssm:PutParameter` could
/// edit. Consumers are placed on the tiers as the reconciler places them (`tiering`); the bucket
/// policy then delegates to Warden's access points, and `live_access_points` holds every
/// Warden-named access point on the bucket with its policy (`None`: it has none).
///
/// # Errors
/// The render itself fails (over budget): reported as drift by the caller.
pub fn policy_drift(
    registry: &Registry,
    settings: &RenderSettings,
    tiering: &Tiering,
    live_policy: Option<&str>,
    live_grants: &[LiveGrant],
    live_access_points: &BTreeMap<String, Option<String>>,
    now: DateTime<Utc>,
) -> Result<Vec<Drift>, render::RenderError> {
    let on_ap = access_point::access_point_accounts(registry, tiering.mode);
    let bucket_tier: Vec<usize> = (0..registry.grants().len())
        .filter(|&i| {
            registry
                .grants()
                .get(i)
                .is_some_and(|g| !on_ap.contains(&g.account_id))
        })
        .collect();
    let mut baseline = render::baseline_statements(settings);
    if !on_ap.is_empty() {
        baseline.push(access_point::delegation_statement(
            settings,
            &tiering.name_prefix,
        ));
    }
    let plan = reconcile::plan(
        &registry.subset(&bucket_tier),
        settings,
        baseline,
        live_policy,
        live_grants,
        now,
    )?;
    let mut out = Vec::new();
    if plan.bucket_policy.is_some() {
        out.push(Drift {
            kind: "bucket-policy",
            account_id: None,
            detail: match live_policy {
                None => "the shared bucket has no policy; run the policy-reconciler".into(),
                Some(_) => "the live bucket policy differs from the render of the registry (edited by hand, or the reconciler has not run); run the policy-reconciler and find who changed it in CloudTrail (PutBucketPolicy)".into(),
            },
        });
    }
    // Access point policies, one per consumer on that tier.
    let mut desired = BTreeMap::new();
    for account in &on_ap {
        match access_point::policy(registry, account, settings, &tiering.name_prefix, now) {
            Ok(p) => {
                let doc =
                    (!p.doc.policy.statements.is_empty()).then(|| p.doc.policy.to_compact_json());
                desired.insert(p.name, (account.clone(), doc));
            }
            Err(e) => out.push(Drift {
                kind: "access-point",
                account_id: Some(account.to_string()),
                detail: format!("its access point policy cannot be rendered: {e}"),
            }),
        }
    }
    for change in reconcile::access_point_changes(&desired, live_access_points) {
        out.push(match change {
            reconcile::AccessPointChange::Create { name } => Drift {
                kind: "access-point",
                account_id: reconcile::access_point_account(&tiering.name_prefix, &name)
                    .map(|a| a.to_string()),
                detail: format!("access point {name} does not exist; run the policy-reconciler (or terraform apply for a declared consumer)"),
            },
            reconcile::AccessPointChange::Put { name, account, .. } => Drift {
                kind: "access-point",
                account_id: Some(account.to_string()),
                detail: if live_access_points.get(&name).is_some_and(Option::is_some) {
                    format!("the policy of access point {name} differs from the render of the registry (edited by hand, or the reconciler has not run); run the policy-reconciler and find who changed it in CloudTrail (PutAccessPointPolicy)")
                } else {
                    format!("access point {name} has no policy; run the policy-reconciler")
                },
            },
            reconcile::AccessPointChange::Delete { name } => Drift {
                kind: "access-point",
                account_id: reconcile::access_point_account(&tiering.name_prefix, &name)
                    .map(|a| a.to_string()),
                detail: format!("access point {name} has a policy but its consumer has no active grant on the access-point tier; run the policy-reconciler"),
            },
        });
    }
    // KMS grants: every consumer, whatever its tier.
    let (create, retire) =
        reconcile::kms_changes(&render::kms_grants(registry, settings, now), live_grants);
    for g in &create {
        out.push(Drift {
            kind: "kms-grants",
            account_id: Some(g.account_id.clone()),
            detail: format!("KMS grant {} is missing", g.name),
        });
    }
    for g in &retire {
        out.push(Drift {
            kind: "kms-grants",
            account_id: None,
            detail: format!(
                "KMS grant {} ({}) is not in the registry",
                g.name.as_deref().unwrap_or("?"),
                g.grant_id
            ),
        });
    }
    Ok(out)
}

/// At most `n` characters of `text` (never splits a character).
fn clip(text: &str, n: usize) -> String {
    let mut out: String = text.chars().take(n).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

fn statement_json(st: &Statement) -> String {
    let v = Policy::new(vec![st.clone()]).to_value();
    clip(&v["Statement"].to_string(), 400)
}

/// Drift of the baseline parameter (`parameter`, holding `text`) against the baseline compiled
/// into warden-core (rendered from the bucket name and key ARN): every statement added, changed
/// or removed.
#[must_use]
pub fn baseline_drift(parameter: &str, text: &str, settings: &RenderSettings) -> Vec<Drift> {
    let d = |detail: String| Drift {
        kind: "baseline",
        account_id: None,
        detail,
    };
    let live = match Policy::parse(text) {
        Ok(p) => p.statements,
        Err(e) => {
            return vec![d(format!(
                "the baseline parameter {parameter} is not a policy document ({e}); the policy-reconciler refuses it: restore it with terraform apply"
            ))];
        }
    };
    let compiled = render::baseline_statements(settings);
    let want: Vec<serde_json::Value> = compiled.iter().map(reconcile::normal_statement).collect();
    let mut matched = BTreeSet::new();
    let mut out = Vec::new();
    let advice = "restore it with terraform apply and find who changed it in CloudTrail (PutParameter); the policy-reconciler refuses anything but the baseline Deny statements";
    for (i, st) in live.iter().enumerate() {
        let n = reconcile::normal_statement(st);
        if let Some(j) = want.iter().position(|w| *w == n)
            && matched.insert(j)
        {
            continue;
        }
        let known = compiled.iter().any(|c| c.sid.is_some() && c.sid == st.sid);
        out.push(d(if known {
            format!(
                "statement {} of {parameter} differs from the baseline compiled into warden-core: {}; {advice}",
                st.label(i),
                statement_json(st)
            )
        } else {
            format!(
                "statement {} of {parameter} is not part of the baseline compiled into warden-core: {}; {advice}",
                st.label(i),
                statement_json(st)
            )
        }));
    }
    for (j, c) in compiled.iter().enumerate() {
        if !matched.contains(&j) && !live.iter().any(|st| st.sid.is_some() && st.sid == c.sid) {
            out.push(d(format!(
                "baseline statement {} is missing from {parameter}; {advice}",
                c.sid.as_deref().unwrap_or("?")
            )));
        }
    }
    out
}

/// What `consumer-role/` renders for one account beyond the registry: what governance expects of
/// the role besides its permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleExpectation {
    /// The account's `sts:ExternalId` (consumer directory), when known.
    pub external_id: Option<String>,
    /// The permissions boundary the role must carry (`consumer-role/` sets none).
    pub permissions_boundary: Option<String>,
    /// Aliases of the data key (`kms:ResourceAliases` of the probes on it).
    pub key_aliases: Vec<String>,
}

/// The name every probe uses, so probes are easy to recognise in explanations.
const PROBE: &str = "warden-probe";

/// Object actions no grant ever includes.
const NEVER_OBJECT_ACTIONS: [&str; 2] = ["s3:PutObjectAcl", "s3:PutObjectRetention"];
/// Bucket actions no grant ever includes.
const NEVER_BUCKET_ACTIONS: [&str; 5] = [
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:DeleteBucket",
    "s3:PutLifecycleConfiguration",
];
/// KMS actions probed on the data key and other keys.
const KMS_PROBE_ACTIONS: [&str; 6] = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:GenerateDataKey",
    "kms:Encrypt",
    "kms:ReEncryptFrom",
    "kms:CreateGrant",
];
/// Ways to assume a role.
const ASSUME_ACTIONS: [&str; 3] = [
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
];

/// A concrete value matching a policy pattern (`*` and `?` filled in), or `None` for patterns
/// with policy variables.
fn instantiate(pattern: &str) -> Option<String> {
    if pattern.contains("${") {
        return None;
    }
    Some(pattern.replace('*', PROBE).replace('?', "x"))
}

fn condition_values<'a>(
    statements: &'a [Statement],
    key: &'a str,
) -> impl Iterator<Item = String> + 'a {
    statements
        .iter()
        .filter_map(|st| st.condition.as_ref())
        .flat_map(|c| c.values())
        .flat_map(|keys| keys.iter())
        .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
        .flat_map(|(_, v)| v.items.iter().map(|x| x.as_text()))
}

fn push_new<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// One request the evaluator is asked about, and the registry's answer for it.
struct Probe {
    action: &'static str,
    resource: String,
    context: Vec<(&'static str, Vec<String>)>,
    /// How the probe reads in a finding (`on … with s3:prefix "x/"`).
    what: String,
    granted: bool,
}

fn base_context(now: DateTime<Utc>) -> Context {
    let mut ctx = Context::new();
    ctx.set("aws:SecureTransport", "true");
    ctx.set("aws:CurrentTime", current_time(now));
    ctx.set("aws:EpochTime", now.timestamp().to_string());
    ctx.set("aws:MultiFactorAuthPresent", "true");
    ctx.set("aws:MultiFactorAuthAge", "60");
    ctx
}

fn join_limited(items: &[String], n: usize) -> String {
    let mut out = items.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > n {
        out.push_str(&format!(" and {} more", items.len() - n));
    }
    out
}

/// The probes of one account: every action class × keys inside and outside each granted prefix,
/// other buckets, listing with and without `s3:prefix`, the data key via S3 and directly, another
/// key — plus a concrete instance of every resource and `s3:prefix` the role's own statements
/// name, so a widening to any specific place is probed there.
fn probes(
    account: &str,
    statements: &[Statement],
    expect: &RoleExpectation,
    registry: &Registry,
    s: &RenderSettings,
    now: DateTime<Utc>,
) -> Vec<Probe> {
    let part = &s.partition;
    let bucket_arn = s.bucket_arn();
    let objects_root = format!("{bucket_arn}/");
    let grants = registry.account(account);
    let prefixes: BTreeSet<String> = grants
        .iter()
        .flat_map(|a| a.iter())
        .flat_map(|g| g.allowed_prefixes.iter().map(|p| p.as_str().to_owned()))
        .collect();
    let active = || {
        grants
            .iter()
            .flat_map(|a| a.iter())
            .filter(|g| g.is_active(now))
    };
    let has_read = active().next().is_some();
    let has_write = active().any(|g| g.access_level.can_write());

    // Probes in a deliberate order (findings list them in it): inside the grants, where the
    // role's own statements point, just outside each prefix, elsewhere in the bucket, elsewhere.
    let mut object_arns: Vec<String> = Vec::new();
    let mut outside: Vec<String> = Vec::new();
    let mut list_prefixes: Vec<Option<String>> = vec![None, Some(String::new())];
    for p in &prefixes {
        let trimmed = p.trim_end_matches('/');
        push_new(&mut object_arns, format!("{objects_root}{p}{PROBE}"));
        push_new(&mut object_arns, format!("{objects_root}{p}{PROBE}/nested"));
        push_new(
            &mut outside,
            format!("{objects_root}{trimmed}-outside/{PROBE}"),
        );
        push_new(&mut list_prefixes, Some(p.clone()));
        push_new(&mut list_prefixes, Some(format!("{p}{PROBE}/")));
        push_new(&mut list_prefixes, Some(trimmed.to_owned()));
        push_new(&mut list_prefixes, Some(format!("{trimmed}-outside/")));
        if let Some((parent, _)) = trimmed.rsplit_once('/') {
            push_new(&mut outside, format!("{objects_root}{parent}/{PROBE}"));
            push_new(&mut list_prefixes, Some(format!("{parent}/")));
        }
    }
    push_new(&mut list_prefixes, Some(format!("{PROBE}/")));
    let mut bucket_arns: Vec<String> = vec![bucket_arn.clone()];
    let mut key_arns: Vec<String> = vec![s.kms_key_arn.clone()];
    for st in statements.iter().filter(|st| st.effect == Effect::Allow) {
        for r in st.resource.iter().flat_map(|r| r.items.iter()) {
            let Some(x) = instantiate(r) else { continue };
            let parts: Vec<&str> = x.splitn(6, ':').collect();
            match parts.as_slice() {
                ["arn", _, "s3", _, _, res] if res.contains('/') => push_new(&mut object_arns, x),
                ["arn", _, "s3", _, _, _] => push_new(&mut bucket_arns, x),
                ["arn", _, "kms", _, _, res] if res.starts_with("key/") => {
                    push_new(&mut key_arns, x);
                }
                _ => {}
            }
        }
    }
    for v in condition_values(statements, "s3:prefix").filter_map(|v| instantiate(&v)) {
        push_new(&mut list_prefixes, Some(v));
    }
    for x in outside {
        push_new(&mut object_arns, x);
    }
    push_new(&mut object_arns, format!("{objects_root}{PROBE}"));
    push_new(
        &mut object_arns,
        format!("{objects_root}{PROBE}-outside/{PROBE}"),
    );
    for b in [
        format!("arn:{part}:s3:::{}-{PROBE}", s.bucket),
        format!("arn:{part}:s3:::{PROBE}-other-bucket"),
    ] {
        push_new(&mut object_arns, format!("{b}/{PROBE}"));
        push_new(&mut bucket_arns, b);
    }
    push_new(
        &mut key_arns,
        format!(
            "arn:{part}:kms:{}:{}:key/{PROBE}-other-key",
            s.region, s.primary_account
        ),
    );
    let mut aliases: BTreeSet<String> = expect.key_aliases.iter().cloned().collect();
    aliases.extend(condition_values(statements, "kms:ResourceAliases"));
    aliases.extend(condition_values(statements, "kms:RequestAlias"));
    let aliases: Vec<String> = aliases.into_iter().collect();

    let mut out = Vec::new();
    for arn in &object_arns {
        let key = arn.strip_prefix(&objects_root);
        let read = key.is_some_and(|k| registry.allows(account, k, false, now));
        let write = key.is_some_and(|k| registry.allows(account, k, true, now));
        for (actions, granted) in [
            (&READ_OBJECT_ACTIONS[..], read),
            (&WRITE_OBJECT_ACTIONS[..], write),
            (&NEVER_OBJECT_ACTIONS[..], false),
        ] {
            for action in actions {
                out.push(Probe {
                    action,
                    resource: arn.clone(),
                    context: vec![],
                    what: format!("on {arn}"),
                    granted,
                });
            }
        }
    }
    for arn in &bucket_arns {
        for prefix in &list_prefixes {
            let granted = *arn == bucket_arn
                && prefix
                    .as_deref()
                    .is_some_and(|p| registry.allows(account, p, false, now));
            for action in LIST_ACTIONS {
                out.push(Probe {
                    action,
                    resource: arn.clone(),
                    context: prefix
                        .iter()
                        .map(|p| ("s3:prefix", vec![p.clone()]))
                        .collect(),
                    what: match prefix {
                        Some(p) => format!("on {arn} with s3:prefix {p:?}"),
                        None => format!("on {arn} without s3:prefix"),
                    },
                    granted,
                });
            }
        }
        for action in NEVER_BUCKET_ACTIONS {
            out.push(Probe {
                action,
                resource: arn.clone(),
                context: vec![],
                what: format!("on {arn}"),
                granted: false,
            });
        }
    }
    for arn in &key_arns {
        let data_key = *arn == s.kms_key_arn;
        for via_s3 in [true, false] {
            let mut context = vec![("kms:CallerAccount", vec![account.to_owned()])];
            if data_key {
                context.push(("kms:ResourceAliases", aliases.clone()));
            }
            if via_s3 {
                context.push((
                    "kms:ViaService",
                    vec![format!("s3.{}.amazonaws.com", s.region)],
                ));
                context.push(("kms:EncryptionContext:aws:s3:arn", vec![bucket_arn.clone()]));
            }
            for action in KMS_PROBE_ACTIONS {
                let granted = data_key
                    && via_s3
                    && match action {
                        "kms:Decrypt" | "kms:DescribeKey" => has_read,
                        "kms:GenerateDataKey" | "kms:Encrypt" => has_write,
                        _ => false,
                    };
                out.push(Probe {
                    action,
                    resource: arn.clone(),
                    context: context.clone(),
                    what: if via_s3 {
                        format!("on {arn} via S3")
                    } else {
                        format!("on {arn} directly (not via S3)")
                    },
                    granted,
                });
            }
        }
    }
    out
}

fn granted_summary(account: &str, registry: &Registry, now: DateTime<Utc>) -> String {
    let active: Vec<String> = registry
        .account(account)
        .iter()
        .flat_map(|a| a.iter())
        .filter(|g| g.is_active(now))
        .map(|g| {
            format!(
                "{} on {}",
                g.access_level.as_str(),
                g.allowed_prefixes
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    if active.is_empty() {
        "the registry grants this account nothing".into()
    } else {
        format!("the registry grants {}", active.join("; "))
    }
}

/// Every allow of the role's identity policies that the registry does not grant, decided by the
/// evaluator, grouped by probe.
fn permission_findings(
    account: &str,
    policies: &[(String, Policy)],
    expect: &RoleExpectation,
    registry: &Registry,
    s: &RenderSettings,
    now: DateTime<Utc>,
) -> Vec<String> {
    let caller_arn = format!(
        "arn:{}:sts::{account}:assumed-role/{}/{PROBE}",
        s.partition, s.consumer_role_name
    );
    let caller = match Caller::parse(&caller_arn) {
        Ok(c) => c,
        Err(e) => return vec![format!("cannot probe the role as {caller_arn}: {e}")],
    };
    let set = PolicySet {
        identity: policies
            .iter()
            .map(|(name, p)| CompiledPolicy::new(name, p))
            .collect(),
        ..Default::default()
    };
    let statements: Vec<Statement> = policies
        .iter()
        .flat_map(|(_, p)| p.statements.iter().cloned())
        .collect();
    let base = base_context(now);
    // (what, actions, deciding statements), in probe order.
    let mut found: Vec<(String, Vec<&'static str>, BTreeSet<String>)> = Vec::new();
    for probe in probes(account, &statements, expect, registry, s, now) {
        if probe.granted {
            continue;
        }
        let mut ctx = base.clone();
        // Worst case for the probes: a policy's resource-account, encryption or key conditions
        // are satisfied as they would be for the shared bucket and key.
        ctx.set("aws:ResourceAccount", s.primary_account.as_str());
        if probe.action.starts_with("s3:Put") {
            ctx.set("s3:x-amz-server-side-encryption", "aws:kms");
            ctx.set(
                "s3:x-amz-server-side-encryption-aws-kms-key-id",
                s.kms_key_arn.clone(),
            );
        }
        for (k, v) in &probe.context {
            ctx.set_many(k, v.clone());
        }
        let req = Request {
            caller: caller.clone(),
            action: probe.action.to_owned(),
            resource: probe.resource.clone(),
            resource_account: None,
            context: ctx,
        }
        .with_global_keys();
        // What the role's own policies allow, whatever the bucket or key policy says.
        let r = evaluate_principal_policies(&set, &req);
        if r.decision == Decision::Allowed {
            let i = match found.iter().position(|f| f.0 == probe.what) {
                Some(i) => i,
                None => {
                    found.push((probe.what.clone(), Vec::new(), BTreeSet::new()));
                    found.len() - 1
                }
            };
            let Some(e) = found.get_mut(i) else { continue };
            push_new(&mut e.1, probe.action);
            e.2.extend(
                r.explanation
                    .into_iter()
                    .map(|x| x.strip_suffix(" allows").map(str::to_owned).unwrap_or(x)),
            );
        }
    }
    if found.is_empty() {
        return Vec::new();
    }
    // One line per (actions, deciding statements): the probes they reach, listed.
    let mut grouped: Vec<((String, String), Vec<String>)> = Vec::new();
    for (what, actions, by) in found {
        let key = (
            actions.join(", "),
            by.into_iter().collect::<Vec<_>>().join(", "),
        );
        match grouped.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(what),
            None => grouped.push((key, vec![what])),
        }
    }
    let granted = granted_summary(account, registry, now);
    grouped
        .into_iter()
        .map(|((actions, by), whats)| {
            format!(
                "its policies allow {actions} {}, which the registry does not grant ({granted}; allowed by {by})",
                join_limited(&whats, 6)
            )
        })
        .collect()
}

/// Callers probed against the trust policy: who must never be admitted.
fn strangers(account: &str, trust: &Policy, s: &RenderSettings) -> BTreeSet<String> {
    let part = &s.partition;
    let primary = s.primary_account.as_str();
    let validator = s.vending_role_arn.as_deref();
    let other = ["123456789012", "999999999999", "000000000001"]
        .into_iter()
        .find(|a| *a != account && *a != primary)
        .unwrap_or("000000000002");
    let mut out: BTreeSet<String> = [
        "*".to_owned(),
        "ec2.amazonaws.com".to_owned(),
        "lambda.amazonaws.com".to_owned(),
        format!("arn:{part}:iam::{other}:root"),
        format!(
            "arn:{part}:sts::{other}:assumed-role/{}/{PROBE}",
            s.consumer_role_name
        ),
        format!("arn:{part}:iam::{other}:user/{PROBE}"),
        format!("arn:{part}:iam::{primary}:root"),
        format!("arn:{part}:sts::{primary}:assumed-role/{PROBE}-intruder/{PROBE}"),
    ]
    .into();
    let mut named: Vec<String> = Vec::new();
    for st in &trust.statements {
        for p in [&st.principal, &st.not_principal].into_iter().flatten() {
            if let Principal::Map(m) = p {
                named.extend(m.values().flat_map(|v| v.items.iter().cloned()));
            }
        }
    }
    named.extend(condition_values(&trust.statements, "aws:PrincipalArn"));
    for raw in named {
        let Some(v) = instantiate(&raw) else { continue };
        if Some(v.as_str()) == validator {
            continue;
        }
        if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
            if v != account {
                out.insert(format!("arn:{part}:sts::{v}:assumed-role/{PROBE}/{PROBE}"));
            }
            continue;
        }
        let parts: Vec<&str> = v.splitn(6, ':').collect();
        match parts.as_slice() {
            ["arn", _, "iam" | "sts", "", acct, _] if *acct == account => {}
            ["arn", _, "iam", "", acct, "root"] => {
                out.insert(format!(
                    "arn:{part}:sts::{acct}:assumed-role/{PROBE}/{PROBE}"
                ));
                out.insert(v.clone());
            }
            ["arn", _, "iam", "", acct, res] if res.starts_with("role/") => {
                let name = res.rsplit('/').next().unwrap_or(PROBE);
                out.insert(format!(
                    "arn:{part}:sts::{acct}:assumed-role/{name}/{PROBE}"
                ));
            }
            _ => {
                out.insert(v.clone());
            }
        }
    }
    out
}

/// Trust-policy drift: principals admitted beyond the consumer account and the access-validator,
/// assumption without (or with any) `sts:ExternalId`, or the account's principals locked out.
pub(crate) fn trust_findings(
    account: &str,
    trust: &str,
    expect: &RoleExpectation,
    s: &RenderSettings,
    now: DateTime<Utc>,
) -> Vec<String> {
    let policy = match Policy::parse(trust) {
        Ok(p) => p,
        Err(e) => return vec![format!("its trust policy does not parse ({e})")],
    };
    let mut out = Vec::new();
    let rule = format!(
        "only account {account}'s principals (with sts:ExternalId) and the access-validator may assume the consumer role, as consumer-role/ renders it"
    );
    // Federated and canonical-user principals the evaluator cannot impersonate: judged by their
    // presence (AWS and service principals are probed below).
    for (i, st) in policy.statements.iter().enumerate() {
        if st.effect != Effect::Allow {
            continue;
        }
        if let Some(Principal::Map(m)) = &st.principal {
            for (kind, v) in m
                .iter()
                .filter(|(k, _)| k.as_str() != "AWS" && k.as_str() != "Service")
            {
                out.push(format!(
                    "its trust statement {} admits {kind} principal(s) {}; {rule}",
                    st.label(i),
                    v.items.join(", ")
                ));
            }
        }
    }
    let trust_policy = CompiledPolicy::new("trust policy", &policy);
    let mut anything = Statement::new(Effect::Allow);
    anything.action = Some(StrList::of(["*"]));
    anything.resource = Some(StrList::of(["*"]));
    let set = PolicySet {
        identity: vec![CompiledPolicy::new("probe", &Policy::new(vec![anything]))],
        resource: Some(trust_policy),
        ..Default::default()
    };
    let role_arn = format!(
        "arn:{}:iam::{account}:role/{}",
        s.partition, s.consumer_role_name
    );
    let base = base_context(now);
    let ask =
        |caller: &str, action: &str, external_id: Option<&str>, principal_arn: Option<&str>| {
            let caller = Caller::parse(caller).ok()?;
            // A role's trust policy must admit every caller, even one of the role's own account
            // (unlike other resource policies): evaluated as cross-account, the trust and the
            // caller's (allow-all) identity policy must both allow.
            let elsewhere = if caller.account() == Some("000000000000") {
                "000000000001"
            } else {
                "000000000000"
            };
            let mut ctx = base.clone();
            ctx.set("aws:ResourceAccount", account);
            if let Some(x) = external_id {
                ctx.set("sts:ExternalId", x);
            }
            if let Some(p) = principal_arn {
                ctx.set("aws:PrincipalArn", p);
            }
            let r = evaluate(
                &set,
                &Request {
                    caller,
                    action: action.to_owned(),
                    resource: role_arn.clone(),
                    resource_account: Some(elsewhere.to_owned()),
                    context: ctx,
                }
                .with_global_keys(),
            );
            (r.decision == Decision::Allowed).then(|| {
                r.explanation
                    .into_iter()
                    .filter(|x| x.starts_with("trust policy"))
                    .map(|x| {
                        x.trim_start_matches("trust policy statement ")
                            .trim_end_matches(" allows")
                            .to_owned()
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        };
    let mut ids: BTreeSet<Option<String>> = [None].into();
    ids.extend(expect.external_id.iter().cloned().map(Some));
    ids.extend(condition_values(&policy.statements, "sts:ExternalId").map(Some));
    if ids.len() == 1 {
        ids.insert(Some(format!("{PROBE}-external-id")));
    }
    // Strangers: never, whatever external ID they present.
    let mut admitted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for caller in strangers(account, &policy, s) {
        'caller: for action in ASSUME_ACTIONS {
            for id in &ids {
                if let Some(by) = ask(&caller, action, id.as_deref(), None) {
                    admitted.entry(by).or_default().insert(caller.clone());
                    break 'caller;
                }
            }
        }
    }
    for (by, callers) in admitted {
        let callers: Vec<String> = callers.into_iter().collect();
        out.push(format!(
            "its trust policy admits principals beyond account {account}: {} (through statement {by}); {rule}",
            join_limited(&callers, 3)
        ));
    }
    // The legitimate callers: only with the external ID.
    let part = &s.partition;
    let mut legit: Vec<(String, Option<String>)> = vec![
        (
            format!("arn:{part}:sts::{account}:assumed-role/{PROBE}/{PROBE}"),
            None,
        ),
        (format!("arn:{part}:iam::{account}:user/{PROBE}"), None),
        (format!("arn:{part}:iam::{account}:root"), None),
    ];
    if let Some(v) = &s.vending_role_arn
        && let Some(name) = v.rsplit('/').next()
    {
        legit.push((
            format!(
                "arn:{part}:sts::{}:assumed-role/{name}/{PROBE}",
                s.primary_account
            ),
            Some(v.clone()),
        ));
    }
    let mut without: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut any_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let wrong = format!("{PROBE}-wrong-external-id");
    for (caller, principal_arn) in &legit {
        if let Some(by) = ask(caller, "sts:AssumeRole", None, principal_arn.as_deref()) {
            without.entry(by).or_default().push(caller.clone());
        } else if expect.external_id.is_some()
            && let Some(by) = ask(
                caller,
                "sts:AssumeRole",
                Some(&wrong),
                principal_arn.as_deref(),
            )
        {
            any_id.entry(by).or_default().push(caller.clone());
        }
    }
    for (by, callers) in without {
        out.push(format!(
            "its trust policy lets {} assume the role without sts:ExternalId (through statement {by}); consumer-role/ requires the external ID",
            join_limited(&callers, 3)
        ));
    }
    for (by, callers) in any_id {
        out.push(format!(
            "its trust policy lets {} assume the role with any sts:ExternalId, not only the directory's (through statement {by})",
            join_limited(&callers, 3)
        ));
    }
    let consumer_session = format!("arn:{part}:sts::{account}:assumed-role/{PROBE}/{PROBE}");
    if let Some(id) = &expect.external_id
        && ask(&consumer_session, "sts:AssumeRole", Some(id), None).is_none()
    {
        out.push(format!(
            "its trust policy does not let account {account}'s principals assume the role with the directory's external ID: re-apply consumer-role/"
        ));
    }
    out
}

/// Everything wrong with one consumer role, one line each: missing, managed policies attached,
/// trust policy or permissions boundary unlike `consumer-role/`'s, identity policies that parse
/// not or allow what the registry does not grant.
#[must_use]
pub fn role_findings(
    account: &str,
    facts: &RoleFacts,
    expect: &RoleExpectation,
    registry: &Registry,
    settings: &RenderSettings,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut out = Vec::new();
    if !facts.exists {
        out.push(format!(
            "role {} does not exist: apply consumer-role/ in account {account}",
            settings.consumer_role_name
        ));
        return out;
    }
    for arn in &facts.attached_policies {
        out.push(format!(
            "unexpected managed policy {arn} attached to the consumer role"
        ));
    }
    match &facts.trust_policy {
        Some(t) => out.extend(trust_findings(account, t, expect, settings, now)),
        None => out.push("GetRole returned no trust policy for the consumer role".into()),
    }
    match (
        facts.permissions_boundary.as_deref(),
        expect.permissions_boundary.as_deref(),
    ) {
        (Some(b), None) => out.push(format!(
            "permissions boundary {b} is set on the consumer role; consumer-role/ sets none (remove it, or declare it)"
        )),
        (None, Some(e)) => out.push(format!(
            "permissions boundary {e} is missing from the consumer role"
        )),
        (Some(b), Some(e)) if b != e => out.push(format!(
            "the consumer role's permissions boundary is {b}, expected {e}"
        )),
        _ => {}
    }
    let mut policies = Vec::new();
    for (i, doc) in facts.inline_policies.iter().enumerate() {
        match Policy::parse(doc) {
            Ok(p) => policies.push((format!("inline policy {}", i + 1), p)),
            Err(e) => out.push(format!(
                "inline policy {} of the consumer role does not parse ({e})",
                i + 1
            )),
        }
    }
    out.extend(permission_findings(
        account, &policies, expect, registry, settings, now,
    ));
    out
}

/// Drift of one consumer role: [`role_findings`] as one `consumer-role` finding for the account
/// (none when the role is as rendered).
#[must_use]
pub fn role_drift(
    account: &str,
    facts: &RoleFacts,
    expect: &RoleExpectation,
    registry: &Registry,
    settings: &RenderSettings,
    now: DateTime<Utc>,
) -> Vec<Drift> {
    let findings = role_findings(account, facts, expect, registry, settings, now);
    if findings.is_empty() {
        return Vec::new();
    }
    vec![Drift {
        kind: "consumer-role",
        account_id: Some(account.to_owned()),
        detail: findings.join("; "),
    }]
}

/// What is live on the primary account's side of the KMS path.
#[derive(Debug, Clone, Copy)]
pub struct LiveKeyPath<'a> {
    /// The live bucket policy (JSON), if the bucket has one.
    pub bucket_policy: Option<&'a str>,
    /// The live key policy (JSON).
    pub key_policy: &'a str,
    /// The key's live grants.
    pub grants: &'a [LiveGrant],
}

pub(crate) fn live_kms_grants(grants: &[LiveGrant]) -> Vec<KmsGrant> {
    grants
        .iter()
        .filter_map(|g| {
            // Operations the evaluator does not model cannot allow kms:Decrypt or
            // kms:GenerateDataKey, so dropping them changes no answer here.
            let ops: Vec<String> = g
                .operations
                .iter()
                .filter(|o| GRANT_OPERATIONS.contains(&o.as_str()))
                .cloned()
                .collect();
            let pairs = |m: &Option<BTreeMap<String, String>>| {
                m.as_ref()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            };
            let label = format!(
                "KMS grant {}",
                g.name.as_deref().unwrap_or(g.grant_id.as_str())
            );
            KmsGrant::new(
                &label,
                None,
                &g.grantee_principal,
                &ops,
                pairs(&g.encryption_context_subset),
                pairs(&g.encryption_context_equals),
            )
            .ok()
        })
        .collect()
}

/// Drift of the KMS side of one consumer: for each prefix of each active grant, a probe object is
/// read (and, for read-write grants, written) along the whole path ([`path::check`]) on the live
/// bucket policy, the role's live inline policies, the live key policy and grants. A consumer
/// that S3 lets in but KMS does not is drift: it lists and requests objects and gets
/// `AccessDenied` on every one. (When S3 itself refuses, the bucket-policy and consumer-role
/// findings already say why.)
#[must_use]
pub fn decrypt_drift(
    account: &str,
    role_policies: &[String],
    live: LiveKeyPath<'_>,
    key_aliases: &[String],
    registry: &Registry,
    settings: &RenderSettings,
    now: DateTime<Utc>,
) -> Vec<Drift> {
    let Ok(acct) = crate::grant::AccountId::parse(account) else {
        return Vec::new();
    };
    let Some(grants) = registry.account(account) else {
        return Vec::new();
    };
    // Unparseable documents are findings of their own (bucket-policy, consumer-role); here they
    // would only repeat them.
    let Some(bucket) = live.bucket_policy.and_then(|p| Policy::parse(p).ok()) else {
        return Vec::new();
    };
    let key_policy = match Policy::parse(live.key_policy) {
        Ok(p) => p,
        Err(e) => {
            return vec![Drift {
                kind: "kms-decrypt",
                account_id: Some(account.to_owned()),
                detail: format!(
                    "the live key policy does not parse ({e}): restore it with terraform apply"
                ),
            }];
        }
    };
    let roles: Vec<CompiledPolicy> = role_policies
        .iter()
        .enumerate()
        .filter_map(|(i, doc)| {
            Policy::parse(doc)
                .ok()
                .map(|p| CompiledPolicy::new(&format!("inline policy {}", i + 1), &p))
        })
        .collect();
    let d = Deployment {
        settings: settings.clone(),
        bucket_policy: CompiledPolicy::new("bucket policy", &bucket),
        key_policy: CompiledPolicy::new("key policy", &key_policy),
        kms_grants: live_kms_grants(live.grants),
        key_aliases: key_aliases.to_vec(),
        access_point: None,
    };
    let mut findings = Vec::new();
    for g in grants.iter().filter(|g| g.is_active(now)) {
        let mut actions = vec!["s3:GetObject"];
        if g.access_level.can_write() {
            actions.push("s3:PutObject");
        }
        for prefix in &g.allowed_prefixes {
            let key = format!("{prefix}warden-governance-probe");
            for action in &actions {
                let Ok(r) = path::check(&d, &roles, &acct, action, &key, now) else {
                    continue;
                };
                let s3_allows = r
                    .layers
                    .first()
                    .is_some_and(|l| l.decision == Decision::Allowed);
                if !s3_allows || r.decision == Decision::Allowed {
                    continue;
                }
                let op = r.denied_layer().map_or("kms", |l| l.action.as_str());
                let fix = path::advise(&r, registry, settings, &acct, action, &key, now)
                    .unwrap_or_default();
                findings.push(format!(
                    "S3 allows {action} on s3://{}/{prefix} but {op} on the key is not allowed, so every such request fails with AccessDenied: {fix}",
                    settings.bucket
                ));
            }
        }
    }
    if findings.is_empty() {
        return Vec::new();
    }
    vec![Drift {
        kind: "kms-decrypt",
        account_id: Some(account.to_owned()),
        detail: findings.join("; "),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::{AccountId, Timestamp};
    use serde_json::{Value, json};

    const READER: &str = "210000000000";
    const WRITER: &str = "220000000000";
    const EXTERNAL_ID: &str = "warden-analytics-7f3c9a";
    const VALIDATOR: &str = "arn:aws:iam::111111111111:role/warden-prod-access-validator";
    const ALIAS: &str = "alias/warden-prod-data";

    fn settings() -> RenderSettings {
        RenderSettings {
            partition: "aws".into(),
            region: "us-east-1".into(),
            primary_account: AccountId::parse("111111111111").unwrap(),
            bucket: "shared".into(),
            kms_key_arn: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
            consumer_role_name: "warden-consumer".into(),
            require_mfa: false,
            vending_role_arn: Some(VALIDATOR.into()),
        }
    }

    fn now() -> DateTime<Utc> {
        Timestamp::parse("2026-11-23T00:00:00Z").unwrap().0
    }

    fn registry() -> Registry {
        Registry::from_json(
            &json!({"consumer_accounts": [
                {"account_id": READER, "allowed_prefixes": ["analytics/", "shared/reference/"], "access_level": "read", "expiration_date": "2030-01-01T00:00:00Z"},
                {"account_id": WRITER, "allowed_prefixes": ["ml/"], "access_level": "read-write", "expiration_date": "2030-01-01T00:00:00Z"}
            ]})
            .to_string(),
            now(),
        )
        .unwrap()
    }

    fn expect() -> RoleExpectation {
        RoleExpectation {
            external_id: Some(EXTERNAL_ID.into()),
            permissions_boundary: None,
            key_aliases: vec![ALIAS.into()],
        }
    }

    /// The identity policy `consumer-role/main.tf` renders.
    fn terraform_policy(prefixes: &[&str], write: bool) -> Value {
        let mut actions: Vec<&str> = READ_OBJECT_ACTIONS.to_vec();
        let mut kms = vec!["kms:Decrypt", "kms:DescribeKey"];
        if write {
            actions.extend(WRITE_OBJECT_ACTIONS);
            kms.extend(["kms:GenerateDataKey", "kms:Encrypt"]);
        }
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "ObjectsUnderGrantedPrefixes", "Effect": "Allow", "Action": actions,
             "Resource": prefixes.iter().map(|p| format!("arn:aws:s3:::shared/{p}*")).collect::<Vec<_>>()},
            {"Sid": "ListGrantedPrefixes", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
             "Resource": "arn:aws:s3:::shared",
             "Condition": {"StringLike": {"s3:prefix": prefixes.iter().map(|p| format!("{p}*")).collect::<Vec<_>>()}}},
            {"Sid": "DataKeyViaS3", "Effect": "Allow", "Action": kms,
             "Resource": "arn:aws:kms:us-east-1:111111111111:key/*",
             "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": ALIAS},
                           "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}},
            {"Sid": "RequestCredentials", "Effect": "Allow", "Action": "execute-api:Invoke",
             "Resource": "arn:aws:execute-api:us-east-1:111111111111:*/*/POST/credentials"}
        ]})
    }

    /// The trust policy `consumer-role/main.tf` renders (MFA on).
    fn terraform_trust(account: &str) -> Value {
        let root = format!("arn:aws:iam::{account}:root");
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "ThisAccountsPrincipals", "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": root},
             "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}, "Bool": {"aws:MultiFactorAuthPresent": "true"}}},
            {"Sid": "WardenValidatorSessionTags", "Effect": "Allow", "Action": ["sts:TagSession", "sts:SetSourceIdentity"],
             "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
             "Condition": {"ArnEquals": {"aws:PrincipalArn": VALIDATOR},
                           "ForAllValues:StringEquals": {"aws:TagKeys": ["warden-account", "warden-prefix", "warden-level"]}}},
            {"Sid": "WardenCredentialVending", "Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
             "Condition": {"ArnEquals": {"aws:PrincipalArn": VALIDATOR}, "StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}
        ]})
    }

    fn facts(policies: &[Value], trust: &Value) -> RoleFacts {
        RoleFacts {
            exists: true,
            inline_policies: policies.iter().map(Value::to_string).collect(),
            attached_policies: vec![],
            trust_policy: Some(trust.to_string()),
            permissions_boundary: None,
        }
    }

    fn findings(account: &str, f: &RoleFacts) -> Vec<String> {
        role_findings(account, f, &expect(), &registry(), &settings(), now())
    }

    /// The reader's role as Terraform renders it, plus `extra` (a hand-made inline policy).
    fn reader_with(extra: Value) -> Vec<String> {
        let f = facts(
            &[
                terraform_policy(&["analytics/", "shared/reference/"], false),
                json!({"Version": "2012-10-17", "Statement": [extra]}),
            ],
            &terraform_trust(READER),
        );
        findings(READER, &f)
    }

    fn assert_reported(found: &[String], needles: &[&str]) {
        assert!(!found.is_empty(), "not reported");
        let all = found.join("\n");
        for n in needles {
            assert!(all.contains(n), "{n:?} missing from:\n{all}");
        }
    }

    #[test]
    fn roles_as_consumer_role_renders_them_have_no_drift() {
        let reader = facts(
            &[terraform_policy(
                &["analytics/", "shared/reference/"],
                false,
            )],
            &terraform_trust(READER),
        );
        assert_eq!(findings(READER, &reader), Vec::<String>::new());
        let writer = facts(
            &[terraform_policy(&["ml/"], true)],
            &terraform_trust(WRITER),
        );
        assert_eq!(findings(WRITER, &writer), Vec::<String>::new());
        assert!(role_drift(READER, &reader, &expect(), &registry(), &settings(), now()).is_empty());
        // warden-core's own trust render (the validator through the primary root, too).
        let rendered = render::trust_policy(
            &AccountId::parse(READER).unwrap(),
            &crate::grant::ExternalId::parse(EXTERNAL_ID).unwrap(),
            &settings(),
        )
        .unwrap()
        .policy
        .to_compact_json();
        let mut f = reader.clone();
        f.trust_policy = Some(rendered);
        assert_eq!(findings(READER, &f), Vec::<String>::new());
    }

    #[test]
    fn the_local_emulator_role_has_no_drift() {
        // warden_aws::local::consumer_policy and its trust (no validator statement).
        let policy = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": ["arn:aws:s3:::shared/analytics/*"]},
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::shared",
             "Condition": {"StringLike": {"s3:prefix": ["analytics/*"]}}}]});
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{READER}:root")}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}]});
        let mut s = settings();
        s.vending_role_arn = None;
        let f = facts(&[policy], &trust);
        assert_eq!(
            role_findings(READER, &f, &expect(), &registry(), &s, now()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_missing_role_and_managed_policies_are_reported() {
        let missing = RoleFacts::missing();
        assert_reported(&findings(READER, &missing), &["does not exist"]);
        let mut f = facts(
            &[terraform_policy(
                &["analytics/", "shared/reference/"],
                false,
            )],
            &terraform_trust(READER),
        );
        f.attached_policies = vec!["arn:aws:iam::aws:policy/AmazonS3FullAccess".into()];
        assert_reported(&findings(READER, &f), &["AmazonS3FullAccess"]);
    }

    #[test]
    fn attack_role_policy_widened_to_resource_star_is_reported() {
        let found =
            reader_with(json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}));
        assert_reported(
            &found,
            &[
                "allow s3:GetObject on arn:aws:s3:::shared/analytics-outside/warden-probe",
                "on arn:aws:s3:::shared-warden-probe/warden-probe",
                "allowed by inline policy 2 statement #0",
            ],
        );
    }

    #[test]
    fn attack_role_policy_widened_to_bucket_name_wildcard_is_reported() {
        let found = reader_with(
            json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared*"}),
        );
        assert_reported(
            &found,
            &[
                "s3:GetObject on arn:aws:s3:::shared/analytics-outside/warden-probe",
                "on arn:aws:s3:::shared-warden-probe/warden-probe",
            ],
        );
    }

    #[test]
    fn attack_role_policy_widened_to_every_bucket_is_reported() {
        let found = reader_with(
            json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/*"}),
        );
        assert_reported(
            &found,
            &[
                "s3:GetObject on arn:aws:s3:::warden-probe/warden-probe",
                "on arn:aws:s3:::shared/warden-probe,",
            ],
        );
    }

    #[test]
    fn attack_role_policy_widened_with_not_resource_is_reported() {
        let found = reader_with(json!({"Effect": "Allow", "Action": "s3:GetObject",
            "NotResource": "arn:aws:s3:::shared/analytics/*"}));
        assert_reported(
            &found,
            &[
                "s3:GetObject on arn:aws:s3:::shared/analytics-outside/warden-probe",
                "on arn:aws:s3:::shared/warden-probe-outside/warden-probe",
            ],
        );
    }

    #[test]
    fn attack_role_policy_writes_under_a_read_grant_are_reported() {
        let found = reader_with(
            json!({"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": "arn:aws:s3:::shared/analytics/*"}),
        );
        assert_reported(
            &found,
            &["s3:PutObject, s3:DeleteObject on arn:aws:s3:::shared/analytics/warden-probe"],
        );
        // The same statement is no drift for the read-write account on its own prefix.
        let f = facts(
            &[
                terraform_policy(&["ml/"], true),
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": "arn:aws:s3:::shared/ml/*"}]}),
            ],
            &terraform_trust(WRITER),
        );
        assert_eq!(findings(WRITER, &f), Vec::<String>::new());
    }

    #[test]
    fn attack_role_policy_list_bucket_without_prefix_condition_is_reported() {
        let found = reader_with(
            json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::shared"}),
        );
        assert_reported(
            &found,
            &[
                "s3:ListBucket on arn:aws:s3:::shared without s3:prefix",
                "on arn:aws:s3:::shared with s3:prefix \"\"",
            ],
        );
    }

    #[test]
    fn attack_role_policy_kms_statements_are_reported() {
        // Direct use of the data key (not via S3), and data-key generation under a read grant.
        let found = reader_with(
            json!({"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "arn:aws:kms:us-east-1:111111111111:key/k"}),
        );
        assert_reported(
            &found,
            &[
                "kms:Decrypt, kms:GenerateDataKey on arn:aws:kms:us-east-1:111111111111:key/k directly (not via S3)",
                "kms:GenerateDataKey on arn:aws:kms:us-east-1:111111111111:key/k via S3",
            ],
        );
        let any_key = reader_with(json!({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}));
        assert_reported(
            &any_key,
            &["kms:CreateGrant", "key/warden-probe-other-key via S3"],
        );
    }

    #[test]
    fn attack_role_policy_reaching_another_prefix_is_reported() {
        let found = reader_with(json!({"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::shared/finance/*"}));
        assert_reported(
            &found,
            &["s3:GetObject on arn:aws:s3:::shared/finance/warden-probe"],
        );
    }

    #[test]
    fn an_expired_grant_leaves_its_role_reaching_nothing() {
        let reg = Registry::from_json(&json!({"consumer_accounts": [{"account_id": READER, "allowed_prefixes": ["analytics/"], "access_level": "read", "expiration_date": "2026-01-01T00:00:00Z"}]}).to_string(), Timestamp::parse("2025-01-01T00:00:00Z").unwrap().0).unwrap();
        let f = facts(
            &[terraform_policy(&["analytics/"], false)],
            &terraform_trust(READER),
        );
        let found = role_findings(READER, &f, &expect(), &reg, &settings(), now());
        assert_reported(
            &found,
            &[
                "s3:GetObject, s3:GetObjectVersion, s3:GetObjectTagging, s3:GetObjectAttributes on arn:aws:s3:::shared/analytics/warden-probe",
                "the registry grants this account nothing",
                "kms:Decrypt, kms:DescribeKey on arn:aws:kms:us-east-1:111111111111:key/k via S3",
            ],
        );
    }

    fn with_trust(trust: Value) -> Vec<String> {
        let f = facts(
            &[terraform_policy(
                &["analytics/", "shared/reference/"],
                false,
            )],
            &trust,
        );
        findings(READER, &f)
    }

    #[test]
    fn attack_trust_policy_widened_to_star_is_reported() {
        let found = with_trust(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]}));
        assert_reported(
            &found,
            &[
                // Anonymous callers cannot call AssumeRole, so "*" shows as the accounts it admits.
                "admits principals beyond account 210000000000: arn:aws:iam::111111111111:root",
                "without sts:ExternalId",
            ],
        );
        // Principal {"AWS": "*"} with the external ID: still anyone who learns it.
        let found = with_trust(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}]}));
        assert_reported(&found, &["admits principals beyond account 210000000000"]);
    }

    #[test]
    fn attack_trust_policy_admitting_another_account_is_reported() {
        let mut trust = terraform_trust(READER);
        trust["Statement"].as_array_mut().unwrap().push(
            json!({"Sid": "Partner", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::333333333333:root"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}),
        );
        assert_reported(
            &with_trust(trust),
            &[
                "arn:aws:sts::333333333333:assumed-role/warden-probe",
                "\"Partner\" (#3)",
            ],
        );
    }

    #[test]
    fn attack_trust_policy_without_external_id_is_reported() {
        let mut trust = terraform_trust(READER);
        trust["Statement"][0]["Condition"] =
            json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}});
        assert_reported(
            &with_trust(trust),
            &["without sts:ExternalId (through statement \"ThisAccountsPrincipals\" (#0))"],
        );
        // StringEqualsIfExists passes when the caller sends no external ID at all.
        let mut trust = terraform_trust(READER);
        trust["Statement"][0]["Condition"] =
            json!({"StringEqualsIfExists": {"sts:ExternalId": EXTERNAL_ID}});
        assert_reported(&with_trust(trust), &["without sts:ExternalId"]);
        // Any external ID at all.
        let mut trust = terraform_trust(READER);
        trust["Statement"][0]["Condition"] = json!({"Null": {"sts:ExternalId": "false"}});
        assert_reported(&with_trust(trust), &["with any sts:ExternalId"]);
    }

    #[test]
    fn attack_trust_policy_validator_statement_widened_to_primary_account_is_reported() {
        let mut trust = terraform_trust(READER);
        trust["Statement"][2]["Condition"] =
            json!({"StringEquals": {"sts:ExternalId": EXTERNAL_ID}});
        assert_reported(
            &with_trust(trust),
            &[
                "arn:aws:iam::111111111111:root",
                "\"WardenCredentialVending\" (#2)",
            ],
        );
        // …or narrowed to a role other than the access-validator.
        let mut trust = terraform_trust(READER);
        trust["Statement"][2]["Condition"]["ArnEquals"]["aws:PrincipalArn"] =
            json!([VALIDATOR, "arn:aws:iam::111111111111:role/ops-admin"]);
        assert_reported(
            &with_trust(trust),
            &["arn:aws:sts::111111111111:assumed-role/ops-admin/warden-probe"],
        );
    }

    #[test]
    fn attack_trust_policy_admitting_a_federated_principal_is_reported() {
        let mut trust = terraform_trust(READER);
        trust["Statement"].as_array_mut().unwrap().push(json!({"Effect": "Allow",
            "Principal": {"Federated": "accounts.google.com"}, "Action": "sts:AssumeRoleWithWebIdentity"}));
        assert_reported(
            &with_trust(trust),
            &["Federated principal(s) accounts.google.com"],
        );
    }

    #[test]
    fn a_trust_that_locks_the_account_out_is_reported() {
        let mut trust = terraform_trust(READER);
        trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] = json!("rotated");
        assert_reported(&with_trust(trust), &["with the directory's external ID"]);
    }

    #[test]
    fn attack_permissions_boundary_changed_is_reported() {
        let mut f = facts(
            &[terraform_policy(
                &["analytics/", "shared/reference/"],
                false,
            )],
            &terraform_trust(READER),
        );
        f.permissions_boundary = Some("arn:aws:iam::210000000000:policy/anything".into());
        assert_reported(
            &findings(READER, &f),
            &["permissions boundary arn:aws:iam::210000000000:policy/anything is set"],
        );
        let mut e = expect();
        e.permissions_boundary = Some("arn:aws:iam::210000000000:policy/warden-boundary".into());
        f.permissions_boundary = None;
        let found = role_findings(READER, &f, &e, &registry(), &settings(), now());
        assert_reported(&found, &["warden-boundary is missing"]);
    }

    /// With every consumer on an access point: the rendered state has no drift; a hand-edited
    /// access point policy, a missing one, and a policy left on a revoked consumer's access
    /// point are each reported for that account.
    #[test]
    fn access_point_policies_are_diffed_per_consumer() {
        use crate::policy::access_point::{SharingMode, render_tiers};
        let s = settings();
        let reg = registry();
        let tiering = Tiering {
            mode: SharingMode::AccessPoints,
            name_prefix: "warden-prod".into(),
        };
        let t = render_tiers(
            &reg,
            &s,
            render::baseline_statements(&s),
            tiering.mode,
            &tiering.name_prefix,
            now(),
        )
        .unwrap();
        let bucket = t.bucket.policy.to_compact_json();
        let grants: Vec<LiveGrant> = t
            .kms
            .grants
            .iter()
            .map(|g| LiveGrant {
                grant_id: g.name.clone(),
                name: Some(g.name.clone()),
                grantee_principal: g.grantee_principal.clone(),
                operations: g.operations.clone(),
                encryption_context_subset: Some(g.encryption_context_subset.clone()),
                encryption_context_equals: None,
            })
            .collect();
        let mut live: BTreeMap<String, Option<String>> = t
            .access_points
            .values()
            .map(|a| (a.name.clone(), Some(a.doc.policy.to_compact_json())))
            .collect();
        let drift = |live: &BTreeMap<String, Option<String>>| {
            policy_drift(&reg, &s, &tiering, Some(&bucket), &grants, live, now()).unwrap()
        };
        assert_eq!(drift(&live), vec![]);
        let (first, doc) = live
            .iter()
            .next()
            .map(|(k, v)| (k.clone(), v.clone()))
            .unwrap();
        let account = first.trim_start_matches("warden-prod-").to_owned();
        live.insert(
            first.clone(),
            doc.map(|d| d.replace("/object/", "/object/x")),
        );
        let d = drift(&live);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(
            (d[0].kind, d[0].account_id.as_deref()),
            ("access-point", Some(account.as_str()))
        );
        assert!(
            d[0].detail.contains("PutAccessPointPolicy"),
            "{}",
            d[0].detail
        );
        live.remove(&first);
        let d = drift(&live);
        assert!(d[0].detail.contains("does not exist"), "{d:?}");
        live.insert(
            "warden-prod-999999999999".into(),
            Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into()),
        );
        let d = drift(&live);
        assert!(
            d.iter()
                .any(|x| x.account_id.as_deref() == Some("999999999999")
                    && x.detail.contains("no active grant")),
            "{d:?}"
        );
        // The same bucket policy judged as bucket-only is drift: the tiers are part of the render.
        let flat = policy_drift(
            &reg,
            &s,
            &Tiering::bucket_only(),
            Some(&bucket),
            &grants,
            &BTreeMap::new(),
            now(),
        )
        .unwrap();
        assert_eq!(flat[0].kind, "bucket-policy");
    }

    #[test]
    fn policy_in_step_has_no_drift_hand_edit_has() {
        let s = settings();
        let reg = registry();
        let p = render::bucket_policy(&reg, &s, now())
            .unwrap()
            .policy
            .to_compact_json();
        let grants: Vec<LiveGrant> = render::kms(&reg, &s, now())
            .unwrap()
            .grants
            .iter()
            .map(|g| LiveGrant {
                grant_id: "g1".into(),
                name: Some(g.name.clone()),
                grantee_principal: g.grantee_principal.clone(),
                operations: g.operations.clone(),
                encryption_context_subset: Some(g.encryption_context_subset.clone()),
                encryption_context_equals: None,
            })
            .collect();
        assert!(
            policy_drift(
                &reg,
                &s,
                &Tiering::bucket_only(),
                Some(&p),
                &grants,
                &BTreeMap::new(),
                now()
            )
            .unwrap()
            .is_empty()
        );
        let edited = p.replace("analytics/*", "*");
        let d = policy_drift(
            &reg,
            &s,
            &Tiering::bucket_only(),
            Some(&edited),
            &grants[1..],
            &BTreeMap::new(),
            now(),
        )
        .unwrap();
        assert_eq!(
            d.iter().map(|x| x.kind).collect::<Vec<_>>(),
            vec!["bucket-policy", "kms-grants"]
        );
    }

    /// The baseline as Terraform's aws_iam_policy_document writes it (shapes differ, meaning not).
    fn terraform_baseline() -> Value {
        let everyone = json!("*");
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": everyone, "Action": "s3:*",
             "Resource": ["arn:aws:s3:::shared/*", "arn:aws:s3:::shared"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "DenyUploadsWithoutSseKms", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["s3:PutObject"],
             "Resource": "arn:aws:s3:::shared/*",
             "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": ["aws:kms:dsse", "aws:kms"]}}},
            {"Sid": "DenyUploadsWithOtherKmsKey", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
             "Resource": "arn:aws:s3:::shared/*",
             "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:us-east-1:111111111111:key/k"}}},
            {"Sid": "DenyKmsUploadsWithoutKeyId", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
             "Resource": "arn:aws:s3:::shared/*",
             "Condition": {"StringEquals": {"s3:x-amz-server-side-encryption": ["aws:kms", "aws:kms:dsse"]},
                           "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "true"}}}
        ]})
    }

    #[test]
    fn the_terraform_baseline_matches_the_compiled_one() {
        assert_eq!(
            baseline_drift("/p", &terraform_baseline().to_string(), &settings()),
            vec![]
        );
        let compiled = Policy::new(render::baseline_statements(&settings())).to_compact_json();
        assert_eq!(baseline_drift("/p", &compiled, &settings()), vec![]);
    }

    #[test]
    fn attack_ssm_baseline_with_allow_for_another_account_is_reported() {
        let mut b = terraform_baseline();
        b["Statement"]
            .as_array_mut()
            .unwrap()
            .push(json!({"Sid": "Partner", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::333333333333:root"}, "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::shared/*"}));
        let d = baseline_drift(
            "/warden/prod/bucket-policy-baseline",
            &b.to_string(),
            &settings(),
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].kind, "baseline");
        assert!(
            d[0].detail.contains("\"Partner\" (#4)")
                && d[0].detail.contains("333333333333")
                && d[0]
                    .detail
                    .contains("not part of the baseline compiled into warden-core"),
            "{}",
            d[0].detail
        );
    }

    #[test]
    fn attack_ssm_baseline_weakened_is_reported() {
        // The key condition now also admits another key, and the TLS statement is gone.
        let mut b = terraform_baseline();
        b["Statement"][2]["Condition"]["StringNotEqualsIfExists"]["s3:x-amz-server-side-encryption-aws-kms-key-id"] =
            json!([
                "arn:aws:kms:us-east-1:111111111111:key/k",
                "arn:aws:kms:us-east-1:444444444444:key/theirs"
            ]);
        b["Statement"].as_array_mut().unwrap().remove(0);
        let d = baseline_drift("/p", &b.to_string(), &settings());
        let all: Vec<&str> = d.iter().map(|x| x.detail.as_str()).collect();
        assert_eq!(d.len(), 2, "{all:?}");
        assert!(
            all[0].contains("\"DenyUploadsWithOtherKmsKey\" (#1) of /p differs"),
            "{all:?}"
        );
        assert!(
            all[1].contains("DenyInsecureTransport is missing"),
            "{all:?}"
        );
        assert_eq!(baseline_drift("/p", "{", &settings())[0].kind, "baseline");
    }

    /// The live side of the KMS path as the reconciler and Terraform leave it: the rendered
    /// bucket policy, a key policy that names no consumer (so the grants decide), the grants.
    fn live_path(grants: &[LiveGrant]) -> (String, String, Vec<LiveGrant>) {
        let s = settings();
        let bucket = render::bucket_policy(&registry(), &s, now())
            .unwrap()
            .policy
            .to_compact_json();
        let key = Policy::new(vec![render::key_admin_statement(&s)]).to_compact_json();
        (bucket, key, grants.to_vec())
    }

    fn rendered_grants() -> Vec<LiveGrant> {
        render::kms_grants(&registry(), &settings(), now())
            .iter()
            .enumerate()
            .map(|(i, g)| LiveGrant {
                grant_id: format!("g{i}"),
                name: Some(g.name.clone()),
                grantee_principal: g.grantee_principal.clone(),
                operations: g.operations.clone(),
                encryption_context_subset: Some(g.encryption_context_subset.clone()),
                encryption_context_equals: None,
            })
            .collect()
    }

    fn decrypt(account: &str, write: bool, prefixes: &[&str], grants: &[LiveGrant]) -> Vec<Drift> {
        let (_, key, _) = live_path(grants);
        decrypt_with_key(account, write, prefixes, grants, &key)
    }

    fn decrypt_with_key(
        account: &str,
        write: bool,
        prefixes: &[&str],
        grants: &[LiveGrant],
        key_policy: &str,
    ) -> Vec<Drift> {
        let (bucket, _, grants) = live_path(grants);
        let role = terraform_policy(prefixes, write).to_string();
        decrypt_drift(
            account,
            &[role],
            LiveKeyPath {
                bucket_policy: Some(&bucket),
                key_policy,
                grants: &grants,
            },
            &[ALIAS.to_owned()],
            &registry(),
            &settings(),
            now(),
        )
    }

    #[test]
    fn consumers_with_their_kms_grants_decrypt_and_have_no_drift() {
        let grants = rendered_grants();
        assert_eq!(
            decrypt(READER, false, &["analytics/", "shared/reference/"], &grants),
            []
        );
        assert_eq!(decrypt(WRITER, true, &["ml/"], &grants), []);
    }

    #[test]
    fn a_consumer_that_reads_the_bucket_but_cannot_decrypt_is_drift() {
        let grants: Vec<LiveGrant> = rendered_grants()
            .into_iter()
            .filter(|g| !g.grantee_principal.contains(READER))
            .collect();
        let d = decrypt(READER, false, &["analytics/", "shared/reference/"], &grants);
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].kind, "kms-decrypt");
        assert_eq!(d[0].account_id.as_deref(), Some(READER));
        assert!(
            d[0].detail.starts_with(
                "S3 allows s3:GetObject on s3://shared/analytics/ but kms:Decrypt on the key is not allowed"
            ),
            "{}",
            d[0].detail
        );
        assert!(d[0].detail.contains("shared/reference/"));
        assert!(
            d[0].detail
                .contains("the KMS grant for 210000000000 is missing"),
            "{}",
            d[0].detail
        );
        // The writer keeps its grant: no finding for it.
        assert_eq!(decrypt(WRITER, true, &["ml/"], &grants), []);
    }

    #[test]
    fn attack_kms_grant_constrained_to_object_arns_or_another_bucket_is_drift() {
        // With Bucket Keys on, S3 sends the bucket ARN as the context: a grant constrained to
        // an object ARN, or to another bucket, lets nothing decrypt.
        for wrong in ["arn:aws:s3:::shared/analytics/x", "arn:aws:s3:::other"] {
            let grants: Vec<LiveGrant> = rendered_grants()
                .into_iter()
                .map(|mut g| {
                    if g.grantee_principal.contains(READER) {
                        g.encryption_context_subset =
                            Some([("aws:s3:arn".to_owned(), wrong.to_owned())].into());
                    }
                    g
                })
                .collect();
            let d = decrypt(READER, false, &["analytics/", "shared/reference/"], &grants);
            assert_eq!(d.len(), 1, "{wrong}: {d:#?}");
            assert_eq!(d[0].kind, "kms-decrypt");
        }
    }

    #[test]
    fn a_writer_whose_grant_lost_generate_data_key_cannot_upload_and_is_drift() {
        let grants: Vec<LiveGrant> = rendered_grants()
            .into_iter()
            .map(|mut g| {
                if g.grantee_principal.contains(WRITER) {
                    g.operations = vec!["Decrypt".into(), "DescribeKey".into()];
                }
                g
            })
            .collect();
        let d = decrypt(WRITER, true, &["ml/"], &grants);
        assert_eq!(d.len(), 1, "{d:#?}");
        assert!(
            d[0].detail
                .starts_with("S3 allows s3:PutObject on s3://shared/ml/ but kms:GenerateDataKey"),
            "{}",
            d[0].detail
        );
    }

    #[test]
    fn a_key_policy_that_does_not_parse_is_reported() {
        let grants = rendered_grants();
        assert_eq!(decrypt(WRITER, true, &["ml/"], &grants), []);
        // A key policy that does not parse is reported, not read as "no access".
        let d = decrypt_with_key(WRITER, true, &["ml/"], &grants, "{not json");
        assert_eq!(d.len(), 1);
        assert!(
            d[0].detail
                .starts_with("the live key policy does not parse")
        );
    }

    #[test]
    fn clip_never_splits_a_character() {
        assert_eq!(clip("ééé", 2), "éé…");
        assert_eq!(clip("ab", 5), "ab");
    }
}

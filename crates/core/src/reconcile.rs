//! Reconciliation: what the policy-reconciler must change so that the bucket policy and the KMS
//! grants equal the render of the registry. Pure planning; the Lambda applies the plan through
//! its ports. Idempotent: a second run over an applied plan plans nothing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::grant::Registry;
use crate::policy::model::{Effect, Policy, Principal, Statement};
use crate::policy::render::{self, KmsGrantSpec, RenderError, RenderSettings};

/// A KMS grant as it exists on the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveGrant {
    /// KMS grant ID (needed to retire it).
    pub grant_id: String,
    /// Grant name (Warden names its grants `warden-<account>-<level>`).
    pub name: Option<String>,
    /// Grantee principal.
    pub grantee_principal: String,
    /// Operations, as KMS reports them.
    pub operations: Vec<String>,
}

/// What to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The new bucket policy, when it differs from the live one.
    pub bucket_policy: Option<String>,
    /// Size of the rendered bucket policy in bytes.
    pub bucket_policy_size: usize,
    /// KMS grants to create.
    pub create_grants: Vec<KmsGrantSpec>,
    /// KMS grants to retire (Warden-named grants no longer in the registry, or changed).
    pub retire_grants: Vec<LiveGrant>,
}

impl Plan {
    /// Whether nothing needs to change.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bucket_policy.is_none()
            && self.create_grants.is_empty()
            && self.retire_grants.is_empty()
    }
}

/// Prefix of every KMS grant name Warden owns; grants with other names are never touched.
pub const GRANT_NAME_PREFIX: &str = "warden-";

/// Canonical form of a policy document for comparison (key order and shapes normalised).
fn canonical(text: &str) -> Option<String> {
    Policy::parse(text).ok().map(|p| {
        let mut v = p.to_value();
        sort_value(&mut v);
        v.to_string()
    })
}

fn sort_value(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            let mut entries: Vec<(String, serde_json::Value)> =
                std::mem::take(m).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, mut val) in entries {
                sort_value(&mut val);
                m.insert(k, val);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(sort_value),
        _ => {}
    }
}

/// Whether two policy documents say the same thing (ignoring key order and formatting).
#[must_use]
pub fn same_policy(a: &str, b: &str) -> bool {
    match (canonical(a), canonical(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// One baseline statement the reconciler refuses, and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaselineViolation {
    /// The statement (`"Sid" (#index)`, `#index`, or the missing Sid).
    pub statement: String,
    /// The rule.
    pub rule: String,
}

impl std::fmt::Display for BaselineViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "statement {}: {}", self.statement, self.rule)
    }
}

/// The baseline handed to the reconciler is not the known baseline: nothing may be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct BaselineRejected {
    /// Every violation found.
    pub violations: Vec<BaselineViolation>,
}

/// Rule: Deny only.
pub const RULE_DENY: &str =
    "a baseline statement must have Effect Deny (grants come from the registry only)";
/// Rule: every principal.
pub const RULE_EVERYONE: &str =
    "a baseline statement must apply to every principal: Principal \"*\" and no NotPrincipal";
/// Rule: each known statement once.
pub const RULE_ONCE: &str = "each baseline statement may appear only once";
/// Rule: none missing.
pub const RULE_PRESENT: &str =
    "this baseline statement is missing; without it the bucket policy would be weaker";

/// Sids of the baseline statements Terraform owns (`terraform/data-sharing/s3-bucket-policy.tf`,
/// the same statements as [`render::baseline_statements`]): the only statements the reconciler
/// accepts from the baseline parameter.
#[must_use]
pub fn baseline_sids(settings: &RenderSettings) -> Vec<String> {
    render::baseline_statements(settings)
        .into_iter()
        .filter_map(|st| st.sid)
        .collect()
}

fn everyone(p: Option<&Principal>) -> bool {
    match p {
        Some(Principal::Any) => true,
        Some(Principal::Map(m)) => {
            m.len() == 1
                && m.get("AWS")
                    .is_some_and(|v| !v.items.is_empty() && v.items.iter().all(|s| s == "*"))
        }
        None => false,
    }
}

/// Accept the baseline statements only if they are the known baseline Deny statements
/// ([`baseline_sids`], each once, `Effect: Deny`, `Principal: "*"`). A Deny for everyone can
/// only take access away; anything else (an `Allow` for another account, a statement with
/// another Sid, a Deny narrowed to some principals) would be applied to the shared bucket
/// without the registry knowing, so it is refused — as is a baseline missing one of its
/// statements, which would weaken the policy silently.
///
/// # Errors
/// [`BaselineRejected`] listing every statement refused and the rule it breaks.
pub fn accept_baseline(
    statements: &[Statement],
    settings: &RenderSettings,
) -> Result<(), BaselineRejected> {
    let known = baseline_sids(settings);
    let known_rule = format!(
        "only the baseline Deny statements {} are accepted",
        known.join(", ")
    );
    let mut violations = Vec::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for (i, st) in statements.iter().enumerate() {
        let label = st.label(i);
        let mut refuse = |rule: &str| {
            violations.push(BaselineViolation {
                statement: label.clone(),
                rule: rule.to_owned(),
            });
        };
        match st.sid.as_deref() {
            Some(sid) if known.iter().any(|k| k == sid) => {
                if !seen.insert(sid) {
                    refuse(RULE_ONCE);
                }
            }
            _ => refuse(&known_rule),
        }
        if st.effect != Effect::Deny {
            refuse(RULE_DENY);
        }
        if !everyone(st.principal.as_ref()) || st.not_principal.is_some() {
            refuse(RULE_EVERYONE);
        }
    }
    for sid in &known {
        if !seen.contains(sid.as_str()) {
            violations.push(BaselineViolation {
                statement: format!("{sid:?}"),
                rule: RULE_PRESENT.to_owned(),
            });
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(BaselineRejected { violations })
    }
}

fn sorted<I: IntoIterator<Item = String>>(items: I) -> Vec<String> {
    let mut v: Vec<String> = items.into_iter().collect();
    v.sort();
    v.dedup();
    v
}

fn normal_principal(p: &Principal) -> serde_json::Value {
    match p {
        Principal::Any => serde_json::json!({"AWS": ["*"]}),
        Principal::Map(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), serde_json::json!(sorted(v.items.clone()))))
                .collect(),
        ),
    }
}

/// A statement in a canonical form that compares by meaning: lists as sorted sets, a single
/// value equal to a one-element list, `"*"` equal to `{"AWS": "*"}`, actions and condition keys
/// case-insensitive (as IAM treats them).
#[must_use]
pub fn normal_statement(st: &Statement) -> serde_json::Value {
    let list = |l: &Option<crate::policy::model::StrList>, lower: bool| {
        l.as_ref().map(|l| {
            sorted(l.items.iter().map(|s| {
                if lower {
                    s.to_ascii_lowercase()
                } else {
                    s.clone()
                }
            }))
        })
    };
    let condition: Option<BTreeMap<String, BTreeMap<String, Vec<String>>>> =
        st.condition.as_ref().map(|c| {
            c.iter()
                .map(|(op, keys)| {
                    (
                        op.clone(),
                        keys.iter()
                            .map(|(k, v)| {
                                (
                                    k.to_ascii_lowercase(),
                                    sorted(v.items.iter().map(|x| x.as_text())),
                                )
                            })
                            .collect(),
                    )
                })
                .collect()
        });
    serde_json::json!({
        "Sid": st.sid,
        "Effect": st.effect.as_str(),
        "Principal": st.principal.as_ref().map(normal_principal),
        "NotPrincipal": st.not_principal.as_ref().map(normal_principal),
        "Action": list(&st.action, true),
        "NotAction": list(&st.not_action, true),
        "Resource": list(&st.resource, false),
        "NotResource": list(&st.not_resource, false),
        "Condition": condition,
    })
}

/// Plan the changes.
///
/// # Errors
/// The rendered policy would exceed an AWS size limit; nothing must be applied.
pub fn plan(
    registry: &Registry,
    settings: &RenderSettings,
    baseline: Vec<Statement>,
    live_policy: Option<&str>,
    live_grants: &[LiveGrant],
    now: DateTime<Utc>,
) -> Result<Plan, RenderError> {
    let rendered = render::bucket_policy_with_baseline(registry, settings, baseline, now)?;
    let json = rendered.policy.to_compact_json();
    let bucket_policy = match live_policy {
        Some(live) if same_policy(live, &json) => None,
        _ => Some(json),
    };
    let desired = render::kms(registry, settings, now)?.grants;
    let ours: Vec<&LiveGrant> = live_grants
        .iter()
        .filter(|g| {
            g.name
                .as_deref()
                .is_some_and(|n| n.starts_with(GRANT_NAME_PREFIX))
        })
        .collect();
    let matches = |d: &KmsGrantSpec, g: &LiveGrant| {
        g.name.as_deref() == Some(d.name.as_str())
            && g.grantee_principal == d.grantee_principal
            && g.operations.iter().collect::<BTreeSet<_>>()
                == d.operations.iter().collect::<BTreeSet<_>>()
    };
    let create_grants = desired
        .iter()
        .filter(|d| !ours.iter().any(|g| matches(d, g)))
        .cloned()
        .collect();
    let retire_grants = ours
        .into_iter()
        .filter(|g| !desired.iter().any(|d| matches(d, g)))
        .cloned()
        .collect();
    Ok(Plan {
        bucket_policy,
        bucket_policy_size: rendered.size,
        create_grants,
        retire_grants,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::{AccountId, Grant, GrantInput, Timestamp};

    fn settings() -> RenderSettings {
        RenderSettings {
            partition: "aws".into(),
            region: "us-east-1".into(),
            primary_account: AccountId::parse("111111111111").unwrap(),
            bucket: "shared".into(),
            kms_key_arn: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
            consumer_role_name: "warden-consumer".into(),
            require_mfa: false,
            vending_role_arn: None,
        }
    }

    fn registry(accounts: &[&str]) -> Registry {
        let now = Timestamp::parse("2026-11-22T00:00:00Z").unwrap().0;
        Registry::new(
            accounts
                .iter()
                .map(|a| {
                    Grant::from_input(
                        &GrantInput {
                            account_id: (*a).into(),
                            name: None,
                            allowed_prefixes: vec!["data/".into()],
                            access_level: "read".into(),
                            expiration_date: "2027-01-01T00:00:00Z".into(),
                            owner_email: None,
                            external_id: None,
                            created_by: None,
                            created_at: None,
                        },
                        now,
                    )
                    .unwrap()
                })
                .collect(),
        )
        .unwrap()
    }

    fn live(spec: &KmsGrantSpec, id: &str) -> LiveGrant {
        LiveGrant {
            grant_id: id.into(),
            name: Some(spec.name.clone()),
            grantee_principal: spec.grantee_principal.clone(),
            operations: spec.operations.clone(),
        }
    }

    #[test]
    fn first_run_creates_everything_second_run_nothing() {
        let now = Timestamp::parse("2026-11-22T00:00:00Z").unwrap().0;
        let s = settings();
        let reg = registry(&["222222222222", "333333333333"]);
        let p = plan(&reg, &s, render::baseline_statements(&s), None, &[], now).unwrap();
        assert!(p.bucket_policy.is_some());
        assert_eq!(p.create_grants.len(), 2);
        let live: Vec<LiveGrant> = p
            .create_grants
            .iter()
            .enumerate()
            .map(|(i, g)| live(g, &format!("g{i}")))
            .collect();
        let again = plan(
            &reg,
            &s,
            render::baseline_statements(&s),
            p.bucket_policy.as_deref(),
            &live,
            now,
        )
        .unwrap();
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn removed_accounts_are_retired_foreign_grants_untouched() {
        let now = Timestamp::parse("2026-11-22T00:00:00Z").unwrap().0;
        let s = settings();
        let before = plan(
            &registry(&["222222222222", "333333333333"]),
            &s,
            render::baseline_statements(&s),
            None,
            &[],
            now,
        )
        .unwrap();
        let mut live: Vec<LiveGrant> = before
            .create_grants
            .iter()
            .enumerate()
            .map(|(i, g)| live(g, &format!("g{i}")))
            .collect();
        live.push(LiveGrant {
            grant_id: "other".into(),
            name: Some("backup-tool".into()),
            grantee_principal: "x".into(),
            operations: vec![],
        });
        let after = plan(
            &registry(&["222222222222"]),
            &s,
            render::baseline_statements(&s),
            before.bucket_policy.as_deref(),
            &live,
            now,
        )
        .unwrap();
        assert!(after.bucket_policy.is_some());
        assert!(after.create_grants.is_empty());
        assert_eq!(after.retire_grants.len(), 1);
        assert!(
            after.retire_grants[0]
                .name
                .as_deref()
                .unwrap()
                .contains("333333333333")
        );
    }

    fn baseline_with(extra: &str) -> Vec<Statement> {
        let mut statements = render::baseline_statements(&settings());
        statements.extend(Policy::parse(extra).unwrap().statements);
        statements
    }

    #[test]
    fn the_compiled_baseline_is_accepted() {
        let s = settings();
        assert_eq!(
            accept_baseline(&render::baseline_statements(&s), &s),
            Ok(())
        );
        assert!(baseline_sids(&s).contains(&"DenyInsecureTransport".to_owned()));
    }

    #[test]
    fn attack_baseline_allow_for_another_account_is_refused() {
        let s = settings();
        let statements = baseline_with(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"PartnerRead","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444444444444:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}"#,
        );
        let e = accept_baseline(&statements, &s).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("statement \"PartnerRead\" (#4): only the baseline Deny statements DenyInsecureTransport"),
            "{text}"
        );
        assert!(
            text.contains(RULE_DENY) && text.contains(RULE_EVERYONE),
            "{text}"
        );
        assert_eq!(e.violations.len(), 3);
    }

    #[test]
    fn attack_baseline_statement_disguised_with_a_known_sid_is_refused() {
        // A known Sid on an Allow, and a known Sid repeated on a Deny narrowed to one principal.
        let s = settings();
        let mut statements = render::baseline_statements(&s);
        statements[0].effect = Effect::Allow;
        let mut narrowed = render::baseline_statements(&s)[1].clone();
        narrowed.principal = Some(Principal::aws(["arn:aws:iam::444444444444:root"]));
        statements.push(narrowed);
        let e = accept_baseline(&statements, &s).unwrap_err();
        let rules: Vec<&str> = e.violations.iter().map(|v| v.rule.as_str()).collect();
        assert_eq!(rules, vec![RULE_DENY, RULE_ONCE, RULE_EVERYONE], "{e}");
        assert_eq!(e.violations[0].statement, "\"DenyInsecureTransport\" (#0)");
    }

    #[test]
    fn attack_baseline_statement_removed_is_refused() {
        let s = settings();
        let statements: Vec<Statement> = render::baseline_statements(&s)
            .into_iter()
            .filter(|st| st.sid.as_deref() != Some("DenyInsecureTransport"))
            .collect();
        let e = accept_baseline(&statements, &s).unwrap_err();
        assert_eq!(e.violations.len(), 1);
        assert_eq!(e.violations[0].statement, "\"DenyInsecureTransport\"");
        assert_eq!(e.violations[0].rule, RULE_PRESENT);
    }

    #[test]
    fn statements_compare_by_meaning() {
        let a = Policy::parse(r#"{"Statement":{"Sid":"X","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":["arn:aws:s3:::b/*","arn:aws:s3:::b"],"Condition":{"StringNotEquals":{"S3:x":["2","1"]}}}}"#).unwrap();
        let b = Policy::parse(r#"{"Statement":[{"Sid":"X","Effect":"Deny","Principal":{"AWS":["*"]},"Action":["S3:PutObject"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"StringNotEquals":{"s3:x":["1","2"]}}}]}"#).unwrap();
        assert_eq!(
            normal_statement(&a.statements[0]),
            normal_statement(&b.statements[0])
        );
        let mut c = b.statements[0].clone();
        c.resource = Some(crate::policy::model::StrList::of(["arn:aws:s3:::b/*"]));
        assert_ne!(normal_statement(&a.statements[0]), normal_statement(&c));
    }

    #[test]
    fn policies_compare_by_meaning() {
        let a = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let b = r#"{ "Statement": [ { "Resource": "*", "Action": "s3:GetObject", "Effect": "Allow" } ], "Version": "2012-10-17" }"#;
        assert!(same_policy(a, b));
        assert!(!same_policy(a, &a.replace("GetObject", "PutObject")));
    }
}

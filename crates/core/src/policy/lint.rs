//! The policy linter: spec 002's security constraints as rules.
//!
//! | rule | what it flags |
//! |---|---|
//! | `wildcard-resource` | an `Allow` on `Resource: "*"` (or `NotResource`) for any action that is not read-only |
//! | `audit-role-write` | in an audit role's policy, an action that can modify (`Put*`, `Create*`, `Delete*`, `Update*`, `Attach*`, …) |
//! | `trust-without-mfa` | a trust policy letting human principals (accounts, users, `*`) assume the role without MFA, where MFA is required |
//! | `public-principal` | an `Allow` to `Principal: "*"` without a condition that restricts who can use it |
//! | `invalid-policy` | a document AWS would reject |

use serde::Serialize;

use super::glob;
use super::model::{Effect, Policy, PolicyKind, Principal, Statement};

/// Verbs of read-only actions.
pub const READ_ONLY_VERBS: [&str; 11] = [
    "Get", "List", "Describe", "Head", "View", "Search", "Lookup", "BatchGet", "Query", "Scan",
    "Filter",
];

/// Verbs of actions that change something (the audit role may have none of them).
pub const WRITE_VERBS: [&str; 42] = [
    "Put",
    "Create",
    "Delete",
    "Update",
    "Attach",
    "Detach",
    "Modify",
    "Remove",
    "Add",
    "Set",
    "Tag",
    "Untag",
    "Write",
    "Start",
    "Stop",
    "Terminate",
    "Run",
    "Invoke",
    "Enable",
    "Disable",
    "Replace",
    "Restore",
    "Reset",
    "Change",
    "Upload",
    "Associate",
    "Disassociate",
    "Register",
    "Deregister",
    "Revoke",
    "Authorize",
    "Cancel",
    "Send",
    "Publish",
    "Import",
    "Export",
    "Copy",
    "Execute",
    "Pass",
    "Schedule",
    "Retire",
    "Rotate",
];

/// Actions that support no resource-level permissions: AWS requires `Resource: "*"` for them
/// (IAM Service Authorization Reference). The `wildcard-resource` rule accepts exactly these.
pub const AWS_REQUIRES_WILDCARD: [&str; 16] = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "cloudwatch:PutMetricData",
    "sts:GetCallerIdentity",
    // Task-token callbacks act on the token, not on a state machine ARN.
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "states:SendTaskHeartbeat",
    // Lists the access points of an account (optionally of one bucket): no resource type.
    "s3:ListAccessPoints",
];

/// Condition keys that narrow a public principal to a known caller.
const RESTRICTING_KEYS: [&str; 14] = [
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceowner",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceip",
    "aws:userid",
    "aws:principalservicename",
    "kms:calleraccount",
    "aws:sourceorgid",
];

/// What the linted document is, and which optional rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LintOptions {
    /// The policy belongs to a security-audit role (no modification rights allowed).
    pub audit_role: bool,
    /// Trust policies must require MFA for human principals.
    pub require_mfa: bool,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Rule name (stable; see the module docs).
    pub rule: &'static str,
    /// The statement (`"Sid" (#i)` or `#i`), or `policy`.
    pub statement: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// Whether `s` starts with the ASCII `prefix`, ignoring case. Compares bytes: slicing a `&str` at a
/// byte offset panics inside a multi-byte character (`s3:ABé`), and policies are untrusted input.
fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.as_bytes()
        .get(..prefix.len())
        .is_some_and(|b| b.eq_ignore_ascii_case(prefix.as_bytes()))
}

fn verb(action: &str) -> &str {
    action.split_once(':').map_or(action, |(_, v)| v)
}

/// Literal part of a pattern before its first wildcard.
fn literal_prefix(s: &str) -> &str {
    s.find(['*', '?']).map_or(s, |i| &s[..i])
}

/// Whether an action pattern can only match read-only actions.
#[must_use]
pub fn is_read_only(action: &str) -> bool {
    if !action.contains(':') {
        return false;
    }
    let v = verb(action);
    if literal_prefix(action).len() <= action.find(':').unwrap_or(0) {
        // The wildcard is in the service part: could be anything.
        return false;
    }
    let lit = literal_prefix(v);
    let has_wild = lit.len() < v.len();
    READ_ONLY_VERBS.iter().any(|r| {
        if has_wild {
            starts_with_ci(lit, r)
        } else {
            starts_with_ci(v, r)
                && v.as_bytes()
                    .get(r.len())
                    .is_some_and(u8::is_ascii_uppercase)
                || v.eq_ignore_ascii_case(r)
        }
    })
}

/// Whether an action pattern can match an action that modifies something.
#[must_use]
pub fn can_write(action: &str) -> bool {
    if action == "*" || !action.contains(':') {
        return true;
    }
    let v = verb(action);
    let lit = literal_prefix(v);
    let has_wild =
        lit.len() < v.len() || literal_prefix(action).len() <= action.find(':').unwrap_or(0);
    if has_wild && lit.is_empty() {
        return true;
    }
    WRITE_VERBS.iter().any(|w| {
        let n = w.len().min(lit.len());
        if has_wild {
            // `P*` could be `Put…`; `PutBucket*` is `Put…`.
            lit.as_bytes()[..n].eq_ignore_ascii_case(&w.as_bytes()[..n])
        } else {
            starts_with_ci(v, w)
        }
    })
}

fn has_condition_key(st: &Statement, keys: &[&str]) -> bool {
    st.condition.as_ref().is_some_and(|c| {
        c.values()
            .flat_map(|m| m.keys())
            .any(|k| keys.contains(&k.to_ascii_lowercase().as_str()))
    })
}

fn requires_mfa(st: &Statement) -> bool {
    st.condition.as_ref().is_some_and(|c| {
        c.iter().any(|(op, keys)| {
            keys.iter().any(|(k, v)| {
                let k = k.to_ascii_lowercase();
                (k == "aws:multifactorauthpresent"
                    && (op == "Bool" || op == "BoolIfExists")
                    && v.items
                        .iter()
                        .all(|x| x.as_text().eq_ignore_ascii_case("true")))
                    || (k == "aws:multifactorauthage" && op.starts_with("NumericLessThan"))
            })
        })
    })
}

fn human_principals(p: &Principal) -> Vec<String> {
    match p {
        Principal::Any => vec!["*".into()],
        Principal::Map(m) => m
            .get("AWS")
            .map(|v| {
                v.items
                    .iter()
                    .filter(|a| !a.contains(":role/") && !a.contains(":assumed-role/"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Lint one policy.
#[must_use]
pub fn lint(policy: &Policy, opts: &LintOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    let kind = if policy
        .statements
        .iter()
        .any(|s| s.principal.is_some() || s.not_principal.is_some())
    {
        if policy
            .statements
            .iter()
            .all(|s| s.resource.is_none() && s.not_resource.is_none())
        {
            PolicyKind::Trust
        } else {
            PolicyKind::Resource
        }
    } else {
        PolicyKind::Identity
    };
    if let Err(e) = policy.validate(kind) {
        out.push(Finding {
            rule: "invalid-policy",
            statement: "policy".into(),
            message: e.to_string(),
        });
    }
    for (i, st) in policy.statements.iter().enumerate() {
        if st.effect != Effect::Allow {
            continue;
        }
        let label = st.label(i);
        let actions: &[String] = st.action.as_ref().map_or(&[], |a| &a.items);
        let wildcard_resource = st.not_resource.is_some()
            || st
                .resource
                .as_ref()
                .is_some_and(|r| r.items.iter().any(|x| x == "*"));
        if kind != PolicyKind::Trust && wildcard_resource {
            let writes: Vec<&str> = if st.not_action.is_some() {
                vec!["NotAction (everything else)"]
            } else {
                actions
                    .iter()
                    .filter(|a| {
                        !is_read_only(a)
                            && !AWS_REQUIRES_WILDCARD
                                .iter()
                                .any(|w| w.eq_ignore_ascii_case(a))
                    })
                    .map(String::as_str)
                    .collect()
            };
            // Key policies use "*" to mean "this key": only flag them when a principal is public.
            let key_policy_self = kind == PolicyKind::Resource
                && actions
                    .iter()
                    .all(|a| a.to_ascii_lowercase().starts_with("kms:"))
                && !st.principal.as_ref().is_some_and(Principal::is_public);
            if !writes.is_empty() && !key_policy_self {
                out.push(Finding {
                    rule: "wildcard-resource",
                    statement: label.clone(),
                    message: format!(
                        "Resource \"*\" is only allowed for read-only actions; scope {} to specific ARNs",
                        writes.join(", ")
                    ),
                });
            }
        }
        // An audit role's permissions are identity policies; resource policies are out of scope.
        if opts.audit_role && kind == PolicyKind::Identity {
            let writes: Vec<&str> = if st.not_action.is_some() {
                vec!["NotAction (everything else)"]
            } else {
                actions
                    .iter()
                    .filter(|a| can_write(a))
                    .map(String::as_str)
                    .collect()
            };
            if !writes.is_empty() {
                out.push(Finding {
                    rule: "audit-role-write",
                    statement: label.clone(),
                    message: format!(
                        "an audit role must not modify anything; remove {}",
                        writes.join(", ")
                    ),
                });
            }
        }
        let assumes = actions.iter().any(|a| {
            let t = glob::compile(a);
            glob::matches(&t, "sts:AssumeRole", true)
        });
        if kind == PolicyKind::Trust && assumes && opts.require_mfa {
            let humans = st
                .principal
                .as_ref()
                .map(human_principals)
                .unwrap_or_default();
            if !humans.is_empty() && !requires_mfa(st) {
                out.push(Finding {
                    rule: "trust-without-mfa",
                    statement: label.clone(),
                    message: format!(
                        "{} may assume this role without MFA; add \"Bool\": {{\"aws:MultiFactorAuthPresent\": \"true\"}} (and a NumericLessThan aws:MultiFactorAuthAge)",
                        humans.join(", ")
                    ),
                });
            }
        }
        if st.principal.as_ref().is_some_and(Principal::is_public)
            && !has_condition_key(st, &RESTRICTING_KEYS)
        {
            out.push(Finding {
                rule: "public-principal",
                statement: label,
                message: "Principal \"*\" without a condition on aws:SourceAccount, aws:SourceArn, aws:PrincipalOrgID, aws:SourceVpce or similar makes this public".into(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str, opts: LintOptions) -> Vec<&'static str> {
        lint(&Policy::parse(json).unwrap(), &opts)
            .into_iter()
            .map(|f| f.rule)
            .collect()
    }

    #[test]
    fn read_only_and_write_classification() {
        for a in [
            "s3:GetObject",
            "s3:List*",
            "ec2:Describe*",
            "s3:Get*",
            "iam:GetRole",
            "dynamodb:Query",
        ] {
            assert!(is_read_only(a), "{a}");
        }
        for a in [
            "*",
            "s3:*",
            "s3:PutObject",
            "s3:G*",
            "iam:*Role",
            "s*:GetObject",
            "s3:Getaway",
        ] {
            assert!(!is_read_only(a), "{a}");
        }
        for a in [
            "*",
            "s3:*",
            "iam:P*",
            "s3:PutObject",
            "iam:CreateRole",
            "iam:AttachRolePolicy",
        ] {
            assert!(can_write(a), "{a}");
        }
        for a in ["s3:GetObject", "ec2:Describe*", "iam:List*"] {
            assert!(!can_write(a), "{a}");
        }
    }

    #[test]
    fn wildcard_resource_rule() {
        let bad = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"*"}}"#;
        assert_eq!(
            rules(bad, LintOptions::default()),
            vec!["wildcard-resource"]
        );
        let ok = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:List*","ec2:Describe*","logs:CreateLogDelivery"],"Resource":"*"}}"#;
        assert!(rules(ok, LintOptions::default()).is_empty());
        let deny =
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#;
        assert!(rules(deny, LintOptions::default()).is_empty());
    }

    #[test]
    fn audit_role_rule() {
        let p = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:Get*","iam:UpdateRole"],"Resource":"arn:aws:iam::111122223333:role/x"}}"#;
        assert_eq!(
            rules(
                p,
                LintOptions {
                    audit_role: true,
                    ..Default::default()
                }
            ),
            vec!["audit-role-write"]
        );
        assert!(rules(p, LintOptions::default()).is_empty());
    }

    #[test]
    fn trust_mfa_rule() {
        let no_mfa = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}}"#;
        let opts = LintOptions {
            require_mfa: true,
            ..Default::default()
        };
        assert_eq!(rules(no_mfa, opts), vec!["trust-without-mfa"]);
        let mfa = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}"#;
        assert!(rules(mfa, opts).is_empty());
        let service = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
        assert!(rules(service, opts).is_empty());
    }

    #[test]
    fn public_principal_rule() {
        let public = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
        assert_eq!(
            rules(public, LintOptions::default()),
            vec!["public-principal"]
        );
        let scoped = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-123"}}}}"#;
        assert!(rules(scoped, LintOptions::default()).is_empty());
    }

    #[test]
    fn invalid_policy_is_a_finding() {
        let p = r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
        assert_eq!(rules(p, LintOptions::default()), vec!["invalid-policy"]);
    }
}

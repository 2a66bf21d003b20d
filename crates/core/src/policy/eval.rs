//! AWS's policy evaluation logic.
//!
//! Order, as documented in "Policy evaluation logic" of the IAM user guide:
//! 1. an explicit `Deny` in any applicable policy (SCP, RCP, resource, identity, boundary,
//!    session) decides `ExplicitlyDenied`;
//! 2. every organization level of SCPs and of RCPs must have an `Allow`;
//! 3. a resource-based policy allows: same account, when it names the principal directly (user or
//!    session ARN, `*`) the request is allowed even without an identity policy, and neither the
//!    boundary nor the session policy limits it; when it names the role, it still counts but both
//!    limit it; when it names the account, it delegates to identity policies;
//! 4. cross-account, both the identity policies and the resource policy must allow;
//! 5. a permission boundary and a session policy, when present, must also allow.
//!
//! Anything not allowed is `ImplicitlyDenied`.

use serde::Serialize;

use super::condition::{Condition, Context, expand};
use super::glob::{self, Tok};
use super::model::{Effect, Policy, Principal};

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Decision {
    /// Some policy allows and nothing denies.
    Allowed,
    /// A `Deny` statement matched.
    ExplicitlyDenied,
    /// Nothing allowed (the default).
    ImplicitlyDenied,
}

/// A decision with the statements and rules that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvalResult {
    /// The decision.
    pub decision: Decision,
    /// One line per deciding statement or rule.
    pub explanation: Vec<String>,
}

/// A resource pattern compiled once. `literal` is the text before the first wildcard or variable:
/// most statements of a large bucket policy are rejected by that prefix alone.
#[derive(Debug, Clone)]
struct Pattern {
    raw: String,
    literal: String,
    exact: bool,
    toks: Option<Vec<Tok>>,
}

impl Pattern {
    fn new(raw: &str) -> Self {
        let cut = raw.find(['*', '?', '$']).unwrap_or(raw.len());
        Pattern {
            raw: raw.to_owned(),
            literal: raw[..cut].to_owned(),
            exact: cut == raw.len(),
            toks: (!raw.contains("${")).then(|| glob::compile(raw)),
        }
    }
    fn matches_arn(&self, arn: &str, ctx: &Context) -> bool {
        if self.exact {
            return arn == self.raw;
        }
        if !arn.starts_with(&self.literal) {
            return false;
        }
        match &self.toks {
            Some(t) => glob::matches_arn(t, arn),
            None => expand(&self.raw, ctx, true).is_some_and(|t| glob::matches_arn(&t, arn)),
        }
    }
}

/// An action pattern: exact names compare case-insensitively without the glob machinery.
#[derive(Debug, Clone)]
enum ActionPat {
    Exact(String),
    Glob(Vec<Tok>),
}

impl ActionPat {
    fn new(raw: &str) -> Self {
        if raw.contains(['*', '?']) {
            ActionPat::Glob(glob::compile(raw))
        } else {
            ActionPat::Exact(raw.to_owned())
        }
    }
    fn matches(&self, action: &str) -> bool {
        match self {
            ActionPat::Exact(a) => a.eq_ignore_ascii_case(action),
            ActionPat::Glob(t) => glob::matches(t, action, true),
        }
    }
}

#[derive(Debug, Clone)]
struct CompiledStatement {
    label: String,
    effect: Effect,
    principal: Option<(Vec<PrincipalPat>, bool)>,
    actions: Vec<ActionPat>,
    not_action: bool,
    resources: Option<(Vec<Pattern>, bool)>,
    conditions: Vec<Condition>,
}

/// A policy compiled for fast repeated evaluation.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    name: String,
    statements: Vec<CompiledStatement>,
}

impl CompiledPolicy {
    /// Compile a parsed policy; `name` labels it in explanations (`resource_policy`, …).
    #[must_use]
    pub fn new(name: &str, policy: &Policy) -> Self {
        let statements = policy
            .statements
            .iter()
            .enumerate()
            .map(|(i, st)| {
                let (actions, not_action) = match (&st.action, &st.not_action) {
                    (Some(a), _) => (a.items.clone(), false),
                    (None, Some(a)) => (a.items.clone(), true),
                    (None, None) => (Vec::new(), false),
                };
                let resources = match (&st.resource, &st.not_resource) {
                    (Some(r), _) => {
                        Some((r.items.iter().map(|s| Pattern::new(s)).collect(), false))
                    }
                    (None, Some(r)) => {
                        Some((r.items.iter().map(|s| Pattern::new(s)).collect(), true))
                    }
                    (None, None) => None,
                };
                let principal = match (&st.principal, &st.not_principal) {
                    (Some(p), _) => Some((compile_principal(p), false)),
                    (None, Some(p)) => Some((compile_principal(p), true)),
                    (None, None) => None,
                };
                let conditions = st
                    .condition
                    .iter()
                    .flat_map(|c| c.iter())
                    .flat_map(|(op, keys)| {
                        keys.iter()
                            .filter_map(move |(k, v)| Condition::compile(op, k, v))
                    })
                    .collect();
                CompiledStatement {
                    label: st.label(i),
                    effect: st.effect,
                    principal,
                    actions: actions.iter().map(|a| ActionPat::new(a)).collect(),
                    not_action,
                    resources,
                    conditions,
                }
            })
            .collect();
        CompiledPolicy {
            name: name.to_owned(),
            statements,
        }
    }
}

/// Every policy that applies to one request. SCPs and RCPs are one list per organization level
/// (root, each OU, the account); an empty outer list means "not in an organization".
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// Identity-based policies of the principal.
    pub identity: Vec<CompiledPolicy>,
    /// The resource's policy, if any.
    pub resource: Option<CompiledPolicy>,
    /// Permission boundaries of the principal.
    pub boundaries: Vec<CompiledPolicy>,
    /// Session policy passed when the session was created.
    pub session: Option<CompiledPolicy>,
    /// Service control policies, one list per level.
    pub scps: Vec<Vec<CompiledPolicy>>,
    /// Resource control policies, one list per level.
    pub rcps: Vec<Vec<CompiledPolicy>>,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credentials.
    Anonymous,
    /// An AWS service principal such as `cloudtrail.amazonaws.com`.
    Service(String),
    /// An IAM or STS identity.
    Iam {
        /// The caller's ARN.
        arn: String,
        /// Its account.
        account: String,
        /// For assumed-role sessions and roles, the role name.
        role_name: Option<String>,
        /// For IAM users, the user name.
        user_name: Option<String>,
    },
}

impl Caller {
    /// Parse `anonymous`, a service principal, or an IAM/STS ARN.
    ///
    /// # Errors
    /// A message naming the accepted forms.
    pub fn parse(raw: &str) -> Result<Caller, String> {
        if raw == "anonymous" || raw == "*" {
            return Ok(Caller::Anonymous);
        }
        if raw.ends_with(".amazonaws.com") && !raw.starts_with("arn:") {
            return Ok(Caller::Service(raw.to_owned()));
        }
        let parts: Vec<&str> = raw.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" || !(parts[2] == "iam" || parts[2] == "sts") {
            return Err("principal: must be \"anonymous\", a service principal (x.amazonaws.com) or an IAM/STS ARN".into());
        }
        let account = parts[4];
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err("principal: the ARN's account must be 12 digits".into());
        }
        let res = parts[5];
        let (role_name, user_name) = if let Some(r) = res.strip_prefix("assumed-role/") {
            (r.split('/').next().map(str::to_owned), None)
        } else if let Some(r) = res.strip_prefix("role/") {
            (r.rsplit('/').next().map(str::to_owned), None)
        } else if let Some(u) = res.strip_prefix("user/") {
            (None, u.rsplit('/').next().map(str::to_owned))
        } else {
            (None, None)
        };
        Ok(Caller::Iam {
            arn: raw.to_owned(),
            account: account.to_owned(),
            role_name,
            user_name,
        })
    }

    /// The caller's account, if it has one.
    #[must_use]
    pub fn account(&self) -> Option<&str> {
        match self {
            Caller::Iam { account, .. } => Some(account),
            _ => None,
        }
    }
}

/// One request to authorize.
#[derive(Debug, Clone)]
pub struct Request {
    /// Who.
    pub caller: Caller,
    /// `service:Action`.
    pub action: String,
    /// Resource ARN or `*`.
    pub resource: String,
    /// The account that owns the resource (decides same- vs cross-account).
    pub resource_account: Option<String>,
    /// Condition keys.
    pub context: Context,
}

impl Request {
    /// Fill the global keys AWS sets itself (`aws:PrincipalArn`, `aws:PrincipalAccount`,
    /// `aws:username`, `aws:PrincipalType`, `aws:ResourceAccount`) unless given.
    pub fn with_global_keys(mut self) -> Self {
        match &self.caller {
            Caller::Iam {
                arn,
                account,
                role_name,
                user_name,
            } => {
                let principal_arn = match (role_name, arn.contains(":assumed-role/")) {
                    (Some(r), true) => format!("arn:aws:iam::{account}:role/{r}"),
                    _ => arn.clone(),
                };
                self.context.set_default("aws:PrincipalArn", principal_arn);
                self.context
                    .set_default("aws:PrincipalAccount", account.clone());
                if let Some(u) = user_name {
                    self.context.set_default("aws:username", u.clone());
                    self.context.set_default("aws:PrincipalType", "User");
                } else if role_name.is_some() {
                    self.context.set_default("aws:PrincipalType", "AssumedRole");
                } else if arn.ends_with(":root") {
                    self.context.set_default("aws:PrincipalType", "Account");
                }
            }
            Caller::Anonymous => self.context.set_default("aws:PrincipalType", "Anonymous"),
            Caller::Service(s) => self
                .context
                .set_default("aws:PrincipalServiceName", s.clone()),
        }
        if let Some(a) = &self.resource_account {
            self.context.set_default("aws:ResourceAccount", a.clone());
        }
        self
    }
}

/// How a resource policy's principal matched the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Via {
    /// Names the account: delegates to identity policies in the same account.
    Account,
    /// Names the role of an assumed-role session: limited by boundary and session policy.
    Role,
    /// Names the exact caller (user, session, service) or `*`.
    Direct,
}

/// A principal value compiled once: matching then needs no parsing or allocation.
#[derive(Debug, Clone)]
enum PrincipalPat {
    /// `"*"` or `{"AWS": "*"}`.
    Any,
    /// An account (`123456789012` or `arn:…:iam::123456789012:root`).
    Account(String),
    /// A role: matches its assumed-role sessions by account and role name.
    Role {
        arn: String,
        account: String,
        name: String,
    },
    /// An exact IAM/STS/federated/canonical identity.
    Exact(String),
    /// A service principal.
    Service(String),
}

fn compile_principal(p: &Principal) -> Vec<PrincipalPat> {
    let map = match p {
        Principal::Any => return vec![PrincipalPat::Any],
        Principal::Map(m) => m,
    };
    let mut out = Vec::new();
    for (kind, values) in map {
        for v in &values.items {
            out.push(match kind.as_str() {
                "AWS" if v == "*" => PrincipalPat::Any,
                "AWS" if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) => {
                    PrincipalPat::Account(v.clone())
                }
                "AWS" => {
                    let parts: Vec<&str> = v.splitn(6, ':').collect();
                    match parts.as_slice() {
                        ["arn", _, "iam", "", acct, "root"] => {
                            PrincipalPat::Account((*acct).to_owned())
                        }
                        ["arn", _, "iam", "", acct, res] if res.starts_with("role/") => {
                            PrincipalPat::Role {
                                arn: v.clone(),
                                account: (*acct).to_owned(),
                                name: res.rsplit('/').next().unwrap_or_default().to_owned(),
                            }
                        }
                        _ => PrincipalPat::Exact(v.clone()),
                    }
                }
                "Service" => PrincipalPat::Service(v.clone()),
                _ => PrincipalPat::Exact(v.clone()),
            });
        }
    }
    out
}

fn match_principal(pats: &[PrincipalPat], caller: &Caller) -> Option<Via> {
    let mut best = None;
    for p in pats {
        let hit = match (p, caller) {
            (PrincipalPat::Any, _) => Some(Via::Direct),
            (PrincipalPat::Account(a), Caller::Iam { account, .. }) => {
                (a == account).then_some(Via::Account)
            }
            (
                PrincipalPat::Role {
                    arn: role_arn,
                    account: a,
                    name,
                },
                Caller::Iam {
                    arn,
                    account,
                    role_name,
                    ..
                },
            ) => {
                if role_arn == arn {
                    Some(Via::Direct)
                } else {
                    (a == account && role_name.as_deref() == Some(name.as_str()))
                        .then_some(Via::Role)
                }
            }
            (PrincipalPat::Exact(e), Caller::Iam { arn, .. }) => (e == arn).then_some(Via::Direct),
            (PrincipalPat::Service(sv), Caller::Service(s)) => (sv == s).then_some(Via::Direct),
            _ => None,
        };
        best = best.max(hit);
        if best == Some(Via::Direct) {
            break;
        }
    }
    best
}

struct Hit<'a> {
    label: &'a str,
    via: Option<Via>,
}

/// A matching statement, formatted only when an explanation is produced.
#[derive(Debug, Clone, Copy)]
struct Matched<'a> {
    policy: &'a str,
    label: &'a str,
    via: Option<Via>,
}

impl std::fmt::Display for Matched<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} statement {}", self.policy, self.label)
    }
}

fn matching<'a>(
    policy: &'a CompiledPolicy,
    req: &Request,
    effect: Effect,
    out: &mut Vec<Matched<'a>>,
) {
    for st in &policy.statements {
        if st.effect != effect {
            continue;
        }
        if let Some(h) = statement_matches(st, req) {
            out.push(Matched {
                policy: &policy.name,
                label: h.label,
                via: h.via,
            });
        }
    }
}

fn statement_matches<'a>(st: &'a CompiledStatement, req: &Request) -> Option<Hit<'a>> {
    // Cheapest and most selective tests first: resource, action, principal, then conditions.
    if let Some((patterns, negated)) = &st.resources {
        let hit = patterns
            .iter()
            .any(|p| p.matches_arn(&req.resource, &req.context));
        if hit == *negated {
            return None;
        }
    }
    let action_hit = st.actions.iter().any(|a| a.matches(&req.action));
    if action_hit == st.not_action {
        return None;
    }
    let via = match &st.principal {
        None => None,
        Some((p, negated)) => match (match_principal(p, &req.caller), negated) {
            (Some(v), false) => Some(v),
            (None, true) => Some(Via::Direct),
            _ => return None,
        },
    };
    if !st.conditions.iter().all(|c| c.eval(&req.context)) {
        return None;
    }
    Some(Hit {
        label: &st.label,
        via,
    })
}

fn any_allows<'a>(policies: &'a [CompiledPolicy], req: &Request) -> Vec<Matched<'a>> {
    let mut out = Vec::new();
    for p in policies {
        matching(p, req, Effect::Allow, &mut out);
    }
    out
}

/// Evaluate one request against every applicable policy.
#[must_use]
pub fn evaluate(set: &PolicySet, req: &Request) -> EvalResult {
    // 1. Explicit deny anywhere.
    let mut denies = Vec::new();
    for level in set.scps.iter().chain(set.rcps.iter()) {
        for p in level {
            matching(p, req, Effect::Deny, &mut denies);
        }
    }
    for p in set
        .resource
        .iter()
        .chain(set.identity.iter())
        .chain(set.boundaries.iter())
        .chain(set.session.iter())
    {
        matching(p, req, Effect::Deny, &mut denies);
    }
    if !denies.is_empty() {
        return EvalResult {
            decision: Decision::ExplicitlyDenied,
            explanation: denies
                .into_iter()
                .map(|m| format!("{m} explicitly denies {}", req.action))
                .collect(),
        };
    }
    let implicit = |why: String| EvalResult {
        decision: Decision::ImplicitlyDenied,
        explanation: vec![why],
    };
    // 2. Organization guardrails: every level must allow.
    for (kind, levels) in [("SCP", &set.scps), ("RCP", &set.rcps)] {
        for (i, level) in levels.iter().enumerate() {
            if any_allows(level, req).is_empty() {
                return implicit(format!(
                    "no {kind} at organization level {i} allows {}",
                    req.action
                ));
            }
        }
    }
    let resource_allows = set
        .resource
        .as_ref()
        .map(|p| any_allows(std::slice::from_ref(p), req))
        .unwrap_or_default();
    let best_via = resource_allows.iter().filter_map(|m| m.via).max();
    if req.caller == Caller::Anonymous || matches!(req.caller, Caller::Service(_)) {
        return if resource_allows.is_empty() {
            implicit(format!(
                "no resource policy statement allows {} for this caller",
                req.action
            ))
        } else {
            EvalResult {
                decision: Decision::Allowed,
                explanation: resource_allows
                    .into_iter()
                    .map(|m| format!("{m} allows"))
                    .collect(),
            }
        };
    }
    let identity_allows = any_allows(&set.identity, req);
    let cross_account = match (&req.resource_account, req.caller.account()) {
        (Some(r), Some(c)) => r != c,
        _ => false,
    };
    let mut why: Vec<String>;
    let direct_resource_grant;
    if cross_account {
        if identity_allows.is_empty() || resource_allows.is_empty() {
            let missing = if identity_allows.is_empty() && resource_allows.is_empty() {
                "neither an identity policy nor the resource policy allows it"
            } else if identity_allows.is_empty() {
                "no identity policy allows it"
            } else {
                "the resource policy does not allow this principal"
            };
            return implicit(format!(
                "cross-account {} needs an allow in both an identity policy and the resource policy: {missing}",
                req.action
            ));
        }
        why = identity_allows
            .iter()
            .chain(resource_allows.iter())
            .map(|m| format!("{m} allows"))
            .collect();
        direct_resource_grant = false;
    } else {
        let resource_counts = best_via.is_some_and(|v| v >= Via::Role);
        if identity_allows.is_empty() && !resource_counts {
            return implicit(format!(
                "no identity-based or resource-based policy allows {}",
                req.action
            ));
        }
        why = identity_allows
            .iter()
            .map(|m| format!("{m} allows"))
            .collect();
        if resource_counts {
            why.extend(resource_allows.iter().map(|m| format!("{m} allows")));
        }
        direct_resource_grant = best_via == Some(Via::Direct);
    }
    // 5. Boundaries and session policies limit identity-based (and role-named resource) grants.
    if !direct_resource_grant {
        for b in &set.boundaries {
            if any_allows(std::slice::from_ref(b), req).is_empty() {
                return implicit(format!(
                    "the permission boundary {} does not allow {}",
                    b.name, req.action
                ));
            }
        }
        if let Some(s) = &set.session
            && any_allows(std::slice::from_ref(s), req).is_empty()
        {
            return implicit(format!("the session policy does not allow {}", req.action));
        }
    }
    EvalResult {
        decision: Decision::Allowed,
        explanation: why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pol(name: &str, json: &str) -> CompiledPolicy {
        CompiledPolicy::new(name, &Policy::parse(json).unwrap())
    }

    fn req(principal: &str, action: &str, resource: &str, owner: &str) -> Request {
        Request {
            caller: Caller::parse(principal).unwrap(),
            action: action.into(),
            resource: resource.into(),
            resource_account: Some(owner.into()),
            context: Context::new(),
        }
        .with_global_keys()
    }

    const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
    const SESSION: &str = "arn:aws:sts::444455556666:assumed-role/reader/s1";
    const ALLOW_GET: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;

    #[test]
    fn default_is_implicit_deny() {
        let r = evaluate(
            &PolicySet::default(),
            &req(ALICE, "s3:GetObject", "arn:aws:s3:::b/k", "111122223333"),
        );
        assert_eq!(r.decision, Decision::ImplicitlyDenied);
    }

    #[test]
    fn identity_allow_same_account_and_action_case() {
        let set = PolicySet {
            identity: vec![pol("identity_policies[0]", ALLOW_GET)],
            ..Default::default()
        };
        assert_eq!(
            evaluate(
                &set,
                &req(ALICE, "S3:getobject", "arn:aws:s3:::b/k", "111122223333")
            )
            .decision,
            Decision::Allowed
        );
        assert_eq!(
            evaluate(
                &set,
                &req(ALICE, "s3:PutObject", "arn:aws:s3:::b/k", "111122223333")
            )
            .decision,
            Decision::ImplicitlyDenied
        );
        assert_eq!(
            evaluate(
                &set,
                &req(ALICE, "s3:GetObject", "arn:aws:s3:::B/k", "111122223333")
            )
            .decision,
            Decision::ImplicitlyDenied
        );
    }

    #[test]
    fn explicit_deny_wins_and_is_named() {
        let deny = r#"{"Version":"2012-10-17","Statement":{"Sid":"NoGet","Effect":"Deny","Action":"s3:*","Resource":"*"}}"#;
        let set = PolicySet {
            identity: vec![
                pol("identity_policies[0]", ALLOW_GET),
                pol("identity_policies[1]", deny),
            ],
            ..Default::default()
        };
        let r = evaluate(
            &set,
            &req(ALICE, "s3:GetObject", "arn:aws:s3:::b/k", "111122223333"),
        );
        assert_eq!(r.decision, Decision::ExplicitlyDenied);
        assert!(
            r.explanation[0].contains("identity_policies[1] statement \"NoGet\""),
            "{:?}",
            r.explanation
        );
    }

    #[test]
    fn cross_account_needs_both() {
        let bucket = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:role/reader"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
        let r = req(SESSION, "s3:GetObject", "arn:aws:s3:::b/k", "111122223333");
        let only_resource = PolicySet {
            resource: Some(pol("resource_policy", bucket)),
            ..Default::default()
        };
        assert_eq!(
            evaluate(&only_resource, &r).decision,
            Decision::ImplicitlyDenied
        );
        let only_identity = PolicySet {
            identity: vec![pol("id", ALLOW_GET)],
            ..Default::default()
        };
        assert_eq!(
            evaluate(&only_identity, &r).decision,
            Decision::ImplicitlyDenied
        );
        let both = PolicySet {
            identity: vec![pol("id", ALLOW_GET)],
            resource: Some(pol("resource_policy", bucket)),
            ..Default::default()
        };
        assert_eq!(evaluate(&both, &r).decision, Decision::Allowed);
        // Another role of the same account is not named.
        let other = req(
            "arn:aws:sts::444455556666:assumed-role/writer/s1",
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            "111122223333",
        );
        assert_eq!(evaluate(&both, &other).decision, Decision::ImplicitlyDenied);
    }

    #[test]
    fn same_account_resource_policy_alone_suffices_when_direct() {
        let bucket = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
        let boundary = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#;
        let set = PolicySet {
            resource: Some(pol("resource_policy", bucket)),
            boundaries: vec![pol("boundary", boundary)],
            ..Default::default()
        };
        // Named user ARN: boundary does not limit a same-account resource-policy grant.
        assert_eq!(
            evaluate(
                &set,
                &req(ALICE, "s3:GetObject", "arn:aws:s3:::b/k", "111122223333")
            )
            .decision,
            Decision::Allowed
        );
        // Naming the account delegates to identity policies.
        let acct = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
        let set = PolicySet {
            resource: Some(pol("resource_policy", acct)),
            ..Default::default()
        };
        assert_eq!(
            evaluate(
                &set,
                &req(ALICE, "s3:GetObject", "arn:aws:s3:::b/k", "111122223333")
            )
            .decision,
            Decision::ImplicitlyDenied
        );
    }

    #[test]
    fn boundary_and_session_limit_identity_grants() {
        let boundary = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#;
        let set = PolicySet {
            identity: vec![pol("id", ALLOW_GET)],
            boundaries: vec![pol("boundary", boundary)],
            ..Default::default()
        };
        let r = evaluate(
            &set,
            &req(ALICE, "s3:GetObject", "arn:aws:s3:::b/k", "111122223333"),
        );
        assert_eq!(r.decision, Decision::ImplicitlyDenied);
        assert!(r.explanation[0].contains("boundary"));
        let set = PolicySet {
            identity: vec![pol("id", ALLOW_GET)],
            session: Some(pol("session", boundary)),
            ..Default::default()
        };
        assert_eq!(
            evaluate(
                &set,
                &req(ALICE, "s3:GetObject", "arn:aws:s3:::b/k", "111122223333")
            )
            .decision,
            Decision::ImplicitlyDenied
        );
    }

    #[test]
    fn scp_levels_each_must_allow() {
        let full = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
        let s3only = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
        let ec2only = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}"#;
        let r = req(ALICE, "s3:GetObject", "arn:aws:s3:::b/k", "111122223333");
        let mut set = PolicySet {
            identity: vec![pol("id", ALLOW_GET)],
            scps: vec![vec![pol("root", full)], vec![pol("ou", s3only)]],
            ..Default::default()
        };
        assert_eq!(evaluate(&set, &r).decision, Decision::Allowed);
        set.scps.push(vec![pol("acct", ec2only)]);
        let out = evaluate(&set, &r);
        assert_eq!(out.decision, Decision::ImplicitlyDenied);
        assert!(out.explanation[0].contains("level 2"));
        set.scps.pop();
        set.rcps = vec![vec![pol("rcp", ec2only)]];
        assert_eq!(evaluate(&set, &r).decision, Decision::ImplicitlyDenied);
    }

    #[test]
    fn anonymous_needs_public_resource_policy() {
        let public = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
        let set = PolicySet {
            resource: Some(pol("resource_policy", public)),
            ..Default::default()
        };
        let r = Request {
            caller: Caller::Anonymous,
            action: "s3:GetObject".into(),
            resource: "arn:aws:s3:::b/k".into(),
            resource_account: Some("111122223333".into()),
            context: Context::new(),
        };
        assert_eq!(evaluate(&set, &r).decision, Decision::Allowed);
        assert_eq!(
            evaluate(&PolicySet::default(), &r).decision,
            Decision::ImplicitlyDenied
        );
    }

    #[test]
    fn not_action_not_resource_and_variables() {
        let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","NotResource":"arn:aws:s3:::secret/*"},{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::home/${aws:username}/*"}]}"#;
        let set = PolicySet {
            identity: vec![pol("id", p)],
            ..Default::default()
        };
        let r = |a: &str, res: &str| evaluate(&set, &req(ALICE, a, res, "111122223333")).decision;
        assert_eq!(r("s3:GetObject", "arn:aws:s3:::b/k"), Decision::Allowed);
        assert_eq!(r("iam:CreateUser", "*"), Decision::ImplicitlyDenied);
        assert_eq!(
            r("s3:GetObject", "arn:aws:s3:::secret/x"),
            Decision::ImplicitlyDenied
        );
        assert_eq!(
            r("s3:PutObject", "arn:aws:s3:::home/alice/x"),
            Decision::Allowed
        );
        let pol2 = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::home/${aws:username}/*"}}"#;
        let set2 = PolicySet {
            identity: vec![pol("id", pol2)],
            ..Default::default()
        };
        assert_eq!(
            evaluate(
                &set2,
                &req(
                    ALICE,
                    "s3:PutObject",
                    "arn:aws:s3:::home/bob/x",
                    "111122223333"
                )
            )
            .decision,
            Decision::ImplicitlyDenied
        );
    }

    #[test]
    fn caller_parse_errors_name_principal() {
        assert!(Caller::parse("bob").unwrap_err().starts_with("principal:"));
        assert_eq!(
            Caller::parse("cloudtrail.amazonaws.com").unwrap(),
            Caller::Service("cloudtrail.amazonaws.com".into())
        );
    }
}

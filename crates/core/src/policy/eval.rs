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

use std::sync::Arc;

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
    /// What applied without deciding: which organization policies, which policy types were
    /// out of scope for this caller.
    pub notes: Vec<String>,
}

/// A resource pattern compiled once. `literal` is the text before the first wildcard or variable:
/// most statements of a large bucket policy are rejected by that prefix alone.
#[derive(Debug, Clone)]
struct Pattern {
    raw: String,
    literal: String,
    exact: bool,
    prefix_only: bool,
    toks: Option<Vec<Tok>>,
}

impl Pattern {
    fn new(raw: &str) -> Self {
        let cut = raw.find(['*', '?', '$']).unwrap_or(raw.len());
        let literal = &raw[..cut];
        Pattern {
            raw: raw.to_owned(),
            literal: literal.to_owned(),
            exact: cut == raw.len(),
            // `<literal>*` with the literal already in the ARN's sixth (resource) segment, where
            // `*` matches anything, colons included: the prefix test decides alone (the common
            // shape `arn:aws:s3:::bucket/prefix/*`).
            prefix_only: cut + 1 == raw.len()
                && raw.ends_with('*')
                && literal.starts_with("arn:")
                && literal.matches(':').count() >= 5,
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
        if self.prefix_only {
            return true;
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
    /// `<literal>*` (`s3:*`, `s3:Get*`): a case-insensitive prefix test.
    Prefix(String),
    Glob(Vec<Tok>),
}

impl ActionPat {
    fn new(raw: &str) -> Self {
        let wild = raw.find(['*', '?']);
        if wild.is_some_and(|at| at + 1 == raw.len() && raw.ends_with('*')) {
            ActionPat::Prefix(raw[..raw.len() - 1].to_owned())
        } else if wild.is_some() {
            ActionPat::Glob(glob::compile(raw))
        } else {
            ActionPat::Exact(raw.to_owned())
        }
    }
    fn matches(&self, action: &str) -> bool {
        match self {
            // Requests almost always spell the action as the policy does: bytes first.
            ActionPat::Exact(a) => {
                a.len() == action.len() && (a == action || a.eq_ignore_ascii_case(action))
            }
            ActionPat::Prefix(p) => action
                .as_bytes()
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes())),
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

/// A policy compiled for fast repeated evaluation. Cloning is cheap (shared).
#[derive(Debug, Clone)]
pub struct CompiledPolicy(Arc<Compiled>);

#[derive(Debug)]
struct Compiled {
    name: String,
    statements: Vec<CompiledStatement>,
    index: PrincipalIndex,
}

/// Statements by the accounts their `Principal` can match. A principal naming an account, a
/// role or an exact IAM/STS ARN only ever matches callers of that account, so a bucket policy
/// with a statement per consumer is searched in the few statements of the caller's account
/// plus those that can match anyone (no `Principal`, `*`, `NotPrincipal`, services, …).
#[derive(Debug, Default)]
struct PrincipalIndex {
    /// Statements any caller may match, in policy order, per effect (Allow, Deny).
    always: [Vec<u32>; 2],
    /// (account as a number, every statement a caller of that account may match, in policy
    /// order, per effect), sorted by account.
    by_account: Vec<(u64, [Vec<u32>; 2])>,
}

/// A 12-digit account ID as a number (index key).
fn account_key(a: &str) -> Option<u64> {
    is_account(a).then(|| a.bytes().fold(0u64, |n, b| n * 10 + u64::from(b - b'0')))
}

impl PrincipalPat {
    /// The one account whose callers this pattern can match, if it is account-scoped.
    fn only_account(&self) -> Option<u64> {
        match self {
            PrincipalPat::Account(a, _) | PrincipalPat::Role { account: a, .. } => account_key(a),
            // `e == caller ARN` implies the caller's account is e's fifth field.
            PrincipalPat::Exact(e) => e.split(':').nth(4).and_then(account_key),
            _ => None,
        }
    }
}

fn effect_slot(e: Effect) -> usize {
    usize::from(e == Effect::Deny)
}

impl PrincipalIndex {
    fn build(statements: &[CompiledStatement]) -> Self {
        let mut always: [Vec<u32>; 2] = Default::default();
        let mut scoped: std::collections::BTreeMap<u64, Vec<u32>> = Default::default();
        for (i, st) in statements.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let keys: Option<Vec<u64>> = match &st.principal {
                Some((pats, false)) => pats.iter().map(PrincipalPat::only_account).collect(),
                _ => None,
            };
            match keys {
                Some(keys) if !keys.is_empty() => {
                    for k in keys {
                        let list = scoped.entry(k).or_default();
                        if list.last() != Some(&i) {
                            list.push(i);
                        }
                    }
                }
                _ => always[effect_slot(st.effect)].push(i),
            }
        }
        let by_account = scoped
            .into_iter()
            .map(|(k, mine)| {
                let mut lists: [Vec<u32>; 2] = Default::default();
                for slot in 0..2 {
                    let mut l: Vec<u32> = mine
                        .iter()
                        .copied()
                        .filter(|i| {
                            statements
                                .get(*i as usize)
                                .is_some_and(|st| effect_slot(st.effect) == slot)
                        })
                        .chain(always[slot].iter().copied())
                        .collect();
                    l.sort_unstable();
                    lists[slot] = l;
                }
                (k, lists)
            })
            .collect();
        PrincipalIndex { always, by_account }
    }

    /// The statements of `effect` a caller of `account` may match, in policy order.
    fn candidates(&self, account: Option<u64>, effect: Effect) -> &[u32] {
        let slot = effect_slot(effect);
        let mine = account.and_then(|k| {
            self.by_account
                .binary_search_by_key(&k, |(a, _)| *a)
                .ok()
                .and_then(|at| self.by_account.get(at))
        });
        match mine {
            Some((_, lists)) => &lists[slot],
            None => &self.always[slot],
        }
    }
}

impl CompiledPolicy {
    /// Compile a parsed policy; `name` labels it in explanations (`resource_policy`, …).
    #[must_use]
    pub fn new(name: &str, policy: &Policy) -> Self {
        let statements: Vec<CompiledStatement> = policy
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
        let index = PrincipalIndex::build(&statements);
        CompiledPolicy(Arc::new(Compiled {
            name: name.to_owned(),
            statements,
            index,
        }))
    }
}

/// Every policy that applies to one request. SCPs and RCPs are one list per organization level
/// (root, each OU, the account); an empty outer list means "not in an organization".
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// Identity-based policies of the principal.
    pub identity: Vec<CompiledPolicy>,
    /// The resource's policy, if any: the bucket policy, the KMS key policy, or the role's trust
    /// policy (for `sts:AssumeRole*` on a role ARN).
    pub resource: Option<CompiledPolicy>,
    /// Permission boundaries of the principal.
    pub boundaries: Vec<CompiledPolicy>,
    /// Session policy passed when the session was created.
    pub session: Option<CompiledPolicy>,
    /// Service control policies, one list per level.
    pub scps: Vec<Vec<CompiledPolicy>>,
    /// Resource control policies, one list per level. `RCPFullAWSAccess` is implied at every
    /// level (AWS attaches it and it cannot be detached), so only their `Deny` statements decide.
    pub rcps: Vec<Vec<CompiledPolicy>>,
    /// KMS grants on the key (for `kms:*` requests on a key ARN).
    pub kms_grants: Vec<KmsGrant>,
}

/// Every operation a grant can allow (API_CreateGrant, `Operations`). The first eight are the
/// ones that take an encryption context: the only ones grant constraints apply to ("AWS KMS
/// applies the grant constraints only to cryptographic operations that support an encryption
/// context", API_GrantConstraints).
pub const GRANT_OPERATIONS: [&str; 16] = [
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "DescribeKey",
    "CreateGrant",
    "RetireGrant",
    "Sign",
    "Verify",
    "GetPublicKey",
    "GenerateMac",
    "VerifyMac",
];

/// The grant operations that take an encryption context (the first eight of
/// [`GRANT_OPERATIONS`]).
const CONTEXT_OPERATIONS: &[&str] = GRANT_OPERATIONS.split_at(8).0;

/// One KMS grant, as `ListGrants` returns it: a grantee, operations and optional
/// encryption-context constraints. A grant only adds permissions; it never denies.
#[derive(Debug, Clone)]
pub struct KmsGrant {
    label: String,
    key_id: Option<String>,
    grantee: Vec<PrincipalPat>,
    /// The grantee's account when every grantee pattern is scoped to it (a quick reject).
    grantee_account: Option<u64>,
    operations: Vec<String>,
    subset: Option<Vec<(String, String)>>,
    equals: Option<Vec<(String, String)>>,
}

impl KmsGrant {
    /// A grant labelled `label` in explanations. `key_id` (key ARN or ID) limits it to one key;
    /// constraint keys compare case-insensitively and values case-sensitively, as the
    /// GrantConstraints API reference states.
    ///
    /// # Errors
    /// A message naming the operation that is not a grant operation.
    pub fn new(
        label: &str,
        key_id: Option<&str>,
        grantee_principal: &str,
        operations: &[String],
        subset: Option<Vec<(String, String)>>,
        equals: Option<Vec<(String, String)>>,
    ) -> Result<Self, String> {
        for (i, op) in operations.iter().enumerate() {
            if !GRANT_OPERATIONS.contains(&op.as_str()) {
                return Err(format!(
                    "Operations[{i}]: {op:?} is not a grant operation (one of {})",
                    GRANT_OPERATIONS.join(", ")
                ));
            }
        }
        let lower = |c: Option<Vec<(String, String)>>| {
            c.map(|v| {
                v.into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect()
            })
        };
        let grantee = compile_principal(&Principal::aws([grantee_principal.to_owned()]));
        let accounts: Option<Vec<u64>> = grantee.iter().map(PrincipalPat::only_account).collect();
        let grantee_account = match accounts.as_deref() {
            Some([first, rest @ ..]) if rest.iter().all(|a| a == first) => Some(*first),
            _ => None,
        };
        Ok(KmsGrant {
            label: label.to_owned(),
            key_id: key_id.map(str::to_owned),
            grantee,
            grantee_account,
            operations: operations.to_vec(),
            subset: lower(subset),
            equals: lower(equals),
        })
    }

    fn applies_to_key(&self, resource: &str) -> bool {
        match &self.key_id {
            None => true,
            Some(k) if k.starts_with("arn:") => k == resource,
            Some(k) => resource
                .strip_suffix(k.as_str())
                .is_some_and(|r| r.ends_with("key/")),
        }
    }

    /// How this grant matches the request (`None`: it does not).
    fn matches(&self, req: &Request, caller_account: Option<u64>) -> Option<Via> {
        if self
            .grantee_account
            .is_some_and(|a| caller_account != Some(a))
            || !self.applies_to_key(&req.resource)
        {
            return None;
        }
        let op = strip_service(&req.action, "kms")?;
        let granted = self
            .operations
            .iter()
            .find(|o| o.eq_ignore_ascii_case(op))?;
        let via = match_principal(&self.grantee, &req.caller)?;
        if CONTEXT_OPERATIONS.contains(&granted.as_str()) {
            let ctx = req.context.with_prefix("kms:encryptioncontext:");
            let has = |(k, v): &(String, String)| {
                ctx.iter()
                    .any(|(ck, cv)| ck == k && cv.iter().any(|x| x == v))
            };
            if let Some(sub) = &self.subset
                && !sub.iter().all(has)
            {
                return None;
            }
            if let Some(eq) = &self.equals
                && (ctx.len() != eq.len() || !eq.iter().all(has))
            {
                return None;
            }
        }
        Some(via)
    }
}

/// `s3:GetObject` → `Some("GetObject")` when the service is `service` (any case).
fn strip_service<'a>(action: &'a str, service: &str) -> Option<&'a str> {
    // Byte tests, not split_once: this runs several times per decision.
    let n = service.len();
    (action.as_bytes().get(n) == Some(&b':')
        && action.as_bytes()[..n].eq_ignore_ascii_case(service.as_bytes()))
    .then(|| action.get(n + 1..))
    .flatten()
}

/// What kind of IAM or STS identity makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityKind {
    /// The account's root user (`arn:aws:iam::<account>:root`).
    Root,
    /// An IAM user.
    User {
        /// The user name.
        name: String,
    },
    /// A role ARN given as the caller: stands for a session of that role.
    Role {
        /// The role name.
        name: String,
    },
    /// An assumed-role session (`arn:aws:sts::<account>:assumed-role/<role>/<session>`).
    AssumedRole {
        /// The role name.
        role: String,
        /// The role session name.
        session: String,
    },
    /// An STS federated-user session (`arn:aws:sts::<account>:federated-user/<name>`).
    FederatedUser {
        /// The name given to GetFederationToken.
        name: String,
    },
}

/// An IAM or STS identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The caller's ARN as AWS reports it.
    pub arn: String,
    /// `aws`, `aws-cn`, `aws-us-gov`, …
    pub partition: String,
    /// The 12-digit account.
    pub account: String,
    /// Which identity this is.
    pub kind: IdentityKind,
    /// The IAM path of the user or role (`/` unless known). A session ARN does not carry its
    /// role's path, but `aws:PrincipalArn` does.
    pub path: String,
    /// The unique ID (`AIDA…` for a user, `AROA…` for a role) when known, for `aws:userid`.
    pub unique_id: Option<String>,
}

impl Identity {
    /// The role name, for roles and their sessions.
    #[must_use]
    pub fn role_name(&self) -> Option<&str> {
        match &self.kind {
            IdentityKind::Role { name } => Some(name),
            IdentityKind::AssumedRole { role, .. } => Some(role),
            _ => None,
        }
    }

    /// The ARN AWS puts in `aws:PrincipalArn`: the role's ARN (with its path) for a session.
    #[must_use]
    pub fn principal_arn(&self) -> String {
        match &self.kind {
            IdentityKind::AssumedRole { role, .. } => format!(
                "arn:{}:iam::{}:role{}{role}",
                self.partition, self.account, self.path
            ),
            _ => self.arn.clone(),
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credentials.
    Anonymous,
    /// An AWS service principal such as `cloudtrail.amazonaws.com`.
    Service(String),
    /// A web identity or SAML provider (`accounts.google.com`, an `oidc-provider` or
    /// `saml-provider` ARN): the caller of `AssumeRoleWithWebIdentity` / `AssumeRoleWithSAML`.
    Federated(String),
    /// An IAM or STS identity.
    Iam(Identity),
}

const WEB_IDENTITY_PROVIDERS: [&str; 3] = [
    "accounts.google.com",
    "graph.facebook.com",
    "www.amazon.com",
];

fn is_partition(p: &str) -> bool {
    p == "aws"
        || p.strip_prefix("aws-").is_some_and(|r| {
            !r.is_empty() && r.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        })
}

fn is_account(a: &str) -> bool {
    a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())
}

impl Caller {
    /// Parse `anonymous`, a service principal, a web identity provider, or an IAM/STS ARN
    /// (root, user, role, assumed-role session, federated user; any partition).
    ///
    /// # Errors
    /// A message naming the accepted forms.
    pub fn parse(raw: &str) -> Result<Caller, String> {
        if raw == "anonymous" || raw == "*" {
            return Ok(Caller::Anonymous);
        }
        if WEB_IDENTITY_PROVIDERS.contains(&raw) {
            return Ok(Caller::Federated(raw.to_owned()));
        }
        if raw.ends_with(".amazonaws.com") && !raw.starts_with("arn:") {
            return Ok(Caller::Service(raw.to_owned()));
        }
        let forms = "principal: must be \"anonymous\", a service principal (x.amazonaws.com), a web identity provider, or an IAM/STS ARN (arn:aws:iam::<account>:root|user/<name>|role/<name>, arn:aws:sts::<account>:assumed-role/<role>/<session>|federated-user/<name>)";
        let parts: Vec<&str> = raw.splitn(6, ':').collect();
        let [arn, partition, service, region, account, res] = parts.as_slice() else {
            return Err(forms.into());
        };
        if *arn != "arn" || !(*service == "iam" || *service == "sts") || !region.is_empty() {
            return Err(forms.into());
        }
        if !is_partition(partition) {
            return Err(format!(
                "principal: {partition:?} is not an AWS partition (aws, aws-cn, aws-us-gov, …)"
            ));
        }
        if !is_account(account) {
            return Err("principal: the ARN's account must be 12 digits".into());
        }
        if *service == "iam"
            && (res.starts_with("saml-provider/") || res.starts_with("oidc-provider/"))
        {
            return Ok(Caller::Federated(raw.to_owned()));
        }
        // `role/a/b/name`: the path is `/a/b/`, the name the last segment.
        let path_and_name = |rest: &str| -> Option<(String, String)> {
            let (path, name) = match rest.rsplit_once('/') {
                Some((p, n)) => (format!("/{p}/"), n),
                None => ("/".to_owned(), rest),
            };
            (!name.is_empty()).then(|| (path, name.to_owned()))
        };
        let (kind, path) = match (*service, *res) {
            ("iam", "root") => (IdentityKind::Root, "/".to_owned()),
            ("iam", r) if r.starts_with("user/") => {
                let (path, name) = path_and_name(&r[5..]).ok_or(forms)?;
                (IdentityKind::User { name }, path)
            }
            ("iam", r) if r.starts_with("role/") => {
                let (path, name) = path_and_name(&r[5..]).ok_or(forms)?;
                (IdentityKind::Role { name }, path)
            }
            ("sts", r) if r.starts_with("assumed-role/") => {
                let Some((role, session)) = r[13..].split_once('/') else {
                    return Err(forms.into());
                };
                if role.is_empty() || session.is_empty() || session.contains('/') {
                    return Err(forms.into());
                }
                (
                    IdentityKind::AssumedRole {
                        role: role.to_owned(),
                        session: session.to_owned(),
                    },
                    "/".to_owned(),
                )
            }
            ("sts", r) if r.starts_with("federated-user/") && r.len() > 15 => (
                IdentityKind::FederatedUser {
                    name: r[15..].to_owned(),
                },
                "/".to_owned(),
            ),
            _ => return Err(forms.into()),
        };
        Ok(Caller::Iam(Identity {
            arn: raw.to_owned(),
            partition: (*partition).to_owned(),
            account: (*account).to_owned(),
            kind,
            path,
            unique_id: None,
        }))
    }

    /// The caller's account, if it has one.
    #[must_use]
    pub fn account(&self) -> Option<&str> {
        match self {
            Caller::Iam(id) => Some(&id.account),
            _ => None,
        }
    }

    /// The identity, for IAM/STS callers.
    #[must_use]
    pub fn identity(&self) -> Option<&Identity> {
        match self {
            Caller::Iam(id) => Some(id),
            _ => None,
        }
    }
}

/// The account field of an ARN, when it holds 12 digits (`arn:aws:kms:r:111122223333:key/k`).
/// S3 bucket and object ARNs have none.
#[must_use]
pub fn account_in_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    (parts.next() == Some("arn")).then_some(())?;
    let account = parts.nth(3)?;
    is_account(account).then_some(account)
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
    /// The account that owns the resource (decides same- vs cross-account). `None` is evaluated
    /// as cross-account, the reading that never grants more; `policy simulate` refuses it.
    pub resource_account: Option<String>,
    /// Condition keys.
    pub context: Context,
}

impl Request {
    /// Fill the global keys AWS sets itself, unless given: `aws:PrincipalArn` (a session's role
    /// ARN with its path and partition), `aws:PrincipalAccount`, `aws:PrincipalType`,
    /// `aws:userid` and `aws:username` per principal type (the "Principal key values" table of
    /// reference_policies_variables.html), `aws:PrincipalIsAWSService`,
    /// `aws:PrincipalServiceName` and `aws:ResourceAccount`.
    pub fn with_global_keys(mut self) -> Self {
        let ctx = &mut self.context;
        ctx.set_default_lc(
            "aws:principalisawsservice",
            if matches!(self.caller, Caller::Service(_)) {
                "true"
            } else {
                "false"
            },
        );
        match &self.caller {
            Caller::Iam(id) => {
                ctx.set_default_lc("aws:principalarn", id.principal_arn());
                ctx.set_default_lc("aws:principalaccount", id.account.clone());
                let (kind, userid) = match &id.kind {
                    IdentityKind::Root => ("Account", Some(id.account.clone())),
                    IdentityKind::User { name } => {
                        ctx.set_default_lc("aws:username", name.clone());
                        ("User", id.unique_id.clone())
                    }
                    IdentityKind::Role { .. } => ("AssumedRole", None),
                    IdentityKind::AssumedRole { session, .. } => (
                        "AssumedRole",
                        id.unique_id.as_ref().map(|u| format!("{u}:{session}")),
                    ),
                    IdentityKind::FederatedUser { name } => {
                        ("FederatedUser", Some(format!("{}:{name}", id.account)))
                    }
                };
                ctx.set_default_lc("aws:principaltype", kind);
                if let Some(u) = userid {
                    ctx.set_default_lc("aws:userid", u);
                }
            }
            Caller::Anonymous => {
                ctx.set_default_lc("aws:principaltype", "Anonymous");
                ctx.set_default_lc("aws:userid", "anonymous");
            }
            Caller::Service(s) => ctx.set_default_lc("aws:principalservicename", s.clone()),
            Caller::Federated(_) => {}
        }
        if let Some(a) = &self.resource_account {
            ctx.set_default_lc("aws:resourceaccount", a.clone());
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
    /// An account (`123456789012` or `arn:…:iam::123456789012:root`), with the ARN's partition:
    /// accounts are scoped to one partition and "you cannot use IAM credentials from one
    /// partition to interact with resources in a different partition" (AWS Fault Isolation
    /// Boundaries, partitions.html). A bare account ID is in the policy's own partition.
    Account(String, Option<String>),
    /// A role: matches its assumed-role sessions by account and role name.
    Role {
        arn: String,
        partition: String,
        account: String,
        name: String,
    },
    /// An exact IAM/STS/canonical identity.
    Exact(String),
    /// A service principal.
    Service(String),
    /// A web identity or SAML provider.
    Federated(String),
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
                "AWS" if is_account(v) => PrincipalPat::Account(v.clone(), None),
                "AWS" => {
                    let parts: Vec<&str> = v.splitn(6, ':').collect();
                    match parts.as_slice() {
                        ["arn", partition, "iam", "", acct, "root"] => {
                            PrincipalPat::Account((*acct).to_owned(), Some((*partition).to_owned()))
                        }
                        ["arn", partition, "iam", "", acct, res] if res.starts_with("role/") => {
                            PrincipalPat::Role {
                                arn: v.clone(),
                                partition: (*partition).to_owned(),
                                account: (*acct).to_owned(),
                                name: res.rsplit('/').next().unwrap_or_default().to_owned(),
                            }
                        }
                        _ => PrincipalPat::Exact(v.clone()),
                    }
                }
                "Service" => PrincipalPat::Service(v.clone()),
                "Federated" => PrincipalPat::Federated(v.clone()),
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
            (PrincipalPat::Account(a, partition), Caller::Iam(id)) => (*a == id.account
                && partition.as_ref().is_none_or(|p| *p == id.partition))
            .then_some(Via::Account),
            (
                PrincipalPat::Role {
                    arn,
                    partition,
                    account,
                    name,
                },
                Caller::Iam(id),
            ) => match &id.kind {
                // A role ARN as the caller stands for one of its sessions.
                IdentityKind::Role { .. } => (*arn == id.arn).then_some(Via::Role),
                IdentityKind::AssumedRole { role, .. } => {
                    (*account == id.account && role == name && *partition == id.partition)
                        .then_some(Via::Role)
                }
                _ => None,
            },
            (PrincipalPat::Exact(e), Caller::Iam(id)) => (*e == id.arn).then_some(Via::Direct),
            (PrincipalPat::Service(sv), Caller::Service(s)) => (sv == s).then_some(Via::Direct),
            (PrincipalPat::Federated(f), Caller::Federated(c) | Caller::Service(c)) => {
                (f == c).then_some(Via::Direct)
            }
            _ => None,
        };
        best = best.max(hit);
        if best == Some(Via::Direct) {
            break;
        }
    }
    best
}

/// Whether a `NotPrincipal` list exempts the caller from its statement. AWS may check each
/// level of an identity in turn (account, then role, then session), so a caller is exempt only
/// when every level is listed; and a principal with a permissions boundary is never exempt
/// (reference_policies_elements_notprincipal.html).
fn not_principal_exempts(pats: &[PrincipalPat], caller: &Caller, has_boundary: bool) -> bool {
    if pats.iter().any(|p| matches!(p, PrincipalPat::Any)) {
        return true;
    }
    match caller {
        Caller::Anonymous => false,
        Caller::Service(s) => pats
            .iter()
            .any(|p| matches!(p, PrincipalPat::Service(v) if v == s)),
        Caller::Federated(f) => pats
            .iter()
            .any(|p| matches!(p, PrincipalPat::Federated(v) if v == f)),
        Caller::Iam(id) => {
            if has_boundary {
                return false;
            }
            let account = pats.iter().any(|p| {
                matches!(p, PrincipalPat::Account(a, partition)
                    if *a == id.account && partition.as_ref().is_none_or(|p| *p == id.partition))
            });
            let exact = pats.iter().any(|p| match p {
                PrincipalPat::Exact(e) | PrincipalPat::Role { arn: e, .. } => *e == id.arn,
                _ => false,
            });
            let role = pats.iter().any(|p| {
                matches!(p, PrincipalPat::Role { account, name, partition, .. }
                    if *account == id.account
                        && *partition == id.partition
                        && Some(name.as_str()) == id.role_name())
            });
            match id.kind {
                IdentityKind::Root => account,
                IdentityKind::User { .. }
                | IdentityKind::Role { .. }
                | IdentityKind::FederatedUser { .. } => account && exact,
                IdentityKind::AssumedRole { .. } => account && role && exact,
            }
        }
    }
}

/// What the evaluation knows beyond the request: whether the caller has a boundary.
#[derive(Debug, Clone, Copy)]
struct Env {
    has_boundary: bool,
    /// The caller's account as a [`PrincipalIndex`] key, computed once per evaluation.
    account: Option<u64>,
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
        if self.label.is_empty() {
            write!(f, "{}", self.policy)
        } else {
            write!(f, "{} statement {}", self.policy, self.label)
        }
    }
}

fn matching<'a>(
    policy: &'a CompiledPolicy,
    req: &Request,
    env: Env,
    effect: Effect,
    out: &mut Vec<Matched<'a>>,
) {
    let c = &policy.0;
    for st in c
        .index
        .candidates(env.account, effect)
        .iter()
        .filter_map(|i| c.statements.get(*i as usize))
    {
        if let Some(h) = statement_matches(st, req, env) {
            out.push(Matched {
                policy: &policy.0.name,
                label: h.label,
                via: h.via,
            });
        }
    }
}

fn statement_matches<'a>(st: &'a CompiledStatement, req: &Request, env: Env) -> Option<Hit<'a>> {
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
        Some((p, false)) => Some(match_principal(p, &req.caller)?),
        Some((p, true)) => {
            if not_principal_exempts(p, &req.caller, env.has_boundary) {
                return None;
            }
            Some(Via::Direct)
        }
    };
    if !st.conditions.iter().all(|c| c.eval(&req.context)) {
        return None;
    }
    Some(Hit {
        label: &st.label,
        via,
    })
}

fn any_allows<'a>(policies: &'a [CompiledPolicy], req: &Request, env: Env) -> Vec<Matched<'a>> {
    let mut out = Vec::with_capacity(2);
    for p in policies {
        matching(p, req, env, Effect::Allow, &mut out);
    }
    out
}

/// Resources whose policy must allow the caller, as AWS documents: "IAM role trust policies
/// and KMS key policies are exceptions to this logic, because they must explicitly allow access
/// for principals" (reference_policies_evaluation-logic.html).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// The usual rules: either policy suffices in the same account.
    None,
    /// A `kms:*` request on a key ARN: the key policy (or a grant) must allow.
    KeyPolicy,
    /// `sts:AssumeRole*`, `sts:TagSession`, `sts:SetSourceIdentity` on a role: the trust policy
    /// must allow.
    TrustPolicy,
}

/// The STS actions a role's trust policy decides.
pub const TRUST_ACTIONS: [&str; 5] = [
    "AssumeRole",
    "AssumeRoleWithWebIdentity",
    "AssumeRoleWithSAML",
    "TagSession",
    "SetSourceIdentity",
];

/// An ARN's six fields (the last keeps its colons), without allocating: this runs on every
/// KMS and STS decision.
fn arn_fields(arn: &str) -> Option<[&str; 6]> {
    let mut it = arn.splitn(6, ':');
    let mut out = [""; 6];
    for f in &mut out {
        *f = it.next()?;
    }
    Some(out)
}

fn is_key_arn(arn: &str) -> bool {
    matches!(arn_fields(arn), Some(["arn", _, "kms", _, _, res]) if res.starts_with("key/"))
}

fn is_role_arn(arn: &str) -> bool {
    matches!(arn_fields(arn), Some(["arn", _, "iam", "", _, res]) if res.starts_with("role/"))
}

fn gate(req: &Request) -> Gate {
    if strip_service(&req.action, "kms").is_some() && is_key_arn(&req.resource) {
        Gate::KeyPolicy
    } else if strip_service(&req.action, "sts")
        .is_some_and(|op| TRUST_ACTIONS.iter().any(|t| t.eq_ignore_ascii_case(op)))
        && is_role_arn(&req.resource)
    {
        Gate::TrustPolicy
    } else {
        Gate::None
    }
}

/// Requests AWS refuses whatever the policies say, with the reason.
fn aws_refuses(req: &Request) -> Option<String> {
    let (iam, kms) = (
        strip_service(&req.action, "iam"),
        strip_service(&req.action, "kms"),
    );
    if iam.is_none() && kms.is_none() {
        // The hot path (S3 requests): nothing to split.
        return None;
    }
    let fields = arn_fields(&req.resource);
    let parts: &[&str] = fields.as_ref().map_or(&[], |f| f.as_slice());
    if let Some(op) = iam {
        const POLICY_EDITS: [&str; 6] = [
            "CreatePolicyVersion",
            "DeletePolicy",
            "DeletePolicyVersion",
            "SetDefaultPolicyVersion",
            "TagPolicy",
            "UntagPolicy",
        ];
        const SLR_EDITS: [&str; 8] = [
            "UpdateAssumeRolePolicy",
            "PutRolePolicy",
            "DeleteRolePolicy",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "PutRolePermissionsBoundary",
            "DeleteRolePermissionsBoundary",
            "DeleteRole",
        ];
        let is = |list: &[&str]| list.iter().any(|a| a.eq_ignore_ascii_case(op));
        if is(&POLICY_EDITS)
            && matches!(parts, ["arn", _, "iam", "", "aws", res] if res.starts_with("policy/"))
        {
            return Some(format!(
                "{} is an AWS managed policy: \"AWS managed policies cannot be edited\" (access_policies_manage-edit.html), whatever the policies allow",
                req.resource
            ));
        }
        if is(&SLR_EDITS)
            && matches!(parts, ["arn", _, "iam", "", _, res] if res.starts_with("role/aws-service-role/"))
        {
            return Some(format!(
                "{} is a service-linked role: \"Only the service that depends on the service-linked role can modify or delete the role\" (UnmodifiableEntity), whatever the policies allow",
                req.resource
            ));
        }
    }
    if let Some(op) = kms
        && ["CreateAlias", "UpdateAlias", "DeleteAlias"]
            .iter()
            .any(|a| a.eq_ignore_ascii_case(op))
        && matches!(parts, ["arn", _, "kms", _, _, res] if res.starts_with("alias/aws/"))
    {
        return Some(format!(
            "{}: \"The alias/aws/ prefix is reserved for AWS managed key\" and aliases of AWS managed keys cannot be managed (alias-create.html), whatever the policies allow",
            req.resource
        ));
    }
    None
}

impl Matched<'_> {
    /// `"<policy> statement <label><tail>"`, built without the formatting machinery (it was a
    /// quarter of a decision's cost).
    fn line(&self, tail: &[&str]) -> String {
        let mut s = String::with_capacity(
            self.policy.len() + self.label.len() + 11 + tail.iter().map(|t| t.len()).sum::<usize>(),
        );
        s.push_str(self.policy);
        if !self.label.is_empty() {
            s.push_str(" statement ");
            s.push_str(self.label);
        }
        for t in tail {
            s.push_str(t);
        }
        s
    }
}

fn lines<'a>(ms: &'a [Matched<'_>]) -> impl Iterator<Item = String> + 'a {
    ms.iter().map(|m| m.line(&[" allows"]))
}

/// Evaluate one request against every applicable policy.
#[must_use]
pub fn evaluate(set: &PolicySet, req: &Request) -> EvalResult {
    evaluate_in(set, req, false)
}

/// Evaluate only the principal's own policies (identity, boundaries, session policy, SCPs),
/// as if the resource's side allowed: "what does this role's policy let it do". The resource
/// policy, KMS grants, trust and key-policy gates and the account boundary are ignored.
#[must_use]
pub fn evaluate_principal_policies(set: &PolicySet, req: &Request) -> EvalResult {
    evaluate_in(set, req, true)
}

fn evaluate_in(set: &PolicySet, req: &Request, principal_only: bool) -> EvalResult {
    let implicit = |why: String| EvalResult {
        decision: Decision::ImplicitlyDenied,
        explanation: vec![why],
        notes: Vec::new(),
    };
    if let Some(why) = aws_refuses(req) {
        return EvalResult {
            decision: Decision::ExplicitlyDenied,
            explanation: vec![why],
            notes: Vec::new(),
        };
    }
    let identity = req.caller.identity();
    if strip_service(&req.action, "sts")
        .is_some_and(|op| op.eq_ignore_ascii_case("GetCallerIdentity"))
    {
        return match identity {
            // "No permissions are required to perform this operation" (API_GetCallerIdentity).
            Some(_) => EvalResult {
                decision: Decision::Allowed,
                explanation: vec![
                    "sts:GetCallerIdentity needs no permission: AWS allows it even when a policy denies it".into(),
                ],
                notes: Vec::new(),
            },
            None => implicit("sts:GetCallerIdentity needs AWS credentials".into()),
        };
    }
    // SCPs, boundaries, identity and session policies attach to IAM principals only: they do
    // not apply to anonymous callers, AWS services or web-identity/SAML callers.
    let is_iam = identity.is_some();
    let env = Env {
        has_boundary: is_iam && !set.boundaries.is_empty(),
        account: identity.and_then(|id| account_key(&id.account)),
    };
    let identity_pols: &[CompiledPolicy] = if is_iam { &set.identity } else { &[] };
    let boundaries: &[CompiledPolicy] = if is_iam { &set.boundaries } else { &[] };
    let session = set.session.as_ref().filter(|_| is_iam);
    let scps: &[Vec<CompiledPolicy>] = if is_iam { &set.scps } else { &[] };
    let resource = set.resource.as_ref().filter(|_| !principal_only);
    let rcps: &[Vec<CompiledPolicy>] = if principal_only { &[] } else { &set.rcps };
    // 1. Explicit deny anywhere.
    let mut denies = Vec::new();
    for level in scps.iter().chain(rcps.iter()) {
        for p in level {
            matching(p, req, env, Effect::Deny, &mut denies);
        }
    }
    for p in resource
        .into_iter()
        .chain(identity_pols.iter())
        .chain(boundaries.iter())
        .chain(session)
    {
        matching(p, req, env, Effect::Deny, &mut denies);
    }
    if !denies.is_empty() {
        return EvalResult {
            decision: Decision::ExplicitlyDenied,
            explanation: denies
                .into_iter()
                .map(|m| m.line(&[" explicitly denies ", &req.action]))
                .collect(),
            notes: notes(set, req, is_iam, principal_only),
        };
    }
    // 2. Organization guardrails: every SCP level must allow. RCP levels always hold
    // RCPFullAWSAccess, which cannot be detached, so only their denies (above) decide.
    for (i, level) in scps.iter().enumerate() {
        if any_allows(level, req, env).is_empty() {
            return implicit(format!(
                "no SCP at organization level {i} allows {} (each level from the root to the account must allow)",
                req.action
            ));
        }
    }
    let notes = notes(set, req, is_iam, principal_only);
    let with_org = |mut r: EvalResult| {
        r.notes = notes;
        r
    };
    let g = if principal_only {
        Gate::None
    } else {
        gate(req)
    };
    let resource_allows = resource
        .map(|p| any_allows(std::slice::from_ref(p), req, env))
        .unwrap_or_default();
    let best_via = resource_allows.iter().filter_map(|m| m.via).max();
    let Some(id) = identity else {
        // Anonymous, service and web-identity callers: only the resource's policy can allow.
        if g == Gate::TrustPolicy && matches!(req.caller, Caller::Anonymous) {
            return with_org(implicit(format!(
                "{} needs AWS credentials or a web identity/SAML token",
                req.action
            )));
        }
        return with_org(if resource_allows.is_empty() {
            implicit(format!(
                "no {} statement allows {} for this caller",
                match g {
                    Gate::KeyPolicy => "key policy",
                    Gate::TrustPolicy => "trust policy",
                    Gate::None => "resource policy",
                },
                req.action
            ))
        } else {
            EvalResult {
                decision: Decision::Allowed,
                explanation: lines(&resource_allows).collect(),
                notes: Vec::new(),
            }
        });
    };
    let identity_allows = any_allows(identity_pols, req, env);
    if principal_only {
        return with_org(if identity_allows.is_empty() {
            implicit(format!("no identity-based policy allows {}", req.action))
        } else {
            limit(
                boundaries,
                session,
                req,
                env,
                lines(&identity_allows).collect(),
            )
        });
    }
    let cross_account = req.resource_account.as_deref() != Some(id.account.as_str());
    let unknown_owner = req.resource_account.is_none();
    let owner_note = || {
        if unknown_owner {
            " (the resource's account is not known, so it is evaluated as cross-account)"
        } else {
            ""
        }
    };
    let outcome = match g {
        Gate::None => {
            if cross_account {
                if identity_allows.is_empty() || resource_allows.is_empty() {
                    let missing = if identity_allows.is_empty() && resource_allows.is_empty() {
                        "neither an identity policy nor the resource policy allows it"
                    } else if identity_allows.is_empty() {
                        "no identity policy allows it"
                    } else {
                        "the resource policy does not allow this principal"
                    };
                    return with_org(implicit(format!(
                        "cross-account {} needs an allow in both an identity policy and the resource policy{}: {missing}",
                        req.action,
                        owner_note()
                    )));
                }
                Grant::Limited(
                    lines(&identity_allows)
                        .chain(lines(&resource_allows))
                        .collect(),
                )
            } else {
                let resource_counts = best_via.is_some_and(|v| v >= Via::Role);
                if identity_allows.is_empty() && !resource_counts {
                    return with_org(implicit(format!(
                        "no identity-based or resource-based policy allows {}",
                        req.action
                    )));
                }
                let mut why: Vec<String> = lines(&identity_allows).collect();
                if resource_counts {
                    why.extend(lines(&resource_allows));
                }
                if best_via == Some(Via::Direct) {
                    Grant::Direct(why)
                } else {
                    Grant::Limited(why)
                }
            }
        }
        Gate::KeyPolicy | Gate::TrustPolicy => {
            let (what, alone) = if g == Gate::KeyPolicy {
                (
                    "key policy",
                    "an identity policy alone never allows use of a KMS key: the key policy must allow the principal, or the account (arn:aws:iam::<account>:root) so that IAM policies count",
                )
            } else {
                (
                    "trust policy",
                    "an identity policy alone never lets anyone assume a role: the role's trust policy must allow the caller, or its account so that IAM policies count",
                )
            };
            let grants: Vec<(&KmsGrant, Via)> = if g == Gate::KeyPolicy {
                set.kms_grants
                    .iter()
                    .filter_map(|gr| gr.matches(req, env.account).map(|v| (gr, v)))
                    .collect()
            } else {
                Vec::new()
            };
            let grant_via = grants.iter().map(|(_, v)| *v).max();
            let grant_lines = || {
                grants
                    .iter()
                    .map(|(gr, _)| format!("{} allows {}", gr.label, req.action))
            };
            let named = best_via.is_some_and(|v| v >= Via::Role);
            // A grant to the caller (or its role) allows on its own, in any account; a grant
            // to an account delegates to that account's IAM policies.
            if grant_via.is_some_and(|v| v >= Via::Role) {
                let why: Vec<String> = grant_lines().collect();
                if grant_via == Some(Via::Direct) {
                    Grant::Direct(why)
                } else {
                    Grant::Limited(why)
                }
            } else if !cross_account && named {
                let why: Vec<String> = lines(&resource_allows).collect();
                // A boundary still limits a trust policy that names the user
                // (id_roles_update-role-trust-policy.html).
                if best_via == Some(Via::Direct) && g == Gate::KeyPolicy {
                    Grant::Direct(why)
                } else {
                    Grant::Limited(why)
                }
            } else if best_via.is_some() || grant_via.is_some() {
                if identity_allows.is_empty() {
                    return with_org(implicit(if cross_account {
                        format!(
                            "cross-account {} needs an allow in both the {what} and an identity policy of {}{}: no identity policy allows it",
                            req.action,
                            id.account,
                            owner_note()
                        )
                    } else {
                        format!(
                            "the {what} delegates to IAM policies of account {}, and no identity policy allows {}",
                            id.account, req.action
                        )
                    }));
                }
                Grant::Limited(
                    lines(&identity_allows)
                        .chain(lines(&resource_allows))
                        .chain(grant_lines())
                        .collect(),
                )
            } else {
                let which = match (resource.is_some(), g) {
                    (false, Gate::KeyPolicy) => "no key policy was given".to_owned(),
                    (false, _) => "no trust policy was given".to_owned(),
                    (true, _) => {
                        format!("no {what} statement allows {} for this caller", req.action)
                    }
                };
                let grants_note = if g == Gate::KeyPolicy {
                    if set.kms_grants.is_empty() {
                        ", and there is no KMS grant"
                    } else {
                        ", and no KMS grant covers this principal, operation and encryption context"
                    }
                } else {
                    ""
                };
                let identity_note = if identity_allows.is_empty() {
                    String::new()
                } else {
                    format!(" ({} allows it, which is not enough)", identity_allows[0])
                };
                return with_org(implicit(format!(
                    "{which}{grants_note}: {alone}{identity_note}"
                )));
            }
        }
    };
    with_org(match outcome {
        Grant::Direct(why) => EvalResult {
            decision: Decision::Allowed,
            explanation: why,
            notes: Vec::new(),
        },
        Grant::Limited(why) => limit(boundaries, session, req, env, why),
    })
}

/// An allow before boundaries and session policies: `Direct` grants (to the exact user or
/// session) are not limited by them, `Limited` ones are.
enum Grant {
    Direct(Vec<String>),
    Limited(Vec<String>),
}

/// Apply the permission boundaries and session policy to an allow.
fn limit(
    boundaries: &[CompiledPolicy],
    session: Option<&CompiledPolicy>,
    req: &Request,
    env: Env,
    why: Vec<String>,
) -> EvalResult {
    for b in boundaries {
        if any_allows(std::slice::from_ref(b), req, env).is_empty() {
            return EvalResult {
                decision: Decision::ImplicitlyDenied,
                explanation: vec![format!(
                    "the permission boundary {} does not allow {}",
                    b.0.name, req.action
                )],
                notes: Vec::new(),
            };
        }
    }
    if let Some(s) = session
        && any_allows(std::slice::from_ref(s), req, env).is_empty()
    {
        return EvalResult {
            decision: Decision::ImplicitlyDenied,
            explanation: vec![format!("the session policy does not allow {}", req.action)],
            notes: Vec::new(),
        };
    }
    EvalResult {
        decision: Decision::Allowed,
        explanation: why,
        notes: Vec::new(),
    }
}

/// Lines saying which organization policies and boundaries applied (not deciding statements).
fn notes(set: &PolicySet, req: &Request, is_iam: bool, principal_only: bool) -> Vec<String> {
    let who = match req.caller {
        Caller::Anonymous => "an anonymous caller",
        Caller::Service(_) => "an AWS service principal",
        Caller::Federated(_) => "a web identity or SAML caller",
        Caller::Iam(_) => "",
    };
    let rcp = !principal_only && !set.rcps.is_empty();
    let rcp_line = || {
        format!(
            "RCPs at {} level(s) applied, each with RCPFullAWSAccess attached (it cannot be detached), so only their Deny statements count",
            set.rcps.len()
        )
    };
    let mut out = Vec::new();
    out.push(match (set.scps.is_empty(), rcp) {
        (true, false) if principal_only => "organization: no SCPs given".to_owned(),
        (true, false) => {
            "organization: no SCPs or RCPs given, so the account is taken to be outside an organization"
                .to_owned()
        }
        (false, _) if !is_iam => format!(
            "organization: SCPs do not apply to {who} (they limit IAM principals of member accounts){}",
            if rcp { format!("; {}", rcp_line()) } else { String::new() }
        ),
        (false, true) => format!(
            "organization: SCPs at {} level(s) each allow; {}",
            set.scps.len(),
            rcp_line()
        ),
        (false, false) => format!(
            "organization: SCPs at {} level(s) each allow; no RCPs given",
            set.scps.len()
        ),
        (true, true) => format!("organization: {}; no SCPs given", rcp_line()),
    });
    if !is_iam && (!set.boundaries.is_empty() || !set.identity.is_empty() || set.session.is_some())
    {
        out.push(format!(
            "identity policies, permission boundaries and session policies do not apply to {who}"
        ));
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_only_patterns_match_as_the_glob_does() {
        let ctx = Context::new();
        for (pat, arn) in [
            ("arn:aws:s3:::b/p/*", "arn:aws:s3:::b/p/x:y"),
            ("arn:aws:s3:::b/p/*", "arn:aws:s3:::b/p/"),
            ("arn:aws:s3:::b*", "arn:aws:s3:::bucket/x"),
            ("arn:aws:s3:::b/p/*", "arn:aws:s3:::b/q/x"),
            ("arn:aws:s3::*", "arn:aws:s3:::b/x"),
            (
                "arn:aws:kms:us-east-1:1:key/*",
                "arn:aws:kms:us-east-1:1:key/k",
            ),
        ] {
            let p = Pattern::new(pat);
            let glob = glob::matches_arn(&glob::compile(pat), arn);
            assert_eq!(p.matches_arn(arn, &ctx), glob, "{pat} ~ {arn}");
        }
        assert!(Pattern::new("arn:aws:s3:::b/p/*").prefix_only);
        assert!(!Pattern::new("arn:aws:s3::*").prefix_only);
        assert!(!Pattern::new("arn:aws:s3:::b/*/x*").prefix_only);
    }

    /// The principal index must change nothing but speed: statements scoped to another
    /// account are skipped, those that can match anyone are kept, and explanations keep the
    /// policy's statement order whichever list a statement came from.
    #[test]
    fn principal_index_keeps_order_and_scope() {
        let bucket = r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"A","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:role/reader"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
          {"Sid":"Any","Effect":"Allow","Principal":"*","Action":"s3:Get*","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:PrincipalAccount":"444455556666"}}},
          {"Sid":"Other","Effect":"Allow","Principal":{"AWS":["777788889999","arn:aws:iam::444455556666:root"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
          {"Sid":"Sess","Effect":"Allow","Principal":{"AWS":"arn:aws:sts::444455556666:assumed-role/reader/s1"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
          {"Sid":"DenyOther","Effect":"Deny","Principal":{"AWS":"777788889999"},"Action":"s3:*","Resource":"*"},
          {"Sid":"DenyNot","Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::777788889999:root"},"Action":"s3:DeleteObject","Resource":"*"}
        ]}"#;
        let identity = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"S3:*","Resource":"*"}}"#;
        let set = PolicySet {
            identity: vec![pol("identity", identity)],
            resource: Some(pol("bucket", bucket)),
            ..Default::default()
        };
        let r = evaluate(
            &set,
            &req(SESSION, "s3:getobject", "arn:aws:s3:::b/k", "111122223333"),
        );
        assert_eq!(r.decision, Decision::Allowed, "{r:?}");
        let order: Vec<&str> = r
            .explanation
            .iter()
            .filter_map(|l| l.split('"').nth(1))
            .collect();
        assert_eq!(order, ["A", "Any", "Other", "Sess"], "{r:?}");
        // The other account's deny does not reach this caller; NotPrincipal always applies.
        let d = evaluate(
            &set,
            &req(
                SESSION,
                "s3:DeleteObject",
                "arn:aws:s3:::b/k",
                "111122223333",
            ),
        );
        assert_eq!(d.decision, Decision::ExplicitlyDenied);
        assert!(d.explanation[0].contains("DenyNot"), "{d:?}");
        assert_eq!(d.explanation.len(), 1, "{d:?}");
        let other = "arn:aws:sts::777788889999:assumed-role/reader/s1";
        let o = evaluate(
            &set,
            &req(other, "s3:GetObject", "arn:aws:s3:::b/k", "111122223333"),
        );
        assert_eq!(o.decision, Decision::ExplicitlyDenied);
        assert!(o.explanation[0].contains("DenyOther"), "{o:?}");
        // A third account sees only the statements that can match anyone.
        let third = "arn:aws:sts::121212121212:assumed-role/reader/s1";
        let t = evaluate(
            &set,
            &req(third, "s3:GetObject", "arn:aws:s3:::b/k", "111122223333"),
        );
        assert_eq!(t.decision, Decision::ImplicitlyDenied, "{t:?}");
        let ix = &set.resource.as_ref().unwrap().0.index;
        assert_eq!(ix.always, [vec![1], vec![5]]);
        assert_eq!(ix.by_account.len(), 2);
    }

    /// A principal ARN of another partition never matches: accounts are scoped to one
    /// partition (partitions.html). A bare account ID is taken in the caller's partition.
    #[test]
    fn principals_of_another_partition_never_match() {
        let identity = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
        let with = |principal: &str| PolicySet {
            identity: vec![pol("identity", identity)],
            resource: Some(pol(
                "bucket",
                &format!(
                    r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}}}"#
                ),
            )),
            ..Default::default()
        };
        let get = |set: &PolicySet, caller: &str| {
            evaluate(
                set,
                &req(caller, "s3:GetObject", "arn:aws:s3:::b/k", "111122223333"),
            )
            .decision
        };
        for principal in [
            "arn:aws-cn:iam::444455556666:role/reader",
            "arn:aws-cn:iam::444455556666:root",
        ] {
            assert_eq!(
                get(&with(principal), SESSION),
                Decision::ImplicitlyDenied,
                "{principal}"
            );
            let same = principal.replace("aws-cn", "aws");
            assert_eq!(get(&with(&same), SESSION), Decision::Allowed, "{same}");
        }
        assert_eq!(get(&with("444455556666"), SESSION), Decision::Allowed);
        let cn = "arn:aws-cn:sts::444455556666:assumed-role/reader/s1";
        assert_eq!(
            get(&with("arn:aws-cn:iam::444455556666:role/reader"), cn),
            Decision::Allowed
        );
        // NotPrincipal: listing another partition's account and role exempts nobody here.
        let deny = PolicySet {
            identity: vec![pol("identity", identity)],
            resource: Some(pol(
                "bucket",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws-cn:iam::444455556666:root","arn:aws-cn:iam::444455556666:role/reader","arn:aws:sts::444455556666:assumed-role/reader/s1"]},"Action":"s3:*","Resource":"*"}]}"#,
            )),
            ..Default::default()
        };
        assert_eq!(get(&deny, SESSION), Decision::ExplicitlyDenied);
    }

    #[test]
    fn action_prefix_patterns_fold_case() {
        for (pat, action, hit) in [
            ("s3:*", "S3:GetObject", true),
            ("s3:Get*", "s3:getobject", true),
            ("s3:Get*", "s3:PutObject", false),
            ("s3:Get*", "s3:Ge", false),
            ("s3:*Object", "s3:GetObject", true),
            ("s3:GetObject", "S3:GETOBJECT", true),
        ] {
            let p = ActionPat::new(pat);
            assert_eq!(p.matches(action), hit, "{pat} ~ {action}");
            assert_eq!(glob::matches(&glob::compile(pat), action, true), hit);
        }
        assert!(matches!(ActionPat::new("s3:Get*"), ActionPat::Prefix(_)));
        assert_eq!(strip_service("KMS:Decrypt", "kms"), Some("Decrypt"));
        assert_eq!(strip_service("kms", "kms"), None);
        assert_eq!(strip_service("kmsx:Decrypt", "kms"), None);
    }

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
        // RCPFullAWSAccess is attached at every RCP level and cannot be detached: a level whose
        // custom RCP allows only ec2:* still lets S3 through; only an RCP Deny stops it.
        set.rcps = vec![vec![pol("rcp", ec2only)]];
        let out = evaluate(&set, &r);
        assert_eq!(out.decision, Decision::Allowed);
        assert!(out.notes[0].contains("RCPFullAWSAccess"), "{out:?}");
        let deny = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}}"#;
        set.rcps = vec![vec![], vec![pol("rcp", deny)]];
        assert_eq!(evaluate(&set, &r).decision, Decision::ExplicitlyDenied);
    }

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const ROOT_KEY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":{"Sid":"EnableIAM","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}}"#;
    const ALLOW_DECRYPT: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}}"#;

    fn decrypt(principal: &str, ctx: &[(&str, &str)]) -> Request {
        let mut r = req(principal, "kms:Decrypt", KEY, "111122223333");
        for (k, v) in ctx {
            r.context.set(k, *v);
        }
        r
    }

    #[test]
    fn kms_identity_policy_alone_never_allows_a_key() {
        let mut set = PolicySet {
            identity: vec![pol("identity_policies[0]", ALLOW_DECRYPT)],
            ..Default::default()
        };
        let out = evaluate(&set, &decrypt(ALICE, &[]));
        assert_eq!(out.decision, Decision::ImplicitlyDenied);
        assert!(out.explanation[0].contains("no key policy"), "{out:?}");
        // A key policy that names only someone else: still no.
        set.resource = Some(pol(
            "key policy",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*"}}"#,
        ));
        let out = evaluate(&set, &decrypt(ALICE, &[]));
        assert_eq!(out.decision, Decision::ImplicitlyDenied);
        assert!(
            out.explanation[0].contains("which is not enough"),
            "{out:?}"
        );
        // The account principal enables IAM policies.
        set.resource = Some(pol("key policy", ROOT_KEY_POLICY));
        assert_eq!(
            evaluate(&set, &decrypt(ALICE, &[])).decision,
            Decision::Allowed
        );
        // …but gives nothing by itself.
        set.identity.clear();
        let out = evaluate(&set, &decrypt(ALICE, &[]));
        assert_eq!(out.decision, Decision::ImplicitlyDenied);
        assert!(
            out.explanation[0].contains("delegates to IAM policies"),
            "{out:?}"
        );
        // A key policy naming the user allows in the same account without an IAM policy.
        set.resource = Some(pol(
            "key policy",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}}"#,
        ));
        assert_eq!(
            evaluate(&set, &decrypt(ALICE, &[])).decision,
            Decision::Allowed
        );
        // An IAM Deny works without the key policy enabling IAM.
        set.identity = vec![pol(
            "identity_policies[0]",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"kms:*","Resource":"*"}}"#,
        )];
        assert_eq!(
            evaluate(&set, &decrypt(ALICE, &[])).decision,
            Decision::ExplicitlyDenied
        );
    }

    fn grant(grantee: &str, ops: &[&str], subset: Option<&[(&str, &str)]>) -> KmsGrant {
        let pairs = |c: &[(&str, &str)]| {
            c.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        KmsGrant::new(
            "KMS grant g",
            Some(KEY),
            grantee,
            &ops.iter().map(|o| (*o).to_owned()).collect::<Vec<_>>(),
            subset.map(pairs),
            None,
        )
        .unwrap()
    }

    #[test]
    fn kms_grants_allow_their_grantee_operations_and_context() {
        let role = "arn:aws:iam::444455556666:role/reader";
        let set = |g: KmsGrant| PolicySet {
            resource: Some(pol("key policy", ROOT_KEY_POLICY)),
            kms_grants: vec![g],
            ..Default::default()
        };
        let ctx = [("kms:EncryptionContext:aws:s3:arn", "arn:aws:s3:::b")];
        let s = set(grant(
            role,
            &["Decrypt"],
            Some(&[("aws:s3:arn", "arn:aws:s3:::b")]),
        ));
        // Cross-account, through the grant alone.
        let out = evaluate(&s, &decrypt(SESSION, &ctx));
        assert_eq!(out.decision, Decision::Allowed, "{out:?}");
        assert!(out.explanation[0].contains("KMS grant g"));
        // Not another operation, not without the context, not with another value's case.
        let mut r = decrypt(SESSION, &ctx);
        r.action = "kms:GenerateDataKey".into();
        assert_eq!(evaluate(&s, &r).decision, Decision::ImplicitlyDenied);
        assert_eq!(
            evaluate(&s, &decrypt(SESSION, &[])).decision,
            Decision::ImplicitlyDenied
        );
        assert_eq!(
            evaluate(
                &s,
                &decrypt(
                    SESSION,
                    &[("kms:EncryptionContext:aws:s3:arn", "arn:aws:s3:::B")]
                )
            )
            .decision,
            Decision::ImplicitlyDenied
        );
        // Constraint keys are case-insensitive; extra pairs are fine for a subset.
        let s2 = set(grant(
            role,
            &["Decrypt"],
            Some(&[("AWS:S3:ARN", "arn:aws:s3:::b")]),
        ));
        assert_eq!(
            evaluate(
                &s2,
                &decrypt(SESSION, &[ctx[0], ("kms:EncryptionContext:team", "x")])
            )
            .decision,
            Decision::Allowed
        );
        // Equals: exactly the pairs.
        let eq = KmsGrant::new(
            "g",
            None,
            role,
            &["Decrypt".to_owned()],
            None,
            Some(vec![("aws:s3:arn".into(), "arn:aws:s3:::b".into())]),
        )
        .unwrap();
        let s3 = set(eq);
        assert_eq!(
            evaluate(&s3, &decrypt(SESSION, &ctx)).decision,
            Decision::Allowed
        );
        assert_eq!(
            evaluate(
                &s3,
                &decrypt(SESSION, &[ctx[0], ("kms:EncryptionContext:team", "x")])
            )
            .decision,
            Decision::ImplicitlyDenied
        );
        // Constraints do not apply to DescribeKey.
        let s4 = set(grant(
            role,
            &["DescribeKey"],
            Some(&[("aws:s3:arn", "arn:aws:s3:::b")]),
        ));
        let mut r = decrypt(SESSION, &[]);
        r.action = "kms:DescribeKey".into();
        assert_eq!(evaluate(&s4, &r).decision, Decision::Allowed);
        // Another role of the account is not the grantee; a grant for another key does not count.
        assert_eq!(
            evaluate(
                &s,
                &decrypt("arn:aws:sts::444455556666:assumed-role/writer/s1", &ctx)
            )
            .decision,
            Decision::ImplicitlyDenied
        );
        let other_key = KmsGrant::new(
            "g",
            Some("arn:aws:kms:us-east-1:111122223333:key/other"),
            role,
            &["Decrypt".to_owned()],
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            evaluate(&set(other_key), &decrypt(SESSION, &ctx)).decision,
            Decision::ImplicitlyDenied
        );
        // A bad operation is an error naming it.
        let e = KmsGrant::new("g", None, role, &["Delete".to_owned()], None, None).unwrap_err();
        assert!(e.starts_with("Operations[0]"), "{e}");
    }

    #[test]
    fn trust_policy_must_allow_even_in_the_same_account() {
        let role = "arn:aws:iam::111122223333:role/target";
        let assume = |p: &str| req(p, "sts:AssumeRole", role, "111122223333");
        let allow_assume = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#;
        let mut set = PolicySet {
            identity: vec![pol("id", allow_assume)],
            ..Default::default()
        };
        assert_eq!(
            evaluate(&set, &assume(ALICE)).decision,
            Decision::ImplicitlyDenied
        );
        // Trust naming the account delegates to IAM: the identity policy then counts.
        set.resource = Some(pol(
            "trust policy",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#,
        ));
        assert_eq!(evaluate(&set, &assume(ALICE)).decision, Decision::Allowed);
        let no_identity = PolicySet {
            resource: set.resource.clone(),
            ..Default::default()
        };
        assert_eq!(
            evaluate(&no_identity, &assume(ALICE)).decision,
            Decision::ImplicitlyDenied
        );
        // Trust naming the user: no identity policy needed, but a boundary still limits it.
        let named = PolicySet {
            resource: Some(pol(
                "trust policy",
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:AssumeRole"}}"#,
            )),
            ..Default::default()
        };
        assert_eq!(evaluate(&named, &assume(ALICE)).decision, Decision::Allowed);
        let bounded = PolicySet {
            boundaries: vec![pol("boundary", ALLOW_GET)],
            ..named.clone()
        };
        assert_eq!(
            evaluate(&bounded, &assume(ALICE)).decision,
            Decision::ImplicitlyDenied
        );
        // Cross-account, the trust naming the caller is not enough without an identity policy.
        let cross = req(SESSION, "sts:AssumeRole", role, "111122223333");
        let trust_session = PolicySet {
            resource: Some(pol(
                "trust policy",
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:role/reader"},"Action":"sts:AssumeRole"}}"#,
            )),
            ..Default::default()
        };
        assert_eq!(
            evaluate(&trust_session, &cross).decision,
            Decision::ImplicitlyDenied
        );
        let both = PolicySet {
            identity: vec![pol("id", allow_assume)],
            ..trust_session
        };
        assert_eq!(evaluate(&both, &cross).decision, Decision::Allowed);
        // Anonymous callers cannot assume roles.
        let anon = Request {
            caller: Caller::Anonymous,
            ..assume(ALICE)
        };
        assert_eq!(evaluate(&both, &anon).decision, Decision::ImplicitlyDenied);
    }

    #[test]
    fn not_principal_exempts_only_the_whole_chain() {
        let deny = |listed: &str| {
            pol(
                "resource_policy",
                &format!(
                    r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}},{{"Effect":"Deny","NotPrincipal":{{"AWS":[{listed}]}},"Action":"s3:*","Resource":"*"}}]}}"#
                ),
            )
        };
        let session = "arn:aws:sts::444455556666:assumed-role/reader/s1";
        let r = req(session, "s3:GetObject", "arn:aws:s3:::b/k", "444455556666");
        let decide = |listed: &str, boundary: bool| {
            let set = PolicySet {
                resource: Some(deny(listed)),
                boundaries: if boundary {
                    vec![pol("b", ALLOW_GET)]
                } else {
                    vec![]
                },
                ..Default::default()
            };
            evaluate(&set, &r).decision
        };
        let acct = r#""arn:aws:iam::444455556666:root""#;
        let role = r#""arn:aws:iam::444455556666:role/reader""#;
        let sess = format!("\"{session}\"");
        assert_eq!(decide(acct, false), Decision::ExplicitlyDenied);
        assert_eq!(decide(role, false), Decision::ExplicitlyDenied);
        assert_eq!(
            decide(&format!("{acct},{role}"), false),
            Decision::ExplicitlyDenied
        );
        assert_eq!(
            decide(&format!("{role},{sess}"), false),
            Decision::ExplicitlyDenied
        );
        assert_eq!(
            decide(&format!("{acct},{role},{sess}"), false),
            Decision::Allowed
        );
        // With a permissions boundary, NotPrincipal + Deny always denies.
        assert_eq!(
            decide(&format!("{acct},{role},{sess}"), true),
            Decision::ExplicitlyDenied
        );
        // A user: user ARN and account.
        let user = req(ALICE, "s3:GetObject", "arn:aws:s3:::b/k", "111122223333");
        let set = |l: &str| PolicySet {
            resource: Some(deny(l)),
            ..Default::default()
        };
        let alice = format!("\"{ALICE}\"");
        assert_eq!(
            evaluate(&set(&alice), &user).decision,
            Decision::ExplicitlyDenied
        );
        assert_eq!(
            evaluate(&set(&format!("{alice},\"111122223333\"")), &user).decision,
            Decision::Allowed
        );
    }

    #[test]
    fn anonymous_skips_scps_and_boundaries_but_not_rcps() {
        let public = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
        let deny_all =
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#;
        let rcp_deny = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"Null":{"aws:PrincipalAccount":"true"}}}}"#;
        let r = Request {
            caller: Caller::Anonymous,
            action: "s3:GetObject".into(),
            resource: "arn:aws:s3:::b/k".into(),
            resource_account: Some("111122223333".into()),
            context: Context::new(),
        }
        .with_global_keys();
        let mut set = PolicySet {
            resource: Some(pol("resource_policy", public)),
            scps: vec![vec![pol("scp", deny_all)]],
            boundaries: vec![pol("boundary", deny_all)],
            ..Default::default()
        };
        let out = evaluate(&set, &r);
        assert_eq!(out.decision, Decision::Allowed, "{out:?}");
        assert!(out.notes[0].contains("SCPs do not apply to an anonymous caller"));
        set.rcps = vec![vec![pol("rcp", rcp_deny)]];
        assert_eq!(evaluate(&set, &r).decision, Decision::ExplicitlyDenied);
    }

    #[test]
    fn always_and_never_allowed() {
        let deny_all =
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#;
        let allow_all = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
        let denied = PolicySet {
            identity: vec![pol("id", deny_all)],
            ..Default::default()
        };
        let who = req(ALICE, "sts:GetCallerIdentity", "*", "111122223333");
        assert_eq!(evaluate(&denied, &who).decision, Decision::Allowed);
        let admin = PolicySet {
            identity: vec![pol("id", allow_all)],
            ..Default::default()
        };
        for (action, resource) in [
            (
                "iam:CreatePolicyVersion",
                "arn:aws:iam::aws:policy/ReadOnlyAccess",
            ),
            (
                "iam:DeletePolicy",
                "arn:aws-cn:iam::aws:policy/AdministratorAccess",
            ),
            (
                "iam:UpdateAssumeRolePolicy",
                "arn:aws:iam::111122223333:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
            ),
            (
                "kms:CreateAlias",
                "arn:aws:kms:us-east-1:111122223333:alias/aws/s3",
            ),
        ] {
            let out = evaluate(&admin, &req(ALICE, action, resource, "111122223333"));
            assert_eq!(out.decision, Decision::ExplicitlyDenied, "{action}");
            assert!(out.explanation[0].contains("whatever the policies allow"));
        }
        // A customer managed policy and a description update of an SLR are fine.
        for (action, resource) in [
            (
                "iam:CreatePolicyVersion",
                "arn:aws:iam::111122223333:policy/mine",
            ),
            (
                "kms:CreateAlias",
                "arn:aws:kms:us-east-1:111122223333:alias/my-key",
            ),
        ] {
            assert_eq!(
                evaluate(&admin, &req(ALICE, action, resource, "111122223333")).decision,
                Decision::Allowed,
                "{action}"
            );
        }
    }

    #[test]
    fn global_keys_per_principal_type() {
        let keys = |p: &str| req(p, "s3:GetObject", "arn:aws:s3:::b/k", "111122223333").context;
        let c = keys("arn:aws-cn:sts::111122223333:assumed-role/reader/s1");
        assert_eq!(
            c.get("aws:PrincipalArn").unwrap(),
            ["arn:aws-cn:iam::111122223333:role/reader"]
        );
        assert_eq!(c.get("aws:PrincipalType").unwrap(), ["AssumedRole"]);
        assert!(c.get("aws:username").is_none());
        assert!(c.get("aws:userid").is_none());
        let Caller::Iam(mut id) =
            Caller::parse("arn:aws-us-gov:sts::111122223333:assumed-role/reader/s1").unwrap()
        else {
            panic!()
        };
        id.path = "/team/".into();
        id.unique_id = Some("AROAEXAMPLEID1234567".into());
        let r = Request {
            caller: Caller::Iam(id),
            action: "s3:GetObject".into(),
            resource: "*".into(),
            resource_account: None,
            context: Context::new(),
        }
        .with_global_keys();
        assert_eq!(
            r.context.get("aws:PrincipalArn").unwrap(),
            ["arn:aws-us-gov:iam::111122223333:role/team/reader"]
        );
        assert_eq!(
            r.context.get("aws:userid").unwrap(),
            ["AROAEXAMPLEID1234567:s1"]
        );
        let u = keys("arn:aws:iam::111122223333:user/division/alice");
        assert_eq!(u.get("aws:username").unwrap(), ["alice"]);
        assert_eq!(u.get("aws:PrincipalType").unwrap(), ["User"]);
        let root = keys("arn:aws:iam::111122223333:root");
        assert_eq!(root.get("aws:userid").unwrap(), ["111122223333"]);
        assert_eq!(root.get("aws:PrincipalType").unwrap(), ["Account"]);
        let fed = keys("arn:aws:sts::111122223333:federated-user/bob");
        assert_eq!(fed.get("aws:userid").unwrap(), ["111122223333:bob"]);
        assert_eq!(fed.get("aws:PrincipalType").unwrap(), ["FederatedUser"]);
        assert!(Caller::parse("arn:aws:iam::111122223333:group/admins").is_err());
        assert!(
            Caller::parse("arn:foo:iam::111122223333:root")
                .unwrap_err()
                .contains("partition")
        );
    }

    #[test]
    fn unknown_resource_account_is_never_same_account() {
        let set = PolicySet {
            identity: vec![pol("identity_policies[0]", ALLOW_GET)],
            ..Default::default()
        };
        let mut r = req(ALICE, "s3:GetObject", "arn:aws:s3:::b/k", "111122223333");
        r.resource_account = None;
        let out = evaluate(&set, &r);
        assert_eq!(out.decision, Decision::ImplicitlyDenied);
        assert!(out.explanation[0].contains("not known"), "{out:?}");
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

//! Rendering policies from the registry.
//!
//! One renderer feeds every writer (DESIGN.md, decision 2): the policy-reconciler applies what is
//! rendered here, the governance check compares the live policy with it, and `warden policy
//! render` shows it. Sizes are measured against AWS's limits before anything is applied.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::model::{CondValues, Effect, Policy, Principal, Statement, StrList};
use crate::grant::{AccessLevel, AccountId, ExternalId, Grant, Prefix, Registry, Timestamp};

/// AWS's bucket policy limit (20 KB).
pub const BUCKET_POLICY_BUDGET: usize = 20 * 1024;
/// AWS's key policy limit (32 KB).
pub const KEY_POLICY_BUDGET: usize = 32 * 1024;
/// AWS's default role trust policy limit (2,048 characters; can be raised to 4,096).
pub const TRUST_POLICY_BUDGET: usize = 2048;
/// AWS's limit on an inline session policy passed to AssumeRole (2,048 characters).
pub const SESSION_POLICY_BUDGET: usize = 2048;

/// Object actions of a read grant.
pub const READ_OBJECT_ACTIONS: [&str; 4] = [
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectTagging",
    "s3:GetObjectAttributes",
];
/// Additional object actions of a read-write grant.
pub const WRITE_OBJECT_ACTIONS: [&str; 6] = [
    "s3:PutObject",
    "s3:PutObjectTagging",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
];
/// Bucket-level listing actions, restricted by `s3:prefix`.
pub const LIST_ACTIONS: [&str; 2] = ["s3:ListBucket", "s3:ListBucketVersions"];
/// KMS operations a reader needs on objects encrypted with SSE-KMS.
pub const KMS_READ_OPERATIONS: [&str; 2] = ["Decrypt", "DescribeKey"];
/// KMS operations a writer needs in addition (SSE-KMS uploads generate data keys).
pub const KMS_WRITE_OPERATIONS: [&str; 2] = ["GenerateDataKey", "Encrypt"];
/// Session tag keys Warden sets when vending credentials.
pub const SESSION_TAG_KEYS: [&str; 3] = ["warden-account", "warden-prefix", "warden-level"];

/// The stack's settings the renderer needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderSettings {
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: String,
    /// Region of the bucket (for `kms:ViaService`).
    pub region: String,
    /// The account that owns the bucket and key.
    pub primary_account: AccountId,
    /// The shared bucket's name.
    pub bucket: String,
    /// The customer-managed key encrypting the bucket.
    pub kms_key_arn: String,
    /// Name of the consumer role in every consumer account.
    pub consumer_role_name: String,
    /// Whether assuming a consumer role requires MFA.
    pub require_mfa: bool,
    /// The access-validator's role, trusted to vend credentials on consumer roles.
    pub vending_role_arn: Option<String>,
}

impl RenderSettings {
    /// The bucket ARN.
    #[must_use]
    pub fn bucket_arn(&self) -> String {
        format!("arn:{}:s3:::{}", self.partition, self.bucket)
    }
    /// The consumer role ARN in `account` (deterministic, so no cross-state lookups).
    #[must_use]
    pub fn consumer_role_arn(&self, account: &AccountId) -> String {
        format!(
            "arn:{}:iam::{}:role/{}",
            self.partition, account, self.consumer_role_name
        )
    }
    fn object_arn(&self, prefix: &Prefix) -> String {
        format!("{}/{}*", self.bucket_arn(), prefix)
    }
}

/// The renderer refused: a limit would be exceeded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// A rendered document is over its AWS size limit.
    #[error("{what} is {size} bytes, {over} over the {budget}-byte limit AWS enforces; {advice}")]
    OverBudget {
        /// Which document.
        what: String,
        /// Its size.
        size: usize,
        /// The limit.
        budget: usize,
        /// `size - budget`.
        over: usize,
        /// What to do about it.
        advice: &'static str,
    },
}

fn check_budget(
    what: &str,
    size: usize,
    budget: usize,
    advice: &'static str,
) -> Result<(), RenderError> {
    if size > budget {
        Err(RenderError::OverBudget {
            what: what.to_owned(),
            size,
            budget,
            over: size - budget,
            advice,
        })
    } else {
        Ok(())
    }
}

/// A rendered document and its measured size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    /// The document.
    pub policy: Policy,
    /// Compact JSON size in bytes (what AWS measures).
    pub size: usize,
    /// The limit it was measured against.
    pub budget: usize,
}

impl Rendered {
    pub(crate) fn new(policy: Policy, budget: usize) -> Self {
        let size = policy.to_compact_json().len();
        Rendered {
            policy,
            size,
            budget,
        }
    }
}

/// The baseline statements Terraform owns: TLS only, SSE-KMS only, this key only.
#[must_use]
pub fn baseline_statements(s: &RenderSettings) -> Vec<Statement> {
    let bucket = s.bucket_arn();
    let objects = format!("{bucket}/*");
    let mut tls = Statement::new(Effect::Deny).with_condition(
        "Bool",
        "aws:SecureTransport",
        CondValues::strs(["false"]),
    );
    tls.sid = Some("DenyInsecureTransport".into());
    tls.principal = Some(Principal::Any);
    tls.action = Some(StrList::of(["s3:*"]));
    tls.resource = Some(StrList::of([bucket.clone(), objects.clone()]));

    let mut sse = Statement::new(Effect::Deny).with_condition(
        "StringNotEquals",
        "s3:x-amz-server-side-encryption",
        CondValues::strs(["aws:kms", "aws:kms:dsse"]),
    );
    sse.sid = Some("DenyUploadsWithoutSseKms".into());
    sse.principal = Some(Principal::Any);
    sse.action = Some(StrList::of(["s3:PutObject"]));
    sse.resource = Some(StrList::of([objects.clone()]));

    let mut key = Statement::new(Effect::Deny).with_condition(
        "StringNotEqualsIfExists",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        CondValues::strs([s.kms_key_arn.clone()]),
    );
    key.sid = Some("DenyUploadsWithOtherKmsKey".into());
    key.principal = Some(Principal::Any);
    key.action = Some(StrList::of(["s3:PutObject"]));
    key.resource = Some(StrList::of([objects.clone()]));

    // `aws:kms` without a key id makes S3 use the AWS managed key aws/s3, which no consumer in
    // another account can decrypt and which escapes this key's policy and grants: deny it. The
    // encryption header is required to be present (StringEquals), so UploadPart requests, which
    // carry no SSE headers, are not caught.
    // https://sdk.amazonaws.com/kotlin/api/latest/s3/aws.sdk.kotlin.services.s3.model/-put-object-request/ssekms-key-id.html
    let mut no_key = Statement::new(Effect::Deny)
        .with_condition(
            "StringEquals",
            "s3:x-amz-server-side-encryption",
            CondValues::strs(["aws:kms", "aws:kms:dsse"]),
        )
        .with_condition(
            "Null",
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
            CondValues::strs(["true"]),
        );
    no_key.sid = Some("DenyKmsUploadsWithoutKeyId".into());
    no_key.principal = Some(Principal::Any);
    no_key.action = Some(StrList::of(["s3:PutObject"]));
    no_key.resource = Some(StrList::of([objects]));
    vec![tls, sse, key, no_key]
}

type GroupKey = (AccessLevel, Timestamp, Vec<String>);

/// Pack active grants: first the set of roles per (level, expiry, prefix), then prefixes that
/// share the same roles, level and expiry go into one statement. Principals sharing prefixes
/// and level thus share a statement, and a prefix shared by many accounts is written once.
fn groups(
    registry: &Registry,
    s: &RenderSettings,
    now: DateTime<Utc>,
) -> BTreeMap<GroupKey, Vec<Prefix>> {
    let mut per_prefix: BTreeMap<(AccessLevel, Timestamp, Prefix), Vec<String>> = BTreeMap::new();
    for g in registry.active(now) {
        for p in &g.allowed_prefixes {
            per_prefix
                .entry((g.access_level, g.expiration_date, p.clone()))
                .or_default()
                .push(s.consumer_role_arn(&g.account_id));
        }
    }
    let mut out: BTreeMap<GroupKey, Vec<Prefix>> = BTreeMap::new();
    for ((level, expiry, prefix), mut roles) in per_prefix {
        roles.sort();
        roles.dedup();
        out.entry((level, expiry, roles)).or_default().push(prefix);
    }
    out
}

pub(crate) fn expiry_condition(st: Statement, expiry: &Timestamp) -> Statement {
    st.with_condition(
        "DateLessThan",
        "aws:CurrentTime",
        CondValues::strs([expiry.to_rfc3339()]),
    )
}

fn level_word(level: AccessLevel) -> &'static str {
    match level {
        AccessLevel::Read => "Read",
        AccessLevel::ReadWrite => "ReadWrite",
    }
}

pub(crate) fn object_actions(level: AccessLevel) -> Vec<&'static str> {
    let mut a: Vec<&str> = READ_OBJECT_ACTIONS.to_vec();
    if level.can_write() {
        a.extend(WRITE_OBJECT_ACTIONS);
    }
    a
}

/// Render the bucket policy: baseline denies, then two statements per group of grants (objects
/// under the prefixes; listing restricted with `s3:prefix`), each expiring with the grant.
///
/// # Errors
/// [`RenderError::OverBudget`] when the policy would exceed 20 KB.
pub fn bucket_policy(
    registry: &Registry,
    s: &RenderSettings,
    now: DateTime<Utc>,
) -> Result<Rendered, RenderError> {
    bucket_policy_with_baseline(registry, s, baseline_statements(s), now)
}

/// Render the bucket policy on top of given baseline statements (the ones Terraform owns and
/// hands to the policy-reconciler).
///
/// # Errors
/// [`RenderError::OverBudget`] when the policy would exceed 20 KB.
pub fn bucket_policy_with_baseline(
    registry: &Registry,
    s: &RenderSettings,
    baseline: Vec<Statement>,
    now: DateTime<Utc>,
) -> Result<Rendered, RenderError> {
    let mut statements = baseline;
    for (n, ((level, expiry, roles), prefixes)) in groups(registry, s, now).into_iter().enumerate()
    {
        let mut objects = Statement::new(Effect::Allow);
        objects.sid = Some(format!("Grant{n}{}Objects", level_word(level)));
        objects.principal = Some(Principal::aws(roles.clone()));
        objects.action = Some(StrList::of(object_actions(level)));
        objects.resource = Some(StrList::of(prefixes.iter().map(|p| s.object_arn(p))));
        statements.push(expiry_condition(objects, &expiry));

        let mut list = Statement::new(Effect::Allow).with_condition(
            "StringLike",
            "s3:prefix",
            CondValues::strs(prefixes.iter().map(|p| format!("{p}*"))),
        );
        list.sid = Some(format!("Grant{n}{}List", level_word(level)));
        list.principal = Some(Principal::aws(roles));
        list.action = Some(StrList::of(LIST_ACTIONS));
        list.resource = Some(StrList::of([s.bucket_arn()]));
        statements.push(expiry_condition(list, &expiry));
    }
    let r = Rendered::new(Policy::new(statements), BUCKET_POLICY_BUDGET);
    check_budget(
        "the bucket policy",
        r.size,
        BUCKET_POLICY_BUDGET,
        "give grants that share prefixes and level the same expiry so they pack into one statement, shorten prefixes, or move consumers to one S3 Access Point each (`warden policy render --sharing-mode auto`; DESIGN.md, decision 3)",
    )?;
    Ok(r)
}

/// A KMS grant Warden keeps for one consumer role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct KmsGrantSpec {
    /// Grant name (idempotency: the reconciler creates it once).
    pub name: String,
    /// Consumer account.
    pub account_id: String,
    /// The consumer role.
    pub grantee_principal: String,
    /// KMS operations.
    pub operations: Vec<String>,
    /// `EncryptionContextSubset` constraint: the bucket ARN (S3 Bucket Keys put the bucket ARN,
    /// not the object ARN, in the encryption context).
    pub encryption_context_subset: BTreeMap<String, String>,
}

/// The KMS side: key-policy statements for consumers and one grant spec per (account, level).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KmsRender {
    /// The statements to add to the key policy (after the account-admin statement).
    pub key_policy: Rendered,
    /// The grants to keep in place.
    pub grants: Vec<KmsGrantSpec>,
}

/// The key policy Terraform starts from: the primary account administers the key.
#[must_use]
pub fn key_admin_statement(s: &RenderSettings) -> Statement {
    let mut st = Statement::new(Effect::Allow);
    st.sid = Some("EnableRootAccountAdministration".into());
    st.principal = Some(Principal::aws([format!(
        "arn:{}:iam::{}:root",
        s.partition, s.primary_account
    )]));
    st.action = Some(StrList::of(["kms:*"]));
    st.resource = Some(StrList::of(["*"]));
    st
}

/// The KMS grant specs for the active grants of `registry`: one per (account, level), sorted by
/// name. The same specs as [`kms`] returns, without the key policy (so no size limit applies).
#[must_use]
pub fn kms_grants(
    registry: &Registry,
    s: &RenderSettings,
    now: DateTime<Utc>,
) -> Vec<KmsGrantSpec> {
    let bucket_arn = s.bucket_arn();
    let mut grants: Vec<KmsGrantSpec> = registry
        .active(now)
        .map(|g| {
            let mut ops: Vec<String> = KMS_READ_OPERATIONS
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            if g.access_level.can_write() {
                ops.extend(KMS_WRITE_OPERATIONS.iter().map(|s| (*s).to_owned()));
            }
            KmsGrantSpec {
                name: format!("warden-{}-{}", g.account_id, g.access_level.as_str()),
                account_id: g.account_id.to_string(),
                grantee_principal: s.consumer_role_arn(&g.account_id),
                operations: ops,
                encryption_context_subset: BTreeMap::from([(
                    "aws:s3:arn".to_owned(),
                    bucket_arn.clone(),
                )]),
            }
        })
        .collect();
    grants.sort();
    grants.dedup_by(|a, b| a.name == b.name);
    grants
}

/// Render the key policy (admin statement plus consumer statements) and the KMS grant specs.
///
/// # Errors
/// [`RenderError::OverBudget`] when the key policy would exceed 32 KB.
pub fn kms(
    registry: &Registry,
    s: &RenderSettings,
    now: DateTime<Utc>,
) -> Result<KmsRender, RenderError> {
    let mut by_level: BTreeMap<AccessLevel, Vec<String>> = BTreeMap::new();
    for g in registry.active(now) {
        by_level
            .entry(g.access_level)
            .or_default()
            .push(s.consumer_role_arn(&g.account_id));
    }
    let grants = kms_grants(registry, s, now);
    let bucket_arn = s.bucket_arn();
    let mut statements = vec![key_admin_statement(s)];
    for (level, mut roles) in by_level {
        roles.sort();
        roles.dedup();
        let mut actions = vec!["kms:Decrypt", "kms:DescribeKey"];
        if level.can_write() {
            actions.extend(["kms:GenerateDataKey", "kms:Encrypt"]);
        }
        let mut st = Statement::new(Effect::Allow)
            .with_condition(
                "StringEquals",
                "kms:ViaService",
                CondValues::strs([format!("s3.{}.amazonaws.com", s.region)]),
            )
            .with_condition(
                "StringLike",
                "kms:EncryptionContext:aws:s3:arn",
                CondValues::strs([bucket_arn.clone(), format!("{bucket_arn}/*")]),
            );
        st.sid = Some(format!("AllowConsumers{}ViaS3", level_word(level)));
        st.principal = Some(Principal::aws(roles));
        st.action = Some(StrList::of(actions));
        st.resource = Some(StrList::of(["*"]));
        statements.push(st);
    }
    let r = Rendered::new(Policy::new(statements), KEY_POLICY_BUDGET);
    check_budget(
        "the key policy",
        r.size,
        KEY_POLICY_BUDGET,
        "rely on the KMS grants alone for consumers (drop the key-policy consumer statements) or split consumers across keys",
    )?;
    Ok(KmsRender {
        key_policy: r,
        grants,
    })
}

/// Render the trust policy of the consumer role in `account`.
///
/// # Errors
/// [`RenderError::OverBudget`] over 2,048 characters.
pub fn trust_policy(
    account: &AccountId,
    external_id: &ExternalId,
    s: &RenderSettings,
) -> Result<Rendered, RenderError> {
    let mut assume = Statement::new(Effect::Allow).with_condition(
        "StringEquals",
        "sts:ExternalId",
        CondValues::strs([external_id.as_str()]),
    );
    if s.require_mfa {
        assume = assume.with_condition(
            "Bool",
            "aws:MultiFactorAuthPresent",
            CondValues::strs(["true"]),
        );
    }
    assume.sid = Some("AllowConsumerAccountPrincipals".into());
    assume.principal = Some(Principal::aws([format!(
        "arn:{}:iam::{account}:root",
        s.partition
    )]));
    assume.action = Some(StrList::of(["sts:AssumeRole"]));
    // The consumer account's own principals may not set session tags: the `warden-*` tags are
    // attribution the validator vouches for, and nobody else may forge them.
    let mut statements = vec![assume];
    if let Some(v) = &s.vending_role_arn {
        // The vending role is named through the primary account root and an `aws:PrincipalArn`
        // condition: the consumer role is created before the primary stack, and IAM refuses a
        // principal that does not exist yet.
        let primary_root = format!("arn:{}:iam::{}:root", s.partition, s.primary_account);
        let mut vend = Statement::new(Effect::Allow)
            .with_condition(
                "StringEquals",
                "sts:ExternalId",
                CondValues::strs([external_id.as_str()]),
            )
            .with_condition(
                "ArnEquals",
                "aws:PrincipalArn",
                CondValues::strs([v.clone()]),
            );
        vend.sid = Some("AllowWardenCredentialVending".into());
        vend.principal = Some(Principal::aws([primary_root.clone()]));
        vend.action = Some(StrList::of(["sts:AssumeRole"]));
        let mut tags = Statement::new(Effect::Allow)
            .with_condition(
                "ArnEquals",
                "aws:PrincipalArn",
                CondValues::strs([v.clone()]),
            )
            .with_condition(
                "ForAllValues:StringEquals",
                "aws:TagKeys",
                CondValues::strs(SESSION_TAG_KEYS),
            );
        tags.sid = Some("AllowWardenSessionTagsAndSourceIdentity".into());
        tags.principal = Some(Principal::aws([primary_root]));
        tags.action = Some(StrList::of(["sts:TagSession", "sts:SetSourceIdentity"]));
        statements.push(vend);
        statements.push(tags);
    }
    let r = Rendered::new(Policy::new(statements), TRUST_POLICY_BUDGET);
    check_budget(
        "the trust policy",
        r.size,
        TRUST_POLICY_BUDGET,
        "shorten the external ID or ask AWS to raise the trust policy limit to 4,096 characters",
    )?;
    Ok(r)
}

/// The identity policy of the consumer role in `account`: what its grants allow, nothing more.
#[must_use]
pub fn consumer_role_policy(
    registry: &Registry,
    account: &AccountId,
    s: &RenderSettings,
    now: DateTime<Utc>,
) -> Policy {
    consumer_role_policy_with(registry, account, s, now, None)
}

/// [`consumer_role_policy`], also naming the consumer's access point (`access_point`: its ARN)
/// as `consumer-role/` does: through an access point S3 authorizes the request on the access
/// point's ARNs.
#[must_use]
pub fn consumer_role_policy_with(
    registry: &Registry,
    account: &AccountId,
    s: &RenderSettings,
    now: DateTime<Utc>,
    access_point: Option<&str>,
) -> Policy {
    let mut statements = Vec::new();
    for (n, g) in registry
        .active(now)
        .filter(|g| &g.account_id == account)
        .enumerate()
    {
        statements.extend(grant_statements(g, &g.allowed_prefixes, s, n, None));
        if let Some(ap) = access_point {
            // Objects and listing through the access point; the KMS statement is the same.
            statements.extend(
                grant_statements(g, &g.allowed_prefixes, s, n, Some(ap))
                    .into_iter()
                    .take(2)
                    .map(|mut st| {
                        st.sid = st.sid.map(|sid| format!("{sid}ViaAccessPoint"));
                        st
                    }),
            );
        }
    }
    Policy::new(statements)
}

fn grant_statements(
    g: &Grant,
    prefixes: &[Prefix],
    s: &RenderSettings,
    n: usize,
    access_point: Option<&str>,
) -> Vec<Statement> {
    let mut objects = Statement::new(Effect::Allow);
    objects.sid = Some(format!("Objects{n}"));
    objects.action = Some(StrList::of(object_actions(g.access_level)));
    objects.resource = Some(StrList::of(prefixes.iter().map(|p| match access_point {
        // Through an access point S3 authorizes the request on the access point's object ARN.
        Some(ap) => format!("{ap}/object/{p}*"),
        None => s.object_arn(p),
    })));
    let mut list = Statement::new(Effect::Allow).with_condition(
        "StringLike",
        "s3:prefix",
        CondValues::strs(prefixes.iter().map(|p| format!("{p}*"))),
    );
    list.sid = Some(format!("List{n}"));
    list.action = Some(StrList::of(LIST_ACTIONS));
    list.resource = Some(StrList::of([
        access_point.map_or_else(|| s.bucket_arn(), str::to_owned)
    ]));
    let mut key = Statement::new(Effect::Allow);
    key.sid = Some(format!("Kms{n}"));
    let mut actions = vec!["kms:Decrypt", "kms:DescribeKey"];
    if g.access_level.can_write() {
        actions.extend(["kms:GenerateDataKey", "kms:Encrypt"]);
    }
    key.action = Some(StrList::of(actions));
    key.resource = Some(StrList::of([s.kms_key_arn.clone()]));
    vec![
        expiry_condition(objects, &g.expiration_date),
        expiry_condition(list, &g.expiration_date),
        expiry_condition(key, &g.expiration_date),
    ]
}

/// The session policy for vended credentials: one prefix of one grant, at the grant's level, on
/// the bucket or, for a consumer on the access-point tier, on its access point (`access_point`:
/// the access point's ARN).
///
/// # Errors
/// [`RenderError::OverBudget`] over 2,048 characters.
pub fn session_policy(
    g: &Grant,
    prefix: &Prefix,
    s: &RenderSettings,
    access_point: Option<&str>,
) -> Result<Rendered, RenderError> {
    let policy = Policy::new(grant_statements(
        g,
        std::slice::from_ref(prefix),
        s,
        0,
        access_point,
    ));
    let r = Rendered::new(policy, SESSION_POLICY_BUDGET);
    check_budget(
        "the session policy",
        r.size,
        SESSION_POLICY_BUDGET,
        "shorten the prefix",
    )?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::GrantInput;
    use crate::policy::condition::Context;
    use crate::policy::eval::{Caller, CompiledPolicy, Decision, PolicySet, Request, evaluate};
    use crate::policy::model::PolicyKind;

    fn settings() -> RenderSettings {
        RenderSettings {
            partition: "aws".into(),
            region: "us-east-1".into(),
            primary_account: AccountId::parse("999999999999").unwrap(),
            bucket: "warden-shared".into(),
            kms_key_arn: "arn:aws:kms:us-east-1:999999999999:key/abc".into(),
            consumer_role_name: "warden-consumer".into(),
            require_mfa: true,
            vending_role_arn: Some("arn:aws:iam::999999999999:role/warden-access-validator".into()),
        }
    }

    fn now() -> DateTime<Utc> {
        Timestamp::parse("2026-11-22T12:00:00Z").unwrap().0
    }

    fn registry(n: usize, same: bool) -> Registry {
        let grants = (0..n)
            .map(|i| {
                let input = GrantInput {
                    account_id: format!("{:012}", 100_000_000_000u64 + i as u64),
                    name: None,
                    allowed_prefixes: if same {
                        vec!["shared/".into()]
                    } else {
                        vec![format!("team-{i}/"), format!("common-{i}/")]
                    },
                    access_level: if i % 3 == 0 {
                        "read-write".into()
                    } else {
                        "read".into()
                    },
                    expiration_date: "2027-06-30T00:00:00Z".into(),
                    owner_email: None,
                    external_id: None,
                    created_by: None,
                    created_at: None,
                };
                Grant::from_input(&input, now()).unwrap()
            })
            .collect();
        Registry::new(grants).unwrap()
    }

    #[test]
    fn bucket_policy_packs_and_validates() {
        let r = bucket_policy(&registry(20, true), &settings(), now()).unwrap();
        // 4 baseline + 2 groups (read, read-write) × 2 statements.
        assert_eq!(r.policy.statements.len(), 8);
        r.policy.validate(PolicyKind::Resource).unwrap();
        assert!(r.size < BUCKET_POLICY_BUDGET);
        for st in &r.policy.statements[4..] {
            assert!(st.condition.as_ref().unwrap().contains_key("DateLessThan"));
        }
    }

    #[test]
    fn oversized_bucket_policy_says_by_how_much() {
        let e = bucket_policy(&registry(400, false), &settings(), now())
            .unwrap_err()
            .to_string();
        assert!(e.contains("over the 20480-byte limit"), "{e}");
        assert!(e.contains("Access Point"), "{e}");
    }

    #[test]
    fn trust_and_session_policies() {
        let s = settings();
        let acct = AccountId::parse("111111111111").unwrap();
        let t = trust_policy(&acct, &ExternalId::parse("ext-123").unwrap(), &s).unwrap();
        t.policy.validate(PolicyKind::Trust).unwrap();
        let json = t.policy.to_compact_json();
        assert!(json.contains("aws:MultiFactorAuthPresent") && json.contains("sts:ExternalId"));
        // The vending role through the primary root + aws:PrincipalArn; only it may tag sessions.
        assert!(
            json.contains("arn:aws:iam::999999999999:root") && json.contains("aws:PrincipalArn")
        );
        for st in &t.policy.statements {
            let actions = st
                .action
                .as_ref()
                .map(|a| a.items.clone())
                .unwrap_or_default();
            if actions
                .iter()
                .any(|a| a == "sts:TagSession" || a == "sts:SetSourceIdentity")
            {
                assert!(
                    st.condition.as_ref().unwrap().contains_key("ArnEquals"),
                    "{json}"
                );
            }
        }
        let long = ExternalId::parse(&"x".repeat(1200)).unwrap();
        assert!(trust_policy(&acct, &long, &s).is_err());
        let reg = registry(3, false);
        let g = &reg.grants()[0];
        let sp = session_policy(g, &g.allowed_prefixes[0], &s, None).unwrap();
        sp.policy.validate(PolicyKind::Identity).unwrap();
    }

    #[test]
    fn kms_render_has_grants_per_account() {
        let k = kms(&registry(20, true), &settings(), now()).unwrap();
        assert_eq!(k.grants.len(), 20);
        assert!(k.grants[0].operations.contains(&"Decrypt".to_owned()));
        k.key_policy.policy.validate(PolicyKind::Resource).unwrap();
    }

    /// Attack (issue 13): a writer uploads with `aws:kms` but no key id, so S3 would use the AWS
    /// managed key aws/s3 (out of this key's policy and grants, unreadable by other accounts).
    #[test]
    fn attack_upload_with_aws_kms_and_no_key_id_is_denied() {
        let s = settings();
        let reg = registry(4, false);
        let bucket = CompiledPolicy::new("bucket", &bucket_policy(&reg, &s, now()).unwrap().policy);
        let any = CompiledPolicy::new("id", &Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#).unwrap());
        let set = PolicySet {
            identity: vec![any],
            resource: Some(bucket),
            ..Default::default()
        };
        let put = |headers: &[(&str, &str)]| {
            let mut ctx = Context::new();
            ctx.set("aws:SecureTransport", "true");
            ctx.set("aws:CurrentTime", "2026-12-01T00:00:00Z");
            for (k, v) in headers {
                ctx.set(k, *v);
            }
            let req = Request {
                caller: Caller::parse("arn:aws:sts::100000000000:assumed-role/warden-consumer/s")
                    .unwrap(),
                action: "s3:PutObject".into(),
                resource: "arn:aws:s3:::warden-shared/team-0/a.csv".into(),
                resource_account: Some("999999999999".into()),
                context: ctx,
            }
            .with_global_keys();
            evaluate(&set, &req).decision
        };
        let key = s.kms_key_arn.clone();
        assert_eq!(
            put(&[("s3:x-amz-server-side-encryption", "aws:kms")]),
            Decision::ExplicitlyDenied
        );
        assert_eq!(
            put(&[("s3:x-amz-server-side-encryption", "aws:kms:dsse")]),
            Decision::ExplicitlyDenied
        );
        assert_eq!(
            put(&[
                ("s3:x-amz-server-side-encryption", "aws:kms"),
                (
                    "s3:x-amz-server-side-encryption-aws-kms-key-id",
                    key.as_str()
                ),
            ]),
            Decision::Allowed
        );
    }

    #[test]
    fn rendered_policy_enforces_prefix_level_and_expiry() {
        let s = settings();
        let reg = registry(4, false);
        let bucket = CompiledPolicy::new("bucket", &bucket_policy(&reg, &s, now()).unwrap().policy);
        let any = CompiledPolicy::new("id", &Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#).unwrap());
        let set = PolicySet {
            identity: vec![any],
            resource: Some(bucket),
            ..Default::default()
        };
        let check = |acct: &str, action: &str, key: &str, at: &str| {
            let mut ctx = Context::new();
            ctx.set("aws:SecureTransport", "true");
            ctx.set("aws:CurrentTime", at);
            ctx.set("s3:x-amz-server-side-encryption", "aws:kms");
            ctx.set(
                "s3:x-amz-server-side-encryption-aws-kms-key-id",
                s.kms_key_arn.clone(),
            );
            let req = Request {
                caller: Caller::parse(&format!(
                    "arn:aws:sts::{acct}:assumed-role/warden-consumer/s"
                ))
                .unwrap(),
                action: action.into(),
                resource: format!("arn:aws:s3:::warden-shared/{key}"),
                resource_account: Some("999999999999".into()),
                context: ctx,
            }
            .with_global_keys();
            evaluate(&set, &req).decision
        };
        let t = "2026-12-01T00:00:00Z";
        assert_eq!(
            check("100000000000", "s3:GetObject", "team-0/a.csv", t),
            Decision::Allowed
        );
        assert_eq!(
            check("100000000000", "s3:PutObject", "team-0/a.csv", t),
            Decision::Allowed
        );
        assert_eq!(
            check("100000000001", "s3:PutObject", "team-1/a.csv", t),
            Decision::ImplicitlyDenied
        );
        assert_eq!(
            check("100000000001", "s3:GetObject", "team-0/a.csv", t),
            Decision::ImplicitlyDenied
        );
        assert_eq!(
            check(
                "100000000000",
                "s3:GetObject",
                "team-0/a.csv",
                "2027-07-01T00:00:00Z"
            ),
            Decision::ImplicitlyDenied
        );
    }
}

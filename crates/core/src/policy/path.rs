//! The whole path an object request takes, answered the way S3 and KMS answer it.
//!
//! S3 authorizes the request against the consumer role's policies and the bucket policy (both
//! must allow: the caller is in another account). For an object encrypted with SSE-KMS, S3 then
//! calls KMS *as the caller*, and KMS authorizes that call against the key policy, the role's
//! policies and the key's grants. With S3 Bucket Keys on, the encryption context S3 sends is the
//! bucket ARN, not the object ARN ("When an S3 Bucket Key is enabled … the encryption context will
//! be the bucket Amazon Resource Name (ARN) and not the object ARN",
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/configuring-bucket-key.html>), and
//! `kms:ViaService` is `s3.<region>.amazonaws.com`. A download needs `kms:Decrypt`; an upload
//! needs `kms:GenerateDataKey` and `kms:Decrypt` ("To upload or download an object encrypted
//! with an AWS KMS key … you need kms:GenerateDataKey and kms:Decrypt permissions on the key",
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-express-UsingKMSEncryption.html>;
//! multipart uploads decrypt their parts).
//!
//! [`check`] evaluates every layer, and [`advise`] turns the first layer that denies into one
//! line a user can act on, using the registry to say *why* (no grant, expired, outside the
//! prefixes, read-only, or policies not applied).

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::condition::{Context, current_time};
use super::eval::{
    Caller, CompiledPolicy, Decision, EvalResult, KmsGrant, PolicySet, Request, evaluate,
    evaluate_principal_policies,
};
use super::model::{Effect, Policy, Statement, StrList};
use super::render::{KmsGrantSpec, LIST_ACTIONS, RenderSettings, WRITE_OBJECT_ACTIONS};
use crate::grant::{AccountId, Registry};

/// The documents a consumer's object request meets on the primary account's side.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The stack's settings (bucket, key, region, consumer role name).
    pub settings: RenderSettings,
    /// The shared bucket's policy.
    pub bucket_policy: CompiledPolicy,
    /// The KMS key's policy.
    pub key_policy: CompiledPolicy,
    /// The key's grants.
    pub kms_grants: Vec<KmsGrant>,
    /// The key's aliases (`alias/…`), sent as `kms:ResourceAliases`: the consumer role's policy
    /// names the key by alias through that condition key.
    pub key_aliases: Vec<String>,
    /// The consumer's access point when it is on the access-point tier: requests go through it.
    pub access_point: Option<AccessPointPath>,
}

/// A consumer's access point and its policy (the access-point tier, DESIGN.md decision 3).
#[derive(Debug, Clone)]
pub struct AccessPointPath {
    /// The access point's name.
    pub name: String,
    /// Its ARN (`arn:…:s3:<region>:<account>:accesspoint/<name>`).
    pub arn: String,
    /// Its policy.
    pub policy: CompiledPolicy,
}

impl Deployment {
    /// The KMS grants Warden renders, as the evaluator's input (each limited to the stack's key).
    ///
    /// # Errors
    /// A grant names an operation KMS does not grant (only possible for a hand-made spec).
    pub fn grants_from_specs(
        specs: &[KmsGrantSpec],
        key_arn: &str,
    ) -> Result<Vec<KmsGrant>, String> {
        specs
            .iter()
            .map(|g| {
                KmsGrant::new(
                    &format!("KMS grant {}", g.name),
                    Some(key_arn),
                    &g.grantee_principal,
                    &g.operations,
                    Some(
                        g.encryption_context_subset
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    ),
                    None,
                )
            })
            .collect()
    }
}

/// One authorization a request needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    /// `s3` (bucket policy and role policy) or `kms` (key policy, role policy and grants).
    pub layer: &'static str,
    /// The action authorized (`s3:GetObject`, `kms:Decrypt`, …).
    pub action: String,
    /// The resource it is authorized on.
    pub resource: String,
    /// The evaluator's decision for the whole layer.
    pub decision: Decision,
    /// The deciding statements and rules.
    pub explanation: Vec<String>,
    /// Each document of the layer on its own (for the advice): does the resource side admit
    /// the caller, does the role's side allow the action, does a KMS grant allow it.
    pub parts: Vec<Part>,
}

/// One document of a layer, judged on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Part {
    /// `bucket policy`, `consumer role policy`, `key policy`, `KMS grants`.
    pub document: &'static str,
    /// Whether it allows (on its own; an explicit deny anywhere still decides the layer).
    pub decision: Decision,
}

/// The answer for one object request: every layer, and the overall decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathResult {
    /// Allowed only when every layer allows.
    pub decision: Decision,
    /// The S3 layer, then the KMS operations the request makes S3 call.
    pub layers: Vec<Layer>,
}

impl PathResult {
    /// The first layer that does not allow.
    #[must_use]
    pub fn denied_layer(&self) -> Option<&Layer> {
        self.layers.iter().find(|l| l.decision != Decision::Allowed)
    }
}

/// The KMS operations S3 calls, as the caller, to serve `action` on an SSE-KMS object.
#[must_use]
pub fn kms_operations(action: &str) -> &'static [&'static str] {
    let op = action.split_once(':').map_or("", |(_, a)| a);
    if op.eq_ignore_ascii_case("GetObject") || op.eq_ignore_ascii_case("GetObjectVersion") {
        &["kms:Decrypt"]
    } else if op.eq_ignore_ascii_case("PutObject") {
        &["kms:GenerateDataKey", "kms:Decrypt"]
    } else {
        &[]
    }
}

/// The session `check` evaluates as: the consumer role, assumed in `account`.
#[must_use]
pub fn consumer_session(s: &RenderSettings, account: &AccountId) -> String {
    format!(
        "arn:{}:sts::{account}:assumed-role/{}/warden-access-check",
        s.partition, s.consumer_role_name
    )
}

fn base_context(at: DateTime<Utc>) -> Context {
    let mut ctx = Context::new();
    ctx.set("aws:SecureTransport", "true");
    ctx.set("aws:CurrentTime", current_time(at));
    ctx.set("aws:EpochTime", at.timestamp().to_string());
    ctx
}

/// An identity policy allowing everything: to ask "does the resource side admit the caller?"
/// on its own.
/// Compiled once: `check` runs per probe in governance and per request in benchmarks.
fn allow_all() -> CompiledPolicy {
    static P: OnceLock<CompiledPolicy> = OnceLock::new();
    P.get_or_init(|| {
        let mut st = Statement::new(Effect::Allow);
        st.action = Some(StrList::of(["*"]));
        st.resource = Some(StrList::of(["*"]));
        CompiledPolicy::new("(any identity policy)", &Policy::new(vec![st]))
    })
    .clone()
}

/// A key policy with no statements: what the grants allow on their own.
fn no_key_policy() -> CompiledPolicy {
    static P: OnceLock<CompiledPolicy> = OnceLock::new();
    P.get_or_init(|| CompiledPolicy::new("(no key policy)", &Policy::new(Vec::new())))
        .clone()
}

/// Evaluate `action` on `key` (object key, or listing prefix for `s3:ListBucket*`) for the
/// consumer role of `account`, with `role_policies` its identity policies, at `at`.
///
/// # Errors
/// The consumer session ARN cannot be built from the settings (a role name IAM would refuse).
pub fn check(
    d: &Deployment,
    role_policies: &[CompiledPolicy],
    account: &AccountId,
    action: &str,
    key: &str,
    at: DateTime<Utc>,
) -> Result<PathResult, String> {
    let s = &d.settings;
    let caller = Caller::parse(&consumer_session(s, account))?;
    let mut ctx = base_context(at);
    let is_list = LIST_ACTIONS.iter().any(|a| a.eq_ignore_ascii_case(action));
    let resource = if is_list {
        ctx.set("s3:prefix", key);
        s.bucket_arn()
    } else {
        format!("{}/{key}", s.bucket_arn())
    };
    let kms_ops = kms_operations(action);
    if kms_ops.contains(&"kms:GenerateDataKey") {
        // The baseline refuses uploads without SSE-KMS under the stack's key.
        ctx.set("s3:x-amz-server-side-encryption", "aws:kms");
        ctx.set(
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
            s.kms_key_arn.clone(),
        );
    }
    if let Some(ap) = &d.access_point {
        // Through an access point "both the access point and the underlying bucket must permit
        // the request" (access-points-policies.html): the access point policy and the role's
        // policies on the access point's ARN, then the bucket policy on the bucket's, both with
        // the access point's condition keys.
        ctx.set("s3:DataAccessPointAccount", s.primary_account.to_string());
        ctx.set("s3:DataAccessPointArn", ap.arn.clone());
        ctx.set("s3:AccessPointNetworkOrigin", "Internet");
    }
    let s3_req = Request {
        caller: caller.clone(),
        action: action.to_owned(),
        resource: resource.clone(),
        resource_account: Some(s.primary_account.to_string()),
        context: ctx,
    }
    .with_global_keys();
    let bucket_alone = PolicySet {
        identity: vec![allow_all()],
        resource: Some(d.bucket_policy.clone()),
        ..Default::default()
    };
    let role_alone = PolicySet {
        identity: role_policies.to_vec(),
        ..Default::default()
    };
    let mut layers = Vec::new();
    if let Some(ap) = &d.access_point {
        let ap_req = Request {
            resource: if is_list {
                ap.arn.clone()
            } else {
                format!("{}/object/{key}", ap.arn)
            },
            ..s3_req.clone()
        };
        let ap_set = PolicySet {
            identity: role_policies.to_vec(),
            resource: Some(ap.policy.clone()),
            ..Default::default()
        };
        let ap_alone = PolicySet {
            identity: vec![allow_all()],
            resource: Some(ap.policy.clone()),
            ..Default::default()
        };
        layers.push(layer(
            "s3-access-point",
            &ap_set,
            &ap_req,
            vec![
                ("access point policy", evaluate(&ap_alone, &ap_req)),
                (
                    "consumer role policy",
                    evaluate_principal_policies(&role_alone, &ap_req),
                ),
            ],
        ));
        layers.push(layer(
            "s3",
            &bucket_alone,
            &s3_req,
            vec![("bucket policy", evaluate(&bucket_alone, &s3_req))],
        ));
    } else {
        let s3_set = PolicySet {
            identity: role_policies.to_vec(),
            resource: Some(d.bucket_policy.clone()),
            ..Default::default()
        };
        layers.push(layer(
            "s3",
            &s3_set,
            &s3_req,
            vec![
                ("bucket policy", evaluate(&bucket_alone, &s3_req)),
                (
                    "consumer role policy",
                    evaluate_principal_policies(&role_alone, &s3_req),
                ),
            ],
        ));
    }
    for op in kms_ops {
        let mut ctx = base_context(at);
        ctx.set("kms:ViaService", format!("s3.{}.amazonaws.com", s.region));
        ctx.set("kms:CallerAccount", account.to_string());
        ctx.set("kms:EncryptionContext:aws:s3:arn", s.bucket_arn());
        ctx.set("kms:EncryptionContextKeys", "aws:s3:arn");
        if !d.key_aliases.is_empty() {
            ctx.set_many("kms:ResourceAliases", d.key_aliases.clone());
        }
        let req = Request {
            caller: caller.clone(),
            action: (*op).to_owned(),
            resource: s.kms_key_arn.clone(),
            resource_account: Some(s.primary_account.to_string()),
            context: ctx,
        }
        .with_global_keys();
        let set = PolicySet {
            identity: role_policies.to_vec(),
            resource: Some(d.key_policy.clone()),
            kms_grants: d.kms_grants.clone(),
            ..Default::default()
        };
        let key_alone = PolicySet {
            identity: role_policies.to_vec(),
            resource: Some(d.key_policy.clone()),
            ..Default::default()
        };
        // A grant needs no identity policy: an empty key policy leaves only the grants.
        let grants_alone = PolicySet {
            resource: Some(no_key_policy()),
            kms_grants: d.kms_grants.clone(),
            ..Default::default()
        };
        layers.push(layer(
            "kms",
            &set,
            &req,
            vec![
                ("key policy", evaluate(&key_alone, &req)),
                ("KMS grants", evaluate(&grants_alone, &req)),
            ],
        ));
    }
    let decision = layers
        .iter()
        .map(|l| l.decision)
        .find(|d| *d != Decision::Allowed)
        .unwrap_or(Decision::Allowed);
    Ok(PathResult { decision, layers })
}

fn layer(
    name: &'static str,
    set: &PolicySet,
    req: &Request,
    parts: Vec<(&'static str, EvalResult)>,
) -> Layer {
    let r = evaluate(set, req);
    Layer {
        layer: name,
        action: req.action.clone(),
        resource: req.resource.clone(),
        decision: r.decision,
        explanation: r.explanation,
        parts: parts
            .into_iter()
            .map(|(document, r)| Part {
                document,
                decision: r.decision,
            })
            .collect(),
    }
}

fn part_allows(l: &Layer, document: &str) -> bool {
    l.parts
        .iter()
        .any(|p| p.document == document && p.decision == Decision::Allowed)
}

/// One line a user can act on, for a result that does not allow (`None` when it allows).
/// `registry` is what Warden believes: it tells a missing grant from policies not applied.
#[must_use]
pub fn advise(
    r: &PathResult,
    registry: &Registry,
    s: &RenderSettings,
    account: &AccountId,
    action: &str,
    key: &str,
    at: DateTime<Utc>,
) -> Option<String> {
    let l = r.denied_layer()?;
    let acct = account.as_str();
    let write = WRITE_OBJECT_ACTIONS
        .iter()
        .any(|a| a.eq_ignore_ascii_case(action));
    let grants: Vec<_> = registry
        .account(acct)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    // The registry's own answer first: when it does not grant this, no policy should.
    let covering: Vec<_> = grants
        .iter()
        .filter(|g| g.allowed_prefixes.iter().any(|p| p.contains_key(key)))
        .collect();
    let registry_reason = if grants.is_empty() {
        Some(format!(
            "account {acct} has no grant in the registry: request one (warden access request, or POST /requests) or add it to consumer_accounts"
        ))
    } else if covering.is_empty() {
        let prefixes: Vec<&str> = grants
            .iter()
            .flat_map(|g| g.allowed_prefixes.iter().map(|p| p.as_str()))
            .collect();
        Some(format!(
            "{key:?} is outside the prefixes granted to {acct} ({}): request a grant for its prefix",
            prefixes.join(", ")
        ))
    } else if !covering.iter().any(|g| g.is_active(at)) {
        let until = covering
            .iter()
            .map(|g| g.expiration_date.to_rfc3339())
            .max()
            .unwrap_or_default();
        Some(format!(
            "the grant for {acct} on this prefix expired at {until}: request a renewal"
        ))
    } else if write
        && !covering
            .iter()
            .any(|g| g.is_active(at) && g.access_level.can_write())
    {
        Some(format!(
            "the grant for {acct} on this prefix is read-only: {action} needs read-write"
        ))
    } else {
        None
    };
    if l.decision == Decision::ExplicitlyDenied {
        let why = l.explanation.first().cloned().unwrap_or_default();
        return Some(format!(
            "{} is explicitly denied ({why}); no grant overrides a Deny{}",
            l.action,
            registry_reason
                .map(|r| format!(" — and {r}"))
                .unwrap_or_default()
        ));
    }
    if let Some(r) = registry_reason {
        return Some(r);
    }
    // The registry grants it, so a document is out of step with it.
    Some(match l.layer {
        "s3-access-point" if !part_allows(l, "access point policy") => format!(
            "the policy of {acct}'s access point ({}) does not carry its grant: run the policy-reconciler (it writes access point policies from the registry)",
            l.resource.split("/object/").next().unwrap_or(&l.resource)
        ),
        "s3-access-point" => format!(
            "the consumer role policy in {acct} does not allow {action} on its access point: re-apply terraform/data-sharing/consumer-role in {acct} (it names the access point's ARNs)"
        ),
        "s3" if r.layers.iter().any(|x| x.layer == "s3-access-point") => format!(
            "the bucket policy of {} does not delegate to Warden's access points: run the policy-reconciler (it adds the delegation while any consumer is on the access-point tier)",
            s.bucket
        ),
        "s3" if !part_allows(l, "bucket policy") => format!(
            "the bucket policy of {} does not carry the grant for {acct}: run the policy-reconciler (the policy is rendered from the registry)",
            s.bucket
        ),
        "s3" => format!(
            "the consumer role policy in {acct} does not allow {action} here: re-apply terraform/data-sharing/consumer-role in {acct} (the role policy is rendered from the registry)"
        ),
        _ if !part_allows(l, "KMS grants") && !part_allows(l, "key policy") => format!(
            "the KMS grant for {acct} is missing (and the key policy does not name its role): run the policy-reconciler; S3 answers AccessDenied for {} because it cannot call {} on the key",
            action, l.action
        ),
        _ => format!(
            "{} on the key is not allowed for {acct}: check the key policy and the consumer role policy's kms statement",
            l.action
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::{Grant, GrantInput, Timestamp};
    use crate::policy::render;

    fn settings() -> RenderSettings {
        RenderSettings {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            primary_account: AccountId::parse("999999999999").unwrap(),
            bucket: "warden-shared".into(),
            kms_key_arn: "arn:aws:kms:eu-west-1:999999999999:key/abc".into(),
            consumer_role_name: "warden-consumer".into(),
            require_mfa: false,
            vending_role_arn: None,
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        Timestamp::parse(s).unwrap().0
    }

    fn registry() -> Registry {
        let g = |acct: &str, prefix: &str, level: &str| {
            Grant::from_input(
                &GrantInput {
                    account_id: acct.into(),
                    name: None,
                    allowed_prefixes: vec![prefix.into()],
                    access_level: level.into(),
                    expiration_date: "2027-01-01T00:00:00Z".into(),
                    owner_email: None,
                    external_id: None,
                    created_by: None,
                    created_at: None,
                },
                t("2026-11-01T00:00:00Z"),
            )
            .unwrap()
        };
        Registry::new(vec![
            g("210000000000", "sales/", "read"),
            g("220000000000", "ops/", "read-write"),
        ])
        .unwrap()
    }

    fn deployment(reg: &Registry, drop_grant: Option<&str>, key_names_roles: bool) -> Deployment {
        let s = settings();
        let now = t("2026-12-01T00:00:00Z");
        let bucket = render::bucket_policy(reg, &s, now).unwrap();
        let kms = render::kms(reg, &s, now).unwrap();
        let key_policy = if key_names_roles {
            kms.key_policy.policy
        } else {
            Policy::new(vec![render::key_admin_statement(&s)])
        };
        let specs: Vec<_> = kms
            .grants
            .into_iter()
            .filter(|g| Some(g.account_id.as_str()) != drop_grant)
            .collect();
        Deployment {
            kms_grants: Deployment::grants_from_specs(&specs, &s.kms_key_arn).unwrap(),
            bucket_policy: CompiledPolicy::new("bucket policy", &bucket.policy),
            key_policy: CompiledPolicy::new("key policy", &key_policy),
            key_aliases: Vec::new(),
            access_point: None,
            settings: s,
        }
    }

    fn run(
        d: &Deployment,
        reg: &Registry,
        acct: &str,
        action: &str,
        key: &str,
        at: &str,
    ) -> (PathResult, Option<String>) {
        let a = AccountId::parse(acct).unwrap();
        let at = t(at);
        let role = render::consumer_role_policy(reg, &a, &d.settings, t("2026-12-01T00:00:00Z"));
        let r = check(
            d,
            &[CompiledPolicy::new("consumer role policy", &role)],
            &a,
            action,
            key,
            at,
        )
        .unwrap();
        let advice = advise(&r, reg, &d.settings, &a, action, key, at);
        (r, advice)
    }

    /// 210000000000 reads inside its grant, before expiry.
    fn read_sales(d: &Deployment, reg: &Registry) -> (PathResult, Option<String>) {
        run(
            d,
            reg,
            "210000000000",
            "s3:GetObject",
            "sales/q3.csv",
            "2026-12-02T00:00:00Z",
        )
    }

    fn actions(r: &PathResult) -> Vec<&str> {
        r.layers.iter().map(|l| l.action.as_str()).collect()
    }

    /// A consumer on the access-point tier: the access point policy and the role decide on the
    /// access point's ARN, the delegating bucket policy on the bucket's; a bucket policy without
    /// the delegation, or an access point without the grant, is named in the fix.
    #[test]
    fn through_an_access_point_both_documents_decide() {
        use crate::policy::access_point::{self, SharingMode, Tiering};
        let reg = registry();
        let s = settings();
        let at = t("2026-12-02T00:00:00Z");
        let tiering = Tiering {
            mode: SharingMode::AccessPoints,
            name_prefix: "warden-test".into(),
        };
        let tiers = access_point::render_tiers(
            &reg,
            &s,
            render::baseline_statements(&s),
            tiering.mode,
            &tiering.name_prefix,
            t("2026-12-01T00:00:00Z"),
        )
        .unwrap();
        let a = AccountId::parse("210000000000").unwrap();
        let ap_ref = tiering.access_point(&reg, &a, &s).unwrap().unwrap();
        let mut d = deployment(&reg, None, false);
        d.bucket_policy = CompiledPolicy::new("bucket policy", &tiers.bucket.policy);
        let ap_policy = |p: &Policy| AccessPointPath {
            name: ap_ref.name.clone(),
            arn: ap_ref.arn.clone(),
            policy: CompiledPolicy::new("access point policy", p),
        };
        d.access_point = Some(ap_policy(&tiers.access_points[&a].doc.policy));
        let role = render::consumer_role_policy_with(
            &reg,
            &a,
            &s,
            t("2026-12-01T00:00:00Z"),
            Some(&ap_ref.arn),
        );
        let go = |d: &Deployment, key: &str| {
            let r = check(
                d,
                &[CompiledPolicy::new("consumer role policy", &role)],
                &a,
                "s3:GetObject",
                key,
                at,
            )
            .unwrap();
            let advice = advise(&r, &reg, &s, &a, "s3:GetObject", key, at);
            (r, advice)
        };
        let (r, _) = go(&d, "sales/q3.csv");
        assert_eq!(r.decision, Decision::Allowed, "{r:?}");
        let layers: Vec<&str> = r.layers.iter().map(|l| l.layer).collect();
        assert_eq!(layers, ["s3-access-point", "s3", "kms"]);
        assert_eq!(
            r.layers[0].resource,
            format!("{}/object/sales/q3.csv", ap_ref.arn)
        );
        assert_eq!(
            go(&d, "finance/x.csv").0.decision,
            Decision::ImplicitlyDenied
        );
        // The access point has lost its policy.
        let mut empty = d.clone();
        empty.access_point = Some(ap_policy(&Policy::new(Vec::new())));
        let (r, advice) = go(&empty, "sales/q3.csv");
        assert_eq!(r.denied_layer().unwrap().layer, "s3-access-point");
        assert!(advice.unwrap().contains("access point"), "{r:?}");
        // The bucket policy does not delegate (rendered for the bucket tier only).
        let mut flat = d.clone();
        flat.bucket_policy = CompiledPolicy::new(
            "bucket policy",
            &Policy::new(render::baseline_statements(&s)),
        );
        let (r, advice) = go(&flat, "sales/q3.csv");
        assert_eq!(r.denied_layer().unwrap().layer, "s3");
        assert!(advice.unwrap().contains("does not delegate"));
    }

    #[test]
    fn a_granted_read_passes_every_layer() {
        let reg = registry();
        let d = deployment(&reg, None, true);
        let (r, advice) = read_sales(&d, &reg);
        assert_eq!(r.decision, Decision::Allowed, "{r:#?}");
        assert_eq!(actions(&r), ["s3:GetObject", "kms:Decrypt"]);
        assert_eq!(advice, None);
    }

    #[test]
    fn an_upload_needs_generate_data_key_and_decrypt() {
        let reg = registry();
        let d = deployment(&reg, None, false);
        let (r, _) = run(
            &d,
            &reg,
            "220000000000",
            "s3:PutObject",
            "ops/run.log",
            "2026-12-02T00:00:00Z",
        );
        assert_eq!(r.decision, Decision::Allowed, "{r:#?}");
        assert_eq!(
            actions(&r),
            ["s3:PutObject", "kms:GenerateDataKey", "kms:Decrypt"]
        );
    }

    #[test]
    fn the_grant_alone_lets_a_consumer_decrypt_when_the_key_policy_does_not_name_it() {
        let reg = registry();
        let d = deployment(&reg, None, false);
        let (r, _) = read_sales(&d, &reg);
        assert_eq!(r.decision, Decision::Allowed, "{r:#?}");
        let kms = &r.layers[1];
        assert!(part_allows(kms, "KMS grants") && !part_allows(kms, "key policy"));
    }

    #[test]
    fn a_missing_kms_grant_is_named_with_the_fix() {
        let reg = registry();
        let d = deployment(&reg, Some("210000000000"), false);
        let (r, advice) = read_sales(&d, &reg);
        assert_eq!(r.decision, Decision::ImplicitlyDenied);
        assert_eq!(r.layers[0].decision, Decision::Allowed, "S3 itself allows");
        assert_eq!(r.denied_layer().unwrap().action, "kms:Decrypt");
        let advice = advice.unwrap();
        assert!(
            advice.starts_with(
                "the KMS grant for 210000000000 is missing (and the key policy does not name its role): run the policy-reconciler"
            ),
            "{advice}"
        );
    }

    #[test]
    fn a_grant_constrained_to_another_bucket_does_not_decrypt() {
        let reg = registry();
        let mut d = deployment(&reg, Some("210000000000"), false);
        d.kms_grants.push(
            KmsGrant::new(
                "KMS grant warden-210000000000-read",
                Some(&d.settings.kms_key_arn),
                "arn:aws:iam::210000000000:role/warden-consumer",
                &["Decrypt".to_owned()],
                Some(vec![(
                    "aws:s3:arn".into(),
                    "arn:aws:s3:::some-other-bucket".into(),
                )]),
                None,
            )
            .unwrap(),
        );
        let (r, _) = read_sales(&d, &reg);
        assert_eq!(r.decision, Decision::ImplicitlyDenied);
        // The object-ARN context (no Bucket Key) would not match a bucket-ARN grant either:
        // the context S3 sends is the bucket ARN, which this grant does not name.
        assert_eq!(r.denied_layer().unwrap().layer, "kms");
    }

    #[test]
    fn the_registry_explains_a_denial_in_its_own_words() {
        let reg = registry();
        let d = deployment(&reg, None, true);
        let cases = [
            (
                "230000000000",
                "s3:GetObject",
                "sales/q3.csv",
                "2026-12-02T00:00:00Z",
                "account 230000000000 has no grant in the registry",
            ),
            (
                "210000000000",
                "s3:GetObject",
                "hr/pay.csv",
                "2026-12-02T00:00:00Z",
                "\"hr/pay.csv\" is outside the prefixes granted to 210000000000 (sales/)",
            ),
            (
                "210000000000",
                "s3:GetObject",
                "sales/q3.csv",
                "2027-01-01T00:00:00Z",
                "the grant for 210000000000 on this prefix expired at 2027-01-01T00:00:00Z",
            ),
            (
                "210000000000",
                "s3:PutObject",
                "sales/q3.csv",
                "2026-12-02T00:00:00Z",
                "the grant for 210000000000 on this prefix is read-only",
            ),
        ];
        for (acct, action, key, at, want) in cases {
            let (r, advice) = run(&d, &reg, acct, action, key, at);
            assert_ne!(r.decision, Decision::Allowed, "{acct} {action} {key} {at}");
            let advice = advice.unwrap();
            assert!(advice.contains(want), "{acct} {action} {key}: {advice}");
        }
    }

    #[test]
    fn a_bucket_policy_out_of_step_with_the_registry_says_run_the_reconciler() {
        let reg = registry();
        let mut d = deployment(&reg, None, true);
        // The bucket policy applied before 210000000000 was granted: baseline only.
        let s = settings();
        d.bucket_policy = CompiledPolicy::new(
            "bucket policy",
            &Policy::new(render::baseline_statements(&s)),
        );
        let (r, advice) = read_sales(&d, &reg);
        assert_eq!(r.denied_layer().unwrap().layer, "s3");
        assert!(
            advice
                .unwrap()
                .starts_with("the bucket policy of warden-shared does not carry the grant for 210000000000: run the policy-reconciler")
        );
    }

    #[test]
    fn a_role_policy_out_of_step_says_reapply_the_consumer_role() {
        let reg = registry();
        let d = deployment(&reg, None, true);
        let a = AccountId::parse("210000000000").unwrap();
        let at = t("2026-12-02T00:00:00Z");
        let r = check(&d, &[], &a, "s3:GetObject", "sales/q3.csv", at).unwrap();
        let advice = advise(
            &r,
            &reg,
            &d.settings,
            &a,
            "s3:GetObject",
            "sales/q3.csv",
            at,
        );
        assert!(advice.unwrap().starts_with(
            "the consumer role policy in 210000000000 does not allow s3:GetObject here"
        ));
    }

    #[test]
    fn an_upload_without_tls_is_explicitly_denied_by_the_baseline() {
        let reg = registry();
        let d = deployment(&reg, None, true);
        let a = AccountId::parse("220000000000").unwrap();
        let at = t("2026-12-02T00:00:00Z");
        let role = render::consumer_role_policy(&reg, &a, &d.settings, at);
        let mut r = check(
            &d,
            &[CompiledPolicy::new("consumer role policy", &role)],
            &a,
            "s3:PutObject",
            "ops/x",
            at,
        )
        .unwrap();
        assert_eq!(r.decision, Decision::Allowed);
        // Same request over plain HTTP.
        let s3 = &d.settings;
        let mut ctx = base_context(at);
        ctx.set("aws:SecureTransport", "false");
        let req = Request {
            caller: Caller::parse(&consumer_session(s3, &a)).unwrap(),
            action: "s3:PutObject".into(),
            resource: format!("{}/ops/x", s3.bucket_arn()),
            resource_account: Some(s3.primary_account.to_string()),
            context: ctx,
        }
        .with_global_keys();
        let set = PolicySet {
            identity: vec![CompiledPolicy::new("consumer role policy", &role)],
            resource: Some(d.bucket_policy.clone()),
            ..Default::default()
        };
        r.layers[0] = layer("s3", &set, &req, Vec::new());
        r.decision = r.layers[0].decision;
        assert_eq!(r.decision, Decision::ExplicitlyDenied);
        let advice = advise(&r, &reg, s3, &a, "s3:PutObject", "ops/x", at).unwrap();
        assert!(advice.contains("explicitly denied"), "{advice}");
        assert!(advice.contains("no grant overrides a Deny"), "{advice}");
    }

    #[test]
    fn listing_makes_no_kms_call() {
        let reg = registry();
        let d = deployment(&reg, Some("210000000000"), false);
        let (r, _) = run(
            &d,
            &reg,
            "210000000000",
            "s3:ListBucket",
            "sales/",
            "2026-12-02T00:00:00Z",
        );
        assert_eq!(r.decision, Decision::Allowed, "{r:#?}");
        assert_eq!(r.layers.len(), 1);
    }
}

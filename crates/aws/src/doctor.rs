//! What `warden doctor` reads for one consumer ([`read_live`]), with the operator's credentials
//! (primary account: everything) or the consumer's (its own role only); warden-core's
//! [`warden_core::doctor::checks`] judges it.

use aws_config::SdkConfig;
use chrono::{DateTime, TimeZone, Utc};
use warden_core::doctor::{Live, Obs, Subscription, TrailStatus};
use warden_core::governance::RoleExpectation;
use warden_core::grant::AccountId;
use warden_core::policy::access_point::Tiering;
use warden_core::policy::render::RenderSettings;
use warden_core::ports::{
    AccessPoints as _, ConfigStore as _, GrantStore as _, KeyGrants as _, PolicyStore as _,
    PortError, RoleInspector as _,
};

use crate::util::sdk_err;

/// Whose credentials the doctor runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The primary account's (the operator): every check.
    Operator,
    /// The consumer account's: its own role only.
    Consumer,
}

/// Where the stack's parts are (`terraform output` of the primary stack).
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// The registry table.
    pub table: Option<String>,
    /// The consumer directory parameter (external IDs, governance roles).
    pub directory_parameter: Option<String>,
    /// The trail's ARN or name.
    pub trail: Option<String>,
    /// The alerts topic.
    pub alerts_topic: Option<String>,
    /// The data key's aliases.
    pub key_aliases: Vec<String>,
}

/// The account whose credentials `config` carries (STS GetCallerIdentity).
///
/// # Errors
/// The call failed (no credentials, expired…).
pub async fn caller_account(config: &SdkConfig) -> Result<String, PortError> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(sdk_err("sts", "GetCallerIdentity"))?;
    out.account()
        .map(str::to_owned)
        .ok_or_else(|| PortError::new("sts", "GetCallerIdentity", "no account in the answer"))
}

/// A trail's status (CloudTrail GetTrailStatus).
///
/// # Errors
/// The call failed.
pub async fn trail_status(config: &SdkConfig, trail: &str) -> Result<TrailStatus, PortError> {
    let out = aws_sdk_cloudtrail::Client::new(config)
        .get_trail_status()
        .name(trail)
        .send()
        .await
        .map_err(sdk_err("cloudtrail", "GetTrailStatus"))?;
    let time = |t: Option<&aws_sdk_cloudtrail::primitives::DateTime>| -> Option<DateTime<Utc>> {
        t.and_then(|t| Utc.timestamp_opt(t.secs(), t.subsec_nanos()).single())
    };
    Ok(TrailStatus {
        trail: trail.to_owned(),
        is_logging: out.is_logging().unwrap_or(false),
        latest_delivery: time(out.latest_delivery_time()),
        latest_delivery_error: out
            .latest_delivery_error()
            .filter(|e| !e.is_empty())
            .map(str::to_owned),
    })
}

/// Every subscription of `topic` (ListSubscriptionsByTopic, every page). A subscription not yet
/// confirmed has the `SubscriptionArn` `PendingConfirmation` and receives nothing.
///
/// # Errors
/// A call failed.
pub async fn topic_subscriptions(
    config: &SdkConfig,
    topic: &str,
) -> Result<Vec<Subscription>, PortError> {
    let sns = aws_sdk_sns::Client::new(config);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = sns
            .list_subscriptions_by_topic()
            .topic_arn(topic)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(sdk_err("sns", "ListSubscriptionsByTopic"))?;
        out.extend(page.subscriptions().iter().map(|s| Subscription {
            protocol: s.protocol().unwrap_or_default().to_owned(),
            endpoint: s.endpoint().unwrap_or_default().to_owned(),
            confirmed: s.subscription_arn().is_some_and(|a| a.starts_with("arn:")),
        }));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(out)
}

fn obs<T>(r: Result<T, PortError>) -> Obs<T> {
    match r {
        Ok(t) => Obs::Read(t),
        Err(e) => Obs::Failed(e.to_string()),
    }
}

fn needs(what: &str) -> String {
    format!("needs {what}")
}

/// Read what the doctor judges for `account`.
pub async fn read_live(
    config: &SdkConfig,
    who: Who,
    account: &AccountId,
    t: &Targets,
    s: &RenderSettings,
    tiering: &Tiering,
    now: DateTime<Utc>,
) -> Live {
    let operator = format!(
        "the operator's credentials (account {})",
        s.primary_account.as_str()
    );
    let mut expectation = RoleExpectation {
        external_id: None,
        permissions_boundary: None,
        key_aliases: t.key_aliases.clone(),
    };
    if who == Who::Consumer {
        return Live {
            registry: Obs::NotRead(needs(&operator)),
            expectation,
            role: obs(crate::iam::read_own_role(config, &s.consumer_role_name).await),
            bucket_policy: Obs::NotRead(needs(&operator)),
            access_point_policy: Obs::NotRead(needs(&operator)),
            key_policy: Obs::NotRead(needs(&operator)),
            kms_grants: Obs::NotRead(needs(&operator)),
            trail: Obs::NotRead(needs(&operator)),
            subscriptions: Obs::NotRead(needs(&operator)),
        };
    }
    let registry = match &t.table {
        Some(table) => obs(crate::DynamoGrantStore::new(config, table)
            .load_registry_checked(now)
            .await),
        None => Obs::NotRead(needs("--table (access_control_table_name)")),
    };
    // The directory names the account's external ID and its governance role, through which the
    // operator reads the consumer role.
    let role = match &t.directory_parameter {
        None => Obs::NotRead(needs(
            "--directory-parameter (consumer_directory_parameter), or the consumer's credentials",
        )),
        Some(p) => match crate::SsmConfig::new(config).get_parameter(p).await {
            Err(e) => Obs::Failed(e.to_string()),
            Ok(text) => {
                let dir: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                let entry = &dir[account.as_str()];
                expectation.external_id = entry["external_id"].as_str().map(str::to_owned);
                match entry["governance_role"].as_str() {
                    None => Obs::Failed(format!(
                        "the consumer directory {p} has no governance role for {account}: apply consumer-role/ there and add the account to consumer_accounts"
                    )),
                    // A directory entry pointing at a role in another account would inspect
                    // someone else's role.
                    Some(gov) if gov.split(':').nth(4) != Some(account.as_str()) => {
                        Obs::Failed(format!(
                            "the directory's governance role {gov} is not in account {account}: restore the directory with terraform apply"
                        ))
                    }
                    Some(gov) => obs(crate::IamRoleInspector::new(config)
                        .inspect(gov, &s.consumer_role_name)
                        .await),
                }
            }
        },
    };
    let bucket_policy = obs(crate::S3PolicyStore::new(config)
        .get_bucket_policy(&s.bucket)
        .await);
    let keys = crate::KmsKeyGrants::new(config);
    let key_policy = obs(keys.get_key_policy(&s.kms_key_arn).await);
    let kms_grants = obs(keys.list_grants(&s.kms_key_arn).await);
    let access_point_policy = match &registry {
        Obs::Read((r, _)) => match tiering.access_point(r, account, s) {
            Ok(Some(ap)) => match crate::S3AccessPoints::new(config, s.primary_account.as_str())
                .get_access_point_policy(&ap.name)
                .await
            {
                // No access point yet (the reconciler has not created it, or the grant lapsed):
                // the path is judged with no access point policy, so it is refused there.
                Err(e) if e.message.starts_with("NoSuchAccessPoint:") => Obs::Read(None),
                r => obs(r),
            },
            _ => Obs::Read(None),
        },
        _ => Obs::NotRead(needs("the registry (which tier the consumer is on)")),
    };
    let trail = match &t.trail {
        Some(name) => obs(trail_status(config, name).await),
        None => Obs::NotRead(needs("--trail (cloudtrail_arn)")),
    };
    let subscriptions = match &t.alerts_topic {
        Some(topic) => obs(topic_subscriptions(config, topic).await),
        None => Obs::NotRead(needs("--alerts-topic-arn (alerts_topic_arn)")),
    };
    Live {
        registry,
        expectation,
        role,
        bucket_policy,
        access_point_policy,
        key_policy,
        kms_grants,
        trail,
        subscriptions,
    }
}

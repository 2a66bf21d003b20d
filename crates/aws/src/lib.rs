//! warden-aws: adapters implementing warden-core's ports on the AWS SDK.
//!
//! Every client is built from one [`aws_config::SdkConfig`]; on AWS it comes from the Lambda
//! environment, locally [`local_config`] points every service at the emulator (moto on
//! 127.0.0.1) with static credentials. Retries: the SDK's standard mode (exponential backoff
//! with jitter, 3 attempts) applies to every call.

pub mod bootstrap;
pub mod local;

use std::collections::HashMap;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use warden_core::cloudtrail::normalise::Attr;
use warden_core::grant::{Grant, GrantInput, Registry};
use warden_core::policy::render::KmsGrantSpec;
use warden_core::ports::{
    AuditStore, ConfigStore, GrantRef, GrantStore, KeyGrants, Metrics, Notifier, PolicyStore,
    PortError, WriteOutcome,
};
use warden_core::reconcile::LiveGrant;

/// SDK configuration from the environment (Lambda: role credentials, `AWS_REGION`; honours
/// `AWS_ENDPOINT_URL` for a local emulator).
pub async fn env_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// SDK configuration for a local emulator at `endpoint` with static test credentials.
pub async fn local_config(endpoint: &str, region: &str) -> SdkConfig {
    let creds = aws_credential_types::Credentials::from_keys("testing", "testing", None);
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(creds)
        .load()
        .await
}

fn sdk_err<E, R>(
    service: &'static str,
    op: &'static str,
) -> impl Fn(aws_sdk_dynamodb::error::SdkError<E, R>) -> PortError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |e| {
        PortError::new(
            service,
            op,
            format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)),
        )
    }
}

// ---------------------------------------------------------------------------------------------

/// The registry table (`account_id`, `grant_id`; attributes as written by Terraform and by the
/// approval workflow).
#[derive(Debug, Clone)]
pub struct DynamoGrantStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoGrantStore {
    /// A store on `table`.
    #[must_use]
    pub fn new(config: &SdkConfig, table: &str) -> Self {
        DynamoGrantStore {
            client: aws_sdk_dynamodb::Client::new(config),
            table: table.to_owned(),
        }
    }

    /// Write a grant item (used by bootstrap and the approval workflow).
    pub async fn put_grant(&self, g: &Grant, grant_id: &str) -> Result<(), PortError> {
        let item = HashMap::from([
            (
                "account_id".to_owned(),
                AttributeValue::S(g.account_id.to_string()),
            ),
            (
                "grant_id".to_owned(),
                AttributeValue::S(grant_id.to_owned()),
            ),
            (
                "allowed_prefixes".to_owned(),
                AttributeValue::L(
                    g.allowed_prefixes
                        .iter()
                        .map(|p| AttributeValue::S(p.to_string()))
                        .collect(),
                ),
            ),
            (
                "access_level".to_owned(),
                AttributeValue::S(g.access_level.as_str().to_owned()),
            ),
            (
                "expiration_date".to_owned(),
                AttributeValue::S(g.expiration_date.to_rfc3339()),
            ),
            (
                "grant_state".to_owned(),
                AttributeValue::S("active".to_owned()),
            ),
            (
                "created_by".to_owned(),
                AttributeValue::S(g.created_by.clone()),
            ),
            (
                "created_at".to_owned(),
                AttributeValue::S(g.created_at.to_rfc3339()),
            ),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_err("dynamodb", "PutItem"))?;
        Ok(())
    }
}

fn s_attr<'a>(item: &'a HashMap<String, AttributeValue>, k: &str) -> Option<&'a str> {
    item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// Read one registry item into a grant input, naming the attribute that is missing.
fn item_to_input(item: &HashMap<String, AttributeValue>) -> Result<GrantInput, String> {
    let need = |k: &str| {
        s_attr(item, k)
            .map(str::to_owned)
            .ok_or_else(|| format!("attribute {k} is missing or not a string"))
    };
    let prefixes = match item.get("allowed_prefixes") {
        Some(AttributeValue::L(l)) => l.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        Some(AttributeValue::Ss(ss)) => ss.clone(),
        _ => return Err("attribute allowed_prefixes is missing or not a list of strings".into()),
    };
    Ok(GrantInput {
        account_id: need("account_id")?,
        name: s_attr(item, "name").map(str::to_owned),
        allowed_prefixes: prefixes,
        access_level: need("access_level")?,
        expiration_date: need("expiration_date")?,
        owner_email: None,
        external_id: None,
        created_by: s_attr(item, "created_by").map(str::to_owned),
        created_at: s_attr(item, "created_at").map(str::to_owned),
    })
}

impl GrantStore for DynamoGrantStore {
    async fn load_registry(&self, now: DateTime<Utc>) -> Result<Registry, PortError> {
        let (registry, skipped) = self.load_registry_checked(now).await?;
        for s in &skipped {
            tracing::error!(item = %s.item, rule = %s.rule, "registry item skipped");
        }
        Ok(registry)
    }

    async fn load_registry_checked(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(Registry, Vec<warden_core::grant::SkippedItem>), PortError> {
        let mut grants = Vec::new();
        let mut skipped = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_err("dynamodb", "Scan"))?;
            for item in page.items() {
                if s_attr(item, "grant_state").is_some_and(|s| s != "active") {
                    continue;
                }
                let key = format!(
                    "{}/{}",
                    s_attr(item, "account_id").unwrap_or("?"),
                    s_attr(item, "grant_id").unwrap_or("?")
                );
                // One bad item is reported and left out; it never stops the others.
                match item_to_input(item)
                    .and_then(|input| Grant::from_input(&input, now).map_err(|e| e.to_string()))
                {
                    Ok(g) => grants.push((key, g)),
                    Err(rule) => skipped.push(warden_core::grant::SkippedItem { item: key, rule }),
                }
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        // Precedence is the item key, not the scan's order: `declared` (Terraform) sorts before
        // `request-…` (self-service), so the declared grant stands when the two conflict.
        grants.sort_by(|a, b| a.0.cmp(&b.0));
        let (registry, conflicts) = Registry::lenient(grants);
        skipped.extend(conflicts);
        Ok((registry, skipped))
    }

    async fn expired(&self, now: DateTime<Utc>) -> Result<Vec<GrantRef>, PortError> {
        // The index compares expiry strings as text, and an item written with an offset
        // (`2026-12-01T09:00:00+09:00`, as older Terraform wrote them verbatim) sorts by its local
        // time. Ask for everything up to 14 hours ahead (the largest UTC offset is +14:00), then
        // keep what is really past by its parsed instant: no grant revoked late, none early.
        let stamp =
            (now + chrono::Duration::hours(14)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut out = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("by-expiry")
                .key_condition_expression("grant_state = :active AND expiration_date <= :now")
                .expression_attribute_values(":active", AttributeValue::S("active".into()))
                .expression_attribute_values(":now", AttributeValue::S(stamp.clone()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_err("dynamodb", "Query"))?;
            for item in page.items() {
                let input =
                    item_to_input(item).map_err(|m| PortError::new("dynamodb", "Query", m))?;
                // An unreadable expiry is passed on: the enforcer reports it by name.
                if warden_core::grant::Timestamp::parse(&input.expiration_date)
                    .is_ok_and(|t| t.0 > now)
                {
                    continue;
                }
                out.push(GrantRef {
                    account_id: input.account_id,
                    grant_id: s_attr(item, "grant_id").unwrap_or("declared").to_owned(),
                    expiration_date: input.expiration_date,
                    allowed_prefixes: input.allowed_prefixes,
                    access_level: input.access_level,
                });
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn accounts(&self) -> Result<Vec<String>, PortError> {
        let mut out = std::collections::BTreeSet::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .projection_expression("account_id")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_err("dynamodb", "Scan"))?;
            out.extend(
                page.items()
                    .iter()
                    .filter_map(|i| s_attr(i, "account_id").map(str::to_owned)),
            );
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out.into_iter().collect())
    }

    async fn revoke(&self, grant: &GrantRef, now: DateTime<Utc>) -> Result<bool, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("account_id", AttributeValue::S(grant.account_id.clone()))
            .key("grant_id", AttributeValue::S(grant.grant_id.clone()))
            .update_expression("SET grant_state = :revoked, revoked_at = :now")
            .condition_expression("grant_state = :active")
            .expression_attribute_values(":revoked", AttributeValue::S("revoked".into()))
            .expression_attribute_values(":active", AttributeValue::S("active".into()))
            .expression_attribute_values(
                ":now",
                AttributeValue::S(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(PortError::new(
                "dynamodb",
                "UpdateItem",
                format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)),
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// Bucket policies through S3.
#[derive(Debug, Clone)]
pub struct S3PolicyStore {
    client: aws_sdk_s3::Client,
}

impl S3PolicyStore {
    /// A store on the S3 of `config`.
    #[must_use]
    pub fn new(config: &SdkConfig) -> Self {
        // A local emulator on an IP address needs path-style addressing.
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build();
        S3PolicyStore {
            client: aws_sdk_s3::Client::from_conf(s3),
        }
    }
}

impl PolicyStore for S3PolicyStore {
    async fn get_bucket_policy(&self, bucket: &str) -> Result<Option<String>, PortError> {
        match self.client.get_bucket_policy().bucket(bucket).send().await {
            Ok(out) => Ok(out.policy().map(str::to_owned)),
            Err(e)
                if e.as_service_error()
                    .and_then(aws_sdk_s3::error::ProvideErrorMetadata::code)
                    == Some("NoSuchBucketPolicy") =>
            {
                Ok(None)
            }
            Err(e) => Err(PortError::new(
                "s3",
                "GetBucketPolicy",
                format!("{}", aws_sdk_s3::error::DisplayErrorContext(&e)),
            )),
        }
    }

    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> Result<(), PortError> {
        self.client
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "s3",
                    "PutBucketPolicy",
                    format!("{}", aws_sdk_s3::error::DisplayErrorContext(&e)),
                )
            })?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

/// KMS grants.
#[derive(Debug, Clone)]
pub struct KmsKeyGrants {
    client: aws_sdk_kms::Client,
}

impl KmsKeyGrants {
    /// Grants through the KMS of `config`.
    #[must_use]
    pub fn new(config: &SdkConfig) -> Self {
        KmsKeyGrants {
            client: aws_sdk_kms::Client::new(config),
        }
    }
}

impl KeyGrants for KmsKeyGrants {
    async fn list_grants(&self, key_arn: &str) -> Result<Vec<LiveGrant>, PortError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_grants()
                .key_id(key_arn)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| {
                    PortError::new(
                        "kms",
                        "ListGrants",
                        format!("{}", aws_sdk_kms::error::DisplayErrorContext(&e)),
                    )
                })?;
            for g in page.grants() {
                out.push(LiveGrant {
                    grant_id: g.grant_id().unwrap_or_default().to_owned(),
                    name: g.name().map(str::to_owned),
                    grantee_principal: g.grantee_principal().unwrap_or_default().to_owned(),
                    operations: g
                        .operations()
                        .iter()
                        .map(|o| o.as_str().to_owned())
                        .collect(),
                });
            }
            match page.next_marker() {
                Some(m) if page.truncated() => marker = Some(m.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn create_grant(&self, key_arn: &str, spec: &KmsGrantSpec) -> Result<String, PortError> {
        let ops = spec
            .operations
            .iter()
            .map(|o| aws_sdk_kms::types::GrantOperation::from(o.as_str()))
            .collect();
        let constraints = aws_sdk_kms::types::GrantConstraints::builder()
            .set_encryption_context_subset(Some(
                spec.encryption_context_subset.clone().into_iter().collect(),
            ))
            .build();
        let out = self
            .client
            .create_grant()
            .key_id(key_arn)
            .grantee_principal(&spec.grantee_principal)
            .name(&spec.name)
            .set_operations(Some(ops))
            .constraints(constraints)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "kms",
                    "CreateGrant",
                    format!("{}", aws_sdk_kms::error::DisplayErrorContext(&e)),
                )
            })?;
        Ok(out.grant_id().unwrap_or_default().to_owned())
    }

    async fn revoke_grant(&self, key_arn: &str, grant_id: &str) -> Result<(), PortError> {
        self.client
            .revoke_grant()
            .key_id(key_arn)
            .grant_id(grant_id)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "kms",
                    "RevokeGrant",
                    format!("{}", aws_sdk_kms::error::DisplayErrorContext(&e)),
                )
            })?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

/// SSM parameters.
#[derive(Debug, Clone)]
pub struct SsmConfig {
    client: aws_sdk_ssm::Client,
}

impl SsmConfig {
    /// Parameters through the SSM of `config`.
    #[must_use]
    pub fn new(config: &SdkConfig) -> Self {
        SsmConfig {
            client: aws_sdk_ssm::Client::new(config),
        }
    }
}

impl ConfigStore for SsmConfig {
    async fn get_parameter(&self, name: &str) -> Result<String, PortError> {
        let out = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "ssm",
                    "GetParameter",
                    format!("{}", aws_sdk_ssm::error::DisplayErrorContext(&e)),
                )
            })?;
        out.parameter()
            .and_then(|p| p.value())
            .map(str::to_owned)
            .ok_or_else(|| PortError::new("ssm", "GetParameter", format!("{name} has no value")))
    }
}

// ---------------------------------------------------------------------------------------------

/// SNS notifications.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    /// A notifier publishing to `topic_arn`.
    #[must_use]
    pub fn new(config: &SdkConfig, topic_arn: &str) -> Self {
        SnsNotifier {
            client: aws_sdk_sns::Client::new(config),
            topic_arn: topic_arn.to_owned(),
        }
    }

    /// One PublishBatch request for `messages[range]`; returns the entries not published.
    async fn publish_entries(
        &self,
        messages: &[(String, String)],
        range: std::ops::Range<usize>,
    ) -> Vec<(usize, String)> {
        use aws_sdk_sns::types::PublishBatchRequestEntry;
        let entries: Result<Vec<_>, _> = range
            .clone()
            .map(|i| {
                PublishBatchRequestEntry::builder()
                    .id(i.to_string())
                    .subject(messages[i].0.chars().take(100).collect::<String>())
                    .message(&messages[i].1)
                    .build()
            })
            .collect();
        let sent = match entries {
            Ok(entries) => self
                .client
                .publish_batch()
                .topic_arn(&self.topic_arn)
                .set_publish_batch_request_entries(Some(entries))
                .send()
                .await
                .map_err(|e| format!("{}", aws_sdk_sns::error::DisplayErrorContext(&e))),
            Err(e) => Err(e.to_string()),
        };
        match sent {
            Ok(out) => out
                .failed()
                .iter()
                .filter_map(|f| {
                    let i = f.id().parse::<usize>().ok()?;
                    let why = f.message().unwrap_or_default();
                    Some((i, format!("sns PublishBatch: {}: {why}", f.code())))
                })
                .collect(),
            Err(e) => range
                .map(|i| (i, format!("sns PublishBatch: {e}")))
                .collect(),
        }
    }
}

/// SNS PublishBatch limits: entries per request, and bytes of all messages together.
const SNS_BATCH_ENTRIES: usize = 10;
const SNS_BATCH_BYTES: usize = 262_144;

impl Notifier for SnsNotifier {
    async fn publish(&self, subject: &str, message: &str) -> Result<(), PortError> {
        // SNS subjects are limited to 100 characters.
        let subject: String = subject.chars().take(100).collect();
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "sns",
                    "Publish",
                    format!("{}", aws_sdk_sns::error::DisplayErrorContext(&e)),
                )
            })?;
        Ok(())
    }

    async fn publish_batch(&self, messages: &[(String, String)]) -> Vec<(usize, String)> {
        // Requests of at most 10 entries and 256 KiB of messages, sent concurrently.
        let mut ranges = Vec::new();
        let mut start = 0;
        while start < messages.len() {
            let (mut end, mut bytes) = (start, 0);
            while end < messages.len()
                && end - start < SNS_BATCH_ENTRIES
                && (end == start || bytes + messages[end].1.len() <= SNS_BATCH_BYTES)
            {
                bytes += messages[end].1.len();
                end += 1;
            }
            ranges.push(start..end);
            start = end;
        }
        let requests: Vec<_> = ranges
            .into_iter()
            .map(|r| self.publish_entries(messages, r))
            .collect();
        let mut failed: Vec<(usize, String)> = futures_util::stream::iter(requests)
            .buffer_unordered(IN_FLIGHT)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .flatten()
            .collect();
        failed.sort_by_key(|(i, _)| *i);
        failed
    }

    async fn publish_for_account(
        &self,
        account_id: &str,
        subject: &str,
        message: &str,
    ) -> Result<(), PortError> {
        let attr = aws_sdk_sns::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(account_id)
            .build()
            .map_err(|e| PortError::new("sns", "Publish", e.to_string()))?;
        let subject: String = subject.chars().take(100).collect();
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message)
            .message_attributes("account_id", attr)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "sns",
                    "Publish",
                    format!("{}", aws_sdk_sns::error::DisplayErrorContext(&e)),
                )
            })?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

/// BatchWriteItem accepts at most 25 items per call.
const BATCH: usize = 25;
/// Requests of one call in flight at once (BatchWriteItem chunks, PublishBatch requests).
const IN_FLIGHT: usize = 8;
/// Attempts for unprocessed items before giving them back to the caller.
const ATTEMPTS: u32 = 6;

fn to_attr(a: Attr) -> AttributeValue {
    match a {
        Attr::S(s) => AttributeValue::S(s),
        Attr::N(n) => AttributeValue::N(n),
        Attr::Bool(b) => AttributeValue::Bool(b),
    }
}

/// Full-jitter exponential backoff: a random delay in [0, min(cap, base·2^attempt)).
fn backoff(attempt: u32) -> std::time::Duration {
    let ceiling_ms = (50u64 << attempt.min(10)).min(2_000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0);
    // Cheap mixing of the clock's low bits; good enough for spreading retries.
    let r = nanos
        .wrapping_mul(6_364_136_223_846_793_005)
        .rotate_left(17);
    std::time::Duration::from_millis(r % ceiling_ms.max(1))
}

/// The access-log table.
#[derive(Debug, Clone)]
pub struct DynamoAuditStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoAuditStore {
    /// A store on `table`.
    #[must_use]
    pub fn new(config: &SdkConfig, table: &str) -> Self {
        DynamoAuditStore {
            client: aws_sdk_dynamodb::Client::new(config),
            table: table.to_owned(),
        }
    }

    /// One BatchWriteItem of at most 25 items, retrying unprocessed items with backoff and
    /// jitter; returns how many were written and the `event_id`s that never were.
    async fn write_chunk(
        &self,
        chunk: Vec<aws_sdk_dynamodb::types::WriteRequest>,
    ) -> Result<(usize, Vec<String>), PortError> {
        let mut pending = chunk;
        let (mut written, mut attempt) = (0, 0);
        while !pending.is_empty() && attempt < ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            attempt += 1;
            let sent = pending.len();
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, std::mem::take(&mut pending))
                .send()
                .await
                .map_err(sdk_err("dynamodb", "BatchWriteItem"))?;
            pending = out
                .unprocessed_items()
                .and_then(|u| u.get(&self.table))
                .cloned()
                .unwrap_or_default();
            written += sent - pending.len();
        }
        let failed = pending
            .iter()
            .filter_map(|w| {
                w.put_request()
                    .and_then(|p| p.item().get("event_id"))
                    .and_then(|v| v.as_s().ok())
                    .cloned()
            })
            .collect();
        Ok((written, failed))
    }
}

impl AuditStore for DynamoAuditStore {
    async fn write_records(
        &self,
        items: Vec<std::collections::BTreeMap<String, Attr>>,
    ) -> Result<WriteOutcome, PortError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let mut outcome = WriteOutcome::default();
        let requests: Vec<WriteRequest> = items
            .into_iter()
            .map(|item| {
                let item: HashMap<String, AttributeValue> =
                    item.into_iter().map(|(k, v)| (k, to_attr(v))).collect();
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(|e| PortError::new("dynamodb", "BatchWriteItem", e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        // The chunks go out concurrently (a 100-record batch is four requests in flight, not
        // four in a row); each retries its own unprocessed items.
        let chunks: Vec<Vec<WriteRequest>> = requests.chunks(BATCH).map(<[_]>::to_vec).collect();
        let writes: Vec<_> = chunks.into_iter().map(|c| self.write_chunk(c)).collect();
        let results: Vec<Result<(usize, Vec<String>), PortError>> =
            futures_util::stream::iter(writes)
                .buffer_unordered(IN_FLIGHT)
                .collect()
                .await;
        for r in results {
            let (written, failed) = r?;
            outcome.written += written;
            outcome.failed.extend(failed);
        }
        Ok(outcome)
    }
}

impl warden_core::ports::UsageQuery for DynamoAuditStore {
    async fn usage(
        &self,
        account_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<warden_core::cost::Usage, PortError> {
        let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut usage = warden_core::cost::Usage::default();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("by-account-time")
                .key_condition_expression("account_id = :a AND #t BETWEEN :from AND :to")
                .expression_attribute_names("#t", "timestamp")
                .expression_attribute_values(":a", AttributeValue::S(account_id.to_owned()))
                .expression_attribute_values(":from", AttributeValue::S(fmt(from)))
                // BETWEEN is inclusive: stop just before the end instant.
                .expression_attribute_values(
                    ":to",
                    AttributeValue::S(fmt(to - chrono::Duration::milliseconds(1))),
                )
                .projection_expression("bytes_out, event_source")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_err("dynamodb", "Query"))?;
            for item in page.items() {
                if s_attr(item, "event_source") == Some("s3.amazonaws.com") {
                    usage.requests += 1;
                }
                usage.bytes_out += item
                    .get("bytes_out")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(usage)
    }
}

/// Reports in a bucket (the audit bucket's `cost-reports/`).
#[derive(Debug, Clone)]
pub struct S3Reports {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Reports {
    /// Reports written to `bucket`.
    #[must_use]
    pub fn new(config: &SdkConfig, bucket: &str) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build();
        S3Reports {
            client: aws_sdk_s3::Client::from_conf(s3),
            bucket: bucket.to_owned(),
        }
    }
}

impl warden_core::ports::ReportStore for S3Reports {
    async fn put_report(&self, key: &str, body: &str, content_type: &str) -> Result<(), PortError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
            .body(aws_sdk_s3::primitives::ByteStream::from(
                body.as_bytes().to_vec(),
            ))
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "s3",
                    "PutObject",
                    format!("{}", aws_sdk_s3::error::DisplayErrorContext(&e)),
                )
            })?;
        Ok(())
    }
}

/// EMF lines to standard output, where Lambda sends them to CloudWatch Logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdoutMetrics;

impl Metrics for StdoutMetrics {
    fn emit(&self, line: &str) {
        println!("{line}");
    }
}

/// STS AssumeRole for credential vending.
#[derive(Debug, Clone)]
pub struct StsVendor {
    client: aws_sdk_sts::Client,
}

impl StsVendor {
    /// A vendor on the STS of `config`.
    #[must_use]
    pub fn new(config: &SdkConfig) -> Self {
        StsVendor {
            client: aws_sdk_sts::Client::new(config),
        }
    }
}

impl warden_core::ports::CredentialVendor for StsVendor {
    async fn assume(
        &self,
        role_arn: &str,
        session_name: &str,
        external_id: Option<&str>,
        session_policy: &str,
        duration_seconds: u32,
        tags: &[(String, String)],
        source_identity: &str,
    ) -> Result<warden_core::ports::Credentials, PortError> {
        let tags = tags
            .iter()
            .map(|(k, v)| aws_sdk_sts::types::Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PortError::new("sts", "AssumeRole", e.to_string()))?;
        let out = self
            .client
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session_name)
            .set_external_id(external_id.map(str::to_owned))
            .policy(session_policy)
            .duration_seconds(i32::try_from(duration_seconds).unwrap_or(3600))
            .set_tags(Some(tags))
            .source_identity(source_identity)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "sts",
                    "AssumeRole",
                    format!("{}", aws_sdk_sts::error::DisplayErrorContext(&e)),
                )
            })?;
        let c = out
            .credentials()
            .ok_or_else(|| PortError::new("sts", "AssumeRole", "no credentials in the response"))?;
        Ok(warden_core::ports::Credentials {
            access_key_id: c.access_key_id().to_owned(),
            secret_access_key: c.secret_access_key().to_owned(),
            session_token: c.session_token().to_owned(),
            expiration: c.expiration().to_string(),
        })
    }
}

/// Decode `%XX` escapes (IAM returns policy documents URL-encoded).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(
                std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                16,
            )
        {
            out.push(b);
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads consumer roles through the governance role of each consumer account.
#[derive(Debug, Clone)]
pub struct IamRoleInspector {
    config: SdkConfig,
}

impl IamRoleInspector {
    /// An inspector assuming roles with the credentials of `config`.
    #[must_use]
    pub fn new(config: &SdkConfig) -> Self {
        IamRoleInspector {
            config: config.clone(),
        }
    }
}

/// An IAM client acting as `role_arn` (STS AssumeRole, 15-minute session): how Warden reads IAM
/// in another account.
pub(crate) async fn iam_as(
    config: &SdkConfig,
    role_arn: &str,
    session_name: &str,
) -> Result<aws_sdk_iam::Client, PortError> {
    let out = aws_sdk_sts::Client::new(config)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session_name)
        .duration_seconds(900)
        .send()
        .await
        .map_err(sdk_err("sts", "AssumeRole"))?;
    let c = out
        .credentials()
        .ok_or_else(|| PortError::new("sts", "AssumeRole", "no credentials"))?;
    let creds = aws_credential_types::Credentials::from_keys(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
    );
    Ok(aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(config)
            .credentials_provider(creds)
            .build(),
    ))
}

impl warden_core::ports::RoleInspector for IamRoleInspector {
    async fn inspect(
        &self,
        governance_role_arn: &str,
        role_name: &str,
    ) -> Result<warden_core::ports::RoleFacts, PortError> {
        let iam = iam_as(&self.config, governance_role_arn, "warden-governance-check").await?;
        let ierr = |op: &'static str| move |e: String| PortError::new("iam", op, e);
        // GetRole answers the trust policy (URL-encoded, as every IAM policy document) and the
        // permissions boundary: governance compares both with what consumer-role/ renders.
        let (trust_policy, permissions_boundary) =
            match iam.get_role().role_name(role_name).send().await {
                Ok(out) => {
                    let role = out.role();
                    (
                        role.and_then(|r| r.assume_role_policy_document())
                            .map(percent_decode),
                        role.and_then(|r| r.permissions_boundary())
                            .and_then(|b| b.permissions_boundary_arn())
                            .map(str::to_owned),
                    )
                }
                Err(e)
                    if e.as_service_error().is_some_and(
                        aws_sdk_iam::operation::get_role::GetRoleError::is_no_such_entity_exception,
                    ) =>
                {
                    return Ok(warden_core::ports::RoleFacts::missing());
                }
                Err(e) => {
                    return Err(ierr("GetRole")(format!(
                        "{}",
                        aws_sdk_iam::error::DisplayErrorContext(&e)
                    )));
                }
            };
        let names = iam
            .list_role_policies()
            .role_name(role_name)
            .send()
            .await
            .map_err(|e| {
                ierr("ListRolePolicies")(format!("{}", aws_sdk_iam::error::DisplayErrorContext(&e)))
            })?;
        let mut inline_policies = Vec::new();
        for name in names.policy_names() {
            let p = iam
                .get_role_policy()
                .role_name(role_name)
                .policy_name(name)
                .send()
                .await
                .map_err(|e| {
                    ierr("GetRolePolicy")(format!(
                        "{}",
                        aws_sdk_iam::error::DisplayErrorContext(&e)
                    ))
                })?;
            inline_policies.push(percent_decode(p.policy_document()));
        }
        let attached = iam
            .list_attached_role_policies()
            .role_name(role_name)
            .send()
            .await
            .map_err(|e| {
                ierr("ListAttachedRolePolicies")(format!(
                    "{}",
                    aws_sdk_iam::error::DisplayErrorContext(&e)
                ))
            })?;
        Ok(warden_core::ports::RoleFacts {
            exists: true,
            inline_policies,
            attached_policies: attached
                .attached_policies()
                .iter()
                .filter_map(|a| a.policy_arn().map(str::to_owned))
                .collect(),
            trust_policy,
            permissions_boundary,
        })
    }
}

impl warden_core::ports::RequestStore for DynamoGrantStore {
    async fn put_pending(
        &self,
        request_id: &str,
        g: &Grant,
        justification: &str,
    ) -> Result<(), PortError> {
        let item = HashMap::from([
            (
                "account_id".to_owned(),
                AttributeValue::S(g.account_id.to_string()),
            ),
            (
                "grant_id".to_owned(),
                AttributeValue::S(request_id.to_owned()),
            ),
            (
                "allowed_prefixes".to_owned(),
                AttributeValue::L(
                    g.allowed_prefixes
                        .iter()
                        .map(|p| AttributeValue::S(p.to_string()))
                        .collect(),
                ),
            ),
            (
                "access_level".to_owned(),
                AttributeValue::S(g.access_level.as_str().to_owned()),
            ),
            (
                "expiration_date".to_owned(),
                AttributeValue::S(g.expiration_date.to_rfc3339()),
            ),
            (
                "grant_state".to_owned(),
                AttributeValue::S("pending".to_owned()),
            ),
            (
                "created_by".to_owned(),
                AttributeValue::S(g.created_by.clone()),
            ),
            (
                "created_at".to_owned(),
                AttributeValue::S(g.created_at.to_rfc3339()),
            ),
            (
                "justification".to_owned(),
                AttributeValue::S(justification.to_owned()),
            ),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // A request ID is used once.
            .condition_expression("attribute_not_exists(grant_id)")
            .send()
            .await
            .map_err(sdk_err("dynamodb", "PutItem"))?;
        Ok(())
    }

    async fn settle(
        &self,
        account_id: &str,
        request_id: &str,
        state: &str,
        by: &str,
    ) -> Result<bool, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("account_id", AttributeValue::S(account_id.to_owned()))
            .key("grant_id", AttributeValue::S(request_id.to_owned()))
            .update_expression("SET grant_state = :s, decided_by = :by")
            .condition_expression("grant_state = :pending")
            .expression_attribute_values(":s", AttributeValue::S(state.to_owned()))
            .expression_attribute_values(":by", AttributeValue::S(by.to_owned()))
            .expression_attribute_values(":pending", AttributeValue::S("pending".to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(PortError::new(
                "dynamodb",
                "UpdateItem",
                format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)),
            )),
        }
    }
}

/// The approval workflow on Step Functions.
#[derive(Debug, Clone)]
pub struct SfnWorkflow {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl SfnWorkflow {
    /// The workflow `state_machine_arn` (may be empty for a processor that only answers tasks).
    #[must_use]
    pub fn new(config: &SdkConfig, state_machine_arn: &str) -> Self {
        SfnWorkflow {
            client: aws_sdk_sfn::Client::new(config),
            state_machine_arn: state_machine_arn.to_owned(),
        }
    }
}

impl warden_core::ports::Workflow for SfnWorkflow {
    async fn start(&self, name: &str, input: &str) -> Result<(), PortError> {
        self.client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "states",
                    "StartExecution",
                    format!("{}", aws_sdk_sfn::error::DisplayErrorContext(&e)),
                )
            })?;
        Ok(())
    }

    async fn answer(
        &self,
        task_token: &str,
        outcome: Result<String, (String, String)>,
    ) -> Result<(), PortError> {
        match outcome {
            Ok(output) => self
                .client
                .send_task_success()
                .task_token(task_token)
                .output(output)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    PortError::new(
                        "states",
                        "SendTaskSuccess",
                        format!("{}", aws_sdk_sfn::error::DisplayErrorContext(&e)),
                    )
                }),
            Err((error, cause)) => self
                .client
                .send_task_failure()
                .task_token(task_token)
                .error(error)
                .cause(cause)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    PortError::new(
                        "states",
                        "SendTaskFailure",
                        format!("{}", aws_sdk_sfn::error::DisplayErrorContext(&e)),
                    )
                }),
        }
    }
}

/// [`warden_core::ports::PendingRequests`] on the registry table.
#[derive(Debug, Clone)]
pub struct DynamoPendingRequests {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoPendingRequests {
    /// On `table` (the registry).
    #[must_use]
    pub fn new(config: &SdkConfig, table: &str) -> Self {
        DynamoPendingRequests {
            client: aws_sdk_dynamodb::Client::new(config),
            table: table.to_owned(),
        }
    }
}

fn pending_attr<'a>(
    item: &'a HashMap<String, AttributeValue>,
    k: &str,
) -> Result<&'a str, PortError> {
    item.get(k)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| {
            PortError::new(
                "dynamodb",
                "UpdateItem",
                format!("pending request: attribute {k} is missing or not a string"),
            )
        })
}

impl warden_core::ports::PendingRequests for DynamoPendingRequests {
    async fn claim(
        &self,
        account_id: &str,
        request_id: &str,
        execution: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<warden_core::ports::PendingRequest>, PortError> {
        // One conditional UpdateItem both checks (still pending, not bound to another execution)
        // and records which execution decides the request, and returns the stored item
        // (ReturnValues ALL_NEW) — the role needs no read permission beyond UpdateItem.
        // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("account_id", AttributeValue::S(account_id.to_owned()))
            .key("grant_id", AttributeValue::S(request_id.to_owned()))
            .update_expression("SET task_execution = :e, task_seen_at = :now")
            .condition_expression(
                "grant_state = :pending AND (attribute_not_exists(task_execution) OR task_execution = :e)",
            )
            .expression_attribute_values(":e", AttributeValue::S(execution.to_owned()))
            .expression_attribute_values(
                ":now",
                AttributeValue::S(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            )
            .expression_attribute_values(":pending", AttributeValue::S("pending".to_owned()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        let item = match result {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => {
                return Err(PortError::new(
                    "dynamodb",
                    "UpdateItem",
                    format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)),
                ));
            }
        };
        let allowed_prefixes = match item.get("allowed_prefixes") {
            Some(AttributeValue::L(l)) => l.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
            Some(AttributeValue::Ss(ss)) => ss.clone(),
            _ => {
                return Err(PortError::new(
                    "dynamodb",
                    "UpdateItem",
                    "pending request: attribute allowed_prefixes is missing or not a list of strings",
                ));
            }
        };
        Ok(Some(warden_core::ports::PendingRequest {
            account_id: pending_attr(&item, "account_id")?.to_owned(),
            request_id: pending_attr(&item, "grant_id")?.to_owned(),
            allowed_prefixes,
            access_level: pending_attr(&item, "access_level")?.to_owned(),
            expiration_date: pending_attr(&item, "expiration_date")?.to_owned(),
            requester: pending_attr(&item, "created_by")?.to_owned(),
            justification: pending_attr(&item, "justification")
                .unwrap_or_default()
                .to_owned(),
        }))
    }
}

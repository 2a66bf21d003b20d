//! The registry table: grants ([`DynamoGrantStore`]), self-service requests (its
//! [`warden_core::ports::RequestStore`] impl) and the approval workflow's claims
//! ([`DynamoPendingRequests`]).

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use warden_core::grant::{Grant, GrantInput, Registry};
use warden_core::ports::{GrantRef, GrantStore, PortError};

use crate::util::{s_attr, sdk_err};

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

/// One registry item as stored, whatever its state (for `warden grants list`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegistryItem {
    /// Consumer account.
    pub account_id: String,
    /// `declared` (Terraform) or the approved request's ID.
    pub grant_id: String,
    /// `active`, `pending`, `revoked`, `rejected`… as stored.
    pub grant_state: String,
    /// Granted prefixes.
    pub allowed_prefixes: Vec<String>,
    /// `read` / `read-write`.
    pub access_level: String,
    /// RFC 3339 expiry.
    pub expiration_date: String,
    /// `terraform` or the requester.
    pub created_by: Option<String>,
    /// When it was created.
    pub created_at: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

impl DynamoGrantStore {
    /// Every registry item, whatever its state (Scan, every page; consistent read). Internal
    /// items (`grant_id` starting with `#`) are left out.
    ///
    /// # Errors
    /// A Scan call failed (after the SDK's retries).
    pub async fn list_items(&self) -> Result<Vec<RegistryItem>, PortError> {
        let mut out = Vec::new();
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
                let s = |k: &str| s_attr(item, k).map(str::to_owned);
                let grant_id = s("grant_id").unwrap_or_default();
                if grant_id.starts_with('#') {
                    continue;
                }
                out.push(RegistryItem {
                    account_id: s("account_id").unwrap_or_default(),
                    grant_id,
                    grant_state: s("grant_state").unwrap_or_else(|| "active".into()),
                    allowed_prefixes: match item.get("allowed_prefixes") {
                        Some(AttributeValue::L(l)) => {
                            l.iter().filter_map(|v| v.as_s().ok().cloned()).collect()
                        }
                        Some(AttributeValue::Ss(ss)) => ss.clone(),
                        _ => Vec::new(),
                    },
                    access_level: s("access_level").unwrap_or_default(),
                    expiration_date: s("expiration_date").unwrap_or_default(),
                    created_by: s("created_by"),
                    created_at: s("created_at"),
                    revoked_at: s("revoked_at"),
                });
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        out.sort_by(|a, b| (&a.account_id, &a.grant_id).cmp(&(&b.account_id, &b.grant_id)));
        Ok(out)
    }
}

/// The registry the policy-reconciler renders from, out of items already read (as
/// [`DynamoGrantStore::load_registry_checked`] selects them: active items only, in key order so a
/// `declared` grant stands over a conflicting self-service one), with the items left out and why.
/// `warden grants diff` renders the registry before and after an apply with it.
#[must_use]
pub fn registry_of_items(
    items: &[RegistryItem],
    now: DateTime<Utc>,
) -> (Registry, Vec<warden_core::grant::SkippedItem>) {
    let mut grants = Vec::new();
    let mut skipped = Vec::new();
    for i in items
        .iter()
        .filter(|i| i.grant_state == "active" && !i.grant_id.starts_with('#'))
    {
        let key = format!("{}/{}", i.account_id, i.grant_id);
        let input = GrantInput {
            account_id: i.account_id.clone(),
            name: None,
            allowed_prefixes: i.allowed_prefixes.clone(),
            access_level: i.access_level.clone(),
            expiration_date: i.expiration_date.clone(),
            owner_email: None,
            external_id: None,
            created_by: i.created_by.clone(),
            created_at: i.created_at.clone(),
        };
        match Grant::from_input(&input, now) {
            Ok(g) => grants.push((key, g)),
            Err(e) => skipped.push(warden_core::grant::SkippedItem {
                item: key,
                rule: e.to_string(),
            }),
        }
    }
    grants.sort_by(|a, b| a.0.cmp(&b.0));
    let (registry, conflicts) = Registry::lenient(grants);
    skipped.extend(conflicts);
    (registry, skipped)
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
                if s_attr(item, "grant_state").is_some_and(|s| s != "active")
                    || s_attr(item, "grant_id").is_some_and(|g| g.starts_with('#'))
                {
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

/// What a conditional activation requires to be unchanged: the account's activation counter
/// and its declared item (whatever its state), as read.
#[derive(Debug, Clone, Default)]
pub struct AccountSnapshot {
    /// The counter item's `activations` value; `None` when the account has none yet.
    version: Option<String>,
    /// The declared item as read, or `None` when there was none.
    declared: Option<HashMap<String, AttributeValue>>,
}

/// The registry item (`grant_id`) that counts an account's activations. Every activation bumps
/// it in the same transaction, conditional on the value its overlap check read, so activations
/// of one account are serialised: two cannot both pass a check made before the other. Item keys
/// starting with `#` are bookkeeping, never grants.
pub const ACTIVATION_COUNTER: &str = "#activations";

/// Attributes of the declared item whose change invalidates an overlap check.
const CHECKED_ATTRIBUTES: [&str; 4] = [
    "grant_state",
    "allowed_prefixes",
    "access_level",
    "expiration_date",
];

impl warden_core::ports::RequestStore for DynamoGrantStore {
    type Snapshot = AccountSnapshot;

    async fn account_snapshot(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Grant>, AccountSnapshot), PortError> {
        let mut snapshot = AccountSnapshot::default();
        let mut grants = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("account_id = :a")
                .expression_attribute_values(":a", AttributeValue::S(account_id.to_owned()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_err("dynamodb", "Query"))?;
            for item in page.items() {
                match s_attr(item, "grant_id") {
                    Some(ACTIVATION_COUNTER) => {
                        snapshot.version =
                            item.get("activations").and_then(|v| v.as_n().ok()).cloned();
                        continue;
                    }
                    Some(id) if id.starts_with('#') => continue,
                    Some("declared") => snapshot.declared = Some(item.clone()),
                    _ => {}
                }
                if s_attr(item, "grant_state").unwrap_or("active") != "active" {
                    continue;
                }
                // An unreadable item is left out as the loader leaves it out of the registry.
                if let Ok(g) = item_to_input(item)
                    .and_then(|i| Grant::from_input(&i, now).map_err(|e| e.to_string()))
                {
                    grants.push(g);
                }
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok((grants, snapshot))
    }

    async fn activate(
        &self,
        account_id: &str,
        request_id: &str,
        by: &str,
        snapshot: &AccountSnapshot,
    ) -> Result<warden_core::ports::Activation, PortError> {
        use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem, Update};
        use warden_core::ports::Activation;
        let bad = |e: aws_sdk_dynamodb::error::BuildError| {
            PortError::new("dynamodb", "TransactWriteItems", e.to_string())
        };
        let key = |grant_id: &str| {
            HashMap::from([
                (
                    "account_id".to_owned(),
                    AttributeValue::S(account_id.to_owned()),
                ),
                (
                    "grant_id".to_owned(),
                    AttributeValue::S(grant_id.to_owned()),
                ),
            ])
        };
        let request = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(request_id)))
            .update_expression("SET grant_state = :s, decided_by = :by")
            .condition_expression("grant_state = :pending")
            .expression_attribute_values(":s", AttributeValue::S("active".into()))
            .expression_attribute_values(":by", AttributeValue::S(by.to_owned()))
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .build()
            .map_err(bad)?;
        let next = snapshot
            .version
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        let mut counter = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(ACTIVATION_COUNTER)))
            .update_expression("SET activations = :next")
            .expression_attribute_values(":next", AttributeValue::N(next.to_string()));
        counter = match &snapshot.version {
            Some(v) => counter
                .condition_expression("activations = :seen")
                .expression_attribute_values(":seen", AttributeValue::N(v.clone())),
            None => counter.condition_expression("attribute_not_exists(grant_id)"),
        };
        // The declared item as read — attributes equal (lists compare whole: EQ works on every
        // type, https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Condition.html)
        // or still absent: Terraform writes it without the counter.
        let mut declared = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key("declared")));
        match &snapshot.declared {
            Some(item) => {
                let mut clauses = Vec::new();
                for (n, attr) in CHECKED_ATTRIBUTES.iter().enumerate() {
                    declared = declared.expression_attribute_names(format!("#a{n}"), *attr);
                    match item.get(*attr) {
                        Some(v) => {
                            clauses.push(format!("#a{n} = :v{n}"));
                            declared =
                                declared.expression_attribute_values(format!(":v{n}"), v.clone());
                        }
                        None => clauses.push(format!("attribute_not_exists(#a{n})")),
                    }
                }
                declared = declared.condition_expression(clauses.join(" AND "));
            }
            None => declared = declared.condition_expression("attribute_not_exists(grant_id)"),
        }
        let actions = vec![
            TransactWriteItem::builder().update(request).build(),
            TransactWriteItem::builder()
                .update(counter.build().map_err(bad)?)
                .build(),
            TransactWriteItem::builder()
                .condition_check(declared.build().map_err(bad)?)
                .build(),
        ];
        let r = self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await;
        match r {
            Ok(_) => Ok(Activation::Activated),
            Err(e) => {
                if let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error() {
                    // Reasons come in the order of the actions: the first is the request itself.
                    let reasons = c.cancellation_reasons();
                    if reasons.first().is_some_and(|r| r.code() == Some("ConditionalCheckFailed")) {
                        return Ok(Activation::NotPending);
                    }
                    // Another activation or a Terraform apply got in first (or a conflicting
                    // transaction is in flight): check again.
                    if reasons.is_empty() || reasons.iter().any(|r| r.code().is_some_and(|c| c != "None")) {
                        return Ok(Activation::Changed);
                    }
                }
                Err(sdk_err("dynamodb", "TransactWriteItems")(e))
            }
        }
    }

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

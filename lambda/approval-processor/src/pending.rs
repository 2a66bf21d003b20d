//! The stored pending request, as access-request recorded it: the only source of what a workflow
//! task applies (account, prefixes, level, expiry, requester). The task event's copies are never
//! used.
//!
//! This port belongs beside `RequestStore` in warden-core (and its DynamoDB side in warden-aws);
//! it lives here until those files can take it.

use std::collections::HashMap;
use std::future::Future;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use warden_core::ports::PortError;

/// A pending request as stored in the registry table at request time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    /// Requesting account (the API-verified caller's).
    pub account_id: String,
    /// `request-<API request id>`, which is also the workflow execution's name.
    pub request_id: String,
    /// Prefixes asked for.
    pub allowed_prefixes: Vec<String>,
    /// `read` / `read-write`.
    pub access_level: String,
    /// RFC 3339 expiry asked for.
    pub expiration_date: String,
    /// The API-verified caller who asked (`created_by`).
    pub requester: String,
    /// Why (shown to the approvers).
    pub justification: String,
}

/// Pending requests, claimed by the workflow execution that decides them.
pub trait PendingRequests {
    /// The pending request `request_id` of `account_id`, claimed for `execution` (the workflow
    /// execution ARN): the first task of an execution binds the request to it, later tasks of the
    /// same execution (retries) see it again, any other execution sees `None`. `None` too when
    /// there is no such request or it is no longer pending.
    fn claim(
        &self,
        account_id: &str,
        request_id: &str,
        execution: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<PendingRequest>, PortError>> + Send;
}

/// [`PendingRequests`] on the registry table.
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

fn s<'a>(item: &'a HashMap<String, AttributeValue>, k: &str) -> Result<&'a str, PortError> {
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

impl PendingRequests for DynamoPendingRequests {
    async fn claim(
        &self,
        account_id: &str,
        request_id: &str,
        execution: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingRequest>, PortError> {
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
            .return_values(ReturnValue::AllNew)
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
        Ok(Some(PendingRequest {
            account_id: s(&item, "account_id")?.to_owned(),
            request_id: s(&item, "grant_id")?.to_owned(),
            allowed_prefixes,
            access_level: s(&item, "access_level")?.to_owned(),
            expiration_date: s(&item, "expiration_date")?.to_owned(),
            requester: s(&item, "created_by")?.to_owned(),
            justification: s(&item, "justification").unwrap_or_default().to_owned(),
        }))
    }
}

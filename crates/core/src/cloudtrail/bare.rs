//! The throughput yardstick of issue 17: a strict, minimal typed CloudTrail record, parsed with
//! owned strings and nothing else (the criterion bench's baseline and `warden dev bare-parse`).
#![allow(missing_docs)]

use serde::Deserialize;

/// The fields the pipeline reads, owned.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bare {
    pub event_time: Option<String>,
    pub event_source: Option<String>,
    pub event_name: Option<String>,
    #[serde(rename = "eventID")]
    pub event_id: Option<String>,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    pub recipient_account_id: Option<String>,
    pub user_identity: Option<BareIdentity>,
    pub request_parameters: Option<BareParams>,
    pub additional_event_data: Option<BareExtra>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BareIdentity {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BareParams {
    pub bucket_name: Option<String>,
    pub key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BareExtra {
    pub bytes_transferred_in: Option<u64>,
    pub bytes_transferred_out: Option<u64>,
}

/// A log file: `{"Records": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BareFile {
    pub records: Vec<Bare>,
}

//! The CloudTrail record as delivered, read leniently: any field may be missing, null, of an
//! unexpected type or joined by new fields, and the record still reads (AWS adds fields over
//! time; old and third-party logs omit some).

use serde::{Deserialize, Deserializer};

/// Read a string, accepting numbers and booleans as text and anything else as absent.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

/// Read a number of bytes from a number or a numeric string.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        serde_json::Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0)
            .map(|f| f as u64),
        _ => None,
    })
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => Some(b),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

fn lenient<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    // A field of the wrong shape (e.g. a string where an object belongs) reads as absent.
    let v = serde_json::Value::deserialize(d)?;
    Ok(T::deserialize(v).unwrap_or_default())
}

/// `userIdentity.sessionContext.sessionIssuer`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionIssuer {
    /// `Role`, `IAMUser`, …
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    /// The role or user ARN.
    #[serde(deserialize_with = "lenient_string")]
    pub arn: Option<String>,
    /// Its account.
    #[serde(deserialize_with = "lenient_string")]
    pub account_id: Option<String>,
    /// Its name.
    #[serde(deserialize_with = "lenient_string")]
    pub user_name: Option<String>,
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionContext {
    /// Who issued the session.
    #[serde(deserialize_with = "lenient")]
    pub session_issuer: Option<SessionIssuer>,
    /// `attributes.mfaAuthenticated`, `creationDate`.
    #[serde(deserialize_with = "lenient")]
    pub attributes: Option<SessionAttributes>,
}

/// `userIdentity.sessionContext.attributes`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionAttributes {
    /// `"true"`/`"false"`.
    #[serde(deserialize_with = "lenient_string")]
    pub mfa_authenticated: Option<String>,
    /// Session start.
    #[serde(deserialize_with = "lenient_string")]
    pub creation_date: Option<String>,
}

/// `userIdentity`: every type (IAMUser, AssumedRole, Root, AWSService, AWSAccount,
/// FederatedUser, IdentityCenterUser, Unknown, …) reads into the same shape.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct UserIdentity {
    /// The identity type.
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    /// Principal ID.
    #[serde(deserialize_with = "lenient_string")]
    pub principal_id: Option<String>,
    /// Principal ARN.
    #[serde(deserialize_with = "lenient_string")]
    pub arn: Option<String>,
    /// Principal's account.
    #[serde(deserialize_with = "lenient_string")]
    pub account_id: Option<String>,
    /// Access key used.
    #[serde(deserialize_with = "lenient_string")]
    pub access_key_id: Option<String>,
    /// User name.
    #[serde(deserialize_with = "lenient_string")]
    pub user_name: Option<String>,
    /// The service that made the call on the principal's behalf.
    #[serde(deserialize_with = "lenient_string")]
    pub invoked_by: Option<String>,
    /// Session details for temporary credentials.
    #[serde(deserialize_with = "lenient")]
    pub session_context: Option<SessionContext>,
}

/// The parts of `requestParameters` Warden reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestParameters {
    /// S3 bucket.
    #[serde(deserialize_with = "lenient_string")]
    pub bucket_name: Option<String>,
    /// S3 object key.
    #[serde(deserialize_with = "lenient_string")]
    pub key: Option<String>,
    /// KMS key.
    #[serde(deserialize_with = "lenient_string")]
    pub key_id: Option<String>,
    /// Listing prefix.
    #[serde(deserialize_with = "lenient_string")]
    pub prefix: Option<String>,
}

/// `additionalEventData` (S3 data events carry bytes transferred here).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct AdditionalEventData {
    /// Bytes uploaded.
    #[serde(deserialize_with = "lenient_u64")]
    pub bytes_transferred_in: Option<u64>,
    /// Bytes downloaded.
    #[serde(deserialize_with = "lenient_u64")]
    pub bytes_transferred_out: Option<u64>,
}

/// One entry of `resources[]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Resource {
    /// Resource ARN.
    #[serde(rename = "ARN", alias = "arn", deserialize_with = "lenient_string")]
    pub arn: Option<String>,
    /// Owning account.
    #[serde(rename = "accountId", deserialize_with = "lenient_string")]
    pub account_id: Option<String>,
    /// e.g. `AWS::S3::Object`.
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub kind: Option<String>,
}

/// `tlsDetails`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsDetails {
    /// e.g. `TLSv1.3`.
    #[serde(deserialize_with = "lenient_string")]
    pub tls_version: Option<String>,
    /// Cipher suite.
    #[serde(deserialize_with = "lenient_string")]
    pub cipher_suite: Option<String>,
    /// Host header.
    #[serde(deserialize_with = "lenient_string")]
    pub client_provided_host_header: Option<String>,
}

/// One CloudTrail record.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct CloudTrailRecord {
    /// Record format version.
    #[serde(deserialize_with = "lenient_string")]
    pub event_version: Option<String>,
    /// Who.
    #[serde(deserialize_with = "lenient")]
    pub user_identity: Option<UserIdentity>,
    /// When (UTC, ISO 8601).
    #[serde(deserialize_with = "lenient_string")]
    pub event_time: Option<String>,
    /// e.g. `s3.amazonaws.com`.
    #[serde(deserialize_with = "lenient_string")]
    pub event_source: Option<String>,
    /// e.g. `GetObject`.
    #[serde(deserialize_with = "lenient_string")]
    pub event_name: Option<String>,
    /// Region.
    #[serde(deserialize_with = "lenient_string")]
    pub aws_region: Option<String>,
    /// Caller IP (v4 or v6) or a service name such as `s3.amazonaws.com`.
    #[serde(
        rename = "sourceIPAddress",
        alias = "sourceIpAddress",
        deserialize_with = "lenient_string"
    )]
    pub source_ip_address: Option<String>,
    /// User agent.
    #[serde(deserialize_with = "lenient_string")]
    pub user_agent: Option<String>,
    /// Error code when the call failed.
    #[serde(deserialize_with = "lenient_string")]
    pub error_code: Option<String>,
    /// Error message.
    #[serde(deserialize_with = "lenient_string")]
    pub error_message: Option<String>,
    /// Request parameters Warden reads.
    #[serde(deserialize_with = "lenient")]
    pub request_parameters: Option<RequestParameters>,
    /// Additional data (bytes transferred).
    #[serde(deserialize_with = "lenient")]
    pub additional_event_data: Option<AdditionalEventData>,
    /// Resources touched.
    #[serde(deserialize_with = "lenient")]
    pub resources: Option<Vec<Resource>>,
    /// Unique event ID (the idempotency key).
    #[serde(
        rename = "eventID",
        alias = "eventId",
        deserialize_with = "lenient_string"
    )]
    pub event_id: Option<String>,
    /// `AwsApiCall`, `AwsServiceEvent`, …
    #[serde(deserialize_with = "lenient_string")]
    pub event_type: Option<String>,
    /// `Management`, `Data`, `Insight`.
    #[serde(deserialize_with = "lenient_string")]
    pub event_category: Option<String>,
    /// Account that received the event.
    #[serde(deserialize_with = "lenient_string")]
    pub recipient_account_id: Option<String>,
    /// VPC endpoint used.
    #[serde(deserialize_with = "lenient_string")]
    pub vpc_endpoint_id: Option<String>,
    /// Whether the call was read-only.
    #[serde(deserialize_with = "lenient_bool")]
    pub read_only: Option<bool>,
    /// TLS details.
    #[serde(deserialize_with = "lenient")]
    pub tls_details: Option<TlsDetails>,
}

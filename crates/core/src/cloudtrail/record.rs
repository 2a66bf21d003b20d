//! The CloudTrail record as delivered — the fields Warden uses; everything else (`tlsDetails`,
//! `eventCategory`, `responseElements`, fields AWS adds tomorrow) is skipped without allocating —
//! read leniently: any field may be missing, null, of an
//! unexpected type or joined by new fields, and the record still reads (AWS adds fields over
//! time; old and third-party logs omit some).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

// Lenient readers are visitors, not detours through `serde_json::Value`: the common case
// (the expected type) costs no more than a strict read, and the odd case reads as absent.

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

struct StringVisitor;

impl<'de> Visitor<'de> for StringVisitor {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map).map(|()| None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|()| None)
    }
}

/// Read a string, accepting numbers and booleans as text and anything else as absent.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(StringVisitor)
}

/// Read a number of bytes from a number or a numeric string.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(lenient_string(d)?
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|f| *f >= 0.0 && f.is_finite())
        .map(|f| f as u64))
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|()| None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// An object field; a value of another shape (a string where an object belongs) reads as absent.
fn lenient<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    d.deserialize_any(ObjectVisitor(PhantomData))
}

/// One element of a list that must be an object; anything else is dropped.
pub(crate) struct LenientItem<T>(pub(crate) Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for LenientItem<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient(d).map(LenientItem)
    }
}

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = Option<Vec<T>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(LenientItem(item)) = seq.next_element::<LenientItem<T>>()? {
            out.extend(item);
        }
        Ok(Some(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map).map(|()| None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A list of objects; non-object elements are dropped, a non-list reads as absent.
fn lenient_list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    d.deserialize_any(ListVisitor(PhantomData))
}

/// `userIdentity.sessionContext.sessionIssuer`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionIssuer {
    /// The role or user ARN.
    #[serde(deserialize_with = "lenient_string")]
    pub arn: Option<String>,
    /// Its account.
    #[serde(deserialize_with = "lenient_string")]
    pub account_id: Option<String>,
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
}

/// `userIdentity`: every type (IAMUser, AssumedRole, Root, AWSService, AWSAccount,
/// FederatedUser, IdentityCenterUser, Unknown, …) reads into the same shape.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct UserIdentity {
    /// The identity type.
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    /// Principal ARN.
    #[serde(deserialize_with = "lenient_string")]
    pub arn: Option<String>,
    /// Principal's account.
    #[serde(deserialize_with = "lenient_string")]
    pub account_id: Option<String>,
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

/// One CloudTrail record.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct CloudTrailRecord {
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
    /// Request parameters Warden reads.
    #[serde(deserialize_with = "lenient")]
    pub request_parameters: Option<RequestParameters>,
    /// Additional data (bytes transferred).
    #[serde(deserialize_with = "lenient")]
    pub additional_event_data: Option<AdditionalEventData>,
    /// Resources touched.
    #[serde(deserialize_with = "lenient_list")]
    pub resources: Option<Vec<Resource>>,
    /// Unique event ID (the idempotency key).
    #[serde(
        rename = "eventID",
        alias = "eventId",
        deserialize_with = "lenient_string"
    )]
    pub event_id: Option<String>,
    /// Account that received the event.
    #[serde(deserialize_with = "lenient_string")]
    pub recipient_account_id: Option<String>,
    /// VPC endpoint used.
    #[serde(deserialize_with = "lenient_string")]
    pub vpc_endpoint_id: Option<String>,
}

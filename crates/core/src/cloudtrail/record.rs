//! The CloudTrail record as delivered — the fields Warden uses; everything else (`tlsDetails`,
//! `eventCategory`, `responseElements`, fields AWS adds tomorrow) is skipped without allocating —
//! read leniently: any field may be missing, null, of an
//! unexpected type or joined by new fields, and the record still reads (AWS adds fields over
//! time; old and third-party logs omit some).

use std::borrow::Cow;
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
    type Value = Option<Txt<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
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

/// Text borrowed from the input when it has no escapes, owned otherwise.
pub type Txt<'a> = Cow<'a, str>;

/// Read a string, accepting numbers and booleans as text and anything else as absent.
pub(super) fn lenient_string<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Txt<'a>>, D::Error> {
    d.deserialize_any(StringVisitor)
}

fn bytes_from_f64(f: f64) -> Option<u64> {
    (f >= 0.0 && f.is_finite()).then_some(f as u64)
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Option<u64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number of bytes")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).ok())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(bytes_from_f64(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.trim().parse::<f64>().ok().and_then(bytes_from_f64))
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
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map).map(|()| None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|()| None)
    }
}

/// Read a number of bytes from a number or a numeric string; anything else reads as absent.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    d.deserialize_any(BytesVisitor)
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
pub struct SessionIssuer<'a> {
    /// The role or user ARN.
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub arn: Option<Txt<'a>>,
    /// Its account.
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub account_id: Option<Txt<'a>>,
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionContext<'a> {
    /// Who issued the session.
    #[serde(borrow, deserialize_with = "lenient")]
    pub session_issuer: Option<SessionIssuer<'a>>,
    /// `attributes.mfaAuthenticated`, `creationDate`.
    #[serde(borrow, deserialize_with = "lenient")]
    pub attributes: Option<SessionAttributes<'a>>,
}

/// `userIdentity.sessionContext.attributes`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionAttributes<'a> {
    /// `"true"`/`"false"`.
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub mfa_authenticated: Option<Txt<'a>>,
}

/// `userIdentity`: every type (IAMUser, AssumedRole, Root, AWSService, AWSAccount,
/// FederatedUser, IdentityCenterUser, Unknown, …) reads into the same shape.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct UserIdentity<'a> {
    /// The identity type.
    #[serde(rename = "type", borrow, deserialize_with = "lenient_string")]
    pub kind: Option<Txt<'a>>,
    /// Principal ARN.
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub arn: Option<Txt<'a>>,
    /// Principal's account.
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub account_id: Option<Txt<'a>>,
    /// The service that made the call on the principal's behalf.
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub invoked_by: Option<Txt<'a>>,
    /// Session details for temporary credentials.
    #[serde(borrow, deserialize_with = "lenient")]
    pub session_context: Option<SessionContext<'a>>,
}

/// The parts of `requestParameters` Warden reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestParameters<'a> {
    /// S3 bucket.
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub bucket_name: Option<Txt<'a>>,
    /// S3 object key.
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub key: Option<Txt<'a>>,
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
pub struct Resource<'a> {
    /// Resource ARN.
    #[serde(
        rename = "ARN",
        alias = "arn",
        borrow,
        deserialize_with = "lenient_string"
    )]
    pub arn: Option<Txt<'a>>,
    /// Owning account.
    #[serde(rename = "accountId", borrow, deserialize_with = "lenient_string")]
    pub account_id: Option<Txt<'a>>,
    /// e.g. `AWS::S3::Object`.
    #[serde(rename = "type", borrow, deserialize_with = "lenient_string")]
    pub kind: Option<Txt<'a>>,
}

/// `resources[]` kept as its JSON text. An S3 data event names its object in
/// `requestParameters`; `resources` is only the fallback, so it is not parsed for every record
/// (skipping it costs a scan; parsing its ARNs costs a sixth of the whole parse).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawResources<'a>(pub Txt<'a>);

impl RawResources<'_> {
    /// The entries that are objects (other elements, or a value that is not a list, read as
    /// none — the same leniency as every other field).
    #[must_use]
    pub fn list(&self) -> Vec<Resource<'_>> {
        let mut de = serde_json::Deserializer::from_str(&self.0);
        lenient_list(&mut de).ok().flatten().unwrap_or_default()
    }
}

fn raw_resources<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<RawResources<'a>>, D::Error> {
    let raw = <Option<&'de serde_json::value::RawValue>>::deserialize(d)?;
    Ok(raw.map(|r| RawResources(Cow::Borrowed(r.get()))))
}

/// One CloudTrail record.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct CloudTrailRecord<'a> {
    /// Who.
    #[serde(borrow, deserialize_with = "lenient")]
    pub user_identity: Option<UserIdentity<'a>>,
    /// When (UTC, ISO 8601).
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub event_time: Option<Txt<'a>>,
    /// e.g. `s3.amazonaws.com`.
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub event_source: Option<Txt<'a>>,
    /// e.g. `GetObject`.
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub event_name: Option<Txt<'a>>,
    /// Region.
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub aws_region: Option<Txt<'a>>,
    /// Caller IP (v4 or v6) or a service name such as `s3.amazonaws.com`.
    #[serde(
        rename = "sourceIPAddress",
        alias = "sourceIpAddress",
        borrow,
        deserialize_with = "lenient_string"
    )]
    pub source_ip_address: Option<Txt<'a>>,
    /// User agent.
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub user_agent: Option<Txt<'a>>,
    /// Error code when the call failed.
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub error_code: Option<Txt<'a>>,
    /// Request parameters Warden reads.
    #[serde(borrow, deserialize_with = "lenient")]
    pub request_parameters: Option<RequestParameters<'a>>,
    /// Additional data (bytes transferred).
    #[serde(deserialize_with = "lenient")]
    pub additional_event_data: Option<AdditionalEventData>,
    /// Resources touched, as raw JSON (read with [`RawResources::list`] only when needed).
    #[serde(borrow, deserialize_with = "raw_resources")]
    pub resources: Option<RawResources<'a>>,
    /// Unique event ID (the idempotency key).
    #[serde(
        rename = "eventID",
        alias = "eventId",
        borrow,
        deserialize_with = "lenient_string"
    )]
    pub event_id: Option<Txt<'a>>,
    /// Account that received the event.
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub recipient_account_id: Option<Txt<'a>>,
    /// VPC endpoint used.
    #[serde(borrow, deserialize_with = "lenient_string")]
    pub vpc_endpoint_id: Option<Txt<'a>>,
}

fn own(t: Option<Txt<'_>>) -> Option<Txt<'static>> {
    t.map(|c| Cow::Owned(c.into_owned()))
}

impl CloudTrailRecord<'_> {
    /// Detach the record from the input it borrows from.
    #[must_use]
    pub fn into_owned(self) -> CloudTrailRecord<'static> {
        CloudTrailRecord {
            user_identity: self.user_identity.map(|u| UserIdentity {
                kind: own(u.kind),
                arn: own(u.arn),
                account_id: own(u.account_id),
                invoked_by: own(u.invoked_by),
                session_context: u.session_context.map(|c| SessionContext {
                    session_issuer: c.session_issuer.map(|i| SessionIssuer {
                        arn: own(i.arn),
                        account_id: own(i.account_id),
                    }),
                    attributes: c.attributes.map(|a| SessionAttributes {
                        mfa_authenticated: own(a.mfa_authenticated),
                    }),
                }),
            }),
            event_time: own(self.event_time),
            event_source: own(self.event_source),
            event_name: own(self.event_name),
            aws_region: own(self.aws_region),
            source_ip_address: own(self.source_ip_address),
            user_agent: own(self.user_agent),
            error_code: own(self.error_code),
            request_parameters: self.request_parameters.map(|p| RequestParameters {
                bucket_name: own(p.bucket_name),
                key: own(p.key),
            }),
            additional_event_data: self.additional_event_data,
            resources: self
                .resources
                .map(|r| RawResources(Cow::Owned(r.0.into_owned()))),
            event_id: own(self.event_id),
            recipient_account_id: own(self.recipient_account_id),
            vpc_endpoint_id: own(self.vpc_endpoint_id),
        }
    }
}

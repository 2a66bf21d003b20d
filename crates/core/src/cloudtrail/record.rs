//! The CloudTrail record as delivered — the fields Warden uses; everything else (`tlsDetails`,
//! `eventCategory`, `responseElements`, fields AWS adds tomorrow) is skipped without allocating —
//! read leniently: any field may be missing, null, of an
//! unexpected type or joined by new fields, and the record still reads (AWS adds fields over
//! time; old and third-party logs omit some).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
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

/// Visitor methods for values of the wrong shape, each reading as `$absent`: `absent!(None;
/// str u64 map seq)` writes `visit_str`, `visit_u64`, `visit_map` (drained), `visit_seq` (drained).
macro_rules! absent {
    ($absent:expr; $($kind:ident)+) => { $(absent!(@ $absent; $kind);)+ };
    (@ $absent:expr; str) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> { Ok($absent) }
    };
    (@ $absent:expr; u64) => {
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> { Ok($absent) }
    };
    (@ $absent:expr; i64) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> { Ok($absent) }
    };
    (@ $absent:expr; f64) => {
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> { Ok($absent) }
    };
    (@ $absent:expr; bool) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> { Ok($absent) }
    };
    (@ $absent:expr; unit) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> { Ok($absent) }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> { Ok($absent) }
    };
    (@ $absent:expr; map) => {
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            drain_map(map).map(|()| $absent)
        }
    };
    (@ $absent:expr; seq) => {
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            drain_seq(seq).map(|()| $absent)
        }
    };
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
    absent!(None; unit map seq);
}

/// Text borrowed from the input when it has no escapes, owned otherwise.
pub type Txt<'a> = Cow<'a, str>;

/// Read a string, accepting numbers and booleans as text and anything else as absent.
fn lenient_string<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Txt<'a>>, D::Error> {
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
    absent!(None; bool unit map seq);
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
    absent!(None; seq str u64 i64 f64 bool unit);
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
    absent!(None; map str u64 i64 f64 bool unit);
}

/// A list of objects; non-object elements are dropped, a non-list reads as absent.
fn lenient_list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    d.deserialize_any(ListVisitor(PhantomData))
}

/// `userIdentity.sessionContext.sessionIssuer`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionIssuer<'a> {
    /// The role or user ARN.
    pub arn: Option<Txt<'a>>,
    /// Its account.
    pub account_id: Option<Txt<'a>>,
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionContext<'a> {
    /// Who issued the session.
    pub session_issuer: Option<SessionIssuer<'a>>,
    /// `attributes.mfaAuthenticated`, `creationDate`.
    pub attributes: Option<SessionAttributes<'a>>,
    /// `sourceIdentity`: set once by whoever created the session chain (the access-validator
    /// sets `warden-<request ID>`), kept by STS on every session chained from it.
    pub source_identity: Option<Txt<'a>>,
}

/// `userIdentity.sessionContext.attributes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionAttributes<'a> {
    /// `"true"`/`"false"`.
    pub mfa_authenticated: Option<Txt<'a>>,
}

/// `userIdentity`: every type (IAMUser, AssumedRole, Root, AWSService, AWSAccount,
/// FederatedUser, IdentityCenterUser, Unknown, …) reads into the same shape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserIdentity<'a> {
    /// The identity type.
    pub kind: Option<Txt<'a>>,
    /// Principal ARN (for a session: the session, `…:assumed-role/<role>/<session name>`).
    pub arn: Option<Txt<'a>>,
    /// `principalId` (`AROA…:<session name>` for a session).
    pub principal_id: Option<Txt<'a>>,
    /// Principal's account.
    pub account_id: Option<Txt<'a>>,
    /// The service that made the call on the principal's behalf.
    pub invoked_by: Option<Txt<'a>>,
    /// Session details for temporary credentials.
    pub session_context: Option<SessionContext<'a>>,
}

/// The parts of `requestParameters` Warden reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestParameters<'a> {
    /// S3 bucket.
    pub bucket_name: Option<Txt<'a>>,
    /// S3 object key.
    pub key: Option<Txt<'a>>,
}

/// `additionalEventData` (S3 data events carry bytes transferred here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdditionalEventData {
    /// Bytes uploaded.
    pub bytes_transferred_in: Option<u64>,
    /// Bytes downloaded.
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

/// One CloudTrail record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudTrailRecord<'a> {
    /// Who.
    pub user_identity: Option<UserIdentity<'a>>,
    /// When (UTC, ISO 8601).
    pub event_time: Option<Txt<'a>>,
    /// e.g. `s3.amazonaws.com`.
    pub event_source: Option<Txt<'a>>,
    /// e.g. `GetObject`.
    pub event_name: Option<Txt<'a>>,
    /// Region.
    pub aws_region: Option<Txt<'a>>,
    /// Caller IP (v4 or v6) or a service name such as `s3.amazonaws.com`.
    pub source_ip_address: Option<Txt<'a>>,
    /// User agent.
    pub user_agent: Option<Txt<'a>>,
    /// Error code when the call failed.
    pub error_code: Option<Txt<'a>>,
    /// Request parameters Warden reads.
    pub request_parameters: Option<RequestParameters<'a>>,
    /// Additional data (bytes transferred).
    pub additional_event_data: Option<AdditionalEventData>,
    /// Resources touched, as raw JSON (read with [`RawResources::list`] only when needed).
    pub resources: Option<RawResources<'a>>,
    /// Unique event ID (the idempotency key).
    pub event_id: Option<Txt<'a>>,
    /// Account that received the event.
    pub recipient_account_id: Option<Txt<'a>>,
    /// VPC endpoint used.
    pub vpc_endpoint_id: Option<Txt<'a>>,
    /// Whether a nested object (`userIdentity`, `requestParameters`, `additionalEventData`) was
    /// written as a JSON string, as Athena, CloudTrail Lake and many SIEM exports write it.
    pub nested_as_text: bool,
}

// The record's readers are written by hand rather than derived: nested objects are filled in
// place (no moves of half-built records up through the parser), each key is matched once, and a
// repeated key overwrites the earlier value instead of failing the whole record. Every value is
// read leniently: an object where a string belongs reads as absent; a string where an object
// belongs is read as that object when it holds one in JSON (exports write nested objects so),
// else as absent.

/// A map key, borrowed when it has no escapes.
pub(super) struct Key<'a>(pub(super) Txt<'a>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// An object read field by field into an existing value.
pub(super) trait Fill<'de> {
    /// Read the value of `key` when it is one of this object's fields (`Ok(false)`: not one).
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

/// Fills `Option<T>` from an object (creating it); any other value leaves it as it is.
struct FillSeed<'r, T>(&'r mut Option<T>);

impl<'de, T: Fill<'de> + Default> DeserializeSeed<'de> for FillSeed<'_, T> {
    /// Whether the object was read from a JSON string (an export's form).
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Fill<'de> + Default> Visitor<'de> for FillSeed<'_, T> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let target = self.0.get_or_insert_with(T::default);
        while let Some(Key(key)) = map.next_key()? {
            if !target.field(&key, &mut map)? {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(false)
    }
    /// `"{\"bucketName\": …}"`: the object written as JSON text. Anything else in a string
    /// (not JSON, not an object) reads as absent, as before.
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        if !v.trim_start().starts_with('{') {
            return Ok(false);
        }
        let Ok(value) = serde_json::from_str::<serde_json::Value>(v) else {
            return Ok(false);
        };
        // serde_json's Value deserializes for any lifetime, handing out owned text.
        FillSeed(self.0)
            .deserialize(value)
            .map(|_| true)
            .map_err(E::custom)
    }
    absent!(false; seq u64 i64 f64 bool unit);
}

struct TextSeed;

impl<'de> DeserializeSeed<'de> for TextSeed {
    type Value = Option<Txt<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(StringVisitor)
    }
}

/// A string field (numbers and booleans as text, anything else as absent).
pub(super) fn text<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Txt<'de>>, A::Error> {
    map.next_value_seed(TextSeed)
}

struct BytesSeed;

impl<'de> DeserializeSeed<'de> for BytesSeed {
    type Value = Option<u64>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        lenient_u64(d)
    }
}

impl<'de: 'a, 'a> Fill<'de> for SessionIssuer<'a> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "arn" => self.arn = text(map)?,
            "accountId" => self.account_id = text(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl<'de: 'a, 'a> Fill<'de> for SessionAttributes<'a> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "mfaAuthenticated" => self.mfa_authenticated = text(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl<'de: 'a, 'a> Fill<'de> for SessionContext<'a> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "sessionIssuer" => {
                map.next_value_seed(FillSeed(&mut self.session_issuer))?;
            }
            "attributes" => {
                map.next_value_seed(FillSeed(&mut self.attributes))?;
            }
            "sourceIdentity" => self.source_identity = text(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl<'de: 'a, 'a> Fill<'de> for UserIdentity<'a> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "type" => self.kind = text(map)?,
            "arn" => self.arn = text(map)?,
            "principalId" => self.principal_id = text(map)?,
            "accountId" => self.account_id = text(map)?,
            "invokedBy" => self.invoked_by = text(map)?,
            "sessionContext" => {
                map.next_value_seed(FillSeed(&mut self.session_context))?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl<'de: 'a, 'a> Fill<'de> for RequestParameters<'a> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "bucketName" => self.bucket_name = text(map)?,
            "key" => self.key = text(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl<'de> Fill<'de> for AdditionalEventData {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "bytesTransferredIn" => self.bytes_transferred_in = map.next_value_seed(BytesSeed)?,
            "bytesTransferredOut" => self.bytes_transferred_out = map.next_value_seed(BytesSeed)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl<'de: 'a, 'a> Fill<'de> for CloudTrailRecord<'a> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "userIdentity" => {
                self.nested_as_text |= map.next_value_seed(FillSeed(&mut self.user_identity))?;
            }
            "eventTime" => self.event_time = text(map)?,
            "eventSource" => self.event_source = text(map)?,
            "eventName" => self.event_name = text(map)?,
            "awsRegion" => self.aws_region = text(map)?,
            "sourceIPAddress" | "sourceIpAddress" => self.source_ip_address = text(map)?,
            "userAgent" => self.user_agent = text(map)?,
            "errorCode" => self.error_code = text(map)?,
            "requestParameters" => {
                self.nested_as_text |=
                    map.next_value_seed(FillSeed(&mut self.request_parameters))?;
            }
            "additionalEventData" => {
                self.nested_as_text |=
                    map.next_value_seed(FillSeed(&mut self.additional_event_data))?;
            }
            // Kept raw: skipped now (a scan), read only when needed.
            "resources" => {
                self.resources = map
                    .next_value::<Option<&'de serde_json::value::RawValue>>()?
                    .map(|r| RawResources(Cow::Borrowed(r.get())));
            }
            "eventID" | "eventId" => self.event_id = text(map)?,
            "recipientAccountId" => self.recipient_account_id = text(map)?,
            "vpcEndpointId" => self.vpc_endpoint_id = text(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// A record is a JSON object; any other value is an error (lists drop such elements first).
impl<'de: 'a, 'a> Deserialize<'de> for CloudTrailRecord<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut record = None;
        d.deserialize_map(FillSeed(&mut record))?;
        Ok(record.unwrap_or_default())
    }
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
                principal_id: own(u.principal_id),
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
                    source_identity: own(c.source_identity),
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
            nested_as_text: self.nested_as_text,
        }
    }
}

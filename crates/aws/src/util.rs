//! Helpers shared by the adapters: SDK error conversion, attribute conversion, and the backoff
//! with jitter used where Warden retries partial results itself (BatchWriteItem unprocessed items).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use warden_core::cloudtrail::normalise::Attr;
use warden_core::ports::PortError;

/// Requests of one call in flight at once (BatchWriteItem chunks, PublishBatch requests).
pub(crate) const IN_FLIGHT: usize = 8;
/// Attempts for unprocessed items before giving them back to the caller.
pub(crate) const ATTEMPTS: u32 = 6;

/// A [`PortError`] naming `service` and `op` with the SDK error's full context.
pub(crate) fn sdk_err<E, R>(
    service: &'static str,
    op: &'static str,
) -> impl Fn(aws_sdk_dynamodb::error::SdkError<E, R>) -> PortError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    move |e| {
        // A service's answer is its code and message; the whole context (with the raw
        // response's headers) only for failures before an answer (dispatch, timeout).
        let detail = match &e {
            aws_sdk_dynamodb::error::SdkError::ServiceError(s) => {
                let m = s.err();
                // The request ID is what AWS Support asks for (and marks an injected fault).
                let rid = m
                    .meta()
                    .extra("aws_request_id")
                    .map(|r| format!(" (request ID {r})"))
                    .unwrap_or_default();
                format!(
                    "{}: {}{rid}",
                    m.code().unwrap_or("service error"),
                    m.message().unwrap_or("(no message)")
                )
            }
            _ => format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)),
        };
        PortError::new(service, op, detail)
    }
}

/// The string attribute `k` of `item`, if it is one.
pub(crate) fn s_attr<'a>(item: &'a HashMap<String, AttributeValue>, k: &str) -> Option<&'a str> {
    item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// A normalised CloudTrail attribute as a DynamoDB attribute value.
pub(crate) fn to_attr(a: Attr) -> AttributeValue {
    match a {
        Attr::S(s) => AttributeValue::S(s),
        Attr::N(n) => AttributeValue::N(n),
        Attr::Bool(b) => AttributeValue::Bool(b),
    }
}

/// Full-jitter exponential backoff: a random delay in [0, min(cap, base·2^attempt)).
pub(crate) fn backoff(attempt: u32) -> std::time::Duration {
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

/// Whether a failed call is worth repeating: throttling, a 5xx, a timeout or a dispatch failure
/// (what AWS's retry guidance calls transient). Used where Warden retries beyond the SDK, whose
/// retry quota drains under sustained throttling and then makes a single attempt.
/// https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
pub(crate) fn is_transient<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    use aws_sdk_dynamodb::error::SdkError;
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(se) => matches!(
            se.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    | "TransactionConflictException"
            )
        ),
        _ => false,
    }
}

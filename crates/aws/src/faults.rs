//! Fault injection, built in (issue 14): `WARDEN_FAULTS` makes AWS calls fail the way AWS makes
//! them fail — throttling, 5xx, timeouts — before the request leaves, deterministically by seed.
//!
//! ```text
//! WARDEN_FAULTS="dynamodb:throttle=0.3,sns:5xx=0.1,sts:timeout=0.05,seed=7"
//! WARDEN_FAULTS="dynamodb.BatchWriteItem:throttle=1.0"      # one operation only
//! ```
//!
//! A term is `SERVICE:KIND=P` or `SERVICE.Operation:KIND=P` (an operation term overrides the
//! service's probability for that kind, for that operation), or `seed=N` (default 0). Services
//! are named as the SDK crates are: `dynamodb`, `sns`, `sts`, `s3`, `kms`, `iam`, `sfn`, `ssm`,
//! `sqs`, `eventbridge`; kinds are `throttle`, `5xx`, `timeout`; `P` is in `[0, 1]` and the kinds
//! of one service (or operation) add up to at most 1. Unset or empty: no fault layer at all.
//!
//! # Where the fault is injected, and why there
//!
//! The layer sits at the bottom of the SDK's request pipeline, as a wrapper around the real HTTP
//! client of the [`SdkConfig`] ([`FaultLayer::apply`]). Every request the SDK sends — after
//! serialization, endpoint resolution and SigV4 signing — passes through it; for a request the
//! plan picks, it answers itself, without sending anything, with the response AWS sends in that
//! case:
//!
//! - `throttle`: HTTP 400 with the service's throttling error in its protocol's shape — DynamoDB
//!   (JSON 1.0) `ProvisionedThroughputExceededException` for item operations and
//!   `ThrottlingException` for control-plane ones (`__type` namespaced
//!   `com.amazonaws.dynamodb.v20120810#…`), the awsQuery `<ErrorResponse>` with
//!   `<Code>Throttling</Code>` for STS and IAM and `ThrottlingException` for SNS, `ThrottlingException`
//!   for the JSON services (KMS, SSM, Step Functions, SQS, EventBridge), and S3's
//!   `503 SlowDown`;
//! - `5xx`: HTTP 500 with the service's internal error (`InternalServerError`, `InternalError`,
//!   `ServiceFailure`, `KMSInternalException`, `InternalFailure`…);
//! - `timeout`: a connector timeout error ([`ConnectorError::timeout`]), as when no response
//!   arrives in time.
//!
//! Because the canned response goes through the SDK's own deserializer and retry classifier,
//! the SDK retries it exactly as it would AWS's (standard mode: backoff with jitter, 3 attempts,
//! retry quota), and what reaches Warden's code after the retries is the SDK's real error type
//! (`BatchWriteItemError::ProvisionedThroughputExceededException`, a dispatch-failure timeout…).
//! Every error carries a request ID `warden-fault-…`, so an injected fault is recognisable in
//! logs.
//!
//! This is the interception point the SDK offers *per [`SdkConfig`]*: an
//! `aws_smithy_runtime_api::client::interceptors::Intercept` has to be registered on each
//! service client's own config (aws-types' `SdkConfig` carries no interceptors), so an
//! interceptor would miss every client built elsewhere from the same config (bootstrap, the
//! CLI, a Lambda's own clients, the IAM client built from assumed-role credentials). The HTTP
//! client is inherited by every client built from the config, so the layer is written once and
//! sees every request. It tells the service from the SigV4 credential scope of the signed request
//! (`…/us-east-1/dynamodb/aws4_request`) and the operation from `X-Amz-Target` (JSON protocols)
//! or the `Action` form field (awsQuery); S3 (REST) takes service-wide terms only.
//!
//! # Deterministic by seed
//!
//! Each service has a request counter; request `n` of a service is faulted when
//! `splitmix64(seed, service, n)` mapped to `[0, 1)` falls below the cumulative probabilities.
//! The same seed and the same sequence of requests give the same faults (concurrent requests to
//! one service take counter values in the order they reach the layer). The counters, and the
//! faults injected per service and kind, are shared as [`FaultStats`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_config::SdkConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;

/// The environment variable holding the fault plan.
pub const ENV: &str = "WARDEN_FAULTS";

/// An AWS service the fault layer can fail, named as its SDK crate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// `dynamodb`
    DynamoDb,
    /// `sns`
    Sns,
    /// `sts`
    Sts,
    /// `s3`
    S3,
    /// `kms`
    Kms,
    /// `iam`
    Iam,
    /// `sfn` (Step Functions; signs as `states`)
    Sfn,
    /// `ssm`
    Ssm,
    /// `sqs`
    Sqs,
    /// `eventbridge` (signs as `events`)
    EventBridge,
}

/// The wire protocol of a service, which decides the shape of its error responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Json10,
    Json11,
    Query,
    RestXml,
}

impl Service {
    /// Every service, in the order of [`Service`].
    pub const ALL: [Service; 10] = [
        Service::DynamoDb,
        Service::Sns,
        Service::Sts,
        Service::S3,
        Service::Kms,
        Service::Iam,
        Service::Sfn,
        Service::Ssm,
        Service::Sqs,
        Service::EventBridge,
    ];

    /// The name used in `WARDEN_FAULTS` (the SDK crate's: `dynamodb`, `sfn`, `eventbridge`…).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb",
            Service::Sns => "sns",
            Service::Sts => "sts",
            Service::S3 => "s3",
            Service::Kms => "kms",
            Service::Iam => "iam",
            Service::Sfn => "sfn",
            Service::Ssm => "ssm",
            Service::Sqs => "sqs",
            Service::EventBridge => "eventbridge",
        }
    }

    /// The service named `name` in `WARDEN_FAULTS`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The SigV4 signing name (the service part of the credential scope).
    fn signing_name(self) -> &'static str {
        match self {
            Service::Sfn => "states",
            Service::EventBridge => "events",
            other => other.name(),
        }
    }

    fn from_signing_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.signing_name() == name)
    }

    fn protocol(self) -> Protocol {
        match self {
            Service::DynamoDb | Service::Sfn | Service::Sqs => Protocol::Json10,
            Service::Kms | Service::Ssm | Service::EventBridge => Protocol::Json11,
            Service::Sns | Service::Sts | Service::Iam => Protocol::Query,
            Service::S3 => Protocol::RestXml,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What goes wrong with a faulted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// The service's throttling error (`throttle`).
    Throttle,
    /// The service's internal error, HTTP 5xx (`5xx`).
    ServerError,
    /// No response in time: a connector timeout (`timeout`).
    Timeout,
}

impl FaultKind {
    /// Every kind, in the order the plan draws them.
    pub const ALL: [FaultKind; 3] = [
        FaultKind::Throttle,
        FaultKind::ServerError,
        FaultKind::Timeout,
    ];

    /// The name used in `WARDEN_FAULTS`: `throttle`, `5xx`, `timeout`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Throttle => "throttle",
            FaultKind::ServerError => "5xx",
            FaultKind::Timeout => "timeout",
        }
    }

    /// The kind named `name` in `WARDEN_FAULTS`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `WARDEN_FAULTS` value that is not a fault plan; each error names the term and the rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultSpecError {
    /// The variable is set but the value is not readable.
    #[error("{ENV} is invalid: {0}")]
    InEnv(Box<FaultSpecError>),
    /// The variable is not valid Unicode.
    #[error("{ENV} is not valid Unicode")]
    NotUnicode,
    /// An empty plan (for [`FaultPlan::parse`]; the variable set to "" means off).
    #[error("the fault plan is empty: give terms like dynamodb:throttle=0.3, separated by commas")]
    Empty,
    /// A term that is not `SERVICE[.Operation]:KIND=P` or `seed=N`.
    #[error("term {term:?}: {rule}")]
    Syntax {
        /// The term as written.
        term: String,
        /// What was expected.
        rule: &'static str,
    },
    /// A service the layer does not know.
    #[error(
        "term {term:?}: unknown service {service:?} (expected one of dynamodb, sns, sts, s3, kms, iam, sfn, ssm, sqs, eventbridge)"
    )]
    UnknownService {
        /// The term as written.
        term: String,
        /// The service as written.
        service: String,
    },
    /// A fault kind the layer does not know.
    #[error("term {term:?}: unknown fault kind {kind:?} (expected throttle, 5xx or timeout)")]
    UnknownKind {
        /// The term as written.
        term: String,
        /// The kind as written.
        kind: String,
    },
    /// A probability that is not a number in `[0, 1]`.
    #[error("term {term:?}: probability {value:?} is not a number in [0, 1]")]
    Probability {
        /// The term as written.
        term: String,
        /// The probability as written.
        value: String,
    },
    /// A seed that is not an unsigned 64-bit integer.
    #[error("term {term:?}: the seed must be an unsigned 64-bit integer")]
    Seed {
        /// The term as written.
        term: String,
    },
    /// The same service (or operation) and kind, or the seed, given twice.
    #[error("term {term:?}: given twice (each service or operation and kind, and the seed, once)")]
    Duplicate {
        /// The term as written.
        term: String,
    },
    /// An operation term for a service whose requests do not name their operation.
    #[error(
        "term {term:?}: per-operation terms are not supported for {service} (REST protocol); use {service}:KIND=P"
    )]
    OperationUnsupported {
        /// The term as written.
        term: String,
        /// The service.
        service: Service,
    },
    /// The kinds of one service or operation add up to more than 1.
    #[error("{target}: the probabilities add up to {sum}, more than 1")]
    Sum {
        /// `dynamodb` or `dynamodb.BatchWriteItem`.
        target: String,
        /// Their sum.
        sum: f64,
    },
}

/// Probabilities per kind, indexed by [`FaultKind::index`].
type Rates = [f64; 3];
/// Probabilities an operation term overrides.
type Overrides = [Option<f64>; 3];

/// A parsed `WARDEN_FAULTS`: probabilities per service (and operation) and kind, and the seed.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    seed: u64,
    services: BTreeMap<Service, Overrides>,
    operations: BTreeMap<(Service, String), Overrides>,
}

impl FaultPlan {
    /// Parse a plan such as `dynamodb:throttle=0.3,sns:5xx=0.1,sts:timeout=0.05,seed=7`.
    ///
    /// # Errors
    /// The first bad term, named, with the rule it breaks.
    pub fn parse(spec: &str) -> Result<FaultPlan, FaultSpecError> {
        if spec.trim().is_empty() {
            return Err(FaultSpecError::Empty);
        }
        let mut plan = FaultPlan {
            seed: 0,
            services: BTreeMap::new(),
            operations: BTreeMap::new(),
        };
        let mut seed_seen = false;
        for raw in spec.split(',') {
            let term = raw.trim();
            let syntax = |rule| FaultSpecError::Syntax {
                term: term.to_owned(),
                rule,
            };
            if term.is_empty() {
                return Err(syntax(
                    "empty term (two commas in a row, or a trailing comma)",
                ));
            }
            if let Some((key, value)) = term.split_once('=')
                && key.trim() == "seed"
            {
                if seed_seen {
                    return Err(FaultSpecError::Duplicate {
                        term: term.to_owned(),
                    });
                }
                plan.seed = value.trim().parse().map_err(|_| FaultSpecError::Seed {
                    term: term.to_owned(),
                })?;
                seed_seen = true;
                continue;
            }
            let Some((target, assignment)) = term.split_once(':') else {
                return Err(syntax(
                    "expected SERVICE:KIND=P, SERVICE.Operation:KIND=P or seed=N",
                ));
            };
            let Some((kind, value)) = assignment.split_once('=') else {
                return Err(syntax("expected KIND=P after the colon, e.g. throttle=0.3"));
            };
            let (service, operation) = match target.trim().split_once('.') {
                Some((s, op)) => (s.trim(), Some(op.trim())),
                None => (target.trim(), None),
            };
            let service =
                Service::from_name(service).ok_or_else(|| FaultSpecError::UnknownService {
                    term: term.to_owned(),
                    service: service.to_owned(),
                })?;
            let kind =
                FaultKind::from_name(kind.trim()).ok_or_else(|| FaultSpecError::UnknownKind {
                    term: term.to_owned(),
                    kind: kind.trim().to_owned(),
                })?;
            let p = value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or_else(|| FaultSpecError::Probability {
                    term: term.to_owned(),
                    value: value.trim().to_owned(),
                })?;
            let duplicate = || FaultSpecError::Duplicate {
                term: term.to_owned(),
            };
            match operation {
                None => {
                    let given = plan.services.entry(service).or_default();
                    if given[kind.index()].is_some() {
                        return Err(duplicate());
                    }
                    given[kind.index()] = Some(p);
                }
                Some(op) => {
                    if op.is_empty() || !op.chars().all(|c| c.is_ascii_alphanumeric()) {
                        return Err(syntax(
                            "the operation must be an API operation name, e.g. dynamodb.BatchWriteItem",
                        ));
                    }
                    if service.protocol() == Protocol::RestXml {
                        return Err(FaultSpecError::OperationUnsupported {
                            term: term.to_owned(),
                            service,
                        });
                    }
                    let overrides = plan.operations.entry((service, op.to_owned())).or_default();
                    if overrides[kind.index()].is_some() {
                        return Err(duplicate());
                    }
                    overrides[kind.index()] = Some(p);
                }
            }
        }
        for service in plan.services.keys() {
            check_sum(service.name().to_owned(), &plan.rates(*service, None))?;
        }
        for (service, op) in plan.operations.keys() {
            check_sum(
                format!("{service}.{op}"),
                &plan.rates(*service, Some(op.as_str())),
            )?;
        }
        Ok(plan)
    }

    /// The plan in `WARDEN_FAULTS`; `None` when it is unset or empty (no fault layer at all).
    ///
    /// # Errors
    /// The value is not a plan: [`FaultSpecError::InEnv`], naming the variable and the term.
    pub fn from_env() -> Result<Option<FaultPlan>, FaultSpecError> {
        match std::env::var(ENV) {
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(FaultSpecError::NotUnicode),
            Ok(v) if v.trim().is_empty() => Ok(None),
            Ok(v) => FaultPlan::parse(&v)
                .map(Some)
                .map_err(|e| FaultSpecError::InEnv(Box::new(e))),
        }
    }

    /// The seed (0 unless given).
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The probability of `kind` for a request of `service` (and `operation`, when known).
    #[must_use]
    pub fn probability(&self, service: Service, operation: Option<&str>, kind: FaultKind) -> f64 {
        self.rates(service, operation)[kind.index()]
    }

    fn rates(&self, service: Service, operation: Option<&str>) -> Rates {
        let given = self.services.get(&service).copied().unwrap_or_default();
        let mut rates = given.map(|p| p.unwrap_or(0.0));
        if let Some(op) = operation
            && let Some(overrides) = self.operations.get(&(service, op.to_owned()))
        {
            for (r, o) in rates.iter_mut().zip(overrides) {
                if let Some(p) = o {
                    *r = *p;
                }
            }
        }
        rates
    }

    /// A layer applying this plan, with fresh counters.
    #[must_use]
    pub fn layer(&self) -> FaultLayer {
        FaultLayer {
            plan: Arc::new(self.clone()),
            stats: FaultStats::default(),
            invalid: None,
        }
    }
}

fn check_sum(target: String, rates: &Rates) -> Result<(), FaultSpecError> {
    let sum: f64 = rates.iter().sum();
    if sum > 1.0 + 1e-9 {
        return Err(FaultSpecError::Sum { target, sum });
    }
    Ok(())
}

impl fmt::Display for FaultPlan {
    /// The plan in `WARDEN_FAULTS` syntax (canonical order), e.g. for the start-up warning.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut terms = Vec::new();
        for (service, given) in &self.services {
            for kind in FaultKind::ALL {
                if let Some(p) = given[kind.index()] {
                    terms.push(format!("{service}:{kind}={p}"));
                }
            }
        }
        for ((service, op), overrides) in &self.operations {
            for kind in FaultKind::ALL {
                if let Some(p) = overrides[kind.index()] {
                    terms.push(format!("{service}.{op}:{kind}={p}"));
                }
            }
        }
        terms.push(format!("seed={}", self.seed));
        f.write_str(&terms.join(","))
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    injected: [AtomicU64; 3],
}

/// Requests seen and faults injected, per service and kind; shared by every client of the
/// faulted config (clones share the counters).
#[derive(Debug, Clone)]
pub struct FaultStats(Arc<[Counters; 10]>);

impl Default for FaultStats {
    fn default() -> Self {
        FaultStats(Arc::new(std::array::from_fn(|_| Counters::default())))
    }
}

impl FaultStats {
    /// Requests of `service` that reached the layer (each SDK attempt is one request).
    #[must_use]
    pub fn requests(&self, service: Service) -> u64 {
        self.0[service.index()].requests.load(Ordering::Relaxed)
    }

    /// Faults of `kind` injected into requests of `service`.
    #[must_use]
    pub fn injected(&self, service: Service, kind: FaultKind) -> u64 {
        self.0[service.index()].injected[kind.index()].load(Ordering::Relaxed)
    }

    /// Faults of every kind injected into requests of `service`.
    #[must_use]
    pub fn injected_total(&self, service: Service) -> u64 {
        FaultKind::ALL
            .into_iter()
            .map(|k| self.injected(service, k))
            .sum()
    }

    /// One line per service that saw requests, e.g.
    /// `dynamodb: 40 requests, 12 throttle (30.0%), 0 5xx, 0 timeout`.
    #[must_use]
    pub fn summary(&self) -> String {
        Service::ALL
            .into_iter()
            .filter(|s| self.requests(*s) > 0)
            .map(|s| {
                let n = self.requests(s);
                let kinds: Vec<String> = FaultKind::ALL
                    .into_iter()
                    .map(|k| {
                        let i = self.injected(s, k);
                        #[allow(clippy::cast_precision_loss)]
                        let pct = i as f64 * 100.0 / n as f64;
                        format!("{i} {k} ({pct:.1}%)")
                    })
                    .collect();
                format!("{s}: {n} requests, {}", kinds.join(", "))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl fmt::Display for FaultStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

// ---------------------------------------------------------------------------------------------

/// A plan with its counters, ready to be put under an [`SdkConfig`] ([`FaultLayer::apply`]).
/// Clones share the counters.
#[derive(Debug, Clone)]
pub struct FaultLayer {
    plan: Arc<FaultPlan>,
    stats: FaultStats,
    /// Set for a layer standing for an invalid `WARDEN_FAULTS`: every request fails naming it.
    invalid: Option<Arc<str>>,
}

impl FaultLayer {
    /// A layer for `plan`, with fresh counters (same as [`FaultPlan::layer`]).
    #[must_use]
    pub fn new(plan: &FaultPlan) -> FaultLayer {
        plan.layer()
    }

    /// A layer failing every request (not retried) with `error`: what an infallible config
    /// constructor installs for an invalid `WARDEN_FAULTS`, so it is never silently ignored.
    pub(crate) fn rejecting(error: &FaultSpecError) -> FaultLayer {
        FaultLayer {
            plan: Arc::new(FaultPlan {
                seed: 0,
                services: BTreeMap::new(),
                operations: BTreeMap::new(),
            }),
            stats: FaultStats::default(),
            invalid: Some(error.to_string().into()),
        }
    }

    /// The plan.
    #[must_use]
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// The shared counters.
    #[must_use]
    pub fn stats(&self) -> FaultStats {
        self.stats.clone()
    }

    /// Count one request of `service` (`operation` when known) and decide its fault: what the
    /// layer does for every request it sees. Public for tests of determinism.
    pub fn decide(&self, service: Service, operation: Option<&str>) -> Option<FaultKind> {
        let counters = &self.stats.0[service.index()];
        let n = counters.requests.fetch_add(1, Ordering::Relaxed);
        let rates = self.plan.rates(service, operation);
        if rates.iter().all(|p| *p <= 0.0) {
            return None;
        }
        let u = unit(draw(self.plan.seed, service, n));
        let mut cumulative = 0.0;
        for kind in FaultKind::ALL {
            cumulative += rates[kind.index()];
            if u < cumulative {
                counters.injected[kind.index()].fetch_add(1, Ordering::Relaxed);
                return Some(kind);
            }
        }
        None
    }

    /// `config` with its HTTP client wrapped by this layer (the SDK's default HTTPS client when
    /// `config` has none, as configs loaded by `aws_config` do not).
    #[must_use]
    pub fn apply(&self, config: &SdkConfig) -> SdkConfig {
        let inner = config.http_client().unwrap_or_else(default_https_client);
        config
            .to_builder()
            .http_client(FaultHttpClient {
                inner,
                layer: self.clone(),
            })
            .build()
    }
}

/// The SDK's default HTTPS client (hyper 1, rustls with aws-lc), as the service clients build
/// it for themselves when the config has none.
fn default_https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .build_https()
}

/// splitmix64 (Steele, Lea, Flood 2014): a counter-based generator, one draw per request.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn draw(seed: u64, service: Service, n: u64) -> u64 {
    let stream = splitmix64(seed ^ ((service.index() as u64 + 1) << 56));
    splitmix64(stream ^ splitmix64(n))
}

/// The top 53 bits as a number in `[0, 1)`.
fn unit(x: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let v = (x >> 11) as f64;
    v / (1u64 << 53) as f64
}

// ---------------------------------------------------------------------------------------------

/// The HTTP client under the SDK: hands out connectors that consult the layer first.
#[derive(Debug)]
struct FaultHttpClient {
    inner: SharedHttpClient,
    layer: FaultLayer,
}

impl HttpClient for FaultHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultConnector {
            inner: self.inner.http_connector(settings, components),
            layer: self.layer.clone(),
        })
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct FaultConnector {
    inner: SharedHttpConnector,
    layer: FaultLayer,
}

impl HttpConnector for FaultConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if let Some(invalid) = &self.layer.invalid {
            return HttpConnectorFuture::ready(Err(ConnectorError::other(
                invalid.to_string().into(),
                None,
            )));
        }
        // Unsigned requests (credential endpoints…) are not AWS service calls: passed through.
        let Some(service) = service_of(&request) else {
            return self.inner.call(request);
        };
        let operation = operation_of(&request, service);
        match self.layer.decide(service, operation.as_deref()) {
            None => self.inner.call(request),
            Some(kind) => {
                let n = self.layer.stats.requests(service);
                let op = operation.as_deref().unwrap_or("request");
                tracing::debug!(%service, operation = op, fault = %kind, "fault injected");
                HttpConnectorFuture::ready(canned(service, operation.as_deref(), kind, n))
            }
        }
    }
}

/// The service of a SigV4/SigV4a-signed request: the credential scope's service part.
fn service_of(request: &HttpRequest) -> Option<Service> {
    let auth = request.headers().get("authorization")?;
    let scope = auth.split("Credential=").nth(1)?.split([',', ' ']).next()?;
    let mut parts = scope.rsplit('/');
    let _terminator = parts.next()?; // aws4_request
    Service::from_signing_name(parts.next()?)
}

/// The operation: `X-Amz-Target: DynamoDB_20120810.BatchWriteItem` (JSON protocols) or the
/// `Action=` form field (awsQuery). REST requests (S3) do not name it; their bodies are not read.
fn operation_of(request: &HttpRequest, service: Service) -> Option<String> {
    match service.protocol() {
        Protocol::Json10 | Protocol::Json11 => request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .map(str::to_owned),
        Protocol::Query => std::str::from_utf8(request.body().bytes()?)
            .ok()?
            .split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
            .map(str::to_owned),
        Protocol::RestXml => None,
    }
}

/// DynamoDB's item operations, throttled with `ProvisionedThroughputExceededException`.
const DYNAMODB_DATA_PLANE: [&str; 13] = [
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
];

/// Status, error code, message and (awsQuery) fault type of the error AWS returns.
struct Shape {
    status: u16,
    code: &'static str,
    message: &'static str,
    sender: bool,
}

fn shape(service: Service, operation: Option<&str>, kind: FaultKind) -> Shape {
    let s = |status, code, message, sender| Shape {
        status,
        code,
        message,
        sender,
    };
    match (kind, service) {
        (FaultKind::Throttle, Service::DynamoDb) => {
            if operation.is_some_and(|op| DYNAMODB_DATA_PLANE.contains(&op)) {
                s(
                    400,
                    "ProvisionedThroughputExceededException",
                    "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
                    true,
                )
            } else {
                s(
                    400,
                    "ThrottlingException",
                    "Rate of requests exceeds the allowed throughput.",
                    true,
                )
            }
        }
        (FaultKind::Throttle, Service::Sts | Service::Iam) => {
            s(400, "Throttling", "Rate exceeded", true)
        }
        (FaultKind::Throttle, Service::S3) => {
            s(503, "SlowDown", "Please reduce your request rate.", true)
        }
        (FaultKind::Throttle, _) => s(400, "ThrottlingException", "Rate exceeded", true),
        (_, Service::DynamoDb) => s(500, "InternalServerError", "Internal server error", false),
        (_, Service::Sns) => s(500, "InternalError", "Internal Error", false),
        (_, Service::Iam) => s(
            500,
            "ServiceFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
            false,
        ),
        (_, Service::S3) => s(
            500,
            "InternalError",
            "We encountered an internal error. Please try again.",
            false,
        ),
        (_, Service::Kms) => s(
            500,
            "KMSInternalException",
            "The request was rejected because an internal exception occurred. The request can be retried.",
            false,
        ),
        (_, Service::Ssm) => s(
            500,
            "InternalServerError",
            "An error occurred on the server side.",
            false,
        ),
        (_, Service::EventBridge) => s(
            500,
            "InternalException",
            "This exception occurs due to unexpected causes.",
            false,
        ),
        (_, Service::Sts | Service::Sfn | Service::Sqs) => s(
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
            false,
        ),
    }
}

/// The response AWS would send for `kind` (or, for a timeout, the connector's error).
fn canned(
    service: Service,
    operation: Option<&str>,
    kind: FaultKind,
    n: u64,
) -> Result<HttpResponse, ConnectorError> {
    let request_id = format!("warden-fault-{service}-{n}");
    if kind == FaultKind::Timeout {
        return Err(ConnectorError::timeout(
            format!(
                "{service} {}: no response in time (timeout injected by {ENV}, request {request_id})",
                operation.unwrap_or("request")
            )
            .into(),
        ));
    }
    let e = shape(service, operation, kind);
    let (content_type, body) = match service.protocol() {
        Protocol::Json10 | Protocol::Json11 => {
            let code = if service == Service::DynamoDb {
                format!("com.amazonaws.dynamodb.v20120810#{}", e.code)
            } else {
                e.code.to_owned()
            };
            let ct = if service.protocol() == Protocol::Json10 {
                "application/x-amz-json-1.0"
            } else {
                "application/x-amz-json-1.1"
            };
            (
                ct,
                serde_json::json!({"__type": code, "message": e.message}).to_string(),
            )
        }
        Protocol::Query => (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                if e.sender { "Sender" } else { "Receiver" },
                e.code,
                e.message
            ),
        ),
        Protocol::RestXml => (
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>",
                e.code, e.message
            ),
        ),
    };
    let status =
        StatusCode::try_from(e.status).map_err(|err| ConnectorError::other(err.into(), None))?;
    let mut response = HttpResponse::new(status, SdkBody::from(body));
    response.headers_mut().insert("content-type", content_type);
    response
        .headers_mut()
        .insert("x-amzn-requestid", request_id.clone());
    response
        .headers_mut()
        .insert("x-amz-request-id", request_id);
    Ok(response)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn parses_the_issue_example() {
        let p =
            FaultPlan::parse("dynamodb:throttle=0.3,sns:5xx=0.1,sts:timeout=0.05,seed=7").unwrap();
        assert_eq!(p.seed(), 7);
        assert!((p.probability(Service::DynamoDb, None, FaultKind::Throttle) - 0.3).abs() < 1e-12);
        assert!(
            (p.probability(Service::Sns, Some("Publish"), FaultKind::ServerError) - 0.1).abs()
                < 1e-12
        );
        assert!((p.probability(Service::Sts, None, FaultKind::Timeout) - 0.05).abs() < 1e-12);
        assert_eq!(p.probability(Service::S3, None, FaultKind::Throttle), 0.0);
        assert_eq!(
            p.to_string(),
            "dynamodb:throttle=0.3,sns:5xx=0.1,sts:timeout=0.05,seed=7"
        );
        assert_eq!(FaultPlan::parse(&p.to_string()).unwrap(), p);
    }

    #[test]
    fn an_operation_term_overrides_its_service_for_that_operation_only() {
        let p = FaultPlan::parse(
            " dynamodb:throttle=0.1 , dynamodb:5xx=0.2, dynamodb.BatchWriteItem:throttle=0.8 ",
        )
        .unwrap();
        let t = |op| p.probability(Service::DynamoDb, op, FaultKind::Throttle);
        assert!((t(Some("BatchWriteItem")) - 0.8).abs() < 1e-12);
        assert!((t(Some("Scan")) - 0.1).abs() < 1e-12);
        assert!((t(None) - 0.1).abs() < 1e-12);
        assert!(
            (p.probability(
                Service::DynamoDb,
                Some("BatchWriteItem"),
                FaultKind::ServerError
            ) - 0.2)
                .abs()
                < 1e-12
        );
        assert_eq!(p.seed(), 0);
    }

    #[test]
    fn errors_name_the_term_and_the_rule() {
        let cases = [
            ("dynamo:throttle=0.3", "unknown service \"dynamo\""),
            (
                "dynamodb:slow=0.3",
                "unknown fault kind \"slow\" (expected throttle, 5xx or timeout)",
            ),
            (
                "dynamodb:throttle=1.5",
                "probability \"1.5\" is not a number in [0, 1]",
            ),
            ("dynamodb:throttle=-0.1", "not a number in [0, 1]"),
            ("dynamodb:throttle=NaN", "not a number in [0, 1]"),
            ("dynamodb:throttle=abc", "not a number in [0, 1]"),
            ("seed=x", "the seed must be an unsigned 64-bit integer"),
            ("seed=-1", "unsigned 64-bit integer"),
            ("seed=1,seed=2", "given twice"),
            ("sns:5xx=0.1,sns:5xx=0.2", "given twice"),
            ("sns:5xx=0,sns:5xx=0.2", "given twice"),
            (
                "dynamodb.Scan:throttle=0.1,dynamodb.Scan:throttle=0.1",
                "given twice",
            ),
            ("dynamodb", "expected SERVICE:KIND=P"),
            ("dynamodb:throttle", "expected KIND=P"),
            ("dynamodb:throttle=0.1,,sns:5xx=0.1", "empty term"),
            ("dynamodb:throttle=0.1,", "empty term"),
            ("dynamodb.Batch-Write:throttle=0.1", "API operation name"),
            (
                "s3.PutObject:throttle=0.1",
                "per-operation terms are not supported for s3",
            ),
            (
                "sns:throttle=0.6,sns:5xx=0.6",
                "sns: the probabilities add up to 1.2",
            ),
            (
                "dynamodb:throttle=0.5,dynamodb.Scan:5xx=0.7",
                "dynamodb.Scan: the probabilities add up to 1.2",
            ),
            ("", "empty"),
        ];
        for (spec, want) in cases {
            let e = FaultPlan::parse(spec).expect_err(spec).to_string();
            assert!(e.contains(want), "{spec:?}: {e:?} does not say {want:?}");
            if let Some(first) = spec.split(',').find(|t| !t.is_empty() && want != "empty")
                && !want.contains("add up")
                && !want.contains("twice")
                && !want.contains("empty term")
            {
                assert!(
                    e.contains(first.trim()),
                    "{spec:?}: {e:?} does not name the term"
                );
            }
        }
        let wrapped = FaultSpecError::InEnv(Box::new(FaultPlan::parse("x:y=1").unwrap_err()));
        assert!(
            wrapped
                .to_string()
                .starts_with("WARDEN_FAULTS is invalid: term \"x:y=1\"")
        );
    }

    #[test]
    fn same_seed_same_decisions_other_seed_other_decisions() {
        let plan =
            FaultPlan::parse("dynamodb:throttle=0.3,dynamodb:timeout=0.1,sns:5xx=0.5,seed=7")
                .unwrap();
        let run = |p: &FaultPlan| {
            let layer = p.layer();
            (0..2000)
                .map(|i| {
                    let s = if i % 3 == 0 {
                        Service::Sns
                    } else {
                        Service::DynamoDb
                    };
                    layer.decide(s, Some("Op"))
                })
                .collect::<Vec<_>>()
        };
        let a = run(&plan);
        assert_eq!(a, run(&plan), "same seed, same sequence → same faults");
        let other =
            FaultPlan::parse("dynamodb:throttle=0.3,dynamodb:timeout=0.1,sns:5xx=0.5,seed=8")
                .unwrap();
        assert_ne!(a, run(&other));
        // The rates come out near the plan's.
        let layer = plan.layer();
        for _ in 0..10_000 {
            layer.decide(Service::DynamoDb, None);
        }
        let st = layer.stats();
        assert_eq!(st.requests(Service::DynamoDb), 10_000);
        let throttled = st.injected(Service::DynamoDb, FaultKind::Throttle);
        let timeouts = st.injected(Service::DynamoDb, FaultKind::Timeout);
        assert!((2_700..3_300).contains(&throttled), "{throttled}");
        assert!((800..1_200).contains(&timeouts), "{timeouts}");
        assert_eq!(st.injected(Service::DynamoDb, FaultKind::ServerError), 0);
        assert!(
            st.summary().starts_with("dynamodb: 10000 requests, "),
            "{}",
            st.summary()
        );
    }

    #[test]
    fn probability_one_always_and_zero_never() {
        let layer = FaultPlan::parse("kms:5xx=1,ssm:throttle=0")
            .unwrap()
            .layer();
        assert!((0..500).all(|_| layer.decide(Service::Kms, None) == Some(FaultKind::ServerError)));
        assert!((0..500).all(|_| layer.decide(Service::Ssm, None).is_none()));
        assert!((0..500).all(|_| layer.decide(Service::Iam, None).is_none()));
        assert_eq!(layer.stats().requests(Service::Iam), 500);
    }

    fn signed(service: &str, target: Option<&str>, body: &str) -> HttpRequest {
        let mut r = HttpRequest::new(SdkBody::from(body.to_owned()));
        r.headers_mut().insert(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00"),
        );
        if let Some(t) = target {
            r.headers_mut().insert("x-amz-target", t.to_owned());
        }
        r
    }

    #[test]
    fn service_and_operation_come_from_the_signed_request() {
        let r = signed("dynamodb", Some("DynamoDB_20120810.BatchWriteItem"), "{}");
        assert_eq!(service_of(&r), Some(Service::DynamoDb));
        assert_eq!(
            operation_of(&r, Service::DynamoDb).as_deref(),
            Some("BatchWriteItem")
        );
        let q = signed("sns", None, "Action=Publish&Version=2010-03-31&TopicArn=x");
        assert_eq!(service_of(&q), Some(Service::Sns));
        assert_eq!(operation_of(&q, Service::Sns).as_deref(), Some("Publish"));
        let s3 = signed("s3", None, "Action=NotAnOperation");
        assert_eq!(service_of(&s3), Some(Service::S3));
        assert_eq!(
            operation_of(&s3, Service::S3),
            None,
            "REST bodies are not read"
        );
        assert_eq!(service_of(&signed("states", None, "")), Some(Service::Sfn));
        assert_eq!(
            service_of(&signed("events", None, "")),
            Some(Service::EventBridge)
        );
        assert_eq!(service_of(&signed("lambda", None, "")), None);
        assert_eq!(service_of(&HttpRequest::new(SdkBody::empty())), None);
    }

    #[test]
    fn canned_errors_have_the_protocol_shapes() {
        let r = canned(
            Service::DynamoDb,
            Some("BatchWriteItem"),
            FaultKind::Throttle,
            1,
        )
        .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        assert_eq!(
            r.headers().get("content-type"),
            Some("application/x-amz-json-1.0")
        );
        let body = std::str::from_utf8(r.body().bytes().unwrap()).unwrap();
        assert!(
            body.contains(
                "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
            ),
            "{body}"
        );
        let r = canned(
            Service::DynamoDb,
            Some("CreateTable"),
            FaultKind::Throttle,
            1,
        )
        .unwrap();
        let body = std::str::from_utf8(r.body().bytes().unwrap()).unwrap();
        assert!(body.contains("#ThrottlingException"), "{body}");
        let r = canned(Service::Sts, Some("AssumeRole"), FaultKind::Throttle, 1).unwrap();
        let body = std::str::from_utf8(r.body().bytes().unwrap()).unwrap();
        assert!(
            body.contains("<Type>Sender</Type><Code>Throttling</Code>"),
            "{body}"
        );
        let r = canned(Service::Sns, Some("Publish"), FaultKind::ServerError, 1).unwrap();
        assert_eq!(r.status().as_u16(), 500);
        let r = canned(Service::S3, None, FaultKind::Throttle, 1).unwrap();
        assert_eq!(r.status().as_u16(), 503);
        let e = canned(Service::Sts, Some("AssumeRole"), FaultKind::Timeout, 1).unwrap_err();
        assert!(e.is_timeout());
    }

    #[derive(Debug)]
    struct Answers200;

    impl HttpConnector for Answers200 {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            HttpConnectorFuture::ready(Ok(HttpResponse::new(
                StatusCode::try_from(200).unwrap(),
                SdkBody::empty(),
            )))
        }
    }

    #[tokio::test]
    async fn the_connector_answers_picked_requests_itself_and_passes_the_others_on() {
        let c = FaultConnector {
            inner: SharedHttpConnector::new(Answers200),
            layer: FaultPlan::parse("dynamodb:throttle=1").unwrap().layer(),
        };
        let r = c
            .call(signed("dynamodb", Some("DynamoDB_20120810.Scan"), "{}"))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let r = c.call(signed("sns", None, "Action=Publish")).await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let r = c.call(HttpRequest::new(SdkBody::empty())).await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "unsigned requests pass through");
        assert_eq!(c.layer.stats().requests(Service::DynamoDb), 1);
        assert_eq!(c.layer.stats().requests(Service::Sns), 1);
    }

    #[tokio::test]
    async fn an_invalid_plan_fails_every_request_naming_the_variable() {
        let invalid =
            FaultSpecError::InEnv(Box::new(FaultPlan::parse("dynamo:throttle=1").unwrap_err()));
        let c = FaultConnector {
            inner: SharedHttpConnector::new(Answers200),
            layer: FaultLayer::rejecting(&invalid),
        };
        let e = c
            .call(signed("sns", None, "Action=Publish"))
            .await
            .unwrap_err();
        assert!(!e.is_timeout() && !e.is_io(), "not retried: {e:?}");
        let why = std::error::Error::source(&e)
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(
            why.starts_with("WARDEN_FAULTS is invalid: term \"dynamo:throttle=1\""),
            "{why}"
        );
    }
}

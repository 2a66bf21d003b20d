//! warden-core: the domain of Warden, secure cross-account S3 data sharing.
//!
//! This crate is pure — no async runtime, no AWS SDK — so the Lambdas, the operator CLI and the
//! tests all run exactly the same logic:
//!
//! - [`grant`]: the grants registry (who may access which prefixes, at which level, until when);
//! - [`policy`]: the IAM policy model, evaluator, renderer and linter;
//! - [`cloudtrail`]: parse and normalise CloudTrail records;
//! - [`detect`]: the detectors that turn access records into alerts;
//! - [`reconcile`]: what the policy-reconciler must change to match the registry;
//! - [`replay`]: an archive replay split into one item per trail folder and day;
//! - [`report`]: the self-contained HTML access report;
//! - [`ports`]: the traits adapters and fakes implement.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod body;
pub mod cloudtrail;
pub mod cost;
pub mod detect;
pub mod doctor;
pub mod emf;
pub mod governance;
pub mod grant;
pub mod policy;
pub mod ports;
pub mod reconcile;
pub mod replay;
pub mod report;
pub mod vend;

pub use grant::{AccessLevel, AccountId, ExternalId, Grant, GrantError, Prefix, Registry};

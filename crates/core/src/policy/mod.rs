//! The IAM policy engine: model, validation, evaluation, rendering and linting.
//!
//! - [`model`]: every JSON shape AWS accepts, parsed with errors that name the field;
//! - [`glob`]: `*`/`?` wildcards and per-segment ARN matching;
//! - [`condition`]: every condition operator family, `…IfExists`, set operators, policy variables;
//! - [`eval`]: AWS's documented evaluation logic across all policy types;
//! - [`render`]: the bucket policy, KMS statements and grants, trust and session policies;
//! - [`path`]: the whole path of an object request (S3, then KMS as S3 calls it), with advice;
//! - [`lint`]: spec 002's rules;
//! - [`simulate`]: the JSON request/result contract of `warden policy simulate`.

pub mod access_point;
pub mod condition;
pub mod eval;
pub mod glob;
pub mod lint;
pub mod model;
pub mod path;
pub mod render;
pub mod simulate;

pub use eval::{Decision, EvalResult, PolicySet, Request, evaluate};
pub use model::{Effect, Policy, PolicyError, Statement};

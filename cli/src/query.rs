//! `warden audit query`: "who accessed what, when" from the audit table, through its indexes —
//! `by-account-time` for an account (and for a principal, whose ARN names its account),
//! `by-object-time` for an object — never a Scan.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, Utc};
use warden_aws::{AuditKey, AuditRow};

/// Output format.
#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum QueryFormat {
    /// Columns for people.
    Table,
    /// One JSON array.
    Json,
    /// CSV with a header row.
    Csv,
}

/// Arguments of `warden audit query`.
#[derive(clap::Args, Debug)]
#[command(
    group(clap::ArgGroup::new("who").required(true).args(["account", "object", "principal"])),
    after_help = "Example: warden audit query --table warden-prod-access-logs --account 210000000000 --since 2026-11-23T00:00:00Z --until 2026-11-24T00:00:00Z --failed"
)]
pub struct QueryArgs {
    /// The audit table (`terraform output access_logs_table_name`).
    #[arg(long)]
    pub table: String,
    /// Everything this account did.
    #[arg(long)]
    pub account: Option<String>,
    /// Everyone who touched this object (`bucket/key`).
    #[arg(long, value_name = "BUCKET/KEY")]
    pub object: Option<String>,
    /// Everything this principal did (role ARN, or a session's `assumed-role` ARN's role).
    #[arg(long, value_name = "ARN")]
    pub principal: Option<String>,
    /// From this time (RFC 3339, inclusive).
    #[arg(long)]
    pub since: String,
    /// Until this time (RFC 3339, exclusive; default now).
    #[arg(long)]
    pub until: Option<String>,
    /// Only this action (`s3:GetObject`).
    #[arg(long)]
    pub action: Option<String>,
    /// Only calls that failed (AccessDenied and the like).
    #[arg(long)]
    pub failed: bool,
    /// At most this many records.
    #[arg(long, default_value_t = 10_000)]
    pub limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    pub format: QueryFormat,
    #[command(flatten)]
    pub aws: crate::awscfg::AwsArgs,
}

fn time(flag: &str, v: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| anyhow!("{flag}: {v:?} must be an RFC 3339 time such as 2026-11-23T00:00:00Z"))
}

/// The role a principal ARN stands for, as the audit records name it (`principal_arn` is the
/// role for a role's sessions), and its account.
fn principal_key(arn: &str) -> Result<(String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, partition, service, _, account, resource] = parts.as_slice() else {
        bail!(
            "--principal: {arn:?} must be an IAM or STS ARN (arn:aws:iam::<account>:role/<name>)"
        );
    };
    if !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) {
        bail!("--principal: {arn:?} has no 12-digit account");
    }
    let role = match (*service, resource.split('/').collect::<Vec<_>>().as_slice()) {
        ("sts", ["assumed-role", role, ..]) => {
            format!("arn:{partition}:iam::{account}:role/{role}")
        }
        ("iam", _) => arn.to_owned(),
        _ => bail!("--principal: {arn:?} must be an IAM or STS ARN"),
    };
    Ok(((*account).to_owned(), role))
}

/// Run `warden audit query`.
///
/// # Errors
/// A bad option (named), or the table could not be queried.
pub fn run(args: &QueryArgs) -> Result<ExitCode> {
    let since = time("--since", &args.since)?;
    let until = match &args.until {
        Some(u) => time("--until", u)?,
        None => Utc::now(),
    };
    if since >= until {
        bail!("--since {since} must be before --until {until}");
    }
    let (key, principal) = match (&args.account, &args.object, &args.principal) {
        (Some(a), _, _) => {
            if !(a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())) {
                bail!("--account: {a:?} must be a 12-digit account ID");
            }
            (AuditKey::Account(a.clone()), None)
        }
        (_, Some(o), _) => {
            if !o.contains('/') || o.starts_with('/') {
                bail!("--object: {o:?} must be bucket/key");
            }
            (AuditKey::Object(o.clone()), None)
        }
        (_, _, Some(p)) => {
            let (account, role) = principal_key(p)?;
            (AuditKey::Account(account), Some(role))
        }
        _ => bail!("give one of --account, --object, --principal"),
    };
    let rt = crate::awscfg::runtime()?;
    let rows = rt
        .block_on(async {
            let cfg = args.aws.config().await;
            warden_aws::DynamoAuditStore::new(&cfg, &args.table)
                .query(&key, since, until, args.limit, |r: &AuditRow| {
                    principal.as_ref().is_none_or(|p| &r.principal_arn == p)
                        && args.action.as_ref().is_none_or(|a| &r.action == a)
                        && (!args.failed || !r.success_status)
                })
                .await
        })
        .map_err(|e| anyhow!("querying {}: {e}", args.table))?;
    let mut out = io::stdout().lock();
    match args.format {
        QueryFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
        QueryFormat::Csv => {
            writeln!(
                out,
                "timestamp,account_id,principal_arn,action,object_ref,bytes_transferred,source_ip,success_status,error_code,event_id"
            )?;
            let q = |v: &str| {
                if v.contains([',', '"', '\n']) {
                    format!("\"{}\"", v.replace('"', "\"\""))
                } else {
                    v.to_owned()
                }
            };
            for r in &rows {
                writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{},{}",
                    q(&r.timestamp),
                    q(&r.account_id),
                    q(&r.principal_arn),
                    q(&r.action),
                    q(r.object_ref.as_deref().unwrap_or("")),
                    r.bytes_transferred,
                    q(&r.source_ip),
                    r.success_status,
                    q(r.error_code.as_deref().unwrap_or("")),
                    q(&r.event_id)
                )?;
            }
        }
        QueryFormat::Table => {
            writeln!(
                out,
                "{:<24} {:<13} {:<16} {:<7} {:>12} object / principal",
                "time", "account", "action", "ok", "bytes"
            )?;
            for r in &rows {
                writeln!(
                    out,
                    "{:<24} {:<13} {:<16} {:<7} {:>12} {} {}",
                    r.timestamp,
                    r.account_id,
                    r.action,
                    if r.success_status {
                        "yes".to_owned()
                    } else {
                        r.error_code.clone().unwrap_or_else(|| "no".into())
                    },
                    r.bytes_transferred,
                    r.object_ref.as_deref().unwrap_or("-"),
                    r.principal_arn
                )?;
            }
            writeln!(out, "{} record(s)", rows.len())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn principals_name_their_role_and_account() {
        assert_eq!(
            principal_key("arn:aws:sts::210000000000:assumed-role/warden-consumer/alice").unwrap(),
            (
                "210000000000".to_owned(),
                "arn:aws:iam::210000000000:role/warden-consumer".to_owned()
            )
        );
        assert_eq!(
            principal_key("arn:aws:iam::210000000000:role/warden-consumer")
                .unwrap()
                .1,
            "arn:aws:iam::210000000000:role/warden-consumer"
        );
        for bad in ["alice", "arn:aws:s3:::bucket", "arn:aws:iam::21:role/x"] {
            assert!(
                principal_key(bad)
                    .unwrap_err()
                    .to_string()
                    .starts_with("--principal:")
            );
        }
    }
}

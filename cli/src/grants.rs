//! `warden grants list`: the live registry (the DynamoDB table Terraform and the self-service
//! workflow write), with each item's state as of now, for people (a table) and scripts (`--json`).

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, Duration, Utc};
use warden_aws::RegistryItem;

/// Arguments of `warden grants list`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example: warden grants list --table warden-prod-access-control --state active --expiring-within 30d"
)]
pub struct ListArgs {
    /// The registry table (`terraform output access_control_table_name`).
    #[arg(long)]
    pub table: String,
    /// Only items in this state as of now: `expired` is an active item past its expiry that the
    /// expiration-enforcer has not revoked yet.
    #[arg(long, value_enum)]
    pub state: Option<State>,
    /// Only this consumer account.
    #[arg(long)]
    pub account: Option<String>,
    /// Only active grants that expire within this long (`30d`, `12h`, `2w`).
    #[arg(long, value_name = "DURATION")]
    pub expiring_within: Option<String>,
    /// JSON (an array of items) instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub aws: crate::awscfg::AwsArgs,
}

/// A registry item's state as of now.
#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// In force.
    Active,
    /// A self-service request waiting for an approver.
    Pending,
    /// Past its expiry, not revoked yet (its statements already deny by `DateLessThan`).
    Expired,
    /// Revoked (expired and revoked by the enforcer, or removed).
    Revoked,
    /// A request an approver rejected, or that timed out.
    Rejected,
}

/// `30d`, `12h`, `2w`, `90m`.
pub(crate) fn duration(flag: &str, v: &str) -> Result<Duration> {
    let (n, unit) = v.split_at(v.len().saturating_sub(1));
    let n: i64 = n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        anyhow!("{flag}: {v:?} must be a positive whole number with d, h, w or m (30d)")
    })?;
    Ok(match unit {
        "d" => Duration::days(n),
        "h" => Duration::hours(n),
        "w" => Duration::weeks(n),
        "m" => Duration::minutes(n),
        _ => bail!("{flag}: {v:?} must end in d, h, w or m (30d)"),
    })
}

/// The item's state as of `now`.
fn state_of(item: &RegistryItem, now: DateTime<Utc>) -> Option<State> {
    match item.grant_state.as_str() {
        "active" => Some(
            if DateTime::parse_from_rfc3339(&item.expiration_date)
                .is_ok_and(|t| t.with_timezone(&Utc) <= now)
            {
                State::Expired
            } else {
                State::Active
            },
        ),
        "pending" => Some(State::Pending),
        "revoked" => Some(State::Revoked),
        "rejected" | "expired" => Some(State::Rejected),
        _ => None,
    }
}

/// Run `warden grants list`.
///
/// # Errors
/// A bad option (named), or the registry could not be read.
pub fn list(args: &ListArgs) -> Result<ExitCode> {
    let now = Utc::now();
    let within = args
        .expiring_within
        .as_deref()
        .map(|v| duration("--expiring-within", v))
        .transpose()?;
    if let Some(a) = &args.account
        && !(a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
    {
        bail!("--account: {a:?} must be a 12-digit account ID");
    }
    let rt = crate::awscfg::runtime()?;
    let items = rt
        .block_on(async {
            let cfg = args.aws.config().await;
            warden_aws::DynamoGrantStore::new(&cfg, &args.table)
                .list_items()
                .await
        })
        .map_err(|e| anyhow!("reading the registry {}: {e}", args.table))?;
    let rows: Vec<(State, RegistryItem)> = items
        .into_iter()
        .filter_map(|i| state_of(&i, now).map(|s| (s, i)))
        .filter(|(s, _)| args.state.is_none_or(|want| *s == want))
        .filter(|(_, i)| args.account.as_ref().is_none_or(|a| &i.account_id == a))
        .filter(|(s, i)| {
            within.is_none_or(|w| {
                *s == State::Active
                    && DateTime::parse_from_rfc3339(&i.expiration_date)
                        .is_ok_and(|t| t.with_timezone(&Utc) <= now + w)
            })
        })
        .collect();
    let mut out = io::stdout().lock();
    if args.json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(s, i)| {
                let mut v = serde_json::to_value(i).unwrap_or_default();
                v["state"] = serde_json::to_value(s).unwrap_or_default();
                v
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(
            out,
            "{:<13} {:<20} {:<9} {:<10} {:<21} prefixes",
            "account", "grant", "state", "level", "expires"
        )?;
        for (s, i) in &rows {
            writeln!(
                out,
                "{:<13} {:<20} {:<9} {:<10} {:<21} {}",
                i.account_id,
                i.grant_id,
                format!("{s:?}").to_lowercase(),
                i.access_level,
                i.expiration_date,
                i.allowed_prefixes.join(", ")
            )?;
        }
        writeln!(out, "{} grant(s)", rows.len())?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations_name_the_flag_and_the_rule() {
        assert_eq!(duration("--x", "30d").unwrap(), Duration::days(30));
        assert_eq!(duration("--x", "2w").unwrap(), Duration::weeks(2));
        for bad in ["30", "d", "-3d", "3y", "1.5d", ""] {
            let e = duration("--x", bad).unwrap_err().to_string();
            assert!(e.starts_with("--x:"), "{bad}: {e}");
        }
    }
}

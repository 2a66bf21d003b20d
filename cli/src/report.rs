//! `warden report`: one self-contained HTML page of a window's accesses, alerts, expiring
//! grants and denied requests (see [`warden_core::report`]), from log files, S3 or the audit
//! table.

use std::fs;
use std::io::{self, IsTerminal as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use warden_aws::{AuditKey, AuditRow};
use warden_core::grant::Registry;
use warden_core::report::{Access, Builder, GrantLine};

/// Arguments of `warden report`.
#[derive(clap::Args, Debug)]
#[command(
    group(clap::ArgGroup::new("source").required(true).args(["paths", "from_table"])),
    after_help = "Examples:\n  warden report --since 2026-11-01 --until 2026-12-01 s3://org-trail/AWSLogs/o-abc/111111111111/CloudTrail/eu-west-1/ --grants prod.tfvars.json --out november.html\n  warden report --since 2026-11-23T00:00:00Z --until 2026-11-24T00:00:00Z --from-table warden-prod-access-logs --registry-table warden-prod-grants-registry --out day.html"
)]
pub struct ReportArgs {
    /// Start of the window (RFC 3339, or a day `YYYY-MM-DD` meaning its midnight UTC; inclusive).
    #[arg(long)]
    pub since: String,
    /// End of the window (RFC 3339 or `YYYY-MM-DD`; exclusive; default now).
    #[arg(long)]
    pub until: Option<String>,
    /// CloudTrail log files or directories, or `s3://` URIs of a trail's folders, read and run
    /// through the detectors as `warden audit replay` does (the alerts section comes from them).
    pub paths: Vec<String>,
    /// Read the accesses from the audit table instead (`terraform output access_logs_table_name`),
    /// one Query per account through its `by-account-time` index. The table keeps accesses, not
    /// alerts: the alerts section then says so.
    #[arg(long, value_name = "TABLE")]
    pub from_table: Option<String>,
    /// With `--from-table`: the accounts to read (repeatable; default every account of the
    /// grants: `--registry-table` or `--grants`).
    #[arg(long = "account", value_name = "ACCOUNT")]
    pub accounts: Vec<String>,
    /// With `--from-table`: at most this many records per account (the page says when the
    /// limit was reached).
    #[arg(long, default_value_t = 1_000_000)]
    pub limit_per_account: usize,
    /// Grants file (the Terraform variable's shape): turns on the registry detectors and lists
    /// its grants that expire soon.
    #[arg(long)]
    pub grants: Option<PathBuf>,
    /// The live registry table: its active grants that expire soon (and, with
    /// `--from-table`, the accounts to read).
    #[arg(long, value_name = "TABLE")]
    pub registry_table: Option<String>,
    /// "Expiring soon" means within this long of now (`30d`, `2w`, `48h`).
    #[arg(long, default_value = "30d")]
    pub expiring_within: String,
    /// Detector configuration (JSON), as for `warden audit replay`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Largest log file read, in bytes, as for `warden audit replay`.
    #[arg(long, default_value_t = crate::replay::DEFAULT_MAX_FILE_BYTES)]
    pub max_file_bytes: u64,
    /// The page to write.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub aws: crate::awscfg::AwsArgs,
}

/// An instant from RFC 3339 or a day (its midnight, UTC).
fn instant(flag: &str, v: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            anyhow!(
                "{flag}: {v:?} must be an RFC 3339 time (2026-11-23T00:00:00Z) or a day (2026-11-23)"
            )
        })
}

fn is_account(a: &str) -> bool {
    a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())
}

/// The grants a report lists and the accounts they name: from the live registry (active items)
/// or a grants file (its declared grants).
fn grant_lines(args: &ReportArgs, now: DateTime<Utc>) -> Result<Option<(String, Vec<GrantLine>)>> {
    if let Some(table) = &args.registry_table {
        let rt = crate::awscfg::runtime()?;
        let items = rt
            .block_on(async {
                let cfg = args.aws.config().await;
                warden_aws::DynamoGrantStore::new(&cfg, table)
                    .list_items()
                    .await
            })
            .map_err(|e| anyhow!("--registry-table: reading {table}: {e}"))?;
        let mut lines = Vec::new();
        for i in items.into_iter().filter(|i| i.grant_state == "active") {
            let expires = DateTime::parse_from_rfc3339(&i.expiration_date)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    anyhow!(
                        "--registry-table {table}: item {}/{}: expiration_date {:?} is not RFC 3339",
                        i.account_id,
                        i.grant_id,
                        i.expiration_date
                    )
                })?;
            lines.push(GrantLine {
                account: i.account_id,
                grant_id: i.grant_id,
                prefixes: i.allowed_prefixes,
                level: i.access_level,
                expires,
            });
        }
        return Ok(Some((format!("the registry table {table}"), lines)));
    }
    if let Some(g) = &args.grants {
        let text =
            fs::read_to_string(g).with_context(|| format!("--grants: reading {}", g.display()))?;
        let reg = Registry::from_json(&text, now)
            .map_err(|e| anyhow!("--grants {}: {e}", g.display()))?;
        let lines = reg
            .grants()
            .iter()
            .map(|g| GrantLine {
                account: g.account_id.to_string(),
                grant_id: "terraform".into(),
                prefixes: g.allowed_prefixes.iter().map(ToString::to_string).collect(),
                level: g.access_level.to_string(),
                expires: g.expiration_date.0,
            })
            .collect();
        return Ok(Some((format!("the grants file {}", g.display()), lines)));
    }
    Ok(None)
}

/// The audit table's records of each account into the report.
fn from_table(
    args: &ReportArgs,
    table: &str,
    accounts: &[String],
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    b: &mut Builder,
) -> Result<()> {
    let rt = crate::awscfg::runtime()?;
    let bar = (io::stderr().is_terminal() && accounts.len() > 1).then(|| {
        let p = indicatif::ProgressBar::new(accounts.len() as u64);
        p.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} accounts  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        p
    });
    rt.block_on(async {
        let cfg = args.aws.config().await;
        let store = warden_aws::DynamoAuditStore::new(&cfg, table);
        for a in accounts {
            let mut n = 0usize;
            store
                .query_each(
                    &AuditKey::Account(a.clone()),
                    since,
                    until,
                    |r: AuditRow| {
                        n += 1;
                        let Ok(t) = DateTime::parse_from_rfc3339(&r.timestamp) else {
                            b.note(format!(
                                "{table}: record {} has timestamp {:?}, not RFC 3339: left out",
                                r.event_id, r.timestamp
                            ));
                            return n < args.limit_per_account;
                        };
                        let (bucket, key) =
                            match r.object_ref.as_deref().and_then(|o| o.split_once('/')) {
                                Some((bk, k)) => (Some(bk), Some(k)),
                                None => (r.object_ref.as_deref(), None),
                            };
                        b.access(&Access {
                            epoch_ms: t.timestamp_millis(),
                            account: &r.account_id,
                            principal: &r.principal_arn,
                            action: &r.action,
                            bucket,
                            key,
                            bytes: r.bytes_transferred,
                            success: r.success_status,
                            error_code: r.error_code.as_deref(),
                        });
                        n < args.limit_per_account
                    },
                )
                .await
                .map_err(|e| anyhow!("--from-table: querying {table} for {a}: {e}"))?;
            if n >= args.limit_per_account {
                b.note(format!(
                    "account {a}: the first {} records only (--limit-per-account)",
                    args.limit_per_account
                ));
            }
            if let Some(p) = &bar {
                p.inc(1);
                p.set_message(format!("{} records", b.records()));
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    if let Some(p) = bar {
        p.finish_and_clear();
    }
    Ok(())
}

/// Run `warden report`.
///
/// # Errors
/// A bad option (named), or a source or the page could not be read or written.
pub fn run(args: &ReportArgs) -> Result<ExitCode> {
    let now = Utc::now();
    let since = instant("--since", &args.since)?;
    let until = match &args.until {
        Some(u) => instant("--until", u)?,
        None => now,
    };
    let within = crate::grants::duration("--expiring-within", &args.expiring_within)?;
    let mut b = Builder::new(since, until, now)?;
    if args.from_table.is_some() && !args.paths.is_empty() {
        bail!("PATH: give log paths or --from-table, not both");
    }
    if args.limit_per_account == 0 {
        bail!("--limit-per-account: must be at least 1");
    }
    if args.from_table.is_none() && !args.accounts.is_empty() {
        bail!("--account applies to --from-table only");
    }
    for a in &args.accounts {
        if !is_account(a) {
            bail!("--account: {a:?} must be a 12-digit account ID");
        }
    }
    let grants = grant_lines(args, now)?;
    let mut code = ExitCode::SUCCESS;
    if let Some(table) = &args.from_table {
        let mut accounts = args.accounts.clone();
        if accounts.is_empty() {
            accounts = grants
                .iter()
                .flat_map(|(_, g)| g.iter().map(|l| l.account.clone()))
                .collect();
            accounts.sort();
            accounts.dedup();
        }
        if accounts.is_empty() {
            bail!(
                "--from-table: no accounts to read: give --account (repeatable), --registry-table or --grants"
            );
        }
        b.source(format!(
            "the audit table {table}, {} account(s): {}",
            accounts.len(),
            accounts.join(", ")
        ));
        b.note("alerts: the audit table keeps accesses, not alerts (they go to the alerts topic); give the trail's log files or s3:// folder to run the detectors over the window");
        from_table(args, table, &accounts, since, until, &mut b)?;
    } else {
        let s3 = args.paths.iter().any(|p| p.starts_with("s3://"));
        // S3 keys are picked by day: the days the window touches.
        let last = until - Duration::milliseconds(1);
        let replay = crate::replay::ReplayArgs {
            paths: args.paths.iter().map(PathBuf::from).collect(),
            grants: args.grants.clone(),
            config: args.config.clone(),
            records_out: None,
            format: crate::replay::AlertFormat::Jsonl,
            max_file_bytes: args.max_file_bytes,
            since: s3.then(|| since.format("%Y-%m-%d").to_string()),
            until: s3.then(|| last.format("%Y-%m-%d").to_string()),
            checkpoint: None,
            aws: args.aws.clone(),
            jobs: Some(1),
        };
        for p in &args.paths {
            b.source(p.clone());
        }
        let (c, back) = crate::replay::run_with(&replay, Some(b))?;
        code = c;
        b = back.ok_or_else(|| anyhow!("the replay did not hand the report back"))?;
    }
    if let Some((source, lines)) = grants {
        b.grants(source, lines, within);
    }
    let html = b.render();
    let tmp = args.out.with_extension("html.tmp");
    fs::write(&tmp, &html)
        .and_then(|()| fs::rename(&tmp, &args.out))
        .with_context(|| format!("--out: writing {}", args.out.display()))?;
    eprintln!(
        "{}: {} record(s) in the window ({} outside it), {} alert(s), {} bytes",
        args.out.display(),
        b.records(),
        b.outside(),
        b.alerts(),
        html.len()
    );
    Ok(code)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn instants_take_rfc3339_or_a_day_and_name_the_flag() {
        assert_eq!(
            instant("--since", "2026-11-23").unwrap(),
            instant("--since", "2026-11-23T00:00:00Z").unwrap()
        );
        assert_eq!(
            instant("--until", "2026-11-23T01:00:00+01:00").unwrap(),
            instant("--until", "2026-11-23").unwrap()
        );
        for bad in ["yesterday", "2026-13-01", "23/11/2026", ""] {
            let e = instant("--since", bad).unwrap_err().to_string();
            assert!(e.starts_with("--since:"), "{bad}: {e}");
        }
    }
}

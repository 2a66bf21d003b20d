//! `warden doctor`: the troubleshooting section as checks of one consumer (see
//! [`warden_core::doctor`]), run with the operator's credentials (everything) or the consumer's
//! (its own role), configured from `terraform output -json` of the primary stack.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow, bail};
use chrono::Utc;
use serde_json::{Value, json};
use warden_aws::doctor::{Targets, Who};
use warden_core::doctor::{Check, Status};
use warden_core::grant::AccountId;
use warden_core::policy::render::RenderSettings;

/// Arguments of `warden doctor`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  terraform -chdir=terraform/data-sharing output -json > outputs.json\n  warden doctor --outputs outputs.json --account 222233334444\n\nWith the operator's credentials (the primary account) every check runs; with the consumer's, only its role (the rest say what they need). Exit codes: 0 no problem, 1 a problem (or a bad option, named), 2 an options file that cannot be read."
)]
pub struct DoctorArgs {
    /// The consumer account to diagnose.
    #[arg(long)]
    pub account: String,
    /// The object to probe along the path (default: one under the account's first granted
    /// prefix), read with s3:GetObject.
    #[arg(long)]
    pub key: Option<String>,
    /// `terraform output -json` of the data-sharing stack: bucket, key, table, trail, topic,
    /// directory and validator role from it (each flag below overrides one).
    #[arg(long, value_name = "FILE")]
    pub outputs: Option<PathBuf>,
    /// Shared bucket (`shared_bucket_name`).
    #[arg(long)]
    pub bucket: Option<String>,
    /// Data key ARN (`kms_key_arn`); its account is the primary account.
    #[arg(long)]
    pub kms_key_arn: Option<String>,
    /// Data key alias (`kms_key_alias`), repeatable.
    #[arg(long)]
    pub key_alias: Vec<String>,
    /// Registry table (`access_control_table_name`).
    #[arg(long)]
    pub table: Option<String>,
    /// Consumer directory parameter (`consumer_directory_parameter`).
    #[arg(long)]
    pub directory_parameter: Option<String>,
    /// Trail ARN or name (`cloudtrail_arn`).
    #[arg(long)]
    pub trail: Option<String>,
    /// Alerts topic (`alerts_topic_arn`).
    #[arg(long)]
    pub alerts_topic_arn: Option<String>,
    /// The access-validator's role (`access_validator_role_arn`), which consumer roles trust.
    #[arg(long)]
    pub vending_role_arn: Option<String>,
    /// Name of the consumer role in each consumer account.
    #[arg(long, default_value = "warden-consumer")]
    pub consumer_role_name: String,
    /// Consumer-role trust policies require MFA (`require_mfa`).
    #[arg(long)]
    pub require_mfa: bool,
    #[command(flatten)]
    pub tiers: crate::TierArgs,
    /// JSON (every check) instead of lines.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub aws: crate::awscfg::AwsArgs,
}

/// One value of `terraform output -json` (`{"name": {"value": …}}`), or of a plain object.
fn output(outputs: &Value, name: &str) -> Option<Value> {
    let v = outputs.get(name)?;
    Some(v.get("value").cloned().unwrap_or_else(|| v.clone()))
}

/// Run `warden doctor`.
///
/// # Errors
/// A bad option (named), an unreadable outputs file, or no credentials.
pub fn run(args: &DoctorArgs) -> Result<ExitCode> {
    let account = AccountId::parse(&args.account).map_err(|e| anyhow!("--account: {e}"))?;
    let outputs: Value = match &args.outputs {
        Some(p) => {
            let text = match std::fs::read_to_string(p) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: --outputs: reading {}: {e}", p.display());
                    return Ok(ExitCode::from(2));
                }
            };
            serde_json::from_str(&text).with_context(|| {
                format!(
                    "--outputs: {} is not JSON (terraform output -json > FILE)",
                    p.display()
                )
            })?
        }
        None => Value::Null,
    };
    let s_out = |flag: &Option<String>, name: &str| {
        flag.clone()
            .or_else(|| output(&outputs, name).and_then(|v| v.as_str().map(str::to_owned)))
    };
    let kms_key_arn = s_out(&args.kms_key_arn, "kms_key_arn")
        .ok_or_else(|| anyhow!("--kms-key-arn: required (or kms_key_arn in --outputs)"))?;
    let parts: Vec<&str> = kms_key_arn.split(':').collect();
    let [_, partition, "kms", region, primary, _] = parts.as_slice() else {
        bail!(
            "--kms-key-arn: {kms_key_arn:?} must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)"
        );
    };
    let primary_account =
        AccountId::parse(primary).map_err(|e| anyhow!("--kms-key-arn: its account: {e}"))?;
    let bucket = s_out(&args.bucket, "shared_bucket_name")
        .ok_or_else(|| anyhow!("--bucket: required (or shared_bucket_name in --outputs)"))?;
    let mut key_aliases = args.key_alias.clone();
    if key_aliases.is_empty()
        && let Some(a) = s_out(&None, "kms_key_alias")
    {
        key_aliases.push(a);
    }
    let settings = RenderSettings {
        partition: (*partition).to_owned(),
        region: (*region).to_owned(),
        primary_account,
        bucket,
        kms_key_arn: kms_key_arn.clone(),
        consumer_role_name: args.consumer_role_name.clone(),
        require_mfa: args.require_mfa,
        vending_role_arn: s_out(&args.vending_role_arn, "access_validator_role_arn"),
    };
    let targets = Targets {
        table: s_out(&args.table, "access_control_table_name"),
        directory_parameter: s_out(&args.directory_parameter, "consumer_directory_parameter"),
        trail: s_out(&args.trail, "cloudtrail_arn"),
        alerts_topic: s_out(&args.alerts_topic_arn, "alerts_topic_arn"),
        key_aliases,
    };
    let tiering = args.tiers.tiering();
    let mut aws = args.aws.clone();
    aws.region = aws.region.or_else(|| Some((*region).to_owned()));
    let rt = crate::awscfg::runtime()?;
    let now = Utc::now();
    let (caller, live) = rt.block_on(async {
        let cfg = aws.config().await;
        let caller = warden_aws::doctor::caller_account(&cfg)
            .await
            .map_err(|e| anyhow!("whose credentials these are: {e}"))?;
        let who = if caller == settings.primary_account.as_str() {
            Who::Operator
        } else if caller == account.as_str() {
            Who::Consumer
        } else {
            bail!(
                "these credentials are of account {caller}: run with the operator's (primary account {}) or the consumer's ({account})",
                settings.primary_account
            );
        };
        let live =
            warden_aws::doctor::read_live(&cfg, who, &account, &targets, &settings, &tiering, now)
                .await;
        Ok((who, live))
    })?;
    let checks = warden_core::doctor::checks(
        &account,
        args.key.as_deref(),
        &live,
        &settings,
        &tiering,
        now,
    );
    let problems = checks
        .iter()
        .filter(|c| c.status == Status::Problem)
        .count();
    let mut out = io::stdout().lock();
    let who = match caller {
        Who::Operator => "operator",
        Who::Consumer => "consumer",
    };
    if args.json {
        let doc = json!({"account": account.as_str(), "credentials": who, "problems": problems, "checks": checks});
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        writeln!(
            out,
            "# warden doctor: account {account}, with the {who}'s credentials"
        )?;
        for c in &checks {
            write_check(&mut out, c)?;
        }
        let skipped = checks
            .iter()
            .filter(|c| c.status == Status::Skipped)
            .count();
        writeln!(
            out,
            "{} ok, {problems} problem(s), {skipped} skipped",
            checks.len() - problems - skipped
        )?;
    }
    Ok(if problems > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_check(out: &mut impl Write, c: &Check) -> io::Result<()> {
    let status = match c.status {
        Status::Ok => "ok",
        Status::Problem => "problem",
        Status::Skipped => "skipped",
    };
    writeln!(out, "{status:<8} {:<14} {}", c.name, c.detail)?;
    if let Some(f) = &c.fix {
        writeln!(out, "{:<8} {:<14} fix: {f}", "", "")?;
    }
    Ok(())
}

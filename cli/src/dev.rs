//! `warden dev …`: developer tools (synthetic data for load tests and benchmarks).

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Utc};
use warden_core::cloudtrail::synth::{Rng, SynthConfig, record};

/// Arguments of `warden dev gen-cloudtrail`.
#[derive(clap::Args, Debug)]
pub struct GenArgs {
    /// Number of records.
    #[arg(long)]
    pub records: u64,
    /// Number of consumer accounts.
    #[arg(long, default_value_t = 20)]
    pub accounts: u32,
    /// Seed (same seed, same records).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Time of the first record (RFC 3339).
    #[arg(long, default_value = "2026-11-23T08:00:00Z")]
    pub start: String,
    /// Shared bucket name.
    #[arg(long, default_value = "warden-shared-data-111111111111")]
    pub bucket: String,
    /// Primary account ID.
    #[arg(long, default_value = "111111111111")]
    pub primary_account: String,
    /// Write CloudTrail log files (`{"Records": [...]}`) into this directory instead of JSON
    /// Lines on stdout.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Records per log file with --out-dir.
    #[arg(long, default_value_t = 1000)]
    pub per_file: u64,
}

/// Generate synthetic S3 data events.
pub fn gen_cloudtrail(a: &GenArgs) -> Result<()> {
    if a.accounts == 0 {
        bail!("--accounts: must be at least 1");
    }
    if a.per_file == 0 {
        bail!("--per-file: must be at least 1");
    }
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339(&a.start)
        .map(|d| d.with_timezone(&Utc))
        .with_context(|| format!("--start: {:?} is not RFC 3339", a.start))?;
    let cfg = SynthConfig {
        accounts: a.accounts,
        seed: a.seed,
        start,
        bucket: a.bucket.clone(),
        primary_account: a.primary_account.clone(),
    };
    let mut rng = Rng::new(a.seed);
    match &a.out_dir {
        None => {
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            for n in 0..a.records {
                serde_json::to_writer(&mut out, &record(&cfg, &mut rng, n))?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        Some(dir) => {
            fs::create_dir_all(dir)
                .with_context(|| format!("--out-dir: creating {}", dir.display()))?;
            let mut n = 0u64;
            let mut file_no = 0u64;
            while n < a.records {
                let path = dir.join(format!(
                    "{}_CloudTrail_us-east-1_{file_no:06}.json",
                    a.primary_account
                ));
                let mut out = BufWriter::new(
                    fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?,
                );
                out.write_all(b"{\"Records\":[")?;
                let end = (n + a.per_file).min(a.records);
                for i in n..end {
                    if i > n {
                        out.write_all(b",")?;
                    }
                    serde_json::to_writer(&mut out, &record(&cfg, &mut rng, i))?;
                }
                out.write_all(b"]}\n")?;
                out.flush()?;
                n = end;
                file_no += 1;
            }
            eprintln!(
                "wrote {} record(s) in {file_no} file(s) to {}",
                a.records,
                dir.display()
            );
        }
    }
    Ok(())
}

/// Arguments of `warden dev bare-parse`.
#[derive(clap::Args, Debug)]
pub struct BareArgs {
    /// A directory of CloudTrail log files (`{"Records": [...]}`, plain or gzip), read in name
    /// order.
    pub dir: PathBuf,
}

/// Read and bare-parse every file of the directory; print `{"records": N, "seconds": S}`.
pub fn bare_parse(a: &BareArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let mut files: Vec<PathBuf> = fs::read_dir(&a.dir)
        .with_context(|| format!("DIR: listing {}", a.dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let mut records = 0usize;
    let mut bytes = Vec::new();
    for f in &files {
        bytes.clear();
        let mut file = fs::File::open(f).with_context(|| format!("{}", f.display()))?;
        io::Read::read_to_end(&mut file, &mut bytes).with_context(|| format!("{}", f.display()))?;
        let text = warden_core::cloudtrail::decompress(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        let parsed: warden_core::cloudtrail::bare::BareFile = serde_json::from_slice(&text)
            .with_context(|| format!("{}: not a CloudTrail log file", f.display()))?;
        records += parsed.records.len();
    }
    println!(
        "{}",
        serde_json::json!({"records": records, "files": files.len(), "seconds": started.elapsed().as_secs_f64()})
    );
    Ok(())
}

//! `warden grants diff`: what the next `terraform apply` of a grants file changes, in the live
//! registry and in the documents the policy-reconciler renders from it (with their sizes against
//! AWS's limits), before anything is applied.
//!
//! Terraform owns one item per consumer (`grant_id = declared`, written verbatim from
//! `consumer_accounts`); self-service grants (`request-…`) are the approval workflow's and stay.
//! So the registry after the apply is the live one with its `declared` items replaced by the
//! file's, and the documents are rendered from both with the reconciler's own selection
//! ([`warden_aws::registry_of_items`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use chrono::{DateTime, Utc};
use serde::Serialize;
use warden_aws::RegistryItem;
use warden_core::grant::{GrantsFile, Registry, SkippedItem};
use warden_core::policy::access_point::{self, Tiered, Tiering};
use warden_core::policy::render::{self, RenderSettings};

/// Arguments of `warden grants diff`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example: warden grants diff --grants prod.tfvars.json --table warden-prod-access-control --primary-account 111122223333 --region eu-west-1\n\nExit codes: 0 the apply would succeed (changes or none), 1 the documents after it would break an AWS limit, or an option or the file is wrong (named)."
)]
pub struct DiffArgs {
    /// The registry table (`terraform output access_control_table_name`).
    #[arg(long)]
    pub table: String,
    #[command(flatten)]
    pub stack: crate::StackArgs,
    #[command(flatten)]
    pub tiers: crate::TierArgs,
    /// JSON (the whole plan) instead of text.
    #[arg(long)]
    pub json: bool,
    /// AWS profile (default: the credential chain's). The Region is `--region`.
    #[arg(long)]
    pub profile: Option<String>,
    /// Endpoint (a local emulator); default AWS's.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

/// What the apply does to one `declared` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum ItemChange {
    /// A consumer new to the registry.
    Add {
        /// Consumer account.
        account_id: String,
        /// The item Terraform writes.
        after: ItemFields,
    },
    /// A consumer whose item Terraform rewrites.
    Update {
        /// Consumer account.
        account_id: String,
        /// The fields that change: (field, before, after).
        fields: Vec<(String, String, String)>,
    },
    /// A consumer no longer in the file: Terraform deletes its item.
    Remove {
        /// Consumer account.
        account_id: String,
        /// The item as it is.
        before: ItemFields,
    },
}

/// The fields of a `declared` item that Terraform writes and the policies depend on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFields {
    /// Sorted, as Terraform writes them.
    pub allowed_prefixes: Vec<String>,
    /// `read` / `read-write`.
    pub access_level: String,
    /// As written in the file.
    pub expiration_date: String,
    /// `active` after an apply; the live item may be `revoked`.
    pub grant_state: String,
}

impl ItemFields {
    fn of(i: &RegistryItem) -> Self {
        let mut p = i.allowed_prefixes.clone();
        p.sort();
        ItemFields {
            allowed_prefixes: p,
            access_level: i.access_level.clone(),
            expiration_date: i.expiration_date.clone(),
            grant_state: i.grant_state.clone(),
        }
    }
}

/// One rendered document before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocChange {
    /// `bucket policy`, `key policy`, `access point <account>`.
    pub document: String,
    /// Bytes before (absent: the document does not exist yet).
    pub before: Option<usize>,
    /// Bytes after (absent: the document goes).
    pub after: Option<usize>,
    /// The AWS limit it is measured against.
    pub budget: usize,
    /// Whether its content changes.
    pub changed: bool,
}

/// What the apply changes.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Changes to `declared` items, by account.
    pub items: Vec<ItemChange>,
    /// Self-service items left as they are.
    pub self_service_items: usize,
    /// Items the reconciler would leave out after the apply, and why (a self-service grant
    /// that now overlaps a declared one, an item it cannot read).
    pub left_out_after: Vec<SkippedItem>,
    /// Every document, changed or not, with its size before and after.
    pub documents: Vec<DocChange>,
    /// KMS grants created by the reconciler after the apply.
    pub kms_grants_added: Vec<String>,
    /// KMS grants it retires.
    pub kms_grants_removed: Vec<String>,
    /// Why the documents after the apply could not be rendered (a limit AWS enforces): the
    /// reconciler would refuse them and keep the old ones.
    pub render_error_after: Option<String>,
    /// Why the documents as they are now could not be rendered (the diff of documents then
    /// lists only the after side).
    pub render_error_before: Option<String>,
}

impl Plan {
    /// Whether anything changes.
    #[must_use]
    pub fn changes(&self) -> bool {
        !self.items.is_empty()
            || self.documents.iter().any(|d| d.changed)
            || !self.kms_grants_added.is_empty()
            || !self.kms_grants_removed.is_empty()
    }
}

/// The plan of applying `file` (the validated grants file) over the `live` items.
///
/// # Errors
/// The grants file breaks a rule (the entry and field are named).
pub fn plan(
    file_text: &str,
    live: &[RegistryItem],
    s: &RenderSettings,
    tiering: &Tiering,
    now: DateTime<Utc>,
) -> Result<Plan> {
    // The same validation Terraform's variable and the reconciler apply, errors by entry.
    Registry::from_json(file_text, now).map_err(|e| anyhow!("--grants: {e}"))?;
    let file: GrantsFile = serde_json::from_str(file_text)
        .or_else(|_| {
            serde_json::from_str(file_text)
                .map(|consumer_accounts| GrantsFile { consumer_accounts })
        })
        .map_err(|e| anyhow!("--grants: {e}"))?;
    let declared: Vec<RegistryItem> = file
        .consumer_accounts
        .iter()
        .map(|g| {
            let mut prefixes = g.allowed_prefixes.clone();
            prefixes.sort();
            let before = live
                .iter()
                .find(|i| i.account_id == g.account_id && i.grant_id == "declared");
            RegistryItem {
                account_id: g.account_id.clone(),
                grant_id: "declared".into(),
                grant_state: "active".into(),
                allowed_prefixes: prefixes,
                access_level: g.access_level.clone(),
                expiration_date: g.expiration_date.clone(),
                created_by: Some("terraform".into()),
                // time_static keeps the first apply's time.
                created_at: before
                    .and_then(|b| b.created_at.clone())
                    .or_else(|| Some(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))),
                revoked_at: None,
            }
        })
        .collect();
    let mut after: Vec<RegistryItem> = live
        .iter()
        .filter(|i| i.grant_id != "declared")
        .cloned()
        .collect();
    after.extend(declared.iter().cloned());

    let mut items = Vec::new();
    let live_declared: BTreeMap<&str, &RegistryItem> = live
        .iter()
        .filter(|i| i.grant_id == "declared")
        .map(|i| (i.account_id.as_str(), i))
        .collect();
    let new_declared: BTreeMap<&str, &RegistryItem> = declared
        .iter()
        .map(|i| (i.account_id.as_str(), i))
        .collect();
    for (acct, a) in &new_declared {
        match live_declared.get(acct) {
            None => items.push(ItemChange::Add {
                account_id: (*acct).to_owned(),
                after: ItemFields::of(a),
            }),
            Some(b) => {
                let (b, a) = (ItemFields::of(b), ItemFields::of(a));
                let mut fields = Vec::new();
                if b.allowed_prefixes != a.allowed_prefixes {
                    fields.push((
                        "allowed_prefixes".into(),
                        b.allowed_prefixes.join(","),
                        a.allowed_prefixes.join(","),
                    ));
                }
                for (k, x, y) in [
                    ("access_level", &b.access_level, &a.access_level),
                    ("expiration_date", &b.expiration_date, &a.expiration_date),
                    ("grant_state", &b.grant_state, &a.grant_state),
                ] {
                    if x != y {
                        fields.push((k.into(), x.clone(), y.clone()));
                    }
                }
                if !fields.is_empty() {
                    items.push(ItemChange::Update {
                        account_id: (*acct).to_owned(),
                        fields,
                    });
                }
            }
        }
    }
    for (acct, b) in &live_declared {
        if !new_declared.contains_key(acct) {
            items.push(ItemChange::Remove {
                account_id: (*acct).to_owned(),
                before: ItemFields::of(b),
            });
        }
    }

    let (reg_before, _) = warden_aws::registry_of_items(live, now);
    let (reg_after, left_out_after) = warden_aws::registry_of_items(&after, now);
    let render = |r: &Registry| {
        access_point::render_tiers(
            r,
            s,
            render::baseline_statements(s),
            tiering.mode,
            &tiering.name_prefix,
            now,
        )
        .map_err(|e| e.to_string())
    };
    let (before, after_r) = (render(&reg_before), render(&reg_after));
    let mut plan = Plan {
        items,
        self_service_items: live.iter().filter(|i| i.grant_id != "declared").count(),
        left_out_after,
        documents: Vec::new(),
        kms_grants_added: Vec::new(),
        kms_grants_removed: Vec::new(),
        render_error_after: after_r.as_ref().err().cloned(),
        render_error_before: before.as_ref().err().cloned(),
    };
    let (b, a) = (before.as_ref().ok(), after_r.as_ref().ok());
    plan.documents = documents(b, a);
    let names = |t: Option<&Tiered>| -> BTreeMap<String, String> {
        t.map(|t| {
            t.kms
                .grants
                .iter()
                .map(|g| (g.name.clone(), serde_json::to_string(g).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
    };
    let (gb, ga) = (names(b), names(a));
    if a.is_some() {
        plan.kms_grants_added = ga
            .iter()
            .filter(|(n, spec)| gb.get(*n) != Some(spec))
            .map(|(n, _)| n.clone())
            .collect();
        plan.kms_grants_removed = gb
            .iter()
            .filter(|(n, spec)| ga.get(*n) != Some(spec))
            .map(|(n, _)| n.clone())
            .collect();
    }
    Ok(plan)
}

/// Each document of either render, before and after.
fn documents(b: Option<&Tiered>, a: Option<&Tiered>) -> Vec<DocChange> {
    let doc =
        |name: String, x: Option<&render::Rendered>, y: Option<&render::Rendered>| DocChange {
            document: name,
            before: x.map(|r| r.size),
            after: y.map(|r| r.size),
            budget: y.or(x).map_or(0, |r| r.budget),
            changed: x.map(|r| &r.policy) != y.map(|r| &r.policy),
        };
    let mut out = vec![
        doc(
            "bucket policy".into(),
            b.map(|t| &t.bucket),
            a.map(|t| &t.bucket),
        ),
        doc(
            "key policy".into(),
            b.map(|t| &t.kms.key_policy),
            a.map(|t| &t.kms.key_policy),
        ),
    ];
    let accounts: BTreeSet<String> = [b, a]
        .iter()
        .flatten()
        .flat_map(|t| t.access_points.keys().map(ToString::to_string))
        .collect();
    for acct in accounts {
        let ap = |t: Option<&Tiered>| {
            t.and_then(|t| {
                t.access_points
                    .iter()
                    .find(|(k, _)| k.to_string() == acct)
                    .map(|(_, p)| p.doc.clone())
            })
        };
        let (x, y) = (ap(b), ap(a));
        out.push(doc(
            format!("access point policy {acct}"),
            x.as_ref(),
            y.as_ref(),
        ));
    }
    out
}

/// Run `warden grants diff`.
///
/// # Errors
/// A bad option or grants file (named), or the registry could not be read.
pub fn run(args: &DiffArgs) -> Result<ExitCode> {
    let now = Utc::now();
    let (_, settings, _) = crate::load_stack(&args.stack, now)?;
    let text = std::fs::read_to_string(&args.stack.grants)
        .map_err(|e| anyhow!("--grants: reading {}: {e}", args.stack.grants.display()))?;
    let aws = crate::awscfg::AwsArgs {
        profile: args.profile.clone(),
        region: Some(args.stack.region.clone()),
        endpoint_url: args.endpoint_url.clone(),
    };
    let rt = crate::awscfg::runtime()?;
    let live = rt
        .block_on(async {
            let cfg = aws.config().await;
            warden_aws::DynamoGrantStore::new(&cfg, &args.table)
                .list_items()
                .await
        })
        .map_err(|e| anyhow!("reading the registry {}: {e}", args.table))?;
    let plan = plan(&text, &live, &settings, &args.tiers.tiering(), now)?;
    let mut out = io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&plan)?)?;
    } else {
        write_text(&mut out, &plan, &args.table)?;
    }
    Ok(if plan.render_error_after.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_text(out: &mut impl Write, plan: &Plan, table: &str) -> io::Result<()> {
    let count = |f: fn(&ItemChange) -> bool| plan.items.iter().filter(|c| f(c)).count();
    writeln!(
        out,
        "# Registry {table}: {} to add, {} to change, {} to remove; {} self-service item(s) kept",
        count(|c| matches!(c, ItemChange::Add { .. })),
        count(|c| matches!(c, ItemChange::Update { .. })),
        count(|c| matches!(c, ItemChange::Remove { .. })),
        plan.self_service_items
    )?;
    for c in &plan.items {
        match c {
            ItemChange::Add { account_id, after } => writeln!(
                out,
                "+ {account_id} {} {} until {}",
                after.access_level,
                after.allowed_prefixes.join(","),
                after.expiration_date
            )?,
            ItemChange::Update { account_id, fields } => {
                let f: Vec<String> = fields
                    .iter()
                    .map(|(k, b, a)| format!("{k}: {b} -> {a}"))
                    .collect();
                writeln!(out, "~ {account_id} {}", f.join("; "))?;
            }
            ItemChange::Remove { account_id, before } => writeln!(
                out,
                "- {account_id} {} {} (its statements, access point and KMS grant go)",
                before.access_level,
                before.allowed_prefixes.join(",")
            )?,
        }
    }
    for s in &plan.left_out_after {
        writeln!(out, "! {} left out after the apply: {}", s.item, s.rule)?;
    }
    writeln!(out, "\n# Documents the policy-reconciler renders")?;
    let n = |v: Option<usize>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    for d in &plan.documents {
        let mark = match (d.before, d.after, d.changed) {
            (None, Some(_), _) => '+',
            (Some(_), None, _) => '-',
            (_, _, true) => '~',
            _ => '=',
        };
        let used = d
            .after
            .map(|a| format!(" ({}% used)", a * 100 / d.budget.max(1)))
            .unwrap_or_default();
        writeln!(
            out,
            "{mark} {:<40} {:>6} -> {:>6} of {:>6} bytes{used}",
            d.document,
            n(d.before),
            n(d.after),
            d.budget
        )?;
    }
    writeln!(
        out,
        "\n# KMS grants: {} to create, {} to retire",
        plan.kms_grants_added.len(),
        plan.kms_grants_removed.len()
    )?;
    for g in &plan.kms_grants_added {
        writeln!(out, "+ {g}")?;
    }
    for g in &plan.kms_grants_removed {
        writeln!(out, "- {g}")?;
    }
    if let Some(e) = &plan.render_error_before {
        writeln!(out, "\nthe live registry does not render today: {e}")?;
    }
    if let Some(e) = &plan.render_error_after {
        writeln!(
            out,
            "\nproblem: after the apply the documents would break an AWS limit, and the reconciler would keep the old ones: {e}"
        )?;
    } else if !plan.changes() {
        writeln!(out, "\nno changes")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use warden_core::grant::AccountId;
    use warden_core::policy::access_point::SharingMode;

    fn settings() -> RenderSettings {
        RenderSettings {
            partition: "aws".into(),
            region: "us-east-1".into(),
            primary_account: AccountId::parse("111122223333").unwrap(),
            bucket: "shared".into(),
            kms_key_arn: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
            consumer_role_name: "warden-consumer".into(),
            require_mfa: false,
            vending_role_arn: None,
        }
    }

    fn tiering(mode: SharingMode) -> Tiering {
        Tiering {
            mode,
            name_prefix: "warden-prod".into(),
        }
    }

    fn item(acct: &str, grant: &str, state: &str, prefixes: &[&str], level: &str) -> RegistryItem {
        RegistryItem {
            account_id: acct.into(),
            grant_id: grant.into(),
            grant_state: state.into(),
            allowed_prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            access_level: level.into(),
            expiration_date: "2030-01-01T00:00:00Z".into(),
            created_by: Some("terraform".into()),
            created_at: Some("2026-01-01T00:00:00Z".into()),
            revoked_at: None,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn adds_changes_removes_and_keeps_self_service_items() {
        let live = vec![
            item("210000000001", "declared", "active", &["sales/"], "read"),
            item("210000000002", "declared", "active", &["ml/"], "read"),
            item("210000000003", "declared", "active", &["old/"], "read"),
            item("210000000003", "request-abc", "active", &["extra/"], "read"),
        ];
        let file = r#"{"consumer_accounts":[
          {"account_id":"210000000001","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"},
          {"account_id":"210000000002","allowed_prefixes":["ml/","ml2/"],"access_level":"read-write","expiration_date":"2030-01-01T00:00:00Z"},
          {"account_id":"210000000004","allowed_prefixes":["new/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#;
        let p = plan(
            file,
            &live,
            &settings(),
            &tiering(SharingMode::BucketPolicy),
            now(),
        )
        .unwrap();
        assert_eq!(p.self_service_items, 1);
        assert_eq!(
            p.items,
            vec![
                ItemChange::Update {
                    account_id: "210000000002".into(),
                    fields: vec![
                        ("allowed_prefixes".into(), "ml/".into(), "ml/,ml2/".into()),
                        ("access_level".into(), "read".into(), "read-write".into()),
                    ],
                },
                ItemChange::Add {
                    account_id: "210000000004".into(),
                    after: ItemFields {
                        allowed_prefixes: vec!["new/".into()],
                        access_level: "read".into(),
                        expiration_date: "2030-01-01T00:00:00Z".into(),
                        grant_state: "active".into(),
                    },
                },
                ItemChange::Remove {
                    account_id: "210000000003".into(),
                    before: ItemFields {
                        allowed_prefixes: vec!["old/".into()],
                        access_level: "read".into(),
                        expiration_date: "2030-01-01T00:00:00Z".into(),
                        grant_state: "active".into(),
                    },
                },
            ]
        );
        let bucket = &p.documents[0];
        assert_eq!(bucket.document, "bucket policy");
        assert!(bucket.changed);
        assert!(bucket.before.unwrap() > 0 && bucket.after.unwrap() > 0);
        assert_eq!(bucket.budget, 20 * 1024);
        // 210000000003 keeps its self-service grant, so its KMS grant stays; 004's is new, and
        // 002's read grant gives way to a read-write one.
        assert!(
            p.kms_grants_added
                .iter()
                .any(|g| g.contains("210000000004"))
        );
        assert!(
            p.kms_grants_added
                .iter()
                .any(|g| g.contains("210000000002"))
        );
        assert!(
            p.kms_grants_removed
                .iter()
                .any(|g| g.contains("210000000002"))
        );
        assert!(
            !p.kms_grants_removed
                .iter()
                .any(|g| g.contains("210000000003"))
        );
        assert!(p.render_error_after.is_none() && p.changes());
    }

    #[test]
    fn the_same_file_is_no_change_and_a_revoked_item_is_named() {
        let live = vec![
            item("210000000001", "declared", "active", &["b/", "a/"], "read"),
            item("210000000002", "declared", "revoked", &["ml/"], "read"),
        ];
        let file = r#"{"consumer_accounts":[
          {"account_id":"210000000001","allowed_prefixes":["a/","b/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#;
        let p = plan(
            file,
            &live[..1],
            &settings(),
            &tiering(SharingMode::AccessPoints),
            now(),
        )
        .unwrap();
        assert!(!p.changes(), "{p:?}");
        assert_eq!(p.documents.len(), 3, "bucket, key, one access point");
        let mut out = Vec::new();
        write_text(&mut out, &p, "t").unwrap();
        assert!(String::from_utf8(out).unwrap().contains("no changes"));
        // Terraform rewrites a revoked declared item as active: the grant is back in force.
        let file2 = r#"[{"account_id":"210000000001","allowed_prefixes":["a/","b/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"},
          {"account_id":"210000000002","allowed_prefixes":["ml/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]"#;
        let p = plan(
            file2,
            &live,
            &settings(),
            &tiering(SharingMode::BucketPolicy),
            now(),
        )
        .unwrap();
        assert_eq!(
            p.items,
            vec![ItemChange::Update {
                account_id: "210000000002".into(),
                fields: vec![("grant_state".into(), "revoked".into(), "active".into())],
            }]
        );
    }

    #[test]
    fn a_self_service_grant_overlapping_a_new_declared_one_is_named() {
        let live = vec![item(
            "210000000001",
            "request-abc",
            "active",
            &["sales/eu/"],
            "read",
        )];
        let file = r#"{"consumer_accounts":[{"account_id":"210000000001","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#;
        let p = plan(
            file,
            &live,
            &settings(),
            &tiering(SharingMode::BucketPolicy),
            now(),
        )
        .unwrap();
        assert_eq!(p.left_out_after.len(), 1, "{p:?}");
        assert_eq!(p.left_out_after[0].item, "210000000001/request-abc");
    }

    #[test]
    fn a_file_past_the_bucket_policy_limit_is_a_problem_not_a_crash() {
        let many: Vec<String> = (0..400)
            .map(|i| {
                format!(
                    r#"{{"account_id":"2100000{i:05}","allowed_prefixes":["team-{i}/data/"],"access_level":"read-write","expiration_date":"2030-01-01T00:00:00Z"}}"#
                )
            })
            .collect();
        let file = format!("[{}]", many.join(","));
        let p = plan(
            &file,
            &[],
            &settings(),
            &tiering(SharingMode::BucketPolicy),
            now(),
        )
        .unwrap();
        let e = p.render_error_after.expect("over the limit");
        assert!(e.contains("bucket policy"), "{e}");
        assert_eq!(p.items.len(), 400);
    }

    #[test]
    fn a_bad_file_names_the_entry_and_field() {
        let e = plan(
            r#"[{"account_id":"12","allowed_prefixes":["a/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]"#,
            &[],
            &settings(),
            &tiering(SharingMode::BucketPolicy),
            now(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("--grants: ") && e.contains("consumer_accounts[0]"),
            "{e}"
        );
    }
}

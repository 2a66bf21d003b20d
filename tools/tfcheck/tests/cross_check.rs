//! Cross-checks between the Rust functions and their Terraform (terraform/data-sharing):
//! - every environment variable a Lambda's `main.rs` reads is set by its module block;
//! - every AWS API a function can call (through the warden-aws adapters it builds) is allowed by
//!   its IAM policy, and the policy allows nothing the code does not call (least privilege), apart
//!   from a short, reasoned list of actions the Lambda service itself uses with the role;
//! - the IAM calls governance-check makes inside consumer accounts are allowed by the governance
//!   role of `consumer-role/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use hcl::expr::{Expression, ObjectKey};

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Every top-level body of the `.tf` files of `dir`.
fn tf_bodies(dir: &Path) -> Vec<hcl::Body> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tf") {
            out.push(hcl::parse(&std::fs::read_to_string(&path).unwrap()).unwrap());
        }
    }
    out
}

/// Function (crate) name → the attributes of its `module` block in terraform/data-sharing (the
/// crate is the directory of `zip_path`: `${var.lambda_artifacts_dir}/<crate>/bootstrap.zip`).
fn function_modules() -> BTreeMap<String, BTreeMap<String, Expression>> {
    let mut out = BTreeMap::new();
    for body in tf_bodies(&repo().join("terraform/data-sharing")) {
        for b in body.blocks().filter(|b| b.identifier.as_str() == "module") {
            let attrs: BTreeMap<String, Expression> = b
                .body
                .attributes()
                .map(|a| (a.key.to_string(), a.expr.clone()))
                .collect();
            let Some(Expression::TemplateExpr(zip)) = attrs.get("zip_path") else {
                continue;
            };
            let name = zip.to_string().rsplit('/').nth(1).unwrap().to_owned();
            out.insert(name, attrs);
        }
    }
    out
}

/// Function name (crate name) → environment keys set in terraform/data-sharing.
fn terraform_env() -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (name, attrs) in function_modules() {
        let mut keys = BTreeSet::new();
        if let Some(Expression::Object(o)) = attrs.get("environment") {
            for k in o.keys() {
                keys.insert(match k {
                    ObjectKey::Identifier(i) => i.to_string(),
                    ObjectKey::Expression(Expression::String(s)) => s.clone(),
                    other => panic!("unexpected key {other:?}"),
                });
            }
        }
        out.insert(name, keys);
    }
    out
}

/// Environment variables a main.rs reads with `env("NAME")` or `std::env::var("NAME")`.
fn read_by(main: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for pat in ["env(\"", "std::env::var(\""] {
        let mut rest = main;
        while let Some(i) = rest.find(pat) {
            let after = &rest[i + pat.len()..];
            let end = after.find('"').unwrap();
            out.insert(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_variable_a_function_reads_is_set_by_terraform() {
    let tf = terraform_env();
    assert_eq!(tf.len(), 9, "nine functions in Terraform: {:?}", tf.keys());
    // Set by the Lambda runtime or only used locally.
    let provided = [
        "RUST_LOG",
        "WARDEN_RUN_ONCE",
        "WARDEN_EVENT_FILE",
        "AWS_REGION",
    ];
    let mut checked = 0;
    for (name, keys) in &tf {
        let main = repo().join("lambda").join(name).join("src/main.rs");
        let Ok(text) = std::fs::read_to_string(&main) else {
            eprintln!(
                "NOTE: {name} has no crate yet (issue 6); its Terraform environment is not cross-checked"
            );
            continue;
        };
        for var in read_by(&text) {
            assert!(
                provided.contains(&var.as_str()) || keys.contains(&var),
                "{name} reads {var}, which terraform/data-sharing does not set (sets: {keys:?})"
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 2,
        "at least the functions that exist are checked"
    );
}

// ---------------------------------------------------------------------------------------------
// IAM: what the code calls vs what Terraform allows.

/// Removes whitespace that stands right before a `.`, so `self.client\n    .put_item()` reads
/// `self.client.put_item()`.
fn join_method_chains(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut pending = String::new();
    for c in src.chars() {
        if c.is_whitespace() {
            pending.push(c);
            continue;
        }
        if c != '.' {
            out.push_str(&pending);
        }
        pending.clear();
        out.push(c);
    }
    out
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The IAM action an SDK operation needs (`s3` `list_objects_v2` → `s3:ListBucket`).
fn iam_action(service: &str, op: &str) -> String {
    let prefix = match service {
        "sfn" => "states",
        // S3 Control's operations are authorized as s3:* actions (s3:PutAccessPointPolicy…),
        // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
        "s3control" => "s3",
        s => s,
    };
    let name = match (prefix, op) {
        ("s3", "list_objects_v2" | "list_objects" | "head_bucket") => "ListBucket".to_owned(),
        ("s3", "head_object") => "GetObject".to_owned(),
        // sns:Publish covers PublishBatch (SNS API permissions reference).
        ("sns", "publish_batch") => "Publish".to_owned(),
        _ => pascal(op),
    };
    format!("{prefix}:{name}")
}

/// Identifiers called as `<receiver>.ident(` in `text` (chains already joined).
fn calls_on(text: &str, receiver: &str) -> Vec<String> {
    let pat = format!("{receiver}.");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&pat) {
        let before_ok = rest[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let after = &rest[i + pat.len()..];
        let ident: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if before_ok && after[ident.len()..].starts_with('(') && !ident.is_empty() {
            out.push(ident);
        }
        rest = after;
    }
    out
}

/// What one adapter method needs: actions with the function's own role, and actions performed
/// in another account through an assumed role (governance).
#[derive(Debug, Default, Clone)]
struct Needs {
    own: BTreeSet<String>,
    remote_iam: BTreeSet<String>,
}

/// Adapter type → method → needs, read from the adapter modules of crates/aws/src (one per
/// service; not the local-emulator plumbing, which no function uses on AWS).
fn adapter_needs() -> BTreeMap<String, BTreeMap<String, Needs>> {
    let mut files: Vec<_> = std::fs::read_dir(repo().join("crates/aws/src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.ends_with(".rs")
                && !["bootstrap.rs", "local.rs", "faults.rs"].contains(&name.as_str())
        })
        .collect();
    files.sort();
    assert!(files.len() > 5, "adapter modules: {files:?}");
    let src: String = files
        .iter()
        .map(|f| without_tests(&std::fs::read_to_string(f).unwrap()).to_owned() + "\n")
        .collect();
    // Struct → SDK service of its `client` field.
    let mut service: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in src.lines() {
        if let Some(rest) = line.strip_prefix("pub struct ") {
            current = Some(rest.split([' ', '{', ';']).next().unwrap().to_owned());
        } else if line.starts_with('}') {
            current = None;
        } else if let (Some(ty), Some(i)) = (&current, line.find("client: aws_sdk_")) {
            let svc = line[i + "client: aws_sdk_".len()..]
                .split("::")
                .next()
                .unwrap();
            service.insert(ty.clone(), svc.to_owned());
        }
    }
    // impl blocks at column 0, methods at four spaces.
    let mut bodies: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let (mut ty, mut method): (Option<String>, Option<String>) = (None, None);
    for line in src.lines() {
        if line.starts_with("impl") {
            let head = line.trim_end_matches('{').trim();
            let name = head.rsplit(' ').next().unwrap().to_owned();
            ty = Some(name);
            method = None;
            continue;
        }
        if line.starts_with('}') {
            ty = None;
            method = None;
            continue;
        }
        let Some(t) = &ty else { continue };
        let sig = line
            .strip_prefix("    pub async fn ")
            .or_else(|| line.strip_prefix("    async fn "))
            .or_else(|| line.strip_prefix("    pub fn "))
            .or_else(|| line.strip_prefix("    fn "));
        if let Some(sig) = sig {
            let name: String = sig
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            method = Some(name);
        }
        if let Some(m) = &method {
            let body = bodies
                .entry(t.clone())
                .or_default()
                .entry(m.clone())
                .or_default();
            body.push_str(line);
            body.push('\n');
        }
    }
    // Module-level functions (column 0, outside impl blocks) by name.
    let mut free_fns: BTreeMap<String, String> = BTreeMap::new();
    let mut free: Option<String> = None;
    for line in src.lines() {
        let sig = line
            .strip_prefix("pub async fn ")
            .or_else(|| line.strip_prefix("async fn "))
            .or_else(|| line.strip_prefix("pub(crate) async fn "));
        if let Some(sig) = sig {
            let name: String = sig
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            free = Some(name);
        }
        if let Some(f) = &free {
            let body = free_fns.entry(f.clone()).or_default();
            body.push_str(line);
            body.push('\n');
        }
        if line.starts_with('}') {
            free = None;
        }
    }
    let mut out: BTreeMap<String, BTreeMap<String, Needs>> = BTreeMap::new();
    for (ty, methods) in &bodies {
        for (m, body) in methods {
            let text = join_method_chains(body);
            let mut needs = Needs::default();
            if let Some(svc) = service.get(ty) {
                for op in calls_on(&text, "client") {
                    // A transaction is authorised per action it holds.
                    // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
                    if svc == "dynamodb" && op == "transact_write_items" {
                        for (builder, action) in [
                            ("Update::builder", "dynamodb:UpdateItem"),
                            ("ConditionCheck::builder", "dynamodb:ConditionCheckItem"),
                            ("Put::builder", "dynamodb:PutItem"),
                            ("Delete::builder", "dynamodb:DeleteItem"),
                        ] {
                            if text.contains(builder) {
                                needs.own.insert(action.to_owned());
                            }
                        }
                        continue;
                    }
                    needs.own.insert(iam_action(svc, &op));
                    // Passing session tags needs sts:TagSession beside sts:AssumeRole.
                    if svc == "sts" && op == "assume_role" && text.contains("tags(") {
                        needs.own.insert("sts:TagSession".to_owned());
                    }
                    // A source identity needs sts:SetSourceIdentity.
                    if svc == "sts" && op == "assume_role" && text.contains("source_identity(") {
                        needs.own.insert("sts:SetSourceIdentity".to_owned());
                    }
                }
            }
            if text.contains("iam_as(") {
                needs.own.insert("sts:AssumeRole".to_owned());
                for op in calls_on(&text, "iam") {
                    needs.remote_iam.insert(iam_action("iam", &op));
                }
                // The assumed client handed to a module function (`read_role(&iam, …)`): the
                // calls that function makes on its `iam` parameter.
                for (f, fbody) in &free_fns {
                    if text.contains(&format!("{f}(&iam")) {
                        for op in calls_on(&join_method_chains(fbody), "iam") {
                            needs.remote_iam.insert(iam_action("iam", &op));
                        }
                    }
                }
            }
            out.entry(ty.clone()).or_default().insert(m.clone(), needs);
        }
    }
    // A method calling another method of its type (`self.publish(`) needs what that one needs.
    for _ in 0..3 {
        let snapshot = out.clone();
        for (ty, methods) in out.iter_mut() {
            for (m, needs) in methods.iter_mut() {
                let text = join_method_chains(&bodies[ty][m]);
                for callee in calls_on(&text, "self") {
                    if let Some(n) = snapshot[ty].get(&callee) {
                        needs.own.extend(n.own.iter().cloned());
                        needs.remote_iam.extend(n.remote_iam.iter().cloned());
                    }
                }
            }
        }
    }
    out
}

/// Needs of one function: the adapters its sources construct, through the methods they call.
fn function_needs(name: &str, adapters: &BTreeMap<String, BTreeMap<String, Needs>>) -> Needs {
    let mut text = String::new();
    for entry in std::fs::read_dir(repo().join("lambda").join(name).join("src")).unwrap() {
        text.push_str(without_tests(
            &std::fs::read_to_string(entry.unwrap().path()).unwrap(),
        ));
    }
    let text = join_method_chains(&text);
    let mut needs = Needs::default();
    for (ty, methods) in adapters {
        if !text.contains(&format!("{ty}::new(")) {
            continue;
        }
        for (m, n) in methods {
            if m != "new" && text.contains(&format!(".{m}(")) {
                needs.own.extend(n.own.iter().cloned());
                needs.remote_iam.extend(n.remote_iam.iter().cloned());
            }
        }
    }
    needs
}

/// Allow-statement actions of every `aws_iam_policy_document` in the .tf files of `dir`; a
/// document whose actions are not literal strings maps to the reason it cannot be cross-checked.
fn policy_documents(dir: &Path) -> BTreeMap<String, Result<BTreeSet<String>, String>> {
    let mut out = BTreeMap::new();
    for body in tf_bodies(dir) {
        for b in body.blocks().filter(|b| {
            b.identifier.as_str() == "data"
                && b.labels.first().map(hcl::BlockLabel::as_str) == Some("aws_iam_policy_document")
        }) {
            let name = b.labels[1].as_str().to_owned();
            let mut actions = Ok(BTreeSet::new());
            for st in b
                .body
                .blocks()
                .filter(|s| s.identifier.as_str() == "statement")
            {
                let attr = |k: &str| st.body.attributes().find(|a| a.key.as_str() == k);
                if attr("effect").is_some_and(|e| e.expr.to_string().contains("Deny")) {
                    continue;
                }
                let Some(a) = attr("actions") else { continue };
                let literal: Option<Vec<String>> = match &a.expr {
                    Expression::Array(items) => items
                        .iter()
                        .map(|i| match i {
                            Expression::String(s) => Some(s.clone()),
                            _ => None,
                        })
                        .collect(),
                    _ => None,
                };
                match (literal, &mut actions) {
                    (Some(l), Ok(set)) => set.extend(l),
                    (None, _) => {
                        actions = Err(format!(
                            "{name}: actions are not a literal list: {}",
                            a.expr
                        ));
                    }
                    (Some(_), Err(_)) => {}
                }
            }
            out.insert(name, actions);
        }
    }
    out
}

/// Test sources (`#[cfg(test)]` modules, at the end of a file by convention) call adapters in
/// ways the deployed function never does.
fn without_tests(src: &str) -> &str {
    src.find("#[cfg(test)]").map_or(src, |i| &src[..i])
}

/// Function (crate) name → name of the policy document its module block passes as `policy_json`.
fn function_policies() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, attrs) in function_modules() {
        let Some(policy) = attrs.get("policy_json").map(ToString::to_string) else {
            continue;
        };
        // data.aws_iam_policy_document.<doc>[0].json
        let doc = policy
            .strip_prefix("data.aws_iam_policy_document.")
            .unwrap_or_else(|| {
                panic!("{name}: policy_json must be a policy document, got {policy}")
            })
            .split(['.', '['])
            .next()
            .unwrap()
            .to_owned();
        out.insert(name, doc);
    }
    out
}

fn allows(granted: &BTreeSet<String>, action: &str) -> bool {
    granted.iter().any(|g| {
        g.eq_ignore_ascii_case(action)
            || g.strip_suffix('*').is_some_and(|p| {
                action
                    .to_ascii_lowercase()
                    .starts_with(&p.to_ascii_lowercase())
            })
    })
}

/// Actions a function's role holds that its code never calls: the Lambda service uses them with
/// the role (event source mappings poll on the function's behalf).
fn service_used(function: &str) -> &'static [&'static str] {
    match function {
        // SQS event source mapping (CloudTrail events queue).
        "access-logger" => &[
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ChangeMessageVisibility",
        ],
        // DynamoDB stream event source mapping (registry changes trigger a reconcile).
        "policy-reconciler" => &[
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
        ],
        _ => &[],
    }
}

#[test]
fn every_call_a_function_makes_is_allowed_and_nothing_more() {
    let adapters = adapter_needs();
    // The scanner must see the adapters, or the test would pass on nothing.
    for (ty, action) in [
        ("DynamoAuditStore", "dynamodb:BatchWriteItem"),
        ("S3PolicyStore", "s3:PutBucketPolicy"),
        ("KmsKeyGrants", "kms:CreateGrant"),
        ("SfnWorkflow", "states:StartExecution"),
        ("StsVendor", "sts:TagSession"),
        ("StsVendor", "sts:SetSourceIdentity"),
        ("IamRoleInspector", "sts:AssumeRole"),
        ("DynamoGrantStore", "dynamodb:ConditionCheckItem"),
        ("DynamoAlertLedger", "dynamodb:PutItem"),
    ] {
        assert!(
            adapters[ty].values().any(|n| n.own.contains(action)),
            "scanner found no {action} in {ty}: {:?}",
            adapters[ty]
        );
    }
    let docs = policy_documents(&repo().join("terraform/data-sharing"));
    let policies = function_policies();
    assert_eq!(policies.len(), 9, "nine functions: {:?}", policies.keys());
    let mut problems = Vec::new();
    for (function, doc) in &policies {
        let granted = match docs.get(doc) {
            Some(Ok(g)) => g,
            Some(Err(why)) => panic!("{function}: {why}"),
            None => panic!("{function}: no policy document {doc}"),
        };
        let needs = function_needs(function, &adapters);
        assert!(!needs.own.is_empty(), "{function}: no AWS calls found");
        for action in &needs.own {
            if !allows(granted, action) {
                problems.push(format!(
                    "{function} calls {action}, which data.aws_iam_policy_document.{doc} does not allow"
                ));
            }
        }
        for action in granted {
            let used = needs
                .own
                .iter()
                .any(|n| allows(&BTreeSet::from([action.clone()]), n))
                || service_used(function).contains(&action.as_str());
            if !used {
                problems.push(format!(
                    "{function}: data.aws_iam_policy_document.{doc} allows {action}, which the code never calls (least privilege)"
                ));
            }
        }
        eprintln!(
            "{function}: {} actions cross-checked against {doc}",
            needs.own.len()
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn governance_role_allows_the_iam_calls_governance_check_makes() {
    let adapters = adapter_needs();
    let needs = function_needs("governance-check", &adapters);
    assert!(
        needs.remote_iam.contains("iam:GetRole"),
        "scanner found the inspector's IAM calls: {:?}",
        needs.remote_iam
    );
    let docs = policy_documents(&repo().join("terraform/data-sharing/consumer-role"));
    let granted = docs["governance"].as_ref().unwrap();
    for action in &needs.remote_iam {
        assert!(
            allows(granted, action),
            "governance-check calls {action} as the consumer account's governance role, which consumer-role/ does not allow ({granted:?})"
        );
    }
    for action in granted {
        assert!(
            needs.remote_iam.contains(action),
            "consumer-role/ governance role allows {action}, which governance-check never calls"
        );
    }
}

/// The `statement` blocks of a `data "aws_iam_policy_document"` as policy JSON, with `${…}`
/// references replaced by the values given (the stack's resources, as they would be on AWS).
fn document_json(dir: &str, name: &str, values: &[(&str, &str)]) -> String {
    let text = |e: &Expression| -> serde_json::Value {
        let mut s = match e {
            Expression::String(s) => s.clone(),
            other => hcl::format::to_string(other).unwrap(),
        };
        for (k, v) in values {
            s = s.replace(k, v);
        }
        serde_json::Value::String(s.trim_matches('"').to_owned())
    };
    let list = |e: &Expression| -> serde_json::Value {
        match e {
            Expression::Array(a) => a.iter().map(text).collect(),
            other => serde_json::Value::Array(vec![text(other)]),
        }
    };
    for body in tf_bodies(&repo().join(dir)) {
        if let Some(b) = body.blocks().find(|b| {
            b.identifier.as_str() == "data"
                && b.labels.iter().map(|l| l.as_str()).collect::<Vec<_>>()
                    == ["aws_iam_policy_document", name]
        }) {
            let mut statements = Vec::new();
            for st in b
                .body
                .blocks()
                .filter(|s| s.identifier.as_str() == "statement")
            {
                let attr = |k: &str| {
                    st.body
                        .attributes()
                        .find(|a| a.key.as_str() == k)
                        .map(|a| &a.expr)
                };
                let mut out = serde_json::Map::new();
                out.insert("Effect".into(), attr("effect").map_or("Allow".into(), text));
                out.insert("Action".into(), list(attr("actions").unwrap()));
                out.insert("Resource".into(), list(attr("resources").unwrap()));
                for p in st
                    .body
                    .blocks()
                    .filter(|p| p.identifier.as_str() == "principals")
                {
                    let pa = |k: &str| {
                        p.body
                            .attributes()
                            .find(|a| a.key.as_str() == k)
                            .map(|a| &a.expr)
                            .unwrap()
                    };
                    out.insert("Principal".into(), serde_json::json!({ text(pa("type")).as_str().unwrap(): list(pa("identifiers")) }));
                }
                let mut cond = serde_json::Map::new();
                for c in st
                    .body
                    .blocks()
                    .filter(|c| c.identifier.as_str() == "condition")
                {
                    let ca = |k: &str| {
                        c.body
                            .attributes()
                            .find(|a| a.key.as_str() == k)
                            .map(|a| &a.expr)
                            .unwrap()
                    };
                    cond.entry(text(ca("test")).as_str().unwrap().to_owned())
                        .or_insert_with(|| serde_json::json!({}))
                        .as_object_mut()
                        .unwrap()
                        .insert(
                            text(ca("variable")).as_str().unwrap().to_owned(),
                            list(ca("values")),
                        );
                }
                if !cond.is_empty() {
                    out.insert("Condition".into(), cond.into());
                }
                statements.push(serde_json::Value::Object(out));
            }
            return serde_json::json!({"Version": "2012-10-17", "Statement": statements})
                .to_string();
        }
    }
    panic!("data.aws_iam_policy_document.{name} not found in {dir}")
}

/// Attack: a principal of the primary account subscribes to the approvals topic to collect task
/// tokens. moto does not enforce topic policies, so the Terraform's policy is evaluated here with
/// warden-core's evaluator, as AWS would: everyone but the principal that runs Terraform is denied
/// sns:Subscribe, even with an identity policy allowing `sns:*`.
#[test]
fn attack_subscribe_to_the_approvals_topic_is_denied_to_all_but_terraform() {
    use warden_core::policy::eval::{
        Caller, CompiledPolicy, Decision, PolicySet, Request, evaluate,
    };
    use warden_core::policy::model::Policy;
    let topic = "arn:aws:sns:us-east-1:111111111111:warden-prod-approvals";
    let terraform = "arn:aws:iam::111111111111:role/terraform-deployer";
    let doc = document_json(
        "terraform/data-sharing",
        "approvals_topic",
        &[
            ("aws_sns_topic.approvals[0].arn", topic),
            (
                "data.aws_iam_session_context.terraform.issuer_arn",
                terraform,
            ),
        ],
    );
    assert!(
        !doc.contains("${") && !doc.contains("aws_sns_topic.") && !doc.contains("data."),
        "unresolved reference in {doc}"
    );
    let resource = CompiledPolicy::new("topic", &Policy::parse(&doc).unwrap());
    let admin = CompiledPolicy::new(
        "id",
        &Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sns:*","Resource":"*"}}"#).unwrap(),
    );
    let subscribe = |caller: &str| {
        let set = PolicySet {
            identity: vec![admin.clone()],
            resource: Some(resource.clone()),
            ..Default::default()
        };
        let req = Request {
            caller: Caller::parse(caller).unwrap(),
            action: "sns:Subscribe".into(),
            resource: topic.into(),
            resource_account: Some("111111111111".into()),
            context: Default::default(),
        }
        .with_global_keys();
        evaluate(&set, &req).decision
    };
    for attacker in [
        "arn:aws:sts::111111111111:assumed-role/developer/mallory",
        "arn:aws:iam::111111111111:user/mallory",
        "arn:aws:sts::111111111111:assumed-role/terraform-deployer-2/x",
    ] {
        assert_eq!(
            subscribe(attacker),
            Decision::ExplicitlyDenied,
            "{attacker}: {doc}"
        );
    }
    assert_eq!(
        subscribe("arn:aws:sts::111111111111:assumed-role/terraform-deployer/ci"),
        Decision::Allowed,
        "{doc}"
    );
}

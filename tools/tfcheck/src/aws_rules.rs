//! Checks of AWS behaviour that the provider schema cannot show: a stack can be well-formed and
//! still fail on its first apply, or deploy and then silently do nothing. Each check encodes one
//! documented AWS rule; the facts behind them (which actions take no resource ARN, which events
//! are read-only, …) live in `aws-facts.json` with the page that documents each, and every finding
//! names that page.
//!
//! | check | AWS rule |
//! |---|---|
//! | `resource-level` | actions without resource-level permissions (X-Ray, log delivery, …) match only `Resource "*"` |
//! | `apply-order` | a policy may not name a role that a stack applied later creates (IAM: "Invalid principal") |
//! | `api-logging-role` | API Gateway stage logging needs the account-level CloudWatch role (`aws_api_gateway_account`) |
//! | `read-only-events` | read-only management events reach only rules in state `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` |
//! | `log-destination` | an S3 server-access-log destination may not have SSE-KMS default encryption or Object Lock default retention |
//! | `delivery-principal` | a service that delivers to a bucket (CloudTrail, S3 logging, Config, Storage Lens) must be in its bucket policy, and in the key policy of its SSE-KMS key |
//! | `numeric-range` | EventBridge `numeric` matching accepts values in a documented range only |
//! | `kms-delivery-conditions` | KMS calls EventBridge makes when delivering to encrypted queues/topics carry no `aws:SourceAccount`/`aws:SourceArn` |
//! | `sns-eventbridge-conditions` | an SNS topic policy statement for EventBridge may have no Condition block |
//! | `failed-invocations-alarm` | a rule whose target fails reports it only in `AWS/Events FailedInvocations`: every rule needs that alarm |
//! | `deployment-triggers` | an API's resource policy takes effect only with a new deployment: the deployment's triggers must include it |
//! | `rest-api-body-policy` | a REST API defined by an OpenAPI `body` keeps its resource policy in the body (`x-amazon-apigateway-policy`), not in a separate `aws_api_gateway_rest_api_policy` (wiped on body updates), and its deployments redeploy on the body |
//! | `api-network-deny` | a caller in the API's own account is admitted by its IAM policy alone, so an API resource policy's network limit (`aws:SourceIp`, `aws:SourceVpce`) holds only as an explicit Deny |
//! | `dashboard-region` | every metric widget of a dashboard needs `properties.region` |
//! | `sqs-maximum-concurrency` | an SQS event source mapping without `scaling_config.maximum_concurrency` invokes into throttles |
//! | `iam-events-region` | IAM's events reach EventBridge in us-east-1 only |
//! | `distributed-map-role` | a Distributed Map starts its children as executions of its own state machine: the role needs `states:StartExecution` and `states:DescribeExecution` |
//! | `lambda-permission-scope` | a function's resource policy admits a service only for one source (`source_arn`), never `*` or a whole account |
//!
//! A block opts out of one check with `#tfcheck:skip=<check>:<reason>` inside it; the reason is
//! required.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::OnceLock;

use hcl::expr::{BinaryOperator, Expression, ObjectKey, Operation, TraversalOperator};
use hcl::template::{Element, Template};
use hcl::{Block, Body};
use serde::Deserialize;
use serde_json::{Map, Value};

use warden_core::policy::glob;

use crate::check::{Finding, Module, attr, label, labels};

/// The AWS facts file, compiled in.
pub const FACTS_JSON: &str = include_str!("../aws-facts.json");

/// A fact with the page that documents it.
#[derive(Debug, Deserialize)]
pub struct Sourced {
    /// The AWS (or Terraform) documentation page.
    pub source: String,
}

/// Actions that support no resource-level permissions.
#[derive(Debug, Deserialize)]
pub struct NoResourceLevel {
    /// Action → its page.
    pub actions: std::collections::BTreeMap<String, String>,
}

/// Read-only management events and the rule state that receives them.
#[derive(Debug, Deserialize)]
pub struct ReadOnlyEvents {
    /// The EventBridge page.
    pub source: String,
    /// The rule state that receives them.
    pub required_state: String,
    /// Event source → read-only event-name globs.
    pub event_names: std::collections::BTreeMap<String, Vec<String>>,
}

/// EventBridge's numeric-matching range.
#[derive(Debug, Deserialize)]
pub struct NumericRange {
    /// The EventBridge page.
    pub source: String,
    /// Smallest accepted value.
    pub min: f64,
    /// Largest accepted value.
    pub max: f64,
}

/// Services whose events reach EventBridge in one Region only.
#[derive(Debug, Deserialize)]
pub struct GlobalEvents {
    /// The EventBridge page.
    pub source: String,
    /// The Region.
    pub region: String,
    /// The event sources (`iam.amazonaws.com`).
    pub event_sources: Vec<String>,
}

/// One kind of service delivery to a bucket.
#[derive(Debug, Deserialize)]
pub struct Delivery {
    /// Resource type that configures it.
    pub resource: String,
    /// Path (blocks, then the attribute) of the destination bucket.
    pub bucket: Vec<String>,
    /// Path of the KMS key it encrypts with (empty: none).
    pub key: Vec<String>,
    /// The service principal that writes.
    pub principal: String,
    /// The page.
    pub source: String,
}

/// Service deliveries to buckets.
#[derive(Debug, Deserialize)]
pub struct Deliveries {
    /// The deliveries.
    pub deliveries: Vec<Delivery>,
}

/// Condition keys absent from KMS calls services make when delivering.
#[derive(Debug, Deserialize)]
pub struct KmsContext {
    /// The page.
    pub source: String,
    /// Service principals.
    pub principals: Vec<String>,
    /// Keys not in their request context.
    pub absent_keys: Vec<String>,
    /// Keys that are (the encryption context).
    pub use_instead: Vec<String>,
}

/// Every fact, from `aws-facts.json`.
#[derive(Debug, Deserialize)]
#[allow(missing_docs)]
pub struct Facts {
    pub no_resource_level_actions: NoResourceLevel,
    pub read_only_management_events: ReadOnlyEvents,
    pub eventbridge_numeric_range: NumericRange,
    pub global_service_events: GlobalEvents,
    pub delivery_principals: Deliveries,
    pub server_access_log_destination: Sourced,
    pub kms_delivery_context: KmsContext,
    pub sns_topic_policy_for_eventbridge: Sourced,
    pub api_gateway_logging_role: Sourced,
    pub api_gateway_deployment: Sourced,
    pub api_gateway_body_policy: Sourced,
    pub api_gateway_same_account_allow: Sourced,
    pub dashboard_metric_region: Sourced,
    pub sqs_maximum_concurrency: Sourced,
    pub failed_invocations: Sourced,
    pub principal_must_exist: Sourced,
    pub lambda_permission_scope: Sourced,
    pub distributed_map_iam: Sourced,
}

/// The facts, parsed once.
pub fn facts() -> Result<&'static Facts, String> {
    static FACTS: OnceLock<Result<Facts, String>> = OnceLock::new();
    FACTS
        .get_or_init(|| {
            serde_json::from_str(FACTS_JSON).map_err(|e| format!("aws-facts.json: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

// --- Evaluation --------------------------------------------------------------------------------

/// One top-level block with the file it is in.
struct Item<'a> {
    file: &'a str,
    block: &'a Block,
}

impl Item<'_> {
    fn kind(&self) -> &str {
        self.block.identifier.as_str()
    }
    fn labels(&self) -> Vec<&str> {
        labels(self.block)
    }
    /// `type.name` of a resource, `data.type.name`, `module.name`.
    fn address(&self) -> String {
        let l = self.labels();
        match self.kind() {
            "data" => format!("data.{}", l.join(".")),
            "module" => format!("module.{}", l.join(".")),
            _ => l.join("."),
        }
    }
    fn location(&self) -> String {
        format!("{}: {}", self.file, self.address())
    }
}

/// What the checks of one module know about it.
pub struct Ctx<'a> {
    items: Vec<Item<'a>>,
    locals: HashMap<String, &'a Expression>,
    variables: HashMap<String, &'a Block>,
    skips: HashMap<String, Vec<(String, String)>>,
}

fn placeholder(e: &Expression) -> Value {
    Value::String(format!(
        "${{{}}}",
        hcl::format::to_string(e).unwrap_or_else(|_| "computed".into())
    ))
}

/// Replace every `${…}` of a string by `*`: a glob of the values it can take.
fn glob_of(s: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek() == Some(&'{') {
            chars.next();
            if depth == 0 {
                out.push('*');
            }
            depth += 1;
        } else if depth > 0 {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether two globs (`*` only) can match a common string.
fn globs_intersect(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut memo = vec![vec![None; b.len() + 1]; a.len() + 1];
    fn go(a: &[char], b: &[char], i: usize, j: usize, memo: &mut Vec<Vec<Option<bool>>>) -> bool {
        if let Some(r) = memo[i][j] {
            return r;
        }
        let r = if i == a.len() && j == b.len() {
            true
        } else if i < a.len() && a[i] == '*' {
            go(a, b, i + 1, j, memo) || (j < b.len() && go(a, b, i, j + 1, memo))
        } else if j < b.len() && b[j] == '*' {
            go(a, b, i, j + 1, memo) || (i < a.len() && go(a, b, i + 1, j, memo))
        } else if i < a.len() && j < b.len() && a[i] == b[j] {
            go(a, b, i + 1, j + 1, memo)
        } else {
            false
        };
        memo[i][j] = Some(r);
        r
    }
    go(&a, &b, 0, 0, &mut memo)
}

/// Whether `name` matches an AWS-style glob (`*`, `?`): warden-core's IAM matcher.
fn aws_glob(pattern: &str, name: &str) -> bool {
    glob::matches(&glob::compile(pattern), name, false)
}

fn apply_ops(mut v: Value, ops: &[TraversalOperator]) -> Option<Value> {
    for op in ops {
        v = match op {
            TraversalOperator::GetAttr(i) => v.get(i.as_str())?.clone(),
            TraversalOperator::Index(Expression::Number(n)) => {
                v.get(usize::try_from(n.as_u64()?).ok()?)?.clone()
            }
            TraversalOperator::Index(Expression::String(s)) => v.get(s.as_str())?.clone(),
            _ => return None,
        };
    }
    Some(v)
}

impl<'a> Ctx<'a> {
    /// Index a module's blocks, locals, variables and skip comments.
    pub fn new(m: &'a Module) -> Self {
        let mut items = Vec::new();
        let mut locals = HashMap::new();
        let mut variables = HashMap::new();
        for (file, body) in &m.files {
            for b in body.blocks() {
                match b.identifier.as_str() {
                    "locals" => {
                        for a in b.body.attributes() {
                            locals.insert(a.key.to_string(), &a.expr);
                        }
                    }
                    "variable" => {
                        if let Some(l) = b.labels.first() {
                            variables.insert(label(l).to_owned(), b);
                        }
                    }
                    _ => {}
                }
                items.push(Item {
                    file: file.as_str(),
                    block: b,
                });
            }
        }
        let mut skips: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for text in &m.sources {
            let mut current: Option<String> = None;
            for line in text.lines() {
                if let Some(addr) = header_address(line) {
                    current = Some(addr);
                } else if line.starts_with('}') {
                    current = None;
                }
                if let (Some(addr), Some(i)) = (&current, line.find("#tfcheck:skip=")) {
                    let rest = &line[i + "#tfcheck:skip=".len()..];
                    let (check, reason) = rest.split_once(':').unwrap_or((rest, ""));
                    skips
                        .entry(addr.clone())
                        .or_default()
                        .push((check.trim().to_owned(), reason.trim().to_owned()));
                }
            }
        }
        Self {
            items,
            locals,
            variables,
            skips,
        }
    }

    fn skipped(&self, item: &Item<'_>, check: &str) -> bool {
        self.skips
            .get(&item.address())
            .is_some_and(|s| s.iter().any(|(c, r)| c == check && !r.is_empty()))
    }

    fn resources(&self, ty: &str) -> impl Iterator<Item = &Item<'a>> {
        self.items
            .iter()
            .filter(move |i| i.kind() == "resource" && i.labels().first() == Some(&ty))
    }

    fn find(&self, address: &str) -> Option<&Item<'a>> {
        self.items.iter().find(|i| i.address() == address)
    }

    /// Evaluate what can be known statically: literals, locals, `each.value` of a `for_each` over
    /// a local, conditionals on those, `jsonencode`, `concat`. Anything else becomes a `${…}`
    /// placeholder string.
    fn eval(&self, e: &Expression, each: Option<&Value>, depth: u8) -> Value {
        if depth > 24 {
            return placeholder(e);
        }
        let d = depth + 1;
        match e {
            Expression::Null => Value::Null,
            Expression::Bool(b) => Value::Bool(*b),
            Expression::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
            Expression::String(s) => Value::String(s.clone()),
            Expression::Array(a) => Value::Array(a.iter().map(|x| self.eval(x, each, d)).collect()),
            Expression::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            ObjectKey::Identifier(i) => i.to_string(),
                            ObjectKey::Expression(Expression::Variable(v)) => v.to_string(),
                            ObjectKey::Expression(k) => match self.eval(k, each, d) {
                                Value::String(s) => s,
                                other => other.to_string(),
                            },
                            _ => "${key}".to_owned(),
                        };
                        (key, self.eval(v, each, d))
                    })
                    .collect::<Map<_, _>>(),
            ),
            Expression::Parenthesis(p) => self.eval(p, each, d),
            Expression::TemplateExpr(t) => {
                let Ok(tpl) = Template::from_expr(t) else {
                    return placeholder(e);
                };
                let mut s = String::new();
                for el in tpl.elements() {
                    match el {
                        Element::Literal(l) => s.push_str(l),
                        Element::Interpolation(i) => match self.eval(&i.expr, each, d) {
                            Value::String(v) => s.push_str(&v),
                            Value::Number(n) => s.push_str(&n.to_string()),
                            Value::Bool(b) => s.push_str(&b.to_string()),
                            _ => s.push_str(&format!(
                                "${{{}}}",
                                hcl::format::to_string(&i.expr).unwrap_or_default()
                            )),
                        },
                        Element::Directive(_) => s.push_str("${directive}"),
                    }
                }
                Value::String(s)
            }
            Expression::Traversal(t) => {
                let Expression::Variable(root) = &t.expr else {
                    return placeholder(e);
                };
                let resolved = match (root.as_str(), t.operators.first()) {
                    ("local", Some(TraversalOperator::GetAttr(name))) => self
                        .locals
                        .get(name.as_str())
                        .and_then(|x| apply_ops(self.eval(x, None, d), &t.operators[1..])),
                    ("each", Some(TraversalOperator::GetAttr(v))) if v.as_str() == "value" => {
                        each.and_then(|ev| apply_ops(ev.clone(), &t.operators[1..]))
                    }
                    _ => None,
                };
                resolved.unwrap_or_else(|| placeholder(e))
            }
            Expression::Conditional(c) => match self.eval(&c.cond_expr, each, d) {
                Value::Bool(true) => self.eval(&c.true_expr, each, d),
                Value::Bool(false) => self.eval(&c.false_expr, each, d),
                _ => placeholder(e),
            },
            Expression::FuncCall(f) => match (f.name.name.as_str(), f.args.as_slice()) {
                ("jsonencode", [x]) => self.eval(x, each, d),
                ("concat", args) => {
                    let mut out = Vec::new();
                    for a in args {
                        match self.eval(a, each, d) {
                            Value::Array(v) => out.extend(v),
                            _ => return placeholder(e),
                        }
                    }
                    Value::Array(out)
                }
                _ => placeholder(e),
            },
            _ => placeholder(e),
        }
    }

    /// The `each.value`s of a block's instances: one per entry of a `for_each` over something
    /// evaluable, else one instance without `each`.
    fn instances(&self, b: &Block) -> Vec<(String, Option<Value>)> {
        let Some(fe) = attr(&b.body, "for_each") else {
            return vec![(String::new(), None)];
        };
        match self.eval(fe, None, 0) {
            Value::Object(o) => o
                .into_iter()
                .map(|(k, v)| (format!("[{k}]"), Some(v)))
                .collect(),
            Value::Array(a) => a.into_iter().map(|v| (format!("[{v}]"), Some(v))).collect(),
            _ => vec![(String::new(), None)],
        }
    }

    /// Every resource address an expression refers to, through locals.
    fn refs(&self, e: &Expression, out: &mut BTreeSet<String>, depth: u8) {
        if depth > 16 {
            return;
        }
        let mut raw = Vec::new();
        collect_traversals(e, &mut raw);
        for (root, attrs) in raw {
            match root.as_str() {
                "local" => {
                    if let Some(x) = attrs.first().and_then(|n| self.locals.get(n.as_str())) {
                        self.refs(x, out, depth + 1);
                    }
                }
                "module" | "data" => {
                    let n = if root == "data" { 2 } else { 1 };
                    if attrs.len() >= n {
                        out.insert(format!("{root}.{}", attrs[..n].join(".")));
                    }
                }
                "var" | "each" | "count" | "self" | "path" | "terraform" => {}
                t => {
                    if let Some(n) = attrs.first() {
                        out.insert(format!("{t}.{n}"));
                    }
                }
            }
        }
    }

    fn refs_of(&self, e: &Expression) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.refs(e, &mut out, 0);
        out
    }
}

fn header_address(line: &str) -> Option<String> {
    let mut parts = line.split('"');
    let kind = parts.next()?.trim();
    if !line.ends_with('{') || line.starts_with(' ') {
        return None;
    }
    let labels: Vec<&str> = parts.step_by(2).filter(|s| !s.trim().is_empty()).collect();
    match (kind, labels.as_slice()) {
        ("resource", [t, n]) => Some(format!("{t}.{n}")),
        ("data", [t, n]) => Some(format!("data.{t}.{n}")),
        ("module", [n]) => Some(format!("module.{n}")),
        _ => None,
    }
}

/// `(root, attribute chain)` of every traversal in an expression.
fn collect_traversals(e: &Expression, out: &mut Vec<(String, Vec<String>)>) {
    match e {
        Expression::Traversal(t) => {
            if let Expression::Variable(v) = &t.expr {
                let attrs = t
                    .operators
                    .iter()
                    .map_while(|op| match op {
                        TraversalOperator::GetAttr(i) => Some(i.to_string()),
                        TraversalOperator::Index(_) => Some(String::new()),
                        _ => None,
                    })
                    .filter(|s| !s.is_empty())
                    .collect();
                out.push((v.to_string(), attrs));
            } else {
                collect_traversals(&t.expr, out);
            }
            for op in &t.operators {
                if let TraversalOperator::Index(i) = op {
                    collect_traversals(i, out);
                }
            }
        }
        Expression::Variable(v) => out.push((v.to_string(), Vec::new())),
        Expression::Array(a) => a.iter().for_each(|x| collect_traversals(x, out)),
        Expression::Object(o) => o.iter().for_each(|(k, v)| {
            if let ObjectKey::Expression(k) = k {
                collect_traversals(k, out);
            }
            collect_traversals(v, out);
        }),
        Expression::TemplateExpr(t) => {
            if let Ok(tpl) = Template::from_expr(t) {
                for el in tpl.elements() {
                    if let Element::Interpolation(i) = el {
                        collect_traversals(&i.expr, out);
                    }
                }
            }
        }
        Expression::FuncCall(f) => f.args.iter().for_each(|x| collect_traversals(x, out)),
        Expression::Parenthesis(p) => collect_traversals(p, out),
        Expression::Conditional(c) => {
            collect_traversals(&c.cond_expr, out);
            collect_traversals(&c.true_expr, out);
            collect_traversals(&c.false_expr, out);
        }
        Expression::Operation(op) => match op.as_ref() {
            Operation::Unary(u) => collect_traversals(&u.expr, out),
            Operation::Binary(b) => {
                collect_traversals(&b.lhs_expr, out);
                collect_traversals(&b.rhs_expr, out);
            }
        },
        Expression::ForExpr(f) => {
            collect_traversals(&f.collection_expr, out);
            if let Some(k) = &f.key_expr {
                collect_traversals(k, out);
            }
            collect_traversals(&f.value_expr, out);
        }
        _ => {}
    }
}

/// A nested attribute by path (blocks, then the attribute).
fn nested<'b>(body: &'b Body, path: &[String]) -> Option<&'b Expression> {
    match path {
        [] => None,
        [a] => attr(body, a),
        [b, rest @ ..] => body
            .blocks()
            .filter(|x| {
                x.identifier.as_str() == b
                    || (x.identifier.as_str() == "dynamic"
                        && x.labels.first().map(label) == Some(b.as_str()))
            })
            .find_map(|x| {
                let inner = if x.identifier.as_str() == "dynamic" {
                    x.body
                        .blocks()
                        .find(|c| c.identifier.as_str() == "content")
                        .map(|c| &c.body)?
                } else {
                    &x.body
                };
                nested(inner, rest)
            }),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

fn finding(check: &'static str, location: String, message: String) -> Finding {
    Finding {
        check,
        location,
        message,
    }
}

// --- Policies ----------------------------------------------------------------------------------

/// A policy found in the module, as JSON with what could be evaluated.
struct Doc {
    location: String,
    /// Address of what holds it (`data.aws_iam_policy_document.x`, `aws_kms_key.k`).
    holder: String,
    json: Value,
}

impl Ctx<'_> {
    /// `data "aws_iam_policy_document"` → JSON, with locals and `dynamic` blocks evaluated.
    fn document(&self, body: &Body) -> Value {
        let mut statements = Vec::new();
        let mut bodies: Vec<&Body> = Vec::new();
        for b in body.blocks() {
            match b.identifier.as_str() {
                "statement" => bodies.push(&b.body),
                "dynamic" if b.labels.first().map(label) == Some("statement") => bodies.extend(
                    b.body
                        .blocks()
                        .filter(|c| c.identifier.as_str() == "content")
                        .map(|c| &c.body),
                ),
                _ => {}
            }
        }
        for s in bodies {
            let mut st = Map::new();
            let get = |k: &str| attr(s, k).map(|x| self.eval(x, None, 0));
            st.insert(
                "Effect".into(),
                get("effect").unwrap_or(Value::String("Allow".into())),
            );
            for (h, j) in [
                ("actions", "Action"),
                ("not_actions", "NotAction"),
                ("resources", "Resource"),
                ("not_resources", "NotResource"),
            ] {
                if let Some(v) = get(h) {
                    st.insert(j.into(), v);
                }
            }
            let sub = |name: &str| -> Vec<&Body> {
                s.blocks()
                    .flat_map(|b| {
                        if b.identifier.as_str() == name {
                            vec![&b.body]
                        } else if b.identifier.as_str() == "dynamic"
                            && b.labels.first().map(label) == Some(name)
                        {
                            b.body
                                .blocks()
                                .filter(|c| c.identifier.as_str() == "content")
                                .map(|c| &c.body)
                                .collect()
                        } else {
                            Vec::new()
                        }
                    })
                    .collect()
            };
            for (h, j) in [
                ("principals", "Principal"),
                ("not_principals", "NotPrincipal"),
            ] {
                let mut p = Map::new();
                for pb in sub(h) {
                    let ty = attr(pb, "type")
                        .map(|x| self.eval(x, None, 0))
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    let ids =
                        attr(pb, "identifiers").map_or(Value::Null, |x| self.eval(x, None, 0));
                    let entry = p.entry(ty).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(a) = entry {
                        a.extend(strings(&ids).into_iter().map(Value::String));
                    }
                }
                if !p.is_empty() {
                    st.insert(j.into(), Value::Object(p));
                }
            }
            let mut cond = Map::new();
            for cb in sub("condition") {
                let test = attr(cb, "test")
                    .map(|x| self.eval(x, None, 0))
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let var = attr(cb, "variable")
                    .map(|x| self.eval(x, None, 0))
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let vals = attr(cb, "values").map_or(Value::Null, |x| self.eval(x, None, 0));
                if let Value::Object(m) = cond
                    .entry(test)
                    .or_insert_with(|| Value::Object(Map::new()))
                {
                    m.insert(var, vals);
                }
            }
            if !cond.is_empty() {
                st.insert("Condition".into(), Value::Object(cond));
            }
            statements.push(Value::Object(st));
        }
        serde_json::json!({ "Version": "2012-10-17", "Statement": statements })
    }

    /// Every policy of the module: documents, and `policy`/`assume_role_policy`/`key_policy`
    /// attributes written with `jsonencode`.
    fn docs(&self) -> Vec<Doc> {
        let mut out = Vec::new();
        for it in &self.items {
            let l = it.labels();
            if it.kind() == "data" && l.first() == Some(&"aws_iam_policy_document") {
                out.push(Doc {
                    location: it.location(),
                    holder: it.address(),
                    json: self.document(&it.block.body),
                });
            } else if it.kind() == "resource" {
                for k in ["policy", "assume_role_policy", "key_policy"] {
                    if let Some(e @ Expression::FuncCall(f)) = attr(&it.block.body, k)
                        && f.name.name.as_str() == "jsonencode"
                    {
                        out.push(Doc {
                            location: format!("{}.{k}", it.location()),
                            holder: it.address(),
                            json: self.eval(e, None, 0),
                        });
                    }
                }
            }
        }
        out
    }

    /// The policy documents an expression designates (`data.aws_iam_policy_document.x.json`, a
    /// list of them, `jsonencode(…)`), following `source_policy_documents`.
    fn docs_of(&self, e: &Expression, docs: &[Doc], depth: u8) -> Vec<Value> {
        if depth > 4 {
            return Vec::new();
        }
        if let Expression::FuncCall(f) = e
            && f.name.name.as_str() == "jsonencode"
        {
            return vec![self.eval(e, None, 0)];
        }
        self.refs_of(e)
            .iter()
            .flat_map(|r| self.docs_held_by(r, docs, depth))
            .collect()
    }

    /// The policy document held by address `r` (if it holds one), with its
    /// `source_policy_documents`.
    fn docs_held_by(&self, r: &str, docs: &[Doc], depth: u8) -> Vec<Value> {
        let mut out = Vec::new();
        if let Some(d) = docs.iter().find(|d| d.holder == r) {
            out.push(d.json.clone());
            if let Some(src) = self
                .find(r)
                .and_then(|it| attr(&it.block.body, "source_policy_documents"))
            {
                out.extend(self.docs_of(src, docs, depth + 1));
            }
        }
        out
    }
}

fn statements(doc: &Value) -> Vec<&Map<String, Value>> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
        Some(Value::Object(o)) => vec![o],
        _ => Vec::new(),
    }
}

fn allows(st: &Map<String, Value>) -> bool {
    st.get("Effect").and_then(Value::as_str) != Some("Deny")
}

fn service_principals(docs: &[Value]) -> BTreeSet<String> {
    docs.iter()
        .flat_map(|d| statements(d))
        .filter(|st| allows(st))
        .filter_map(|st| st.get("Principal"))
        .flat_map(|p| p.get("Service").map(strings).unwrap_or_default())
        .collect()
}

// --- The checks --------------------------------------------------------------------------------

/// Run every AWS-rule check on one module.
#[must_use]
pub fn check(m: &Module) -> Vec<Finding> {
    let facts = match facts() {
        Ok(f) => f,
        Err(e) => {
            return vec![finding(
                "aws-facts",
                "tools/tfcheck/aws-facts.json".into(),
                e,
            )];
        }
    };
    let ctx = Ctx::new(m);
    let docs = ctx.docs();
    let mut out = Vec::new();
    for (addr, skips) in &ctx.skips {
        for (c, reason) in skips {
            if reason.is_empty() {
                out.push(finding(
                    "skip",
                    addr.clone(),
                    format!("#tfcheck:skip={c} needs a reason: #tfcheck:skip={c}:<why>"),
                ));
            }
        }
    }
    resource_level(facts, &docs, &mut out);
    api_logging_role(facts, &ctx, &mut out);
    event_rules(facts, &ctx, &mut out);
    log_destinations(facts, &ctx, &mut out);
    delivery_principals(facts, &ctx, &docs, &mut out);
    kms_delivery_conditions(facts, &ctx, &docs, &mut out);
    sns_eventbridge_conditions(facts, &ctx, &docs, &mut out);
    deployment_triggers(facts, &ctx, &mut out);
    rest_api_body_policy(facts, &ctx, &mut out);
    api_network_deny(facts, &ctx, &docs, &mut out);
    dashboards(facts, &ctx, &mut out);
    sqs_mappings(facts, &ctx, &mut out);
    lambda_permissions(facts, &ctx, &mut out);
    failed_invocation_alarms(facts, &ctx, &mut out);
    distributed_map_roles(facts, &ctx, &docs, &mut out);
    out.retain(|f| {
        // A skip applies to findings located at the skipping block.
        !ctx.items
            .iter()
            .any(|it| f.location.starts_with(&it.location()) && ctx.skipped(it, f.check))
    });
    out
}

fn resource_level(facts: &Facts, docs: &[Doc], out: &mut Vec<Finding>) {
    let table = &facts.no_resource_level_actions.actions;
    for d in docs {
        for (i, st) in statements(&d.json).into_iter().enumerate() {
            if !allows(st) {
                continue;
            }
            let actions = st.get("Action").map(strings).unwrap_or_default();
            let resources = st.get("Resource").map(strings).unwrap_or_default();
            if resources.is_empty() || resources.iter().all(|r| r == "*") {
                continue;
            }
            for a in actions.iter().filter(|a| table.contains_key(a.as_str())) {
                out.push(finding(
                    "resource-level",
                    d.location.clone(),
                    format!(
                        "statement {i}: `{a}` supports no resource-level permissions, so a statement naming {} never matches it and the call is denied: give it its own statement with Resource \"*\" (see {})",
                        resources.join(", "),
                        table[a.as_str()]
                    ),
                ));
            }
        }
    }
}

fn api_logging_role(facts: &Facts, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let accounts: Vec<String> = ctx
        .resources("aws_api_gateway_account")
        .map(Item::address)
        .collect();
    let logging_blocks = ctx
        .resources("aws_api_gateway_stage")
        .filter(|s| {
            s.block
                .body
                .blocks()
                .any(|b| b.identifier.as_str() == "access_log_settings")
        })
        .chain(
            ctx.resources("aws_api_gateway_method_settings")
                .filter(|m| {
                    m.block
                        .body
                        .blocks()
                        .filter(|b| b.identifier.as_str() == "settings")
                        .any(|s| {
                            let level =
                                attr(&s.body, "logging_level").map(|x| ctx.eval(x, None, 0));
                            let trace =
                                attr(&s.body, "data_trace_enabled").map(|x| ctx.eval(x, None, 0));
                            level.is_some_and(|l| l.as_str() != Some("OFF"))
                                || trace == Some(Value::Bool(true))
                        })
                }),
        );
    for it in logging_blocks {
        let depends = attr(&it.block.body, "depends_on")
            .map(|d| ctx.refs_of(d))
            .unwrap_or_default();
        let message = if accounts.is_empty() {
            "writes execution or access logs, which needs the account-level CloudWatch Logs role of API Gateway; nothing in this module sets it: add aws_api_gateway_account with cloudwatch_role_arn (a role trusted by apigateway.amazonaws.com with AmazonAPIGatewayPushToCloudWatchLogs), optional behind a variable, and depends_on it".to_owned()
        } else if !accounts.iter().any(|a| depends.contains(a)) {
            format!(
                "writes execution or access logs but does not depend_on {}: it can be created before the account's CloudWatch role is set, and fails",
                accounts.join(" / ")
            )
        } else {
            continue;
        };
        out.push(finding(
            "api-logging-role",
            it.location(),
            format!("{message} (see {})", facts.api_gateway_logging_role.source),
        ));
    }
}

/// The alternatives of a pattern: top-level and `detail`-level `$or` expanded.
fn branches(p: &Value) -> Vec<Map<String, Value>> {
    let Some(obj) = p.as_object() else {
        return Vec::new();
    };
    let mut base = obj.clone();
    let alts = match base.remove("$or") {
        Some(Value::Array(a)) => a
            .into_iter()
            .filter_map(|v| v.as_object().cloned())
            .collect(),
        _ => vec![Map::new()],
    };
    let mut out = Vec::new();
    for alt in alts {
        let mut b = base.clone();
        for (k, v) in alt {
            match (b.get_mut(&k), v) {
                (Some(Value::Object(existing)), Value::Object(add)) => existing.extend(add),
                (_, v) => {
                    b.insert(k, v);
                }
            }
        }
        let detail = b
            .get("detail")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(Value::Array(d_alts)) = detail.get("$or") {
            for da in d_alts.iter().filter_map(Value::as_object) {
                let mut nb = b.clone();
                let mut nd = detail.clone();
                nd.remove("$or");
                nd.extend(da.clone());
                nb.insert("detail".into(), Value::Object(nd));
                out.push(nb);
            }
        } else {
            out.push(b);
        }
    }
    out
}

fn numeric_values<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k == "numeric" {
                    if let Value::Array(a) = x {
                        out.extend(a.iter().filter(|y| {
                            !y.is_string() || y.as_str().is_some_and(|s| s.starts_with("${"))
                        }));
                    }
                } else {
                    numeric_values(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| numeric_values(x, out)),
        _ => {}
    }
}

/// Bounds a variable's validation conditions put on it: `(lower, upper)`.
fn variable_bounds(var: &Block, name: &str) -> (Option<f64>, Option<f64>) {
    let mut lo = None;
    let mut hi = None;
    fn is_var(e: &Expression, name: &str) -> bool {
        matches!(e, Expression::Traversal(t) if matches!(&t.expr, Expression::Variable(v) if v.as_str() == "var") && matches!(t.operators.first(), Some(TraversalOperator::GetAttr(i)) if i.as_str() == name))
    }
    fn num(e: &Expression) -> Option<f64> {
        match e {
            Expression::Number(n) => n.as_f64(),
            _ => None,
        }
    }
    fn walk(e: &Expression, name: &str, lo: &mut Option<f64>, hi: &mut Option<f64>) {
        let Expression::Operation(op) = e else {
            if let Expression::Parenthesis(p) = e {
                walk(p, name, lo, hi);
            }
            return;
        };
        let Operation::Binary(b) = op.as_ref() else {
            return;
        };
        use BinaryOperator as B;
        match b.operator {
            B::And => {
                walk(&b.lhs_expr, name, lo, hi);
                walk(&b.rhs_expr, name, lo, hi);
            }
            B::LessEq | B::Less | B::GreaterEq | B::Greater => {
                let (upper, n) = if is_var(&b.lhs_expr, name) {
                    (matches!(b.operator, B::LessEq | B::Less), num(&b.rhs_expr))
                } else if is_var(&b.rhs_expr, name) {
                    (
                        matches!(b.operator, B::GreaterEq | B::Greater),
                        num(&b.lhs_expr),
                    )
                } else {
                    return;
                };
                if let Some(n) = n {
                    let slot = if upper { hi } else { lo };
                    *slot = Some(slot.map_or(n, |c| if upper { c.min(n) } else { c.max(n) }));
                }
            }
            _ => {}
        }
    }
    for v in var
        .body
        .blocks()
        .filter(|b| b.identifier.as_str() == "validation")
    {
        if let Some(c) = attr(&v.body, "condition") {
            walk(c, name, &mut lo, &mut hi);
        }
    }
    (lo, hi)
}

/// Whether a variable's validation pins it to one string (`var.x == "us-east-1"`).
fn variable_pinned_to(var: &Block, name: &str, value: &str) -> bool {
    let text = var
        .body
        .blocks()
        .filter(|b| b.identifier.as_str() == "validation")
        .filter_map(|v| attr(&v.body, "condition"))
        .filter_map(|c| hcl::format::to_string(c).ok())
        .collect::<Vec<_>>()
        .join(" ");
    text.contains(&format!("var.{name} == \"{value}\""))
}

fn event_rules(facts: &Facts, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let ro = &facts.read_only_management_events;
    let range = &facts.eventbridge_numeric_range;
    let global = &facts.global_service_events;
    // (rule address, provider region, pattern) per instance, for the IAM-region check.
    let mut rules: Vec<(String, String, Value)> = Vec::new();
    for it in ctx.resources("aws_cloudwatch_event_rule") {
        let Some(pe) = attr(&it.block.body, "event_pattern") else {
            continue;
        };
        for (key, each) in ctx.instances(it.block) {
            let mut pattern = ctx.eval(pe, each.as_ref(), 0);
            if let Value::String(s) = &pattern
                && let Ok(v) = serde_json::from_str::<Value>(s)
            {
                pattern = v;
            }
            let state = attr(&it.block.body, "state")
                .map(|x| ctx.eval(x, each.as_ref(), 0))
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "ENABLED".into());
            let location = format!("{}{key}", it.location());
            for b in branches(&pattern) {
                let cloudtrail = match b.get("detail-type") {
                    None => true,
                    Some(v) => strings(v).iter().any(|t| t.ends_with("via CloudTrail")),
                };
                if !cloudtrail || state == ro.required_state {
                    continue;
                }
                let detail = b.get("detail").and_then(Value::as_object);
                let get = |k: &str| detail.and_then(|d| d.get(k));
                let read_only = get("readOnly").map(strings);
                let read_only_vals: Vec<bool> = get("readOnly")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_bool).collect())
                    .unwrap_or_default();
                if read_only.is_some() && !read_only_vals.contains(&true)
                    || get("eventCategory").is_some_and(|c| strings(c) == ["Data"])
                {
                    continue;
                }
                let sources = get("eventSource").map(strings);
                let names = get("eventName").map(strings);
                let hit: Option<String> = match (&sources, &names) {
                    (None, None) => Some("every service".into()),
                    (Some(srcs), _) => srcs.iter().find_map(|s| {
                        let globs = ro.event_names.get(s)?;
                        match &names {
                            None => Some(format!("{s} (no eventName)")),
                            Some(ns) => ns
                                .iter()
                                .find(|n| globs.iter().any(|g| aws_glob(g, n)))
                                .map(|n| format!("{s} {n}")),
                        }
                    }),
                    (None, Some(ns)) => ns
                        .iter()
                        .find(|n| ro.event_names.values().flatten().any(|g| aws_glob(g, n)))
                        .cloned(),
                };
                if let Some(h) = hit {
                    out.push(finding(
                        "read-only-events",
                        location.clone(),
                        format!(
                            "matches read-only management events ({h}), which EventBridge delivers only to rules in state {}; this rule is {state}, so those events never arrive: set state, or add readOnly = [false] to the branch if they are not wanted (see {})",
                            ro.required_state, ro.source
                        ),
                    ));
                }
            }
            // Numeric matching range.
            let mut nums = Vec::new();
            numeric_values(&pattern, &mut nums);
            for n in nums {
                match n {
                    Value::Number(x) => {
                        let x = x.as_f64().unwrap_or(0.0);
                        if x < range.min || x > range.max {
                            out.push(finding("numeric-range", location.clone(), format!("numeric value {x} is outside what EventBridge matches ({} to {}) (see {})", range.min, range.max, range.source)));
                        }
                    }
                    Value::String(s) => {
                        let name = s.trim_start_matches("${var.").trim_end_matches('}');
                        let bounded = s.starts_with("${var.")
                            && ctx.variables.get(name).is_some_and(|v| {
                                let (lo, hi) = variable_bounds(v, name);
                                lo.is_some_and(|l| l >= range.min)
                                    && hi.is_some_and(|h| h <= range.max)
                            });
                        if !bounded {
                            out.push(finding("numeric-range", location.clone(), format!("numeric value {s} is not bounded to what EventBridge matches ({} to {}): add validation blocks bounding the variable (see {})", range.min, range.max, range.source)));
                        }
                    }
                    _ => {}
                }
            }
            rules.push((it.address(), provider_region(ctx, it.block), pattern));
        }
    }
    // IAM (global) events reach EventBridge in one Region only.
    let on_global = |p: &Value| {
        branches(p).iter().any(|b| {
            let srcs = b
                .get("detail")
                .and_then(|d| d.get("eventSource"))
                .map(strings)
                .unwrap_or_default();
            let src = b.get("source").map(strings).unwrap_or_default();
            global.event_sources.iter().any(|g| {
                srcs.contains(g)
                    || src.contains(&format!("aws.{}", g.trim_end_matches(".amazonaws.com")))
            })
        })
    };
    let forwarded = rules.iter().any(|(addr, region, p)| {
        region == &global.region
            && on_global(p)
            && ctx.resources("aws_cloudwatch_event_target").any(|t| {
                attr(&t.block.body, "rule").is_some_and(|r| ctx.refs_of(r).contains(addr))
                    && attr(&t.block.body, "arn").is_some_and(|a| {
                        ctx.eval(a, None, 0)
                            .as_str()
                            .is_some_and(|s| s.contains(":event-bus/"))
                    })
            })
    });
    for (addr, region, p) in &rules {
        if !on_global(p) || region == &global.region || forwarded {
            continue;
        }
        let pinned = region
            .strip_prefix("${var.")
            .and_then(|r| r.strip_suffix('}'))
            .is_some_and(|v| {
                ctx.variables
                    .get(v)
                    .is_some_and(|b| variable_pinned_to(b, v, &global.region))
            });
        if pinned {
            continue;
        }
        let it = ctx.find(addr);
        out.push(finding(
            "iam-events-region",
            it.map_or(addr.clone(), Item::location),
            format!(
                "matches events of {}, which EventBridge receives only in {}, but the rule runs in {region}: validate the Region to be {} or forward those events from {} with a rule whose target is this Region's event bus (see {})",
                global.event_sources.join(", "), global.region, global.region, global.region, global.source
            ),
        ));
    }
}

/// The region of the provider configuration a block uses (`${var.region}` when not literal).
fn provider_region(ctx: &Ctx<'_>, b: &Block) -> String {
    let alias = attr(&b.body, "provider").and_then(|p| match p {
        Expression::Traversal(t) => t.operators.first().and_then(|op| match op {
            TraversalOperator::GetAttr(i) => Some(i.to_string()),
            _ => None,
        }),
        _ => None,
    });
    for it in ctx
        .items
        .iter()
        .filter(|i| i.kind() == "provider" && i.labels() == ["aws"])
    {
        let a = attr(&it.block.body, "alias")
            .map(|x| ctx.eval(x, None, 0))
            .and_then(|v| v.as_str().map(str::to_owned));
        if a == alias {
            return attr(&it.block.body, "region")
                .map(|x| ctx.eval(x, None, 0))
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
        }
    }
    String::new()
}

/// How a bucket is defined: `aws_s3_bucket.x` or a `secure-bucket` module call.
enum Bucket<'c, 'a> {
    Resource(String),
    Module(&'c Item<'a>),
}

fn bucket_of<'c, 'a>(ctx: &'c Ctx<'a>, e: &Expression) -> Option<Bucket<'c, 'a>> {
    ctx.refs_of(e).into_iter().find_map(|r| {
        if r.starts_with("aws_s3_bucket.") {
            Some(Bucket::Resource(r))
        } else if r.starts_with("module.") {
            let it = ctx.find(&r)?;
            let src = attr(&it.block.body, "source").map(|s| ctx.eval(s, None, 0))?;
            src.as_str()
                .is_some_and(|s| s.ends_with("secure-bucket"))
                .then_some(Bucket::Module(it))
        } else {
            None
        }
    })
}

/// Resources of `ty` whose `bucket` refers to `addr`.
fn for_bucket<'c, 'a>(
    ctx: &'c Ctx<'a>,
    ty: &'c str,
    addr: &'c str,
) -> impl Iterator<Item = &'c Item<'a>> {
    ctx.resources(ty).filter(move |it| {
        attr(&it.block.body, "bucket").is_some_and(|b| ctx.refs_of(b).contains(addr))
    })
}

fn is_null(ctx: &Ctx<'_>, e: Option<&Expression>) -> bool {
    e.is_none_or(|x| ctx.eval(x, None, 0).is_null())
}

fn log_destinations(facts: &Facts, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let src = &facts.server_access_log_destination.source;
    for it in ctx.resources("aws_s3_bucket_logging") {
        let Some(target) = attr(&it.block.body, "target_bucket").and_then(|t| bucket_of(ctx, t))
        else {
            continue;
        };
        let mut problems = Vec::new();
        match &target {
            Bucket::Resource(addr) => {
                let kms = for_bucket(
                    ctx,
                    "aws_s3_bucket_server_side_encryption_configuration",
                    addr,
                )
                .any(|sse| {
                    let alg = nested(
                        &sse.block.body,
                        &[
                            "rule".into(),
                            "apply_server_side_encryption_by_default".into(),
                            "sse_algorithm".into(),
                        ],
                    );
                    alg.is_some_and(|a| {
                        ctx.eval(a, None, 0)
                            .as_str()
                            .is_some_and(|s| s.starts_with("aws:kms"))
                    })
                });
                if kms {
                    problems.push("SSE-KMS default encryption");
                }
                let lock =
                    for_bucket(ctx, "aws_s3_bucket_object_lock_configuration", addr).any(|l| {
                        nested(
                            &l.block.body,
                            &["rule".into(), "default_retention".into(), "mode".into()],
                        )
                        .is_some()
                    });
                if lock {
                    problems.push("an Object Lock default retention");
                }
            }
            Bucket::Module(m) => {
                if !is_null(ctx, attr(&m.block.body, "kms_key_arn")) {
                    problems.push("SSE-KMS default encryption (kms_key_arn)");
                }
                if !is_null(ctx, attr(&m.block.body, "object_lock_days")) {
                    problems.push("an Object Lock default retention (object_lock_days)");
                }
            }
        }
        for p in problems {
            out.push(finding("log-destination", it.location(), format!("server access logs go to a bucket with {p}, which S3 log delivery does not support: delivery fails and no log arrives; give access logs their own SSE-S3 bucket without default retention (see {src})")));
        }
    }
}

impl Ctx<'_> {
    /// The policy documents applied to a bucket (None: no bucket policy at all).
    fn bucket_policies(&self, b: &Bucket<'_, '_>, docs: &[Doc]) -> Option<Vec<Value>> {
        match b {
            Bucket::Resource(addr) => {
                let ps: Vec<Value> = for_bucket(self, "aws_s3_bucket_policy", addr)
                    .filter_map(|p| attr(&p.block.body, "policy"))
                    .flat_map(|e| self.docs_of(e, docs, 0))
                    .collect();
                let any = for_bucket(self, "aws_s3_bucket_policy", addr)
                    .next()
                    .is_some();
                any.then_some(ps)
            }
            Bucket::Module(m) => {
                let managed = attr(&m.block.body, "manage_policy").map(|x| self.eval(x, None, 0))
                    != Some(Value::Bool(false));
                managed.then(|| {
                    attr(&m.block.body, "policy_documents")
                        .map(|e| self.docs_of(e, docs, 0))
                        .unwrap_or_default()
                })
            }
        }
    }
}

fn delivery_principals(facts: &Facts, ctx: &Ctx<'_>, docs: &[Doc], out: &mut Vec<Finding>) {
    for d in &facts.delivery_principals.deliveries {
        for it in ctx.resources(&d.resource) {
            if let Some(b) = nested(&it.block.body, &d.bucket).and_then(|e| bucket_of(ctx, e)) {
                let name = match &b {
                    Bucket::Resource(a) => a.clone(),
                    Bucket::Module(m) => m.address(),
                };
                match ctx.bucket_policies(&b, docs) {
                    None => out.push(finding("delivery-principal", it.location(), format!("{} delivers to {name}, which has no bucket policy: add one allowing {} (see {})", d.principal, d.principal, d.source))),
                    Some(ps) if !service_principals(&ps).contains(&d.principal) => out.push(finding(
                        "delivery-principal",
                        it.location(),
                        format!("{} delivers to {name}, whose bucket policy does not allow it: every delivery is refused (see {})", d.principal, d.source),
                    )),
                    Some(_) => {}
                }
            }
            if d.key.is_empty() {
                continue;
            }
            let Some(key) = nested(&it.block.body, &d.key) else {
                continue;
            };
            for r in ctx
                .refs_of(key)
                .into_iter()
                .filter(|r| r.starts_with("aws_kms_key."))
            {
                let Some(k) = ctx.find(&r) else { continue };
                let Some(p) = attr(&k.block.body, "policy") else {
                    out.push(finding("delivery-principal", it.location(), format!("{} encrypts with {r}, which has the default key policy: allow {} in it (see {})", d.principal, d.principal, d.source)));
                    continue;
                };
                if !service_principals(&ctx.docs_of(p, docs, 0)).contains(&d.principal) {
                    out.push(finding("delivery-principal", it.location(), format!("{} encrypts with {r}, whose key policy does not allow it: every delivery fails (see {})", d.principal, d.source)));
                }
            }
        }
    }
}

fn kms_delivery_conditions(facts: &Facts, ctx: &Ctx<'_>, docs: &[Doc], out: &mut Vec<Finding>) {
    let kc = &facts.kms_delivery_context;
    let absent: Vec<String> = kc
        .absent_keys
        .iter()
        .map(|k| k.to_ascii_lowercase())
        .collect();
    let key_policies = ctx
        .resources("aws_kms_key")
        .chain(ctx.resources("aws_kms_replica_key"))
        .chain(ctx.resources("aws_kms_key_policy"))
        .filter_map(|k| attr(&k.block.body, "policy").map(|p| (k, p)));
    for (k, p) in key_policies {
        for doc in ctx.docs_of(p, docs, 0) {
            for (i, st) in statements(&doc).into_iter().enumerate() {
                let principals = st
                    .get("Principal")
                    .and_then(|p| p.get("Service"))
                    .map(strings)
                    .unwrap_or_default();
                let Some(svc) = principals.iter().find(|s| kc.principals.contains(s)) else {
                    continue;
                };
                let keys: Vec<String> = st
                    .get("Condition")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|c| {
                        c.values()
                            .filter_map(Value::as_object)
                            .flat_map(|m| m.keys().cloned())
                    })
                    .collect();
                if let Some(bad) = keys
                    .iter()
                    .find(|k| absent.contains(&k.to_ascii_lowercase()))
                {
                    out.push(finding(
                        "kms-delivery-conditions",
                        k.location(),
                        format!("key policy statement {i} lets {svc} use the key only with `{bad}`, which is not in the request context of the KMS calls it makes to deliver to encrypted queues and topics: every delivery is denied, silently; scope it with {} instead (see {})", kc.use_instead.join(" / "), kc.source),
                    ));
                }
            }
        }
    }
}

fn sns_eventbridge_conditions(facts: &Facts, ctx: &Ctx<'_>, docs: &[Doc], out: &mut Vec<Finding>) {
    for t in ctx.resources("aws_sns_topic_policy") {
        let Some(p) = attr(&t.block.body, "policy") else {
            continue;
        };
        for doc in ctx.docs_of(p, docs, 0) {
            for (i, st) in statements(&doc).into_iter().enumerate() {
                let svc = st
                    .get("Principal")
                    .and_then(|p| p.get("Service"))
                    .map(strings)
                    .unwrap_or_default();
                if allows(st)
                    && svc.iter().any(|s| s == "events.amazonaws.com")
                    && st.contains_key("Condition")
                {
                    out.push(finding(
                        "sns-eventbridge-conditions",
                        t.location(),
                        format!("topic policy statement {i} lets events.amazonaws.com publish only under a Condition, which EventBridge does not support on SNS topic policies: every alert it routes here is dropped; give EventBridge its own statement without conditions (see {})", facts.sns_topic_policy_for_eventbridge.source),
                    ));
                }
            }
        }
    }
}

fn deployment_triggers(facts: &Facts, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let policies: Vec<String> = ctx
        .resources("aws_api_gateway_rest_api_policy")
        .map(Item::address)
        .collect();
    if policies.is_empty() {
        return;
    }
    for it in ctx.resources("aws_api_gateway_deployment") {
        let refs = attr(&it.block.body, "triggers")
            .map(|t| ctx.refs_of(t))
            .unwrap_or_default();
        for p in policies.iter().filter(|p| !refs.contains(*p)) {
            out.push(finding("deployment-triggers", it.location(), format!("triggers do not include {p}: a change of the API's resource policy is not deployed, so the old policy stays in force; hash {p}.policy into triggers (see {})", facts.api_gateway_deployment.source)));
        }
    }
}

/// A REST API defined by an OpenAPI `body`: its policy must be in the body (a separately managed
/// one is wiped by the next body import), and every deployment of it must hash the body (routes,
/// validation and policy take effect only with a new deployment).
fn rest_api_body_policy(facts: &Facts, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for api in ctx.resources("aws_api_gateway_rest_api") {
        if attr(&api.block.body, "body").is_none() {
            continue;
        }
        let addr = api.address();
        let of_this_api = |it: &Item<'_>| {
            attr(&it.block.body, "rest_api_id").is_some_and(|e| ctx.refs_of(e).contains(&addr))
        };
        for p in ctx
            .resources("aws_api_gateway_rest_api_policy")
            .filter(|p| of_this_api(p))
        {
            out.push(finding("rest-api-body-policy", p.location(), format!("{} is defined by an OpenAPI body, and the body's import (overwrite) replaces the API's resource policy: this separately managed policy is wiped by the next body change and not restored; put it in the body as x-amazon-apigateway-policy, with execute-api:/ resources (see {})", addr, facts.api_gateway_body_policy.source)));
        }
        let body_ref = format!("{addr}.body");
        for d in ctx
            .resources("aws_api_gateway_deployment")
            .filter(|d| of_this_api(d))
        {
            let hashed =
                attr(&d.block.body, "triggers").is_some_and(|t| t.to_string().contains(&body_ref));
            if !hashed {
                out.push(finding("rest-api-body-policy", d.location(), format!("triggers do not include {body_ref}: a change of the API's OpenAPI body (routes, validation, resource policy) is not deployed; hash {body_ref} into triggers (see {})", facts.api_gateway_deployment.source)));
            }
        }
    }
}

/// The network keys a resource policy limits callers by, with the operators that allow on a match
/// and the negations a Deny needs.
const NETWORK_KEYS: [(&str, &[&str], &[&str]); 3] = [
    ("aws:sourceip", &["ipaddress"], &["notipaddress"]),
    (
        "aws:sourcevpce",
        &["stringequals", "stringlike"],
        &["stringnotequals", "stringnotlike"],
    ),
    (
        "aws:sourcevpc",
        &["stringequals", "stringlike"],
        &["stringnotequals", "stringnotlike"],
    ),
];

/// The condition keys of a statement under any of `operators` (case-insensitive, `ForAnyValue:`
/// / `IfExists` forms included).
fn condition_keys(st: &Map<String, Value>, operators: &[&str]) -> BTreeSet<String> {
    let Some(Value::Object(cond)) = st.get("Condition") else {
        return BTreeSet::new();
    };
    cond.iter()
        .filter(|(op, _)| {
            let op = op.to_ascii_lowercase();
            let op = op.rsplit(':').next().unwrap_or(&op);
            let op = op.strip_suffix("ifexists").unwrap_or(op);
            operators.contains(&op)
        })
        .filter_map(|(_, m)| m.as_object())
        .flat_map(|m| m.keys().map(|k| k.to_ascii_lowercase()))
        .collect()
}

/// An API Gateway resource policy that limits callers by network only in an Allow: a principal of
/// the API's own account whose IAM policy allows execute-api:Invoke is admitted without the
/// resource policy's allow, from anywhere. The limit must also be a Deny.
fn api_network_deny(facts: &Facts, ctx: &Ctx<'_>, docs: &[Doc], out: &mut Vec<Finding>) {
    for api in ctx.resources("aws_api_gateway_rest_api") {
        let addr = api.address();
        let mut policies: Vec<Value> = Vec::new();
        if let Some(e) = attr(&api.block.body, "policy") {
            policies.extend(ctx.docs_of(e, docs, 0));
        }
        if let Some(e) = attr(&api.block.body, "body") {
            // The body's policy is written inline or as `jsondecode(data.….json)`: take the
            // evaluated one if it has statements, else the documents the body refers to.
            match ctx.eval(e, None, 0).get("x-amazon-apigateway-policy") {
                Some(p) if p.get("Statement").is_some() => policies.push(p.clone()),
                _ => {
                    for r in ctx.refs_of(e) {
                        policies.extend(ctx.docs_held_by(&r, docs, 0));
                    }
                }
            }
        }
        for p in ctx
            .resources("aws_api_gateway_rest_api_policy")
            .filter(|p| {
                attr(&p.block.body, "rest_api_id").is_some_and(|e| ctx.refs_of(e).contains(&addr))
            })
        {
            if let Some(e) = attr(&p.block.body, "policy") {
                policies.extend(ctx.docs_of(e, docs, 0));
            }
        }
        let sts: Vec<&Map<String, Value>> = policies.iter().flat_map(|d| statements(d)).collect();
        for (key, allow_ops, deny_ops) in NETWORK_KEYS {
            let limited = sts
                .iter()
                .any(|st| allows(st) && condition_keys(st, allow_ops).contains(key));
            let denied = sts
                .iter()
                .any(|st| !allows(st) && condition_keys(st, deny_ops).contains(key));
            if limited && !denied {
                out.push(finding("api-network-deny", api.location(), format!("{addr}'s resource policy limits callers by {key} only in an Allow: a principal of the API's own account whose IAM policy allows execute-api:Invoke is admitted without that allow, from any network; add a Deny for Principal * on execute-api:/* with the negated condition (see {})", facts.api_gateway_same_account_allow.source)));
            }
        }
    }
}

fn dashboards(facts: &Facts, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for it in ctx.resources("aws_cloudwatch_dashboard") {
        let Some(body) = attr(&it.block.body, "dashboard_body") else {
            continue;
        };
        let mut v = ctx.eval(body, None, 0);
        if let Value::String(s) = &v
            && let Ok(p) = serde_json::from_str::<Value>(s)
        {
            v = p;
        }
        for (i, w) in v
            .get("widgets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if w.get("type").and_then(Value::as_str) != Some("metric") {
                continue;
            }
            if w.get("properties").and_then(|p| p.get("region")).is_none() {
                let title = w
                    .get("properties")
                    .and_then(|p| p.get("title"))
                    .and_then(Value::as_str)
                    .unwrap_or("untitled");
                out.push(finding("dashboard-region", it.location(), format!("metric widget {i} (\"{title}\") has no properties.region, which CloudWatch requires on every metric widget (per-metric regions do not replace it): PutDashboard fails (see {})", facts.dashboard_metric_region.source)));
            }
        }
    }
}

/// A state machine with a DISTRIBUTED Map: the policies attached to its role must allow
/// `states:StartExecution` (the children are executions of the same state machine) and
/// `states:DescribeExecution`; without them every child fails to start.
fn distributed_map_roles(facts: &Facts, ctx: &Ctx<'_>, docs: &[Doc], out: &mut Vec<Finding>) {
    for it in ctx.resources("aws_sfn_state_machine") {
        let Some(def) = attr(&it.block.body, "definition") else {
            continue;
        };
        if !def.to_string().contains("DISTRIBUTED") {
            continue;
        }
        let Some(role) = attr(&it.block.body, "role_arn") else {
            continue;
        };
        let roles = ctx.refs_of(role);
        let mut granted = BTreeSet::new();
        for p in ctx.resources("aws_iam_role_policy") {
            let attached =
                attr(&p.block.body, "role").is_some_and(|r| !ctx.refs_of(r).is_disjoint(&roles));
            let Some(policy) = attr(&p.block.body, "policy").filter(|_| attached) else {
                continue;
            };
            for d in ctx.docs_of(policy, docs, 0) {
                for st in statements(&d).into_iter().filter(|st| allows(st)) {
                    granted.extend(st.get("Action").map(strings).unwrap_or_default());
                }
            }
        }
        for need in ["states:StartExecution", "states:DescribeExecution"] {
            let ok = granted
                .iter()
                .any(|g| g.eq_ignore_ascii_case(need) || g == "states:*" || g == "*");
            if !ok {
                out.push(finding("distributed-map-role", it.location(), format!("the state machine runs a DISTRIBUTED Map, whose children are executions of this state machine, but no policy of its role allows {need}: every child fails to start; allow it on the state machine's own ARN and its executions (see {})", facts.distributed_map_iam.source)));
            }
        }
    }
}

fn sqs_mappings(facts: &Facts, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for it in ctx.resources("aws_lambda_event_source_mapping") {
        let Some(src) = attr(&it.block.body, "event_source_arn") else {
            continue;
        };
        let sqs = ctx
            .refs_of(src)
            .iter()
            .any(|r| r.starts_with("aws_sqs_queue."))
            || ctx
                .eval(src, None, 0)
                .as_str()
                .is_some_and(|s| s.contains(":sqs:"));
        if !sqs {
            continue;
        }
        if nested(
            &it.block.body,
            &["scaling_config".into(), "maximum_concurrency".into()],
        )
        .is_none()
        {
            out.push(finding("sqs-maximum-concurrency", it.location(), format!("an SQS event source mapping without scaling_config.maximum_concurrency scales past the function's concurrency; throttled batches go back to the queue, count towards maxReceiveCount and land in the DLQ (see {})", facts.sqs_maximum_concurrency.source)));
        }
    }
}

fn lambda_permissions(facts: &Facts, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for it in ctx.resources("aws_lambda_permission") {
        let get = |k: &str| attr(&it.block.body, k).map(|x| ctx.eval(x, None, 0));
        let principal = get("principal")
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let problem = if principal == "*"
            || principal.chars().all(|c| c.is_ascii_digit())
            || principal.contains(":iam::")
        {
            Some(format!(
                "admits `{principal}`: only the service that delivers the events may invoke a function"
            ))
        } else if principal.ends_with(".amazonaws.com")
            && get("source_arn").is_none()
            && get("source_account").is_none()
        {
            Some(format!(
                "admits {principal} with no source_arn: any {principal} resource, in any account, may invoke the function with an event of its choosing"
            ))
        } else {
            None
        };
        if let Some(p) = problem {
            out.push(finding(
                "lambda-permission-scope",
                it.location(),
                format!("{p} (see {})", facts.lambda_permission_scope.source),
            ));
        }
    }
}

/// `failed-invocations-alarm`: every EventBridge rule has an alarm on its FailedInvocations.
fn failed_invocation_alarms(facts: &Facts, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let covered: BTreeSet<String> = ctx
        .resources("aws_cloudwatch_metric_alarm")
        .filter(|a| {
            let s = |k: &str| attr(&a.block.body, k).map(|x| ctx.eval(x, None, 0));
            s("metric_name")
                .and_then(|v| v.as_str().map(str::to_owned))
                .as_deref()
                == Some("FailedInvocations")
                && s("namespace")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .as_deref()
                    == Some("AWS/Events")
        })
        .flat_map(|a| {
            let mut r = attr(&a.block.body, "dimensions")
                .map(|d| ctx.refs_of(d))
                .unwrap_or_default();
            if let Some(fe) = attr(&a.block.body, "for_each") {
                r.extend(ctx.refs_of(fe));
            }
            r
        })
        .collect();
    ctx.resources("aws_cloudwatch_event_rule")
        .filter(|r| !covered.contains(&r.address()) && !ctx.skipped(r, "failed-invocations-alarm"))
        .map(|r| {
            finding(
                "failed-invocations-alarm",
                r.location(),
                format!("no CloudWatch alarm on AWS/Events FailedInvocations for this rule: when its target refuses delivery (key policy, permissions, a deleted target) events are dropped and nothing else reports it (see {})", facts.failed_invocations.source),
            )
        })
        .for_each(|f| out.push(f));
}

// --- Apply order across stacks -----------------------------------------------------------------

/// Role-name globs a stack creates: its `aws_iam_role` names, and those of the local modules it
/// calls (a module role named `var.x` takes the call's `x`).
fn created_roles(stack: &Path, m: &Module) -> Vec<String> {
    let ctx = Ctx::new(m);
    let mut out: Vec<String> = ctx
        .resources("aws_iam_role")
        .filter_map(|r| {
            attr(&r.block.body, "name")
                .map(|n| glob_of(ctx.eval(n, None, 0).as_str().unwrap_or("*")))
        })
        .collect();
    for call in ctx.items.iter().filter(|i| i.kind() == "module") {
        let Some(src) = attr(&call.block.body, "source")
            .and_then(|s| ctx.eval(s, None, 0).as_str().map(str::to_owned))
        else {
            continue;
        };
        if !src.starts_with('.') {
            continue;
        }
        let mut f = Vec::new();
        let child = crate::check::load(&stack.join(&src), &mut f);
        let cctx = Ctx::new(&child);
        for r in cctx.resources("aws_iam_role") {
            let Some(n) = attr(&r.block.body, "name") else {
                continue;
            };
            let name = match n {
                Expression::Traversal(t) if matches!(&t.expr, Expression::Variable(v) if v.as_str() == "var") => {
                    match t.operators.first() {
                        Some(TraversalOperator::GetAttr(v)) => {
                            attr(&call.block.body, v.as_str()).map(|x| ctx.eval(x, None, 0))
                        }
                        _ => None,
                    }
                }
                other => Some(cctx.eval(other, None, 0)),
            };
            if let Some(Value::String(s)) = name {
                out.push(glob_of(&s));
            }
        }
    }
    out.retain(|g| g.chars().any(|c| c != '*'));
    out
}

/// `apply-order`: stacks listed in an `APPLY-ORDER` file (one directory per line, first applied
/// first); no policy of a stack may name, as a principal, a role that a later stack creates.
#[must_use]
pub fn apply_order(root: &Path, order: &[String]) -> Vec<Finding> {
    let Ok(facts) = facts() else {
        return Vec::new();
    };
    let stacks: Vec<(String, Module)> = order
        .iter()
        .map(|s| {
            let mut f = Vec::new();
            (s.clone(), crate::check::load(&root.join(s), &mut f))
        })
        .collect();
    let created: Vec<Vec<String>> = stacks
        .iter()
        .map(|(s, m)| created_roles(&root.join(s), m))
        .collect();
    let mut out = Vec::new();
    for (i, (name, m)) in stacks.iter().enumerate() {
        let ctx = Ctx::new(m);
        for d in ctx.docs() {
            for st in statements(&d.json) {
                for p in ["Principal", "NotPrincipal"] {
                    let ids = st
                        .get(p)
                        .and_then(|x| x.get("AWS"))
                        .map(strings)
                        .unwrap_or_default();
                    for id in ids {
                        let g = glob_of(&id);
                        let Some((_, role)) = g.split_once(":role/") else {
                            continue;
                        };
                        let role = role.rsplit('/').next().unwrap_or(role);
                        for (j, later) in created.iter().enumerate().skip(i + 1) {
                            if let Some(hit) = later.iter().find(|c| globs_intersect(c, role)) {
                                out.push(finding(
                                    "apply-order",
                                    d.location.clone(),
                                    format!("principal `{id}` is a role ({hit}) created by {}, which is applied after {name}: IAM and KMS reject a policy whose principal does not exist yet (\"Invalid principal\"); name the account root and narrow it with an ArnEquals aws:PrincipalArn condition (see {})", stacks[j].0, facts.principal_must_exist.source),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert_eq!(
            glob_of("arn:${local.p}:iam::${var.a}:role/${local.n}-v"),
            "arn:*:iam::*:role/*-v"
        );
        assert!(globs_intersect(
            "*-*-access-validator",
            "*-access-validator"
        ));
        assert!(!globs_intersect("*-*-access-validator", "warden-consumer"));
        assert!(globs_intersect("a*c", "*bc"));
        assert!(aws_glob(
            "GenerateDataKey*",
            "GenerateDataKeyWithoutPlaintext"
        ));
        assert!(!aws_glob("Get*", "PutBucketPolicy"));
    }

    #[test]
    fn facts_parse_and_match_the_linter() {
        let f = facts().unwrap();
        let ours: BTreeSet<&str> = f
            .no_resource_level_actions
            .actions
            .keys()
            .map(String::as_str)
            .collect();
        let linter: BTreeSet<&str> = warden_core::policy::lint::AWS_REQUIRES_WILDCARD
            .iter()
            .copied()
            .collect();
        assert_eq!(
            ours, linter,
            "aws-facts.json and warden-core's AWS_REQUIRES_WILDCARD must list the same actions"
        );
    }

    #[test]
    fn branches_expand_or() {
        let p = serde_json::json!({"detail-type": ["x"], "$or": [{"detail": {"a": [1]}}, {"detail": {"b": [2], "$or": [{"c": [3]}, {"d": [4]}]}}]});
        let b = branches(&p);
        assert_eq!(b.len(), 3);
        assert!(b.iter().all(|x| x.contains_key("detail-type")));
    }
}

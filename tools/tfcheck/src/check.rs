//! The checks that need no provider download: AWS provider schema, references, and policies.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use hcl::expr::{Expression, ObjectKey, TraversalOperator};
use hcl::template::{Directive, Element, Template};
use hcl::{Block, BlockLabel, Body, Structure};
use serde_json::{Map, Value};
use warden_core::policy::lint::{LintOptions, lint};
use warden_core::policy::model::Policy;

use crate::schema::{BlockSchema, Schema};

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// `parse`, `schema`, `references`, `policies`, `fmt`, `checkov`.
    pub check: &'static str,
    /// Where.
    pub location: String,
    /// What.
    pub message: String,
}

/// A Terraform module: the `.tf` files of one directory.
#[derive(Debug, Default)]
pub struct Module {
    /// `(file, body)` per file.
    pub files: Vec<(String, Body)>,
    /// The text of each parsed file (for `#tfcheck:skip=` comments), in the order of `files`.
    pub sources: Vec<String>,
    /// The directory it was loaded from (to resolve local module sources).
    pub dir: PathBuf,
}

/// Load a module, reporting files that do not parse.
pub fn load(dir: &Path, findings: &mut Vec<Finding>) -> Module {
    let mut m = Module {
        dir: dir.to_owned(),
        ..Module::default()
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "tf"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    for p in paths {
        let name = p.display().to_string();
        match std::fs::read_to_string(&p)
            .map_err(|e| e.to_string())
            .and_then(|t| hcl::parse(&t).map(|b| (b, t)).map_err(|e| e.to_string()))
        {
            Ok((body, text)) => {
                m.files.push((name, body));
                m.sources.push(text);
            }
            Err(e) => findings.push(Finding {
                check: "parse",
                location: name,
                message: e,
            }),
        }
    }
    m
}

pub(crate) fn label(l: &BlockLabel) -> &str {
    match l {
        BlockLabel::String(s) => s,
        BlockLabel::Identifier(i) => i.as_str(),
    }
}

pub(crate) fn labels(b: &Block) -> Vec<&str> {
    b.labels.iter().map(label).collect()
}

#[derive(Debug, Default)]
struct Decls {
    variables: HashSet<String>,
    locals: HashSet<String>,
    resources: HashSet<(String, String)>,
    data: HashSet<(String, String)>,
    modules: HashSet<String>,
}

fn declarations(m: &Module) -> Decls {
    let mut d = Decls::default();
    for (_, body) in &m.files {
        for b in body.blocks() {
            let l = labels(b);
            match (b.identifier.as_str(), l.as_slice()) {
                ("variable", [n]) => {
                    d.variables.insert((*n).to_owned());
                }
                ("locals", []) => {
                    for a in b.body.attributes() {
                        d.locals.insert(a.key.to_string());
                    }
                }
                ("resource", [t, n]) => {
                    d.resources.insert(((*t).to_owned(), (*n).to_owned()));
                }
                ("data", [t, n]) => {
                    d.data.insert(((*t).to_owned(), (*n).to_owned()));
                }
                ("module", [n]) => {
                    d.modules.insert((*n).to_owned());
                }
                _ => {}
            }
        }
    }
    d
}

/// A reference found in an expression: root identifier and the attribute names after it.
#[derive(Debug, Clone)]
struct Ref {
    root: String,
    attrs: Vec<String>,
}

fn walk_template(t: &Template, scope: &mut Vec<String>, out: &mut Vec<Ref>) {
    for el in t.elements() {
        match el {
            Element::Literal(_) => {}
            Element::Interpolation(i) => walk(&i.expr, scope, out),
            Element::Directive(d) => match d.as_ref() {
                Directive::If(i) => {
                    walk(&i.cond_expr, scope, out);
                    walk_template(&i.true_template, scope, out);
                    if let Some(f) = &i.false_template {
                        walk_template(f, scope, out);
                    }
                }
                Directive::For(f) => {
                    walk(&f.collection_expr, scope, out);
                    let n = scope.len();
                    scope.extend(f.key_var.iter().map(|k| k.to_string()));
                    scope.push(f.value_var.to_string());
                    walk_template(&f.template, scope, out);
                    scope.truncate(n);
                }
            },
        }
    }
}

fn walk(e: &Expression, scope: &mut Vec<String>, out: &mut Vec<Ref>) {
    match e {
        Expression::Variable(v) if scope.iter().any(|s| *s == v.as_str()) => {}
        Expression::Variable(v) => out.push(Ref {
            root: v.to_string(),
            attrs: Vec::new(),
        }),
        Expression::Traversal(t) => {
            if let Expression::Variable(v) = &t.expr
                && scope.iter().any(|s| *s == v.as_str())
            {
                // An iterator in scope (`for x in …`, `dynamic` blocks).
            } else if let Expression::Variable(v) = &t.expr {
                let attrs = t
                    .operators
                    .iter()
                    .map_while(|op| match op {
                        TraversalOperator::GetAttr(i) => Some(i.to_string()),
                        _ => None,
                    })
                    .collect();
                out.push(Ref {
                    root: v.to_string(),
                    attrs,
                });
            } else {
                walk(&t.expr, scope, out);
            }
            for op in &t.operators {
                if let TraversalOperator::Index(i) = op {
                    walk(i, scope, out);
                }
            }
        }
        Expression::Array(a) => a.iter().for_each(|x| walk(x, scope, out)),
        Expression::Object(o) => {
            for (k, v) in o {
                if let ObjectKey::Expression(k) = k {
                    // A bare word key (`{ foo = 1 }`) parses as a variable: it is not a reference.
                    if !matches!(k, Expression::Variable(_)) {
                        walk(k, scope, out);
                    }
                }
                walk(v, scope, out);
            }
        }
        Expression::TemplateExpr(t) => {
            if let Ok(tpl) = Template::from_expr(t) {
                walk_template(&tpl, scope, out);
            }
        }
        Expression::FuncCall(f) => f.args.iter().for_each(|x| walk(x, scope, out)),
        Expression::Parenthesis(p) => walk(p, scope, out),
        Expression::Conditional(c) => {
            walk(&c.cond_expr, scope, out);
            walk(&c.true_expr, scope, out);
            walk(&c.false_expr, scope, out);
        }
        Expression::Operation(op) => match op.as_ref() {
            hcl::expr::Operation::Unary(u) => walk(&u.expr, scope, out),
            hcl::expr::Operation::Binary(b) => {
                walk(&b.lhs_expr, scope, out);
                walk(&b.rhs_expr, scope, out);
            }
        },
        Expression::ForExpr(f) => {
            walk(&f.collection_expr, scope, out);
            let n = scope.len();
            scope.extend(f.key_var.iter().map(|k| k.to_string()));
            scope.push(f.value_var.to_string());
            if let Some(k) = &f.key_expr {
                walk(k, scope, out);
            }
            walk(&f.value_expr, scope, out);
            if let Some(c) = &f.cond_expr {
                walk(c, scope, out);
            }
            scope.truncate(n);
        }
        _ => {}
    }
}

const BUILTIN_ROOTS: [&str; 5] = ["each", "count", "self", "path", "terraform"];

fn check_refs(
    body: &Body,
    in_block: &str,
    scope: &mut Vec<String>,
    d: &Decls,
    file: &str,
    out: &mut Vec<Finding>,
) {
    for s in body.iter() {
        match s {
            // Type constraints, ignore lists and provider aliases are not value references.
            Structure::Attribute(a)
                if (in_block == "variable" && a.key.as_str() == "type")
                    || matches!(a.key.as_str(), "ignore_changes" | "provider" | "providers") => {}
            Structure::Attribute(a) => {
                let mut refs = Vec::new();
                walk(&a.expr, scope, &mut refs);
                for r in refs {
                    if let Some(msg) = unresolved(&r, scope, d) {
                        out.push(Finding {
                            check: "references",
                            location: format!("{file}: {}", a.key),
                            message: msg,
                        });
                    }
                }
            }
            // `moved`, `removed` and `import` hold resource addresses, not references.
            Structure::Block(b)
                if in_block.is_empty()
                    && matches!(b.identifier.as_str(), "moved" | "removed" | "import") => {}
            Structure::Block(b) => {
                let n = scope.len();
                if b.identifier.as_str() == "dynamic" {
                    // The iterator is named after the block, or by `iterator = name`.
                    let it = b
                        .body
                        .attributes()
                        .find(|a| a.key.as_str() == "iterator")
                        .and_then(|a| match &a.expr {
                            Expression::Variable(v) => Some(v.to_string()),
                            _ => None,
                        })
                        .or_else(|| b.labels.first().map(|l| label(l).to_owned()));
                    scope.extend(it);
                }
                check_refs(&b.body, b.identifier.as_str(), scope, d, file, out);
                scope.truncate(n);
            }
        }
    }
}

fn unresolved(r: &Ref, scope: &[String], d: &Decls) -> Option<String> {
    let first = r.attrs.first().map(String::as_str).unwrap_or_default();
    let second = r.attrs.get(1).map(String::as_str).unwrap_or_default();
    if scope.contains(&r.root) || BUILTIN_ROOTS.contains(&r.root.as_str()) {
        return None;
    }
    match r.root.as_str() {
        "var" => (!d.variables.contains(first))
            .then(|| format!("var.{first} is not declared (add a variable \"{first}\" block)")),
        "local" => (!d.locals.contains(first))
            .then(|| format!("local.{first} is not defined in any locals block")),
        "module" => (!d.modules.contains(first)).then(|| format!("module.{first} is not declared")),
        "data" => (!d.data.contains(&(first.to_owned(), second.to_owned())))
            .then(|| format!("data.{first}.{second} is not declared")),
        t if t.contains('_') && !first.is_empty() => {
            (!d.resources.contains(&(t.to_owned(), first.to_owned())))
                .then(|| format!("{t}.{first} is not declared"))
        }
        other => Some(format!(
            "{other} is not a known reference (var, local, data, module, a resource, or an iterator in scope)"
        )),
    }
}

const META_ATTRS: [&str; 4] = ["count", "for_each", "provider", "depends_on"];
const META_BLOCKS: [&str; 4] = ["lifecycle", "provisioner", "connection", "precondition"];

fn check_block_schema(
    body: &Body,
    schema: &BlockSchema,
    path: &str,
    top: bool,
    out: &mut Vec<Finding>,
) {
    let mut seen_attrs = BTreeSet::new();
    let mut seen_blocks = BTreeSet::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                let k = a.key.as_str();
                if top && META_ATTRS.contains(&k) {
                    continue;
                }
                if schema.attributes.contains_key(k) {
                    seen_attrs.insert(k.to_owned());
                } else if schema.blocks.contains_key(k) {
                    out.push(Finding {
                        check: "schema",
                        location: path.to_owned(),
                        message: format!(
                            "`{k}` is a nested block: write `{k} {{ … }}`, not `{k} = …`"
                        ),
                    });
                } else {
                    out.push(Finding {
                        check: "schema",
                        location: path.to_owned(),
                        message: format!("unknown argument `{k}`{}", suggest(k, schema)),
                    });
                }
            }
            Structure::Block(b) => {
                let k = b.identifier.as_str();
                if top && META_BLOCKS.contains(&k) {
                    continue;
                }
                let (name, inner) = if k == "dynamic" {
                    let Some(n) = b.labels.first().map(label) else {
                        continue;
                    };
                    let content = b
                        .body
                        .blocks()
                        .find(|c| c.identifier.as_str() == "content")
                        .map(|c| &c.body);
                    (n, content)
                } else {
                    (k, Some(&b.body))
                };
                match schema.blocks.get(name) {
                    Some(nb) => {
                        seen_blocks.insert(name.to_owned());
                        if let Some(inner) = inner {
                            check_block_schema(
                                inner,
                                &nb.block,
                                &format!("{path}.{name}"),
                                false,
                                out,
                            );
                        }
                    }
                    None if schema.attributes.contains_key(name) => out.push(Finding {
                        check: "schema",
                        location: path.to_owned(),
                        message: format!(
                            "`{name}` is an argument: write `{name} = …`, not a block"
                        ),
                    }),
                    None => out.push(Finding {
                        check: "schema",
                        location: path.to_owned(),
                        message: format!("unknown block `{name}`{}", suggest(name, schema)),
                    }),
                }
            }
        }
    }
    for (k, a) in &schema.attributes {
        if a.required && !seen_attrs.contains(k) {
            out.push(Finding {
                check: "schema",
                location: path.to_owned(),
                message: format!("required argument `{k}` is missing"),
            });
        }
    }
    for (k, b) in &schema.blocks {
        if b.required && !seen_blocks.contains(k) {
            out.push(Finding {
                check: "schema",
                location: path.to_owned(),
                message: format!("required block `{k}` is missing"),
            });
        }
    }
}

fn suggest(k: &str, schema: &BlockSchema) -> String {
    let close: Vec<&String> = schema
        .attributes
        .keys()
        .chain(schema.blocks.keys())
        .filter(|c| c.contains(k) || k.contains(c.as_str()) || strsim(c, k) <= 2)
        .take(3)
        .collect();
    if close.is_empty() {
        String::new()
    } else {
        format!(
            " (did you mean {}?)",
            close
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Levenshtein distance, for suggestions.
fn strsim(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Render an expression as JSON for the policy linter: literals as they are, anything computed
/// as a `${…}` placeholder (which the linter treats as "known at apply time").
pub(crate) fn to_json(e: &Expression) -> Value {
    match e {
        Expression::Null => Value::Null,
        Expression::Bool(b) => Value::Bool(*b),
        Expression::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        Expression::String(s) => Value::String(s.clone()),
        Expression::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Expression::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let key = match k {
                        ObjectKey::Identifier(i) => i.to_string(),
                        ObjectKey::Expression(Expression::String(s)) => s.clone(),
                        ObjectKey::Expression(Expression::Variable(v)) => v.to_string(),
                        ObjectKey::Expression(other) => {
                            format!("${{{}}}", hcl::format::to_string(other).unwrap_or_default())
                        }
                        _ => "${key}".to_owned(),
                    };
                    (key, to_json(v))
                })
                .collect::<Map<_, _>>(),
        ),
        Expression::TemplateExpr(t) => Value::String(template_text(t)),
        Expression::Parenthesis(p) => to_json(p),
        other => Value::String(format!(
            "${{{}}}",
            hcl::format::to_string(other).unwrap_or_else(|_| "computed".into())
        )),
    }
}

pub(crate) fn attr<'a>(b: &'a Body, k: &str) -> Option<&'a Expression> {
    b.attributes()
        .find(|a| a.key.as_str() == k)
        .map(|a| &a.expr)
}

/// `data "aws_iam_policy_document"` → policy JSON.
pub(crate) fn policy_document_json(body: &Body) -> Value {
    let mut statements = Vec::new();
    let mut stmt_bodies: Vec<&Body> = body
        .blocks()
        .filter(|b| b.identifier.as_str() == "statement")
        .map(|b| &b.body)
        .collect();
    for d in body.blocks().filter(|b| {
        b.identifier.as_str() == "dynamic" && b.labels.first().map(label) == Some("statement")
    }) {
        stmt_bodies.extend(
            d.body
                .blocks()
                .filter(|c| c.identifier.as_str() == "content")
                .map(|c| &c.body),
        );
    }
    for s in stmt_bodies {
        let mut st = Map::new();
        if let Some(sid) = attr(s, "sid") {
            st.insert("Sid".into(), to_json(sid));
        }
        st.insert(
            "Effect".into(),
            attr(s, "effect").map_or(Value::String("Allow".into()), to_json),
        );
        for (hcl_name, json_name) in [
            ("actions", "Action"),
            ("not_actions", "NotAction"),
            ("resources", "Resource"),
            ("not_resources", "NotResource"),
        ] {
            if let Some(v) = attr(s, hcl_name) {
                st.insert(json_name.into(), to_json(v));
            }
        }
        for (hcl_name, json_name) in [
            ("principals", "Principal"),
            ("not_principals", "NotPrincipal"),
        ] {
            let mut p = Map::new();
            for pb in s.blocks().filter(|b| b.identifier.as_str() == hcl_name) {
                let ty = attr(&pb.body, "type")
                    .map(to_json)
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let ids = attr(&pb.body, "identifiers").map_or(Value::Null, to_json);
                if ty == "*" {
                    p.insert("AWS".into(), Value::String("*".into()));
                } else {
                    p.insert(ty, ids);
                }
            }
            if !p.is_empty() {
                st.insert(json_name.into(), Value::Object(p));
            }
        }
        let mut cond = Map::new();
        for cb in s.blocks().filter(|b| b.identifier.as_str() == "condition") {
            let test = attr(&cb.body, "test")
                .map(to_json)
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let var = attr(&cb.body, "variable")
                .map(to_json)
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let vals = attr(&cb.body, "values").map_or(Value::Null, to_json);
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
    serde_json::json!({"Version": "2012-10-17", "Statement": statements})
}

fn lint_policy(doc: &Value, location: String, name_hint: &str, out: &mut Vec<Finding>) -> bool {
    let Value::Object(_) = doc else { return false };
    let audit = name_hint.contains("audit");
    let opts = LintOptions {
        audit_role: audit && !name_hint.contains("assume_role"),
        require_mfa: audit || name_hint.contains("cross_account"),
    };
    match Policy::from_value(doc) {
        Ok(p) => {
            for f in lint(&p, &opts) {
                out.push(Finding {
                    check: "policies",
                    location: location.clone(),
                    message: format!("{}: statement {}: {}", f.rule, f.statement, f.message),
                });
            }
        }
        Err(e) => out.push(Finding {
            check: "policies",
            location,
            message: format!("invalid-policy: {e}"),
        }),
    }
    true
}

const POLICY_ATTRS: [&str; 3] = ["policy", "assume_role_policy", "key_policy"];

fn collect_policies(
    body: &Body,
    path: &str,
    name_hint: &str,
    out: &mut Vec<Finding>,
    linted: &mut usize,
) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) if POLICY_ATTRS.contains(&a.key.as_str()) => {
                if let Expression::FuncCall(f) = &a.expr
                    && f.name.name.as_str() == "jsonencode"
                    && let Some(arg) = f.args.first()
                {
                    let hint = format!("{name_hint}.{}", a.key);
                    if lint_policy(&to_json(arg), format!("{path}.{}", a.key), &hint, out) {
                        *linted += 1;
                    }
                }
            }
            Structure::Block(b) => collect_policies(
                &b.body,
                &format!("{path}.{}", b.identifier),
                name_hint,
                out,
                linted,
            ),
            Structure::Attribute(_) => {}
        }
    }
}

/// `(address parts, index given after each part)` of a `moved` address such as
/// `module.b[0].aws_s3_bucket.this[0]`.
fn address_parts(e: &Expression) -> Option<Vec<(String, bool)>> {
    let Expression::Traversal(t) = e else {
        return None;
    };
    let Expression::Variable(root) = &t.expr else {
        return None;
    };
    let mut parts = vec![(root.to_string(), false)];
    for op in &t.operators {
        match op {
            TraversalOperator::GetAttr(i) => parts.push((i.to_string(), false)),
            TraversalOperator::Index(_) | TraversalOperator::LegacyIndex(_) => {
                parts.last_mut()?.1 = true;
            }
            _ => return None,
        }
    }
    Some(parts)
}

fn counted(b: &Block) -> bool {
    b.body
        .attributes()
        .any(|a| matches!(a.key.as_str(), "count" | "for_each"))
}

fn find_block<'a>(m: &'a Module, kind: &str, want: &[&str]) -> Option<&'a Block> {
    m.files
        .iter()
        .flat_map(|(_, body)| body.blocks())
        .find(|b| b.identifier.as_str() == kind && labels(b) == want)
}

/// `moved` blocks: `from` no longer declared (Terraform refuses a move from an object that still
/// exists), `to` declared here or in the called local module, with an index exactly where the
/// block has `count`/`for_each` (a wrong `to` silently turns the move into destroy + create).
fn moved_blocks(m: &Module, d: &Decls, out: &mut Vec<Finding>) {
    for (file, body) in &m.files {
        for b in body.blocks().filter(|b| b.identifier.as_str() == "moved") {
            let loc = |k: &str| format!("{file}: moved.{k}");
            if let Some(from) = attr(&b.body, "from").and_then(address_parts)
                && let [(t, _), (n, _)] = from.as_slice()
                && d.resources.contains(&(t.clone(), n.clone()))
            {
                out.push(Finding {
                    check: "references",
                    location: loc("from"),
                    message: format!("{t}.{n} is still declared: a move from an object that still exists is refused"),
                });
            }
            let Some(to) = attr(&b.body, "to").and_then(address_parts) else {
                continue;
            };
            let (target, rest): (&Module, &[(String, bool)]);
            let child;
            if to[0].0 == "module" && to.len() >= 2 {
                let Some(call) = find_block(m, "module", &[to[1].0.as_str()]) else {
                    out.push(Finding {
                        check: "references",
                        location: loc("to"),
                        message: format!("module.{} is not declared", to[1].0),
                    });
                    continue;
                };
                if counted(call) != to[1].1 {
                    out.push(Finding {
                        check: "references",
                        location: loc("to"),
                        message: format!(
                            "module.{} {} count/for_each, so the address needs {} index",
                            to[1].0,
                            if counted(call) { "has" } else { "has no" },
                            if counted(call) { "an" } else { "no" }
                        ),
                    });
                }
                let Some(Expression::String(src)) = attr(&call.body, "source") else {
                    continue;
                };
                if !src.starts_with('.') {
                    continue;
                }
                let mut ignored = Vec::new();
                child = load(&m.dir.join(src), &mut ignored);
                target = &child;
                rest = &to[2..];
            } else {
                target = m;
                rest = &to[..];
            }
            let [(t, idx), (n, _)] = rest else { continue };
            let nidx = rest[1].1 || *idx;
            match find_block(target, "resource", &[t.as_str(), n.as_str()]) {
                None => out.push(Finding {
                    check: "references",
                    location: loc("to"),
                    message: format!(
                        "{t}.{n} is not declared in {}: the move would destroy and recreate",
                        target.dir.display()
                    ),
                }),
                Some(r) if counted(r) != nidx => out.push(Finding {
                    check: "references",
                    location: loc("to"),
                    message: format!(
                        "{t}.{n} {} count/for_each, so the address needs {} index",
                        if counted(r) { "has" } else { "has no" },
                        if counted(r) { "an" } else { "no" }
                    ),
                }),
                Some(_) => {}
            }
        }
    }
}

/// Result of checking one module.
#[derive(Debug, Default)]
pub struct Report {
    /// Problems.
    pub findings: Vec<Finding>,
    /// Resources and data sources checked against the schema.
    pub blocks_checked: usize,
    /// Policies passed through the linter.
    pub policies_linted: usize,
}

/// Run the schema, reference and policy checks on one module.
#[must_use]
pub fn check_module(m: &Module, schema: Option<&Schema>) -> Report {
    let mut r = Report::default();
    let d = declarations(m);
    moved_blocks(m, &d, &mut r.findings);
    for (file, body) in &m.files {
        let mut scope = Vec::new();
        check_refs(body, "", &mut scope, &d, file, &mut r.findings);
        for b in body.blocks() {
            let l = labels(b);
            let (kind, ty, name) = match (b.identifier.as_str(), l.as_slice()) {
                ("resource", [t, n]) => ("resource", *t, *n),
                ("data", [t, n]) => ("data", *t, *n),
                _ => continue,
            };
            let path = format!(
                "{file}: {}{ty}.{name}",
                if kind == "data" { "data." } else { "" }
            );
            if let Some(schema) = schema
                && ty.starts_with("aws_")
            {
                let table = if kind == "resource" {
                    &schema.resources
                } else {
                    &schema.data_sources
                };
                match table.get(ty) {
                    Some(bs) => {
                        check_block_schema(&b.body, bs, &path, true, &mut r.findings);
                        r.blocks_checked += 1;
                    }
                    None => r.findings.push(Finding {
                        check: "schema",
                        location: path.clone(),
                        message: format!(
                            "{kind} type `{ty}` does not exist in hashicorp/aws 6.25.0"
                        ),
                    }),
                }
            }
            let hint = format!("{ty}.{name}");
            if kind == "data" && ty == "aws_iam_policy_document" {
                if lint_policy(
                    &policy_document_json(&b.body),
                    path.clone(),
                    &hint,
                    &mut r.findings,
                ) {
                    r.policies_linted += 1;
                }
            } else {
                collect_policies(
                    &b.body,
                    &path,
                    &hint,
                    &mut r.findings,
                    &mut r.policies_linted,
                );
            }
        }
    }
    r.findings.extend(crate::aws_rules::check(m));
    r.findings.sort();
    r
}

/// The template's source text (`arn:aws:s3:::${var.bucket}/*`), a placeholder-bearing string.
fn template_text(t: &hcl::expr::TemplateExpr) -> String {
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(src: &str) -> Module {
        Module {
            files: vec![("main.tf".into(), hcl::parse(src).unwrap())],
            sources: vec![src.to_owned()],
            dir: PathBuf::from("."),
        }
    }

    #[test]
    fn references_resolve_or_are_named() {
        let m = module(
            r#"
variable "a" {}
locals { b = [for x in var.a : upper(x)] }
resource "aws_s3_bucket" "x" {
  for_each = toset(local.b)
  bucket   = "${each.key}-${var.a}"
  dynamic "tag" {
    for_each = var.a
    content { v = tag.value }
  }
}
output "o" { value = aws_s3_bucket.x["k"].arn }
output "bad" { value = [var.nope, local.nope, aws_s3_bucket.nope.arn, data.aws_caller_identity.me.id, wat] }
"#,
        );
        let r = check_module(&m, None);
        let msgs: Vec<&str> = r.findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(r.findings.len(), 5, "{msgs:?}");
        assert!(msgs.iter().any(|m| m.starts_with("var.nope")));
        assert!(msgs.iter().any(|m| m.starts_with("local.nope")));
        assert!(msgs.iter().any(|m| m.starts_with("aws_s3_bucket.nope")));
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("data.aws_caller_identity.me"))
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("wat is not a known reference"))
        );
    }

    #[test]
    fn policies_in_jsonencode_and_documents_are_linted() {
        let m = module(
            r#"
resource "aws_iam_role_policy" "p" {
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["s3:PutObject"], Resource = "*" }]
  })
}
data "aws_iam_policy_document" "security_audit" {
  statement {
    actions   = ["iam:Get*", "iam:UpdateRole"]
    resources = ["arn:aws:iam::${var.account}:role/x"]
  }
}
"#,
        );
        let r = check_module(&m, None);
        let msgs: Vec<String> = r
            .findings
            .iter()
            .filter(|f| f.check == "policies")
            .map(|f| f.message.clone())
            .collect();
        assert_eq!(r.policies_linted, 2);
        assert!(
            msgs.iter().any(|m| m.starts_with("wildcard-resource")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.starts_with("audit-role-write")),
            "{msgs:?}"
        );
    }
}

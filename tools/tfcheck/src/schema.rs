//! The AWS provider schema, derived from the npm package `@cdktf/provider-aws` (generated from
//! hashicorp/aws 6.25.0): every resource and data source, its arguments and nested blocks, and
//! which are required.
//!
//! Derivation reads the package's generated code as text: in `lib/<name>/index.js` each class has
//! `tfResourceType = "aws_…"` and a `synthesizeHclAttributes()` whose `attrs` entries carry the
//! snake_case name and `isBlock`; nested blocks point at a `…ToHclTerraform` function with the
//! same shape; `index.d.ts` marks optional configuration properties with `?`.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

/// One argument.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Arg {
    /// Must be set.
    pub required: bool,
}

/// A block's schema: arguments and nested blocks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BlockSchema {
    /// Arguments (`name = value`).
    pub attributes: BTreeMap<String, Arg>,
    /// Nested blocks (`name { … }`).
    pub blocks: BTreeMap<String, NestedBlock>,
}

/// A nested block.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NestedBlock {
    /// At least one must be present.
    pub required: bool,
    /// Its contents.
    pub block: BlockSchema,
}

/// The whole provider.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Schema {
    /// Provider version the schema comes from.
    pub provider_version: String,
    /// `resource` types.
    pub resources: BTreeMap<String, BlockSchema>,
    /// `data` source types.
    pub data_sources: BTreeMap<String, BlockSchema>,
}

#[derive(Debug, Default)]
struct Entry {
    name: String,
    camel: Option<String>,
    is_block: bool,
    nested_fn: Option<String>,
}

/// Parsed text of one `index.js`: attribute lists per struct function and per class.
#[derive(Debug, Default)]
struct JsFile {
    fns: HashMap<String, Vec<Entry>>,
    classes: HashMap<String, Vec<Entry>>,
    types: Vec<(String, String)>,
}

fn parse_js(text: &str) -> JsFile {
    let mut out = JsFile::default();
    let mut owner: Option<(bool, String)> = None; // (is_class, name)
    let mut current_class: Option<String> = None;
    let mut in_attrs = false;
    let mut entries: Vec<Entry> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("class ")
            && let Some(name) = rest.split_whitespace().next()
        {
            current_class = Some(name.to_owned());
        }
        if let Some(rest) = t.strip_prefix("function ")
            && let Some(name) = rest.strip_suffix("ToHclTerraform(struct) {")
        {
            owner = Some((false, name.to_owned()));
        }
        if t == "synthesizeHclAttributes() {"
            && let Some(c) = &current_class
        {
            owner = Some((true, c.clone()));
        }
        if t == "const attrs = {" && owner.is_some() {
            in_attrs = true;
            entries.clear();
            continue;
        }
        if in_attrs {
            if t == "};" {
                in_attrs = false;
                if let Some((is_class, name)) = owner.take() {
                    let list = std::mem::take(&mut entries);
                    if is_class {
                        out.classes.insert(name, list);
                    } else {
                        out.fns.insert(name, list);
                    }
                }
                continue;
            }
            if let Some(name) = t.strip_suffix(": {") {
                entries.push(Entry {
                    name: name.trim_matches('"').to_owned(),
                    ..Entry::default()
                });
            } else if let Some(v) = t.strip_prefix("value: ")
                && let Some(e) = entries.last_mut()
            {
                if let Some(i) = v.find("ToHclTerraform") {
                    let start = v[..i]
                        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .map_or(0, |p| p + 1);
                    e.nested_fn = Some(v[start..i].to_owned());
                }
                for marker in ["struct.", "this._"] {
                    if let Some(p) = v.find(marker) {
                        let rest = &v[p + marker.len()..];
                        let end = rest
                            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .unwrap_or(rest.len());
                        e.camel = Some(rest[..end].to_owned());
                    }
                }
            } else if let Some(b) = t.strip_prefix("isBlock: ")
                && let Some(e) = entries.last_mut()
            {
                e.is_block = b.starts_with("true");
            }
        }
        // `Foo.tfResourceType = "aws_foo";`
        if let Some((lhs, rhs)) = t.split_once(".tfResourceType = \"")
            && let Some(ty) = rhs.strip_suffix("\";")
        {
            out.types.push((lhs.to_owned(), ty.to_owned()));
        }
    }
    out
}

/// `export interface Name { readonly field?: … }` → field → required.
fn parse_dts(text: &str) -> HashMap<String, HashMap<String, bool>> {
    let mut out: HashMap<String, HashMap<String, bool>> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("export interface ") {
            current = rest.split([' ', '{']).next().map(str::to_owned);
            continue;
        }
        if t == "}" {
            current = None;
            continue;
        }
        if let (Some(c), Some(rest)) = (&current, t.strip_prefix("readonly "))
            && let Some((name, _)) = rest.split_once(':')
        {
            let optional = name.ends_with('?');
            out.entry(c.clone())
                .or_default()
                .insert(name.trim_end_matches('?').to_owned(), !optional);
        }
    }
    out
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn build(
    entries: &[Entry],
    iface: &str,
    js: &JsFile,
    dts: &HashMap<String, HashMap<String, bool>>,
    depth: usize,
) -> BlockSchema {
    let mut b = BlockSchema::default();
    let fields = dts.get(iface);
    for e in entries {
        let required = e
            .camel
            .as_ref()
            .and_then(|c| fields.and_then(|f| f.get(c)))
            .copied()
            .unwrap_or(false);
        if e.is_block {
            let nested = match (&e.nested_fn, depth < 12) {
                (Some(f), true) => js
                    .fns
                    .get(f)
                    .map(|list| build(list, &upper_first(f), js, dts, depth + 1))
                    .unwrap_or_default(),
                _ => BlockSchema::default(),
            };
            b.blocks.insert(
                e.name.clone(),
                NestedBlock {
                    required,
                    block: nested,
                },
            );
        } else {
            b.attributes.insert(e.name.clone(), Arg { required });
        }
    }
    b
}

/// Derive the schema from the package tarball (`npm pack @cdktf/provider-aws@21.22.1`).
pub fn derive(tgz: &Path) -> Result<Schema> {
    let file = std::fs::File::open(tgz).with_context(|| format!("opening {}", tgz.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut js: HashMap<String, String> = HashMap::new();
    let mut dts: HashMap<String, String> = HashMap::new();
    let mut version = String::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let dir = path
            .strip_prefix("package/lib/")
            .and_then(|p| p.rsplit_once('/'))
            .map(|(d, f)| (d.to_owned(), f.to_owned()));
        if path == "package/package.json" {
            let mut s = String::new();
            entry.read_to_string(&mut s)?;
            let v: serde_json::Value = serde_json::from_str(&s)?;
            version = v["version"].as_str().unwrap_or_default().to_owned();
        }
        let Some((dir, name)) = dir else { continue };
        if dir.contains('/') {
            continue;
        }
        if name == "index.js" || name == "index.d.ts" {
            let mut s = String::new();
            entry.read_to_string(&mut s)?;
            if name == "index.js" {
                js.insert(dir, s);
            } else {
                dts.insert(dir, s);
            }
        }
    }
    let mut schema = Schema {
        provider_version: format!("hashicorp/aws 6.25.0 via @cdktf/provider-aws {version}"),
        ..Schema::default()
    };
    for (dir, text) in &js {
        let parsed = parse_js(text);
        let ifaces = dts.get(dir).map(|d| parse_dts(d)).unwrap_or_default();
        for (class, ty) in &parsed.types {
            if !ty.starts_with("aws_") {
                continue;
            }
            let Some(entries) = parsed.classes.get(class) else {
                continue;
            };
            let block = build(entries, &format!("{class}Config"), &parsed, &ifaces, 0);
            if dir.starts_with("data-aws-") {
                schema.data_sources.insert(ty.clone(), block);
            } else {
                schema.resources.insert(ty.clone(), block);
            }
        }
    }
    if schema.resources.len() < 1000 {
        bail!(
            "only {} resource types found in {}: is this @cdktf/provider-aws?",
            schema.resources.len(),
            tgz.display()
        );
    }
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_generated_code_shapes() {
        let js = r#"
function fooRuleToHclTerraform(struct) {
    const attrs = {
        days: {
            value: cdktf.numberToHclTerraform(struct.days),
            isBlock: false,
            type: "simple",
        },
    };
}
class Foo extends cdktf.TerraformResource {
    synthesizeHclAttributes() {
        const attrs = {
            bucket: {
                value: cdktf.stringToHclTerraform(this._bucket),
                isBlock: false,
            },
            rule: {
                value: cdktf.listMapperHcl(fooRuleToHclTerraform, true)(this._rule.internalValue),
                isBlock: true,
            },
        };
        return attrs;
    }
}
Foo.tfResourceType = "aws_foo";
"#;
        let dts = "export interface FooConfig extends cdktf.TerraformMetaArguments {\n    readonly bucket: string;\n    readonly rule?: FooRule[];\n}\nexport interface FooRule {\n    readonly days: number;\n}\n";
        let parsed = parse_js(js);
        let ifaces = parse_dts(dts);
        let b = build(&parsed.classes["Foo"], "FooConfig", &parsed, &ifaces, 0);
        assert!(b.attributes["bucket"].required);
        assert!(!b.blocks["rule"].required);
        assert!(b.blocks["rule"].block.attributes["days"].required);
        assert_eq!(parsed.types, vec![("Foo".to_owned(), "aws_foo".to_owned())]);
    }
}

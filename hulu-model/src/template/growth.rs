//! A static check that refuses chat templates built to exhaust memory.
//!
//! Fuel bounds the instructions a rendering runs and [`super::limits`] its output, but neither
//! bounds memory: `{% set s = s ~ s %}` doubles a string with one instruction, so forty of them
//! (in a loop or written out) ask for a terabyte without writing a byte. minijinja has no
//! memory budget, and no hook runs between its instructions, so the guard is a look at the
//! template before it is ever rendered, over minijinja's own parse tree (its
//! `unstable_machinery` parser, serialised and walked generically, so that a new node kind in
//! a minijinja release is still walked).
//!
//! A template is refused when
//! - an assignment (`set`, `set` block, `ns.attr`) uses the variable it assigns twice or more,
//!   directly or through variables assigned from it (`set t = s` … `set s = s ~ t`): each
//!   run at least doubles it;
//! - an assignment repeats the variable it assigns with `*` (string repetition);
//! - a macro calls itself, directly or through other macros (each level may double its
//!   argument).
//!
//! Real chat templates (Qwen2, Qwen2.5, Qwen3, Hulu-Med, Llama, Mistral) do none of these: they
//! append to a variable at most once per step (`ns.text ~ piece`), which grows linearly and is
//! bounded by fuel. What this does not see (a filter that grows a string quadratically, such as
//! `replace` with the string itself) is bounded by minijinja's own caps (100 MB per string
//! repetition) and by fuel, not by this check.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::machinery::{parse, WhitespaceConfig};
use serde_json::Value as Json;

/// Why a template is refused, or `None` when it passes. `source` must already compile.
pub(crate) fn unbounded_growth(source: &str) -> Option<String> {
    let ws = WhitespaceConfig {
        keep_trailing_newline: false,
        lstrip_blocks: true,
        trim_blocks: true,
    };
    // A template that does not parse is refused by the compiler with a better message.
    let ast = parse(source, "chat", Default::default(), ws).ok()?;
    let tree = serde_json::to_value(&ast).ok()?;
    let mut facts = Facts::default();
    facts.collect(&tree, None);
    facts.verdict()
}

/// One variable reference in an expression: its name and whether it sits under `*`.
#[derive(Debug, Clone)]
struct Ref {
    name: String,
    repeated: bool,
}

/// What the walk learned: every assignment with the references on its right, and the calls
/// each macro makes.
#[derive(Debug, Default)]
struct Facts {
    assignments: Vec<(String, Vec<Ref>)>,
    calls: BTreeMap<String, BTreeSet<String>>,
}

impl Facts {
    fn collect(&mut self, node: &Json, in_macro: Option<&str>) {
        if let Some((kind, payload)) = variant(node) {
            match kind {
                "Set" => {
                    if let Some(target) = payload.get("target").and_then(name_of) {
                        let refs = refs(payload.get("expr").unwrap_or(&Json::Null), false);
                        self.assignments.push((target, refs));
                    }
                }
                "SetBlock" => {
                    if let Some(target) = payload.get("target").and_then(name_of) {
                        let refs = refs(payload.get("body").unwrap_or(&Json::Null), false);
                        self.assignments.push((target, refs));
                    }
                }
                "Macro" => {
                    if let Some(name) = payload.get("name").and_then(Json::as_str) {
                        self.calls.entry(name.to_string()).or_default();
                        for child in children(payload) {
                            self.collect(child, Some(name));
                        }
                        return;
                    }
                }
                "Call" => {
                    if let (Some(caller), Some(callee)) =
                        (in_macro, payload.get("expr").and_then(name_of))
                    {
                        self.calls
                            .entry(caller.to_string())
                            .or_default()
                            .insert(callee);
                    }
                }
                _ => {}
            }
        }
        for child in children(node) {
            self.collect(child, in_macro);
        }
    }

    fn verdict(&self) -> Option<String> {
        let mut sources: BTreeMap<&str, Vec<&Ref>> = BTreeMap::new();
        for (target, refs) in &self.assignments {
            sources.entry(target).or_default().extend(refs.iter());
        }
        for (target, refs) in &self.assignments {
            let mut uses = 0usize;
            for r in refs {
                let n = occurrences(target, r, &sources, &mut BTreeSet::new());
                if n > 0 && r.repeated {
                    return Some(format!(
                        "`{target}` is assigned a repetition (`*`) of itself"
                    ));
                }
                uses += n;
            }
            if uses >= 2 {
                return Some(format!(
                    "`{target}` is assigned an expression using it {uses} times, which at least \
                     doubles it on every run"
                ));
            }
        }
        for name in self.calls.keys() {
            if self.reaches(name, name, &mut BTreeSet::new()) {
                return Some(format!("macro `{name}` calls itself"));
            }
        }
        None
    }

    /// Whether macro `from` calls macro `to`, directly or through other macros.
    fn reaches(&self, from: &str, to: &str, seen: &mut BTreeSet<String>) -> bool {
        let Some(callees) = self.calls.get(from) else {
            return false;
        };
        for callee in callees {
            if callee == to {
                return true;
            }
            if self.calls.contains_key(callee.as_str())
                && seen.insert(callee.clone())
                && self.reaches(callee, to, seen)
            {
                return true;
            }
        }
        false
    }
}

/// How many copies of `target` reference `r` may hold: 1 for `target` itself, else the copies
/// held by what `r` was assigned from (0 for a name assigned nowhere, such as `messages`).
fn occurrences(
    target: &str,
    r: &Ref,
    sources: &BTreeMap<&str, Vec<&Ref>>,
    seen: &mut BTreeSet<String>,
) -> usize {
    if derives_from(&r.name, target) {
        return 1;
    }
    // `c.split` reads `c`: follow the longest prefix that was assigned somewhere.
    let Some(base) = prefixes(&r.name).find(|p| sources.contains_key(p)) else {
        return 0;
    };
    if !seen.insert(base.to_string()) {
        return 0;
    }
    let refs = &sources[base];
    // A name assigned in several places holds what the largest assignment gives it.
    refs.iter()
        .map(|inner| occurrences(target, inner, sources, seen))
        .max()
        .unwrap_or(0)
}

/// Whether a reference reads `target`: the name itself or an attribute or method of it
/// (`s.upper` reads `s`; `ns.other` does not read `ns.text`).
fn derives_from(name: &str, target: &str) -> bool {
    name.strip_prefix(target)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// `a.b.c`, `a.b`, `a`: a dotted name and its prefixes, longest first.
fn prefixes(name: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(name), |n| n.rfind('.').map(|i| &n[..i]))
}

/// The variable references in a subtree, `ns.attr` read as one name.
fn refs(node: &Json, repeated: bool) -> Vec<Ref> {
    let mut out = Vec::new();
    walk_refs(node, repeated, &mut out);
    out
}

fn walk_refs(node: &Json, repeated: bool, out: &mut Vec<Ref>) {
    if let Some((kind, payload)) = variant(node) {
        match kind {
            "Var" | "GetAttr" => {
                if let Some(name) = name_of(node) {
                    out.push(Ref { name, repeated });
                    return;
                }
            }
            "BinOp" if payload.get("op").and_then(Json::as_str) == Some("Mul") => {
                for child in children(payload) {
                    walk_refs(child, true, out);
                }
                return;
            }
            _ => {}
        }
    }
    for child in children(node) {
        walk_refs(child, repeated, out);
    }
}

/// `(variant, payload)` of a serialised AST node: `{"stmt"|"expr": "Kind", "inner": [payload,
/// span]}` (serde's internally tagged form of minijinja's `Stmt` and `Expr`).
fn variant(node: &Json) -> Option<(&str, &Json)> {
    let map = node.as_object()?;
    let kind = ["stmt", "expr"]
        .iter()
        .find_map(|tag| map.get(*tag).and_then(Json::as_str))?;
    let payload = map.get("inner")?.get(0)?;
    Some((kind, payload))
}

/// The name an expression stands for: `x` for a variable, `ns.attr` for an attribute of one.
fn name_of(expr: &Json) -> Option<String> {
    let (kind, payload) = variant(expr)?;
    match kind {
        "Var" => payload.get("id")?.as_str().map(str::to_string),
        "GetAttr" => {
            let base = name_of(payload.get("expr")?)?;
            Some(format!("{base}.{}", payload.get("name")?.as_str()?))
        }
        _ => None,
    }
}

/// The values directly under a JSON node.
fn children(node: &Json) -> Box<dyn Iterator<Item = &Json> + '_> {
    match node {
        Json::Object(map) => Box::new(map.values()),
        Json::Array(items) => Box::new(items.iter()),
        _ => Box::new(std::iter::empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::unbounded_growth;

    #[test]
    fn doubling_in_a_loop_is_refused() {
        let t = "{% set s = 'x' %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}{{ s }}";
        assert!(unbounded_growth(t).unwrap().contains("`s`"));
    }

    #[test]
    fn doubling_written_out_through_an_alias_is_refused() {
        let t = "{% set s = 'x' %}{% set t = s %}{% set s = s ~ t %}{% set s = s ~ t %}";
        assert!(unbounded_growth(t).is_some());
    }

    #[test]
    fn namespace_doubling_and_join_are_refused() {
        let ns = "{% set ns = namespace(s='x') %}{% for i in range(40) %}\
                  {% set ns.s = [ns.s, ns.s] | join('') %}{% endfor %}";
        assert!(unbounded_growth(ns).unwrap().contains("ns.s"));
        let block = "{% set s = 'x' %}{% for i in range(9) %}{% set s %}{{ s }}{{ s }}\
                     {% endset %}{% endfor %}";
        assert!(unbounded_growth(block).is_some());
    }

    #[test]
    fn methods_of_the_variable_count_as_uses() {
        let t = "{% set s = 'x' %}{% for i in range(40) %}{% set s = s.upper() ~ s.lower() %}\
                 {% endfor %}";
        assert!(unbounded_growth(t).is_some());
        let replace = "{% set s = 'ab' %}{% set s = s.replace('a', s) %}";
        assert!(unbounded_growth(replace).is_some());
    }

    #[test]
    fn repetition_of_itself_is_refused() {
        let t = "{% set s = 'x' %}{% for i in range(40) %}{% set s = s * 2 %}{% endfor %}";
        assert!(unbounded_growth(t).unwrap().contains('*'));
    }

    #[test]
    fn recursive_macros_are_refused() {
        let direct = "{% macro d(s, n) %}{{ d(s ~ s, n - 1) }}{% endmacro %}{{ d('x', 40) }}";
        assert!(unbounded_growth(direct).unwrap().contains("macro `d`"));
        let mutual = "{% macro a(s) %}{{ b(s ~ s) }}{% endmacro %}\
                      {% macro b(s) %}{{ a(s ~ s) }}{% endmacro %}{{ a('x') }}";
        assert!(unbounded_growth(mutual).is_some());
    }

    #[test]
    fn linear_appends_and_plain_templates_pass() {
        let t = "{% set ns = namespace(text='') %}{% for m in messages %}\
                 {% set ns.text = ns.text ~ m.content %}{% set c = m.content %}\
                 {% set c = c.split('</think>')[-1] %}{{ c * 1 if false }}{% endfor %}\
                 {% set line = '-' * 10 %}{{ ns.text }}{{ line }}";
        assert_eq!(unbounded_growth(t), None);
    }
}

//! The core's modules only look down: no cycle among them, and SQL spoken by the store alone
//! — both checked on the source itself.
//!
//! Every `.rs` file under `core/src` is a module (`export/select.rs` is `export::select`). A
//! file depends on the modules its code names through `crate::…` or `super::…` paths
//! (comments and `#[cfg(test)]` code aside). Two graphs must be acyclic: the top-level
//! modules (the layers: `fhir` and `store` below `import` and `export`, `shl` and `audit` on
//! top), and the files themselves. A child's use of its parent's `mod.rs` counts; the
//! parent's declaration of its children does not, so a parent and child may work together,
//! but siblings may not lean on each other both ways.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`export::select`) → its source text.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            out.insert(parts.join("::"), text);
        }
    }
    out
}

/// The text before `#[cfg(test)]`, without `//` comments.
fn code_only(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `prefix` path in `code`, as its segments (`crate::store::Snapshot` → store, Snapshot).
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        let mut segments = Vec::new();
        let mut tail = rest;
        loop {
            let end = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            if end == 0 {
                break;
            }
            segments.push(&tail[..end]);
            match tail[end..].strip_prefix("::") {
                Some(t) => tail = t,
                None => break,
            }
        }
        out.push(segments);
    }
    out
}

/// The longest module named by `base` + `segments`.
fn resolve(modules: &BTreeMap<String, String>, base: &[&str], segments: &[&str]) -> String {
    for k in (0..=segments.len()).rev() {
        let candidate: Vec<&str> = base.iter().chain(&segments[..k]).copied().collect();
        let name = candidate.join("::");
        if modules.contains_key(&name) {
            return name;
        }
    }
    String::new()
}

/// File-level dependencies: module → the modules it uses.
fn file_graph(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for (name, text) in modules {
        let code = &code_only(text);
        let own: Vec<&str> = name.split("::").filter(|s| !s.is_empty()).collect();
        let mut uses = BTreeSet::new();
        for segments in paths_after(code, "crate::") {
            uses.insert(resolve(modules, &[], &segments));
        }
        for segments in paths_after(code, "super::") {
            // `super::super::x` climbs once per `super`.
            let up = 1 + segments.iter().take_while(|s| **s == "super").count();
            let base = &own[..own.len().saturating_sub(up)];
            uses.insert(resolve(modules, base, &segments[up - 1..]));
        }
        uses.remove(name);
        graph.insert(name.clone(), uses);
    }
    graph
}

/// The top-level modules each top-level module uses.
fn layer_graph(files: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, BTreeSet<String>> {
    let top = |m: &str| m.split("::").next().unwrap_or_default().to_string();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, uses) in files {
        let from = top(m);
        let entry = graph.entry(from.clone()).or_default();
        entry.extend(
            uses.iter()
                .map(|u| top(u))
                .filter(|u| *u != from && !u.is_empty()),
        );
    }
    graph
}

/// One cycle of `graph`, as the modules along it, if there is one.
fn a_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_string(), Mark::Open);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next.as_str()) {
                Some(Mark::Open) => {
                    let from = path.iter().position(|p| p == next).unwrap_or(0);
                    let mut cycle = path[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(Mark::Done) => {}
                None => {
                    if let Some(c) = visit(next, graph, marks, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if !marks.contains_key(node.as_str())
            && let Some(c) = visit(node, graph, &mut marks, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_core_s_layers_only_look_down() {
    let files = file_graph(&modules());
    let layers = layer_graph(&files);
    assert!(layers.len() > 10, "the check sees the modules: {layers:?}");
    assert!(
        layers["export"].contains("store") && layers["import"].contains("store"),
        "the check sees dependencies: {layers:?}"
    );
    if let Some(cycle) = a_cycle(&layers) {
        panic!(
            "modules depend on each other in a cycle: {}",
            cycle.join(" → ")
        );
    }
    if let Some(cycle) = a_cycle(&files) {
        panic!(
            "files depend on each other in a cycle: {}",
            cycle.join(" → ")
        );
    }
}

#[test]
fn the_check_finds_a_cycle_when_there_is_one() {
    let mut modules = BTreeMap::new();
    modules.insert("a".to_string(), "use crate::b::Thing;".to_string());
    modules.insert("b".to_string(), "fn f() { crate::c::g() }".to_string());
    modules.insert(
        "c".to_string(),
        "use super::a; // crate::nothing".to_string(),
    );
    modules.insert("c::d".to_string(), "use super::super::b;".to_string());
    let files = file_graph(&modules);
    assert_eq!(
        a_cycle(&layer_graph(&files)),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    // Without c's use of a (now in a comment), and d leaning on its parent only: no cycle.
    modules.insert("c".to_string(), "// use crate::a;".to_string());
    modules.insert("c::d".to_string(), "use super::Thing;".to_string());
    let files = file_graph(&modules);
    assert!(files["c::d"].contains("c"), "{files:?}");
    assert_eq!(a_cycle(&layer_graph(&files)), None);
    assert_eq!(a_cycle(&files), None);
}

/// Words that only SQL text (or the SQLite bindings) would put in the code.
const SQL_MARKERS: [&str; 9] = [
    "rusqlite",
    "SELECT ",
    "INSERT INTO",
    "INSERT OR",
    "UPDATE resource",
    "DELETE FROM",
    "CREATE TABLE",
    "PRAGMA",
    "BEGIN ",
];

/// Modules outside `store` whose code holds one of [`SQL_MARKERS`], with the marker.
fn sql_outside_store(modules: &BTreeMap<String, String>) -> Vec<(String, &'static str)> {
    let mut found = Vec::new();
    for (name, text) in modules {
        // The opaque wrapper of SQLite's error is the one exception (see its module doc).
        if name == "store" || name.starts_with("store::") || name == "error::storage" {
            continue;
        }
        let code = code_only(text);
        for marker in SQL_MARKERS {
            if code.contains(marker) {
                found.push((name.clone(), marker));
            }
        }
    }
    found
}

#[test]
fn only_the_store_speaks_sql() {
    let modules = modules();
    assert!(
        sql_outside_store(&modules).is_empty(),
        "SQL or rusqlite outside core/src/store/: {:?}",
        sql_outside_store(&modules)
    );
    let store_sql: usize = modules
        .iter()
        .filter(|(n, _)| n.starts_with("store"))
        .map(|(_, t)| SQL_MARKERS.iter().filter(|m| t.contains(*m)).count())
        .sum();
    assert!(store_sql > 5, "the check sees the store's own SQL");
    let mut planted = BTreeMap::new();
    planted.insert(
        "export::select".to_string(),
        "fn f(c: &rusqlite::Connection) { c.execute(\"DELETE FROM x\", []); }".to_string(),
    );
    assert_eq!(
        sql_outside_store(&planted),
        vec![
            ("export::select".to_string(), "rusqlite"),
            ("export::select".to_string(), "DELETE FROM"),
        ]
    );
}

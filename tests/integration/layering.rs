//! The crate's layering, checked from its source: every `crate::`, `super::`, `self::` and
//! child-module path in `src/` is an edge from the file it is written in to the file of the module
//! it names. Two rules hold:
//! - top-level modules import only the layers below them ([`ALLOWED`]);
//! - the graph of files has no circle (a parent that uses a child which uses the parent counts).
//!
//! Unit-test modules (`#[cfg(test)] mod tests` at the end of a file) and comments are left out:
//! tests may reach anywhere, and a doc link is not a dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::root;

/// Each top-level module and the top-level modules it may import. `error` is the user-facing
/// error type (file, key path, hint): a leaf every layer above the domain may use.
const ALLOWED: &[(&str, &[&str])] = &[
    ("sim", &[]),
    ("error", &[]),
    ("domain", &["sim"]),
    ("experiment", &["sim", "domain", "error"]),
    ("report", &["error"]),
    (
        "runner",
        &["sim", "domain", "experiment", "report", "error"],
    ),
    (
        "calibrate",
        &["sim", "domain", "experiment", "runner", "report", "error"],
    ),
    (
        "views",
        &["sim", "domain", "experiment", "runner", "report", "error"],
    ),
    (
        "cli",
        &[
            "sim",
            "domain",
            "experiment",
            "runner",
            "report",
            "views",
            "calibrate",
            "error",
        ],
    ),
];

/// One source file: its module path (`["domain", "serving"]` for `src/domain/serving/mod.rs`).
#[derive(Debug)]
struct SourceFile {
    module: Vec<String>,
    text: String,
}

fn read_sources() -> Vec<SourceFile> {
    let mut out = Vec::new();
    walk(&root().join("src"), &mut Vec::new(), &mut out);
    out.sort_by(|a, b| a.module.cmp(&b.module));
    out
}

fn walk(dir: &Path, prefix: &mut Vec<String>, out: &mut Vec<SourceFile>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            prefix.push(name);
            walk(&path, prefix, out);
            prefix.pop();
        } else if let Some(stem) = name.strip_suffix(".rs") {
            // main.rs is the binary: it sees the library from outside, as `capsim::`.
            if prefix.is_empty() && stem == "main" {
                continue;
            }
            let mut module = prefix.clone();
            if stem != "mod" && stem != "lib" {
                module.push(stem.to_string());
            }
            let text = std::fs::read_to_string(&path).expect("source is UTF-8");
            out.push(SourceFile {
                module,
                text: strip(&text),
            });
        }
    }
}

/// The code of a file without its comments and its trailing unit-test module.
fn strip(text: &str) -> String {
    let mut kept = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|n| n.trim_start().starts_with("mod "))
        {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        kept.push(line);
    }
    kept.join("\n")
}

/// Every path written in `code` that starts with `crate`, `super`, `self` or one of `children`,
/// as its segments (groups `{a, b::c}` expanded), `*` dropped.
fn paths(code: &str, children: &BTreeSet<&str>) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !is_ident(bytes[i]) || (i > 0 && (is_ident(bytes[i - 1]) || bytes[i - 1] == b'$')) {
            i += 1;
            continue;
        }
        // Skip segments that continue a longer path (`a::b` seen from `b`).
        if i >= 2 && &bytes[i - 2..i] == b"::" {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        let word = &code[start..i];
        let rooted = matches!(word, "crate" | "super" | "self") || children.contains(word);
        if rooted && code[i..].starts_with("::") {
            let (mut found, end) = parse_path(code, start);
            out.append(&mut found);
            i = end;
        }
    }
    out
}

/// Parses the path starting at `at` (which may contain groups); returns every full path and the
/// index after it.
fn parse_path(code: &str, at: usize) -> (Vec<Vec<String>>, usize) {
    let bytes = code.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut segs = Vec::new();
    let mut i = at;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < bytes.len() && bytes[i] == b'{' {
            // A group: each comma-separated item at depth 0 is a path relative to `segs`.
            let mut depth = 0;
            let mut j = i + 1;
            let mut item_start = j;
            let mut out = Vec::new();
            while j < bytes.len() {
                match bytes[j] {
                    b'{' => depth += 1,
                    b'}' if depth == 0 => break,
                    b'}' => depth -= 1,
                    b',' if depth == 0 => {
                        push_item(code, item_start, j, &segs, &mut out);
                        item_start = j + 1;
                    }
                    _ => {}
                }
                j += 1;
            }
            push_item(code, item_start, j, &segs, &mut out);
            return (out, j + 1);
        }
        let start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        if start == i {
            // `*` or the end of the path.
            return (vec![segs], i);
        }
        segs.push(code[start..i].to_string());
        if code[i..].starts_with("::") {
            i += 2;
        } else {
            return (vec![segs], i);
        }
    }
}

fn push_item(code: &str, from: usize, to: usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let item = code[from..to].trim();
    if item.is_empty() {
        return;
    }
    let sub = item.split(" as ").next().unwrap_or(item).trim();
    if sub == "self" || sub == "*" {
        out.push(prefix.to_vec());
        return;
    }
    let (found, _) = parse_path(sub, 0);
    for f in found {
        let mut p = prefix.to_vec();
        p.extend(f);
        out.push(p);
    }
}

/// The file-module a path written in `from` lands in: the longest known module prefix of its
/// absolute form.
fn resolve(from: &[String], path: &[String], modules: &BTreeSet<Vec<String>>) -> Vec<String> {
    let mut abs: Vec<String> = Vec::new();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => rest = &path[1..],
        Some("self") => {
            abs = from.to_vec();
            rest = &path[1..];
        }
        Some("super") => {
            abs = from.to_vec();
            while rest.first().map(String::as_str) == Some("super") {
                abs.pop();
                rest = &rest[1..];
            }
        }
        _ => abs = from.to_vec(),
    }
    abs.extend(rest.iter().cloned());
    while !modules.contains(&abs) {
        abs.pop();
    }
    abs
}

/// Edges between file-modules (self-edges dropped).
fn graph(files: &[SourceFile]) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let mut edges = BTreeMap::new();
    for f in files {
        let children: BTreeSet<&str> = modules
            .iter()
            .filter(|m| m.len() == f.module.len() + 1 && m.starts_with(&f.module))
            .map(|m| m.last().unwrap().as_str())
            .collect();
        let to: &mut BTreeSet<Vec<String>> = edges.entry(f.module.clone()).or_default();
        for p in paths(&f.text, &children) {
            let target = resolve(&f.module, &p, &modules);
            // The crate root only declares modules; an edge to it says nothing.
            if target != f.module && !target.is_empty() {
                to.insert(target);
            }
        }
    }
    edges
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

#[test]
fn every_import_points_down_the_layer_order() {
    let files = read_sources();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (from, tos) in graph(&files) {
        let Some(top) = from.first() else { continue };
        let Some(ok) = allowed.get(top.as_str()) else {
            wrong.push(format!(
                "src module `{top}` has no place in the layer table; add it to ALLOWED"
            ));
            continue;
        };
        for to in tos {
            let other = &to[0];
            if other != top && !ok.contains(&other.as_str()) {
                wrong.push(format!("{} imports {}", name(&from), name(&to)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layer order (sim < domain < experiment < runner < views < cli; report sees only error):\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn the_file_import_graph_has_no_circles() {
    let files = read_sources();
    let edges = graph(&files);
    // Tarjan's strongly connected components; any component of more than one file is a circle.
    struct Tarjan<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a [String], usize>,
        low: BTreeMap<&'a [String], usize>,
        stack: Vec<&'a [String]>,
        on: BTreeSet<&'a [String]>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a [String]) {
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            self.on.insert(v);
            if let Some(out) = self.edges.get(v) {
                for w in out {
                    let w = w.as_slice();
                    if !self.index.contains_key(w) {
                        self.visit(w);
                        let lw = self.low[w];
                        let lv = self.low.get_mut(v).unwrap();
                        *lv = (*lv).min(lw);
                    } else if self.on.contains(w) {
                        let iw = self.index[w];
                        let lv = self.low.get_mut(v).unwrap();
                        *lv = (*lv).min(iw);
                    }
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on.remove(w);
                    comp.push(name(w));
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    self.found.push(comp);
                }
            }
        }
    }
    let mut t = Tarjan {
        edges: &edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_slice()) {
            t.visit(v);
        }
    }
    let text: Vec<String> = t.found.iter().map(|c| c.join(" <-> ")).collect();
    assert!(
        text.is_empty(),
        "files that import each other (move what they share into a file of its own):\n  {}",
        text.join("\n  ")
    );
}

#[test]
fn the_layer_checker_sees_groups_children_and_super() {
    let children: BTreeSet<&str> = ["table"].into_iter().collect();
    let found = paths(
        "use crate::{domain::serving::{Event, Notice}, sim};\nuse super::*;\nlet x = table::render();\nlet y = $crate::foo::bar;",
        &children,
    );
    let text: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        text,
        [
            "crate::domain::serving::Event",
            "crate::domain::serving::Notice",
            "crate::sim",
            "super",
            "table::render",
        ]
    );
}

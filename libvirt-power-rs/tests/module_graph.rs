// SPDX-License-Identifier: LGPL-2.1-or-later
//! CI check: the crate's modules import each other without a circle.
//!
//! Every `.rs` file under `src/` belongs to a module path (`src/x.rs` and
//! `src/x/mod.rs` are `x`, `src/x/y.rs` is `x::y`; `lib.rs` is the root and
//! only tells which names it re-exports). Outside comments and string
//! literals, each `crate::...`, `super::...` and `self::...` path (in `use`
//! trees and in expressions, `#[cfg(test)]` code included) is resolved to
//! the module it names. A reference from module `a::p` to `a::q` is an edge
//! `p -> q` in folder `a`; between top-level modules it is an edge of the
//! top-level graph. A parent naming its own child (re-exports) and a child
//! naming its parent are not edges. The test fails, printing the circle and
//! the line each of its edges comes from, if the top-level graph or the
//! graph of any folder module has a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A token of Rust source with comments and literals removed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    PathSep,
    Open,
    Close,
    Other(char),
}

/// Tokens of `src` with their line numbers. Comments (`//`, `/* */`,
/// nested), string, byte-string, raw-string and char literals are dropped;
/// lifetimes are skipped.
fn tokenize(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let newlines = |from: usize, to: usize| c[from..to].iter().filter(|&&x| x == '\n').count();
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let (start, mut depth) = (i, 0usize);
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            line += newlines(start, i);
        } else if let Some(end) = raw_string_end(&c, i) {
            line += newlines(i, end);
            i = end;
        } else if ch == '"' || (ch == 'b' && next == Some('"')) {
            let start = i;
            i += if ch == 'b' { 2 } else { 1 };
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            line += newlines(start, i.min(c.len()));
        } else if ch == '\'' || (ch == 'b' && next == Some('\'')) {
            let q = if ch == 'b' { i + 1 } else { i };
            if c.get(q + 1) == Some(&'\\') {
                // Escaped char literal: up to the closing quote.
                i = q + 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(q + 2) == Some(&'\'') {
                i = q + 3; // 'x'
            } else {
                i = q + 1; // a lifetime or label: the name follows
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            // Raw identifiers: r#name
            if word == "r" && c.get(i) == Some(&'#') {
                i += 1;
                continue;
            }
            out.push((Tok::Ident(word), line));
        } else if ch == ':' && next == Some(':') {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((
                match ch {
                    '{' => Tok::Open,
                    '}' => Tok::Close,
                    other => Tok::Other(other),
                },
                line,
            ));
            i += 1;
        }
    }
    out
}

/// If a raw (byte) string literal starts at `i`, the index after it.
fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if c.get(j) == Some(&'b') {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if c.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < c.len() {
        if c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(c.len())
}

/// Expands the path (or `use` tree) that starts at `toks[i]` into its paths
/// (identifier segments). Stops at anything that cannot continue a path.
fn expand(toks: &[(Tok, usize)], i: &mut usize) -> Vec<Vec<String>> {
    let mut prefix = Vec::new();
    loop {
        match toks.get(*i).map(|t| &t.0) {
            Some(Tok::Ident(w)) => {
                prefix.push(w.clone());
                *i += 1;
            }
            Some(Tok::Open) => {
                *i += 1;
                let mut paths = Vec::new();
                loop {
                    match toks.get(*i).map(|t| &t.0) {
                        None => break,
                        Some(Tok::Close) => {
                            *i += 1;
                            break;
                        }
                        Some(Tok::Other(',')) => *i += 1,
                        Some(Tok::Ident(_) | Tok::Open) => {
                            for p in expand(toks, i) {
                                let mut full = prefix.clone();
                                full.extend(p);
                                paths.push(full);
                            }
                            // Skip `as alias` and anything else up to , or }.
                            while !matches!(
                                toks.get(*i).map(|t| &t.0),
                                None | Some(Tok::Other(',') | Tok::Close)
                            ) {
                                *i += 1;
                            }
                        }
                        Some(_) => *i += 1,
                    }
                }
                return paths;
            }
            _ => return vec![prefix],
        }
        if toks.get(*i).map(|t| &t.0) == Some(&Tok::PathSep) {
            *i += 1;
        } else {
            return vec![prefix];
        }
    }
}

/// One reference: the module path of the code that makes it, the path it
/// names (absolute, without `crate`), and its line.
#[derive(Debug, Clone)]
struct Reference {
    from: Vec<String>,
    to: Vec<String>,
    line: usize,
}

/// The references made by the source of module `module`. Inline modules
/// (`mod tests { ... }`) are tracked, so `super::` inside them resolves to
/// the file's own module.
fn references(module: &[String], src: &str) -> Vec<Reference> {
    let toks = tokenize(src);
    let mut out = Vec::new();
    // (module path, brace depth at which the inline module closes)
    let mut stack: Vec<(Vec<String>, usize)> = vec![(module.to_vec(), 0)];
    let mut depth = 0usize;
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    while i < toks.len() {
        let (tok, line) = (&toks[i].0, toks[i].1);
        let here = stack.last().map(|s| s.0.clone()).unwrap_or_default();
        match tok {
            Tok::Open => {
                depth += 1;
                if let Some(name) = pending_mod.take() {
                    let mut inner = here.clone();
                    inner.push(name);
                    stack.push((inner, depth));
                }
                i += 1;
                continue;
            }
            Tok::Close => {
                if stack.len() > 1 && stack.last().is_some_and(|s| s.1 == depth) {
                    stack.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
                continue;
            }
            Tok::Ident(w) if w == "mod" => {
                if let Some((Tok::Ident(name), _)) = toks.get(i + 1) {
                    pending_mod = Some(name.clone());
                    i += 2;
                    continue;
                }
            }
            Tok::Other(';') => pending_mod = None,
            _ => {}
        }
        let starts_path = matches!(tok, Tok::Ident(w) if w == "crate" || w == "super" || w == "self")
            && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::PathSep)
            && !(i > 0 && toks[i - 1].0 == Tok::PathSep);
        if !starts_path {
            i += 1;
            continue;
        }
        for path in expand(&toks, &mut i) {
            if let Some(to) = resolve(&here, &path) {
                out.push(Reference {
                    from: here.clone(),
                    to,
                    line,
                });
            }
        }
    }
    out
}

/// Resolves `crate::`, `super::` and `self::` against the module `here`.
fn resolve(here: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut base: Vec<String> = here.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    base.extend(rest.iter().filter(|s| s.as_str() != "self").cloned());
    Some(base)
}

/// The module tree: for each module path that is a folder, its children.
#[derive(Debug, Default)]
struct Tree {
    /// Every module path that has a file.
    modules: BTreeSet<Vec<String>>,
}

impl Tree {
    /// The longest prefix of `path` that is a module.
    fn module_of(&self, path: &[String]) -> Vec<String> {
        (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| self.modules.contains(p))
            .unwrap_or_default()
    }
}

/// Edges of one graph, with where each comes from.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

/// The graphs: key `""` is the top level, `"a"` the folder module `a`.
fn graphs(
    files: &[(Vec<String>, String, String)],
    root_exports: &BTreeMap<String, String>,
) -> BTreeMap<String, Graph> {
    let mut tree = Tree::default();
    for (m, _, _) in files {
        tree.modules.insert(m.clone());
    }
    let mut out: BTreeMap<String, Graph> = BTreeMap::new();
    for (m, file, src) in files {
        for r in references(m, src) {
            let mut to = r.to.clone();
            // `crate::Name` re-exported by lib.rs: the module it comes from.
            if to.len() == 1
                && let Some(owner) = root_exports.get(&to[0])
            {
                to = vec![owner.clone(), to[0].clone()];
            }
            let target = tree.module_of(&to);
            let common = r
                .from
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            let (Some(a), Some(b)) = (r.from.get(common), target.get(common)) else {
                continue; // same module, parent, or child
            };
            if !tree.modules.contains(&r.from[..=common]) {
                continue; // an inline module of the file: same file
            }
            out.entry(r.from[..common].join("::"))
                .or_default()
                .entry(a.clone())
                .or_default()
                .entry(b.clone())
                .or_insert_with(|| format!("{file}:{}", r.line));
        }
    }
    out
}

/// A cycle of `graph` as `a -> b -> ... -> a`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in graph.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    // Start the circle at its smallest name, so that one
                    // circle always prints the same way.
                    let at = stack.iter().position(|s| s == m).unwrap_or(0);
                    let mut cycle = stack[at..].to_vec();
                    let min = (0..cycle.len()).min_by_key(|&k| &cycle[k]).unwrap_or(0);
                    cycle.rotate_left(min);
                    cycle.push(cycle[0].clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(m, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, graph, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

/// The module path of a file relative to `src/` (`None` for `lib.rs`).
fn module_path(rel: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    if parts.is_empty() && (stem == "lib" || stem == "main") {
        return None;
    }
    if stem != "mod" {
        parts.push(stem.to_owned());
    }
    Some(parts)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Names lib.rs re-exports (`pub use error::{Error, Result}`), with the
/// top-level module each comes from.
fn root_exports(lib_src: &str) -> BTreeMap<String, String> {
    let toks = tokenize(lib_src);
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i].0 == Tok::Ident("use".into()) {
            i += 1;
            for p in expand(&toks, &mut i) {
                let p: Vec<&String> = p.iter().filter(|s| s.as_str() != "crate").collect();
                if p.len() >= 2 {
                    out.insert(p[p.len() - 1].clone(), p[0].clone());
                }
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Every cycle problem of the crate under `src`, as printable lines.
fn check(src: &Path) -> Vec<String> {
    let mut paths = Vec::new();
    rust_files(src, &mut paths);
    let mut files = Vec::new();
    let mut exports = BTreeMap::new();
    for p in &paths {
        let rel = p.strip_prefix(src).expect("under src");
        let text = fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        match module_path(rel) {
            Some(m) => files.push((m, format!("src/{}", rel.display()), text)),
            None => exports = root_exports(&text),
        }
    }
    let mut problems = Vec::new();
    for (folder, graph) in graphs(&files, &exports) {
        let simple: BTreeMap<String, BTreeSet<String>> = graph
            .iter()
            .map(|(a, bs)| (a.clone(), bs.keys().cloned().collect()))
            .collect();
        if let Some(cycle) = find_cycle(&simple) {
            let place = if folder.is_empty() {
                String::new()
            } else {
                format!(" in {folder}/")
            };
            let mut msg = format!("import cycle{place}: {}", cycle.join(" -> "));
            for w in cycle.windows(2) {
                msg.push_str(&format!(
                    "\n    {} -> {}: {}",
                    w[0], w[1], graph[&w[0]][&w[1]]
                ));
            }
            problems.push(msg);
        }
    }
    problems
}

/// Every edge, for the log: `a -> b, c` for the top level, `f/: a -> b`
/// within folder module `f`.
fn edges(src: &Path) -> Vec<String> {
    let mut paths = Vec::new();
    rust_files(src, &mut paths);
    let mut files = Vec::new();
    let mut exports = BTreeMap::new();
    for p in &paths {
        let rel = p.strip_prefix(src).expect("under src");
        let text = fs::read_to_string(p).expect("read");
        match module_path(rel) {
            Some(m) => files.push((m, format!("src/{}", rel.display()), text)),
            None => exports = root_exports(&text),
        }
    }
    let mut out = Vec::new();
    for (folder, graph) in graphs(&files, &exports) {
        let place = if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}/: ")
        };
        for (a, bs) in graph {
            let to: Vec<String> = bs.into_keys().collect();
            out.push(format!("{place}{a} -> {}", to.join(", ")));
        }
    }
    out
}

#[test]
fn no_import_cycles() {
    // MODULE_GRAPH_SRC checks another tree (e.g. a merge preview).
    let src = std::env::var_os("MODULE_GRAPH_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    for line in edges(&src) {
        println!("{line}");
    }
    let problems = check(&src);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn graph_of(edges: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, b) in edges {
        g.entry((*a).to_owned())
            .or_default()
            .insert((*b).to_owned());
    }
    g
}

#[test]
fn a_made_up_cycle_is_found() {
    let g = graph_of(&[
        ("error", "perf"),
        ("perf", "cpulist"),
        ("cpulist", "error"),
        ("host", "error"),
    ]);
    assert_eq!(
        find_cycle(&g).map(|c| c.join(" -> ")),
        Some("cpulist -> error -> perf -> cpulist".to_owned())
    );
    let g = graph_of(&[("host", "error"), ("host", "sysfs"), ("sysfs", "error")]);
    assert_eq!(find_cycle(&g), None);
    assert_eq!(
        find_cycle(&graph_of(&[("a", "a")])),
        Some(vec!["a".to_owned(), "a".to_owned()])
    );
}

#[test]
fn made_up_sources_give_their_edges() {
    let m = |s: &str| s.split("::").map(str::to_owned).collect::<Vec<_>>();
    let file = |path: &str, src: &str| (m(path), format!("src/{path}.rs"), src.to_owned());
    let files = vec![
        file(
            "error",
            r##"
            // use crate::ffi;  (a comment)
            /* crate::perf::X /* nested */ crate::perf */
            const S: &str = "crate::perf::PerfError";
            const R: &str = r#"crate::cpulist"#;
            const C: char = '"';
            fn f<'a>(x: &'a str) -> crate::sysfs::SysfsRoot { todo!() }
            "##,
        ),
        file("sysfs", "use crate::{error::{Error, Result}, Error as E};"),
        file("ffi", "pub mod types;"),
        file(
            "ffi::types",
            "use super::calls::x; mod tests { use super::*; }",
        ),
        file("ffi::calls", "use crate::ffi::types::T; use crate::host;"),
        file("host", "use crate::ffi::calls::Y;"),
    ];
    let exports = BTreeMap::from([("Error".to_owned(), "error".to_owned())]);
    let g = graphs(&files, &exports);
    let top: Vec<(String, Vec<String>)> = g[""]
        .iter()
        .map(|(a, bs)| (a.clone(), bs.keys().cloned().collect()))
        .collect();
    assert_eq!(
        top,
        vec![
            ("error".to_owned(), vec!["sysfs".to_owned()]),
            ("ffi".to_owned(), vec!["host".to_owned()]),
            ("host".to_owned(), vec!["ffi".to_owned()]),
            ("sysfs".to_owned(), vec!["error".to_owned()]),
        ]
    );
    let sub: Vec<(String, Vec<String>)> = g["ffi"]
        .iter()
        .map(|(a, bs)| (a.clone(), bs.keys().cloned().collect()))
        .collect();
    assert_eq!(
        sub,
        vec![
            ("calls".to_owned(), vec!["types".to_owned()]),
            ("types".to_owned(), vec!["calls".to_owned()]),
        ]
    );
    assert_eq!(g["ffi"]["types"]["calls"], "src/ffi::types.rs:1");
}

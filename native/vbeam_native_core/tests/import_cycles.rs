//! The core's modules import each other in no circle: each rests on the
//! ones below it, so any one can be read, tested and changed knowing only
//! those.
//!
//! A module here is a top-level module of the crate: `src/NAME.rs` with
//! every file under `src/NAME/` (its submodules belong to it). Module A
//! imports module B when a file of A names a path `crate::B…`, in a `use`
//! declaration or written out in the code (tests included); `lib.rs`,
//! which only declares the modules and re-exports the compile functions,
//! is none. A re-exported name (`crate::compile_term`) counts as its
//! module (`compile`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Where module `from` names module `to`: `file:line`.
type Imports = BTreeMap<String, BTreeMap<String, String>>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The modules `lib.rs` declares, and the names it re-exports with the
/// module each comes from.
fn modules() -> (BTreeSet<String>, BTreeMap<String, String>) {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let mut modules = BTreeSet::new();
    let mut reexports = BTreeMap::new();
    for line in lib.lines() {
        if let Some(name) = line.strip_prefix("pub mod ").and_then(|l| l.strip_suffix(';')) {
            modules.insert(name.to_string());
        } else if let Some(rest) = line.strip_prefix("pub use ") {
            let (module, names) = rest.split_once("::").expect("pub use MODULE::…");
            for name in names.trim_matches(|c| "{};".contains(c)).split(',') {
                reexports.insert(name.trim().to_string(), module.to_string());
            }
        }
    }
    (modules, reexports)
}

/// The `.rs` files of `dir`, recursively.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The module a file belongs to, `None` for `lib.rs`.
fn module_of(file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src()).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_str().unwrap();
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_string())
}

fn imports() -> Imports {
    let (modules, reexports) = modules();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let mut imports = Imports::new();
    for file in files {
        let Some(from) = module_of(&file) else { continue };
        assert!(modules.contains(&from), "{} is in no module lib.rs declares", file.display());
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap();
            for (at, _) in code.match_indices("crate::") {
                let name: String =
                    code[at + "crate::".len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                let to = match reexports.get(&name) {
                    Some(module) => module.clone(),
                    None if modules.contains(&name) => name,
                    None => continue,
                };
                if to != from {
                    let place = format!("{}:{}", file.strip_prefix(src()).unwrap().display(), number + 1);
                    imports.entry(from.clone()).or_default().entry(to).or_insert(place);
                }
            }
        }
    }
    imports
}

/// A circle of imports through `from`, if there is one: the modules in
/// order, back to `from`.
fn circle_through(imports: &Imports, from: &str) -> Option<Vec<String>> {
    // Depth first from `from`, remembering the way taken to each module.
    let mut way: BTreeMap<&str, &str> = BTreeMap::new();
    let mut pending = vec![from];
    while let Some(at) = pending.pop() {
        for to in imports.get(at).into_iter().flat_map(|m| m.keys()) {
            if to == from {
                let mut circle = vec![from.to_string()];
                let mut back = at;
                while back != from {
                    circle.push(back.to_string());
                    back = way[back];
                }
                circle[1..].reverse();
                circle.push(from.to_string());
                return Some(circle);
            }
            if !way.contains_key(to.as_str()) {
                way.insert(to, at);
                pending.push(to);
            }
        }
    }
    None
}

#[test]
fn modules_import_each_other_in_no_circle() {
    let imports = imports();
    assert!(imports.len() > 10, "too few modules found: {imports:?}");
    let mut circles = Vec::new();
    for from in imports.keys() {
        if let Some(circle) = circle_through(&imports, from) {
            let steps: Vec<String> =
                circle.windows(2).map(|w| format!("{} -> {} ({})", w[0], w[1], imports[&w[0]][&w[1]])).collect();
            circles.push(steps.join("\n  "));
        }
    }
    assert!(circles.is_empty(), "import circles:\n  {}", circles.join("\n\n  "));
}

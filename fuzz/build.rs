//! Embeds the repository's fixtures (`test/fixtures/*.ir`) for the
//! structured target to mutate.

use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test/fixtures");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "ir")).collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out = String::from("[\n");
    for f in files {
        let name = f.file_name().expect("a file name").to_string_lossy().into_owned();
        let path = f.canonicalize().expect("a fixture path");
        out.push_str(&format!("    ({name:?}, include_str!({:?})),\n", path.display().to_string()));
    }
    out.push(']');
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("fixtures.rs");
    std::fs::write(dest, out).expect("fixtures.rs written");
}

//! Shows what a fuzz input is and what compiling it gives:
//! `cargo run --release --example show -- TARGET FILE...` (TARGET is
//! `bytes` or `structured`). For `structured`, and for `bytes` read as
//! ETF, the module is printed as `.ir` text (`--quiet`: only the results);
//! then the result of compiling it with its own keys and for every
//! instruction set and format. `--stats N` instead builds N structured
//! modules from pseudo-random inputs and counts the results by kind
//! (`CHAOS=0` fixes the generator's chaos level, `SHOW=Kind` prints the
//! errors of that kind, `FULL=1` with it the modules).

use std::collections::BTreeMap;

use vbeam_native_core::compile_term;
use vbeam_native_fuzz::etf::{self, Etf};
use vbeam_native_fuzz::text::to_text;
use vbeam_native_fuzz::{structured_module, FORMATS, ISAS};

fn results<T: vbeam_native_core::term::Term + std::fmt::Debug + Send + Sync>(term: &T) {
    let show = |r: Result<Vec<u8>, vbeam_native_core::error::Error<T>>| match r {
        Ok(f) => format!("ok, {} bytes", f.len()),
        Err(e) => format!("error: {e}"),
    };
    println!("own keys: {}", show(compile_term(term, None, None)));
    for isa in ISAS {
        for format in FORMATS {
            println!("{} {}: {}", isa.name(), format.name(), show(compile_term(term, Some(isa), Some(format))));
        }
    }
}

fn stats(n: usize) {
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..n {
        let data: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let module = match std::env::var("CHAOS").ok().and_then(|c| c.parse().ok()) {
            Some(chaos) => {
                let mut u = arbitrary::Unstructured::new(&data);
                vbeam_native_fuzz::gen::Gen::with_chaos(&mut u, chaos).module().ok()
            }
            None => structured_module(&data),
        };
        let Some(m) = module else {
            *kinds.entry("not built".into()).or_default() += 1;
            continue;
        };
        let kind = match compile_term(&Etf(&m), None, None) {
            Ok(_) => "ok".to_string(),
            Err(e) => {
                let d = format!("{e:?}");
                if std::env::var("SHOW").is_ok_and(|k| d.contains(&k)) {
                    println!("{e}");
                    if std::env::var("FULL").is_ok() {
                        print!("{}", to_text(&m));
                    }
                }
                d.split(['(', ' ', '{']).take(2).collect::<Vec<_>>().join(" ")
            }
        };
        *kinds.entry(kind).or_default() += 1;
    }
    for (k, v) in kinds {
        println!("{v:6} {k}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--stats") {
        return stats(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(1000));
    }
    let quiet = args.iter().any(|a| a == "--quiet");
    let mut args = args.into_iter().filter(|a| a != "--quiet");
    let target = args.next().expect("usage: show TARGET FILE...");
    for file in args {
        let data = std::fs::read(&file).expect("a readable file");
        println!("== {file}");
        match target.as_str() {
            "structured" => match structured_module(&data) {
                Some(m) => {
                    if !quiet {
                        print!("{}", to_text(&m));
                    }
                    results(&Etf(&m));
                }
                None => println!("no module"),
            },
            _ => {
                if let Some(term) = etf::decode(&data) {
                    if !quiet {
                        print!("ETF: {}", to_text(&term));
                    }
                    results(&Etf(&term));
                } else if let Ok(text) = std::str::from_utf8(&data) {
                    match vbeam_native_ir_text::parse(text) {
                        Ok(v) => results(&&v),
                        Err(e) => println!("text: {e}"),
                    }
                } else {
                    println!("neither ETF nor text");
                }
            }
        }
    }
}

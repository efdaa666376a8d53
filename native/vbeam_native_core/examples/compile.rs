//! Compiles an `.ir` file without the BEAM and reports how long each step
//! took: `cargo run --release --example compile -- in.ir [out]`.

use std::time::Instant;

use vbeam_native_core::{compile::compile, decode::decode_module};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let input = args.get(1).expect("usage: compile IN.ir [OUT]");
    let text = std::fs::read_to_string(input).expect("readable input");
    let t0 = Instant::now();
    let term = vbeam_native_ir_text::parse(&text).expect("an IR term");
    let t1 = Instant::now();
    let module = decode_module(&&term, None, None).unwrap_or_else(|e| panic!("{e}"));
    let decoded = t1.elapsed();
    // VBEAM_REPEAT=N compiles N more times first (for profiling).
    let repeat: usize = std::env::var("VBEAM_REPEAT").ok().and_then(|n| n.parse().ok()).unwrap_or(0);
    let mut best = f64::INFINITY;
    for _ in 0..repeat {
        let copy = module.clone();
        let t = Instant::now();
        compile(copy).unwrap_or_else(|e| panic!("{e}"));
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    if repeat > 0 {
        eprintln!("best of {repeat} compiles: {best:.1} ms");
    }
    let t2 = Instant::now();
    let binary = compile(module).unwrap_or_else(|e| panic!("{e}"));
    let t3 = Instant::now();
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    eprintln!(
        "parsed text in {:.1} ms, decoded in {:.1} ms, compiled in {:.1} ms, {} bytes",
        ms(t0, t1),
        decoded.as_secs_f64() * 1e3,
        ms(t2, t3),
        binary.len()
    );
    if let Some(out) = args.get(2) {
        std::fs::write(out, binary).expect("writable output");
    }
}

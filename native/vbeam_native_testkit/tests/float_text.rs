//! The interpreter's float text, the difftest's oracle for `print_float`,
//! has the digits of Ryu (the `ryu` crate): the shortest that read back to
//! the value, the nearer one, the even one at an exact tie.
//! `VBEAM_FLOAT_COUNT` sets how many random values (default 1000000).

use vbeam_native_testkit::interp::v_float_text;

/// The sign of a decimal text (V's `-1.5e-07` or `123.0`, Ryu's `1.5e-7`
/// or `0.001`), its significant digits without leading or trailing zeros,
/// and k with |x| = 0.DIGITS * 10^k.
fn decimal(text: &str) -> (bool, String, i32) {
    let (negative, magnitude) = match text.strip_prefix('-') {
        Some(magnitude) => (true, magnitude),
        None => (false, text),
    };
    let (mantissa, exponent) = magnitude.split_once('e').unwrap_or((magnitude, "0"));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = format!("{int}{frac}");
    let significant = all.trim_start_matches('0');
    let k = int.len() as i32 + exponent.parse::<i32>().unwrap() - (all.len() - significant.len()) as i32;
    (negative, significant.trim_end_matches('0').to_string(), k)
}

/// SplitMix64.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in lo..=hi.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

#[test]
fn interpreter_float_text_has_ryus_digits() {
    let count: u64 = std::env::var("VBEAM_FLOAT_COUNT").map_or(1_000_000, |v| v.parse().unwrap());
    let mut random = Random(12);
    let tie_zone = (5e14_f64.to_bits(), 1e18_f64.to_bits());
    // A third of each: any bit pattern; [5e14, 1e18], where the ties are;
    // exact ties (x.25 and x.75 in [2^49, 2^51)). Then every power of two.
    let values = (0..count)
        .map(|i| match i % 3 {
            0 => random.next(),
            1 => random.between(tie_zone.0, tie_zone.1),
            _ => (random.between(1 << 49, (1 << 51) - 1) as f64 + [0.25, 0.75][i as usize % 2]).to_bits(),
        })
        .chain((0..52).map(|bit| 1 << bit))
        .chain((1..=2046).map(|biased| biased << 52));
    let mut wrong = Vec::new();
    let mut ryu = ryu::Buffer::new();
    for bits in values {
        let x = f64::from_bits(bits);
        if !x.is_finite() || x == 0.0 {
            continue;
        }
        let text = v_float_text(bits as i64);
        if decimal(&text) != decimal(ryu.format_finite(x)) {
            wrong.push(format!("{bits:#018x}: {text} (Ryu: {})", ryu.format_finite(x)));
        }
    }
    assert!(wrong.is_empty(), "{} wrong:\n{}", wrong.len(), wrong[..wrong.len().min(20)].join("\n"));
}

//! Signed division by a constant without a divide instruction (Hacker's
//! Delight, chapter 10): a shift for a power of two, else a multiplication
//! by a "magic" reciprocal, keeping the high half of the product. Both give
//! exactly what a divide instruction gives: the quotient truncated toward
//! zero. The lowerers emit the steps `ConstantDivisor::quotient` follows.

/// How to divide by one constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstantDivisor {
    /// `|d| = 2^shift`: bias a negative dividend by `2^shift - 1`, shift.
    PowerOfTwo { shift: u32, negative: bool },
    /// `q = hi(n * multiplier)`, plus `n` (`Add`) or minus `n` (`Sub`)
    /// when the multiplier's sign and the divisor's differ, shifted right
    /// by `shift`, plus one when negative.
    Magic { multiplier: i64, adjust: Adjust, shift: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adjust {
    None,
    Add,
    Sub,
}

impl ConstantDivisor {
    /// The plan for dividing by `d`, for divisors whose products the
    /// lowerers form from a 32-bit immediate (`|d| >= 2`, `d` in i32).
    pub fn of(d: i64) -> Option<ConstantDivisor> {
        if i32::try_from(d).is_err() || (-1..=1).contains(&d) {
            return None;
        }
        let magnitude = d.unsigned_abs();
        if magnitude.is_power_of_two() {
            return Some(ConstantDivisor::PowerOfTwo { shift: magnitude.trailing_zeros(), negative: d < 0 });
        }
        let (multiplier, shift) = magic(d);
        let adjust = match (d > 0, multiplier < 0) {
            (true, true) => Adjust::Add,
            (false, false) => Adjust::Sub,
            _ => Adjust::None,
        };
        Some(ConstantDivisor::Magic { multiplier, adjust, shift })
    }

    /// The quotient as the emitted instructions compute it (the tests'
    /// model of the code).
    pub fn quotient(self, n: i64) -> i64 {
        match self {
            ConstantDivisor::PowerOfTwo { shift, negative } => {
                let bias = ((n >> 63) as u64 >> (64 - shift)) as i64;
                let q = n.wrapping_add(bias) >> shift;
                if negative {
                    q.wrapping_neg()
                } else {
                    q
                }
            }
            ConstantDivisor::Magic { multiplier, adjust, shift } => {
                let mut q = ((n as i128 * multiplier as i128) >> 64) as i64;
                match adjust {
                    Adjust::None => {}
                    Adjust::Add => q = q.wrapping_add(n),
                    Adjust::Sub => q = q.wrapping_sub(n),
                }
                q >>= shift;
                q.wrapping_add((q as u64 >> 63) as i64)
            }
        }
    }
}

/// The magic multiplier and shift of divisor `d` (`|d| >= 2`, not a power
/// of two): the smallest `p >= 64` with `2^p > nc * (d - 2^p mod d)`.
fn magic(d: i64) -> (i64, u32) {
    const TWO63: u64 = 1 << 63;
    let ad = d.unsigned_abs();
    let t = TWO63 + (d as u64 >> 63);
    let anc = t - 1 - t % ad;
    let mut p = 63;
    let (mut q1, mut r1) = (TWO63 / anc, TWO63 % anc);
    let (mut q2, mut r2) = (TWO63 / ad, TWO63 % ad);
    loop {
        p += 1;
        q1 = q1.wrapping_mul(2);
        r1 = r1.wrapping_mul(2);
        if r1 >= anc {
            q1 = q1.wrapping_add(1);
            r1 = r1.wrapping_sub(anc);
        }
        q2 = q2.wrapping_mul(2);
        r2 = r2.wrapping_mul(2);
        if r2 >= ad {
            q2 = q2.wrapping_add(1);
            r2 = r2.wrapping_sub(ad);
        }
        let delta = ad - r2;
        if !(q1 < delta || (q1 == delta && r1 == 0)) {
            break;
        }
    }
    let multiplier = q2.wrapping_add(1) as i64;
    (if d < 0 { multiplier.wrapping_neg() } else { multiplier }, p - 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dividends at the edges and spread over the range.
    fn dividends() -> Vec<i64> {
        let mut v = vec![0, 1, -1, 2, -2, i64::MAX, i64::MIN, i64::MIN + 1, i64::MAX - 1];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.push(x as i64);
            v.push((x as i64) >> (x % 64));
        }
        v
    }

    #[test]
    fn every_plan_divides_as_the_hardware_does() {
        let mut divisors: Vec<i64> = (-1000..=1000).collect();
        divisors.extend([i32::MAX as i64, i32::MIN as i64, 1 << 30, -(1 << 30), 1_000_000_007, 641, 6_700_417]);
        let dividends = dividends();
        for d in divisors {
            let Some(plan) = ConstantDivisor::of(d) else {
                assert!((-1..=1).contains(&d), "{d} has no plan");
                continue;
            };
            for &n in &dividends {
                assert_eq!(plan.quotient(n), n.wrapping_div(d), "{n} / {d} by {plan:?}");
            }
        }
    }
}

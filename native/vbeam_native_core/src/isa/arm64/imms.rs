//! Immediate encodings of ARM64: materialising 64-bit constants.

use super::inst::{Inst, Xr};

/// The shortest MOVZ/MOVN + MOVK sequence that loads `value` into `dst`:
/// MOVN when more halfwords are 0xffff than 0x0000, so small negative
/// numbers take one instruction.
pub fn load_imm64(dst: Xr, value: i64) -> Vec<Inst> {
    let bits = value as u64;
    let halves: [u16; 4] = std::array::from_fn(|i| (bits >> (16 * i)) as u16);
    let zeros = halves.iter().filter(|h| **h == 0).count();
    let ones = halves.iter().filter(|h| **h == 0xffff).count();
    let inverted = ones > zeros;
    let filler = if inverted { 0xffff } else { 0 };
    let mut out = Vec::new();
    for (i, &h) in halves.iter().enumerate() {
        let shift = 16 * i as u8;
        if h == filler {
            continue;
        }
        out.push(match (out.is_empty(), inverted) {
            (true, false) => Inst::Movz { dst, imm16: h, shift },
            (true, true) => Inst::Movn { dst, imm16: !h, shift },
            (false, _) => Inst::Movk { dst, imm16: h, shift },
        });
    }
    if out.is_empty() {
        // Every halfword is the filler: 0 or -1.
        out.push(if inverted {
            Inst::Movn { dst, imm16: 0, shift: 0 }
        } else {
            Inst::Movz { dst, imm16: 0, shift: 0 }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::PReg;

    /// Runs a MOVZ/MOVN/MOVK sequence.
    fn simulate(seq: &[Inst]) -> i64 {
        let mut x: u64 = 0;
        for inst in seq {
            match *inst {
                Inst::Movz { imm16, shift, .. } => x = (imm16 as u64) << shift,
                Inst::Movn { imm16, shift, .. } => x = !((imm16 as u64) << shift),
                Inst::Movk { imm16, shift, .. } => x = (x & !(0xffff << shift)) | (imm16 as u64) << shift,
                ref other => panic!("unexpected {other:?}"),
            }
        }
        x as i64
    }

    #[test]
    fn every_constant_round_trips() {
        let mut values = vec![0, 1, -1, 0xffff, 0x10000, -0x10000, i64::MIN, i64::MAX, 0x1234_5678_9abc_def0, -2, 42];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            values.push(state as i64);
            values.push((state & 0xffff_0000_ffff) as i64);
            values.push(!(state & 0xffff) as i64);
        }
        for v in values {
            let seq = load_imm64(PReg(3), v);
            assert_eq!(simulate(&seq), v, "{v:#x}: {seq:?}");
            assert!(seq.len() <= 4);
        }
        assert_eq!(load_imm64(PReg(0), -1).len(), 1);
        assert_eq!(load_imm64(PReg(0), 0x1_0000_0000).len(), 1);
    }
}

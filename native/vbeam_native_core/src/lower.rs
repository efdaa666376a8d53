//! What both lowerers share: the program-wide facts, the frame layout, and
//! parallel moves.

use crate::ir::{Dst, Function, Operand, PReg, Reg, Src};
use crate::regalloc::{Allocation, Loc};
use crate::regs::RegSet;
use crate::syscall::Plan;

/// One function ready to lower: renumbered, allocated, with its system
/// calls planned.
pub struct FnCtx<'a> {
    pub func: &'a Function,
    pub alloc: &'a Allocation,
    /// Plans of the body's `syscall`s by instruction index, sorted.
    pub syscalls: &'a [(usize, Plan)],
    /// Number of IR stack slots the body uses.
    pub ir_slots: u32,
}

impl FnCtx<'_> {
    pub fn loc(&self, r: Reg) -> Loc {
        match r {
            Reg::V(v) => self.alloc.loc(v),
            Reg::P(p) => Loc::Reg(p),
        }
    }
    pub fn syscall_plan(&self, index: usize) -> Plan {
        let k = self.syscalls.binary_search_by_key(&index, |(i, _)| *i).expect("every syscall is planned");
        self.syscalls[k].1
    }
    /// Fresh local labels beyond the IR's own, for branches inside lowered
    /// sequences.
    pub fn first_internal_label(&self) -> u32 {
        self.func.labels.len() as u32
    }
}

/// Frame slots, 8 bytes each: the callee-saved registers the function
/// saves, then the IR's stack slots, then spill slots.
#[derive(Clone, Debug)]
pub struct Frame {
    pub saved: Vec<PReg>,
    pub ir_slots: u32,
    pub spill_slots: u32,
}

impl Frame {
    pub fn new(saved: RegSet, ir_slots: u32, spill_slots: u32) -> Frame {
        Frame { saved: saved.iter().collect(), ir_slots, spill_slots }
    }
    pub fn saved_slot(&self, k: usize) -> u32 {
        k as u32
    }
    pub fn ir_slot(&self, n: u32) -> u32 {
        self.saved.len() as u32 + n
    }
    pub fn spill_slot(&self, n: u32) -> u32 {
        self.saved.len() as u32 + self.ir_slots + n
    }
    /// Frame size in bytes, a multiple of 16 so calls stay aligned.
    pub fn size(&self) -> u32 {
        let slots = self.saved.len() as u32 + self.ir_slots + self.spill_slots;
        (slots * 8).div_ceil(16) * 16
    }
}

/// A value's location for a move: a register, a frame slot, or a constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoveSrc {
    Reg(PReg),
    Slot(u32),
    Imm(i64),
}

/// Orders simultaneous register moves `dst ← src` (destinations distinct)
/// so that no source is overwritten before it is read, breaking cycles
/// through `scratch`. Moves from slots and constants come last, once every
/// register has been read. Calls `emit(dst, src)` for each move.
pub fn parallel_move(moves: &[(PReg, MoveSrc)], scratch: PReg, mut emit: impl FnMut(PReg, MoveSrc)) {
    let mut pending: Vec<(PReg, PReg)> = moves
        .iter()
        .filter_map(|&(d, s)| match s {
            MoveSrc::Reg(r) if r != d => Some((d, r)),
            _ => None,
        })
        .collect();
    while !pending.is_empty() {
        let ready = pending.iter().position(|&(d, _)| !pending.iter().any(|&(_, s)| s == d));
        match ready {
            Some(k) => {
                let (d, s) = pending.swap_remove(k);
                emit(d, MoveSrc::Reg(s));
            }
            None => {
                // Every destination is still some move's source: a cycle.
                // Park one destination's value in scratch and read it there.
                let (d, _) = pending[0];
                emit(scratch, MoveSrc::Reg(d));
                for m in pending.iter_mut() {
                    if m.1 == d {
                        m.1 = scratch;
                    }
                }
            }
        }
    }
    for &(d, s) in moves {
        if !matches!(s, MoveSrc::Reg(_)) {
            emit(d, s);
        }
    }
}

/// Where a `mov` writes: a register or a frame slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoveDst {
    Reg(PReg),
    Slot(u32),
}

/// The source and destination of an IR `mov`, resolved to registers, frame
/// slots and constants.
pub fn mov_operands(f: &FnCtx, frame: &Frame, dst: Dst, src: &Operand) -> (MoveDst, MoveSrc) {
    let src = match *src {
        Operand::Reg(r) => move_src(f, frame, Src::Reg(r)),
        Operand::Imm(i) => MoveSrc::Imm(i),
        Operand::Stack(n) => MoveSrc::Slot(frame.ir_slot(n)),
    };
    let dst = match dst {
        Dst::Reg(r) => match f.loc(r) {
            Loc::Reg(p) => MoveDst::Reg(p),
            Loc::Spill(n) => MoveDst::Slot(frame.spill_slot(n)),
        },
        Dst::Stack(n) => MoveDst::Slot(frame.ir_slot(n)),
    };
    (dst, src)
}

/// Where an IR source operand is, for a move.
pub fn move_src(f: &FnCtx, frame: &Frame, s: Src) -> MoveSrc {
    match s {
        Src::Imm(i) => MoveSrc::Imm(i),
        Src::Reg(r) => match f.loc(r) {
            Loc::Reg(p) => MoveSrc::Reg(p),
            Loc::Spill(n) => MoveSrc::Slot(frame.spill_slot(n)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the moves on a register file and checks the result.
    fn check(moves: &[(PReg, MoveSrc)]) {
        let mut regs: Vec<i64> = (0..32).map(|i| 100 + i).collect();
        let before = regs.clone();
        parallel_move(moves, PReg(31), |d, s| {
            regs[d.0 as usize] = match s {
                MoveSrc::Reg(r) => regs[r.0 as usize],
                MoveSrc::Slot(n) => 1000 + n as i64,
                MoveSrc::Imm(i) => i,
            }
        });
        for &(d, s) in moves {
            let want = match s {
                MoveSrc::Reg(r) => before[r.0 as usize],
                MoveSrc::Slot(n) => 1000 + n as i64,
                MoveSrc::Imm(i) => i,
            };
            assert_eq!(regs[d.0 as usize], want, "{moves:?}");
        }
    }

    #[test]
    fn parallel_moves_respect_every_source() {
        let r = PReg;
        check(&[(r(0), MoveSrc::Reg(r(1))), (r(1), MoveSrc::Reg(r(0)))]);
        check(&[(r(0), MoveSrc::Reg(r(1))), (r(1), MoveSrc::Reg(r(2))), (r(2), MoveSrc::Reg(r(0)))]);
        check(&[(r(0), MoveSrc::Reg(r(1))), (r(1), MoveSrc::Reg(r(2))), (r(3), MoveSrc::Reg(r(0)))]);
        check(&[(r(0), MoveSrc::Imm(7)), (r(1), MoveSrc::Reg(r(0))), (r(2), MoveSrc::Slot(3))]);
        check(&[
            (r(4), MoveSrc::Reg(r(4))),
            (r(5), MoveSrc::Reg(r(6))),
            (r(6), MoveSrc::Reg(r(5))),
            (r(7), MoveSrc::Reg(r(5))),
        ]);
    }
}

//! The process's address space as the kernel sees it: which ranges are
//! mapped, with what protection and for what (image segment, stack, mmap),
//! where fresh anonymous memory goes, and how much of it is in use.
//!
//! The emulator holds the bytes; this map decides the layout, answers the
//! system calls' access checks (`EFAULT` instead of a crash) and names the
//! region in fault messages.

use std::collections::BTreeMap;

use crate::macho::consts::{VM_PROT_EXECUTE, VM_PROT_READ, VM_PROT_WRITE};

/// User space ends here: the x86_64 canonical-address limit (47 bits, less
/// a guard page), which is also far above anything an arm64 process gets.
pub(crate) const USER_ADDRESS_LIMIT: u64 = 0x7fff_ffff_f000;

/// What a region of the address space holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The unmapped, inaccessible low range (`__PAGEZERO` plus the slide).
    PageZero,
    /// A segment of the executable, by name.
    Segment(String),
    /// dyld's code (here: the stub `main` returns to).
    Dyld,
    Stack,
    /// The inaccessible reservation below the stack.
    StackGuard,
    /// Memory handed out by `mmap`.
    Anonymous,
}

#[derive(Debug, Clone)]
pub(crate) struct Region {
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// `VM_PROT_*` bits.
    pub(crate) prot: u32,
    pub(crate) kind: Kind,
}

impl Region {
    pub(crate) fn describe(&self) -> String {
        let what = match &self.kind {
            Kind::PageZero => "page zero".to_string(),
            Kind::Segment(name) => name.clone(),
            Kind::Dyld => "dyld".to_string(),
            Kind::Stack => "the stack".to_string(),
            Kind::StackGuard => "the stack guard".to_string(),
            Kind::Anonymous => "mmap memory".to_string(),
        };
        let bit = |b: u32, c: char| if self.prot & b != 0 { c } else { '-' };
        let prot: String =
            [bit(VM_PROT_READ, 'r'), bit(VM_PROT_WRITE, 'w'), bit(VM_PROT_EXECUTE, 'x')].iter().collect();
        format!("{what} [0x{:x}-0x{:x}) {prot}", self.start, self.end)
    }
}

/// Non-overlapping regions keyed by start address.
pub(crate) struct AddressSpace {
    regions: BTreeMap<u64, Region>,
    page: u64,
    /// Lowest address `mmap` hands out (just above the image).
    arena_base: u64,
    /// Highest address plus one a mapping may reach.
    user_limit: u64,
    anonymous_bytes: u64,
    anonymous_limit: u64,
}

impl AddressSpace {
    pub(crate) fn new(page: u64, user_limit: u64, anonymous_limit: u64) -> Self {
        AddressSpace { regions: BTreeMap::new(), page, arena_base: 0, user_limit, anonymous_bytes: 0, anonymous_limit }
    }

    pub(crate) fn page_size(&self) -> u64 {
        self.page
    }

    /// Rounds up to whole pages; `None` on overflow.
    pub(crate) fn round_up(&self, len: u64) -> Option<u64> {
        len.checked_add(self.page - 1).map(|l| l & !(self.page - 1))
    }

    pub(crate) fn set_arena_base(&mut self, base: u64) {
        self.arena_base = base;
    }

    /// The highest address any region reaches.
    pub(crate) fn end_of_mappings(&self) -> u64 {
        self.regions.values().map(|r| r.end).max().unwrap_or(0)
    }

    fn overlapping(&self, start: u64, end: u64) -> impl Iterator<Item = &Region> {
        // A region starting before `start` may still reach into the range.
        let before = self.regions.range(..start).next_back().map(|(_, r)| r).filter(|r| r.end > start);
        before.into_iter().chain(self.regions.range(start..end).map(|(_, r)| r))
    }

    pub(crate) fn is_free(&self, start: u64, len: u64) -> bool {
        let Some(end) = start.checked_add(len) else { return false };
        end <= self.user_limit && self.overlapping(start, end).next().is_none()
    }

    /// Records a region; the range must be free.
    pub(crate) fn insert(&mut self, start: u64, len: u64, prot: u32, kind: Kind) {
        debug_assert!(self.is_free(start, len), "overlapping region at 0x{start:x}");
        if kind == Kind::Anonymous {
            self.anonymous_bytes += len;
        }
        self.regions.insert(start, Region { start, end: start + len, prot, kind });
    }

    /// The lowest free, page-aligned range of `len` bytes at or above `from`.
    pub(crate) fn find_free(&self, len: u64, from: u64) -> Option<u64> {
        let mut candidate = self.round_up(from)?;
        for r in self.regions.values() {
            if r.end <= candidate {
                continue;
            }
            if r.start >= candidate.checked_add(len)? {
                break;
            }
            candidate = self.round_up(r.end)?;
        }
        (candidate.checked_add(len)? <= self.user_limit).then_some(candidate)
    }

    /// Where `mmap` puts `len` fresh bytes, if the address space has room.
    pub(crate) fn find_arena(&self, len: u64) -> Option<u64> {
        self.find_free(len, self.arena_base)
    }

    /// Whether `len` more anonymous bytes stay within the memory limit.
    pub(crate) fn can_allocate(&self, len: u64) -> bool {
        self.anonymous_bytes.checked_add(len).is_some_and(|total| total <= self.anonymous_limit)
    }

    /// Whether every byte of `[addr, addr+len)` is mapped with all of `prot`.
    pub(crate) fn accessible(&self, addr: u64, len: u64, prot: u32) -> bool {
        let Some(end) = addr.checked_add(len) else { return false };
        let mut next = addr;
        for r in self.overlapping(addr, end) {
            if r.start > next || r.kind == Kind::PageZero || r.prot & prot != prot {
                return false;
            }
            next = r.end;
            if next >= end {
                return true;
            }
        }
        next >= end
    }

    pub(crate) fn region_at(&self, addr: u64) -> Option<&Region> {
        self.overlapping(addr, addr.saturating_add(1)).next()
    }

    /// Removes everything in `[start, end)` but page zero, splitting the
    /// regions that straddle its edges. Returns the removed ranges the
    /// emulator has mapped, to unmap them there too.
    pub(crate) fn remove(&mut self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let hit: Vec<Region> = self.overlapping(start, end).filter(|r| r.kind != Kind::PageZero).cloned().collect();
        let mut removed = Vec::new();
        for r in hit {
            self.regions.remove(&r.start);
            let (cut_start, cut_end) = (r.start.max(start), r.end.min(end));
            if r.kind == Kind::Anonymous {
                self.anonymous_bytes -= cut_end - cut_start;
            }
            if r.start < cut_start {
                self.regions.insert(r.start, Region { end: cut_start, ..r.clone() });
            }
            if cut_end < r.end {
                self.regions.insert(cut_end, Region { start: cut_end, ..r.clone() });
            }
            removed.push((cut_start, cut_end));
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: u64 = 0x1000;

    fn space() -> AddressSpace {
        let mut s = AddressSpace::new(PAGE, 0x1_0000_0000, 0x10_000);
        s.insert(0, 0x1000, 0, Kind::PageZero);
        s.insert(0x4000, 0x2000, VM_PROT_READ, Kind::Segment("__TEXT".into()));
        s.set_arena_base(0x6000);
        s
    }

    #[test]
    fn allocation_is_first_fit_and_limited() {
        let mut s = space();
        assert_eq!(s.find_arena(0x2000), Some(0x6000));
        s.insert(0x6000, 0x2000, VM_PROT_READ | VM_PROT_WRITE, Kind::Anonymous);
        assert_eq!(s.find_arena(0x1000), Some(0x8000));
        assert!(s.can_allocate(0xe000));
        assert!(!s.can_allocate(0xe001));
        assert_eq!(s.find_free(0x1000, 0x1000), Some(0x1000));
        assert_eq!(s.find_free(0x4000, 0x1000), Some(0x8000));
    }

    #[test]
    fn remove_splits_and_refunds() {
        let mut s = space();
        s.insert(0x6000, 0x3000, VM_PROT_READ | VM_PROT_WRITE, Kind::Anonymous);
        assert_eq!(s.remove(0x7000, 0x8000), vec![(0x7000, 0x8000)]);
        assert!(s.accessible(0x6000, 0x1000, VM_PROT_WRITE));
        assert!(!s.accessible(0x6000, 0x2000, VM_PROT_READ));
        assert!(s.accessible(0x8000, 0x1000, VM_PROT_READ));
        assert!(s.can_allocate(0x10_000 - 0x2000));
        assert!(!s.can_allocate(0x10_000 - 0x1fff));
        assert!(s.remove(0, 0x1000).is_empty(), "page zero stays");
    }

    #[test]
    fn access_checks() {
        let s = space();
        assert!(s.accessible(0x4000, 0x2000, VM_PROT_READ));
        assert!(!s.accessible(0x4000, 0x2000, VM_PROT_WRITE));
        assert!(!s.accessible(0x3fff, 2, VM_PROT_READ));
        assert!(!s.accessible(0x10, 1, 0));
        assert_eq!(s.region_at(0x5fff).map(|r| r.start), Some(0x4000));
    }
}

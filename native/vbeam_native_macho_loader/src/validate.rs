//! What the load commands must say together: the required commands, the
//! segment layout, the entry point and the `__LINKEDIT` layout, as XNU's
//! `load_segment`/`load_dylinker` and dyld's `MachOAnalyzer`/`Header`
//! validation demand of a modern macOS executable.
//!
//! dyld relaxes some rules for binaries built against old SDKs; this loader
//! applies the modern rules to every image (what macOS 15 and later demand
//! of new binaries), and the rules dyld only enforces for the newest SDKs
//! when `LC_BUILD_VERSION` names such an SDK.

use crate::error::{malformed, unsupported, LoadError};
use crate::macho::consts::*;
use crate::macho::{command_name, Arch, Blob, MachO, Segment};
use crate::memory::USER_ADDRESS_LIMIT;

/// A hard page zero on arm64 covers exactly the low 32-bit address space.
pub(crate) const ARM64_PAGEZERO_SIZE: u64 = 0x1_0000_0000;
/// The minimum page zero this loader accepts on x86_64 (what ld64 writes).
pub(crate) const MIN_PAGEZERO_SIZE: u64 = 0x1_0000_0000;

/// dyld refuses a symbol table larger than this.
const MAX_SYMBOLS: u32 = 0x1000_0000;
/// `sizeof(struct nlist_64)`.
const NLIST_64_SIZE: u64 = 16;
/// `sizeof(struct relocation_info)`.
const RELOCATION_INFO_SIZE: u64 = 8;
/// Entries of the indirect symbol table are 32-bit.
const INDIRECT_SYMBOL_SIZE: u64 = 4;
/// `__LINKEDIT` contents are pointer-aligned, except the string table.
const POINTER_ALIGN: u64 = 8;

/// An SDK version as `LC_BUILD_VERSION` encodes it (`xxxx.yy.zz`).
const fn sdk(major: u32, minor: u32) -> u32 {
    (major << 16) | (minor << 8)
}
/// dyld's fall 2024 epoch (macOS 15.0): no duplicate dylibs.
const SDK_NO_DUPLICATE_DYLIBS: u32 = sdk(15, 0);
/// dyld's spring 2025 epoch (macOS 15.4): `__DATA_CONST` must be `SG_READ_ONLY`.
const SDK_DATA_CONST_READ_ONLY: u32 = sdk(15, 4);
/// dyld's fall 2025 epoch (macOS 16, shipped as 26): `__DATA` must be `rw-`.
const SDK_DATA_PERMISSIONS: u32 = sdk(16, 0);

/// All the checks of this module, in the order dyld makes them.
pub(crate) fn validate(m: &MachO) -> Result<(), LoadError> {
    required_commands(m)?;
    segments(m)?;
    entry_point(m)?;
    linkedit_layout(m)?;
    fixup_encoding(m)
}

fn sdk_version(m: &MachO) -> u32 {
    m.build_version.map_or(0, |b| b.sdk)
}

fn required_commands(m: &MachO) -> Result<(), LoadError> {
    match (m.entryoff.is_some(), m.has_unix_thread) {
        (true, true) => return Err(malformed!("can't have LC_MAIN and LC_UNIXTHREAD load commands")),
        (false, false) => return Err(malformed!("missing LC_MAIN or LC_UNIXTHREAD in main executable")),
        (false, true) => return Err(unsupported!("LC_UNIXTHREAD entry point (only LC_MAIN executables run here)")),
        (true, false) => {}
    }
    match m.dylinker.as_deref() {
        None => return Err(malformed!("missing LC_LOAD_DYLINKER: an MH_DYLDLINK executable needs {DYLD_PATH}")),
        Some(DYLD_PATH) => {}
        Some(other) => return Err(malformed!("LC_LOAD_DYLINKER names {other:?}; the kernel only loads {DYLD_PATH}")),
    }
    if !m.dylibs.iter().any(|d| d.cmd == LC_LOAD_DYLIB && d.path == LIBSYSTEM_PATH) {
        return Err(malformed!("missing LC_LOAD_DYLIB of {LIBSYSTEM_PATH} (must link with at least libSystem)"));
    }
    if sdk_version(m) >= SDK_NO_DUPLICATE_DYLIBS {
        for (i, d) in m.dylibs.iter().enumerate() {
            if m.dylibs[..i].iter().any(|e| e.path == d.path) {
                return Err(malformed!("duplicate linked dylib {:?}", d.path));
            }
        }
    }
    if let Some(other) = m.dylibs.iter().find(|d| d.cmd != LC_LOAD_DYLIB || d.path != LIBSYSTEM_PATH) {
        return Err(unsupported!(
            "{} {:?}: only {LIBSYSTEM_PATH} is provided here",
            command_name(other.cmd),
            other.path
        ));
    }
    if m.uuid.is_none() {
        return Err(malformed!("missing LC_UUID load command"));
    }
    match m.build_version {
        None if m.has_version_min && m.arch == Arch::X86_64 => {
            return Err(unsupported!("LC_VERSION_MIN_MACOSX without LC_BUILD_VERSION (only modern binaries run here)"))
        }
        None => return Err(malformed!("missing LC_BUILD_VERSION load command")),
        Some(b) if b.platform != PLATFORM_MACOS => {
            return Err(malformed!("LC_BUILD_VERSION platform {} is not macOS ({PLATFORM_MACOS})", b.platform))
        }
        Some(_) => {}
    }
    if m.symtab.is_none() {
        return Err(malformed!("missing LC_SYMTAB load command"));
    }
    if m.dysymtab.is_none() && m.dyld_info.is_none() {
        return Err(malformed!("malformed mach-o missing LC_DYLD_INFO and LC_DYSYMTAB"));
    }
    Ok(())
}

fn prot_string(prot: u32) -> String {
    let bit = |b: u32, c: char| if prot & b != 0 { c } else { '-' };
    [bit(VM_PROT_READ, 'r'), bit(VM_PROT_WRITE, 'w'), bit(VM_PROT_EXECUTE, 'x')].iter().collect()
}

/// Whether two half-open ranges share a byte (empty ranges share none).
fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn segments(m: &MachO) -> Result<(), LoadError> {
    let file_len = m.data.len() as u64;
    let page = m.arch.page_size();
    let segs = &m.segments;
    for seg in segs {
        segment_alone(m, seg, file_len, page)?;
    }

    let pagezero = segs.first().ok_or_else(|| malformed!("no LC_SEGMENT_64 at all"))?;
    if pagezero.name != "__PAGEZERO" {
        return Err(malformed!("the first segment is {:?}, not __PAGEZERO", pagezero.name));
    }
    check_pagezero(m.arch, pagezero)?;
    let linkedit = segs.last().filter(|s| s.name == "__LINKEDIT").ok_or_else(|| {
        malformed!("the last segment is {:?}, not __LINKEDIT", segs.last().map(|s| s.name.as_str()).unwrap_or_default())
    })?;
    if linkedit.initprot != VM_PROT_READ {
        return Err(malformed!("__LINKEDIT segment permissions are '{}', not 'r--'", prot_string(linkedit.initprot)));
    }
    let text = m.segment("__TEXT").ok_or_else(|| malformed!("missing __TEXT segment"))?;
    if text.fileoff != 0 {
        return Err(malformed!("__TEXT segment fileoff is 0x{:x}, not zero", text.fileoff));
    }
    if text.filesize < m.header_and_commands_size() || text.vmsize < m.header_and_commands_size() {
        return Err(malformed!("load commands do not fit in __TEXT segment"));
    }
    if text.initprot != VM_PROT_READ | VM_PROT_EXECUTE {
        return Err(malformed!("__TEXT segment permissions are '{}', not 'r-x'", prot_string(text.initprot)));
    }
    // The kernel maps the header from exactly one r-x segment.
    if segs.iter().filter(|s| s.fileoff == 0 && s.filesize > 0).count() != 1 {
        return Err(malformed!("more than one segment maps file offset zero"));
    }
    if segs.iter().filter(|s| s.flags & SG_READ_ONLY != 0).count() > 1 {
        return Err(malformed!("multiple segments with SG_READ_ONLY flag"));
    }

    for (i, a) in segs.iter().enumerate() {
        for b in &segs[i + 1..] {
            if overlaps((a.vmaddr, a.vm_end()), (b.vmaddr, b.vm_end())) {
                return Err(malformed!("vm range of segment {:?} overlaps segment {:?}", a.name, b.name));
            }
            if overlaps((a.fileoff, a.file_end()), (b.fileoff, b.file_end())) {
                return Err(malformed!("file range of segment {:?} overlaps segment {:?}", a.name, b.name));
            }
        }
    }
    for pair in segs.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if b.vmaddr < a.vmaddr {
            return Err(malformed!("segment {:?} vm address out of order (after {:?})", b.name, a.name));
        }
        if a.filesize > 0 && b.filesize > 0 && b.fileoff < a.fileoff {
            return Err(malformed!("segment {:?} file offset out of order (after {:?})", b.name, a.name));
        }
    }
    Ok(())
}

/// The checks each segment passes on its own.
fn segment_alone(m: &MachO, seg: &Segment, file_len: u64, page: u64) -> Result<(), LoadError> {
    let name = &seg.name;
    if seg.fileoff.checked_add(seg.filesize).is_none_or(|end| end > file_len) {
        return Err(malformed!(
            "segment {name:?} content (fileoff 0x{:x} + 0x{:x}) extends beyond end of file (0x{file_len:x})",
            seg.fileoff,
            seg.filesize
        ));
    }
    if seg.filesize > seg.vmsize {
        return Err(malformed!("segment {name:?} filesize 0x{:x} exceeds vmsize 0x{:x}", seg.filesize, seg.vmsize));
    }
    if seg.vmaddr.checked_add(seg.vmsize).is_none() {
        return Err(malformed!("segment {name:?} vm range wraps"));
    }
    if seg.vm_end() > USER_ADDRESS_LIMIT {
        return Err(malformed!("segment {name:?} ends at 0x{:x}, beyond the user address space", seg.vm_end()));
    }
    if seg.initprot & !VM_PROT_ALL != 0 || seg.maxprot & !VM_PROT_ALL != 0 {
        return Err(malformed!("segment {name:?} permissions have invalid bits set"));
    }
    if seg.initprot & !seg.maxprot != 0 {
        return Err(malformed!(
            "segment {name:?} initprot '{}' exceeds maxprot '{}'",
            prot_string(seg.initprot),
            prot_string(seg.maxprot)
        ));
    }
    if m.arch == Arch::Arm64 && seg.initprot & (VM_PROT_WRITE | VM_PROT_EXECUTE) == VM_PROT_WRITE | VM_PROT_EXECUTE {
        return Err(malformed!("segment {name:?} is both writable and executable (refused on arm64)"));
    }
    if !seg.vmaddr.is_multiple_of(page) || !seg.fileoff.is_multiple_of(page) {
        return Err(malformed!(
            "segment {name:?} vmaddr 0x{:x} / fileoff 0x{:x} not aligned to the {} page size 0x{page:x}",
            seg.vmaddr,
            seg.fileoff,
            m.arch.name()
        ));
    }
    let sdk = sdk_version(m);
    if sdk >= SDK_DATA_PERMISSIONS
        && (name == "__DATA" || name == "__DATA_CONST")
        && seg.initprot != VM_PROT_READ | VM_PROT_WRITE
    {
        return Err(malformed!("{name} segment permissions are '{}', not 'rw-'", prot_string(seg.initprot)));
    }
    if sdk >= SDK_DATA_CONST_READ_ONLY && name == "__DATA_CONST" && seg.flags & SG_READ_ONLY == 0 {
        return Err(malformed!("__DATA_CONST segment missing SG_READ_ONLY flag"));
    }
    for sect in &seg.sections {
        if sect.addr < seg.vmaddr {
            return Err(malformed!(
                "section {:?} start address 0x{:x} is before its segment {name:?} (0x{:x})",
                sect.name,
                sect.addr,
                seg.vmaddr
            ));
        }
        if sect.addr.checked_add(sect.size).is_none_or(|end| end > seg.vm_end()) {
            return Err(malformed!(
                "section {:?} (0x{:x}+0x{:x}) ends beyond its segment {name:?} (which ends at 0x{:x})",
                sect.name,
                sect.addr,
                sect.size,
                seg.vm_end()
            ));
        }
    }
    Ok(())
}

fn check_pagezero(arch: Arch, seg: &Segment) -> Result<(), LoadError> {
    if seg.vmaddr != 0 || seg.fileoff != 0 || seg.filesize != 0 || seg.initprot != 0 || seg.maxprot != 0 {
        return Err(malformed!(
            "__PAGEZERO must be at vmaddr 0 with no file content and no access (vmaddr 0x{:x}, fileoff 0x{:x}, filesize 0x{:x}, prot {}/{})",
            seg.vmaddr,
            seg.fileoff,
            seg.filesize,
            prot_string(seg.initprot),
            prot_string(seg.maxprot)
        ));
    }
    match arch {
        Arch::Arm64 if seg.vmsize != ARM64_PAGEZERO_SIZE => Err(malformed!(
            "__PAGEZERO vmsize 0x{:x}: arm64 needs a hard page zero of exactly 0x{ARM64_PAGEZERO_SIZE:x}",
            seg.vmsize
        )),
        Arch::X86_64 if seg.vmsize < MIN_PAGEZERO_SIZE => {
            Err(malformed!("__PAGEZERO vmsize 0x{:x} is smaller than 4 GiB", seg.vmsize))
        }
        _ => Ok(()),
    }
}

fn entry_point(m: &MachO) -> Result<(), LoadError> {
    let entryoff = m.entryoff.expect("required_commands checked LC_MAIN");
    let text = m.segment("__TEXT").expect("segments checked __TEXT");
    let addr = text
        .vmaddr
        .checked_add(entryoff)
        .ok_or_else(|| malformed!("LC_MAIN entryoff 0x{entryoff:x} is out of range"))?;
    let seg = m
        .segments
        .iter()
        .find(|s| addr >= s.vmaddr && addr < s.vm_end())
        .ok_or_else(|| malformed!("LC_MAIN entryoff 0x{entryoff:x} is out of range"))?;
    if !seg.executable() {
        return Err(malformed!("LC_MAIN points to non-executable segment {:?}", seg.name));
    }
    if addr >= seg.vmaddr + seg.filesize {
        return Err(malformed!("LC_MAIN entryoff 0x{entryoff:x} is past the file content of segment {:?}", seg.name));
    }
    Ok(())
}

/// One piece of `__LINKEDIT` named by a load command.
struct Content {
    name: String,
    offset: u64,
    size: u64,
    align: u64,
}

fn push(out: &mut Vec<Content>, name: &str, offset: u32, size: u64, align: u64) {
    if size != 0 {
        out.push(Content { name: name.to_string(), offset: u64::from(offset), size, align });
    }
}

fn push_blob(out: &mut Vec<Content>, name: &str, blob: Blob) {
    push(out, name, blob.offset, u64::from(blob.size), POINTER_ALIGN);
}

/// Everything dyld's `validLinkeditLayout` places in `__LINKEDIT`.
fn linkedit_contents(m: &MachO) -> Vec<Content> {
    let mut out = Vec::new();
    if let Some(info) = m.dyld_info {
        push_blob(&mut out, "rebase opcodes", info.rebase);
        push_blob(&mut out, "bind opcodes", info.bind);
        push_blob(&mut out, "weak bind opcodes", info.weak_bind);
        push_blob(&mut out, "lazy bind opcodes", info.lazy_bind);
        push_blob(&mut out, "exports trie", info.export);
    }
    if let Some(d) = m.dysymtab {
        push(&mut out, "local relocations", d.locreloff, u64::from(d.nlocrel) * RELOCATION_INFO_SIZE, POINTER_ALIGN);
        push(&mut out, "external relocations", d.extreloff, u64::from(d.nextrel) * RELOCATION_INFO_SIZE, POINTER_ALIGN);
        let indirect_size = u64::from(d.nindirectsyms) * INDIRECT_SYMBOL_SIZE;
        push(&mut out, "indirect symbol table", d.indirectsymoff, indirect_size, INDIRECT_SYMBOL_SIZE);
    }
    if let Some(s) = m.symtab {
        push(&mut out, "symbol table", s.symoff, u64::from(s.nsyms) * NLIST_64_SIZE, POINTER_ALIGN);
        push(&mut out, "symbol table strings", s.stroff, u64::from(s.strsize), 1);
    }
    for l in &m.linkedit_data {
        // Optimization hints only matter to the static linker.
        if l.cmd != LC_LINKER_OPTIMIZATION_HINT {
            push_blob(&mut out, &command_name(l.cmd), l.blob);
        }
    }
    out
}

fn linkedit_layout(m: &MachO) -> Result<(), LoadError> {
    let linkedit = m.segment("__LINKEDIT").expect("segments checked __LINKEDIT");
    if let (Some(info), Some(d)) = (m.dyld_info, m.dysymtab) {
        if info.only && d.nlocrel != 0 {
            return Err(malformed!("contains LC_DYLD_INFO_ONLY and local relocations"));
        }
        if info.only && d.nextrel != 0 {
            return Err(malformed!("contains LC_DYLD_INFO_ONLY and external relocations"));
        }
    }
    let mut contents = linkedit_contents(m);
    if contents.is_empty() {
        return Err(malformed!("missing LINKEDIT content"));
    }
    contents.sort_by_key(|c| c.offset);
    let (start, end) = (linkedit.fileoff, linkedit.file_end());
    let mut prev_end = start;
    let mut prev_name = "start of __LINKEDIT".to_string();
    for c in &contents {
        if c.offset < prev_end {
            return Err(malformed!("LINKEDIT overlap of {prev_name} and {} (at 0x{:x})", c.name, c.offset));
        }
        if c.offset + c.size > end {
            return Err(malformed!(
                "LINKEDIT content '{}' (0x{:x}+0x{:x}) extends beyond end of __LINKEDIT (0x{end:x})",
                c.name,
                c.offset,
                c.size
            ));
        }
        if c.offset % c.align != 0 {
            return Err(malformed!(
                "mis-aligned LINKEDIT content '{}' at 0x{:x} (needs {}-byte alignment)",
                c.name,
                c.offset,
                c.align
            ));
        }
        prev_end = c.offset + c.size;
        prev_name = c.name.clone();
    }
    symbol_table_counts(m)
}

fn symbol_table_counts(m: &MachO) -> Result<(), LoadError> {
    let Some(symtab) = m.symtab else { return Ok(()) };
    if symtab.nsyms > MAX_SYMBOLS {
        return Err(malformed!("symbol table too large ({} symbols)", symtab.nsyms));
    }
    let Some(d) = m.dysymtab else { return Ok(()) };
    for (what, first, count) in [
        ("local", d.ilocalsym, d.nlocalsym),
        ("extern", d.iextdefsym, d.nextdefsym),
        ("undefined", d.iundefsym, d.nundefsym),
    ] {
        if u64::from(first) + u64::from(count) > u64::from(symtab.nsyms) {
            return Err(malformed!("LC_DYSYMTAB {what} symbols {first}+{count} exceed the {} symbols", symtab.nsyms));
        }
    }
    if d.nindirectsyms > MAX_SYMBOLS {
        return Err(malformed!("indirect symbol table too large"));
    }
    Ok(())
}

/// One fixup encoding only, and one this loader can apply.
fn fixup_encoding(m: &MachO) -> Result<(), LoadError> {
    let opcodes = m.dyld_info.is_some_and(|i| i.rebase.size != 0 || i.bind.size != 0);
    let relocations = m.dysymtab.is_some_and(|d| d.nlocrel != 0 || d.nextrel != 0);
    if m.linkedit(LC_DYLD_CHAINED_FIXUPS).is_some() {
        if opcodes || relocations {
            return Err(malformed!("LC_DYLD_CHAINED_FIXUPS together with another fixup encoding"));
        }
        return Err(unsupported!("LC_DYLD_CHAINED_FIXUPS (this loader applies LC_DYLD_INFO_ONLY rebase opcodes)"));
    }
    if m.dyld_info.is_none() && relocations {
        return Err(unsupported!("classic local/external relocations (use LC_DYLD_INFO_ONLY rebase opcodes)"));
    }
    Ok(())
}

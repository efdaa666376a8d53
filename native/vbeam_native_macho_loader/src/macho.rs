//! Parsing a 64-bit Mach-O executable: the header and every load command,
//! with the structural checks XNU's `parse_machfile` and dyld's
//! `validStructureLoadCommands` make (sizes, bounds, strings, duplicates).
//! The rules about what the commands say together live in `validate.rs`.

use crate::error::{malformed, unsupported, LoadError};
use crate::reader::{c_string, fixed_name, le_u32, le_u64};

/// `<mach-o/loader.h>` constants used by the loader.
pub(crate) mod consts {
    pub const MH_MAGIC_64: u32 = 0xfeed_facf;
    pub const MH_MAGIC: u32 = 0xfeed_face;
    pub const MH_CIGAM_64: u32 = 0xcffa_edfe;
    /// `FAT_MAGIC` / `FAT_MAGIC_64` (big-endian) as a little-endian read sees them.
    pub const FAT_MAGIC_LE: u32 = 0xbeba_feca;
    pub const FAT_MAGIC_64_LE: u32 = 0xbfba_feca;

    pub const CPU_TYPE_X86_64: u32 = 0x0100_0007;
    pub const CPU_TYPE_ARM64: u32 = 0x0100_000c;
    /// Capability bits in the top byte of cpusubtype (e.g. `CPU_SUBTYPE_LIB64`).
    pub const CPU_SUBTYPE_MASK: u32 = 0xff00_0000;
    pub const CPU_SUBTYPE_X86_64_ALL: u32 = 3;
    pub const CPU_SUBTYPE_X86_64_H: u32 = 8;
    pub const CPU_SUBTYPE_ARM64_ALL: u32 = 0;
    pub const CPU_SUBTYPE_ARM64_V8: u32 = 1;
    pub const CPU_SUBTYPE_ARM64E: u32 = 2;

    pub const MH_EXECUTE: u32 = 2;
    pub const MH_NOUNDEFS: u32 = 0x1;
    pub const MH_DYLDLINK: u32 = 0x4;
    pub const MH_TWOLEVEL: u32 = 0x80;
    pub const MH_PIE: u32 = 0x20_0000;

    /// `sizeof(struct mach_header_64)`.
    pub const MACH_HEADER_64_SIZE: usize = 32;
    /// Load commands of a 64-bit image are multiples of 8 bytes.
    pub const LOAD_COMMAND_ALIGN: u32 = 8;
    /// `sizeof(struct load_command)`: cmd and cmdsize.
    pub const LOAD_COMMAND_SIZE: u32 = 8;

    /// Set in a command dyld must understand to run the image.
    pub const LC_REQ_DYLD: u32 = 0x8000_0000;
    pub const LC_SEGMENT: u32 = 0x1;
    pub const LC_SYMTAB: u32 = 0x2;
    pub const LC_THREAD: u32 = 0x4;
    pub const LC_UNIXTHREAD: u32 = 0x5;
    pub const LC_DYSYMTAB: u32 = 0xb;
    pub const LC_LOAD_DYLIB: u32 = 0xc;
    pub const LC_ID_DYLIB: u32 = 0xd;
    pub const LC_LOAD_DYLINKER: u32 = 0xe;
    pub const LC_ID_DYLINKER: u32 = 0xf;
    pub const LC_SUB_UMBRELLA: u32 = 0x13;
    pub const LC_SUB_CLIENT: u32 = 0x14;
    pub const LC_SUB_LIBRARY: u32 = 0x15;
    pub const LC_LOAD_WEAK_DYLIB: u32 = 0x18 | LC_REQ_DYLD;
    pub const LC_SEGMENT_64: u32 = 0x19;
    pub const LC_UUID: u32 = 0x1b;
    pub const LC_RPATH: u32 = 0x1c | LC_REQ_DYLD;
    pub const LC_CODE_SIGNATURE: u32 = 0x1d;
    pub const LC_SEGMENT_SPLIT_INFO: u32 = 0x1e;
    pub const LC_REEXPORT_DYLIB: u32 = 0x1f | LC_REQ_DYLD;
    pub const LC_LAZY_LOAD_DYLIB: u32 = 0x20;
    pub const LC_ENCRYPTION_INFO: u32 = 0x21;
    pub const LC_DYLD_INFO: u32 = 0x22;
    pub const LC_DYLD_INFO_ONLY: u32 = 0x22 | LC_REQ_DYLD;
    pub const LC_LOAD_UPWARD_DYLIB: u32 = 0x23 | LC_REQ_DYLD;
    pub const LC_VERSION_MIN_MACOSX: u32 = 0x24;
    pub const LC_VERSION_MIN_IPHONEOS: u32 = 0x25;
    pub const LC_FUNCTION_STARTS: u32 = 0x26;
    pub const LC_DYLD_ENVIRONMENT: u32 = 0x27;
    pub const LC_MAIN: u32 = 0x28 | LC_REQ_DYLD;
    pub const LC_DATA_IN_CODE: u32 = 0x29;
    pub const LC_SOURCE_VERSION: u32 = 0x2a;
    pub const LC_DYLIB_CODE_SIGN_DRS: u32 = 0x2b;
    pub const LC_ENCRYPTION_INFO_64: u32 = 0x2c;
    pub const LC_LINKER_OPTION: u32 = 0x2d;
    pub const LC_LINKER_OPTIMIZATION_HINT: u32 = 0x2e;
    pub const LC_VERSION_MIN_TVOS: u32 = 0x2f;
    pub const LC_VERSION_MIN_WATCHOS: u32 = 0x30;
    pub const LC_NOTE: u32 = 0x31;
    pub const LC_BUILD_VERSION: u32 = 0x32;
    pub const LC_DYLD_EXPORTS_TRIE: u32 = 0x33 | LC_REQ_DYLD;
    pub const LC_DYLD_CHAINED_FIXUPS: u32 = 0x34 | LC_REQ_DYLD;
    pub const LC_FILESET_ENTRY: u32 = 0x35 | LC_REQ_DYLD;
    pub const LC_ATOM_INFO: u32 = 0x36;
    pub const LC_FUNCTION_VARIANTS: u32 = 0x37;
    pub const LC_FUNCTION_VARIANT_FIXUPS: u32 = 0x38;

    pub const SEGMENT_COMMAND_64_SIZE: u32 = 72;
    pub const SECTION_64_SIZE: u32 = 80;
    pub const SYMTAB_COMMAND_SIZE: u32 = 24;
    pub const DYSYMTAB_COMMAND_SIZE: u32 = 80;
    pub const LINKEDIT_DATA_COMMAND_SIZE: u32 = 16;
    pub const DYLD_INFO_COMMAND_SIZE: u32 = 48;
    pub const UUID_COMMAND_SIZE: u32 = 24;
    pub const ENTRY_POINT_COMMAND_SIZE: u32 = 24;
    pub const VERSION_MIN_COMMAND_SIZE: u32 = 16;
    pub const BUILD_VERSION_COMMAND_SIZE: u32 = 24;
    pub const BUILD_TOOL_VERSION_SIZE: u32 = 8;
    pub const ENCRYPTION_INFO_COMMAND_SIZE: u32 = 20;
    pub const ENCRYPTION_INFO_COMMAND_64_SIZE: u32 = 24;
    pub const SOURCE_VERSION_COMMAND_SIZE: u32 = 16;
    pub const NOTE_COMMAND_SIZE: u32 = 40;
    /// `sizeof(struct dylib_command)`: the name follows the fixed part.
    pub const DYLIB_COMMAND_SIZE: u32 = 24;
    /// `sizeof(struct dylinker_command)` and `struct rpath_command`.
    pub const STRING_COMMAND_SIZE: u32 = 12;
    pub const LINKER_OPTION_COMMAND_SIZE: u32 = 12;

    pub const PLATFORM_MACOS: u32 = 1;

    pub const VM_PROT_READ: u32 = 1;
    pub const VM_PROT_WRITE: u32 = 2;
    pub const VM_PROT_EXECUTE: u32 = 4;
    pub const VM_PROT_ALL: u32 = VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXECUTE;
    /// Segment flag: read-only after fixups (`__DATA_CONST`).
    pub const SG_READ_ONLY: u32 = 0x10;

    pub const DYLD_PATH: &str = "/usr/lib/dyld";
    pub const LIBSYSTEM_PATH: &str = "/usr/lib/libSystem.B.dylib";
}

use consts::*;

/// The two CPUs the loader runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Arm64,
}

/// 4 KiB: x86_64 pages.
const PAGE_4K: u64 = 0x1000;
/// 16 KiB: arm64 processes on Apple silicon.
const PAGE_16K: u64 = 0x4000;

impl Arch {
    /// The VM page size of a process of this architecture: segments must be
    /// aligned to it, and mmap hands out multiples of it.
    pub(crate) fn page_size(self) -> u64 {
        match self {
            Arch::X86_64 => PAGE_4K,
            Arch::Arm64 => PAGE_16K,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }
}

/// One `section_64`.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    pub(crate) name: String,
    pub(crate) addr: u64,
    pub(crate) size: u64,
}

/// One `LC_SEGMENT_64` and its sections.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub(crate) name: String,
    pub(crate) vmaddr: u64,
    pub(crate) vmsize: u64,
    pub(crate) fileoff: u64,
    pub(crate) filesize: u64,
    pub(crate) maxprot: u32,
    pub(crate) initprot: u32,
    pub(crate) flags: u32,
    pub(crate) sections: Vec<Section>,
}

impl Segment {
    pub(crate) fn writable(&self) -> bool {
        self.initprot & VM_PROT_WRITE != 0
    }

    pub(crate) fn executable(&self) -> bool {
        self.initprot & VM_PROT_EXECUTE != 0
    }

    pub(crate) fn vm_end(&self) -> u64 {
        self.vmaddr.saturating_add(self.vmsize)
    }

    pub(crate) fn file_end(&self) -> u64 {
        self.fileoff.saturating_add(self.filesize)
    }
}

/// `LC_DYLD_INFO(_ONLY)`: offsets and sizes of the opcode streams.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DyldInfo {
    pub(crate) only: bool,
    pub(crate) rebase: Blob,
    pub(crate) bind: Blob,
    pub(crate) weak_bind: Blob,
    pub(crate) lazy_bind: Blob,
    pub(crate) export: Blob,
}

/// A range of `__LINKEDIT` named by a load command.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Blob {
    pub(crate) offset: u32,
    pub(crate) size: u32,
}

impl Blob {
    /// The bytes of the blob, if they lie inside the file.
    pub(crate) fn bytes<'a>(&self, data: &'a [u8]) -> Option<&'a [u8]> {
        let start = self.offset as usize;
        data.get(start..start.checked_add(self.size as usize)?)
    }
}

/// `LC_SYMTAB`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Symtab {
    pub(crate) symoff: u32,
    pub(crate) nsyms: u32,
    pub(crate) stroff: u32,
    pub(crate) strsize: u32,
}

/// `LC_DYSYMTAB` (the fields the loader checks).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dysymtab {
    pub(crate) ilocalsym: u32,
    pub(crate) nlocalsym: u32,
    pub(crate) iextdefsym: u32,
    pub(crate) nextdefsym: u32,
    pub(crate) iundefsym: u32,
    pub(crate) nundefsym: u32,
    pub(crate) indirectsymoff: u32,
    pub(crate) nindirectsyms: u32,
    pub(crate) extreloff: u32,
    pub(crate) nextrel: u32,
    pub(crate) locreloff: u32,
    pub(crate) nlocrel: u32,
}

/// `LC_BUILD_VERSION` (the SDK version as `xxxx.yy.zz` nibbles).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BuildVersion {
    pub(crate) platform: u32,
    pub(crate) sdk: u32,
}

/// A `linkedit_data_command` (function starts, code signature, ...).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkeditData {
    pub(crate) cmd: u32,
    pub(crate) blob: Blob,
}

/// A dylib load command.
#[derive(Debug, Clone)]
pub(crate) struct Dylib {
    pub(crate) cmd: u32,
    pub(crate) path: String,
}

/// A parsed, structurally sound Mach-O executable.
#[derive(Debug)]
pub(crate) struct MachO<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) arch: Arch,
    pub(crate) sizeofcmds: u32,
    /// Segments in load-command order (dyld's segment indexes).
    pub(crate) segments: Vec<Segment>,
    /// `LC_MAIN` entryoff.
    pub(crate) entryoff: Option<u64>,
    pub(crate) has_unix_thread: bool,
    pub(crate) dylinker: Option<String>,
    pub(crate) dylibs: Vec<Dylib>,
    pub(crate) uuid: Option<[u8; 16]>,
    pub(crate) build_version: Option<BuildVersion>,
    pub(crate) has_version_min: bool,
    pub(crate) symtab: Option<Symtab>,
    pub(crate) dysymtab: Option<Dysymtab>,
    pub(crate) dyld_info: Option<DyldInfo>,
    pub(crate) linkedit_data: Vec<LinkeditData>,
}

impl MachO<'_> {
    /// The `linkedit_data_command` of kind `cmd`, if present.
    pub(crate) fn linkedit(&self, cmd: u32) -> Option<Blob> {
        self.linkedit_data.iter().find(|l| l.cmd == cmd).map(|l| l.blob)
    }

    pub(crate) fn segment(&self, name: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.name == name)
    }

    /// Header plus load commands: what `__TEXT` must cover.
    pub(crate) fn header_and_commands_size(&self) -> u64 {
        MACH_HEADER_64_SIZE as u64 + u64::from(self.sizeofcmds)
    }
}

/// A name for a load command in messages.
pub(crate) fn command_name(cmd: u32) -> String {
    let name = match cmd {
        LC_SEGMENT => "LC_SEGMENT",
        LC_SYMTAB => "LC_SYMTAB",
        LC_THREAD => "LC_THREAD",
        LC_UNIXTHREAD => "LC_UNIXTHREAD",
        LC_DYSYMTAB => "LC_DYSYMTAB",
        LC_LOAD_DYLIB => "LC_LOAD_DYLIB",
        LC_ID_DYLIB => "LC_ID_DYLIB",
        LC_LOAD_DYLINKER => "LC_LOAD_DYLINKER",
        LC_ID_DYLINKER => "LC_ID_DYLINKER",
        LC_LOAD_WEAK_DYLIB => "LC_LOAD_WEAK_DYLIB",
        LC_SEGMENT_64 => "LC_SEGMENT_64",
        LC_UUID => "LC_UUID",
        LC_RPATH => "LC_RPATH",
        LC_CODE_SIGNATURE => "LC_CODE_SIGNATURE",
        LC_SEGMENT_SPLIT_INFO => "LC_SEGMENT_SPLIT_INFO",
        LC_REEXPORT_DYLIB => "LC_REEXPORT_DYLIB",
        LC_LAZY_LOAD_DYLIB => "LC_LAZY_LOAD_DYLIB",
        LC_ENCRYPTION_INFO => "LC_ENCRYPTION_INFO",
        LC_DYLD_INFO => "LC_DYLD_INFO",
        LC_DYLD_INFO_ONLY => "LC_DYLD_INFO_ONLY",
        LC_LOAD_UPWARD_DYLIB => "LC_LOAD_UPWARD_DYLIB",
        LC_VERSION_MIN_MACOSX => "LC_VERSION_MIN_MACOSX",
        LC_VERSION_MIN_IPHONEOS => "LC_VERSION_MIN_IPHONEOS",
        LC_FUNCTION_STARTS => "LC_FUNCTION_STARTS",
        LC_DYLD_ENVIRONMENT => "LC_DYLD_ENVIRONMENT",
        LC_MAIN => "LC_MAIN",
        LC_DATA_IN_CODE => "LC_DATA_IN_CODE",
        LC_SOURCE_VERSION => "LC_SOURCE_VERSION",
        LC_DYLIB_CODE_SIGN_DRS => "LC_DYLIB_CODE_SIGN_DRS",
        LC_ENCRYPTION_INFO_64 => "LC_ENCRYPTION_INFO_64",
        LC_LINKER_OPTION => "LC_LINKER_OPTION",
        LC_LINKER_OPTIMIZATION_HINT => "LC_LINKER_OPTIMIZATION_HINT",
        LC_VERSION_MIN_TVOS => "LC_VERSION_MIN_TVOS",
        LC_VERSION_MIN_WATCHOS => "LC_VERSION_MIN_WATCHOS",
        LC_NOTE => "LC_NOTE",
        LC_BUILD_VERSION => "LC_BUILD_VERSION",
        LC_DYLD_EXPORTS_TRIE => "LC_DYLD_EXPORTS_TRIE",
        LC_DYLD_CHAINED_FIXUPS => "LC_DYLD_CHAINED_FIXUPS",
        LC_FILESET_ENTRY => "LC_FILESET_ENTRY",
        LC_ATOM_INFO => "LC_ATOM_INFO",
        LC_FUNCTION_VARIANTS => "LC_FUNCTION_VARIANTS",
        LC_FUNCTION_VARIANT_FIXUPS => "LC_FUNCTION_VARIANT_FIXUPS",
        _ => return format!("load command 0x{cmd:08x}"),
    };
    name.to_string()
}

/// One load command's place in the file, for the parsers below.
struct Command<'a> {
    /// 1-based, as dyld numbers them in messages.
    index: u32,
    cmd: u32,
    /// The whole command (`cmd`, `cmdsize` and the rest).
    bytes: &'a [u8],
}

impl Command<'_> {
    fn what(&self) -> String {
        format!("load command #{} ({})", self.index, command_name(self.cmd))
    }

    fn u32_at(&self, offset: usize) -> Result<u32, LoadError> {
        le_u32(self.bytes, offset).ok_or_else(|| malformed!("{} is too short", self.what()))
    }

    fn u64_at(&self, offset: usize) -> Result<u64, LoadError> {
        le_u64(self.bytes, offset).ok_or_else(|| malformed!("{} is too short", self.what()))
    }

    fn expect_size(&self, size: u32) -> Result<(), LoadError> {
        if self.bytes.len() as u64 != u64::from(size) {
            return Err(malformed!("{} size wrong: cmdsize {} but it must be {}", self.what(), self.bytes.len(), size));
        }
        Ok(())
    }

    fn expect_min_size(&self, size: u32) -> Result<(), LoadError> {
        if (self.bytes.len() as u64) < u64::from(size) {
            return Err(malformed!("{} too small: cmdsize {} < {}", self.what(), self.bytes.len(), size));
        }
        Ok(())
    }

    /// The string an `lc_str` at `field` points to: its offset must lie
    /// inside the command (after the fixed part) and it must be
    /// NUL-terminated before the command ends.
    fn string(&self, field: usize, fixed_size: u32) -> Result<String, LoadError> {
        let offset = self.u32_at(field)?;
        if offset < fixed_size || offset as usize >= self.bytes.len() {
            return Err(malformed!("{} string offset ({offset}) outside its size ({})", self.what(), self.bytes.len()));
        }
        c_string(self.bytes, offset as usize)
            .ok_or_else(|| malformed!("{} string extends beyond end of load command", self.what()))
    }

    fn blob(&self, offset_field: usize) -> Result<Blob, LoadError> {
        Ok(Blob { offset: self.u32_at(offset_field)?, size: self.u32_at(offset_field + 4)? })
    }
}

/// Remembers which singleton commands were seen, to refuse repeats.
#[derive(Default)]
struct Seen(Vec<u32>);

impl Seen {
    fn once(&mut self, c: &Command, class: u32, what: &str) -> Result<(), LoadError> {
        if self.0.contains(&class) {
            return Err(malformed!("{}: more than one {what}", c.what()));
        }
        self.0.push(class);
        Ok(())
    }
}

/// Parses the header and all load commands, refusing what the kernel or
/// dyld reject structurally.
pub(crate) fn parse(data: &[u8]) -> Result<MachO<'_>, LoadError> {
    let header = |off: usize| le_u32(data, off).ok_or_else(|| malformed!("file is too small ({} bytes)", data.len()));
    let magic = header(0)?;
    match magic {
        MH_MAGIC_64 => {}
        MH_MAGIC => return Err(unsupported!("32-bit Mach-O (MH_MAGIC); only 64-bit executables run here")),
        MH_CIGAM_64 => return Err(malformed!("big-endian Mach-O")),
        FAT_MAGIC_LE | FAT_MAGIC_64_LE => return Err(unsupported!("universal (fat) binary; pass a thin slice")),
        other => {
            return Err(malformed!("not a Mach-O file: magic 0x{other:08x}, expected MH_MAGIC_64 0x{MH_MAGIC_64:08x}"))
        }
    }
    if data.len() < MACH_HEADER_64_SIZE {
        return Err(malformed!("file is too small ({} bytes) for a mach_header_64", data.len()));
    }
    let cputype = header(4)?;
    let cpusubtype = header(8)?;
    let filetype = header(12)?;
    let ncmds = header(16)?;
    let sizeofcmds = header(20)?;
    let flags = header(24)?;

    let arch = match cputype {
        CPU_TYPE_X86_64 => Arch::X86_64,
        CPU_TYPE_ARM64 => Arch::Arm64,
        other => {
            return Err(malformed!(
                "cputype 0x{other:08x} is neither x86_64 (0x{CPU_TYPE_X86_64:08x}) nor arm64 (0x{CPU_TYPE_ARM64:08x})"
            ))
        }
    };
    check_subtype(arch, cpusubtype & !CPU_SUBTYPE_MASK)?;
    if filetype != MH_EXECUTE {
        return Err(malformed!("filetype {filetype} is not MH_EXECUTE ({MH_EXECUTE})"));
    }
    for (bit, name) in
        [(MH_NOUNDEFS, "MH_NOUNDEFS"), (MH_DYLDLINK, "MH_DYLDLINK"), (MH_TWOLEVEL, "MH_TWOLEVEL"), (MH_PIE, "MH_PIE")]
    {
        if flags & bit == 0 {
            return Err(malformed!("header flags 0x{flags:08x} lack {name}"));
        }
    }

    let commands_end = MACH_HEADER_64_SIZE as u64 + u64::from(sizeofcmds);
    if commands_end > data.len() as u64 {
        return Err(malformed!("load commands length ({commands_end}) exceeds length of file ({})", data.len()));
    }
    let commands_end = commands_end as usize;

    let mut image = MachO {
        data,
        arch,
        sizeofcmds,
        segments: Vec::new(),
        entryoff: None,
        has_unix_thread: false,
        dylinker: None,
        dylibs: Vec::new(),
        uuid: None,
        build_version: None,
        has_version_min: false,
        symtab: None,
        dysymtab: None,
        dyld_info: None,
        linkedit_data: Vec::new(),
    };
    let mut seen = Seen::default();
    let mut offset = MACH_HEADER_64_SIZE;
    for index in 1..=ncmds {
        if offset + LOAD_COMMAND_SIZE as usize > commands_end {
            return Err(malformed!(
                "load command #{index} of {ncmds} starts off the end of the load commands (sizeofcmds {sizeofcmds})"
            ));
        }
        let cmd = le_u32(data, offset).unwrap_or(0);
        let cmdsize = le_u32(data, offset + 4).unwrap_or(0);
        if cmdsize < LOAD_COMMAND_SIZE {
            return Err(malformed!("load command #{index} ({}) size ({cmdsize}) too small", command_name(cmd)));
        }
        if !cmdsize.is_multiple_of(LOAD_COMMAND_ALIGN) {
            return Err(malformed!(
                "load command #{index} ({}) size ({cmdsize}) is not a multiple of {LOAD_COMMAND_ALIGN}",
                command_name(cmd)
            ));
        }
        let end = offset as u64 + u64::from(cmdsize);
        if end > commands_end as u64 {
            return Err(malformed!(
                "load command #{index} ({}) size ({cmdsize}) runs past the end of the load commands (sizeofcmds {sizeofcmds})",
                command_name(cmd)
            ));
        }
        let command = Command { index, cmd, bytes: &data[offset..end as usize] };
        parse_command(&mut image, &mut seen, &command)?;
        offset = end as usize;
    }
    if offset != commands_end {
        return Err(malformed!(
            "ncmds ({ncmds}) load commands take {} bytes but sizeofcmds is {sizeofcmds}",
            offset - MACH_HEADER_64_SIZE
        ));
    }
    Ok(image)
}

fn check_subtype(arch: Arch, subtype: u32) -> Result<(), LoadError> {
    match (arch, subtype) {
        (Arch::X86_64, CPU_SUBTYPE_X86_64_ALL | CPU_SUBTYPE_X86_64_H) => Ok(()),
        (Arch::Arm64, CPU_SUBTYPE_ARM64_ALL | CPU_SUBTYPE_ARM64_V8) => Ok(()),
        (Arch::Arm64, CPU_SUBTYPE_ARM64E) => Err(unsupported!("arm64e (pointer authentication) executables")),
        (arch, other) => Err(malformed!("cpusubtype {other} is not a known {} subtype", arch.name())),
    }
}

/// Offsets of fields inside the commands parsed below.
mod field {
    pub const LC_STR: usize = 8;
    pub const SEGMENT_NAME: usize = 8;
    pub const SEGMENT_NAME_LEN: usize = 16;
    pub const SEGMENT_VMADDR: usize = 24;
    pub const SEGMENT_VMSIZE: usize = 32;
    pub const SEGMENT_FILEOFF: usize = 40;
    pub const SEGMENT_FILESIZE: usize = 48;
    pub const SEGMENT_MAXPROT: usize = 56;
    pub const SEGMENT_INITPROT: usize = 60;
    pub const SEGMENT_NSECTS: usize = 64;
    pub const SEGMENT_FLAGS: usize = 68;
    pub const SECTION_NAME: usize = 0;
    pub const SECTION_ADDR: usize = 32;
    pub const SECTION_SIZE: usize = 40;
    pub const ENTRYOFF: usize = 8;
    pub const UUID: usize = 8;
    pub const BUILD_PLATFORM: usize = 8;
    pub const BUILD_SDK: usize = 16;
    pub const BUILD_NTOOLS: usize = 20;
    pub const LINKEDIT_DATAOFF: usize = 8;
    pub const ENCRYPTION_CRYPTID: usize = 16;
    pub const LINKER_OPTION_COUNT: usize = 8;
}

fn parse_command(image: &mut MachO, seen: &mut Seen, c: &Command) -> Result<(), LoadError> {
    match c.cmd {
        LC_SEGMENT_64 => image.segments.push(parse_segment(c)?),
        LC_SEGMENT => return Err(malformed!("{}: a 32-bit segment command in a 64-bit image", c.what())),
        LC_MAIN => {
            c.expect_size(ENTRY_POINT_COMMAND_SIZE)?;
            seen.once(c, LC_MAIN, "LC_MAIN")?;
            image.entryoff = Some(c.u64_at(field::ENTRYOFF)?);
        }
        LC_UNIXTHREAD => {
            seen.once(c, LC_UNIXTHREAD, "LC_UNIXTHREAD")?;
            image.has_unix_thread = true;
        }
        LC_LOAD_DYLINKER => {
            c.expect_min_size(STRING_COMMAND_SIZE)?;
            seen.once(c, LC_LOAD_DYLINKER, "LC_LOAD_DYLINKER")?;
            image.dylinker = Some(c.string(field::LC_STR, STRING_COMMAND_SIZE)?);
        }
        LC_LOAD_DYLIB | LC_LOAD_WEAK_DYLIB | LC_REEXPORT_DYLIB | LC_LOAD_UPWARD_DYLIB | LC_LAZY_LOAD_DYLIB => {
            c.expect_min_size(DYLIB_COMMAND_SIZE)?;
            image.dylibs.push(Dylib { cmd: c.cmd, path: c.string(field::LC_STR, DYLIB_COMMAND_SIZE)? });
        }
        LC_ID_DYLIB => return Err(malformed!("{}: LC_ID_DYLIB found in non-MH_DYLIB", c.what())),
        LC_ID_DYLINKER | LC_SUB_UMBRELLA | LC_SUB_CLIENT | LC_SUB_LIBRARY | LC_RPATH | LC_DYLD_ENVIRONMENT => {
            c.expect_min_size(STRING_COMMAND_SIZE)?;
            c.string(field::LC_STR, STRING_COMMAND_SIZE)?;
        }
        LC_UUID => {
            c.expect_size(UUID_COMMAND_SIZE)?;
            seen.once(c, LC_UUID, "LC_UUID")?;
            let bytes = &c.bytes[field::UUID..field::UUID + 16];
            image.uuid = Some(bytes.try_into().expect("16 bytes checked by the size"));
        }
        LC_BUILD_VERSION => {
            c.expect_min_size(BUILD_VERSION_COMMAND_SIZE)?;
            let ntools = c.u32_at(field::BUILD_NTOOLS)?;
            let size = u64::from(BUILD_VERSION_COMMAND_SIZE) + u64::from(ntools) * u64::from(BUILD_TOOL_VERSION_SIZE);
            if c.bytes.len() as u64 != size {
                return Err(malformed!(
                    "{} size wrong: cmdsize {} but {ntools} tools need {size}",
                    c.what(),
                    c.bytes.len()
                ));
            }
            seen.once(c, LC_BUILD_VERSION, "platform load command (LC_BUILD_VERSION / LC_VERSION_MIN_*)")?;
            image.build_version =
                Some(BuildVersion { platform: c.u32_at(field::BUILD_PLATFORM)?, sdk: c.u32_at(field::BUILD_SDK)? });
        }
        LC_VERSION_MIN_MACOSX | LC_VERSION_MIN_IPHONEOS | LC_VERSION_MIN_TVOS | LC_VERSION_MIN_WATCHOS => {
            c.expect_size(VERSION_MIN_COMMAND_SIZE)?;
            seen.once(c, LC_BUILD_VERSION, "platform load command (LC_BUILD_VERSION / LC_VERSION_MIN_*)")?;
            if c.cmd != LC_VERSION_MIN_MACOSX {
                return Err(malformed!("{}: built for a different platform than macOS", c.what()));
            }
            image.has_version_min = true;
        }
        LC_SYMTAB => {
            c.expect_size(SYMTAB_COMMAND_SIZE)?;
            seen.once(c, LC_SYMTAB, "LC_SYMTAB")?;
            image.symtab = Some(Symtab {
                symoff: c.u32_at(8)?,
                nsyms: c.u32_at(12)?,
                stroff: c.u32_at(16)?,
                strsize: c.u32_at(20)?,
            });
        }
        LC_DYSYMTAB => {
            c.expect_size(DYSYMTAB_COMMAND_SIZE)?;
            seen.once(c, LC_DYSYMTAB, "LC_DYSYMTAB")?;
            image.dysymtab = Some(Dysymtab {
                ilocalsym: c.u32_at(8)?,
                nlocalsym: c.u32_at(12)?,
                iextdefsym: c.u32_at(16)?,
                nextdefsym: c.u32_at(20)?,
                iundefsym: c.u32_at(24)?,
                nundefsym: c.u32_at(28)?,
                indirectsymoff: c.u32_at(56)?,
                nindirectsyms: c.u32_at(60)?,
                extreloff: c.u32_at(64)?,
                nextrel: c.u32_at(68)?,
                locreloff: c.u32_at(72)?,
                nlocrel: c.u32_at(76)?,
            });
        }
        LC_DYLD_INFO | LC_DYLD_INFO_ONLY => {
            c.expect_size(DYLD_INFO_COMMAND_SIZE)?;
            seen.once(c, LC_DYLD_INFO, "LC_DYLD_INFO / LC_DYLD_INFO_ONLY")?;
            image.dyld_info = Some(DyldInfo {
                only: c.cmd == LC_DYLD_INFO_ONLY,
                rebase: c.blob(8)?,
                bind: c.blob(16)?,
                weak_bind: c.blob(24)?,
                lazy_bind: c.blob(32)?,
                export: c.blob(40)?,
            });
        }
        LC_CODE_SIGNATURE
        | LC_SEGMENT_SPLIT_INFO
        | LC_FUNCTION_STARTS
        | LC_DATA_IN_CODE
        | LC_DYLIB_CODE_SIGN_DRS
        | LC_LINKER_OPTIMIZATION_HINT
        | LC_DYLD_EXPORTS_TRIE
        | LC_DYLD_CHAINED_FIXUPS
        | LC_ATOM_INFO
        | LC_FUNCTION_VARIANTS
        | LC_FUNCTION_VARIANT_FIXUPS => {
            c.expect_size(LINKEDIT_DATA_COMMAND_SIZE)?;
            seen.once(c, c.cmd, &command_name(c.cmd))?;
            image.linkedit_data.push(LinkeditData { cmd: c.cmd, blob: c.blob(field::LINKEDIT_DATAOFF)? });
        }
        LC_ENCRYPTION_INFO | LC_ENCRYPTION_INFO_64 => {
            let size = if c.cmd == LC_ENCRYPTION_INFO {
                ENCRYPTION_INFO_COMMAND_SIZE
            } else {
                ENCRYPTION_INFO_COMMAND_64_SIZE
            };
            // LC_ENCRYPTION_INFO (20 bytes) cannot be a multiple of 8 in a 64-bit image.
            c.expect_size(size)?;
            if c.u32_at(field::ENCRYPTION_CRYPTID)? != 0 {
                return Err(unsupported!("{}: the image is encrypted", c.what()));
            }
        }
        LC_SOURCE_VERSION => c.expect_size(SOURCE_VERSION_COMMAND_SIZE)?,
        LC_NOTE => c.expect_size(NOTE_COMMAND_SIZE)?,
        LC_LINKER_OPTION => check_linker_option(c)?,
        LC_FILESET_ENTRY => return Err(malformed!("{}: only kernel collections have fileset entries", c.what())),
        LC_THREAD => {}
        other if other & LC_REQ_DYLD != 0 => {
            return Err(malformed!("load command #{} unknown required load command 0x{other:08x}", c.index));
        }
        // The kernel and dyld ignore commands they do not know.
        _ => {}
    }
    Ok(())
}

fn parse_segment(c: &Command) -> Result<Segment, LoadError> {
    c.expect_min_size(SEGMENT_COMMAND_64_SIZE)?;
    let nsects = c.u32_at(field::SEGMENT_NSECTS)?;
    let expected = u64::from(SEGMENT_COMMAND_64_SIZE) + u64::from(nsects) * u64::from(SECTION_64_SIZE);
    if c.bytes.len() as u64 != expected {
        return Err(malformed!(
            "{} size {} does not match its {nsects} sections (expected {expected})",
            c.what(),
            c.bytes.len()
        ));
    }
    let name = fixed_name(c.bytes, field::SEGMENT_NAME, field::SEGMENT_NAME_LEN).unwrap_or_default();
    let sections = (0..nsects as usize)
        .map(|i| {
            let base = SEGMENT_COMMAND_64_SIZE as usize + i * SECTION_64_SIZE as usize;
            Ok(Section {
                name: fixed_name(c.bytes, base + field::SECTION_NAME, field::SEGMENT_NAME_LEN).unwrap_or_default(),
                addr: c.u64_at(base + field::SECTION_ADDR)?,
                size: c.u64_at(base + field::SECTION_SIZE)?,
            })
        })
        .collect::<Result<Vec<_>, LoadError>>()?;
    Ok(Segment {
        name,
        vmaddr: c.u64_at(field::SEGMENT_VMADDR)?,
        vmsize: c.u64_at(field::SEGMENT_VMSIZE)?,
        fileoff: c.u64_at(field::SEGMENT_FILEOFF)?,
        filesize: c.u64_at(field::SEGMENT_FILESIZE)?,
        maxprot: c.u32_at(field::SEGMENT_MAXPROT)?,
        initprot: c.u32_at(field::SEGMENT_INITPROT)?,
        flags: c.u32_at(field::SEGMENT_FLAGS)?,
        sections,
    })
}

/// dyld: every one of `count` strings must end inside the command.
fn check_linker_option(c: &Command) -> Result<(), LoadError> {
    c.expect_min_size(LINKER_OPTION_COMMAND_SIZE)?;
    let count = c.u32_at(field::LINKER_OPTION_COUNT)?;
    let mut pos = LINKER_OPTION_COMMAND_SIZE as usize;
    for _ in 0..count {
        let s = c_string(c.bytes, pos).ok_or_else(|| malformed!("{}: malformed LC_LINKER_OPTION command", c.what()))?;
        pos += s.len() + 1;
    }
    Ok(())
}

/// The load commands of a possibly invalid image, as `(offset, cmd,
/// cmdsize)`, stopping at the first one that does not fit: for tools that
/// patch images the strict parser would refuse.
pub(crate) fn raw_commands(data: &[u8]) -> Vec<(usize, u32, u32)> {
    let ncmds = le_u32(data, 16).unwrap_or(0);
    let mut out = Vec::new();
    let mut offset = MACH_HEADER_64_SIZE;
    for _ in 0..ncmds {
        let (Some(cmd), Some(size)) = (le_u32(data, offset), le_u32(data, offset + 4)) else { break };
        if size < LOAD_COMMAND_SIZE || offset + size as usize > data.len() {
            break;
        }
        out.push((offset, cmd, size));
        offset += size as usize;
    }
    out
}

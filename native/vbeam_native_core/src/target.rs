//! What a module is compiled for: an instruction set and the operating
//! system whose executable format was asked for, resolved once per module
//! and handed down to every pass.

use crate::ir::{Format, Isa};
use crate::regs::{call_conv, CallConv};

/// The operating system a format implies: ELF for Linux, Mach-O for
/// macOS (XNU), PE32+ for UEFI firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Os {
    Linux,
    Darwin,
    Uefi,
}

impl Os {
    pub fn of_format(format: Format) -> Os {
        match format {
            Format::Elf64 => Os::Linux,
            Format::Macho => Os::Darwin,
            Format::Pe => Os::Uefi,
        }
    }
    /// The executable format this system loads.
    pub fn format(self) -> Format {
        match self {
            Os::Linux => Format::Elf64,
            Os::Darwin => Format::Macho,
            Os::Uefi => Format::Pe,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub isa: Isa,
    pub os: Os,
    /// The calling convention functions follow on this target.
    pub cc: &'static CallConv,
}

impl Target {
    pub fn new(isa: Isa, format: Format) -> Target {
        Target { isa, os: Os::of_format(format), cc: call_conv(isa) }
    }
    pub fn format(self) -> Format {
        self.os.format()
    }
}

impl PartialEq for Target {
    fn eq(&self, other: &Target) -> bool {
        (self.isa, self.os) == (other.isa, other.os)
    }
}

impl Eq for Target {}

//! Executable file formats: one writer per format behind `Writer`. The
//! linker asks the writer where the sections go (`place`) and resolves
//! every address; `write` then has the writer put the image in a file and
//! take the last step over the finished bytes (`finish`: a code signature,
//! a checksum).

pub mod bytes;
pub mod codesign;
pub mod elf;
pub mod macho;
pub mod pe;

use crate::image::{Image, Placement, Sizes};
use crate::ir::Format;
use crate::target::Target;

pub trait Writer {
    /// Lays out the sections: the text and data addresses the code is
    /// linked at.
    fn place(&self, target: Target, sizes: &Sizes) -> Placement;
    /// The executable file of a linked image laid out by `place`.
    fn write(&self, image: &Image) -> Vec<u8>;
    /// The last step, over the finished file: what covers its bytes (a
    /// code signature, a checksum).
    fn finish(&self, _image: &Image, _file: &mut [u8]) {}
    /// The largest alignment data can be given: the format's loader may
    /// place the image at any multiple of it.
    fn max_data_align(&self, target: Target) -> u64;
    /// The most data and bss the format can describe (room left for the
    /// code and the runtime's own entries).
    fn max_data_size(&self) -> u64 {
        USER_ADDRESS_SPACE
    }
}

/// What a 64-bit user process can address on every system here (47 bits
/// on x86_64, 48 on arm64): images beyond it could never be loaded.
const USER_ADDRESS_SPACE: u64 = 1 << 46;

/// The writer of `target`'s format.
pub fn writer(target: Target) -> &'static dyn Writer {
    match target.format() {
        Format::Elf64 => &elf::Elf,
        Format::Macho => &macho::MachO,
        Format::Pe => &pe::Pe,
    }
}

/// The executable file of `image`.
pub fn write(image: &Image) -> Vec<u8> {
    let writer = writer(image.target);
    let mut file = writer.write(image);
    writer.finish(image, &mut file);
    file
}

//! Single large functions of every shape `shapes` writes (values live
//! across thousands of blocks, loops, thousands of spill slots: beyond
//! what arm64 addresses with an immediate offset) agree with the
//! interpreter on both targets, as ELF and as Mach-O.

use vbeam_native_core::ir::{Format, Isa};
use vbeam_native_testkit::difftest::{check_module, work_dir};
use vbeam_native_testkit::shapes::{self, Shape};

/// Instructions per function: `LiveToEnd` then keeps 5,000 values live at
/// once, each in a spill slot of its own.
const INSTRUCTIONS: usize = 25_000;

#[test]
fn large_functions_of_every_shape_agree_with_the_interpreter() {
    let work = work_dir("large_functions");
    std::fs::create_dir_all(&work).unwrap();
    let mut failures = Vec::new();
    for target in [Isa::X86_64, Isa::Arm64] {
        for shape in Shape::ALL {
            for format in [Format::Elf64, Format::Macho] {
                let mut module = shapes::module(target, shape, INSTRUCTIONS);
                module.format = format;
                failures.extend(check_module(&module, shape.name(), &work));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

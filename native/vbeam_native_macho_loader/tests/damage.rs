//! No damage may make the loader panic: every byte of the header and load
//! commands, the signature's header and the rebase opcodes of an ld64.lld
//! executable is flipped in turn, and the result must be refused or run.

mod common;
mod programs;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::*;
use vbeam_native_macho_loader::{codesign, run, Options};

/// Every byte of the header and load commands, and of the signature's
/// header, flipped in turn (then re-signed where possible): the loader must
/// refuse or run each variant, never panic.
#[test]
fn no_damage_panics() {
    // The only test in this binary: silencing panic messages hides nobody else's.
    std::panic::set_hook(Box::new(|_| {}));
    for isa in Isa::ALL {
        let image = build(isa, Signing::AdHoc, "rebased", &programs::rebased(isa));
        let (sig, cd) = code_directory(&image);
        let commands_end = 32 + u32_at(&image, 20) as usize;
        let targets = (0..commands_end).chain(sig..cd + 96).chain(rebase_range(&image));
        let (mut refused, mut ran) = (0, 0);
        for at in targets {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = image.clone();
                damaged[at] ^= flip;
                // resign() panics by design when the signature is unreadable.
                let _ = catch_unwind(AssertUnwindSafe(|| codesign::resign(&mut damaged)));
                let opts = Options { instruction_limit: Some(100_000), ..Options::default() };
                let result = catch_unwind(AssertUnwindSafe(|| run(&damaged, &opts)));
                match result {
                    Ok(Ok(_)) => ran += 1,
                    Ok(Err(_)) => refused += 1,
                    Err(_) => panic!("{isa:?}: panic with byte 0x{at:x} ^ 0x{flip:02x}"),
                }
            }
        }
        eprintln!("{isa:?}: {refused} damaged images refused, {ran} ran");
        assert!(refused > 0 && ran > 0);
    }
}

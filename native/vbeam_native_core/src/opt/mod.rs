//! The optimizing layer: IR to IR, per function, between expansion and
//! register allocation, one pass a file. No pass changes what a program
//! prints, its exit status, a float's bits or where it panics.

mod hoist;
mod rotate;

use crate::ir::Function;

/// Runs every pass over an expanded function.
pub fn optimize(f: &mut Function) {
    rotate::rotate_loops(f);
    hoist::hoist_loop_prefixes(f);
}

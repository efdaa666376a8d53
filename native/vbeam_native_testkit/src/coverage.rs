//! What a reference run reached: the behaviours that found real backend
//! bugs, recorded by the interpreter as it executes them, so a test can
//! show the generator does produce each one (not merely write code that is
//! never run).

use std::collections::BTreeMap;

use vbeam_native_core::ir::Cond;

macro_rules! features {
    ($($name:ident => $text:literal,)*) => {
        /// A behaviour a run reached.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Feature {
            $($name,)*
        }

        impl Feature {
            pub const ALL: &'static [Feature] = &[$(Feature::$name,)*];
            pub fn text(self) -> &'static str {
                match self {
                    $(Feature::$name => $text,)*
                }
            }
        }
    };
}

features! {
    ArrayElem1 => "array element of 1 byte",
    ArrayElem2 => "array element of 2 bytes",
    ArrayElem4 => "array element of 4 bytes",
    ArrayElem8 => "array element of 8 bytes",
    LoadByte => "load_byte",
    StoreByte => "store_byte",
    FieldBeyond32K => "struct field at offset >= 32 KiB",
    FieldUnaligned => "struct field at an offset not a multiple of 8",
    MapKeyWideNegative => "map key below -2^32",
    MapKeyWidePositive => "map key above 2^32",
    MapKeyExtreme => "map key i64::MIN or i64::MAX",
    FloatNanOperand => "float operation on a NaN",
    FloatInfOperand => "float operation on an infinity",
    FloatSubnormal => "float operation on or giving a subnormal",
    IntToFloatInexact => "int_to_float rounding",
    FloatToInt => "float_to_int",
    PrintFloatNan => "print_float/float_to_str of a NaN",
    PrintFloatInf => "print_float/float_to_str of an infinity",
    PrintFloatSubnormal => "print_float/float_to_str of a subnormal",
    PrintFloatTie => "print_float/float_to_str of a tie between shortest texts",
    JccEq => "jcc eq",
    JccNe => "jcc ne",
    JccLt => "jcc lt",
    JccLe => "jcc le",
    JccGt => "jcc gt",
    JccGe => "jcc ge",
    JccLtu => "jcc ltu",
    JccLeu => "jcc leu",
    JccGtu => "jcc gtu",
    JccGeu => "jcc geu",
    JccAfterJcc => "jcc right after another jcc",
    JccAfterNop => "jcc after a nop following its cmp",
    PregAcrossRuntime => "named preg read after a runtime instruction it was live across",
    PregAcrossSyscall => "named preg read after a syscall it was live across",
    PregAcrossCall => "callee-saved preg read after a call it was live across",
    ScratchCandidatesNamed => "function naming all but one of the backend's scratch candidates",
    DeepRecursion => "recursion 1000 frames deep",
    SparseVreg => "vreg numbered 1000000 or more",
    FallOffEnd => "function body ended without ret",
    EndInLabel => "function body ended in a label",
    DataAddress => "address of a data entry loaded from data",
    DataAddressAddend => "address plus addend loaded from data",
    FunctionAddress => "function address loaded from data",
    LeaFunction => "lea of a function",
    CallIndirect => "call_indirect",
    SyscallWrite => "syscall write",
}

impl Feature {
    pub fn jcc(c: Cond) -> Feature {
        match c {
            Cond::Eq => Feature::JccEq,
            Cond::Ne => Feature::JccNe,
            Cond::Lt => Feature::JccLt,
            Cond::Le => Feature::JccLe,
            Cond::Gt => Feature::JccGt,
            Cond::Ge => Feature::JccGe,
            Cond::Ltu => Feature::JccLtu,
            Cond::Leu => Feature::JccLeu,
            Cond::Gtu => Feature::JccGtu,
            Cond::Geu => Feature::JccGeu,
        }
    }
}

/// How many programs reached each feature.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    pub programs: u64,
    pub reached: BTreeMap<Feature, u64>,
}

impl Coverage {
    pub fn add(&mut self, features: impl IntoIterator<Item = Feature>) {
        self.programs += 1;
        for f in features {
            *self.reached.entry(f).or_default() += 1;
        }
    }
    pub fn merge(&mut self, other: &Coverage) {
        self.programs += other.programs;
        for (f, n) in &other.reached {
            *self.reached.entry(*f).or_default() += n;
        }
    }
    /// Features no program reached.
    pub fn missing(&self) -> Vec<Feature> {
        Feature::ALL.iter().copied().filter(|f| !self.reached.contains_key(f)).collect()
    }
    /// One line per feature: the share of programs that reached it.
    pub fn summary(&self) -> String {
        Feature::ALL
            .iter()
            .map(|f| {
                let n = self.reached.get(f).copied().unwrap_or(0);
                format!("{:>7} of {} programs: {}\n", n, self.programs, f.text())
            })
            .collect()
    }
}

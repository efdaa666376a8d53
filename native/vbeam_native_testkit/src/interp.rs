//! A reference interpreter of the IR, written from the spec and sharing no
//! code with the backend's lowering or runtime, so differential testing
//! compares two independent readings of the spec.
//!
//! Memory is byte addressed: data and bss entries, and a heap laid out
//! exactly as the spec's layouts say, so programs that read headers with
//! `load`/`store` behave as on the machine.

use std::collections::{BTreeSet, HashMap};

use vbeam_native_core::ir::*;
use vbeam_native_core::regs::call_conv;

use crate::coverage::Feature;

mod libm;
mod parse_float;

/// What a run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Both streams in the order they were written, as one terminal
    /// shows them.
    pub console: Vec<u8>,
    pub exit_status: i32,
    /// The behaviours the run reached (see `coverage`).
    pub reached: BTreeSet<Feature>,
}

const STDOUT: i64 = 1;
const STDERR: i64 = 2;

impl Outcome {
    /// Writes `bytes` to stream `fd` (1 or 2; others are ignored).
    fn write(&mut self, fd: i64, bytes: &[u8]) {
        match fd {
            STDOUT => self.stdout.extend_from_slice(bytes),
            STDERR => self.stderr.extend_from_slice(bytes),
            _ => return,
        }
        self.console.extend_from_slice(bytes);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpError {
    StepLimit,
    BadAddress(u64),
    Unsupported(String),
    /// Where an error happened: function name and 1-based instruction index.
    At(String, usize, Box<InterpError>),
}

const DATA_BASE: u64 = 0x1000_0000;
/// Where functions' addresses are (16 bytes apart): neither data nor heap,
/// so loading from one is a bad address as on the machine.
const FUNCTION_BASE: u64 = 0x3000_0000;
const HEAP_BASE: u64 = 0x4000_0000;
/// Call depth counted as deep recursion.
const DEEP: u32 = 1000;

/// How a run ends early: an exit status (exit syscall, panic) or an error.
enum Stop {
    Exit(i32),
    Error(InterpError),
}

impl From<InterpError> for Stop {
    fn from(e: InterpError) -> Stop {
        Stop::Error(e)
    }
}

struct Memory {
    data: Vec<u8>,
    heap: Vec<u8>,
}

impl Memory {
    fn slice(&mut self, addr: u64, len: u64) -> Result<&mut [u8], InterpError> {
        if len == 0 {
            // Empty buffers (a new map's entries) may be null.
            return Ok(&mut []);
        }
        let (region, base) = if addr >= HEAP_BASE { (&mut self.heap, HEAP_BASE) } else { (&mut self.data, DATA_BASE) };
        let start = addr.checked_sub(base).ok_or(InterpError::BadAddress(addr))? as usize;
        let end = start.checked_add(len as usize).ok_or(InterpError::BadAddress(addr))?;
        region.get_mut(start..end).ok_or(InterpError::BadAddress(addr))
    }
    fn read(&mut self, addr: u64, width: u64) -> Result<i64, InterpError> {
        let s = self.slice(addr, width)?;
        let mut b = [0u8; 8];
        b[..width as usize].copy_from_slice(s);
        Ok(i64::from_le_bytes(b))
    }
    fn write(&mut self, addr: u64, width: u64, v: i64) -> Result<(), InterpError> {
        let s = self.slice(addr, width)?;
        s.copy_from_slice(&v.to_le_bytes()[..width as usize]);
        Ok(())
    }
    fn bytes(&mut self, addr: u64, len: u64) -> Result<Vec<u8>, InterpError> {
        Ok(self.slice(addr, len)?.to_vec())
    }
    fn alloc(&mut self, size: u64) -> u64 {
        let at = HEAP_BASE + self.heap.len() as u64;
        let size = size.next_multiple_of(16);
        self.heap.resize(self.heap.len() + size as usize, 0);
        at
    }
}

/// A function's activation. Calls push frames on a stack of their own,
/// so a program recursing thousands of frames deep costs no native stack.
struct Frame {
    function: usize,
    pc: usize,
    vregs: HashMap<u32, i64>,
    slots: HashMap<u32, i64>,
    stack: Vec<i64>,
    /// The pregs the function's instructions named so far, as bits.
    named: u32,
    /// Where the caller wants the result (`method_call`'s Dst).
    result_to: Option<Reg>,
    /// The caller's registers, for the callee-saved ones to be restored.
    caller_pregs: [i64; 32],
    caller_written: [Events; 32],
}

/// How many runtime instructions, system calls and calls had run: what a
/// named preg's value was written before.
#[derive(Clone, Copy, Default)]
struct Events {
    runtime: u64,
    syscalls: u64,
    calls: u64,
}

pub struct Interp<'m> {
    module: &'m Module,
    functions: HashMap<&'m str, usize>,
    labels: Vec<HashMap<u32, usize>>,
    data_addr: HashMap<&'m str, (u64, u64)>,
    /// Addresses of the module's functions and of the builtins whose
    /// addresses the program takes, both ways.
    function_addr: HashMap<String, u64>,
    function_at: HashMap<u64, String>,
    /// Addresses stored in data, by where they are stored (for coverage).
    stored_addresses: HashMap<u64, Feature>,
    mem: Memory,
    pregs: [i64; 32],
    /// The events that had run when each preg was last written.
    preg_written: [Events; 32],
    events: Events,
    flags: (i64, i64),
    out: Outcome,
    steps: u64,
    max_steps: u64,
    /// The random generator's state, once `seed` set it.
    rand: Option<u64>,
}

/// Runs `module` from `main`.
pub fn run(module: &Module, max_steps: u64) -> Result<Outcome, InterpError> {
    let mut it = Interp::new(module, max_steps);
    let main = it.functions["main"];
    match it.execute(main) {
        Ok(_) => it.out.exit_status = 0,
        Err(Stop::Exit(s)) => it.out.exit_status = s,
        Err(Stop::Error(e)) => return Err(e),
    }
    Ok(it.out)
}

/// V's text of a float, from Rust's own formatting: the shortest digits
/// that read back to x (ties to even), plain for 1e-5 <= |x| < 1e16,
/// `d.ddde±XX` outside, and the specials.
pub fn v_float_text(bits: i64) -> String {
    float_text_and_tie(bits).0
}

/// V's text of a float, and whether it was a tie that `{:e}` settles the
/// other way: two shortest candidates equally near, the even one taken.
fn float_text_and_tie(bits: i64) -> (String, bool) {
    let x = f64::from_bits(bits as u64);
    if x.is_nan() {
        return ("nan".into(), false);
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    let a = x.abs();
    if a.is_infinite() {
        return (format!("{sign}inf"), false);
    }
    if a == 0.0 {
        return (format!("{sign}0.0"), false);
    }
    // `{:e}` gives d[.ddd]eE with the shortest digits, but takes the upper
    // one when the value lies exactly halfway between two shortest
    // candidates. `{:.Ne}` rounds exactly, ties to even: with as many digits
    // it is the shortest text again, with V's tie rule, unless it falls
    // outside the values that read back to x (the interval below a power
    // of two is half as wide), where the shortest is the only candidate.
    let shortest = format!("{a:e}");
    let decimals = shortest.find('e').expect("scientific text").saturating_sub(2);
    let nearest = format!("{a:.decimals$e}");
    let tie = nearest != shortest && nearest.parse::<f64>() == Ok(a);
    let sci = if tie { nearest } else { shortest };
    let (mantissa, exp) = sci.split_once('e').expect("scientific text");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = exp.parse::<i32>().expect("an exponent") + 1;
    let n = digits.len() as i32;
    let text = if (1..=16).contains(&k) {
        let int: String = (0..k).map(|i| digits.as_bytes().get(i as usize).map_or('0', |c| *c as char)).collect();
        let frac = if n > k { &digits[k as usize..] } else { "0" };
        format!("{sign}{int}.{frac}")
    } else if (-4..=0).contains(&k) {
        format!("{sign}0.{}{digits}", "0".repeat((-k) as usize))
    } else {
        let e = k - 1;
        let rest = if n > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        format!("{sign}{}{rest}e{}{:02}", &digits[..1], if e < 0 { '-' } else { '+' }, e.abs())
    };
    (text, tie)
}

fn fbits(f: f64) -> i64 {
    f.to_bits() as i64
}
fn float(v: i64) -> f64 {
    f64::from_bits(v as u64)
}

impl<'m> Interp<'m> {
    fn new(module: &'m Module, max_steps: u64) -> Interp<'m> {
        let mut data = Vec::new();
        let mut data_addr = HashMap::new();
        for d in &module.data {
            data.resize(data.len().next_multiple_of(d.align as usize), 0);
            data_addr.insert(d.name.as_str(), (DATA_BASE + data.len() as u64, d.bytes.len() as u64));
            data.extend_from_slice(&d.bytes);
        }
        for b in &module.bss {
            data.resize(data.len().next_multiple_of(b.align as usize), 0);
            data_addr.insert(b.name.as_str(), (DATA_BASE + data.len() as u64, b.size));
            data.resize(data.len() + b.size as usize, 0);
        }
        let mut function_addr = HashMap::new();
        for (i, f) in module.functions.iter().enumerate() {
            function_addr.insert(f.name.clone(), FUNCTION_BASE + 16 * i as u64);
        }
        let mut function_at: HashMap<u64, String> = function_addr.iter().map(|(n, a)| (*a, n.clone())).collect();
        let mut stored_addresses = HashMap::new();
        for d in &module.data {
            let base = (data_addr[d.name.as_str()].0 - DATA_BASE) as usize;
            for r in &d.refs {
                let (to, kind) = match &r.symbol {
                    Symbol::Data(name) => {
                        let kind = if r.addend == 0 { Feature::DataAddress } else { Feature::DataAddressAddend };
                        (data_addr.get(name.as_str()).map_or(0, |a| a.0), kind)
                    }
                    Symbol::Function(name) => {
                        (address_of_function(&mut function_addr, &mut function_at, name), Feature::FunctionAddress)
                    }
                };
                let at = base + r.offset as usize;
                data[at..at + 8].copy_from_slice(&to.wrapping_add(r.addend as u64).to_le_bytes());
                stored_addresses.insert(DATA_BASE + at as u64, kind);
            }
        }
        let labels = module
            .functions
            .iter()
            .map(|f| {
                f.body
                    .iter()
                    .enumerate()
                    .filter_map(|(i, inst)| if let Inst::Label(l) = inst { Some((l.0, i)) } else { None })
                    .collect()
            })
            .collect();
        Interp {
            module,
            functions: module.functions.iter().enumerate().map(|(i, f)| (f.name.as_str(), i)).collect(),
            labels,
            data_addr,
            function_addr,
            function_at,
            stored_addresses,
            mem: Memory { data, heap: Vec::new() },
            pregs: [0; 32],
            preg_written: [Events::default(); 32],
            events: Events::default(),
            flags: (0, 0),
            out: Outcome {
                stdout: Vec::new(),
                stderr: Vec::new(),
                console: Vec::new(),
                exit_status: 0,
                reached: BTreeSet::new(),
            },
            steps: 0,
            max_steps,
            rand: None,
        }
    }

    fn panic(&mut self, message: &str) -> Stop {
        self.out.write(STDERR, message.as_bytes());
        Stop::Exit(1)
    }

    /// Calls function `fi` with `args` bound to its params.
    /// Runs function `main` to its end.
    fn execute(&mut self, main: usize) -> Result<(), Stop> {
        let module = self.module;
        let mut frames = vec![self.enter(main, &[], None)];
        while let Some(frame) = frames.last_mut() {
            let f = &module.functions[frame.function];
            let Some(inst) = f.body.get(frame.pc) else {
                // The end of the body returns as `ret` does.
                let end = if matches!(f.body.last(), Some(Inst::Label(_))) {
                    Feature::EndInLabel
                } else {
                    Feature::FallOffEnd
                };
                self.note(end);
                self.leave(&mut frames);
                continue;
            };
            self.steps += 1;
            if self.steps > self.max_steps {
                return Err(Stop::Error(InterpError::StepLimit));
            }
            let previous = frame.pc.checked_sub(1).map(|p| &f.body[p]);
            let flow = self.step(frame, inst, previous).map_err(|stop| match stop {
                Stop::Error(e) => Stop::Error(InterpError::At(f.name.clone(), frame.pc + 1, Box::new(e))),
                exit => exit,
            })?;
            if is_runtime_instruction(inst) {
                self.events.runtime += 1;
            }
            match flow {
                Flow::Next => frame.pc += 1,
                Flow::Jump(l) => frame.pc = self.labels[frame.function][&l.0],
                Flow::Return => self.leave(&mut frames),
                Flow::Call { function, args, result_to } => {
                    let callee = self.enter(function, &args, result_to);
                    frames.push(callee);
                    if frames.len() >= DEEP as usize {
                        self.note(Feature::DeepRecursion);
                    }
                }
            }
        }
        Ok(())
    }

    /// A frame for calling function `fi` with `args` bound to its params.
    fn enter(&self, fi: usize, args: &[i64], result_to: Option<Reg>) -> Frame {
        let f = &self.module.functions[fi];
        let mut vregs = HashMap::new();
        for (p, v) in f.params.iter().zip(args) {
            if let Reg::V(n) = p {
                vregs.insert(*n, *v);
            }
        }
        Frame {
            function: fi,
            pc: 0,
            vregs,
            slots: HashMap::new(),
            stack: Vec::new(),
            named: 0,
            result_to,
            caller_pregs: self.pregs,
            caller_written: self.preg_written,
        }
    }

    /// Returns from the innermost frame to its caller, past the call.
    fn leave(&mut self, frames: &mut Vec<Frame>) {
        let done = frames.pop().expect("a frame to leave");
        // Every function preserves the callee-saved registers.
        let cc = call_conv(self.module.isa);
        for p in cc.callee_saved.iter() {
            self.pregs[p.0 as usize] = done.caller_pregs[p.0 as usize];
            self.preg_written[p.0 as usize] = done.caller_written[p.0 as usize];
        }
        if let Some(caller) = frames.last_mut() {
            if let Some(dst) = done.result_to {
                let v = self.pregs[cc.result.0 as usize];
                self.set(caller, dst, v);
            }
            caller.pc += 1;
        }
    }

    fn note(&mut self, feature: Feature) {
        self.out.reached.insert(feature);
    }

    fn reg(&mut self, frame: &mut Frame, r: Reg) -> i64 {
        match r {
            Reg::V(n) => frame.vregs.get(&n).copied().unwrap_or(0),
            Reg::P(p) => {
                self.named(frame, p);
                let (written, now) = (self.preg_written[p.0 as usize], self.events);
                if written.runtime < now.runtime {
                    self.note(Feature::PregAcrossRuntime);
                }
                if written.syscalls < now.syscalls {
                    self.note(Feature::PregAcrossSyscall);
                }
                if written.calls < now.calls && call_conv(self.module.isa).callee_saved.contains(p) {
                    self.note(Feature::PregAcrossCall);
                }
                self.pregs[p.0 as usize]
            }
        }
    }
    fn set(&mut self, frame: &mut Frame, r: Reg, v: i64) {
        match r {
            Reg::V(n) => {
                if n >= 1_000_000 {
                    self.note(Feature::SparseVreg);
                }
                frame.vregs.insert(n, v);
            }
            Reg::P(p) => {
                self.named(frame, p);
                self.set_preg(p, v)
            }
        }
    }
    /// Notes that the current function names `p`.
    fn named(&mut self, frame: &mut Frame, p: PReg) {
        frame.named |= 1 << p.0;
        // The backend takes two scratch registers among candidates the
        // function does not name.
        let candidates = call_conv(self.module.isa).scratch_candidates;
        let free = candidates.iter().filter(|c| frame.named & 1 << c.0 == 0).count();
        if free <= 1 {
            self.note(Feature::ScratchCandidatesNamed);
        }
    }
    fn set_preg(&mut self, p: PReg, v: i64) {
        self.pregs[p.0 as usize] = v;
        self.preg_written[p.0 as usize] = self.events;
    }
    fn src(&mut self, frame: &mut Frame, s: Src) -> i64 {
        match s {
            Src::Reg(r) => self.reg(frame, r),
            Src::Imm(i) => i,
        }
    }

    fn args_regs(&self) -> Vec<i64> {
        call_conv(self.module.isa).args.iter().map(|p| self.pregs[p.0 as usize]).collect()
    }

    fn new_string(&mut self, ptr: u64, len: u64) -> Result<i64, Stop> {
        let h = self.mem.alloc(16);
        self.mem.write(h, 8, ptr as i64)?;
        self.mem.write(h + 8, 8, len as i64)?;
        Ok(h as i64)
    }
    fn string_bytes(&mut self, s: i64) -> Result<Vec<u8>, Stop> {
        let ptr = self.mem.read(s as u64, 8)? as u64;
        let len = self.mem.read(s as u64 + 8, 8)? as u64;
        Ok(self.mem.bytes(ptr, len)?)
    }
    fn string_from(&mut self, bytes: &[u8]) -> Result<i64, Stop> {
        let p = self.mem.alloc(bytes.len() as u64);
        self.mem.slice(p, bytes.len() as u64)?.copy_from_slice(bytes);
        self.new_string(p, bytes.len() as u64)
    }

    /// Entry index where `key` is or would go, with the map's len and entries.
    fn map_find(&mut self, map: i64, key: i64) -> Result<(u64, u64, u64, bool), Stop> {
        let m = map as u64;
        let entries = self.mem.read(m, 8)? as u64;
        let len = self.mem.read(m + 8, 8)? as u64;
        let (mut lo, mut hi) = (0u64, len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.mem.read(entries + mid * 16, 8)? < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let found = lo < len && self.mem.read(entries + lo * 16, 8)? == key;
        Ok((lo, len, entries, found))
    }

    fn builtin(&mut self, name: &str) -> Result<Option<i64>, Stop> {
        let a = self.args_regs();
        Ok(Some(match name {
            "println" | "print" | "eprintln" => {
                let mut b = self.string_bytes(a[0])?;
                if name != "print" {
                    b.push(b'\n');
                }
                self.out.write(if name == "eprintln" { STDERR } else { STDOUT }, &b);
                0
            }
            "exit" => return Err(Stop::Exit(a[0] as u8 as i32)),
            "panic" => {
                let b = self.string_bytes(a[0])?;
                let text = format!("V panic: {}\n", String::from_utf8_lossy(&b));
                return Err(self.panic(&text));
            }
            "string__int" => {
                let b = self.string_bytes(a[0])?;
                let (neg, digits) = match b.first() {
                    Some(b'-') => (true, &b[1..]),
                    Some(b'+') => (false, &b[1..]),
                    _ => (false, &b[..]),
                };
                let mut n: i64 = 0;
                for c in digits.iter().take_while(|c| c.is_ascii_digit()) {
                    n = n.wrapping_mul(10).wrapping_add((c - b'0') as i64);
                }
                if neg {
                    n.wrapping_neg()
                } else {
                    n
                }
            }
            "int__str" => self.string_from(a[0].to_string().as_bytes())?,
            "string__repeat" => {
                let b = self.string_bytes(a[0])?;
                self.string_from(&b.repeat(a[1].max(0) as usize))?
            }
            "string__to_upper" => {
                let b = self.string_bytes(a[0])?;
                self.string_from(&b.to_ascii_uppercase())?
            }
            "string__trim_space" => {
                let b = self.string_bytes(a[0])?;
                let is_space = |c: &u8| *c == b' ' || (9..=13).contains(c);
                let start = b.iter().position(|c| !is_space(c)).unwrap_or(b.len());
                let end = b.iter().rposition(|c| !is_space(c)).map_or(start, |e| e + 1);
                self.string_from(&b[start..end])?
            }
            "eprint" => {
                let b = self.string_bytes(a[0])?;
                self.out.write(STDERR, &b);
                0
            }
            "flush_stdout" | "unbuffer_stdout" => 0,
            "u8__ascii_str" => self.string_from(&[a[0] as u8])?,
            "string__index_after" => {
                let (s, p) = (self.string_bytes(a[0])?, self.string_bytes(a[1])?);
                index_after(&s, &p, a[2])
            }
            "atoi" => atoi(&self.string_bytes(a[0])?),
            "sqrt" => float(a[0]).sqrt().to_bits() as i64,
            "abs" => float(a[0]).abs().to_bits() as i64,
            "floor" => float(a[0]).floor().to_bits() as i64,
            "ceil" => float(a[0]).ceil().to_bits() as i64,
            "exp" => libm::exp(a[0] as u64) as i64,
            "log" => libm::log(a[0] as u64) as i64,
            "pow" => libm::pow(a[0] as u64, a[1] as u64) as i64,
            "sin" => libm::sin(a[0] as u64) as i64,
            "cos" => libm::cos(a[0] as u64) as i64,
            "atof64" => parse_float::atof(&self.string_bytes(a[0])?, false) as i64,
            "string__f64" => parse_float::atof(&self.string_bytes(a[0])?, true) as i64,
            "sleep" => 0,
            // A clock that stands still: programs compare its readings.
            "ticks" => 0,
            "seed" => {
                let (ptr, len) = (self.mem.read(a[0] as u64, 8)? as u64, self.mem.read(a[0] as u64 + 8, 8)? as u64);
                let mut state: u64 = 0;
                for i in 0..len {
                    let word = self.mem.read(ptr + 8 * i, 4)? as u64 & 0xffff_ffff;
                    state = state.rotate_left(32) ^ word;
                }
                self.rand = Some(state);
                0
            }
            "intn" => self.rand_below(a[0])?,
            "int_in_range" => {
                if a[1] <= a[0] {
                    0
                } else {
                    a[0].wrapping_add(self.rand_below(a[1].wrapping_sub(a[0]))?)
                }
            }
            "int" => (self.rand_next()? as i64) >> 32,
            "u32" => (self.rand_next()? >> 32) as i64,
            "input" | "input_opt" => {
                let prompt = self.string_bytes(a[0])?;
                self.out.write(STDOUT, &prompt);
                self.string_from(b"")?
            }
            "get_raw_line" => self.string_from(b"")?,
            "[]u8__bytestr" => {
                let (ptr, len) = (self.mem.read(a[0] as u64, 8)? as u64, self.mem.read(a[0] as u64 + 8, 8)? as u64);
                let bytes =
                    (0..len).map(|i| self.mem.read(ptr + 8 * i, 1).map(|b| b as u8)).collect::<Result<Vec<u8>, _>>()?;
                self.string_from(&bytes)?
            }
            name if name.starts_with("[]") => match name.rsplit_once("__").map(|(_, m)| m) {
                Some("last") => self.array_last(a[0], false)?,
                Some("pop") => self.array_last(a[0], true)?,
                Some("delete") => self.array_delete(a[0], a[1])?,
                Some("clone") => self.array_clone(a[0])?,
                _ => return Ok(None),
            },
            _ => return Ok(None),
        }))
    }

    /// The next 64 bits of the program's SplitMix64 generator (only once
    /// `seed` was called: the system's randomness is no reference).
    fn rand_next(&mut self) -> Result<u64, Stop> {
        let Some(state) = self.rand.as_mut() else {
            return Err(Stop::Error(InterpError::Unsupported("random numbers before seed".into())));
        };
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    /// A uniform value in `0..n` drawn as the runtime draws it; 0 for n <= 0.
    fn rand_below(&mut self, n: i64) -> Result<i64, Stop> {
        if n <= 0 {
            return Ok(0);
        }
        let limit = i64::MAX - i64::MAX % n;
        loop {
            let r = (self.rand_next()? >> 1) as i64;
            if r < limit {
                return Ok(r % n);
            }
        }
    }

    /// `[]T__last` / `[]T__pop` (8-byte elements).
    fn array_last(&mut self, a: i64, pop: bool) -> Result<i64, Stop> {
        let (ptr, len) = (self.mem.read(a as u64, 8)? as u64, self.mem.read(a as u64 + 8, 8)?);
        if len <= 0 {
            let which = if pop { "pop" } else { "last" };
            return Err(self.panic(&format!("V panic: array.{which}: array is empty\n")));
        }
        if pop {
            self.mem.write(a as u64 + 8, 8, len - 1)?;
        }
        Ok(self.mem.read(ptr + 8 * (len as u64 - 1), 8)?)
    }

    /// `[]T__delete(a, i)`.
    fn array_delete(&mut self, a: i64, i: i64) -> Result<i64, Stop> {
        let (ptr, len) = (self.mem.read(a as u64, 8)? as u64, self.mem.read(a as u64 + 8, 8)?);
        if i < 0 || i >= len {
            let text = format!("V panic: array.delete: index out of range (i == {i}, a.len == {len})\n");
            return Err(self.panic(&text));
        }
        for j in i as u64..len as u64 - 1 {
            let next = self.mem.read(ptr + 8 * (j + 1), 8)?;
            self.mem.write(ptr + 8 * j, 8, next)?;
        }
        self.mem.write(a as u64 + 8, 8, len - 1)?;
        Ok(0)
    }

    /// `[]T__clone(a)`: a new array, capacity its length.
    fn array_clone(&mut self, a: i64) -> Result<i64, Stop> {
        let (ptr, len) = (self.mem.read(a as u64, 8)? as u64, self.mem.read(a as u64 + 8, 8)? as u64);
        let bytes = self.mem.bytes(ptr, 8 * len)?;
        let header = self.mem.alloc(24);
        let elements = self.mem.alloc(8 * len);
        self.mem.slice(elements, 8 * len)?.copy_from_slice(&bytes);
        self.mem.write(header, 8, elements as i64)?;
        self.mem.write(header + 8, 8, len as i64)?;
        self.mem.write(header + 16, 8, len as i64)?;
        Ok(header as i64)
    }

    /// Calls function `name` with `args`, its result to `result_to` if
    /// given: a builtin at once, one of the module's by a new frame.
    fn call_named(
        &mut self,
        frame: &mut Frame,
        name: &str,
        args: Vec<i64>,
        result_to: Option<Reg>,
    ) -> Result<Flow, Stop> {
        self.events.calls += 1;
        if let Some(&function) = self.functions.get(name) {
            return Ok(Flow::Call { function, args, result_to });
        }
        let cc = call_conv(self.module.isa);
        for (r, v) in cc.args.iter().zip(&args) {
            self.set_preg(*r, *v);
        }
        let v = match self.builtin(name)? {
            Some(v) => v,
            None if self.module.allow_stubs => 0,
            None => return Err(Stop::Error(InterpError::Unsupported(format!("call to {name}")))),
        };
        self.set_preg(cc.result, v);
        if let Some(dst) = result_to {
            self.set(frame, dst, v);
        }
        Ok(Flow::Next)
    }

    /// The address of function `name`, given one if it is a builtin.
    fn function_address(&mut self, name: &str) -> u64 {
        address_of_function(&mut self.function_addr, &mut self.function_at, name)
    }

    /// Runs `inst`, which follows `previous` in the body.
    fn step(&mut self, frame: &mut Frame, inst: &Inst, previous: Option<&Inst>) -> Result<Flow, Stop> {
        match inst {
            Inst::Mov { dst, src } => {
                let v = match src {
                    Operand::Reg(r) => self.reg(frame, *r),
                    Operand::Imm(i) => *i,
                    Operand::Stack(n) => frame.slots.get(n).copied().unwrap_or(0),
                };
                match dst {
                    Dst::Reg(r) => self.set(frame, *r, v),
                    Dst::Stack(n) => {
                        frame.slots.insert(*n, v);
                    }
                }
            }
            Inst::Bin { op, dst, a, b } => {
                let (x, y) = (self.reg(frame, *a), self.src(frame, *b));
                let v = match op {
                    BinOp::Add => x.wrapping_add(y),
                    BinOp::Sub => x.wrapping_sub(y),
                    BinOp::Mul => x.wrapping_mul(y),
                    BinOp::And => x & y,
                    BinOp::Or => x | y,
                    BinOp::Xor => x ^ y,
                    BinOp::Sdiv | BinOp::Srem if y == 0 => return Err(self.panic("V panic: division by zero\n")),
                    BinOp::Sdiv => x.wrapping_div(y),
                    BinOp::Srem => x.wrapping_rem(y),
                    BinOp::Shl => x.wrapping_shl((y & 63) as u32),
                    BinOp::Shr => ((x as u64) >> (y & 63)) as i64,
                    BinOp::Sar => x >> (y & 63),
                };
                self.set(frame, *dst, v);
            }
            Inst::Unary { op, dst, src } => {
                let x = self.src(frame, *src);
                let v = match op {
                    UnOp::Neg => x.wrapping_neg(),
                    UnOp::Not => !x,
                };
                self.set(frame, *dst, v);
            }
            Inst::Load { width, dst, base, offset } => {
                let addr = self.reg(frame, *base).wrapping_add(*offset as i64) as u64;
                let v = self.mem.read(addr, width.bytes() as u64)?;
                if *width == Width::W8 {
                    self.note(Feature::LoadByte);
                } else if let Some(&stored) = self.stored_addresses.get(&addr) {
                    self.note(stored);
                }
                self.set(frame, *dst, v);
            }
            Inst::Store { width, base, offset, src } => {
                let addr = self.reg(frame, *base).wrapping_add(*offset as i64) as u64;
                let v = self.src(frame, *src);
                if *width == Width::W8 {
                    self.note(Feature::StoreByte);
                }
                self.mem.write(addr, width.bytes() as u64, v)?;
            }
            Inst::Lea { dst, symbol: Symbol::Data(name) } => {
                let addr = self.data_addr[name.as_str()].0;
                self.set(frame, *dst, addr as i64);
            }
            Inst::Lea { dst, symbol: Symbol::Function(name) } => {
                self.note(Feature::LeaFunction);
                let addr = self.function_address(name);
                self.set(frame, *dst, addr as i64);
            }
            Inst::Cmp { a, b } => self.flags = (self.reg(frame, *a), self.src(frame, *b)),
            Inst::Jmp(l) => return Ok(Flow::Jump(*l)),
            Inst::Jcc(c, l) => {
                self.note(Feature::jcc(*c));
                match previous {
                    Some(Inst::Jcc(..)) => self.note(Feature::JccAfterJcc),
                    Some(Inst::Nop) => self.note(Feature::JccAfterNop),
                    _ => {}
                }
                if c.holds(self.flags.0, self.flags.1) {
                    return Ok(Flow::Jump(*l));
                }
            }
            Inst::Call(name) => {
                let args = self.args_regs();
                return self.call_named(frame, name, args, None);
            }
            Inst::CallIndirect(r) => {
                self.note(Feature::CallIndirect);
                let addr = self.reg(frame, *r) as u64;
                let Some(name) = self.function_at.get(&addr).cloned() else {
                    return Err(Stop::Error(InterpError::BadAddress(addr)));
                };
                let args = self.args_regs();
                return self.call_named(frame, &name, args, None);
            }
            Inst::Ret => return Ok(Flow::Return),
            Inst::Push(s) => {
                let v = self.src(frame, *s);
                frame.stack.push(v);
            }
            Inst::Pop(r) => {
                let v = frame.stack.pop().unwrap_or(0);
                self.set(frame, *r, v);
            }
            Inst::Syscall => self.syscall()?,
            Inst::Label(_) | Inst::Nop => {}
            Inst::PrintInt(s) => {
                let v = self.src(frame, *s);
                self.out.write(STDOUT, format!("{v}\n").as_bytes());
            }
            Inst::StringLit { dst, source } => {
                let h = match source {
                    StrSource::Data(name, len) => {
                        let (addr, size) = self.data_addr[name.as_str()];
                        self.new_string(addr, len.unwrap_or(size))?
                    }
                    StrSource::Bytes(b) => self.string_from(b)?,
                };
                self.set(frame, *dst, h);
            }
            Inst::StringLen { dst, s } => {
                let header = self.reg(frame, *s) as u64;
                let v = self.mem.read(header + 8, 8)?;
                self.set(frame, *dst, v);
            }
            Inst::StringCmp { dst, a, b } => {
                let (x, y) = (self.reg(frame, *a), self.reg(frame, *b));
                let (x, y) = (self.string_bytes(x)?, self.string_bytes(y)?);
                self.set(frame, *dst, x.cmp(&y) as i64);
            }
            Inst::StringConcat { dst, a, b } => {
                let (x, y) = (self.reg(frame, *a), self.reg(frame, *b));
                let mut bytes = self.string_bytes(x)?;
                bytes.extend(self.string_bytes(y)?);
                let h = self.string_from(&bytes)?;
                self.set(frame, *dst, h);
            }
            Inst::PrintStr(s) => {
                let v = self.reg(frame, *s);
                let b = self.string_bytes(v)?;
                self.out.write(STDOUT, &b);
            }
            Inst::IntToStr { dst, src } => {
                let v = self.src(frame, *src);
                let h = self.string_from(v.to_string().as_bytes())?;
                self.set(frame, *dst, h);
            }
            Inst::ArrayNew { dst, elem_size, cap } => {
                let h = self.mem.alloc(24);
                let e = self.mem.alloc((*elem_size * *cap) as u64);
                self.mem.write(h, 8, e as i64)?;
                self.mem.write(h + 16, 8, *cap)?;
                self.set(frame, *dst, h as i64);
            }
            Inst::ArrayGet { dst, arr, index, elem_size } => {
                self.note(element_feature(*elem_size));
                let a = self.reg(frame, *arr) as u64;
                let i = self.src(frame, *index);
                let len = self.mem.read(a + 8, 8)?;
                if (i as u64) >= len as u64 {
                    return Err(self.panic(&format!("V panic: array index out of range: index {i}, len {len}\n")));
                }
                let e = self.mem.read(a, 8)? as u64;
                let v = self.mem.read(e + i as u64 * *elem_size as u64, *elem_size as u64)?;
                self.set(frame, *dst, v);
            }
            Inst::ArraySet { arr, index, value, elem_size } => {
                self.note(element_feature(*elem_size));
                let a = self.reg(frame, *arr) as u64;
                let i = self.src(frame, *index);
                let cap = self.mem.read(a + 16, 8)?;
                if (i as u64) >= cap as u64 {
                    let len = self.mem.read(a + 8, 8)?;
                    return Err(self.panic(&format!("V panic: array index out of range: index {i}, len {len}\n")));
                }
                let e = self.mem.read(a, 8)? as u64;
                let v = self.src(frame, *value);
                self.mem.write(e + i as u64 * *elem_size as u64, *elem_size as u64, v)?;
            }
            Inst::ArrayLen { dst, arr } => {
                let header = self.reg(frame, *arr) as u64;
                let v = self.mem.read(header + 8, 8)?;
                self.set(frame, *dst, v);
            }
            Inst::ArrayAppend { dst, arr, value, elem_size } => {
                self.note(element_feature(*elem_size));
                let a = self.reg(frame, *arr) as u64;
                let es = *elem_size as u64;
                let len = self.mem.read(a + 8, 8)? as u64;
                let cap = self.mem.read(a + 16, 8)? as u64;
                if len == cap {
                    let new_cap = (cap * 2).max(4);
                    let fresh = self.mem.alloc(new_cap * es);
                    let old = self.mem.read(a, 8)? as u64;
                    let bytes = self.mem.bytes(old, len * es)?;
                    self.mem.slice(fresh, len * es)?.copy_from_slice(&bytes);
                    self.mem.write(a, 8, fresh as i64)?;
                    self.mem.write(a + 16, 8, new_cap as i64)?;
                }
                let e = self.mem.read(a, 8)? as u64;
                let v = self.src(frame, *value);
                self.mem.write(e + len * es, es, v)?;
                self.mem.write(a + 8, 8, len as i64 + 1)?;
                self.set(frame, *dst, a as i64);
            }
            Inst::StructNew { dst, size } => {
                let p = self.mem.alloc(*size as u64);
                self.set(frame, *dst, p as i64);
            }
            Inst::FieldGet { dst, s, offset } => {
                self.note_field(*offset);
                let at = self.reg(frame, *s).wrapping_add(*offset) as u64;
                let v = self.mem.read(at, 8)?;
                self.set(frame, *dst, v);
            }
            Inst::FieldSet { s, offset, value } => {
                self.note_field(*offset);
                let v = self.src(frame, *value);
                let at = self.reg(frame, *s).wrapping_add(*offset) as u64;
                self.mem.write(at, 8, v)?;
            }
            Inst::MapNew { dst } => {
                let p = self.mem.alloc(24);
                self.set(frame, *dst, p as i64);
            }
            Inst::MapPut { dst, map, key, value } => {
                let m = self.reg(frame, *map);
                let (k, v) = (self.src(frame, *key), self.src(frame, *value));
                self.note_key(k);
                let (i, len, entries, found) = self.map_find(m, k)?;
                if found {
                    self.mem.write(entries + i * 16 + 8, 8, v)?;
                } else {
                    let mu = m as u64;
                    let cap = self.mem.read(mu + 16, 8)? as u64;
                    let mut entries = entries;
                    if len == cap {
                        let new_cap = (cap * 2).max(8);
                        let fresh = self.mem.alloc(new_cap * 16);
                        let bytes = self.mem.bytes(entries, len * 16)?;
                        self.mem.slice(fresh, len * 16)?.copy_from_slice(&bytes);
                        self.mem.write(mu, 8, fresh as i64)?;
                        self.mem.write(mu + 16, 8, new_cap as i64)?;
                        entries = fresh;
                    }
                    let tail = self.mem.bytes(entries + i * 16, (len - i) * 16)?;
                    self.mem.slice(entries + (i + 1) * 16, (len - i) * 16)?.copy_from_slice(&tail);
                    self.mem.write(entries + i * 16, 8, k)?;
                    self.mem.write(entries + i * 16 + 8, 8, v)?;
                    self.mem.write(mu + 8, 8, len as i64 + 1)?;
                }
                self.set(frame, *dst, m);
            }
            Inst::MapGet { dst, map, key } => {
                let m = self.reg(frame, *map);
                let k = self.src(frame, *key);
                self.note_key(k);
                let (i, _, entries, found) = self.map_find(m, k)?;
                let v = if found { self.mem.read(entries + i * 16 + 8, 8)? } else { 0 };
                self.set(frame, *dst, v);
            }
            Inst::MapDelete { dst, map, key } => {
                let m = self.reg(frame, *map);
                let k = self.src(frame, *key);
                self.note_key(k);
                let (i, len, entries, found) = self.map_find(m, k)?;
                if found {
                    let tail = self.mem.bytes(entries + (i + 1) * 16, (len - i - 1) * 16)?;
                    self.mem.slice(entries + i * 16, (len - i - 1) * 16)?.copy_from_slice(&tail);
                    self.mem.write(m as u64 + 8, 8, len as i64 - 1)?;
                }
                self.set(frame, *dst, m);
            }
            Inst::FloatBin { op, dst, a, b } => {
                let (x, y) = (float(self.src(frame, *a)), float(self.src(frame, *b)));
                let v = match op {
                    FloatOp::Add => x + y,
                    FloatOp::Sub => x - y,
                    FloatOp::Mul => x * y,
                    FloatOp::Div => x / y,
                };
                for z in [x, y] {
                    if z.is_nan() {
                        self.note(Feature::FloatNanOperand);
                    } else if z.is_infinite() {
                        self.note(Feature::FloatInfOperand);
                    }
                }
                if [x, y, v].iter().any(|z| z.is_subnormal()) {
                    self.note(Feature::FloatSubnormal);
                }
                self.set(frame, *dst, fbits(v));
            }
            Inst::IntToFloat { dst, src } => {
                let i = self.src(frame, *src);
                let v = i as f64;
                if v as i128 != i as i128 {
                    self.note(Feature::IntToFloatInexact);
                }
                self.set(frame, *dst, fbits(v));
            }
            Inst::FloatToInt { dst, src } => {
                self.note(Feature::FloatToInt);
                let v = float(self.src(frame, *src)).trunc() as i64;
                self.set(frame, *dst, v);
            }
            Inst::PrintFloat(src) => {
                let bits = self.src(frame, *src);
                let text = self.float_text(bits);
                self.out.write(STDOUT, format!("{text}\n").as_bytes());
            }
            Inst::FloatToStr { dst, src } => {
                let bits = self.src(frame, *src);
                let text = self.float_text(bits);
                let h = self.string_from(text.as_bytes())?;
                self.set(frame, *dst, h);
            }
            Inst::MethodCall(call) => {
                let MethodCall { dst, type_name, method, args } = &**call;
                let values: Vec<i64> = args.iter().map(|a| self.src(frame, *a)).collect();
                return self.call_named(frame, &format!("{type_name}__{method}"), values, Some(*dst));
            }
            other => return Err(Stop::Error(InterpError::Unsupported(format!("{other:?}")))),
        }
        Ok(Flow::Next)
    }

    fn note_field(&mut self, offset: i64) {
        if offset >= 32 << 10 {
            self.note(Feature::FieldBeyond32K);
        }
        if offset % 8 != 0 {
            self.note(Feature::FieldUnaligned);
        }
    }

    fn note_key(&mut self, key: i64) {
        if key < -(1 << 32) {
            self.note(Feature::MapKeyWideNegative);
        }
        if key > 1 << 32 {
            self.note(Feature::MapKeyWidePositive);
        }
        if key == i64::MIN || key == i64::MAX {
            self.note(Feature::MapKeyExtreme);
        }
    }

    /// V's text of the float `bits`, noting what kind of value it was.
    fn float_text(&mut self, bits: i64) -> String {
        let x = float(bits);
        if x.is_nan() {
            self.note(Feature::PrintFloatNan);
        } else if x.is_infinite() {
            self.note(Feature::PrintFloatInf);
        } else if x.is_subnormal() {
            self.note(Feature::PrintFloatSubnormal);
        }
        let (text, tie) = float_text_and_tie(bits);
        if tie {
            self.note(Feature::PrintFloatTie);
        }
        text
    }

    fn syscall(&mut self) -> Result<(), Stop> {
        let cc = call_conv(self.module.isa);
        let reg = |p: PReg| self.pregs[p.0 as usize];
        let number = reg(cc.syscall_uses[0]);
        let args: Vec<i64> = cc.syscall_uses[1..].iter().map(|p| reg(*p)).collect();
        self.events.syscalls += 1;
        let (write, exit) = match self.module.isa {
            Isa::X86_64 => (1, 60),
            Isa::Arm64 => (4, 1),
        };
        if number == write {
            self.note(Feature::SyscallWrite);
            let bytes = self.mem.bytes(args[1] as u64, args[2] as u64)?;
            self.out.write(args[0], &bytes);
            self.set_preg(cc.syscall_result, args[2]);
            Ok(())
        } else if number == exit {
            Err(Stop::Exit(args[0] as u8 as i32))
        } else {
            Err(Stop::Error(InterpError::Unsupported(format!("syscall {number}"))))
        }
    }
}

enum Flow {
    Next,
    Jump(Label),
    Return,
    /// Into function number `function`; its result to `result_to` if given.
    Call {
        function: usize,
        args: Vec<i64>,
        result_to: Option<Reg>,
    },
}

/// Whether `inst` runs as a call of the runtime, which the spec says
/// preserves every register but its result.
fn is_runtime_instruction(inst: &Inst) -> bool {
    matches!(
        inst,
        Inst::PrintInt(_)
            | Inst::PrintStr(_)
            | Inst::PrintFloat(_)
            | Inst::StringLit { .. }
            | Inst::StringCmp { .. }
            | Inst::StringConcat { .. }
            | Inst::IntToStr { .. }
            | Inst::FloatToStr { .. }
            | Inst::ArrayNew { .. }
            | Inst::ArrayAppend { .. }
            | Inst::StructNew { .. }
            | Inst::MapNew { .. }
            | Inst::MapPut { .. }
            | Inst::MapGet { .. }
            | Inst::MapDelete { .. }
    )
}

fn element_feature(elem_size: i64) -> Feature {
    match elem_size {
        1 => Feature::ArrayElem1,
        2 => Feature::ArrayElem2,
        4 => Feature::ArrayElem4,
        _ => Feature::ArrayElem8,
    }
}

/// The address of function `name` in `addresses` (and `at`, the other
/// way), a new one for a name not seen before (a builtin).
fn address_of_function(addresses: &mut HashMap<String, u64>, at: &mut HashMap<u64, String>, name: &str) -> u64 {
    if let Some(a) = addresses.get(name) {
        return *a;
    }
    let a = FUNCTION_BASE + 16 * addresses.len() as u64;
    addresses.insert(name.to_string(), a);
    at.insert(a, name.to_string());
    a
}

/// V's `string.index_after`: where `p` occurs in `s` at or after `start`
/// (from 0 when negative), -1 if nowhere.
fn index_after(s: &[u8], p: &[u8], start: i64) -> i64 {
    if p.len() > s.len() || start >= s.len() as i64 {
        return -1;
    }
    let from = start.max(0) as usize;
    (from..=s.len() - p.len()).find(|&i| s[i..i + p.len()] == *p).map_or(-1, |i| i as i64)
}

/// V's `strconv.atoi`, its error read as 0: a sign, decimal digits with
/// single `_` between digits, within 64 bits.
fn atoi(s: &[u8]) -> i64 {
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let well_formed = !digits.is_empty()
        && digits.first().is_some_and(u8::is_ascii_digit)
        && digits.last().is_some_and(u8::is_ascii_digit)
        && digits.iter().all(|c| c.is_ascii_digit() || *c == b'_')
        && !digits.windows(2).any(|w| w == b"__");
    if !well_formed {
        return 0;
    }
    let text: String = digits.iter().filter(|c| **c != b'_').map(|c| *c as char).collect();
    let value = if negative { format!("-{text}") } else { text };
    value.parse::<i64>().unwrap_or(0)
}

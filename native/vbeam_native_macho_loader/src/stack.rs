//! The initial user stack: the strings and pointer arrays XNU's exec copies
//! out (`exec_copyout_strings`), which dyld hands to `main` as
//! `argc, argv, envp, apple`.
//!
//! From the stack pointer dyld starts with, upwards: the mach header's
//! address, argc, argv[] and NULL, envp[] and NULL, apple[] and NULL, then
//! the strings themselves up to the top of the stack.

/// Pointers on the stack are 8 bytes.
const POINTER_SIZE: u64 = 8;
/// Both ABIs keep the stack pointer 16-byte aligned at calls.
pub(crate) const STACK_ALIGN: u64 = 16;

/// The bytes to copy to the top of the stack, and where `main`'s pointer
/// arguments point into them.
pub(crate) struct InitialStack {
    /// Lowest address of the copied-out area: dyld's first stack pointer.
    pub(crate) start_sp: u64,
    /// The area from `start_sp` to the top of the stack.
    pub(crate) bytes: Vec<u8>,
    pub(crate) argc: u64,
    pub(crate) argv: u64,
    pub(crate) envp: u64,
    pub(crate) apple: u64,
}

/// Lays out `args`, `env` and `apple` strings below `top` (exclusive).
pub(crate) fn build(top: u64, mach_header: u64, args: &[String], env: &[String], apple: &[String]) -> InitialStack {
    let strings: Vec<&String> = args.iter().chain(env).chain(apple).collect();
    let strings_size: u64 = strings.iter().map(|s| s.len() as u64 + 1).sum();
    let strings_start = (top - strings_size) & !(STACK_ALIGN - 1);
    // mach header, argc, then three NULL-terminated arrays.
    let slots = 2 + (args.len() + 1 + env.len() + 1 + apple.len() + 1) as u64;
    let start_sp = (strings_start - slots * POINTER_SIZE) & !(STACK_ALIGN - 1);

    let mut bytes = vec![0u8; (top - start_sp) as usize];
    let mut put_pointer = |slot: u64, value: u64| {
        let at = (slot * POINTER_SIZE) as usize;
        bytes[at..at + POINTER_SIZE as usize].copy_from_slice(&value.to_le_bytes());
    };
    put_pointer(0, mach_header);
    put_pointer(1, args.len() as u64);
    let mut slot = 2;
    let mut string_at = strings_start;
    let mut string_addresses = Vec::with_capacity(strings.len());
    for s in &strings {
        string_addresses.push(string_at);
        string_at += s.len() as u64 + 1;
    }
    let argv = start_sp + slot * POINTER_SIZE;
    let mut addresses = string_addresses.iter();
    for count in [args.len(), env.len(), apple.len()] {
        for _ in 0..count {
            put_pointer(slot, *addresses.next().expect("one address per string"));
            slot += 1;
        }
        slot += 1; // the NULL terminator, already zero
    }
    let envp = argv + (args.len() as u64 + 1) * POINTER_SIZE;
    let apple_ptr = envp + (env.len() as u64 + 1) * POINTER_SIZE;
    for (s, &addr) in strings.iter().zip(&string_addresses) {
        let at = (addr - start_sp) as usize;
        bytes[at..at + s.len()].copy_from_slice(s.as_bytes());
    }
    InitialStack { start_sp, bytes, argc: args.len() as u64, argv, envp, apple: apple_ptr }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_u64(stack: &InitialStack, addr: u64) -> u64 {
        let at = (addr - stack.start_sp) as usize;
        u64::from_le_bytes(stack.bytes[at..at + 8].try_into().unwrap())
    }

    fn read_str(stack: &InitialStack, addr: u64) -> String {
        let at = (addr - stack.start_sp) as usize;
        let end = stack.bytes[at..].iter().position(|&b| b == 0).unwrap();
        String::from_utf8(stack.bytes[at..at + end].to_vec()).unwrap()
    }

    #[test]
    fn layout_matches_exec() {
        let top = 0x7000_0000;
        let args = vec!["prog".to_string(), "a b".to_string()];
        let env = vec!["K=V".to_string()];
        let apple = vec!["executable_path=prog".to_string()];
        let s = build(top, 0x1234_0000, &args, &env, &apple);
        assert_eq!(s.start_sp % STACK_ALIGN, 0);
        assert_eq!(s.start_sp + s.bytes.len() as u64, top);
        assert_eq!(read_u64(&s, s.start_sp), 0x1234_0000);
        assert_eq!(read_u64(&s, s.start_sp + 8), 2);
        assert_eq!(s.argv, s.start_sp + 16);
        assert_eq!(read_str(&s, read_u64(&s, s.argv + 8)), "a b");
        assert_eq!(read_u64(&s, s.argv + 16), 0);
        assert_eq!(read_str(&s, read_u64(&s, s.envp)), "K=V");
        assert_eq!(read_u64(&s, s.envp + 8), 0);
        assert_eq!(read_str(&s, read_u64(&s, s.apple)), "executable_path=prog");
        assert_eq!(read_u64(&s, s.apple + 8), 0);
    }
}

//! Boots EFI applications on real firmware: OVMF (x86_64) and AAVMF
//! (arm64) under QEMU's system emulators, headless, the application as the
//! removable-media boot file of a FAT drive QEMU makes from a directory.
//!
//! The firmware's boot manager prints `BdsDxe: starting Boot…` right
//! before it starts the application; what follows on the serial console
//! up to its next `BdsDxe:` line is the application's. That next line says
//! how it ended: `BdsDxe: failed to start Boot…: <status>` for an error
//! status (EDK2's `%r` text), nothing of the sort for success. The boot is
//! stopped as soon as that is known.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use vbeam_native_core::ir::Isa;

/// How a boot ended for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boot {
    /// The serial bytes the application printed, exactly.
    pub console: Vec<u8>,
    /// The exit status: 0 for `EFI_SUCCESS`, n for the error status n.
    pub status: u64,
}

const STARTING: &[u8] = b"BdsDxe: starting Boot";
const BOOT_MANAGER: &[u8] = b"BdsDxe: ";
const FAILED: &[u8] = b"BdsDxe: failed to start Boot";
/// What the firmware prints when the CPU faults (then it hangs).
const EXCEPTIONS: [&[u8]; 2] = [b"!!!! X64 Exception", b"Synchronous Exception"];

/// EDK2's `%r` texts of the error statuses 1, 2, …: how the boot manager
/// reports an application's exit status.
const STATUS_TEXTS: [&str; 35] = [
    "Load Error",
    "Invalid Parameter",
    "Unsupported",
    "Bad Buffer Size",
    "Buffer Too Small",
    "Not Ready",
    "Device Error",
    "Write Protected",
    "Out of Resources",
    "Volume Corrupt",
    "Volume Full",
    "No Media",
    "Media changed",
    "Not Found",
    "Access Denied",
    "No Response",
    "No mapping",
    "Time out",
    "Not started",
    "Already started",
    "Aborted",
    "ICMP Error",
    "TFTP Error",
    "Protocol Error",
    "Incompatible Version",
    "Security Violation",
    "CRC Error",
    "End of Media",
    "Reserved (29)",
    "Reserved (30)",
    "End of File",
    "Invalid Language",
    "Compromised Data",
    "IP Address Conflict",
    "HTTP Error",
];

fn firmware_dir() -> PathBuf {
    std::env::var_os("VBEAM_FIRMWARE_DIR").map_or_else(|| PathBuf::from("/usr/share"), PathBuf::from)
}

/// The QEMU command booting the drive made from `esp`, firmware copies kept
/// in `work`.
fn qemu(isa: Isa, esp: &Path, work: &Path) -> Result<Command, String> {
    let drive = format!("format=raw,file=fat:rw:{}", esp.display());
    // Memory as a small machine has it: programs that grow the heap past
    // 1 GiB see the firmware refuse pages.
    let common = ["-nographic", "-no-reboot", "-net", "none", "-nodefaults", "-serial", "stdio", "-m", "2048"];
    let mut cmd = match isa {
        Isa::X86_64 => {
            let mut c = Command::new("qemu-system-x86_64");
            c.arg("-bios").arg(firmware_dir().join("ovmf/OVMF.fd"));
            c
        }
        Isa::Arm64 => {
            // The variable store is written at boot: each boot its own copy.
            let vars = work.join("AAVMF_VARS.fd");
            std::fs::copy(firmware_dir().join("AAVMF/AAVMF_VARS.fd"), &vars)
                .map_err(|e| format!("AAVMF variables (package qemu-efi-aarch64): {e}"))?;
            let code = firmware_dir().join("AAVMF/AAVMF_CODE.fd");
            let mut c = Command::new("qemu-system-aarch64");
            c.args(["-M", "virt", "-cpu", "cortex-a57", "-boot", "menu=on,splash-time=0"]);
            c.arg("-drive").arg(format!("if=pflash,format=raw,readonly=on,file={}", code.display()));
            c.arg("-drive").arg(format!("if=pflash,format=raw,file={}", vars.display()));
            c
        }
    };
    cmd.arg("-drive").arg(drive).args(common);
    Ok(cmd)
}

/// Boots `application` (a PE32+ EFI application) and returns what it
/// printed and its status, or why that is not known: a CPU exception, no
/// end within `timeout`, a firmware that never started it.
pub fn boot(isa: Isa, application: &[u8], work: &Path, timeout: Duration) -> Result<Boot, String> {
    let _machine = Machines::take();
    let esp = work.join("esp");
    let boot_dir = esp.join("EFI/BOOT");
    std::fs::create_dir_all(&boot_dir).map_err(|e| e.to_string())?;
    let file = match isa {
        Isa::X86_64 => "BOOTX64.EFI",
        Isa::Arm64 => "BOOTAA64.EFI",
    };
    std::fs::write(boot_dir.join(file), application).map_err(|e| e.to_string())?;
    let mut child = qemu(isa, &esp, work)?
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start QEMU (packages qemu-system-x86, qemu-system-arm): {e}"))?;
    let serial = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().expect("a piped stdout");
    let sink = Arc::clone(&serial);
    let reader = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    let start = Instant::now();
    let outcome = loop {
        if let Some(ended) = ending(&serial.lock().unwrap()) {
            break ended;
        }
        if start.elapsed() > timeout {
            let seen = serial.lock().unwrap();
            break Err(format!("no end after {timeout:?}; the console showed:\n{}", String::from_utf8_lossy(&seen)));
        }
        if let Ok(Some(status)) = child.try_wait() {
            let seen = serial.lock().unwrap();
            break Err(format!("QEMU ended ({status}) first:\n{}", String::from_utf8_lossy(&seen)));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    stop(&mut child);
    let _ = reader.join();
    let _ = std::fs::remove_dir_all(&esp);
    outcome
}

/// Emulated machines running at once in this process: one per core, as
/// each QEMU's emulation runs on one thread and more would only slow every
/// boot towards its timeout.
struct Machines;

static RUNNING: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

impl Machines {
    /// Waits for a free core; the machine counts until the guard drops.
    fn take() -> Machines {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut running = FREED.wait_while(RUNNING.lock().unwrap(), |r| *r >= cores).unwrap();
        *running += 1;
        Machines
    }
}

impl Drop for Machines {
    fn drop(&mut self) {
        *RUNNING.lock().unwrap() -= 1;
        FREED.notify_one();
    }
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The application's output and status once the serial console shows how
/// it ended; `None` while it runs.
fn ending(serial: &[u8]) -> Option<Result<Boot, String>> {
    if let Some(e) = EXCEPTIONS.iter().find_map(|e| find(serial, e)) {
        // Let the exception's whole report arrive before quoting it.
        let report = &serial[e..];
        return report
            .windows(2)
            .filter(|w| w == b"\r\n")
            .nth(3)
            .map(|_| Err(format!("CPU exception: {}", String::from_utf8_lossy(report))));
    }
    let started = find(serial, STARTING)?;
    let output_start = started + find(&serial[started..], b"\r\n")? + 2;
    let rest = &serial[output_start..];
    // The boot manager's next line (not at a line start when the program's
    // output does not end with a newline).
    let next = find(rest, BOOT_MANAGER)?;
    let line_end = next + find(&rest[next..], b"\r\n")?;
    let console = rest[..next].to_vec();
    let line = &rest[next..line_end];
    if !line.starts_with(FAILED) {
        return Some(Ok(Boot { console, status: 0 }));
    }
    let text = String::from_utf8_lossy(line);
    let reported = text.rsplit(": ").next().unwrap_or_default();
    // Statuses beyond the named ones are printed as 8 hexadecimal digits
    // (the error bit not shown).
    let status = match STATUS_TEXTS.iter().position(|t| *t == reported) {
        Some(k) => Some(k as u64 + 1),
        None => (reported.len() == 8).then(|| u64::from_str_radix(reported, 16).ok()).flatten(),
    };
    Some(match status {
        Some(status) => Ok(Boot { console, status }),
        None => Err(format!("an exit status the boot manager reports as {reported:?}")),
    })
}

/// The console text a program writing `output` on Linux must show: every
/// `\n` as CR LF, every byte above 0x7F that starts a UTF-8 sequence as
/// `?` and its continuation bytes dropped (see the UEFI layer's `write`).
pub fn console_text(output: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(output.len() + output.len() / 8);
    for &b in output {
        match b {
            b'\n' => out.extend_from_slice(b"\r\n"),
            0x00..=0x7f => out.push(b),
            0x80..=0xbf => {}
            _ => out.push(b'?'),
        }
    }
    out
}

/// Whether console text is what the UEFI layer may print: 7-bit, every
/// line feed after a carriage return.
pub fn check_console(console: &[u8]) -> Result<(), String> {
    if let Some(b) = console.iter().find(|b| **b > 0x7f) {
        return Err(format!("8-bit byte {b:#x} on the console"));
    }
    if let Some(at) = console.iter().enumerate().position(|(k, b)| *b == b'\n' && (k == 0 || console[k - 1] != b'\r')) {
        return Err(format!("a bare line feed at byte {at} of the console"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: &str =
        "\x1b[2JBdsDxe: loading Boot0001 \"disk\" from X\r\nBdsDxe: starting Boot0001 \"disk\" from X\r\n";

    fn end(serial: &str) -> Option<Result<Boot, String>> {
        ending(serial.as_bytes())
    }

    #[test]
    fn the_application_output_is_between_the_boot_managers_lines() {
        assert_eq!(end(START), None, "still running");
        assert_eq!(end(&format!("{START}hi\r\n")), None, "still running");
        let done = format!("{START}hi\r\nBdsDxe: loading Boot0000 \"UiApp\" from Y\r\n");
        assert_eq!(end(&done), Some(Ok(Boot { console: b"hi\r\n".to_vec(), status: 0 })));
        // Output without a final newline: the boot manager's line follows.
        let done = format!("{START}0.1BdsDxe: loading Boot0000 \"UiApp\" from Y\r\n");
        assert_eq!(end(&done), Some(Ok(Boot { console: b"0.1".to_vec(), status: 0 })));
    }

    #[test]
    fn statuses_are_read_from_the_boot_managers_report() {
        let failed =
            |status: &str| format!("{START}x\r\nBdsDxe: failed to start Boot0001 \"disk\" from X: {status}\r\n");
        assert_eq!(end(&failed("Load Error")).unwrap().unwrap().status, 1);
        assert_eq!(end(&failed("HTTP Error")).unwrap().unwrap().status, 35);
        assert_eq!(end(&failed("000000FF")).unwrap().unwrap().status, 255);
        assert!(end(&failed("Something Else")).unwrap().is_err());
    }

    #[test]
    fn a_cpu_exception_fails_the_boot() {
        let fault =
            format!("{START}!!!! X64 Exception Type - 0E(#PF - Page-Fault)\r\nRIP - 1\r\nRSP - 2\r\nRAX - 3\r\n");
        assert!(end(&fault).unwrap().is_err());
        let fault = format!("{START}Synchronous Exception at 0x1\r\na\r\nb\r\nc\r\n");
        assert!(end(&fault).unwrap().is_err());
    }

    #[test]
    fn the_console_is_seven_bit_with_cr_lf() {
        assert_eq!(check_console(b"a\r\nb\r\n"), Ok(()));
        assert!(check_console(b"a\nb").is_err());
        assert!(check_console(b"\n").is_err());
        assert!(check_console("é\r\n".as_bytes()).is_err());
        assert_eq!(console_text("a\né!\n".as_bytes()), b"a\r\n?!\r\n");
    }
}

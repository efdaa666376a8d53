//! What the test programs share.

use std::io::{ErrorKind, Result};
use std::time::Duration;

/// `start()` (running an executable a test just wrote), tried again while
/// the file is "busy": another test thread that forked while the file was
/// open for writing holds the descriptor in its child until that child
/// execs, a few milliseconds.
pub fn when_not_busy<T>(mut start: impl FnMut() -> Result<T>) -> T {
    const TRIES: usize = 200;
    for _ in 1..TRIES {
        match start() {
            Err(e) if e.kind() == ErrorKind::ExecutableFileBusy => std::thread::sleep(Duration::from_millis(10)),
            started => return started.expect("the program starts"),
        }
    }
    start().expect("the program starts")
}

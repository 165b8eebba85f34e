//! Lines typed at a simulator's terminal, read on a plain thread: a blocked stdin read must
//! not hold up the runtime's shutdown.

use tokio::sync::mpsc;

/// Each line typed, until stdin closes (then the receiver yields None).
pub(crate) fn lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

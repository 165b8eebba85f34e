//! The database stays bounded: 100,000 messages through the store (half each way, with
//! what the bridge writes for each: the job, its link message id, a status or the relayed
//! event, the Matrix transaction), then a prune, then the same again. The reference is the
//! same workload without pruning, in the same run.
//!
//! ```text
//! cargo bench --bench prune                 # n=100000
//! cargo bench --bench prune -- --n=20000
//! ```

use std::time::Instant;

use serde_json::json;
use sms_bridge::backend::ReceivedSms;
use sms_bridge::store::{InboxKind, NewOutJob, Portal, Store, now_ms};

const TEXT: &str = "Reply: sounds good, see you there at the usual place around seven!";

fn n() -> usize {
    std::env::args().find_map(|a| a.strip_prefix("--n=").map(|v| v.parse().expect("--n=NUMBER"))).unwrap_or(100_000)
}

/// Puts `n` messages through: n/2 out (queued, sent with an id, status) and n/2 in
/// (received, relayed, its event recorded), in batches as the workers commit them.
fn traffic(s: &Store, portal: i64, start: usize, n: usize) {
    let status = json!({"status": "SUCCESS", "network": "sms"});
    for batch in (start..start + n).step_by(100) {
        s.tx(|tx| {
            for i in batch..(batch + 100).min(start + n) {
                if i % 2 == 0 {
                    let ev = format!("$event{i}");
                    let job = NewOutJob {
                        portal_id: portal,
                        backend_id: "smpp",
                        room_id: "!room:bench",
                        event_id: &ev,
                        destination: "+15551234567",
                        body: TEXT,
                        expires_at: now_ms() + 86_400_000,
                        sender: None,
                        ..Default::default()
                    };
                    let id = Store::enqueue_out(tx, &job)?.expect("new");
                    Store::claim_tx(tx, id)?;
                    Store::mark_sent(tx, id, "smpp", &[format!("{i:08X}")])?;
                    Store::enqueue_matrix(tx, "!room:bench", "@bot:bench", "message", "status", &status)?;
                } else {
                    let sms = ReceivedSms {
                        from: "+15551234567".into(),
                        to: String::new(),
                        text: TEXT.into(),
                        timestamp_ms: None,
                    };
                    let id = Store::insert_inbox_tx(tx, "smpp", &InboxKind::Sms(sms))?;
                    Store::finish_inbox(tx, id, Some(&format!("$in{i}")))?;
                }
            }
            Ok(())
        })
        .unwrap();
        // The statuses "went out", as the Matrix worker records them.
        let sent: Vec<i64> = s.due_matrix(1000).unwrap().iter().map(|j| j.id).collect();
        s.finish_matrix(&sent).unwrap();
    }
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

fn file_size(path: &std::path::Path) -> i64 {
    let wal = path.with_extension("db-wal");
    std::fs::metadata(path).map(|m| m.len() as i64).unwrap_or(0)
        + std::fs::metadata(wal).map(|m| m.len() as i64).unwrap_or(0)
}

fn main() {
    let n = n();
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, prune: bool| {
        let path = dir.path().join(format!("{name}.db"));
        let s = Store::open(&path).unwrap();
        let p = s
            .claim_portal(&Portal {
                id: 0,
                local_number: "+15550001111".into(),
                remote_key: "15551234567".into(),
                remote_display: "+1 555-123-4567".into(),
                remote_destination: Some("+15551234567".into()),
                backend_id: "smpp".into(),
                owner: "@owner:bench".into(),
                room_id: Some("!room:bench".into()),
                owner_left: false,
                generation: 0,
            })
            .unwrap();
        let t = Instant::now();
        traffic(&s, p.id, 0, n);
        let through = t.elapsed();
        let after_first = s.size_bytes().unwrap();
        let mut pruned_to = after_first;
        let mut prune_ms = 0.0;
        if prune {
            let t = Instant::now();
            // Everything finished is old enough: retention of zero.
            let r = s.prune(Some(-1)).unwrap();
            prune_ms = t.elapsed().as_secs_f64() * 1000.0;
            pruned_to = s.size_bytes().unwrap();
            assert!(r.rows >= n, "pruned {} rows", r.rows);
        }
        traffic(&s, p.id, n, n);
        let after_second = s.size_bytes().unwrap();
        if prune {
            s.prune(Some(-1)).unwrap();
        }
        let end = s.size_bytes().unwrap();
        drop(s);
        println!(
            "{name:>10}: {n} msgs in {:.1} s; size after {n}: {:.1} MiB; after prune: {:.2} MiB ({prune_ms:.0} ms); \
             after {} more: {:.1} MiB; at the end: {:.2} MiB (file {:.2} MiB)",
            through.as_secs_f64(),
            mib(after_first),
            mib(pruned_to),
            n,
            mib(after_second),
            mib(end),
            mib(file_size(&path)),
        );
        (after_first, pruned_to, after_second, end)
    };
    let (_, _, reference_second, _) = run("no prune", false);
    let (first, pruned, second, end) = run("prune", true);
    println!(
        "bounded: with pruning the database ends at {:.1} % of its size after {n} (the reference without pruning \
         grew to {:.1} MiB after {} messages); after a prune {:.1} % is left",
        100.0 * end as f64 / first as f64,
        mib(reference_second),
        2 * n,
        100.0 * pruned as f64 / first as f64,
    );
    assert!(second <= first + first / 10, "the second {n} did not stay within the first's size");
}

//! Migrations, applied in order; `PRAGMA user_version` records how far we got.

use rusqlite::Connection;

use super::{Result, StoreError};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE txns (
    txn_id TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL
);
-- Matrix events accepted in a transaction and not yet handled.
CREATE TABLE matrix_in (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    event TEXT NOT NULL,
    -- Handled events stay (until pruned) so a re-delivered event is not handled twice.
    state TEXT NOT NULL DEFAULT 'new',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    received_at INTEGER NOT NULL
);
CREATE INDEX matrix_in_new ON matrix_in (id) WHERE state = 'new';
CREATE INDEX matrix_in_room ON matrix_in (room_id, id) WHERE state = 'new';
CREATE TABLE ghosts (
    localpart TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    displayname TEXT NOT NULL,
    registered_at INTEGER NOT NULL
);
CREATE TABLE portals (
    id INTEGER PRIMARY KEY,
    local_number TEXT NOT NULL,
    remote_key TEXT NOT NULL,
    remote_display TEXT NOT NULL,
    remote_destination TEXT,
    backend_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    room_id TEXT UNIQUE,
    created_at INTEGER NOT NULL,
    UNIQUE (local_number, remote_key)
);
CREATE TABLE management_rooms (
    user_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL UNIQUE
);
-- Matrix -> SMS jobs.
-- AUTOINCREMENT: ids feed transaction and message ids, which must never repeat.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    portal_id INTEGER NOT NULL REFERENCES portals(id),
    backend_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    destination TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    resends INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- Partial indexes keep the due-job queries fast however much history the table holds.
CREATE INDEX outbox_queued ON outbox (backend_id, id) WHERE state = 'queued';
CREATE INDEX outbox_pending ON outbox (portal_id, id) WHERE state IN ('queued', 'sending');
-- Backend message ids of sent parts, for delivery reports.
CREATE TABLE message_map (
    backend_id TEXT NOT NULL,
    backend_msg_id TEXT NOT NULL,
    outbox_id INTEGER NOT NULL REFERENCES outbox(id),
    PRIMARY KEY (backend_id, backend_msg_id)
);
-- Link -> Matrix: received SMS and delivery reports, not yet in Matrix.
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    backend_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- Items of one conversation are relayed in order; reports have none.
    conversation TEXT,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'new',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    event_id TEXT,
    received_at INTEGER NOT NULL
);
CREATE INDEX inbox_new ON inbox (id) WHERE state = 'new';
CREATE INDEX inbox_conversation ON inbox (conversation, id) WHERE state = 'new';
-- Things to send to Matrix that are not replies to a link event: statuses, receipts, notices.
CREATE TABLE matrix_out (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    kind TEXT NOT NULL,
    event_type TEXT NOT NULL,
    content TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'new',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX matrix_out_new ON matrix_out (id) WHERE state = 'new';
CREATE INDEX matrix_out_room ON matrix_out (room_id, id) WHERE state = 'new';
"#,
    r#"
-- Parts of concatenated SMS waiting for the rest; keyed so a repeated part is ignored.
CREATE TABLE sms_parts (
    backend_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    reference INTEGER NOT NULL,
    total INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    timestamp_ms INTEGER,
    part TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (backend_id, sender, reference, total, seq)
);
"#,
    r#"
-- MMS notifications being fetched and relayed. `stage` is the next step: fetch from the
-- MMSC, relay to Matrix, notify (m-notifyresp-ind), then done; or dead.
CREATE TABLE mms_in (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    backend_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    version TEXT NOT NULL,
    location TEXT NOT NULL,
    declared_size INTEGER,
    expires_at INTEGER NOT NULL,
    payload BLOB,
    stage TEXT NOT NULL DEFAULT 'fetch',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    received_at INTEGER NOT NULL,
    -- A notification sent again (operators repeat them) is the same job.
    UNIQUE (backend_id, location)
);
CREATE INDEX mms_in_due ON mms_in (next_attempt_at) WHERE stage IN ('fetch', 'relay', 'notify');
-- Matrix -> MMS: media messages and group-chat messages, sent to the MMSC as m-send-req.
CREATE TABLE mms_out (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    portal_id INTEGER NOT NULL REFERENCES portals(id),
    backend_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    -- Comma-separated phone numbers.
    recipients TEXT NOT NULL,
    -- The Matrix event content.
    content TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    message_id TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX mms_out_queued ON mms_out (id) WHERE state = 'queued';
"#,
    r#"
-- Failures of an unknown kind; only these count towards bridge.max_attempts.
ALTER TABLE matrix_in ADD COLUMN strikes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN strikes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbox ADD COLUMN strikes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE matrix_out ADD COLUMN strikes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mms_in ADD COLUMN strikes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mms_out ADD COLUMN strikes INTEGER NOT NULL DEFAULT 0;
-- Outgoing messages are retried until they expire.
ALTER TABLE outbox ADD COLUMN expires_at INTEGER;
UPDATE outbox SET expires_at = created_at + 86400000;
ALTER TABLE mms_out ADD COLUMN expires_at INTEGER;
UPDATE mms_out SET expires_at = created_at + 86400000;
-- The number a message leaves from: the one the conversation uses.
ALTER TABLE outbox ADD COLUMN sender TEXT;
-- Redacted while being sent: if the link does not take it, it is not tried again.
ALTER TABLE outbox ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mms_out ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
-- Parts of a long message: accepted (sent), delivered or failed, one row each.
ALTER TABLE message_map ADD COLUMN part INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message_map ADD COLUMN state TEXT NOT NULL DEFAULT 'sent';
CREATE INDEX message_map_outbox ON message_map (outbox_id);
-- Whether the owner left the portal (they are invited again with the next message), and
-- how many rooms the conversation has had (each gets its own alias).
ALTER TABLE portals ADD COLUMN owner_left INTEGER NOT NULL DEFAULT 0;
ALTER TABLE portals ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
-- Parts of long SMS already shown: a part delivered again is recognised and dropped.
CREATE TABLE sms_done (
    backend_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    reference INTEGER NOT NULL,
    total INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    digest TEXT NOT NULL,
    done_at INTEGER NOT NULL,
    PRIMARY KEY (backend_id, sender, reference, total, seq, digest)
);
CREATE INDEX sms_done_age ON sms_done (done_at);
-- Matrix events sent (and media uploaded) for a job step by step (an MMS's parts), by
-- transaction id, so a retry hours later skips them instead of relying on the
-- homeserver's memory. `event_id` holds the mxc:// URI for an upload.
CREATE TABLE sent_events (
    txn_id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    sent_at INTEGER NOT NULL
);
"#,
    r#"
-- What a link read from storage it must delete itself (a modem's SIM), by fingerprint:
-- committed with the message, so a message read again (after a crash between commit and
-- delete, or a modem that stores one message several times) is not shown twice.
CREATE TABLE link_seen (
    backend_id TEXT NOT NULL,
    print TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (backend_id, print)
);
CREATE INDEX link_seen_age ON link_seen (seen_at);
"#,
    // 6: messages applications sent through the gateway, and the callbacks owed to them.
    r#"
CREATE TABLE api_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    backend_id TEXT NOT NULL,
    destination TEXT NOT NULL,
    body TEXT NOT NULL,
    outbox_id INTEGER NOT NULL UNIQUE REFERENCES outbox(id),
    -- The outbox state last told to the application.
    state TEXT NOT NULL DEFAULT 'queued',
    dlr_mask INTEGER NOT NULL DEFAULT 0,
    dlr_url TEXT,
    callback_url TEXT,
    client_ref TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- Only messages whose outcome may still change are compared with the outbox.
CREATE INDEX api_messages_open ON api_messages (outbox_id) WHERE state IN ('queued', 'sending', 'sent');
CREATE TABLE callbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    -- NULL: a GET (Kannel's dlr-url); else the JSON body POSTed.
    body TEXT,
    -- Whose secret signs it: a gateway user or webhook name; NULL: unsigned.
    signer TEXT,
    -- Made at most once per key (an inbound SMS handled again after a crash).
    key TEXT UNIQUE,
    state TEXT NOT NULL DEFAULT 'new',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE state = 'new';
-- Questions sent for an answer: one asked at a time per (our number, their number).
CREATE TABLE questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    backend_id TEXT NOT NULL,
    local_number TEXT NOT NULL,
    remote_key TEXT NOT NULL,
    destination TEXT NOT NULL,
    body TEXT NOT NULL,
    timeout_ms INTEGER NOT NULL,
    callback_url TEXT,
    -- waiting (for its pair), asked, answered, expired
    state TEXT NOT NULL DEFAULT 'waiting',
    answer TEXT,
    -- The inbox item that answered it.
    answer_inbox INTEGER,
    asked_at INTEGER,
    expires_at INTEGER,
    answered_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX questions_open ON questions (local_number, remote_key, state) WHERE state IN ('waiting', 'asked');
"#,
    r#"
-- Scheduled: not sent before this, and until then it holds up no other message.
ALTER TABLE outbox ADD COLUMN not_before INTEGER;
-- The network gives it up after this (the SMS validity period, counted from now at send).
ALTER TABLE outbox ADD COLUMN valid_until INTEGER;
-- Message class 0-3.
ALTER TABLE outbox ADD COLUMN class INTEGER;
-- The inbox item showing the question in its portal: the answer replies to it.
ALTER TABLE questions ADD COLUMN copy_inbox INTEGER;
"#,
    r#"
-- Media of MMS received, kept for applications told about them (webhooks, MQTT).
CREATE TABLE api_media (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    mms_id INTEGER NOT NULL,
    part INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    -- In the link: whoever has the link may fetch it, as with a signed URL.
    token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (mms_id, part)
);
"#,
    r#"
-- The applications' side of an inbound item (webhooks, answers, keyword services) is
-- done first, apart from Matrix; the item goes to Matrix only after it.
ALTER TABLE inbox ADD COLUMN apps_done INTEGER NOT NULL DEFAULT 0;
-- 0: a keyword service with `bridge: false` took it; it stays out of Matrix.
ALTER TABLE inbox ADD COLUMN to_matrix INTEGER NOT NULL DEFAULT 1;
CREATE INDEX inbox_apps ON inbox (id) WHERE state = 'new' AND apps_done = 0;
-- Keyword services to ask for a reply, retried while they are unreachable.
CREATE TABLE service_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    inbox_id INTEGER NOT NULL UNIQUE,
    backend_id TEXT NOT NULL,
    -- The SMS, as received (the inbox item may be pruned first).
    sms TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'new',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX service_calls_due ON service_calls (next_attempt_at) WHERE state = 'new';
"#,
    r#"
-- 8-bit data sent instead of the body (Kannel's coding=1): the header, and the data.
ALTER TABLE outbox ADD COLUMN udh BLOB;
ALTER TABLE outbox ADD COLUMN data BLOB;
CREATE INDEX questions_answer ON questions (answer_inbox) WHERE answer_inbox IS NOT NULL;
-- Where a callback goes (a URL's origin, or mqtt): each target's go in order.
ALTER TABLE callbacks ADD COLUMN target TEXT;
CREATE INDEX callbacks_target ON callbacks (target, id) WHERE state = 'new';
"#,
    // 11: what per-number caps and send rates count, and the numbers an admin lifted caps for.
    r#"
-- When a link first took the message: what caps and send rates count.
ALTER TABLE outbox ADD COLUMN claimed_at INTEGER;
-- In time order, for counting at start (appended to, unlike an index by number).
CREATE INDEX outbox_claimed ON outbox (claimed_at) WHERE claimed_at IS NOT NULL;
-- The messages waiting to be taken, by number: small, as they leave it when taken.
CREATE INDEX outbox_waiting ON outbox (destination) WHERE state = 'queued' AND claimed_at IS NULL;
CREATE TABLE cap_lifts (
    destination TEXT PRIMARY KEY,
    lifted_by TEXT NOT NULL,
    lifted_at INTEGER NOT NULL
);
"#,
    // 12: the audit log.
    r#"
-- The audit log (issue 14): every message in and out, every delivery report and every
-- policy refusal, written in the commit that records the message. Numbers and text go
-- through the connection's audit_number() and audit_text() (the privacy settings).
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    -- 'out' or 'in'
    direction TEXT NOT NULL,
    -- 'sms', 'mms' or 'report'
    kind TEXT NOT NULL,
    link TEXT NOT NULL,
    -- Our number and theirs (comma-separated for a group MMS), maybe hashed.
    local TEXT,
    remote TEXT,
    -- Who sent it: matrix:<user>, api:<gateway user>, service:<name>, mqtt; empty inbound.
    origin TEXT NOT NULL DEFAULT '',
    keyword TEXT,
    parts INTEGER,
    encoding TEXT,
    -- The link's message ids, space-separated.
    message_ids TEXT,
    -- queued, sent, delivered, failed, refused, received (a report: what it said)
    status TEXT NOT NULL,
    status_at INTEGER NOT NULL,
    reason TEXT,
    -- NULL unless audit.store_text.
    text TEXT,
    -- The row it records ('outbox', 'mms_out', 'inbox', 'mms_in'), to follow its state.
    source TEXT,
    source_id INTEGER
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_source ON audit (source, source_id) WHERE source IS NOT NULL;
-- The key numbers are hashed with (audit.hash_numbers): random, never leaves the database.
CREATE TABLE audit_key (key BLOB NOT NULL);
INSERT INTO audit_key (key) VALUES (randomblob(32));
-- An outgoing message's final status follows its row, whatever path changes it (a writer
-- needs the bridge's SQL functions: audit_scrub keeps numbers out of reasons when hashing).
CREATE TRIGGER audit_outbox_state AFTER UPDATE OF state ON outbox
WHEN new.state IS NOT old.state AND new.state IN ('queued', 'sent', 'delivered', 'failed', 'dead')
BEGIN
    UPDATE audit SET
        status = CASE new.state WHEN 'dead' THEN 'failed' ELSE new.state END,
        status_at = CAST(round((julianday('now') - 2440587.5) * 86400000) AS INTEGER),
        reason = CASE WHEN new.state IN ('failed', 'dead') THEN audit_scrub(new.last_error) ELSE NULL END,
        -- The link's ids of the parts it took (recorded before the state that follows).
        message_ids = coalesce((SELECT group_concat(CASE WHEN m.state = 'unreportable' THEN '-' ELSE m.backend_msg_id END, ' ' ORDER BY m.part)
                                FROM message_map m WHERE m.outbox_id = new.id), message_ids),
        parts = max(coalesce(parts, 0), (SELECT count(*) FROM message_map m WHERE m.outbox_id = new.id))
    WHERE source = 'outbox' AND source_id = new.id;
END;
CREATE TRIGGER audit_mms_out_state AFTER UPDATE OF state ON mms_out
WHEN new.state IS NOT old.state AND new.state IN ('queued', 'sent', 'failed', 'dead')
BEGIN
    UPDATE audit SET
        status = CASE new.state WHEN 'dead' THEN 'failed' ELSE new.state END,
        status_at = CAST(round((julianday('now') - 2440587.5) * 86400000) AS INTEGER),
        reason = CASE WHEN new.state IN ('failed', 'dead') THEN audit_scrub(new.last_error) ELSE NULL END
    WHERE source = 'mms_out' AND source_id = new.id;
END;
"#,
    // 13: the audit log with no index but its rowid.
    r#"
-- Each index of the audit log was one more page in every commit that queues a message: they
-- cost more than half of the log's cost on the gateway. Rows are found instead by their
-- rowid: from the row they record (its audit_id), and by time as the rowid follows the time
-- they were written (an export and the pruning search it). No AUTOINCREMENT either: it
-- wrote sqlite_sequence in every such commit.
DROP TRIGGER audit_outbox_state;
DROP TRIGGER audit_mms_out_state;
ALTER TABLE outbox ADD COLUMN audit_id INTEGER;
ALTER TABLE mms_out ADD COLUMN audit_id INTEGER;
ALTER TABLE inbox ADD COLUMN audit_id INTEGER;
ALTER TABLE mms_in ADD COLUMN audit_id INTEGER;
UPDATE outbox SET audit_id = (SELECT id FROM audit WHERE source = 'outbox' AND source_id = outbox.id);
UPDATE mms_out SET audit_id = (SELECT id FROM audit WHERE source = 'mms_out' AND source_id = mms_out.id);
UPDATE inbox SET audit_id = (SELECT id FROM audit WHERE source = 'inbox' AND source_id = inbox.id);
UPDATE mms_in SET audit_id = (SELECT id FROM audit WHERE source = 'mms_in' AND source_id = mms_in.id);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    direction TEXT NOT NULL,
    kind TEXT NOT NULL,
    link TEXT NOT NULL,
    local TEXT,
    remote TEXT,
    origin TEXT NOT NULL DEFAULT '',
    keyword TEXT,
    parts INTEGER,
    encoding TEXT,
    message_ids TEXT,
    status TEXT NOT NULL,
    status_at INTEGER NOT NULL,
    reason TEXT,
    text TEXT,
    source TEXT,
    source_id INTEGER
);
INSERT INTO audit_log (id, at, direction, kind, link, local, remote, origin, keyword, parts, encoding, message_ids,
                       status, status_at, reason, text, source, source_id)
    SELECT id, at, direction, kind, link, local, remote, origin, keyword, nullif(parts, 0), encoding, message_ids,
           status, status_at, reason, text, source, source_id
    FROM audit ORDER BY id;
DROP TABLE audit;
ALTER TABLE audit_log RENAME TO audit;
-- An SMS's record is not written as its outbox row changes, which would be one more page in
-- every commit that sends or settles a message: while the row lives, an export reads its
-- state there (store/audit.rs). When it goes, the record takes its final state; its link ids
-- go with it. (A writer needs the bridge's SQL functions: audit_scrub keeps numbers out of
-- reasons when hashing.)
CREATE TRIGGER outbox_gone BEFORE DELETE ON outbox
BEGIN
    UPDATE audit SET
        status = CASE WHEN status = 'refused' THEN status
                      WHEN old.state IN ('queued', 'sending') THEN 'queued'
                      WHEN old.state IN ('dead', 'dropped', 'failed') THEN 'failed'
                      ELSE old.state END,
        status_at = old.updated_at,
        -- Scrubbed also if the record is hashed though the log no longer hashes.
        reason = CASE WHEN status = 'refused' THEN reason
                      WHEN old.state IN ('dead', 'dropped', 'failed') THEN audit_scrub(old.last_error, remote LIKE 'h:%') END,
        message_ids = coalesce((SELECT group_concat(CASE WHEN m.state = 'unreportable' THEN '-' ELSE m.backend_msg_id END, ' ' ORDER BY m.part)
                                FROM message_map m WHERE m.outbox_id = old.id), message_ids),
        parts = nullif(max(coalesce(parts, 0), (SELECT count(*) FROM message_map m WHERE m.outbox_id = old.id)), 0)
    WHERE id = old.audit_id AND source = 'outbox' AND source_id = old.id;
    DELETE FROM message_map WHERE outbox_id = old.id;
END;
-- As in 12, the row found by its rowid; source and source_id make sure it is the row's own.
CREATE TRIGGER audit_mms_out_state AFTER UPDATE OF state ON mms_out
WHEN new.audit_id IS NOT NULL AND new.state IS NOT old.state AND new.state IN ('queued', 'sent', 'failed', 'dead')
BEGIN
    UPDATE audit SET
        status = CASE new.state WHEN 'dead' THEN 'failed' ELSE new.state END,
        status_at = CAST(round((julianday('now') - 2440587.5) * 86400000) AS INTEGER),
        reason = CASE WHEN new.state IN ('failed', 'dead') THEN audit_scrub(new.last_error) ELSE NULL END
    WHERE id = new.audit_id AND source = 'mms_out' AND source_id = new.id;
END;
"#,
];

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew { found: version, known });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_13_links_each_record_to_its_row_which_gives_it_its_final_state() {
        let mut conn = Connection::open_in_memory().unwrap();
        for (i, sql) in MIGRATIONS[..12].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", i as i64 + 1).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO portals (local_number, remote_key, remote_display, backend_id, owner, created_at) VALUES ('+1555', '1666', '+1666', 'b', '@a:x', 0);
             INSERT INTO outbox (portal_id, backend_id, room_id, event_id, destination, body, state, next_attempt_at, created_at, updated_at)
                 VALUES (1, 'b', '!r', '$1', '+1666', 'hi', 'sending', 0, 0, 0), (1, 'b', '!r', '$2', '+1666', 'yo', 'sending', 0, 0, 0);
             INSERT INTO audit (at, direction, kind, link, status, status_at, source, source_id)
                 VALUES (5, 'out', 'sms', 'b', 'queued', 5, 'outbox', 2), (6, 'in', 'sms', 'b', 'received', 6, 'inbox', 1);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        for n in [1, 2] {
            conn.create_scalar_function("audit_scrub", n, rusqlite::functions::FunctionFlags::SQLITE_UTF8, |ctx| {
                ctx.get::<Option<String>>(0)
            })
            .unwrap();
        }
        let linked: Vec<(i64, Option<i64>)> = conn
            .prepare("SELECT id, audit_id FROM outbox ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(linked, vec![(1, None), (2, Some(1))]);
        // Sent; the row's state is the record's while it lives, and its final one after.
        conn.execute_batch(
            "UPDATE outbox SET state = 'sent', updated_at = 9;
             INSERT INTO message_map (backend_id, backend_msg_id, outbox_id, part) VALUES ('b', 'm1', 2, 0), ('b', 'm2', 2, 1);",
        )
        .unwrap();
        let status: String = conn.query_row("SELECT status FROM audit WHERE id = 1", [], |r| r.get(0)).unwrap();
        assert_eq!(status, "queued");
        conn.execute("DELETE FROM outbox WHERE id = 2", []).unwrap();
        let rows: Vec<(i64, i64, String, i64, String, i64)> = conn
            .prepare("SELECT id, at, status, status_at, coalesce(message_ids, ''), coalesce(parts, 0) FROM audit ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![(1, 5, "sent".into(), 9, "m1 m2".into(), 2), (2, 6, "received".into(), 6, String::new(), 0)]
        );
        let ids: i64 = conn.query_row("SELECT count(*) FROM message_map", [], |r| r.get(0)).unwrap();
        assert_eq!(ids, 0, "the ids went with their message");
        let indexes: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(indexes, 0);
    }
}

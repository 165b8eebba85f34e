//! The AT channel: one command at a time, each with its own timeout. Unsolicited result
//! codes that arrive between commands, or in the middle of an answer, are kept in arrival
//! order for the session to handle when the command is done.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::at::{Final, Item, LineReader, Urc};

pub(super) trait Port: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Port for T {}

/// Something the modem said on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Event {
    Urc(Urc),
    /// `+CMT`/`+CDS` with the PDU line that followed it.
    Pdu {
        urc: Urc,
        pdu: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum AtError {
    /// ERROR, +CME ERROR or +CMS ERROR.
    #[error("{0}")]
    Failed(Final),
    #[error("no answer to {0} within {1} s")]
    Timeout(String, u64),
    /// End of file or an I/O error: unplugged, or the modem reset.
    #[error("{0}")]
    Gone(String),
}

pub(super) struct Channel {
    port: Box<dyn Port>,
    reader: LineReader,
    items: VecDeque<Item>,
    events: VecDeque<Event>,
    /// A `+CMT`/`+CDS` whose PDU line is still to come.
    awaiting_pdu: Option<Urc>,
    /// A line whose quoted text goes on over the next lines (a USSD menu).
    partial: Option<String>,
}

/// How long to wait for the `> ` prompt after `AT+CMGS=`.
const PROMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// After a send timed out, how long a late `+CMGS` is still waited for.
const LATE_ANSWER: Duration = Duration::from_secs(3);
/// Silence that shows nothing more is on its way.
const QUIET: Duration = Duration::from_millis(500);
/// How long getting back in step waits for the `OK` to `AT`.
const RESYNC_WAIT: Duration = Duration::from_secs(30);

impl Channel {
    pub fn new(port: Box<dyn Port>) -> Channel {
        Channel {
            port,
            reader: LineReader::new(),
            items: VecDeque::new(),
            events: VecDeque::new(),
            awaiting_pdu: None,
            partial: None,
        }
    }

    /// Sends one command line and returns its information lines (echo and URCs taken out)
    /// once the final result is OK.
    pub async fn command(&mut self, cmd: &str, timeout: Duration) -> Result<Vec<String>, AtError> {
        // The PIN stays out of logs.
        tracing::trace!(cmd = if cmd.starts_with("AT+CPIN=") { "AT+CPIN=…" } else { cmd }, "AT >");
        self.write(format!("{cmd}\r").as_bytes()).await?;
        match self.answer(cmd, timeout).await {
            Err(AtError::Timeout(c, s)) => {
                self.resync().await?;
                Err(AtError::Timeout(c, s))
            }
            r => r,
        }
    }

    /// Sends an SMS-SUBMIT: `AT+CMGS=<len>`, the prompt, the PDU and Ctrl-Z. Returns the
    /// message reference. On a timeout the half-done command is cancelled with ESC.
    pub async fn send_pdu(&mut self, hex: &str, len: usize, timeout: Duration) -> Result<u8, AtError> {
        let cmd = format!("AT+CMGS={len}");
        tracing::trace!(cmd, "AT >");
        self.write(format!("{cmd}\r").as_bytes()).await?;
        let deadline = Instant::now() + PROMPT_TIMEOUT;
        loop {
            let item = match tokio::time::timeout_at(deadline, self.next_item()).await {
                Ok(item) => item?,
                Err(_) => {
                    // No prompt, so no PDU went out: nothing late can mean sent.
                    self.resync().await?;
                    return Err(AtError::Timeout(cmd, PROMPT_TIMEOUT.as_secs()));
                }
            };
            match item {
                Item::Prompt => break,
                Item::Line(line) => {
                    if let Some(f) = Final::parse(&line) {
                        // Refused before the PDU (no network, SIM busy …).
                        return Err(AtError::Failed(f));
                    }
                    if !line.eq_ignore_ascii_case(&cmd) {
                        self.unsolicited(&line);
                    }
                }
            }
        }
        self.write(format!("{hex}\x1a").as_bytes()).await?;
        match self.answer(&cmd, timeout).await {
            Ok(info) => info.iter().find_map(|l| crate::at::answers::cmgs(l)).ok_or(AtError::Failed(Final::Error)),
            Err(AtError::Timeout(c, s)) => {
                // ESC cannot recall a PDU already handed over: a modem that was merely slow
                // answers late, and that answer means sent (trying again would send twice).
                let mut late = self.cancel(LATE_ANSWER).await?;
                if !late.iter().any(|l| crate::at::answers::cmgs(l).is_some()) {
                    // Still nothing: getting back in step reads whatever the modem says
                    // first, the send's answer included.
                    late.extend(self.resync().await?);
                }
                match late.iter().find_map(|l| crate::at::answers::cmgs(l)) {
                    Some(mr) => {
                        tracing::info!(cmd = c, "the modem answered the send late: sent");
                        Ok(mr)
                    }
                    None => Err(AtError::Timeout(c, s)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// ESC cancels a prompt or a half-typed command; what the modem says next is drained.
    pub async fn abort(&mut self) -> Result<(), AtError> {
        self.cancel(Duration::from_millis(300)).await.map(drop)
    }

    /// ESC, then reads until `quiet` passes without a line; returns the lines that were
    /// not unsolicited (a late answer).
    async fn cancel(&mut self, quiet: Duration) -> Result<Vec<String>, AtError> {
        self.write(b"\x1b\r").await?;
        self.until_quiet(quiet).await
    }

    /// Reads until `quiet` passes without a line (at most 10 s), routing URCs; returns
    /// the other lines.
    async fn until_quiet(&mut self, quiet: Duration) -> Result<Vec<String>, AtError> {
        let end = Instant::now() + Duration::from_secs(10);
        let mut lines = Vec::new();
        while Instant::now() < end {
            match tokio::time::timeout(quiet, self.next_item()).await {
                Err(_) => break,
                Ok(Err(e)) => return Err(e),
                Ok(Ok(Item::Line(line))) => {
                    if !self.unsolicited(&line) {
                        lines.push(line);
                    }
                }
                Ok(Ok(Item::Prompt)) => {}
            }
        }
        Ok(lines)
    }

    /// Brings the channel back in step after a command went unanswered: its late answer
    /// would otherwise be read as the answer to the next command (and, say, the `OK` of a
    /// delete taken for a read). `AT` until its `OK` is the last thing the modem says.
    /// Returns the lines dropped on the way (a late answer the caller may still want).
    async fn resync(&mut self) -> Result<Vec<String>, AtError> {
        let mut dropped = self.cancel(QUIET).await?;
        for _ in 0..5 {
            self.write(b"AT\r").await?;
            // A modem still busy (finishing a send) answers `AT` only after that: wait for
            // an OK, then for silence.
            let mut lines = Vec::new();
            let end = Instant::now() + RESYNC_WAIT;
            while Instant::now() < end && !lines.iter().any(|l: &String| l == "OK") {
                lines.extend(self.until_quiet(QUIET).await?);
            }
            if !lines.iter().any(|l| l == "OK") {
                dropped.extend(lines);
                return Err(AtError::Gone(format!("the modem does not answer AT within {} s", RESYNC_WAIT.as_secs())));
            }
            lines.extend(self.until_quiet(QUIET).await?);
            lines.retain(|l| !l.eq_ignore_ascii_case("AT"));
            if lines == ["OK"] {
                if !dropped.is_empty() {
                    tracing::warn!(lines = ?dropped, "the modem answered out of turn");
                }
                return Ok(dropped);
            }
            dropped.extend(lines);
        }
        Err(AtError::Gone("the modem answers out of turn and does not get back in step".into()))
    }

    /// The next thing the modem says on its own. Cancel-safe: nothing read is lost if the
    /// future is dropped.
    pub async fn next_event(&mut self) -> Result<Event, AtError> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Ok(e);
            }
            let Item::Line(line) = self.next_item().await? else { continue };
            if self.unsolicited(&line) {
                continue;
            }
            match Final::parse(&line) {
                // Some modems say their storage is full this way, unasked.
                Some(Final::CmsError(322)) => self.events.push_back(Event::Urc(Urc::StorageFull)),
                Some(f) => tracing::warn!(result = %f, "a final result out of turn from the modem, ignored"),
                None => tracing::warn!(line, "unexpected line from the modem, ignored"),
            }
        }
    }

    /// Keeps only the events `keep` picks.
    pub fn retain_events(&mut self, keep: impl Fn(&Event) -> bool) {
        self.events.retain(keep);
    }

    /// An event already read, without waiting.
    pub fn pending_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Waits for an event `want` picks, keeping the others for later.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        want: impl Fn(&Event) -> bool,
    ) -> Result<Option<Event>, AtError> {
        let deadline = Instant::now() + timeout;
        if let Some(i) = self.events.iter().position(&want) {
            return Ok(self.events.remove(i));
        }
        loop {
            let item = match tokio::time::timeout_at(deadline, self.next_item()).await {
                Ok(item) => item?,
                Err(_) => return Ok(None),
            };
            if let Item::Line(line) = item {
                self.unsolicited(&line);
                if let Some(i) = self.events.iter().position(&want) {
                    return Ok(self.events.remove(i));
                }
            }
        }
    }

    async fn answer(&mut self, cmd: &str, timeout: Duration) -> Result<Vec<String>, AtError> {
        let expect = answer_prefix(cmd);
        let deadline = Instant::now() + timeout;
        let mut info = Vec::new();
        loop {
            let item = match tokio::time::timeout_at(deadline, self.next_item()).await {
                Ok(item) => item?,
                Err(_) => return Err(AtError::Timeout(cmd.to_string(), timeout.as_secs())),
            };
            let Item::Line(line) = item else { continue };
            if line.eq_ignore_ascii_case(cmd) {
                continue; // echo
            }
            if self.awaiting_pdu.is_some() && looks_like_pdu(&line) {
                self.unsolicited(&line);
                continue;
            }
            if let Some(urc) = self.awaiting_pdu.take() {
                tracing::warn!(?urc, line, "a message announcement without its PDU line");
            }
            if let Some(f) = Final::parse(&line) {
                if f == Final::CmsError(322) {
                    // No command of ours fails with "memory full": an unsolicited storage-
                    // full signal; the command's own answer is still to come.
                    self.events.push_back(Event::Urc(Urc::StorageFull));
                    continue;
                }
                tracing::trace!(cmd, result = %f, "AT <");
                return if f == Final::Ok { Ok(info) } else { Err(AtError::Failed(f)) };
            }
            if expect.as_deref().is_some_and(|p| line.starts_with(p)) {
                info.push(line);
                continue;
            }
            if !self.unsolicited(&line) {
                info.push(line);
            }
        }
    }

    /// Takes a line that may be unsolicited; false if it is not.
    fn unsolicited(&mut self, line: &str) -> bool {
        if let Some(urc) = self.awaiting_pdu.take() {
            if looks_like_pdu(line) {
                self.events.push_back(Event::Pdu { urc, pdu: line.to_string() });
                return true;
            }
            tracing::warn!(?urc, line, "a message announcement without its PDU line");
        }
        match Urc::parse(line) {
            Some(urc) if urc.pdu_follows() => {
                self.awaiting_pdu = Some(urc);
                true
            }
            Some(urc) => {
                self.events.push_back(Event::Urc(urc));
                true
            }
            None => false,
        }
    }

    async fn next_item(&mut self) -> Result<Item, AtError> {
        loop {
            if let Some(item) = self.items.pop_front() {
                match self.join_quoted(item) {
                    Some(item) => return Ok(item),
                    None => continue,
                }
            }
            let mut buf = [0u8; 2048];
            let n = self.port.read(&mut buf).await.map_err(|e| AtError::Gone(format!("reading: {e}")))?;
            if n == 0 {
                return Err(AtError::Gone("the device closed (unplugged or reset)".into()));
            }
            self.items.extend(self.reader.push(&buf[..n]));
        }
    }

    /// A `+CUSD` answer whose quoted text spans lines (a menu) is joined back into one
    /// line; None while its quote is still open.
    fn join_quoted(&mut self, item: Item) -> Option<Item> {
        let Item::Line(line) = item else { return Some(item) };
        let open = |s: &str| s.matches('"').count() % 2 == 1;
        match self.partial.take() {
            // A quote that never closes must not swallow what follows: a final result or
            // a URC is a new line, not more menu text.
            Some(p)
                if Final::parse(&line).is_some()
                    || line.starts_with(['+', '^'])
                    || looks_like_pdu(&line)
                    || Urc::parse(&line).is_some_and(|u| u != Urc::Noise) =>
            {
                self.items.push_front(Item::Line(line));
                Some(Item::Line(p))
            }
            Some(mut p) => {
                p.push('\n');
                p.push_str(&line);
                if open(&p) && p.len() < crate::at::lines::MAX_LINE {
                    self.partial = Some(p);
                    None
                } else {
                    Some(Item::Line(p))
                }
            }
            None if line.starts_with("+CUSD:") && open(&line) => {
                self.partial = Some(line);
                None
            }
            None => Some(Item::Line(line)),
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), AtError> {
        // A USSD text still open ends here: what follows answers this command.
        if let Some(p) = self.partial.take() {
            self.unsolicited(&p);
        }
        let io = async {
            self.port.write_all(bytes).await?;
            self.port.flush().await
        };
        match tokio::time::timeout(Duration::from_secs(10), io).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AtError::Gone(format!("writing: {e}"))),
            Err(_) => Err(AtError::Gone("writing: the device takes no data".into())),
        }
    }
}

/// The prefix of a command's information lines: `AT+CMGL=4` → `+CMGL:`.
fn answer_prefix(cmd: &str) -> Option<String> {
    let rest = cmd.get(2..)?;
    if !(rest.starts_with('+') || rest.starts_with('^')) {
        return None;
    }
    let name: String = rest.chars().take_while(|c| !matches!(c, '=' | '?')).collect();
    Some(format!("{}:", name.to_ascii_uppercase()))
}

/// Hex digits, maybe with junk at the end (a stray quote): decoded leniently later.
fn looks_like_pdu(line: &str) -> bool {
    line.len() >= 4 && line.bytes().take(4).all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncWriteExt, DuplexStream, duplex};

    fn pair() -> (Channel, DuplexStream) {
        let (a, b) = duplex(4096);
        (Channel::new(Box::new(a)), b)
    }

    async fn expect_written(modem: &mut DuplexStream, want: &str) {
        let mut buf = vec![0u8; want.len()];
        modem.read_exact(&mut buf).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&buf), want);
    }

    #[tokio::test]
    async fn urcs_inside_an_answer_are_kept_for_later() {
        let (mut ch, mut modem) = pair();
        let task = tokio::spawn(async move {
            let lines = ch.command("AT+CMGL=4", Duration::from_secs(2)).await.unwrap();
            (lines, ch)
        });
        expect_written(&mut modem, "AT+CMGL=4\r").await;
        modem
            .write_all(
                b"AT+CMGL=4\r\r\n+CMGL: 1,0,,5\r\n0011AABBCC\r\n^RSSI: 17\r\n^MODE: 5,4\r\r\n+CMTI: \"SM\",2\r\n\
                  +CMGL: 2,0,,5\r\n0011DDEEFF\"\r\n+CMT: ,3\r\n001122\r\n\r\nOK\r\n",
            )
            .await
            .unwrap();
        let (lines, mut ch) = task.await.unwrap();
        assert_eq!(lines, ["+CMGL: 1,0,,5", "0011AABBCC", "+CMGL: 2,0,,5", "0011DDEEFF\""]);
        assert_eq!(ch.pending_event(), Some(Event::Urc(Urc::Noise)));
        assert_eq!(ch.pending_event(), Some(Event::Urc(Urc::Noise)));
        assert_eq!(ch.pending_event(), Some(Event::Urc(Urc::NewMessage { storage: "SM".into(), index: 2 })));
        assert_eq!(ch.pending_event(), Some(Event::Pdu { urc: Urc::Message { len: 3 }, pdu: "001122".into() }));
        assert_eq!(ch.pending_event(), None);
    }

    #[tokio::test]
    async fn errors_and_timeouts() {
        let (mut ch, mut modem) = pair();
        modem.write_all(b"\r\n+CMS ERROR: 331\r\n").await.unwrap();
        assert_eq!(ch.command("AT+CMGF=0", Duration::from_secs(1)).await, Err(AtError::Failed(Final::CmsError(331))));
        // Unanswered: ESC, then AT until the modem is back in step.
        let task = tokio::spawn(async move {
            let e = ch.command("AT+CSQ", Duration::from_millis(50)).await.unwrap_err();
            (e, ch)
        });
        expect_written(&mut modem, "AT+CMGF=0\r").await;
        expect_written(&mut modem, "AT+CSQ\r").await;
        expect_written(&mut modem, "\x1b\r").await;
        expect_written(&mut modem, "AT\r").await;
        modem.write_all(b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n\r\nOK\r\n").await.unwrap();
        expect_written(&mut modem, "AT\r").await;
        modem.write_all(b"\r\nOK\r\n").await.unwrap();
        let (e, mut ch) = task.await.unwrap();
        assert!(matches!(e, AtError::Timeout(_, _)), "{e:?}");
        // In step again: the next command gets its own answer, not the late one.
        modem.write_all(b"\r\n+CREG: 0,1\r\n\r\nOK\r\n").await.unwrap();
        assert_eq!(ch.command("AT+CREG?", Duration::from_secs(1)).await, Ok(vec!["+CREG: 0,1".to_string()]));
        drop(modem);
        let e = ch.command("AT", Duration::from_secs(1)).await.unwrap_err();
        assert!(matches!(e, AtError::Gone(_)), "{e:?}");
    }

    #[tokio::test]
    async fn a_send_waits_for_the_prompt_then_the_reference() {
        let (mut ch, mut modem) = pair();
        let task = tokio::spawn(async move { ch.send_pdu("0011", 1, Duration::from_secs(2)).await });
        expect_written(&mut modem, "AT+CMGS=1\r").await;
        modem.write_all(b"AT+CMGS=1\r\r\n> ").await.unwrap();
        expect_written(&mut modem, "0011\x1a").await;
        modem.write_all(b"0011\r\n+CMTI: \"SM\",4\r\n+CMGS: 77\r\n\r\nOK\r\n").await.unwrap();
        assert_eq!(task.await.unwrap(), Ok(77));
    }

    #[tokio::test]
    async fn a_send_without_an_answer_is_cancelled_with_esc() {
        let (mut ch, mut modem) = pair();
        let task = tokio::spawn(async move { ch.send_pdu("0011", 1, Duration::from_millis(200)).await });
        expect_written(&mut modem, "AT+CMGS=1\r").await;
        modem.write_all(b"\r\n> ").await.unwrap();
        expect_written(&mut modem, "0011\x1a").await;
        expect_written(&mut modem, "\x1b\r").await;
        // No late answer: back in step, and the part is tried again later.
        expect_written(&mut modem, "\x1b\r").await;
        expect_written(&mut modem, "AT\r").await;
        modem.write_all(b"\r\nOK\r\n").await.unwrap();
        assert!(matches!(task.await.unwrap(), Err(AtError::Timeout(_, _))));
    }

    #[tokio::test]
    async fn an_unclosed_quote_does_not_swallow_what_follows() {
        let (mut ch, mut modem) = pair();
        modem.write_all(b"\r\n+CUSD: 0,\"Broken\r\n+CMTI: \"SM\",4\r\n").await.unwrap();
        let Event::Urc(Urc::Ussd { status: 0, .. }) = ch.next_event().await.unwrap() else { panic!() };
        assert_eq!(ch.next_event().await.unwrap(), Event::Urc(Urc::NewMessage { storage: "SM".into(), index: 4 }));
    }

    #[tokio::test]
    async fn a_ussd_menu_over_several_lines_is_one_answer() {
        let (mut ch, mut modem) = pair();
        modem.write_all(b"\r\n+CUSD: 1,\"Choose:\r\n1. Data\r\n2. Minutes\",15\r\n").await.unwrap();
        let ev = ch.next_event().await.unwrap();
        let text = "Choose:\n1. Data\n2. Minutes".to_string();
        assert_eq!(ev, Event::Urc(Urc::Ussd { status: 1, text: Some(text), dcs: Some(15) }));
    }

    #[tokio::test]
    async fn a_late_answer_after_the_timeout_counts_as_sent() {
        let (mut ch, mut modem) = pair();
        let task = tokio::spawn(async move { ch.send_pdu("0011", 1, Duration::from_millis(200)).await });
        expect_written(&mut modem, "AT+CMGS=1\r").await;
        modem.write_all(b"\r\n> ").await.unwrap();
        expect_written(&mut modem, "0011\x1a").await;
        expect_written(&mut modem, "\x1b\r").await;
        modem.write_all(b"\r\n+CMGS: 9\r\n\r\nOK\r\n").await.unwrap();
        assert_eq!(task.await.unwrap(), Ok(9));
    }
}

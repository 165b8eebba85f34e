//! Cuts what a modem prints into lines and `> ` prompts. Modems end lines with CR LF,
//! a lone CR or LF, and Huawei's `^MODE` with CR CR LF; blank lines mean nothing.

/// One thing the modem printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Line(String),
    /// The `> ` that asks for a PDU after `AT+CMGS=<n>`.
    Prompt,
}

/// A line longer than this is cut: no real answer comes near it (a PDU line is at most
/// ~360 characters), and memory stays bounded whatever the device sends.
pub const MAX_LINE: usize = 4096;

#[derive(Debug, Default)]
pub struct LineReader {
    buf: Vec<u8>,
    /// The current line was cut at MAX_LINE: the rest of it is dropped.
    skipping: bool,
}

impl LineReader {
    pub fn new() -> LineReader {
        LineReader::default()
    }

    /// Takes bytes as they came and returns the complete items in them; a partial line
    /// waits for the next call.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Item> {
        let mut out = Vec::new();
        for &b in bytes {
            match b {
                b'\r' | b'\n' => {
                    out.extend(self.take().map(Item::Line));
                    self.skipping = false;
                }
                // NUL and other control bytes are line noise (a modem powering up).
                0..=0x1F if b != b'\t' => {}
                _ if self.skipping => {}
                _ => {
                    self.buf.push(b);
                    if self.buf.len() >= MAX_LINE {
                        out.extend(self.take().map(Item::Line));
                        self.skipping = true;
                    }
                }
            }
            // The prompt has no line end after it.
            if self.buf == b"> " {
                self.buf.clear();
                out.push(Item::Prompt);
            }
        }
        // A lone ">" on a line of its own is a prompt too (some modems omit the space).
        for item in &mut out {
            if matches!(item, Item::Line(l) if l == ">") {
                *item = Item::Prompt;
            }
        }
        out
    }

    /// Forgets a partial line (after the channel is reset).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.skipping = false;
    }

    /// The line so far, trimmed; None when it is blank (only spaces and tabs are blank
    /// too: they trim to nothing, and an empty line would pass for a missing PDU).
    fn take(&mut self) -> Option<String> {
        let line = String::from_utf8_lossy(&self.buf).trim().to_string();
        self.buf.clear();
        (!line.is_empty()).then_some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<Item> {
        let mut r = LineReader::new();
        chunks.iter().flat_map(|c| r.push(c)).collect()
    }

    fn l(s: &str) -> Item {
        Item::Line(s.into())
    }

    #[test]
    fn splits_every_line_end_and_skips_blanks() {
        let got = lines(&[b"\r\nOK\r\n\r\n^MODE: 5,4\r\r\n+CMTI: \"SM\",3\n", b"RDY\r"]);
        assert_eq!(got, vec![l("OK"), l("^MODE: 5,4"), l("+CMTI: \"SM\",3"), l("RDY")]);
    }

    #[test]
    fn whitespace_only_lines_are_blank() {
        // Found by the at_lines fuzz target: "\r \n" gave an empty Line.
        assert_eq!(lines(&[b"^4\r\r\n^RS\x80I:71\r \n"]), vec![l("^4"), l("^RS\u{FFFD}I:71")]);
        assert_eq!(lines(&[b"\r\n \t \r\nOK\r\n"]), vec![l("OK")]);
        let mut spaces = vec![b' '; MAX_LINE + 10];
        spaces.extend(b"\r\nOK\r\n");
        assert_eq!(lines(&[&spaces]), vec![l("OK")]);
    }

    #[test]
    fn lines_split_across_reads_join() {
        assert_eq!(lines(&[b"\r\n+CS", b"Q: 2", b"0,99\r", b"\nOK\r\n"]), vec![l("+CSQ: 20,99"), l("OK")]);
    }

    #[test]
    fn prompt_without_line_end() {
        assert_eq!(lines(&[b"AT+CMGS=19\r\r\n> "]), vec![l("AT+CMGS=19"), Item::Prompt]);
        assert_eq!(lines(&[b"\r\n>", b" "]), vec![Item::Prompt]);
        assert_eq!(lines(&[b"\r\n>\r\n"]), vec![Item::Prompt]);
    }

    #[test]
    fn long_lines_are_cut_and_bad_bytes_survive() {
        let mut long = vec![b'A'; MAX_LINE + 10];
        long.extend(b"\r\nOK\r\n");
        let got = lines(&[&long]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], l("OK"));
        assert_eq!(lines(&[b"\xff\xfeX\0Y\r\n"]), vec![l("\u{FFFD}\u{FFFD}XY")]);
    }
}

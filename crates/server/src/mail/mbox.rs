//! An mbox file (mboxo or mboxrd) read as a stream of messages: a message
//! starts after a "From " line at the start of the file or after an empty
//! line; ">From " lines (any number of `>`) lose one `>` (mboxrd; for mboxo
//! only ">From " was quoted, which reads the same). Nothing but the
//! message being read is held in memory, and each message's place in the
//! file is kept so it can be read again ([`read_at`]).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

/// A message's place in the file.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// The first byte after its "From " line.
    pub offset: u64,
    pub len: u64,
    /// The date of its "From " line, in microseconds since the epoch.
    pub from_line_date: Option<i64>,
}

/// Reads the messages of an mbox one by one.
pub struct Reader<R> {
    input: R,
    pos: u64,
    /// The "From " line that starts the next message, already read.
    pending: Option<(u64, Vec<u8>)>,
    line: Vec<u8>,
    done: bool,
}

impl<R: BufRead> Reader<R> {
    pub fn new(input: R) -> Self {
        Reader {
            input,
            pos: 0,
            pending: None,
            line: Vec::new(),
            done: false,
        }
    }

    /// How far into the file the reader is.
    pub fn position(&self) -> u64 {
        self.pos
    }

    fn next_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        let n = self.input.read_until(b'\n', &mut self.line)?;
        self.pos += n as u64;
        Ok(n > 0)
    }

    /// The next message (unquoted) and its place, or None at the end.
    /// Text before the first "From " line is not a message and is skipped.
    pub fn next_message(&mut self) -> io::Result<Option<(Span, Vec<u8>)>> {
        if self.done {
            return Ok(None);
        }
        // Find the message's "From " line.
        let (start, from_line) = match self.pending.take() {
            Some(p) => p,
            None => loop {
                let at = self.pos;
                if !self.next_line()? {
                    self.done = true;
                    return Ok(None);
                }
                if self.line.starts_with(b"From ") {
                    break (at, std::mem::take(&mut self.line));
                }
            },
        };
        let offset = start + from_line.len() as u64;
        let mut body = Vec::new();
        let mut blank_before = false;
        loop {
            let at = self.pos;
            if !self.next_line()? {
                self.done = true;
                break;
            }
            if blank_before && self.line.starts_with(b"From ") {
                self.pending = Some((at, std::mem::take(&mut self.line)));
                break;
            }
            blank_before = self.line == b"\n" || self.line == b"\r\n";
            body.extend_from_slice(unquote(&self.line));
        }
        // The line end before the next "From " belongs to the mbox.
        let len = self.pending.as_ref().map_or(self.pos, |p| p.0) - offset;
        strip_line_end(&mut body);
        Ok(Some((
            Span {
                offset,
                len,
                from_line_date: from_line_date(&from_line),
            },
            body,
        )))
    }
}

/// A ">From " line with one `>` less; any other line as it is.
fn unquote(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|b| **b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

/// Reads one message again from its place in the file, unquoted.
pub fn read_at(file: &mut File, span: &Span) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(span.offset))?;
    let mut raw = Vec::with_capacity(span.len as usize);
    file.by_ref().take(span.len).read_to_end(&mut raw)?;
    let mut out = Vec::with_capacity(raw.len());
    for line in raw.split_inclusive(|b| *b == b'\n') {
        out.extend_from_slice(unquote(line));
    }
    strip_line_end(&mut out);
    Ok(out)
}

fn strip_line_end(b: &mut Vec<u8>) {
    if b.ends_with(b"\r\n") {
        b.truncate(b.len() - 2);
    } else if b.ends_with(b"\n") {
        b.truncate(b.len() - 1);
    }
}

/// Opens an mbox for [`Reader`].
pub fn open(path: &std::path::Path) -> io::Result<(Reader<BufReader<File>>, u64)> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    Ok((Reader::new(BufReader::with_capacity(1 << 20, file)), size))
}

/// The date of a "From sender Www Mmm dd hh:mm:ss yyyy" line (asctime, in
/// UTC), when it has one.
fn from_line_date(line: &[u8]) -> Option<i64> {
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let words: Vec<&str> = line.split_whitespace().collect();
    // "From", the sender, then the date's five words (some writers add a
    // zone after the time or the year, which is left out).
    if words.len() < 7 {
        return None;
    }
    let date = words[2..7].join(" ");
    let t = jiff::fmt::strtime::parse("%a %b %d %H:%M:%S %Y", &date)
        .ok()?
        .to_datetime()
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()?;
    Some(t.timestamp().as_microsecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(mbox: &str) -> Vec<(Span, String)> {
        let mut r = Reader::new(mbox.as_bytes());
        let mut out = Vec::new();
        while let Some((span, body)) = r.next_message().unwrap() {
            out.push((span, String::from_utf8(body).unwrap()));
        }
        out
    }

    #[test]
    fn messages_split_on_from_lines_and_unquote() {
        let mbox = "preamble\nFrom a@x Mon Dec  7 17:04:54 2026\nSubject: one\n\nHi\n>From here\n>>From there\nFrom inside\n\nFrom b@x Tue Dec  8 01:02:03 2026\nSubject: two\n\nBye\n";
        let m = all(mbox);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0].1,
            "Subject: one\n\nHi\nFrom here\n>From there\nFrom inside\n"
        );
        assert_eq!(m[1].1, "Subject: two\n\nBye");
        assert!(m[0].0.from_line_date.is_some());
        assert_eq!(
            m[1].0.from_line_date,
            Some(
                "2026-12-08T01:02:03Z"
                    .parse::<jiff::Timestamp>()
                    .unwrap()
                    .as_microsecond()
            )
        );
        // A span reads the same message again.
        let mut f = tempfile_of(mbox);
        assert_eq!(
            String::from_utf8(read_at(&mut f, &m[0].0).unwrap()).unwrap(),
            m[0].1
        );
        assert_eq!(
            String::from_utf8(read_at(&mut f, &m[1].0).unwrap()).unwrap(),
            m[1].1
        );
    }

    fn tempfile_of(s: &str) -> File {
        let path = std::env::temp_dir().join(format!("chorus-mbox-{}", std::process::id()));
        std::fs::write(&path, s).unwrap();
        let f = File::open(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        f
    }
}

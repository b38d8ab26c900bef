//! The last lines of a node's stdout or stderr, kept in bounded memory.
//!
//! Everything a node writes goes to its file in full; in memory the agent
//! keeps only the most recent `max_lines` lines, each cut at
//! [`MAX_LINE_BYTES`], so a node that writes a gigabyte (or one endless
//! line) costs a few kilobytes.

use std::collections::VecDeque;

/// Longest line kept in memory; the rest of a longer line is dropped here
/// (but not from the file).
pub(crate) const MAX_LINE_BYTES: usize = 4096;

#[derive(Debug, Default)]
pub(crate) struct Capture {
    lines: VecDeque<String>,
    max_lines: usize,
    partial: Vec<u8>,
    partial_cut: bool,
}

impl Capture {
    pub(crate) fn new(max_lines: usize) -> Capture {
        Capture {
            max_lines,
            ..Capture::default()
        }
    }

    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            self.extend_partial(&bytes[..end]);
            self.finish_line();
            bytes = &bytes[end + 1..];
        }
        self.extend_partial(bytes);
    }

    fn extend_partial(&mut self, bytes: &[u8]) {
        let room = MAX_LINE_BYTES.saturating_sub(self.partial.len());
        if bytes.len() > room {
            self.partial_cut = true;
        }
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn finish_line(&mut self) {
        let mut line = String::from_utf8_lossy(&self.partial).into_owned();
        if self.partial_cut {
            line.push_str(" [...]");
        }
        self.partial.clear();
        self.partial_cut = false;
        if self.max_lines == 0 {
            return;
        }
        if self.lines.len() == self.max_lines {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    /// Ends an unterminated last line (the stream closed).
    pub(crate) fn flush(&mut self) {
        if !self.partial.is_empty() || self.partial_cut {
            self.finish_line();
        }
    }

    /// The kept lines joined by `\n`, as `NodeOutputs` carries them.
    pub(crate) fn joined(&self) -> String {
        let mut text = String::new();
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(line);
        }
        text
    }

    pub(crate) fn clear(&mut self) {
        self.lines.clear();
        self.partial.clear();
        self.partial_cut = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_across_chunk_borders() {
        let mut c = Capture::new(3);
        c.push(b"one\ntw");
        c.push(b"o\nthree\nfour\nfi");
        assert_eq!(c.joined(), "two\nthree\nfour");
        c.flush();
        assert_eq!(c.joined(), "three\nfour\nfi");
    }

    #[test]
    fn endless_output_stays_small() {
        let mut c = Capture::new(2);
        let chunk = vec![b'x'; 65536];
        for _ in 0..64 {
            c.push(&chunk); // 4 MiB without a newline
        }
        c.push(b"\nlast\n");
        assert_eq!(
            c.joined(),
            format!("{} [...]\nlast", "x".repeat(MAX_LINE_BYTES))
        );
        assert!(c.partial.capacity() < 2 * 65536 + MAX_LINE_BYTES);
    }

    #[test]
    fn zero_lines_keeps_nothing_and_invalid_utf8_is_replaced() {
        let mut c = Capture::new(0);
        c.push(b"a\nb\n");
        assert_eq!(c.joined(), "");
        let mut c = Capture::new(1);
        c.push(b"\xffok\n");
        assert_eq!(c.joined(), "\u{fffd}ok");
    }
}

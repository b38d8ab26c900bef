//! Escaping text for JSON and for messages.
//!
//! The Broker encoding must match Python's `json.dumps(..., sort_keys=True)`
//! byte for byte (zeek-client writes it that way): ASCII-only strings with
//! lowercase `\u00e9` escapes. Plain JSON is UTF-8 with only what JSON
//! requires escaped. Names taken from input appear in messages escaped the
//! ASCII way, so invisible characters become visible.

/// Writes `s` as a JSON string the way Python's `json.dumps` does with its
/// default `ensure_ascii=True`: everything outside printable ASCII is escaped,
/// astral characters as surrogate pairs, hex digits in lowercase.
pub(crate) fn write_str_ascii(buf: &mut String, s: &str) {
    buf.push('"');
    let mut clean_from = 0;
    for (i, c) in s.char_indices() {
        if (' '..='~').contains(&c) && c != '"' && c != '\\' {
            continue;
        }
        buf.push_str(&s[clean_from..i]);
        clean_from = i + c.len_utf8();
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            '\u{8}' => buf.push_str("\\b"),
            '\u{c}' => buf.push_str("\\f"),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_u_escape(buf, *unit);
                }
            }
        }
    }
    buf.push_str(&s[clean_from..]);
    buf.push('"');
}

/// Writes `s` as a JSON string in UTF-8, escaping only what JSON requires
/// (quote, backslash, control characters below U+0020), as `serde_json` does.
pub(crate) fn write_str_utf8(buf: &mut String, s: &str) {
    buf.push('"');
    let mut clean_from = 0;
    for (i, b) in s.bytes().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        buf.push_str(&s[clean_from..i]);
        clean_from = i + 1;
        match b {
            b'"' => buf.push_str("\\\""),
            b'\\' => buf.push_str("\\\\"),
            b'\n' => buf.push_str("\\n"),
            b'\r' => buf.push_str("\\r"),
            b'\t' => buf.push_str("\\t"),
            0x08 => buf.push_str("\\b"),
            0x0c => buf.push_str("\\f"),
            _ => push_u_escape(buf, u16::from(b)),
        }
    }
    buf.push_str(&s[clean_from..]);
    buf.push('"');
}

fn push_u_escape(buf: &mut String, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        buf.push(char::from(HEX[usize::from((unit >> shift) & 0xf)]));
    }
}

/// `s` with JSON string escapes and no quotes, ASCII only: how names appear
/// inside error messages, so that invisible characters become visible.
pub fn escape_for_message(s: &str) -> String {
    let mut quoted = String::with_capacity(s.len() + 2);
    write_str_ascii(&mut quoted, s);
    quoted[1..quoted.len() - 1].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ascii(s: &str) -> String {
        let mut b = String::new();
        write_str_ascii(&mut b, s);
        b
    }

    fn utf8(s: &str) -> String {
        let mut b = String::new();
        write_str_utf8(&mut b, s);
        b
    }

    #[test]
    fn ascii_writer_matches_python_json_dumps() {
        // Expected values are Python 3.11's json.dumps output.
        assert_eq!(ascii("plain"), r#""plain""#);
        assert_eq!(ascii("é\u{2003}\0\n"), r#""\u00e9\u2003\u0000\n""#);
        assert_eq!(ascii("q\"b\\s/"), r#""q\"b\\s/""#);
        assert_eq!(
            ascii("\u{7f}\u{1f}\t\r\u{8}\u{c}"),
            r#""\u007f\u001f\t\r\b\f""#
        );
        assert_eq!(ascii("😀"), r#""\ud83d\ude00""#);
    }

    #[test]
    fn utf8_writer_matches_serde_json() {
        for s in [
            "plain",
            "é\u{2003}\0\n",
            "q\"b\\s/",
            "\u{7f}\u{1f}\t\r\u{8}\u{c}",
            "😀",
        ] {
            assert_eq!(utf8(s), serde_json::to_string(s).unwrap(), "for {s:?}");
        }
    }

    #[test]
    fn messages_show_invisible_characters() {
        assert_eq!(escape_for_message("a\u{2003}b\0"), "a\\u2003b\\u0000");
        assert_eq!(escape_for_message("plain-name"), "plain-name");
    }
}

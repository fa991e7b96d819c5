//! Printing: aligned text tables for people, JSON for scripts.

use std::io::Write;

use crate::error::Result;

/// Left-aligned columns separated by two spaces; no trailing blanks.
#[must_use]
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            l.push_str(c);
            if i + 1 < cells.len() {
                l.extend(std::iter::repeat_n(
                    ' ',
                    w.saturating_sub(c.chars().count()),
                ));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

/// Writes text to standard output.
///
/// # Errors
/// I/O errors (a closed pipe included).
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Writes a JSON value, pretty, with a final newline.
///
/// # Errors
/// I/O errors.
pub fn print_json(v: &serde_json::Value) -> Result<()> {
    let mut s = serde_json::to_string_pretty(v).map_err(std::io::Error::other)?;
    s.push('\n');
    print(&s)
}

/// `-` for an absent value.
#[must_use]
pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(
            &["ID", "NAME", "RATE"],
            &[
                vec!["1".into(), "web".into(), "10mbit".into()],
                vec!["12".into(), "bulk-transfer".into(), "-".into()],
            ],
        );
        assert_eq!(
            t,
            "ID  NAME           RATE\n1   web            10mbit\n12  bulk-transfer  -\n"
        );
    }
}

//! A small parser for Windows INF files, enough to check qoslwf.inf:
//! sections, `key = value` and bare value lines, comma-separated values,
//! double quotes, `;` comments, `\` line continuation and `%token%`
//! substitution from the `[Strings]` section. Section names, keys and
//! string tokens are case-insensitive, as setupapi treats them.

use std::collections::BTreeMap;

/// One line of a section after substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key of a `key = value` line (as written), None for bare lines.
    pub key: Option<String>,
    /// The comma-separated values, unquoted and substituted, trimmed.
    pub values: Vec<String>,
    /// 1-based line number where the entry starts.
    pub line: usize,
}

impl Entry {
    /// The values joined back with ", " (for single-value keys: the value).
    pub fn value(&self) -> String {
        self.values.join(", ")
    }
}

/// A parsed INF.
#[derive(Debug, Clone, Default)]
pub struct Inf {
    /// Sections by lower-case name, in file order of first appearance;
    /// a section that appears twice has its entries concatenated.
    sections: Vec<(String, String, Vec<Entry>)>,
    strings: BTreeMap<String, String>,
}

impl Inf {
    /// Parses INF text. Errors name the line: an unterminated quote or
    /// section header, an entry before any section, an unknown `%token%`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let logical = logical_lines(text)?;
        let mut inf = Self::default();
        // First pass: [Strings], so substitution can see all of them.
        let mut current: Option<String> = None;
        for (line_no, line) in &logical {
            if let Some(name) = section_header(line, *line_no)? {
                current = Some(name.to_ascii_lowercase());
                continue;
            }
            if current.as_deref() == Some("strings") {
                let (key, value) = split_key(line);
                if let Some(key) = key {
                    let value = unquote_all(value, *line_no)?;
                    inf.strings.insert(key.to_ascii_lowercase(), value);
                }
            }
        }
        // Second pass: everything, substituted.
        let mut current: Option<usize> = None;
        for (line_no, line) in &logical {
            if let Some(name) = section_header(line, *line_no)? {
                let lower = name.to_ascii_lowercase();
                let index = match inf.sections.iter().position(|(l, _, _)| *l == lower) {
                    Some(i) => i,
                    None => {
                        inf.sections.push((lower, name.to_owned(), Vec::new()));
                        inf.sections.len() - 1
                    }
                };
                current = Some(index);
                continue;
            }
            let Some(index) = current else {
                return Err(format!("line {line_no}: entry outside any section"));
            };
            let (key, value) = split_key(line);
            let key = key.map(|k| inf.substitute(k, *line_no)).transpose()?;
            let values = split_values(value, *line_no)?
                .into_iter()
                .map(|v| inf.substitute(&v, *line_no))
                .collect::<Result<Vec<_>, _>>()?;
            inf.sections[index].2.push(Entry {
                key,
                values,
                line: *line_no,
            });
        }
        Ok(inf)
    }

    /// Replaces `%token%` with its [Strings] value (`%%` is a literal `%`;
    /// numeric tokens like `%13%` are DIRIDs and stay as they are).
    fn substitute(&self, text: &str, line: usize) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find('%') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let end = after
                .find('%')
                .ok_or_else(|| format!("line {line}: unterminated %token% in {text:?}"))?;
            let token = &after[..end];
            if token.is_empty() {
                out.push('%');
            } else if token.bytes().all(|b| b.is_ascii_digit()) {
                out.push('%');
                out.push_str(token);
                out.push('%');
            } else {
                let value = self
                    .strings
                    .get(&token.to_ascii_lowercase())
                    .ok_or_else(|| format!("line {line}: %{token}% is not in [Strings]"))?;
                out.push_str(value);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The entries of a section (case-insensitive name).
    pub fn section(&self, name: &str) -> Option<&[Entry]> {
        let lower = name.to_ascii_lowercase();
        self.sections
            .iter()
            .find(|(l, _, _)| *l == lower)
            .map(|(_, _, e)| e.as_slice())
    }

    /// Section names as written, in file order.
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|(_, n, _)| n.as_str())
    }

    /// Every entry of `section` whose key is `key` (case-insensitive).
    pub fn entries<'a>(&'a self, section: &str, key: &'a str) -> impl Iterator<Item = &'a Entry> {
        self.section(section)
            .unwrap_or_default()
            .iter()
            .filter(move |e| {
                e.key
                    .as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case(key))
            })
    }

    /// The value of the first `key` in `section`.
    pub fn value(&self, section: &str, key: &str) -> Option<String> {
        self.entries(section, key).next().map(Entry::value)
    }

    /// A [Strings] value by token name.
    pub fn string(&self, token: &str) -> Option<&str> {
        self.strings
            .get(&token.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The registry values an AddReg section writes: bare lines
    /// `root, subkey, value-name, flags, data...` as (root, subkey, name,
    /// flags, data) with the data values joined by ",".
    pub fn add_reg(&self, section: &str) -> Vec<AddReg> {
        self.section(section)
            .unwrap_or_default()
            .iter()
            .filter(|e| e.key.is_none())
            .map(|e| {
                let get = |i: usize| e.values.get(i).cloned().unwrap_or_default();
                AddReg {
                    root: get(0),
                    subkey: get(1),
                    name: get(2),
                    flags: get(3),
                    data: e.values.get(4..).map(|d| d.join(",")).unwrap_or_default(),
                }
            })
            .collect()
    }
}

/// One AddReg line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddReg {
    /// HKR, HKLM, ...
    pub root: String,
    /// Subkey (may be empty).
    pub subkey: String,
    /// Value name (may be empty = default value).
    pub name: String,
    /// FLG_ADDREG_* flags as written (empty = REG_SZ).
    pub flags: String,
    /// The data, values joined by ",".
    pub data: String,
}

impl AddReg {
    /// The flags as a number (hex `0x...` or decimal; empty = 0).
    pub fn flags_value(&self) -> Option<u32> {
        parse_number(&self.flags)
    }
}

/// Parses an INF number: `0x` hex or decimal; empty = 0.
pub fn parse_number(text: &str) -> Option<u32> {
    let t = text.trim();
    if t.is_empty() {
        return Some(0);
    }
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}

/// Joins `\`-continued lines, drops comments and blank lines; keeps the
/// starting line number of each logical line.
fn logical_lines(text: &str) -> Result<Vec<(usize, String)>, String> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let stripped = strip_comment(raw, line_no)?;
        let trimmed = stripped.trim_end();
        let (content, continued) = match trimmed.strip_suffix('\\') {
            Some(c) => (c, true),
            None => (trimmed, false),
        };
        let (start, mut acc) = pending.take().unwrap_or((line_no, String::new()));
        acc.push_str(content);
        if continued {
            pending = Some((start, acc));
        } else if !acc.trim().is_empty() {
            out.push((start, acc.trim().to_owned()));
        }
    }
    if let Some((start, acc)) = pending {
        if !acc.trim().is_empty() {
            out.push((start, acc.trim().to_owned()));
        }
    }
    Ok(out)
}

/// Removes a `;` comment that is not inside double quotes.
fn strip_comment(line: &str, line_no: usize) -> Result<&str, String> {
    let mut in_quotes = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ';' if !in_quotes => return Ok(&line[..i]),
            _ => {}
        }
    }
    if in_quotes {
        return Err(format!("line {line_no}: unterminated quote"));
    }
    Ok(line)
}

fn section_header(line: &str, line_no: usize) -> Result<Option<&str>, String> {
    let Some(rest) = line.strip_prefix('[') else {
        return Ok(None);
    };
    let name = rest
        .strip_suffix(']')
        .ok_or_else(|| format!("line {line_no}: section header without ']'"))?;
    Ok(Some(name.trim()))
}

/// Splits `key = value` at the first `=` outside quotes.
fn split_key(line: &str) -> (Option<&str>, &str) {
    let mut in_quotes = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            '=' if !in_quotes => return (Some(line[..i].trim()), line[i + 1..].trim()),
            _ => {}
        }
    }
    (None, line.trim())
}

/// Splits at commas outside quotes; unquotes each value (`""` inside
/// quotes is a literal quote).
fn split_values(text: &str, line_no: usize) -> Result<Vec<String>, String> {
    let mut values = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                values.push(current.trim().to_owned());
                current.clear();
            }
            _ => current.push(c),
        }
    }
    if in_quotes {
        return Err(format!("line {line_no}: unterminated quote"));
    }
    if !(values.is_empty() && current.trim().is_empty()) {
        values.push(current.trim().to_owned());
    }
    Ok(values)
}

fn unquote_all(text: &str, line_no: usize) -> Result<String, String> {
    Ok(split_values(text, line_no)?.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_keys_quotes_comments_and_strings() {
        let inf = Inf::parse(
            "; header\n[Version]\nSignature = \"$WINDOWS NT$\" ; c\nProvider=%P%\n\
             [x]\nHKR, Ndi, Service, 0, \"a;b\"\nHKR, Ndi\\Interfaces, M, 0, \"e, w\"\n\
             Key = one, \\\n two\n[Strings]\nP = \"Me \"\"quoted\"\"\"\n",
        )
        .unwrap();
        assert_eq!(inf.value("version", "signature").unwrap(), "$WINDOWS NT$");
        assert_eq!(inf.value("VERSION", "Provider").unwrap(), "Me \"quoted\"");
        let reg = inf.add_reg("X");
        assert_eq!(reg[0].data, "a;b");
        assert_eq!(reg[1].subkey, "Ndi\\Interfaces");
        assert_eq!(reg[1].data, "e, w");
        let e = inf.entries("x", "key").next().unwrap();
        assert_eq!(e.values, ["one", "two"]);
    }

    #[test]
    fn refuses_unknown_tokens_and_broken_lines() {
        assert!(
            Inf::parse("[a]\nk = %missing%\n")
                .unwrap_err()
                .contains("%missing%")
        );
        assert!(
            Inf::parse("k = v\n")
                .unwrap_err()
                .contains("outside any section")
        );
        assert!(Inf::parse("[a\n").unwrap_err().contains("']'"));
        assert!(
            Inf::parse("[a]\nk = \"open\n")
                .unwrap_err()
                .contains("quote")
        );
        // DIRIDs stay, %% is a percent sign.
        let inf = Inf::parse("[a]\nk = %13%\\x.sys, 100%%\n").unwrap();
        assert_eq!(inf.value("a", "k").unwrap(), "%13%\\x.sys, 100%");
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0x00010001"), Some(0x10001));
        assert_eq!(parse_number("2"), Some(2));
        assert_eq!(parse_number(""), Some(0));
        assert_eq!(parse_number("x"), None);
    }
}

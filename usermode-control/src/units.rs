//! Rates and sizes the way people type them, and back.
//!
//! Rates count IP-layer bytes per second (from the first byte of the IP
//! header on, no link header), as QOS2 specifies; the ABI carries bytes/s.
//!
//! | typed | meaning |
//! |---|---|
//! | `1500`, `1500B`, `1500B/s` | bytes (per second for a rate) |
//! | `kB`, `MB`, `GB`, `TB` | 1000-based bytes |
//! | `KiB`, `MiB`, `GiB`, `TiB` | 1024-based bytes |
//! | `bit`, `kbit`, `mbit`, `gbit`, `tbit` | 1000-based bits per second (rates only) |
//! | `kibit`, `mibit`, `gibit`, `tibit` | 1024-based bits per second (rates only) |
//! | `bps`, `kbps`, `Mbps`, `Gbps` | bits per second, the networking convention (rates only) |
//!
//! Unit letters are case-insensitive except `b` against `B`: `kb` or `Mb`
//! alone are refused as ambiguous. A decimal point is allowed
//! (`1.5gbit`, `1.5KiB`).
//!
//! Rounding (documented in `--help`): a rate typed in bits is divided by 8
//! and rounded to the nearest byte/s, halves up. That is exact for every
//! whole number of bits that is a multiple of 8, so for every whole number
//! of kbit, mbit or gbit. A size must come to a whole number of bytes.

use std::fmt;

/// Why a rate or size was refused. The message names the rule; the caller
/// adds the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Nothing was typed.
    #[error("is empty (hint: write e.g. 10mbit or 1500)")]
    Empty,
    /// The number part is not a decimal number.
    #[error("`{0}` does not start with a number (hint: write e.g. 10mbit, 1.5gbit, 8KiB or 1500)")]
    NotANumber(String),
    /// The unit is not one we know.
    #[error("`{text}`: unknown unit `{unit}` (hint: {hint})")]
    UnknownUnit {
        /// What was typed.
        text: String,
        /// The unit part.
        unit: String,
        /// What to write instead.
        hint: &'static str,
    },
    /// A bit unit where bytes are needed.
    #[error("`{0}`: sizes are in bytes, not bits (hint: write e.g. 1500, 8KiB or 64kB)")]
    BitsForSize(String),
    /// The value does not come to a whole number of bytes.
    #[error("`{0}` is not a whole number of bytes")]
    Fraction(String),
    /// The value is too large for 64 bits.
    #[error("`{0}` is too large")]
    TooLarge(String),
    /// A non-zero rate that rounds to 0 bytes/s.
    #[error("`{0}` rounds to 0 (the smallest rate is 1 byte/s = 8bit)")]
    BelowOneByte(String),
}

/// A decimal number typed by a user, exactly: `digits / 10^scale`.
#[derive(Debug, Clone, Copy)]
struct Decimal {
    digits: u128,
    scale: u32,
}

fn split_number(text: &str) -> Result<(Decimal, &str), UnitError> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(end);
    let too_large = || UnitError::TooLarge(text.to_owned());
    let mut parts = num.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    if int.is_empty() || frac.is_some_and(|f| f.is_empty() || f.contains('.')) {
        return Err(UnitError::NotANumber(text.to_owned()));
    }
    let frac = frac.unwrap_or("");
    if frac.len() > 18 || int.len() > 24 {
        return Err(too_large());
    }
    let mut digits: u128 = 0;
    for c in int.bytes().chain(frac.bytes()) {
        digits = digits
            .checked_mul(10)
            .and_then(|d| d.checked_add(u128::from(c - b'0')))
            .ok_or_else(too_large)?;
    }
    Ok((
        Decimal {
            digits,
            scale: u32::try_from(frac.len()).map_err(|_| too_large())?,
        },
        unit.trim_start(),
    ))
}

/// What a unit suffix multiplies by, and whether it counts bits.
struct Unit {
    multiplier: u128,
    bits: bool,
}

fn unit_of(unit: &str) -> Option<Unit> {
    // Strip an optional "/s" (rates): "B/s", "MiB/s", "kbit/s".
    let unit = unit
        .strip_suffix("/s")
        .or_else(|| unit.strip_suffix("/S"))
        .unwrap_or(unit);
    let lower = unit.to_ascii_lowercase();
    let (prefix, bits) = if let Some(p) = lower.strip_suffix("bit") {
        (p.to_owned(), true)
    } else if let Some(p) = lower.strip_suffix("bps") {
        (p.to_owned(), true)
    } else if let Some(p) = unit.strip_suffix('B') {
        (p.to_ascii_lowercase(), false)
    } else if unit.is_empty() {
        (String::new(), false)
    } else {
        return None;
    };
    let multiplier: u128 = match prefix.as_str() {
        "" => 1,
        "k" => 1_000,
        "m" => 1_000_000,
        "g" => 1_000_000_000,
        "t" => 1_000_000_000_000,
        "ki" => 1 << 10,
        "mi" => 1 << 20,
        "gi" => 1 << 30,
        "ti" => 1 << 40,
        _ => return None,
    };
    Some(Unit { multiplier, bits })
}

fn unknown(text: &str, unit: &str) -> UnitError {
    let lower = unit.to_ascii_lowercase();
    let hint = if lower.ends_with('b') && !unit.ends_with('B') {
        "`b` alone is ambiguous: write kbit/mbit for bits per second or kB/MiB for bytes"
    } else {
        "rates: bit, kbit, mbit, gbit, kibit, Mbps, B/s, kB/s, MiB/s; sizes: B, kB, KiB, MiB"
    };
    UnitError::UnknownUnit {
        text: text.to_owned(),
        unit: unit.to_owned(),
        hint,
    }
}

/// Parses a rate into an exact fraction of bits per second.
fn parse_bits(text: &str) -> Result<(u128, u128), UnitError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(UnitError::Empty);
    }
    let (num, unit_text) = split_number(text)?;
    let unit = unit_of(unit_text).ok_or_else(|| unknown(text, unit_text))?;
    let too_large = || UnitError::TooLarge(text.to_owned());
    let mut numerator = num
        .digits
        .checked_mul(unit.multiplier)
        .ok_or_else(too_large)?;
    if !unit.bits {
        numerator = numerator.checked_mul(8).ok_or_else(too_large)?;
    }
    let denominator = 10u128.checked_pow(num.scale).ok_or_else(too_large)?;
    Ok((numerator, denominator))
}

/// `numerator / denominator` rounded to the nearest integer, halves up.
fn round(text: &str, numerator: u128, denominator: u128) -> Result<u64, UnitError> {
    let too_large = || UnitError::TooLarge(text.trim().to_owned());
    let v = numerator
        .checked_add(denominator / 2)
        .ok_or_else(too_large)?
        / denominator;
    if v == 0 && numerator != 0 {
        return Err(UnitError::BelowOneByte(text.trim().to_owned()));
    }
    u64::try_from(v).map_err(|_| too_large())
}

/// Parses a rate into bytes per second (IP-layer bytes).
///
/// # Errors
/// [`UnitError`] when the text is not a number with a known unit, does not
/// fit in 64 bits, or is a non-zero rate below one byte per second.
pub fn parse_rate(text: &str) -> Result<u64, UnitError> {
    let (n, d) = parse_bits(text)?;
    let d = d
        .checked_mul(8)
        .ok_or_else(|| UnitError::TooLarge(text.trim().to_owned()))?;
    round(text, n, d)
}

/// Parses a rate into bits per second (for policy throttles, which the ABI
/// carries in bits/s as New-NetQosPolicy does).
///
/// # Errors
/// As [`parse_rate`].
pub fn parse_bit_rate(text: &str) -> Result<u64, UnitError> {
    let (n, d) = parse_bits(text)?;
    round(text, n, d)
}

/// Parses a size into bytes.
///
/// # Errors
/// [`UnitError`] when the text is not a number with a known byte unit, is
/// not a whole number of bytes, or does not fit in 64 bits.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(UnitError::Empty);
    }
    let (num, unit_text) = split_number(text)?;
    let unit = unit_of(unit_text).ok_or_else(|| unknown(text, unit_text))?;
    if unit.bits {
        return Err(UnitError::BitsForSize(text.to_owned()));
    }
    let too_large = || UnitError::TooLarge(text.to_owned());
    let numerator = num
        .digits
        .checked_mul(unit.multiplier)
        .ok_or_else(too_large)?;
    let denominator = 10u128.checked_pow(num.scale).ok_or_else(too_large)?;
    if numerator % denominator != 0 {
        return Err(UnitError::Fraction(text.to_owned()));
    }
    u64::try_from(numerator / denominator).map_err(|_| too_large())
}

/// Writes `value / divisor` with up to three decimals when that is exact.
fn exact_decimal(value: u128, divisor: u128) -> Option<String> {
    if value % divisor == 0 {
        return Some((value / divisor).to_string());
    }
    for places in 1..=3u32 {
        let scaled = value * 10u128.pow(places);
        if scaled % divisor == 0 {
            let q = scaled / divisor;
            let p = 10u128.pow(places);
            return Some(format!(
                "{}.{:0width$}",
                q / p,
                q % p,
                width = places as usize
            ));
        }
    }
    None
}

fn fmt_bits(f: &mut fmt::Formatter<'_>, bits: u128) -> fmt::Result {
    for (div, unit) in [
        (1_000_000_000_000u128, "tbit"),
        (1_000_000_000, "gbit"),
        (1_000_000, "mbit"),
        (1_000, "kbit"),
    ] {
        if bits >= div {
            if let Some(s) = exact_decimal(bits, div) {
                return write!(f, "{s}{unit}");
            }
        }
    }
    write!(f, "{bits}bit")
}

/// A rate in bytes per second, shown in bits per second with SI prefixes
/// (`10mbit`, `1.5gbit`, `64kbit`). The text parses back to the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate(pub u64);

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_bits(f, u128::from(self.0) * 8)
    }
}

/// A rate in bits per second, shown like [`Rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRate(pub u64);

impl fmt::Display for BitRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_bits(f, u128::from(self.0))
    }
}

/// A size in bytes, shown with a binary unit when it is a whole number of
/// KiB/MiB/GiB, a decimal unit when it is a whole number of 10 kB or more,
/// else in bytes (`1500B`). The text parses back to the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        for (div, unit) in [
            (1u64 << 40, "TiB"),
            (1 << 30, "GiB"),
            (1 << 20, "MiB"),
            (1 << 10, "KiB"),
        ] {
            if v >= div && v % div == 0 {
                return write!(f, "{}{unit}", v / div);
            }
        }
        for (div, unit) in [
            (1_000_000_000_000u64, "TB"),
            (1_000_000_000, "GB"),
            (1_000_000, "MB"),
            (1_000, "kB"),
        ] {
            if v >= div.saturating_mul(10) && v % div == 0 {
                return write!(f, "{}{unit}", v / div);
            }
        }
        write!(f, "{v}B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rates_people_type() {
        assert_eq!(parse_rate("64kbit"), Ok(8_000));
        assert_eq!(parse_rate("10mbit"), Ok(1_250_000));
        assert_eq!(parse_rate("10Mbit"), Ok(1_250_000));
        assert_eq!(parse_rate("1.5gbit"), Ok(187_500_000));
        assert_eq!(parse_rate("100Mbps"), Ok(12_500_000));
        assert_eq!(parse_rate("1kibit"), Ok(128));
        assert_eq!(parse_rate("1500"), Ok(1500));
        assert_eq!(parse_rate("1500B/s"), Ok(1500));
        assert_eq!(parse_rate("8KiB/s"), Ok(8192));
        assert_eq!(parse_rate("2MB"), Ok(2_000_000));
        assert_eq!(parse_rate(" 10 mbit "), Ok(1_250_000));
        assert_eq!(parse_rate("0"), Ok(0));
    }

    #[test]
    fn bit_rates_round_to_nearest_byte() {
        // 12 bit = 1.5 bytes: halves go up.
        assert_eq!(parse_rate("12bit"), Ok(2));
        // 11 bit = 1.375 bytes.
        assert_eq!(parse_rate("11bit"), Ok(1));
        // 1.001kbit = 1001 bit = 125.125 bytes.
        assert_eq!(parse_rate("1.001kbit"), Ok(125));
        assert_eq!(
            parse_rate("3bit"),
            Err(UnitError::BelowOneByte("3bit".into()))
        );
        assert_eq!(parse_rate("4bit"), Ok(1));
    }

    #[test]
    fn bit_rates() {
        assert_eq!(parse_bit_rate("10mbit"), Ok(10_000_000));
        assert_eq!(parse_bit_rate("1500B/s"), Ok(12_000));
        assert_eq!(parse_bit_rate("1.0005kbit"), Ok(1001));
        assert_eq!(BitRate(1_500_000_000).to_string(), "1.5gbit");
        assert_eq!(BitRate(7).to_string(), "7bit");
    }

    #[test]
    fn bad_rates_say_why() {
        assert!(
            matches!(parse_rate("10kb"), Err(UnitError::UnknownUnit { hint, .. }) if hint.contains("ambiguous"))
        );
        assert!(matches!(
            parse_rate("10furlongs"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert_eq!(
            parse_rate("mbit"),
            Err(UnitError::NotANumber("mbit".into()))
        );
        assert_eq!(
            parse_rate("1.2.3mbit"),
            Err(UnitError::NotANumber("1.2.3mbit".into()))
        );
        assert_eq!(
            parse_rate("1.mbit"),
            Err(UnitError::NotANumber("1.mbit".into()))
        );
        assert_eq!(parse_rate(""), Err(UnitError::Empty));
        assert!(matches!(
            parse_rate("-5mbit"),
            Err(UnitError::NotANumber(_))
        ));
        assert!(matches!(
            parse_rate("99999999999999999999tbit"),
            Err(UnitError::TooLarge(_))
        ));
    }

    #[test]
    fn sizes_people_type() {
        assert_eq!(parse_size("1500"), Ok(1500));
        assert_eq!(parse_size("8KiB"), Ok(8192));
        assert_eq!(parse_size("8kiB"), Ok(8192));
        assert!(matches!(
            parse_size("8kib"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert_eq!(parse_size("64kB"), Ok(64_000));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(
            parse_size("1.0001KiB"),
            Err(UnitError::Fraction("1.0001KiB".into()))
        );
        assert_eq!(
            parse_size("8kbit"),
            Err(UnitError::BitsForSize("8kbit".into()))
        );
    }

    #[test]
    fn rates_display_readably() {
        assert_eq!(Rate(1_250_000).to_string(), "10mbit");
        assert_eq!(Rate(187_500_000).to_string(), "1.5gbit");
        assert_eq!(Rate(8_000).to_string(), "64kbit");
        assert_eq!(Rate(1).to_string(), "8bit");
        assert_eq!(Rate(125_000_000_000).to_string(), "1tbit");
        assert_eq!(Rate(1_234_567).to_string(), "9876.536kbit");
    }

    #[test]
    fn sizes_display_readably() {
        assert_eq!(Size(1500).to_string(), "1500B");
        assert_eq!(Size(8192).to_string(), "8KiB");
        assert_eq!(Size(64_000).to_string(), "64kB");
        assert_eq!(Size(3000).to_string(), "3000B");
        assert_eq!(Size(0).to_string(), "0B");
    }

    proptest! {
        #[test]
        fn rate_format_then_parse_round_trips(v in any::<u64>()) {
            prop_assert_eq!(parse_rate(&Rate(v).to_string()), Ok(v));
        }

        #[test]
        fn bit_rate_format_then_parse_round_trips(v in any::<u64>()) {
            prop_assert_eq!(parse_bit_rate(&BitRate(v).to_string()), Ok(v));
        }

        #[test]
        fn size_format_then_parse_round_trips(v in any::<u64>()) {
            prop_assert_eq!(parse_size(&Size(v).to_string()), Ok(v));
        }

        #[test]
        fn whole_kbit_rates_are_exact(k in 0u64..10_000_000) {
            prop_assert_eq!(parse_rate(&format!("{k}kbit")), Ok(k * 125));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,24}") {
            let _ = parse_rate(&s);
            let _ = parse_size(&s);
        }
    }
}

//! The ClassBench filter sets as `gpc` filters, shared by `benches/gpc.rs`
//! (criterion and the summary) and `tests/gpc_large.rs` (the differential
//! test on the 1k seeds), so that both read the files the same way.
//!
//! Files live in `$CARGO_MANIFEST_DIR/../../../shared/bench/classbench`
//! (the shared directory beside the repository). Lines load in order as
//! IPv4 filters with ids 0, 1, 2...; qoslwf's precedence rules decide, not
//! line order. Protocol value/mask 0x00/0x00 is "any", x/0xFF is that
//! protocol (6 TCP, 17 UDP, 1 ICMP, else a number); other masks are read
//! as "any" and counted. Address bits past the prefix length are cleared
//! (counted). Lines that do not parse or whose filter does not validate
//! are refused (counted).
//!
//! The IPv6 variant of a set maps every IPv4 prefix a.b.c.d/len to
//! 2001:db8:XXXX:XXXX::/(32 + len), the 32 IPv4 bits right after the
//! 2001:db8::/32 documentation prefix; a /0 stays ::/0 (no condition), so
//! the set keeps its shape and precedence.

// Each includer uses a different part.
#![allow(dead_code)]

use std::path::PathBuf;

use qos_engine::gpc::{DEFAULT_PRECEDENCE, Filter, PortRange, Prefix, ProtocolMatch};
use qos_engine::packet::Family;

/// What loading a ClassBench file found besides filters.
#[derive(Debug, Default)]
pub struct LoadNotes {
    /// Prefixes whose address had bits set past the length (cleared).
    pub host_bits_cleared: usize,
    /// Protocol masks other than 0x00 and 0xFF (read as "any").
    pub partial_proto_masks: usize,
    /// Lines that did not parse or validate.
    pub refused: usize,
}

/// The shared ClassBench directory.
pub fn classbench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/classbench")
}

/// `@a.b.c.d/len` or `a.b.c.d/len`, host bits cleared.
fn parse_prefix(s: &str, notes: &mut LoadNotes) -> Option<Prefix> {
    let (addr, len) = s.trim().trim_start_matches('@').split_once('/')?;
    let len: u8 = len.parse().ok()?;
    if len > 32 {
        return None;
    }
    let mut bytes = [0u8; 4];
    let mut parts = addr.split('.');
    for b in &mut bytes {
        *b = parts.next()?.trim().parse().ok()?;
    }
    let addr = u32::from_be_bytes(bytes);
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    if addr & !mask != 0 {
        notes.host_bits_cleared += 1;
    }
    Some(Prefix {
        addr: u128::from(addr & mask),
        len,
    })
}

/// `lo : hi`.
fn parse_ports(s: &str) -> Option<PortRange> {
    let (lo, hi) = s.split_once(':')?;
    Some(PortRange {
        lo: lo.trim().parse().ok()?,
        hi: hi.trim().parse().ok()?,
    })
}

/// `0xVV/0xMM`.
fn parse_proto(s: &str, notes: &mut LoadNotes) -> Option<ProtocolMatch> {
    let (v, m) = s.trim().split_once('/')?;
    let v = u8::from_str_radix(v.trim().trim_start_matches("0x"), 16).ok()?;
    let m = u8::from_str_radix(m.trim().trim_start_matches("0x"), 16).ok()?;
    Some(match (v, m) {
        (_, 0) => ProtocolMatch::Any,
        (6, 0xFF) => ProtocolMatch::Tcp,
        (17, 0xFF) => ProtocolMatch::Udp,
        (1, 0xFF) => ProtocolMatch::Icmp,
        (n, 0xFF) => ProtocolMatch::Number(n),
        _ => {
            notes.partial_proto_masks += 1;
            ProtocolMatch::Any
        }
    })
}

/// The filters of ClassBench file `name` (e.g. "acl1_10k") and what the
/// load found, or `None` when the file cannot be read.
pub fn load_classbench(name: &str) -> Option<(Vec<Filter>, LoadNotes)> {
    let text = std::fs::read_to_string(classbench_dir().join(name)).ok()?;
    let mut notes = LoadNotes::default();
    let mut filters = Vec::new();
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let mut cols = line.split('\t');
        let parsed = (|| {
            let src = parse_prefix(cols.next()?, &mut notes)?;
            let dst = parse_prefix(cols.next()?, &mut notes)?;
            let src_ports = parse_ports(cols.next()?)?;
            let dst_ports = parse_ports(cols.next()?)?;
            let protocol = parse_proto(cols.next()?, &mut notes)?;
            Some(Filter {
                id: u32::try_from(i).ok()?,
                flow: u32::try_from(i).ok()?,
                family: Family::V4,
                src,
                dst,
                src_ports,
                dst_ports,
                protocol,
                dscp: None,
                vlan: None,
                precedence: DEFAULT_PRECEDENCE,
            })
        })();
        match parsed.filter(|f| qos_engine::gpc::validate_filter(f).is_ok()) {
            Some(f) => filters.push(f),
            None => notes.refused += 1,
        }
    }
    Some((filters, notes))
}

/// An IPv4 prefix as the IPv6 variant holds it: 2001:db8::/32 followed by
/// the IPv4 bits; /0 stays ::/0.
pub fn to_v6(p: Prefix) -> Prefix {
    if p.len == 0 {
        return Prefix::ANY;
    }
    Prefix {
        addr: (0x2001_0db8u128 << 96) | (p.addr << 64),
        len: p.len + 32,
    }
}

/// The IPv6 variant of an IPv4 set (same ids, flows and conditions).
pub fn v6_variant(filters: &[Filter]) -> Vec<Filter> {
    filters
        .iter()
        .map(|f| Filter {
            family: Family::V6,
            src: to_v6(f.src),
            dst: to_v6(f.dst),
            ..*f
        })
        .collect()
}

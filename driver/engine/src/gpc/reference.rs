//! The plain linear classifier: the oracle of the differential tests and the
//! baseline of the benchmarks. Never used by the driver.
//!
//! It is written apart from the compiled classifier on purpose: it matches
//! with its own (slower, obvious) arithmetic and compares filters with
//! [`precedes`], a field-by-field comparison written straight from the
//! precedence rules, not with [`Rank`](super::Rank). A test checks that the
//! two orders agree.

use alloc::vec::Vec;
use core::cmp::Ordering;

use super::{Filter, PortRange, ProtocolMatch};
use crate::packet::{Family, FlowKey, L4};

/// True when `addr` lies in `prefix/len` for a family `width` bits wide.
fn in_prefix(width: u32, addr: u128, prefix: u128, len: u8) -> bool {
    let keep = |v: u128| if width == 32 { v & 0xFFFF_FFFF } else { v };
    let shift = width.saturating_sub(u32::from(len));
    let (a, p) = (keep(addr), keep(prefix));
    // A shift of 128 (a /0 IPv6 prefix) keeps no bit: everything matches.
    a.checked_shr(shift).unwrap_or(0) == p.checked_shr(shift).unwrap_or(0)
}

/// The reference meaning of a filter.
#[must_use]
pub fn filter_matches(f: &Filter, key: &FlowKey) -> bool {
    if f.family != key.family {
        return false;
    }
    let width = match f.family {
        Family::V4 => 32,
        Family::V6 => 128,
    };
    if !in_prefix(width, key.src, f.src.addr, f.src.len)
        || !in_prefix(width, key.dst, f.dst.addr, f.dst.len)
    {
        return false;
    }
    let proto_ok = match f.protocol {
        ProtocolMatch::Any => true,
        ProtocolMatch::Tcp => key.protocol == 6,
        ProtocolMatch::Udp => key.protocol == 17,
        ProtocolMatch::TcpOrUdp => key.protocol == 6 || key.protocol == 17,
        ProtocolMatch::Icmp => key.protocol == if f.family == Family::V4 { 1 } else { 58 },
        ProtocolMatch::Number(n) => key.protocol == n,
    };
    if !proto_ok {
        return false;
    }
    let any = PortRange::ANY;
    if f.src_ports != any || f.dst_ports != any {
        let L4::Ports { src, dst } = key.l4 else {
            return false;
        };
        if !(f.src_ports.lo..=f.src_ports.hi).contains(&src)
            || !(f.dst_ports.lo..=f.dst_ports.hi).contains(&dst)
        {
            return false;
        }
    }
    if f.dscp.is_some_and(|d| d != key.dscp) {
        return false;
    }
    if f.vlan.is_some_and(|v| key.vlan.map(|t| t.vid) != Some(v)) {
        return false;
    }
    true
}

/// The conditions of a filter, in tie-break order: source prefix,
/// destination prefix, source ports, destination ports, protocol, inbound
/// DSCP, VLAN.
fn conditions(f: &Filter) -> [bool; 7] {
    [
        f.src.len > 0,
        f.dst.len > 0,
        f.src_ports != PortRange::ANY,
        f.dst_ports != PortRange::ANY,
        f.protocol != ProtocolMatch::Any,
        f.dscp.is_some(),
        f.vlan.is_some(),
    ]
}

/// Width of a port range (smaller is narrower).
fn width(r: PortRange) -> u32 {
    u32::from(r.hi).saturating_sub(u32::from(r.lo))
}

/// Narrowness of a protocol condition.
fn proto_level(p: ProtocolMatch) -> u8 {
    match p {
        ProtocolMatch::Any => 0,
        ProtocolMatch::TcpOrUdp => 1,
        _ => 2,
    }
}

/// The precedence rules, field by field: `Greater` when `a` wins over `b`.
#[must_use]
pub fn precedes(a: &Filter, b: &Filter) -> Ordering {
    let (ca, cb) = (conditions(a), conditions(b));
    let count = |c: &[bool; 7]| c.iter().filter(|&&x| x).count();
    a.precedence
        .cmp(&b.precedence)
        .then(count(&ca).cmp(&count(&cb)))
        // Lexicographic on presence: the first differing condition decides.
        .then(ca.cmp(&cb))
        .then(a.src.len.cmp(&b.src.len))
        .then(a.dst.len.cmp(&b.dst.len))
        .then(width(b.src_ports).cmp(&width(a.src_ports)))
        .then(width(b.dst_ports).cmp(&width(a.dst_ports)))
        .then(proto_level(a.protocol).cmp(&proto_level(b.protocol)))
        .then(b.id.cmp(&a.id))
}

/// The linear classifier: every filter, tried one by one.
#[derive(Debug, Clone, Default)]
pub struct LinearClassifier {
    filters: Vec<Filter>,
}

impl LinearClassifier {
    /// Holds `filters` as given (no validation: give it valid filters).
    #[must_use]
    pub fn new(filters: &[Filter]) -> Self {
        Self {
            filters: filters.to_vec(),
        }
    }

    /// The winning filter: the matching filter that [`precedes`] all others.
    #[must_use]
    pub fn classify(&self, key: &FlowKey) -> Option<&Filter> {
        self.filters
            .iter()
            .filter(|f| filter_matches(f, key))
            .max_by(|a, b| precedes(a, b))
    }

    /// The filters held.
    #[must_use]
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }
}

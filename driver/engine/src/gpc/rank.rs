//! Which filter wins when several match: one total order.
//!
//! Policy-based QoS decides between matching policies by an explicit
//! precedence, then by specificity (more conditions wins; on a tie source
//! IP, then destination IP, then source port, then destination port, then
//! protocol; a longer prefix and a narrower port range are more specific). qoslwf turns this
//! into a single number per filter, its [`Rank`], computed once when the
//! classifier is built. The higher rank wins. Fields, from the most
//! significant:
//!
//! | bits | field | higher wins because |
//! |---|---|---|
//! | 99..92 | explicit precedence 0..=255 | the user said so |
//! | 91..89 | number of conditions 0..=7 | more conditions is more specific |
//! | 88..82 | which conditions, one bit each: src, dst, sport, dport, protocol, inbound DSCP, VLAN (src is the top bit) | with as many conditions, having the higher-ranked condition wins |
//! | 81..74 | source prefix length | /32 beats /24 |
//! | 73..66 | destination prefix length | |
//! | 65..50 | 65535 - (sport.hi - sport.lo) | a narrower range |
//! | 49..34 | 65535 - (dport.hi - dport.lo) | |
//! | 33..32 | protocol: 0 any, 1 TCP-or-UDP, 2 one protocol | one protocol is narrower than two |
//! | 31..0 | `!id` | the older filter (smaller id) wins |
//!
//! Decisions the Windows documents leave open, and what qoslwf does:
//! - The seven conditions are: source prefix (length > 0), destination
//!   prefix (length > 0), source port range, destination port range (range
//!   other than 0..=65535), protocol (other than any), inbound DSCP, VLAN id.
//!   Inbound DSCP and VLAN **count as conditions** like the others, and in
//!   the tie-break they rank **after** protocol, inbound DSCP before VLAN
//!   (Windows policies have neither; they are refinements added by qoslwf).
//! - "On a tie, source IP before destination IP before ..." is read as: with as many
//!   conditions, compare which conditions are present in that order (a
//!   filter with a source prefix beats one without); only between filters
//!   with the same set of conditions does the narrowness of each condition
//!   decide, again field by field in the same order (source prefix length,
//!   destination prefix length, source range width, destination range
//!   width, protocol narrowness).
//! - Last, the older filter (smaller id) wins. Ids are unique within a
//!   classifier, so no two filters ever tie: identical and overlapping
//!   filters are allowed and always resolve the same way.

use super::{Filter, PortRange, ProtocolMatch};

/// A filter's place in the total order of precedence: higher wins. Equal
/// ranks mean equal ids (the id is part of the rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rank(pub u128);

/// Narrowness of a port range: 65535 for one port, 0 for every port.
#[inline]
const fn port_narrowness(r: PortRange) -> u16 {
    // hi >= lo after validation; saturate otherwise so this cannot overflow.
    u16::MAX.saturating_sub(r.hi.saturating_sub(r.lo))
}

/// Narrowness of a protocol condition: 0 any, 1 TCP-or-UDP, 2 one protocol.
#[inline]
const fn protocol_narrowness(p: ProtocolMatch) -> u8 {
    match p {
        ProtocolMatch::Any => 0,
        ProtocolMatch::TcpOrUdp => 1,
        ProtocolMatch::Tcp
        | ProtocolMatch::Udp
        | ProtocolMatch::Icmp
        | ProtocolMatch::Number(_) => 2,
    }
}

/// The presence bits of the seven conditions, source prefix first (bit 6)
/// down to VLAN (bit 0).
#[inline]
#[must_use]
pub const fn condition_bits(f: &Filter) -> u8 {
    let mut bits = 0u8;
    if f.src.len > 0 {
        bits |= 1 << 6;
    }
    if f.dst.len > 0 {
        bits |= 1 << 5;
    }
    if !f.src_ports.is_any() {
        bits |= 1 << 4;
    }
    if !f.dst_ports.is_any() {
        bits |= 1 << 3;
    }
    if !matches!(f.protocol, ProtocolMatch::Any) {
        bits |= 1 << 2;
    }
    if f.dscp.is_some() {
        bits |= 1 << 1;
    }
    if f.vlan.is_some() {
        bits |= 1;
    }
    bits
}

impl Rank {
    /// The rank of a filter (see the module documentation for the layout).
    #[must_use]
    pub const fn of(f: &Filter) -> Self {
        let bits = condition_bits(f);
        let mut r = f.precedence as u128;
        r = (r << 3) | bits.count_ones() as u128;
        r = (r << 7) | bits as u128;
        r = (r << 8) | f.src.len as u128;
        r = (r << 8) | f.dst.len as u128;
        r = (r << 16) | port_narrowness(f.src_ports) as u128;
        r = (r << 16) | port_narrowness(f.dst_ports) as u128;
        r = (r << 2) | protocol_narrowness(f.protocol) as u128;
        r = (r << 32) | !f.id as u128;
        Self(r)
    }
}

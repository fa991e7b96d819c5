//! The Generic Packet Classifier: filters, their precedence, and the
//! compiled lookup table.
//!
//! - [`Filter`] (this module): the conditions a packet must meet, and the
//!   flow it then belongs to. [`Filter::matches`] (in `matching`) is the
//!   meaning of a filter, in one place.
//! - [`validate_filter`] (in `validate`): the rules a filter must obey
//!   before it enters a classifier.
//! - [`Rank`] (in `rank`): the ONE total order that decides which filter
//!   wins when several match (Policy-based QoS precedence, made total).
//! - [`Classifier`] (in `classifier`): the filter set compiled into an
//!   immutable, allocation-free lookup structure: decision trees (`tree`:
//!   HyperSplit trees over a partition of the filters, each tree behind a
//!   bitmap gate that skips it for packets none of its rules can match)
//!   or TupleMerge-style hash tables (`table`), whichever a cost model
//!   prefers for the set, see [`Engine`].
//! - [`reference`]: the plain linear classifier, the oracle for differential
//!   tests and benchmarks (feature `reference`).
//!
//! # What a filter matches
//! Every condition must hold:
//! - the packet's family equals [`Filter::family`] (an IPv4 filter never
//!   matches an IPv6 packet, and the other way round);
//! - the source and destination addresses lie inside the prefixes (IPv4
//!   compares the low 32 bits of [`FlowKey::src`](crate::packet::FlowKey));
//! - **port conditions**: a filter whose source or destination port range is
//!   not [`PortRange::ANY`] matches only packets that carry ports
//!   ([`L4::Ports`](crate::packet::L4), i.e. TCP or UDP with a first
//!   fragment), with both ports inside their ranges. A packet without ports
//!   (ICMP, a non-first fragment, ESP...) never matches such a filter, even
//!   when the range is, say, `0..=1023`;
//! - the protocol condition ([`ProtocolMatch::Icmp`] means 1 for an IPv4
//!   filter and 58 for an IPv6 filter);
//! - the inbound DSCP, when given, equals the DSCP the packet carries;
//! - the VLAN id, when given, equals the VLAN id of the packet's outermost
//!   tag (an untagged packet never matches; VLAN 0 matches priority-tagged
//!   frames).

use crate::packet::Family;

mod classifier;
mod lanes;
mod matching;
mod rank;
mod table;
mod tree;
mod validate;

#[cfg(any(test, feature = "reference"))]
pub mod reference;

/// A tiny deterministic generator (xorshift64*) for the unit tests.
#[cfg(test)]
pub(crate) struct TestRng(pub(crate) u64);

#[cfg(test)]
impl TestRng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub(crate) fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

pub use classifier::{
    BUCKET_LIMIT, Classifier, ClassifierStats, Engine, LookupCost, MAX_FILTERS, PROBES, RELAX_STEP,
    Tuning,
};
pub use rank::Rank;
pub use tree::{LEAF_SIZE, MAX_DEPTH, REPLICATION, SPLIT_AT};
pub use validate::validate_filter;

/// Identifies a flow within one adapter.
pub type FlowId = u32;
/// Identifies a filter within one adapter. Ids are handed out in increasing
/// order, so a smaller id is an older filter (the last tie-breaker of
/// precedence).
pub type FilterId = u32;

/// An address prefix. For IPv4 the address lives in the low 32 bits and
/// `len` is 0..=32; for IPv6 `len` is 0..=128. Bits past `len` are zero
/// (validation enforces it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefix {
    /// The address, numeric value.
    pub addr: u128,
    /// Prefix length in bits.
    pub len: u8,
}

impl Prefix {
    /// The prefix that matches every address.
    pub const ANY: Self = Self { addr: 0, len: 0 };
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// Lowest port matched.
    pub lo: u16,
    /// Highest port matched.
    pub hi: u16,
}

impl PortRange {
    /// Every port.
    pub const ANY: Self = Self {
        lo: 0,
        hi: u16::MAX,
    };
    /// One port.
    #[must_use]
    pub const fn single(port: u16) -> Self {
        Self { lo: port, hi: port }
    }
    /// True when this range matches every port (no condition).
    #[must_use]
    pub const fn is_any(&self) -> bool {
        self.lo == 0 && self.hi == u16::MAX
    }
}

/// The protocol condition of a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolMatch {
    /// No condition.
    Any,
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// TCP or UDP.
    TcpOrUdp,
    /// ICMP (1) for IPv4 filters, ICMPv6 (58) for IPv6 filters.
    Icmp,
    /// Any other protocol number.
    Number(u8),
}

/// Default explicit precedence (Policy-based QoS).
pub const DEFAULT_PRECEDENCE: u8 = 127;

/// A filter: conditions on the packet, and the flow it points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Filter {
    /// The filter's id (smaller = older).
    pub id: FilterId,
    /// The flow packets that match go to.
    pub flow: FlowId,
    /// IP version the filter applies to.
    pub family: Family,
    /// Source prefix.
    pub src: Prefix,
    /// Destination prefix.
    pub dst: Prefix,
    /// Source port range (a condition only when not [`PortRange::ANY`]).
    pub src_ports: PortRange,
    /// Destination port range.
    pub dst_ports: PortRange,
    /// Protocol condition.
    pub protocol: ProtocolMatch,
    /// Optional condition on the DSCP the packet carries.
    pub dscp: Option<u8>,
    /// Optional condition on the VLAN id of the outermost tag.
    pub vlan: Option<u16>,
    /// Explicit precedence 0..=255, higher wins; default 127.
    pub precedence: u8,
}

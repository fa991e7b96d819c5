//! The meaning of a filter: [`Filter::matches`], and the address arithmetic
//! the compiled classifier shares with it.
//!
//! Addresses are handled "left-aligned": an IPv4 address moves to the top 32
//! bits of a `u128`, so one prefix mask (`len` leading one bits) serves both
//! families.

use super::{Filter, PortRange, ProtocolMatch};
use crate::packet::{Family, FlowKey, L4};

/// IP protocol numbers the protocol conditions name.
pub(crate) const PROTO_ICMP: u8 = 1;
/// TCP.
pub(crate) const PROTO_TCP: u8 = 6;
/// UDP.
pub(crate) const PROTO_UDP: u8 = 17;
/// ICMPv6.
pub(crate) const PROTO_ICMPV6: u8 = 58;

/// The address moved to the top bits: IPv4 keeps only its low 32 bits and
/// shifts them to bits 96..128; IPv6 is unchanged.
#[inline]
pub(crate) const fn aligned(family: Family, addr: u128) -> u128 {
    match family {
        Family::V4 => ((addr & 0xFFFF_FFFF) as u32 as u128).wrapping_shl(96),
        Family::V6 => addr,
    }
}

/// A mask of `len` leading one bits (`len` in aligned bit space, 0..=128;
/// larger values saturate to all ones).
#[inline]
pub(crate) const fn prefix_mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else if len >= 128 {
        u128::MAX
    } else {
        // 1..=127: the shift amount 128 - len is 1..=127, in range.
        u128::MAX.wrapping_shl(128u32.wrapping_sub(len as u32))
    }
}

/// True when `port` lies in `range`.
#[inline]
const fn in_range(range: PortRange, port: u16) -> bool {
    range.lo <= port && port <= range.hi
}

impl ProtocolMatch {
    /// True when a packet of `family` with IP protocol `proto` meets this
    /// condition.
    #[inline]
    #[must_use]
    pub const fn accepts(self, family: Family, proto: u8) -> bool {
        match self {
            Self::Any => true,
            Self::Tcp => proto == PROTO_TCP,
            Self::Udp => proto == PROTO_UDP,
            Self::TcpOrUdp => proto == PROTO_TCP || proto == PROTO_UDP,
            Self::Icmp => match family {
                Family::V4 => proto == PROTO_ICMP,
                Family::V6 => proto == PROTO_ICMPV6,
            },
            Self::Number(n) => proto == n,
        }
    }
}

impl Filter {
    /// True when the filter has a source or destination port condition; such
    /// a filter matches only packets that carry ports ([`L4::Ports`]).
    #[inline]
    #[must_use]
    pub const fn has_port_condition(&self) -> bool {
        !self.src_ports.is_any() || !self.dst_ports.is_any()
    }

    /// True when the packet meets every condition of the filter (see the
    /// module documentation of [`crate::gpc`] for the exact meaning of each
    /// condition). Allocation-free, cannot panic.
    #[inline]
    #[must_use]
    pub fn matches(&self, key: &FlowKey) -> bool {
        if self.family != key.family {
            return false;
        }
        let family = self.family;
        let src_mask = prefix_mask(self.src.len);
        if (aligned(family, key.src) ^ aligned(family, self.src.addr)) & src_mask != 0 {
            return false;
        }
        let dst_mask = prefix_mask(self.dst.len);
        if (aligned(family, key.dst) ^ aligned(family, self.dst.addr)) & dst_mask != 0 {
            return false;
        }
        if !self.protocol.accepts(family, key.protocol) {
            return false;
        }
        if self.has_port_condition() {
            match key.l4 {
                L4::Ports { src, dst } => {
                    if !in_range(self.src_ports, src) || !in_range(self.dst_ports, dst) {
                        return false;
                    }
                }
                L4::None | L4::Icmp { .. } => return false,
            }
        }
        if let Some(dscp) = self.dscp {
            if key.dscp != dscp {
                return false;
            }
        }
        if let Some(vid) = self.vlan {
            match key.vlan {
                Some(tag) if tag.vid == vid => {}
                _ => return false,
            }
        }
        true
    }
}

/// An address as a tuple table stores it: `u32` for IPv4, `u128` for IPv6
/// (so IPv4 rules stay small).
pub(crate) trait Addr: Copy + Eq + core::fmt::Debug {
    /// The family's address from an aligned `u128` (see [`aligned`]).
    fn from_aligned(x: u128) -> Self;
    /// A mask of `len` leading one bits (saturating at the width).
    fn mask(len: u8) -> Self;
    /// True when `a` and `b` agree on the bits of `mask`.
    fn same_under(a: Self, b: Self, mask: Self) -> bool;
    /// `a & mask`.
    fn and(a: Self, mask: Self) -> Self;
    /// A 64-bit digest of a (source, destination) pair, exact for IPv4.
    fn fold(src: Self, dst: Self) -> u64;
    /// The 64-bit key a decision tree splits on: the whole address for
    /// IPv4, the high 64 bits for IPv6.
    fn key64(self) -> u64;
    /// The interval of [`Addr::key64`] values covered by the prefix
    /// `self`/`len` (inclusive).
    fn span(self, len: u8) -> (u64, u64);
    /// Prefix lengths below this count as "short" (wide) for the decision
    /// tree's partition into groups (16 for IPv4, 48 for IPv6).
    const SHORT_BELOW: u8;
    /// Bits of [`Addr::key64`] that carry the address (32 or 64).
    const KEY_BITS: u8;
}

impl Addr for u32 {
    #[inline]
    fn from_aligned(x: u128) -> Self {
        (x >> 96) as Self
    }
    #[inline]
    fn mask(len: u8) -> Self {
        if len == 0 {
            0
        } else if len >= 32 {
            Self::MAX
        } else {
            // 1..=31: the shift amount is 1..=31, in range.
            Self::MAX.wrapping_shl(32u32.wrapping_sub(u32::from(len)))
        }
    }
    #[inline]
    fn same_under(a: Self, b: Self, mask: Self) -> bool {
        (a ^ b) & mask == 0
    }
    #[inline]
    fn and(a: Self, mask: Self) -> Self {
        a & mask
    }
    #[inline]
    fn fold(src: Self, dst: Self) -> u64 {
        (u64::from(src) << 32) | u64::from(dst)
    }
    #[inline]
    fn key64(self) -> u64 {
        u64::from(self)
    }
    #[inline]
    fn span(self, len: u8) -> (u64, u64) {
        let m = Self::mask(len);
        (u64::from(self & m), u64::from(self | !m))
    }
    const SHORT_BELOW: u8 = 16;
    const KEY_BITS: u8 = 32;
}

impl Addr for u128 {
    #[inline]
    fn from_aligned(x: u128) -> Self {
        x
    }
    #[inline]
    fn mask(len: u8) -> Self {
        prefix_mask(len)
    }
    #[inline]
    fn same_under(a: Self, b: Self, mask: Self) -> bool {
        (a ^ b) & mask == 0
    }
    #[inline]
    fn and(a: Self, mask: Self) -> Self {
        a & mask
    }
    #[inline]
    fn fold(src: Self, dst: Self) -> u64 {
        let a = (src >> 64) as u64 ^ src as u64;
        let b = (dst >> 64) as u64 ^ dst as u64;
        a ^ b.rotate_left(32)
    }
    #[inline]
    fn key64(self) -> u64 {
        (self >> 64) as u64
    }
    #[inline]
    fn span(self, len: u8) -> (u64, u64) {
        let hi = self.key64();
        if len >= 64 {
            return (hi, hi);
        }
        let m = if len == 0 {
            0
        } else {
            // 1..=63: the shift amount is 1..=63, in range.
            u64::MAX.wrapping_shl(64u32.wrapping_sub(u32::from(len)))
        };
        (hi & m, hi | !m)
    }
    const SHORT_BELOW: u8 = 48;
    const KEY_BITS: u8 = 64;
}

/// How a rule checks the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProtoCheck {
    Any,
    Exactly(u8),
    TcpOrUdp,
}

/// The conditions of one filter in the compact form a bucket holds inline
/// (28 bytes for IPv4), so scanning a bucket reads consecutive memory and
/// never the filter itself. `idx` is the filter's position in rank order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule<A> {
    src: A,
    dst: A,
    sport: (u16, u16),
    dport: (u16, u16),
    /// The filter's index (rank order, smaller wins).
    pub(crate) idx: u32,
    src_len: u8,
    dst_len: u8,
    proto: ProtoCheck,
    needs_ports: bool,
    dscp: Option<u8>,
    vlan: Option<u16>,
}

impl<A: Addr> Rule<A> {
    /// The compact form of `f` at index `idx`.
    pub(crate) fn new(f: &Filter, idx: u32) -> Self {
        let proto = match f.protocol {
            ProtocolMatch::Any => ProtoCheck::Any,
            ProtocolMatch::Tcp => ProtoCheck::Exactly(PROTO_TCP),
            ProtocolMatch::Udp => ProtoCheck::Exactly(PROTO_UDP),
            ProtocolMatch::TcpOrUdp => ProtoCheck::TcpOrUdp,
            ProtocolMatch::Icmp => ProtoCheck::Exactly(match f.family {
                Family::V4 => PROTO_ICMP,
                Family::V6 => PROTO_ICMPV6,
            }),
            ProtocolMatch::Number(n) => ProtoCheck::Exactly(n),
        };
        Self {
            src: A::from_aligned(aligned(f.family, f.src.addr)),
            dst: A::from_aligned(aligned(f.family, f.dst.addr)),
            sport: (f.src_ports.lo, f.src_ports.hi),
            dport: (f.dst_ports.lo, f.dst_ports.hi),
            idx,
            src_len: f.src.len,
            dst_len: f.dst.len,
            proto,
            needs_ports: f.has_port_condition(),
            dscp: f.dscp,
            vlan: f.vlan,
        }
    }

    /// The destination port when the filter names exactly one (the key of
    /// `by_port` tables).
    pub(crate) const fn single_dport(&self) -> Option<u16> {
        if self.needs_ports && self.dport.0 == self.dport.1 {
            Some(self.dport.0)
        } else {
            None
        }
    }

    /// Source address (for hashing at placement).
    pub(crate) const fn src(&self) -> A {
        self.src
    }

    /// Destination address (for hashing at placement).
    pub(crate) const fn dst(&self) -> A {
        self.dst
    }

    /// Source and destination prefix lengths.
    pub(crate) const fn lens(&self) -> (u8, u8) {
        (self.src_len, self.dst_len)
    }

    /// Source and destination port ranges (0..=65535 when no condition).
    pub(crate) const fn port_ranges(&self) -> ((u16, u16), (u16, u16)) {
        (self.sport, self.dport)
    }

    /// The same answer as [`Filter::matches`] for a packet of the rule's
    /// family whose addresses are `src`, `dst`.
    #[inline]
    pub(crate) fn matches(&self, src: A, dst: A, key: &FlowKey) -> bool {
        if !A::same_under(src, self.src, A::mask(self.src_len))
            || !A::same_under(dst, self.dst, A::mask(self.dst_len))
        {
            return false;
        }
        let proto_ok = match self.proto {
            ProtoCheck::Any => true,
            ProtoCheck::Exactly(p) => key.protocol == p,
            ProtoCheck::TcpOrUdp => key.protocol == PROTO_TCP || key.protocol == PROTO_UDP,
        };
        if !proto_ok {
            return false;
        }
        if self.needs_ports {
            let L4::Ports { src: sp, dst: dp } = key.l4 else {
                return false;
            };
            if sp < self.sport.0 || sp > self.sport.1 || dp < self.dport.0 || dp > self.dport.1 {
                return false;
            }
        }
        if let Some(d) = self.dscp {
            if key.dscp != d {
                return false;
            }
        }
        if let Some(v) = self.vlan {
            if key.vlan.map(|t| t.vid) != Some(v) {
                return false;
            }
        }
        true
    }
}

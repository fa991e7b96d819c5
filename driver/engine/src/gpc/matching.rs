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

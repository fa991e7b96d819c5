//! The meaning of a filter: [`Filter::matches`], and the address arithmetic
//! the compiled classifier shares with it.
//!
//! Addresses are handled "left-aligned": an IPv4 address moves to the top 32
//! bits of a `u128`, so one prefix mask (`len` leading one bits) serves both
//! families.

use super::lanes::{Block4, Block6, LaneBlock};
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

/// A mask of `len` leading one bits in a `u32` (saturating at 32; a shift
/// by 32 is `None`, i.e. the empty mask).
#[inline]
const fn mask32(len: u8) -> u32 {
    let len = if len > 32 { 32 } else { len as u32 };
    match u32::MAX.checked_shl(32u32.saturating_sub(len)) {
        Some(m) => m,
        None => 0,
    }
}

/// The inclusive interval of `u32` values under the prefix `word`/`len`.
#[inline]
const fn span32(word: u32, len: u8) -> (u32, u32) {
    let m = mask32(len);
    (word & m, word | !m)
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
    /// `a & mask`.
    fn and(a: Self, mask: Self) -> Self;
    /// `a ^ b`.
    fn xor(a: Self, b: Self) -> Self;
    /// A prefix length as a [`Rule`] holds it: the mask itself for IPv4
    /// (the address test is then two ANDs), the length for IPv6 (a 128-bit
    /// mask per address made a rule 96 bytes, a line and a half; with
    /// lengths it is 64).
    type Prefix: Copy + Eq + core::fmt::Debug;
    /// A type of no bytes whose alignment [`Rule`] takes on: 32 for IPv4
    /// (two rules a line), 64 for IPv6 (one rule a line).
    type Line: Copy + Eq + core::fmt::Debug;
    /// The [`Addr::Prefix`] of a prefix length.
    fn prefix(len: u8) -> Self::Prefix;
    /// The prefix length of an [`Addr::Prefix`].
    fn prefix_len(p: Self::Prefix) -> u8;
    /// True when `xs` (packet source XOR rule source) differs within the
    /// source prefix `sp`, or `xd` within the destination prefix `dp`.
    fn outside(xs: Self, sp: Self::Prefix, xd: Self, dp: Self::Prefix) -> bool;
    /// A 64-bit digest of a (source, destination) pair, exact for IPv4.
    fn fold(src: Self, dst: Self) -> u64;
    /// The 32-bit words a decision tree splits on: the whole address for
    /// IPv4 (the second word is 0); the high 64 bits as two words for IPv6
    /// (longer prefixes are a single point there and are told apart by the
    /// leaf check).
    fn words(self) -> [u32; 2];
    /// The interval of each of [`Addr::words`] covered by the prefix
    /// `self`/`len` (inclusive). A prefix is an exact box in word space: the
    /// words it fixes are points, the word it ends in is an interval, the
    /// words after it are whole.
    fn spans(self, len: u8) -> [(u32, u32); 2];
    /// Prefix lengths below this count as "short" (wide) for the decision
    /// tree's partition into groups (16 for IPv4, 48 for IPv6).
    const SHORT_BELOW: u8;
    /// Bits of [`Addr::words`] that carry the address (32 or 64).
    const KEY_BITS: u8;
    /// How many of [`Addr::words`] carry address bits (1 or 2).
    const WORDS: usize;
    /// Four rules side by side, as a decision tree's leaf scan reads them
    /// ([`super::lanes`]).
    type Block: LaneBlock<Self>;
}

impl Addr for u32 {
    #[inline]
    fn from_aligned(x: u128) -> Self {
        (x >> 96) as Self
    }
    #[inline]
    fn mask(len: u8) -> Self {
        mask32(len)
    }
    #[inline]
    fn and(a: Self, mask: Self) -> Self {
        a & mask
    }
    #[inline]
    fn xor(a: Self, b: Self) -> Self {
        a ^ b
    }
    type Prefix = Self;
    type Line = Align32;
    #[inline]
    fn prefix(len: u8) -> Self {
        mask32(len)
    }
    #[inline]
    fn prefix_len(mask: Self) -> u8 {
        u8::try_from(mask.leading_ones()).unwrap_or(u8::MAX)
    }
    #[inline]
    fn outside(xs: Self, sm: Self, xd: Self, dm: Self) -> bool {
        (xs & sm) | (xd & dm) != 0
    }
    #[inline]
    fn fold(src: Self, dst: Self) -> u64 {
        (u64::from(src) << 32) | u64::from(dst)
    }
    #[inline]
    fn words(self) -> [u32; 2] {
        [self, 0]
    }
    #[inline]
    fn spans(self, len: u8) -> [(u32, u32); 2] {
        [span32(self, len), (0, 0)]
    }
    const SHORT_BELOW: u8 = 16;
    const KEY_BITS: u8 = 32;
    const WORDS: usize = 1;
    type Block = Block4;
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
    fn and(a: Self, mask: Self) -> Self {
        a & mask
    }
    #[inline]
    fn xor(a: Self, b: Self) -> Self {
        a ^ b
    }
    type Prefix = u8;
    type Line = Align64;
    #[inline]
    fn prefix(len: u8) -> u8 {
        len.min(128)
    }
    #[inline]
    fn prefix_len(len: u8) -> u8 {
        len
    }
    /// A bit differs within the prefix. The masks come from a table
    /// ([`MASKS128`], a few of its lines are hot): two loads and ANDs
    /// instead of computing leading zeros of two 128-bit values, 22
    /// instructions without `lzcnt`.
    #[inline]
    fn outside(xs: Self, sl: u8, xd: Self, dl: u8) -> bool {
        let ms = MASKS128.get(usize::from(sl)).copied().unwrap_or(Self::MAX);
        let md = MASKS128.get(usize::from(dl)).copied().unwrap_or(Self::MAX);
        (xs & ms) | (xd & md) != 0
    }
    #[inline]
    fn fold(src: Self, dst: Self) -> u64 {
        let a = (src >> 64) as u64 ^ src as u64;
        let b = (dst >> 64) as u64 ^ dst as u64;
        a ^ b.rotate_left(32)
    }
    #[inline]
    fn words(self) -> [u32; 2] {
        [(self >> 96) as u32, (self >> 64) as u32]
    }
    #[inline]
    fn spans(self, len: u8) -> [(u32, u32); 2] {
        let [w0, w1] = self.words();
        [
            span32(w0, len.min(32)),
            span32(w1, len.saturating_sub(32).min(32)),
        ]
    }
    const SHORT_BELOW: u8 = 48;
    const KEY_BITS: u8 = 64;
    const WORDS: usize = 2;
    type Block = Block6;
}

/// The IPv6 prefix mask of each length (256 entries, so that indexing by
/// a `u8` needs no bounds check; past 128, all ones).
// Indexing here runs at compile time: out of bounds would fail the build,
// it cannot panic at run time.
#[allow(clippy::indexing_slicing)]
static MASKS128: [u128; 256] = {
    let mut m = [u128::MAX; 256];
    let mut len = 0;
    while len <= 128 {
        m[len] = prefix_mask(len as u8);
        len += 1;
    }
    m
};

/// No bytes, aligned to 32 (see [`Addr::Line`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(align(32))]
pub(crate) struct Align32;

/// No bytes, aligned to 64 (see [`Addr::Line`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(align(64))]
pub(crate) struct Align64;

/// The fields of a packet that rules check, extracted once per lookup.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Packet<A> {
    pub(crate) src: A,
    pub(crate) dst: A,
    /// The packet carries ports ([`L4::Ports`]).
    has_ports: bool,
    /// Ports, 0 when the packet has none.
    pub(crate) sport: u16,
    pub(crate) dport: u16,
    /// Protocol, DSCP and VLAN, laid out like [`Rule::cond`] (see
    /// [`COND_PROTO`]).
    pub(super) cond: u32,
}

impl<A: Addr> Packet<A> {
    /// The view of `key` whose addresses (of the key's family) are `src`,
    /// `dst`.
    #[inline]
    pub(crate) fn new(src: A, dst: A, key: &FlowKey) -> Self {
        let (has_ports, sport, dport) = match key.l4 {
            L4::Ports { src, dst } => (true, src, dst),
            L4::None | L4::Icmp { .. } => (false, 0, 0),
        };
        let p = key.protocol;
        let tcp_or_udp = if p == PROTO_TCP || p == PROTO_UDP {
            COND_TCP_OR_UDP
        } else {
            0
        };
        let ports = if has_ports { COND_PORTS } else { 0 };
        // An out-of-range VLAN id or DSCP (a hand-made key) matches no
        // rule's: the id as untagged, the DSCP through a bit no rule sets.
        let vlan = match key.vlan {
            Some(t) if t.vid <= 0xFFF => (u32::from(t.vid) << 16) | COND_TAGGED,
            _ => 0,
        };
        let dscp = if key.dscp <= 0x3F {
            u32::from(key.dscp) << 10
        } else {
            COND_BAD_DSCP
        };
        Self {
            src,
            dst,
            has_ports,
            sport,
            dport,
            cond: u32::from(p) | tcp_or_udp | ports | dscp | vlan,
        }
    }

    /// The IP protocol number.
    #[inline]
    pub(crate) const fn proto(&self) -> u32 {
        self.cond & COND_PROTO
    }

    /// The destination port, when the packet carries ports.
    #[inline]
    pub(crate) const fn dport_if_any(&self) -> Option<u16> {
        if self.has_ports {
            Some(self.dport)
        } else {
            None
        }
    }
}

/// The protocol, DSCP and VLAN conditions in one word, and a packet's
/// values in the same layout ([`Packet::cond`]), so that a rule checks
/// them with one XOR and one AND under a mask: the protocol number (bits
/// 0..8, [`COND_PROTO`]), TCP or UDP (bit 8), carries ports (bit 9), the
/// DSCP (bits 10..16, and bit 31 for a packet whose DSCP is out of range:
/// [`COND_DSCP`]), the VLAN id (bits 16..28) and "tagged" (bit 28,
/// [`COND_VLAN`] covers both). A rule's bits 28..31 say which of VLAN,
/// protocol number and DSCP it checks ([`COND_MASKS`]; bit 28 is also its
/// "tagged"); its bits 8 and 9 are set when it needs TCP-or-UDP or ports,
/// and then are their own mask. (Checking each condition apart cost 45
/// instructions and a mispredicted branch in three per rule that passed
/// the address test.)
pub(super) const COND_PROTO: u32 = 0xFF;
/// [`COND_PROTO`]: the packet is TCP or UDP / the rule needs it to be.
pub(super) const COND_TCP_OR_UDP: u32 = 1 << 8;
/// [`COND_PROTO`]: the packet carries ports / the rule needs them.
pub(super) const COND_PORTS: u32 = 1 << 9;
/// [`COND_PROTO`]: the DSCP.
pub(super) const COND_DSCP: u32 = (0x3F << 10) | COND_BAD_DSCP;
/// [`COND_PROTO`]: a packet's DSCP is out of range (no rule sets it).
const COND_BAD_DSCP: u32 = 1 << 31;
/// [`COND_PROTO`]: the VLAN id and the tagged bit.
pub(super) const COND_VLAN: u32 = 0x1FFF << 16;
/// [`COND_PROTO`]: the tagged bit.
const COND_TAGGED: u32 = 1 << 28;
/// [`COND_PROTO`]: a rule's bits 28, 29, 30 say that it checks the VLAN,
/// the protocol number, the DSCP (its bit 31 is clear).
pub(super) const COND_KINDS: u32 = 28;
/// The mask of the conditions a rule checks, by its bits 28..31 (16
/// entries, so that indexing by `cond >> 28` needs no bounds check; bit
/// 31 of a rule is clear).
const COND_MASKS: [u32; 16] = [
    cond_mask(0),
    cond_mask(1),
    cond_mask(2),
    cond_mask(3),
    cond_mask(4),
    cond_mask(5),
    cond_mask(6),
    cond_mask(7),
    cond_mask(8),
    cond_mask(9),
    cond_mask(10),
    cond_mask(11),
    cond_mask(12),
    cond_mask(13),
    cond_mask(14),
    cond_mask(15),
];

/// [`COND_MASKS`] entry `k`: bit 0 VLAN, bit 1 protocol number, bit 2
/// DSCP.
const fn cond_mask(k: u32) -> u32 {
    let mut x = 0;
    if k & 1 != 0 {
        x |= COND_VLAN;
    }
    if k & 2 != 0 {
        x |= COND_PROTO;
    }
    if k & 4 != 0 {
        x |= COND_DSCP;
    }
    x
}

/// The conditions of one filter in the compact form a tuple bucket holds
/// inline (32 bytes for IPv4, aligned so that two fill a cache line and
/// none straddles two; 64 bytes for IPv6), so that scanning reads
/// consecutive memory and never the filter itself; a decision tree's
/// leaves hold the same fields four rules side by side
/// ([`super::lanes`]). `idx` is the filter's position in rank order.
///
/// The form is chosen for [`Rule::matches`], which a lookup runs on most
/// rules of a leaf and which fails on most: the prefix masks are stored
/// (not recomputed from the lengths per check), so the address test, which
/// rejects most rules, is two XORs, two ANDs and one branch (IPv6: the
/// lengths are stored, and compared with the leading zeros of the XORs);
/// the other conditions are packed in one word that the packet's
/// conditions word is compared with under a mask (see [`COND_PROTO`]),
/// and port ranges are held as start and span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(32))]
pub(crate) struct Rule<A: Addr> {
    pub(super) src: A,
    pub(super) dst: A,
    pub(super) src_mask: A::Prefix,
    pub(super) dst_mask: A::Prefix,
    /// Source port range as (first port, last - first).
    pub(super) sport: (u16, u16),
    /// Destination port range as (first port, last - first).
    pub(super) dport: (u16, u16),
    /// The filter's index (rank order, smaller wins).
    pub(crate) idx: u32,
    /// Protocol, port, DSCP and VLAN conditions (see [`COND_PROTO`]).
    pub(super) cond: u32,
    /// No bytes: aligns a 64-byte (IPv6) rule to 64, so that an array of
    /// them is an array of cache lines (aligned to 32, as an IPv4 rule is,
    /// each rule straddled two lines whenever the array started half way
    /// into one).
    pub(super) line: [A::Line; 0],
}

impl<A: Addr> Rule<A> {
    /// The compact form of `f` at index `idx`.
    pub(crate) fn new(f: &Filter, idx: u32) -> Self {
        let one = 2 << COND_KINDS;
        let proto = match f.protocol {
            ProtocolMatch::Any => 0,
            ProtocolMatch::Tcp => u32::from(PROTO_TCP) | one,
            ProtocolMatch::Udp => u32::from(PROTO_UDP) | one,
            ProtocolMatch::TcpOrUdp => COND_TCP_OR_UDP,
            ProtocolMatch::Icmp => match f.family {
                Family::V4 => u32::from(PROTO_ICMP) | one,
                Family::V6 => u32::from(PROTO_ICMPV6) | one,
            },
            ProtocolMatch::Number(n) => u32::from(n) | one,
        };
        let ports = if f.has_port_condition() {
            COND_PORTS
        } else {
            0
        };
        // Validation keeps DSCP below 64 and VLAN ids below 4096.
        let dscp = f
            .dscp
            .map_or(0, |d| ((u32::from(d) & 0x3F) << 10) | (4 << COND_KINDS));
        // `COND_TAGGED` is the VLAN kind bit.
        let vlan = f
            .vlan
            .map_or(0, |v| ((u32::from(v) & 0xFFF) << 16) | COND_TAGGED);
        let range = |r: PortRange| (r.lo, r.hi.saturating_sub(r.lo));
        let src_mask = A::mask(f.src.len);
        let dst_mask = A::mask(f.dst.len);
        Self {
            src: A::and(A::from_aligned(aligned(f.family, f.src.addr)), src_mask),
            dst: A::and(A::from_aligned(aligned(f.family, f.dst.addr)), dst_mask),
            src_mask: A::prefix(f.src.len),
            dst_mask: A::prefix(f.dst.len),
            sport: range(f.src_ports),
            dport: range(f.dst_ports),
            idx,
            cond: proto | ports | dscp | vlan,
            line: [],
        }
    }

    pub(crate) const fn needs_ports(&self) -> bool {
        self.cond & COND_PORTS != 0
    }

    /// The destination port when the filter names exactly one (the key of
    /// `by_port` tables).
    pub(crate) const fn single_dport(&self) -> Option<u16> {
        if self.needs_ports() && self.dport.1 == 0 {
            Some(self.dport.0)
        } else {
            None
        }
    }

    /// The protocol numbers the rule accepts as an interval: one number,
    /// 6..=17 for "TCP or UDP" (a decision tree's leaf check is exact),
    /// else all.
    pub(crate) const fn proto_range(&self) -> (u32, u32) {
        if self.cond & (2 << COND_KINDS) != 0 {
            let n = self.cond & COND_PROTO;
            (n, n)
        } else if self.cond & COND_TCP_OR_UDP != 0 {
            (PROTO_TCP as u32, PROTO_UDP as u32)
        } else {
            (0, COND_PROTO)
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
    pub(crate) fn lens(&self) -> (u8, u8) {
        (A::prefix_len(self.src_mask), A::prefix_len(self.dst_mask))
    }

    /// Source and destination port ranges, inclusive (0..=65535 when no
    /// condition).
    pub(crate) const fn port_ranges(&self) -> ((u16, u16), (u16, u16)) {
        (
            (self.sport.0, self.sport.0.saturating_add(self.sport.1)),
            (self.dport.0, self.dport.0.saturating_add(self.dport.1)),
        )
    }

    /// The same answer as [`Filter::matches`] for a packet of the rule's
    /// family: the address test first (one branch, it rejects most rules),
    /// then the other conditions combined without a branch.
    #[inline]
    pub(crate) fn matches(&self, p: &Packet<A>) -> bool {
        if A::outside(
            A::xor(p.src, self.src),
            self.src_mask,
            A::xor(p.dst, self.dst),
            self.dst_mask,
        ) {
            return false;
        }
        let c = self.cond;
        let mask = COND_MASKS
            .get((c >> COND_KINDS) as usize)
            .copied()
            .unwrap_or(0)
            | (c & (COND_TCP_OR_UDP | COND_PORTS));
        conds_and_ports(p, c, mask, self.sport, self.dport)
    }
}

/// True when `p`'s conditions word equals `cond` under `mask`, and its
/// ports are in the ranges `sport` and `dport` (each as first port, last
/// minus first). A packet without ports has ports 0 and fails every rule
/// that needs ports through the ports bit. A port is out of its range when
/// span - (port - first) is negative: bit 31 (in integers, not `bool`s, so
/// that this is one branch, not three).
#[inline]
fn conds_and_ports<A>(
    p: &Packet<A>,
    cond: u32,
    mask: u32,
    sport: (u16, u16),
    dport: (u16, u16),
) -> bool {
    let sx = u32::from(p.sport.wrapping_sub(sport.0));
    let dx = u32::from(p.dport.wrapping_sub(dport.0));
    let out = u32::from(sport.1).wrapping_sub(sx) | u32::from(dport.1).wrapping_sub(dx);
    ((p.cond ^ cond) & mask) | (out & (1 << 31)) == 0
}

//! Zero-copy views over an outgoing frame, and the [`FlowKey`] the
//! classifier matches on.
//!
//! A frame arrives as a short list of byte slices, the way an MDL chain
//! splits it; any header may straddle two slices. [`parse`] walks the link
//! header (Ethernet II with up to two 802.1Q/802.1ad tags, or raw IP for
//! "ppip" media), IPv4 (with options and fragments) or IPv6 (with extension
//! headers), and TCP/UDP ports or ICMP/ICMPv6 type and code.
//!
//! Malformed, truncated or unknown input is [`Unclassifiable`], never a
//! panic. The result does not depend on where the frame is split.

/// How the frame starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// Ethernet II, possibly with one or two 802.1Q / 802.1ad tags.
    Ethernet,
    /// No link header: the first byte is the IP header ("ppip" media).
    RawIp,
}

/// IP version of a packet or filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4; addresses live in the low 32 bits of a `u128`.
    V4,
    /// IPv6; addresses are the 128-bit big-endian value.
    V6,
}

/// What the transport layer told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L4 {
    /// No transport information: a non-first fragment, ESP, an unknown
    /// protocol, or a protocol without ports.
    None,
    /// TCP or UDP ports.
    Ports {
        /// Source port.
        src: u16,
        /// Destination port.
        dst: u16,
    },
    /// ICMP (IPv4) or ICMPv6 type and code.
    Icmp {
        /// Message type.
        ty: u8,
        /// Message code.
        code: u8,
    },
}

/// One 802.1Q / 802.1ad tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlanTag {
    /// VLAN identifier, 12 bits.
    pub vid: u16,
    /// Priority code point (802.1p), 3 bits.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
}

/// The compact key the classifier matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// IP version.
    pub family: Family,
    /// Source address (IPv4 in the low 32 bits, numeric value).
    pub src: u128,
    /// Destination address (IPv4 in the low 32 bits, numeric value).
    pub dst: u128,
    /// IP protocol number (for IPv6: the upper-layer header the walk ended
    /// on).
    pub protocol: u8,
    /// Ports or ICMP type/code when present.
    pub l4: L4,
    /// The DSCP the packet carries now (upper 6 bits of TOS / Traffic Class).
    pub dscp: u8,
    /// The ECN bits the packet carries now (lower 2 bits).
    pub ecn: u8,
    /// The outermost in-band tag, if any.
    pub vlan: Option<VlanTag>,
}

/// Byte offsets (from the start of the frame) the marker needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MarkOffsets {
    /// Start of the IP header. The DS byte is at `ip + 1` for IPv4; for IPv6
    /// the Traffic Class spans the low nibble of byte `ip` and the high
    /// nibble of byte `ip + 1`. The IPv4 header checksum is at `ip + 10`.
    pub ip: u32,
    /// Offset of the TCI (2 bytes) of the outermost in-band tag, if any.
    pub vlan_tci: Option<u32>,
}

/// What [`parse`] returns for a classifiable frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParsedFrame {
    /// The key the classifier matches on.
    pub key: FlowKey,
    /// Where the marker writes.
    pub offsets: MarkOffsets,
}

/// Why a frame could not be classified. Each reason is counted separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unclassifiable {
    /// The frame ended inside a header.
    Truncated,
    /// An EtherType that is neither IPv4, IPv6 nor a VLAN tag.
    UnknownEtherType(u16),
    /// More than two VLAN tags.
    TooManyTags,
    /// The IP version nibble does not match the framing.
    BadIpVersion(u8),
    /// IPv4 IHL below 5, or a total length shorter than the header.
    BadIpHeader,
}

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
//!
//! # What the parser decides
//!
//! - **Link.** TPIDs 0x8100, 0x88A8 and 0x9100 are tags. The key carries the
//!   outermost tag (the one the marker rewrites); a third tag is
//!   [`Unclassifiable::TooManyTags`]. An EtherType other than IPv4/IPv6
//!   (ARP, an 802.3 length field, ...) is [`Unclassifiable::UnknownEtherType`].
//!   With raw IP framing the version nibble picks the family; with Ethernet
//!   it must agree with the EtherType ([`Unclassifiable::BadIpVersion`]).
//! - **Length fields.** The IP header itself (IPv4 options included, every
//!   IPv6 extension header walked) must lie in the frame, else
//!   [`Unclassifiable::Truncated`]. The packet's own length (IPv4 total
//!   length, IPv6 payload length) bounds where transport bytes are read, so
//!   Ethernet padding is never mistaken for a header. A length larger than
//!   the frame is *not* an error: headers are intact and the packet is sent
//!   anyway, so it is classified; a length of 0 (large-send offload leaves it
//!   to the NIC, or an IPv6 jumbogram) means "up to the end of the frame".
//!   An IPv4 IHL below 5 or a non-zero total length shorter than the header
//!   is [`Unclassifiable::BadIpHeader`].
//! - **Fragments.** Only a first fragment (offset 0) carries the transport
//!   header. A later IPv4 or IPv6 fragment classifies by addresses and
//!   protocol only: `l4` is [`L4::None`] and, for IPv6, `protocol` is the
//!   fragment header's next header. A filter with port or ICMP conditions
//!   therefore never matches a later fragment, while an address/protocol
//!   filter matches every fragment of the datagram.
//! - **A transport header cut short.** The parser needs only the 4 port
//!   bytes of TCP/UDP and the 2 type/code bytes of ICMP. When the packet (or
//!   first fragment) ends before them, the frame is still classified, with
//!   [`L4::None`], exactly like a later fragment: a tiny first fragment must
//!   not escape an address-based rate limit, and no port filter can match
//!   ports that are not there.
//! - **IPv6 extension headers.** Hop-by-hop, routing, fragment, destination
//!   options and AH are walked, in any order and number up to
//!   [`ipv6::MAX_EXT_HEADERS`] (beyond: [`Unclassifiable::TooManyExtHeaders`]).
//!   ESP, "no next header" and any other value end the walk: `protocol` is
//!   that value and `l4` is [`L4::None`] unless it is TCP, UDP or ICMPv6.
//! - **IPv4 AH.** Like IPv6, an IPv4 authentication header is walked and the
//!   key carries the protocol behind it (AH authenticates, it does not hide
//!   the transport header). ESP hides it: protocol 50, [`L4::None`].
//! - **ICMP.** Type and code are read for ICMP in IPv4 and ICMPv6 in IPv6
//!   only; the other pairing is just a protocol number.
//!
//! # Cost
//!
//! No allocation. Headers in the first slice are read in place; a header
//! that straddles slices is copied into a stack array of its size (the
//! private `cursor` module). The typed views ([`ethernet`], [`ipv4`],
//! [`ipv6`], [`l4`]) are over fixed-size arrays, so their accessors cannot
//! go out of bounds.

pub(crate) mod cursor;
pub mod ethernet;
mod fast;
#[cfg(any(test, feature = "reference"))]
mod fuzz;
pub mod ipv4;
pub mod ipv6;
pub mod l4;

use cursor::Frame;

#[cfg(any(test, feature = "reference"))]
#[doc(hidden)]
pub use fuzz::fuzz_parse;

/// IP protocol / IPv6 next-header numbers the parser knows.
pub mod ip_proto {
    /// IPv6 hop-by-hop options.
    pub const HOP_BY_HOP: u8 = 0;
    /// ICMP (IPv4).
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 routing header.
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment header.
    pub const FRAGMENT: u8 = 44;
    /// Encapsulating security payload: ends the walk.
    pub const ESP: u8 = 50;
    /// Authentication header (IPv4 and IPv6).
    pub const AH: u8 = 51;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6 "no next header".
    pub const NO_NEXT_HEADER: u8 = 59;
    /// IPv6 destination options.
    pub const DEST_OPTS: u8 = 60;
}

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
    /// Length of the link header (Ethernet and tags; 0 for raw IP). Equal
    /// to `offsets.ip`; the IP-layer bytes of the packet are the frame
    /// length minus this.
    pub l2_len: u32,
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
    /// An IPv6 chain of more than [`ipv6::MAX_EXT_HEADERS`] extension
    /// headers.
    TooManyExtHeaders,
}

impl Unclassifiable {
    /// Number of distinct reasons: the size of a per-reason counter array.
    pub const KINDS: usize = 6;

    /// A dense index `0..KINDS` for per-reason counters (the values carried
    /// by some variants are ignored).
    #[must_use]
    pub const fn index(self) -> usize {
        match self {
            Self::Truncated => 0,
            Self::UnknownEtherType(_) => 1,
            Self::TooManyTags => 2,
            Self::BadIpVersion(_) => 3,
            Self::BadIpHeader => 4,
            Self::TooManyExtHeaders => 5,
        }
    }

    /// A short name for statistics and logs.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Truncated => "truncated",
            Self::UnknownEtherType(_) => "unknown_ethertype",
            Self::TooManyTags => "too_many_tags",
            Self::BadIpVersion(_) => "bad_ip_version",
            Self::BadIpHeader => "bad_ip_header",
            Self::TooManyExtHeaders => "too_many_ext_headers",
        }
    }
}

/// What the link layer told us.
struct Link {
    /// Offset of the IP header.
    ip: usize,
    /// The family the EtherType names; `None` for raw IP (the version
    /// nibble decides).
    family: Option<Family>,
    /// The outermost tag and the offset of its TCI.
    vlan: Option<(VlanTag, usize)>,
}

/// What the network and transport layers told us.
struct Net {
    family: Family,
    src: u128,
    dst: u128,
    protocol: u8,
    /// DS byte / traffic class: DSCP << 2 | ECN.
    ds: u8,
    l4: L4,
}

/// Parses `frame` (its slices in order) into the classifier's key and the
/// marker's offsets.
///
/// # Errors
///
/// [`Unclassifiable`] with the reason when the frame is truncated, malformed
/// or not IP; the module documentation lists every decision.
#[inline]
pub fn parse(frame: &[&[u8]], framing: Framing) -> Result<ParsedFrame, Unclassifiable> {
    if let Some(parsed) = frame.first().and_then(|first| fast::parse(first, framing)) {
        return Ok(parsed);
    }
    parse_general(frame, framing)
}

/// Every case, any split: the walk the module documentation describes.
fn parse_general(frame: &[&[u8]], framing: Framing) -> Result<ParsedFrame, Unclassifiable> {
    let f = Frame::new(frame);
    let link = match framing {
        Framing::Ethernet => parse_link(&f)?,
        Framing::RawIp => Link {
            ip: 0,
            family: None,
            vlan: None,
        },
    };
    let family = match link.family {
        Some(family) => family,
        None => match f.u8_at(link.ip).ok_or(Unclassifiable::Truncated)? >> 4 {
            4 => Family::V4,
            6 => Family::V6,
            v => return Err(Unclassifiable::BadIpVersion(v)),
        },
    };
    let net = match family {
        Family::V4 => parse_ipv4(&f, link.ip)?,
        Family::V6 => parse_ipv6(&f, link.ip)?,
    };
    let ip = u32::try_from(link.ip).map_err(|_| Unclassifiable::Truncated)?;
    let vlan_tci = match link.vlan {
        Some((_, at)) => Some(u32::try_from(at).map_err(|_| Unclassifiable::Truncated)?),
        None => None,
    };
    Ok(ParsedFrame {
        key: FlowKey {
            family: net.family,
            src: net.src,
            dst: net.dst,
            protocol: net.protocol,
            l4: net.l4,
            dscp: net.ds >> 2,
            ecn: net.ds & 0x3,
            vlan: link.vlan.map(|(tag, _)| tag),
        },
        offsets: MarkOffsets { ip, vlan_tci },
        l2_len: ip,
    })
}

/// Ethernet II and up to two tags.
#[inline]
fn parse_link(f: &Frame<'_>) -> Result<Link, Unclassifiable> {
    let mut buf = [0u8; ethernet::HEADER_LEN];
    let eth = ethernet::Header::new(f.view(0, &mut buf).ok_or(Unclassifiable::Truncated)?);
    let mut ethertype = eth.ethertype();
    let mut at = ethernet::HEADER_LEN;
    let mut vlan = None;
    let mut tags = 0u8;
    while ethernet::ethertype::is_tag(ethertype) {
        if tags == 2 {
            return Err(Unclassifiable::TooManyTags);
        }
        let mut buf = [0u8; ethernet::TAG_LEN];
        let tag = ethernet::Tag::new(f.view(at, &mut buf).ok_or(Unclassifiable::Truncated)?);
        if vlan.is_none() {
            vlan = Some((tag.vlan(), at));
        }
        ethertype = tag.ethertype();
        at = at.saturating_add(ethernet::TAG_LEN);
        tags = tags.saturating_add(1);
    }
    let family = match ethertype {
        ethernet::ethertype::IPV4 => Family::V4,
        ethernet::ethertype::IPV6 => Family::V6,
        other => return Err(Unclassifiable::UnknownEtherType(other)),
    };
    Ok(Link {
        ip: at,
        family: Some(family),
        vlan,
    })
}

/// Where the packet ends: `ip + len` clipped to the frame, or the frame's
/// end when the length field is 0.
#[inline]
fn packet_end(f: &Frame<'_>, start: usize, len: u16) -> usize {
    if len == 0 {
        f.len()
    } else {
        start.saturating_add(usize::from(len)).min(f.len())
    }
}

#[inline]
fn parse_ipv4(f: &Frame<'_>, ip: usize) -> Result<Net, Unclassifiable> {
    let mut buf = [0u8; ipv4::HEADER_LEN];
    let hdr = ipv4::Header::new(f.view(ip, &mut buf).ok_or(Unclassifiable::Truncated)?);
    if hdr.version() != 4 {
        return Err(Unclassifiable::BadIpVersion(hdr.version()));
    }
    let header_len = hdr.header_len();
    let total_len = hdr.total_len();
    if header_len < ipv4::HEADER_LEN || (total_len != 0 && usize::from(total_len) < header_len) {
        return Err(Unclassifiable::BadIpHeader);
    }
    let l4_at = ip.saturating_add(header_len);
    if l4_at > f.len() {
        // Options cut short.
        return Err(Unclassifiable::Truncated);
    }
    let end = packet_end(f, ip, total_len);
    let (protocol, l4) = if hdr.frag_offset() != 0 {
        (hdr.protocol(), L4::None)
    } else {
        walk(f, Family::V4, hdr.protocol(), l4_at, end)?
    };
    Ok(Net {
        family: Family::V4,
        src: u128::from(hdr.src()),
        dst: u128::from(hdr.dst()),
        protocol,
        ds: hdr.ds(),
        l4,
    })
}

#[inline]
fn parse_ipv6(f: &Frame<'_>, ip: usize) -> Result<Net, Unclassifiable> {
    let mut buf = [0u8; ipv6::HEADER_LEN];
    let hdr = ipv6::Header::new(f.view(ip, &mut buf).ok_or(Unclassifiable::Truncated)?);
    if hdr.version() != 6 {
        return Err(Unclassifiable::BadIpVersion(hdr.version()));
    }
    let payload_at = ip.saturating_add(ipv6::HEADER_LEN);
    let end = packet_end(f, payload_at, hdr.payload_len());
    let (protocol, l4) = walk(f, Family::V6, hdr.next_header(), payload_at, end)?;
    Ok(Net {
        family: Family::V6,
        src: hdr.src(),
        dst: hdr.dst(),
        protocol,
        ds: hdr.traffic_class(),
        l4,
    })
}

/// Walks extension headers from `at` (next header `nh`) up to the
/// upper-layer header, then reads its ports or ICMP type/code. Only AH is an
/// extension header in IPv4. `end` is where the packet ends.
#[inline]
fn walk(
    f: &Frame<'_>,
    family: Family,
    mut nh: u8,
    mut at: usize,
    end: usize,
) -> Result<(u8, L4), Unclassifiable> {
    for _ in 0..=ipv6::MAX_EXT_HEADERS {
        let is_ext = match family {
            Family::V4 => nh == ip_proto::AH,
            Family::V6 => matches!(
                nh,
                ip_proto::HOP_BY_HOP
                    | ip_proto::ROUTING
                    | ip_proto::FRAGMENT
                    | ip_proto::DEST_OPTS
                    | ip_proto::AH
            ),
        };
        if !is_ext {
            return Ok((nh, transport(f, family, nh, at, end)));
        }
        let mut buf = [0u8; 4];
        let ext = ipv6::ExtHeader::new(f.view(at, &mut buf).ok_or(Unclassifiable::Truncated)?);
        let len = match nh {
            ip_proto::AH => ext.ah_len(),
            ip_proto::FRAGMENT => ipv6::FRAGMENT_LEN,
            _ => ext.options_len(),
        };
        let next_at = at.saturating_add(len);
        if next_at > end {
            return Err(Unclassifiable::Truncated);
        }
        if nh == ip_proto::FRAGMENT && ext.frag_offset() != 0 {
            // A later fragment: no transport header here.
            return Ok((ext.next_header(), L4::None));
        }
        nh = ext.next_header();
        at = next_at;
    }
    Err(Unclassifiable::TooManyExtHeaders)
}

/// Ports or ICMP type/code of the upper-layer header at `at`, when the
/// packet holds them; [`L4::None`] otherwise (see the module docs).
#[inline]
fn transport(f: &Frame<'_>, family: Family, protocol: u8, at: usize, end: usize) -> L4 {
    let fits = |n: usize| at.saturating_add(n) <= end;
    match (protocol, family) {
        (ip_proto::TCP | ip_proto::UDP, _) if fits(l4::PORTS_LEN) => {
            let mut buf = [0u8; l4::PORTS_LEN];
            f.view(at, &mut buf)
                .map_or(L4::None, |b| l4::Ports::new(b).l4())
        }
        (ip_proto::ICMP, Family::V4) | (ip_proto::ICMPV6, Family::V6) if fits(l4::ICMP_LEN) => {
            let mut buf = [0u8; l4::ICMP_LEN];
            f.view(at, &mut buf)
                .map_or(L4::None, |b| l4::Icmp::new(b).l4())
        }
        _ => L4::None,
    }
}

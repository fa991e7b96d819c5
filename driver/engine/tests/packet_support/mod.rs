//! Frame builders shared by the packet and mark tests: etherparse writes
//! every header, so the golden frames do not come from the parser's own
//! understanding of the formats.
#![allow(dead_code)]

use etherparse::{
    DoubleVlanHeader, EtherType, IpAuthHeader, IpHeaders, IpNumber, Ipv4Extensions, Ipv4Header,
    Ipv6Extensions, Ipv6Header, Ipv6RawExtHeader, PacketBuilder, PacketBuilderStep,
    SingleVlanHeader, TcpHeader, UdpHeader, VlanHeader, VlanId, VlanPcp,
};

pub const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
pub const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];
pub const SRC4: [u8; 4] = [192, 168, 1, 10];
pub const DST4: [u8; 4] = [10, 20, 30, 40];
pub const SRC6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11,
];
pub const DST6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x22, 0x33,
];

/// The link header to put in front.
#[derive(Debug, Clone)]
pub enum Link {
    /// No link header ("ppip").
    Raw,
    /// Ethernet II, untagged.
    Eth,
    /// One tag: PCP, DEI, VID.
    Tag(u8, bool, u16),
    /// Two tags: outer (PCP, DEI, VID), inner (PCP, DEI, VID).
    Tags((u8, bool, u16), (u8, bool, u16)),
}

fn single(pcp: u8, dei: bool, vid: u16) -> SingleVlanHeader {
    SingleVlanHeader {
        pcp: VlanPcp::try_new(pcp).unwrap(),
        drop_eligible_indicator: dei,
        vlan_id: VlanId::try_new(vid).unwrap(),
        ether_type: EtherType::IPV4, // the builder fixes it
    }
}

impl Link {
    /// Bytes before the IP header.
    pub fn len(&self) -> usize {
        match self {
            Link::Raw => 0,
            Link::Eth => 14,
            Link::Tag(..) => 18,
            Link::Tags(..) => 22,
        }
    }

    /// The builder step with `ip` after this link header.
    pub fn with_ip(&self, ip: IpHeaders) -> PacketBuilderStep<IpHeaders> {
        match self {
            Link::Raw => PacketBuilder::ip(ip),
            Link::Eth => PacketBuilder::ethernet2(SRC_MAC, DST_MAC).ip(ip),
            Link::Tag(p, d, v) => PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
                .vlan(VlanHeader::Single(single(*p, *d, *v)))
                .ip(ip),
            Link::Tags(o, i) => PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
                .vlan(VlanHeader::Double(DoubleVlanHeader {
                    outer: single(o.0, o.1, o.2),
                    inner: single(i.0, i.1, i.2),
                }))
                .ip(ip),
        }
    }
}

/// An IPv4 header with the given DS byte and protocol (lengths and checksum
/// are filled in when written).
pub fn v4(ds: u8, protocol: u8) -> Ipv4Header {
    let mut h = Ipv4Header::new(0, 64, IpNumber(protocol), SRC4, DST4).unwrap();
    h.dscp = etherparse::Ipv4Dscp::try_new(ds >> 2).unwrap();
    h.ecn = etherparse::Ipv4Ecn::try_new(ds & 3).unwrap();
    h.identification = 0x1234;
    h
}

/// An IPv6 header with the given traffic class.
pub fn v6(tc: u8) -> Ipv6Header {
    Ipv6Header {
        traffic_class: tc,
        flow_label: etherparse::Ipv6FlowLabel::try_new(0xABCDE).unwrap(),
        payload_length: 0,
        next_header: IpNumber(59),
        hop_limit: 64,
        source: SRC6,
        destination: DST6,
    }
}

pub fn ip4(h: Ipv4Header) -> IpHeaders {
    IpHeaders::Ipv4(h, Ipv4Extensions::default())
}

pub fn ip6(h: Ipv6Header) -> IpHeaders {
    IpHeaders::Ipv6(h, Ipv6Extensions::default())
}

/// A frame with a TCP header (ports given) and `payload`.
pub fn tcp(link: &Link, ip: IpHeaders, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    link.with_ip(ip)
        .tcp(sport, dport, 1000, 65535)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// A frame with a UDP header.
pub fn udp(link: &Link, ip: IpHeaders, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    link.with_ip(ip)
        .udp(sport, dport)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// A frame with an ICMP (IPv4) or ICMPv6 header of the given type and code.
pub fn icmp(link: &Link, ip: IpHeaders, ty: u8, code: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let v6 = matches!(ip, IpHeaders::Ipv6(..));
    let step = link.with_ip(ip);
    if v6 {
        step.icmpv6_raw(ty, code, [0; 4])
            .write(&mut out, &[1, 2, 3])
            .unwrap();
    } else {
        step.icmpv4_raw(ty, code, [0; 4])
            .write(&mut out, &[1, 2, 3])
            .unwrap();
    }
    out
}

/// A frame whose IP payload is `payload`, with `last` as the protocol /
/// last next header.
pub fn raw(link: &Link, ip: IpHeaders, last: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    link.with_ip(ip)
        .write(&mut out, IpNumber(last), payload)
        .unwrap();
    out
}

/// An IPv6 frame whose payload is `chain` (extension headers then the upper
/// layer), the first next header being `first`. etherparse refuses an
/// extension-header number as the last protocol without the matching header
/// object, so a plain number is written, then patched.
pub fn v6_chain(link: &Link, tc: u8, first: u8, chain: &[u8]) -> Vec<u8> {
    let mut f = raw(link, ip6(v6(tc)), 253, chain);
    f[link.len() + 6] = first;
    f
}

/// Serialized TCP header with the given ports.
pub fn tcp_bytes(sport: u16, dport: u16) -> Vec<u8> {
    TcpHeader::new(sport, dport, 7, 1024).to_bytes().to_vec()
}

/// Serialized UDP header with the given ports (length covers `extra` bytes).
pub fn udp_bytes(sport: u16, dport: u16, extra: usize) -> Vec<u8> {
    UdpHeader {
        source_port: sport,
        destination_port: dport,
        length: (8 + extra) as u16,
        checksum: 0,
    }
    .to_bytes()
    .to_vec()
}

/// A hop-by-hop / routing / destination options header (`8 * (units + 1)`
/// bytes).
pub fn opts_bytes(next: u8, units: u8) -> Vec<u8> {
    let payload = vec![0u8; 6 + 8 * units as usize];
    Ipv6RawExtHeader::new_raw(IpNumber(next), &payload)
        .unwrap()
        .to_bytes()
        .to_vec()
}

/// A fragment header, laid out per RFC 8200 §4.5: offset in the top 13
/// bits of bytes 2..4, M in the lowest bit. Written by hand: etherparse 0.16
/// puts M at bit 7 of byte 3 and the offset's low bits under it
/// (JulianSchmid/etherparse#150, fixed in 0.20), so its bytes are not the
/// wire format.
pub fn frag_bytes(next: u8, offset: u16, more: bool) -> Vec<u8> {
    let word = (offset << 3) | u16::from(more);
    let [w0, w1] = word.to_be_bytes();
    vec![next, 0, w0, w1, 0xCA, 0xFE, 0xBA, 0xBE]
}

/// An authentication header with an ICV of `icv_words` 32-bit words.
pub fn ah_bytes(next: u8, icv_words: usize) -> Vec<u8> {
    let icv = vec![0xA5u8; 4 * icv_words];
    IpAuthHeader::new(IpNumber(next), 0x1000, 1, &icv)
        .unwrap()
        .to_bytes()
        .to_vec()
}

/// Concatenates byte strings.
pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `frame` split at `points` (sorted).
pub fn split_at<'a>(frame: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut prev = 0;
    for &p in points {
        out.push(&frame[prev..p]);
        prev = p;
    }
    out.push(&frame[prev..]);
    out
}

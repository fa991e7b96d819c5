//! The fast path: an untagged Ethernet (or raw IP) frame carrying IPv4
//! without options or IPv6 without extension headers, with TCP or UDP, all
//! of it (ports included) in the first slice. That is most of what a host
//! sends, and it is parsed with one bounds check per header and no walk.
//!
//! It gives exactly what the general path gives (the split-invariance
//! tests and the fuzz target compare the two: a frame cut into small slices
//! always takes the general path); anything else returns `None` and the
//! general path runs.

use super::ethernet::{self, ethertype};
use super::{Family, FlowKey, Framing, L4, MarkOffsets, ParsedFrame, ip_proto, ipv4, ipv6, l4};

/// Bytes of transport header the key needs (ports).
const PORTS: u16 = l4::PORTS_LEN as u16;
/// Smallest IPv4 total length that holds the ports.
const V4_MIN_TOTAL: u16 = (ipv4::HEADER_LEN + l4::PORTS_LEN) as u16;

#[inline(always)]
pub(super) fn parse(first: &[u8], framing: Framing) -> Option<ParsedFrame> {
    match framing {
        Framing::Ethernet => {
            let eth = ethernet::Header::new(first.first_chunk::<{ ethernet::HEADER_LEN }>()?);
            match eth.ethertype() {
                ethertype::IPV4 => v4::<{ ethernet::HEADER_LEN }>(first),
                ethertype::IPV6 => v6::<{ ethernet::HEADER_LEN }>(first),
                _ => None,
            }
        }
        Framing::RawIp => match first.first()? >> 4 {
            4 => v4::<0>(first),
            6 => v6::<0>(first),
            _ => None,
        },
    }
}

/// The result for a packet whose IP header starts at `IP`.
#[inline(always)]
fn done<const IP: usize>(
    family: Family,
    src: u128,
    dst: u128,
    proto: u8,
    ds: u8,
    ports: L4,
) -> ParsedFrame {
    // IP is 0 or 14: the cast cannot truncate.
    let ip = IP as u32;
    ParsedFrame {
        key: FlowKey {
            family,
            src,
            dst,
            protocol: proto,
            l4: ports,
            dscp: ds >> 2,
            ecn: ds & 0x3,
            vlan: None,
        },
        offsets: MarkOffsets { ip, vlan_tci: None },
        l2_len: ip,
    }
}

#[inline(always)]
fn v4<const IP: usize>(first: &[u8]) -> Option<ParsedFrame> {
    let (hdr, rest) = first
        .get(IP..)?
        .split_first_chunk::<{ ipv4::HEADER_LEN }>()?;
    let hdr = ipv4::Header::new(hdr);
    let total = hdr.total_len();
    let usual = hdr.version() == 4
        && hdr.header_len() == ipv4::HEADER_LEN
        && hdr.frag_offset() == 0
        // The ports lie inside the packet (0: length left to the NIC).
        && (total == 0 || total >= V4_MIN_TOTAL)
        && matches!(hdr.protocol(), ip_proto::TCP | ip_proto::UDP);
    if !usual {
        return None;
    }
    let ports = l4::Ports::new(rest.first_chunk::<{ l4::PORTS_LEN }>()?).l4();
    Some(done::<IP>(
        Family::V4,
        u128::from(hdr.src()),
        u128::from(hdr.dst()),
        hdr.protocol(),
        hdr.ds(),
        ports,
    ))
}

#[inline(always)]
fn v6<const IP: usize>(first: &[u8]) -> Option<ParsedFrame> {
    let (hdr, rest) = first
        .get(IP..)?
        .split_first_chunk::<{ ipv6::HEADER_LEN }>()?;
    let hdr = ipv6::Header::new(hdr);
    let payload = hdr.payload_len();
    let usual = hdr.version() == 6
        && (payload == 0 || payload >= PORTS)
        && matches!(hdr.next_header(), ip_proto::TCP | ip_proto::UDP);
    if !usual {
        return None;
    }
    let ports = l4::Ports::new(rest.first_chunk::<{ l4::PORTS_LEN }>()?).l4();
    Some(done::<IP>(
        Family::V6,
        hdr.src(),
        hdr.dst(),
        hdr.next_header(),
        hdr.traffic_class(),
        ports,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::parse_general;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Frames near the fast path's conditions: random bytes with the
    /// fields it looks at drawn from values on both sides of each test.
    fn near_fast() -> impl Strategy<Value = (Vec<u8>, Framing)> {
        (
            any::<bool>(),
            prop::sample::select(std::vec![0x0800u16, 0x86DD, 0x8100, 0x0806]),
            prop::sample::select(std::vec![0x45u8, 0x46, 0x44, 0x65, 0x60, 0x6F, 0x35]),
            prop::sample::select(std::vec![0u16, 20, 23, 24, 40, 1500, 0xFFFF]),
            prop::sample::select(std::vec![0u16, 0x4000, 0x2000, 0x0001, 0x3FFF]),
            prop::sample::select(std::vec![6u8, 17, 1, 58, 0, 44, 51]),
            prop::collection::vec(any::<u8>(), 0..80),
        )
            .prop_map(|(raw, et, vb, len, frag, proto, mut bytes)| {
                let ip = if raw { 0 } else { 14 };
                bytes.resize(bytes.len().max(ip + 1), 0);
                if !raw {
                    bytes[12..14].copy_from_slice(&et.to_be_bytes());
                }
                let put = |b: &mut Vec<u8>, at: usize, v: &[u8]| {
                    for (i, x) in v.iter().enumerate() {
                        if let Some(slot) = b.get_mut(at + i) {
                            *slot = *x;
                        }
                    }
                };
                put(&mut bytes, ip, &[vb]);
                if vb >> 4 == 4 {
                    put(&mut bytes, ip + 2, &len.to_be_bytes());
                    put(&mut bytes, ip + 6, &frag.to_be_bytes());
                    put(&mut bytes, ip + 9, &[proto]);
                } else {
                    put(&mut bytes, ip + 4, &len.to_be_bytes());
                    put(&mut bytes, ip + 6, &[proto]);
                }
                let framing = if raw {
                    Framing::RawIp
                } else {
                    Framing::Ethernet
                };
                (bytes, framing)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8192))]

        /// Whenever the fast path answers, the general path gives the same.
        #[test]
        fn fast_path_equals_general_path((f, framing) in near_fast()) {
            if let Some(fast) = parse(&f, framing) {
                prop_assert_eq!(parse_general(&[&f], framing), Ok(fast));
            }
        }
    }

    #[test]
    fn fast_path_takes_the_usual_frames() {
        let mut f = std::vec![0u8; 14 + 20 + 20];
        f[12] = 0x08;
        f[14] = 0x45;
        f[17] = 40;
        f[23] = 6;
        assert!(parse(&f, Framing::Ethernet).is_some());
        assert!(parse(&f[14..], Framing::RawIp).is_some());
        // A later fragment, options, or a short first slice: general path.
        f[20] = 0x01;
        assert!(parse(&f, Framing::Ethernet).is_none());
        f[20] = 0;
        f[14] = 0x46;
        assert!(parse(&f, Framing::Ethernet).is_none());
        f[14] = 0x45;
        assert!(parse(&f[..37], Framing::Ethernet).is_none());
    }
}

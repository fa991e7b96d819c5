//! Golden frames (written by etherparse) for every case the parser knows,
//! and one negative test per truncation point.

mod packet_support;

use packet_support::*;
use qos_engine::packet::{
    Family, FlowKey, Framing, L4, MarkOffsets, ParsedFrame, Unclassifiable, VlanTag, parse,
};

fn addr4(a: [u8; 4]) -> u128 {
    u128::from(u32::from_be_bytes(a))
}

fn parse1(frame: &[u8], link: &Link) -> Result<ParsedFrame, Unclassifiable> {
    let framing = match link {
        Link::Raw => Framing::RawIp,
        _ => Framing::Ethernet,
    };
    parse(&[frame], framing)
}

fn key4(protocol: u8, l4: L4, ds: u8) -> FlowKey {
    FlowKey {
        family: Family::V4,
        src: addr4(SRC4),
        dst: addr4(DST4),
        protocol,
        l4,
        dscp: ds >> 2,
        ecn: ds & 3,
        vlan: None,
    }
}

fn key6(protocol: u8, l4: L4, tc: u8) -> FlowKey {
    FlowKey {
        family: Family::V6,
        src: u128::from_be_bytes(SRC6),
        dst: u128::from_be_bytes(DST6),
        protocol,
        l4,
        dscp: tc >> 2,
        ecn: tc & 3,
        vlan: None,
    }
}

fn expect(key: FlowKey, ip: u32) -> ParsedFrame {
    ParsedFrame {
        key,
        offsets: MarkOffsets { ip, vlan_tci: None },
        l2_len: ip,
    }
}

const PORTS: L4 = L4::Ports {
    src: 49152,
    dst: 443,
};

/// Every cut before `hdr_end` is `Truncated`; a cut inside the `need`
/// transport bytes gives the full key with `L4::None`; from `hdr_end +
/// need` on, the full result.
fn check_truncations(frame: &[u8], link: &Link, hdr_end: usize, need: usize) {
    let full = parse1(frame, link).unwrap();
    for cut in 0..frame.len() {
        let got = parse1(&frame[..cut], link);
        if cut < hdr_end {
            assert_eq!(got, Err(Unclassifiable::Truncated), "cut at {cut}");
        } else if cut < hdr_end + need {
            let mut want = full;
            want.key.l4 = L4::None;
            assert_eq!(got, Ok(want), "cut at {cut}");
        } else {
            assert_eq!(got, Ok(full), "cut at {cut}");
        }
    }
}

#[test]
fn ethernet_ipv4_tcp() {
    let f = tcp(&Link::Eth, ip4(v4(0xB9, 6)), 49152, 443, b"hello");
    assert_eq!(parse1(&f, &Link::Eth), Ok(expect(key4(6, PORTS, 0xB9), 14)));
    check_truncations(&f, &Link::Eth, 34, 4);
}

#[test]
fn ethernet_ipv4_udp() {
    let f = udp(&Link::Eth, ip4(v4(0x28, 17)), 5353, 53, b"q");
    let want = key4(17, L4::Ports { src: 5353, dst: 53 }, 0x28);
    assert_eq!(parse1(&f, &Link::Eth), Ok(expect(want, 14)));
    check_truncations(&f, &Link::Eth, 34, 4);
}

#[test]
fn ethernet_ipv4_icmp() {
    let f = icmp(&Link::Eth, ip4(v4(0, 1)), 8, 0);
    let want = key4(1, L4::Icmp { ty: 8, code: 0 }, 0);
    assert_eq!(parse1(&f, &Link::Eth), Ok(expect(want, 14)));
    check_truncations(&f, &Link::Eth, 34, 2);
    let f = icmp(&Link::Eth, ip4(v4(0, 1)), 3, 4);
    assert_eq!(
        parse1(&f, &Link::Eth).unwrap().key.l4,
        L4::Icmp { ty: 3, code: 4 }
    );
}

#[test]
fn one_tag() {
    let link = Link::Tag(5, true, 100);
    let f = tcp(&link, ip4(v4(0, 6)), 49152, 443, b"");
    let mut want = expect(key4(6, PORTS, 0), 18);
    want.key.vlan = Some(VlanTag {
        vid: 100,
        pcp: 5,
        dei: true,
    });
    want.offsets.vlan_tci = Some(14);
    assert_eq!(parse1(&f, &link), Ok(want));
    check_truncations(&f, &link, 38, 4);
}

#[test]
fn two_tags_every_tpid() {
    let link = Link::Tags((3, false, 10), (6, true, 4094));
    let f = udp(&link, ip6(v6(0x02)), 49152, 443, b"x");
    let mut want = expect(key6(17, PORTS, 0x02), 22);
    want.key.vlan = Some(VlanTag {
        vid: 10,
        pcp: 3,
        dei: false,
    });
    want.offsets.vlan_tci = Some(14);
    assert_eq!(
        &f[12..14],
        &[0x88, 0xA8],
        "etherparse writes an S-tag outside"
    );
    assert_eq!(parse1(&f, &link), Ok(want));
    check_truncations(&f, &link, 62, 4);
    for (outer, inner) in [(0x8100u16, 0x8100u16), (0x9100, 0x8100), (0x88A8, 0x9100)] {
        let mut g = f.clone();
        g[12..14].copy_from_slice(&outer.to_be_bytes());
        g[16..18].copy_from_slice(&inner.to_be_bytes());
        assert_eq!(parse1(&g, &link), Ok(want), "{outer:#x}/{inner:#x}");
    }
}

#[test]
fn three_tags_are_refused() {
    let link = Link::Tags((3, false, 10), (6, true, 20));
    let f = tcp(&link, ip4(v4(0, 6)), 1, 2, b"");
    // Insert a third tag after the second.
    let g = cat(&[&f[..20], &[0x81, 0x00, 0x00, 0x1E], &f[20..]]);
    assert_eq!(parse1(&g, &link), Err(Unclassifiable::TooManyTags));
}

#[test]
fn raw_ip_both_families() {
    let f = tcp(&Link::Raw, ip4(v4(0xB8, 6)), 49152, 443, b"abc");
    assert_eq!(parse1(&f, &Link::Raw), Ok(expect(key4(6, PORTS, 0xB8), 0)));
    check_truncations(&f, &Link::Raw, 20, 4);
    let f = udp(&Link::Raw, ip6(v6(0xB8)), 49152, 443, b"abc");
    assert_eq!(parse1(&f, &Link::Raw), Ok(expect(key6(17, PORTS, 0xB8), 0)));
    check_truncations(&f, &Link::Raw, 40, 4);
    // The same bytes behind Ethernet framing are not Ethernet.
    assert!(parse(&[&f], Framing::Ethernet).is_err());
}

#[test]
fn ipv4_options() {
    let mut h = v4(0x10, 6);
    // Record route (7), length 11, pointer 4, two empty slots, then EOL.
    h.options = [7u8, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0].into();
    let f = tcp(&Link::Eth, ip4(h), 49152, 443, b"");
    assert_eq!(f[14], 0x48, "IHL 8");
    assert_eq!(parse1(&f, &Link::Eth), Ok(expect(key4(6, PORTS, 0x10), 14)));
    check_truncations(&f, &Link::Eth, 46, 4);
}

#[test]
fn ipv4_fragments() {
    let mut first = v4(0, 17);
    first.more_fragments = true;
    let f = udp(&Link::Eth, ip4(first), 49152, 443, &[0; 16]);
    assert_eq!(
        parse1(&f, &Link::Eth),
        Ok(expect(key4(17, PORTS, 0), 14)),
        "a first fragment carries ports"
    );
    check_truncations(&f, &Link::Eth, 34, 4);

    let mut later = v4(0, 17);
    later.more_fragments = true;
    later.fragment_offset = etherparse::IpFragOffset::try_new(3).unwrap();
    // The payload of a later fragment looks like ports but is not.
    let f = raw(
        &Link::Eth,
        ip4(later.clone()),
        17,
        &[0x12, 0x34, 0x56, 0x78],
    );
    assert_eq!(
        parse1(&f, &Link::Eth),
        Ok(expect(key4(17, L4::None, 0), 14))
    );
    check_truncations(&f, &Link::Eth, 34, 0);
    later.more_fragments = false;
    let f = raw(&Link::Eth, ip4(later), 17, &[0x12, 0x34, 0x56, 0x78]);
    assert_eq!(
        parse1(&f, &Link::Eth),
        Ok(expect(key4(17, L4::None, 0), 14))
    );
}

#[test]
fn ipv4_ah_is_walked_esp_is_not() {
    let payload = cat(&[&ah_bytes(6, 3), &tcp_bytes(49152, 443)]);
    let f = raw(&Link::Eth, ip4(v4(0, 0)), 51, &payload);
    assert_eq!(f[14 + 9], 51);
    assert_eq!(parse1(&f, &Link::Eth), Ok(expect(key4(6, PORTS, 0), 14)));
    check_truncations(&f, &Link::Eth, 34 + 24, 4);

    let f = raw(
        &Link::Eth,
        ip4(v4(0, 0)),
        50,
        &[0, 0, 0x10, 0, 0, 0, 0, 1, 9, 9, 9, 9],
    );
    assert_eq!(
        parse1(&f, &Link::Eth),
        Ok(expect(key4(50, L4::None, 0), 14))
    );
    check_truncations(&f, &Link::Eth, 34, 0);
}

#[test]
fn ipv6_transports() {
    let f = tcp(&Link::Eth, ip6(v6(0xB9)), 49152, 443, b"data");
    assert_eq!(parse1(&f, &Link::Eth), Ok(expect(key6(6, PORTS, 0xB9), 14)));
    check_truncations(&f, &Link::Eth, 54, 4);
    let f = icmp(&Link::Eth, ip6(v6(0)), 128, 0);
    let want = key6(58, L4::Icmp { ty: 128, code: 0 }, 0);
    assert_eq!(parse1(&f, &Link::Eth), Ok(expect(want, 14)));
    check_truncations(&f, &Link::Eth, 54, 2);
}

fn v6_chain(first: u8, chain: &[u8]) -> Vec<u8> {
    packet_support::v6_chain(&Link::Eth, 0x20, first, chain)
}

#[test]
fn ipv6_each_extension_header() {
    let udp_hdr = udp_bytes(49152, 443, 0);
    for (name, ext_type, ext) in [
        ("hop-by-hop", 0u8, opts_bytes(17, 0)),
        ("routing", 43, opts_bytes(17, 1)),
        ("destination options", 60, opts_bytes(17, 2)),
        ("first fragment", 44, frag_bytes(17, 0, true)),
        ("authentication", 51, ah_bytes(17, 1)),
    ] {
        let f = v6_chain(ext_type, &cat(&[&ext, &udp_hdr]));
        assert_eq!(
            parse1(&f, &Link::Eth),
            Ok(expect(key6(17, PORTS, 0x20), 14)),
            "{name}"
        );
        check_truncations(&f, &Link::Eth, 54 + ext.len(), 4);
    }
}

#[test]
fn ipv6_chains() {
    // Every kind, in the order RFC 8200 recommends, twice destination options.
    let chain = cat(&[
        &opts_bytes(60, 0),
        &opts_bytes(43, 1),
        &opts_bytes(44, 0),
        &frag_bytes(51, 0, false),
        &ah_bytes(60, 2),
        &opts_bytes(6, 0),
        &tcp_bytes(49152, 443),
    ]);
    let f = v6_chain(0, &chain);
    assert_eq!(parse1(&f, &Link::Eth), Ok(expect(key6(6, PORTS, 0x20), 14)));
    check_truncations(&f, &Link::Eth, 54 + chain.len() - 20, 4);

    // Unusual orders are walked too (RFC 8200 §4.1: accept any order).
    let chain = cat(&[&ah_bytes(0, 1), &opts_bytes(58, 0), &[129, 0, 0, 0]]);
    let f = v6_chain(51, &chain);
    let want = key6(58, L4::Icmp { ty: 129, code: 0 }, 0x20);
    assert_eq!(parse1(&f, &Link::Eth), Ok(expect(want, 14)));
}

#[test]
fn ipv6_later_fragment_has_no_ports() {
    let chain = cat(&[&opts_bytes(44, 0), &frag_bytes(6, 185, true), &[1, 2, 3, 4]]);
    let f = v6_chain(0, &chain);
    assert_eq!(
        parse1(&f, &Link::Eth),
        Ok(expect(key6(6, L4::None, 0x20), 14))
    );
    check_truncations(&f, &Link::Eth, 54 + 16, 0);
}

#[test]
fn ipv6_walk_stops_at_esp_unknown_and_no_next_header() {
    let f = v6_chain(
        0,
        &cat(&[&opts_bytes(50, 0), &[0, 0, 1, 0, 0, 0, 0, 1, 6, 0, 0, 0]]),
    );
    assert_eq!(
        parse1(&f, &Link::Eth),
        Ok(expect(key6(50, L4::None, 0x20), 14))
    );
    let f = v6_chain(253, &tcp_bytes(1, 2));
    assert_eq!(
        parse1(&f, &Link::Eth),
        Ok(expect(key6(253, L4::None, 0x20), 14))
    );
    let f = v6_chain(60, &opts_bytes(59, 0));
    assert_eq!(
        parse1(&f, &Link::Eth),
        Ok(expect(key6(59, L4::None, 0x20), 14))
    );
    // ICMP (v4) inside IPv6 is just a protocol number.
    let f = v6_chain(1, &[8, 0, 0, 0]);
    assert_eq!(
        parse1(&f, &Link::Eth),
        Ok(expect(key6(1, L4::None, 0x20), 14))
    );
}

#[test]
fn ipv6_chain_length_bound() {
    let mut chain = Vec::new();
    for _ in 0..16 {
        chain.extend(opts_bytes(60, 0));
    }
    let ok = cat(&[
        &chain[..chain.len() - 8],
        &opts_bytes(17, 0),
        &udp_bytes(49152, 443, 0),
    ]);
    assert_eq!(
        parse1(&v6_chain(60, &ok), &Link::Eth),
        Ok(expect(key6(17, PORTS, 0x20), 14)),
        "16 extension headers are walked"
    );
    let long = cat(&[&chain, &opts_bytes(17, 0), &udp_bytes(49152, 443, 0)]);
    assert_eq!(
        parse1(&v6_chain(60, &long), &Link::Eth),
        Err(Unclassifiable::TooManyExtHeaders)
    );
}

#[test]
fn length_fields() {
    // Ethernet padding after a header-only IPv4 packet is not a TCP header.
    let f = raw(&Link::Eth, ip4(v4(0, 6)), 6, &[]);
    let padded = cat(&[&f, &[0xAA; 26]]);
    assert_eq!(
        parse1(&padded, &Link::Eth),
        Ok(expect(key4(6, L4::None, 0), 14))
    );
    // Same for IPv6.
    let f = raw(&Link::Eth, ip6(v6(0)), 17, &[1, 2]);
    let padded = cat(&[&f, &[0xAA; 8]]);
    assert_eq!(
        parse1(&padded, &Link::Eth),
        Ok(expect(key6(17, L4::None, 0), 14))
    );

    // Total length 0 (large send) and larger than the frame: classified.
    let f = tcp(&Link::Eth, ip4(v4(0, 6)), 49152, 443, &[0; 100]);
    for total in [0u16, 2000, 0xFFFF] {
        let mut g = f.clone();
        g[16..18].copy_from_slice(&total.to_be_bytes());
        assert_eq!(parse1(&g, &Link::Eth), Ok(expect(key4(6, PORTS, 0), 14)));
    }
    let f = udp(&Link::Eth, ip6(v6(0)), 49152, 443, &[0; 100]);
    for payload in [0u16, 2000] {
        let mut g = f.clone();
        g[18..20].copy_from_slice(&payload.to_be_bytes());
        assert_eq!(parse1(&g, &Link::Eth), Ok(expect(key6(17, PORTS, 0), 14)));
    }
    // An extension header longer than the payload length says is truncated.
    let mut g = v6_chain(0, &cat(&[&opts_bytes(17, 1), &udp_bytes(1, 2, 0)]));
    g[18..20].copy_from_slice(&8u16.to_be_bytes());
    assert_eq!(parse1(&g, &Link::Eth), Err(Unclassifiable::Truncated));
}

#[test]
fn malformed_headers() {
    let f = tcp(&Link::Eth, ip4(v4(0, 6)), 1, 2, b"");
    // IHL below 5.
    let mut g = f.clone();
    g[14] = 0x44;
    assert_eq!(parse1(&g, &Link::Eth), Err(Unclassifiable::BadIpHeader));
    // Total length shorter than the header.
    let mut g = f.clone();
    g[16..18].copy_from_slice(&19u16.to_be_bytes());
    assert_eq!(parse1(&g, &Link::Eth), Err(Unclassifiable::BadIpHeader));
    // IHL past the frame: options cut short.
    let mut g = f.clone();
    g[14] = 0x4F;
    g[16..18].copy_from_slice(&60u16.to_be_bytes());
    assert_eq!(parse1(&g, &Link::Eth), Err(Unclassifiable::Truncated));
    // Version disagreeing with the EtherType.
    let mut g = f.clone();
    g[14] = 0x65;
    assert_eq!(parse1(&g, &Link::Eth), Err(Unclassifiable::BadIpVersion(6)));
    let g6 = udp(&Link::Eth, ip6(v6(0)), 1, 2, b"");
    let mut g = g6.clone();
    g[12..14].copy_from_slice(&[0x08, 0x00]);
    assert_eq!(parse1(&g, &Link::Eth), Err(Unclassifiable::BadIpVersion(6)));
    // Raw IP with another version.
    assert_eq!(
        parse(&[&[0x55, 0, 0, 0]], Framing::RawIp),
        Err(Unclassifiable::BadIpVersion(5))
    );
    // Not IP.
    let mut g = f.clone();
    g[12..14].copy_from_slice(&[0x08, 0x06]);
    assert_eq!(
        parse1(&g, &Link::Eth),
        Err(Unclassifiable::UnknownEtherType(0x0806))
    );
    // An 802.3 length field.
    g[12..14].copy_from_slice(&[0x00, 0x40]);
    assert_eq!(
        parse1(&g, &Link::Eth),
        Err(Unclassifiable::UnknownEtherType(0x40))
    );
    // Nothing at all.
    assert_eq!(
        parse(&[], Framing::Ethernet),
        Err(Unclassifiable::Truncated)
    );
    assert_eq!(
        parse(&[&[], &[]], Framing::RawIp),
        Err(Unclassifiable::Truncated)
    );
}

#[test]
fn split_anywhere_golden() {
    let link = Link::Tag(2, false, 7);
    let chain = cat(&[
        &opts_bytes(44, 0),
        &frag_bytes(6, 0, true),
        &tcp_bytes(49152, 443),
    ]);
    let f = packet_support::v6_chain(&link, 0x41, 0, &chain);
    let whole = parse(&[&f], Framing::Ethernet).unwrap();
    assert_eq!(whole.key.l4, PORTS);
    for a in 0..=f.len() {
        for b in a..=f.len().min(a + 12) {
            let parts = split_at(&f, &[a, b]);
            assert_eq!(parse(&parts, Framing::Ethernet), Ok(whole), "{a}/{b}");
        }
    }
}

#[test]
fn unclassifiable_indexes_are_dense() {
    let all = [
        Unclassifiable::Truncated,
        Unclassifiable::UnknownEtherType(1),
        Unclassifiable::TooManyTags,
        Unclassifiable::BadIpVersion(3),
        Unclassifiable::BadIpHeader,
        Unclassifiable::TooManyExtHeaders,
    ];
    let mut seen = [false; Unclassifiable::KINDS];
    for u in all {
        assert!(!seen[u.index()]);
        seen[u.index()] = true;
        assert!(!u.name().is_empty());
    }
    assert!(seen.iter().all(|s| *s));
}

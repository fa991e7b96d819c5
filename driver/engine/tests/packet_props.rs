//! Property tests of the frame parser: the result does not depend on how
//! the frame is split, random bytes never panic, and on generated valid
//! packets the parser agrees with etherparse (a differential test).

mod packet_support;

use etherparse::{
    IpAuthHeader, IpHeaders, IpNumber, Ipv4Extensions, Ipv4Header, Ipv6Extensions, Ipv6Header,
    Ipv6RawExtHeader, Ipv6RoutingExtensions, NetSlice, SlicedPacket, TransportSlice, VlanSlice,
};
use packet_support::{Link, split_at};
use proptest::prelude::*;
use qos_engine::packet::{
    Family, FlowKey, Framing, L4, MarkOffsets, ParsedFrame, Unclassifiable, VlanTag, parse,
};

/// Up to six split points anywhere in a frame of `len` bytes (repeats give
/// empty slices).
fn points(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=len, 1..=6).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

/// A frame with its split points.
fn with_points(frame: Vec<u8>) -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    let len = frame.len();
    (Just(frame), points(len))
}

/// What the upper layer of a generated packet is.
#[derive(Debug, Clone)]
enum Upper {
    Tcp(u16, u16),
    Udp(u16, u16),
    Icmp(u8, u8),
    /// Another protocol (never an extension header, TCP, UDP or ICMP) and
    /// its payload.
    Other(u8, Vec<u8>),
}

/// A generated valid packet.
#[derive(Debug, Clone)]
struct Spec {
    link: Link,
    ip: IpHeaders,
    upper: Upper,
}

fn link() -> impl Strategy<Value = Link> {
    let tag = (0u8..8, any::<bool>(), 0u16..4096);
    prop_oneof![
        Just(Link::Raw),
        Just(Link::Eth),
        tag.clone().prop_map(|(p, d, v)| Link::Tag(p, d, v)),
        (tag.clone(), tag).prop_map(|(o, i)| Link::Tags(o, i)),
    ]
}

fn opts_header() -> impl Strategy<Value = Ipv6RawExtHeader> {
    (0usize..3, any::<u8>()).prop_map(|(units, fill)| {
        Ipv6RawExtHeader::new_raw(IpNumber(59), &vec![fill; 6 + 8 * units]).unwrap()
    })
}

fn auth_header() -> impl Strategy<Value = IpAuthHeader> {
    (0usize..4, any::<u32>()).prop_map(|(words, spi)| {
        IpAuthHeader::new(IpNumber(59), spi, 7, &vec![0x5A; 4 * words]).unwrap()
    })
}

fn ipv4() -> impl Strategy<Value = IpHeaders> {
    (
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<u8>(),
        0usize..=10,
        any::<u8>(),
        prop::option::of(auth_header()),
        // (more fragments, offset): mostly unfragmented.
        prop_oneof![
            4 => Just((false, 0u16)),
            1 => (any::<bool>(), 0u16..8192),
        ],
    )
        .prop_map(|(src, dst, ds, opt_words, fill, auth, (mf, off))| {
            let mut h = Ipv4Header::new(0, 64, IpNumber(59), src, dst).unwrap();
            h.dscp = etherparse::Ipv4Dscp::try_new(ds >> 2).unwrap();
            h.ecn = etherparse::Ipv4Ecn::try_new(ds & 3).unwrap();
            h.options = vec![fill; 4 * opt_words][..].try_into().unwrap();
            h.more_fragments = mf;
            h.fragment_offset = etherparse::IpFragOffset::try_new(off).unwrap();
            // AH only on unfragmented packets (see the module docs of
            // tests: a later fragment's protocol is the header's).
            let auth = if mf || off != 0 { None } else { auth };
            IpHeaders::Ipv4(h, Ipv4Extensions { auth })
        })
}

fn ipv6() -> impl Strategy<Value = IpHeaders> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<u8>(),
        prop::option::of(opts_header()),
        prop::option::of(opts_header()),
        prop::option::of((opts_header(), prop::option::of(opts_header()))),
        any::<bool>(),
        prop::option::of(auth_header()),
    )
        .prop_map(|(src, dst, tc, hbh, dst_opts, routing, atomic, auth)| {
            let h = Ipv6Header {
                traffic_class: tc,
                flow_label: etherparse::Ipv6FlowLabel::try_new(0x12345).unwrap(),
                payload_length: 0,
                next_header: IpNumber(59),
                hop_limit: 64,
                source: src,
                destination: dst,
            };
            let ext = Ipv6Extensions {
                hop_by_hop_options: hbh,
                destination_options: dst_opts,
                routing: routing.map(|(routing, final_destination_options)| {
                    Ipv6RoutingExtensions {
                        routing,
                        final_destination_options,
                    }
                }),
                // Only an atomic fragment (offset 0, M 0): etherparse 0.16
                // writes other fragment headers with the wrong bit layout
                // (JulianSchmid/etherparse#150). The golden tests cover
                // real fragments with hand-written headers.
                fragment: atomic.then(|| {
                    etherparse::Ipv6FragmentHeader::new(
                        IpNumber(59),
                        etherparse::IpFragOffset::ZERO,
                        false,
                        0x1234,
                    )
                }),
                auth,
            };
            IpHeaders::Ipv6(h, ext)
        })
}

fn upper() -> impl Strategy<Value = Upper> {
    // Protocols that are none of TCP, UDP, ICMP, ICMPv6 or an extension
    // header: GRE, ESP, SCTP, no next header, an experimental value.
    let other = prop::sample::select(vec![47u8, 50, 132, 59, 253]);
    prop_oneof![
        (any::<u16>(), any::<u16>()).prop_map(|(s, d)| Upper::Tcp(s, d)),
        (any::<u16>(), any::<u16>()).prop_map(|(s, d)| Upper::Udp(s, d)),
        (any::<u8>(), any::<u8>()).prop_map(|(t, c)| Upper::Icmp(t, c)),
        (other, prop::collection::vec(any::<u8>(), 0..24)).prop_map(|(p, b)| Upper::Other(p, b)),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (link(), prop_oneof![ipv4(), ipv6()], upper()).prop_map(|(link, ip, upper)| Spec {
        link,
        ip,
        upper,
    })
}

/// Writes the packet with etherparse.
fn build(s: &Spec) -> Vec<u8> {
    let mut out = Vec::new();
    let step = s.link.with_ip(s.ip.clone());
    let v6 = matches!(s.ip, IpHeaders::Ipv6(..));
    match &s.upper {
        Upper::Tcp(a, b) => step.tcp(*a, *b, 1, 100).write(&mut out, b"tcp"),
        Upper::Udp(a, b) => step.udp(*a, *b).write(&mut out, b"udp"),
        Upper::Icmp(t, c) if v6 => step.icmpv6_raw(*t, *c, [0; 4]).write(&mut out, b"i6"),
        Upper::Icmp(t, c) => step.icmpv4_raw(*t, *c, [0; 4]).write(&mut out, b"i4"),
        Upper::Other(p, b) => step.write(&mut out, IpNumber(*p), b),
    }
    .unwrap();
    out
}

fn framing(link: &Link) -> Framing {
    match link {
        Link::Raw => Framing::RawIp,
        _ => Framing::Ethernet,
    }
}

/// The key etherparse's own parse gives, in the parser's terms.
fn etherparse_view(frame: &[u8], s: &Spec) -> ParsedFrame {
    let sliced = match s.link {
        Link::Raw => SlicedPacket::from_ip(frame),
        _ => SlicedPacket::from_ethernet(frame),
    }
    .unwrap();
    let vlan = sliced.vlan.as_ref().map(|v| {
        let outer = match v {
            VlanSlice::SingleVlan(t) => t.to_header(),
            VlanSlice::DoubleVlan(d) => d.outer().to_header(),
        };
        VlanTag {
            vid: outer.vlan_id.value(),
            pcp: outer.pcp.value(),
            dei: outer.drop_eligible_indicator,
        }
    });
    let (family, src, dst, ds, payload) = match sliced.net.as_ref().unwrap() {
        NetSlice::Ipv4(ip) => {
            let h = ip.header().to_header();
            (
                Family::V4,
                u128::from(u32::from_be_bytes(h.source)),
                u128::from(u32::from_be_bytes(h.destination)),
                (h.dscp.value() << 2) | h.ecn.value(),
                ip.payload().clone(),
            )
        }
        NetSlice::Ipv6(ip) => (
            Family::V6,
            u128::from_be_bytes(ip.header().source()),
            u128::from_be_bytes(ip.header().destination()),
            ip.header().traffic_class(),
            ip.payload().clone(),
        ),
    };
    let l4 = match &sliced.transport {
        Some(TransportSlice::Tcp(t)) => L4::Ports {
            src: t.source_port(),
            dst: t.destination_port(),
        },
        Some(TransportSlice::Udp(u)) => L4::Ports {
            src: u.source_port(),
            dst: u.destination_port(),
        },
        Some(TransportSlice::Icmpv4(i)) => L4::Icmp {
            ty: i.type_u8(),
            code: i.code_u8(),
        },
        Some(TransportSlice::Icmpv6(i)) => L4::Icmp {
            ty: i.type_u8(),
            code: i.code_u8(),
        },
        // etherparse leaves every fragment's transport alone; the parser
        // reads a first fragment's ports (the generator knows them).
        None => match (&s.ip, &s.upper) {
            (IpHeaders::Ipv4(h, _), Upper::Tcp(a, b) | Upper::Udp(a, b))
                if h.fragment_offset.value() == 0 =>
            {
                L4::Ports { src: *a, dst: *b }
            }
            (IpHeaders::Ipv4(h, _), Upper::Icmp(t, c)) if h.fragment_offset.value() == 0 => {
                L4::Icmp { ty: *t, code: *c }
            }
            _ => L4::None,
        },
    };
    let ip = s.link.len() as u32;
    ParsedFrame {
        key: FlowKey {
            family,
            src,
            dst,
            protocol: payload.ip_number.0,
            l4,
            dscp: ds >> 2,
            ecn: ds & 3,
            vlan,
        },
        offsets: MarkOffsets {
            ip,
            vlan_tci: vlan.map(|_| 14),
        },
        l2_len: ip,
    }
}

fn spec_and_points() -> impl Strategy<Value = (Spec, Vec<u8>, Vec<usize>)> {
    spec().prop_flat_map(|s| {
        let f = build(&s);
        let len = f.len();
        (Just(s), Just(f), points(len))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// The parser agrees with etherparse on every generated valid packet.
    #[test]
    fn agrees_with_etherparse((s, f, pts) in spec_and_points()) {
        let want = etherparse_view(&f, &s);
        prop_assert_eq!(parse(&[&f], framing(&s.link)), Ok(want));
        prop_assert_eq!(parse(&split_at(&f, &pts), framing(&s.link)), Ok(want));
    }

    /// Valid packets with a few bytes overwritten: split or whole, same
    /// answer (and no panic).
    #[test]
    fn mutated_frames_split_anywhere(
        (_s, mut f, pts) in spec_and_points(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
    ) {
        for (at, byte) in edits {
            let i = at.index(f.len());
            f[i] = byte;
        }
        // Cut the frame too (the split points stay within it).
        let keep = pts.last().copied().unwrap_or(0).max(cut.index(f.len() + 1));
        f.truncate(keep);
        for framing in [Framing::Ethernet, Framing::RawIp] {
            let whole = parse(&[&f], framing);
            prop_assert_eq!(parse(&split_at(&f, &pts), framing), whole);
        }
    }

    /// Random bytes: never a panic, and splitting changes nothing.
    #[test]
    fn random_bytes((f, pts) in prop::collection::vec(any::<u8>(), 0..160).prop_flat_map(with_points)) {
        for framing in [Framing::Ethernet, Framing::RawIp] {
            let whole = parse(&[&f], framing);
            prop_assert_eq!(parse(&split_at(&f, &pts), framing), whole);
        }
    }

    /// Random bytes behind a plausible link header reach the IP and
    /// extension-header code.
    #[test]
    fn random_ip_behind_ethernet(
        et in prop::sample::select(vec![0x0800u16, 0x86DD, 0x8100, 0x88A8, 0x9100]),
        version in prop::sample::select(vec![0x40u8, 0x45, 0x46, 0x4F, 0x60, 0x6F]),
        body in prop::collection::vec(any::<u8>(), 0..120),
        next in prop::sample::select(vec![0u8, 6, 17, 43, 44, 50, 51, 58, 60]),
        pts in points(150),
    ) {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&et.to_be_bytes());
        if ethertype_is_tag(et) {
            f.extend_from_slice(&[0x20, 0x05, 0x86, 0xDD]);
        }
        let ip = f.len();
        f.push(version);
        f.extend_from_slice(&body);
        // Point the first next header at an extension header when IPv6.
        if let Some(b) = f.get_mut(ip + 6) {
            *b = next;
        }
        let pts: Vec<usize> = pts.into_iter().map(|p| p.min(f.len())).collect();
        let whole = parse(&[&f], Framing::Ethernet);
        prop_assert_eq!(parse(&split_at(&f, &pts), Framing::Ethernet), whole);
    }

    /// The fuzz body (also the cargo-fuzz target) on random inputs and on
    /// valid packets behind a split prefix.
    #[test]
    fn fuzz_body_random(data in prop::collection::vec(any::<u8>(), 0..200)) {
        prop_assert_eq!(qos_engine::packet::fuzz_parse(&data), Ok(()));
    }

    #[test]
    fn fuzz_body_valid(s in spec(), head in any::<u8>(), raw_pts in any::<[u8; 12]>()) {
        let f = build(&s);
        let n = usize::from(head % 7);
        let mut data = vec![head];
        data.extend_from_slice(&raw_pts[..2 * n]);
        data.extend_from_slice(&f);
        prop_assert_eq!(qos_engine::packet::fuzz_parse(&data), Ok(()));
    }
}

fn ethertype_is_tag(et: u16) -> bool {
    qos_engine::packet::ethernet::ethertype::is_tag(et)
}

#[test]
fn truncated_is_the_only_answer_for_short_prefixes_of_valid_frames() {
    // Any prefix shorter than the link + fixed IP header is Truncated.
    let f = packet_support::tcp(
        &Link::Tag(1, false, 2),
        packet_support::ip6(packet_support::v6(0)),
        1,
        2,
        b"",
    );
    for cut in 0..58 {
        assert_eq!(
            parse(&[&f[..cut]], Framing::Ethernet),
            Err(Unclassifiable::Truncated)
        );
    }
}

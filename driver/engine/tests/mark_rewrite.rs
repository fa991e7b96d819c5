//! Writing marks: property tests of the DSCP rewrite (ECN kept, RFC 1624
//! checksum update equal to a full recomputation, any split of the frame),
//! the IPv6 traffic class, the in-band PCP and the out-of-band 802.1Q info.

mod packet_support;

use packet_support::{Link, split_at};
use proptest::prelude::*;
use qos_engine::flow::{FlowSpec, ServiceType};
use qos_engine::mark::{
    Applied, Ieee8021QInfo, MarkError, MarkMaps, Marks, apply, decide, reset_dscp, rewrite_dscp,
    rewrite_dscp_one, rewrite_pcp,
};
use qos_engine::packet::ipv4::checksum;
use qos_engine::packet::{Family, Framing, MarkOffsets, parse};

/// Splits a mutable frame at sorted points.
fn split_mut<'a>(mut frame: &'a mut [u8], points: &[usize]) -> Vec<&'a mut [u8]> {
    let mut out = Vec::new();
    let mut prev = 0;
    for &p in points {
        let (a, b) = frame.split_at_mut(p - prev);
        out.push(a);
        frame = b;
        prev = p;
    }
    out.push(frame);
    out
}

/// The reference: the header's checksum computed from scratch.
fn full_checksum(header: &[u8]) -> u16 {
    let mut h = header.to_vec();
    h[10] = 0;
    h[11] = 0;
    checksum(&h)
}

/// One's complement values are equal modulo 0xFFFF (+0 and -0 coincide).
fn same_mod_ffff(a: u16, b: u16) -> bool {
    u32::from(a) % 0xFFFF == u32::from(b) % 0xFFFF
}

/// A random IPv4 header (IHL 5..=15) behind `lead` bytes of link header.
fn v4_frame() -> impl Strategy<Value = (Vec<u8>, usize, usize)> {
    (0usize..=22, 5usize..=15).prop_flat_map(|(lead, ihl)| {
        (
            prop::collection::vec(any::<u8>(), lead + ihl * 4 + 8),
            Just(lead),
            Just(ihl * 4),
        )
            .prop_map(|(mut f, lead, hl)| {
                f[lead] = 0x40 | (hl / 4) as u8;
                (f, lead, hl)
            })
    })
}

fn points_within(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=len, 0..=6).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// A header whose checksum was valid: after the rewrite it is still
    /// valid and bit-for-bit what a full recomputation gives; ECN is kept;
    /// only the DS byte and the checksum change; any split works.
    #[test]
    fn v4_incremental_equals_full(
        ((mut f, lead, hl), pts) in v4_frame().prop_flat_map(|x| {
            let len = x.0.len();
            (Just(x), points_within(len))
        }),
        dscp in 0u8..64,
    ) {
        let c = full_checksum(&f[lead..lead + hl]);
        f[lead + 10..lead + 12].copy_from_slice(&c.to_be_bytes());
        prop_assert_eq!(checksum(&f[lead..lead + hl]), 0);
        let before = f.clone();
        let offsets = MarkOffsets { ip: lead as u32, vlan_tci: None };
        let changed = {
            let mut parts = split_mut(&mut f, &pts);
            rewrite_dscp(&mut parts, Family::V4, &offsets, dscp).unwrap()
        };
        let old_ds = before[lead + 1];
        prop_assert_eq!(changed, old_ds >> 2 != dscp);
        prop_assert_eq!(f[lead + 1], (dscp << 2) | (old_ds & 3));
        let stored = u16::from_be_bytes([f[lead + 10], f[lead + 11]]);
        prop_assert_eq!(stored, full_checksum(&f[lead..lead + hl]));
        prop_assert_eq!(checksum(&f[lead..lead + hl]), 0);
        for (i, (a, b)) in before.iter().zip(&f).enumerate() {
            if ![lead + 1, lead + 10, lead + 11].contains(&i) {
                prop_assert_eq!(a, b);
            }
        }
    }

    /// A header whose checksum was wrong stays wrong by the same amount
    /// (the rewrite never launders a corrupt header into a valid one).
    #[test]
    fn v4_wrong_checksum_stays_wrong((mut f, lead, hl) in v4_frame(), dscp in 0u8..64) {
        let before = checksum(&f[lead..lead + hl]);
        let offsets = MarkOffsets { ip: lead as u32, vlan_tci: None };
        rewrite_dscp(&mut [&mut f[..]], Family::V4, &offsets, dscp).unwrap();
        prop_assert!(same_mod_ffff(checksum(&f[lead..lead + hl]), before));
    }

    /// IPv6: the traffic class spans bytes 0-1; version and flow label stay.
    #[test]
    fn v6_traffic_class(
        mut f in prop::collection::vec(any::<u8>(), 40..60),
        dscp in 0u8..64,
        pts in points_within(40),
    ) {
        f[0] = 0x60 | (f[0] & 0x0F);
        let before = f.clone();
        let old_tc = (before[0] << 4) | (before[1] >> 4);
        let offsets = MarkOffsets { ip: 0, vlan_tci: None };
        let changed = {
            let mut parts = split_mut(&mut f, &pts);
            rewrite_dscp(&mut parts, Family::V6, &offsets, dscp).unwrap()
        };
        prop_assert_eq!(changed, old_tc >> 2 != dscp);
        let tc = (f[0] << 4) | (f[1] >> 4);
        prop_assert_eq!(tc, (dscp << 2) | (old_tc & 3));
        prop_assert_eq!(f[0] >> 4, 6);
        prop_assert_eq!(f[1] & 0x0F, before[1] & 0x0F);
        prop_assert_eq!(&f[2..], &before[2..]);
    }

    /// In-band PCP: DEI and VID kept, split anywhere.
    #[test]
    fn pcp_in_band(
        tci in any::<u16>(),
        pcp in 0u8..8,
        tpid in prop::sample::select(vec![0x8100u16, 0x88A8, 0x9100]),
        pts in points_within(40),
    ) {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
        f.extend_from_slice(&[0x08, 0x00]);
        f.resize(40, 0);
        let offsets = MarkOffsets { ip: 18, vlan_tci: Some(14) };
        let changed = {
            let mut parts = split_mut(&mut f, &pts);
            rewrite_pcp(&mut parts, &offsets, pcp).unwrap()
        };
        let new = u16::from_be_bytes([f[14], f[15]]);
        prop_assert_eq!(changed, (tci >> 13) as u8 != pcp);
        prop_assert_eq!(new >> 13, u16::from(pcp));
        prop_assert_eq!(new & 0x1FFF, tci & 0x1FFF);
    }

    /// The out-of-band value keeps every bit but UserPriority.
    #[test]
    fn ieee8021q_info(value in any::<usize>(), pcp in 0u8..8) {
        let out = Ieee8021QInfo::with_priority(value, pcp);
        prop_assert_eq!(Ieee8021QInfo(out).user_priority(), pcp);
        prop_assert_eq!(Ieee8021QInfo(out).vlan_id(), Ieee8021QInfo(value).vlan_id());
        prop_assert_eq!(
            Ieee8021QInfo(out).canonical_format_id(),
            Ieee8021QInfo(value).canonical_format_id()
        );
        prop_assert_eq!(out & !7, value & !7);
    }

    /// Out-of-range offsets and values are errors, never panics, and leave
    /// the frame alone.
    #[test]
    fn bad_offsets_are_errors(
        mut f in prop::collection::vec(any::<u8>(), 0..40),
        ip in any::<u32>(),
        tci in prop::option::of(any::<u32>()),
        value in any::<u8>(),
        v6 in any::<bool>(),
        pts in points_within(0),
    ) {
        let before = f.clone();
        let offsets = MarkOffsets { ip, vlan_tci: tci };
        let family = if v6 { Family::V6 } else { Family::V4 };
        let mut parts = split_mut(&mut f, &pts);
        let d = rewrite_dscp(&mut parts, family, &offsets, value);
        let p = rewrite_pcp(&mut parts, &offsets, value);
        drop(parts);
        if d.is_err() && p.is_err() {
            prop_assert_eq!(f, before);
        }
        if value > 63 {
            prop_assert_eq!(d, Err(MarkError::ValueOutOfRange { value }));
        }
    }
}

/// Frames for the one-slice fast path: mostly well-formed IPv4 / IPv6
/// headers at a random offset (ECN and DSCP random, checksum valid or
/// not), some with a wrong version nibble, an offset near or past the end,
/// or cut short.
fn one_slice_case() -> impl Strategy<Value = (Vec<u8>, u32, bool, u8)> {
    (
        prop::collection::vec(any::<u8>(), 0..80),
        0u32..90,
        any::<bool>(),
        prop_oneof![8 => 0u8..64, 1 => 64u8..=255],
        0u8..4,
        any::<bool>(),
    )
        .prop_map(|(mut f, ip, v6, dscp, shape, fix_sum)| {
            let at = ip as usize;
            // shape 0: leave the bytes random; else a header of the family.
            if shape != 0 && at < f.len() {
                f[at] = if v6 { 0x60 | (f[at] & 0x0F) } else { 0x45 };
                if !v6 && fix_sum && at + 20 <= f.len() {
                    let c = full_checksum(&f[at..at + 20]);
                    f[at + 10..at + 12].copy_from_slice(&c.to_be_bytes());
                }
            }
            (f, ip, v6, dscp)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8192))]

    /// The one-slice fast path is the general rewrite: `Some(changed)`
    /// exactly when `rewrite_dscp` on the same one-slice frame is
    /// `Ok(changed)`, the same bytes written; `None` exactly when it is an
    /// error, and then nothing is written.
    #[test]
    fn one_slice_rewrite_equals_general((f, ip, v6, dscp) in one_slice_case()) {
        let family = if v6 { Family::V6 } else { Family::V4 };
        let offsets = MarkOffsets { ip, vlan_tci: None };
        let mut general = f.clone();
        let want = rewrite_dscp(&mut [&mut general[..]], family, &offsets, dscp);
        let mut fast = f.clone();
        let got = rewrite_dscp_one(&mut fast, family, ip, dscp);
        prop_assert_eq!(got, want.ok());
        prop_assert_eq!(&fast, &general);
        if got.is_none() {
            prop_assert_eq!(&fast, &f);
        }
    }
}

/// Every (DS byte, checksum) pair through the fast path and the general
/// path on a fixed IPv4 header: the same bytes (the checksum arithmetic
/// is exhaustively the same, including the 0x0000 / 0xFFFF cases).
#[test]
fn one_slice_rewrite_checksum_exhaustive_over_ds_byte() {
    let mut base = [0u8; 20];
    base[0] = 0x45;
    for ds in 0..=255u8 {
        for csum in (0..=0xFFFFu32).step_by(257).chain([0, 1, 0xFFFE, 0xFFFF]) {
            for dscp in [0u8, 1, 10, 46, 63] {
                let mut f = base;
                f[1] = ds;
                f[10..12].copy_from_slice(&(csum as u16).to_be_bytes());
                let mut g = f;
                let offsets = MarkOffsets {
                    ip: 0,
                    vlan_tci: None,
                };
                let want = rewrite_dscp(&mut [&mut g[..]], Family::V4, &offsets, dscp);
                let got = rewrite_dscp_one(&mut f, Family::V4, 0, dscp);
                assert_eq!(got, want.ok(), "ds {ds:#x} csum {csum:#x} dscp {dscp}");
                assert_eq!(f, g, "ds {ds:#x} csum {csum:#x} dscp {dscp}");
            }
        }
    }
}

#[test]
fn marks_a_parsed_frame_end_to_end() {
    let maps = MarkMaps::default();
    let mut flow = FlowSpec::best_effort("voice");
    flow.service_type = ServiceType::Guaranteed;
    flow.dclass = Some(46);
    let marks = decide(&maps, &flow, true);

    // Tagged IPv4 frame, ECN CE: PCP goes in band.
    let link = Link::Tag(0, true, 42);
    let frame = packet_support::udp(
        &link,
        packet_support::ip4(packet_support::v4(0x03, 17)),
        1,
        2,
        b"x",
    );
    let p = parse(&[&frame], Framing::Ethernet).unwrap();
    for cut in 0..frame.len() {
        let mut buf = frame.clone();
        let (a, b) = buf.split_at_mut(cut);
        let applied = apply(&mut [a, b], p.key.family, &p.offsets, marks).unwrap();
        assert_eq!(
            applied,
            Applied {
                dscp_changed: true,
                pcp_changed: true,
                out_of_band_pcp: None
            }
        );
        let q = parse(&split_at(&buf, &[cut]), Framing::Ethernet).unwrap();
        assert_eq!((q.key.dscp, q.key.ecn), (46, 3));
        let tag = q.key.vlan.unwrap();
        assert_eq!((tag.pcp, tag.dei, tag.vid), (5, true, 42));
        assert_eq!(checksum(&buf[18..38]), 0);
    }

    // Untagged IPv6 frame: PCP is handed back for the out-of-band info.
    let frame = packet_support::tcp(
        &Link::Eth,
        packet_support::ip6(packet_support::v6(0x01)),
        1,
        2,
        b"",
    );
    let p = parse(&[&frame], Framing::Ethernet).unwrap();
    let mut buf = frame.clone();
    let applied = apply(&mut [&mut buf[..]], p.key.family, &p.offsets, marks).unwrap();
    assert_eq!(applied.out_of_band_pcp, Some(5));
    let oob = Ieee8021QInfo::with_priority(Ieee8021QInfo::new(0, false, 42).0, 5);
    assert_eq!(Ieee8021QInfo(oob).vlan_id(), 42);
    let q = parse(&[&buf], Framing::Ethernet).unwrap();
    assert_eq!((q.key.dscp, q.key.ecn), (46, 1));

    // ShapeOnly: the DSCP is left as the application set it.
    let none = Marks {
        dscp: None,
        pcp: Some(2),
    };
    let mut buf2 = buf.clone();
    apply(&mut [&mut buf2[..]], p.key.family, &p.offsets, none).unwrap();
    assert_eq!(buf2, buf);

    // "DSCP marking override = ignore": unclassified traffic goes to 0.
    assert_eq!(
        reset_dscp(&mut [&mut buf[..]], p.key.family, &p.offsets),
        Ok(true)
    );
    let q = parse(&[&buf], Framing::Ethernet).unwrap();
    assert_eq!((q.key.dscp, q.key.ecn), (0, 1));
    assert_eq!(
        reset_dscp(&mut [&mut buf[..]], p.key.family, &p.offsets),
        Ok(false)
    );
}

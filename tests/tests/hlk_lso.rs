//! HLK-style: TCP large sends (LSO V1 and V2, IPv4 and IPv6) against a
//! flow's MaxSduSize. The NIC cuts an LSO super-packet into MSS-sized
//! segments, each with its own copy of the IP and TCP headers, so the
//! driver sizes the NBL by those segments: MaxSduSize is compared with the
//! largest segment, and the flow is charged every segment's bytes.
//! NBLs of several NET_BUFFERs (no LSO) are one IP packet per NET_BUFFER.

use qos_engine::flow::{FlowSpec, SdMode, ServiceType};
use qos_engine::packet::Family;
use qos_engine::psched::{FlowStats, Limits};
use qoslwf::ffi::types::{NDIS_STATUS_FAILURE, NDIS_STATUS_SUCCESS};
use qoslwf::sim::{Adapter, TxPacket};
use qoslwf_tests::frames::{FrameSpec, ipv4_checksum_ok, tos_of};
use qoslwf_tests::hlk::{assert_clean, flow, loaded, port_filter, publish, unload_clean};

/// Link header of the test frames (Ethernet II, no tag).
const ETH: u32 = 14;
/// TCP header with 12 bytes of options (timestamps), as Windows sends.
const TCP_HDR: u32 = 32;

/// Flow 1 (Guaranteed, 1 GB/s, MaxSduSize 1500, DCLASS 46) for TCP to
/// port 5001 over IPv4 and IPv6, in `mode`.
fn publish_max_sdu(a: &Adapter, mode: SdMode) {
    let f = FlowSpec {
        max_sdu: Some(1500),
        ..flow(
            ServiceType::Guaranteed,
            Some(1_000_000_000),
            Some(mode),
            Some(46),
            Some(6),
        )
    };
    let filters = [
        port_filter(1, 1, Family::V4, false, 5001),
        port_filter(2, 1, Family::V6, false, 5001),
    ];
    publish(a, vec![(1, f)], &filters, Limits::default());
}

/// A TCP super-frame to port 5001 whose TCP header is [`TCP_HDR`] bytes
/// long and whose TCP payload (after the options) is `payload` bytes.
fn tcp_frame(v6: bool, payload: u32) -> Vec<u8> {
    let options = TCP_HDR - 20;
    let mut spec = FrameSpec::tcp4(7, 5001, (payload + options) as usize);
    if v6 {
        spec = FrameSpec {
            protocol: 6,
            ..FrameSpec::udp6(7, 5001, (payload + options) as usize)
        };
    }
    let mut f = spec.build();
    let tcp = (ETH + ip_len(v6)) as usize;
    assert_eq!(f[tcp + 12], 0x50, "FrameSpec's TCP header is 20 bytes");
    f[tcp + 12] = ((TCP_HDR / 4) as u8) << 4;
    f
}

fn ip_len(v6: bool) -> u32 {
    if v6 { 40 } else { 20 }
}

/// What the NIC puts on the wire for `payload` bytes cut at `mss`:
/// (IP packets, IP bytes, largest IP packet).
fn segments(v6: bool, payload: u32, mss: u32) -> (u64, u64, u32) {
    let headers = ip_len(v6) + TCP_HDR;
    let n = payload.div_ceil(mss);
    let bytes = u64::from(payload) + u64::from(n) * u64::from(headers);
    (u64::from(n), bytes, headers + mss.min(payload))
}

fn stats(a: &Adapter) -> FlowStats {
    a.module()
        .unwrap()
        .read(|d| d.scheduler().unwrap().flow_stats(0).unwrap())
}

fn lso_counters(a: &Adapter) -> (u64, u64) {
    let c = a.module().unwrap().read(|d| d.counters());
    (c.lso_sends, c.lso_bad_header)
}

/// One send; returns its completion status.
fn send_one(a: &Adapter, p: TxPacket) -> i32 {
    let ids = a.send(&[p], 0);
    let done = a.take_completions();
    assert_eq!(done.len(), 1, "completed at once");
    assert_eq!(done[0].id, ids[0]);
    done[0].status
}

#[test]
fn lso_with_mss_1448_conforms_to_max_sdu_1500_and_is_charged_per_segment_ipv4_and_ipv6() {
    let (sim, ads) = loaded(1);
    let a = &ads[0];
    publish_max_sdu(a, SdMode::Shape);
    // 44 full segments and one of 500 bytes.
    let payload = 44 * 1448 + 500;
    let mut want = (0u64, 0u64);
    let mut lso = 0;
    for (v6, mss) in [(false, 1448), (true, 1428)] {
        let tcp_offset = ETH + ip_len(v6);
        let f = tcp_frame(v6, payload);
        let (n, bytes, largest) = segments(v6, payload, mss);
        assert_eq!(largest, 1500, "a full segment is exactly MaxSduSize");
        let mut sends = vec![
            // Whole in one MDL, LSO V2.
            TxPacket::frame(&f).with_lso_v2(mss, tcp_offset, v6),
            // Headers split across MDLs: the TCP data offset byte lies in
            // the third MDL.
            TxPacket::split(&f, &[20, tcp_offset as usize + 5, 200])
                .with_lso_v2(mss, tcp_offset, v6),
        ];
        if !v6 {
            // LSO V1 is IPv4 only.
            sends.push(TxPacket::frame(&f).with_lso_v1(mss, tcp_offset));
        }
        for p in sends {
            assert_eq!(send_one(a, p), NDIS_STATUS_SUCCESS);
            lso += 1;
            want.0 += n;
            want.1 += bytes;
            let w = a.take_wire();
            assert_eq!(w.len(), 1, "sent down whole, as one NBL");
            let out = &w[0].frames[0];
            assert_eq!(out.len(), f.len());
            assert_eq!(tos_of(out, false).0, 46, "marked conforming (DCLASS)");
            if !v6 {
                assert!(ipv4_checksum_ok(out, false));
            }
        }
        let s = stats(a);
        assert_eq!(s.packets_transmitted, want.0, "IP packets on the wire");
        assert_eq!(s.bytes_transmitted, want.1, "every segment's headers");
        assert_eq!(s.nonconforming_packets_transmitted, 0);
        assert_eq!(s.dropped_packets, 0);
        assert_eq!(lso_counters(a), (lso, 0));
    }
    assert_clean(&sim, &ads);
    unload_clean(sim);
}

#[test]
fn lso_whose_segments_exceed_max_sdu_is_nonconforming_ipv4_and_ipv6() {
    for v6 in [false, true] {
        let tcp_offset = ETH + ip_len(v6);
        // One byte more MSS than 1500 allows.
        let mss = 1500 - ip_len(v6) - TCP_HDR + 1;
        let payload = 20 * mss;
        let f = tcp_frame(v6, payload);
        let (n, bytes, largest) = segments(v6, payload, mss);
        assert_eq!(largest, 1501);

        // Borrow: sent, but non-conforming (non-conforming DSCP 0).
        let (sim, ads) = loaded(1);
        let a = &ads[0];
        publish_max_sdu(a, SdMode::Borrow);
        let p = TxPacket::frame(&f).with_lso_v2(mss, tcp_offset, v6);
        assert_eq!(send_one(a, p), NDIS_STATUS_SUCCESS);
        let w = a.take_wire();
        assert_eq!(w.len(), 1);
        assert_eq!(tos_of(&w[0].frames[0], false).0, 0, "non-conforming DSCP");
        let s = stats(a);
        assert_eq!(s.nonconforming_packets_transmitted, n, "v6 {v6}");
        assert_eq!(s.packets_transmitted, n);
        assert_eq!(s.bytes_transmitted, bytes);
        assert_clean(&sim, &ads);
        unload_clean(sim);

        // Shape: it can never conform, so it is dropped (FAILURE), counted
        // as over MaxSduSize for each of its IP packets.
        let (sim, ads) = loaded(1);
        let a = &ads[0];
        publish_max_sdu(a, SdMode::Shape);
        let p = TxPacket::frame(&f).with_lso_v2(mss, tcp_offset, v6);
        assert_eq!(send_one(a, p), NDIS_STATUS_FAILURE);
        assert!(a.take_wire().is_empty());
        let s = stats(a);
        assert_eq!(s.drops.over_max_sdu, n, "v6 {v6}");
        assert_eq!(s.packets_transmitted, 0);
        assert_eq!(lso_counters(a), (1, 0));
        assert_clean(&sim, &ads);
        unload_clean(sim);
    }
}

#[test]
fn lso_with_an_unusable_tcp_header_offset_is_sized_whole_and_counted() {
    let (sim, ads) = loaded(1);
    let a = &ads[0];
    publish_max_sdu(a, SdMode::Shape);
    let f = tcp_frame(false, 10 * 1448);
    // TcpHeaderOffset inside the IP header: the 14,566 IP bytes are taken
    // as one packet, over MaxSduSize.
    for offset in [0, ETH + 10] {
        let p = TxPacket::frame(&f).with_lso_v2(1448, offset, false);
        assert_eq!(send_one(a, p), NDIS_STATUS_FAILURE, "offset {offset}");
    }
    // A TCP header whose data offset is below 5 words.
    let mut bad = f.clone();
    bad[(ETH + 20 + 12) as usize] = 0x40;
    let p = TxPacket::frame(&bad).with_lso_v2(1448, ETH + 20, false);
    assert_eq!(send_one(a, p), NDIS_STATUS_FAILURE);
    // A TCP header past the end of a small frame: one packet within
    // MaxSduSize, sent.
    let small = tcp_frame(false, 900);
    let p = TxPacket::frame(&small).with_lso_v2(536, 1000, false);
    assert_eq!(send_one(a, p), NDIS_STATUS_SUCCESS);
    assert_eq!(a.take_wire().len(), 1);
    // Without LSO, the super-frame is one packet over MaxSduSize.
    assert_eq!(send_one(a, TxPacket::frame(&f)), NDIS_STATUS_FAILURE);
    assert_eq!(lso_counters(a), (0, 4));
    assert_eq!(stats(a).drops.over_max_sdu, 4);
    assert_eq!(stats(a).packets_transmitted, 1);
    // An LSO request on UDP is not a TCP large send: ignored.
    let udp = FrameSpec::udp4(7, 5001, 1000).build();
    let p = TxPacket::frame(&udp).with_lso_v2(536, ETH + 20, false);
    let before = lso_counters(a);
    a.send(&[p], 0);
    a.take_completions();
    assert_eq!(lso_counters(a), before);
    assert_clean(&sim, &ads);
    unload_clean(sim);
}

#[test]
fn nbl_of_many_net_buffers_is_one_ip_packet_per_net_buffer_against_max_sdu() {
    let (sim, ads) = loaded(1);
    let a = &ads[0];
    publish_max_sdu(a, SdMode::Shape);
    // Eight 1500-byte IP packets in one NBL: each is within MaxSduSize,
    // although the NBL carries 12,000 IP bytes.
    let seg = FrameSpec::tcp4(7, 5001, 1460).build();
    assert_eq!(seg.len() as u32 - ETH, 1500);
    let segs: Vec<&[u8]> = (0..8).map(|_| seg.as_slice()).collect();
    assert_eq!(send_one(a, TxPacket::multi(&segs)), NDIS_STATUS_SUCCESS);
    let w = a.take_wire();
    assert_eq!(w[0].frames.len(), 8);
    let s = stats(a);
    assert_eq!(s.packets_transmitted, 8);
    assert_eq!(s.bytes_transmitted, 8 * 1500);
    // One NET_BUFFER of 1501 IP bytes among them makes the NBL exceed it.
    let big = FrameSpec::tcp4(7, 5001, 1461).build();
    let segs: Vec<&[u8]> = vec![seg.as_slice(), big.as_slice(), seg.as_slice()];
    assert_eq!(send_one(a, TxPacket::multi(&segs)), NDIS_STATUS_FAILURE);
    assert_eq!(stats(a).drops.over_max_sdu, 3);
    assert_eq!(lso_counters(a), (0, 0));
    assert_clean(&sim, &ads);
    unload_clean(sim);
}

/// Brute force: cut the TCP payload into MSS pieces as the NIC does and
/// add up the IP packets.
fn brute_force(v6: bool, tcp_hdr: u32, payload: u32, mss: u32) -> (u64, u64, u32) {
    let headers = ip_len(v6) + tcp_hdr;
    let (mut n, mut bytes, mut largest) = (0u64, 0u64, 0u32);
    let mut left = payload;
    loop {
        let take = left.min(mss);
        n += 1;
        bytes += u64::from(headers + take);
        largest = largest.max(headers + take);
        left -= take;
        if left == 0 {
            break;
        }
    }
    (n, bytes, largest)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any family, TCP header length, payload, MSS and MDL split: the flow
    /// is charged exactly the IP packets and bytes a brute-force
    /// segmentation gives, and the send conforms iff its largest segment
    /// is within MaxSduSize (borrow mode: non-conforming otherwise).
    #[test]
    fn lso_charges_what_a_brute_force_segmentation_puts_on_the_wire(
        v6 in proptest::bool::ANY,
        words in 5u32..=15,
        payload in 1u32..40_000,
        mss in 500u32..1600,
        cuts in proptest::collection::vec(0usize..120, 0..4),
    ) {
        let tcp_hdr = words * 4;
        let options = tcp_hdr - 20;
        let spec = if v6 {
            FrameSpec { protocol: 6, ..FrameSpec::udp6(7, 5001, (payload + options) as usize) }
        } else {
            FrameSpec::tcp4(7, 5001, (payload + options) as usize)
        };
        let mut f = spec.build();
        let tcp = (ETH + ip_len(v6)) as usize;
        f[tcp + 12] = (words as u8) << 4;
        let mut cuts = cuts;
        cuts.sort_unstable();
        let (sim, ads) = loaded(1);
        let a = &ads[0];
        publish_max_sdu(a, SdMode::Borrow);
        let p = TxPacket::split(&f, &cuts).with_lso_v2(mss, tcp as u32, v6);
        proptest::prop_assert_eq!(send_one(a, p), NDIS_STATUS_SUCCESS);
        let (n, bytes, largest) = brute_force(v6, tcp_hdr, payload, mss);
        let s = stats(a);
        proptest::prop_assert_eq!(s.packets_transmitted, n);
        proptest::prop_assert_eq!(s.bytes_transmitted, bytes);
        let nonconforming = if largest > 1500 { n } else { 0 };
        proptest::prop_assert_eq!(s.nonconforming_packets_transmitted, nonconforming);
        proptest::prop_assert_eq!(lso_counters(a), (1, 0));
        assert_clean(&sim, &ads);
        unload_clean(sim);
    }
}

//! Segmented (LSO) sends: `SendSize::tcp_lso` against a brute-force
//! segmentation, and the scheduler's treatment of a send of several IP
//! packets (MaxSduSize on the largest packet, MinimumPolicedSize per packet,
//! statistics in IP packets and bytes).

use proptest::prelude::*;
use qos_engine::flow::{FlowSpec, SdMode, ServiceType};
use qos_engine::psched::{DropReason, Limits, Scheduler, SendSize};
use qos_engine::time::TICKS_PER_SEC;

/// Cuts the payload into MSS-sized segments one by one, as a NIC does, and
/// adds up what reaches the wire.
fn brute_force(frame_len: u32, ip_offset: u32, headers: u32, mss: u32) -> SendSize {
    let ip_len = frame_len.saturating_sub(ip_offset);
    if ip_len < headers || mss == 0 {
        return SendSize::single(ip_len);
    }
    let mut left = ip_len - headers;
    let (mut total, mut largest, mut packets) = (0u64, 0u32, 0u32);
    loop {
        let seg = left.min(mss);
        total += u64::from(headers + seg);
        largest = largest.max(headers + seg);
        packets += 1;
        left -= seg;
        if left == 0 {
            break;
        }
    }
    SendSize {
        ip_bytes: u32::try_from(total).unwrap(),
        largest_ip_packet: largest,
        packets,
    }
}

proptest! {
    #[test]
    fn tcp_lso_matches_brute_force_segmentation(
        payload in 0u32..300_000,
        ip_offset in prop_oneof![Just(14u32), Just(18), Just(0), 0u32..40],
        headers in prop_oneof![Just(40u32), Just(52), Just(60), Just(72), 20u32..120],
        mss in prop_oneof![Just(1448u32), Just(1460), Just(8948), 1u32..2000],
    ) {
        let frame = ip_offset + headers + payload;
        let got = SendSize::tcp_lso(frame, ip_offset, headers, mss);
        prop_assert_eq!(got, brute_force(frame, ip_offset, headers, mss));
        prop_assert_eq!(got.normalized(), got);
    }

    /// Any short frame (shorter than its headers) is one packet.
    #[test]
    fn tcp_lso_short_frames(frame in 0u32..200, ip_offset in 0u32..40, headers in 0u32..200, mss in 0u32..2000) {
        let got = SendSize::tcp_lso(frame, ip_offset, headers, mss);
        prop_assert_eq!(got, brute_force(frame, ip_offset, headers, mss));
    }

    /// The charge is max(ip_bytes, packets * min_policed): the sum over the
    /// segments of max(segment, min_policed) whenever min_policed <= MSS
    /// headers included (every segment but the last is then at least
    /// min_policed, and the last one is counted in both).
    #[test]
    fn charge_is_per_packet_floor(
        payload in 1u32..100_000, headers in 40u32..80, mss in 500u32..2000, mps in 0u32..500,
    ) {
        let s = SendSize::tcp_lso(14 + headers + payload, 14, headers, mss);
        let mut per_packet = 0u64;
        let mut left = payload;
        while left > 0 {
            let seg = left.min(mss);
            per_packet += u64::from((headers + seg).max(mps));
            left -= seg;
        }
        prop_assert!(u64::from(s.charge(mps)) <= per_packet);
        prop_assert!(u64::from(s.charge(mps)) >= per_packet.saturating_sub(u64::from(mps)));
        prop_assert_eq!(u64::from(s.charge(0)), per_packet.min(u64::from(s.ip_bytes)));
    }
}

fn sched(spec: FlowSpec) -> Scheduler<u32> {
    let mut s = Scheduler::new(Limits {
        queue_packets: 64,
        queue_bytes: 1 << 24,
        max_outstanding: 1000,
    })
    .unwrap();
    s.reconfigure(0, &[(1, spec)]).unwrap();
    s
}

fn flow(mode: SdMode, rate: u64, bucket: u64) -> FlowSpec {
    FlowSpec {
        service_type: ServiceType::ControlledLoad,
        token_rate: Some(rate),
        bucket,
        mode: Some(mode),
        max_sdu: Some(1500),
        ..FlowSpec::best_effort("lso")
    }
}

/// 64000 payload bytes at MSS 1448 behind 52 bytes of headers: 45 packets,
/// 66340 IP bytes, largest 1500.
fn lso64k() -> SendSize {
    SendSize::tcp_lso(14 + 52 + 64_000, 14, 52, 1448)
}

#[test]
fn max_sdu_applies_to_the_largest_segment() {
    for mode in [SdMode::Shape, SdMode::Discard, SdMode::Borrow] {
        let mut s = sched(flow(mode, 1_000_000, 100_000));
        // As one 66 KB packet it is over MaxSdu ...
        let whole = s.enqueue(0, Some(0), lso64k().ip_bytes, 1);
        match mode {
            SdMode::Borrow => {
                assert!(whole.is_ok());
                assert!(!s.dequeue(0).unwrap().conforming);
            }
            _ => assert_eq!(whole.unwrap_err().1, DropReason::OverMaxSdu),
        }
        // ... described as segments it conforms.
        s.enqueue_sized(0, Some(0), lso64k(), 2).unwrap();
        let r = s.dequeue(0).unwrap();
        assert_eq!((r.pkt, r.conforming, r.flow), (2, true, Some(0)));
        // A segment over MaxSdu (jumbo MSS) still makes it non-conforming.
        let jumbo = SendSize::tcp_lso(14 + 52 + 64_000, 14, 52, 8948);
        let got = s.enqueue_sized(0, Some(0), jumbo, 3);
        match mode {
            SdMode::Borrow => assert!(!s.dequeue(0).unwrap().conforming),
            _ => assert_eq!(got.unwrap_err().1, DropReason::OverMaxSdu),
        }
    }
}

#[test]
fn min_policed_is_charged_per_segment() {
    // 100 kB/s, 10 kB bucket, MinimumPolicedSize 1000: a send of 8 segments
    // of 100 IP bytes is charged 8000 bytes, not 800.
    let mut spec = flow(SdMode::Shape, 100_000, 10_000);
    spec.min_policed = 1000;
    let mut s = sched(spec);
    let small = SendSize {
        ip_bytes: 800,
        largest_ip_packet: 100,
        packets: 8,
    };
    s.enqueue_sized(0, Some(0), small, 1).unwrap();
    assert_eq!(s.dequeue(0).unwrap().pkt, 1);
    // 2000 bytes of credit left: the next one waits for 6000 more, 60 ms.
    s.enqueue_sized(0, Some(0), small, 2).unwrap();
    assert!(s.dequeue(0).is_none());
    assert_eq!(s.next_event(), Some(TICKS_PER_SEC * 6 / 100));
    assert_eq!(s.dequeue(TICKS_PER_SEC * 6 / 100).unwrap().pkt, 2);
}

#[test]
fn statistics_count_ip_packets_and_bytes() {
    let mut s = sched(flow(SdMode::Discard, 100_000, 70_000));
    let size = lso64k();
    s.enqueue_sized(0, Some(0), size, 1).unwrap();
    s.dequeue(0).unwrap();
    // The bucket is spent: the second send does not conform and is dropped.
    let (_, why) = s.enqueue_sized(0, Some(0), size, 2).unwrap_err();
    assert_eq!(why, DropReason::Nonconforming);
    let st = s.flow_stats(0).unwrap();
    assert_eq!(st.packets_scheduled, 45);
    assert_eq!(st.packets_transmitted, 45);
    assert_eq!(st.bytes_scheduled, u64::from(size.ip_bytes));
    assert_eq!(st.bytes_transmitted, u64::from(size.ip_bytes));
    assert_eq!(st.dropped_packets, 45);
    assert_eq!(st.drops.nonconforming, 45);
    assert_eq!(s.stats().adapter.drops.total(), 45);
    // Occupancy counts sends.
    assert_eq!(s.stats().sequencer.max_packets_in_sequencer, 1);
    assert_eq!(s.stats().sequencer.max_packets_in_netcard, 1);
}

#[test]
fn enqueue_is_one_packet() {
    let mut a = sched(flow(SdMode::Shape, 10_000, 3000));
    let mut b = sched(flow(SdMode::Shape, 10_000, 3000));
    for i in 0..20u32 {
        let bytes = 100 + i * 70;
        let ra = a.enqueue(0, Some(0), bytes, i).map_err(|e| e.1);
        let rb = b
            .enqueue_sized(0, Some(0), SendSize::single(bytes), i)
            .map_err(|e| e.1);
        assert_eq!(ra, rb);
    }
    for t in 0..40u64 {
        let now = t * TICKS_PER_SEC / 10;
        loop {
            let (x, y) = (a.dequeue(now), b.dequeue(now));
            assert_eq!(x, y);
            if x.is_none() {
                break;
            }
        }
        assert_eq!(a.next_event(), b.next_event());
    }
    assert_eq!(a.flow_stats(0), b.flow_stats(0));
}

//! HLK-style: the send path with the engine: marks on the wire (DSCP with
//! ECN kept, valid IPv4 checksum, IPv6 too, 802.1Q info), shaping held by
//! the timer, LSO / many NET_BUFFERs / MDL chains split at every offset,
//! cancel by id, link speed changes while shaping, pause with full queues.

use qos_engine::psched::Limits;
use qoslwf::ffi::types::*;
use qoslwf::sim::TxPacket;
use qoslwf_tests::frames::{FrameSpec, ipv4_checksum_ok, pcp_of_info, tos_of, vlan_of_info};
use qoslwf_tests::hlk::{assert_clean, loaded, publish_shaped, unload_clean};

const SEC: u64 = 10_000_000;

#[test]
fn marks_on_the_wire_keep_ecn_fix_the_checksum_and_set_8021q_priority() {
    let (sim, ads) = loaded(1);
    let a = &ads[0];
    publish_shaped(a, 1_000_000_000, Limits::default());
    for ecn in 0..4u8 {
        for spec in [FrameSpec::udp4(7, 5001, 200), FrameSpec::udp6(7, 5001, 200)] {
            let f = spec.tos(10, ecn).build();
            // VLAN 42 in the out-of-band info must be kept.
            a.send(&[TxPacket::frame(&f).with_8021q(42 << 4)], 0);
            let w = a.take_wire();
            assert_eq!(w.len(), 1);
            let out = &w[0].frames[0];
            assert_eq!(tos_of(out, false), (46, ecn), "DSCP 46 with ECN {ecn} kept");
            assert!(ipv4_checksum_ok(out, false), "IPv4 header checksum valid");
            assert_eq!(pcp_of_info(w[0].ieee8021q), 6);
            assert_eq!(vlan_of_info(w[0].ieee8021q), 42);
            // Nothing else changed.
            let o = qoslwf_tests::frames::ip_offset(out, false);
            assert_eq!(out[o + 12..], f[o + 12..]);
        }
    }
    // Unmatched traffic is untouched.
    let f = FrameSpec::udp4(7, 9999, 50).tos(3, 1).build();
    a.send(&[TxPacket::frame(&f)], 0);
    assert_eq!(a.take_wire()[0].frames[0], f);
    // In-band tagged frames get the PCP in the tag.
    let mut spec = FrameSpec::udp4(7, 5001, 60);
    spec.vlan = Some((100, 0));
    a.send(&[TxPacket::frame(&spec.build())], 0);
    let w = a.take_wire();
    let out = &w[0].frames[0];
    assert_eq!(out[14] >> 5, 6, "in-band PCP");
    assert_eq!(u16::from_be_bytes([out[14], out[15]]) & 0xfff, 100);
    assert_eq!(tos_of(out, false).0, 46);
    assert!(ipv4_checksum_ok(out, false));
    assert_clean(&sim, &ads);
    unload_clean(sim);
}

#[test]
fn headers_split_across_mdls_at_every_offset_are_marked_correctly() {
    let (sim, ads) = loaded(1);
    let a = &ads[0];
    publish_shaped(a, 1_000_000_000, Limits::default());
    for spec in [FrameSpec::tcp4(7, 5001, 40), FrameSpec::udp6(7, 5001, 40)] {
        let f = spec.tos(0, 2).build();
        for cut in 0..=f.len() {
            for head_room in [0u32, 3] {
                let p = TxPacket::split(&f, &[cut]).with_head_room(head_room);
                a.send(&[p], 0);
                let w = a.take_wire();
                let out = &w[0].frames[0];
                assert_eq!(tos_of(out, false), (46, 2), "cut {cut} room {head_room}");
                assert!(ipv4_checksum_ok(out, false), "cut {cut}");
            }
        }
        // Three-way splits too.
        for c1 in (0..60).step_by(7) {
            a.send(&[TxPacket::split(&f, &[c1, c1 + 1, c1 + 5])], 0);
            let out = &a.take_wire()[0].frames[0];
            assert_eq!(tos_of(out, false), (46, 2), "cuts at {c1}");
        }
    }
    let c = a.module().unwrap().read(|d| d.counters());
    assert_eq!(c.mark_errors, 0);
    assert_clean(&sim, &ads);
    unload_clean(sim);
}

#[test]
fn lso_sends_and_nbls_with_many_net_buffers_are_one_unit_and_all_marked() {
    let (sim, ads) = loaded(1);
    let a = &ads[0];
    publish_shaped(a, 1_000_000_000, Limits::default());
    // An LSO super-packet of 60 KB (larger than the MTU).
    let big = FrameSpec::tcp4(7, 5001, 60_000).build();
    // LSO V2, MSS 1448, TCP header at 34 (after Ethernet and IPv4).
    let lso = TxPacket::split(&big, &[54, 1500, 30_000]).with_lso_v2(1448, 34, false);
    // An NBL with 8 NET_BUFFERs.
    let seg = FrameSpec::tcp4(7, 5001, 1400).tos(0, 1).build();
    let segs: Vec<&[u8]> = (0..8).map(|_| seg.as_slice()).collect();
    let multi = TxPacket::multi(&segs);
    a.send(&[lso, multi], 0);
    let w = a.take_wire();
    assert_eq!(w.len(), 2);
    assert_eq!(w[0].frames.len(), 1);
    assert_eq!(w[0].frames[0].len(), big.len());
    assert_eq!(tos_of(&w[0].frames[0], false).0, 46);
    assert_eq!(w[1].frames.len(), 8);
    for f in &w[1].frames {
        assert_eq!(tos_of(f, false), (46, 1));
        assert!(ipv4_checksum_ok(f, false));
    }
    let m = a.module().unwrap();
    let bytes = m.read(|d| {
        d.scheduler()
            .unwrap()
            .flow_stats(0)
            .unwrap()
            .bytes_transmitted
    });
    // The LSO send is charged as the 42 segments the NIC makes of its
    // 60,000 payload bytes, each with its 40 bytes of IP + TCP headers.
    assert_eq!(bytes, (60_000 + 42 * 40 + 8 * (seg.len() - 14)) as u64);
    drop(m);
    assert_clean(&sim, &ads);
    unload_clean(sim);
}

#[test]
fn shaped_flow_is_held_and_released_by_the_timer_at_its_rate() {
    let (sim, ads) = loaded(1);
    let a = &ads[0];
    // 100 kB/s; 1000-byte IP packets: about 100 per second.
    publish_shaped(a, 100_000, Limits::default());
    let f = FrameSpec::udp4(7, 5001, 1000 - 28).build();
    let pkts: Vec<TxPacket> = (0..300).map(|_| TxPacket::frame(&f)).collect();
    a.send(&pkts, 0);
    let first = a.take_wire().len();
    assert!(first < 30, "only the bucket's burst goes at once ({first})");
    assert!(sim.armed_timers() >= 1, "timer armed for the shaper");
    sim.advance(SEC);
    let after_1s = first + a.take_wire().len();
    assert!(
        (95..=125).contains(&after_1s),
        "about 100 + burst in 1 s: {after_1s}"
    );
    sim.advance(3 * SEC);
    assert_eq!(after_1s + a.take_wire().len(), 300);
    assert_eq!(a.take_completions().len(), 300);
    assert_clean(&sim, &ads);
    unload_clean(sim);
}

#[test]
fn cancel_by_id_aborts_held_nbls_only_and_passes_down() {
    let (sim, ads) = loaded(1);
    let a = &ads[0];
    publish_shaped(a, 10_000, Limits::default());
    let shaped = FrameSpec::udp4(7, 5001, 972).build();
    let other = FrameSpec::udp4(7, 80, 972).build();
    let mut pkts = Vec::new();
    for i in 0..40usize {
        pkts.push(TxPacket::frame(&shaped).with_cancel_id(0x100 + i % 2));
    }
    pkts.push(TxPacket::frame(&other).with_cancel_id(0x100));
    let ids = a.send(&pkts, 0);
    let sent: Vec<u64> = a.take_wire().iter().map(|w| w.id).collect();
    a.cancel(0x100);
    assert_eq!(a.cancels_down(), vec![0x100]);
    let c = a.take_completions();
    let aborted: Vec<u64> = c
        .iter()
        .filter(|c| c.status == NDIS_STATUS_SEND_ABORTED)
        .map(|c| c.id)
        .collect();
    for id in &aborted {
        let i = ids.iter().position(|x| x == id).unwrap();
        assert_eq!(i % 2, 0, "only cancel id 0x100 aborted");
        assert!(!sent.contains(id), "a sent NBL cannot be aborted");
    }
    let held_even = (0..40)
        .filter(|i| i % 2 == 0 && !sent.contains(&ids[*i]))
        .count();
    assert_eq!(aborted.len(), held_even);
    // The rest still goes out.
    sim.advance(10 * SEC);
    let total = a.completion_counts().values().sum::<u64>();
    assert_eq!(total, 41);
    assert_clean(&sim, &ads);
    unload_clean(sim);
}

#[test]
fn link_speed_changes_while_shaping_keep_every_nbl_accounted() {
    let (sim, ads) = loaded(1);
    let a = &ads[0];
    publish_shaped(a, 50_000, Limits::default());
    let f = FrameSpec::udp4(7, 5001, 472).build();
    for round in 0..20u64 {
        let pkts: Vec<TxPacket> = (0..20).map(|_| TxPacket::frame(&f)).collect();
        a.send(&pkts, 0);
        a.link_state(if round % 2 == 0 {
            10_000_000
        } else {
            1_000_000_000
        });
        sim.advance(SEC / 10);
    }
    let m = a.module().unwrap();
    assert_eq!(
        m.link_speed.load(std::sync::atomic::Ordering::Relaxed),
        1_000_000_000
    );
    assert_eq!(m.read(|d| d.link_speed()), 1_000_000_000);
    drop(m);
    sim.advance(60 * SEC);
    assert_eq!(a.completion_counts().values().sum::<u64>(), 400);
    assert_clean(&sim, &ads);
    unload_clean(sim);
}

#[test]
fn pause_with_full_shaper_queues_completes_held_nbls_with_paused() {
    let (sim, ads) = loaded(1);
    let a = &ads[0];
    publish_shaped(a, 10_000, Limits::default());
    a.set_miniport_hold(true);
    let f = FrameSpec::udp4(7, 5001, 972).build();
    let ids = a.send(&(0..50).map(|_| TxPacket::frame(&f)).collect::<Vec<_>>(), 0);
    let below = a.miniport_held();
    assert!(below > 0 && below < 50);
    assert_eq!(a.pause(), NDIS_STATUS_PENDING);
    assert_eq!(sim.armed_timers(), 0, "timer cancelled at pause");
    let c = a.take_completions();
    assert_eq!(c.len(), 50 - below);
    assert!(c.iter().all(|c| c.status == NDIS_STATUS_PAUSED));
    a.complete_held(usize::MAX);
    assert!(a.is_paused());
    let c = a.take_completions();
    assert_eq!(c.len(), below);
    assert!(c.iter().all(|c| c.status == NDIS_STATUS_SUCCESS));
    assert_eq!(
        a.completion_counts().values().sum::<u64>(),
        ids.len() as u64
    );
    assert_eq!(a.restart(), 0);
    a.set_miniport_hold(false);
    a.send(&[TxPacket::frame(&f)], 0);
    sim.advance(SEC);
    assert_eq!(a.completion_counts().values().sum::<u64>(), 51);
    assert_clean(&sim, &ads);
    unload_clean(sim);
}

#[test]
fn queue_limits_drop_with_resources_and_count() {
    let (sim, ads) = loaded(1);
    let a = &ads[0];
    let limits = Limits {
        queue_packets: 16,
        queue_bytes: 1 << 20,
        max_outstanding: 65535,
    };
    publish_shaped(a, 1_000, limits);
    let f = FrameSpec::udp4(7, 5001, 472).build();
    a.send(&(0..40).map(|_| TxPacket::frame(&f)).collect::<Vec<_>>(), 0);
    let counts = a.completion_counts();
    let dropped = counts.get(&NDIS_STATUS_RESOURCES).copied().unwrap_or(0);
    assert!(dropped >= 20, "over the flow's share: {counts:?}");
    let m = a.module().unwrap();
    assert_eq!(m.read(|d| d.counters().dropped), dropped);
    drop(m);
    assert_eq!(a.pause(), NDIS_STATUS_SUCCESS);
    assert_eq!(a.completion_counts().values().sum::<u64>(), 40);
    assert_clean(&sim, &ads);
    unload_clean(sim);
}

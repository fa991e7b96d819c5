//! Parsing and marking never allocate: `parse`, `decide`, `apply`,
//! `rewrite_dscp`, `rewrite_pcp` run under a counting global allocator over
//! every golden frame kind, whole and split, plus truncated and random
//! frames.

mod packet_support;

use packet_support::*;
use qos_engine::flow::{FlowSpec, ServiceType};
use qos_engine::mark::{MarkMaps, apply, decide, rewrite_dscp, rewrite_pcp};
use qos_engine::packet::{Framing, parse};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[test]
fn parse_and_mark_never_allocate() {
    let chain = cat(&[
        &opts_bytes(44, 0),
        &frag_bytes(51, 0, true),
        &ah_bytes(6, 1),
        &tcp_bytes(1, 2),
    ]);
    let frames = [
        (
            tcp(&Link::Eth, ip4(v4(0xB9, 6)), 1, 2, b"x"),
            Framing::Ethernet,
        ),
        (
            udp(&Link::Tag(3, true, 7), ip4(v4(0, 17)), 1, 2, b"x"),
            Framing::Ethernet,
        ),
        (
            icmp(&Link::Tags((1, false, 2), (3, true, 4)), ip6(v6(1)), 128, 0),
            Framing::Ethernet,
        ),
        (v6_chain(&Link::Eth, 0x20, 0, &chain), Framing::Ethernet),
        (tcp(&Link::Raw, ip6(v6(0)), 1, 2, b""), Framing::RawIp),
        (vec![0x55; 64], Framing::Ethernet),
    ];
    let maps = MarkMaps::default();
    let mut flow = FlowSpec::best_effort("f");
    flow.service_type = ServiceType::ControlledLoad;
    let mut work: Vec<Vec<u8>> = frames.iter().map(|(f, _)| f.clone()).collect();

    counting_alloc::start();
    for ((f, framing), buf) in frames.iter().zip(work.iter_mut()) {
        for cut in 0..=f.len() {
            let (a, b) = f.split_at(cut);
            let _ = parse(&[a, b], *framing);
            let _ = parse(&[&f[..cut]], *framing);
            let (a, b) = buf.split_at_mut(cut);
            let mut parts = [a, b];
            if let Ok(p) = parse(&[f], *framing) {
                let marks = decide(&maps, &flow, cut % 2 == 0);
                let _ = apply(&mut parts, p.key.family, &p.offsets, marks);
                let _ = rewrite_dscp(&mut parts, p.key.family, &p.offsets, 0);
                let _ = rewrite_pcp(&mut parts, &p.offsets, 2);
            }
        }
    }
    let allocs = counting_alloc::stop();
    assert_eq!(allocs, 0);
}

//! Parsing and marking never allocate: `parse`, `decide`, `apply`,
//! `rewrite_dscp`, `rewrite_pcp` run under a counting global allocator over
//! every golden frame kind, whole and split, plus truncated and random
//! frames.

mod packet_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use packet_support::*;
use qos_engine::flow::{FlowSpec, ServiceType};
use qos_engine::mark::{MarkMaps, apply, decide, rewrite_dscp, rewrite_pcp};
use qos_engine::packet::{Framing, parse};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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

    COUNTING.store(true, Ordering::SeqCst);
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
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(ALLOCS.load(Ordering::SeqCst), 0);
}

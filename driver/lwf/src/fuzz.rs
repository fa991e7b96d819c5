//! The send-path fuzz body (host only, feature `fuzzing`): untrusted frame
//! bytes through the real driver on the simulated NDIS. Shared by the
//! cargo-fuzz target (driver/lwf/fuzz, target `send`) and a stable test
//! that runs it over pseudo-random inputs.
//!
//! The input decodes into a configuration (flows in every shape / borrow /
//! discard mode with or without MaxSduSize, filters on them, scheduler
//! limits) and then a sequence of steps: chains of NBLs built from
//! arbitrary frame bytes (mutated TCP/UDP frames over IPv4/IPv6 or raw
//! bytes), arbitrary MDL split points and NET_BUFFER counts, arbitrary
//! TcpLargeSendNetBufferListInfo values (V1, V2 or garbage), time steps,
//! miniport holds and completions in any amount, cancels, link changes and
//! pause / restart. It asserts what NDIS requires of a filter: no panic, no
//! rule violation the simulated NDIS records, every NBL completed exactly
//! once, the driver's counters consistent with the completions, nothing
//! held after pause, and nothing NDIS-allocated left after detach and
//! unload. Panics (assertions) are the point: it is never built into the
//! driver.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use crate::ffi::types::*;
use crate::sim::{AdapterSpec, Live, Sim, TxPacket};
use alloc::sync::Arc;
use alloc::vec::Vec;
use qos_engine::flow::{FlowSpec, SdMode, ServiceType};
use qos_engine::gpc::{DEFAULT_PRECEDENCE, Filter, PortRange, Prefix, ProtocolMatch};
use qos_engine::mark::MarkMaps;
use qos_engine::packet::Family;
use qos_engine::psched::Limits;

/// Steps decoded from one input at most (keeps one run short).
const MAX_STEPS: usize = 48;
/// Frame bytes taken from the input at most (raw frames).
const MAX_RAW: usize = 256;

/// Reads the input; past its end every read is zero.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from(self.u16()) | (u32::from(self.u16()) << 16)
    }
    fn usize(&mut self) -> usize {
        (u64::from(self.u32()) | (u64::from(self.u32()) << 32)) as usize
    }
    fn below(&mut self, n: u8) -> u8 {
        self.u8() % n
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The destination ports the filters and frames pick from (so that
/// frames match filters often).
const PORTS: [u16; 3] = [5001, 80, 443];

fn flow_spec(inp: &mut Input<'_>) -> FlowSpec {
    let mode = match inp.below(5) {
        0 => Some(SdMode::Borrow),
        1 => Some(SdMode::Shape),
        2 => Some(SdMode::Discard),
        3 => Some(SdMode::BorrowPlus),
        _ => None,
    };
    let service_type = match inp.below(5) {
        0 => ServiceType::BestEffort,
        1 => ServiceType::ControlledLoad,
        2 => ServiceType::Guaranteed,
        3 => ServiceType::NetworkControl,
        _ => ServiceType::Qualitative,
    };
    let rate = match inp.below(4) {
        0 => None,
        1 => Some(1_000 + u64::from(inp.u16())),
        2 => Some(100_000 + u64::from(inp.u16()) * 100),
        _ => Some(1_000_000_000),
    };
    let max_sdu = match inp.below(3) {
        0 => None,
        1 => Some(1500),
        _ => Some(u32::from(inp.u16())),
    };
    FlowSpec {
        name: "fuzz".into(),
        service_type,
        token_rate: rate,
        bucket: rate.map_or(0, |r| (r / 10).max(1600)),
        peak_rate: None,
        max_sdu,
        min_policed: 0,
        mode,
        dclass: (inp.u8() < 200).then(|| inp.below(64)),
        tclass: (inp.u8() < 128).then(|| inp.below(8)),
        shaping: None,
    }
}

fn filter(inp: &mut Input<'_>, id: u32, flow: u32) -> Filter {
    let family = if inp.below(2) == 0 {
        Family::V4
    } else {
        Family::V6
    };
    let protocol = match inp.below(4) {
        0 => ProtocolMatch::Tcp,
        1 => ProtocolMatch::Udp,
        2 => ProtocolMatch::TcpOrUdp,
        _ => ProtocolMatch::Any,
    };
    let dst_ports = if protocol == ProtocolMatch::Any {
        PortRange::ANY
    } else {
        PortRange::single(PORTS[usize::from(inp.below(3))])
    };
    Filter {
        id,
        flow,
        family,
        src: Prefix::ANY,
        dst: Prefix::ANY,
        src_ports: PortRange::ANY,
        dst_ports,
        protocol,
        dscp: None,
        vlan: None,
        precedence: DEFAULT_PRECEDENCE,
    }
}

/// Publishes the configuration the input names; `false` if the engine
/// refused it (the adapter then stays in bypass, still fuzzed).
fn publish(inp: &mut Input<'_>, a: &crate::sim::Adapter) -> bool {
    let n_flows = 1 + u32::from(inp.below(3));
    let flows: Vec<(u32, FlowSpec)> = (1..=n_flows).map(|id| (id, flow_spec(inp))).collect();
    let n_filters = 1 + u32::from(inp.below(4));
    let filters: Vec<Filter> = (1..=n_filters)
        .map(|id| {
            let flow = 1 + u32::from(inp.u8()) % n_flows;
            filter(inp, id, flow)
        })
        .collect();
    let limits = Limits {
        queue_packets: 1 + u32::from(inp.below(64)),
        queue_bytes: 1 << (10 + inp.below(14)),
        max_outstanding: 1 + u32::from(inp.below(16)),
    };
    let Ok(cfg) =
        crate::datapath::DatapathConfig::new(flows, &filters, MarkMaps::default(), limits)
    else {
        return false;
    };
    a.module()
        .expect("module")
        .publish(Some(Arc::new(cfg)))
        .is_ok()
}

/// A TCP or UDP frame over IPv4 or IPv6 (Ethernet II, optional 802.1Q
/// tag), TCP header of 5..15 words, then random mutations; or raw bytes.
fn frame(inp: &mut Input<'_>) -> Vec<u8> {
    let kind = inp.below(6);
    if kind == 5 {
        let n = 1 + usize::from(inp.u8());
        let mut f = inp.bytes(n.min(MAX_RAW)).to_vec();
        if f.is_empty() {
            f.push(0);
        }
        return f;
    }
    let v6 = kind & 1 == 1;
    let tcp = kind < 4;
    let tagged = inp.below(4) == 0;
    let words = 5 + usize::from(inp.below(11));
    let l4_hdr = if tcp { words * 4 } else { 8 };
    let payload = usize::from(inp.u16()) % 20_000;
    let mut f = Vec::with_capacity(64 + l4_hdr + payload);
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
    if tagged {
        f.extend_from_slice(&[0x81, 0x00, inp.u8(), inp.u8()]);
    }
    let proto = if tcp { 6u8 } else { 17 };
    let l4_len = l4_hdr + payload;
    let tos = inp.u8();
    if v6 {
        f.extend_from_slice(&[0x86, 0xDD]);
        f.extend_from_slice(&[0x60 | (tos >> 4), tos << 4, 0, 0]);
        f.extend_from_slice(&(l4_len as u16).to_be_bytes());
        f.extend_from_slice(&[proto, 64]);
        f.extend_from_slice(&[0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    } else {
        f.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + l4_len) as u16;
        f.extend_from_slice(&[0x45, tos]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        let start = f.len() - 20;
        let sum = ipv4_checksum(&f[start..]);
        f[start + 10..start + 12].copy_from_slice(&sum.to_be_bytes());
    }
    let dport = PORTS[usize::from(inp.below(3))];
    f.extend_from_slice(&1234u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    if tcp {
        f.extend_from_slice(&[0; 8]);
        f.push((words as u8) << 4);
        f.push(0x18);
        f.extend_from_slice(&[0xFF, 0xFF, 0, 0, 0, 0]);
        f.resize(f.len() + (words - 5) * 4, 1);
    } else {
        f.extend_from_slice(&(l4_len as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
    }
    f.resize(f.len() + payload, 0xAB);
    // Mutations: overwrite bytes near the headers, or truncate.
    for _ in 0..inp.below(4) {
        let at = usize::from(inp.u8()) % f.len();
        f[at] = inp.u8();
    }
    if inp.below(4) == 0 {
        let keep = 1 + usize::from(inp.u16()) % f.len();
        f.truncate(keep);
    }
    f
}

fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut s: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    !(s as u16)
}

/// Cuts `f` into MDLs at up to three input-chosen points (non-empty
/// pieces, as NDIS builds them).
fn split(inp: &mut Input<'_>, f: &[u8]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = (0..inp.below(4))
        .map(|_| {
            // Mostly in the headers, where the parser and LSO read.
            if inp.below(2) == 0 {
                usize::from(inp.below(80))
            } else {
                usize::from(inp.u16())
            }
        })
        .collect();
    cuts.sort_unstable();
    let mut segs = Vec::new();
    let mut start = 0usize;
    for c in cuts {
        let c = c.min(f.len());
        if c > start {
            segs.push(f[start..c].to_vec());
            start = c;
        }
    }
    segs.push(f[start..].to_vec());
    segs
}

/// The TcpLargeSendNetBufferListInfo value: none, V1, V2 (IPv4/IPv6) with
/// input-chosen MSS and TcpHeaderOffset, or any 64-bit value.
fn lso(inp: &mut Input<'_>, p: TxPacket) -> TxPacket {
    match inp.below(5) {
        0 | 1 => p,
        2 => {
            let (mss, off) = (u32::from(inp.u16()), lso_offset(inp));
            p.with_lso_v1(mss, off)
        }
        3 => {
            let (mss, off, v6) = (u32::from(inp.u16()), lso_offset(inp), inp.below(2) == 1);
            p.with_lso_v2(mss, off, v6)
        }
        _ => TxPacket {
            lso: inp.usize(),
            ..p
        },
    }
}

fn lso_offset(inp: &mut Input<'_>) -> u32 {
    match inp.below(3) {
        0 => 34,
        1 => 54,
        _ => u32::from(inp.u16()),
    }
}

fn packet(inp: &mut Input<'_>) -> TxPacket {
    let n_nbs = 1 + usize::from(inp.below(3));
    let first = frame(inp);
    let mut nbs = Vec::with_capacity(n_nbs);
    nbs.push(split(inp, &first));
    for _ in 1..n_nbs {
        // Further NET_BUFFERs: the same frame or another one.
        let f = if inp.below(2) == 0 {
            first.clone()
        } else {
            frame(inp)
        };
        nbs.push(split(inp, &f));
    }
    let p = TxPacket {
        nbs,
        head_room: u32::from(inp.below(4)) * 8,
        ieee8021q: if inp.below(4) == 0 { inp.usize() } else { 0 },
        // 0 is "no cancel id"; 1 and 2 are what the cancel step names, so
        // a cancel often finds NBLs the driver holds.
        cancel_id: usize::from(inp.below(3)),
        ..TxPacket::default()
    };
    lso(inp, p)
}

/// What one run did, so that tests can check the inputs reach the paths
/// they mean to (LSO sizing, drops, classification).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// NBLs sent from above.
    pub sent: u64,
    /// NBLs sent down to the miniport.
    pub sent_down: u64,
    /// NBLs the datapath refused (FAILURE / RESOURCES).
    pub dropped: u64,
    /// NBLs completed SEND_ABORTED by a cancel.
    pub cancelled: u64,
    /// Datapath counters of the last configuration: classified into a flow.
    pub classified: u64,
    /// LSO sends sized by their segments.
    pub lso_sends: u64,
    /// LSO sends whose TCP header could not be read.
    pub lso_bad_header: u64,
    /// The most NBLs the driver held (shaper or sequencer) after a step.
    pub held_peak: u64,
}

/// Runs one input through the driver's send path on the simulated NDIS
/// (see the module doc).
///
/// Panics (an assertion, fuzz/test use only) on a panic in the driver, an
/// NDIS rule violation, an NBL not completed exactly once, inconsistent
/// counters, or anything held after pause or left after unload.
#[doc(hidden)]
#[must_use]
pub fn send_path(data: &[u8]) -> Run {
    let mut inp = Input(data);
    let mut sim = Sim::new();
    assert_eq!(sim.load(), 0, "DriverEntry");
    let a = sim.attach(&AdapterSpec::ethernet(1)).expect("attach");
    assert_eq!(a.restart(), NDIS_STATUS_SUCCESS, "restart");
    let _ = publish(&mut inp, &a);
    // Half the runs start with the miniport holding its sends, so the
    // outstanding bound fills and the driver holds NBLs for the cancel,
    // pause and republish steps to find.
    a.set_miniport_hold(inp.below(2) == 0);
    let mut sent = 0u64;
    let mut held_peak = 0u64;
    let mut running = true;
    for step in 0..MAX_STEPS {
        if inp.is_empty() {
            break;
        }
        match inp.below(16) {
            0..=6 => {
                let n = 1 + usize::from(inp.below(4));
                let pkts: Vec<TxPacket> = (0..n).map(|_| packet(&mut inp)).collect();
                let flags = if inp.below(2) == 0 {
                    0
                } else {
                    NDIS_SEND_FLAGS_DISPATCH_LEVEL
                };
                sent += a.send(&pkts, flags).len() as u64;
            }
            7 => {
                let _ = sim.advance(u64::from(inp.u32()) % 50_000_000);
            }
            8 => a.set_miniport_hold(inp.below(2) == 0),
            9 => {
                let _ = a.complete_held(usize::from(inp.below(8)));
            }
            // Cancels name ids 1 and 2, which packets carry two times in
            // three, so seeded inputs cancel held NBLs, not only nothing.
            10 | 11 => a.cancel(1 + usize::from(inp.below(2))),
            12 => a.link_state([10_000_000, 100_000_000, 1_000_000_000][usize::from(inp.below(3))]),
            13 => {
                if inp.below(4) == 0 {
                    a.module().expect("module").publish(None).expect("bypass");
                } else {
                    let _ = publish(&mut inp, &a);
                }
            }
            _ => {
                if running {
                    if a.pause() == NDIS_STATUS_PENDING {
                        a.complete_held(usize::MAX);
                    }
                    assert!(a.is_paused(), "step {step}: pause did not finish");
                    assert_eq!(a.module().expect("module").held(), 0, "held after pause");
                    running = false;
                } else {
                    assert_eq!(a.restart(), NDIS_STATUS_SUCCESS, "restart");
                    running = true;
                }
            }
        }
        held_peak = held_peak.max(u64::from(a.module().expect("module").held()));
        let e = sim.errors();
        assert!(e.is_empty(), "step {step}: NDIS rule violations: {e:#?}");
    }
    // Wind down: the miniport completes what it holds, then pause.
    a.set_miniport_hold(false);
    a.complete_held(usize::MAX);
    if running {
        if a.pause() == NDIS_STATUS_PENDING {
            a.complete_held(usize::MAX);
        }
        assert!(a.is_paused(), "pause did not finish");
    }
    let m = a.module().expect("module");
    assert_eq!(m.held(), 0, "held after pause");
    assert_eq!(m.outstanding(), 0, "outstanding after pause");
    assert_eq!(a.sends_outstanding(), 0, "sends not completed");
    let counts = a.completion_counts();
    let status = |s: i32| counts.get(&s).copied().unwrap_or(0);
    assert_eq!(
        counts.values().sum::<u64>(),
        sent,
        "completed once: {counts:?}"
    );
    let c = &m.counters;
    let load = |x: &core::sync::atomic::AtomicU64| x.load(core::sync::atomic::Ordering::Relaxed);
    assert_eq!(load(&c.sends), sent, "sends counter");
    assert_eq!(
        status(NDIS_STATUS_SUCCESS),
        a.sent_down(),
        "every NBL sent down completed SUCCESS and only those: {counts:?}"
    );
    assert_eq!(
        status(NDIS_STATUS_SEND_ABORTED),
        load(&c.cancelled),
        "cancel counter"
    );
    assert!(status(NDIS_STATUS_PAUSED) >= load(&c.paused_rejects));
    assert_eq!(
        status(NDIS_STATUS_FAILURE) + status(NDIS_STATUS_RESOURCES),
        load(&c.dropped),
        "drop counter: {counts:?}"
    );
    for s in counts.keys() {
        assert!(
            [
                NDIS_STATUS_SUCCESS,
                NDIS_STATUS_PAUSED,
                NDIS_STATUS_SEND_ABORTED,
                NDIS_STATUS_RESOURCES,
                NDIS_STATUS_FAILURE,
            ]
            .contains(s),
            "unexpected status {s:#x}"
        );
    }
    let dc = m.read(|d| d.counters());
    assert!(
        dc.classified + dc.unmatched <= sent,
        "classify counters {dc:?}"
    );
    let run = Run {
        sent,
        sent_down: a.sent_down(),
        dropped: load(&c.dropped),
        cancelled: load(&c.cancelled),
        classified: dc.classified,
        lso_sends: dc.lso_sends,
        lso_bad_header: dc.lso_bad_header,
        held_peak,
    };
    drop(m);
    a.detach();
    sim.unload();
    assert_eq!(sim.live(), Live::default(), "live objects after unload");
    let e = sim.errors();
    assert!(e.is_empty(), "NDIS rule violations: {e:#?}");
    run
}

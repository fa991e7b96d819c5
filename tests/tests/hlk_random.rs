//! HLK-style randomized lifecycle: random sequences of sends (shaped,
//! unshaped, IPv4/IPv6, several NET_BUFFERs, split MDLs, cancel ids),
//! miniport holds and completions, cancels, time, link changes,
//! configuration swaps, receives, pause / restart. After every step the
//! simulated NDIS has seen no rule violation; at the end every NBL sent
//! from above has been completed exactly once, with a status that fits
//! what happened to it.

use qos_engine::psched::Limits;
use qoslwf::ffi::types::*;
use qoslwf::sim::TxPacket;
use qoslwf_tests::frames::FrameSpec;
use qoslwf_tests::hlk::{loaded, publish_shaped, unload_clean};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn packet(rng: &mut Rng) -> TxPacket {
    let port = if rng.below(2) == 0 { 5001 } else { 80 };
    let spec = match rng.below(3) {
        0 => FrameSpec::udp4(1, port, 100 + rng.below(1200) as usize),
        1 => FrameSpec::tcp4(1, port, rng.below(1400) as usize),
        _ => FrameSpec::udp6(1, port, rng.below(1000) as usize),
    };
    let f = spec.tos(rng.below(64) as u8, rng.below(4) as u8).build();
    let p = match rng.below(4) {
        0 => TxPacket::split(&f, &[rng.below(f.len() as u64) as usize]),
        1 => TxPacket::multi(&[&f, &f, &f]),
        _ => TxPacket::frame(&f),
    };
    p.with_cancel_id(1 + rng.below(3) as usize)
}

#[test]
fn random_operation_sequences_complete_every_nbl_exactly_once() {
    for seed in 1..=300u64 {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x1000_0001));
        let (sim, ads) = loaded(1);
        let a = &ads[0];
        let mut sent = 0u64;
        let mut running = true;
        for step in 0..200 {
            match rng.below(12) {
                0..=3 => {
                    let n = 1 + rng.below(6);
                    let pkts: Vec<TxPacket> = (0..n).map(|_| packet(&mut rng)).collect();
                    let flags = if rng.below(2) == 0 {
                        0
                    } else {
                        NDIS_SEND_FLAGS_DISPATCH_LEVEL
                    };
                    sent += a.send(&pkts, flags).len() as u64;
                }
                4 => a.set_miniport_hold(rng.below(2) == 0),
                5 => {
                    a.complete_held(rng.below(8) as usize);
                }
                6 => a.cancel(1 + rng.below(3) as usize),
                7 => {
                    sim.advance(rng.below(2_000_000));
                }
                8 => a.link_state([10_000_000, 100_000_000, 1_000_000_000][rng.below(3) as usize]),
                9 => {
                    if rng.below(3) == 0 {
                        a.module().unwrap().publish(None).unwrap();
                    } else {
                        let limits = Limits {
                            queue_packets: 8 + rng.below(64) as u32,
                            queue_bytes: 1 << 20,
                            max_outstanding: 1 + rng.below(16) as u32,
                        };
                        publish_shaped(a, 5_000 + rng.below(200_000), limits);
                    }
                }
                10 => {
                    let f = FrameSpec::udp4(9, 9, 60).build();
                    let flags = if rng.below(2) == 0 {
                        0
                    } else {
                        NDIS_RECEIVE_FLAGS_RESOURCES
                    };
                    a.receive(&[TxPacket::frame(&f)], flags);
                }
                _ => {
                    if running {
                        if a.pause() == NDIS_STATUS_PENDING {
                            a.complete_held(usize::MAX);
                        }
                        assert!(a.is_paused(), "seed {seed} step {step}");
                        assert_eq!(a.module().unwrap().held(), 0);
                        running = false;
                    } else {
                        assert_eq!(a.restart(), 0);
                        running = true;
                    }
                }
            }
            let e = sim.errors();
            assert!(e.is_empty(), "seed {seed} step {step}: {e:#?}");
        }
        if running {
            if a.pause() == NDIS_STATUS_PENDING {
                a.complete_held(usize::MAX);
            }
            assert!(a.is_paused());
        }
        let counts = a.completion_counts();
        assert_eq!(
            counts.values().sum::<u64>(),
            sent,
            "seed {seed}: {counts:?}"
        );
        for status in counts.keys() {
            assert!(
                [
                    NDIS_STATUS_SUCCESS,
                    NDIS_STATUS_PAUSED,
                    NDIS_STATUS_SEND_ABORTED,
                    NDIS_STATUS_RESOURCES,
                    NDIS_STATUS_FAILURE
                ]
                .contains(status),
                "seed {seed}: unexpected status {status:#x}"
            );
        }
        assert_eq!(a.sends_outstanding(), 0);
        a.detach();
        unload_clean(sim);
    }
}

//! The scheduler workload shared by `benches/psched.rs` (criterion) and
//! `examples/psched_cost.rs` (callgrind): the same flows, limits and trace,
//! so the two count the same loops.

use qos_engine::flow::{FlowSpec, SdMode, ServiceType};
use qos_engine::psched::Limits;

/// xorshift64*.
pub fn rng(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

pub const TYPES: [ServiceType; 4] = [
    ServiceType::BestEffort,
    ServiceType::ControlledLoad,
    ServiceType::Guaranteed,
    ServiceType::Qualitative,
];

pub fn specs(n: usize, mode: SdMode, rate: u64) -> Vec<(u32, FlowSpec)> {
    (0..n)
        .map(|i| {
            (
                i as u32,
                FlowSpec {
                    service_type: TYPES[i % TYPES.len()],
                    token_rate: Some(rate),
                    bucket: 3000,
                    mode: Some(mode),
                    ..FlowSpec::best_effort("bench")
                },
            )
        })
        .collect()
}

pub fn limits(queue_packets: u32) -> Limits {
    Limits {
        queue_packets,
        queue_bytes: u64::MAX,
        max_outstanding: 1 << 20,
    }
}

pub fn trace(n: usize) -> Vec<usize> {
    let mut s = 0x1234_5678_9ABC_DEF1u64;
    (0..65_536)
        .map(|_| (rng(&mut s) % n as u64) as usize)
        .collect()
}

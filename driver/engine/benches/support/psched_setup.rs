//! The scheduler workload shared by `benches/psched.rs` (criterion) and
//! `examples/psched_cost.rs` (callgrind): the same flows, limits and trace,
//! so the two count the same loops.

use qos_engine::flow::{FlowSpec, SdMode, ServiceType};
use qos_engine::mark::{FlowMarks, MarkMaps};
use qos_engine::psched::{BatchItem, Limits, Scheduler, SendSize};

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

/// Sends per `submit_batch` call in the batched cases.
pub const BATCH: u64 = 64;

/// The policed workload: `n` borrow-mode flows whose rate is half their
/// offered load (a 1000-byte packet per `n` ticks on average), so about
/// half the packets are non-conforming.
pub struct Policed {
    pub flows: Vec<(u32, FlowSpec)>,
    /// Configured with `maps` (Windows' defaults).
    pub sched: Scheduler<u64>,
    pub maps: MarkMaps,
    /// Each flow's marks, for the cases that look them up in the sink.
    pub table: Vec<FlowMarks>,
    pub trace: Vec<usize>,
}

pub fn policed_workload(n: usize) -> Policed {
    let rate = (10_000_000_000 / n as u64 / 2).max(1);
    let flows = specs(n, SdMode::Borrow, rate);
    let maps = MarkMaps::default();
    let mut sched = Scheduler::new(limits(1024)).unwrap();
    sched.reconfigure_marked(0, &flows, &maps).unwrap();
    let table = flows
        .iter()
        .map(|(_, f)| FlowMarks::new(&maps, f))
        .collect();
    Policed {
        flows,
        sched,
        maps,
        table,
        trace: trace(n),
    }
}

/// The chain of [`BATCH`] sends that starts at packet `first` of the
/// (cyclic) trace: consecutive entries, so flows at random inside a chain.
pub fn chain(trace: &[usize], first: u64) -> impl Iterator<Item = BatchItem<u64>> + '_ {
    (first..first + BATCH).map(|k| BatchItem {
        flow: Some(trace[(k as usize) & 0xFFFF]),
        size: SendSize::single(1000),
        pkt: k,
    })
}

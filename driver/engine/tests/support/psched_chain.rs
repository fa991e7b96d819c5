//! The two ways of sending a chain that the batch differential tests
//! (`psched_batch.rs`, `psched_batch_shaped.rs`) compare: one
//! `submit_batch` call, or the per-send calls it stands for. Packets are
//! numbered from `first_id` in chain order.

use qos_engine::psched::{BatchItem, Scheduler, SendSize, Submitted};

/// The per-send calls a batch stands for.
pub fn one_by_one(
    s: &mut Scheduler<u64>,
    now: u64,
    sends: &[(Option<usize>, SendSize)],
    first_id: u64,
) -> Vec<Submitted<u64>> {
    let mut out = Vec::new();
    for (k, &(flow, size)) in sends.iter().enumerate() {
        match s.enqueue_sized(now, flow, size, first_id + k as u64) {
            Ok(()) => {
                if let Some(r) = s.dequeue(now) {
                    out.push(Submitted::Released(r));
                }
            }
            Err((p, why)) => out.push(Submitted::Dropped(p, why)),
        }
    }
    out
}

/// The same sends as one `submit_batch` call.
pub fn batched(
    s: &mut Scheduler<u64>,
    now: u64,
    sends: &[(Option<usize>, SendSize)],
    first_id: u64,
) -> Vec<Submitted<u64>> {
    let mut out = Vec::new();
    let items = sends
        .iter()
        .enumerate()
        .map(|(k, &(flow, size))| BatchItem {
            flow,
            size,
            pkt: first_id + k as u64,
        });
    s.submit_batch(now, items, |r| out.push(r));
    out
}

//! Conformer properties: the token-bucket and peak bounds hold over every
//! interval for any packet sequence, and a backlogged shaped flow gets its
//! rate (no drift).

use proptest::prelude::*;
use qos_engine::psched::{Conformer, ConformerParams, Verdict};
use qos_engine::time::TICKS_PER_SEC;

const TPS: u128 = TICKS_PER_SEC as u128;

fn params() -> impl Strategy<Value = ConformerParams> {
    (
        1u64..2_000_000_000,
        1u32..200_000,
        proptest::option::of(0u64..4_000_000_000),
        proptest::option::of(64u32..70_000),
        0u32..200,
    )
        .prop_map(
            |(rate, bucket, peak_extra, max_sdu, min_policed)| ConformerParams {
                rate: Some(rate),
                bucket,
                peak: peak_extra.map(|e| rate + e),
                peak_depth: max_sdu.unwrap_or(1500),
                min_policed: min_policed.min(max_sdu.unwrap_or(u32::MAX)),
                max_sdu,
            },
        )
}

/// Checks `sum of charges in [t0, t1] <= max(depth, L) + rate * (t1 - t0 + 1)`
/// (scaled by ticks per second) for every pair of conformance times.
fn check_bound(sent: &[(u64, u32)], rate: u64, depth: u32) {
    let largest = sent.iter().map(|&(_, c)| c).max().unwrap_or(0);
    let burst = u128::from(depth.max(largest)) * TPS;
    for i in 0..sent.len() {
        let mut sum = 0u128;
        for &(t1, c) in &sent[i..] {
            sum += u128::from(c);
            let t0 = sent[i].0;
            let allowed = burst + u128::from(rate) * u128::from(t1 - t0 + 1);
            assert!(
                sum * TPS <= allowed,
                "{sum} bytes in [{t0}, {t1}] exceed {}",
                allowed / TPS
            );
        }
    }
}

fn check_all(p: &ConformerParams, sent: &[(u64, u32)]) {
    check_bound(sent, p.rate.unwrap(), p.bucket);
    if let Some(peak) = p.peak {
        check_bound(sent, peak, p.peak_depth);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Policing (borrow/discard): packets arrive at random times; the ones
    /// declared conforming obey both bounds.
    #[test]
    fn policed_packets_obey_bounds(
        p in params(),
        arrivals in proptest::collection::vec((0u64..2_000_000, 1u32..70_000), 1..150),
    ) {
        let mut c = Conformer::new(p, 0);
        let mut t = 0;
        let mut sent = Vec::new();
        for (gap, size) in arrivals {
            t += gap;
            if c.police(t, size) {
                prop_assert!(!p.is_oversize(size));
                sent.push((t, p.charge(size)));
            }
        }
        check_all(&p, &sent);
    }

    /// Shaping: each packet is sent at the earliest time it conforms (the
    /// shaper's schedule), arrivals random; both bounds hold and the earliest
    /// time is exact: one tick earlier it does not conform.
    #[test]
    fn shaped_packets_obey_bounds(
        p in params(),
        arrivals in proptest::collection::vec((0u64..200_000, 1u32..70_000), 1..150),
    ) {
        let mut c = Conformer::new(p, 0);
        let mut arrival = 0;
        let mut sent = Vec::new();
        for (gap, size) in arrivals {
            arrival += gap;
            if p.is_oversize(size) {
                prop_assert_eq!(c.earliest(size), Verdict::Never);
                continue;
            }
            let start = c.advance(arrival);
            let Verdict::At(t) = c.earliest(size) else { panic!("not oversize") };
            prop_assert!(t >= start);
            if t > start {
                let mut early = c.clone();
                prop_assert!(!early.police(t - 1, size), "conforms a tick early");
            }
            prop_assert!(c.police(t, size));
            sent.push((t, p.charge(size)));
        }
        check_all(&p, &sent);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// A backlogged shaped flow, 10^6 packets: it gets at least 99.9 % of its
    /// rate (in fact all of it: credit is exact), and never more than the
    /// bucket + rate bound.
    #[test]
    fn backlogged_flow_gets_its_rate(
        rate in 1_000u64..2_000_000_000,
        bucket in 1_500u32..100_000,
        seed in any::<u64>(),
    ) {
        let p = ConformerParams {
            rate: Some(rate),
            bucket,
            peak: None,
            peak_depth: 1500,
            min_policed: 0,
            max_sdu: Some(1500),
        };
        let mut c = Conformer::new(p, 0);
        let mut x = seed | 1;
        let mut bytes = 0u128;
        let mut t = 0;
        for _ in 0..1_000_000 {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            let size = 40 + (x % 1461) as u32;
            let Verdict::At(next) = c.earliest(size) else { panic!() };
            t = next;
            c.advance(t);
            c.consume(size);
            bytes += u128::from(size);
        }
        let ideal = u128::from(rate) * u128::from(t);
        // bytes - bucket is what the rate paid for since t = 0.
        let paid = (bytes - u128::from(bucket)) * TPS;
        prop_assert!(paid * 1000 >= ideal * 999, "got {} of {}", paid / TPS, ideal / TPS);
        prop_assert!(bytes * TPS <= u128::from(bucket) * TPS + u128::from(rate) * u128::from(t + 1));
    }
}

#[test]
fn peak_limits_a_large_bucket() {
    // 1000 B/s with a 100 kB bucket, peak 10 kB/s with a 1000 B peak bucket:
    // the bucket alone would allow 100 kB at once; the peak spreads it.
    let p = ConformerParams {
        rate: Some(1000),
        bucket: 100_000,
        peak: Some(10_000),
        peak_depth: 1000,
        min_policed: 0,
        max_sdu: Some(1000),
    };
    let mut c = Conformer::new(p, 0);
    let mut sent = Vec::new();
    let mut t = 0;
    for _ in 0..50 {
        let Verdict::At(next) = c.earliest(1000) else {
            panic!()
        };
        t = next;
        assert!(c.police(t, 1000));
        sent.push((t, 1000));
    }
    // 50 packets at the peak rate: the first at once, then one per 0.1 s.
    assert_eq!(t, 49 * TICKS_PER_SEC / 10);
    check_all(&p, &sent);
}

//! HLK-style IOCTL abuse: every IOCTL code of the ABI with zero, short,
//! huge and random buffers, NULL system buffers and wrong methods: each
//! gets an error, the IRP is completed once with no more output than the
//! buffer holds, and no adapter's configuration changes.

use qos_proto::ioctl::Op;
use qoslwf::ffi::types::*;
use qoslwf_tests::hlk::{assert_clean, loaded, publish_shaped, unload_clean};
use std::sync::Arc;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn config_ptrs(ads: &[qoslwf::sim::Adapter]) -> Vec<usize> {
    ads.iter()
        .map(|a| {
            a.module().unwrap().read(|d| {
                d.config()
                    .map_or(0, |c| Arc::as_ptr(c).cast::<()>() as usize)
            })
        })
        .collect()
}

#[test]
fn every_code_with_bad_buffers_fails_and_changes_nothing() {
    let (sim, ads) = loaded(2);
    publish_shaped(&ads[0], 100_000, Default::default());
    let before = config_ptrs(&ads);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let huge = qoslwf::device::MAX_INPUT + 1;
    for op in Op::ALL {
        let code = op.code();
        let mut inputs: Vec<Vec<u8>> = vec![vec![], vec![0], vec![0xff; 3], vec![0; 7]];
        for n in [8, 16, 31, 64, 200, 4096] {
            inputs.push(rng.bytes(n));
        }
        for input in &inputs {
            for out_len in [0usize, 1, 16, 65536] {
                let r = sim.ioctl(code, input, out_len);
                assert!(
                    r.status < 0,
                    "{} in={} out={out_len}: {:#x}",
                    op.name(),
                    input.len(),
                    r.status
                );
                assert!(r.output.len() <= out_len);
            }
        }
        // Huge input: refused before any parsing.
        let r = sim.ioctl(code, &vec![0u8; huge], 0);
        assert_eq!(r.status, STATUS_INVALID_PARAMETER, "{}", op.name());
        // Lengths that claim a buffer that is not there.
        let r = sim.ioctl_raw(code, &[], 64, 64, true);
        assert_eq!(r.status, STATUS_INVALID_PARAMETER, "{}", op.name());
        // The same function with another method is not ours.
        for method in 1..4 {
            let r = sim.ioctl((code & !3) | method, &rng.bytes(32), 64);
            assert_eq!(r.status, STATUS_INVALID_DEVICE_REQUEST, "{}", op.name());
        }
    }
    // Codes that are not in the ABI at all.
    for _ in 0..500 {
        let code = (rng.next() as u32) & !3;
        if Op::from_code(code).is_some() {
            continue;
        }
        let r = sim.ioctl(code, &rng.bytes(24), 32);
        assert!(r.status < 0, "code {code:#x}");
    }
    assert_eq!(config_ptrs(&ads), before, "no configuration changed");
    assert_clean(&sim, &ads);
    unload_clean(sim);
}

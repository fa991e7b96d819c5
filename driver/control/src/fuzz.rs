//! The stateful fuzz body of the control plane: a byte string read as a
//! script of IOCTLs and host events, run against a control plane over
//! memhost. Shared by the cargo-fuzz target `dispatch` (driver/proto/fuzz)
//! and a stable test.

use alloc::sync::Arc;
use alloc::vec;

use qos_proto::{self as p, Op, Request, decode_reply, ntstatus_for};

use crate::memhost::{MemHost, fake_adapter};
use crate::plane::ControlPlane;

/// Runs `data` as a script. Each step starts with a selector byte:
/// - `0..=19`: operation `Op::ALL[sel]`; then a `u16` LE length and that
///   many body bytes, sent after a valid header (so decoding gets past it);
/// - `20`: the same with raw bytes (no header added);
/// - `21`: detach adapter 2; `22`: attach it again; `23`: make the next
///   publish to adapter 1 fail; `24`: change adapter 1's link speed;
/// - anything else: a well-formed request made from the next bytes.
///
/// After every IOCTL: whatever was written decodes as a reply of that
/// operation and agrees with the NTSTATUS; the host's snapshot is the
/// control plane's.
///
/// Returns how many changes succeeded. Panics (fuzz/test use only) when
/// a check fails.
#[doc(hidden)]
#[allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub fn fuzz_dispatch(data: &[u8]) -> usize {
    let mut changed = 0usize;
    let host = Arc::new(MemHost::with_fake_adapters());
    let mut plane = ControlPlane::new(Arc::clone(&host));
    let mut i = 0usize;
    let take = |i: &mut usize, n: usize| -> &[u8] {
        let start = (*i).min(data.len());
        let end = start.saturating_add(n).min(data.len());
        *i = end;
        &data[start..end]
    };
    let mut steps = 0;
    while i < data.len() && steps < 64 {
        steps += 1;
        let sel = take(&mut i, 1)[0];
        let (op, input) = match sel {
            0..=20 => {
                let len = take(&mut i, 2);
                let len = usize::from(u16::from_le_bytes([
                    len.first().copied().unwrap_or(0),
                    len.get(1).copied().unwrap_or(0),
                ]));
                let body = take(&mut i, len.min(4096));
                if sel == 20 {
                    let op =
                        Op::ALL[usize::from(body.first().copied().unwrap_or(0)) % Op::ALL.len()];
                    (op, body.to_vec())
                } else {
                    let op = Op::ALL[usize::from(sel)];
                    let mut input = Request::GetVersion.encode();
                    input.extend_from_slice(body);
                    let n = u32::try_from(input.len()).unwrap_or(u32::MAX);
                    input[8..12].copy_from_slice(&n.to_le_bytes());
                    (op, input)
                }
            }
            21 => {
                host.remove_adapter(2);
                continue;
            }
            22 => {
                host.add_adapter(fake_adapter(
                    2,
                    "wwan0",
                    "Cellular",
                    p::MEDIUM_IP,
                    1400,
                    50_000_000,
                ));
                continue;
            }
            23 => {
                host.fail_next_publish(1);
                continue;
            }
            24 => {
                let b = take(&mut i, 1);
                host.set_link_speed(1, u64::from(b.first().copied().unwrap_or(0)) * 1_000_000);
                continue;
            }
            _ => {
                let b = take(&mut i, 6);
                let x = |k: usize| u32::from(b.get(k).copied().unwrap_or(0));
                let req = make_request(sel, x(0) % 3, x(1), x(2), x(3), x(4) | x(5) << 8);
                (req.op(), req.encode())
            }
        };
        // Raw steps also try an empty output buffer; well-formed steps
        // always offer room for a success reply.
        let cap = if sel > 24 {
            [65536, 300, 40][steps % 3]
        } else {
            [0usize, 40, 300, 65536][steps % 4]
        };
        let mut out = vec![0u8; cap];
        let r = plane.dispatch(op.code(), &input, &mut out);
        if r.written == 0 {
            assert_eq!(
                r.ntstatus,
                p::status::STATUS_BUFFER_TOO_SMALL,
                "no reply but {:#x}",
                r.ntstatus
            );
            continue;
        }
        let reply = decode_reply(op, &out[..r.written])
            .unwrap_or_else(|e| panic!("reply does not decode: {e}"));
        let status = reply.as_ref().err().map_or(p::Status::Ok, |e| e.status);
        assert_eq!(r.ntstatus, ntstatus_for(status));
        if status == p::Status::Ok && op.is_change() {
            changed += 1;
        }
        for a in [1u32, 2] {
            if let (Some(mine), Some(theirs)) = (plane.current_snapshot(a), host.snapshot(a)) {
                assert!(
                    Arc::ptr_eq(&mine, &theirs),
                    "host and control plane disagree"
                );
            }
        }
    }
    changed
}

/// A well-formed request from a few numbers (deep paths: real flows,
/// filters, policies that mostly validate).
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
fn make_request(sel: u8, adapter: u32, a: u32, b: u32, c: u32, d: u32) -> Request {
    let spec = p::FlowSpec {
        name: alloc::format!("f{}", a % 4),
        service_type: p::ServiceType::from_raw([1, 2, 3, 10, 13, 4][(b % 6) as usize]),
        token_rate: if c % 3 == 0 {
            None
        } else {
            Some(u64::from(d) * 100)
        },
        bucket: u64::from(c) * 64,
        peak_rate: None,
        max_sdu: None,
        min_policed: 0,
        mode: if b % 5 == 0 {
            Some(p::SdMode::from_raw(c % 5))
        } else {
            None
        },
        dclass: Some((d % 70) as u8),
        tclass: None,
        shaping: None,
    };
    let filter = p::Filter {
        id: a % 8,
        flow: b % 6,
        family: if c % 2 == 0 {
            p::Family::V4
        } else {
            p::Family::V6
        },
        src: p::Prefix::ANY,
        dst: p::Prefix {
            addr: u128::from(d) << 8,
            len: 24,
        },
        src_ports: p::PortRange::ANY,
        dst_ports: p::PortRange::ANY,
        protocol: p::ProtocolMatch::Udp,
        dscp: if b % 4 == 0 {
            Some((c % 64) as u8)
        } else {
            None
        },
        vlan: None,
        precedence: d as u8,
    };
    let policy = p::Policy {
        id: a % 5,
        name: alloc::string::String::new(),
        protocol: p::PolicyProtocol::from_raw((b % 5) as u8),
        family: p::PolicyFamily::Both,
        src: None,
        dst: None,
        src_ports: None,
        dst_ports: Some(p::PortRange {
            lo: d as u16,
            hi: d as u16,
        }),
        dscp: if c % 2 == 0 {
            Some((c % 64) as u8)
        } else {
            None
        },
        pcp: None,
        throttle_bps: if c % 3 == 0 {
            Some(u64::from(d) * 1000)
        } else {
            None
        },
        precedence: 127,
    };
    match sel % 12 {
        0 => Request::AddFlow {
            adapter,
            flow: p::FlowDef { id: a % 6, spec },
        },
        1 => Request::ModifyFlow {
            adapter,
            flow: p::FlowDef { id: a % 6, spec },
        },
        2 => Request::DeleteFlow { adapter, id: a % 6 },
        3 | 4 => Request::AddFilter { adapter, filter },
        5 => Request::DeleteFilter { adapter, id: a % 8 },
        6 => Request::AddPolicy { adapter, policy },
        7 => Request::DeletePolicy { adapter, id: a % 5 },
        8 => Request::Apply {
            adapter,
            config: p::AdapterConfig {
                options: p::AdapterOptions {
                    queue_packets: 64 + d,
                    queue_bytes: 1 << 20,
                    max_outstanding_sends: 1 + c,
                    admission_share: (b % 110) as u8,
                    marking_override: p::MarkingOverride::Allow,
                    flow_mode: p::FlowMode::from_raw((a % 3) as u8),
                },
                maps: p::MappingTables::default(),
                flows: (1..=a % 4)
                    .map(|id| p::FlowDef {
                        id,
                        spec: spec.clone(),
                    })
                    .collect(),
                filters: vec![filter],
                policies: vec![policy],
            },
        },
        9 => Request::Clear {
            adapter,
            what: p::ClearFlags(a % 8),
        },
        10 => Request::EnumFlows {
            adapter,
            start: a % 4,
            with_stats: b % 2 == 0,
        },
        _ => Request::EnumFilters {
            adapter,
            start: a % 4,
        },
    }
}

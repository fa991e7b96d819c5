//! Control-plane costs: adding one filter to an adapter that holds many
//! (the incremental path), applying a whole configuration, listing 10 000
//! filters by pages. Over memhost (publish = scheduler reconfigure).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use qos_control::ControlPlane;
use qos_control::memhost::MemHost;
use qos_proto::*;

fn filter(id: u32, flow: u32) -> Filter {
    Filter {
        id,
        flow,
        family: Family::V4,
        src: Prefix::ANY,
        dst: Prefix {
            addr: u128::from(0x0a00_0000 | (id << 8)),
            len: 24,
        },
        src_ports: PortRange::ANY,
        dst_ports: PortRange::ANY,
        protocol: ProtocolMatch::Udp,
        dscp: None,
        vlan: None,
        precedence: 127,
    }
}

fn config(n: u32) -> AdapterConfig {
    AdapterConfig {
        options: AdapterOptions {
            queue_packets: 4096,
            queue_bytes: 8 << 20,
            max_outstanding_sends: 128,
            admission_share: 100,
            marking_override: MarkingOverride::Allow,
            flow_mode: FlowMode::Filters,
        },
        maps: MappingTables::default(),
        flows: (1..=16)
            .map(|id| FlowDef {
                id,
                spec: FlowSpec::best_effort(String::new()),
            })
            .collect(),
        filters: (1..=n).map(|i| filter(i, 1 + i % 16)).collect(),
        policies: vec![],
    }
}

fn plane_with(n: u32) -> ControlPlane<Arc<MemHost>> {
    let mut p = ControlPlane::new(Arc::new(MemHost::with_fake_adapters()));
    let req = Request::Apply {
        adapter: 1,
        config: config(n),
    };
    let mut out = vec![0u8; 4096];
    assert_eq!(p.dispatch(req.code(), &req.encode(), &mut out).ntstatus, 0);
    p
}

fn bench(c: &mut Criterion) {
    let mut out = vec![0u8; DEFAULT_REPLY_CAPACITY];
    for n in [10u32, 10_000] {
        let add = Request::AddFilter {
            adapter: 1,
            filter: filter(n + 1, 1),
        }
        .encode();
        c.bench_function(&format!("add_filter/{n}"), |b| {
            b.iter_batched_ref(
                || plane_with(n),
                |p| {
                    let r = p.dispatch(Op::AddFilter.code(), &add, &mut out);
                    assert_eq!(r.ntstatus, 0);
                },
                BatchSize::LargeInput,
            );
        });
        let apply = Request::Apply {
            adapter: 1,
            config: config(n),
        }
        .encode();
        let mut p = plane_with(0);
        c.bench_function(&format!("apply/{n}"), |b| {
            b.iter(|| {
                let r = p.dispatch(Op::Apply.code(), black_box(&apply), &mut out);
                assert_eq!(r.ntstatus, 0);
            });
        });
    }
    let mut p = plane_with(10_000);
    c.bench_function("list_10k_filters_64k_pages", |b| {
        b.iter(|| {
            let mut start = 0;
            let mut n = 0;
            loop {
                let req = Request::EnumFilters { adapter: 1, start }.encode();
                let r = p.dispatch(Op::EnumFilters.code(), &req, &mut out);
                let Ok(ReplyBody::Filters(page)) =
                    decode_reply(Op::EnumFilters, &out[..r.written]).unwrap()
                else {
                    panic!()
                };
                n += page.items.len();
                match page.next {
                    Some(s) => start = s,
                    None => break,
                }
            }
            assert_eq!(n, 10_000);
        });
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);

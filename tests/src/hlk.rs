//! Shared steps of the HLK-style suite: a loaded driver with running
//! adapters, and the exactly-once checks every test ends with.

use qoslwf::sim::{Adapter, AdapterSpec, Sim};

/// Load the driver on a virtual clock and attach + restart `n` Ethernet
/// adapters (if_index 1..=n).
#[must_use]
pub fn loaded(n: u32) -> (Sim, Vec<Adapter>) {
    let mut sim = Sim::new();
    assert_eq!(sim.load(), 0, "DriverEntry");
    let adapters = (1..=n)
        .map(|i| {
            let a = sim.attach(&AdapterSpec::ethernet(i)).expect("attach");
            assert_eq!(a.restart(), 0, "restart");
            a
        })
        .collect();
    (sim, adapters)
}

/// Every send from above has been completed exactly once and the sim saw
/// no rule violation.
pub fn assert_clean(sim: &Sim, adapters: &[Adapter]) {
    let errors = sim.errors();
    assert!(errors.is_empty(), "NDIS rule violations: {errors:#?}");
    for a in adapters {
        assert_eq!(a.sends_outstanding(), 0, "sends not completed on {a:?}");
    }
}

/// Unload and check that nothing NDIS-allocated is left.
pub fn unload_clean(mut sim: Sim) {
    sim.unload();
    let live = sim.live();
    assert_eq!(
        live,
        qoslwf::sim::Live::default(),
        "live objects after unload"
    );
    let errors = sim.errors();
    assert!(errors.is_empty(), "NDIS rule violations: {errors:#?}");
}

use qos_engine::flow::{FlowSpec, SdMode, ServiceType};
use qos_engine::gpc::{DEFAULT_PRECEDENCE, Filter, PortRange, Prefix, ProtocolMatch};
use qos_engine::mark::MarkMaps;
use qos_engine::packet::Family;
use qos_engine::psched::Limits;
use qoslwf::datapath::DatapathConfig;
use std::sync::Arc;

/// A flow: `service` with an optional token rate (bytes/s), mode, DCLASS
/// and TCLASS.
#[must_use]
pub fn flow(
    service: ServiceType,
    rate: Option<u64>,
    mode: Option<SdMode>,
    dclass: Option<u8>,
    tclass: Option<u8>,
) -> FlowSpec {
    FlowSpec {
        name: "hlk".into(),
        service_type: service,
        token_rate: rate,
        bucket: rate.map_or(0, |r| (r / 10).max(1600)),
        peak_rate: None,
        max_sdu: None,
        min_policed: 0,
        mode,
        dclass,
        tclass,
        shaping: None,
    }
}

/// A filter on protocol + destination port for one family.
#[must_use]
pub fn port_filter(id: u32, flow: u32, family: Family, udp: bool, dport: u16) -> Filter {
    Filter {
        id,
        flow,
        family,
        src: Prefix::ANY,
        dst: Prefix::ANY,
        src_ports: PortRange::ANY,
        dst_ports: PortRange::single(dport),
        protocol: if udp {
            ProtocolMatch::Udp
        } else {
            ProtocolMatch::Tcp
        },
        dscp: None,
        vlan: None,
        precedence: DEFAULT_PRECEDENCE,
    }
}

/// Compile and publish flows + filters to an adapter's module.
pub fn publish(a: &Adapter, flows: Vec<(u32, FlowSpec)>, filters: &[Filter], limits: Limits) {
    let cfg = DatapathConfig::new(flows, filters, MarkMaps::default(), limits).expect("config");
    a.module()
        .expect("module")
        .publish(Some(Arc::new(cfg)))
        .expect("publish");
}

/// Flow 1: Guaranteed, shaped at `rate` bytes/s, DCLASS 46, TCLASS 6,
/// for UDP and TCP to port 5001 over IPv4 and IPv6.
pub fn publish_shaped(a: &Adapter, rate: u64, limits: Limits) {
    let f = flow(
        ServiceType::Guaranteed,
        Some(rate),
        Some(SdMode::Shape),
        Some(46),
        Some(6),
    );
    let filters = [
        port_filter(1, 1, Family::V4, true, 5001),
        port_filter(2, 1, Family::V6, true, 5001),
        port_filter(3, 1, Family::V4, false, 5001),
        port_filter(4, 1, Family::V6, false, 5001),
    ];
    publish(a, vec![(1, f)], &filters, limits);
}

/// Send one request through the simulated control device and decode the
/// reply (`Err` = the IRP failed with that NTSTATUS and no decodable reply).
pub fn call(
    dev: impl Into<qoslwf::sim::Device>,
    req: &qos_proto::Request,
) -> Result<qos_proto::Reply, i32> {
    let op = req.op();
    let r = dev
        .into()
        .ioctl(op.code(), &req.encode(), qos_proto::DEFAULT_REPLY_CAPACITY);
    match qos_proto::decode_reply(op, &r.output) {
        Ok(reply) => Ok(reply),
        Err(_) => Err(r.status),
    }
}

/// A wire flow definition from an engine flow spec.
#[must_use]
pub fn wire_flow(id: u32, spec: &FlowSpec) -> qos_proto::FlowDef {
    qos_proto::FlowDef {
        id,
        spec: qos_control::convert::wire_flow_spec(spec),
    }
}

/// A wire filter from an engine filter.
#[must_use]
pub fn wire_filter(f: &Filter) -> qos_proto::Filter {
    qos_control::convert::wire_filter(f)
}

//! Conversions between the wire types (qos-proto) and the engine's types,
//! and from engine errors to wire statuses.
//!
//! Wire values that the engine cannot represent (an unknown service type,
//! mode, family...) become the same [`ConfigError`] the TC API would give
//! (e.g. ERROR_INVALID_SERVICE_TYPE on field `service_type`).

use qos_engine::adapter::{
    self as adapter, AdapterOptions, MAX_FILTERS, MAX_FLOWS, MAX_POLICIES, POLICY_ID_BIT,
};
use qos_engine::error::{ConfigError, ErrorKind, Field, Object};
use qos_engine::flow::{FlowSpec, SdMode, ServiceType, ShapingBehavior};
use qos_engine::gpc::{Filter, PortRange, Prefix, ProtocolMatch};
use qos_engine::mark::{MarkMaps, PerServiceType};
use qos_engine::packet::Family;
use qos_engine::psched::{self, DropCounts, Scheduler, SchedulerStats};
use qos_proto as p;

use p::{ErrorReply, FieldId, ObjectRef, Status};

/// The wire status of an engine error kind (the TC number where one
/// exists).
#[must_use]
pub const fn status_of(kind: ErrorKind) -> Status {
    match kind {
        ErrorKind::InvalidServiceType => Status::InvalidServiceType,
        ErrorKind::InvalidTokenRate => Status::InvalidTokenRate,
        ErrorKind::InvalidPeakRate => Status::InvalidPeakRate,
        ErrorKind::InvalidSdMode => Status::InvalidSdMode,
        ErrorKind::InvalidQosPriority => Status::InvalidQosPriority,
        ErrorKind::InvalidTrafficClass => Status::InvalidTrafficClass,
        ErrorKind::InvalidAddressType => Status::InvalidAddressType,
        ErrorKind::SupportedObjectsExist => Status::SupportedObjectsExist,
        ErrorKind::ObjectLengthInvalid => Status::ObjectLengthInvalid,
        ErrorKind::InvalidDiffservFlow => Status::InvalidDiffservFlow,
        ErrorKind::DsMappingExists => Status::DsMappingExists,
        ErrorKind::InvalidShapeRate => Status::InvalidShapeRate,
        ErrorKind::InvalidDsClass => Status::InvalidDsClass,
        ErrorKind::InvalidPrefix => Status::InvalidPrefix,
        ErrorKind::InvalidPortRange => Status::InvalidPortRange,
        ErrorKind::InvalidProtocol => Status::InvalidProtocol,
        ErrorKind::InvalidValue => Status::InvalidValue,
        ErrorKind::UnknownFlow => Status::UnknownFlow,
        ErrorKind::UnknownFilter => Status::UnknownFilter,
        ErrorKind::UnknownPolicy => Status::UnknownPolicy,
        ErrorKind::DuplicateId => Status::DuplicateId,
        ErrorKind::DuplicateName => Status::DuplicateName,
        ErrorKind::AdmissionExceeded => Status::AdmissionExceeded,
        ErrorKind::LimitExceeded => Status::LimitExceeded,
    }
}

/// The wire form of an engine error about adapter `adapter`. Limits carry
/// the limit in arg0.
#[must_use]
pub fn error_reply(e: &ConfigError, adapter: p::AdapterId) -> ErrorReply {
    let object = match e.object {
        Object::Flow(id) => ObjectRef::Flow(id),
        Object::Filter(id) => ObjectRef::Filter(id),
        Object::Policy(id) => ObjectRef::Policy(id),
        Object::MappingTable => ObjectRef::MappingTable,
        Object::AdapterOptions => ObjectRef::AdapterOptions,
        Object::Adapter => ObjectRef::Adapter(adapter),
    };
    let r = ErrorReply::new(status_of(e.kind), object, FieldId(e.field as u16), e.rule);
    if e.kind == ErrorKind::LimitExceeded {
        let limit = match e.field {
            Field::FlowCount => MAX_FLOWS,
            Field::FilterCount => MAX_FILTERS,
            Field::PolicyCount => MAX_POLICIES,
            _ => 0,
        };
        return r.with_args(limit as u64, 0);
    }
    r
}

fn bad(kind: ErrorKind, object: Object, field: Field, rule: &'static str) -> ConfigError {
    ConfigError::new(kind, object, field, rule)
}

/// A wire flow specification as the engine's, for flow `id`.
///
/// # Errors
/// Unknown service type, mode or shaping behaviour.
pub fn flow_spec(id: u32, s: &p::FlowSpec) -> Result<FlowSpec, ConfigError> {
    let obj = Object::Flow(id);
    let service_type = ServiceType::from_raw(s.service_type.to_raw()).ok_or_else(|| {
        bad(
            ErrorKind::InvalidServiceType,
            obj,
            Field::ServiceType,
            "must be best effort (1), controlled load (2), guaranteed (3), network control (10) or qualitative (13)",
        )
    })?;
    let mode = match s.mode {
        None => None,
        Some(m) => Some(SdMode::from_raw(m.to_raw()).ok_or_else(|| {
            bad(
                ErrorKind::InvalidSdMode,
                obj,
                Field::Mode,
                "must be borrow (0), shape (1), discard (2) or borrow-plus (3)",
            )
        })?),
    };
    let shaping = match s.shaping {
        None => None,
        Some(p::ShapingBehavior::ShapeOnly) => Some(ShapingBehavior::ShapeOnly),
        Some(p::ShapingBehavior::ShapeAndMark) => Some(ShapingBehavior::ShapeAndMark),
        Some(p::ShapingBehavior::UseNonConformantMarkings) => {
            Some(ShapingBehavior::UseNonConformantMarkings)
        }
        Some(p::ShapingBehavior::Other(_)) => {
            return Err(bad(
                ErrorKind::InvalidValue,
                obj,
                Field::ShapingBehavior,
                "must be shape-only (0), shape-and-mark (1) or non-conformant-markings (2)",
            ));
        }
    };
    Ok(FlowSpec {
        name: s.name.clone(),
        service_type,
        token_rate: s.token_rate,
        bucket: s.bucket,
        peak_rate: s.peak_rate,
        max_sdu: s.max_sdu,
        min_policed: s.min_policed,
        mode,
        dclass: s.dclass,
        tclass: s.tclass,
        shaping,
    })
}

/// The engine's flow specification on the wire.
#[must_use]
pub fn wire_flow_spec(s: &FlowSpec) -> p::FlowSpec {
    p::FlowSpec {
        name: s.name.clone(),
        service_type: p::ServiceType::from_raw(s.service_type as u32),
        token_rate: s.token_rate,
        bucket: s.bucket,
        peak_rate: s.peak_rate,
        max_sdu: s.max_sdu,
        min_policed: s.min_policed,
        mode: s.mode.map(|m| p::SdMode::from_raw(m as u32)),
        dclass: s.dclass,
        tclass: s.tclass,
        shaping: s.shaping.map(|b| match b {
            ShapingBehavior::ShapeOnly => p::ShapingBehavior::ShapeOnly,
            ShapingBehavior::ShapeAndMark => p::ShapingBehavior::ShapeAndMark,
            ShapingBehavior::UseNonConformantMarkings => {
                p::ShapingBehavior::UseNonConformantMarkings
            }
        }),
    }
}

fn family(raw: p::Family, obj: Object) -> Result<Family, ConfigError> {
    match raw {
        p::Family::V4 => Ok(Family::V4),
        p::Family::V6 => Ok(Family::V6),
        p::Family::Other(_) => Err(bad(
            ErrorKind::InvalidAddressType,
            obj,
            Field::Family,
            "must be 4 (IPv4) or 6 (IPv6)",
        )),
    }
}

const fn wire_family(f: Family) -> p::Family {
    match f {
        Family::V4 => p::Family::V4,
        Family::V6 => p::Family::V6,
    }
}

const fn prefix(x: p::Prefix) -> Prefix {
    Prefix {
        addr: x.addr,
        len: x.len,
    }
}

const fn wire_prefix(x: Prefix) -> p::Prefix {
    p::Prefix {
        addr: x.addr,
        len: x.len,
    }
}

const fn ports(x: p::PortRange) -> PortRange {
    PortRange { lo: x.lo, hi: x.hi }
}

const fn wire_ports(x: PortRange) -> p::PortRange {
    p::PortRange { lo: x.lo, hi: x.hi }
}

/// A wire filter as the engine's (its `flow` stays a flow id).
///
/// # Errors
/// Unknown family.
pub fn filter(f: &p::Filter) -> Result<Filter, ConfigError> {
    Ok(Filter {
        id: f.id,
        flow: f.flow,
        family: family(f.family, Object::Filter(f.id))?,
        src: prefix(f.src),
        dst: prefix(f.dst),
        src_ports: ports(f.src_ports),
        dst_ports: ports(f.dst_ports),
        protocol: match f.protocol {
            p::ProtocolMatch::Any => ProtocolMatch::Any,
            p::ProtocolMatch::Tcp => ProtocolMatch::Tcp,
            p::ProtocolMatch::Udp => ProtocolMatch::Udp,
            p::ProtocolMatch::TcpOrUdp => ProtocolMatch::TcpOrUdp,
            p::ProtocolMatch::Icmp => ProtocolMatch::Icmp,
            p::ProtocolMatch::Number(n) => ProtocolMatch::Number(n),
        },
        dscp: f.dscp,
        vlan: f.vlan,
        precedence: f.precedence,
    })
}

/// The engine's filter on the wire (`flow` must be a flow id).
#[must_use]
pub const fn wire_filter(f: &Filter) -> p::Filter {
    p::Filter {
        id: f.id,
        flow: f.flow,
        family: wire_family(f.family),
        src: wire_prefix(f.src),
        dst: wire_prefix(f.dst),
        src_ports: wire_ports(f.src_ports),
        dst_ports: wire_ports(f.dst_ports),
        protocol: match f.protocol {
            ProtocolMatch::Any => p::ProtocolMatch::Any,
            ProtocolMatch::Tcp => p::ProtocolMatch::Tcp,
            ProtocolMatch::Udp => p::ProtocolMatch::Udp,
            ProtocolMatch::TcpOrUdp => p::ProtocolMatch::TcpOrUdp,
            ProtocolMatch::Icmp => p::ProtocolMatch::Icmp,
            ProtocolMatch::Number(n) => p::ProtocolMatch::Number(n),
        },
        dscp: f.dscp,
        vlan: f.vlan,
        precedence: f.precedence,
    }
}

/// A wire policy as the engine's.
///
/// # Errors
/// Unknown protocol or family.
pub fn policy(x: &p::Policy) -> Result<adapter::Policy, ConfigError> {
    let obj = Object::Policy(x.id);
    let protocol = match x.protocol {
        p::PolicyProtocol::Any => adapter::PolicyProtocol::Any,
        p::PolicyProtocol::Tcp => adapter::PolicyProtocol::Tcp,
        p::PolicyProtocol::Udp => adapter::PolicyProtocol::Udp,
        p::PolicyProtocol::Both => adapter::PolicyProtocol::Both,
        p::PolicyProtocol::Other(_) => {
            return Err(bad(
                ErrorKind::InvalidProtocol,
                obj,
                Field::Protocol,
                "must be any (0), tcp (1), udp (2) or both (3)",
            ));
        }
    };
    let fam = match x.family {
        p::PolicyFamily::Both => None,
        p::PolicyFamily::V4 => Some(Family::V4),
        p::PolicyFamily::V6 => Some(Family::V6),
        p::PolicyFamily::Other(_) => {
            return Err(bad(
                ErrorKind::InvalidAddressType,
                obj,
                Field::Family,
                "must be both (0), 4 (IPv4) or 6 (IPv6)",
            ));
        }
    };
    Ok(adapter::Policy {
        id: x.id,
        name: x.name.clone(),
        protocol,
        family: fam,
        src: x.src.map(prefix),
        dst: x.dst.map(prefix),
        src_ports: x.src_ports.map(ports),
        dst_ports: x.dst_ports.map(ports),
        dscp: x.dscp,
        pcp: x.pcp,
        throttle_bps: x.throttle_bps,
        precedence: x.precedence,
    })
}

/// The engine's policy on the wire.
#[must_use]
pub fn wire_policy(x: &adapter::Policy) -> p::Policy {
    p::Policy {
        id: x.id,
        name: x.name.clone(),
        protocol: match x.protocol {
            adapter::PolicyProtocol::Any => p::PolicyProtocol::Any,
            adapter::PolicyProtocol::Tcp => p::PolicyProtocol::Tcp,
            adapter::PolicyProtocol::Udp => p::PolicyProtocol::Udp,
            adapter::PolicyProtocol::Both => p::PolicyProtocol::Both,
        },
        family: match x.family {
            None => p::PolicyFamily::Both,
            Some(Family::V4) => p::PolicyFamily::V4,
            Some(Family::V6) => p::PolicyFamily::V6,
        },
        src: x.src.map(wire_prefix),
        dst: x.dst.map(wire_prefix),
        src_ports: x.src_ports.map(wire_ports),
        dst_ports: x.dst_ports.map(wire_ports),
        dscp: x.dscp,
        pcp: x.pcp,
        throttle_bps: x.throttle_bps,
        precedence: x.precedence,
    }
}

/// Wire mapping tables as the engine's (ranges are checked by
/// `MarkMaps::validate` at compile time).
#[must_use]
pub fn maps(m: &p::MappingTables) -> MarkMaps {
    fn per(m: &p::MappingTables, f: fn(&p::MapEntry) -> u8) -> PerServiceType {
        PerServiceType {
            best_effort: f(&m.best_effort),
            controlled_load: f(&m.controlled_load),
            guaranteed: f(&m.guaranteed),
            network_control: f(&m.network_control),
            qualitative: f(&m.qualitative),
        }
    }
    MarkMaps {
        conforming_dscp: per(m, |e| e.conforming_dscp),
        non_conforming_dscp: per(m, |e| e.nonconforming_dscp),
        priority: per(m, |e| e.priority),
        non_conforming_priority: m.nonconforming_priority,
    }
}

/// The engine's mapping tables on the wire.
#[must_use]
pub fn wire_maps(m: &MarkMaps) -> p::MappingTables {
    let e = |st: ServiceType| p::MapEntry {
        conforming_dscp: m.conforming_dscp.get(st),
        nonconforming_dscp: m.non_conforming_dscp.get(st),
        priority: m.priority.get(st),
    };
    p::MappingTables {
        best_effort: e(ServiceType::BestEffort),
        controlled_load: e(ServiceType::ControlledLoad),
        guaranteed: e(ServiceType::Guaranteed),
        network_control: e(ServiceType::NetworkControl),
        qualitative: e(ServiceType::Qualitative),
        nonconforming_priority: m.non_conforming_priority,
    }
}

/// Wire options as the engine's.
///
/// # Errors
/// Unknown marking override or flow mode.
pub fn options(o: &p::AdapterOptions) -> Result<AdapterOptions, ConfigError> {
    let obj = Object::AdapterOptions;
    Ok(AdapterOptions {
        queue_packets: o.queue_packets,
        queue_bytes: o.queue_bytes,
        max_outstanding_sends: o.max_outstanding_sends,
        admission_share: o.admission_share,
        marking_override: match o.marking_override {
            p::MarkingOverride::Allow => adapter::MarkingOverride::Allow,
            p::MarkingOverride::Ignore => adapter::MarkingOverride::Ignore,
            p::MarkingOverride::Other(_) => {
                return Err(bad(
                    ErrorKind::InvalidValue,
                    obj,
                    Field::MarkingOverride,
                    "must be allow (0) or ignore (1)",
                ));
            }
        },
        flow_mode: match o.flow_mode {
            p::FlowMode::Filters => adapter::FlowMode::Filters,
            p::FlowMode::Diffserv => adapter::FlowMode::Diffserv,
            p::FlowMode::Other(_) => {
                return Err(bad(
                    ErrorKind::InvalidValue,
                    obj,
                    Field::FlowMode,
                    "must be filters (0) or diffserv (1)",
                ));
            }
        },
    })
}

/// The engine's options on the wire.
#[must_use]
pub const fn wire_options(o: &AdapterOptions) -> p::AdapterOptions {
    p::AdapterOptions {
        queue_packets: o.queue_packets,
        queue_bytes: o.queue_bytes,
        max_outstanding_sends: o.max_outstanding_sends,
        admission_share: o.admission_share,
        marking_override: match o.marking_override {
            adapter::MarkingOverride::Allow => p::MarkingOverride::Allow,
            adapter::MarkingOverride::Ignore => p::MarkingOverride::Ignore,
        },
        flow_mode: match o.flow_mode {
            adapter::FlowMode::Filters => p::FlowMode::Filters,
            adapter::FlowMode::Diffserv => p::FlowMode::Diffserv,
        },
    }
}

/// The policy id of a flow or filter id a policy made, if it is one.
#[must_use]
pub const fn policy_of_flow(id: u32) -> Option<u32> {
    if id & POLICY_ID_BIT != 0 {
        Some(id & !POLICY_ID_BIT)
    } else {
        None
    }
}

/// The policy id of a filter id a policy made, if it is one.
#[must_use]
pub const fn policy_of_filter(id: u32) -> Option<u32> {
    if id & POLICY_ID_BIT != 0 {
        Some((id & !POLICY_ID_BIT) >> 1)
    } else {
        None
    }
}

fn drop_counters(d: &DropCounts, out: &mut alloc::vec::Vec<p::Counter>) {
    for (name, value) in [
        ("dropped.queue_packets", d.queue_packets),
        ("dropped.queue_bytes", d.queue_bytes),
        ("dropped.flow_queue", d.flow_queue),
        ("dropped.nonconforming", d.nonconforming),
        ("dropped.over_max_sdu", d.over_max_sdu),
    ] {
        out.push(p::Counter {
            name: alloc::string::String::from(name),
            value,
        });
    }
}

/// One flow's scheduler counters on the wire (drops per reason as extra
/// counters `dropped.<reason>`).
///
/// The shaper and sequencer figures are the flow's own (see
/// [`psched::FlowStats`] for how each is taken). The netcard figures
/// (`max_packets_in_netcard`, `average_packets_in_netcard`) are not kept
/// per flow (completions come from the miniport as a count, not per flow):
/// they are 0 here, and tcctl does not show them per flow. The adapter's
/// statistics ([`wire_scheduler_stats`]) carry them.
///
/// Takes the counters by value or by reference.
#[must_use]
pub fn wire_flow_stats<S: core::borrow::Borrow<psched::FlowStats>>(s: S) -> p::FlowStats {
    let s: &psched::FlowStats = s.borrow();
    let mut extra = alloc::vec::Vec::new();
    drop_counters(&s.drops, &mut extra);
    p::FlowStats {
        flow: p::FlowCounters {
            dropped_packets: s.dropped_packets,
            packets_scheduled: s.packets_scheduled,
            packets_transmitted: s.packets_transmitted,
            bytes_scheduled: s.bytes_scheduled,
            bytes_transmitted: s.bytes_transmitted,
        },
        conformer: p::ConformerStats {
            nonconforming_packets_scheduled: s.nonconforming_packets_scheduled,
        },
        shaper: p::ShaperStats {
            max_packets_in_shaper: u64::from(s.max_packets_in_shaper),
            average_packets_in_shaper: u64::from(s.average_packets_in_shaper),
        },
        sequencer: p::SequencerStats {
            max_packets_in_sequencer: u64::from(s.max_packets_in_sequencer),
            average_packets_in_sequencer: u64::from(s.average_packets_in_sequencer),
            nonconforming_packets_transmitted: s.nonconforming_packets_transmitted,
            // Not tracked per flow (see above).
            max_packets_in_netcard: 0,
            average_packets_in_netcard: 0,
        },
        extra,
    }
}

/// A scheduler's adapter, shaper and sequencer counters on the wire, with
/// `totals` summed over every flow and unclassified traffic, and drops per
/// reason plus `unknown_flow_packets` as extra counters. The driver (and
/// `memhost`) build [`DatapathHost::adapter_stats`] with it and may append
/// their own counters to `extra`.
///
/// [`DatapathHost::adapter_stats`]: crate::DatapathHost::adapter_stats
#[must_use]
pub fn wire_scheduler_stats<P>(sched: &Scheduler<P>) -> p::AdapterStatistics {
    let st: &SchedulerStats = sched.stats();
    let mut totals = p::FlowCounters::default();
    let mut nonconf_scheduled: u64 = 0;
    let unclassified = sched.unclassified_stats();
    let flows = (0..sched.flow_count())
        .filter_map(|i| sched.flow_stats(i))
        .chain(core::iter::once(unclassified));
    for f in flows {
        totals.dropped_packets = totals.dropped_packets.saturating_add(f.dropped_packets);
        totals.packets_scheduled = totals.packets_scheduled.saturating_add(f.packets_scheduled);
        totals.packets_transmitted = totals
            .packets_transmitted
            .saturating_add(f.packets_transmitted);
        totals.bytes_scheduled = totals.bytes_scheduled.saturating_add(f.bytes_scheduled);
        totals.bytes_transmitted = totals.bytes_transmitted.saturating_add(f.bytes_transmitted);
        nonconf_scheduled = nonconf_scheduled.saturating_add(f.nonconforming_packets_scheduled);
    }
    let mut extra = alloc::vec::Vec::new();
    drop_counters(&st.adapter.drops, &mut extra);
    extra.push(p::Counter {
        name: alloc::string::String::from("unknown_flow_packets"),
        value: st.adapter.unknown_flow_packets,
    });
    p::AdapterStatistics {
        adapter: p::AdapterCounters {
            out_of_packets: st.adapter.out_of_packets,
            flows_opened: st.adapter.flows_opened,
            flows_closed: st.adapter.flows_closed,
            flows_rejected: st.adapter.flows_rejected,
            flows_modified: st.adapter.flows_modified,
            flow_mods_rejected: st.adapter.flow_mods_rejected,
            max_simultaneous_flows: u64::from(st.adapter.max_simultaneous_flows),
        },
        totals,
        conformer: p::ConformerStats {
            nonconforming_packets_scheduled: nonconf_scheduled,
        },
        shaper: p::ShaperStats {
            max_packets_in_shaper: u64::from(st.shaper.max_packets_in_shaper),
            average_packets_in_shaper: u64::from(st.shaper.average_packets_in_shaper),
        },
        sequencer: p::SequencerStats {
            max_packets_in_netcard: u64::from(st.sequencer.max_packets_in_netcard),
            average_packets_in_netcard: u64::from(st.sequencer.average_packets_in_netcard),
            max_packets_in_sequencer: u64::from(st.sequencer.max_packets_in_sequencer),
            average_packets_in_sequencer: u64::from(st.sequencer.average_packets_in_sequencer),
            nonconforming_packets_transmitted: st.sequencer.nonconforming_packets_transmitted,
        },
        extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_kind_maps_to_its_tc_code() {
        use ErrorKind::*;
        for k in [
            InvalidServiceType,
            InvalidTokenRate,
            InvalidPeakRate,
            InvalidSdMode,
            InvalidQosPriority,
            InvalidTrafficClass,
            InvalidAddressType,
            SupportedObjectsExist,
            ObjectLengthInvalid,
            InvalidDiffservFlow,
            DsMappingExists,
            InvalidShapeRate,
            InvalidDsClass,
            InvalidPrefix,
            InvalidPortRange,
            InvalidProtocol,
            InvalidValue,
            UnknownFlow,
            UnknownFilter,
            UnknownPolicy,
            DuplicateId,
            DuplicateName,
            AdmissionExceeded,
            LimitExceeded,
        ] {
            let s = status_of(k);
            if let Some(tc) = k.tc_code() {
                assert_eq!(s.code(), tc, "{k:?}");
            } else {
                assert!((7600..7700).contains(&s.code()), "{k:?}");
            }
            assert_eq!(s.name(), k.name(), "{k:?}");
        }
    }

    /// proto's field numbers and names mirror the engine's.
    #[test]
    fn field_ids_mirror_the_engine() {
        use Field::*;
        let all = [
            None,
            ServiceType,
            TokenRate,
            TokenBucketSize,
            PeakRate,
            MaxSduSize,
            MinimumPolicedSize,
            Mode,
            DsClass,
            TrafficClass,
            ShapingBehavior,
            ShapeRate,
            Name,
            FlowId,
            Family,
            SrcPrefix,
            DstPrefix,
            SrcPorts,
            DstPorts,
            Protocol,
            InboundDscp,
            VlanId,
            Precedence,
            FilterFlow,
            FilterId,
            MapConformingDscp,
            MapNonConformingDscp,
            MapPriority,
            MapNonConformingPriority,
            QueuePackets,
            QueueBytes,
            MaxOutstandingSends,
            AdmissionShare,
            MarkingOverride,
            FlowMode,
            FlowCount,
            FilterCount,
            LinkSpeed,
            PolicyId,
            PolicyAction,
            PolicyCount,
        ];
        for f in all {
            assert_eq!(FieldId(f as u16).name(), f.name(), "{f:?}");
        }
        assert_eq!(all.len() + 1, FieldId::ALL.len(), "proto has ADAPTER extra");
    }

    #[test]
    fn maps_and_options_round_trip_with_equal_defaults() {
        let m = MarkMaps::default();
        assert_eq!(wire_maps(&m), p::MappingTables::default());
        assert_eq!(maps(&wire_maps(&m)), m);
        let o = AdapterOptions::default();
        assert_eq!(options(&wire_options(&o)).unwrap(), o);
    }
}

//! `--static-config FILE`: flows and filters published straight to the
//! module (the datapath's own publish call), for bring-up and for runs
//! where the control plane is not the thing under test. Re-read on SIGHUP.
//! The normal way to configure lwfhost is tcctl over the control socket.
//!
//! ```text
//! # flow ID SERVICE RATE_BITS_PER_S|- MODE|- DSCP|- PCP|-
//! flow 1 guaranteed 1000000 shape 46 6
//! # filter FLOW_ID tcp|udp|tcpudp DPORT      (IPv4 and IPv6)
//! filter 1 udp 7000
//! ```
//! Rates count IP-layer bytes (given here in bits/s, stored in bytes/s);
//! the bucket is 10 ms at the rate, at least 1500 bytes (tcctl's default).

use std::sync::Arc;

use qos_engine::flow::{FlowSpec, SdMode, ServiceType};
use qos_engine::gpc::{DEFAULT_PRECEDENCE, Filter, FlowId, PortRange, Prefix, ProtocolMatch};
use qos_engine::mark::MarkMaps;
use qos_engine::packet::Family;
use qos_engine::psched::Limits;
use qoslwf::datapath::DatapathConfig;
use qoslwf::sim::Adapter;

fn opt<T: std::str::FromStr>(v: &str, what: &str, line: usize) -> Result<Option<T>, String> {
    if v == "-" {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| format!("line {line}: bad {what}: {v}"))
}

fn service(v: &str, line: usize) -> Result<ServiceType, String> {
    Ok(match v {
        "best-effort" => ServiceType::BestEffort,
        "controlled-load" => ServiceType::ControlledLoad,
        "guaranteed" => ServiceType::Guaranteed,
        "network-control" => ServiceType::NetworkControl,
        "qualitative" => ServiceType::Qualitative,
        _ => return Err(format!("line {line}: bad service type: {v}")),
    })
}

fn mode(v: &str, line: usize) -> Result<Option<SdMode>, String> {
    Ok(Some(match v {
        "-" => return Ok(None),
        "borrow" => SdMode::Borrow,
        "shape" => SdMode::Shape,
        "discard" => SdMode::Discard,
        "borrow-plus" => SdMode::BorrowPlus,
        _ => return Err(format!("line {line}: bad mode: {v}")),
    }))
}

/// Flows (with their ids) and filters read from the file.
type Parsed = (Vec<(FlowId, FlowSpec)>, Vec<Filter>);

/// Parses the file into flows and filters (filter ids numbered from 1).
pub fn parse(text: &str) -> Result<Parsed, String> {
    let mut flows = Vec::new();
    let mut filters = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let words: Vec<&str> = raw
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        match words.as_slice() {
            [] => {}
            ["flow", id, svc, rate, md, dscp, pcp] => {
                let id: FlowId = id
                    .parse()
                    .map_err(|_| format!("line {line}: bad flow id"))?;
                let rate: Option<u64> = opt::<u64>(rate, "rate", line)?.map(|bits| bits / 8);
                flows.push((
                    id,
                    FlowSpec {
                        name: format!("flow{id}"),
                        service_type: service(svc, line)?,
                        token_rate: rate,
                        bucket: rate.map_or(0, |r| (r / 100).max(1500)),
                        peak_rate: None,
                        max_sdu: None,
                        min_policed: 0,
                        mode: mode(md, line)?,
                        dclass: opt(dscp, "dscp", line)?,
                        tclass: opt(pcp, "pcp", line)?,
                        shaping: None,
                    },
                ));
            }
            ["filter", flow, proto, dport] => {
                let flow: FlowId = flow
                    .parse()
                    .map_err(|_| format!("line {line}: bad flow id"))?;
                let protocol = match *proto {
                    "tcp" => ProtocolMatch::Tcp,
                    "udp" => ProtocolMatch::Udp,
                    "tcpudp" => ProtocolMatch::TcpOrUdp,
                    _ => return Err(format!("line {line}: bad protocol: {proto}")),
                };
                let dport: u16 = dport
                    .parse()
                    .map_err(|_| format!("line {line}: bad port"))?;
                for family in [Family::V4, Family::V6] {
                    let id = u32::try_from(filters.len() + 1).unwrap_or(u32::MAX);
                    filters.push(Filter {
                        id,
                        flow,
                        family,
                        src: Prefix::ANY,
                        dst: Prefix::ANY,
                        src_ports: PortRange::ANY,
                        dst_ports: PortRange::single(dport),
                        protocol,
                        dscp: None,
                        vlan: None,
                        precedence: DEFAULT_PRECEDENCE,
                    });
                }
            }
            _ => {
                return Err(format!(
                    "line {line}: not `flow ...` or `filter ...`: {raw}"
                ));
            }
        }
    }
    Ok((flows, filters))
}

/// Reads `path` and publishes it to the adapter's module.
pub fn load(adapter: &Adapter, path: &std::path::Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (flows, filters) = parse(&text)?;
    let n = flows.len();
    let cfg = DatapathConfig::new(flows, &filters, MarkMaps::default(), Limits::default())
        .map_err(|e| format!("{e:?}"))?;
    let module = adapter
        .module()
        .ok_or("the filter module is not attached")?;
    module
        .publish(Some(Arc::new(cfg)))
        .map_err(|e| format!("publish: {e:?}"))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flows_and_filters_for_both_families() {
        let (flows, filters) = parse(
            "# demo\nflow 1 guaranteed 1000000 shape 46 6\nflow 2 best-effort - - - -\nfilter 1 udp 7000\n",
        )
        .unwrap();
        assert_eq!(flows.len(), 2);
        assert_eq!(flows[0].1.token_rate, Some(125_000));
        assert_eq!(flows[0].1.bucket, 1500);
        assert_eq!(flows[0].1.dclass, Some(46));
        assert_eq!(flows[0].1.tclass, Some(6));
        assert_eq!(flows[1].1.token_rate, None);
        assert_eq!(filters.len(), 2);
        assert_eq!(filters[0].family, Family::V4);
        assert_eq!(filters[1].family, Family::V6);
        assert_eq!(filters[1].dst_ports, PortRange::single(7000));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("flow 1 guaranteed 1000000 shape 46 6\nfilter 1 icmp 7\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
    }
}

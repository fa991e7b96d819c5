//! One function per subcommand: resolve the typed flags, talk to the
//! driver through [`Client`], print.

use std::time::Duration;

use qos_proto::{
    AdapterInfo, AdapterState, AdapterStatistics, Filter, FlowDef, FlowEntry, FlowSpec,
    MappingTables, Policy,
};
use serde_json::{Value, json};

use crate::adapters::{self, display_name, guid_text};
use crate::cli::{
    AdapterArg, ApplyArgs, Cli, Command, ExportArgs, FilterCmd, FlowCmd, MapCmd, OptionsCmd,
    PolicyCmd, StatsArgs,
};
use crate::client::Client;
use crate::config::{self, Current};
use crate::error::{Error, Result};
use crate::output::{opt, print, print_json, table};
use crate::spec::{self, flag};

/// Runs a parsed command line.
///
/// # Errors
/// Whatever failed, as one [`Error`].
pub fn run(cli: Cli) -> Result<()> {
    // `apply` reads and parses its file before connecting: a broken file is
    // reported even when the driver is not there.
    let parsed = match &cli.command {
        Command::Apply(a) => Some(read_config(a)?),
        _ => None,
    };
    let mut client = Client::new(cli.device.clone());
    let json = cli.json;
    match cli.command {
        Command::Interfaces => interfaces(&mut client, json),
        Command::Flow(c) => flow(&mut client, c, json),
        Command::Filter(c) => filter(&mut client, c, json),
        Command::Policy(c) => policy(&mut client, c, json),
        Command::Map(c) => map(&mut client, c, json),
        Command::Options(c) => options(&mut client, c, json),
        Command::Stats(a) => stats(&mut client, &a, json),
        Command::Apply(a) => match parsed {
            Some((path, model)) => apply(&mut client, &a, &path, &model, json),
            None => Ok(()),
        },
        Command::Export(a) => export(&mut client, &a),
        Command::Version => version(&mut client, json),
    }
}

fn one_adapter(client: &mut Client, arg: &AdapterArg) -> Result<AdapterInfo> {
    let all = client.adapters()?;
    adapters::resolve(&all, arg.interface.as_deref()).cloned()
}

/// The adapters a listing covers: the one named, else all.
fn listed_adapters(client: &mut Client, arg: &AdapterArg) -> Result<Vec<AdapterInfo>> {
    let all = client.adapters()?;
    match arg.interface.as_deref() {
        Some(_) => Ok(vec![
            adapters::resolve(&all, arg.interface.as_deref())?.clone(),
        ]),
        None => Ok(all),
    }
}

const fn state_name(s: AdapterState) -> &'static str {
    match s {
        AdapterState::Attached => "attached",
        AdapterState::Paused => "paused",
        AdapterState::Restarting => "restarting",
        AdapterState::Running => "running",
        AdapterState::Pausing => "pausing",
        AdapterState::Detaching => "detaching",
        AdapterState::Other(_) => "unknown",
    }
}

fn speed_text(bps: u64) -> String {
    if bps == 0 {
        "-".into()
    } else {
        spec::bit_rate_text(bps)
    }
}

fn mac_text(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn interfaces(client: &mut Client, json: bool) -> Result<()> {
    let all = client.adapters()?;
    if json {
        let v: Vec<Value> = all
            .iter()
            .map(|a| {
                json!({
                    "index": a.id,
                    "name": a.name,
                    "friendly_name": a.friendly_name,
                    "guid": guid_text(&a.guid),
                    "mac": mac_text(&a.mac),
                    "media": a.media,
                    "mtu": a.mtu,
                    "link_speed_bps": a.link_speed_bps,
                    "state": state_name(a.state),
                    "flows": a.flows,
                    "filters": a.filters,
                    "policies": a.policies,
                })
            })
            .collect();
        return print_json(&Value::Array(v));
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                a.name.clone(),
                a.friendly_name.clone(),
                guid_text(&a.guid),
                state_name(a.state).into(),
                speed_text(a.link_speed_bps),
                a.mtu.to_string(),
                a.flows.to_string(),
                a.filters.to_string(),
                a.policies.to_string(),
            ]
        })
        .collect();
    print(&table(
        &[
            "INDEX",
            "NAME",
            "FRIENDLY NAME",
            "GUID",
            "STATE",
            "SPEED",
            "MTU",
            "FLOWS",
            "FILTERS",
            "POLICIES",
        ],
        &rows,
    ))
}

/// Finds a flow by name, else by id.
fn find_flow(client: &mut Client, a: &AdapterInfo, wanted: &str) -> Result<FlowEntry> {
    let flows = client.flows(a.id, false)?;
    let by_name: Vec<&FlowEntry> = flows.iter().filter(|f| f.spec.name == wanted).collect();
    if let [one] = by_name.as_slice() {
        return Ok((*one).clone());
    }
    if let Some(f) = wanted
        .trim()
        .parse::<u32>()
        .ok()
        .and_then(|id| flows.iter().find(|f| f.id == id))
    {
        return Ok(f.clone());
    }
    Err(Error::NotFound {
        what: format!("no flow `{wanted}` on adapter {}", display_name(a)),
        hint: format!("see tcctl flow list -i {}", a.id),
    })
}

fn flow_json(a: &AdapterInfo, f: &FlowEntry) -> Value {
    let s = &f.spec;
    let mut v = json!({
        "adapter": a.id,
        "id": f.id,
        "name": s.name,
        "service_type": spec::service_type_name(s.service_type),
        "rate": s.token_rate,
        "bucket": s.bucket,
        "peak": s.peak_rate,
        "max_sdu": s.max_sdu,
        "min_policed": s.min_policed,
        "mode": s.mode.map(spec::mode_name),
        "dscp": s.dclass,
        "pcp": s.tclass,
        "shaping": s.shaping.map(spec::shaping_name),
        "filters": f.filters,
        "policy": f.policy,
    });
    if let (Some(st), Some(o)) = (&f.stats, v.as_object_mut()) {
        o.insert("stats".into(), flow_stats_json(st));
    }
    v
}

/// Said where per-flow statistics are shown: the driver keeps the netcard
/// figures (sends outstanding at the miniport) per adapter only, so the
/// per-flow ones on the wire are not measurements and are never shown.
const NETCARD_PER_FLOW_NOTE: &str =
    "per-flow packets in netcard: not tracked (the adapter's figures are in `tcctl stats`)";

/// A flow's statistics. The shaper and sequencer figures are the flow's
/// own; the wire's per-flow netcard figures are left out (not tracked, see
/// [`NETCARD_PER_FLOW_NOTE`]).
fn flow_stats_json(st: &qos_proto::FlowStats) -> Value {
    let extra: serde_json::Map<String, Value> = st
        .extra
        .iter()
        .map(|c| (c.name.clone(), json!(c.value)))
        .collect();
    json!({
        "dropped_packets": st.flow.dropped_packets,
        "packets_scheduled": st.flow.packets_scheduled,
        "packets_transmitted": st.flow.packets_transmitted,
        "bytes_scheduled": st.flow.bytes_scheduled,
        "bytes_transmitted": st.flow.bytes_transmitted,
        "nonconforming_packets_scheduled": st.conformer.nonconforming_packets_scheduled,
        "max_packets_in_shaper": st.shaper.max_packets_in_shaper,
        "average_packets_in_shaper": st.shaper.average_packets_in_shaper,
        "max_packets_in_sequencer": st.sequencer.max_packets_in_sequencer,
        "average_packets_in_sequencer": st.sequencer.average_packets_in_sequencer,
        "nonconforming_packets_transmitted": st.sequencer.nonconforming_packets_transmitted,
        "extra": extra,
    })
}

fn flow_row(a: &AdapterInfo, f: &FlowEntry, with_adapter: bool) -> Vec<String> {
    let s = &f.spec;
    let mut r = Vec::new();
    if with_adapter {
        r.push(a.id.to_string());
    }
    r.extend([
        f.id.to_string(),
        if s.name.is_empty() {
            "-".into()
        } else {
            s.name.clone()
        },
        spec::service_type_name(s.service_type),
        opt(s.token_rate.map(spec::rate_text)),
        if s.bucket == 0 {
            "-".into()
        } else {
            spec::size_text(s.bucket)
        },
        opt(s.peak_rate.map(spec::rate_text)),
        opt(s.mode.map(spec::mode_name)),
        opt(s.dclass),
        opt(s.tclass),
        f.filters.to_string(),
        opt(f.policy),
    ]);
    r
}

/// Names the flow of a refusal the way the user named it: the driver says
/// `flow 2: ...` with an id the user may never have seen.
fn with_flow_name(e: Error, op: &str, name: &str) -> Error {
    match e {
        Error::Refused {
            message, not_found, ..
        } => {
            let message = match message
                .strip_prefix("flow ")
                .and_then(|m| m.split_once(": "))
            {
                Some((id, rest)) if !name.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => {
                    format!("flow \"{name}\" (id {id}): {rest}")
                }
                _ => message,
            };
            Error::Refused {
                op: op.to_owned(),
                message,
                not_found,
            }
        }
        e => e,
    }
}

fn flow(client: &mut Client, cmd: FlowCmd, json: bool) -> Result<()> {
    match cmd {
        FlowCmd::Add {
            adapter,
            name,
            id,
            spec: opts,
        } => {
            let mut spec = FlowSpec::best_effort(String::new());
            opts.fields(Some(name.clone())).apply_to(&mut spec, &flag)?;
            let a = one_adapter(client, &adapter)?;
            let id = client
                .add_flow(
                    a.id,
                    FlowDef {
                        id: id.unwrap_or(0),
                        spec,
                    },
                )
                .map_err(|e| with_flow_name(e, "flow add", &name))?;
            if json {
                print_json(&json!({ "adapter": a.id, "id": id, "name": name }))
            } else {
                print(&format!(
                    "added flow {id} \"{name}\" on {}\n",
                    display_name(&a)
                ))
            }
        }
        FlowCmd::Set {
            adapter,
            flow,
            rename,
            spec: opts,
        } => {
            let fields = opts.fields(rename);
            if fields.is_empty() {
                return Err(Error::invalid(
                    "flow set",
                    "nothing to change (hint: give e.g. --rate 20mbit or --peak none)",
                ));
            }
            // Check the values before looking anything up.
            fields.apply_to(&mut FlowSpec::best_effort(String::new()), &flag)?;
            let a = one_adapter(client, &adapter)?;
            let current = find_flow(client, &a, &flow)?;
            let mut spec = current.spec.clone();
            fields.apply_to(&mut spec, &flag)?;
            client
                .modify_flow(
                    a.id,
                    FlowDef {
                        id: current.id,
                        spec,
                    },
                )
                .map_err(|e| with_flow_name(e, "flow set", &current.spec.name))?;
            if json {
                print_json(&json!({ "adapter": a.id, "id": current.id }))
            } else {
                print(&format!(
                    "changed flow {} on {}\n",
                    current.id,
                    display_name(&a)
                ))
            }
        }
        FlowCmd::Del { adapter, flow } => {
            let a = one_adapter(client, &adapter)?;
            let current = find_flow(client, &a, &flow)?;
            client
                .delete_flow(a.id, current.id)
                .map_err(|e| with_flow_name(e, "flow del", &current.spec.name))?;
            if json {
                print_json(&json!({ "adapter": a.id, "id": current.id, "deleted": true }))
            } else {
                print(&format!(
                    "deleted flow {} on {}\n",
                    current.id,
                    display_name(&a)
                ))
            }
        }
        FlowCmd::List { adapter } => {
            let list = listed_adapters(client, &adapter)?;
            let mut rows = Vec::new();
            let mut items = Vec::new();
            let many = list.len() > 1;
            for a in &list {
                for f in client.flows(a.id, false)? {
                    if json {
                        items.push(flow_json(a, &f));
                    } else {
                        rows.push(flow_row(a, &f, many));
                    }
                }
            }
            if json {
                return print_json(&Value::Array(items));
            }
            let mut headers = vec![
                "ID", "NAME", "SERVICE", "RATE", "BUCKET", "PEAK", "MODE", "DSCP", "PCP",
                "FILTERS", "POLICY",
            ];
            if many {
                headers.insert(0, "ADAPTER");
            }
            print(&table(&headers, &rows))
        }
        FlowCmd::Show { adapter, flow } => {
            let a = one_adapter(client, &adapter)?;
            let found = find_flow(client, &a, &flow)?;
            let f = client.flow(a.id, found.id)?;
            if json {
                return print_json(&flow_json(&a, &f));
            }
            let mut out = format!("flow {} on {}\n", f.id, display_name(&a));
            out.push_str(&format!(
                "  name: {}\n",
                if f.spec.name.is_empty() {
                    "-"
                } else {
                    &f.spec.name
                }
            ));
            for (k, v) in config::flow_pairs(&f.spec) {
                out.push_str(&format!("  {k}: {v}\n"));
            }
            out.push_str(&format!("  filters: {}\n", f.filters));
            if let Some(p) = f.policy {
                out.push_str(&format!("  made by policy: {p}\n"));
            }
            if let Some(st) = &f.stats {
                out.push_str("statistics:\n");
                if let Some(o) = flow_stats_json(st).as_object() {
                    for (k, v) in o {
                        if k != "extra" {
                            out.push_str(&format!("  {k}: {v}\n"));
                        }
                    }
                }
                for c in &st.extra {
                    out.push_str(&format!("  {}: {}\n", c.name, c.value));
                }
                out.push_str(&format!("  ({NETCARD_PER_FLOW_NOTE})\n"));
            }
            print(&out)
        }
    }
}

fn flow_name(flows: &[FlowEntry], id: u32) -> String {
    match flows.iter().find(|f| f.id == id) {
        Some(f) if !f.spec.name.is_empty() => f.spec.name.clone(),
        _ => id.to_string(),
    }
}

fn filter_json(a: &AdapterInfo, f: &Filter, flows: &[FlowEntry]) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("adapter".into(), json!(a.id));
    o.insert("id".into(), json!(f.id));
    o.insert("flow".into(), json!(f.flow));
    o.insert("flow_name".into(), json!(flow_name(flows, f.flow)));
    for (k, v) in config::filter_pairs(f) {
        let value = if k == "precedence" || k == "inbound_dscp" || k == "vlan" {
            v.parse::<u64>().map_or(json!(v), |n| json!(n))
        } else {
            json!(v)
        };
        o.insert(k.into(), value);
    }
    Value::Object(o)
}

fn filter(client: &mut Client, cmd: FilterCmd, json: bool) -> Result<()> {
    match cmd {
        FilterCmd::Add {
            adapter,
            flow,
            matching,
            inbound_dscp,
            vlan,
        } => {
            let fields = FilterCmd::fields(&matching, inbound_dscp.as_ref(), vlan.as_ref());
            fields.build(0, &flag)?;
            let a = one_adapter(client, &adapter)?;
            let target = find_flow(client, &a, &flow)?;
            let filters = fields.build(target.id, &flag)?;
            let mut added: Vec<(u32, Filter)> = Vec::new();
            for f in filters {
                match client.add_filter(a.id, f) {
                    Ok(id) => added.push((id, f)),
                    Err(e) => {
                        // Keep "one command, one change": undo the other family.
                        for (id, _) in &added {
                            let _ = client.delete_filter(a.id, *id);
                        }
                        return Err(e);
                    }
                }
            }
            if json {
                let ids: Vec<u32> = added.iter().map(|(id, _)| *id).collect();
                return print_json(&json!({ "adapter": a.id, "flow": target.id, "ids": ids }));
            }
            let mut out = String::new();
            for (id, f) in &added {
                out.push_str(&format!(
                    "added filter {id} ({}) -> flow {} on {}\n",
                    spec::family_name(f.family),
                    flow_name(std::slice::from_ref(&target), target.id),
                    display_name(&a)
                ));
            }
            print(&out)
        }
        FilterCmd::Del { adapter, id } => {
            let a = one_adapter(client, &adapter)?;
            client.delete_filter(a.id, id)?;
            if json {
                print_json(&json!({ "adapter": a.id, "id": id, "deleted": true }))
            } else {
                print(&format!("deleted filter {id} on {}\n", display_name(&a)))
            }
        }
        FilterCmd::List { adapter, flow } => {
            let list = listed_adapters(client, &adapter)?;
            let many = list.len() > 1;
            let mut rows = Vec::new();
            let mut items = Vec::new();
            for a in &list {
                let flows = client.flows(a.id, false)?;
                let only = match &flow {
                    Some(w) => Some(find_flow(client, a, w)?.id),
                    None => None,
                };
                for f in client.filters(a.id)? {
                    if only.is_some_and(|id| id != f.flow) {
                        continue;
                    }
                    if json {
                        items.push(filter_json(a, &f, &flows));
                        continue;
                    }
                    let pairs = config::filter_pairs(&f);
                    let get = |k: &str| {
                        pairs
                            .iter()
                            .find(|(x, _)| *x == k)
                            .map_or_else(|| "-".to_owned(), |(_, v)| v.clone())
                    };
                    let mut r = Vec::new();
                    if many {
                        r.push(a.id.to_string());
                    }
                    r.extend([
                        f.id.to_string(),
                        flow_name(&flows, f.flow),
                        get("family"),
                        get("protocol"),
                        get("src"),
                        get("dst"),
                        get("sport"),
                        get("dport"),
                        get("inbound_dscp"),
                        get("vlan"),
                        get("precedence"),
                    ]);
                    rows.push(r);
                }
            }
            if json {
                return print_json(&Value::Array(items));
            }
            let mut headers = vec![
                "ID", "FLOW", "FAMILY", "PROTO", "SRC", "DST", "SPORT", "DPORT", "IN-DSCP", "VLAN",
                "PREC",
            ];
            if many {
                headers.insert(0, "ADAPTER");
            }
            print(&table(&headers, &rows))
        }
    }
}

fn find_policy(client: &mut Client, a: &AdapterInfo, wanted: &str) -> Result<Policy> {
    let all = client.policies(a.id)?;
    if let Some(p) = all.iter().find(|p| p.name == wanted) {
        return Ok(p.clone());
    }
    if let Some(p) = wanted
        .trim()
        .parse::<u32>()
        .ok()
        .and_then(|id| all.iter().find(|p| p.id == id))
    {
        return Ok(p.clone());
    }
    Err(Error::NotFound {
        what: format!("no policy `{wanted}` on adapter {}", display_name(a)),
        hint: format!("see tcctl policy list -i {}", a.id),
    })
}

fn policy_json(a: &AdapterInfo, p: &Policy) -> Value {
    json!({
        "adapter": a.id,
        "id": p.id,
        "name": p.name,
        "protocol": spec::policy_protocol_name(p.protocol),
        "family": spec::policy_family_name(p.family),
        "src": config::policy_pairs(p).iter().find(|(k, _)| *k == "src").map(|(_, v)| v.clone()),
        "dst": config::policy_pairs(p).iter().find(|(k, _)| *k == "dst").map(|(_, v)| v.clone()),
        "sport": p.src_ports.map(spec::ports_text),
        "dport": p.dst_ports.map(spec::ports_text),
        "dscp": p.dscp,
        "pcp": p.pcp,
        "throttle_bps": p.throttle_bps,
        "precedence": p.precedence,
    })
}

fn policy(client: &mut Client, cmd: PolicyCmd, json: bool) -> Result<()> {
    match cmd {
        PolicyCmd::Add {
            adapter,
            name,
            matching,
            dscp,
            pcp,
            throttle,
        } => {
            let policy =
                PolicyCmd::fields(&matching, dscp.as_ref(), pcp.as_ref(), throttle.as_ref())
                    .build(&name, &flag)?;
            let a = one_adapter(client, &adapter)?;
            let id = client.add_policy(a.id, policy)?;
            if json {
                print_json(&json!({ "adapter": a.id, "id": id, "name": name }))
            } else {
                print(&format!(
                    "added policy {id} \"{name}\" on {}\n",
                    display_name(&a)
                ))
            }
        }
        PolicyCmd::Del { adapter, policy } => {
            let a = one_adapter(client, &adapter)?;
            let p = find_policy(client, &a, &policy)?;
            client.delete_policy(a.id, p.id)?;
            if json {
                print_json(&json!({ "adapter": a.id, "id": p.id, "deleted": true }))
            } else {
                print(&format!(
                    "deleted policy {} \"{}\" on {}\n",
                    p.id,
                    p.name,
                    display_name(&a)
                ))
            }
        }
        PolicyCmd::List { adapter } => {
            let list = listed_adapters(client, &adapter)?;
            let many = list.len() > 1;
            let mut rows = Vec::new();
            let mut items = Vec::new();
            for a in &list {
                for p in client.policies(a.id)? {
                    if json {
                        items.push(policy_json(a, &p));
                        continue;
                    }
                    let pairs = config::policy_pairs(&p);
                    let get = |k: &str| {
                        pairs
                            .iter()
                            .find(|(x, _)| *x == k)
                            .map_or_else(|| "-".to_owned(), |(_, v)| v.clone())
                    };
                    let mut r = Vec::new();
                    if many {
                        r.push(a.id.to_string());
                    }
                    r.extend([
                        p.id.to_string(),
                        p.name.clone(),
                        get("protocol"),
                        get("family"),
                        get("src"),
                        get("dst"),
                        get("sport"),
                        get("dport"),
                        get("dscp"),
                        get("pcp"),
                        get("throttle"),
                        get("precedence"),
                    ]);
                    rows.push(r);
                }
            }
            if json {
                return print_json(&Value::Array(items));
            }
            let mut headers = vec![
                "ID", "NAME", "PROTO", "FAMILY", "SRC", "DST", "SPORT", "DPORT", "DSCP", "PCP",
                "THROTTLE", "PREC",
            ];
            if many {
                headers.insert(0, "ADAPTER");
            }
            print(&table(&headers, &rows))
        }
    }
}

fn maps_json(a: &AdapterInfo, m: &MappingTables) -> Value {
    let mut o = serde_json::Map::new();
    for (st, e) in m.entries() {
        o.insert(
            spec::service_type_name(st).replace('-', "_"),
            json!({
                "dscp": e.conforming_dscp,
                "nonconforming_dscp": e.nonconforming_dscp,
                "pcp": e.priority,
            }),
        );
    }
    o.insert(
        "nonconforming".into(),
        json!({ "pcp": m.nonconforming_priority }),
    );
    json!({ "adapter": a.id, "map": Value::Object(o) })
}

fn split_entry(entry: &str) -> Result<(&str, &str)> {
    entry.split_once('=').ok_or_else(|| {
        Error::invalid(
            format!("`{entry}`"),
            "entries are KEY=VALUE (hint: e.g. guaranteed.dscp=46)",
        )
    })
}

fn map(client: &mut Client, cmd: MapCmd, json: bool) -> Result<()> {
    match cmd {
        MapCmd::Show { adapter } => {
            let list = listed_adapters(client, &adapter)?;
            let mut items = Vec::new();
            let mut out = String::new();
            for a in &list {
                let m = client.maps(a.id)?;
                if json {
                    items.push(maps_json(a, &m));
                    continue;
                }
                let mut rows: Vec<Vec<String>> = m
                    .entries()
                    .iter()
                    .map(|(st, e)| {
                        vec![
                            spec::service_type_name(*st),
                            e.conforming_dscp.to_string(),
                            e.nonconforming_dscp.to_string(),
                            e.priority.to_string(),
                        ]
                    })
                    .collect();
                rows.push(vec![
                    "non-conforming".into(),
                    "-".into(),
                    "-".into(),
                    m.nonconforming_priority.to_string(),
                ]);
                out.push_str(&format!("adapter {} ({}):\n", a.id, display_name(a)));
                out.push_str(&table(&["SERVICE", "DSCP", "NC-DSCP", "PCP"], &rows));
            }
            if json {
                print_json(&Value::Array(items))
            } else {
                print(&out)
            }
        }
        MapCmd::Set {
            adapter,
            defaults,
            entries,
        } => {
            let mut pairs = Vec::new();
            for e in &entries {
                pairs.push(split_entry(e)?);
            }
            if pairs.is_empty() && !defaults {
                return Err(Error::invalid(
                    "map set",
                    "nothing to change (hint: e.g. tcctl map set guaranteed.dscp=46, or --defaults)",
                ));
            }
            let loc = |k: &str| k.to_owned();
            let mut check = MappingTables::default();
            for (k, v) in &pairs {
                spec::set_map_entry(&mut check, k, v, &loc)?;
            }
            let a = one_adapter(client, &adapter)?;
            let mut m = if defaults {
                MappingTables::default()
            } else {
                client.maps(a.id)?
            };
            for (k, v) in pairs {
                spec::set_map_entry(&mut m, k, v, &loc)?;
            }
            client.set_maps(a.id, m)?;
            if json {
                print_json(&maps_json(&a, &m))
            } else {
                print(&format!(
                    "changed the mapping tables of {}\n",
                    display_name(&a)
                ))
            }
        }
    }
}

fn options(client: &mut Client, cmd: OptionsCmd, json: bool) -> Result<()> {
    match cmd {
        OptionsCmd::Show { adapter } => {
            let list = listed_adapters(client, &adapter)?;
            let mut items = Vec::new();
            let mut out = String::new();
            for a in &list {
                let o = client.options(a.id)?;
                let cfg = qos_proto::AdapterConfig {
                    options: o,
                    maps: MappingTables::default(),
                    flows: vec![],
                    filters: vec![],
                    policies: vec![],
                };
                let text = config::export(&[(a.clone(), cfg)]);
                if json {
                    items.push(json!({
                        "adapter": a.id,
                        "queue_packets": o.queue_packets,
                        "queue_bytes": o.queue_bytes,
                        "max_outstanding_sends": o.max_outstanding_sends,
                        "admission_share": o.admission_share,
                        "marking_override": o.marking_override.to_raw(),
                        "flow_mode": o.flow_mode.to_raw(),
                    }));
                    continue;
                }
                out.push_str(&format!("adapter {} ({}):\n", a.id, display_name(a)));
                let body = text
                    .split("[adapter.options]\n")
                    .nth(1)
                    .and_then(|t| t.split("\n[adapter.map]").next())
                    .unwrap_or("");
                for l in body.lines().filter(|l| !l.is_empty()) {
                    out.push_str("  ");
                    out.push_str(l);
                    out.push('\n');
                }
            }
            if json {
                print_json(&Value::Array(items))
            } else {
                print(&out)
            }
        }
        OptionsCmd::Set { adapter, entries } => {
            let mut pairs = Vec::new();
            for e in &entries {
                pairs.push(split_entry(e)?);
            }
            if pairs.is_empty() {
                return Err(Error::invalid(
                    "options set",
                    "nothing to change (hint: e.g. tcctl options set admission_share=50)",
                ));
            }
            let a = one_adapter(client, &adapter)?;
            let mut o = client.options(a.id)?;
            let loc = |k: &str| k.to_owned();
            for (k, v) in pairs {
                config::set_option(&mut o, k, v, &loc)?;
            }
            client.set_options(a.id, o)?;
            if json {
                print_json(&json!({ "adapter": a.id, "changed": true }))
            } else {
                print(&format!("changed the options of {}\n", display_name(&a)))
            }
        }
    }
}

fn adapter_stats_json(a: &AdapterInfo, s: &AdapterStatistics, flows: &[FlowEntry]) -> Value {
    let extra: serde_json::Map<String, Value> = s
        .extra
        .iter()
        .map(|c| (c.name.clone(), json!(c.value)))
        .collect();
    json!({
        "adapter": a.id,
        "name": display_name(a),
        "out_of_packets": s.adapter.out_of_packets,
        "flows_opened": s.adapter.flows_opened,
        "flows_closed": s.adapter.flows_closed,
        "flows_rejected": s.adapter.flows_rejected,
        "flows_modified": s.adapter.flows_modified,
        "flow_mods_rejected": s.adapter.flow_mods_rejected,
        "max_simultaneous_flows": s.adapter.max_simultaneous_flows,
        "packets_scheduled": s.totals.packets_scheduled,
        "packets_transmitted": s.totals.packets_transmitted,
        "bytes_scheduled": s.totals.bytes_scheduled,
        "bytes_transmitted": s.totals.bytes_transmitted,
        "dropped_packets": s.totals.dropped_packets,
        "nonconforming_packets_scheduled": s.conformer.nonconforming_packets_scheduled,
        "max_packets_in_shaper": s.shaper.max_packets_in_shaper,
        "average_packets_in_shaper": s.shaper.average_packets_in_shaper,
        "max_packets_in_netcard": s.sequencer.max_packets_in_netcard,
        "average_packets_in_netcard": s.sequencer.average_packets_in_netcard,
        "max_packets_in_sequencer": s.sequencer.max_packets_in_sequencer,
        "average_packets_in_sequencer": s.sequencer.average_packets_in_sequencer,
        "nonconforming_packets_transmitted": s.sequencer.nonconforming_packets_transmitted,
        "extra": extra,
        "flows": flows.iter().map(|f| {
            json!({
                "id": f.id,
                "name": f.spec.name,
                "stats": f.stats.as_ref().map(flow_stats_json),
            })
        }).collect::<Vec<_>>(),
    })
}

/// One snapshot of the counters `stats` prints.
struct Sample {
    adapter: AdapterInfo,
    stats: AdapterStatistics,
    flows: Vec<FlowEntry>,
}

fn sample(client: &mut Client, list: &[AdapterInfo], only: Option<&str>) -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    for a in list {
        let stats = client.stats(a.id)?;
        let mut flows = client.flows(a.id, true)?;
        if let Some(w) = only {
            let id = find_flow(client, a, w)?.id;
            flows.retain(|f| f.id == id);
        }
        out.push(Sample {
            adapter: a.clone(),
            stats,
            flows,
        });
    }
    Ok(out)
}

fn stats_text(now: &[Sample], before: Option<&[Sample]>, secs: f64) -> String {
    let mut out = String::new();
    for (i, s) in now.iter().enumerate() {
        let prev = before.and_then(|b| b.get(i));
        let t = &s.stats.totals;
        out.push_str(&format!(
            "adapter {} ({}): sent {} pkts / {} B, scheduled {} pkts, dropped {}, non-conforming {}, out of packets {}\n",
            s.adapter.id,
            display_name(&s.adapter),
            t.packets_transmitted,
            t.bytes_transmitted,
            t.packets_scheduled,
            t.dropped_packets,
            s.stats.conformer.nonconforming_packets_scheduled,
            s.stats.adapter.out_of_packets,
        ));
        let (sh, sq) = (&s.stats.shaper, &s.stats.sequencer);
        out.push_str(&format!(
            "  packets in shaper: max {} avg {}; in sequencer: max {} avg {}; in netcard: max {} avg {}\n",
            sh.max_packets_in_shaper,
            sh.average_packets_in_shaper,
            sq.max_packets_in_sequencer,
            sq.average_packets_in_sequencer,
            sq.max_packets_in_netcard,
            sq.average_packets_in_netcard,
        ));
        for c in &s.stats.extra {
            out.push_str(&format!("  {}: {}\n", c.name, c.value));
        }
        let rows: Vec<Vec<String>> = s
            .flows
            .iter()
            .map(|f| {
                let st = f.stats.clone().unwrap_or_default();
                let rate = prev
                    .and_then(|p| p.flows.iter().find(|x| x.id == f.id))
                    .and_then(|p| p.stats.as_ref())
                    .filter(|_| secs > 0.0)
                    .map_or_else(
                        || "-".to_owned(),
                        |p| {
                            let delta = st
                                .flow
                                .bytes_transmitted
                                .saturating_sub(p.flow.bytes_transmitted);
                            // Display only: whole bytes per second.
                            #[allow(
                                clippy::cast_possible_truncation,
                                clippy::cast_sign_loss,
                                clippy::cast_precision_loss
                            )]
                            let per_sec = (delta as f64 / secs).round() as u64;
                            spec::rate_text(per_sec)
                        },
                    );
                vec![
                    f.id.to_string(),
                    if f.spec.name.is_empty() {
                        "-".into()
                    } else {
                        f.spec.name.clone()
                    },
                    st.flow.packets_transmitted.to_string(),
                    st.flow.bytes_transmitted.to_string(),
                    st.flow.dropped_packets.to_string(),
                    st.conformer.nonconforming_packets_scheduled.to_string(),
                    st.shaper.max_packets_in_shaper.to_string(),
                    st.shaper.average_packets_in_shaper.to_string(),
                    st.sequencer.max_packets_in_sequencer.to_string(),
                    st.sequencer.average_packets_in_sequencer.to_string(),
                    rate,
                ]
            })
            .collect();
        if !rows.is_empty() {
            out.push_str(&table(
                &[
                    "ID",
                    "FLOW",
                    "SENT-PKTS",
                    "SENT-BYTES",
                    "DROPPED",
                    "NONCONF",
                    "MAX-SHAPER",
                    "AVG-SHAPER",
                    "MAX-SEQ",
                    "AVG-SEQ",
                    "RATE",
                ],
                &rows,
            ));
            out.push_str(&format!("({NETCARD_PER_FLOW_NOTE})\n"));
        }
    }
    out
}

fn stats(client: &mut Client, a: &StatsArgs, json: bool) -> Result<()> {
    if !(a.interval.is_finite() && a.interval > 0.0 && a.interval <= 86_400.0) {
        return Err(Error::invalid(
            "--interval",
            format!("`{}` must be a number of seconds in (0, 86400]", a.interval),
        ));
    }
    let list = listed_adapters(client, &a.adapter)?;
    let rounds = if a.watch { a.count } else { Some(1) };
    let mut before: Option<Vec<Sample>> = None;
    let mut n = 0u64;
    loop {
        let now = sample(client, &list, a.flow.as_deref())?;
        if json {
            let v: Vec<Value> = now
                .iter()
                .map(|s| adapter_stats_json(&s.adapter, &s.stats, &s.flows))
                .collect();
            // With --watch, one JSON document per line (JSON Lines).
            if a.watch {
                print(&format!("{}\n", Value::Array(v)))?;
            } else {
                print_json(&Value::Array(v))?;
            }
        } else {
            if a.watch && n > 0 {
                print("\n")?;
            }
            print(&stats_text(&now, before.as_deref(), a.interval))?;
        }
        n += 1;
        if rounds.is_some_and(|r| n >= r) {
            return Ok(());
        }
        before = Some(now);
        std::thread::sleep(Duration::from_secs_f64(a.interval));
    }
}

fn read_config(a: &ApplyArgs) -> Result<(String, config::FileModel)> {
    let path = a.file.display().to_string();
    let text = if path == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| Error::ConfigFile {
            path: "<stdin>".into(),
            message: e.to_string(),
        })?
    } else {
        std::fs::read_to_string(&a.file).map_err(|e| Error::ConfigFile {
            path: path.clone(),
            message: format!("cannot read: {e}"),
        })?
    };
    let model = config::parse(&path, &text)?;
    Ok((path, model))
}

fn current(client: &mut Client, info: &AdapterInfo) -> Result<Current> {
    Ok(Current {
        options: client.options(info.id)?,
        maps: client.maps(info.id)?,
        flows: client.flows(info.id, false)?,
        filters: client.filters(info.id)?,
        policies: client.policies(info.id)?,
        info: info.clone(),
    })
}

fn apply(
    client: &mut Client,
    args: &ApplyArgs,
    path: &str,
    model: &config::FileModel,
    json: bool,
) -> Result<()> {
    if model.adapters.is_empty() {
        return Err(Error::invalid(
            path,
            "has no [[adapter]] section: nothing to apply (hint: see tcctl export for the format)",
        ));
    }
    let all = client.adapters()?;
    // Resolve and check every adapter's section before sending anything.
    let mut plan: Vec<(Current, qos_proto::AdapterConfig, Vec<String>)> = Vec::new();
    for (i, section) in model.adapters.iter().enumerate() {
        let name = match &section.adapter {
            config::Scalar::Int(n) => n.to_string(),
            config::Scalar::Str(s) => s.clone(),
            config::Scalar::Bool(_) => String::new(),
        };
        let info = adapters::resolve(&all, Some(&name)).map_err(|e| match e {
            Error::NotFound { what, hint } => Error::NotFound {
                what: format!("{path}: adapter section #{}: {what}", i + 1),
                hint,
            },
            e => e,
        })?;
        if plan.iter().any(|(c, _, _)| c.info.id == info.id) {
            return Err(Error::invalid(
                format!("{path}: adapter section #{}", i + 1),
                format!("adapter {} has two sections (hint: merge them)", info.id),
            ));
        }
        let cur = current(client, info)?;
        let want = config::resolve(path, section, &cur)?;
        let changes = config::diff(&cur.config(), &want);
        plan.push((cur, want, changes));
    }
    let mut out = String::new();
    let mut report = Vec::new();
    for (cur, _, changes) in &plan {
        if json {
            report.push(json!({ "adapter": cur.info.id, "changes": changes }));
            continue;
        }
        out.push_str(&format!(
            "adapter {} ({}): {}\n",
            cur.info.id,
            display_name(&cur.info),
            if changes.is_empty() {
                "no changes".to_owned()
            } else {
                format!("{} change(s)", changes.len())
            }
        ));
        for c in changes {
            out.push_str("  ");
            out.push_str(c);
            out.push('\n');
        }
    }
    if args.dry_run {
        if json {
            return print_json(&json!({ "dry_run": true, "adapters": report }));
        }
        out.push_str("dry run: nothing was sent\n");
        return print(&out);
    }
    // Each adapter's Apply is atomic in the driver. If a later adapter
    // refuses, the earlier ones are put back as they were.
    let mut done: Vec<&Current> = Vec::new();
    for (cur, want, changes) in &plan {
        if changes.is_empty() {
            continue;
        }
        if let Err(e) = client.apply(cur.info.id, want.clone()) {
            let mut rolled_back = Vec::new();
            for d in &done {
                if client.apply(d.info.id, d.config()).is_ok() {
                    rolled_back.push(d.info.id.to_string());
                }
            }
            return Err(match e {
                Error::Refused {
                    op,
                    message,
                    not_found,
                } => Error::Refused {
                    op: format!("{op} adapter {} ({})", cur.info.id, display_name(&cur.info)),
                    message: if rolled_back.is_empty() {
                        message
                    } else {
                        format!(
                            "{message}; adapters {} were restored",
                            rolled_back.join(", ")
                        )
                    },
                    not_found,
                },
                e => e,
            });
        }
        done.push(cur);
    }
    if json {
        return print_json(&json!({ "dry_run": false, "adapters": report }));
    }
    print(&out)
}

fn export(client: &mut Client, a: &ExportArgs) -> Result<()> {
    let list = listed_adapters(client, &a.adapter)?;
    let mut items = Vec::new();
    for info in &list {
        let cur = current(client, info)?;
        items.push((info.clone(), cur.config()));
    }
    print(&config::export(&items))
}

fn version(client: &mut Client, json: bool) -> Result<()> {
    let v = client.version()?;
    if json {
        return print_json(&json!({
            "tcctl": env!("CARGO_PKG_VERSION"),
            "abi_version": qos_proto::ABI_VERSION,
            "driver_abi_version": v.abi_version,
            "driver_version": v.driver_version,
            "max_flows": v.limits.max_flows,
            "max_filters": v.limits.max_filters,
            "max_policies": v.limits.max_policies,
            "max_request_bytes": v.limits.max_request_bytes,
        }));
    }
    print(&format!(
        "tcctl {} (ABI {})\ndriver {} (ABI {})\nlimits: {} flows, {} filters, {} policies per adapter; requests up to {}\n",
        env!("CARGO_PKG_VERSION"),
        qos_proto::ABI_VERSION,
        v.driver_version,
        v.abi_version,
        v.limits.max_flows,
        v.limits.max_filters,
        v.limits.max_policies,
        spec::size_text(u64::from(v.limits.max_request_bytes)),
    ))
}

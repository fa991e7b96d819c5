//! The declarative config file: its TOML model, its resolution into one
//! `qos_proto::AdapterConfig` per adapter (every value checked before
//! anything is sent), the diff `apply --dry-run` prints, and the writer
//! `export` uses (whose output `apply` takes back unchanged).
//!
//! ```toml
//! [[adapter]]
//! adapter = "eth0"            # name, friendly name, GUID or index
//!
//! [[adapter.flow]]
//! name = "web"
//! service_type = "controlled-load"
//! rate = "10mbit"
//! dscp = 46
//!
//! [[adapter.filter]]
//! flow = "web"
//! protocol = "tcp"
//! dport = 80
//! ```
//!
//! Sections left out (`options`, `map`) keep the adapter's current values;
//! flows, filters and policies not in the file are deleted. Flows keep
//! their id when the file gives it or when a flow of the same name exists;
//! filters and policies that did not change keep theirs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use qos_proto::{
    AdapterConfig, AdapterInfo, AdapterOptions, Filter, FlowDef, FlowEntry, FlowMode, FlowSpec,
    MappingTables, MarkingOverride, Policy, PortRange, Prefix,
};
use serde::Deserialize;

use crate::adapters::{display_name, guid_text};
use crate::error::{Error, Result};
use crate::spec::{self, FilterFields, FlowFields, PolicyFields};

/// Ids at or above this belong to objects a policy made.
pub const POLICY_OBJECT_ID: u32 = 0x8000_0000;

/// A TOML value typed by a user: a string or a number (`dport = 80` and
/// `dport = "80"` mean the same).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// A number.
    Int(i64),
    /// A string.
    Str(String),
    /// A boolean (refused where a value is expected, with a message).
    Bool(bool),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Self::Int(i) => i.to_string(),
            Self::Str(s) => s.clone(),
            Self::Bool(b) => b.to_string(),
        }
    }
}

fn text(v: Option<&Scalar>) -> Option<String> {
    v.map(Scalar::text)
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileModel {
    /// One section per adapter.
    #[serde(default, rename = "adapter")]
    pub adapters: Vec<AdapterSection>,
}

/// One adapter's section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterSection {
    /// Name, friendly name, GUID or index.
    pub adapter: Scalar,
    /// Options (left out = keep).
    pub options: Option<BTreeMap<String, Scalar>>,
    /// Mapping tables: `SERVICE = { dscp, nonconforming_dscp, pcp }`,
    /// `nonconforming = { pcp }` (left out = keep).
    pub map: Option<BTreeMap<String, BTreeMap<String, Scalar>>>,
    /// Flows.
    #[serde(default, rename = "flow")]
    pub flows: Vec<FlowSection>,
    /// Filters.
    #[serde(default, rename = "filter")]
    pub filters: Vec<FilterSection>,
    /// Policies.
    #[serde(default, rename = "policy")]
    pub policies: Vec<PolicySection>,
}

/// A flow.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FlowSection {
    pub id: Option<u32>,
    #[serde(default)]
    pub name: String,
    pub service_type: Option<Scalar>,
    pub rate: Option<Scalar>,
    pub bucket: Option<Scalar>,
    pub peak: Option<Scalar>,
    pub max_sdu: Option<Scalar>,
    pub min_policed: Option<Scalar>,
    pub mode: Option<Scalar>,
    pub dscp: Option<Scalar>,
    pub pcp: Option<Scalar>,
    pub shaping: Option<Scalar>,
}

/// A filter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FilterSection {
    pub flow: Scalar,
    pub family: Option<Scalar>,
    pub protocol: Option<Scalar>,
    pub src: Option<Scalar>,
    pub dst: Option<Scalar>,
    pub sport: Option<Scalar>,
    pub dport: Option<Scalar>,
    pub inbound_dscp: Option<Scalar>,
    pub vlan: Option<Scalar>,
    pub precedence: Option<Scalar>,
}

/// A policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PolicySection {
    pub name: String,
    pub protocol: Option<Scalar>,
    pub family: Option<Scalar>,
    pub src: Option<Scalar>,
    pub dst: Option<Scalar>,
    pub sport: Option<Scalar>,
    pub dport: Option<Scalar>,
    pub dscp: Option<Scalar>,
    pub pcp: Option<Scalar>,
    pub throttle: Option<Scalar>,
    pub precedence: Option<Scalar>,
}

/// Parses the file's text; errors name the file, line and column.
///
/// # Errors
/// [`Error::ConfigFile`] with the TOML parser's message on one line.
pub fn parse(path: &str, text: &str) -> Result<FileModel> {
    toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(String::new(), |s| {
            let before = text.get(..s.start).unwrap_or("");
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!(":{line}:{col}")
        });
        Error::ConfigFile {
            path: format!("{path}{at}"),
            message: e.message().replace('\n', " "),
        }
    })
}

/// What the driver has for one adapter, as read before applying.
#[derive(Debug, Clone)]
pub struct Current {
    /// The adapter.
    pub info: AdapterInfo,
    /// Options.
    pub options: AdapterOptions,
    /// Mapping tables.
    pub maps: MappingTables,
    /// Every flow (policy flows included).
    pub flows: Vec<FlowEntry>,
    /// Every filter (policy filters included).
    pub filters: Vec<Filter>,
    /// Policies.
    pub policies: Vec<Policy>,
}

impl Current {
    /// The user's part of the configuration: what export writes and apply
    /// replaces (objects a policy made are left out: the policy makes them
    /// again).
    #[must_use]
    pub fn config(&self) -> AdapterConfig {
        let mut flows: Vec<FlowDef> = self
            .flows
            .iter()
            .filter(|f| f.policy.is_none() && f.id < POLICY_OBJECT_ID)
            .map(|f| FlowDef {
                id: f.id,
                spec: f.spec.clone(),
            })
            .collect();
        flows.sort_by_key(|f| f.id);
        let mut filters: Vec<Filter> = self
            .filters
            .iter()
            .filter(|f| f.id < POLICY_OBJECT_ID && f.flow < POLICY_OBJECT_ID)
            .copied()
            .collect();
        filters.sort_by_key(|f| f.id);
        let mut policies = self.policies.clone();
        policies.sort_by_key(|p| p.id);
        AdapterConfig {
            options: self.options,
            maps: self.maps,
            flows,
            filters,
            policies,
        }
    }
}

/// Parses `KEY=VALUE` option entries into `options`.
///
/// # Errors
/// [`Error::Invalid`] naming the key.
pub fn set_option(
    options: &mut AdapterOptions,
    key: &str,
    value: &str,
    loc: spec::Loc<'_>,
) -> Result<()> {
    let u32_of = |v: &str| -> Result<u32> { spec::small(loc, key, v, u32::MAX) };
    match key.replace('-', "_").as_str() {
        "queue_packets" => options.queue_packets = u32_of(value)?,
        "queue_bytes" => options.queue_bytes = spec::size(loc, key, value)?,
        "max_outstanding_sends" => options.max_outstanding_sends = u32_of(value)?,
        "admission_share" => {
            options.admission_share =
                u8::try_from(spec::small(loc, key, value, 100)?).unwrap_or(100);
        }
        "marking_override" => options.marking_override = spec::marking_override(loc, key, value)?,
        "flow_mode" => {
            options.flow_mode = match value.trim().to_ascii_lowercase().as_str() {
                "filters" => FlowMode::Filters,
                "diffserv" => FlowMode::Diffserv,
                _ => {
                    return Err(Error::invalid(
                        loc(key),
                        format!("`{value}` is not a flow mode (hint: filters or diffserv)"),
                    ));
                }
            };
        }
        _ => {
            return Err(Error::invalid(
                loc(key),
                "unknown option (hint: queue_packets, queue_bytes, max_outstanding_sends, admission_share, marking_override, flow_mode)",
            ));
        }
    }
    Ok(())
}

/// Resolves one adapter's section against what the driver has now: every
/// value parsed, every reference checked, ids chosen. Nothing is sent.
///
/// # Errors
/// [`Error::Invalid`] naming the file, adapter, object and field.
pub fn resolve(path: &str, section: &AdapterSection, current: &Current) -> Result<AdapterConfig> {
    let adapter = format!("{path}: adapter \"{}\"", section.adapter.text());
    let now = current.config();

    let mut options = now.options;
    if let Some(o) = &section.options {
        let loc = |k: &str| format!("{adapter} options: {k}");
        for (k, v) in o {
            set_option(&mut options, k, &v.text(), &loc)?;
        }
    }
    let mut maps = now.maps;
    if let Some(m) = &section.map {
        let loc = |k: &str| format!("{adapter} map: {k}");
        for (svc, entries) in m {
            for (k, v) in entries {
                spec::set_map_entry(&mut maps, &format!("{svc}.{k}"), &v.text(), &loc)?;
            }
        }
    }

    // Flows: names unique, ids given or kept by name or allocated.
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut explicit: BTreeSet<u32> = BTreeSet::new();
    for (i, f) in section.flows.iter().enumerate() {
        let what = flow_what(&adapter, i, f);
        if !f.name.is_empty() && names.insert(f.name.as_str(), i).is_some() {
            return Err(Error::invalid(
                format!("{what}: name"),
                "is used by another flow in this file (names are unique per adapter)",
            ));
        }
        if let Some(id) = f.id {
            if id == 0 || id >= POLICY_OBJECT_ID {
                return Err(Error::invalid(
                    format!("{what}: id"),
                    format!("`{id}` must be 1..={}", POLICY_OBJECT_ID - 1),
                ));
            }
            if !explicit.insert(id) {
                return Err(Error::invalid(
                    format!("{what}: id"),
                    format!("`{id}` is used by another flow in this file"),
                ));
            }
        }
    }
    // New flows get ids no current flow has, so a deleted flow's id is not
    // reused in the same apply (which would read as a rename).
    let mut taken = explicit.clone();
    taken.extend(now.flows.iter().map(|f| f.id));
    let mut ids = Vec::with_capacity(section.flows.len());
    for f in &section.flows {
        let kept = f.id.or_else(|| {
            (!f.name.is_empty())
                .then(|| {
                    now.flows
                        .iter()
                        .find(|c| c.spec.name == f.name && !explicit.contains(&c.id))
                        .map(|c| c.id)
                })
                .flatten()
        });
        if let Some(id) = kept {
            taken.insert(id);
        }
        ids.push(kept);
    }
    let mut next = 1u32;
    let mut flows = Vec::with_capacity(section.flows.len());
    for ((i, f), id) in section.flows.iter().enumerate().zip(ids) {
        let id = match id {
            Some(id) => id,
            None => {
                while taken.contains(&next) {
                    next += 1;
                }
                taken.insert(next);
                next
            }
        };
        let what = flow_what(&adapter, i, f);
        let loc = |k: &str| format!("{what}: {k}");
        let mut spec = FlowSpec::best_effort(String::new());
        FlowFields {
            name: Some(f.name.clone()),
            service_type: text(f.service_type.as_ref()),
            rate: text(f.rate.as_ref()),
            bucket: text(f.bucket.as_ref()),
            peak: text(f.peak.as_ref()),
            max_sdu: text(f.max_sdu.as_ref()),
            min_policed: text(f.min_policed.as_ref()),
            mode: text(f.mode.as_ref()),
            dscp: text(f.dscp.as_ref()),
            pcp: text(f.pcp.as_ref()),
            shaping: text(f.shaping.as_ref()),
        }
        .apply_to(&mut spec, &loc)?;
        flows.push(FlowDef { id, spec });
    }

    // Filters: the flow named must be in the file.
    let mut filters = Vec::new();
    for (i, f) in section.filters.iter().enumerate() {
        let what = format!("{adapter} filter #{}", i + 1);
        let loc = |k: &str| format!("{what}: {k}");
        let flow = match &f.flow {
            Scalar::Int(n) => u32::try_from(*n)
                .ok()
                .filter(|id| flows.iter().any(|d| d.id == *id)),
            Scalar::Str(s) => flows
                .iter()
                .find(|d| d.spec.name == *s)
                .map(|d| d.id)
                .or_else(|| {
                    s.parse::<u32>()
                        .ok()
                        .filter(|id| flows.iter().any(|d| d.id == *id))
                }),
            Scalar::Bool(_) => None,
        }
        .ok_or_else(|| {
            Error::invalid(
                loc("flow"),
                format!(
                    "`{}` names no flow of this adapter in the file (hint: add a [[adapter.flow]] with that name)",
                    f.flow.text()
                ),
            )
        })?;
        let built = FilterFields {
            family: text(f.family.as_ref()),
            protocol: text(f.protocol.as_ref()),
            src: text(f.src.as_ref()),
            dst: text(f.dst.as_ref()),
            sport: text(f.sport.as_ref()),
            dport: text(f.dport.as_ref()),
            inbound_dscp: text(f.inbound_dscp.as_ref()),
            vlan: text(f.vlan.as_ref()),
            precedence: text(f.precedence.as_ref()),
        }
        .build(flow, &loc)?;
        filters.extend(built);
    }
    // Unchanged filters keep their ids.
    let mut unused: Vec<&Filter> = now.filters.iter().collect();
    for f in &mut filters {
        if let Some(pos) = unused.iter().position(|c| same_filter(c, f)) {
            f.id = unused.swap_remove(pos).id;
        }
    }

    // Policies: names required and unique; a policy keeps its id by name.
    let mut policies = Vec::new();
    let mut pnames = BTreeSet::new();
    for (i, p) in section.policies.iter().enumerate() {
        let what = format!("{adapter} policy \"{}\" (#{})", p.name, i + 1);
        let loc = |k: &str| format!("{what}: {k}");
        if p.name.is_empty() {
            return Err(Error::invalid(loc("name"), "a policy needs a name"));
        }
        if !pnames.insert(p.name.as_str()) {
            return Err(Error::invalid(
                loc("name"),
                "is used by another policy in this file",
            ));
        }
        let mut policy = PolicyFields {
            protocol: text(p.protocol.as_ref()),
            family: text(p.family.as_ref()),
            src: text(p.src.as_ref()),
            dst: text(p.dst.as_ref()),
            sport: text(p.sport.as_ref()),
            dport: text(p.dport.as_ref()),
            dscp: text(p.dscp.as_ref()),
            pcp: text(p.pcp.as_ref()),
            throttle: text(p.throttle.as_ref()),
            precedence: text(p.precedence.as_ref()),
        }
        .build(&p.name, &loc)?;
        if let Some(c) = now.policies.iter().find(|c| c.name == p.name) {
            policy.id = c.id;
        }
        policies.push(policy);
    }

    Ok(AdapterConfig {
        options,
        maps,
        flows,
        filters,
        policies,
    })
}

fn flow_what(adapter: &str, i: usize, f: &FlowSection) -> String {
    if f.name.is_empty() {
        format!("{adapter} flow #{}", i + 1)
    } else {
        format!("{adapter} flow \"{}\"", f.name)
    }
}

/// Same conditions and flow (the id aside).
fn same_filter(a: &Filter, b: &Filter) -> bool {
    Filter { id: 0, ..*a } == Filter { id: 0, ..*b }
}

/// Same policy (the id aside).
fn same_policy(a: &Policy, b: &Policy) -> bool {
    Policy { id: 0, ..a.clone() } == Policy { id: 0, ..b.clone() }
}

// ---------------------------------------------------------------- showing

/// The fields of a flow as `key = value` pairs, in the file's order and
/// spelling (values as they would be typed).
#[must_use]
pub fn flow_pairs(s: &FlowSpec) -> Vec<(&'static str, String)> {
    let mut v = vec![("service_type", spec::service_type_name(s.service_type))];
    if let Some(r) = s.token_rate {
        v.push(("rate", spec::rate_text(r)));
    }
    if s.bucket != 0 {
        v.push(("bucket", spec::size_text(s.bucket)));
    }
    if let Some(p) = s.peak_rate {
        v.push(("peak", spec::rate_text(p)));
    }
    if let Some(m) = s.max_sdu {
        v.push(("max_sdu", spec::size_text(u64::from(m))));
    }
    if s.min_policed != 0 {
        v.push(("min_policed", spec::size_text(u64::from(s.min_policed))));
    }
    if let Some(m) = s.mode {
        v.push(("mode", spec::mode_name(m)));
    }
    if let Some(d) = s.dclass {
        v.push(("dscp", d.to_string()));
    }
    if let Some(p) = s.tclass {
        v.push(("pcp", p.to_string()));
    }
    if let Some(b) = s.shaping {
        v.push(("shaping", spec::shaping_name(b)));
    }
    v
}

/// The conditions of a filter as `key = value` pairs (no flow, no id).
#[must_use]
pub fn filter_pairs(f: &Filter) -> Vec<(&'static str, String)> {
    let fam = spec::local_family(f.family);
    let mut v = vec![("family", spec::family_name(f.family))];
    if f.protocol != qos_proto::ProtocolMatch::Any {
        v.push(("protocol", spec::protocol_name(f.protocol)));
    }
    if let Some(fam) = fam {
        if f.src != Prefix::ANY {
            v.push(("src", spec::prefix_text(fam, f.src)));
        }
        if f.dst != Prefix::ANY {
            v.push(("dst", spec::prefix_text(fam, f.dst)));
        }
    }
    if f.src_ports != PortRange::ANY {
        v.push(("sport", spec::ports_text(f.src_ports)));
    }
    if f.dst_ports != PortRange::ANY {
        v.push(("dport", spec::ports_text(f.dst_ports)));
    }
    if let Some(d) = f.dscp {
        v.push(("inbound_dscp", d.to_string()));
    }
    if let Some(vl) = f.vlan {
        v.push(("vlan", vl.to_string()));
    }
    v.push(("precedence", f.precedence.to_string()));
    v
}

/// The conditions and actions of a policy as `key = value` pairs.
#[must_use]
pub fn policy_pairs(p: &Policy) -> Vec<(&'static str, String)> {
    use crate::conditions::Family;
    let fam = match p.family {
        qos_proto::PolicyFamily::V6 => Family::V6,
        _ => Family::V4,
    };
    // A prefix's own family is implied by its length range; policies with
    // family "both" carry no prefix.
    let mut v = vec![("protocol", spec::policy_protocol_name(p.protocol))];
    v.push(("family", spec::policy_family_name(p.family)));
    if let Some(s) = p.src {
        v.push(("src", spec::prefix_text(fam, s)));
    }
    if let Some(d) = p.dst {
        v.push(("dst", spec::prefix_text(fam, d)));
    }
    if let Some(s) = p.src_ports {
        v.push(("sport", spec::ports_text(s)));
    }
    if let Some(d) = p.dst_ports {
        v.push(("dport", spec::ports_text(d)));
    }
    if let Some(d) = p.dscp {
        v.push(("dscp", d.to_string()));
    }
    if let Some(c) = p.pcp {
        v.push(("pcp", c.to_string()));
    }
    if let Some(t) = p.throttle_bps {
        v.push(("throttle", spec::bit_rate_text(t)));
    }
    v.push(("precedence", p.precedence.to_string()));
    v
}

fn inline(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn map_pairs(m: &MappingTables) -> Vec<(String, u8)> {
    let mut v = Vec::new();
    for (st, e) in m.entries() {
        let n = spec::service_type_name(st).replace('-', "_");
        v.push((format!("{n}.dscp"), e.conforming_dscp));
        v.push((format!("{n}.nonconforming_dscp"), e.nonconforming_dscp));
        v.push((format!("{n}.pcp"), e.priority));
    }
    v.push(("nonconforming.pcp".into(), m.nonconforming_priority));
    v
}

fn option_pairs(o: &AdapterOptions) -> Vec<(&'static str, String)> {
    vec![
        ("queue_packets", o.queue_packets.to_string()),
        ("queue_bytes", spec::size_text(o.queue_bytes)),
        ("max_outstanding_sends", o.max_outstanding_sends.to_string()),
        ("admission_share", o.admission_share.to_string()),
        (
            "marking_override",
            match o.marking_override {
                MarkingOverride::Allow => "allow".into(),
                MarkingOverride::Ignore => "ignore".into(),
                MarkingOverride::Other(n) => n.to_string(),
            },
        ),
        (
            "flow_mode",
            match o.flow_mode {
                FlowMode::Filters => "filters".into(),
                FlowMode::Diffserv => "diffserv".into(),
                FlowMode::Other(n) => n.to_string(),
            },
        ),
    ]
}

fn flow_label(flows: &[FlowDef], id: u32) -> String {
    match flows.iter().find(|f| f.id == id) {
        Some(f) if !f.spec.name.is_empty() => format!("\"{}\"", f.spec.name),
        _ => format!("{id}"),
    }
}

/// The changes that make `now` into `want`, one line each (empty when
/// they are the same).
#[must_use]
pub fn diff(now: &AdapterConfig, want: &AdapterConfig) -> Vec<String> {
    let mut out = Vec::new();
    for ((k, a), (_, b)) in option_pairs(&now.options)
        .into_iter()
        .zip(option_pairs(&want.options))
    {
        if a != b {
            out.push(format!("~ options: {k} {a} -> {b}"));
        }
    }
    for ((k, a), (_, b)) in map_pairs(&now.maps).into_iter().zip(map_pairs(&want.maps)) {
        if a != b {
            out.push(format!("~ map: {k} {a} -> {b}"));
        }
    }
    // Filters and policies go before the flows they point at are deleted.
    let mut kept_filters = BTreeSet::new();
    for f in &want.filters {
        if f.id != 0
            && now
                .filters
                .iter()
                .any(|c| c.id == f.id && same_filter(c, f))
        {
            kept_filters.insert(f.id);
        }
    }
    for c in &now.filters {
        if !kept_filters.contains(&c.id) {
            out.push(format!(
                "- filter {} -> flow {}: {}",
                c.id,
                flow_label(&now.flows, c.flow),
                inline(&filter_pairs(c))
            ));
        }
    }
    for p in &now.policies {
        match want.policies.iter().find(|w| w.id == p.id) {
            Some(w) if same_policy(p, w) => {}
            Some(w) => out.push(format!(
                "~ policy \"{}\": {} -> {}",
                p.name,
                inline(&policy_pairs(p)),
                inline(&policy_pairs(w))
            )),
            None => out.push(format!(
                "- policy \"{}\": {}",
                p.name,
                inline(&policy_pairs(p))
            )),
        }
    }
    for f in &now.flows {
        let label = flow_label(&now.flows, f.id);
        match want.flows.iter().find(|w| w.id == f.id) {
            Some(w) if w.spec == f.spec => {}
            Some(w) => {
                let a = flow_pairs(&f.spec);
                let b = flow_pairs(&w.spec);
                let mut changes = Vec::new();
                if f.spec.name != w.spec.name {
                    changes.push(format!("name \"{}\" -> \"{}\"", f.spec.name, w.spec.name));
                }
                let keys: BTreeSet<&str> = a.iter().chain(b.iter()).map(|(k, _)| *k).collect();
                for k in keys {
                    let va = a.iter().find(|(x, _)| *x == k).map(|(_, v)| v.as_str());
                    let vb = b.iter().find(|(x, _)| *x == k).map(|(_, v)| v.as_str());
                    if va != vb {
                        changes.push(format!(
                            "{k} {} -> {}",
                            va.unwrap_or("(none)"),
                            vb.unwrap_or("(none)")
                        ));
                    }
                }
                out.push(format!(
                    "~ flow {label} (id {}): {}",
                    f.id,
                    changes.join(", ")
                ));
            }
            None => out.push(format!("- flow {label} (id {})", f.id)),
        }
    }
    for w in &want.flows {
        if !now.flows.iter().any(|f| f.id == w.id) {
            out.push(format!(
                "+ flow {} (id {}): {}",
                flow_label(&want.flows, w.id),
                w.id,
                inline(&flow_pairs(&w.spec))
            ));
        }
    }
    for f in &want.filters {
        if !kept_filters.contains(&f.id) {
            out.push(format!(
                "+ filter -> flow {}: {}",
                flow_label(&want.flows, f.flow),
                inline(&filter_pairs(f))
            ));
        }
    }
    for w in &want.policies {
        if !now.policies.iter().any(|p| p.id == w.id) || w.id == 0 {
            out.push(format!(
                "+ policy \"{}\": {}",
                w.name,
                inline(&policy_pairs(w))
            ));
        }
    }
    out
}

// ---------------------------------------------------------------- export

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// Writes a value as TOML: numbers bare, everything else quoted.
fn toml_value(v: &str) -> String {
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) && v.len() < 19 {
        v.to_owned()
    } else {
        toml_str(v)
    }
}

/// Writes the configuration of `adapters` as a file `apply` takes back
/// unchanged.
#[must_use]
pub fn export(adapters: &[(AdapterInfo, AdapterConfig)]) -> String {
    let mut out = String::from(
        "# qoslwf configuration written by `tcctl export`; apply it with `tcctl apply FILE`.\n\
         # Rates count IP-layer bytes (from the IP header on, no link header); sizes are bytes.\n",
    );
    for (info, cfg) in adapters {
        // A comment ends at the line's end: keep control characters out.
        let friendly: String = display_name(info)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let _ = write!(
            out,
            "\n[[adapter]]\nadapter = {}  # {friendly}, index {}, {}\n",
            toml_str(&info.name),
            info.id,
            guid_text(&info.guid)
        );
        out.push_str("\n[adapter.options]\n");
        for (k, v) in option_pairs(&cfg.options) {
            let _ = writeln!(out, "{k} = {}", toml_value(&v));
        }
        out.push_str("\n[adapter.map]\n");
        for (st, e) in cfg.maps.entries() {
            let _ = writeln!(
                out,
                "{} = {{ dscp = {}, nonconforming_dscp = {}, pcp = {} }}",
                spec::service_type_name(st).replace('-', "_"),
                e.conforming_dscp,
                e.nonconforming_dscp,
                e.priority
            );
        }
        let _ = writeln!(
            out,
            "nonconforming = {{ pcp = {} }}",
            cfg.maps.nonconforming_priority
        );
        for f in &cfg.flows {
            let _ = write!(out, "\n[[adapter.flow]]\nid = {}\n", f.id);
            if !f.spec.name.is_empty() {
                let _ = writeln!(out, "name = {}", toml_str(&f.spec.name));
            }
            for (k, v) in flow_pairs(&f.spec) {
                let _ = writeln!(out, "{k} = {}", toml_value(&v));
            }
        }
        for f in &cfg.filters {
            out.push_str("\n[[adapter.filter]]\n");
            match cfg.flows.iter().find(|d| d.id == f.flow) {
                Some(d) if !d.spec.name.is_empty() => {
                    let _ = writeln!(out, "flow = {}", toml_str(&d.spec.name));
                }
                _ => {
                    let _ = writeln!(out, "flow = {}", f.flow);
                }
            }
            for (k, v) in filter_pairs(f) {
                let _ = writeln!(out, "{k} = {}", toml_value(&v));
            }
        }
        for p in &cfg.policies {
            let _ = write!(out, "\n[[adapter.policy]]\nname = {}\n", toml_str(&p.name));
            for (k, v) in policy_pairs(p) {
                let _ = writeln!(out, "{k} = {}", toml_value(&v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::tests::adapter;

    fn options() -> AdapterOptions {
        AdapterOptions {
            queue_packets: 4096,
            queue_bytes: 4 << 20,
            max_outstanding_sends: 65535,
            admission_share: 20,
            marking_override: MarkingOverride::Allow,
            flow_mode: FlowMode::Filters,
        }
    }

    fn empty() -> Current {
        Current {
            info: adapter(1, "eth0", "Ethernet", [1; 16]),
            options: options(),
            maps: MappingTables::default(),
            flows: vec![],
            filters: vec![],
            policies: vec![],
        }
    }

    const FILE: &str = r#"
[[adapter]]
adapter = "eth0"

[adapter.options]
admission_share = 50

[adapter.map]
guaranteed = { dscp = 46 }

[[adapter.flow]]
name = "web"
service_type = "controlled-load"
rate = "10mbit"
dscp = 46

[[adapter.flow]]
name = "bulk"
rate = 125000
mode = "shape"

[[adapter.filter]]
flow = "web"
protocol = "tcp"
dport = 80

[[adapter.filter]]
flow = "bulk"
dst = "2001:db8::/32"

[[adapter.policy]]
name = "voice"
protocol = "udp"
dport = "5060:5070"
dscp = 46
throttle = "1mbit"
"#;

    #[test]
    fn resolves_a_file() {
        let m = parse("c.toml", FILE).unwrap();
        let cfg = resolve("c.toml", &m.adapters[0], &empty()).unwrap();
        assert_eq!(cfg.options.admission_share, 50);
        assert_eq!(cfg.maps.guaranteed.conforming_dscp, 46);
        assert_eq!(
            cfg.maps.guaranteed.priority, 5,
            "untouched entries keep theirs"
        );
        assert_eq!(cfg.flows.len(), 2);
        assert_eq!((cfg.flows[0].id, cfg.flows[1].id), (1, 2));
        assert_eq!(cfg.flows[1].spec.token_rate, Some(125_000));
        assert_eq!(cfg.filters.len(), 3, "web: v4 + v6, bulk: v6");
        assert_eq!(cfg.filters[0].flow, 1);
        assert_eq!(cfg.filters[2].flow, 2);
        assert_eq!(cfg.policies[0].throttle_bps, Some(1_000_000));
    }

    #[test]
    fn file_errors_name_file_object_and_field() {
        let e = parse("c.toml", "[[adapter]]\nadapter = 1\nbogus = 2\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("c.toml:3:1: unknown field `bogus`"),
            "{e}"
        );
        let bad = FILE.replace("rate = \"10mbit\"", "rate = \"10mbits\"");
        let m = parse("c.toml", &bad).unwrap();
        let e = resolve("c.toml", &m.adapters[0], &empty()).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "c.toml: adapter \"eth0\" flow \"web\": rate: `10mbits`: unknown unit"
            ),
            "{e}"
        );
        let bad = FILE.replace("flow = \"bulk\"", "flow = \"bluk\"");
        let m = parse("c.toml", &bad).unwrap();
        let e = resolve("c.toml", &m.adapters[0], &empty()).unwrap_err();
        assert!(
            e.to_string()
                .contains("filter #2: flow: `bluk` names no flow"),
            "{e}"
        );
        let bad = FILE.replace("name = \"bulk\"", "name = \"web\"");
        let m = parse("c.toml", &bad).unwrap();
        assert!(resolve("c.toml", &m.adapters[0], &empty()).is_err());
    }

    #[test]
    fn export_then_resolve_is_identity_and_diff_is_empty() {
        let m = parse("c.toml", FILE).unwrap();
        let cfg = resolve("c.toml", &m.adapters[0], &empty()).unwrap();
        // Pretend the driver stored it, giving filter and policy ids.
        let mut stored = cfg.clone();
        for (i, f) in stored.filters.iter_mut().enumerate() {
            f.id = u32::try_from(i).unwrap() + 1;
        }
        stored.policies[0].id = 1;
        let cur = Current {
            flows: stored
                .flows
                .iter()
                .map(|f| FlowEntry {
                    id: f.id,
                    policy: None,
                    spec: f.spec.clone(),
                    filters: 0,
                    stats: None,
                })
                .collect(),
            filters: stored.filters.clone(),
            policies: stored.policies.clone(),
            options: stored.options,
            maps: stored.maps,
            ..empty()
        };
        let text = export(&[(cur.info.clone(), cur.config())]);
        let again = parse("x.toml", &text).unwrap();
        let cfg2 = resolve("x.toml", &again.adapters[0], &cur).unwrap();
        assert_eq!(cfg2, cur.config(), "{text}");
        assert!(diff(&cur.config(), &cfg2).is_empty());
        assert_eq!(export(&[(cur.info.clone(), cfg2)]), text);
    }

    #[test]
    fn export_survives_odd_names() {
        let mut cur = empty();
        cur.info.name = "a\"b\\c".into();
        cur.info.friendly_name = "line\nbreak # not a key".into();
        cur.flows.push(FlowEntry {
            id: 3,
            policy: None,
            spec: FlowSpec::best_effort("quote \" and \u{e9}\n".into()),
            filters: 0,
            stats: None,
        });
        let text = export(&[(cur.info.clone(), cur.config())]);
        let m = parse("x.toml", &text).unwrap();
        assert_eq!(m.adapters[0].adapter, Scalar::Str("a\"b\\c".into()));
        let back = resolve("x.toml", &m.adapters[0], &cur).unwrap();
        assert_eq!(back.flows[0].spec.name, "quote \" and \u{e9}\n");
    }

    #[test]
    fn diff_lists_changes() {
        let m = parse("c.toml", FILE).unwrap();
        let want = resolve("c.toml", &m.adapters[0], &empty()).unwrap();
        let d = diff(&empty().config(), &want);
        assert!(
            d.contains(&"~ options: admission_share 20 -> 50".to_owned()),
            "{d:?}"
        );
        assert!(
            d.contains(&"~ map: guaranteed.dscp 40 -> 46".to_owned()),
            "{d:?}"
        );
        assert!(
            d.iter().any(|l| l
                .starts_with("+ flow \"web\" (id 1): service_type=controlled-load rate=10mbit")),
            "{d:?}"
        );
        assert_eq!(d.iter().filter(|l| l.starts_with("+ filter")).count(), 3);
        assert!(d.iter().any(|l| l.starts_with("+ policy \"voice\"")));
        let back = diff(&want, &empty().config());
        assert!(
            back.iter().any(|l| l.starts_with("- flow \"web\" (id 1)")),
            "{back:?}"
        );
    }

    mod round_trip {
        use super::*;
        use proptest::collection::vec;
        use proptest::option;
        use proptest::prelude::*;
        use qos_proto::{
            Family, PolicyFamily, PolicyProtocol, ProtocolMatch, SdMode, ServiceType,
            ShapingBehavior,
        };

        fn prefix(fam: Family) -> impl Strategy<Value = Prefix> {
            let bits: u8 = if fam == Family::V4 { 32 } else { 128 };
            (any::<u128>(), 0..=bits).prop_map(move |(a, len)| {
                let a = if bits == 32 { a & 0xFFFF_FFFF } else { a };
                let host = if len >= bits {
                    0
                } else {
                    (if bits == 128 {
                        u128::MAX
                    } else {
                        (1u128 << bits) - 1
                    }) >> len
                };
                Prefix {
                    addr: a & !host,
                    len,
                }
            })
        }

        fn ports() -> impl Strategy<Value = PortRange> {
            (any::<u16>(), any::<u16>()).prop_map(|(a, b)| PortRange {
                lo: a.min(b),
                hi: a.max(b),
            })
        }

        fn spec() -> impl Strategy<Value = FlowSpec> {
            (
                prop_oneof![
                    Just(ServiceType::BestEffort),
                    Just(ServiceType::ControlledLoad),
                    Just(ServiceType::Guaranteed),
                    Just(ServiceType::NetworkControl),
                    Just(ServiceType::Qualitative),
                ],
                option::of(1u64..=u64::MAX / 8),
                1u64..=u64::MAX,
                option::of(1u64..=u64::MAX / 8),
                option::of(any::<u32>()),
                any::<u32>(),
                option::of(prop_oneof![
                    Just(SdMode::Borrow),
                    Just(SdMode::Shape),
                    Just(SdMode::Discard),
                    Just(SdMode::BorrowPlus),
                ]),
                (option::of(0u8..=63), option::of(0u8..=7)),
                option::of(prop_oneof![
                    Just(ShapingBehavior::ShapeOnly),
                    Just(ShapingBehavior::ShapeAndMark),
                    Just(ShapingBehavior::UseNonConformantMarkings),
                ]),
            )
                .prop_map(
                    |(st, rate, bucket, peak, max_sdu, min_policed, mode, (d, p), shaping)| {
                        FlowSpec {
                            name: String::new(),
                            service_type: st,
                            token_rate: rate,
                            bucket,
                            peak_rate: peak,
                            max_sdu,
                            min_policed,
                            mode,
                            dclass: d,
                            tclass: p,
                            shaping,
                        }
                    },
                )
        }

        fn filter(flows: u32) -> impl Strategy<Value = Filter> {
            prop_oneof![Just(Family::V4), Just(Family::V6)].prop_flat_map(move |fam| {
                (
                    1..=flows,
                    option::of(prefix(fam)),
                    option::of(prefix(fam)),
                    option::of((ports(), ports())),
                    prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(4), Just(5)],
                    prop_oneof![Just(47u8), Just(50), Just(132), Just(255)],
                    option::of(0u8..=63),
                    option::of(0u16..=4094),
                    any::<u8>(),
                )
                    .prop_map(
                        move |(flow, src, dst, pp, k, n, dscp, vlan, prec)| {
                            let protocol = match (pp.is_some(), k) {
                                (true, 0 | 3 | 4 | 5) | (false, 3) => ProtocolMatch::TcpOrUdp,
                                (_, 1) => ProtocolMatch::Tcp,
                                (_, 2) => ProtocolMatch::Udp,
                                (false, 0) => ProtocolMatch::Any,
                                (false, 4) => ProtocolMatch::Icmp,
                                _ => ProtocolMatch::Number(n),
                            };
                            let (sp, dp) = pp.unwrap_or((PortRange::ANY, PortRange::ANY));
                            Filter {
                                id: 0,
                                flow,
                                family: fam,
                                src: src.unwrap_or(Prefix::ANY),
                                dst: dst.unwrap_or(Prefix::ANY),
                                src_ports: sp,
                                dst_ports: dp,
                                protocol,
                                dscp,
                                vlan,
                                precedence: prec,
                            }
                        },
                    )
            })
        }

        fn policy() -> impl Strategy<Value = Policy> {
            prop_oneof![
                Just(PolicyFamily::Both),
                Just(PolicyFamily::V4),
                Just(PolicyFamily::V6)
            ]
            .prop_flat_map(|fam| {
                let pfam = if fam == PolicyFamily::V6 {
                    Family::V6
                } else {
                    Family::V4
                };
                let with_prefix = fam != PolicyFamily::Both;
                (
                    prop_oneof![
                        Just(PolicyProtocol::Any),
                        Just(PolicyProtocol::Tcp),
                        Just(PolicyProtocol::Udp),
                        Just(PolicyProtocol::Both),
                    ],
                    option::of(prefix(pfam)),
                    option::of(prefix(pfam)),
                    option::of(ports()),
                    option::of(ports()),
                    0u8..=63,
                    option::of(0u8..=7),
                    option::of(1u64..=u64::MAX),
                    any::<u8>(),
                )
                    .prop_map(
                        move |(proto, src, dst, sp, dp, dscp, pcp, thr, prec)| {
                            let ports = proto != PolicyProtocol::Any;
                            Policy {
                                id: 0,
                                name: String::new(),
                                protocol: proto,
                                family: fam,
                                // A prefix implies its family, so policies for both
                                // families carry none.
                                src: src.filter(|_| with_prefix),
                                dst: dst.filter(|_| with_prefix),
                                src_ports: sp.filter(|_| ports),
                                dst_ports: dp.filter(|_| ports),
                                dscp: Some(dscp),
                                pcp,
                                throttle_bps: thr,
                                precedence: prec,
                            }
                        },
                    )
            })
        }

        fn config() -> impl Strategy<Value = AdapterConfig> {
            (
                vec((spec(), "[a-z0-9 _\"é-]{0,8}"), 1..5),
                vec(policy(), 0..3),
                (
                    any::<u32>(),
                    any::<u64>(),
                    any::<u32>(),
                    0u8..=100,
                    any::<bool>(),
                ),
                vec((0u8..=63, 0u8..=63, 0u8..=7), 5),
                0u8..=7,
            )
                .prop_flat_map(|(flows, policies, o, m, ncp)| {
                    let n = u32::try_from(flows.len()).unwrap();
                    (Just((flows, policies, o, m, ncp)), vec(filter(n), 0..6))
                })
                .prop_map(|((flows, policies, o, m, ncp), filters)| {
                    let mut seen = BTreeSet::new();
                    let flows: Vec<FlowDef> = flows
                        .into_iter()
                        .enumerate()
                        .map(|(i, (mut spec, name))| {
                            // Names are unique; a taken one becomes empty.
                            if seen.insert(name.clone()) {
                                spec.name = name;
                            }
                            FlowDef {
                                id: u32::try_from(i).unwrap() + 1,
                                spec,
                            }
                        })
                        .collect();
                    let filters = filters
                        .into_iter()
                        .enumerate()
                        .map(|(i, f)| Filter {
                            id: u32::try_from(i).unwrap() + 1,
                            ..f
                        })
                        .collect();
                    let policies = policies
                        .into_iter()
                        .enumerate()
                        .map(|(i, p)| Policy {
                            id: u32::try_from(i).unwrap() + 1,
                            name: format!("p{i}"),
                            ..p
                        })
                        .collect();
                    let e = |i: usize| {
                        let (d, nd, p) = m[i];
                        qos_proto::MapEntry {
                            conforming_dscp: d,
                            nonconforming_dscp: nd,
                            priority: p,
                        }
                    };
                    AdapterConfig {
                        options: AdapterOptions {
                            queue_packets: o.0,
                            queue_bytes: o.1,
                            max_outstanding_sends: o.2,
                            admission_share: o.3,
                            marking_override: if o.4 {
                                MarkingOverride::Ignore
                            } else {
                                MarkingOverride::Allow
                            },
                            flow_mode: if o.4 {
                                FlowMode::Diffserv
                            } else {
                                FlowMode::Filters
                            },
                        },
                        maps: MappingTables {
                            best_effort: e(0),
                            controlled_load: e(1),
                            guaranteed: e(2),
                            network_control: e(3),
                            qualitative: e(4),
                            nonconforming_priority: ncp,
                        },
                        flows,
                        filters,
                        policies,
                    }
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            /// Whatever the driver holds, `export` writes a file that
            /// resolves back to exactly it, with an empty diff.
            #[test]
            fn export_parse_resolve_is_identity(cfg in config()) {
                let cur = Current {
                    flows: cfg
                        .flows
                        .iter()
                        .map(|f| FlowEntry {
                            id: f.id,
                            policy: None,
                            spec: f.spec.clone(),
                            filters: 0,
                            stats: None,
                        })
                        .collect(),
                    filters: cfg.filters.clone(),
                    policies: cfg.policies.clone(),
                    options: cfg.options,
                    maps: cfg.maps,
                    ..empty()
                };
                prop_assert_eq!(&cur.config(), &cfg);
                let text = export(&[(cur.info.clone(), cfg.clone())]);
                let model = parse("x.toml", &text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
                let back = resolve("x.toml", &model.adapters[0], &cur)
                    .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
                prop_assert_eq!(&back, &cfg, "{}", text);
                prop_assert!(diff(&cfg, &back).is_empty());
            }
        }
    }
}

//! One adapter's configuration (flows, filters, policies, mapping tables,
//! options), validated and compiled into an immutable [`Snapshot`].
//!
//! [`Snapshot::compile`] checks everything before anything is built, so a
//! configuration either compiles whole or is refused with one
//! [`ConfigError`] naming the object, the field and the rule. The driver
//! holds the result in an `Arc` and swaps it atomically: a packet sees the
//! old snapshot or the new one, never a mix.
//!
//! # Flow indexes
//! The snapshot numbers its flows densely: user flows in increasing id
//! order, then policy flows in increasing policy id order. Compiled filters
//! carry that dense index in [`Filter::flow`], so [`Snapshot::classify`]
//! returns the index the scheduler uses ([`Snapshot::flows`] is the slice
//! `psched::Scheduler::reconfigure` takes).
//!
//! # Id spaces
//! User flows and filters use ids `1..=`[`MAX_USER_ID`]. A policy (ids
//! `1..=`[`MAX_POLICY_ID`]) compiles to flow id `POLICY_ID_BIT | policy`
//! and filter ids `POLICY_ID_BIT | policy << 1 | v6`: the spaces never meet,
//! and policy filters rank after user filters of equal precedence and
//! specificity (a larger id is a younger filter).
//!
//! # Policies (Policy-based QoS)
//! A policy becomes one BestEffort flow and one filter per address family:
//! - throttle rate (bits/s) -> token rate in bytes/s (rounded to nearest,
//!   at least 1), shape mode, bucket = the larger of 10 ms of the rate and
//!   3000 bytes (two MTU-sized packets), so a throttle is accurate at timer
//!   granularity without long bursts;
//! - DSCP / 802.1p -> the flow's DCLASS / TCLASS;
//! - precedence -> the filters' explicit precedence;
//! - protocol "both" -> TCP-or-UDP;
//! - no family given -> an IPv4 and an IPv6 filter (a prefix condition
//!   needs a family).
//!
//! # Diffserv flow mode
//! In [`FlowMode::Diffserv`], packets find their flow by the DSCP they
//! carry: every filter must have an inbound-DSCP condition
//! (ERROR_INVALID_DIFFSERV_FLOW otherwise), a DSCP maps to one flow per
//! family (ERROR_DS_MAPPING_EXISTS), and policies are refused (they match
//! on addresses and ports).

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{ConfigError, ErrorKind, Field, Object};
use crate::flow::{FlowSpec, MAX_NAME_UNITS, SdMode, ServiceType, validate_flow};
use crate::gpc::{Classifier, Filter, FilterId, FlowId, PortRange, Prefix, ProtocolMatch};
use crate::mark::MarkMaps;
use crate::packet::{Family, FlowKey};
use crate::psched::{Limits, validate_limits};

/// Most flows per adapter (user flows and policy flows together).
pub const MAX_FLOWS: usize = 4096;
/// Most filters per adapter (user filters and policy filters together).
pub const MAX_FILTERS: usize = 32768;
/// Most policies per adapter.
pub const MAX_POLICIES: usize = 1024;
/// Largest user flow or filter id.
pub const MAX_USER_ID: u32 = 0x7FFF_FFFF;
/// Largest policy id.
pub const MAX_POLICY_ID: u32 = 0x3FFF_FFFF;
/// Set in the ids of flows and filters a policy made.
pub const POLICY_ID_BIT: u32 = 0x8000_0000;
/// Default of [`AdapterOptions::max_outstanding_sends`].
///
/// Psched's registry default is 65535, which in practice never binds: the
/// NIC queue then holds everything and priorities have no effect. 128
/// keeps about 1.5 ms of MTU-sized frames queued in a 1 GbE NIC (a
/// high-priority packet waits at most that long behind bulk traffic) and
/// still leaves a 10 GbE NIC 150 µs of MTU frames (8 MiB of LSO sends) of
/// work between completions.
pub const DEFAULT_MAX_OUTSTANDING_SENDS: u32 = 128;
/// Smallest bucket a throttle policy's flow gets, in bytes.
pub const POLICY_MIN_BUCKET: u64 = 3000;

/// Whether applications' own DSCP values survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MarkingOverride {
    /// Keep the DSCP an application set unless a flow sets one.
    #[default]
    Allow,
    /// Reset the DSCP an application set to 0 unless a flow sets one
    /// (Policy-based QoS "DSCP marking override = ignore").
    Ignore,
}

/// How packets find their flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FlowMode {
    /// By the filters.
    #[default]
    Filters,
    /// By the DSCP the packet carries (filters with inbound-DSCP
    /// conditions only).
    Diffserv,
}

/// Per-adapter options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AdapterOptions {
    /// Packets the scheduler may hold.
    pub queue_packets: u32,
    /// IP bytes the scheduler may hold.
    pub queue_bytes: u64,
    /// Sends outstanding at the miniport (see
    /// [`DEFAULT_MAX_OUTSTANDING_SENDS`]).
    pub max_outstanding_sends: u32,
    /// Percent of the link speed Guaranteed and ControlledLoad token rates
    /// may reserve together, 0..=100.
    pub admission_share: u8,
    /// DSCP marking override.
    pub marking_override: MarkingOverride,
    /// Flow mode.
    pub flow_mode: FlowMode,
}

impl Default for AdapterOptions {
    /// Scheduler queue defaults of [`Limits::default`], 128 outstanding
    /// sends, the whole link admissible, applications' DSCP kept, filters.
    fn default() -> Self {
        let l = Limits::default();
        Self {
            queue_packets: l.queue_packets,
            queue_bytes: l.queue_bytes,
            max_outstanding_sends: DEFAULT_MAX_OUTSTANDING_SENDS,
            admission_share: 100,
            marking_override: MarkingOverride::Allow,
            flow_mode: FlowMode::Filters,
        }
    }
}

impl AdapterOptions {
    /// The scheduler limits these options ask for.
    #[must_use]
    pub const fn limits(&self) -> Limits {
        Limits {
            queue_packets: self.queue_packets,
            queue_bytes: self.queue_bytes,
            max_outstanding: self.max_outstanding_sends,
        }
    }

    /// Checks the options.
    ///
    /// # Errors
    /// The scheduler limits' errors ([`validate_limits`]), or
    /// `InvalidValue` on `admission_share` above 100.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_limits(&self.limits())?;
        if self.admission_share > 100 {
            return Err(ConfigError::new(
                ErrorKind::InvalidValue,
                Object::AdapterOptions,
                Field::AdmissionShare,
                "must be a percentage 0..=100",
            ));
        }
        Ok(())
    }
}

/// The protocol condition of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PolicyProtocol {
    /// Any protocol.
    #[default]
    Any,
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// TCP or UDP.
    Both,
}

/// A Policy-based QoS policy: conditions and actions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Policy {
    /// Id, 1..=[`MAX_POLICY_ID`].
    pub id: u32,
    /// Name (unique among the adapter's policies when not empty).
    pub name: String,
    /// Protocol condition.
    pub protocol: PolicyProtocol,
    /// Family; `None` = both (an IPv4 and an IPv6 filter).
    pub family: Option<Family>,
    /// Source prefix condition (needs `family`).
    pub src: Option<Prefix>,
    /// Destination prefix condition (needs `family`).
    pub dst: Option<Prefix>,
    /// Source port condition.
    pub src_ports: Option<PortRange>,
    /// Destination port condition.
    pub dst_ports: Option<PortRange>,
    /// DSCP to write, 0..=63.
    pub dscp: Option<u8>,
    /// 802.1p to write, 0..=7.
    pub pcp: Option<u8>,
    /// Throttle rate in bits per second (IP layer).
    pub throttle_bps: Option<u64>,
    /// Precedence, higher wins (default 127).
    pub precedence: u8,
}

impl Policy {
    /// The id of the flow this policy compiles to.
    #[must_use]
    pub const fn flow_id(&self) -> FlowId {
        POLICY_ID_BIT | self.id
    }

    /// The id of this policy's filter for `family`.
    #[must_use]
    pub const fn filter_id(&self, family: Family) -> FilterId {
        let v6 = match family {
            Family::V4 => 0,
            Family::V6 => 1,
        };
        POLICY_ID_BIT | (self.id << 1) | v6
    }

    /// The families this policy makes filters for.
    #[must_use]
    pub fn families(&self) -> &'static [Family] {
        match self.family {
            Some(Family::V4) => &[Family::V4],
            Some(Family::V6) => &[Family::V6],
            None => &[Family::V4, Family::V6],
        }
    }

    /// The flow this policy compiles to (not validated).
    #[must_use]
    pub fn flow(&self) -> FlowSpec {
        let mut f = FlowSpec::best_effort(&self.name);
        if let Some(bps) = self.throttle_bps {
            let rate = bps.saturating_add(4) / 8;
            let rate = rate.max(1);
            f.token_rate = Some(rate);
            f.bucket = (rate / 100).max(POLICY_MIN_BUCKET);
            f.mode = Some(SdMode::Shape);
        }
        f.dclass = self.dscp;
        f.tclass = self.pcp;
        f
    }

    /// The filter for `family` (not validated); `flow` is the flow id.
    #[must_use]
    pub fn filter(&self, family: Family) -> Filter {
        Filter {
            id: self.filter_id(family),
            flow: self.flow_id(),
            family,
            src: self.src.unwrap_or(Prefix::ANY),
            dst: self.dst.unwrap_or(Prefix::ANY),
            src_ports: self.src_ports.unwrap_or(PortRange::ANY),
            dst_ports: self.dst_ports.unwrap_or(PortRange::ANY),
            protocol: match self.protocol {
                PolicyProtocol::Any => ProtocolMatch::Any,
                PolicyProtocol::Tcp => ProtocolMatch::Tcp,
                PolicyProtocol::Udp => ProtocolMatch::Udp,
                PolicyProtocol::Both => ProtocolMatch::TcpOrUdp,
            },
            dscp: None,
            vlan: None,
            precedence: self.precedence,
        }
    }

    /// Checks the policy's own rules (id, name, actions, family); the flow
    /// and filters it compiles to are checked by [`Snapshot::compile`].
    ///
    /// # Errors
    /// A [`ConfigError`] on `Object::Policy(id)`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err =
            |kind, field, rule| Err(ConfigError::new(kind, Object::Policy(self.id), field, rule));
        if self.id == 0 || self.id > MAX_POLICY_ID {
            return err(
                ErrorKind::InvalidValue,
                Field::PolicyId,
                "must be 1..=1073741823",
            );
        }
        if self.name.encode_utf16().nth(MAX_NAME_UNITS).is_some() {
            return err(
                ErrorKind::ObjectLengthInvalid,
                Field::Name,
                "must be at most 256 characters",
            );
        }
        if self.dscp.is_none() && self.pcp.is_none() && self.throttle_bps.is_none() {
            return err(
                ErrorKind::InvalidValue,
                Field::PolicyAction,
                "needs at least one action (dscp, pcp or throttle)",
            );
        }
        if self.dscp.is_some_and(|d| d > 63) {
            return err(ErrorKind::InvalidDsClass, Field::DsClass, "must be 0..=63");
        }
        if self.pcp.is_some_and(|p| p > 7) {
            return err(
                ErrorKind::InvalidTrafficClass,
                Field::TrafficClass,
                "must be 0..=7",
            );
        }
        if self.throttle_bps.is_some_and(|r| r < 8) {
            return err(
                ErrorKind::InvalidTokenRate,
                Field::TokenRate,
                "throttle must be at least 8 bits/s",
            );
        }
        if self.family.is_none() && (self.src.is_some() || self.dst.is_some()) {
            return err(
                ErrorKind::InvalidAddressType,
                Field::Family,
                "must be given (v4 or v6) with a prefix condition",
            );
        }
        Ok(())
    }
}

/// One adapter's whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdapterConfig {
    /// User flows with their ids.
    pub flows: Vec<(FlowId, FlowSpec)>,
    /// User filters; `flow` is a flow id of `flows`.
    pub filters: Vec<Filter>,
    /// Policies.
    pub policies: Vec<Policy>,
    /// Mapping tables.
    pub maps: MarkMaps,
    /// Options.
    pub options: AdapterOptions,
}

/// Re-labels an error of a generated flow or filter as the policy's.
const fn as_policy(e: ConfigError, policy: u32) -> ConfigError {
    ConfigError::new(e.kind, Object::Policy(policy), e.field, e.rule)
}

const fn limit(field: Field, rule: &'static str) -> ConfigError {
    ConfigError::new(ErrorKind::LimitExceeded, Object::Adapter, field, rule)
}

/// Checks the counts against the adapter limits.
fn check_limits(cfg: &AdapterConfig) -> Result<(), ConfigError> {
    if cfg.policies.len() > MAX_POLICIES {
        return Err(limit(
            Field::PolicyCount,
            "at most 1024 policies per adapter",
        ));
    }
    if cfg.flows.len().saturating_add(cfg.policies.len()) > MAX_FLOWS {
        return Err(limit(
            Field::FlowCount,
            "at most 4096 flows per adapter (policies count one flow each)",
        ));
    }
    let policy_filters: usize = cfg.policies.iter().map(|p| p.families().len()).sum();
    if cfg.filters.len().saturating_add(policy_filters) > MAX_FILTERS {
        return Err(limit(
            Field::FilterCount,
            "at most 32768 filters per adapter (policies count one per family)",
        ));
    }
    Ok(())
}

/// Checks a user flow's id.
fn check_user_flow_id(id: FlowId) -> Result<(), ConfigError> {
    if id == 0 || id > MAX_USER_ID {
        return Err(ConfigError::new(
            ErrorKind::InvalidValue,
            Object::Flow(id),
            Field::FlowId,
            "must be 1..=2147483647",
        ));
    }
    Ok(())
}

/// Checks a user filter's id.
fn check_user_filter_id(id: FilterId) -> Result<(), ConfigError> {
    if id == 0 || id > MAX_USER_ID {
        return Err(ConfigError::new(
            ErrorKind::InvalidValue,
            Object::Filter(id),
            Field::FilterId,
            "must be 1..=2147483647",
        ));
    }
    Ok(())
}

/// Finds the first duplicate in a sorted slice by key.
fn first_duplicate<T, K: PartialEq>(sorted: &[T], key: impl Fn(&T) -> K) -> Option<&T> {
    sorted
        .windows(2)
        .find(|w| match (w.first(), w.get(1)) {
            (Some(a), Some(b)) => key(a) == key(b),
            _ => false,
        })
        .and_then(|w| w.get(1))
}

/// Diffserv mode rules for one more filter, given the (family, dscp, flow)
/// triples of the filters already accepted.
fn check_diffserv(f: &Filter, seen: &[(Family, u8, FlowId)]) -> Result<(), ConfigError> {
    let Some(dscp) = f.dscp else {
        return Err(ConfigError::new(
            ErrorKind::InvalidDiffservFlow,
            Object::Filter(f.id),
            Field::InboundDscp,
            "is required in diffserv flow mode (packets find their flow by DSCP)",
        ));
    };
    if seen
        .iter()
        .any(|&(fam, d, flow)| fam == f.family && d == dscp && flow != f.flow)
    {
        return Err(ConfigError::new(
            ErrorKind::DsMappingExists,
            Object::Filter(f.id),
            Field::InboundDscp,
            "is already mapped to another flow",
        ));
    }
    Ok(())
}

/// Admission control: Guaranteed and ControlledLoad token rates together
/// must stay within `share` percent of the link. A link speed of 0
/// (unknown) admits everything.
fn check_admission(
    flows: &[(FlowId, FlowSpec)],
    share: u8,
    link_speed_bps: u64,
) -> Result<u64, ConfigError> {
    let mut reserved: u64 = 0;
    for (id, f) in flows {
        if !matches!(
            f.service_type,
            ServiceType::Guaranteed | ServiceType::ControlledLoad
        ) {
            continue;
        }
        reserved = reserved.saturating_add(f.token_rate.unwrap_or(0));
        // reserved bytes/s * 8 bits * 100 % <= share % * link bits/s
        let want = u128::from(reserved).saturating_mul(800);
        let have = u128::from(share).saturating_mul(u128::from(link_speed_bps));
        if link_speed_bps != 0 && want > have {
            return Err(ConfigError::new(
                ErrorKind::AdmissionExceeded,
                Object::Flow(*id),
                Field::TokenRate,
                "takes the reserved rates (guaranteed + controlled load) past the adapter's admission share of the link speed",
            ));
        }
    }
    Ok(reserved)
}

/// A compiled, immutable configuration of one adapter.
#[derive(Debug)]
pub struct Snapshot {
    /// Flows in dense order: user flows by id, then policy flows.
    flows: Vec<(FlowId, FlowSpec)>,
    /// Flow ids sorted, with their dense index.
    by_id: Vec<(FlowId, usize)>,
    /// Filters whose `flow` is a dense index.
    classifier: Classifier,
    maps: MarkMaps,
    options: AdapterOptions,
    link_speed_bps: u64,
    reserved_rate: u64,
    policies: usize,
}

impl Snapshot {
    /// The snapshot of an adapter with no configuration: default tables
    /// and options, no flows, every packet unclassified.
    #[must_use]
    pub fn empty(link_speed_bps: u64) -> Self {
        Self {
            flows: Vec::new(),
            by_id: Vec::new(),
            classifier: Classifier::empty(),
            maps: MarkMaps::default(),
            options: AdapterOptions::default(),
            link_speed_bps,
            reserved_rate: 0,
            policies: 0,
        }
    }

    /// Validates `cfg` completely and compiles it. Rules, in order:
    /// options, mapping tables, limits ([`MAX_FLOWS`], [`MAX_FILTERS`],
    /// [`MAX_POLICIES`]), each flow (id range, unique id, unique non-empty
    /// name, [`validate_flow`]), each policy ([`Policy::validate`], unique
    /// id and name, its flow and filters), each filter (id range, its flow
    /// exists, [`crate::gpc::validate_filter`], unique id), diffserv rules,
    /// admission.
    ///
    /// # Errors
    /// The first rule broken.
    pub fn compile(cfg: &AdapterConfig, link_speed_bps: u64) -> Result<Self, ConfigError> {
        cfg.options.validate()?;
        cfg.maps.validate()?;
        check_limits(cfg)?;

        // Flows: user flows by id, then policy flows by policy id.
        let mut flows: Vec<(FlowId, FlowSpec)> =
            Vec::with_capacity(cfg.flows.len().saturating_add(cfg.policies.len()));
        for (id, spec) in &cfg.flows {
            check_user_flow_id(*id)?;
            validate_flow(*id, spec)?;
            flows.push((*id, spec.clone()));
        }
        flows.sort_unstable_by_key(|(id, _)| *id);
        if let Some((id, _)) = first_duplicate(&flows, |(id, _)| *id) {
            return Err(ConfigError::new(
                ErrorKind::DuplicateId,
                Object::Flow(*id),
                Field::FlowId,
                "flow id already used on this adapter",
            ));
        }
        check_unique_names(
            cfg.flows.iter().map(|(id, f)| (*id, f.name.as_str())),
            Object::Flow,
        )?;

        let mut policies: Vec<&Policy> = cfg.policies.iter().collect();
        policies.sort_unstable_by_key(|p| p.id);
        for p in &policies {
            p.validate()?;
            if cfg.options.flow_mode == FlowMode::Diffserv {
                return Err(ConfigError::new(
                    ErrorKind::InvalidDiffservFlow,
                    Object::Policy(p.id),
                    Field::FlowMode,
                    "policies need flow_mode filters (diffserv mode classifies by DSCP only)",
                ));
            }
        }
        if let Some(p) = first_duplicate(&policies, |p| p.id) {
            return Err(ConfigError::new(
                ErrorKind::DuplicateId,
                Object::Policy(p.id),
                Field::PolicyId,
                "policy id already used on this adapter",
            ));
        }
        check_unique_names(
            cfg.policies.iter().map(|p| (p.id, p.name.as_str())),
            Object::Policy,
        )?;
        let first_policy_flow = flows.len();
        for p in &policies {
            let spec = p.flow();
            validate_flow(p.flow_id(), &spec).map_err(|e| as_policy(e, p.id))?;
            flows.push((p.flow_id(), spec));
        }

        let mut by_id: Vec<(FlowId, usize)> = flows
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, i))
            .collect();
        by_id.sort_unstable_by_key(|(id, _)| *id);
        let index_of = |id: FlowId| {
            by_id
                .binary_search_by_key(&id, |(i, _)| *i)
                .ok()
                .and_then(|k| by_id.get(k))
                .map(|(_, i)| *i)
        };

        // Filters, with the dense flow index in `flow`.
        let policy_filters: usize = policies.iter().map(|p| p.families().len()).sum();
        let mut compiled: Vec<Filter> =
            Vec::with_capacity(cfg.filters.len().saturating_add(policy_filters));
        let mut ds_seen: Vec<(Family, u8, FlowId)> = Vec::new();
        for f in &cfg.filters {
            check_user_filter_id(f.id)?;
            let Some(index) = index_of(f.flow).filter(|&i| i < first_policy_flow) else {
                return Err(ConfigError::new(
                    ErrorKind::UnknownFlow,
                    Object::Filter(f.id),
                    Field::FilterFlow,
                    "names no flow of this adapter",
                ));
            };
            crate::gpc::validate_filter(f)?;
            if cfg.options.flow_mode == FlowMode::Diffserv {
                check_diffserv(f, &ds_seen)?;
                if let Some(d) = f.dscp {
                    ds_seen.push((f.family, d, f.flow));
                }
            }
            compiled.push(Filter {
                flow: dense(index),
                ..*f
            });
        }
        for p in &policies {
            let Some(index) = index_of(p.flow_id()) else {
                continue;
            };
            for &fam in p.families() {
                let f = p.filter(fam);
                crate::gpc::validate_filter(&f).map_err(|e| as_policy(e, p.id))?;
                compiled.push(Filter {
                    flow: dense(index),
                    ..f
                });
            }
        }
        let mut ids: Vec<FilterId> = compiled.iter().map(|f| f.id).collect();
        ids.sort_unstable();
        if let Some(id) = first_duplicate(&ids, |id| *id) {
            return Err(ConfigError::new(
                ErrorKind::DuplicateId,
                Object::Filter(*id),
                Field::FilterId,
                "filter id already used on this adapter",
            ));
        }
        drop(ids);

        let reserved_rate = check_admission(&flows, cfg.options.admission_share, link_speed_bps)?;
        let classifier = Classifier::build(&compiled)?;
        Ok(Self {
            flows,
            by_id,
            classifier,
            maps: cfg.maps,
            options: cfg.options,
            link_speed_bps,
            reserved_rate,
            policies: policies.len(),
        })
    }

    /// This snapshot plus one user filter (whose `flow` is a flow id), with
    /// the same checks [`Snapshot::compile`] makes for it; O(filters) with
    /// no rebuild of the classifier. Used for "add one filter" so that
    /// adding 10 000 filters one by one stays fast.
    ///
    /// # Errors
    /// As [`Snapshot::compile`] would report for the filter.
    pub fn with_filter(&self, f: &Filter) -> Result<Self, ConfigError> {
        check_user_filter_id(f.id)?;
        let user_filters = self.classifier.len();
        if user_filters >= MAX_FILTERS {
            return Err(limit(
                Field::FilterCount,
                "at most 32768 filters per adapter (policies count one per family)",
            ));
        }
        let Some(index) = self
            .index_of(f.flow)
            .filter(|_| f.flow & POLICY_ID_BIT == 0)
        else {
            return Err(ConfigError::new(
                ErrorKind::UnknownFlow,
                Object::Filter(f.id),
                Field::FilterFlow,
                "names no flow of this adapter",
            ));
        };
        crate::gpc::validate_filter(f)?;
        if self.options.flow_mode == FlowMode::Diffserv {
            let seen: Vec<(Family, u8, FlowId)> = self
                .classifier
                .filters()
                .iter()
                .filter_map(|g| {
                    let d = g.dscp?;
                    let id = self.flow_id(usize::try_from(g.flow).ok()?)?;
                    Some((g.family, d, id))
                })
                .collect();
            check_diffserv(f, &seen)?;
        }
        let classifier = self.classifier.with_added(Filter {
            flow: dense(index),
            ..*f
        })?;
        Ok(self.with_classifier(classifier))
    }

    /// This snapshot without filter `id` (an unknown id changes nothing).
    #[must_use]
    pub fn without_filter(&self, id: FilterId) -> Self {
        self.with_classifier(self.classifier.without(id))
    }

    fn with_classifier(&self, classifier: Classifier) -> Self {
        Self {
            flows: self.flows.clone(),
            by_id: self.by_id.clone(),
            classifier,
            maps: self.maps,
            options: self.options,
            link_speed_bps: self.link_speed_bps,
            reserved_rate: self.reserved_rate,
            policies: self.policies,
        }
    }

    /// The flows in dense order: what `Scheduler::reconfigure` takes.
    #[must_use]
    pub fn flows(&self) -> &[(FlowId, FlowSpec)] {
        &self.flows
    }

    /// The specification of the flow at dense `index`.
    #[must_use]
    pub fn flow(&self, index: usize) -> Option<&FlowSpec> {
        self.flows.get(index).map(|(_, f)| f)
    }

    /// The id of the flow at dense `index`.
    #[must_use]
    pub fn flow_id(&self, index: usize) -> Option<FlowId> {
        self.flows.get(index).map(|(id, _)| *id)
    }

    /// The dense index of flow `id`.
    #[must_use]
    pub fn index_of(&self, id: FlowId) -> Option<usize> {
        self.by_id
            .binary_search_by_key(&id, |(i, _)| *i)
            .ok()
            .and_then(|k| self.by_id.get(k))
            .map(|(_, i)| *i)
    }

    /// The dense index of the flow a packet belongs to, `None` when no
    /// filter matches (unclassified best effort). Allocation-free.
    #[must_use]
    pub fn classify(&self, key: &FlowKey) -> Option<usize> {
        self.classifier
            .classify(key)
            .and_then(|f| usize::try_from(f.flow).ok())
    }

    /// The compiled classifier (filters carry dense flow indexes).
    #[must_use]
    pub const fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// Mapping tables.
    #[must_use]
    pub const fn maps(&self) -> &MarkMaps {
        &self.maps
    }

    /// Options.
    #[must_use]
    pub const fn options(&self) -> &AdapterOptions {
        &self.options
    }

    /// Scheduler limits of the options.
    #[must_use]
    pub const fn limits(&self) -> Limits {
        self.options.limits()
    }

    /// The link speed the snapshot was admitted against (bits/s, 0 =
    /// unknown).
    #[must_use]
    pub const fn link_speed_bps(&self) -> u64 {
        self.link_speed_bps
    }

    /// Sum of Guaranteed and ControlledLoad token rates (bytes/s).
    #[must_use]
    pub const fn reserved_rate(&self) -> u64 {
        self.reserved_rate
    }

    /// Number of filters (user and policy filters).
    #[must_use]
    pub fn filter_count(&self) -> usize {
        self.classifier.len()
    }

    /// Number of policies.
    #[must_use]
    pub const fn policy_count(&self) -> usize {
        self.policies
    }
}

/// A dense index as stored in [`Filter::flow`] (indexes are below
/// [`MAX_FLOWS`], so this never saturates).
fn dense(index: usize) -> FlowId {
    u32::try_from(index).unwrap_or(u32::MAX)
}

/// Non-empty names must be unique.
fn check_unique_names<'a>(
    items: impl Iterator<Item = (u32, &'a str)>,
    object: fn(u32) -> Object,
) -> Result<(), ConfigError> {
    let mut names: Vec<(&str, u32)> = items
        .filter(|(_, n)| !n.is_empty())
        .map(|(id, n)| (n, id))
        .collect();
    names.sort_unstable();
    if let Some((_, id)) = first_duplicate(&names, |(n, _)| *n) {
        return Err(ConfigError::new(
            ErrorKind::DuplicateName,
            object(*id),
            Field::Name,
            "name already used on this adapter",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

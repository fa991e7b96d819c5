//! From typed text (command-line flags or config-file values) to the ABI's
//! values: the "resolved configuration" layer shared by the flag parser and
//! the config file, so both accept exactly the same spellings and refuse
//! with the same messages.

use qos_proto::{
    Family as WireFamily, Filter, FlowSpec, MappingTables, MarkingOverride, PolicyFamily,
    PolicyProtocol, PortRange, Prefix, ProtocolMatch, SdMode, ServiceType, ShapingBehavior,
};

use crate::conditions::{Family, IpPrefix, Ports, Protocol};
use crate::error::{Error, Result};
use crate::units::{self, BitRate, Rate, Size};

/// Names a field in an error: `--rate` on the command line,
/// `config.toml: adapter "eth0" flow "web": rate` in a file.
pub type Loc<'a> = &'a dyn Fn(&str) -> String;

/// The command-line spelling of a field key.
#[must_use]
pub fn flag(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

/// Default precedence of filters and policies (Policy-based QoS).
pub const DEFAULT_PRECEDENCE: u8 = 127;

fn is_none(text: &str) -> bool {
    text.trim().eq_ignore_ascii_case("none")
}

/// An optional field as typed: `none` clears it, anything else is parsed.
fn optional<T>(text: &str, parse: impl FnOnce(&str) -> Result<T>) -> Result<Option<T>> {
    if is_none(text) {
        Ok(None)
    } else {
        parse(text).map(Some)
    }
}

/// Parses an integer in `0..=max`.
///
/// # Errors
/// [`Error::Invalid`] naming the field.
pub fn small(loc: Loc<'_>, key: &str, text: &str, max: u32) -> Result<u32> {
    let t = text.trim();
    t.parse::<u32>()
        .ok()
        .filter(|v| *v <= max && t.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            Error::invalid(
                loc(key),
                format!("`{text}` must be a whole number 0..={max}"),
            )
        })
}

fn small_u8(loc: Loc<'_>, key: &str, text: &str, max: u8) -> Result<u8> {
    small(loc, key, text, u32::from(max)).map(|v| u8::try_from(v).unwrap_or(max))
}

/// A rate in bytes/s.
///
/// # Errors
/// [`Error::Invalid`] naming the field and the unit rule.
pub fn rate(loc: Loc<'_>, key: &str, text: &str) -> Result<u64> {
    units::parse_rate(text).map_err(|e| Error::invalid(loc(key), e))
}

/// A size in bytes.
///
/// # Errors
/// [`Error::Invalid`] naming the field and the unit rule.
pub fn size(loc: Loc<'_>, key: &str, text: &str) -> Result<u64> {
    units::parse_size(text).map_err(|e| Error::invalid(loc(key), e))
}

fn size_u32(loc: Loc<'_>, key: &str, text: &str) -> Result<u32> {
    let v = size(loc, key, text)?;
    u32::try_from(v).map_err(|_| {
        Error::invalid(
            loc(key),
            format!("`{text}` must be at most 4294967295 bytes (4GiB - 1)"),
        )
    })
}

/// Service type names: the TC names without SERVICETYPE_, any case, `-`
/// or `_` optional.
///
/// # Errors
/// [`Error::Invalid`] listing the names.
pub fn service_type(loc: Loc<'_>, key: &str, text: &str) -> Result<ServiceType> {
    let t: String = text
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect();
    Ok(match t.as_str() {
        "besteffort" | "be" => ServiceType::BestEffort,
        "controlledload" | "cl" => ServiceType::ControlledLoad,
        "guaranteed" | "gs" => ServiceType::Guaranteed,
        "networkcontrol" | "nc" => ServiceType::NetworkControl,
        "qualitative" => ServiceType::Qualitative,
        _ => {
            return Err(Error::invalid(
                loc(key),
                format!(
                    "`{text}` is not a service type (hint: best-effort, controlled-load, guaranteed, network-control, qualitative)"
                ),
            ));
        }
    })
}

/// The name [`service_type`] reads back.
#[must_use]
pub fn service_type_name(s: ServiceType) -> String {
    match s {
        ServiceType::BestEffort => "best-effort".into(),
        ServiceType::ControlledLoad => "controlled-load".into(),
        ServiceType::Guaranteed => "guaranteed".into(),
        ServiceType::NetworkControl => "network-control".into(),
        ServiceType::Qualitative => "qualitative".into(),
        ServiceType::Other(n) => format!("{n}"),
    }
}

/// Shape/discard mode names.
///
/// # Errors
/// [`Error::Invalid`] listing the names.
pub fn mode(loc: Loc<'_>, key: &str, text: &str) -> Result<SdMode> {
    Ok(
        match text.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "borrow" => SdMode::Borrow,
            "shape" => SdMode::Shape,
            "discard" => SdMode::Discard,
            "borrow-plus" | "borrowplus" => SdMode::BorrowPlus,
            _ => {
                return Err(Error::invalid(
                    loc(key),
                    format!("`{text}` is not a mode (hint: borrow, shape, discard, borrow-plus)"),
                ));
            }
        },
    )
}

/// The name [`mode`] reads back.
#[must_use]
pub fn mode_name(m: SdMode) -> String {
    match m {
        SdMode::Borrow => "borrow".into(),
        SdMode::Shape => "shape".into(),
        SdMode::Discard => "discard".into(),
        SdMode::BorrowPlus => "borrow-plus".into(),
        SdMode::Other(n) => format!("{n}"),
    }
}

/// QOS2 shaping behaviour names.
///
/// # Errors
/// [`Error::Invalid`] listing the names.
pub fn shaping(loc: Loc<'_>, key: &str, text: &str) -> Result<ShapingBehavior> {
    Ok(
        match text.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "shape-only" => ShapingBehavior::ShapeOnly,
            "shape-and-mark" => ShapingBehavior::ShapeAndMark,
            "non-conformant-markings" | "use-non-conformant-markings" => {
                ShapingBehavior::UseNonConformantMarkings
            }
            _ => {
                return Err(Error::invalid(
                    loc(key),
                    format!(
                        "`{text}` is not a shaping behaviour (hint: shape-only, shape-and-mark, non-conformant-markings)"
                    ),
                ));
            }
        },
    )
}

/// The name [`shaping`] reads back.
#[must_use]
pub fn shaping_name(s: ShapingBehavior) -> String {
    match s {
        ShapingBehavior::ShapeOnly => "shape-only".into(),
        ShapingBehavior::ShapeAndMark => "shape-and-mark".into(),
        ShapingBehavior::UseNonConformantMarkings => "non-conformant-markings".into(),
        ShapingBehavior::Other(n) => format!("{n}"),
    }
}

/// The fields of a flow as typed. `None` = not given; the text `none`
/// clears an optional field (`--peak none`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowFields {
    /// Friendly name.
    pub name: Option<String>,
    /// Service type.
    pub service_type: Option<String>,
    /// Token rate.
    pub rate: Option<String>,
    /// Token bucket size.
    pub bucket: Option<String>,
    /// Peak rate.
    pub peak: Option<String>,
    /// Largest packet.
    pub max_sdu: Option<String>,
    /// Minimum policed size.
    pub min_policed: Option<String>,
    /// Shape/discard mode.
    pub mode: Option<String>,
    /// DSCP override.
    pub dscp: Option<String>,
    /// 802.1p override.
    pub pcp: Option<String>,
    /// QOS2 shaping behaviour.
    pub shaping: Option<String>,
}

/// The default bucket when a rate is given without one: 10 ms at the rate,
/// at least one 1500-byte packet (and at least max_sdu / min_policed).
#[must_use]
pub fn default_bucket(spec: &FlowSpec) -> u64 {
    let rate = spec.token_rate.unwrap_or(0);
    (rate / 100)
        .max(1500)
        .max(u64::from(spec.max_sdu.unwrap_or(0)))
        .max(u64::from(spec.min_policed))
}

impl FlowFields {
    /// Writes the given fields into `spec`. A rate given without a bucket
    /// (and no bucket yet) gets [`default_bucket`].
    ///
    /// # Errors
    /// [`Error::Invalid`] for the first field that does not parse.
    pub fn apply_to(&self, spec: &mut FlowSpec, loc: Loc<'_>) -> Result<()> {
        if let Some(n) = &self.name {
            spec.name.clone_from(n);
        }
        if let Some(t) = &self.service_type {
            spec.service_type = service_type(loc, "service_type", t)?;
        }
        if let Some(t) = &self.rate {
            spec.token_rate = optional(t, |t| rate(loc, "rate", t))?;
        }
        if let Some(t) = &self.peak {
            spec.peak_rate = optional(t, |t| rate(loc, "peak", t))?;
        }
        if let Some(t) = &self.max_sdu {
            spec.max_sdu = optional(t, |t| size_u32(loc, "max_sdu", t))?;
        }
        if let Some(t) = &self.min_policed {
            spec.min_policed = size_u32(loc, "min_policed", t)?;
        }
        if let Some(t) = &self.mode {
            spec.mode = optional(t, |t| mode(loc, "mode", t))?;
        }
        if let Some(t) = &self.dscp {
            spec.dclass = optional(t, |t| small_u8(loc, "dscp", t, 63))?;
        }
        if let Some(t) = &self.pcp {
            spec.tclass = optional(t, |t| small_u8(loc, "pcp", t, 7))?;
        }
        if let Some(t) = &self.shaping {
            spec.shaping = optional(t, |t| shaping(loc, "shaping", t))?;
        }
        if let Some(t) = &self.bucket {
            spec.bucket = size(loc, "bucket", t)?;
        } else if spec.bucket == 0 && spec.token_rate.is_some() {
            spec.bucket = default_bucket(spec);
        }
        Ok(())
    }

    /// True when no field is given.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The conditions of a filter as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterFields {
    /// `ipv4`, `ipv6` or `both` (default: from the prefixes, else both).
    pub family: Option<String>,
    /// Protocol condition.
    pub protocol: Option<String>,
    /// Source prefix.
    pub src: Option<String>,
    /// Destination prefix.
    pub dst: Option<String>,
    /// Source ports.
    pub sport: Option<String>,
    /// Destination ports.
    pub dport: Option<String>,
    /// Condition on the DSCP the packet carries.
    pub inbound_dscp: Option<String>,
    /// Condition on the VLAN id.
    pub vlan: Option<String>,
    /// Precedence 0..=255.
    pub precedence: Option<String>,
}

fn family_of(loc: Loc<'_>, key: &str, text: &str) -> Result<Option<Family>> {
    Ok(match text.trim().to_ascii_lowercase().as_str() {
        "ipv4" | "v4" | "4" | "inet" => Some(Family::V4),
        "ipv6" | "v6" | "6" | "inet6" => Some(Family::V6),
        "both" | "any" => None,
        _ => {
            return Err(Error::invalid(
                loc(key),
                format!("`{text}` is not a family (hint: ipv4, ipv6 or both)"),
            ));
        }
    })
}

fn prefix(loc: Loc<'_>, key: &str, text: &str) -> Result<IpPrefix> {
    text.parse::<IpPrefix>()
        .map_err(|e| Error::invalid(loc(key), e))
}

fn ports(loc: Loc<'_>, key: &str, text: &str) -> Result<Ports> {
    text.parse::<Ports>()
        .map_err(|e| Error::invalid(loc(key), e))
}

fn protocol(loc: Loc<'_>, key: &str, text: &str) -> Result<Protocol> {
    text.parse::<Protocol>()
        .map_err(|e| Error::invalid(loc(key), e))
}

/// The family the conditions imply: the prefixes' family, checked against
/// an explicit family; `None` = both.
fn resolve_family(
    loc: Loc<'_>,
    family: Option<&String>,
    prefixes: &[(&str, Option<IpPrefix>)],
) -> Result<Option<Family>> {
    let mut fam = match family {
        Some(t) => family_of(loc, "family", t)?,
        None => None,
    };
    let explicit = fam.is_some();
    for (key, p) in prefixes {
        if let Some(p) = p {
            match fam {
                Some(f) if f != p.family => {
                    let why = if explicit {
                        "the family given"
                    } else {
                        "the other prefix"
                    };
                    return Err(Error::invalid(
                        loc(key),
                        format!("`{}` is {:?} but {why} is {:?}", p, p.family, f),
                    ));
                }
                _ => fam = Some(p.family),
            }
        }
    }
    Ok(fam)
}

const fn wire_family(f: Family) -> WireFamily {
    match f {
        Family::V4 => WireFamily::V4,
        Family::V6 => WireFamily::V6,
    }
}

const fn wire_prefix(p: IpPrefix) -> Prefix {
    Prefix {
        addr: p.addr,
        len: p.len,
    }
}

const fn wire_ports(p: Ports) -> PortRange {
    PortRange { lo: p.lo, hi: p.hi }
}

impl FilterFields {
    /// Builds the filters these conditions mean, pointing at `flow`: one,
    /// or one per family when no family is given and no prefix implies
    /// one. Ids are 0 (the driver assigns them).
    ///
    /// # Errors
    /// [`Error::Invalid`] for the first field that does not parse or does
    /// not agree with another.
    pub fn build(&self, flow: u32, loc: Loc<'_>) -> Result<Vec<Filter>> {
        let src = self
            .src
            .as_deref()
            .map(|t| prefix(loc, "src", t))
            .transpose()?;
        let dst = self
            .dst
            .as_deref()
            .map(|t| prefix(loc, "dst", t))
            .transpose()?;
        let fam = resolve_family(loc, self.family.as_ref(), &[("src", src), ("dst", dst)])?;
        let proto = match &self.protocol {
            Some(t) => protocol(loc, "protocol", t)?,
            None => Protocol::Any,
        };
        let sport = self
            .sport
            .as_deref()
            .map(|t| ports(loc, "sport", t))
            .transpose()?;
        let dport = self
            .dport
            .as_deref()
            .map(|t| ports(loc, "dport", t))
            .transpose()?;
        if (sport.is_some_and(|p| !p.is_any()) || dport.is_some_and(|p| !p.is_any()))
            && !matches!(proto, Protocol::Tcp | Protocol::Udp | Protocol::TcpUdp)
        {
            let key = if sport.is_some() { "sport" } else { "dport" };
            return Err(Error::invalid(
                loc(key),
                "a port condition needs protocol tcp, udp or tcpudp (hint: add --protocol tcp)",
            ));
        }
        let inbound_dscp = self
            .inbound_dscp
            .as_deref()
            .map(|t| small_u8(loc, "inbound_dscp", t, 63))
            .transpose()?;
        let vlan = self
            .vlan
            .as_deref()
            .map(|t| small(loc, "vlan", t, 4094).map(|v| u16::try_from(v).unwrap_or(0)))
            .transpose()?;
        let precedence = match &self.precedence {
            Some(t) => small_u8(loc, "precedence", t, 255)?,
            None => DEFAULT_PRECEDENCE,
        };
        let protocol = match proto {
            Protocol::Any => ProtocolMatch::Any,
            Protocol::Tcp => ProtocolMatch::Tcp,
            Protocol::Udp => ProtocolMatch::Udp,
            Protocol::TcpUdp => ProtocolMatch::TcpOrUdp,
            Protocol::Icmp => ProtocolMatch::Icmp,
            Protocol::Number(n) => ProtocolMatch::Number(n),
        };
        let families = match fam {
            Some(f) => vec![f],
            None => vec![Family::V4, Family::V6],
        };
        Ok(families
            .into_iter()
            .map(|f| Filter {
                id: 0,
                flow,
                family: wire_family(f),
                src: src.map_or(Prefix::ANY, wire_prefix),
                dst: dst.map_or(Prefix::ANY, wire_prefix),
                src_ports: sport.map_or(PortRange::ANY, wire_ports),
                dst_ports: dport.map_or(PortRange::ANY, wire_ports),
                protocol,
                dscp: inbound_dscp,
                vlan,
                precedence,
            })
            .collect())
    }
}

/// The conditions and actions of a policy as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyFields {
    /// Protocol: tcp, udp, both, any.
    pub protocol: Option<String>,
    /// ipv4, ipv6, both (default: from the prefixes, else both).
    pub family: Option<String>,
    /// Source prefix.
    pub src: Option<String>,
    /// Destination prefix.
    pub dst: Option<String>,
    /// Source ports.
    pub sport: Option<String>,
    /// Destination ports.
    pub dport: Option<String>,
    /// DSCP action.
    pub dscp: Option<String>,
    /// 802.1p action.
    pub pcp: Option<String>,
    /// Throttle rate.
    pub throttle: Option<String>,
    /// Precedence 0..=255 (default 127).
    pub precedence: Option<String>,
}

impl PolicyFields {
    /// Builds the policy (id 0: the driver assigns one).
    ///
    /// # Errors
    /// [`Error::Invalid`] for the first field that does not parse, and
    /// for a policy without any action.
    pub fn build(&self, name: &str, loc: Loc<'_>) -> Result<qos_proto::Policy> {
        let src = self
            .src
            .as_deref()
            .map(|t| prefix(loc, "src", t))
            .transpose()?;
        let dst = self
            .dst
            .as_deref()
            .map(|t| prefix(loc, "dst", t))
            .transpose()?;
        let fam = resolve_family(loc, self.family.as_ref(), &[("src", src), ("dst", dst)])?;
        let protocol = match self.protocol.as_deref().map(|t| (t, t.parse::<Protocol>())) {
            None => PolicyProtocol::Any,
            Some((_, Ok(Protocol::Any))) => PolicyProtocol::Any,
            Some((_, Ok(Protocol::Tcp))) => PolicyProtocol::Tcp,
            Some((_, Ok(Protocol::Udp))) => PolicyProtocol::Udp,
            Some((_, Ok(Protocol::TcpUdp))) => PolicyProtocol::Both,
            Some((t, _)) => {
                return Err(Error::invalid(
                    loc("protocol"),
                    format!("`{t}` is not a policy protocol (hint: tcp, udp, both or any)"),
                ));
            }
        };
        let sport = self
            .sport
            .as_deref()
            .map(|t| ports(loc, "sport", t))
            .transpose()?;
        let dport = self
            .dport
            .as_deref()
            .map(|t| ports(loc, "dport", t))
            .transpose()?;
        if (sport.is_some() || dport.is_some()) && protocol == PolicyProtocol::Any {
            let key = if sport.is_some() { "sport" } else { "dport" };
            return Err(Error::invalid(
                loc(key),
                "a port condition needs protocol tcp, udp or both (hint: add --protocol tcp)",
            ));
        }
        let dscp = self
            .dscp
            .as_deref()
            .map(|t| small_u8(loc, "dscp", t, 63))
            .transpose()?;
        let pcp = self
            .pcp
            .as_deref()
            .map(|t| small_u8(loc, "pcp", t, 7))
            .transpose()?;
        let throttle_bps = self
            .throttle
            .as_deref()
            .map(|t| units::parse_bit_rate(t).map_err(|e| Error::invalid(loc("throttle"), e)))
            .transpose()?;
        if dscp.is_none() && pcp.is_none() && throttle_bps.is_none() {
            return Err(Error::invalid(
                loc("dscp"),
                "a policy needs an action (hint: give --dscp, --pcp and/or --throttle)",
            ));
        }
        let precedence = match &self.precedence {
            Some(t) => small_u8(loc, "precedence", t, 255)?,
            None => DEFAULT_PRECEDENCE,
        };
        Ok(qos_proto::Policy {
            id: 0,
            name: name.to_owned(),
            protocol,
            family: match fam {
                None => PolicyFamily::Both,
                Some(Family::V4) => PolicyFamily::V4,
                Some(Family::V6) => PolicyFamily::V6,
            },
            src: src.map(wire_prefix),
            dst: dst.map(wire_prefix),
            src_ports: sport.map(wire_ports),
            dst_ports: dport.map(wire_ports),
            dscp,
            pcp,
            throttle_bps,
            precedence,
        })
    }
}

/// Shows a prefix of a family.
#[must_use]
pub fn prefix_text(family: Family, p: Prefix) -> String {
    IpPrefix {
        family,
        addr: p.addr,
        len: p.len,
    }
    .to_string()
}

/// The local family of a wire family (`None` for an unknown number).
#[must_use]
pub const fn local_family(f: WireFamily) -> Option<Family> {
    match f {
        WireFamily::V4 => Some(Family::V4),
        WireFamily::V6 => Some(Family::V6),
        WireFamily::Other(_) => None,
    }
}

/// The family name [`FilterFields`] reads back.
#[must_use]
pub fn family_name(f: WireFamily) -> String {
    match f {
        WireFamily::V4 => "ipv4".into(),
        WireFamily::V6 => "ipv6".into(),
        WireFamily::Other(n) => format!("{n}"),
    }
}

/// The policy family name.
#[must_use]
pub fn policy_family_name(f: PolicyFamily) -> String {
    match f {
        PolicyFamily::Both => "both".into(),
        PolicyFamily::V4 => "ipv4".into(),
        PolicyFamily::V6 => "ipv6".into(),
        PolicyFamily::Other(n) => format!("{n}"),
    }
}

/// The policy protocol name.
#[must_use]
pub fn policy_protocol_name(p: PolicyProtocol) -> String {
    match p {
        PolicyProtocol::Any => "any".into(),
        PolicyProtocol::Tcp => "tcp".into(),
        PolicyProtocol::Udp => "udp".into(),
        PolicyProtocol::Both => "both".into(),
        PolicyProtocol::Other(n) => format!("{n}"),
    }
}

/// The filter protocol name.
#[must_use]
pub fn protocol_name(p: ProtocolMatch) -> String {
    match p {
        ProtocolMatch::Any => "any".into(),
        ProtocolMatch::Tcp => "tcp".into(),
        ProtocolMatch::Udp => "udp".into(),
        ProtocolMatch::TcpOrUdp => "tcpudp".into(),
        ProtocolMatch::Icmp => "icmp".into(),
        ProtocolMatch::Number(n) => format!("{n}"),
    }
}

/// Ports as typed back.
#[must_use]
pub fn ports_text(p: PortRange) -> String {
    Ports { lo: p.lo, hi: p.hi }.to_string()
}

/// Shown rates and sizes.
#[must_use]
pub fn rate_text(v: u64) -> String {
    Rate(v).to_string()
}

/// Shown bit rates.
#[must_use]
pub fn bit_rate_text(v: u64) -> String {
    BitRate(v).to_string()
}

/// Shown sizes.
#[must_use]
pub fn size_text(v: u64) -> String {
    Size(v).to_string()
}

/// Marking override names.
///
/// # Errors
/// [`Error::Invalid`] listing the names.
pub fn marking_override(loc: Loc<'_>, key: &str, text: &str) -> Result<MarkingOverride> {
    Ok(match text.trim().to_ascii_lowercase().as_str() {
        "allow" => MarkingOverride::Allow,
        "ignore" => MarkingOverride::Ignore,
        _ => {
            return Err(Error::invalid(
                loc(key),
                format!("`{text}` is not a marking override (hint: allow or ignore)"),
            ));
        }
    })
}

/// The map keys `map set` and the config file accept, with their
/// service types: `guaranteed.dscp`, `guaranteed.nonconforming_dscp`,
/// `guaranteed.pcp`, ..., `nonconforming.pcp`.
///
/// # Errors
/// [`Error::Invalid`] naming the key.
pub fn set_map_entry(maps: &mut MappingTables, key: &str, value: &str, loc: Loc<'_>) -> Result<()> {
    let (svc, what) = key.split_once('.').ok_or_else(|| {
        Error::invalid(
            loc(key),
            "must be SERVICE.dscp, SERVICE.nonconforming_dscp, SERVICE.pcp or nonconforming.pcp",
        )
    })?;
    let what = what.replace('-', "_");
    if svc.eq_ignore_ascii_case("nonconforming") || svc.eq_ignore_ascii_case("non-conforming") {
        if what != "pcp" {
            return Err(Error::invalid(
                loc(key),
                "non-conforming packets have only a pcp entry (nonconforming.pcp); their DSCP is per service type (SERVICE.nonconforming_dscp)",
            ));
        }
        maps.nonconforming_priority = small_u8(loc, key, value, 7)?;
        return Ok(());
    }
    let st = service_type(loc, key, svc)?;
    let entry = match st {
        ServiceType::BestEffort => &mut maps.best_effort,
        ServiceType::ControlledLoad => &mut maps.controlled_load,
        ServiceType::Guaranteed => &mut maps.guaranteed,
        ServiceType::NetworkControl => &mut maps.network_control,
        ServiceType::Qualitative | ServiceType::Other(_) => &mut maps.qualitative,
    };
    match what.as_str() {
        "dscp" => entry.conforming_dscp = small_u8(loc, key, value, 63)?,
        "nonconforming_dscp" => entry.nonconforming_dscp = small_u8(loc, key, value, 63)?,
        "pcp" => entry.priority = small_u8(loc, key, value, 7)?,
        _ => {
            return Err(Error::invalid(
                loc(key),
                "must end in .dscp, .nonconforming_dscp or .pcp",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(k: &str) -> String {
        flag(k)
    }

    #[test]
    fn flow_fields_parse_and_clear() {
        let mut spec = FlowSpec::best_effort(String::new());
        let f = FlowFields {
            name: Some("web".into()),
            service_type: Some("Guaranteed".into()),
            rate: Some("10mbit".into()),
            peak: Some("20mbit".into()),
            dscp: Some("46".into()),
            mode: Some("shape".into()),
            ..FlowFields::default()
        };
        f.apply_to(&mut spec, &cli).unwrap();
        assert_eq!(spec.service_type, ServiceType::Guaranteed);
        assert_eq!(spec.token_rate, Some(1_250_000));
        assert_eq!(spec.peak_rate, Some(2_500_000));
        assert_eq!(spec.bucket, 12_500, "10 ms at the rate");
        assert_eq!(spec.dclass, Some(46));
        assert_eq!(spec.mode, Some(SdMode::Shape));
        let clear = FlowFields {
            peak: Some("none".into()),
            dscp: Some("None".into()),
            ..FlowFields::default()
        };
        clear.apply_to(&mut spec, &cli).unwrap();
        assert_eq!((spec.peak_rate, spec.dclass), (None, None));
    }

    #[test]
    fn flow_field_errors_name_the_flag() {
        let mut spec = FlowSpec::best_effort(String::new());
        let e = FlowFields {
            rate: Some("10kb".into()),
            ..FlowFields::default()
        }
        .apply_to(&mut spec, &cli)
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--rate: `10kb`: unknown unit `kb`"),
            "{e}"
        );
        let e = FlowFields {
            dscp: Some("64".into()),
            ..FlowFields::default()
        }
        .apply_to(&mut spec, &cli)
        .unwrap_err();
        assert_eq!(e.to_string(), "--dscp: `64` must be a whole number 0..=63");
        let e = FlowFields {
            max_sdu: Some("5GB".into()),
            ..FlowFields::default()
        }
        .apply_to(&mut spec, &cli)
        .unwrap_err();
        assert!(e.to_string().starts_with("--max-sdu:"), "{e}");
        let e = FlowFields {
            service_type: Some("premium".into()),
            ..FlowFields::default()
        }
        .apply_to(&mut spec, &cli)
        .unwrap_err();
        assert!(
            e.to_string().contains("best-effort, controlled-load"),
            "{e}"
        );
    }

    #[test]
    fn filters_per_family() {
        let f = FilterFields {
            protocol: Some("tcp".into()),
            dport: Some("80".into()),
            ..FilterFields::default()
        };
        let v = f.build(5, &cli).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].family, WireFamily::V4);
        assert_eq!(v[1].family, WireFamily::V6);
        assert_eq!(v[0].dst_ports, PortRange { lo: 80, hi: 80 });
        assert_eq!(v[0].flow, 5);
        assert_eq!(v[0].precedence, 127);
        let f = FilterFields {
            dst: Some("2001:db8::/32".into()),
            ..FilterFields::default()
        };
        let v = f.build(1, &cli).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].family, WireFamily::V6);
    }

    #[test]
    fn filter_errors() {
        let e = FilterFields {
            src: Some("10.0.0.0/8".into()),
            dst: Some("2001:db8::/32".into()),
            ..FilterFields::default()
        }
        .build(1, &cli)
        .unwrap_err();
        assert!(
            e.to_string().starts_with("--dst: `2001:db8::/32` is V6"),
            "{e}"
        );
        let e = FilterFields {
            family: Some("ipv6".into()),
            src: Some("10.0.0.0/8".into()),
            ..FilterFields::default()
        }
        .build(1, &cli)
        .unwrap_err();
        assert!(e.to_string().contains("the family given"), "{e}");
        let e = FilterFields {
            dport: Some("80".into()),
            ..FilterFields::default()
        }
        .build(1, &cli)
        .unwrap_err();
        assert!(
            e.to_string().starts_with("--dport: a port condition needs"),
            "{e}"
        );
        let e = FilterFields {
            src: Some("10.1.0.0/8".into()),
            ..FilterFields::default()
        }
        .build(1, &cli)
        .unwrap_err();
        assert!(e.to_string().contains("did you mean 10.0.0.0/8"), "{e}");
        let e = FilterFields {
            vlan: Some("4095".into()),
            ..FilterFields::default()
        }
        .build(1, &cli)
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--vlan: `4095` must be a whole number 0..=4094"
        );
    }

    #[test]
    fn policies() {
        let p = PolicyFields {
            protocol: Some("tcp".into()),
            dport: Some("80".into()),
            dscp: Some("46".into()),
            throttle: Some("10mbit".into()),
            ..PolicyFields::default()
        }
        .build("web", &cli)
        .unwrap();
        assert_eq!(p.protocol, PolicyProtocol::Tcp);
        assert_eq!(p.family, PolicyFamily::Both);
        assert_eq!(p.dst_ports, Some(PortRange { lo: 80, hi: 80 }));
        assert_eq!(p.throttle_bps, Some(10_000_000));
        assert_eq!(p.precedence, 127);
        let e = PolicyFields {
            protocol: Some("tcp".into()),
            ..PolicyFields::default()
        }
        .build("x", &cli)
        .unwrap_err();
        assert!(e.to_string().contains("needs an action"), "{e}");
        let e = PolicyFields {
            protocol: Some("icmp".into()),
            dscp: Some("1".into()),
            ..PolicyFields::default()
        }
        .build("x", &cli)
        .unwrap_err();
        assert!(e.to_string().starts_with("--protocol:"), "{e}");
    }

    #[test]
    fn map_entries() {
        let mut m = MappingTables::default();
        set_map_entry(&mut m, "guaranteed.dscp", "46", &cli).unwrap();
        set_map_entry(&mut m, "controlled-load.pcp", "3", &cli).unwrap();
        set_map_entry(&mut m, "best_effort.nonconforming_dscp", "8", &cli).unwrap();
        set_map_entry(&mut m, "nonconforming.pcp", "0", &cli).unwrap();
        assert_eq!(m.guaranteed.conforming_dscp, 46);
        assert_eq!(m.controlled_load.priority, 3);
        assert_eq!(m.best_effort.nonconforming_dscp, 8);
        assert_eq!(m.nonconforming_priority, 0);
        assert!(set_map_entry(&mut m, "guaranteed.pcp", "8", &cli).is_err());
        assert!(set_map_entry(&mut m, "guaranteed", "8", &cli).is_err());
        assert!(set_map_entry(&mut m, "nonconforming.dscp", "8", &cli).is_err());
    }
}

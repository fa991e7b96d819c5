//! The values the messages carry: adapters, flows, filters, policies,
//! mapping tables, options, statistics; each with its wire encoding.
//!
//! Enumerations that carry a user's choice (service type, mode, family...)
//! keep unknown numbers as an `Other(n)` variant instead of refusing them at
//! decode time: the driver then refuses them with the specific TC error and
//! field (e.g. 7502 ERROR_INVALID_SERVICE_TYPE), like the TC API does.
//! Structural tags (option tags, the protocol condition's kind) are refused
//! at decode time.

use alloc::string::String;
use alloc::vec::Vec;

use crate::codec::{DecodeError, DecodeErrorKind, Reader, Wire, Writer, decode_list, encode_list};

/// Longest name (flow, policy, adapter) in UTF-8 bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// Most extra counters in one statistics block.
pub const MAX_COUNTERS: usize = 64;
/// Longest counter name in bytes.
pub const MAX_COUNTER_NAME_BYTES: usize = 64;
/// Most items in one list of a request (the engine's per-adapter limits
/// are lower; this only bounds decoding).
pub const MAX_LIST_ITEMS: usize = 1 << 20;

/// Identifies an adapter: the number the driver gives it (the miniport's
/// interface index on Windows).
pub type AdapterId = u32;

macro_rules! open_enum {
    ($(#[$doc:meta])* $name:ident : $repr:ty { $($(#[$vdoc:meta])* $var:ident = $val:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $var,)*
            /// A number this version does not know; the driver refuses it
            /// with a specific error.
            Other($repr),
        }

        impl $name {
            /// The wire number.
            #[must_use]
            pub const fn to_raw(self) -> $repr {
                match self { $(Self::$var => $val,)* Self::Other(v) => v }
            }
            /// From the wire number.
            #[must_use]
            pub const fn from_raw(v: $repr) -> Self {
                match v { $($val => Self::$var,)* v => Self::Other(v) }
            }
        }
    };
}

open_enum! {
    /// Service type (qos.h numbers).
    ServiceType: u32 {
        /// SERVICETYPE_BESTEFFORT.
        BestEffort = 0x1,
        /// SERVICETYPE_CONTROLLEDLOAD.
        ControlledLoad = 0x2,
        /// SERVICETYPE_GUARANTEED.
        Guaranteed = 0x3,
        /// SERVICETYPE_NETWORK_CONTROL.
        NetworkControl = 0xA,
        /// SERVICETYPE_QUALITATIVE.
        Qualitative = 0xD,
    }
}

open_enum! {
    /// Shape/discard mode (TC SD_MODE numbers).
    SdMode: u32 {
        /// TC_NONCONF_BORROW.
        Borrow = 0,
        /// TC_NONCONF_SHAPE.
        Shape = 1,
        /// TC_NONCONF_DISCARD.
        Discard = 2,
        /// TC_NONCONF_BORROW_PLUS.
        BorrowPlus = 3,
    }
}

open_enum! {
    /// QOS2 shaping behaviour.
    ShapingBehavior: u8 {
        /// Shape, no DSCP mark.
        ShapeOnly = 0,
        /// Shape and mark.
        ShapeAndMark = 1,
        /// Never delay; excess gets the non-conforming marks.
        UseNonConformantMarkings = 2,
    }
}

open_enum! {
    /// IP version of a filter.
    Family: u8 {
        /// IPv4 (address in the low 32 bits).
        V4 = 4,
        /// IPv6.
        V6 = 6,
    }
}

open_enum! {
    /// Protocol condition of a policy.
    PolicyProtocol: u8 {
        /// No condition.
        Any = 0,
        /// TCP.
        Tcp = 1,
        /// UDP.
        Udp = 2,
        /// TCP or UDP ("both").
        Both = 3,
    }
}

open_enum! {
    /// Address family condition of a policy.
    PolicyFamily: u8 {
        /// Both families: the policy compiles to an IPv4 and an IPv6 filter.
        Both = 0,
        /// IPv4 only.
        V4 = 4,
        /// IPv6 only.
        V6 = 6,
    }
}

open_enum! {
    /// DSCP marking override ("DSCP marking override" of Policy-based QoS).
    MarkingOverride: u8 {
        /// Applications' DSCP values are kept unless a flow sets one.
        Allow = 0,
        /// Applications' DSCP values are reset to 0 unless a flow sets one.
        Ignore = 1,
    }
}

open_enum! {
    /// How packets find their flow.
    FlowMode: u8 {
        /// By filters (the GPC).
        Filters = 0,
        /// By the packet's inbound DSCP (diffserv mode).
        Diffserv = 1,
    }
}

open_enum! {
    /// An adapter's filter-module state.
    AdapterState: u8 {
        /// Attached, not yet restarted.
        Attached = 0,
        /// Paused.
        Paused = 1,
        /// Restarting.
        Restarting = 2,
        /// Running: packets flow.
        Running = 3,
        /// Pausing.
        Pausing = 4,
        /// Detaching.
        Detaching = 5,
    }
}

/// `NdisMedium802_3`.
pub const MEDIUM_802_3: u32 = 0;
/// `NdisMediumIP` (raw IP, "ppip").
pub const MEDIUM_IP: u32 = 19;

fn raw_u8<T>(r: &mut Reader<'_>, what: &'static str, f: fn(u8) -> T) -> Result<T, DecodeError> {
    r.u8(what).map(f)
}

/// One adapter the driver is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterInfo {
    /// The adapter's id (use it in every other request).
    pub id: AdapterId,
    /// System name (e.g. `\DEVICE\{GUID}` on Windows, `eth0` in lwfhost).
    pub name: String,
    /// Friendly name.
    pub friendly_name: String,
    /// Interface GUID, as 16 bytes in the Windows in-memory order.
    pub guid: [u8; 16],
    /// MAC address (zero for raw-IP media).
    pub mac: [u8; 6],
    /// NDIS medium (`MEDIUM_802_3`, `MEDIUM_IP`, ...).
    pub media: u32,
    /// MTU in bytes (IP layer).
    pub mtu: u32,
    /// Transmit link speed in bits per second (0 = unknown).
    pub link_speed_bps: u64,
    /// Filter-module state.
    pub state: AdapterState,
    /// Flows configured (user flows and policy flows).
    pub flows: u32,
    /// Filters configured (user filters and policy filters).
    pub filters: u32,
    /// Policies configured.
    pub policies: u32,
}

impl Wire for AdapterInfo {
    const MIN_SIZE: usize = 4 + 2 + 2 + 16 + 6 + 4 + 4 + 8 + 1 + 12;
    fn encode(&self, w: &mut Writer) {
        w.u32(self.id);
        w.str(&self.name);
        w.str(&self.friendly_name);
        w.bytes(&self.guid);
        w.bytes(&self.mac);
        w.u32(self.media);
        w.u32(self.mtu);
        w.u64(self.link_speed_bps);
        w.u8(self.state.to_raw());
        w.u32(self.flows);
        w.u32(self.filters);
        w.u32(self.policies);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            id: r.u32("adapter.id")?,
            name: r.str(MAX_NAME_BYTES, "adapter.name")?,
            friendly_name: r.str(MAX_NAME_BYTES, "adapter.friendly_name")?,
            guid: r.bytes("adapter.guid")?,
            mac: r.bytes("adapter.mac")?,
            media: r.u32("adapter.media")?,
            mtu: r.u32("adapter.mtu")?,
            link_speed_bps: r.u64("adapter.link_speed")?,
            state: raw_u8(r, "adapter.state", AdapterState::from_raw)?,
            flows: r.u32("adapter.flows")?,
            filters: r.u32("adapter.filters")?,
            policies: r.u32("adapter.policies")?,
        })
    }
}

/// A flow's specification (FLOWSPEC + TC objects). Rates and sizes count
/// IP-layer bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSpec {
    /// Friendly name (up to 256 characters; unique per adapter when not
    /// empty).
    pub name: String,
    /// Service type.
    pub service_type: ServiceType,
    /// Token rate in bytes/s; `None` = not specified (QOS_NOT_SPECIFIED).
    pub token_rate: Option<u64>,
    /// Token bucket size in bytes.
    pub bucket: u64,
    /// Peak rate in bytes/s; `None` = unlimited.
    pub peak_rate: Option<u64>,
    /// Largest packet in bytes.
    pub max_sdu: Option<u32>,
    /// Smaller packets are charged as this size.
    pub min_policed: u32,
    /// Shape/discard mode; `None` = the service type's default.
    pub mode: Option<SdMode>,
    /// DSCP override (DCLASS).
    pub dclass: Option<u8>,
    /// 802.1p override (TCLASS).
    pub tclass: Option<u8>,
    /// QOS2 shaping behaviour.
    pub shaping: Option<ShapingBehavior>,
}

impl FlowSpec {
    /// A best-effort flow with no rate: the starting point of builders.
    #[must_use]
    pub const fn best_effort(name: String) -> Self {
        Self {
            name,
            service_type: ServiceType::BestEffort,
            token_rate: None,
            bucket: 0,
            peak_rate: None,
            max_sdu: None,
            min_policed: 0,
            mode: None,
            dclass: None,
            tclass: None,
            shaping: None,
        }
    }
}

impl Wire for FlowSpec {
    const MIN_SIZE: usize = 2 + 4 + 1 + 8 + 1 + 1 + 4 + 1 + 1 + 1 + 1;
    fn encode(&self, w: &mut Writer) {
        w.str(&self.name);
        w.u32(self.service_type.to_raw());
        w.opt(self.token_rate.as_ref(), |w, v| w.u64(*v));
        w.u64(self.bucket);
        w.opt(self.peak_rate.as_ref(), |w, v| w.u64(*v));
        w.opt(self.max_sdu.as_ref(), |w, v| w.u32(*v));
        w.u32(self.min_policed);
        w.opt(self.mode.as_ref(), |w, v| w.u32(v.to_raw()));
        w.opt(self.dclass.as_ref(), |w, v| w.u8(*v));
        w.opt(self.tclass.as_ref(), |w, v| w.u8(*v));
        w.opt(self.shaping.as_ref(), |w, v| w.u8(v.to_raw()));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            name: r.str(MAX_NAME_BYTES, "flow.name")?,
            service_type: ServiceType::from_raw(r.u32("flow.service_type")?),
            token_rate: r.opt("flow.rate", |r| r.u64("flow.rate"))?,
            bucket: r.u64("flow.bucket")?,
            peak_rate: r.opt("flow.peak", |r| r.u64("flow.peak"))?,
            max_sdu: r.opt("flow.max_sdu", |r| r.u32("flow.max_sdu"))?,
            min_policed: r.u32("flow.min_policed")?,
            mode: r.opt("flow.mode", |r| r.u32("flow.mode").map(SdMode::from_raw))?,
            dclass: r.opt("flow.dscp", |r| r.u8("flow.dscp"))?,
            tclass: r.opt("flow.pcp", |r| r.u8("flow.pcp"))?,
            shaping: r.opt("flow.shaping", |r| {
                r.u8("flow.shaping").map(ShapingBehavior::from_raw)
            })?,
        })
    }
}

/// A flow as a change request names it: id (0 = let the driver choose)
/// and specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowDef {
    /// Flow id, 1..=0x7FFF_FFFF (0 in AddFlow = assign one).
    pub id: u32,
    /// Specification.
    pub spec: FlowSpec,
}

impl Wire for FlowDef {
    const MIN_SIZE: usize = 4 + FlowSpec::MIN_SIZE;
    fn encode(&self, w: &mut Writer) {
        w.u32(self.id);
        self.spec.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            id: r.u32("flow.id")?,
            spec: FlowSpec::decode(r)?,
        })
    }
}

/// An address prefix: numeric value (IPv4 in the low 32 bits), length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefix {
    /// Address, numeric value, encoded as `u128` little-endian.
    pub addr: u128,
    /// Prefix length in bits.
    pub len: u8,
}

impl Prefix {
    /// Matches every address.
    pub const ANY: Self = Self { addr: 0, len: 0 };
}

impl Wire for Prefix {
    const MIN_SIZE: usize = 17;
    fn encode(&self, w: &mut Writer) {
        w.u128(self.addr);
        w.u8(self.len);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            addr: r.u128("prefix.addr")?,
            len: r.u8("prefix.len")?,
        })
    }
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// Lowest port.
    pub lo: u16,
    /// Highest port.
    pub hi: u16,
}

impl PortRange {
    /// Every port (no condition).
    pub const ANY: Self = Self {
        lo: 0,
        hi: u16::MAX,
    };
}

impl Wire for PortRange {
    const MIN_SIZE: usize = 4;
    fn encode(&self, w: &mut Writer) {
        w.u16(self.lo);
        w.u16(self.hi);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            lo: r.u16("ports.lo")?,
            hi: r.u16("ports.hi")?,
        })
    }
}

/// The protocol condition of a filter. Wire: kind byte (0 any, 1 TCP,
/// 2 UDP, 3 TCP or UDP, 4 ICMP/ICMPv6, 5 number) then the number byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolMatch {
    /// No condition.
    Any,
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// TCP or UDP.
    TcpOrUdp,
    /// ICMP for IPv4 filters, ICMPv6 for IPv6 filters.
    Icmp,
    /// Any other protocol number.
    Number(u8),
}

impl Wire for ProtocolMatch {
    const MIN_SIZE: usize = 2;
    fn encode(&self, w: &mut Writer) {
        let (k, n) = match *self {
            Self::Any => (0, 0),
            Self::Tcp => (1, 0),
            Self::Udp => (2, 0),
            Self::TcpOrUdp => (3, 0),
            Self::Icmp => (4, 0),
            Self::Number(n) => (5, n),
        };
        w.u8(k);
        w.u8(n);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.offset();
        let k = r.u8("filter.protocol")?;
        let n = r.u8("filter.protocol")?;
        let bad = |kind| DecodeError {
            kind,
            what: "filter.protocol",
            at,
        };
        match (k, n) {
            (0, 0) => Ok(Self::Any),
            (1, 0) => Ok(Self::Tcp),
            (2, 0) => Ok(Self::Udp),
            (3, 0) => Ok(Self::TcpOrUdp),
            (4, 0) => Ok(Self::Icmp),
            (5, n) => Ok(Self::Number(n)),
            (0..=4, _) => Err(bad(DecodeErrorKind::Reserved)),
            (k, _) => Err(bad(DecodeErrorKind::BadTag(u32::from(k)))),
        }
    }
}

/// A filter: conditions and the flow matching packets go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Filter id, 1..=0x7FFF_FFFF (0 in AddFilter = assign one). Ids of
    /// filters a policy made are 0x8000_0000 and up.
    pub id: u32,
    /// The flow's id.
    pub flow: u32,
    /// IP version.
    pub family: Family,
    /// Source prefix.
    pub src: Prefix,
    /// Destination prefix.
    pub dst: Prefix,
    /// Source ports.
    pub src_ports: PortRange,
    /// Destination ports.
    pub dst_ports: PortRange,
    /// Protocol condition.
    pub protocol: ProtocolMatch,
    /// Inbound DSCP condition.
    pub dscp: Option<u8>,
    /// VLAN id condition.
    pub vlan: Option<u16>,
    /// Explicit precedence, higher wins (default 127).
    pub precedence: u8,
}

impl Wire for Filter {
    const MIN_SIZE: usize = 4 + 4 + 1 + 17 + 17 + 4 + 4 + 2 + 1 + 1 + 1;
    fn encode(&self, w: &mut Writer) {
        w.u32(self.id);
        w.u32(self.flow);
        w.u8(self.family.to_raw());
        self.src.encode(w);
        self.dst.encode(w);
        self.src_ports.encode(w);
        self.dst_ports.encode(w);
        self.protocol.encode(w);
        w.opt(self.dscp.as_ref(), |w, v| w.u8(*v));
        w.opt(self.vlan.as_ref(), |w, v| w.u16(*v));
        w.u8(self.precedence);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            id: r.u32("filter.id")?,
            flow: r.u32("filter.flow")?,
            family: raw_u8(r, "filter.family", Family::from_raw)?,
            src: Prefix::decode(r)?,
            dst: Prefix::decode(r)?,
            src_ports: PortRange::decode(r)?,
            dst_ports: PortRange::decode(r)?,
            protocol: ProtocolMatch::decode(r)?,
            dscp: r.opt("filter.dscp", |r| r.u8("filter.dscp"))?,
            vlan: r.opt("filter.vlan", |r| r.u16("filter.vlan"))?,
            precedence: r.u8("filter.precedence")?,
        })
    }
}

/// A Policy-based QoS policy: conditions and actions. The driver compiles
/// it into one flow (id 0x8000_0000 | policy id) and one filter per family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Policy id, 1..=0x3FFF_FFFF (0 in AddPolicy = assign one).
    pub id: u32,
    /// Name (unique per adapter when not empty).
    pub name: String,
    /// Protocol condition.
    pub protocol: PolicyProtocol,
    /// Family condition (required when a prefix is given).
    pub family: PolicyFamily,
    /// Source prefix condition.
    pub src: Option<Prefix>,
    /// Destination prefix condition.
    pub dst: Option<Prefix>,
    /// Source port condition.
    pub src_ports: Option<PortRange>,
    /// Destination port condition.
    pub dst_ports: Option<PortRange>,
    /// Action: DSCP to write, 0..=63.
    pub dscp: Option<u8>,
    /// Action: 802.1p to write, 0..=7.
    pub pcp: Option<u8>,
    /// Action: throttle rate in bits per second (IP layer).
    pub throttle_bps: Option<u64>,
    /// Precedence 0..=255, higher wins (default 127).
    pub precedence: u8,
}

impl Wire for Policy {
    const MIN_SIZE: usize = 4 + 2 + 1 + 1 + 4 + 3 + 1;
    fn encode(&self, w: &mut Writer) {
        w.u32(self.id);
        w.str(&self.name);
        w.u8(self.protocol.to_raw());
        w.u8(self.family.to_raw());
        w.opt(self.src.as_ref(), |w, v| v.encode(w));
        w.opt(self.dst.as_ref(), |w, v| v.encode(w));
        w.opt(self.src_ports.as_ref(), |w, v| v.encode(w));
        w.opt(self.dst_ports.as_ref(), |w, v| v.encode(w));
        w.opt(self.dscp.as_ref(), |w, v| w.u8(*v));
        w.opt(self.pcp.as_ref(), |w, v| w.u8(*v));
        w.opt(self.throttle_bps.as_ref(), |w, v| w.u64(*v));
        w.u8(self.precedence);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            id: r.u32("policy.id")?,
            name: r.str(MAX_NAME_BYTES, "policy.name")?,
            protocol: raw_u8(r, "policy.protocol", PolicyProtocol::from_raw)?,
            family: raw_u8(r, "policy.family", PolicyFamily::from_raw)?,
            src: r.opt("policy.src", Prefix::decode)?,
            dst: r.opt("policy.dst", Prefix::decode)?,
            src_ports: r.opt("policy.sport", PortRange::decode)?,
            dst_ports: r.opt("policy.dport", PortRange::decode)?,
            dscp: r.opt("policy.dscp", |r| r.u8("policy.dscp"))?,
            pcp: r.opt("policy.pcp", |r| r.u8("policy.pcp"))?,
            throttle_bps: r.opt("policy.throttle", |r| r.u64("policy.throttle"))?,
            precedence: r.u8("policy.precedence")?,
        })
    }
}

/// The marks of one service type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MapEntry {
    /// DSCP of conforming packets.
    pub conforming_dscp: u8,
    /// DSCP of non-conforming packets.
    pub nonconforming_dscp: u8,
    /// 802.1p of conforming packets.
    pub priority: u8,
}

impl MapEntry {
    const fn new(conforming_dscp: u8, nonconforming_dscp: u8, priority: u8) -> Self {
        Self {
            conforming_dscp,
            nonconforming_dscp,
            priority,
        }
    }
}

/// An adapter's mapping tables (DiffservByteMappingConforming,
/// DiffservByteMappingNonConforming, UserPriorityMapping). Wire: the five
/// entries in field order (3 bytes each), then `nonconforming_priority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MappingTables {
    /// BestEffort.
    pub best_effort: MapEntry,
    /// ControlledLoad.
    pub controlled_load: MapEntry,
    /// Guaranteed.
    pub guaranteed: MapEntry,
    /// NetworkControl.
    pub network_control: MapEntry,
    /// Qualitative.
    pub qualitative: MapEntry,
    /// 802.1p of non-conforming packets (any service type).
    pub nonconforming_priority: u8,
}

impl Default for MappingTables {
    /// The Windows defaults (windows-qos-semantics.md §2).
    fn default() -> Self {
        Self {
            best_effort: MapEntry::new(0, 0, 0),
            controlled_load: MapEntry::new(24, 0, 4),
            guaranteed: MapEntry::new(40, 0, 5),
            network_control: MapEntry::new(48, 0, 7),
            qualitative: MapEntry::new(0, 0, 0),
            nonconforming_priority: 1,
        }
    }
}

impl MappingTables {
    /// The entries with their service types, in wire order.
    #[must_use]
    pub const fn entries(&self) -> [(ServiceType, MapEntry); 5] {
        [
            (ServiceType::BestEffort, self.best_effort),
            (ServiceType::ControlledLoad, self.controlled_load),
            (ServiceType::Guaranteed, self.guaranteed),
            (ServiceType::NetworkControl, self.network_control),
            (ServiceType::Qualitative, self.qualitative),
        ]
    }
}

impl Wire for MapEntry {
    const MIN_SIZE: usize = 3;
    fn encode(&self, w: &mut Writer) {
        w.u8(self.conforming_dscp);
        w.u8(self.nonconforming_dscp);
        w.u8(self.priority);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            conforming_dscp: r.u8("map.conforming_dscp")?,
            nonconforming_dscp: r.u8("map.nonconforming_dscp")?,
            priority: r.u8("map.priority")?,
        })
    }
}

impl Wire for MappingTables {
    const MIN_SIZE: usize = 16;
    fn encode(&self, w: &mut Writer) {
        for (_, e) in self.entries() {
            e.encode(w);
        }
        w.u8(self.nonconforming_priority);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            best_effort: MapEntry::decode(r)?,
            controlled_load: MapEntry::decode(r)?,
            guaranteed: MapEntry::decode(r)?,
            network_control: MapEntry::decode(r)?,
            qualitative: MapEntry::decode(r)?,
            nonconforming_priority: r.u8("map.nonconforming_priority")?,
        })
    }
}

/// Per-adapter options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AdapterOptions {
    /// Most packets the scheduler holds for the adapter.
    pub queue_packets: u32,
    /// Most IP bytes the scheduler holds for the adapter.
    pub queue_bytes: u64,
    /// Most sends outstanding at the miniport (so priorities take effect).
    pub max_outstanding_sends: u32,
    /// Percent of the link speed that Guaranteed and ControlledLoad token
    /// rates may reserve together.
    pub admission_share: u8,
    /// DSCP marking override.
    pub marking_override: MarkingOverride,
    /// Flow mode.
    pub flow_mode: FlowMode,
}

impl Wire for AdapterOptions {
    const MIN_SIZE: usize = 4 + 8 + 4 + 3;
    fn encode(&self, w: &mut Writer) {
        w.u32(self.queue_packets);
        w.u64(self.queue_bytes);
        w.u32(self.max_outstanding_sends);
        w.u8(self.admission_share);
        w.u8(self.marking_override.to_raw());
        w.u8(self.flow_mode.to_raw());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            queue_packets: r.u32("options.queue_packets")?,
            queue_bytes: r.u64("options.queue_bytes")?,
            max_outstanding_sends: r.u32("options.max_outstanding_sends")?,
            admission_share: r.u8("options.admission_share")?,
            marking_override: raw_u8(r, "options.marking_override", MarkingOverride::from_raw)?,
            flow_mode: raw_u8(r, "options.flow_mode", FlowMode::from_raw)?,
        })
    }
}

/// A named extra counter (drops by reason and the like).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    /// Name, e.g. `"dropped.queue_full"`.
    pub name: String,
    /// Value.
    pub value: u64,
}

impl Wire for Counter {
    const MIN_SIZE: usize = 2 + 8;
    fn encode(&self, w: &mut Writer) {
        w.str(&self.name);
        w.u64(self.value);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            name: r.str(MAX_COUNTER_NAME_BYTES, "counter.name")?,
            value: r.u64("counter.value")?,
        })
    }
}

macro_rules! counters {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $f:ident,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        pub struct $name {
            $($(#[$fdoc])* pub $f: u64,)*
        }

        impl Wire for $name {
            const MIN_SIZE: usize = 8 * [$(stringify!($f),)*].len();
            fn encode(&self, w: &mut Writer) {
                $(w.u64(self.$f);)*
            }
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self { $($f: r.u64(concat!(stringify!($name), ".", stringify!($f)))?,)* })
            }
        }
    };
}

counters! {
    /// Adapter counters (ntddpsch.h PS_ADAPTER_STATS).
    AdapterCounters {
        /// Packets dropped because no packet/queue resource was left.
        out_of_packets,
        /// Flows added.
        flows_opened,
        /// Flows deleted.
        flows_closed,
        /// Flow additions refused.
        flows_rejected,
        /// Flows modified.
        flows_modified,
        /// Flow modifications refused.
        flow_mods_rejected,
        /// Most flows that existed at once.
        max_simultaneous_flows,
    }
}

counters! {
    /// Flow counters (ntddpsch.h PS_FLOW_STATS).
    FlowCounters {
        /// Packets dropped.
        dropped_packets,
        /// Packets handed to the scheduler.
        packets_scheduled,
        /// Packets sent down.
        packets_transmitted,
        /// Bytes handed to the scheduler.
        bytes_scheduled,
        /// Bytes sent down.
        bytes_transmitted,
    }
}

counters! {
    /// Conformer counters (PS_CONFORMER_STATS).
    ConformerStats {
        /// Packets found non-conforming.
        nonconforming_packets_scheduled,
    }
}

counters! {
    /// Shaper counters (PS_SHAPER_STATS).
    ShaperStats {
        /// Most packets held by the shaper at once.
        max_packets_in_shaper,
        /// Average packets held (time-weighted, integer).
        average_packets_in_shaper,
    }
}

counters! {
    /// Sequencer counters (PS_DRRSEQ_STATS).
    SequencerStats {
        /// Most sends outstanding at the miniport at once.
        max_packets_in_netcard,
        /// Average sends outstanding.
        average_packets_in_netcard,
        /// Most packets queued in the sequencer at once.
        max_packets_in_sequencer,
        /// Average packets queued in the sequencer.
        average_packets_in_sequencer,
        /// Non-conforming packets sent down.
        nonconforming_packets_transmitted,
    }
}

/// Statistics of one flow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Flow counters.
    pub flow: FlowCounters,
    /// Conformer.
    pub conformer: ConformerStats,
    /// Shaper: the flow's own shaper queue.
    pub shaper: ShaperStats,
    /// Sequencer: the flow's own packets in it. The netcard figures
    /// (`max_packets_in_netcard`, `average_packets_in_netcard`) are not
    /// tracked per flow and are always 0 here; the adapter's statistics
    /// have them.
    pub sequencer: SequencerStats,
    /// Extra named counters (at most [`MAX_COUNTERS`]).
    pub extra: Vec<Counter>,
}

impl Wire for FlowStats {
    const MIN_SIZE: usize = FlowCounters::MIN_SIZE
        + ConformerStats::MIN_SIZE
        + ShaperStats::MIN_SIZE
        + SequencerStats::MIN_SIZE
        + 4;
    fn encode(&self, w: &mut Writer) {
        self.flow.encode(w);
        self.conformer.encode(w);
        self.shaper.encode(w);
        self.sequencer.encode(w);
        encode_list(w, self.extra.get(..MAX_COUNTERS).unwrap_or(&self.extra));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            flow: FlowCounters::decode(r)?,
            conformer: ConformerStats::decode(r)?,
            shaper: ShaperStats::decode(r)?,
            sequencer: SequencerStats::decode(r)?,
            extra: decode_list(r, MAX_COUNTERS, "flow_stats.extra")?,
        })
    }
}

/// Statistics of one adapter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdapterStatistics {
    /// Adapter counters.
    pub adapter: AdapterCounters,
    /// Flow counters summed over the adapter (unclassified traffic
    /// included).
    pub totals: FlowCounters,
    /// Conformer, whole adapter.
    pub conformer: ConformerStats,
    /// Shaper, whole adapter.
    pub shaper: ShaperStats,
    /// Sequencer, whole adapter.
    pub sequencer: SequencerStats,
    /// Extra named counters (drops by reason, unclassifiable frames...).
    pub extra: Vec<Counter>,
}

impl Wire for AdapterStatistics {
    const MIN_SIZE: usize = AdapterCounters::MIN_SIZE + FlowStats::MIN_SIZE;
    fn encode(&self, w: &mut Writer) {
        self.adapter.encode(w);
        self.totals.encode(w);
        self.conformer.encode(w);
        self.shaper.encode(w);
        self.sequencer.encode(w);
        encode_list(w, self.extra.get(..MAX_COUNTERS).unwrap_or(&self.extra));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            adapter: AdapterCounters::decode(r)?,
            totals: FlowCounters::decode(r)?,
            conformer: ConformerStats::decode(r)?,
            shaper: ShaperStats::decode(r)?,
            sequencer: SequencerStats::decode(r)?,
            extra: decode_list(r, MAX_COUNTERS, "adapter_stats.extra")?,
        })
    }
}

/// A flow as queries return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowEntry {
    /// Flow id.
    pub id: u32,
    /// The policy that made this flow, if a policy did.
    pub policy: Option<u32>,
    /// Specification.
    pub spec: FlowSpec,
    /// Filters that point at the flow.
    pub filters: u32,
    /// Statistics, when asked for.
    pub stats: Option<FlowStats>,
}

impl Wire for FlowEntry {
    const MIN_SIZE: usize = 4 + 1 + FlowSpec::MIN_SIZE + 4 + 1;
    fn encode(&self, w: &mut Writer) {
        w.u32(self.id);
        w.opt(self.policy.as_ref(), |w, v| w.u32(*v));
        self.spec.encode(w);
        w.u32(self.filters);
        w.opt(self.stats.as_ref(), |w, v| v.encode(w));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            id: r.u32("flow.id")?,
            policy: r.opt("flow.policy", |r| r.u32("flow.policy"))?,
            spec: FlowSpec::decode(r)?,
            filters: r.u32("flow.filters")?,
            stats: r.opt("flow.stats", FlowStats::decode)?,
        })
    }
}

/// One page of an enumeration. Items are in increasing id order starting
/// at the request's `start`; `next` is the `start` of the following page,
/// `None` when this page ends the list. Wire: total, items, next (the
/// trailing `next` lets the driver fill the buffer in one pass).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// Items in the whole list (at the time of the call).
    pub total: u32,
    /// This page's items.
    pub items: Vec<T>,
    /// Where the next page starts.
    pub next: Option<u32>,
}

impl<T: Wire> Wire for Page<T> {
    const MIN_SIZE: usize = 4 + 4 + 1;
    fn encode(&self, w: &mut Writer) {
        w.u32(self.total);
        encode_list(w, &self.items);
        w.opt(self.next.as_ref(), |w, v| w.u32(*v));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            total: r.u32("page.total")?,
            items: decode_list(r, MAX_LIST_ITEMS, "page.items")?,
            next: r.opt("page.next", |r| r.u32("page.next"))?,
        })
    }
}

/// Limits the driver enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Flows per adapter (user and policy flows together).
    pub max_flows: u32,
    /// Filters per adapter (user and policy filters together).
    pub max_filters: u32,
    /// Policies per adapter.
    pub max_policies: u32,
    /// Largest request in bytes.
    pub max_request_bytes: u32,
}

impl Wire for Limits {
    const MIN_SIZE: usize = 16;
    fn encode(&self, w: &mut Writer) {
        w.u32(self.max_flows);
        w.u32(self.max_filters);
        w.u32(self.max_policies);
        w.u32(self.max_request_bytes);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            max_flows: r.u32("limits.flows")?,
            max_filters: r.u32("limits.filters")?,
            max_policies: r.u32("limits.policies")?,
            max_request_bytes: r.u32("limits.request_bytes")?,
        })
    }
}

/// Reply of GetVersion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// The ABI version the driver speaks.
    pub abi_version: u16,
    /// The driver's version string.
    pub driver_version: String,
    /// Its limits.
    pub limits: Limits,
}

impl Wire for VersionInfo {
    const MIN_SIZE: usize = 2 + 2 + Limits::MIN_SIZE;
    fn encode(&self, w: &mut Writer) {
        w.u16(self.abi_version);
        w.str(&self.driver_version);
        self.limits.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            abi_version: r.u16("version.abi")?,
            driver_version: r.str(MAX_NAME_BYTES, "version.driver")?,
            limits: Limits::decode(r)?,
        })
    }
}

/// An adapter's whole configuration, as Apply replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterConfig {
    /// Options.
    pub options: AdapterOptions,
    /// Mapping tables.
    pub maps: MappingTables,
    /// Flows, with their ids (ids must be given: filters refer to them).
    pub flows: Vec<FlowDef>,
    /// Filters, with their ids (0 = assign one).
    pub filters: Vec<Filter>,
    /// Policies, with their ids (0 = assign one).
    pub policies: Vec<Policy>,
}

impl Wire for AdapterConfig {
    const MIN_SIZE: usize = AdapterOptions::MIN_SIZE + MappingTables::MIN_SIZE + 12;
    fn encode(&self, w: &mut Writer) {
        self.options.encode(w);
        self.maps.encode(w);
        encode_list(w, &self.flows);
        encode_list(w, &self.filters);
        encode_list(w, &self.policies);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            options: AdapterOptions::decode(r)?,
            maps: MappingTables::decode(r)?,
            flows: decode_list(r, MAX_LIST_ITEMS, "config.flows")?,
            filters: decode_list(r, MAX_LIST_ITEMS, "config.filters")?,
            policies: decode_list(r, MAX_LIST_ITEMS, "config.policies")?,
        })
    }
}

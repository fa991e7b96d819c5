//! The one error vocabulary of configuration: which object, which field,
//! which rule. Every validation in the engine returns a [`ConfigError`];
//! qos-control turns it into a wire status (with the field identifier) and
//! tcctl prints it as one line. Never a bare code.

use core::fmt;

/// Which object of an adapter's configuration an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Object {
    /// A flow, by id.
    Flow(u32),
    /// A filter, by id.
    Filter(u32),
    /// A policy, by id.
    Policy(u32),
    /// The adapter's mapping tables.
    MappingTable,
    /// The adapter's options.
    AdapterOptions,
    /// The adapter as a whole (limits, admission).
    Adapter,
}

/// Which field broke a rule. The numeric value is stable: it travels on the
/// wire as the field identifier of a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
#[allow(missing_docs)]
pub enum Field {
    None = 0,
    // Flow fields.
    ServiceType = 1,
    TokenRate = 2,
    TokenBucketSize = 3,
    PeakRate = 4,
    MaxSduSize = 5,
    MinimumPolicedSize = 6,
    Mode = 7,
    DsClass = 8,
    TrafficClass = 9,
    ShapingBehavior = 10,
    ShapeRate = 11,
    Name = 12,
    FlowId = 13,
    // Filter fields.
    Family = 32,
    SrcPrefix = 33,
    DstPrefix = 34,
    SrcPorts = 35,
    DstPorts = 36,
    Protocol = 37,
    InboundDscp = 38,
    VlanId = 39,
    Precedence = 40,
    FilterFlow = 41,
    FilterId = 42,
    // Mapping tables.
    MapConformingDscp = 64,
    MapNonConformingDscp = 65,
    MapPriority = 66,
    MapNonConformingPriority = 67,
    // Adapter options and limits.
    QueuePackets = 96,
    QueueBytes = 97,
    MaxOutstandingSends = 98,
    AdmissionShare = 99,
    MarkingOverride = 100,
    FlowMode = 101,
    FlowCount = 102,
    FilterCount = 103,
    LinkSpeed = 104,
    // Policies.
    PolicyId = 128,
    PolicyAction = 129,
    PolicyCount = 130,
}

impl Field {
    /// The name users see: the spelling of tcctl's options and config keys.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "-",
            Self::ServiceType => "service_type",
            Self::TokenRate => "rate",
            Self::TokenBucketSize => "bucket",
            Self::PeakRate => "peak",
            Self::MaxSduSize => "max_sdu",
            Self::MinimumPolicedSize => "min_policed",
            Self::Mode => "mode",
            Self::DsClass => "dscp",
            Self::TrafficClass => "pcp",
            Self::ShapingBehavior => "shaping",
            Self::ShapeRate => "shape_rate",
            Self::Name => "name",
            Self::FlowId => "flow",
            Self::Family => "family",
            Self::SrcPrefix => "src",
            Self::DstPrefix => "dst",
            Self::SrcPorts => "sport",
            Self::DstPorts => "dport",
            Self::Protocol => "protocol",
            Self::InboundDscp => "inbound_dscp",
            Self::VlanId => "vlan",
            Self::Precedence => "precedence",
            Self::FilterFlow => "flow",
            Self::FilterId => "filter",
            Self::MapConformingDscp => "map.conforming_dscp",
            Self::MapNonConformingDscp => "map.nonconforming_dscp",
            Self::MapPriority => "map.priority",
            Self::MapNonConformingPriority => "map.nonconforming_priority",
            Self::QueuePackets => "queue_packets",
            Self::QueueBytes => "queue_bytes",
            Self::MaxOutstandingSends => "max_outstanding_sends",
            Self::AdmissionShare => "admission_share",
            Self::MarkingOverride => "marking_override",
            Self::FlowMode => "flow_mode",
            Self::FlowCount => "flows",
            Self::FilterCount => "filters",
            Self::LinkSpeed => "link_speed",
            Self::PolicyId => "policy",
            Self::PolicyAction => "action",
            Self::PolicyCount => "policies",
        }
    }
}

/// The kind of rule that was broken. Where the Windows TC API has an error
/// for it, [`ErrorKind::tc_code`] gives that number (TCBASE = 7500).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ErrorKind {
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
    // qoslwf's own, no TC equivalent.
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
}

impl ErrorKind {
    /// The Windows TC API error number for this kind, if one exists.
    #[must_use]
    pub const fn tc_code(self) -> Option<u32> {
        Some(match self {
            Self::InvalidServiceType => 7502,
            Self::InvalidTokenRate => 7503,
            Self::InvalidPeakRate => 7504,
            Self::InvalidSdMode => 7505,
            Self::InvalidQosPriority => 7506,
            Self::InvalidTrafficClass => 7507,
            Self::InvalidAddressType => 7508,
            Self::SupportedObjectsExist => 7512,
            Self::ObjectLengthInvalid => 7515,
            Self::InvalidDiffservFlow => 7517,
            Self::DsMappingExists => 7518,
            Self::InvalidShapeRate => 7519,
            Self::InvalidDsClass => 7520,
            _ => return None,
        })
    }

    /// The TC name (or qoslwf's own name) of this kind.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::InvalidServiceType => "ERROR_INVALID_SERVICE_TYPE",
            Self::InvalidTokenRate => "ERROR_INVALID_TOKEN_RATE",
            Self::InvalidPeakRate => "ERROR_INVALID_PEAK_RATE",
            Self::InvalidSdMode => "ERROR_INVALID_SD_MODE",
            Self::InvalidQosPriority => "ERROR_INVALID_QOS_PRIORITY",
            Self::InvalidTrafficClass => "ERROR_INVALID_TRAFFIC_CLASS",
            Self::InvalidAddressType => "ERROR_INVALID_ADDRESS_TYPE",
            Self::SupportedObjectsExist => "ERROR_TC_SUPPORTED_OBJECTS_EXIST",
            Self::ObjectLengthInvalid => "ERROR_TC_OBJECT_LENGTH_INVALID",
            Self::InvalidDiffservFlow => "ERROR_INVALID_DIFFSERV_FLOW",
            Self::DsMappingExists => "ERROR_DS_MAPPING_EXISTS",
            Self::InvalidShapeRate => "ERROR_INVALID_SHAPE_RATE",
            Self::InvalidDsClass => "ERROR_INVALID_DS_CLASS",
            Self::InvalidPrefix => "INVALID_PREFIX",
            Self::InvalidPortRange => "INVALID_PORT_RANGE",
            Self::InvalidProtocol => "INVALID_PROTOCOL",
            Self::InvalidValue => "INVALID_VALUE",
            Self::UnknownFlow => "UNKNOWN_FLOW",
            Self::UnknownFilter => "UNKNOWN_FILTER",
            Self::UnknownPolicy => "UNKNOWN_POLICY",
            Self::DuplicateId => "DUPLICATE_ID",
            Self::DuplicateName => "DUPLICATE_NAME",
            Self::AdmissionExceeded => "ADMISSION_EXCEEDED",
            Self::LimitExceeded => "LIMIT_EXCEEDED",
        }
    }
}

/// A configuration change that was refused: what, where, and which rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConfigError {
    /// The kind of rule (and its TC code).
    pub kind: ErrorKind,
    /// The object the error is about.
    pub object: Object,
    /// The field that broke the rule.
    pub field: Field,
    /// The rule in words, e.g. "must be >= rate".
    pub rule: &'static str,
}

impl ConfigError {
    /// Builds an error.
    #[must_use]
    pub const fn new(kind: ErrorKind, object: Object, field: Field, rule: &'static str) -> Self {
        Self {
            kind,
            object,
            field,
            rule,
        }
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flow(id) => write!(f, "flow {id}"),
            Self::Filter(id) => write!(f, "filter {id}"),
            Self::Policy(id) => write!(f, "policy {id}"),
            Self::MappingTable => f.write_str("mapping table"),
            Self::AdapterOptions => f.write_str("adapter options"),
            Self::Adapter => f.write_str("adapter"),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: field `{}` {} ({}",
            self.object,
            self.field.name(),
            self.rule,
            self.kind.name()
        )?;
        if let Some(code) = self.kind.tc_code() {
            write!(f, ", TC error {code}")?;
        }
        f.write_str(")")
    }
}

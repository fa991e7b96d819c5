//! Status codes, field identifiers and the error reply.
//!
//! A status is a stable number. Where the Windows TC API has an error for
//! the situation, the number is that error (TCBASE = 7500, e.g. 7512 =
//! ERROR_TC_SUPPORTED_OBJECTS_EXIST); qoslwf's own statuses use 7600..=7699.
//! Field identifiers are the numbers of `qos_engine::error::Field` (proto
//! does not depend on the engine: this is a mirror, pinned by tests on
//! both sides).
//!
//! # NTSTATUS of a completed request
//! - `STATUS_SUCCESS` (0): the operation succeeded; the output holds a reply.
//! - [`ntstatus_for`]`(status)` = `0xA051_0000 | status`: a *warning*
//!   severity, customer NTSTATUS (facility 0x051). The operation was refused
//!   and the output holds an error reply naming status, object, field and
//!   rule. A warning (not an error) severity makes the I/O manager copy the
//!   METHOD_BUFFERED output back to the caller, so the reason reaches tcctl;
//!   DeviceIoControl still returns FALSE, so naive callers see a failure.
//! - An error NTSTATUS (`0xC...`, e.g. [`STATUS_BUFFER_TOO_SMALL`] when the
//!   output buffer cannot hold even an error reply, or
//!   [`STATUS_INVALID_DEVICE_REQUEST`] for an unknown IOCTL code): no reply.

use core::fmt;

/// `STATUS_SUCCESS`.
pub const STATUS_SUCCESS: u32 = 0;
/// `STATUS_INVALID_DEVICE_REQUEST`: the IOCTL code names no operation.
pub const STATUS_INVALID_DEVICE_REQUEST: u32 = 0xC000_0010;
/// `STATUS_BUFFER_TOO_SMALL`: the output cannot hold an error reply.
pub const STATUS_BUFFER_TOO_SMALL: u32 = 0xC000_0023;
/// `STATUS_INVALID_PARAMETER`.
pub const STATUS_INVALID_PARAMETER: u32 = 0xC000_000D;
/// `STATUS_ACCESS_DENIED`.
pub const STATUS_ACCESS_DENIED: u32 = 0xC000_0022;
/// Facility of qoslwf's customer NTSTATUS values.
pub const FACILITY_QOSLWF: u32 = 0x051;
/// Severity "warning" + customer bit.
const WARNING_CUSTOMER: u32 = 0xA000_0000;

/// The NTSTATUS that carries a refused operation's [`Status`].
#[must_use]
pub const fn ntstatus_for(status: Status) -> u32 {
    if status.code() == 0 {
        STATUS_SUCCESS
    } else {
        WARNING_CUSTOMER | (FACILITY_QOSLWF << 16) | (status.code() & 0xFFFF)
    }
}

/// The [`Status`] carried by an NTSTATUS made with [`ntstatus_for`], if it
/// is one.
#[must_use]
pub const fn status_of_ntstatus(ntstatus: u32) -> Option<Status> {
    if ntstatus & 0xFFFF_0000 == WARNING_CUSTOMER | (FACILITY_QOSLWF << 16) {
        Some(Status::from_code(ntstatus & 0xFFFF))
    } else {
        None
    }
}

macro_rules! statuses {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $text:literal;)*) => {
        /// A status code. Unknown numbers are kept as [`Status::Other`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Status {
            $($(#[$doc])* $name,)*
            /// A number this version does not know.
            Other(u32),
        }

        impl Status {
            /// Every known status.
            pub const ALL: &'static [Self] = &[$(Self::$name,)*];

            /// The wire number.
            #[must_use]
            pub const fn code(self) -> u32 {
                match self { $(Self::$name => $code,)* Self::Other(c) => c }
            }

            /// The status a wire number names.
            #[must_use]
            pub const fn from_code(code: u32) -> Self {
                match code { $($code => Self::$name,)* c => Self::Other(c) }
            }

            /// The TC error name (or qoslwf's own name).
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self { $(Self::$name => $text,)* Self::Other(_) => "UNKNOWN_STATUS" }
            }
        }
    };
}

statuses! {
    /// Success.
    Ok = 0, "OK";
    /// Wrong ABI version (arg0 = the driver's version, arg1 = the request's).
    IncompatibleVersion = 7501, "ERROR_INCOMPATIBLE_TCI_VERSION";
    /// Bad service type.
    InvalidServiceType = 7502, "ERROR_INVALID_SERVICE_TYPE";
    /// Bad or missing token rate.
    InvalidTokenRate = 7503, "ERROR_INVALID_TOKEN_RATE";
    /// Peak rate below token rate.
    InvalidPeakRate = 7504, "ERROR_INVALID_PEAK_RATE";
    /// Bad shape/discard mode.
    InvalidSdMode = 7505, "ERROR_INVALID_SD_MODE";
    /// Bad priority.
    InvalidQosPriority = 7506, "ERROR_INVALID_QOS_PRIORITY";
    /// 802.1p outside 0..=7.
    InvalidTrafficClass = 7507, "ERROR_INVALID_TRAFFIC_CLASS";
    /// Bad address family.
    InvalidAddressType = 7508, "ERROR_INVALID_ADDRESS_TYPE";
    /// A flow still has filters.
    SupportedObjectsExist = 7512, "ERROR_TC_SUPPORTED_OBJECTS_EXIST";
    /// A value's length is wrong.
    ObjectLengthInvalid = 7515, "ERROR_TC_OBJECT_LENGTH_INVALID";
    /// Bad diffserv configuration.
    InvalidDiffservFlow = 7517, "ERROR_INVALID_DIFFSERV_FLOW";
    /// The inbound DSCP is already mapped to another flow.
    DsMappingExists = 7518, "ERROR_DS_MAPPING_EXISTS";
    /// Bad shaping rate.
    InvalidShapeRate = 7519, "ERROR_INVALID_SHAPE_RATE";
    /// DSCP outside 0..=63.
    InvalidDsClass = 7520, "ERROR_INVALID_DS_CLASS";
    /// Bad prefix (length, host bits).
    InvalidPrefix = 7600, "INVALID_PREFIX";
    /// Bad port range.
    InvalidPortRange = 7601, "INVALID_PORT_RANGE";
    /// Bad protocol condition.
    InvalidProtocol = 7602, "INVALID_PROTOCOL";
    /// A value outside its range.
    InvalidValue = 7603, "INVALID_VALUE";
    /// No flow with that id.
    UnknownFlow = 7604, "UNKNOWN_FLOW";
    /// No filter with that id.
    UnknownFilter = 7605, "UNKNOWN_FILTER";
    /// No policy with that id.
    UnknownPolicy = 7606, "UNKNOWN_POLICY";
    /// The id is taken.
    DuplicateId = 7607, "DUPLICATE_ID";
    /// The name is taken.
    DuplicateName = 7608, "DUPLICATE_NAME";
    /// Reserved rates exceed the adapter's admission share.
    AdmissionExceeded = 7609, "ADMISSION_EXCEEDED";
    /// A limit (flows, filters, policies per adapter) would be exceeded
    /// (arg0 = the limit).
    LimitExceeded = 7610, "LIMIT_EXCEEDED";
    /// No adapter with that id (it may have detached).
    UnknownAdapter = 7620, "UNKNOWN_ADAPTER";
    /// The request bytes do not decode (arg0 = byte offset; the rule says
    /// what was wrong).
    MalformedRequest = 7621, "MALFORMED_REQUEST";
    /// The output buffer is too small for the reply (arg0 = bytes needed).
    BufferTooSmall = 7622, "BUFFER_TOO_SMALL";
    /// The request exceeds the size limit (arg0 = the limit).
    RequestTooLarge = 7623, "REQUEST_TOO_LARGE";
    /// The driver could not hand the configuration to the adapter.
    HostFailure = 7624, "HOST_FAILURE";
}

/// A field identifier: the numbers of `qos_engine::error::Field`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldId(pub u16);

macro_rules! fields {
    ($($name:ident = $v:literal, $text:literal;)*) => {
        #[allow(missing_docs)]
        impl FieldId {
            $(pub const $name: Self = Self($v);)*

            /// Every known field.
            pub const ALL: &'static [Self] = &[$(Self::$name,)*];

            /// The name users see (tcctl's option spelling), `"?"` when
            /// unknown.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self.0 { $($v => $text,)* _ => "?" }
            }
        }
    };
}

fields! {
    NONE = 0, "-";
    SERVICE_TYPE = 1, "service_type";
    TOKEN_RATE = 2, "rate";
    TOKEN_BUCKET_SIZE = 3, "bucket";
    PEAK_RATE = 4, "peak";
    MAX_SDU_SIZE = 5, "max_sdu";
    MINIMUM_POLICED_SIZE = 6, "min_policed";
    MODE = 7, "mode";
    DS_CLASS = 8, "dscp";
    TRAFFIC_CLASS = 9, "pcp";
    SHAPING_BEHAVIOR = 10, "shaping";
    SHAPE_RATE = 11, "shape_rate";
    NAME = 12, "name";
    FLOW_ID = 13, "flow";
    FAMILY = 32, "family";
    SRC_PREFIX = 33, "src";
    DST_PREFIX = 34, "dst";
    SRC_PORTS = 35, "sport";
    DST_PORTS = 36, "dport";
    PROTOCOL = 37, "protocol";
    INBOUND_DSCP = 38, "inbound_dscp";
    VLAN_ID = 39, "vlan";
    PRECEDENCE = 40, "precedence";
    FILTER_FLOW = 41, "flow";
    FILTER_ID = 42, "filter";
    MAP_CONFORMING_DSCP = 64, "map.conforming_dscp";
    MAP_NON_CONFORMING_DSCP = 65, "map.nonconforming_dscp";
    MAP_PRIORITY = 66, "map.priority";
    MAP_NON_CONFORMING_PRIORITY = 67, "map.nonconforming_priority";
    QUEUE_PACKETS = 96, "queue_packets";
    QUEUE_BYTES = 97, "queue_bytes";
    MAX_OUTSTANDING_SENDS = 98, "max_outstanding_sends";
    ADMISSION_SHARE = 99, "admission_share";
    MARKING_OVERRIDE = 100, "marking_override";
    FLOW_MODE = 101, "flow_mode";
    FLOW_COUNT = 102, "flows";
    FILTER_COUNT = 103, "filters";
    LINK_SPEED = 104, "link_speed";
    POLICY_ID = 128, "policy";
    POLICY_ACTION = 129, "action";
    POLICY_COUNT = 130, "policies";
    // Proto-only: the request's adapter id (no engine equivalent).
    ADAPTER = 160, "adapter";
}

/// The object an error is about (mirror of `qos_engine::error::Object`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectRef {
    /// Nothing in particular.
    None,
    /// A flow, by id.
    Flow(u32),
    /// A filter, by id.
    Filter(u32),
    /// A policy, by id.
    Policy(u32),
    /// The mapping tables.
    MappingTable,
    /// The adapter options.
    AdapterOptions,
    /// An adapter, by id.
    Adapter(u32),
    /// The request itself (encoding, version, size).
    Request,
}

impl ObjectRef {
    /// Wire encoding: (kind, id).
    #[must_use]
    pub const fn to_wire(self) -> (u8, u32) {
        match self {
            Self::None => (0, 0),
            Self::Flow(id) => (1, id),
            Self::Filter(id) => (2, id),
            Self::Policy(id) => (3, id),
            Self::MappingTable => (4, 0),
            Self::AdapterOptions => (5, 0),
            Self::Adapter(id) => (6, id),
            Self::Request => (7, 0),
        }
    }

    /// Decodes (kind, id); `None` for an unknown kind, or for a kind
    /// without an id whose id is not 0 (the encoding is canonical).
    #[must_use]
    pub const fn from_wire(kind: u8, id: u32) -> Option<Self> {
        Some(match (kind, id) {
            (0, 0) => Self::None,
            (1, id) => Self::Flow(id),
            (2, id) => Self::Filter(id),
            (3, id) => Self::Policy(id),
            (4, 0) => Self::MappingTable,
            (5, 0) => Self::AdapterOptions,
            (6, id) => Self::Adapter(id),
            (7, 0) => Self::Request,
            _ => return None,
        })
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("request"),
            Self::Flow(id) => write!(f, "flow {id}"),
            Self::Filter(id) => write!(f, "filter {id}"),
            Self::Policy(id) => write!(f, "policy {id}"),
            Self::MappingTable => f.write_str("mapping table"),
            Self::AdapterOptions => f.write_str("adapter options"),
            Self::Adapter(id) => write!(f, "adapter {id}"),
            Self::Request => f.write_str("request"),
        }
    }
}

/// Longest rule text an error reply carries, in bytes.
pub const MAX_RULE_BYTES: usize = 200;

/// The body of a refused operation's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    /// What kind of rule was broken.
    pub status: Status,
    /// Which object.
    pub object: ObjectRef,
    /// Which field.
    pub field: FieldId,
    /// The rule in words (at most [`MAX_RULE_BYTES`]).
    pub rule: alloc::string::String,
    /// Status-specific number: the driver's ABI version, the bytes needed,
    /// a limit, a byte offset (see [`Status`]).
    pub arg0: u64,
    /// Status-specific number: the request's ABI version.
    pub arg1: u64,
}

impl ErrorReply {
    /// An error reply without arguments.
    #[must_use]
    pub fn new(status: Status, object: ObjectRef, field: FieldId, rule: &str) -> Self {
        let mut end = rule.len().min(MAX_RULE_BYTES);
        while !rule.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        Self {
            status,
            object,
            field,
            rule: alloc::string::String::from(rule.get(..end).unwrap_or_default()),
            arg0: 0,
            arg1: 0,
        }
    }

    /// Sets the arguments.
    #[must_use]
    pub const fn with_args(mut self, arg0: u64, arg1: u64) -> Self {
        self.arg0 = arg0;
        self.arg1 = arg1;
        self
    }
}

impl fmt::Display for ErrorReply {
    /// One line: what, where, which rule, and the TC name and number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Status::IncompatibleVersion => write!(
                f,
                "ABI version mismatch: the driver speaks version {}, the request used version {}",
                self.arg0, self.arg1
            )?,
            Status::BufferTooSmall => write!(
                f,
                "output buffer too small: the reply needs {} bytes",
                self.arg0
            )?,
            Status::RequestTooLarge => {
                write!(f, "request too large: limit is {} bytes", self.arg0)?
            }
            Status::MalformedRequest => {
                write!(f, "malformed request at byte {}: {}", self.arg0, self.rule)?;
            }
            _ => {
                write!(f, "{}", self.object)?;
                if self.field != FieldId::NONE {
                    write!(f, ": field `{}`", self.field.name())?;
                }
                if !self.rule.is_empty() {
                    write!(f, " {}", self.rule)?;
                }
                if self.status == Status::LimitExceeded && self.arg0 != 0 {
                    write!(f, " (limit {})", self.arg0)?;
                }
            }
        }
        write!(f, " ({}", self.status.name())?;
        let code = self.status.code();
        if (7500..7600).contains(&code) {
            write!(f, ", TC error {code}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn status_codes_round_trip_and_are_unique() {
        for (i, s) in Status::ALL.iter().enumerate() {
            assert_eq!(Status::from_code(s.code()), *s);
            for t in Status::ALL.get(i + 1..).unwrap() {
                assert_ne!(s.code(), t.code());
            }
        }
        assert_eq!(Status::from_code(9999), Status::Other(9999));
        assert_eq!(Status::SupportedObjectsExist.code(), 7512);
        assert_eq!(Status::IncompatibleVersion.code(), 7501);
    }

    #[test]
    fn ntstatus_carries_the_status() {
        let nt = ntstatus_for(Status::SupportedObjectsExist);
        assert_eq!(nt, 0xA051_1D58);
        // Warning severity: not NT_ERROR, so METHOD_BUFFERED output is copied.
        assert_eq!(nt >> 30, 2);
        assert_eq!(status_of_ntstatus(nt), Some(Status::SupportedObjectsExist));
        assert_eq!(ntstatus_for(Status::Ok), STATUS_SUCCESS);
        assert_eq!(status_of_ntstatus(STATUS_BUFFER_TOO_SMALL), None);
    }

    #[test]
    fn field_ids_are_unique() {
        for (i, a) in FieldId::ALL.iter().enumerate() {
            for b in FieldId::ALL.get(i + 1..).unwrap() {
                assert_ne!(a.0, b.0);
            }
        }
        assert_eq!(FieldId(2).name(), "rate");
        assert_eq!(FieldId(9999).name(), "?");
    }

    #[test]
    fn messages_name_field_rule_and_tc_code() {
        let e = ErrorReply::new(
            Status::InvalidPeakRate,
            ObjectRef::Flow(3),
            FieldId::PEAK_RATE,
            "must be >= rate",
        );
        assert_eq!(
            e.to_string(),
            "flow 3: field `peak` must be >= rate (ERROR_INVALID_PEAK_RATE, TC error 7504)"
        );
        let v = ErrorReply::new(
            Status::IncompatibleVersion,
            ObjectRef::Request,
            FieldId::NONE,
            "",
        )
        .with_args(1, 2);
        assert_eq!(
            v.to_string(),
            "ABI version mismatch: the driver speaks version 1, the request used version 2 \
             (ERROR_INCOMPATIBLE_TCI_VERSION, TC error 7501)"
        );
    }

    #[test]
    fn rule_text_is_bounded() {
        let long = "é".repeat(300);
        let e = ErrorReply::new(Status::InvalidValue, ObjectRef::None, FieldId::NONE, &long);
        assert!(e.rule.len() <= MAX_RULE_BYTES);
    }
}

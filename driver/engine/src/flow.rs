//! Flow specifications: what Windows' FLOWSPEC plus the TC objects
//! (SD_MODE, DCLASS, TCLASS, shaping behaviour, friendly name) describe.
//!
//! Rates and sizes count IP-layer bytes: from the first byte of the IP header
//! on, no link header (as QOS2 specifies).

use alloc::string::String;

/// Service type, with the numeric values of qos.h.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ServiceType {
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

/// Shape/discard mode (TC object SD_MODE, id 2002).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum SdMode {
    /// Send excess now, marked non-conforming, sequenced below best effort.
    Borrow = 0,
    /// Hold packets until they conform.
    Shape = 1,
    /// Drop non-conforming packets.
    Discard = 2,
    /// Borrow without ever marking non-conforming.
    BorrowPlus = 3,
}

/// QOS2 shaping behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShapingBehavior {
    /// Shape, and do not write a DSCP mark.
    ShapeOnly,
    /// Shape and mark.
    ShapeAndMark,
    /// Never delay; excess packets get the non-conforming marks.
    UseNonConformantMarkings,
}

/// A flow's specification. Validation lives in this module (see the
/// functions below); a `FlowSpec` inside a compiled snapshot is valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowSpec {
    /// Friendly name (TC object FRIENDLY_NAME), up to 256 characters.
    pub name: String,
    /// Service type.
    pub service_type: ServiceType,
    /// Token rate in IP-layer bytes per second; `None` = not specified
    /// (allowed for BestEffort, Qualitative and NetworkControl only).
    pub token_rate: Option<u64>,
    /// Token bucket size in bytes.
    pub bucket: u64,
    /// Peak rate in bytes per second, `None` = unlimited.
    pub peak_rate: Option<u64>,
    /// Largest packet (IP bytes) allowed; larger ones are non-conforming.
    pub max_sdu: Option<u32>,
    /// Smaller packets are charged as this many bytes.
    pub min_policed: u32,
    /// Shape/discard mode; `None` = the service type's default.
    pub mode: Option<SdMode>,
    /// DCLASS: DSCP override 0..=63.
    pub dclass: Option<u8>,
    /// TCLASS: 802.1p override 0..=7.
    pub tclass: Option<u8>,
    /// QOS2 shaping behaviour, if the flow was made that way.
    pub shaping: Option<ShapingBehavior>,
}

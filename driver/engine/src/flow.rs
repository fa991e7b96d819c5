//! Flow specifications: what Windows' FLOWSPEC plus the TC objects
//! (SD_MODE, DCLASS, TCLASS, shaping behaviour, friendly name) describe.
//!
//! Rates and sizes count IP-layer bytes: from the first byte of the IP header
//! on, no link header (as QOS2 specifies).

use alloc::string::String;

use crate::error::{ConfigError, ErrorKind, Field, Object};

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
    /// For a segmented (LSO) send it limits each IP packet on the wire: the
    /// scheduler compares it with the send's largest IP packet
    /// ([`crate::psched::SendSize::largest_ip_packet`]), not its total.
    pub max_sdu: Option<u32>,
    /// Smaller packets are charged as this many bytes; applied per IP packet
    /// on the wire (a send of `n` segments is charged at least
    /// `n * min_policed`, see [`crate::psched::SendSize::charge`]).
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

/// Largest token bucket, peak-bucket or packet size the scheduler accepts, in
/// bytes: FLOWSPEC's fields are 32-bit, and keeping sizes within 32 bits keeps
/// the conformer's scaled arithmetic (bytes x ticks per second) far from
/// overflow.
pub const MAX_BUCKET: u64 = u32::MAX as u64;

/// Longest friendly name, in UTF-16 code units (TC object FRIENDLY_NAME).
pub const MAX_NAME_UNITS: usize = 256;

/// Depth of the peak-rate bucket when the flow gives no MaxSduSize: one
/// Ethernet MTU of IP bytes. RFC 2212 sizes the peak bucket at M, the largest
/// packet; larger packets (LSO sends) still pass, see
/// [`crate::psched::conformer`].
pub const DEFAULT_PEAK_DEPTH: u32 = 1500;

impl ServiceType {
    /// The service type with qos.h's numeric value `raw`, or `None` for
    /// values that are not valid for a flow (NOTRAFFIC, NETWORK_UNAVAILABLE,
    /// GENERAL_INFORMATION, NOCHANGE, NONCONFORMING, anything else).
    #[must_use]
    pub const fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0x1 => Self::BestEffort,
            0x2 => Self::ControlledLoad,
            0x3 => Self::Guaranteed,
            0xA => Self::NetworkControl,
            0xD => Self::Qualitative,
            _ => return None,
        })
    }

    /// The mode a flow of this service type gets when it names none.
    ///
    /// Not publicly documented (UNCONFIRMED in the reference); this follows
    /// the Windows 2000 QoS whitepaper's table: Guaranteed is shaped, every
    /// other service type borrows.
    #[must_use]
    pub const fn default_mode(self) -> SdMode {
        match self {
            Self::Guaranteed => SdMode::Shape,
            _ => SdMode::Borrow,
        }
    }

    /// Whether a flow of this service type may leave its token rate
    /// unspecified (FLOWSPEC rule: BestEffort, Qualitative, NetworkControl).
    #[must_use]
    pub const fn allows_unspecified_rate(self) -> bool {
        matches!(
            self,
            Self::BestEffort | Self::Qualitative | Self::NetworkControl
        )
    }

    /// The sequencer level conforming packets of this service type use.
    #[must_use]
    pub const fn level(self) -> Level {
        match self {
            Self::NetworkControl => Level::NetworkControl,
            Self::Guaranteed => Level::Guaranteed,
            Self::ControlledLoad => Level::ControlledLoad,
            Self::BestEffort => Level::BestEffort,
            Self::Qualitative => Level::Qualitative,
        }
    }
}

impl SdMode {
    /// The mode with the SD_MODE object's numeric value `raw`.
    #[must_use]
    pub const fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Self::Borrow,
            1 => Self::Shape,
            2 => Self::Discard,
            3 => Self::BorrowPlus,
            _ => return None,
        })
    }
}

impl ShapingBehavior {
    /// The SD_MODE a QOS2 shaping behaviour means:
    ///
    /// - `ShapeOnly` and `ShapeAndMark` shape (they differ only in marking:
    ///   ShapeOnly writes no DSCP, see `engine::mark`);
    /// - `UseNonConformantMarkings` borrows: packets are never delayed, the
    ///   excess is sent marked non-conforming (and sequenced below best
    ///   effort, as every non-conforming packet).
    #[must_use]
    pub const fn mode(self) -> SdMode {
        match self {
            Self::ShapeOnly | Self::ShapeAndMark => SdMode::Shape,
            Self::UseNonConformantMarkings => SdMode::Borrow,
        }
    }
}

/// Sequencer priority levels, highest first. The derived order is the
/// priority order: a smaller level is served first (strict priority).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// SERVICETYPE_NETWORK_CONTROL.
    NetworkControl = 0,
    /// SERVICETYPE_GUARANTEED.
    Guaranteed = 1,
    /// SERVICETYPE_CONTROLLEDLOAD.
    ControlledLoad = 2,
    /// SERVICETYPE_BESTEFFORT (and unclassified packets).
    BestEffort = 3,
    /// SERVICETYPE_QUALITATIVE.
    Qualitative = 4,
    /// Non-conforming packets of every service type (borrow mode excess).
    NonConforming = 5,
}

impl Level {
    /// Number of levels.
    pub const COUNT: usize = 6;
    /// All levels, highest priority first.
    pub const ALL: [Self; Self::COUNT] = [
        Self::NetworkControl,
        Self::Guaranteed,
        Self::ControlledLoad,
        Self::BestEffort,
        Self::Qualitative,
        Self::NonConforming,
    ];

    /// The level with index `i` (0 = highest priority).
    #[must_use]
    pub const fn from_index(i: usize) -> Option<Self> {
        Some(match i {
            0 => Self::NetworkControl,
            1 => Self::Guaranteed,
            2 => Self::ControlledLoad,
            3 => Self::BestEffort,
            4 => Self::Qualitative,
            5 => Self::NonConforming,
            _ => return None,
        })
    }

    /// This level's index (0 = highest priority).
    #[must_use]
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl FlowSpec {
    /// A best-effort flow with no rate, no limits, default mode: a starting
    /// point for builders and tests.
    #[must_use]
    pub fn best_effort(name: &str) -> Self {
        Self {
            name: String::from(name),
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

    /// The mode the scheduler applies: the QOS2 shaping behaviour's mode if
    /// one is set (see [`ShapingBehavior::mode`]), else the SD_MODE object,
    /// else the service type's default ([`ServiceType::default_mode`]).
    /// [`validate_flow`] refuses a flow whose SD_MODE contradicts its shaping
    /// behaviour.
    #[must_use]
    pub fn effective_mode(&self) -> SdMode {
        match (self.shaping, self.mode) {
            (Some(s), _) => s.mode(),
            (None, Some(m)) => m,
            (None, None) => self.service_type.default_mode(),
        }
    }

    /// The sequencer level of this flow's conforming packets.
    #[must_use]
    pub fn level(&self) -> Level {
        self.service_type.level()
    }
}

/// Checks a flow specification; the error names the field and the rule.
///
/// Rules, in the order they are checked:
///
/// | field | rule | kind |
/// |---|---|---|
/// | name | at most 256 UTF-16 units | ObjectLengthInvalid |
/// | rate | never 0 | InvalidTokenRate |
/// | rate | required for Guaranteed and ControlledLoad | InvalidTokenRate |
/// | shaping | a QOS2 shaping behaviour needs a rate (the QOS2 bandwidth) | InvalidShapeRate |
/// | mode | must agree with the shaping behaviour (ShapeOnly/ShapeAndMark = shape, UseNonConformantMarkings = borrow) | InvalidSdMode |
/// | rate | shape mode (explicit or by default) needs a rate | InvalidTokenRate |
/// | peak | never 0, and >= rate | InvalidPeakRate |
/// | bucket | at most 2^32-1 bytes | InvalidValue |
/// | bucket | > 0 when a rate is given | InvalidValue |
/// | max_sdu | > 0 | InvalidValue |
/// | min_policed | <= max_sdu | InvalidValue |
/// | bucket | >= max_sdu and >= min_policed when a rate is given (a largest packet must be able to conform) | InvalidValue |
/// | dscp | 0..=63 | InvalidDsClass |
/// | pcp | 0..=7 | InvalidTrafficClass |
///
/// A service type outside qos.h's flow types cannot be represented by
/// [`ServiceType`]; decoders use [`ServiceType::from_raw`] and report
/// InvalidServiceType themselves (same for [`SdMode::from_raw`] and
/// InvalidSdMode).
///
/// # Errors
/// The first rule the flow breaks, as a [`ConfigError`] on `Object::Flow(id)`.
pub fn validate_flow(id: u32, f: &FlowSpec) -> Result<(), ConfigError> {
    let err = |kind, field, rule| Err(ConfigError::new(kind, Object::Flow(id), field, rule));
    if f.name.encode_utf16().nth(MAX_NAME_UNITS).is_some() {
        return err(
            ErrorKind::ObjectLengthInvalid,
            Field::Name,
            "must be at most 256 characters",
        );
    }
    if f.token_rate == Some(0) {
        return err(
            ErrorKind::InvalidTokenRate,
            Field::TokenRate,
            "must not be 0",
        );
    }
    if f.token_rate.is_none() && !f.service_type.allows_unspecified_rate() {
        return err(
            ErrorKind::InvalidTokenRate,
            Field::TokenRate,
            "is required for guaranteed and controlled-load flows",
        );
    }
    if let Some(shaping) = f.shaping {
        if f.token_rate.is_none() {
            return err(
                ErrorKind::InvalidShapeRate,
                Field::ShapingBehavior,
                "needs a rate (the QOS2 flow rate)",
            );
        }
        if f.mode.is_some_and(|m| m != shaping.mode()) {
            return err(
                ErrorKind::InvalidSdMode,
                Field::Mode,
                "contradicts the shaping behaviour (shape-only and shape-and-mark shape, non-conformant markings borrow)",
            );
        }
    }
    if f.effective_mode() == SdMode::Shape && f.token_rate.is_none() {
        return err(
            ErrorKind::InvalidTokenRate,
            Field::TokenRate,
            "is required in shape mode",
        );
    }
    if let Some(peak) = f.peak_rate {
        if peak == 0 {
            return err(ErrorKind::InvalidPeakRate, Field::PeakRate, "must not be 0");
        }
        if f.token_rate.is_some_and(|r| peak < r) {
            return err(
                ErrorKind::InvalidPeakRate,
                Field::PeakRate,
                "must be >= rate",
            );
        }
    }
    if f.bucket > MAX_BUCKET {
        return err(
            ErrorKind::InvalidValue,
            Field::TokenBucketSize,
            "must be at most 4294967295 bytes",
        );
    }
    if f.token_rate.is_some() && f.bucket == 0 {
        return err(
            ErrorKind::InvalidValue,
            Field::TokenBucketSize,
            "must be > 0 when a rate is given",
        );
    }
    if f.max_sdu == Some(0) {
        return err(ErrorKind::InvalidValue, Field::MaxSduSize, "must be > 0");
    }
    if f.max_sdu.is_some_and(|m| f.min_policed > m) {
        return err(
            ErrorKind::InvalidValue,
            Field::MinimumPolicedSize,
            "must be <= max_sdu",
        );
    }
    if f.token_rate.is_some() {
        let largest = u64::from(f.max_sdu.unwrap_or(0).max(f.min_policed));
        if f.bucket < largest {
            return err(
                ErrorKind::InvalidValue,
                Field::TokenBucketSize,
                "must be >= max_sdu and >= min_policed (a largest packet must be able to conform)",
            );
        }
    }
    if f.dclass.is_some_and(|d| d > 63) {
        return err(ErrorKind::InvalidDsClass, Field::DsClass, "must be 0..=63");
    }
    if f.tclass.is_some_and(|p| p > 7) {
        return err(
            ErrorKind::InvalidTrafficClass,
            Field::TrafficClass,
            "must be 0..=7",
        );
    }
    Ok(())
}

//! IOCTL codes of the control device, built the way `CTL_CODE` builds them.
//!
//! Every code uses the custom device type [`DEVICE_TYPE`] (vendor range
//! 0x8000..=0xFFFF), a vendor function number (>= 0x800) and
//! `METHOD_BUFFERED`. Operations that change configuration require
//! `FILE_WRITE_ACCESS` (the I/O manager checks the handle's granted access
//! before the driver sees the request); queries require `FILE_READ_ACCESS`.
//! Query functions are numbered from 0x800, change functions from 0x840.

/// `METHOD_BUFFERED`.
pub const METHOD_BUFFERED: u32 = 0;
/// `FILE_ANY_ACCESS`.
pub const FILE_ANY_ACCESS: u32 = 0;
/// `FILE_READ_ACCESS`.
pub const FILE_READ_ACCESS: u32 = 1;
/// `FILE_WRITE_ACCESS`.
pub const FILE_WRITE_ACCESS: u32 = 2;
/// `FILE_DEVICE_NETWORK` (for reference; qoslwf uses [`DEVICE_TYPE`]).
pub const FILE_DEVICE_NETWORK: u32 = 0x12;
/// qoslwf's device type: vendor range, 0x8000 | 'Q'. The driver also
/// passes it to `IoCreateDevice`/`NdisRegisterDeviceEx`.
pub const DEVICE_TYPE: u32 = 0x8051;

/// `CTL_CODE(device_type, function, method, access)`:
/// `(device_type << 16) | (access << 14) | (function << 2) | method`.
/// Out-of-range inputs are masked to their field width.
#[must_use]
pub const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    ((device_type & 0xFFFF) << 16)
        | ((access & 0x3) << 14)
        | ((function & 0xFFF) << 2)
        | (method & 0x3)
}

/// The fields of an IOCTL code, the inverse of [`ctl_code`]:
/// `(device_type, access, function, method)`.
#[must_use]
pub const fn ctl_fields(code: u32) -> (u32, u32, u32, u32) {
    (
        code >> 16,
        (code >> 14) & 0x3,
        (code >> 2) & 0xFFF,
        code & 0x3,
    )
}

/// Access bits of an IOCTL code (`FILE_READ_ACCESS`, `FILE_WRITE_ACCESS`).
#[must_use]
pub const fn ctl_access(code: u32) -> u32 {
    (code >> 14) & 0x3
}

macro_rules! ops {
    ($($(#[$doc:meta])* $name:ident = $func:literal, $access:ident, $text:literal;)*) => {
        /// One operation of the control device.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Op {
            $($(#[$doc])* $name,)*
        }

        impl Op {
            /// Every operation, in code order.
            pub const ALL: &'static [Self] = &[$(Self::$name,)*];

            /// The function number inside the IOCTL code.
            #[must_use]
            pub const fn function(self) -> u32 {
                match self { $(Self::$name => $func,)* }
            }

            /// The access the caller's handle needs.
            #[must_use]
            pub const fn access(self) -> u32 {
                match self { $(Self::$name => $access,)* }
            }

            /// A short name for messages and logs.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self { $(Self::$name => $text,)* }
            }
        }
    };
}

ops! {
    /// ABI version, driver version, limits.
    GetVersion = 0x800, FILE_READ_ACCESS, "get-version";
    /// Enumerate adapters (paged by adapter id).
    EnumAdapters = 0x801, FILE_READ_ACCESS, "enum-adapters";
    /// One flow with its statistics.
    QueryFlow = 0x802, FILE_READ_ACCESS, "query-flow";
    /// Enumerate flows (paged by flow id), optionally with statistics.
    EnumFlows = 0x803, FILE_READ_ACCESS, "enum-flows";
    /// Enumerate filters (paged by filter id).
    EnumFilters = 0x804, FILE_READ_ACCESS, "enum-filters";
    /// Enumerate policies (paged by policy id).
    EnumPolicies = 0x805, FILE_READ_ACCESS, "enum-policies";
    /// Read the mapping tables.
    GetMaps = 0x806, FILE_READ_ACCESS, "get-maps";
    /// Read the adapter options.
    GetOptions = 0x807, FILE_READ_ACCESS, "get-options";
    /// Adapter statistics (adapter, shaper, sequencer).
    GetStats = 0x808, FILE_READ_ACCESS, "get-stats";
    /// Add a flow.
    AddFlow = 0x840, FILE_WRITE_ACCESS, "add-flow";
    /// Replace a flow's specification.
    ModifyFlow = 0x841, FILE_WRITE_ACCESS, "modify-flow";
    /// Delete a flow (refused while filters point at it).
    DeleteFlow = 0x842, FILE_WRITE_ACCESS, "delete-flow";
    /// Add a filter.
    AddFilter = 0x843, FILE_WRITE_ACCESS, "add-filter";
    /// Delete a filter.
    DeleteFilter = 0x844, FILE_WRITE_ACCESS, "delete-filter";
    /// Add a policy.
    AddPolicy = 0x845, FILE_WRITE_ACCESS, "add-policy";
    /// Delete a policy.
    DeletePolicy = 0x846, FILE_WRITE_ACCESS, "delete-policy";
    /// Replace the mapping tables.
    SetMaps = 0x847, FILE_WRITE_ACCESS, "set-maps";
    /// Replace the adapter options.
    SetOptions = 0x848, FILE_WRITE_ACCESS, "set-options";
    /// Clear configuration, settings and/or statistics of an adapter.
    Clear = 0x849, FILE_WRITE_ACCESS, "clear";
    /// Replace an adapter's whole configuration atomically.
    Apply = 0x84A, FILE_WRITE_ACCESS, "apply";
}

impl Op {
    /// The IOCTL code.
    #[must_use]
    pub const fn code(self) -> u32 {
        ctl_code(DEVICE_TYPE, self.function(), METHOD_BUFFERED, self.access())
    }

    /// True for operations that change configuration.
    #[must_use]
    pub const fn is_change(self) -> bool {
        self.access() == FILE_WRITE_ACCESS
    }

    /// The operation an IOCTL code names (device type, method and access
    /// must all match exactly).
    #[must_use]
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|op| op.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctl_code_matches_the_windows_macro() {
        // CTL_CODE(FILE_DEVICE_NETWORK, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
        assert_eq!(ctl_code(FILE_DEVICE_NETWORK, 0x800, 0, 0), 0x0012_2000);
        // IOCTL_NDIS_QUERY_GLOBAL_STATS = CTL_CODE(0x17, 0, METHOD_OUT_DIRECT, FILE_ANY_ACCESS)
        assert_eq!(ctl_code(0x17, 0, 2, 0), 0x0017_0002);
        // CTL_CODE(0x8000, 0x801, METHOD_BUFFERED, FILE_READ_ACCESS | FILE_WRITE_ACCESS)
        assert_eq!(ctl_code(0x8000, 0x801, 0, 3), 0x8000_E004);
        assert_eq!(ctl_fields(0x8051_6004), (0x8051, 1, 0x801, 0));
    }

    /// Pins every code: changing one breaks deployed tools.
    #[test]
    fn code_table_is_pinned() {
        let table: &[(Op, u32)] = &[
            (Op::GetVersion, 0x8051_6000),
            (Op::EnumAdapters, 0x8051_6004),
            (Op::QueryFlow, 0x8051_6008),
            (Op::EnumFlows, 0x8051_600C),
            (Op::EnumFilters, 0x8051_6010),
            (Op::EnumPolicies, 0x8051_6014),
            (Op::GetMaps, 0x8051_6018),
            (Op::GetOptions, 0x8051_601C),
            (Op::GetStats, 0x8051_6020),
            (Op::AddFlow, 0x8051_A100),
            (Op::ModifyFlow, 0x8051_A104),
            (Op::DeleteFlow, 0x8051_A108),
            (Op::AddFilter, 0x8051_A10C),
            (Op::DeleteFilter, 0x8051_A110),
            (Op::AddPolicy, 0x8051_A114),
            (Op::DeletePolicy, 0x8051_A118),
            (Op::SetMaps, 0x8051_A11C),
            (Op::SetOptions, 0x8051_A120),
            (Op::Clear, 0x8051_A124),
            (Op::Apply, 0x8051_A128),
        ];
        assert_eq!(table.len(), Op::ALL.len());
        for &(op, code) in table {
            assert_eq!(op.code(), code, "{op:?}");
            assert_eq!(Op::from_code(code), Some(op));
            let (dev, _, func, method) = ctl_fields(code);
            assert_eq!(dev, DEVICE_TYPE);
            assert!(func >= 0x800);
            assert_eq!(method, METHOD_BUFFERED);
            let want = if op.is_change() {
                FILE_WRITE_ACCESS
            } else {
                FILE_READ_ACCESS
            };
            assert_eq!(ctl_access(code), want);
        }
    }

    #[test]
    fn codes_with_other_access_or_method_are_unknown() {
        let c = Op::AddFlow.code();
        assert_eq!(Op::from_code(c & !(3 << 14)), None); // FILE_ANY_ACCESS
        assert_eq!(Op::from_code(c | 1), None); // METHOD_IN_DIRECT
        assert_eq!(Op::from_code(0), None);
    }
}

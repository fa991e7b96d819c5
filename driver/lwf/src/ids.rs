//! Names the driver registers with, in one place: the INF (helper G) must
//! use the same UniqueName (NetCfgInstanceId) and service name, and its test
//! compares against these constants.

/// FilterDriverCharacteristics.FriendlyName.
pub const FRIENDLY_NAME: &str = "QoS Packet Scheduler (qoslwf)";
/// FilterDriverCharacteristics.UniqueName = the INF's NetCfgInstanceId.
pub const UNIQUE_NAME: &str = "{5A3C9E1B-7F42-4D8A-9B61-2E0C4F7D8A13}";
/// FilterDriverCharacteristics.ServiceName = the INF's service name.
pub const SERVICE_NAME: &str = "qoslwf";
/// The control device's NT name.
pub const DEVICE_NAME: &str = "\\Device\\QosLwf";
/// The control device's symbolic link (user mode opens `\\.\QosLwf`).
pub const SYMBOLIC_NAME: &str = "\\DosDevices\\QosLwf";
/// Security of the control device: SYSTEM and Administrators only.
pub const DEVICE_SDDL: &str = "D:P(A;;GA;;;SY)(A;;GA;;;BA)";
/// Pool / timer allocation tag ('QLwf' as the kernel shows it).
pub const POOL_TAG: u32 = u32::from_le_bytes(*b"QLwf");

/// ASCII to UTF-16 at compile time (`N` must be the string's length).
/// Runs only in const context: an out-of-range index is a compile error.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn utf16<const N: usize>(s: &str) -> [u16; N] {
    let b = s.as_bytes();
    let mut out = [0u16; N];
    let mut i = 0;
    while i < N && i < b.len() {
        out[i] = b[i] as u16;
        i += 1;
    }
    out
}

/// UTF-16 forms of the names above (NDIS_STRING buffers point here).
pub(crate) mod wide {
    use super::*;
    pub static FRIENDLY_NAME_W: [u16; FRIENDLY_NAME.len()] = utf16(FRIENDLY_NAME);
    pub static UNIQUE_NAME_W: [u16; UNIQUE_NAME.len()] = utf16(UNIQUE_NAME);
    pub static SERVICE_NAME_W: [u16; SERVICE_NAME.len()] = utf16(SERVICE_NAME);
    pub static DEVICE_NAME_W: [u16; DEVICE_NAME.len()] = utf16(DEVICE_NAME);
    pub static SYMBOLIC_NAME_W: [u16; SYMBOLIC_NAME.len()] = utf16(SYMBOLIC_NAME);
    pub static DEVICE_SDDL_W: [u16; DEVICE_SDDL.len()] = utf16(DEVICE_SDDL);
}

/// An NDIS_STRING over a static UTF-16 buffer (NDIS only reads it).
pub(crate) fn ndis_string(w: &'static [u16]) -> crate::ffi::types::NDIS_STRING {
    let bytes = u16::try_from(w.len().saturating_mul(2)).unwrap_or(!1);
    crate::ffi::types::NDIS_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: w.as_ptr().cast_mut(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_ascii_and_unique_name_is_a_braced_guid() {
        for s in [
            FRIENDLY_NAME,
            UNIQUE_NAME,
            SERVICE_NAME,
            DEVICE_NAME,
            SYMBOLIC_NAME,
        ] {
            assert!(s.is_ascii());
        }
        let g = UNIQUE_NAME.as_bytes();
        assert_eq!(g.len(), 38);
        assert_eq!((g[0], g[37]), (b'{', b'}'));
        for (i, c) in UNIQUE_NAME[1..37].char_indices() {
            if [8, 13, 18, 23].contains(&i) {
                assert_eq!(c, '-');
            } else {
                assert!(c.is_ascii_hexdigit() && !c.is_ascii_lowercase());
            }
        }
        assert_eq!(wide::UNIQUE_NAME_W[1], u16::from(b'5'));
        assert_eq!(ndis_string(&wide::SERVICE_NAME_W).Length, 12);
    }
}

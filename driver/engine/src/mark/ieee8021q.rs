//! The NBL's out-of-band 802.1Q info: the pointer-sized value of
//! `NET_BUFFER_LIST_INFO(nbl, Ieee8021QNetBufferListInfo)`, which overlays
//! `NDIS_NET_BUFFER_LIST_8021Q_INFO`. Its low 32 bits are
//! `UserPriority:3 | CanonicalFormatId:1 | VlanId:12 | (WMMInfo:4) Reserved`;
//! the miniport builds the tag from it.

/// The 802.1Q info value. Only `UserPriority` is ever changed by the
/// marker; every other bit (VlanId, CanonicalFormatId, WMMInfo, the upper
/// half on 64-bit) is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ieee8021QInfo(pub usize);

impl Ieee8021QInfo {
    const PRIORITY_MASK: usize = 0x7;
    const CFI_BIT: usize = 0x8;
    const VLAN_SHIFT: u32 = 4;
    const VLAN_MASK: usize = 0xFFF << Self::VLAN_SHIFT;

    /// Builds a value from its fields (each masked to its width).
    #[must_use]
    pub const fn new(priority: u8, canonical_format_id: bool, vlan_id: u16) -> Self {
        let cfi = if canonical_format_id {
            Self::CFI_BIT
        } else {
            0
        };
        Self(
            (priority as usize & Self::PRIORITY_MASK)
                | cfi
                | (((vlan_id as usize) << Self::VLAN_SHIFT) & Self::VLAN_MASK),
        )
    }

    /// UserPriority (802.1p), bits 0..=2.
    #[must_use]
    pub const fn user_priority(self) -> u8 {
        (self.0 & Self::PRIORITY_MASK) as u8
    }

    /// CanonicalFormatId, bit 3.
    #[must_use]
    pub const fn canonical_format_id(self) -> bool {
        self.0 & Self::CFI_BIT != 0
    }

    /// VlanId, bits 4..=15.
    #[must_use]
    pub const fn vlan_id(self) -> u16 {
        ((self.0 & Self::VLAN_MASK) >> Self::VLAN_SHIFT) as u16
    }

    /// `value` with UserPriority replaced by `pcp` (masked to 3 bits),
    /// every other bit kept.
    #[must_use]
    pub const fn with_priority(value: usize, pcp: u8) -> usize {
        (value & !Self::PRIORITY_MASK) | (pcp as usize & Self::PRIORITY_MASK)
    }

    /// This value with UserPriority replaced by `pcp`.
    #[must_use]
    pub const fn set_priority(self, pcp: u8) -> Self {
        Self(Self::with_priority(self.0, pcp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let v = Ieee8021QInfo::new(5, true, 0xABC);
        assert_eq!(v.0, 0xABCD);
        assert_eq!(v.user_priority(), 5);
        assert!(v.canonical_format_id());
        assert_eq!(v.vlan_id(), 0xABC);
    }

    #[test]
    fn with_priority_keeps_everything_else() {
        let value = 0xF0F0_0000_0000_0000_u64 as usize | 0x000F_0000 | 0x1230 | 0x8 | 0x2;
        let out = Ieee8021QInfo::with_priority(value, 6);
        assert_eq!(out & 0x7, 6);
        assert_eq!(out & !0x7, value & !0x7);
        assert_eq!(Ieee8021QInfo(out).vlan_id(), 0x123);
        // Out-of-range priorities are masked, never spill into CFI.
        assert_eq!(Ieee8021QInfo::with_priority(0, 0xFF), 7);
    }
}

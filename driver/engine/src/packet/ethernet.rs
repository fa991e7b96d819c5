//! Ethernet II header and 802.1Q / 802.1ad tags.
//!
//! Views are over fixed-size arrays (see the private `cursor` module): once a view
//! exists, no accessor can go out of bounds.

use super::VlanTag;

/// Byte positions inside the Ethernet II header and inside one tag.
mod field {
    /// EtherType (or TPID when a tag follows), 2 bytes, in the header.
    pub(super) const ETHERTYPE: usize = 12;
    /// Tag control information, 2 bytes, in a tag (after its TPID).
    pub(super) const TCI: usize = 0;
    /// The EtherType that follows a tag, 2 bytes.
    pub(super) const TAG_ETHERTYPE: usize = 2;
}

/// Length of the Ethernet II header (destination, source, EtherType).
pub const HEADER_LEN: usize = 14;
/// Length of one tag after its TPID: TCI and the next EtherType.
pub const TAG_LEN: usize = 4;
/// Offset of the first EtherType (the TPID of the outermost tag, if any).
pub const ETHERTYPE_OFFSET: usize = field::ETHERTYPE;

/// EtherType values the parser knows.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// IPv6.
    pub const IPV6: u16 = 0x86DD;
    /// 802.1Q customer tag (C-tag).
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service tag (S-tag).
    pub const QINQ: u16 = 0x88A8;
    /// Pre-standard double tagging, still seen on some switches.
    pub const QINQ_LEGACY: u16 = 0x9100;

    /// True for the TPIDs of a VLAN tag.
    #[must_use]
    pub const fn is_tag(value: u16) -> bool {
        matches!(value, VLAN | QINQ | QINQ_LEGACY)
    }
}

/// The Ethernet II header.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a>(&'a [u8; HEADER_LEN]);

impl<'a> Header<'a> {
    /// Views the 14 header bytes.
    #[must_use]
    pub const fn new(bytes: &'a [u8; HEADER_LEN]) -> Self {
        Self(bytes)
    }

    /// The EtherType (or the TPID of a tag).
    #[must_use]
    pub const fn ethertype(&self) -> u16 {
        u16::from_be_bytes([self.0[field::ETHERTYPE], self.0[field::ETHERTYPE + 1]])
    }
}

/// One tag, after its TPID: TCI then the next EtherType.
#[derive(Debug, Clone, Copy)]
pub struct Tag<'a>(&'a [u8; TAG_LEN]);

impl<'a> Tag<'a> {
    /// Views the 4 bytes after a TPID.
    #[must_use]
    pub const fn new(bytes: &'a [u8; TAG_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw tag control information.
    #[must_use]
    pub const fn tci(&self) -> u16 {
        u16::from_be_bytes([self.0[field::TCI], self.0[field::TCI + 1]])
    }

    /// The EtherType that follows this tag.
    #[must_use]
    pub const fn ethertype(&self) -> u16 {
        u16::from_be_bytes([
            self.0[field::TAG_ETHERTYPE],
            self.0[field::TAG_ETHERTYPE + 1],
        ])
    }

    /// The tag's meaning.
    #[must_use]
    pub const fn vlan(&self) -> VlanTag {
        tci_to_vlan(self.tci())
    }
}

/// Splits a TCI: PCP (bits 15..13), DEI (bit 12), VID (bits 11..0).
#[must_use]
pub const fn tci_to_vlan(tci: u16) -> VlanTag {
    VlanTag {
        vid: tci & 0x0FFF,
        pcp: (tci >> 13) as u8,
        dei: tci & 0x1000 != 0,
    }
}

/// Builds a TCI from a tag's fields (PCP and VID masked to their widths).
#[must_use]
pub const fn vlan_to_tci(tag: VlanTag) -> u16 {
    ((tag.pcp as u16 & 0x7) << 13) | if tag.dei { 0x1000 } else { 0 } | (tag.vid & 0x0FFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deconstruct_tagged_header() {
        let bytes: [u8; 18] = [
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00, 0xB0, 0x64, 0x08, 0x00,
        ];
        let hdr = Header::new(bytes.first_chunk().unwrap());
        assert_eq!(hdr.ethertype(), ethertype::VLAN);
        assert!(ethertype::is_tag(hdr.ethertype()));
        let tag = Tag::new(bytes.last_chunk().unwrap());
        assert_eq!(tag.ethertype(), ethertype::IPV4);
        assert_eq!(
            tag.vlan(),
            VlanTag {
                vid: 100,
                pcp: 5,
                dei: true
            }
        );
        assert_eq!(vlan_to_tci(tag.vlan()), tag.tci());
    }

    #[test]
    fn tpids() {
        for t in [0x8100, 0x88A8, 0x9100] {
            assert!(ethertype::is_tag(t));
        }
        for t in [0x0800, 0x86DD, 0x0806, 0x8101, 0x0000] {
            assert!(!ethertype::is_tag(t));
        }
    }
}

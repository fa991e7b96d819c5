//! The IPv6 header (RFC 8200) and the extension headers the parser walks.

/// Byte positions inside the fixed IPv6 header and extension headers.
mod field {
    /// Version (4 bits), traffic class (8 bits), flow label (20 bits).
    pub(super) const VER_TC_FLOW: usize = 0;
    /// Payload length, 2 bytes.
    pub(super) const LENGTH: usize = 4;
    /// Next header.
    pub(super) const NXT_HDR: usize = 6;
    /// Source address, 16 bytes.
    pub(super) const SRC: usize = 8;
    /// Destination address, 16 bytes.
    pub(super) const DST: usize = 24;

    /// Extension header: next header.
    pub(super) const EXT_NXT_HDR: usize = 0;
    /// Extension header: length (units depend on the header).
    pub(super) const EXT_LEN: usize = 1;
    /// Fragment header: offset (13 high bits), 2 reserved bits, M flag.
    pub(super) const FRAG_OFF: usize = 2;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;
/// Length of a fragment header.
pub const FRAGMENT_LEN: usize = 8;
/// How many extension headers the parser walks before giving up. A chain
/// the stack builds has at most six (hop-by-hop, destination options,
/// routing, fragment, AH, destination options); the bound keeps the walk
/// short on hostile input.
pub const MAX_EXT_HEADERS: usize = 16;

/// The fixed IPv6 header.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a>(&'a [u8; HEADER_LEN]);

impl<'a> Header<'a> {
    /// Views the 40 header bytes.
    #[must_use]
    pub const fn new(bytes: &'a [u8; HEADER_LEN]) -> Self {
        Self(bytes)
    }

    /// The version nibble (6 for a well-formed header).
    #[must_use]
    pub const fn version(&self) -> u8 {
        self.0[field::VER_TC_FLOW] >> 4
    }

    /// The traffic class: DSCP << 2 | ECN. It spans the low nibble of byte
    /// 0 and the high nibble of byte 1.
    #[must_use]
    pub const fn traffic_class(&self) -> u8 {
        (self.0[field::VER_TC_FLOW] << 4) | (self.0[field::VER_TC_FLOW + 1] >> 4)
    }

    /// Payload length in bytes (extension headers included); 0 for a
    /// jumbogram or a large-send packet whose length the NIC fills in.
    #[must_use]
    pub const fn payload_len(&self) -> u16 {
        u16::from_be_bytes([self.0[field::LENGTH], self.0[field::LENGTH + 1]])
    }

    /// The first next-header value.
    #[must_use]
    pub const fn next_header(&self) -> u8 {
        self.0[field::NXT_HDR]
    }

    /// Source address.
    #[must_use]
    pub fn src(&self) -> u128 {
        addr(self.0, field::SRC)
    }

    /// Destination address.
    #[must_use]
    pub fn dst(&self) -> u128 {
        addr(self.0, field::DST)
    }
}

/// The 16 bytes at `at` as a big-endian number (`at` is a `field` constant
/// so the range is in bounds; out of bounds gives 0 rather than a panic).
fn addr(bytes: &[u8; HEADER_LEN], at: usize) -> u128 {
    bytes
        .get(at..)
        .and_then(|b| b.first_chunk::<16>())
        .map_or(0, |b| u128::from_be_bytes(*b))
}

/// The first two bytes of a hop-by-hop, routing, destination options or AH
/// header (next header, length) or the first four of a fragment header.
#[derive(Debug, Clone, Copy)]
pub struct ExtHeader<'a>(&'a [u8; 4]);

impl<'a> ExtHeader<'a> {
    /// Views the first four bytes of an extension header.
    #[must_use]
    pub const fn new(bytes: &'a [u8; 4]) -> Self {
        Self(bytes)
    }

    /// The next header.
    #[must_use]
    pub const fn next_header(&self) -> u8 {
        self.0[field::EXT_NXT_HDR]
    }

    /// Length of a hop-by-hop, routing or destination options header:
    /// (Hdr Ext Len + 1) * 8 bytes.
    #[must_use]
    pub const fn options_len(&self) -> usize {
        (self.0[field::EXT_LEN] as usize)
            .wrapping_add(1)
            .wrapping_mul(8)
    }

    /// Length of an authentication header (RFC 4302): (Payload Len + 2) * 4
    /// bytes. The same formula serves AH in IPv4.
    #[must_use]
    pub const fn ah_len(&self) -> usize {
        (self.0[field::EXT_LEN] as usize)
            .wrapping_add(2)
            .wrapping_mul(4)
    }

    /// Fragment header: the offset in 8-byte units; non-zero for a later
    /// fragment.
    #[must_use]
    pub const fn frag_offset(&self) -> u16 {
        u16::from_be_bytes([self.0[field::FRAG_OFF], self.0[field::FRAG_OFF + 1]]) >> 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deconstruct() {
        let mut b = [0u8; HEADER_LEN];
        // Version 6, traffic class 0xB9 (DSCP 46, ECN 1), flow label 0x12345.
        b[0] = 0x6B;
        b[1] = 0x91;
        b[2] = 0x23;
        b[3] = 0x45;
        b[4] = 0x01;
        b[5] = 0x02;
        b[6] = 17;
        b[8] = 0x20;
        b[9] = 0x01;
        b[23] = 1;
        b[24] = 0xFE;
        b[25] = 0x80;
        b[39] = 2;
        let h = Header::new(&b);
        assert_eq!(h.version(), 6);
        assert_eq!(h.traffic_class(), 0xB9);
        assert_eq!(h.payload_len(), 0x0102);
        assert_eq!(h.next_header(), 17);
        assert_eq!(h.src(), 0x2001_0000_0000_0000_0000_0000_0000_0001);
        assert_eq!(h.dst(), 0xFE80_0000_0000_0000_0000_0000_0000_0002);
    }

    #[test]
    fn ext_lengths() {
        let e = ExtHeader::new(&[6, 1, 0x00, 0xB9]);
        assert_eq!(e.next_header(), 6);
        assert_eq!(e.options_len(), 16);
        assert_eq!(e.ah_len(), 12);
        // Offset 0x17 (bits 15..3), M flag set.
        assert_eq!(e.frag_offset(), 0x17);
    }
}

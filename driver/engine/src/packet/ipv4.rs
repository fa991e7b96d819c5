//! The IPv4 header (RFC 791) and its checksum.
//!
//! [`Header`] views the fixed 20 bytes; options follow and are skipped by
//! the parser using [`Header::header_len`].

/// Byte positions inside the fixed IPv4 header.
mod field {
    /// Version (high nibble) and IHL (low nibble).
    pub(super) const VER_IHL: usize = 0;
    /// DS field: DSCP (6 high bits) and ECN (2 low bits).
    pub(super) const DS: usize = 1;
    /// Total length, 2 bytes.
    pub(super) const LENGTH: usize = 2;
    /// Flags (3 high bits) and fragment offset (13 bits), 2 bytes.
    pub(super) const FLG_OFF: usize = 6;
    /// Protocol.
    pub(super) const PROTOCOL: usize = 9;
    /// Header checksum, 2 bytes.
    pub(super) const CHECKSUM: usize = 10;
    /// Source address, 4 bytes.
    pub(super) const SRC: usize = 12;
    /// Destination address, 4 bytes.
    pub(super) const DST: usize = 16;
}

/// Length of the fixed header (IHL = 5).
pub const HEADER_LEN: usize = 20;
/// Offset of the DS byte from the start of the header.
pub const DS_OFFSET: usize = field::DS;
/// Offset of the header checksum from the start of the header.
pub const CHECKSUM_OFFSET: usize = field::CHECKSUM;

/// The fixed part of an IPv4 header.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a>(&'a [u8; HEADER_LEN]);

impl<'a> Header<'a> {
    /// Views the 20 fixed header bytes.
    #[must_use]
    pub const fn new(bytes: &'a [u8; HEADER_LEN]) -> Self {
        Self(bytes)
    }

    /// The version nibble (4 for a well-formed header).
    #[must_use]
    pub const fn version(&self) -> u8 {
        self.0[field::VER_IHL] >> 4
    }

    /// Header length in bytes, options included (IHL * 4; 0..=60).
    #[must_use]
    pub const fn header_len(&self) -> usize {
        ((self.0[field::VER_IHL] & 0x0F) as usize).wrapping_mul(4)
    }

    /// The DS byte: DSCP << 2 | ECN.
    #[must_use]
    pub const fn ds(&self) -> u8 {
        self.0[field::DS]
    }

    /// Total length of the packet in bytes (header and payload).
    #[must_use]
    pub const fn total_len(&self) -> u16 {
        u16::from_be_bytes([self.0[field::LENGTH], self.0[field::LENGTH + 1]])
    }

    /// The "more fragments" flag.
    #[must_use]
    pub const fn more_frags(&self) -> bool {
        self.0[field::FLG_OFF] & 0x20 != 0
    }

    /// Fragment offset in 8-byte units; non-zero for a later fragment.
    #[must_use]
    pub const fn frag_offset(&self) -> u16 {
        u16::from_be_bytes([self.0[field::FLG_OFF], self.0[field::FLG_OFF + 1]]) & 0x1FFF
    }

    /// The protocol number.
    #[must_use]
    pub const fn protocol(&self) -> u8 {
        self.0[field::PROTOCOL]
    }

    /// The header checksum as stored.
    #[must_use]
    pub const fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.0[field::CHECKSUM], self.0[field::CHECKSUM + 1]])
    }

    /// Source address.
    #[must_use]
    pub const fn src(&self) -> u32 {
        u32::from_be_bytes([
            self.0[field::SRC],
            self.0[field::SRC + 1],
            self.0[field::SRC + 2],
            self.0[field::SRC + 3],
        ])
    }

    /// Destination address.
    #[must_use]
    pub const fn dst(&self) -> u32 {
        u32::from_be_bytes([
            self.0[field::DST],
            self.0[field::DST + 1],
            self.0[field::DST + 2],
            self.0[field::DST + 3],
        ])
    }
}

/// The Internet checksum (RFC 1071) of `bytes`: the one's complement of the
/// one's complement sum of its 16-bit big-endian words (an odd last byte is
/// padded with zero). Over a header whose checksum field is correct the
/// result is 0.
#[must_use]
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut words = bytes.chunks_exact(2);
    for w in &mut words {
        let mut pair = [0u8; 2];
        pair.copy_from_slice(w);
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes(pair)));
        sum = (sum & 0xFFFF).wrapping_add(sum >> 16);
    }
    if let [last] = words.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
        sum = (sum & 0xFFFF).wrapping_add(sum >> 16);
    }
    !((sum & 0xFFFF).wrapping_add(sum >> 16) as u16)
}

/// Incremental checksum update (RFC 1624, eqn. 3): the checksum after the
/// 16-bit word `old` was replaced by `new`: `HC' = ~(~HC + ~m + m')`.
///
/// Equals a full recomputation whenever `hc` was correct (RFC 1624 §3: this
/// form, unlike RFC 1141's, never yields `0xFFFF` for a header that is not
/// all zeros).
#[must_use]
pub const fn checksum_update(hc: u16, old: u16, new: u16) -> u16 {
    // Three 16-bit terms: no overflow in 32 bits; two folds absorb every
    // carry.
    let mut sum = ((!hc) as u32)
        .wrapping_add((!old) as u32)
        .wrapping_add(new as u32);
    sum = (sum & 0xFFFF).wrapping_add(sum >> 16);
    sum = (sum & 0xFFFF).wrapping_add(sum >> 16);
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header with IHL 5, TOS 0xB8 (EF), total length 60, DF, TTL 64, TCP,
    /// 192.168.0.1 -> 192.168.0.199, correct checksum.
    const GOLDEN: [u8; 20] = [
        0x45, 0xB8, 0x00, 0x3C, 0x1C, 0x46, 0x40, 0x00, 0x40, 0x06, 0x9B, 0xA5, 0xC0, 0xA8, 0x00,
        0x01, 0xC0, 0xA8, 0x00, 0xC7,
    ];

    #[test]
    fn deconstruct() {
        let h = Header::new(&GOLDEN);
        assert_eq!(h.version(), 4);
        assert_eq!(h.header_len(), 20);
        assert_eq!(h.ds() >> 2, 46);
        assert_eq!(h.total_len(), 60);
        assert!(!h.more_frags());
        assert_eq!(h.frag_offset(), 0);
        assert_eq!(h.protocol(), 6);
        assert_eq!(h.src(), 0xC0A8_0001);
        assert_eq!(h.dst(), 0xC0A8_00C7);
        assert_eq!(checksum(&GOLDEN), 0, "golden checksum is valid");
    }

    #[test]
    fn checksum_of_zeroed_field() {
        let mut b = GOLDEN;
        b[10] = 0;
        b[11] = 0;
        assert_eq!(checksum(&b), Header::new(&GOLDEN).checksum());
    }

    #[test]
    fn incremental_matches_rfc1624_example() {
        // RFC 1624 §4: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285 gives 0x0000.
        assert_eq!(checksum_update(0xDD2F, 0x5555, 0x3285), 0x0000);
    }

    #[test]
    fn fragment_fields() {
        let mut b = GOLDEN;
        b[6] = 0x20; // MF
        b[7] = 0x00;
        assert!(Header::new(&b).more_frags());
        b[6] = 0x01; // offset 0x100
        assert!(!Header::new(&b).more_frags());
        assert_eq!(Header::new(&b).frag_offset(), 0x100);
    }
}

//! The few transport-layer bytes the classifier needs: TCP/UDP ports, ICMP
//! and ICMPv6 type and code. Nothing past them is read.

use super::L4;

/// Byte positions inside the transport headers.
mod field {
    /// TCP/UDP source port, 2 bytes.
    pub(super) const SRC_PORT: usize = 0;
    /// TCP/UDP destination port, 2 bytes.
    pub(super) const DST_PORT: usize = 2;
    /// ICMP/ICMPv6 type.
    pub(super) const ICMP_TYPE: usize = 0;
    /// ICMP/ICMPv6 code.
    pub(super) const ICMP_CODE: usize = 1;
}

/// Bytes needed for the ports of TCP or UDP.
pub const PORTS_LEN: usize = 4;
/// Bytes needed for the type and code of ICMP or ICMPv6.
pub const ICMP_LEN: usize = 2;

/// The source and destination ports at the start of a TCP or UDP header.
#[derive(Debug, Clone, Copy)]
pub struct Ports<'a>(&'a [u8; PORTS_LEN]);

impl<'a> Ports<'a> {
    /// Views the first four bytes of a TCP or UDP header.
    #[must_use]
    pub const fn new(bytes: &'a [u8; PORTS_LEN]) -> Self {
        Self(bytes)
    }

    /// As the key's [`L4::Ports`].
    #[must_use]
    pub const fn l4(&self) -> L4 {
        L4::Ports {
            src: u16::from_be_bytes([self.0[field::SRC_PORT], self.0[field::SRC_PORT + 1]]),
            dst: u16::from_be_bytes([self.0[field::DST_PORT], self.0[field::DST_PORT + 1]]),
        }
    }
}

/// Type and code at the start of an ICMP or ICMPv6 header.
#[derive(Debug, Clone, Copy)]
pub struct Icmp<'a>(&'a [u8; ICMP_LEN]);

impl<'a> Icmp<'a> {
    /// Views the first two bytes of an ICMP or ICMPv6 header.
    #[must_use]
    pub const fn new(bytes: &'a [u8; ICMP_LEN]) -> Self {
        Self(bytes)
    }

    /// As the key's [`L4::Icmp`].
    #[must_use]
    pub const fn l4(&self) -> L4 {
        L4::Icmp {
            ty: self.0[field::ICMP_TYPE],
            code: self.0[field::ICMP_CODE],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deconstruct() {
        assert_eq!(
            Ports::new(&[0x1F, 0x90, 0x00, 0x50]).l4(),
            L4::Ports { src: 8080, dst: 80 }
        );
        assert_eq!(Icmp::new(&[8, 0]).l4(), L4::Icmp { ty: 8, code: 0 });
    }
}

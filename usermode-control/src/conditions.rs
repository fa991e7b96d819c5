//! Filter and policy conditions as typed: address prefixes, port ranges,
//! protocols. Parsing is strict and every refusal says what to write.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why a condition was refused. The caller adds the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    /// Not an IPv4 or IPv6 address.
    #[error(
        "`{0}` is not an IPv4 or IPv6 address (hint: write e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32)"
    )]
    BadAddress(String),
    /// The length after `/` is not a number in range.
    #[error("`{text}`: prefix length must be 0..={max} for {family}")]
    BadLength {
        /// What was typed.
        text: String,
        /// The family's maximum.
        max: u8,
        /// "IPv4" or "IPv6".
        family: &'static str,
    },
    /// Bits past the prefix length are set.
    #[error("`{text}` has host bits set past /{len} (hint: did you mean {suggest}?)")]
    HostBits {
        /// What was typed.
        text: String,
        /// The prefix length.
        len: u8,
        /// The same prefix with host bits cleared.
        suggest: String,
    },
    /// Not a port or `low:high` range.
    #[error(
        "`{0}` is not a port or a range low:high of ports 0..=65535 (hint: write e.g. 80 or 1024:65535)"
    )]
    BadPort(String),
    /// low > high.
    #[error("`{0}`: the low port must be <= the high port")]
    ReversedRange(String),
    /// Unknown protocol word.
    #[error("`{0}` is not a protocol (hint: tcp, udp, tcpudp, icmp, any, or a number 0..=255)")]
    BadProtocol(String),
}

/// IP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The longest prefix of this family.
    #[must_use]
    pub const fn max_len(self) -> u8 {
        match self {
            Self::V4 => 32,
            Self::V6 => 128,
        }
    }
    const fn name(self) -> &'static str {
        match self {
            Self::V4 => "IPv4",
            Self::V6 => "IPv6",
        }
    }
}

/// An address prefix. For IPv4 the address is in the low 32 bits.
/// Host bits are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    /// IP version.
    pub family: Family,
    /// Numeric address value.
    pub addr: u128,
    /// Prefix length.
    pub len: u8,
}

fn host_mask(family: Family, len: u8) -> u128 {
    let bits = u32::from(family.max_len());
    let len = u32::from(len);
    let all = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    if len >= bits { 0 } else { all >> len }
}

impl FromStr for IpPrefix {
    type Err = ConditionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (addr_text, len_text) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| ConditionError::BadAddress(text.to_owned()))?;
        let (family, value) = match addr {
            IpAddr::V4(a) => (Family::V4, u128::from(u32::from(a))),
            IpAddr::V6(a) => (Family::V6, u128::from(a)),
        };
        let len = match len_text {
            None => family.max_len(),
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= family.max_len() && l.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| ConditionError::BadLength {
                    text: text.to_owned(),
                    max: family.max_len(),
                    family: family.name(),
                })?,
        };
        let mask = host_mask(family, len);
        if value & mask != 0 {
            let suggest = Self {
                family,
                addr: value & !mask,
                len,
            };
            return Err(ConditionError::HostBits {
                text: text.to_owned(),
                len,
                suggest: suggest.to_string(),
            });
        }
        Ok(Self {
            family,
            addr: value,
            len,
        })
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            Family::V4 => {
                let a = Ipv4Addr::from(u32::try_from(self.addr).unwrap_or(0));
                write!(f, "{a}/{}", self.len)
            }
            Family::V6 => write!(f, "{}/{}", Ipv6Addr::from(self.addr), self.len),
        }
    }
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ports {
    /// Lowest port.
    pub lo: u16,
    /// Highest port.
    pub hi: u16,
}

impl Ports {
    /// True when this range puts no condition on the port.
    #[must_use]
    pub const fn is_any(self) -> bool {
        self.lo == 0 && self.hi == 65535
    }
}

impl FromStr for Ports {
    type Err = ConditionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        let bad = || ConditionError::BadPort(text.to_owned());
        let port = |s: &str| {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse::<u16>().map_err(|_| bad())
        };
        let (lo, hi) = match t.split_once([':', '-']) {
            Some((l, h)) => (port(l)?, port(h)?),
            None => {
                let p = port(t)?;
                (p, p)
            }
        };
        if lo > hi {
            return Err(ConditionError::ReversedRange(text.to_owned()));
        }
        Ok(Self { lo, hi })
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}:{}", self.lo, self.hi)
        }
    }
}

/// The protocol condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// No condition.
    Any,
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// TCP or UDP (New-NetQosPolicy's "Both").
    TcpUdp,
    /// ICMP for IPv4, ICMPv6 for IPv6.
    Icmp,
    /// Any other IP protocol number.
    Number(u8),
}

impl FromStr for Protocol {
    type Err = ConditionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim().to_ascii_lowercase();
        Ok(match t.as_str() {
            "any" | "all" => Self::Any,
            "tcp" | "6" => Self::Tcp,
            "udp" | "17" => Self::Udp,
            "tcpudp" | "both" | "tcp+udp" => Self::TcpUdp,
            "icmp" | "icmpv6" | "1" | "58" => Self::Icmp,
            _ => t
                .parse::<u8>()
                .ok()
                .filter(|_| t.bytes().all(|b| b.is_ascii_digit()))
                .map(Self::Number)
                .ok_or_else(|| ConditionError::BadProtocol(text.to_owned()))?,
        })
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::Tcp => f.write_str("tcp"),
            Self::Udp => f.write_str("udp"),
            Self::TcpUdp => f.write_str("tcpudp"),
            Self::Icmp => f.write_str("icmp"),
            Self::Number(n) => write!(f, "{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prefixes() {
        let p: IpPrefix = "10.0.0.0/8".parse().unwrap();
        assert_eq!((p.family, p.addr, p.len), (Family::V4, 0x0a00_0000, 8));
        let p: IpPrefix = "192.0.2.7".parse().unwrap();
        assert_eq!((p.addr, p.len), (0xc000_0207, 32));
        let p: IpPrefix = "2001:db8::/32".parse().unwrap();
        assert_eq!(p.family, Family::V6);
        assert_eq!(p.len, 32);
        assert_eq!(p.to_string(), "2001:db8::/32");
        let p: IpPrefix = "::/0".parse().unwrap();
        assert_eq!((p.addr, p.len), (0, 0));
        let p: IpPrefix = "0.0.0.0/0".parse().unwrap();
        assert_eq!(p.to_string(), "0.0.0.0/0");
    }

    #[test]
    fn bad_prefixes_say_why() {
        let e = "10.0.0.1/8".parse::<IpPrefix>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "`10.0.0.1/8` has host bits set past /8 (hint: did you mean 10.0.0.0/8?)"
        );
        assert!(matches!(
            "10.0.0.0/33".parse::<IpPrefix>(),
            Err(ConditionError::BadLength { max: 32, .. })
        ));
        assert!(matches!(
            "2001:db8::/129".parse::<IpPrefix>(),
            Err(ConditionError::BadLength { max: 128, .. })
        ));
        assert!(matches!(
            "10.0.0/8".parse::<IpPrefix>(),
            Err(ConditionError::BadAddress(_))
        ));
        assert!(matches!(
            "10.0.0.0/".parse::<IpPrefix>(),
            Err(ConditionError::BadLength { .. })
        ));
        assert!(matches!(
            "2001:db8::1/64".parse::<IpPrefix>(),
            Err(ConditionError::HostBits { .. })
        ));
    }

    #[test]
    fn ports() {
        assert_eq!("80".parse::<Ports>(), Ok(Ports { lo: 80, hi: 80 }));
        assert_eq!(
            "1024:65535".parse::<Ports>(),
            Ok(Ports {
                lo: 1024,
                hi: 65535
            })
        );
        assert_eq!("10-20".parse::<Ports>(), Ok(Ports { lo: 10, hi: 20 }));
        assert!(matches!(
            "20:10".parse::<Ports>(),
            Err(ConditionError::ReversedRange(_))
        ));
        for bad in ["", "x", "65536", "1:", ":2", "+80", "1:2:3", "-1"] {
            assert!(bad.parse::<Ports>().is_err(), "{bad}");
        }
        assert_eq!(Ports { lo: 1, hi: 2 }.to_string(), "1:2");
        assert_eq!(Ports { lo: 7, hi: 7 }.to_string(), "7");
    }

    #[test]
    fn protocols() {
        assert_eq!("TCP".parse::<Protocol>(), Ok(Protocol::Tcp));
        assert_eq!("both".parse::<Protocol>(), Ok(Protocol::TcpUdp));
        assert_eq!("47".parse::<Protocol>(), Ok(Protocol::Number(47)));
        assert_eq!("6".parse::<Protocol>(), Ok(Protocol::Tcp));
        assert!("gre".parse::<Protocol>().is_err());
        assert!("256".parse::<Protocol>().is_err());
        for p in [
            Protocol::Any,
            Protocol::Tcp,
            Protocol::Udp,
            Protocol::TcpUdp,
            Protocol::Icmp,
            Protocol::Number(47),
        ] {
            assert_eq!(p.to_string().parse::<Protocol>(), Ok(p));
        }
    }

    proptest! {
        #[test]
        fn v4_prefix_round_trips(a in any::<u32>(), len in 0u8..=32) {
            let mask = host_mask(Family::V4, len);
            let p = IpPrefix { family: Family::V4, addr: u128::from(a) & !mask, len };
            prop_assert_eq!(p.to_string().parse::<IpPrefix>(), Ok(p));
        }

        #[test]
        fn v6_prefix_round_trips(a in any::<u128>(), len in 0u8..=128) {
            let mask = host_mask(Family::V6, len);
            let p = IpPrefix { family: Family::V6, addr: a & !mask, len };
            prop_assert_eq!(p.to_string().parse::<IpPrefix>(), Ok(p));
        }

        #[test]
        fn port_range_round_trips(a in any::<u16>(), b in any::<u16>()) {
            let r = Ports { lo: a.min(b), hi: a.max(b) };
            prop_assert_eq!(r.to_string().parse::<Ports>(), Ok(r));
        }
    }
}

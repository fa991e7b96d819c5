//! Frames for the HLK-style suite: Ethernet II (optionally 802.1Q-tagged)
//! or raw IP, carrying IPv4 or IPv6 with UDP or TCP, with valid checksums;
//! and readers for what the fake miniport saw.

/// IPv4 or IPv6 addresses of a test frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addrs {
    /// IPv4 source and destination.
    V4([u8; 4], [u8; 4]),
    /// IPv6 source and destination.
    V6([u8; 16], [u8; 16]),
}

/// Description of one test frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSpec {
    /// Addresses (and so the IP version).
    pub addrs: Addrs,
    /// IP protocol: 6 (TCP) or 17 (UDP).
    pub protocol: u8,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// DSCP the packet carries.
    pub dscp: u8,
    /// ECN bits the packet carries.
    pub ecn: u8,
    /// Payload length in bytes.
    pub payload: usize,
    /// An in-band 802.1Q tag (vid, pcp).
    pub vlan: Option<(u16, u8)>,
    /// No link header (raw IP media).
    pub raw_ip: bool,
    /// IPv4 options (bytes, a multiple of 4).
    pub ipv4_options: Vec<u8>,
}

impl FrameSpec {
    /// UDP over IPv4 from 10.0.0.1:sport to 10.0.0.2:dport.
    #[must_use]
    pub fn udp4(sport: u16, dport: u16, payload: usize) -> Self {
        Self {
            addrs: Addrs::V4([10, 0, 0, 1], [10, 0, 0, 2]),
            protocol: 17,
            sport,
            dport,
            dscp: 0,
            ecn: 0,
            payload,
            vlan: None,
            raw_ip: false,
            ipv4_options: Vec::new(),
        }
    }

    /// TCP over IPv4.
    #[must_use]
    pub fn tcp4(sport: u16, dport: u16, payload: usize) -> Self {
        Self {
            protocol: 6,
            ..Self::udp4(sport, dport, payload)
        }
    }

    /// UDP over IPv6 from 2001:db8::1 to 2001:db8::2.
    #[must_use]
    pub fn udp6(sport: u16, dport: u16, payload: usize) -> Self {
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[2] = 0x0d;
        a[3] = 0xb8;
        let mut b = a;
        a[15] = 1;
        b[15] = 2;
        Self {
            addrs: Addrs::V6(a, b),
            ..Self::udp4(sport, dport, payload)
        }
    }

    /// Set DSCP and ECN.
    #[must_use]
    pub fn tos(mut self, dscp: u8, ecn: u8) -> Self {
        self.dscp = dscp;
        self.ecn = ecn;
        self
    }

    /// The frame's bytes.
    #[must_use]
    pub fn build(&self) -> Vec<u8> {
        let mut l4 = Vec::new();
        l4.extend_from_slice(&self.sport.to_be_bytes());
        l4.extend_from_slice(&self.dport.to_be_bytes());
        if self.protocol == 6 {
            l4.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        } else {
            let len = (8 + self.payload) as u16;
            l4.extend_from_slice(&len.to_be_bytes());
            l4.extend_from_slice(&[0, 0]);
        }
        l4.extend((0..self.payload).map(|i| (i % 251) as u8));
        let tos = (self.dscp << 2) | (self.ecn & 3);
        let mut ip = Vec::new();
        let ethertype: u16 = match self.addrs {
            Addrs::V4(s, d) => {
                let ihl = 5 + self.ipv4_options.len() / 4;
                let total = (ihl * 4 + l4.len()) as u16;
                ip.push(0x40 | ihl as u8);
                ip.push(tos);
                ip.extend_from_slice(&total.to_be_bytes());
                ip.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, self.protocol, 0, 0]);
                ip.extend_from_slice(&s);
                ip.extend_from_slice(&d);
                ip.extend_from_slice(&self.ipv4_options);
                let c = ipv4_checksum(&ip);
                ip[10..12].copy_from_slice(&c.to_be_bytes());
                0x0800
            }
            Addrs::V6(s, d) => {
                ip.push(0x60 | (tos >> 4));
                ip.push(tos << 4);
                ip.extend_from_slice(&[0, 0]);
                ip.extend_from_slice(&(l4.len() as u16).to_be_bytes());
                ip.push(self.protocol);
                ip.push(64);
                ip.extend_from_slice(&s);
                ip.extend_from_slice(&d);
                0x86DD
            }
        };
        ip.extend_from_slice(&l4);
        if self.raw_ip {
            return ip;
        }
        let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
        if let Some((vid, pcp)) = self.vlan {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&((u16::from(pcp) << 13) | (vid & 0x0fff)).to_be_bytes());
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(&ip);
        f
    }
}

/// The ones'-complement checksum of an IPv4 header (with the checksum
/// field as it is: 0 to compute, or the stored value to verify -> 0).
#[must_use]
pub fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in h.chunks(2) {
        let w = u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0));
        sum += w;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Where the IP header starts in a frame (Ethernet with up to two tags,
/// or raw IP when the first nibble is 4 or 6 and `raw_ip`).
#[must_use]
pub fn ip_offset(frame: &[u8], raw_ip: bool) -> usize {
    if raw_ip {
        return 0;
    }
    let mut off = 12;
    while matches!(
        u16::from_be_bytes([frame[off], frame[off + 1]]),
        0x8100 | 0x88a8
    ) {
        off += 4;
    }
    off + 2
}

/// (DSCP, ECN) of a frame.
#[must_use]
pub fn tos_of(frame: &[u8], raw_ip: bool) -> (u8, u8) {
    let o = ip_offset(frame, raw_ip);
    let tos = if frame[o] >> 4 == 4 {
        frame[o + 1]
    } else {
        (frame[o] << 4) | (frame[o + 1] >> 4)
    };
    (tos >> 2, tos & 3)
}

/// True when the IPv4 header checksum verifies (IPv6: always true).
#[must_use]
pub fn ipv4_checksum_ok(frame: &[u8], raw_ip: bool) -> bool {
    let o = ip_offset(frame, raw_ip);
    if frame[o] >> 4 != 4 {
        return true;
    }
    let ihl = usize::from(frame[o] & 0x0f) * 4;
    ipv4_checksum(&frame[o..o + ihl]) == 0
}

/// UserPriority of an Ieee8021QNetBufferListInfo value.
#[must_use]
pub fn pcp_of_info(v: usize) -> u8 {
    (v & 7) as u8
}

/// VlanId of an Ieee8021QNetBufferListInfo value.
#[must_use]
pub fn vlan_of_info(v: usize) -> u16 {
    ((v >> 4) & 0x0fff) as u16
}

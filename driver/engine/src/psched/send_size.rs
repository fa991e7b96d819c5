//! The size of one send as the scheduler sees it: IP-layer bytes on the wire,
//! the largest IP packet, and how many IP packets. A plain packet is one IP
//! packet ([`SendSize::single`]); a large send offload (LSO) super-packet is
//! cut by the NIC into several, each carrying its own copy of the IP and TCP
//! headers ([`SendSize::tcp_lso`]).
//!
//! Why the scheduler needs all three:
//! - MaxSduSize limits *packets on the wire*: it is compared with
//!   [`SendSize::largest_ip_packet`], so a 64 KB LSO send of 1500-byte
//!   segments is not "over MaxSdu" when MaxSdu is 1500.
//! - MinimumPolicedSize applies to each packet on the wire: a send is charged
//!   `max(ip_bytes, packets * min_policed)` (exact when every segment but
//!   the last is at least `min_policed`, which holds whenever the MSS is).
//! - Rates count the bytes that reach the wire: `ip_bytes` includes every
//!   segment's headers.

/// The size of one send after segmentation.
///
/// Invariants the scheduler relies on (restored by [`SendSize::normalized`],
/// which `Scheduler::enqueue_sized` applies): `packets >= 1`,
/// `largest_ip_packet <= ip_bytes`, and `largest_ip_packet * packets >=
/// ip_bytes` (the largest packet is at least the average one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SendSize {
    /// IP-layer bytes that reach the wire, summed over every packet (each
    /// segment's IP and transport headers included).
    pub ip_bytes: u32,
    /// The largest single IP packet after segmentation (IP header on).
    pub largest_ip_packet: u32,
    /// Number of IP packets on the wire (1 for a send that is not
    /// segmented).
    pub packets: u32,
}

impl SendSize {
    /// One IP packet of `ip_bytes`.
    #[must_use]
    #[inline]
    pub const fn single(ip_bytes: u32) -> Self {
        Self {
            ip_bytes,
            largest_ip_packet: ip_bytes,
            packets: 1,
        }
    }

    /// The size of a TCP LSO send once the NIC segments it.
    ///
    /// - `frame_len`: the whole super-frame (link header, IP and TCP headers,
    ///   payload), as the NET_BUFFER's data length;
    /// - `ip_offset`: where the IP header starts (the link header's length);
    /// - `headers_len`: IP header + options/extension headers + TCP header
    ///   with options (every segment carries a copy);
    /// - `mss`: the LSO MSS (payload bytes per segment).
    ///
    /// With `payload = frame_len - ip_offset - headers_len` and
    /// `n = ceil(payload / mss)`: `packets = n`,
    /// `ip_bytes = payload + n * headers_len`,
    /// `largest_ip_packet = headers_len + min(payload, mss)`.
    ///
    /// A send whose payload fits one segment (`payload <= mss`, including no
    /// payload), an MSS of 0 (not an LSO send) or a frame shorter than its
    /// headers is one packet of `frame_len - ip_offset` bytes: the same as
    /// [`SendSize::single`]. Sizes saturate at `u32::MAX`.
    #[must_use]
    pub fn tcp_lso(frame_len: u32, ip_offset: u32, headers_len: u32, mss: u32) -> Self {
        let ip_len = frame_len.saturating_sub(ip_offset);
        let Some(payload) = ip_len.checked_sub(headers_len) else {
            return Self::single(ip_len);
        };
        if mss == 0 || payload <= mss {
            return Self::single(ip_len);
        }
        // n >= 2 here; u64 arithmetic cannot overflow (n <= 2^32).
        let n = payload.div_ceil(mss);
        let total =
            u64::from(payload).saturating_add(u64::from(n).saturating_mul(u64::from(headers_len)));
        Self {
            ip_bytes: u32::try_from(total).unwrap_or(u32::MAX),
            largest_ip_packet: headers_len.saturating_add(mss),
            packets: n,
        }
    }

    /// The size with its invariants restored: at least one packet, the
    /// largest packet no larger than the send and at least its average
    /// packet (`ceil(ip_bytes / packets)`), so a driver that gets the
    /// largest packet wrong cannot slip past MaxSduSize.
    #[must_use]
    #[inline]
    pub fn normalized(self) -> Self {
        if self.packets <= 1 {
            // One packet: its largest packet is the whole send.
            return Self::single(self.ip_bytes);
        }
        let packets = self.packets.max(1);
        let average = self.ip_bytes.div_ceil(packets);
        Self {
            ip_bytes: self.ip_bytes,
            largest_ip_packet: self.largest_ip_packet.clamp(average, self.ip_bytes),
            packets,
        }
    }

    /// What the conformer charges for this send: its bytes, but at least
    /// `min_policed` per packet: `max(ip_bytes, packets * min_policed)`
    /// (saturating at `u32::MAX`).
    #[must_use]
    #[inline]
    pub fn charge(&self, min_policed: u32) -> u32 {
        // u32 * u32 fits in u64: exact.
        let floor = u64::from(self.packets).wrapping_mul(u64::from(min_policed));
        u32::try_from(floor).unwrap_or(u32::MAX).max(self.ip_bytes)
    }
}

impl From<u32> for SendSize {
    /// One IP packet of that many bytes.
    fn from(ip_bytes: u32) -> Self {
        Self::single(ip_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lso_64k_ipv4_tcp() {
        // 14-byte Ethernet header, 20 + 32 bytes of IPv4 + TCP headers,
        // 64000 bytes of payload, MSS 1448: 45 segments (44 full + 288).
        let s = SendSize::tcp_lso(14 + 52 + 64_000, 14, 52, 1448);
        assert_eq!(s.packets, 45);
        assert_eq!(s.ip_bytes, 64_000 + 45 * 52);
        assert_eq!(s.largest_ip_packet, 1500);
        assert_eq!(s.normalized(), s);
    }

    #[test]
    fn small_or_plain_sends_are_single() {
        assert_eq!(
            SendSize::tcp_lso(1514, 14, 52, 1448),
            SendSize::single(1500)
        );
        assert_eq!(SendSize::tcp_lso(66, 14, 52, 1448), SendSize::single(52));
        assert_eq!(SendSize::tcp_lso(9000, 14, 52, 0), SendSize::single(8986));
        // Frame shorter than its claimed headers.
        assert_eq!(SendSize::tcp_lso(40, 14, 52, 1448), SendSize::single(26));
        assert_eq!(SendSize::tcp_lso(10, 14, 52, 1448), SendSize::single(0));
    }

    #[test]
    fn charge_applies_min_policed_per_packet() {
        let s = SendSize {
            ip_bytes: 3000,
            largest_ip_packet: 1500,
            packets: 3,
        };
        assert_eq!(s.charge(0), 3000);
        assert_eq!(s.charge(1000), 3000);
        assert_eq!(s.charge(1200), 3600);
        let huge = SendSize {
            ip_bytes: 10,
            largest_ip_packet: 10,
            packets: u32::MAX,
        };
        assert_eq!(huge.charge(u32::MAX), u32::MAX);
    }

    #[test]
    fn normalized_restores_invariants() {
        let bad = SendSize {
            ip_bytes: 9000,
            largest_ip_packet: 100,
            packets: 0,
        };
        assert_eq!(bad.normalized(), SendSize::single(9000));
        let bad = SendSize {
            ip_bytes: 9000,
            largest_ip_packet: 100,
            packets: 2,
        };
        assert_eq!(bad.normalized().largest_ip_packet, 4500);
        let bad = SendSize {
            ip_bytes: 900,
            largest_ip_packet: 1000,
            packets: 1,
        };
        assert_eq!(bad.normalized().largest_ip_packet, 900);
    }
}

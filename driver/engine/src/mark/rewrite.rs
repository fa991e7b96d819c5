//! Writing marks into a frame: the DSCP (keeping ECN, fixing the IPv4
//! header checksum incrementally) and the PCP of an in-band tag.

use crate::packet::cursor::FrameMut;
use crate::packet::{Family, MarkOffsets, ethernet, ipv4};

use super::Marks;

/// Why a mark could not be written. The frame is left unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkError {
    /// A byte the write needs lies outside the frame (offsets from another
    /// frame, or a frame shortened since it was parsed).
    OutOfFrame {
        /// The first offset that was missing.
        offset: u32,
    },
    /// The version nibble at the IP offset is not the family's.
    WrongVersion {
        /// 4 or 6, as the family says.
        expected: u8,
        /// The nibble found.
        found: u8,
    },
    /// [`rewrite_pcp`] on a frame without an in-band tag: the 802.1p goes
    /// out of band ([`super::Ieee8021QInfo`]).
    NoInBandTag,
    /// The two bytes before the tag offset are not a tag TPID.
    NotATag {
        /// What was found there.
        tpid: u16,
    },
    /// A DSCP above 63 or an 802.1p above 7.
    ValueOutOfRange {
        /// The value refused.
        value: u8,
    },
}

/// Absolute offset `base + delta`, or the error naming where it failed.
fn at(base: u32, delta: u32) -> Result<(u32, usize), MarkError> {
    let off = base
        .checked_add(delta)
        .ok_or(MarkError::OutOfFrame { offset: u32::MAX })?;
    let idx = usize::try_from(off).map_err(|_| MarkError::OutOfFrame { offset: off })?;
    Ok((off, idx))
}

/// Reads the byte at `base + delta`.
fn read(f: &mut FrameMut<'_, '_>, base: u32, delta: u32) -> Result<u8, MarkError> {
    let (off, idx) = at(base, delta)?;
    f.get(idx).ok_or(MarkError::OutOfFrame { offset: off })
}

/// Writes the byte at `base + delta` (already known to exist).
fn write(f: &mut FrameMut<'_, '_>, base: u32, delta: u32, value: u8) -> Result<(), MarkError> {
    let (off, idx) = at(base, delta)?;
    f.set(idx, value)
        .ok_or(MarkError::OutOfFrame { offset: off })
}

/// Offsets inside the IPv4 header, as `u32` deltas.
const V4_DS: u32 = ipv4::DS_OFFSET as u32;
const V4_CSUM: u32 = ipv4::CHECKSUM_OFFSET as u32;

/// Writes `dscp` into the packet's DS byte (IPv4) or traffic class (IPv6),
/// keeping the two ECN bits. For IPv4 the header checksum is updated
/// incrementally (RFC 1624), so a header whose checksum was valid stays
/// valid (and one that was wrong stays wrong by the same amount).
///
/// Returns `Ok(true)` when the frame changed, `Ok(false)` when the packet
/// already carried `dscp` (nothing is written).
///
/// # Errors
///
/// [`MarkError::ValueOutOfRange`] for `dscp > 63`,
/// [`MarkError::OutOfFrame`] when a byte lies outside the frame,
/// [`MarkError::WrongVersion`] when the version nibble is not the family's.
/// Every check happens before the first write: on error the frame is
/// unchanged.
pub fn rewrite_dscp(
    frame: &mut [&mut [u8]],
    family: Family,
    offsets: &MarkOffsets,
    dscp: u8,
) -> Result<bool, MarkError> {
    if dscp > 63 {
        return Err(MarkError::ValueOutOfRange { value: dscp });
    }
    // Fast path: the bytes to change lie in the first slice.
    let ip = usize::try_from(offsets.ip).unwrap_or(usize::MAX);
    let in_first = frame.first_mut().and_then(|s| s.get_mut(ip..));
    match family {
        Family::V4 => {
            if let Some(h) = in_first.and_then(|s| s.first_chunk_mut::<V4_NEEDED>()) {
                let old = [h[0], h[V4_DS_AT], h[V4_CSUM_AT], h[V4_CSUM_AT + 1]];
                let Some([_, ds, c0, c1]) = new_v4(old, dscp)? else {
                    return Ok(false);
                };
                h[V4_DS_AT] = ds;
                h[V4_CSUM_AT] = c0;
                h[V4_CSUM_AT + 1] = c1;
                return Ok(true);
            }
        }
        Family::V6 => {
            if let Some(h) = in_first.and_then(|s| s.first_chunk_mut::<2>()) {
                let Some(new) = new_v6(*h, dscp)? else {
                    return Ok(false);
                };
                *h = new;
                return Ok(true);
            }
        }
    }
    // General path: byte by byte across the slices. Every read happens
    // before the first write.
    let mut f = FrameMut::new(frame);
    let b0 = read(&mut f, offsets.ip, 0)?;
    let b1 = read(&mut f, offsets.ip, 1)?;
    match family {
        Family::V4 => {
            check_version(4, b0)?;
            let c0 = read(&mut f, offsets.ip, V4_CSUM)?;
            let c1 = read(&mut f, offsets.ip, V4_CSUM + 1)?;
            let Some([_, ds, c0, c1]) = new_v4([b0, b1, c0, c1], dscp)? else {
                return Ok(false);
            };
            write(&mut f, offsets.ip, V4_DS, ds)?;
            write(&mut f, offsets.ip, V4_CSUM, c0)?;
            write(&mut f, offsets.ip, V4_CSUM + 1, c1)?;
        }
        Family::V6 => {
            let Some([n0, n1]) = new_v6([b0, b1], dscp)? else {
                return Ok(false);
            };
            write(&mut f, offsets.ip, 0, n0)?;
            write(&mut f, offsets.ip, 1, n1)?;
        }
    }
    Ok(true)
}

/// Bytes of the IPv4 header the rewrite touches: up to the checksum.
const V4_NEEDED: usize = ipv4::CHECKSUM_OFFSET + 2;
const V4_DS_AT: usize = ipv4::DS_OFFSET;
const V4_CSUM_AT: usize = ipv4::CHECKSUM_OFFSET;

fn check_version(expected: u8, b0: u8) -> Result<(), MarkError> {
    if b0 >> 4 == expected {
        Ok(())
    } else {
        Err(MarkError::WrongVersion {
            expected,
            found: b0 >> 4,
        })
    }
}

/// IPv4: from `[ver_ihl, ds, csum_hi, csum_lo]` to the new bytes, or `None`
/// when the DSCP is already `dscp`. ECN is kept; the checksum is updated
/// with RFC 1624 eqn. 3 (the DS byte is the low byte of the header's first
/// 16-bit word).
fn new_v4([b0, b1, c0, c1]: [u8; 4], dscp: u8) -> Result<Option<[u8; 4]>, MarkError> {
    check_version(4, b0)?;
    let new = (dscp << 2) | (b1 & 0x3);
    if new == b1 {
        return Ok(None);
    }
    let hc = ipv4::checksum_update(
        u16::from_be_bytes([c0, c1]),
        u16::from_be_bytes([b0, b1]),
        u16::from_be_bytes([b0, new]),
    );
    let [h0, h1] = hc.to_be_bytes();
    Ok(Some([b0, new, h0, h1]))
}

/// IPv6: from the first two header bytes to the new ones, or `None` when
/// the DSCP is already `dscp`. The traffic class is the low nibble of byte
/// 0 and the high nibble of byte 1; version and flow label are kept.
fn new_v6([b0, b1]: [u8; 2], dscp: u8) -> Result<Option<[u8; 2]>, MarkError> {
    check_version(6, b0)?;
    let tc = (b0 << 4) | (b1 >> 4);
    let new = (dscp << 2) | (tc & 0x3);
    if new == tc {
        return Ok(None);
    }
    Ok(Some([(b0 & 0xF0) | (new >> 4), (b1 & 0x0F) | (new << 4)]))
}

/// "DSCP marking override = ignore": resets the DSCP of a packet that no
/// flow or policy marks to 0 (ECN kept, checksum updated). Same contract as
/// [`rewrite_dscp`] with `dscp = 0`.
///
/// # Errors
///
/// As [`rewrite_dscp`].
pub fn reset_dscp(
    frame: &mut [&mut [u8]],
    family: Family,
    offsets: &MarkOffsets,
) -> Result<bool, MarkError> {
    rewrite_dscp(frame, family, offsets, 0)
}

/// Writes `pcp` into the outermost in-band tag (`offsets.vlan_tci`),
/// keeping its DEI bit and VLAN id. Checks that a tag TPID precedes the TCI.
///
/// Returns `Ok(true)` when the frame changed, `Ok(false)` when the tag
/// already carried `pcp`.
///
/// # Errors
///
/// [`MarkError::ValueOutOfRange`] for `pcp > 7`, [`MarkError::NoInBandTag`]
/// when the frame has no tag, [`MarkError::NotATag`] when the bytes before
/// the TCI are not a tag TPID, [`MarkError::OutOfFrame`]. On error the frame
/// is unchanged.
pub fn rewrite_pcp(
    frame: &mut [&mut [u8]],
    offsets: &MarkOffsets,
    pcp: u8,
) -> Result<bool, MarkError> {
    if pcp > 7 {
        return Err(MarkError::ValueOutOfRange { value: pcp });
    }
    let tci = offsets.vlan_tci.ok_or(MarkError::NoInBandTag)?;
    let tpid_at = tci.checked_sub(2).ok_or(MarkError::NotATag { tpid: 0 })?;
    let mut f = FrameMut::new(frame);
    let tpid = u16::from_be_bytes([read(&mut f, tpid_at, 0)?, read(&mut f, tpid_at, 1)?]);
    if !ethernet::ethertype::is_tag(tpid) {
        return Err(MarkError::NotATag { tpid });
    }
    let t0 = read(&mut f, tci, 0)?;
    // PCP is the top 3 bits of the TCI's first byte; DEI and the VID's high
    // nibble are the other 5.
    let new = (t0 & 0x1F) | (pcp << 5);
    if new == t0 {
        return Ok(false);
    }
    write(&mut f, tci, 0, new)?;
    Ok(true)
}

/// What [`apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Applied {
    /// The DSCP was rewritten (it differed).
    pub dscp_changed: bool,
    /// The in-band tag's PCP was rewritten (it differed).
    pub pcp_changed: bool,
    /// The 802.1p the driver must still set out of band (the frame has no
    /// in-band tag): write it with [`super::Ieee8021QInfo::with_priority`].
    pub out_of_band_pcp: Option<u8>,
}

/// Applies `marks` to a frame the parser produced `family` and `offsets`
/// for: the DSCP in the IP header, the 802.1p in the in-band tag when the
/// frame has one, else handed back for the out-of-band info.
///
/// # Errors
///
/// As [`rewrite_dscp`] and [`rewrite_pcp`]. The DSCP is written first; if
/// the tag rewrite then fails, the DSCP change stays (both are valid on
/// their own).
pub fn apply(
    frame: &mut [&mut [u8]],
    family: Family,
    offsets: &MarkOffsets,
    marks: Marks,
) -> Result<Applied, MarkError> {
    let mut out = Applied::default();
    if let Some(dscp) = marks.dscp {
        out.dscp_changed = rewrite_dscp(frame, family, offsets, dscp)?;
    }
    if let Some(pcp) = marks.pcp {
        if offsets.vlan_tci.is_some() {
            out.pcp_changed = rewrite_pcp(frame, offsets, pcp)?;
        } else {
            out.out_of_band_pcp = Some(pcp & 0x7);
        }
    }
    Ok(out)
}

/// [`rewrite_dscp`] on a frame in one slice (one MDL, the common case),
/// inlined into the caller and without the segment walk: `Some(changed)`
/// exactly when `rewrite_dscp(&mut [frame], family, offsets, dscp)` is
/// `Ok(changed)`, with the same bytes written; `None`, with nothing
/// written, when it is an error (call [`rewrite_dscp`] for which).
/// `ip` is `MarkOffsets::ip`.
#[inline]
#[must_use]
pub fn rewrite_dscp_one(frame: &mut [u8], family: Family, ip: u32, dscp: u8) -> Option<bool> {
    if dscp > 63 {
        return None;
    }
    let h = frame.get_mut(usize::try_from(ip).ok()?..)?;
    match family {
        Family::V4 => {
            let h = h.first_chunk_mut::<V4_NEEDED>()?;
            let [b0, b1] = [h[0], h[V4_DS_AT]];
            if b0 >> 4 != 4 {
                return None;
            }
            let new = (dscp << 2) | (b1 & 0x3);
            if new == b1 {
                return Some(false);
            }
            // ipv4::checksum_update(hc, b0:b1, b0:new) with the version
            // byte cancelled out: ~(b0:b1) + (b0:new) = 0xFFFF - b1 + new,
            // the same 32-bit sum, so the same folds and the same bits.
            let hc = u16::from_be_bytes([h[V4_CSUM_AT], h[V4_CSUM_AT + 1]]);
            let mut sum = u32::from(!hc)
                .wrapping_add(0xFF00 | u32::from(!b1))
                .wrapping_add(u32::from(new));
            sum = (sum & 0xFFFF).wrapping_add(sum >> 16);
            sum = (sum & 0xFFFF).wrapping_add(sum >> 16);
            let [c0, c1] = (!(sum as u16)).to_be_bytes();
            h[V4_DS_AT] = new;
            h[V4_CSUM_AT] = c0;
            h[V4_CSUM_AT + 1] = c1;
            Some(true)
        }
        Family::V6 => {
            let h = h.first_chunk_mut::<2>()?;
            match new_v6(*h, dscp) {
                Ok(Some(new)) => {
                    *h = new;
                    Some(true)
                }
                Ok(None) => Some(false),
                Err(_) => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Framing, parse};

    /// Ethernet + IPv4 (TOS 0x01: DSCP 0, ECN 1) + UDP 1234 -> 53, valid
    /// header checksum.
    fn golden_v4() -> std::vec::Vec<u8> {
        let mut f = std::vec![
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, // Ethernet
            0x45, 0x01, 0x00, 0x20, 0x00, 0x01, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 10, 0, 0, 1,
            10, 0, 0, 2, // IPv4
            0x04, 0xD2, 0x00, 0x35, 0x00, 0x0C, 0x00, 0x00, 0xDE, 0xAD, 0xBE, 0xEF,
        ];
        let c = ipv4::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        f
    }

    #[test]
    fn dscp_v4_keeps_ecn_and_checksum_at_every_split() {
        let orig = golden_v4();
        let p = parse(&[&orig], Framing::Ethernet).unwrap();
        for cut in 0..=orig.len() {
            let mut buf = orig.clone();
            let (a, b) = buf.split_at_mut(cut);
            let mut frame = [a, b];
            assert_eq!(
                rewrite_dscp(&mut frame, Family::V4, &p.offsets, 46),
                Ok(true)
            );
            assert_eq!(buf[15], (46 << 2) | 1);
            assert_eq!(ipv4::checksum(&buf[14..34]), 0, "cut at {cut}");
            let mut frame = [&mut buf[..]];
            assert_eq!(
                rewrite_dscp(&mut frame, Family::V4, &p.offsets, 46),
                Ok(false)
            );
        }
    }

    #[test]
    fn dscp_v6_traffic_class_spans_two_bytes() {
        let offsets = MarkOffsets {
            ip: 0,
            vlan_tci: None,
        };
        // Version 6, traffic class 0xAB (DSCP 42, ECN 3), flow label
        // 0x12345; the slices split the traffic class between its nibbles.
        let mut head = [0x6Au8];
        let mut tail = [0u8; 39];
        tail[..3].copy_from_slice(&[0xB1, 0x23, 0x45]);
        let mut frame = [&mut head[..], &mut tail[..]];
        // TC was 0xAB (DSCP 42, ECN 3).
        assert_eq!(rewrite_dscp(&mut frame, Family::V6, &offsets, 12), Ok(true));
        // New traffic class 0x33: DSCP 12, ECN 3 kept.
        assert_eq!(frame[0][0], 0x63);
        assert_eq!(frame[1][0], 0x31);
        assert_eq!(frame[1][1], 0x23, "flow label kept");
    }

    #[test]
    fn errors_leave_frame_alone() {
        let orig = golden_v4();
        let p = parse(&[&orig], Framing::Ethernet).unwrap();
        let mut buf = orig.clone();
        let mut frame = [&mut buf[..]];
        assert_eq!(
            rewrite_dscp(&mut frame, Family::V6, &p.offsets, 1),
            Err(MarkError::WrongVersion {
                expected: 6,
                found: 4
            })
        );
        assert_eq!(
            rewrite_dscp(&mut frame, Family::V4, &p.offsets, 64),
            Err(MarkError::ValueOutOfRange { value: 64 })
        );
        let far = MarkOffsets {
            ip: 30,
            vlan_tci: None,
        };
        assert!(matches!(
            rewrite_dscp(&mut frame, Family::V4, &far, 1),
            Err(MarkError::WrongVersion { .. })
        ));
        let beyond = MarkOffsets {
            ip: 45,
            vlan_tci: Some(u32::MAX),
        };
        assert_eq!(
            rewrite_dscp(&mut frame, Family::V4, &beyond, 1),
            Err(MarkError::OutOfFrame { offset: 46 })
        );
        assert_eq!(
            rewrite_pcp(&mut frame, &p.offsets, 3),
            Err(MarkError::NoInBandTag)
        );
        assert_eq!(
            rewrite_pcp(&mut frame, &beyond, 3),
            Err(MarkError::OutOfFrame {
                offset: u32::MAX - 2
            })
        );
        let not_tag = MarkOffsets {
            ip: 14,
            vlan_tci: Some(14),
        };
        assert_eq!(
            rewrite_pcp(&mut frame, &not_tag, 3),
            Err(MarkError::NotATag { tpid: 0x0800 })
        );
        assert_eq!(buf, orig);
    }

    #[test]
    fn pcp_keeps_dei_and_vid() {
        let mut buf = std::vec![0u8; 12];
        buf.extend_from_slice(&[0x81, 0x00, 0x1F, 0xFF, 0x08, 0x00]);
        let offsets = MarkOffsets {
            ip: 18,
            vlan_tci: Some(14),
        };
        let mut frame = [&mut buf[..]];
        assert_eq!(rewrite_pcp(&mut frame, &offsets, 5), Ok(true));
        assert_eq!(buf[14], 0xBF);
        assert_eq!(buf[15], 0xFF);
    }
}

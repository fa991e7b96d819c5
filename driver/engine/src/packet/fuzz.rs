//! The body of the `parse` fuzz target, here so that a plain unit test can
//! run it on stable too. Built only for tests and the `reference` feature;
//! never part of the driver.

use alloc::vec::Vec;

use super::{Family, Framing, ParsedFrame, parse};
use crate::mark::{MarkError, rewrite_dscp, rewrite_pcp};

/// Splits `frame` at `points` (sorted, each `<= frame.len()`).
fn split<'a>(frame: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::with_capacity(points.len().saturating_add(1));
    let mut rest = frame;
    let mut prev = 0usize;
    for &p in points {
        let (a, b) = rest.split_at(p.saturating_sub(prev).min(rest.len()));
        out.push(a);
        rest = b;
        prev = p.max(prev);
    }
    out.push(rest);
    out
}

/// Like [`split`], mutable.
fn split_mut<'a>(frame: &'a mut [u8], points: &[usize]) -> Vec<&'a mut [u8]> {
    let mut out = Vec::with_capacity(points.len().saturating_add(1));
    let mut rest = frame;
    let mut prev = 0usize;
    for &p in points {
        let at = p.saturating_sub(prev).min(rest.len());
        let (a, b) = rest.split_at_mut(at);
        out.push(a);
        rest = b;
        prev = p.max(prev);
    }
    out.push(rest);
    out
}

/// Checks a frame's invariants for one framing; `Err` names the first that
/// broke.
fn check(frame: &[u8], points: &[usize], framing: Framing, seed: u8) -> Result<(), &'static str> {
    let whole = parse(&[frame], framing);
    if parse(&split(frame, points), framing) != whole {
        return Err("split frame parsed differently from the whole frame");
    }
    let Ok(p) = whole else {
        return Ok(());
    };
    if p.l2_len != p.offsets.ip || p.key.vlan.is_some() != p.offsets.vlan_tci.is_some() {
        return Err("offsets disagree with the key");
    }
    if framing == Framing::RawIp && p.l2_len != 0 {
        return Err("raw IP frame with a link header");
    }

    // DSCP rewrite: only the DS byte (and the IPv4 checksum) change, ECN is
    // kept, and a valid IPv4 checksum stays valid.
    let dscp = seed & 0x3F;
    let mut buf = frame.to_vec();
    let changed = {
        let mut parts = split_mut(&mut buf, points);
        rewrite_dscp(&mut parts, p.key.family, &p.offsets, dscp)
            .map_err(|_: MarkError| "rewrite_dscp failed on a parsed frame")?
    };
    let after = parse(&[&buf], framing).map_err(|_| "frame unparsable after rewrite_dscp")?;
    let expect = ParsedFrame {
        key: crate::packet::FlowKey { dscp, ..p.key },
        ..p
    };
    if after != expect {
        return Err("rewrite_dscp changed more than the DSCP");
    }
    if changed != (dscp != p.key.dscp) {
        return Err("rewrite_dscp reported the wrong change");
    }
    let ip = usize::try_from(p.offsets.ip).map_err(|_| "offset")?;
    let allowed: &[usize] = match p.key.family {
        Family::V4 => &[1, 10, 11],
        Family::V6 => &[0, 1],
    };
    for (i, (a, b)) in frame.iter().zip(&buf).enumerate() {
        if a != b && !allowed.iter().any(|&d| ip.checked_add(d) == Some(i)) {
            return Err("rewrite_dscp wrote outside the DS byte and checksum");
        }
    }
    if p.key.family == Family::V4 {
        let header_len = frame
            .get(ip)
            .map(|b| usize::from(b & 0xF) * 4)
            .ok_or("no header")?;
        let end = ip.saturating_add(header_len);
        let (before, now) = (frame.get(ip..end), buf.get(ip..end));
        if let (Some(before), Some(now)) = (before, now) {
            if crate::packet::ipv4::checksum(before) == 0 && crate::packet::ipv4::checksum(now) != 0
            {
                return Err("a valid IPv4 checksum became invalid");
            }
        }
    }

    // PCP rewrite of the in-band tag: PCP changes, DEI and VID stay.
    if let Some(tag) = p.key.vlan {
        let pcp = seed >> 5;
        let mut buf = frame.to_vec();
        {
            let mut parts = split_mut(&mut buf, points);
            rewrite_pcp(&mut parts, &p.offsets, pcp)
                .map_err(|_| "rewrite_pcp failed on a tagged frame")?;
        }
        let after = parse(&[&buf], framing).map_err(|_| "frame unparsable after rewrite_pcp")?;
        let tag = super::VlanTag { pcp, ..tag };
        if after.key.vlan != Some(tag) || after.offsets != p.offsets {
            return Err("rewrite_pcp changed more than the PCP");
        }
    }
    Ok(())
}

/// Fuzz body: the first byte picks how many split points follow (0..=6, two
/// bytes each, little endian, taken modulo the frame length + 1), the rest
/// is the frame. Parses it with both framings, whole and split, and checks
/// that the results agree; on a parsed frame, rewrites the DSCP and the
/// in-band PCP (split the same way) and checks that only those change.
///
/// # Errors
///
/// The invariant that broke (the fuzz target panics with it).
pub fn fuzz_parse(data: &[u8]) -> Result<(), &'static str> {
    let Some((&head, rest)) = data.split_first() else {
        return Ok(());
    };
    let count = usize::from(head % 7);
    let raw_len = count.saturating_mul(2).min(rest.len());
    let (raw, frame) = rest.split_at(raw_len);
    let modulus = frame.len().saturating_add(1);
    let mut points: Vec<usize> = raw
        .chunks_exact(2)
        .map(|c| {
            let v = c
                .first_chunk::<2>()
                .map_or(0, |b| usize::from(u16::from_le_bytes(*b)));
            v.checked_rem(modulus).unwrap_or(0)
        })
        .collect();
    points.sort_unstable();
    let seed = frame.last().copied().unwrap_or(head) ^ head;
    check(frame, &points, Framing::Ethernet, seed)?;
    check(frame, &points, Framing::RawIp, seed.rotate_left(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_the_frame() {
        let frame = [1u8, 2, 3, 4, 5];
        let parts = split(&frame, &[0, 2, 2, 5]);
        assert_eq!(parts.len(), 5);
        assert_eq!(parts.concat(), frame);
        assert!(parts[0].is_empty() && parts[2].is_empty() && parts[4].is_empty());
    }

    #[test]
    fn fuzz_body_accepts_trivial_inputs() {
        assert_eq!(fuzz_parse(&[]), Ok(()));
        assert_eq!(fuzz_parse(&[6]), Ok(()));
        assert_eq!(fuzz_parse(&[3, 0xFF, 0xFF]), Ok(()));
    }
}

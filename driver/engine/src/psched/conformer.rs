//! The conformer: a token bucket at the token rate up to the bucket size, and
//! a second bucket at the peak rate when the flow has one.
//!
//! # Units and exactness
//! Sizes count IP-layer bytes. Credit is kept in *byte-ticks*: bytes scaled by
//! [`TICKS_PER_SEC`], so a rate of `r` bytes/s adds exactly `r` units per
//! 100 ns tick. Refilling over any span is one multiplication with no
//! remainder to lose, so the conformer never drifts, however often or rarely
//! it is asked. The earliest time a packet conforms is the deficit divided by
//! the rate, rounded up to the next tick; the rounding is not carried as an
//! error because the credit at that tick is computed exactly again.
//! No floating point; every operation saturates instead of overflowing.
//!
//! # Rules
//! - A packet is charged `max(ip_bytes, min_policed)`; a segmented (LSO)
//!   send of `n` IP packets is charged `max(ip_bytes, n * min_policed)`
//!   ([`SendSize::charge`]).
//! - A packet larger than `max_sdu` never conforms (IntServ); for a
//!   segmented send the test is on its largest IP packet
//!   ([`SendSize::largest_ip_packet`]), not on the whole send.
//! - A packet conforms when each bucket holds at least `min(charge, depth)`;
//!   it then takes `charge` from each. A packet larger than the bucket
//!   (an LSO send over a small bucket) therefore passes once the bucket is
//!   full and leaves it in debt, which later packets wait out: the long-term
//!   rate stays exact and such packets are never black-holed.
//! - Peak bucket depth: `max_sdu`, or [`DEFAULT_PEAK_DEPTH`] (one MTU of IP
//!   bytes) when the flow gives none. This is RFC 2212's `M`.
//!
//! # Bound
//! Packets conform on whole ticks while their ideal conformance instant is
//! usually inside a tick. A bucket capped at exactly its depth would throw
//! away the part of the tick before that instant each time a packet needs
//! the full bucket (packets as large as the bucket: common with a one-MTU
//! bucket), which at 10 Gbit/s and 1500-byte packets is up to 8 % of the
//! rate. So the credit is capped at the depth plus *less than one tick of
//! rate* (`rate - 1` byte-ticks): no rate is ever lost, and the burst grows by
//! under one tick's worth (125 bytes at 10 Gbit/s).
//!
//! Over any interval of ticks `[t0, t1]` the bytes declared conforming are
//! then at most `max(bucket, L) + rate * (t1 - t0 + 1 tick)` where `L` is the
//! largest charge seen (`L <= bucket` when every packet fits the bucket), and
//! likewise `max(peak_depth, L) + peak * (t1 - t0 + 1 tick)`. Property-tested
//! in `tests/psched_conformer.rs`.

use super::send_size::SendSize;
use crate::flow::{DEFAULT_PEAK_DEPTH, FlowSpec, MAX_BUCKET};
use crate::time::{TICKS_PER_SEC, Ticks};

/// Conformer parameters derived from a [`FlowSpec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConformerParams {
    /// Token rate in bytes/s (`None`: no token bucket).
    pub rate: Option<u64>,
    /// Token bucket depth in bytes.
    pub bucket: u32,
    /// Peak rate in bytes/s (`None`: no peak bucket).
    pub peak: Option<u64>,
    /// Peak bucket depth in bytes.
    pub peak_depth: u32,
    /// Smaller packets are charged as this many bytes.
    pub min_policed: u32,
    /// Larger packets never conform.
    pub max_sdu: Option<u32>,
}

impl ConformerParams {
    /// Derives the parameters of a flow. A spec that [`crate::flow::validate_flow`]
    /// would refuse is made safe rather than trusted: a rate of 0 becomes
    /// 1 byte/s, a bucket of 0 becomes one byte, sizes are clamped to 32 bits.
    /// (The conformer also clamps rates to [`MAX_RATE`].)
    #[must_use]
    pub fn from_spec(spec: &FlowSpec) -> Self {
        let clamp32 = |v: u64| u32::try_from(v.min(MAX_BUCKET)).unwrap_or(u32::MAX);
        Self {
            rate: spec.token_rate.map(|r| r.max(1)),
            bucket: clamp32(spec.bucket).max(1),
            peak: spec.peak_rate.map(|r| r.max(1)),
            peak_depth: spec.max_sdu.unwrap_or(DEFAULT_PEAK_DEPTH).max(1),
            min_policed: spec.min_policed,
            max_sdu: spec.max_sdu,
        }
    }

    /// Parameters of a flow that every packet conforms to.
    #[must_use]
    pub const fn unlimited() -> Self {
        Self {
            rate: None,
            bucket: 1,
            peak: None,
            peak_depth: DEFAULT_PEAK_DEPTH,
            min_policed: 0,
            max_sdu: None,
        }
    }

    /// What a packet of `ip_bytes` is charged.
    #[must_use]
    pub const fn charge(&self, ip_bytes: u32) -> u32 {
        if ip_bytes < self.min_policed {
            self.min_policed
        } else {
            ip_bytes
        }
    }

    /// Whether a packet of `ip_bytes` exceeds the flow's MaxSduSize.
    #[must_use]
    pub fn is_oversize(&self, ip_bytes: u32) -> bool {
        self.max_sdu.is_some_and(|m| ip_bytes > m)
    }
}

/// When a packet conforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It conforms at this time (the conformer's clock if it conforms now).
    At(Ticks),
    /// It never conforms (larger than MaxSduSize).
    Never,
}

/// Largest rate a bucket keeps, in bytes/s (2^62, about 3.7 * 10^19 bit/s):
/// with it the credit cap `depth + rate - 1` never saturates, so the depth
/// need not be stored. Larger rates are clamped (no link comes near).
pub const MAX_RATE: u64 = 1 << 62;

/// One bucket: credit in byte-ticks, at most `depth` bytes worth plus less
/// than one tick of rate (see the module doc, "Bound"). A rate of 0 means
/// the bucket is absent (its depth is kept, to report the parameters).
/// 24 bytes: the depth is `cap - (rate - 1)` (`cap` when the rate is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bucket {
    /// Bytes/s, at most [`MAX_RATE`]; 0 = no bucket.
    rate: u64,
    /// Cap of the credit: `depth + rate - 1` byte-ticks.
    cap: i64,
    /// Current credit in byte-ticks; negative = debt.
    credit: i64,
}

/// [`TICKS_PER_SEC`] as a signed factor (10^7 fits any integer type).
const TPS: i64 = TICKS_PER_SEC as i64;

#[inline]
fn scaled(bytes: u32) -> i64 {
    // u32::MAX * 10^7 < 2^63: exact.
    i64::from(bytes).wrapping_mul(TPS)
}

/// `rate - 1` as a credit amount (0 for an absent bucket).
#[inline]
fn slack(rate: u64) -> i64 {
    // rate <= 2^62: fits.
    i64::try_from(rate.saturating_sub(1)).unwrap_or(i64::MAX)
}

impl Bucket {
    fn new(rate: Option<u64>, depth_bytes: u32) -> Self {
        let depth = scaled(depth_bytes);
        let rate = rate.unwrap_or(0).min(MAX_RATE);
        Self {
            rate,
            // depth < 2^56 and slack < 2^62: no saturation.
            cap: depth.saturating_add(slack(rate)),
            credit: depth,
        }
    }

    /// Depth in byte-ticks.
    #[inline]
    fn depth(&self) -> i64 {
        self.cap.saturating_sub(slack(self.rate))
    }

    fn rate(&self) -> Option<u64> {
        (self.rate != 0).then_some(self.rate)
    }

    fn depth_bytes(&self) -> u32 {
        u32::try_from(self.depth().checked_div(TPS).unwrap_or(0)).unwrap_or(u32::MAX)
    }

    #[inline(always)]
    fn refill(&mut self, dt: Ticks) {
        if self.rate == 0 {
            return;
        }
        // credit <= cap, so this is cap - credit, exact (below 2^64).
        let room = self.cap.abs_diff(self.credit);
        self.credit = match self.rate.checked_mul(dt) {
            // Below the cap: credit + add < cap, exact.
            Some(add) if add < room => self.credit.wrapping_add_unsigned(add),
            _ => self.cap,
        };
    }

    /// [`Self::refill`] without branches, for the per-packet path: the
    /// same result, since a refill over 0 ticks or of an absent bucket
    /// (rate 0: nothing to add) leaves the credit as it is either way.
    #[inline(always)]
    fn refill_flat(&mut self, dt: Ticks) {
        // credit <= cap (a refill stops at the cap, a reconfiguration
        // clamps to the depth), so this is cap - credit, exact (below
        // 2^64): `abs_diff` in fewer instructions (the wrapped difference
        // read as unsigned).
        let room = self.cap.wrapping_sub(self.credit) as u64;
        // An overflow saturates to u64::MAX >= room: the cap, as `refill`.
        let add = self.rate.saturating_mul(dt);
        self.credit = if add < room {
            // Below the cap: credit + add < cap, exact.
            self.credit.wrapping_add_unsigned(add)
        } else {
            self.cap
        };
    }

    /// Ticks until the bucket holds what a packet of `charge` needs.
    fn wait(&self, charge: u32) -> Ticks {
        if self.rate == 0 {
            return 0;
        }
        let need = scaled(charge).min(self.depth());
        let deficit = need.saturating_sub(self.credit);
        if deficit <= 0 {
            return 0;
        }
        let deficit = deficit.unsigned_abs();
        let whole = deficit.checked_div(self.rate).unwrap_or(u64::MAX);
        let part = deficit.checked_rem(self.rate).unwrap_or(0);
        if part == 0 {
            whole
        } else {
            whole.saturating_add(1)
        }
    }

    /// Whether the bucket holds what a packet of `charge` needs now (an
    /// absent bucket always does). Computed without branches: whether a
    /// packet conforms is as good as random on a policed flow, and a
    /// mispredicted branch on it would cost more than the whole test.
    #[inline(always)]
    fn has(&self, charge: u32) -> bool {
        // A present bucket: rate in 1..=2^62 and cap = depth + rate - 1
        // exactly, so the depth comes out without saturating. (For an
        // absent one the comparison is meaningless and ignored.) The
        // rate is at most 2^62: `as` is exact.
        let slack = (self.rate as i64).wrapping_sub(1);
        let fits = self.credit >= scaled(charge).min(self.cap.wrapping_sub(slack));
        (self.rate == 0) | fits
    }

    #[inline(always)]
    fn take(&mut self, charge: u32) {
        if self.rate != 0 {
            self.credit = self.credit.saturating_sub(scaled(charge));
        }
    }

    /// [`Self::take`] when `fits`, of a charge the bucket [`Self::has`]
    /// then (nothing otherwise), without branches: the credit is then at
    /// least 0 and the charge below 2^56, so the subtraction is exact
    /// without saturating.
    #[inline(always)]
    fn take_if_fitting(&mut self, charge: u32, fits: bool) {
        // A mask (all ones when the charge is taken), not a branch or a
        // select: the compiler keeps it so.
        let take = scaled(charge) & i64::from(fits & (self.rate != 0)).wrapping_neg();
        self.credit = self.credit.wrapping_sub(take);
    }

    /// New rate and depth, keeping the credit (clamped to the new depth); a
    /// bucket that appears starts full.
    fn reconfigure(&mut self, rate: Option<u64>, depth_bytes: u32) {
        let was_absent = self.rate == 0;
        let credit = self.credit;
        *self = Self::new(rate, depth_bytes);
        if !was_absent {
            self.credit = credit.min(self.depth());
        }
    }
}

/// The part of a conformer every packet reads: the token bucket, the clock,
/// MinimumPolicedSize and MaxSduSize (40 bytes). The peak bucket is kept
/// apart so that the scheduler can leave it out of a flow's hot cache line
/// (most flows have no peak rate); the methods take it as an `Option`
/// (`None`: no peak bucket, the same as an absent one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConformerHead {
    token: Bucket,
    last: Ticks,
    min_policed: u32,
    /// `u32::MAX` when the flow has no MaxSduSize.
    max_sdu: u32,
}

/// A peak bucket as the scheduler keeps it, out of the hot line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeakBucket(Bucket);

impl PeakBucket {
    /// Whether the flow has a peak rate (the bucket is present).
    #[inline]
    pub(crate) const fn present(&self) -> bool {
        self.0.rate != 0
    }
}

impl ConformerHead {
    /// A conformer with full buckets at time `now`: its head and its peak
    /// bucket.
    pub(crate) fn new(params: ConformerParams, now: Ticks) -> (Self, PeakBucket) {
        (
            Self {
                token: Bucket::new(params.rate, params.bucket),
                last: now,
                min_policed: params.min_policed,
                max_sdu: params.max_sdu.unwrap_or(u32::MAX),
            },
            PeakBucket(Bucket::new(params.peak, params.peak_depth)),
        )
    }

    /// The parameters in force (`peak`: the flow's peak bucket).
    pub(crate) fn params(&self, peak: &PeakBucket) -> ConformerParams {
        ConformerParams {
            rate: self.token.rate(),
            bucket: self.token.depth_bytes(),
            peak: peak.0.rate(),
            peak_depth: peak.0.depth_bytes(),
            min_policed: self.min_policed,
            max_sdu: (self.max_sdu != u32::MAX).then_some(self.max_sdu),
        }
    }

    /// See [`Conformer::last`].
    #[inline]
    pub(crate) const fn last(&self) -> Ticks {
        self.last
    }

    /// See [`Conformer::is_oversize`].
    #[inline]
    pub(crate) const fn is_oversize(&self, ip_bytes: u32) -> bool {
        ip_bytes > self.max_sdu
    }

    /// See [`Conformer::set_params`].
    pub(crate) fn set_params(&mut self, peak: &mut PeakBucket, params: ConformerParams) {
        self.token.reconfigure(params.rate, params.bucket);
        peak.0.reconfigure(params.peak, params.peak_depth);
        self.min_policed = params.min_policed;
        self.max_sdu = params.max_sdu.unwrap_or(u32::MAX);
    }

    /// See [`Conformer::advance`].
    #[inline(always)]
    pub(crate) fn advance(&mut self, peak: Option<&mut PeakBucket>, t: Ticks) -> Ticks {
        let dt = t.saturating_sub(self.last);
        if dt == 0 {
            return self.last;
        }
        self.last = t;
        self.token.refill(dt);
        if let Some(p) = peak {
            p.0.refill(dt);
        }
        t
    }

    /// See [`Conformer::earliest_sized`].
    pub(crate) fn earliest_sized(&self, peak: Option<&PeakBucket>, size: &SendSize) -> Verdict {
        if self.is_oversize(size.largest_ip_packet) {
            return Verdict::Never;
        }
        let charge = size.charge(self.min_policed);
        let wait = self.token.wait(charge);
        let wait = peak.map_or(wait, |p| wait.max(p.0.wait(charge)));
        Verdict::At(self.last.saturating_add(wait))
    }

    /// See [`Conformer::consume_sized`].
    #[inline(always)]
    pub(crate) fn consume_sized(&mut self, peak: Option<&mut PeakBucket>, size: &SendSize) {
        let charge = size.charge(self.min_policed);
        self.token.take(charge);
        if let Some(p) = peak {
            p.0.take(charge);
        }
    }

    /// See [`Conformer::police_sized`].
    #[inline(always)]
    pub(crate) fn police_sized(
        &mut self,
        peak: Option<&mut PeakBucket>,
        now: Ticks,
        size: &SendSize,
    ) -> bool {
        // `advance` without branches: refilling over 0 ticks changes
        // nothing, and the clock never runs backwards.
        let dt = now.saturating_sub(self.last);
        self.last = self.last.max(now);
        self.token.refill_flat(dt);
        let charge = size.charge(self.min_policed);
        // `fits_now`, and the charge taken only when it fits (then each
        // present bucket's credit is at least min(charge, depth) >= 0, so
        // taking it cannot overflow), with no branch on the outcome: the
        // caller gets it as a value.
        let mut fits = !self.is_oversize(size.largest_ip_packet) & self.token.has(charge);
        if let Some(p) = peak {
            p.0.refill_flat(dt);
            fits &= p.0.has(charge);
            p.0.take_if_fitting(charge, fits);
        }
        self.token.take_if_fitting(charge, fits);
        fits
    }

    /// See [`Conformer::fits_now`].
    #[inline(always)]
    pub(crate) fn fits_now(&self, peak: Option<&PeakBucket>, size: &SendSize) -> bool {
        if self.is_oversize(size.largest_ip_packet) {
            return false;
        }
        let charge = size.charge(self.min_policed);
        self.token.has(charge) && peak.is_none_or(|p| p.0.has(charge))
    }
}

/// A flow's conformer state: the two buckets and the time they were last
/// brought up to date. 64 bytes (one cache line), everything the per-packet
/// path reads. (The scheduler keeps the same state split in two: the
/// head (token bucket, clock, sizes) in a flow's hot line, the peak bucket
/// apart.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conformer {
    head: ConformerHead,
    peak: PeakBucket,
}

impl Conformer {
    /// A conformer with full buckets at time `now`.
    #[must_use]
    pub fn new(params: ConformerParams, now: Ticks) -> Self {
        let (head, peak) = ConformerHead::new(params, now);
        Self { head, peak }
    }

    /// The parameters in force.
    #[must_use]
    pub fn params(&self) -> ConformerParams {
        self.head.params(&self.peak)
    }

    /// The conformer's clock: the latest time it was advanced to.
    #[must_use]
    pub const fn last(&self) -> Ticks {
        self.head.last()
    }

    /// Whether a packet of `ip_bytes` exceeds the flow's MaxSduSize.
    #[must_use]
    #[inline]
    pub const fn is_oversize(&self, ip_bytes: u32) -> bool {
        self.head.is_oversize(ip_bytes)
    }

    /// Changes the parameters, keeping the credit (clamped to the new
    /// depths). A bucket that appears starts full.
    pub fn set_params(&mut self, params: ConformerParams) {
        self.head.set_params(&mut self.peak, params);
    }

    /// Brings the buckets up to time `t` (no effect if `t` is not later than
    /// the conformer's clock). Returns the conformer's clock afterwards,
    /// `max(t, clock)`: time never runs backwards for a conformer.
    #[inline]
    pub fn advance(&mut self, t: Ticks) -> Ticks {
        self.head.advance(Some(&mut self.peak), t)
    }

    /// The earliest time, not before the conformer's clock, at which a packet
    /// of `ip_bytes` conforms (assuming nothing else is charged meanwhile).
    #[must_use]
    pub fn earliest(&self, ip_bytes: u32) -> Verdict {
        self.earliest_sized(&SendSize::single(ip_bytes))
    }

    /// [`Self::earliest`] for a send of several IP packets (LSO): Never if
    /// its largest packet exceeds MaxSduSize, charged per
    /// [`SendSize::charge`].
    #[must_use]
    pub fn earliest_sized(&self, size: &SendSize) -> Verdict {
        self.head.earliest_sized(Some(&self.peak), size)
    }

    /// Charges a packet of `ip_bytes` (call when it conforms).
    pub fn consume(&mut self, ip_bytes: u32) {
        self.consume_sized(&SendSize::single(ip_bytes));
    }

    /// [`Self::consume`] for a send of several IP packets.
    #[inline]
    pub fn consume_sized(&mut self, size: &SendSize) {
        self.head.consume_sized(Some(&mut self.peak), size);
    }

    /// Policing in one step: advances to `now`; if the packet conforms now,
    /// charges it and returns true, else returns false and charges nothing.
    #[inline]
    pub fn police(&mut self, now: Ticks, ip_bytes: u32) -> bool {
        self.police_sized(now, &SendSize::single(ip_bytes))
    }

    /// [`Self::police`] for a send of several IP packets: not conforming if
    /// its largest packet exceeds MaxSduSize, charged per
    /// [`SendSize::charge`].
    #[inline]
    pub fn police_sized(&mut self, now: Ticks, size: &SendSize) -> bool {
        self.head.police_sized(Some(&mut self.peak), now, size)
    }

    /// Whether a send conforms at the conformer's clock: the same answer as
    /// `earliest_sized(size) == Verdict::At(self.last())`, without the
    /// divisions.
    #[must_use]
    #[inline]
    pub fn fits_now(&self, size: &SendSize) -> bool {
        self.head.fits_now(Some(&self.peak), size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(rate: u64, bucket: u32) -> ConformerParams {
        ConformerParams {
            rate: Some(rate),
            bucket,
            peak: None,
            peak_depth: DEFAULT_PEAK_DEPTH,
            min_policed: 0,
            max_sdu: None,
        }
    }

    #[test]
    fn full_bucket_then_rate() {
        let mut c = Conformer::new(params(1000, 1500), 0);
        assert!(c.police(0, 1500));
        assert!(!c.police(0, 1));
        // 1000 B/s: 100 bytes take 0.1 s = 1_000_000 ticks.
        assert_eq!(c.earliest(100), Verdict::At(1_000_000));
        assert!(!c.police(999_999, 100));
        assert!(c.police(1_000_000, 100));
    }

    #[test]
    fn wait_rounds_up_without_losing_credit() {
        // 3 B/s: one byte every 3_333_333.33 ticks.
        let mut c = Conformer::new(params(3, 1), 0);
        assert!(c.police(0, 1));
        let mut t = 0;
        for _ in 0..30 {
            let Verdict::At(next) = c.earliest(1) else {
                panic!()
            };
            t = next;
            assert!(c.police(t, 1));
        }
        // 30 bytes at 3 B/s = 10 s, give or take the final rounding tick.
        assert!((10 * TICKS_PER_SEC..=10 * TICKS_PER_SEC + 1).contains(&t));
    }

    #[test]
    fn min_policed_and_max_sdu() {
        let mut p = params(1000, 2000);
        p.min_policed = 500;
        p.max_sdu = Some(1600);
        let mut c = Conformer::new(p, 0);
        assert_eq!(c.earliest(1601), Verdict::Never);
        assert!(c.police(0, 40)); // charged 500
        assert!(c.police(0, 1500)); // 1500 left
        assert!(!c.police(0, 1));
    }

    #[test]
    fn oversize_packet_borrows_from_the_future() {
        let mut c = Conformer::new(params(1000, 1000), 0);
        assert!(c.police(0, 3000)); // full bucket, now 2000 in debt
        // Needs 2000 (debt) + 100 bytes of credit: 2.1 s.
        assert_eq!(c.earliest(100), Verdict::At(21_000_000));
    }

    #[test]
    fn peak_bucket() {
        let mut p = params(1000, 10_000);
        p.peak = Some(2000);
        p.peak_depth = 1000;
        let mut c = Conformer::new(p, 0);
        assert!(c.police(0, 1000));
        assert!(!c.police(0, 1000));
        // Peak refills 1000 bytes in 0.5 s.
        assert_eq!(c.earliest(1000), Verdict::At(5_000_000));
    }

    #[test]
    fn no_buckets_always_conform() {
        let mut c = Conformer::new(ConformerParams::unlimited(), 5);
        for t in 0..10 {
            assert!(c.police(t, u32::MAX));
        }
    }

    #[test]
    fn params_round_trip_and_set_params_keeps_credit() {
        let mut p = params(1000, 2000);
        p.peak = Some(5000);
        p.peak_depth = 700;
        p.max_sdu = Some(700);
        let mut c = Conformer::new(p, 0);
        assert_eq!(c.params(), p);
        assert!(c.police(0, 700));
        // Same depth, new rate: the 1300 bytes of credit stay.
        let mut q = params(10, 2000);
        q.max_sdu = None;
        c.set_params(q);
        assert_eq!(c.params(), q);
        assert!(c.police(0, 1300));
        assert!(!c.police(0, 1));
        // A smaller bucket clamps the credit; a new peak bucket starts full.
        let mut r = params(10, 100);
        r.peak = Some(20);
        r.peak_depth = 100;
        c.set_params(r);
        // 5 s at 10 B/s: 50 bytes of credit.
        assert!(!c.police(TICKS_PER_SEC * 5, 51));
        assert!(c.police(TICKS_PER_SEC * 5, 50));
        assert!(!c.police(TICKS_PER_SEC * 5, 1));
    }

    #[test]
    fn huge_idle_time_saturates() {
        let mut c = Conformer::new(params(u64::MAX / 2, u32::MAX), 0);
        assert!(c.police(u64::MAX, u32::MAX));
        let mut c = Conformer::new(params(1, 1), 0);
        assert!(c.police(0, 1));
        assert_eq!(c.earliest(1), Verdict::At(TICKS_PER_SEC));
    }
}

//! The rules of a decision tree's leaves, four side by side: what a leaf
//! scan reads.
//!
//! # Why lanes
//! A leaf holds up to a few dozen rules, best first, and a lookup wants
//! the first that matches. Checked one after the other, each rule costs a
//! branch on whether it matched, and which rule of a leaf matches is
//! different for every packet, so the predictor misses it often. On
//! ClassBench 10k sets, leaf scans were a fifth to two fifths of a
//! lookup's time (timing lookups that walk every open tree and scan
//! nothing: ipc1 IPv4 98 ns against 117-129, fw1 IPv6 68-74 against
//! 113-132, acl1 IPv4 59 against 81-89).
//!
//! So a tree keeps its leaf runs in blocks of [`LANES`] rules, each field
//! of the four rules in one array of the block ("structure of arrays"):
//! one block check compares a packet with four rules in the same few
//! instructions, which the compiler turns into SSE2 vector operations,
//! and yields a four-bit mask of the rules that match. The scan then
//! branches once per block, not once or twice per rule. ClassBench 10k,
//! best pass of interleaved runs against rules checked one by one: IPv4
//! acl1 81 to 64 ns per packet, fw1 100 to 89-94, ipc1 117-120 to
//! 101-106; IPv6 acl1 89 to 71, fw1 113 to 107, ipc1 122 to 109
//! (cachegrind per packet, ipc1 10k IPv4: mispredictions 6.3 to 5.0, 35
//! more instructions, 1.0 more D1 miss: a block's check reads two lines
//! where a short run's rules took one).
//! Lowest median of 24 runs, 10k sets, IPv4 / IPv6, ns per packet:
//! acl1 81 / 85 to 64 / 70, fw1 100 / 110 to 94 / 110, ipc1 114 / 119 to
//! 103 / 110. fw1 IPv6 gained nothing: its three-line blocks (session 7)
//! cost it 2.5 more D1 misses per packet (6.8 to 9.3), as much as the
//! branches saved; session 8's two-line IPv6 blocks (below) took them
//! back (lowest medians of 24 runs, IPv6: acl1 67, fw1 106, ipc1 109;
//! about 20 index bytes per IPv6 filter fewer: 115-147 at 10k).
//!
//! - **IPv4** ([`Block4`], 128 bytes, two lines): each lane holds the whole
//!   rule (addresses, masks, port ranges, conditions word, index), so the
//!   blocks are the tree's only copy of its rules: [`Lanes::get`] rebuilds
//!   a [`Rule`] from its lane. That keeps IPv4 at the bytes per filter the
//!   32-byte rules had (the memory goal is 64).
//! - **IPv6** ([`Block6`], the same 128-byte block): each lane holds the
//!   second 32-bit word of each address (bits 64..96, where a /33../64
//!   prefix ends) with its mask, and the rest as IPv4 does. The first
//!   word (bits 96..128) is an allocation prefix most rules of a set
//!   share, so it is not held per lane: a forest picks, for source and
//!   destination, the first word most of its rules have whole in their
//!   prefix ([`common_top`]); a lane whose prefix needs it carries a flag
//!   in its index word ([`SRC_TOP`], [`DST_TOP`]), and a lookup compares
//!   the packet's first words with the forest's once. A rule the lane
//!   cannot tell whole (a prefix past bit 64, one that ends inside the
//!   first word, or another first word) is marked full ([`FULL`]) and,
//!   when its lane matches, is checked whole from the rules kept beside
//!   the blocks. Session 7's 192-byte blocks (the high 64 bits of each
//!   address, with 64-bit masks) cost IPv6 a third line per block:
//!   cachegrind per packet, 10k, D1 misses fw1 9.35 to 7.53, ipc1 8.87
//!   to 7.05, acl1 6.52 to 5.23 (IPv4's figures), instructions fw1 554 to
//!   546, acl1 389 to 389, ipc1 612 to 632; best pass of 9 interleaved
//!   rounds acl1 70.1 to 67.8 ns, fw1 106.5 to 104.5, ipc1 106.8 to 107.6;
//!   about 20 bytes per IPv6 filter fewer. With the first words compared
//!   per scan instead of once per lookup, 20-35 more instructions. (A
//!   128-byte block with the prefix lengths in place of the masks, the
//!   masks read from a table per lane, missed 1.9 fewer lines per packet
//!   on ipc1 10k but ran 250 more instructions and was slower.)
//! - **Runs and blocks.** A run starts at any lane. It is moved to the
//!   next block only when that makes it span fewer blocks (a run of up to
//!   four then always sits in one block); the lanes skipped are fillers,
//!   copies of the run's first rule that no leaf points at. Aligning every
//!   run to a block was no faster and cost 5 bytes per IPv4 filter more.
//!
//! **SSE2 in the kernel.** The vectors are the compiler's own choice, from
//! plain integer code (no `unsafe`, no intrinsics), and SSE2 is the
//! x86-64 baseline: no target feature is enabled for them. On x64 Windows
//! kernel code may use the SSE registers without saving them (the
//! compiler keeps their state, as it does for its own copies and
//! floating point); AVX would need `KeSaveExtendedProcessorState`, so the
//! driver must not be built with AVX enabled (Microsoft Learn, "Using
//! Floating Point in a WDM Driver").
//!
//! Lookups check a run block by block: a block whose first lane of the
//! run cannot beat the match in hand ends the scan, and the first lane of
//! the mask is the answer (lanes are in rank order), unless it is full and
//! its rule does not match, then the next.
//!
//! **What IPv6 costs beyond IPv4** (session 9, cachegrind per packet, 10k
//! sets): the same trees cost IPv6 80-100 instructions a packet more
//! (fw1 546 against 448, ipc1 632 against 550). Dropping the first-word
//! flags and the full lanes altogether (wrong answers, for measuring
//! only) took 65-76 of them away. Two changes keep the answers and take
//! 15-23 (fw1 546 to 531, ipc1 632 to 609, acl1 389 to 372; IPv4 within
//! 2):
//! - a packet whose first words are the forest's is looked up by a copy
//!   of the code that knows its flags pass ([`ALL_TOPS`]), so the block
//!   check drops their test as IPv4's does: 6-17 fewer;
//! - the check of a full lane's rule is out of line
//!   ([`Lanes::full_hits`]), given the packet by value so that the
//!   lookup need not keep it in memory: 4-10 fewer.
//!
//! What is left is mostly the full-lane test after each hit and the
//! 128-bit packet's words (about 20 instructions: no full lanes at all
//! measured 510 on fw1).

use alloc::vec::Vec;
use core::fmt::Debug;

use super::LookupCost;
use super::MAX_FILTERS;
use super::matching::{
    Addr, COND_DSCP, COND_KINDS, COND_PORTS, COND_PROTO, COND_TCP_OR_UDP, COND_VLAN, Packet, Rule,
};

/// Rules in a block.
pub(crate) const LANES: usize = 4;

/// Bit of an IPv6 lane's index word that marks it full (see [`Block6`]).
/// Indexes stay below [`MAX_FILTERS`], far below it.
const FULL: u32 = 1 << 31;
/// Bits of an IPv6 lane's index word: its rule's source (destination)
/// prefix needs the packet's first address word (bits 96..128) to be the
/// tree's ([`Lanes::top`]).
const SRC_TOP: u32 = 1 << 29;
/// See [`SRC_TOP`].
const DST_TOP: u32 = 1 << 30;
/// Both first-word flags: what a packet whose first words are the
/// forest's passes ([`LaneBlock::tops`]; IPv4 always).
pub(crate) const ALL_TOPS: u32 = SRC_TOP | DST_TOP;
/// Every flag bit of an index word.
const FLAGS: u32 = FULL | ALL_TOPS;
const _: () = assert!(MAX_FILTERS < SRC_TOP as usize);

/// What a block of [`LANES`] rules of one family offers a leaf scan.
pub(crate) trait LaneBlock<A: Addr>: Copy + Default + Debug {
    /// True when the blocks hold less than the rules (IPv6): [`Lanes`]
    /// then keeps the rules too, for [`LaneBlock::rule`] and full lanes.
    const KEEPS_RULES: bool;
    /// Puts `r` in lane `lane` (below [`LANES`]), for a tree whose first
    /// address words are `top` ([`Lanes::top`]).
    fn set(&mut self, lane: usize, r: &Rule<A>, top: [u32; 2]);
    /// The rule in lane `lane`, when the block holds all of it.
    fn rule(&self, lane: usize) -> Option<Rule<A>>;
    /// Which of a tree's first address words `top` the packet `p` has,
    /// as the flag bits the lanes need ([`SRC_TOP`], [`DST_TOP`]; IPv4:
    /// both, no lane needs them).
    fn tops(p: &Packet<A>, top: [u32; 2]) -> u32;
    /// Bit `i` set when lane `i` may match `p` (matches, unless
    /// [`LaneBlock::full`]); `tops` is [`LaneBlock::tops`] of `p`.
    fn hits(&self, p: &Packet<A>, tops: u32) -> u32;
    /// The rule index in lane `lane`.
    fn idx(&self, lane: u32) -> u32;
    /// True when a hit in lane `lane` must be confirmed by its rule.
    fn full(&self, lane: u32) -> bool;
    /// Sets the rule index in lane `lane` (the rule's index moved).
    fn set_idx(&mut self, lane: usize, idx: u32);
    /// Copies lane `from_lane` of `from` into lane `lane`.
    fn copy_lane(&mut self, lane: usize, from: &Self, from_lane: usize);
}

/// Four rules, each field in one array (see the module docs), 128 bytes:
/// the address words with their prefix masks, the port ranges (first
/// port in the low half, last minus first in the high half), the
/// conditions word (a rule's own, see [`COND_KINDS`]) and the index. As
/// [`Block4`] it holds whole IPv4 rules; as [`Block6`] the second address
/// words of IPv6 rules (bits 64..96) with their masks, and flags in the
/// index word: [`SRC_TOP`] / [`DST_TOP`] where the prefix needs the
/// tree's first word, [`FULL`] where the lane cannot tell the whole
/// prefix, so that a hit must be confirmed by the rule itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, align(64))]
pub(crate) struct Block {
    src: [u32; LANES],
    src_mask: [u32; LANES],
    dst: [u32; LANES],
    dst_mask: [u32; LANES],
    sport: [u32; LANES],
    dport: [u32; LANES],
    cond: [u32; LANES],
    idx: [u32; LANES],
}

/// Four IPv4 rules.
pub(crate) type Block4 = Block;
/// Four IPv6 rules' second address words.
pub(crate) type Block6 = Block;

/// Sets lane `lane` of `a` (below [`LANES`]).
fn put<T>(a: &mut [T; LANES], lane: usize, v: T) {
    if let Some(x) = a.get_mut(lane) {
        *x = v;
    }
}

/// A port range as a lane holds it: first port, and last minus first
/// above it.
const fn port_lane((first, span): (u16, u16)) -> u32 {
    (first as u32) | ((span as u32) << 16)
}

/// The port range of a lane (see [`port_lane`]).
const fn lane_ports(x: u32) -> (u16, u16) {
    (x as u16, (x >> 16) as u16)
}

impl Block {
    /// [`LaneBlock::copy_lane`]: field by field, nothing recomputed.
    fn copy_lane_of(&mut self, lane: usize, from: &Self, at: usize) {
        fn copy<T: Copy>(to: &mut [T; LANES], lane: usize, from: &[T; LANES], at: usize) {
            if let (Some(x), Some(&v)) = (to.get_mut(lane), from.get(at)) {
                *x = v;
            }
        }
        copy(&mut self.src, lane, &from.src, at);
        copy(&mut self.src_mask, lane, &from.src_mask, at);
        copy(&mut self.dst, lane, &from.dst, at);
        copy(&mut self.dst_mask, lane, &from.dst_mask, at);
        copy(&mut self.sport, lane, &from.sport, at);
        copy(&mut self.dport, lane, &from.dport, at);
        copy(&mut self.cond, lane, &from.cond, at);
        copy(&mut self.idx, lane, &from.idx, at);
    }

    /// Puts a rule's fields in lane `lane`, its addresses and masks as
    /// words `addr`, its index word `idx`.
    fn set_lane<A: Addr>(&mut self, lane: usize, r: &Rule<A>, addr: [u32; 4], idx: u32) {
        let [src, src_mask, dst, dst_mask] = addr;
        put(&mut self.src, lane, src);
        put(&mut self.src_mask, lane, src_mask);
        put(&mut self.dst, lane, dst);
        put(&mut self.dst_mask, lane, dst_mask);
        put(&mut self.sport, lane, port_lane(r.sport));
        put(&mut self.dport, lane, port_lane(r.dport));
        put(&mut self.cond, lane, r.cond);
        put(&mut self.idx, lane, idx);
    }

    /// Bit `i` set when lane `i` passes a packet whose address words are
    /// `ks`, `kd`, conditions word `pc`, ports `sp`, `dp` and first-word
    /// flags `tops` (a lane's [`SRC_TOP`] / [`DST_TOP`] must be among
    /// them; IPv4 passes both, and its lanes set neither, so the compiler
    /// drops the test). The four lanes are written out one by one
    /// (destructured, no indexing): the compiler vectorizes the four
    /// identical computations.
    #[inline(always)]
    fn hits_of(&self, ks: u32, kd: u32, pc: u32, (sp, dp): (u16, u16), tops: u32) -> u32 {
        let (sp, dp) = (u32::from(sp), u32::from(dp));
        let need = ALL_TOPS & !tops;
        let lane = |src: u32, sm: u32, dst: u32, dm: u32, s: u32, d: u32, c: u32, i: u32| {
            let addr = ((ks ^ src) & sm) | ((kd ^ dst) & dm) | (i & need);
            u32::from(addr | conds_and_ports(pc, sp, dp, s, d, c) == 0)
        };
        let [s0, s1, s2, s3] = self.src;
        let [sm0, sm1, sm2, sm3] = self.src_mask;
        let [d0, d1, d2, d3] = self.dst;
        let [dm0, dm1, dm2, dm3] = self.dst_mask;
        let [sp0, sp1, sp2, sp3] = self.sport;
        let [dp0, dp1, dp2, dp3] = self.dport;
        let [c0, c1, c2, c3] = self.cond;
        let [i0, i1, i2, i3] = self.idx;
        lane(s0, sm0, d0, dm0, sp0, dp0, c0, i0)
            | (lane(s1, sm1, d1, dm1, sp1, dp1, c1, i1) << 1)
            | (lane(s2, sm2, d2, dm2, sp2, dp2, c2, i2) << 2)
            | (lane(s3, sm3, d3, dm3, sp3, dp3, c3, i3) << 3)
    }
}

/// 0 when a packet with conditions word `pc` and ports `sp`, `dp` meets a
/// lane's conditions word `c` and port ranges `s`, `d`; non-zero
/// otherwise. The mask of the conditions a rule checks comes from its
/// kind bits (bits 28, 29, 30: VLAN, protocol number, DSCP; see
/// [`COND_KINDS`]) by shifts, not from a table, so that four lanes compute
/// it at once. A port is out of range when span - (port - first) is
/// negative: bit 31.
#[inline(always)]
fn conds_and_ports(pc: u32, sp: u32, dp: u32, s: u32, d: u32, c: u32) -> u32 {
    let mask = (((c >> COND_KINDS) & 1).wrapping_neg() & COND_VLAN)
        | (((c >> (COND_KINDS + 1)) & 1).wrapping_neg() & COND_PROTO)
        | (((c >> (COND_KINDS + 2)) & 1).wrapping_neg() & COND_DSCP)
        | (c & (COND_TCP_OR_UDP | COND_PORTS));
    let sx = sp.wrapping_sub(s & 0xFFFF) & 0xFFFF;
    let dx = dp.wrapping_sub(d & 0xFFFF) & 0xFFFF;
    let out = ((s >> 16).wrapping_sub(sx) | (d >> 16).wrapping_sub(dx)) >> 31;
    ((pc ^ c) & mask) | out
}

impl LaneBlock<u32> for Block4 {
    const KEEPS_RULES: bool = false;

    fn set(&mut self, lane: usize, r: &Rule<u32>, _: [u32; 2]) {
        self.set_lane(lane, r, [r.src, r.src_mask, r.dst, r.dst_mask], r.idx);
    }

    fn rule(&self, lane: usize) -> Option<Rule<u32>> {
        let get = |a: &[u32; LANES]| a.get(lane).copied();
        Some(Rule {
            src: get(&self.src)?,
            dst: get(&self.dst)?,
            src_mask: get(&self.src_mask)?,
            dst_mask: get(&self.dst_mask)?,
            sport: lane_ports(get(&self.sport)?),
            dport: lane_ports(get(&self.dport)?),
            idx: get(&self.idx)?,
            cond: get(&self.cond)?,
            line: [],
        })
    }

    #[inline(always)]
    fn tops(_: &Packet<u32>, _: [u32; 2]) -> u32 {
        ALL_TOPS
    }

    #[inline(always)]
    fn hits(&self, p: &Packet<u32>, tops: u32) -> u32 {
        self.hits_of(p.src, p.dst, p.cond, (p.sport, p.dport), tops)
    }

    #[inline(always)]
    fn idx(&self, lane: u32) -> u32 {
        self.idx.get(lane as usize).copied().unwrap_or(u32::MAX)
    }

    #[inline(always)]
    fn full(&self, _: u32) -> bool {
        false
    }

    fn set_idx(&mut self, lane: usize, idx: u32) {
        put(&mut self.idx, lane, idx);
    }

    fn copy_lane(&mut self, lane: usize, from: &Self, from_lane: usize) {
        self.copy_lane_of(lane, from, from_lane);
    }
}

/// The mask of `len` leading one bits of a `u32` (past 32, all ones).
const fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else if len >= 32 {
        u32::MAX
    } else {
        // 1..=31: the shift is 1..=31, in range.
        u32::MAX.wrapping_shl(32u32.wrapping_sub(len as u32))
    }
}

/// One address of an IPv6 rule as a lane holds it, in a tree whose first
/// address word is `top`: the second word (bits 64..96) under its part
/// of the prefix mask, and the index flags: `need` when the prefix covers
/// the whole first word and it is `top`; [`FULL`] when the lane cannot
/// tell the prefix (part of the first word, another first word, or past
/// bit 64). The second word is checked in every case: a rule's answer
/// needs it.
fn v6_side(addr: u128, len: u8, top: u32, need: u32) -> (u32, u32, u32) {
    let [first, second] = addr.words();
    let mask = mask32(len.saturating_sub(32));
    let flags = if len == 0 {
        0
    } else if len >= 32 && first == top {
        need
    } else {
        FULL
    };
    let flags = if len > 64 { flags | FULL } else { flags };
    (second & mask, mask, flags)
}

impl LaneBlock<u128> for Block6 {
    const KEEPS_RULES: bool = true;

    fn set(&mut self, lane: usize, r: &Rule<u128>, [ts, td]: [u32; 2]) {
        let (sl, dl) = r.lens();
        let (s, sm, sf) = v6_side(r.src, sl, ts, SRC_TOP);
        let (d, dm, df) = v6_side(r.dst, dl, td, DST_TOP);
        self.set_lane(lane, r, [s, sm, d, dm], r.idx | sf | df);
    }

    fn rule(&self, _: usize) -> Option<Rule<u128>> {
        None
    }

    #[inline(always)]
    fn tops(p: &Packet<u128>, [ts, td]: [u32; 2]) -> u32 {
        let ([s, _], [d, _]) = (p.src.words(), p.dst.words());
        (u32::from(s == ts).wrapping_neg() & SRC_TOP)
            | (u32::from(d == td).wrapping_neg() & DST_TOP)
    }

    #[inline(always)]
    fn hits(&self, p: &Packet<u128>, tops: u32) -> u32 {
        let ([_, s], [_, d]) = (p.src.words(), p.dst.words());
        self.hits_of(s, d, p.cond, (p.sport, p.dport), tops)
    }

    #[inline(always)]
    fn idx(&self, lane: u32) -> u32 {
        self.idx
            .get(lane as usize)
            .map_or(u32::MAX, |&i| i & !FLAGS)
    }

    #[inline(always)]
    fn full(&self, lane: u32) -> bool {
        self.idx.get(lane as usize).is_some_and(|&i| i & FULL != 0)
    }

    fn set_idx(&mut self, lane: usize, idx: u32) {
        if let Some(x) = self.idx.get_mut(lane) {
            *x = (*x & FLAGS) | (idx & !FLAGS);
        }
    }

    fn copy_lane(&mut self, lane: usize, from: &Self, from_lane: usize) {
        self.copy_lane_of(lane, from, from_lane);
    }
}

/// The first address words a tree's IPv6 lanes check by flag
/// ([`Lanes::top`]): for source and destination, the first word most of
/// `rules` have whole in their prefix (0 when none does; IPv4: 0).
pub(crate) fn common_top<A: Addr>(rules: &[Rule<A>]) -> [u32; 2] {
    if A::WORDS < 2 {
        return [0, 0];
    }
    let most = |side: fn(&Rule<A>) -> Option<u32>| {
        let mut words: Vec<u32> = rules.iter().filter_map(side).collect();
        words.sort_unstable();
        // The longest run of equal words; on a tie the smallest word
        // (`max_by_key` keeps the last maximum, hence `rev`).
        words
            .chunk_by(|a, b| a == b)
            .rev()
            .max_by_key(|run| run.len())
            .and_then(|run| run.first())
            .copied()
            .unwrap_or(0)
    };
    [
        most(|r| (r.lens().0 >= 32).then(|| r.src().words()[0])),
        most(|r| (r.lens().1 >= 32).then(|| r.dst().words()[0])),
    ]
}

/// A tree's leaf runs: `len` rules in blocks of [`LANES`] (the last one
/// partly used), and for IPv6 the rules themselves at the same positions
/// ([`LaneBlock::KEEPS_RULES`]). Positions are what leaf nodes point at.
#[derive(Debug, Clone)]
pub(crate) struct Lanes<A: Addr> {
    blocks: Vec<A::Block>,
    len: usize,
    rules: Vec<Rule<A>>,
    /// IPv6: the first address words (bits 96..128; source, destination)
    /// the lanes check with one flag each ([`common_top`]).
    top: [u32; 2],
}

impl<A: Addr> Lanes<A> {
    /// Empty, with room for `lanes` rules, whose IPv6 lanes check the
    /// first address words `top` by flag ([`common_top`]).
    pub(crate) fn with_capacity(lanes: usize, top: [u32; 2]) -> Self {
        Self {
            top,
            blocks: Vec::with_capacity(lanes.div_ceil(LANES)),
            len: 0,
            rules: if A::Block::KEEPS_RULES {
                Vec::with_capacity(lanes)
            } else {
                Vec::new()
            },
        }
    }

    /// Opens the next lane (and a block for it when the last is full) and
    /// returns its block and lane: what [`Lanes::push`] and
    /// [`Lanes::push_copy`] fill.
    fn next_lane(&mut self) -> Option<(&mut A::Block, usize)> {
        let lane = self.len % LANES;
        if lane == 0 {
            self.blocks.push(A::Block::default());
        }
        self.len = self.len.wrapping_add(1);
        self.blocks.last_mut().map(|b| (b, lane))
    }

    /// The first address words the IPv6 lanes check by flag.
    pub(crate) const fn top(&self) -> [u32; 2] {
        self.top
    }

    /// Appends `r`.
    pub(crate) fn push(&mut self, r: Rule<A>) {
        let top = self.top;
        if let Some((b, lane)) = self.next_lane() {
            b.set(lane, &r, top);
        }
        if A::Block::KEEPS_RULES {
            self.rules.push(r);
        }
    }

    /// The rule at position `i`.
    pub(crate) fn get(&self, i: usize) -> Option<Rule<A>> {
        if i >= self.len {
            return None;
        }
        if A::Block::KEEPS_RULES {
            return self.rules.get(i).copied();
        }
        self.blocks.get(i / LANES)?.rule(i % LANES)
    }

    /// The index of the rule at position `i` (cheaper than
    /// [`Lanes::get`]: one word).
    pub(crate) fn idx(&self, i: usize) -> Option<u32> {
        if i >= self.len {
            return None;
        }
        Some(self.blocks.get(i / LANES)?.idx((i % LANES) as u32))
    }

    /// The rules at positions `start..start + len`.
    pub(crate) fn run(
        &self,
        start: usize,
        len: usize,
    ) -> impl Iterator<Item = Rule<A>> + Clone + '_ {
        (start..start.saturating_add(len)).map_while(|i| self.get(i))
    }

    /// Every rule held, fillers included.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Rule<A>> + Clone + '_ {
        self.run(0, self.len)
    }

    /// Where a run of `len` rules appended now would start: the next
    /// block when that spares the run a block (see the module docs).
    pub(crate) const fn next_start(at: usize, len: usize) -> usize {
        let lane = at % LANES;
        if lane != 0
            && len != 0
            && (lane.wrapping_add(len).wrapping_add(LANES - 1)) / LANES
                > len.wrapping_add(LANES - 1) / LANES
        {
            at.wrapping_add(LANES.wrapping_sub(lane))
        } else {
            at
        }
    }

    /// Appends a run of `len` items with `push` (best first), after
    /// fillers (copies of the first) when [`Lanes::next_start`] moves it,
    /// and returns where it starts.
    fn place_run<T: Copy>(
        &mut self,
        run: impl Iterator<Item = T> + Clone,
        len: usize,
        mut push: impl FnMut(&mut Self, T),
    ) -> usize {
        let to = Self::next_start(self.len, len);
        if let Some(first) = run.clone().next() {
            while self.len < to {
                push(self, first);
            }
        }
        let start = self.len;
        run.for_each(|x| push(self, x));
        start
    }

    /// Appends a leaf's run of `len` rules (best first) and returns where
    /// it starts (see [`Lanes::place_run`]).
    pub(crate) fn push_run(
        &mut self,
        run: impl Iterator<Item = Rule<A>> + Clone,
        len: usize,
    ) -> usize {
        self.place_run(run, len, Self::push)
    }

    /// Appends a copy of the rule at position `i` of `old`, lane to lane
    /// (no rule rebuilt: a copy of a whole forest for an insert copies
    /// every rule). `self` must have been made with `old`'s first words
    /// ([`Lanes::top`]): a lane's flags are copied as they are.
    fn push_copy(&mut self, old: &Self, i: usize) {
        let Some(from) = old.blocks.get(i / LANES).filter(|_| i < old.len) else {
            return;
        };
        if let Some((b, lane)) = self.next_lane() {
            b.copy_lane(lane, from, i % LANES);
        }
        if A::Block::KEEPS_RULES {
            if let Some(r) = old.rules.get(i) {
                self.rules.push(*r);
            }
        }
    }

    /// Appends the `count` rules at positions `start..start + len` of `old`
    /// whose index is not `drop`, placed as [`Lanes::push_run`] places a
    /// run, and returns where they start.
    pub(crate) fn push_run_from(
        &mut self,
        old: &Self,
        (start, len): (usize, usize),
        drop: Option<u32>,
        count: usize,
    ) -> usize {
        let kept = (start..start.saturating_add(len))
            .filter(|&i| old.idx(i).is_some_and(|x| Some(x) != drop));
        self.place_run(kept, count, |lanes, i| lanes.push_copy(old, i))
    }

    /// Sets every rule's index to `f` of it.
    pub(crate) fn map_idx(&mut self, f: impl Fn(u32) -> u32) {
        for (i, r) in self.rules.iter_mut().enumerate().take(self.len) {
            r.idx = f(r.idx);
            if let Some(b) = self.blocks.get_mut(i / LANES) {
                b.set_idx(i % LANES, r.idx);
            }
        }
        if !A::Block::KEEPS_RULES {
            for (j, b) in self.blocks.iter_mut().enumerate() {
                for lane in 0..LANES {
                    if j.wrapping_mul(LANES).wrapping_add(lane) < self.len {
                        b.set_idx(lane, f(b.idx(lane as u32)));
                    }
                }
            }
        }
    }

    /// Heap bytes owned.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.blocks
            .capacity()
            .saturating_mul(core::mem::size_of::<A::Block>())
            .saturating_add(
                self.rules
                    .capacity()
                    .saturating_mul(core::mem::size_of::<Rule<A>>()),
            )
    }

    /// The index of the first rule of the run `start..start + len` that
    /// matches `p`, if it is below `best`; else `best`; `tops` is
    /// [`LaneBlock::tops`] of `p` and [`Lanes::top`] (computed once per
    /// lookup: a forest's trees share their first words). Cannot panic: a
    /// position past the blocks ends the scan.
    #[inline(always)]
    pub(crate) fn scan(
        &self,
        start: usize,
        len: usize,
        best: u32,
        (p, tops): (&Packet<A>, u32),
    ) -> u32 {
        self.scan_blocks(start, len, best, (p, tops), |_| {})
    }

    /// [`Lanes::scan`], counting the rules compared (`candidates`: the
    /// run's lanes of each block checked).
    pub(crate) fn scan_counting(
        &self,
        start: usize,
        len: usize,
        best: u32,
        (p, tops): (&Packet<A>, u32),
        cost: &mut LookupCost,
    ) -> u32 {
        self.scan_blocks(start, len, best, (p, tops), |n| {
            cost.candidates = cost.candidates.saturating_add(n);
        })
    }

    /// [`Lanes::scan`], telling `checked` how many of the run's lanes each
    /// block check compares.
    #[inline(always)]
    fn scan_blocks(
        &self,
        start: usize,
        len: usize,
        best: u32,
        (p, tops): (&Packet<A>, u32),
        mut checked: impl FnMut(u32),
    ) -> u32 {
        let end = start.saturating_add(len);
        let mut at = start;
        while at < end {
            let Some(b) = self.blocks.get(at / LANES) else {
                break;
            };
            let first = (at % LANES) as u32;
            if b.idx(first) >= best {
                break;
            }
            // 1..=4 lanes of the run in this block.
            let n = (LANES.wrapping_sub(first as usize)).min(end.wrapping_sub(at));
            checked(n as u32);
            let valid = (1u32.wrapping_shl(n as u32).wrapping_sub(1)).wrapping_shl(first);
            let hits = b.hits(p, tops) & valid;
            if hits != 0 {
                let lane = hits.trailing_zeros();
                let idx = b.idx(lane);
                if idx >= best {
                    return best;
                }
                if !b.full(lane) {
                    return idx;
                }
                if let Some(found) = self.full_hits(b, at & !(LANES - 1), hits, best, *p) {
                    return found;
                }
            }
            at = at.wrapping_add(n);
        }
        best
    }

    /// The scan of block `b` (its first lane at `base`) whose first hit
    /// in `hits` is a full lane: each hit in turn, a full one checked
    /// against its rule. `Some` of the answer, or `None` when no lane of
    /// the block matches (the scan goes on). Out of line and cold: only
    /// full lanes (IPv6 prefixes past bit 64, or under another first
    /// word) need it, and the packet comes by value so that a lookup
    /// keeps it in registers (see the module docs).
    #[cold]
    #[inline(never)]
    fn full_hits(
        &self,
        b: &A::Block,
        base: usize,
        mut hits: u32,
        best: u32,
        p: Packet<A>,
    ) -> Option<u32> {
        while hits != 0 {
            let lane = hits.trailing_zeros();
            let idx = b.idx(lane);
            if idx >= best {
                return Some(best);
            }
            if !b.full(lane)
                || self
                    .rules
                    .get(base | lane as usize)
                    .is_some_and(|r| r.matches(&p))
            {
                return Some(idx);
            }
            hits &= hits.wrapping_sub(1);
        }
        None
    }

    /// Checks that every block lane agrees with its rule (for tests).
    #[cfg(test)]
    pub(crate) fn check(&self) {
        assert_eq!(self.blocks.len(), self.len.div_ceil(LANES));
        if A::Block::KEEPS_RULES {
            assert_eq!(self.rules.len(), self.len);
            for (i, r) in self.rules.iter().enumerate() {
                let mut b = A::Block::default();
                b.set(i % LANES, r, self.top);
                assert_eq!(
                    b.idx((i % LANES) as u32),
                    self.blocks[i / LANES].idx((i % LANES) as u32)
                );
                assert_eq!(b.idx((i % LANES) as u32), r.idx);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpc::matching::{Addr, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, prefix_mask};
    use crate::gpc::{DEFAULT_PRECEDENCE, Filter, PortRange, Prefix, ProtocolMatch};
    use crate::packet::{Family, FlowKey, L4, VlanTag};

    use crate::gpc::TestRng as Rng;

    /// An address from a small pool, so that prefixes and packets often
    /// share bits on both sides of bit 64 (IPv6) or bit 16 (IPv4).
    fn addr(rng: &mut Rng, family: Family) -> u128 {
        match family {
            Family::V4 => u128::from(rng.pick(&[0x0A00_0001u32, 0x0A00_8001, 0xC0A8_0101])),
            Family::V6 => {
                let hi = rng.pick(&[
                    0x2001_0db8_0000_0001u64,
                    0x2001_0db8_0000_0002,
                    0xfe80 << 48,
                ]);
                let lo = rng.pick(&[0u64, 1, 0x8000_0000_0000_0000, 0xdead_beef]);
                (u128::from(hi) << 64) | u128::from(lo)
            }
        }
    }

    fn prefix(rng: &mut Rng, family: Family) -> Prefix {
        let (len, bits) = match family {
            Family::V4 => (rng.pick(&[0u8, 1, 8, 16, 17, 24, 31, 32]), 32),
            Family::V6 => (
                rng.pick(&[0u8, 1, 17, 32, 48, 63, 64, 65, 96, 127, 128]),
                128,
            ),
        };
        let a = addr(rng, family);
        // Prefixes are kept in the filter's own width (IPv4 in the low 32
        // bits), masked to `len` there.
        let mask = prefix_mask(len) >> (128 - bits);
        Prefix {
            addr: a & mask,
            len,
        }
    }

    fn ports(rng: &mut Rng) -> PortRange {
        match rng.next() % 3 {
            0 => PortRange::ANY,
            1 => PortRange::single(rng.pick(&[53, 80, 443])),
            _ => PortRange { lo: 1000, hi: 2000 },
        }
    }

    fn filter(rng: &mut Rng, family: Family, i: u32) -> Filter {
        Filter {
            id: i,
            flow: i,
            family,
            src: prefix(rng, family),
            dst: prefix(rng, family),
            src_ports: ports(rng),
            dst_ports: ports(rng),
            protocol: rng.pick(&[
                ProtocolMatch::Any,
                ProtocolMatch::Tcp,
                ProtocolMatch::Udp,
                ProtocolMatch::TcpOrUdp,
                ProtocolMatch::Icmp,
                ProtocolMatch::Number(50),
            ]),
            dscp: rng.pick(&[None, None, Some(46)]),
            vlan: rng.pick(&[None, None, Some(7)]),
            precedence: DEFAULT_PRECEDENCE,
        }
    }

    /// A packet near the filter `f`: its addresses with a bit flipped now
    /// and then, ports in and out of its ranges, or none.
    fn packet_near(rng: &mut Rng, f: &Filter) -> FlowKey {
        let bits: &[Option<u32>] = match f.family {
            Family::V4 => &[None, Some(0), Some(15), Some(16), Some(31)],
            Family::V6 => &[None, Some(0), Some(40), Some(63), Some(64), Some(100)],
        };
        let mut near = |a: u128| rng.pick(bits).map_or(a, |bit| a ^ (1u128 << bit));
        let (src, dst) = (near(f.src.addr | 1), near(f.dst.addr));
        let port = |rng: &mut Rng| rng.pick(&[0u16, 53, 80, 443, 1000, 1500, 2001, 65535]);
        let l4 = if rng.next() % 5 == 0 {
            L4::None
        } else {
            L4::Ports {
                src: port(rng),
                dst: port(rng),
            }
        };
        FlowKey {
            family: f.family,
            src,
            dst,
            protocol: rng.pick(&[PROTO_TCP, PROTO_UDP, PROTO_ICMPV6, 1, 50]),
            l4,
            dscp: rng.pick(&[0u8, 46, 70]),
            ecn: 0,
            vlan: rng
                .pick(&[None, Some(7u16), Some(4095)])
                .map(|vid| VlanTag {
                    vid,
                    pcp: 0,
                    dei: false,
                }),
        }
    }

    /// Checks every lane of blocks of random rules of family `A` against
    /// the rule's own answer on packets near it; returns (lanes checked
    /// that matched, full lanes seen).
    fn lanes_decide_as_rules<A: Addr>(family: Family, seed: u64) -> (usize, usize) {
        let mut rng = Rng(seed);
        let (mut matched, mut full) = (0, 0);
        for round in 0..1000u32 {
            let filters: Vec<Filter> = (0..LANES as u32)
                .map(|i| filter(&mut rng, family, round * 4 + i))
                .collect();
            let rules: Vec<Rule<A>> = filters
                .iter()
                .zip(0u32..)
                .map(|(f, i)| Rule::new(f, round * 4 + i))
                .collect();
            // The tree's first words: mostly the pool's common one, so
            // that flags and full lanes both occur.
            let top = [
                rng.pick(&[0x2001_0db8u32, 0x2001_0db8, 0xfe80_0000]),
                rng.pick(&[0x2001_0db8u32, 0x2001_0db8, 0]),
            ];
            let mut b = A::Block::default();
            for (lane, r) in rules.iter().enumerate() {
                b.set(lane, r, top);
                assert_eq!(b.idx(lane as u32), r.idx);
                if !A::Block::KEEPS_RULES {
                    assert_eq!(b.rule(lane), Some(*r), "lane does not round-trip");
                }
            }
            for (lane, f) in filters.iter().enumerate() {
                // Full: a prefix past 64 bits, or one the first-word flag
                // cannot stand for (part of the first word, or another).
                let untold = |p: &Prefix, t: u32| {
                    p.len > 64 || (p.len > 0 && (p.len < 32 || (p.addr >> 96) as u32 != t))
                };
                let long = untold(&f.src, top[0]) || untold(&f.dst, top[1]);
                assert_eq!(b.full(lane as u32), family == Family::V6 && long);
                full += usize::from(b.full(lane as u32));
                for _ in 0..20 {
                    let key = packet_near(&mut rng, f);
                    let p = Packet::new(
                        A::from_aligned(crate::gpc::matching::aligned(family, key.src)),
                        A::from_aligned(crate::gpc::matching::aligned(family, key.dst)),
                        &key,
                    );
                    let hits = b.hits(&p, A::Block::tops(&p, top));
                    for (l, g) in filters.iter().enumerate() {
                        let want = g.matches(&key);
                        let hit = hits >> l & 1 != 0;
                        if b.full(l as u32) {
                            // A full lane may hit where its rule does not,
                            // never the other way round.
                            assert!(hit || !want, "full lane missed {g:?} on {key:?}");
                        } else {
                            assert_eq!(hit, want, "lane of {g:?} on {key:?}");
                        }
                        matched += usize::from(want);
                    }
                }
            }
        }
        (matched, full)
    }

    #[test]
    fn an_ipv4_lane_decides_as_its_rule_does() {
        let (matched, full) = lanes_decide_as_rules::<u32>(Family::V4, 0x1A4E_0000_0000_0004);
        assert!(matched > 2000, "{matched}");
        assert_eq!(full, 0);
    }

    #[test]
    fn an_ipv6_lane_decides_as_its_rule_does() {
        // A lane is exact (not full) exactly when its rule's prefixes end
        // within bits 32..=64 under the tree's first word, or are empty;
        // DSCP and VLAN conditions are in the lane.
        let (matched, full) = lanes_decide_as_rules::<u128>(Family::V6, 0x1A4E_0000_0000_0006);
        assert!(matched > 2000 && full > 300, "{matched} {full}");
    }

    /// A run of rules of ascending index from random filters.
    fn run_of<A: Addr>(rng: &mut Rng, family: Family, len: usize, base: u32) -> Vec<Rule<A>> {
        (0..len as u32)
            .map(|i| Rule::new(&filter(rng, family, i), base + i * 2))
            .collect()
    }

    /// Pushes runs of random lengths, then checks each run's placement
    /// (the fewest blocks), that it reads back, and that a scan of it
    /// below random bests gives what checking its rules one by one gives.
    fn runs_scan_as_a_list_does<A: Addr>(family: Family, seed: u64) {
        let mut rng = Rng(seed);
        let mut lanes =
            Lanes::<A>::with_capacity(0, common_top(&run_of::<A>(&mut rng, family, 50, 0)));
        let mut runs = Vec::new();
        for k in 0..300u32 {
            let len = rng.pick(&[0usize, 1, 1, 2, 3, 4, 5, 7, 8, 9, 13]);
            let run = run_of::<A>(&mut rng, family, len, k * 100);
            let start = lanes.push_run(run.iter().copied(), len);
            // A run spans the fewest blocks it can: a run of up to four
            // sits in one.
            if len > 0 {
                let blocks = (start + len - 1) / LANES - start / LANES + 1;
                assert_eq!(blocks, len.div_ceil(LANES), "run of {len} at {start}");
            }
            runs.push((start, run));
        }
        lanes.check();
        for (start, run) in &runs {
            assert!(lanes.run(*start, run.len()).eq(run.iter().copied()));
            let filters: Vec<Filter> = (0..4).map(|i| filter(&mut rng, family, i)).collect();
            for f in &filters {
                let key = packet_near(&mut rng, f);
                let p = Packet::new(
                    A::from_aligned(crate::gpc::matching::aligned(family, key.src)),
                    A::from_aligned(crate::gpc::matching::aligned(family, key.dst)),
                    &key,
                );
                for best in [u32::MAX, run.first().map_or(0, |r| r.idx + 3), 0] {
                    let want = run
                        .iter()
                        .take_while(|r| r.idx < best)
                        .find(|r| r.matches(&p))
                        .map_or(best, |r| r.idx);
                    let tops = A::Block::tops(&p, lanes.top());
                    assert_eq!(lanes.scan(*start, run.len(), best, (&p, tops)), want);
                    let mut cost = LookupCost::default();
                    assert_eq!(
                        lanes.scan_counting(*start, run.len(), best, (&p, tops), &mut cost),
                        want
                    );
                }
            }
        }
        // A copy lane by lane, dropping one rule, holds the same rules
        // placed as a push would place them.
        let mut copy = Lanes::<A>::with_capacity(0, lanes.top());
        for (k, (start, run)) in runs.iter().enumerate() {
            let drop = run.get(k % 3).map(|r| r.idx);
            let kept: Vec<Rule<A>> = run
                .iter()
                .copied()
                .filter(|r| Some(r.idx) != drop)
                .collect();
            let at = copy.push_run_from(&lanes, (*start, run.len()), drop, kept.len());
            assert_eq!(at, Lanes::<A>::next_start(at, kept.len()));
            assert!(copy.run(at, kept.len()).eq(kept.iter().copied()));
        }
        copy.check();
        // Index shifts reach blocks and kept rules alike.
        lanes.map_idx(|i| i + 1);
        lanes.check();
        for (start, run) in &runs {
            assert!(
                lanes
                    .run(*start, run.len())
                    .map(|r| r.idx)
                    .eq(run.iter().map(|r| r.idx + 1))
            );
        }
    }

    #[test]
    fn ipv4_runs_scan_as_a_list_does() {
        runs_scan_as_a_list_does::<u32>(Family::V4, 0x5CA4_0000_0000_0001);
    }

    #[test]
    fn ipv6_runs_scan_as_a_list_does() {
        runs_scan_as_a_list_does::<u128>(Family::V6, 0x5CA6_0000_0000_0001);
    }
}

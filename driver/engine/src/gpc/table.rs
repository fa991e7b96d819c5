//! One tuple table of the classifier: an open-addressing hash table over two
//! `Vec`s, keyed by the packet's addresses masked to the table's prefix
//! lengths.
//!
//! Layout: `slots` (a power of two long, linear probing) maps a 32-bit tag
//! (the hash of the masked source and destination addresses) to a bucket:
//! a run `entries[start..start + len]` of [`Rule`]s (the filters' conditions
//! inline, so a bucket scan reads consecutive memory), by ascending filter
//! index (a smaller index is a better rank). Different masked keys whose tags are
//! equal simply share a bucket: every candidate is checked in full anyway,
//! so a tag collision costs a little time, never a wrong answer.
//!
//! Invariants (kept by every method):
//! - an empty slot has `start == EMPTY`; an occupied slot has `len >= 1`;
//! - the buckets of the occupied slots tile `entries` exactly, without gaps
//!   or overlap (so moving entries only shifts the starts of later buckets);
//! - each bucket is sorted by ascending index, indexes distinct;
//! - `min` is the smallest index held, `u32::MAX` when the table is empty.
//!
//! Building happens in two steps to stay O(n): [`TupleTable::stage`] only
//! counts per tag and remembers (tag, index) pairs, [`TupleTable::finish`]
//! lays the buckets out. After that, [`TupleTable::insert`] and
//! [`TupleTable::remove`] edit the layout in place (O(table size)), which is
//! what "add one filter and publish" costs.

use alloc::vec;
use alloc::vec::Vec;

use super::matching::{Addr, Rule};

/// Start value of an empty slot.
const EMPTY: u32 = u32::MAX;

/// One hash slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    tag: u32,
    start: u32,
    len: u32,
}

pub(crate) const EMPTY_SLOT: Slot = Slot {
    tag: 0,
    start: EMPTY,
    len: 0,
};

/// Smallest slot count that keeps the load at or below 5/8 for `keys` keys.
fn capacity_for(keys: usize) -> usize {
    let want = keys.saturating_mul(8) / 5;
    want.saturating_add(1)
        .checked_next_power_of_two()
        .unwrap_or(1 << 30)
        .max(4)
}

/// A tuple table: filters whose source prefix is at least `src_bits` long and
/// whose destination prefix is at least `dst_bits` long, hashed on the
/// addresses masked to those lengths, and, when `by_port`, on the
/// destination port too (then it holds only filters with a single
/// destination port, and packets without ports skip it).
#[derive(Debug, Clone)]
pub(crate) struct TupleTable<A: Addr> {
    pub(crate) src_bits: u8,
    pub(crate) dst_bits: u8,
    pub(crate) by_port: bool,
    src_mask: A,
    dst_mask: A,
    /// Smallest filter index held (the table's best rank).
    pub(crate) min: u32,
    /// Filters held.
    count: u32,
    /// Occupied slots.
    keys: u32,
    /// A one-hash Bloom filter of the tags present (about 16 bits per
    /// key): a lookup tests one bit, in a few kilobytes that stay in cache,
    /// before it touches the slots; most tables are skipped that way.
    bloom: Vec<u64>,
    slots: Vec<Slot>,
    entries: Vec<Rule<A>>,
    /// (tag, rule) pairs waiting for [`TupleTable::finish`].
    staged: Vec<(u32, Rule<A>)>,
}

impl<A: Addr> TupleTable<A> {
    /// An empty table for the tuple (`src_bits`, `dst_bits`, `by_port`).
    pub(crate) fn new(src_bits: u8, dst_bits: u8, by_port: bool) -> Self {
        Self {
            src_bits,
            dst_bits,
            by_port,
            src_mask: A::mask(src_bits),
            dst_mask: A::mask(dst_bits),
            min: u32::MAX,
            count: 0,
            keys: 0,
            bloom: vec![0; 1],
            slots: vec![EMPTY_SLOT; 4],
            entries: Vec::new(),
            staged: Vec::new(),
        }
    }

    /// Filters held.
    pub(crate) const fn len(&self) -> u32 {
        self.count
    }

    /// True when a filter with these prefix lengths (and this single
    /// destination port, if any) may live here.
    #[inline]
    pub(crate) const fn accepts(&self, src_len: u8, dst_len: u8, dport: Option<u16>) -> bool {
        self.src_bits <= src_len && self.dst_bits <= dst_len && (!self.by_port || dport.is_some())
    }

    /// The tag of addresses `src`, `dst` and destination port `dport` in
    /// this table (`dport` counts only when the table is `by_port`).
    #[inline]
    pub(crate) fn tag(&self, src: A, dst: A, dport: u16) -> u32 {
        // Fold the masked pair to 64 bits (exact for IPv4), then mix every
        // input bit into every output bit (MurmurHash3's fmix64): the slot
        // position uses the low bits of the tag, and masked addresses have
        // many zero low bits.
        let mut h = A::fold(A::and(src, self.src_mask), A::and(dst, self.dst_mask));
        if self.by_port {
            h ^= u64::from(dport).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        h ^= h >> 33;
        h as u32
    }

    /// The slot at `tag`'s home position (the first one probed), or an
    /// empty slot. Reading it early lets lookups overlap the memory latency
    /// of several tables.
    #[inline]
    pub(crate) fn home(&self, tag: u32) -> Slot {
        let mask = self.slots.len().wrapping_sub(1);
        self.slots
            .get(tag as usize & mask)
            .copied()
            .unwrap_or(EMPTY_SLOT)
    }

    /// The bucket of `tag` given its home slot `home` (from
    /// [`TupleTable::home`]): probes further only when the home slot holds
    /// another tag.
    #[inline]
    pub(crate) fn bucket_from_home(&self, tag: u32, home: Slot) -> &[Rule<A>] {
        if home.start == EMPTY {
            return &[];
        }
        let slot = if home.tag == tag {
            home
        } else {
            match self.find(tag).and_then(|p| self.slots.get(p)) {
                Some(s) => *s,
                None => return &[],
            }
        };
        let start = slot.start as usize;
        self.entries
            .get(start..start.saturating_add(slot.len as usize))
            .unwrap_or(&[])
    }

    /// The slot position holding `tag`, if any.
    #[inline]
    fn find(&self, tag: u32) -> Option<usize> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut pos = tag as usize & mask;
        for _ in 0..self.slots.len() {
            let slot = self.slots.get(pos)?;
            if slot.start == EMPTY {
                return None;
            }
            if slot.tag == tag {
                return Some(pos);
            }
            pos = pos.wrapping_add(1) & mask;
        }
        None
    }

    /// The candidates (best first) for `tag`. Empty when the tag is
    /// unknown. Allocation-free.
    #[inline]
    pub(crate) fn bucket(&self, tag: u32) -> &[Rule<A>] {
        let Some(slot) = self.find(tag).and_then(|p| self.slots.get(p)) else {
            return &[];
        };
        let start = slot.start as usize;
        let end = start.saturating_add(slot.len as usize);
        self.entries.get(start..end).unwrap_or(&[])
    }

    /// How many filters share `tag` (staged or laid out).
    pub(crate) fn bucket_len(&self, tag: u32) -> u32 {
        self.find(tag)
            .and_then(|p| self.slots.get(p))
            .map_or(0, |s| s.len)
    }

    /// Places a new slot for `tag` (not present) at its probe position,
    /// growing the table first if the load would pass 5/8.
    fn place_new(&mut self, tag: u32, start: u32, len: u32) {
        let keys = (self.keys as usize).saturating_add(1);
        if capacity_for(keys) > self.slots.len() {
            self.rehash(capacity_for(keys));
        }
        Self::put(&mut self.slots, Slot { tag, start, len });
        self.keys = self.keys.saturating_add(1);
        self.set_bloom(tag);
    }

    /// The Bloom bit of `tag`: (word, mask).
    #[inline]
    fn bloom_bit(&self, tag: u32) -> (usize, u64) {
        let bits = self.bloom.len().wrapping_mul(64);
        let i = (tag as usize) & bits.wrapping_sub(1);
        (i >> 6, 1u64 << (i & 63))
    }

    /// Marks `tag` present in the Bloom filter.
    fn set_bloom(&mut self, tag: u32) {
        let (w, m) = self.bloom_bit(tag);
        if let Some(word) = self.bloom.get_mut(w) {
            *word |= m;
        }
    }

    /// False when `tag` is certainly absent (no slot holds it).
    #[inline]
    pub(crate) fn may_hold(&self, tag: u32) -> bool {
        let (w, m) = self.bloom_bit(tag);
        self.bloom.get(w).is_some_and(|word| word & m != 0)
    }

    /// Resizes the Bloom filter for the current keys and refills it from
    /// the slots (also forgets removed tags).
    fn rebuild_bloom(&mut self) {
        let bits = (self.keys as usize)
            .saturating_mul(16)
            .checked_next_power_of_two()
            .unwrap_or(1 << 24)
            .clamp(64, 1 << 24);
        let mut bloom = vec![0u64; bits / 64];
        let mask = bits.wrapping_sub(1);
        for s in self.slots.iter().filter(|s| s.start != EMPTY) {
            let i = (s.tag as usize) & mask;
            if let Some(word) = bloom.get_mut(i >> 6) {
                *word |= 1u64 << (i & 63);
            }
        }
        self.bloom = bloom;
    }

    /// Puts `slot` into the first empty position of its probe sequence.
    fn put(slots: &mut [Slot], slot: Slot) {
        let mask = slots.len().wrapping_sub(1);
        let mut pos = slot.tag as usize & mask;
        for _ in 0..slots.len() {
            if let Some(s) = slots.get_mut(pos) {
                if s.start == EMPTY {
                    *s = slot;
                    return;
                }
            }
            pos = pos.wrapping_add(1) & mask;
        }
    }

    /// Rebuilds the slot array with `capacity` slots (a power of two larger
    /// than the number of keys), dropping nothing.
    fn rehash(&mut self, capacity: usize) {
        let mut slots = vec![EMPTY_SLOT; capacity];
        for slot in self.slots.iter().filter(|s| s.start != EMPTY) {
            Self::put(&mut slots, *slot);
        }
        self.slots = slots;
        self.rebuild_bloom();
    }

    /// Build step 1: counts `rule` under `tag`. Rules must be staged in
    /// ascending index order; call [`TupleTable::finish`] before any lookup.
    pub(crate) fn stage(&mut self, tag: u32, rule: Rule<A>) {
        let idx = rule.idx;
        match self.find(tag) {
            Some(pos) => {
                if let Some(s) = self.slots.get_mut(pos) {
                    s.len = s.len.saturating_add(1);
                }
            }
            None => self.place_new(tag, 0, 1),
        }
        self.staged.push((tag, rule));
        self.count = self.count.saturating_add(1);
        self.min = self.min.min(idx);
    }

    /// Build step 2: lays the staged buckets out and trims memory.
    pub(crate) fn finish(&mut self) {
        self.rehash(capacity_for(self.keys as usize));
        let mut next = 0u32;
        for slot in self.slots.iter_mut().filter(|s| s.start != EMPTY) {
            slot.start = next;
            next = next.saturating_add(slot.len);
            // `len` becomes the fill cursor, restored by the loop below.
            slot.len = 0;
        }
        let staged = core::mem::take(&mut self.staged);
        let Some(&(_, filler)) = staged.first() else {
            self.entries = Vec::new();
            return;
        };
        let mut entries = vec![filler; next as usize];
        for (tag, rule) in staged {
            let Some(slot) = self.find(tag).and_then(|p| self.slots.get_mut(p)) else {
                continue;
            };
            let at = slot.start.saturating_add(slot.len) as usize;
            slot.len = slot.len.saturating_add(1);
            if let Some(e) = entries.get_mut(at) {
                *e = rule;
            }
        }
        self.entries = entries;
    }

    /// Adds `rule` under `tag` in a laid-out table, keeping its bucket
    /// sorted. The caller has already renumbered (so `rule.idx` is not held
    /// yet).
    pub(crate) fn insert(&mut self, tag: u32, rule: Rule<A>) {
        let idx = rule.idx;
        self.count = self.count.saturating_add(1);
        self.min = self.min.min(idx);
        let Some(pos) = self.find(tag) else {
            let start = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
            self.entries.push(rule);
            self.place_new(tag, start, 1);
            return;
        };
        let Some(slot) = self.slots.get(pos).copied() else {
            return;
        };
        let start = slot.start as usize;
        let end = start.saturating_add(slot.len as usize);
        let offset = self
            .entries
            .get(start..end)
            .map_or(0, |b| b.partition_point(|e| e.idx < idx));
        let at = start.saturating_add(offset);
        if at > self.entries.len() {
            return;
        }
        self.entries.insert(at, rule);
        let at = u32::try_from(at).unwrap_or(u32::MAX);
        for (p, s) in self.slots.iter_mut().enumerate() {
            if p == pos {
                s.len = s.len.saturating_add(1);
            } else if s.start != EMPTY && s.start >= at {
                s.start = s.start.saturating_add(1);
            }
        }
    }

    /// Removes filter index `idx` from the bucket of `tag`. Returns false
    /// when it is not there. The caller renumbers afterwards.
    pub(crate) fn remove(&mut self, tag: u32, idx: u32) -> bool {
        let Some(pos) = self.find(tag) else {
            return false;
        };
        let Some(slot) = self.slots.get(pos).copied() else {
            return false;
        };
        let start = slot.start as usize;
        let end = start.saturating_add(slot.len as usize);
        let Some(offset) = self
            .entries
            .get(start..end)
            .and_then(|b| b.iter().position(|e| e.idx == idx))
        else {
            return false;
        };
        let at = start.saturating_add(offset);
        if at >= self.entries.len() {
            return false;
        }
        self.entries.remove(at);
        self.count = self.count.saturating_sub(1);
        let at = u32::try_from(at).unwrap_or(u32::MAX);
        let mut emptied = false;
        for (p, s) in self.slots.iter_mut().enumerate() {
            if p == pos {
                s.len = s.len.saturating_sub(1);
                if s.len == 0 {
                    *s = EMPTY_SLOT;
                    emptied = true;
                }
            } else if s.start != EMPTY && s.start > at {
                s.start = s.start.saturating_sub(1);
            }
        }
        if emptied {
            // Linear probing cannot simply blank a slot: re-place the rest.
            self.keys = self.keys.saturating_sub(1);
            self.rehash(self.slots.len());
        }
        self.min = self.entries.iter().map(|e| e.idx).min().unwrap_or(u32::MAX);
        true
    }

    /// Shifts every held index `>= from` by +1 (a filter was inserted at
    /// `from` in the classifier's rank-ordered list).
    pub(crate) fn shift_up_from(&mut self, from: u32) {
        for e in &mut self.entries {
            if e.idx >= from {
                e.idx = e.idx.saturating_add(1);
            }
        }
        if self.min != u32::MAX && self.min >= from {
            self.min = self.min.saturating_add(1);
        }
    }

    /// Shifts every held index `> removed` by -1 (the filter at `removed`
    /// left the classifier's list; it is no longer held here).
    pub(crate) fn shift_down_after(&mut self, removed: u32) {
        for e in &mut self.entries {
            if e.idx > removed {
                e.idx = e.idx.saturating_sub(1);
            }
        }
        if self.min != u32::MAX && self.min > removed {
            self.min = self.min.saturating_sub(1);
        }
    }

    /// Heap bytes owned.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots
            .capacity()
            .saturating_mul(core::mem::size_of::<Slot>())
            .saturating_add(self.bloom.capacity().saturating_mul(8))
            .saturating_add(
                self.entries
                    .capacity()
                    .saturating_mul(core::mem::size_of::<Rule<A>>()),
            )
            .saturating_add(
                self.staged
                    .capacity()
                    .saturating_mul(core::mem::size_of::<(u32, Rule<A>)>()),
            )
    }

    /// Longest bucket.
    pub(crate) fn longest_bucket(&self) -> u32 {
        self.slots.iter().map(|s| s.len).max().unwrap_or(0)
    }

    /// Every held rule (any order): for consistency checks.
    #[cfg(test)]
    pub(crate) fn rules(&self) -> &[Rule<A>] {
        &self.entries
    }
}

//! The compiled classifier, and its tuple-space engine.
//!
//! A [`Classifier`] holds the filters in rank order and one of two lookup
//! engines ([`Engine`]), both exact (they return the same filter for every
//! packet; the differential tests hold both to the reference):
//! - [`Engine::DecisionTree`] (module `tree`, [`Classifier::build_tree`]):
//!   HyperSplit-style trees, a few per family, each behind a gate that
//!   skips it for packets none of its rules can match. On the ClassBench
//!   sets it classifies 2-5.5x faster than the tuple space, 1k and 10k
//!   (see the `gpc` bench, which runs both engines back to back).
//! - [`Engine::TupleSpace`] (this module and `table`,
//!   [`Classifier::build_tuned`] with its [`Tuning`]): never copies a
//!   filter; kept as the fallback the cost model picks for a set whose
//!   trees would need far more work per packet than its tables.
//!
//! [`Classifier::build`] compiles both and keeps the one whose counted work
//! on a sample of packets (one inside each of up to [`PROBES`] filters)
//! costs less by a cost model fitted to the bench's timings (`work_cost`):
//! the trees on every ClassBench set. An update keeps the
//! engine of the classifier it starts from; [`Classifier::empty`] is a tree.

//! # The tuple-space engine
//!
//! # Why this structure
//! Packet-classification research offers two families: decision trees
//! (HiCuts, HyperCuts, EffiCuts...) and tuple space search (TSS and its
//! descendants TupleMerge and PartitionSort). Trees classify fast but
//! replicate wildcard-heavy filters across leaves (memory blows up on
//! firewall-like sets) and are slow to update. Tuple space search keeps each
//! filter exactly once, updates in place, and its cost depends on the number
//! of tables rather than the number of filters. TupleMerge (Daly et al.,
//! ToN 2019) cuts the number of tables by letting a filter live in a table
//! whose prefix lengths are *shorter* than its own: the table hashes only
//! that many leading bits, and the filter is checked in full in the bucket.
//! That is what this module does:
//!
//! - Filters are kept in one `Vec`, sorted by [`Rank`], best first: a
//!   filter's position (its *index*) is its precedence, a smaller index wins.
//! - Per family, a short list of tuple tables (module `table`). A table
//!   with tuple (`s`, `d`) holds filters whose source prefix is at least `s`
//!   bits and destination prefix at least `d` bits long, hashed on the
//!   addresses masked to `s` and `d` bits; a bucket holds its filters'
//!   conditions inline (a compact `Rule`, 32 bytes for IPv4, 64 for IPv6), best first.
//!   Ports, protocol, inbound DSCP and VLAN are checked in the bucket.
//! - Placement (build and add): a filter goes into the first table (in table
//!   order) whose tuple fits it and whose bucket for its key holds fewer than
//!   [`BUCKET_LIMIT`] filters. Otherwise a new table is made with the
//!   filter's prefix lengths rounded down to a multiple of [`RELAX_STEP`]
//!   bits (so later, similar filters join it); if that table exists already
//!   (and was full for this key), rounded to half the step, and so on down
//!   to the exact lengths. If even that table exists, the filter's
//!   addresses are shared by a pile of filters that no address mask can
//!   split: a filter with a single destination port then goes to a
//!   *by-port* table of the same tuple, which hashes the destination port
//!   too (packets without ports skip such tables); any other filter joins
//!   the pile over the limit.
//! - Tables are ordered by the best index they hold. Lookup walks them in
//!   that order and stops as soon as the next table cannot hold anything
//!   better than the match found so far; within a bucket the first full
//!   match is the table's best.
//! - Each table keeps a one-hash Bloom filter of its tags (16 bits per
//!   key, about 6% false positives, a few kilobytes per table that stay in
//!   cache): lookup tests one bit before it touches a table's slots, so
//!   most tables cost a hash and one cached load. On the ClassBench sets
//!   this cuts the tables actually probed from 8-25 to 2-6 per packet.
//! - Lookup reads the home slots of up to `READ_AHEAD` (8) tables before it
//!   examines any of them: those loads are independent, so their cache
//!   misses overlap instead of queueing.
//!
//! Lookup allocates nothing and cannot panic; its cost grows with the number
//! of tables probed and the bucket lengths (bounded by [`BUCKET_LIMIT`]
//! except for piles of filters on the same addresses), not with the number
//! of filters. Lookups return the same filter whatever the [`Tuning`]: the
//! knobs move only cost.
//!
//! Updates: [`Classifier::with_added`] and [`Classifier::without`] copy the
//! current classifier and edit the copy in place: a binary search for the
//! new filter's index, one pass to renumber the indexes behind it, and an
//! in-place insert into one table: O(n) with small constants, no rebuild.

use alloc::vec::Vec;

use super::matching::{Addr, Packet, Rule, aligned};
use super::rank::Rank;
use super::table::{EMPTY_SLOT, TupleTable};
use super::tree::Forest;
use super::validate::validate_filter;
use super::{Filter, FilterId};
use crate::error::{ConfigError, ErrorKind, Field, Object};
use crate::packet::{Family, FlowKey, L4};

/// Most filters a bucket takes before placement looks for (or makes)
/// another table (default of [`Tuning::bucket_limit`]).
pub const BUCKET_LIMIT: u32 = 8;
/// New tables hash prefix lengths rounded down to a multiple of this
/// (default of [`Tuning::relax_step`]).
pub const RELAX_STEP: u8 = 8;

/// The placement knobs (see the module docs). The defaults suit the
/// ClassBench sets; other values exist for benchmarks and tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Most filters a bucket takes before placement moves on.
    pub bucket_limit: u32,
    /// New tables use prefix lengths rounded down to a multiple of this
    /// (1 = exact lengths).
    pub relax_step: u8,
    /// Filters with a single destination port make by-port tables from
    /// the first rung of the ladder (not only when they pile up).
    pub port_tables: bool,
}

impl Tuning {
    /// The defaults.
    pub const DEFAULT: Self = Self {
        bucket_limit: BUCKET_LIMIT,
        relax_step: RELAX_STEP,
        port_tables: false,
    };
}

impl Default for Tuning {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Most filters one classifier holds (indexes are `u32`, `u32::MAX` means
/// "none").
pub const MAX_FILTERS: usize = 1 << 24;

/// Shape figures of a compiled classifier (for benchmarks and tuning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClassifierStats {
    /// IPv4 tuple tables.
    pub v4_tables: usize,
    /// IPv6 tuple tables.
    pub v6_tables: usize,
    /// Longest bucket of any table.
    pub longest_bucket: u32,
}

/// The work one lookup did (see [`Classifier::classify_counting`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LookupCost {
    /// Tables whose Bloom filter was tested (tables walked).
    pub walked: u32,
    /// Tables probed (Bloom filter passed: slots read).
    pub tables: u32,
    /// Filters checked in full.
    pub candidates: u32,
}

/// Which lookup structure a classifier compiled its filters into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Decision trees (module `tree`): [`Classifier::build_tree`].
    DecisionTree,
    /// TupleMerge-style tuple space (this module):
    /// [`Classifier::build_tuned`], with its [`Tuning`].
    TupleSpace,
}

/// The compiled lookup structure.
#[derive(Debug)]
enum Index {
    /// Decision trees, one forest per family.
    Tree { v4: Forest<u32>, v6: Forest<u128> },
    /// Tuple tables per family, ordered by their best index, and the
    /// placement knobs kept for updates.
    Tuples {
        v4: Vec<TupleTable<u32>>,
        v6: Vec<TupleTable<u128>>,
        tuning: Tuning,
    },
}

/// The filter set compiled for lookup. Immutable: changes make a new
/// classifier ([`Classifier::with_added`], [`Classifier::without`]), which
/// the caller publishes (e.g. behind an `Arc`). `Send + Sync`; deliberately
/// not `Clone` (a copy is O(n): hold it in an `Arc`).
#[derive(Debug)]
pub struct Classifier {
    /// Every filter, best rank first.
    filters: Vec<Filter>,
    /// The lookup structure.
    index: Index,
}

/// Refuses a set that would not fit the `u32` indexes.
fn check_count(n: usize) -> Result<(), ConfigError> {
    if n > MAX_FILTERS {
        return Err(ConfigError::new(
            ErrorKind::LimitExceeded,
            Object::Adapter,
            Field::FilterCount,
            "too many filters (at most 16777216)",
        ));
    }
    Ok(())
}

/// The error for a filter id used twice.
const fn duplicate(id: FilterId) -> ConfigError {
    ConfigError::new(
        ErrorKind::DuplicateId,
        Object::Filter(id),
        Field::FilterId,
        "filter id already used in this set",
    )
}

/// Rounds a prefix length down to a multiple of `step`.
const fn relax(len: u8, step: u8) -> u8 {
    match len.checked_rem(step) {
        Some(r) => len.saturating_sub(r),
        None => len,
    }
}

/// How a filter enters a table.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// During a build: count now, lay out later.
    Stage,
    /// In a laid-out table: edit in place.
    Insert,
}

/// Places filter `f` (at index `idx`) into `tables` (see the module docs).
fn place<A: Addr>(
    tables: &mut Vec<TupleTable<A>>,
    f: &Filter,
    idx: u32,
    mode: Mode,
    tuning: Tuning,
) {
    let rule = Rule::<A>::new(f, idx);
    let (src, dst, port) = (rule.src(), rule.dst(), rule.single_dport());
    let dport = port.unwrap_or(0);
    let add = |t: &mut TupleTable<A>| {
        let tag = t.tag(src, dst, dport);
        match mode {
            Mode::Stage => t.stage(tag, rule),
            Mode::Insert => t.insert(tag, rule),
        }
    };
    for t in tables.iter_mut() {
        if t.accepts(f.src.len, f.dst.len, port)
            && t.bucket_len(t.tag(src, dst, dport)) < tuning.bucket_limit
        {
            add(t);
            return;
        }
    }
    let exists = |tables: &[TupleTable<A>], s: u8, d: u8, by_port: bool| {
        tables
            .iter()
            .position(|t| t.src_bits == s && t.dst_bits == d && t.by_port == by_port)
    };
    // The ladder: lengths rounded to the step, then to half the step, ...,
    // then exact; the first tuple without a table gets a new one.
    let prefer_port = tuning.port_tables && port.is_some();
    let mut step = tuning.relax_step.max(1);
    loop {
        let (s, d) = (relax(f.src.len, step), relax(f.dst.len, step));
        let new_table = |tables: &mut Vec<TupleTable<A>>, by_port: bool| {
            let mut t = TupleTable::new(s, d, by_port);
            if mode == Mode::Insert {
                t.finish();
            }
            add(&mut t);
            tables.push(t);
        };
        match exists(tables, s, d, prefer_port) {
            None => {
                new_table(tables, prefer_port);
                return;
            }
            Some(p) if step <= 1 => {
                // Every tuple on the ladder is full for this key: filters
                // on the same addresses pile up. A filter with a single
                // destination port goes to the by-port table of the tuple
                // (keyed on the port too); others join the pile.
                let p = if port.is_some() {
                    match exists(tables, s, d, true) {
                        None => {
                            new_table(tables, true);
                            return;
                        }
                        Some(q) => q,
                    }
                } else {
                    p
                };
                if let Some(t) = tables.get_mut(p) {
                    add(t);
                }
                return;
            }
            Some(_) => step = step.div_ceil(2).min(step.saturating_sub(1)).max(1),
        }
    }
}

/// Tables whose home slots a lookup reads ahead, before walking them.
const READ_AHEAD: usize = 8;

/// The best (smallest) index among the rules of `tables` that match, or
/// `u32::MAX`. Walks the tables in order of their best index and stops
/// when no later table can do better. Home slots are read a group of
/// [`READ_AHEAD`] tables at a time, before any of them is examined: those
/// loads do not depend on each other, so their cache misses overlap.
#[inline]
fn lookup<A: Addr>(tables: &[TupleTable<A>], p: &Packet<A>) -> u32 {
    let (src, dst) = (p.src, p.dst);
    let dport = p.dport_if_any();
    // One table (a host's few filters, or a large set of one shape): probe
    // it directly. Reading ahead has nothing to overlap there, and its
    // array and second loop cost about 90 instructions a lookup.
    if let [t] = tables {
        if t.by_port && dport.is_none() {
            return u32::MAX;
        }
        let tag = t.tag(src, dst, dport.unwrap_or(0));
        if !t.may_hold(tag) {
            return u32::MAX;
        }
        // A bucket holds its rules in index order: the first match is best.
        return t
            .bucket_from_home(tag, t.home(tag))
            .iter()
            .find(|r| r.matches(p))
            .map_or(u32::MAX, |r| r.idx);
    }
    let mut best = u32::MAX;
    for group in tables.chunks(READ_AHEAD) {
        if group.first().is_none_or(|t| t.min >= best) {
            break;
        }
        let mut homes = [(0u32, EMPTY_SLOT); READ_AHEAD];
        for (h, t) in homes.iter_mut().zip(group) {
            // A by-port table holds only filters that need ports.
            if t.by_port && dport.is_none() {
                continue;
            }
            let tag = t.tag(src, dst, dport.unwrap_or(0));
            if t.may_hold(tag) {
                *h = (tag, t.home(tag));
            }
        }
        for (t, &(tag, home)) in group.iter().zip(homes.iter()) {
            if t.min >= best {
                return best;
            }
            for r in t.bucket_from_home(tag, home) {
                if r.idx >= best {
                    break;
                }
                if r.matches(p) {
                    best = r.idx;
                    break;
                }
            }
        }
    }
    best
}

/// [`lookup`] without read-ahead, counting the work (tables whose Bloom
/// filter rules the key out are not counted as probed).
fn lookup_counting<A: Addr>(tables: &[TupleTable<A>], p: &Packet<A>, cost: &mut LookupCost) -> u32 {
    let (src, dst) = (p.src, p.dst);
    let dport = p.dport_if_any();
    let mut best = u32::MAX;
    for t in tables {
        if t.min >= best {
            break;
        }
        if t.by_port && dport.is_none() {
            continue;
        }
        let tag = t.tag(src, dst, dport.unwrap_or(0));
        cost.walked = cost.walked.saturating_add(1);
        if !t.may_hold(tag) {
            continue;
        }
        cost.tables = cost.tables.saturating_add(1);
        for r in t.bucket(tag) {
            if r.idx >= best {
                break;
            }
            cost.candidates = cost.candidates.saturating_add(1);
            if r.matches(p) {
                best = r.idx;
                break;
            }
        }
    }
    best
}

/// Removes the filter at `idx` from the table that holds it.
fn unplace<A: Addr>(tables: &mut Vec<TupleTable<A>>, f: &Filter, idx: u32) {
    let rule = Rule::<A>::new(f, idx);
    for t in tables.iter_mut() {
        let port = rule.single_dport();
        if t.accepts(f.src.len, f.dst.len, port)
            && t.remove(t.tag(rule.src(), rule.dst(), port.unwrap_or(0)), idx)
        {
            break;
        }
    }
    tables.retain(|t| t.len() > 0);
}

/// Orders tables by the best index they hold (stable: ties keep order).
fn sort_tables<A: Addr>(tables: &mut [TupleTable<A>]) {
    // Few tables: insertion sort, no allocation, stable.
    for i in 1..tables.len() {
        let mut j = i;
        while j > 0 {
            let (Some(a), Some(b)) = (tables.get(j.wrapping_sub(1)), tables.get(j)) else {
                break;
            };
            if a.min <= b.min {
                break;
            }
            tables.swap(j.wrapping_sub(1), j);
            j = j.wrapping_sub(1);
        }
    }
}

impl Classifier {
    /// An empty classifier (matches nothing).
    #[must_use]
    pub const fn empty() -> Self {
        Self {
            filters: Vec::new(),
            index: Index::Tree {
                v4: Forest::new(),
                v6: Forest::new(),
            },
        }
    }

    /// Validates and compiles a filter set into the engine that suits it
    /// (see [`Classifier::build_tree`], [`Classifier::build_tuned`]): both
    /// are compiled, a sample of the set (one packet inside each of up to
    /// [`PROBES`] filters) is looked up in both with
    /// [`Classifier::classify_counting`], and the engine whose counted work
    /// costs less by the weights of `work_cost` is kept; the tuple space
    /// only when it is modelled at least 15% cheaper (the model's error):
    /// the decision trees on every ClassBench set, 1k and 10k, IPv4 and
    /// IPv6, and on the bench's host set. Identical and overlapping
    /// filters are allowed; ids must be unique.
    ///
    /// # Errors
    /// The first invalid filter's error ([`validate_filter`]), `DuplicateId`
    /// (field `filter`) for an id used twice, `LimitExceeded` past
    /// [`MAX_FILTERS`].
    pub fn build(filters: &[Filter]) -> Result<Self, ConfigError> {
        let sorted = checked_and_ranked(filters)?;
        let tree = Self::tree_from(sorted.clone());
        let tuples = Self::tuples_from(sorted, Tuning::DEFAULT);
        // The model is good to about 15%: the tuple space must beat the
        // trees by more than that.
        let (tuple_cost, tree_cost) = (tuples.probe_cost(), tree.probe_cost());
        Ok(
            if tuple_cost.saturating_mul(115) < tree_cost.saturating_mul(100) {
                tuples
            } else {
                tree
            },
        )
    }

    /// Validates and compiles a filter set into decision trees
    /// ([`Engine::DecisionTree`]).
    ///
    /// # Errors
    /// As [`Classifier::build`].
    pub fn build_tree(filters: &[Filter]) -> Result<Self, ConfigError> {
        Ok(Self::tree_from(checked_and_ranked(filters)?))
    }

    /// Compiles the set into the tuple-space engine ([`Engine::TupleSpace`])
    /// with these placement knobs (benchmarks, comparison, tuning). Lookups
    /// give the same answers whatever the engine and the knobs.
    ///
    /// # Errors
    /// As [`Classifier::build`].
    pub fn build_tuned(filters: &[Filter], tuning: Tuning) -> Result<Self, ConfigError> {
        Ok(Self::tuples_from(checked_and_ranked(filters)?, tuning))
    }

    /// Decision trees over `sorted` (validated, best rank first).
    fn tree_from(sorted: Vec<Filter>) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (i, f) in sorted.iter().enumerate() {
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            match f.family {
                Family::V4 => v4.push(Rule::<u32>::new(f, idx)),
                Family::V6 => v6.push(Rule::<u128>::new(f, idx)),
            }
        }
        Self {
            filters: sorted,
            index: Index::Tree {
                v4: Forest::build(v4),
                v6: Forest::build(v6),
            },
        }
    }

    /// The tuple space over `sorted` (validated, best rank first).
    fn tuples_from(sorted: Vec<Filter>, tuning: Tuning) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (i, f) in sorted.iter().enumerate() {
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            match f.family {
                Family::V4 => place(&mut v4, f, idx, Mode::Stage, tuning),
                Family::V6 => place(&mut v6, f, idx, Mode::Stage, tuning),
            }
        }
        v4.iter_mut().for_each(TupleTable::finish);
        v6.iter_mut().for_each(TupleTable::finish);
        // Tables were made in index order: already sorted by `min`.
        sort_tables(&mut v4);
        sort_tables(&mut v6);
        v4.shrink_to_fit();
        v6.shrink_to_fit();
        Self {
            filters: sorted,
            index: Index::Tuples { v4, v6, tuning },
        }
    }

    /// The modelled lookup cost of a sample of packets, one inside each of
    /// up to [`PROBES`] filters spread over the set (see `work_cost`).
    fn probe_cost(&self) -> u64 {
        let n = self.filters.len();
        let step = n.div_ceil(PROBES).max(1);
        let engine = self.engine();
        self.filters
            .iter()
            .step_by(step)
            .enumerate()
            .map(|(i, f)| {
                let key = probe(f, i as u64);
                work_cost(engine, &self.classify_counting(&key).1)
            })
            .fold(0u64, u64::saturating_add)
    }

    /// The engine this classifier was compiled into.
    #[must_use]
    pub const fn engine(&self) -> Engine {
        match self.index {
            Index::Tree { .. } => Engine::DecisionTree,
            Index::Tuples { .. } => Engine::TupleSpace,
        }
    }
}

/// Filters [`Classifier::build`] samples to pick an engine.
pub const PROBES: usize = 512;

/// The modelled cost of one lookup's counted work, in tenths of a
/// nanosecond on the 2-core development machine. The weights are a fit of
/// the `gpc` bench's timings of both engines on the ClassBench sets (10k,
/// IPv4 and IPv6; within 15% on each): a tree costs about 5.8 ns per node
/// visited or rule checked; the tuple space about 13 ns per table walked
/// (hash and Bloom test), 10 ns per table probed, 2 ns per rule checked.
/// (Fitted before the trees had gates; with them the trees' cost per node
/// or rule measures 4.5-9 ns, 1k to 10k, so the weight still holds, and
/// gated trees count far fewer nodes and rules.)
fn work_cost(engine: Engine, cost: &LookupCost) -> u64 {
    let (w, t, c) = (
        u64::from(cost.walked),
        u64::from(cost.tables),
        u64::from(cost.candidates),
    );
    match engine {
        Engine::DecisionTree => t.saturating_add(c).saturating_mul(58),
        Engine::TupleSpace => w
            .saturating_mul(130)
            .saturating_add(t.saturating_mul(100))
            .saturating_add(c.saturating_mul(20)),
    }
}

/// A packet inside filter `f` (host bits, ports in ranges from a hash of
/// `seed`): what [`Classifier::build`] probes both engines with.
fn probe(f: &Filter, seed: u64) -> FlowKey {
    use super::ProtocolMatch;
    use super::matching::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
    // SplitMix64: a different, well-mixed word per probe.
    let mut z = seed.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    // Bits of the family's address past a prefix of `len`.
    let host = |len: u8| match f.family {
        Family::V4 => u128::from(u32::MAX.checked_shr(u32::from(len)).unwrap_or(0)),
        Family::V6 => u128::MAX.checked_shr(u32::from(len)).unwrap_or(0),
    };
    let bits = (u128::from(z) << 64) | u128::from(z.rotate_left(17));
    let port = |r: super::PortRange, x: u64| {
        let span = u64::from(r.hi.saturating_sub(r.lo)).saturating_add(1);
        r.lo.saturating_add(u16::try_from(x.checked_rem(span).unwrap_or(0)).unwrap_or(0))
    };
    let protocol = match f.protocol {
        ProtocolMatch::Any | ProtocolMatch::Tcp | ProtocolMatch::TcpOrUdp => PROTO_TCP,
        ProtocolMatch::Udp => PROTO_UDP,
        ProtocolMatch::Icmp => match f.family {
            Family::V4 => PROTO_ICMP,
            Family::V6 => PROTO_ICMPV6,
        },
        ProtocolMatch::Number(n) => n,
    };
    let l4 = if f.has_port_condition() || protocol == PROTO_TCP || protocol == PROTO_UDP {
        L4::Ports {
            src: port(f.src_ports, z),
            dst: port(f.dst_ports, z >> 20),
        }
    } else {
        L4::None
    };
    FlowKey {
        family: f.family,
        src: f.src.addr | (bits & host(f.src.len)),
        dst: f.dst.addr | (bits.rotate_left(40) & host(f.dst.len)),
        protocol,
        l4,
        dscp: f.dscp.unwrap_or(0),
        ecn: 0,
        vlan: f.vlan.map(|vid| crate::packet::VlanTag {
            vid,
            pcp: 0,
            dei: false,
        }),
    }
}

/// Validates a set (each filter, unique ids, the size limit) and returns
/// its filters sorted best rank first.
fn checked_and_ranked(filters: &[Filter]) -> Result<Vec<Filter>, ConfigError> {
    {
        check_count(filters.len())?;
        for f in filters {
            validate_filter(f)?;
        }
        let mut ids: Vec<FilterId> = filters.iter().map(|f| f.id).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w.first() == w.get(1)) {
            return Err(duplicate(w.first().copied().unwrap_or(0)));
        }
        drop(ids);
        let mut ranked: Vec<(Rank, Filter)> = filters.iter().map(|f| (Rank::of(f), *f)).collect();
        ranked.sort_unstable_by_key(|r| core::cmp::Reverse(r.0));
        Ok(ranked.into_iter().map(|(_, f)| f).collect())
    }
}

impl Classifier {
    /// The filter that wins for this packet (highest [`Rank`] among those
    /// that match), or `None`. Allocation-free, cannot panic.
    #[must_use]
    pub fn classify(&self, key: &FlowKey) -> Option<&Filter> {
        let src = aligned(key.family, key.src);
        let dst = aligned(key.family, key.dst);
        let best = match (&self.index, key.family) {
            (Index::Tree { v4, .. }, Family::V4) => v4.lookup(&Packet::new(
                u32::from_aligned(src),
                u32::from_aligned(dst),
                key,
            )),
            (Index::Tree { v6, .. }, Family::V6) => v6.lookup(&Packet::new(src, dst, key)),
            (Index::Tuples { v4, .. }, Family::V4) => lookup(
                v4,
                &Packet::new(u32::from_aligned(src), u32::from_aligned(dst), key),
            ),
            (Index::Tuples { v6, .. }, Family::V6) => lookup(v6, &Packet::new(src, dst, key)),
        };
        self.filters.get(best as usize)
    }

    /// Like [`Classifier::classify`], also counting the work done: for
    /// benchmarks and tuning (not for the datapath).
    #[must_use]
    pub fn classify_counting(&self, key: &FlowKey) -> (Option<&Filter>, LookupCost) {
        let mut cost = LookupCost::default();
        let src = aligned(key.family, key.src);
        let dst = aligned(key.family, key.dst);
        let p4 = Packet::new(u32::from_aligned(src), u32::from_aligned(dst), key);
        let p6 = Packet::new(src, dst, key);
        let best = match (&self.index, key.family) {
            (Index::Tree { v4, .. }, Family::V4) => v4.lookup_counting(&p4, &mut cost),
            (Index::Tree { v6, .. }, Family::V6) => v6.lookup_counting(&p6, &mut cost),
            (Index::Tuples { v4, .. }, Family::V4) => lookup_counting(v4, &p4, &mut cost),
            (Index::Tuples { v6, .. }, Family::V6) => lookup_counting(v6, &p6, &mut cost),
        };
        (self.filters.get(best as usize), cost)
    }

    /// A new classifier with `f` added; `self` is unchanged. Costs one copy
    /// of the classifier plus an in-place insert (no rebuild).
    ///
    /// # Errors
    /// `f`'s validation error, `DuplicateId` when its id is taken,
    /// `LimitExceeded` past [`MAX_FILTERS`].
    pub fn with_added(&self, f: Filter) -> Result<Self, ConfigError> {
        validate_filter(&f)?;
        check_count(self.filters.len().saturating_add(1))?;
        if self.filters.iter().any(|g| g.id == f.id) {
            return Err(duplicate(f.id));
        }
        let rank = Rank::of(&f);
        let at = self.filters.partition_point(|g| Rank::of(g) > rank);
        let idx = u32::try_from(at).unwrap_or(u32::MAX);
        let mut filters = Vec::with_capacity(self.filters.len().saturating_add(1));
        filters.extend_from_slice(self.filters.get(..at).unwrap_or(&[]));
        filters.push(f);
        filters.extend_from_slice(self.filters.get(at..).unwrap_or(&[]));
        let index = match &self.index {
            Index::Tree { v4, v6 } => {
                let (mut v4, mut v6) = match f.family {
                    Family::V4 => (v4.copy_for_insert(), v6.clone()),
                    Family::V6 => (v4.clone(), v6.copy_for_insert()),
                };
                v4.shift_up_from(idx);
                v6.shift_up_from(idx);
                match f.family {
                    Family::V4 => v4.insert(Rule::new(&f, idx)),
                    Family::V6 => v6.insert(Rule::new(&f, idx)),
                }
                Index::Tree { v4, v6 }
            }
            Index::Tuples { v4, v6, tuning } => {
                let (mut v4, mut v6) = (v4.clone(), v6.clone());
                v4.iter_mut().for_each(|t| t.shift_up_from(idx));
                v6.iter_mut().for_each(|t| t.shift_up_from(idx));
                match f.family {
                    Family::V4 => {
                        place(&mut v4, &f, idx, Mode::Insert, *tuning);
                        sort_tables(&mut v4);
                    }
                    Family::V6 => {
                        place(&mut v6, &f, idx, Mode::Insert, *tuning);
                        sort_tables(&mut v6);
                    }
                }
                Index::Tuples {
                    v4,
                    v6,
                    tuning: *tuning,
                }
            }
        };
        Ok(Self { filters, index })
    }

    /// A new classifier without the filter `id`; `self` is unchanged. An
    /// unknown id gives an equal classifier.
    #[must_use]
    pub fn without(&self, id: FilterId) -> Self {
        let mut filters = self.filters.clone();
        let at = filters.iter().position(|g| g.id == id);
        let removed = at.map(|at| (filters.remove(at), u32::try_from(at).unwrap_or(u32::MAX)));
        let index = match &self.index {
            Index::Tree { v4, v6 } => match removed {
                Some((_, idx)) => Index::Tree {
                    v4: v4.without(idx),
                    v6: v6.without(idx),
                },
                None => Index::Tree {
                    v4: v4.clone(),
                    v6: v6.clone(),
                },
            },
            Index::Tuples { v4, v6, tuning } => {
                let (mut v4, mut v6) = (v4.clone(), v6.clone());
                if let Some((f, idx)) = removed {
                    match f.family {
                        Family::V4 => unplace(&mut v4, &f, idx),
                        Family::V6 => unplace(&mut v6, &f, idx),
                    }
                    v4.iter_mut().for_each(|t| t.shift_down_after(idx));
                    v6.iter_mut().for_each(|t| t.shift_down_after(idx));
                    sort_tables(&mut v4);
                    sort_tables(&mut v6);
                }
                Index::Tuples {
                    v4,
                    v6,
                    tuning: *tuning,
                }
            }
        };
        Self { filters, index }
    }

    /// Number of filters.
    #[must_use]
    pub fn len(&self) -> usize {
        self.filters.len()
    }

    /// True when the classifier holds no filter.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// The filters, best rank first.
    #[must_use]
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    /// Heap bytes owned by the compiled classifier: the filter copies plus
    /// the lookup index ([`Classifier::index_bytes`]).
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.filters
            .capacity()
            .saturating_mul(core::mem::size_of::<Filter>())
            .saturating_add(self.index_bytes())
    }

    /// Heap bytes of the lookup index alone (tables, slots, buckets), without
    /// the filter copies.
    #[must_use]
    pub fn index_bytes(&self) -> usize {
        let (v4, v6) = match &self.index {
            Index::Tree { v4, v6 } => return v4.heap_bytes().saturating_add(v6.heap_bytes()),
            Index::Tuples { v4, v6, .. } => (v4, v6),
        };
        let tables = v4
            .capacity()
            .saturating_mul(core::mem::size_of::<TupleTable<u32>>())
            .saturating_add(
                v6.capacity()
                    .saturating_mul(core::mem::size_of::<TupleTable<u128>>()),
            );
        let b4 = v4
            .iter()
            .fold(tables, |acc, t| acc.saturating_add(t.heap_bytes()));
        v6.iter()
            .fold(b4, |acc, t| acc.saturating_add(t.heap_bytes()))
    }

    /// Shape figures (tables per family, longest bucket).
    #[must_use]
    pub fn stats(&self) -> ClassifierStats {
        match &self.index {
            Index::Tree { v4, v6 } => ClassifierStats {
                v4_tables: v4.trees(),
                v6_tables: v6.trees(),
                longest_bucket: v4.longest_leaf().max(v6.longest_leaf()),
            },
            Index::Tuples { v4, v6, .. } => ClassifierStats {
                v4_tables: v4.len(),
                v6_tables: v6.len(),
                longest_bucket: v4
                    .iter()
                    .map(TupleTable::longest_bucket)
                    .chain(v6.iter().map(TupleTable::longest_bucket))
                    .max()
                    .unwrap_or(0),
            },
        }
    }

    /// Checks the internal invariants (every filter held exactly once, in a
    /// table of its family whose tuple fits it, tables ordered): for tests.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        use alloc::vec;
        fn check<A: Addr>(
            tables: &[TupleTable<A>],
            filters: &[Filter],
            fam: Family,
            seen: &mut [u32],
        ) {
            let mut prev = 0;
            for t in tables {
                assert!(t.min >= prev, "tables out of order");
                prev = t.min;
                assert_eq!(t.len() as usize, t.rules().len());
                let min = t.rules().iter().map(|r| r.idx).min();
                assert_eq!(t.min, min.unwrap_or(u32::MAX));
                for r in t.rules() {
                    let f = &filters[r.idx as usize];
                    assert_eq!(f.family, fam);
                    assert_eq!(*r, Rule::<A>::new(f, r.idx), "stale rule");
                    let port = r.single_dport();
                    assert!(t.accepts(f.src.len, f.dst.len, port));
                    let b = t.bucket(t.tag(r.src(), r.dst(), port.unwrap_or(0)));
                    assert!(b.contains(r), "filter not in its bucket");
                    assert!(b.windows(2).all(|w| w[0].idx < w[1].idx), "bucket unsorted");
                    seen[r.idx as usize] += 1;
                }
            }
        }
        match &self.index {
            Index::Tuples { v4, v6, .. } => {
                let mut seen = vec![0u32; self.filters.len()];
                check(v4, &self.filters, Family::V4, &mut seen);
                check(v6, &self.filters, Family::V6, &mut seen);
                assert!(seen.iter().all(|&n| n == 1), "filter held {seen:?} times");
            }
            Index::Tree { v4, v6 } => {
                v4.check_invariants();
                v6.check_invariants();
            }
        }
        assert!(
            self.filters
                .windows(2)
                .all(|w| Rank::of(&w[0]) > Rank::of(&w[1]))
        );
    }
}

impl Default for Classifier {
    fn default() -> Self {
        Self::empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpc::{DEFAULT_PRECEDENCE, PortRange, Prefix, ProtocolMatch};
    use alloc::vec;

    use crate::gpc::TestRng as Rng;

    /// A TCP/UDP-style key (`protocol`, ports `sport` -> `dport`) with no
    /// DSCP, ECN or tag.
    fn ports_key(
        family: Family,
        (src, dst): (u128, u128),
        protocol: u8,
        (sport, dport): (u16, u16),
    ) -> crate::packet::FlowKey {
        crate::packet::FlowKey {
            family,
            src,
            dst,
            protocol,
            l4: crate::packet::L4::Ports {
                src: sport,
                dst: dport,
            },
            dscp: 0,
            ecn: 0,
            vlan: None,
        }
    }

    /// An IPv4 filter `id` (its flow too) with no condition and the
    /// default precedence: tests set the fields they need over it.
    fn any_v4(id: u32) -> Filter {
        Filter {
            id,
            flow: id,
            family: Family::V4,
            src: Prefix::ANY,
            dst: Prefix::ANY,
            src_ports: PortRange::ANY,
            dst_ports: PortRange::ANY,
            protocol: ProtocolMatch::Any,
            dscp: None,
            vlan: None,
            precedence: DEFAULT_PRECEDENCE,
        }
    }

    fn random_filter(rng: &mut Rng, id: u32) -> Filter {
        let v6 = rng.below(3) == 0;
        let family = if v6 { Family::V6 } else { Family::V4 };
        let width: u8 = if v6 { 128 } else { 32 };
        let prefix = |rng: &mut Rng| {
            // Few distinct addresses so buckets fill up and tables multiply.
            let base = u128::from(rng.below(4)) << (width - 8);
            let len = [0, 4, 8, width / 2, width - 1, width][rng.below(6) as usize];
            let addr = base | u128::from(rng.below(3));
            let host = u32::from(width - len);
            let mask = if host >= 128 {
                0
            } else {
                !((1u128 << host) - 1)
            };
            Prefix {
                addr: addr & mask & if v6 { u128::MAX } else { 0xFFFF_FFFF },
                len,
            }
        };
        let src = prefix(rng);
        let dst = prefix(rng);
        let port = rng.below(4) as u16;
        Filter {
            id,
            flow: id,
            family,
            src,
            dst,
            src_ports: PortRange::ANY,
            dst_ports: if port == 0 {
                PortRange::ANY
            } else {
                PortRange::single(port)
            },
            protocol: [ProtocolMatch::Any, ProtocolMatch::Tcp][rng.below(2) as usize],
            dscp: None,
            vlan: None,
            precedence: DEFAULT_PRECEDENCE,
        }
    }

    #[test]
    fn invariants_hold_through_build_add_and_remove() {
        let mut rng = Rng(0x1234_5678_9ABC_DEF1);
        for round in 0..20u32 {
            let n = rng.below(300) as u32;
            let fs: vec::Vec<Filter> = (0..n).map(|i| random_filter(&mut rng, i)).collect();
            let mut c = if round % 2 == 0 {
                Classifier::build(&fs).unwrap()
            } else {
                Classifier::build_tuned(&fs, Tuning::DEFAULT).unwrap()
            };
            c.check_invariants();
            for k in 0..40 {
                if rng.below(2) == 0 {
                    c = c
                        .with_added(random_filter(&mut rng, 1000 + round * 100 + k))
                        .unwrap();
                } else if let Some(f) = c.filters().get(rng.below(c.len() as u64 + 1) as usize) {
                    let id = f.id;
                    c = c.without(id);
                }
                c.check_invariants();
            }
            assert!(c.stats().longest_bucket > 0 || c.is_empty());
        }
    }

    #[test]
    fn tree_nodes_are_laid_out_by_cache_line() {
        let mut rng = Rng(0x11FE_C0DE_0000_0002);
        let fs: vec::Vec<Filter> = (0..2000).map(|i| random_filter(&mut rng, i)).collect();
        let c = Classifier::build_tree(&fs).unwrap();
        c.check_invariants();
        let Index::Tree { v4, v6 } = &c.index else {
            panic!("not a tree");
        };
        for f in [v4.pairs_in_line(), v6.pairs_in_line()] {
            assert!(f.1 > 0);
            assert_eq!(f.0, f.1, "child pairs across a line boundary");
        }
        for (fewest, all) in [v4.runs_in_fewest_blocks(), v6.runs_in_fewest_blocks()] {
            assert!(all > 0);
            assert_eq!(fewest, all, "leaf runs over more blocks than they need");
        }
        // A copy made for an insert is laid out afresh, and after the
        // insert still classifies like the reference.
        let mut d = c.with_added(random_filter(&mut rng, 5000)).unwrap();
        d = d.without(3);
        d.check_invariants();
        let Index::Tree { v4, .. } = &d.index else {
            panic!("not a tree");
        };
        let (inside, all) = v4.pairs_in_line();
        assert!(inside * 10 >= all * 9, "{inside} of {all} pairs in line");
        // The other family's forest, copied by the insert, too.
        let v6 = Filter {
            family: Family::V6,
            ..random_filter(&mut rng, 5001)
        };
        let e = d
            .with_added(Filter {
                src: Prefix::ANY,
                dst: Prefix::ANY,
                ..v6
            })
            .unwrap();
        e.check_invariants();
        let Index::Tree { v4, .. } = &e.index else {
            panic!("not a tree");
        };
        let (inside, all) = v4.pairs_in_line();
        assert!(inside * 10 >= all * 9, "{inside} of {all} pairs in line");
        let (fewest, all) = v4.runs_in_fewest_blocks();
        assert_eq!(fewest, all, "leaf runs over more blocks than they need");
    }

    #[test]
    fn a_tree_built_one_filter_at_a_time_keeps_short_leaves() {
        let mut rng = Rng(0x0DDB_A11C_AFE0_0001);
        let mut c = Classifier::empty();
        let mut all = vec::Vec::new();
        for i in 0..600u32 {
            let f = Filter {
                src: Prefix {
                    addr: u128::from(rng.next() as u32),
                    len: 32,
                },
                dst: Prefix {
                    addr: u128::from(rng.next() as u32 & 0xFFFF_FF00),
                    len: 24,
                },
                dst_ports: PortRange::single(rng.below(1000) as u16),
                protocol: ProtocolMatch::Tcp,
                ..any_v4(i)
            };
            all.push(f);
            c = c.with_added(f).unwrap();
        }
        c.check_invariants();
        assert_eq!(c.engine(), Engine::DecisionTree);
        let longest = c.stats().longest_bucket;
        assert!(
            longest as usize <= crate::gpc::SPLIT_AT,
            "leaf of {longest}"
        );
        let built = Classifier::build(&all).unwrap();
        for f in &all {
            let key = ports_key(
                Family::V4,
                (f.src.addr, f.dst.addr | 7),
                6,
                (1, f.dst_ports.lo),
            );
            assert_eq!(c.classify(&key).map(|g| g.id), Some(f.id));
            assert_eq!(built.classify(&key).map(|g| g.id), Some(f.id));
        }
    }

    #[test]
    fn the_wild_tree_splits_on_the_protocol() {
        // Filters wide in every field that differ only by protocol: the
        // wild group's tree tells them apart by splitting on the protocol
        // (as one leaf they would be 48 rules); every protocol number of
        // either family must still find the reference's answer (a wrong
        // protocol interval, e.g. "TCP or UDP" as TCP alone, fails here).
        // Best first: for UDP the "TCP or UDP" filter wins, for TCP the
        // number 6.
        let mut protos: vec::Vec<ProtocolMatch> = (0u8..40)
            .map(|n| ProtocolMatch::Number(n.wrapping_mul(6)))
            .collect();
        protos.extend([
            ProtocolMatch::Icmp,
            ProtocolMatch::TcpOrUdp,
            ProtocolMatch::Tcp,
            ProtocolMatch::Udp,
            ProtocolMatch::Any,
        ]);
        let mut fs = vec::Vec::new();
        for (i, p) in protos.iter().enumerate() {
            for family in [Family::V4, Family::V6] {
                let id = u32::try_from(fs.len()).unwrap();
                fs.push(Filter {
                    id,
                    flow: id,
                    family,
                    src: Prefix::ANY,
                    dst: Prefix::ANY,
                    src_ports: PortRange::ANY,
                    dst_ports: PortRange::ANY,
                    protocol: *p,
                    dscp: None,
                    vlan: None,
                    precedence: 200 - u8::try_from(i).unwrap(),
                });
            }
        }
        let c = Classifier::build_tree(&fs).unwrap();
        c.check_invariants();
        assert!(
            c.stats().longest_bucket <= 8,
            "leaf of {}",
            c.stats().longest_bucket
        );
        let reference = crate::gpc::reference::LinearClassifier::new(&fs);
        for family in [Family::V4, Family::V6] {
            for proto in 0..=255u8 {
                let key = ports_key(family, (0x0A00_0001, 0x0A00_0002), proto, (9, 80));
                assert_eq!(
                    c.classify(&key).map(|f| f.id),
                    reference.classify(&key).map(|f| f.id),
                    "protocol {proto} {family:?}"
                );
            }
        }
    }

    #[test]
    fn a_large_set_takes_a_finer_gate_where_it_skips_walks() {
        // Tree 0 (long source prefixes): 2000 /24s in the first /20 of
        // eight /16s, so a plain gate (about 16 blocks a rule: /17 blocks)
        // opens for all of 10.0.0.0/13 while a finer one (64 a rule: /19
        // blocks) opens for one eighth of it. Tree 1 (short source, long
        // destination): 2000 rules from all of 10.0.0.0/13, whose packets
        // tree 0's plain gate lets through for nothing.
        let mut rng = Rng(0x0F1E_6A7E_0000_0001);
        let mut fs = vec::Vec::new();
        for i in 0..4000u32 {
            let (src, dst) = if i % 2 == 0 {
                let addr =
                    0x0A00_0000 | ((rng.below(8) as u32) << 16) | ((rng.below(16) as u32) << 8);
                (
                    Prefix {
                        addr: u128::from(addr),
                        len: 24,
                    },
                    Prefix::ANY,
                )
            } else {
                let addr = 0xC000_0000 | ((rng.next() as u32) & 0x00FF_FF00);
                (
                    Prefix {
                        addr: 0x0A00_0000,
                        len: 13,
                    },
                    Prefix {
                        addr: u128::from(addr),
                        len: 24,
                    },
                )
            };
            fs.push(Filter {
                src,
                dst,
                ..any_v4(i)
            });
        }
        let c = Classifier::build_tree(&fs).unwrap();
        c.check_invariants();
        let Index::Tree { v4, .. } = &c.index else {
            panic!("not a tree");
        };
        let blocks = v4.gate_blocks();
        let tree0 = blocks.iter().find(|(g, _)| *g == 0).unwrap().1;
        assert!(tree0 >= 2000 * 64, "tree 0's gate has {tree0} blocks");
        // Still every filter's packets find it (or a better filter).
        let reference = crate::gpc::reference::LinearClassifier::new(&fs);
        for f in fs.iter().step_by(7) {
            let key = ports_key(
                Family::V4,
                (f.src.addr | 0x11, f.dst.addr | 0x22),
                6,
                (9, 80),
            );
            assert_eq!(
                c.classify(&key).map(|f| f.id),
                reference.classify(&key).map(|f| f.id)
            );
        }
        // A copy (for an add) keeps the gate and its start nodes.
        let mut extra = fs[0];
        extra.id = 9999;
        let d = c.with_added(extra).unwrap();
        d.check_invariants();
    }

    /// A set whose second tree most packets of the first walk anyway:
    /// tree 0 holds one rule of top precedence (so it comes first) and
    /// 600 /24 sources of default precedence towards 192.0.0.0/16; tree 1
    /// (short source, long destination) holds 600 /24 destinations in
    /// 192.0.0.0/16 of precedence 200, which rank before all but the first.
    /// With `tree1_first_rank` false, tree 1's rules rank last instead, so
    /// tree 0's match spares tree 1's walk.
    fn pairable_set(tree1_ranks_first: bool) -> vec::Vec<Filter> {
        let mut rng = Rng(0x9A1E_D000_0000_0001);
        let mut fs = vec::Vec::new();
        fs.push(Filter {
            precedence: 255,
            src: Prefix {
                addr: 0x0A00_0000,
                len: 24,
            },
            ..any_v4(0)
        });
        for i in 1..1200u32 {
            let src = 0x0A00_0000 | ((rng.below(1 << 12) as u32) << 8);
            let dst = 0xC000_0000 | ((rng.below(1 << 8) as u32) << 8);
            fs.push(if i % 2 == 0 {
                Filter {
                    src: Prefix {
                        addr: u128::from(src),
                        len: 24,
                    },
                    dst: Prefix {
                        addr: 0xC000_0000,
                        len: 16,
                    },
                    ..any_v4(i)
                }
            } else {
                Filter {
                    src: Prefix {
                        addr: 0x0A00_0000,
                        len: 8,
                    },
                    dst: Prefix {
                        addr: u128::from(dst),
                        len: 24,
                    },
                    precedence: if tree1_ranks_first { 200 } else { 20 },
                    ..any_v4(i)
                }
            });
        }
        fs
    }

    #[test]
    fn a_forest_pairs_its_first_two_trees_where_the_second_is_walked_anyway() {
        let forest = |fs: &[Filter]| match Classifier::build_tree(fs).unwrap().index {
            Index::Tree { v4, .. } => v4,
            Index::Tuples { .. } => panic!("not a tree"),
        };
        assert!(forest(&pairable_set(true)).paired(), "not paired");
        assert!(
            !forest(&pairable_set(false)).paired(),
            "paired although tree 0 spares tree 1"
        );
    }

    #[test]
    fn paired_and_single_walks_give_the_same_answers() {
        // Every set below is classified with its forests paired and not
        // (whatever the build chose), against the reference, and through
        // adds and removals (which keep the choice).
        let mut rng = Rng(0x9A12_ED00_0000_0002);
        let mut sets: vec::Vec<vec::Vec<Filter>> = vec![pairable_set(true), pairable_set(false)];
        for _ in 0..12 {
            let n = 1 + rng.below(400) as u32;
            sets.push((0..n).map(|i| random_filter(&mut rng, i)).collect());
        }
        for fs in &sets {
            let built = Classifier::build_tree(fs).unwrap();
            let reference = crate::gpc::reference::LinearClassifier::new(fs);
            for paired in [false, true] {
                let mut c = Classifier::build_tree(fs).unwrap();
                if let Index::Tree { v4, v6 } = &mut c.index {
                    v4.set_paired(paired);
                    v6.set_paired(paired);
                }
                let c = c.with_added(random_filter(&mut rng, 100_000)).unwrap();
                let c = c.without(fs[0].id);
                let reference_now = crate::gpc::reference::LinearClassifier::new(c.filters());
                for f in fs.iter().chain(c.filters().iter().take(3)) {
                    // The source moved out of its /8's first half (where
                    // tree 0 of `pairable_set` closes its gate).
                    let far = f.src.addr ^ (1 << if f.family == Family::V4 { 23 } else { 119 });
                    for (s, d, sport, dport) in [
                        (f.src.addr, f.dst.addr, 9, 1),
                        (far, f.dst.addr, 9, 1),
                        (f.src.addr | 1, f.dst.addr | 0x101, 2, 3),
                        (rng.next().into(), rng.next().into(), 80, 443),
                    ] {
                        let key = ports_key(f.family, (s, d), 6, (sport, dport));
                        let want = reference_now.classify(&key).map(|g| g.id);
                        assert_eq!(c.classify(&key).map(|g| g.id), want, "paired {paired}");
                        assert_eq!(c.classify_counting(&key).0.map(|g| g.id), want);
                        let before = built.classify(&key).map(|g| g.id);
                        assert_eq!(before, reference.classify(&key).map(|g| g.id));
                    }
                }
            }
        }
    }

    #[test]
    fn filters_on_one_address_pair_pile_up_and_still_classify() {
        // 50 filters on one address pair: they must pile up in one bucket
        // (nothing can split them) and still classify right.
        let fs: vec::Vec<Filter> = (0..50u32)
            .map(|i| Filter {
                src: Prefix {
                    addr: 0x0A00_0001,
                    len: 32,
                },
                dst: Prefix {
                    addr: 0x0A00_0002,
                    len: 32,
                },
                dst_ports: PortRange::single(u16::try_from(i).unwrap()),
                protocol: ProtocolMatch::Tcp,
                ..any_v4(i)
            })
            .collect();
        let c = Classifier::build_tuned(&fs, Tuning::DEFAULT).unwrap();
        c.check_invariants();
        // 8 in the plain table, the rest in the by-port table, one each.
        assert_eq!(c.stats().v4_tables, 2);
        assert_eq!(c.stats().longest_bucket, 8);
        // The tree splits them on the destination port.
        let t = Classifier::build_tree(&fs).unwrap();
        t.check_invariants();
        assert_eq!(t.engine(), Engine::DecisionTree);
        assert!(t.stats().longest_bucket <= 8);
        let key = |port| ports_key(Family::V4, (0x0A00_0001, 0x0A00_0002), 6, (9, port));
        for c in [&c, &t] {
            for i in 0..50u16 {
                assert_eq!(c.classify(&key(i)).map(|f| f.id), Some(u32::from(i)));
            }
            assert_eq!(c.classify(&key(50)), None);
        }
    }
}

//! The decision-tree engine: HyperSplit-style binary splits over the
//! address and port fields, bounded leaves, a few trees per family, each
//! behind a gate.
//!
//! # Why this structure
//! The tuple-space engine (module `table`) costs a hash and a Bloom test per
//! tuple table, and the ClassBench sets need 11-26 tables per family: its
//! lookup cost grows with the *shape* of the filter set. A decision tree
//! costs one dependent load per level (about `log2(n / LEAF_SIZE)` levels)
//! and then a short scan, whatever the shape, as long as filters are not
//! copied into too many leaves. So:
//!
//! - **Fields.** A tree splits on `u32` fields ([`DIMS`]): source and
//!   destination address (the whole IPv4 address; for IPv6, bits 96..128
//!   and 64..96 as two fields each, which is where prefixes up to /64
//!   live: a prefix is an exact box in those words, longer prefixes are a
//!   single point there and are told apart by the leaf check), source and
//!   destination port (a filter without a port condition covers 0..=65535;
//!   a packet without ports walks the tree as port 0, which reaches every
//!   filter without a port condition, the only ones that can match it),
//!   and in the wild group's tree only, the protocol ([`PROTO_DIM`]).
//!   Protocol, inbound DSCP, VLAN, the low IPv6 bits and "needs ports" are
//!   checked at the leaf by the compact [`Rule`] (the same check as the
//!   tuple engine's buckets). 32-bit fields keep nodes small and make IPv6
//!   lookups walk the same trees as IPv4 ones on sets that differ only by a
//!   fixed /32 in front (the bench's IPv6 variants).
//! - **Splits (HyperSplit, Qi et al., INFOCOM 2009).** An inner node halves
//!   the space of one field at one value: `key < value` goes left. At
//!   build, each field's candidate values are the filter interval endpoints
//!   inside the node's box (all of them in nodes of up to 64 filters, 64
//!   evenly spaced ones in larger nodes) and the split with the smallest
//!   `left² + right²` (filters on each side) wins: that prefers balanced
//!   splits but not at the price of copies (60/60, 20% copies, loses to
//!   70/30, none). A split that does not shed a filter on each side is
//!   never taken. A filter whose interval straddles the value goes both
//!   ways (replication). Binary splits on endpoints keep memory bounded,
//!   unlike HiCuts' equal-size cuts.
//! - **Nodes** are 8 bytes (`value`, and the child index and field packed
//!   in one word), eight to a cache line, children in pairs (`child`,
//!   `child + 1`) after their parent. A walk is branch-free but for the
//!   loop's exit: the next node is `child + (key[field] >= value)`. At 10k
//!   filters the trees outgrow L1 and each level is a dependent load, so
//!   the node size shows: 8-byte nodes measured 8-10% faster than 12-byte
//!   ones. For the same reason the nodes are laid out by cache line
//!   ([`clustered`], after a build and in every copy): a child pair, the
//!   pairs below it and one pair below those share a 64-byte line, so a
//!   walk reads a line per two levels or so rather than one per level
//!   (cachegrind per packet, 10k IPv4: D1 misses acl1 4.88 to 4.72, fw1
//!   6.84 to 6.51, ipc1 6.00 to 5.68; IPv6 acl1 6.20 to 5.98, ipc1 8.87
//!   to 8.50, fw1 10.00 to 10.39; 1k unchanged; about 1 byte per filter
//!   more; a few % faster on the real CPU).
//! - **Leaves.** A node with at most [`LEAF_SIZE`] filters, or whose best
//!   split would not shed a filter on either side, or at [`MAX_DEPTH`], or
//!   once the tree holds [`REPLICATION`] times its filters in leaves (the
//!   build goes breadth first, so a tree that runs out stops at an even
//!   depth), becomes a leaf: a run of rules held inline, best rank
//!   first, four side by side in a block ([`Lanes`]: one block check
//!   compares a packet with four rules in SSE2 vector operations and
//!   branches once). The scan stops at the first rule that matches, or as
//!   soon as a block's first rule of the run cannot beat the best found in
//!   an earlier tree. Inline rules spare the scan a dependent load per
//!   rule (holding `u32` positions into one rule array instead measured
//!   10-30% slower), and the groups below keep copies rare: ClassBench
//!   sets hold 1.0-1.3 rules per filter in leaves, 41-60 bytes of index
//!   per IPv4 filter with nodes and gates.
//!
//!   Before the blocks, rules were checked one by one: 32-byte IPv4 rules
//!   (a run of two or more started on a cache line: 0.2-0.3 fewer D1
//!   misses per packet), and for IPv6 32-byte heads kept beside the
//!   64-byte rules (the first 64 bits of each address, lengths, ports,
//!   index: fw1 10k IPv6 8.9 to 7.1 D1 misses per packet, 2-4 ns faster
//!   than scanning the rules). Which rule of a leaf matched was then the
//!   largest source of mispredictions; see [`super::lanes`] for what the
//!   blocks gained.
//! - **Groups (after EffiCuts/CutSplit).** Filters wide in the field a
//!   tree splits on straddle every split of it and get copied into every
//!   leaf below. So each family's filters are partitioned by the field they
//!   are narrow in, and each group gets its own tree: 0, long source prefix
//!   (at least [`Addr::SHORT_BELOW`]: /16 for IPv4, /48 for IPv6); 1, short
//!   source and long destination; 2-5, both short: by the field (source,
//!   destination, source port, destination port) in which the filter is
//!   narrowest relative to the field's size (IPv6 addresses scored on the
//!   32 bits after the first 32, an allocation prefix most packets share);
//!   6, wild: even its narrowest field is wide (`WILD_SCORE`), a short scan.
//!   On ClassBench fw1 10k, a single "both short" group of 406 filters had
//!   to be copied 17 times (leaves of 100); split four ways by narrow field
//!   it holds under one copy per filter and leaves of 8-29.
//! - **Gates.** With up to seven trees, walking each (and scanning its
//!   leaf) for every packet cost more than the walks themselves: most trees
//!   hold no rule the packet can match. Each tree has a [`Gate`]: a bitmap
//!   over blocks of one field (about 16 blocks per rule, 2 Ki..64 Ki
//!   blocks: the top bits of an address word, or of a port), with a bit set
//!   where a rule of the tree reaches; the field is the one the tree's
//!   rules fill least. A clear bit skips the tree for one load and a bit
//!   test. Each 64-block word of the bitmap also names the node a walk of
//!   a packet in those blocks starts from (held beside the word, so a
//!   gate test reads one line) (the top levels of a tree mostly
//!   split on the gate's field, so the start skips them). On ClassBench
//!   10k this cut trees walked per packet from 1.7-4.8 to 1.1-2.1, nodes
//!   from 14-34 to 6-10 and rules checked from 7-19 to 4-6. In a large
//!   set, a tree whose lookups of sample packets would do less work
//!   behind a gate four times as fine takes that one instead
//!   ([`FINE_PER`]: fw1 10k IPv4 from about 114 to 95-100 ns per packet,
//!   ipc1 from 127 to 119-125).
//!
//! Lookup walks the trees in order of the best rank they hold and stops
//! when the next cannot beat the match found so far. It allocates nothing
//! and cannot panic; a walk ends because every child is stored after its
//! parent.
//!
//! **Pairs.** Where most packets that walk the first tree walk the second
//! one too (its rules rank before most of the first's, and the first
//! tree's match does not spare the walk), the two walks go together, one
//! step of each per round ([`pair_leaves`]), so that their dependent loads
//! overlap instead of the second walk starting after the first tree's
//! leaf scan. The build decides it on its sample keys
//! ([`Forest::pair_pays`]). ClassBench ipc1 pairs (tree 1, short source
//! and long destination, is walked by half of the packets, and only a
//! fifth of those walks find a better rule): at 10k 8-12 ns faster per
//! packet (IPv4 120 to 109, IPv6 130 to 119 on the best pass of
//! interleaved runs) for 75 more instructions and 1.5 fewer
//! mispredictions per packet (cachegrind: 393 to 468, 7.9 to 6.4; D1
//! misses unchanged); ipc1 1k 41 to 34 ns. acl1 and fw1 10k do not pair.
//! Lockstep only until the first walk reaches its leaf, then each on its
//! own (422 instructions) was no faster than no pairing on ipc1 10k IPv4:
//! the second loop exit costs what the overlap saves.
//!
//! Tried and dropped (measured on the development machine): three levels
//! of a subtree packed in one 64-byte node, all seven comparisons made at
//! once (a third of the dependent loads but three times the instructions:
//! slower); walking all trees in lockstep so that their loads overlap (10%
//! faster on fw1 10k before gates, 20-60% slower elsewhere); leaves of 4 or
//! 16 rules (no better); the protocol as a split field of every tree (no
//! better; of the wild group's tree alone it is, see [`PROTO_DIM`]); a
//! second gate on the next best field (no tree skipped that the first let
//! through); dropping rules a better rule covers within a leaf's box (4%
//! fewer checks, not worth rebuilding a tree on removal); start nodes per
//! 16 blocks instead of 64 (fewer nodes, no faster); the first four levels
//! of a walk without a branch (no faster); scanning a whole leaf without a
//! branch per rule (twice as slow: leaves hold up to 29 rules); testing
//! every gate first without a branch, then walking the open trees off a
//! bitmask (2.3 fewer mispredictions per packet on fw1 10k under
//! cachegrind's simple predictor, but 45-60 more instructions, and no
//! faster on the real CPU: slower on acl1, whose packets mostly stop after
//! the first tree; tried again after the cuts below, still slower by
//! 5-20%); the best index of the rules behind each gate word, so that a
//! tree whose rules there cannot beat the match so far is not walked (on
//! fw1 10k 30 more instructions and more mispredictions per packet: it
//! seldom prunes a walk the tree-wide best index does not).
//!
//! Per-packet cuts measured with cachegrind (instructions, D1 misses,
//! mispredictions per packet, fw1 10k IPv4): gate words holding their start
//! node (one line per gate test, no checked shift: 540 to 514, 7.4 to 7.0,
//! 9.9 to 9.0); a rule's protocol, DSCP, VLAN and "needs ports" compared
//! with the packet's conditions word under a mask, ports without `bool`
//! short-circuits (514 to 447); IPv6 rules of 64 bytes with prefix masks
//! from a table (fw1 10k IPv6: 669 to 600 instructions, 14.9 to 10.0 D1
//! misses). What remains is mostly mispredictions (about 9 per packet on
//! fw1 and ipc1: the leaf exit of each walk, the gate bit, which rule of a
//! leaf matches) and the first touch of each leaf line.
//!
//! Tried and dropped in session 3 (cachegrind per packet, fw1 10k IPv4
//! unless said; wall clock as the best pass of many on a loaded machine):
//! - a batch lookup walking 16 packets' trees together (gate tests, then
//!   one level of every walk per round with the walks at their leaf
//!   dropped from the list, then every leaf's first rule, then the scans),
//!   so that the packets' misses overlap: 887-930 instructions against
//!   447, mispredictions 9.2 to 7.5-7.9 (the rounds' loop exits replace
//!   the walks'), and 6-17% slower on the real CPU (acl1, fw1);
//! - a batch stage reading every packet's gate words and start nodes of
//!   every tree before the single lookups: 769 instructions, 30-50%
//!   slower;
//! - the next tree's gate word read before this tree's walk (forced with
//!   `black_box`): 568 instructions, no faster;
//! - a copy of the start node in each gate word (16-byte words): D1 misses
//!   6.8 to 6.6 on fw1 but up on acl1 and IPv6 (bigger gates), no faster;
//! - a leaf scan with one branch per rule (address test folded in): 1.2-1.8
//!   fewer mispredictions, 60-110 more instructions, no faster;
//! - groups 0 and 1 in one tree (ipc1 walks tree 1 after a match in tree 0
//!   for a quarter of its packets): fw1's leaves grow to 111 rules;
//! - the best index of the rules in each gate block (exact, not per word):
//!   would skip only 0.2-0.36 of the 0.8-1.1 walks per packet that find
//!   nothing better, for 32 times the gate memory;
//! - leaves of 4 (fewer instructions and mispredictions, more misses: no
//!   faster); 8 gate blocks per rule (no faster); pair-lines started at
//!   every gate start node (more lines: 6.6 to 7.2 D1 misses);
//! - gate words five to a 64-byte line (none straddling two): 0.03 fewer
//!   D1 misses, 20-45 more instructions (the division by five).
//!
//! Tried and dropped in session 4 (cachegrind per packet, 10k IPv4):
//! - each leaf holding its run's best index (above an 8-bit length;
//!   longer runs' lengths in a side table), so that a walk whose leaf
//!   cannot beat the match in hand stops without reading a rule (0.36 and
//!   0.40 walks per packet on fw1 and ipc1 end so): D1 misses unchanged
//!   (those rule lines were in L1), instructions +5..12;
//! - each leaf scanned after the next tree's walk, its first rule read
//!   at once (so that its line loads during that walk): fw1 431 to 496
//!   instructions, acl1 295 to 385 (the match in hand prunes less), and
//!   10% slower on acl1 for 2% faster on fw1;
//! - finer gates on every tree of a large set (64 blocks per rule): on
//!   acl1 a few % slower and 19 bytes per filter more, nothing skipped;
//! - the protocol as a field of every tree (see [`PROTO_DIM`]).
//!
//! Tried and dropped in session 5 (10k sets; wall clock as the best pass
//! of 25 interleaved rounds, load about 1-2):
//! - a lower bound of rule indexes per gate word, as a 3-bit level in the
//!   start node's top bits over 8 per-tree bounds (the words' least
//!   indexes at every eighth), a walk skipped when the bound is at least
//!   the match in hand: ipc1 walks 1.9 to 1.6 per packet (exact per-word
//!   bounds would skip 0.35), nodes 9.4 to 8.4, but 387.6 against 392.8
//!   instructions, D1 5.93 to 5.88, and no faster (119.0 / 120.1 ns
//!   ipc1, 93.8 / 95.0 fw1): the walks skipped are the cheap ones;
//! - IPv6 prefix masks by a 128-bit shift instead of the mask table: the
//!   table's loads are 0.25 D1 misses per packet, the shifts +60..74
//!   instructions (fw1 495 to 569), D1 misses -0.02;
//! - IPv6 trees also weighing a gate 16 times as fine (256 blocks per
//!   rule, up to 2^22; IPv6 has no bytes budget): ipc1 D1 8.03 to 8.45,
//!   LL misses 0.37 to 0.60, no faster;
//! - gate words five to a line again (session 3's): fw1 D1 6.27 to 6.17,
//!   instructions 391 to 440, 5-8 ns slower on every 10k set.
//!
//! Measured on the way to the pairs (ipc1 10k IPv4 unless said):
//! - where the time goes, by skipping one tree's walks (wrong answers,
//!   timing only): tree 0 about 30 ns, tree 1 (0.51 walks per packet, 0.11
//!   finding a better rule) 25 ns and 1.8 of the 5.9 D1 misses, the wild
//!   tree 5 ns, the others nothing; a trace of 100 packets repeated runs
//!   at 45 ns, of 1000 at 67 ns, of 4000 at 118 (the whole trace: 120)
//!   (read then as the working set; the next section shows the branch
//!   predictor learning the short traces is much of it);
//! - tree 1's fruitless walks fail on the destination (0.48 rule checks
//!   per packet) and the source (0.30) of rules in the packet's own /23:
//!   a gate 64 times as fine passes 0.44 of its 0.51 walks, an exact
//!   bound of the best index per gate word or block would skip 0.09;
//! - leaves of 1, 2 or 4 rules in tree 1 only (fewer rule checks, deeper
//!   walks), no finer gate for it, and groups 0 and 1 in one tree (156k
//!   leaf entries for 9.5k rules): none faster;
//! - software prefetch (`_mm_prefetch`, behind a temporary `unsafe`) of
//!   every tree's gate word at the start of a lookup, or of the next
//!   packets' gate words one to four packets ahead: 2-8 ns slower;
//! - the flow of each filter in a dense array, so that the result does
//!   not read the 112-byte `Filter`: no faster (that read is off the
//!   dependent path), likewise a trace of 16-byte keys.
//!
//! Measured in session 6 (10k sets unless said; wall clock as the best
//! pass of 5 interleaved rounds):
//! - a 1k set's trace of fresh packets (ten seeds' traces, 11-12k
//!   packets) runs at 63-122 ns, its own 1.1k-packet trace at 44-56, and
//!   that trace ten times in a row (the memory of ten, the branches of
//!   one) at 35-51: the predictor learns a trace it sees again every
//!   thousand packets, so 1k sets were measured flattered. At 10k, 12k and
//!   36k fresh packets read the same. Mispredictions, not misses, are most
//!   of a lookup's cost: fw1 1k costs as much as fw1 10k on fresh packets,
//!   with every line it reads in L1 or L2;
//! - where the L1 misses are, from a model of the lines each lookup reads
//!   (an LRU 48 KB 12-way L1 and 2 MB L2 replaying the trace; it gives
//!   within 0.2 of cachegrind's totals), per packet: ipc1 IPv4 gate words
//!   1.06, nodes 1.12, rules 2.12 (the bench's key and result reads 1.5
//!   more); fw1 IPv4 gates 1.96, nodes 0.72, rules 1.98; acl1 gates 0.38,
//!   nodes 0.94, rules 1.55; L2 misses about 0. The model puts 16-byte
//!   IPv4 rules at 0.4-0.55 fewer misses per packet, 24-byte ones at
//!   0.05-0.15 fewer, 8-byte gate words at 0.07-0.17 fewer;
//! - batch lookups again (session 3 tried 16): 8 packets a batch, walks of
//!   each tree in rounds (lockstep, compacted, or always all 8 walks with
//!   closed ones parked on an empty leaf): 780-1090 instructions against
//!   405-470, 8.7-10.8 mispredictions against 5.7-6.5, 1.2-1.7 times as
//!   slow at 10k; two packets a batch, each tree's two walks in lockstep: acl1
//!   faster, ipc1 and fw1 IPv6 slower (ipc1 loses its tree pair);
//! - one branch per rule in IPv4 leaf scans (session 3's, again): ipc1
//!   6.46 to 5.83 mispredictions, +60 instructions; ipc1 10k faster, fw1
//!   10k and ipc1 1k slower; the first two rules of a run checked without
//!   a branch: +110 instructions, no faster;
//! - transparent huge pages for the bench's heap: no change.
//!
//! Measured in session 7 (10k sets; best pass of interleaved runs;
//! cachegrind per packet):
//! - where a lookup's time goes, by leaving parts out (wrong answers,
//!   timing only): the key and the loop about 11-13 ns, all gate tests
//!   5-10 ns more; walking every open tree and scanning nothing 98 ns on
//!   ipc1 IPv4 (the whole lookup 117-129), 68-74 on fw1 IPv6 (113-132),
//!   59 on acl1 IPv4 (81-89). Hence the leaf blocks ([`Lanes`]);
//! - with blocks, leaves of 4, 6, 12 or 16 rules: 4 has fewer
//!   instructions, mispredictions and misses (ipc1 IPv4 533 / 4.3 / 6.9
//!   against 550 / 5.0 / 7.0) but up to 88 bytes per IPv4 filter (ipc1
//!   10k) and was no faster; 6 the same speed at up to 76 bytes (fw1 1k); 12 and 16 more of
//!   everything (16: 614 / 5.4 / 7.9) and no faster;
//! - IPv6 blocks of 128 bytes (prefix lengths in spare bits, masks from a
//!   table per lane) instead of 192: D1 misses ipc1 8.9 to 7.0, fw1 9.3 to
//!   7.6, but 60-75 more instructions, no faster (fw1 107.9 / 108.7,
//!   ipc1 107.3 / 109.6);
//! - no check of a block's first index against the match in hand (the
//!   hit's index is checked anyway): 0.7 fewer mispredictions on ipc1,
//!   50-70 more instructions, no faster;
//! - runs always starting a block: no faster, 5 bytes per IPv4 filter
//!   more; a walk's inner nodes: half of ipc1's (3.7 of 7.7 per packet)
//!   split on the field of the node above, so nodes of several splits on
//!   one field could cut the walk's dependent loads (tried in session 8,
//!   below).
//!
//! Measured in session 8 (10k sets; cachegrind per packet; best pass of
//! 7 interleaved rounds of 15 passes):
//! - wide nodes: a node and its children that split the same field
//!   folded into one node of two slots (up to three values, four
//!   children, the child `child + ((x >= mid) + (x >= lo) + (x >= hi) <<
//!   stride)`, the second slot read and masked off for binary nodes, so
//!   that the walk has no branch per level), folded when a tree is laid
//!   out: nodes visited per packet ipc1 9.7 to 7.6, fw1 6.5 to 5.3, acl1
//!   6.0 to 4.4, but 52-74 more instructions, D1 misses unchanged,
//!   mispredictions up to 1.1 more (ipc1 IPv6), adding a filter 1.5-1.9
//!   times as slow (acl1 10k IPv4 373 to 716 us), and no faster (ipc1
//!   IPv4 best 117.7 to 109.0 but ipc1 IPv6 109.1 to 123.6, acl1 3-5 ns
//!   slower);
//! - each inner node holding its children's fields (so that a step's key
//!   load starts with its node load, off the chain of dependent loads):
//!   35-45 more instructions, misses and mispredictions unchanged, and
//!   within 2 ns of the plain walk on every set (ipc1 IPv4 101.3 against
//!   103.3). With both, the walk is not bound by its load latency alone:
//!   consecutive packets' lookups overlap in the core, and instructions
//!   and mispredictions count as much;
//! - the two walks of a pair stepped by masks instead of `if`: the same
//!   machine code (the compiler had already made them conditional moves).
//! - where the time goes now (perf, `-e cpu-clock`, ipc1 IPv4): the first
//!   load of a leaf's block (its index word, on the block's second line)
//!   12% of samples, node loads about 15%, gate words about 5%: the
//!   lookup waits on L2 lines. Blocks aligned to 128 bytes (so that the
//!   adjacent-line prefetch fetches a block's other line) changed
//!   nothing (ipc1 IPv4 best 100.6 against 101.4).
//!
//! Measured in session 9 (10k sets; cachegrind per packet; best pass of
//! 5-9 interleaved rounds, which moved by up to 4% between rounds of
//! the same binary):
//! - where a walk goes (ipc1 IPv4, per packet): tree 0 (long source) is
//!   walked 0.68 times, 6.2 nodes a walk from its gate's start, 4.7 of
//!   them splitting the source address *inside one gate block* (a /19:
//!   its gate has 512 Ki blocks); tree 1
//!   0.60 times (0.11 alone, all finding a better rule), 2.3 nodes; the
//!   wild tree 0.54 times (its gate never closes; 0.25 find a better
//!   rule), 3.4 nodes; the other trees 0.17. fw1 IPv4: trees 0, 1, 5 and
//!   wild 0.29, 0.49, 0.32 and 0.56, nearly every walk finding a better
//!   rule;
//! - start nodes per gate block, or per 8 blocks, in a table beside the
//!   gate words (as fine as the words for tree 0 of ipc1 only at 2 MB
//!   and 256 KB): ipc1 IPv4 550 to 564 and 573 instructions, D1 misses
//!   7.0 to 10.5 and 9.4, since tree 0's source splits fall inside a
//!   block; skipping them would need a multi-way node on the gate's
//!   field below the start;
//! - the pair's two gates without a branch (a closed gate starts its walk
//!   past the last node, an empty leaf): ipc1 550 to 612 instructions
//!   (every packet then steps two walks), mispredictions 4.9 to 4.6,
//!   2-3 ns slower;
//! - the wild tree walked with the pair (three walks in lockstep, its
//!   scan last): ipc1 10k 550 to 541 instructions, 1-3 ns faster (best
//!   102.4 to 100.1, IPv6 108.5 to 105.1), but ipc1 1k 492 to 603 and
//!   slower; and the wild tree walked beside each packet's first walk in
//!   unpaired forests: fw1 448 to 616 instructions, 12-14 ns slower (the
//!   10k gain was not the third walk: see below);
//! - built for x86-64-v2 (SSE4.2, POPCNT): 11-40 fewer instructions, no
//!   faster; fat LTO with one codegen unit: the same machine code;
//! - leaves marked in their child field so that a walk's next position
//!   from a leaf is past every node: one branch a step instead of two (9
//!   instructions a step against 11), but the leaf test after the loop
//!   costs what the steps save (ipc1 550 to 555, fw1 448 to 458), no
//!   faster;
//! - the packet's address words for the block checks taken once per
//!   lookup rather than in each check: the same code (the compiler
//!   already hoists them);
//! - kept: a paired forest's walks after the pair in a loop of their own
//!   ([`Forest::walk_rest`], the lookup returning from the pair's
//!   branch) rather than one loop both paths join: ipc1 10k 552 to 535
//!   instructions (IPv6 609 to 602), 1k 493 to 479, others 2-7 fewer;
//!   best pass of 14 interleaved summary runs 101.3 against 103.5 ns
//!   (IPv6 104.1 against 106.2);
//! - the last tree (the wild group's) walked with the pair when most
//!   sample keys through the first gate would walk it anyway: no
//!   ClassBench set qualifies (ipc1 10k: 2 of 2708 such samples; its
//!   wild-tree walks come from packets the first gate stops), so not
//!   kept; the earlier "1-3 ns faster" of the triple walk above was the
//!   loop split that it brought with it;
//! - where the time goes on fw1 IPv6 (perf, `-e cpu-clock`): the first
//!   load of a leaf's block 14% of samples, node loads 9% plus 5% on the
//!   compare after them, gate words 6%. IPv6 runs 80-100 instructions a
//!   packet more than IPv4 on the same trees (fw1 546 against 448),
//!   spread over the 128-bit packet's words, the first-word flags and
//!   the full lanes; two changes took 15-23 of them (see the
//!   [`super::lanes`] docs).
//!
//! Updates: [`Forest::insert`] edits a copy in place (the copy lays the leaf
//! runs out afresh, dropping what earlier inserts left behind): indexes
//! behind the new rule's shift by one, the rule opens its blocks in its
//! tree's gate, then it is copied into every leaf of its group's tree that
//! its box overlaps (the leaf's run is re-laid at the end of the
//! blocks); a leaf that passes [`SPLIT_AT`] filters is grown into a subtree
//! on the spot, the same way the build grows nodes, so a set built one
//! filter at a time (the way `tcctl` adds them) keeps short leaves. Leaves
//! only ever grow into subtrees in place, so the gates' start nodes stay on
//! the walks. [`Forest::without`] re-lays the entries without the rule
//! (gate bits stay set: a stale bit costs a walk, never an answer). Both
//! are O(entries), far below a rebuild. An index shift rewrites each
//! lane's index in place ([`Lanes::map_idx`]); an insert only appends
//! runs.

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

use super::LookupCost;
use super::lanes::{ALL_TOPS, LaneBlock, Lanes, common_top};
use super::matching::{Addr, Packet, Rule};

/// Leaves hold at most this many filters unless no split helps.
pub const LEAF_SIZE: usize = 8;
/// Deepest node (the root is at depth 0).
pub const MAX_DEPTH: usize = 40;
/// An insert grows a leaf that passes this many filters into a subtree.
pub const SPLIT_AT: usize = 2 * LEAF_SIZE;
/// A tree stops splitting once its leaves hold this many times its filters.
pub const REPLICATION: usize = 16;
/// Fields a tree splits on, each a `u32`: 0 source address (IPv6: bits
/// 96..128), 1 destination address (IPv6: bits 96..128), 2 source port,
/// 3 destination port, 4 source (IPv6 only: bits 64..96), 5 destination
/// (IPv6 only: bits 64..96), 6 protocol ([`PROTO_DIM`], the wild group's
/// tree only).
const DIMS: usize = 7;
/// The protocol field (0..=255; "TCP or UDP" as 6..=17). Only the wild
/// group's tree splits on it: its rules are wide in every other field,
/// and its leaves mostly differ by protocol (ClassBench fw1 10k: leaves of
/// 25.7 rules on average, 1.2 of the 1.55 rules a packet checks there per
/// packet failing on the protocol; split on it, leaves of 9.5 and 0.25
/// protocol failures). As a field of every tree it measured no better
/// (fw1 10k: more rule checks in group 5, whose leaf rules mostly fail on
/// an address, and a protocol split copies every rule of any protocol).
/// Gates never use it.
const PROTO_DIM: usize = 6;
/// The group of rules wide in every field (see [`group_of`]).
const WILD: u8 = 6;
/// Groups a family's filters are partitioned into.
const GROUPS: usize = 7;
/// The `dim` of a leaf node (key field 7 is always 0, never split on).
const LEAF: u32 = 7;
/// Most nodes a tree holds (child indexes have 29 bits); a node past it
/// becomes a leaf.
const MAX_NODES: usize = 1 << 29;

/// A node, 8 bytes (a cache line holds eight): inner (`dim` < [`DIMS`]:
/// `key[dim] < value` goes to `child`, else to `child + 1`) or leaf (`dim`
/// == [`LEAF`]: the entry run starts at `child` and holds `value` rules).
/// `link` packs `child << 3 | dim`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Node {
    value: u32,
    link: u32,
}

impl Node {
    const EMPTY_LEAF: Self = Self {
        value: 0,
        link: LEAF,
    };

    fn inner(dim: usize, value: u32, child: usize) -> Self {
        let child = u32::try_from(child).unwrap_or(0) & (u32::MAX >> 3);
        Self {
            value,
            link: (child << 3) | (u32::try_from(dim).unwrap_or(0) & 7),
        }
    }

    fn leaf(start: usize, len: usize) -> Self {
        let start = u32::try_from(start).unwrap_or(0) & (u32::MAX >> 3);
        Self {
            value: u32::try_from(len).unwrap_or(0),
            link: (start << 3) | LEAF,
        }
    }

    const fn dim(self) -> u32 {
        self.link & 7
    }

    const fn is_leaf(self) -> bool {
        self.dim() == LEAF
    }

    const fn child(self) -> usize {
        (self.link >> 3) as usize
    }

    /// (start, len) of a leaf's run.
    const fn run(self) -> (usize, usize) {
        (self.child(), self.value as usize)
    }
}

/// A filter's box: one inclusive interval per field.
type Boxed = [(u32, u32); DIMS];

/// The box of a rule.
fn box_of<A: Addr>(r: &Rule<A>) -> Boxed {
    let mut b = [(0, 0); DIMS];
    for (dim, x) in b.iter_mut().enumerate() {
        *x = interval(r, dim);
    }
    b
}

/// One field's interval of a rule (`dim` as in [`DIMS`]; IPv4 rules are
/// the single point 0 in fields 4 and 5, like every IPv4 packet).
fn interval<A: Addr>(r: &Rule<A>, dim: usize) -> (u32, u32) {
    let (sl, dl) = r.lens();
    let (sp, dp) = r.port_ranges();
    match dim {
        0 => r.src().spans(sl)[0],
        1 => r.dst().spans(dl)[0],
        2 => (u32::from(sp.0), u32::from(sp.1)),
        3 => (u32::from(dp.0), u32::from(dp.1)),
        4 => r.src().spans(sl)[1],
        5 => r.dst().spans(dl)[1],
        _ => r.proto_range(),
    }
}

/// The address and port fields of a tree over `A` (IPv4 has no fields 4
/// and 5), which every tree may split on, in the order a tie between two
/// equally good splits goes to the first: source address, destination
/// address, source port, destination port, as in IPv4. (With IPv6's lower
/// address words last, after the ports, ties went to a port: fw1 10k
/// IPv6's tree 1 then split on the destination port just below the gate's
/// levels where IPv4 splits on the address, and its gate start nodes
/// stopped there, 2.7 nodes a walk against IPv4's 1.4.)
const fn split_dims<A: Addr>() -> &'static [usize] {
    if A::WORDS > 1 {
        &[0, 4, 1, 5, 2, 3]
    } else {
        &[0, 1, 2, 3]
    }
}

/// The fields a gate over `A` may use, first preferred on a tie: every
/// field but IPv6's first address words (see [`Gate::sized`]), addresses
/// before ports as in IPv4.
const fn gate_dims<A: Addr>() -> &'static [usize] {
    if A::WORDS > 1 {
        &[4, 5, 2, 3]
    } else {
        &[0, 1, 2, 3]
    }
}

/// The key a packet walks the tree with ([`DIMS`] fields, padded to 8 so
/// that a field number masked to 3 bits always indexes it).
#[inline]
fn key_of<A: Addr>(p: &Packet<A>) -> [u32; 8] {
    let [s0, s1] = p.src.words();
    let [d0, d1] = p.dst.words();
    [
        s0,
        d0,
        u32::from(p.sport),
        u32::from(p.dport),
        s1,
        d1,
        p.proto(),
        0,
    ]
}

/// The group of a rule (see the module docs): 0 long source prefix, 1
/// short source and long destination, then 2 + the field in which the rule
/// is narrowest relative to the field's size (source, destination, source
/// port, destination port; the first on a tie), or 6 when even that field
/// is wide ([`WILD_SCORE`]).
fn group_of<A: Addr>(r: &Rule<A>) -> u8 {
    let (sl, dl) = r.lens();
    if sl >= A::SHORT_BELOW {
        return 0;
    }
    if dl >= A::SHORT_BELOW {
        return 1;
    }
    // Free bits of each field scaled to 0..=64 (64 = no condition).
    // Addresses are scored on their last 32 bits of the tree's fields:
    // the whole IPv4 address, IPv6 bits 64..96 (the first 32 bits of an
    // IPv6 address are an allocation prefix shared by most rules, so a
    // /40 is as selective as an IPv4 /8, and the bench's IPv6 sets group
    // like their IPv4 originals).
    let addr = |len: u8| {
        let below = A::KEY_BITS.saturating_sub(32);
        u32::from(A::KEY_BITS.saturating_sub(len.clamp(below, A::KEY_BITS))).saturating_mul(2)
    };
    let port = |(lo, hi): (u16, u16)| {
        (16u32.saturating_sub(hi.wrapping_sub(lo).leading_zeros())).saturating_mul(4)
    };
    let (sp, dp) = r.port_ranges();
    let scores = [addr(sl), addr(dl), port(sp), port(dp)];
    let mut best = 0u8;
    let mut low = u32::MAX;
    for (g, &score) in (2u8..).zip(scores.iter()) {
        if score < low {
            low = score;
            best = g;
        }
    }
    if low >= WILD_SCORE {
        // Wide in every field: splitting would copy these everywhere.
        return WILD;
    }
    best
}

/// A rule whose narrowest field still has this many free bits (in 64ths of
/// the field) joins the wild group (6): e.g. an IPv4 prefix of /2 or
/// shorter, a port range of 32768 ports or more, in every field.
const WILD_SCORE: u32 = 60;

/// One group's tree.
#[derive(Debug)]
struct Tree<A: Addr> {
    group: u8,
    /// Best (smallest) filter index held, `u32::MAX` when none.
    min: u32,
    /// Lets through only packets some rule of the tree may match.
    gate: Gate,
    /// Node 0 is the root; children are always after their parent.
    nodes: Vec<Node>,
    /// Leaf runs, best (smallest index) first, four rules side by side
    /// (see [`Lanes`]).
    entries: Lanes<A>,
}

impl<A: Addr> Clone for Tree<A> {
    /// A copy whose nodes and leaf runs are laid out by cache line afresh
    /// (see [`clustered`], [`laid_out`]): a plain copy of the arrays would
    /// land anywhere relative to the line boundaries.
    fn clone(&self) -> Self {
        self.compacted(0, None)
    }
}

/// Fewest and most blocks a [`Gate`] tells apart (powers of two): about
/// [`GATE_BLOCKS_PER_RULE`] per rule of the tree in between (more in small
/// trees, see [`Gate::of`]).
const GATE_BLOCKS: (u32, u32) = (1 << 6, 1 << 16);
/// Gate blocks per rule of the tree (a gate costs a bit per block, and a
/// start node per 64 blocks: about 3 bytes per rule). Fewer measured more
/// walks (4 per rule: fw1 10k 2.6 trees walked per packet, 16: 2.1); more
/// for every tree costs more than it saves on sets whose walks mostly
/// find a match (acl1): a large set's trees weigh a finer gate each, see
/// [`FINE_PER`].
const GATE_BLOCKS_PER_RULE: usize = 16;
/// Blocks per rule of the finer gate a tree of a large set gets when it
/// saves enough work ([`FINE_PER`]), and most blocks it has (2^20: a
/// 20-bit prefix of an address word).
const FINE_BLOCKS_PER_RULE: usize = 64;
/// See [`FINE_BLOCKS_PER_RULE`].
const FINE_BLOCKS: u32 = 1 << 20;
/// Only families of this many sample keys or more ([`sample_keys`]: about
/// 5/4 of the rules, at most 5/4 of [`SAMPLES`]) weigh finer gates: in
/// smaller sets the trees stay in the caches, a walk that finds nothing
/// costs little, and the index bytes per filter are closer to the budget.
const FINE_GATE_SAMPLES: usize = 2048;
/// A tree takes the finer gate when, on the sample packets (a point
/// inside each rule of the family, and random ones), lookups behind it
/// would do at least a node's work less per this many packets than
/// behind the plain gate ([`Tree::work`]): a finer gate skips walks that
/// find nothing (it is open wherever a rule of the tree is) and starts
/// walks deeper, but it costs four times the bytes, read by every packet
/// that tests it. ClassBench 10k IPv4, nodes saved per sample packet: fw1
/// trees 0, 1, 2, 5: 0.45, 1.02, 0.31, 1.34; ipc1 trees 0, 1, 5: 0.35,
/// 0.61, 1.07; every other tree below 0.02, acl1's too (finer gates on all
/// of acl1's trees measured a few % slower: bigger gates, no walk
/// skipped). Taken, cachegrind per packet: fw1 10k 431 to 391
/// instructions, 8.9 to 7.7 mispredictions, 6.0 to 6.3 D1 misses; ipc1
/// 438 to 393, 8.9 to 7.9, 5.4 to 5.9.
const FINE_PER: usize = 10;
/// A walk's cost beyond its nodes (its leaf scan, the first touch of the
/// leaf's rules), in nodes.
const WALK_NODES: usize = 4;

/// A forest pairs its first two trees ([`Forest::pair_pays`]) only when
/// at least one sample key in this many passes both their gates.
const PAIR_OPEN: usize = 16;

/// ... and when at least this share (numerator, denominator) of those
/// keys would walk the second tree after the first anyway. ClassBench
/// 10k: ipc1 0.74 (IPv4) and 0.80 (IPv6) of 14-17% of the samples, and
/// pairing is 8-12 ns faster per packet; acl1 0.07-0.10 (it would walk
/// the second tree for nothing) and fw1 under 1% of the samples: not
/// paired.
const PAIR_WALKED: (usize, usize) = (2, 3);

/// A tree's gate: one bit per block of one field (the top `log2(blocks)`
/// bits of an address word or port), set when a rule of the tree covers
/// part of the block. A packet whose block is clear can match no rule of
/// the tree, which lookup then skips: one load and a bit test instead of
/// a walk and a leaf scan (on ClassBench 10k this skips 40-60% of the
/// trees a packet would walk). The field is the one whose bitmap the
/// tree's rules fill least (chosen at build). Bits are set by inserts and
/// never cleared by removals (a set bit only costs a walk).
#[derive(Debug, Clone)]
struct Gate {
    dim: u8,
    /// Field bits below the block number (below 32).
    shift: u8,
    /// The bitmap, 64 blocks a word, each word beside its start node: a
    /// gate test reads one line, not two (with the start nodes in an array
    /// of their own, a packet missed on both).
    words: Vec<GateWord>,
}

/// 64 blocks of a [`Gate`] and the node a walk of a packet in them can
/// start from (see [`Gate::set_starts`]). 12 bytes: the bitmap word as
/// two halves, so that no padding is held (16-byte words made the gates a
/// third larger, and they are what most packets miss on first).
#[derive(Debug, Clone, Copy, Default)]
struct GateWord {
    lo: u32,
    hi: u32,
    start: u32,
}

impl GateWord {
    const fn bits(self) -> u64 {
        ((self.hi as u64) << 32) | self.lo as u64
    }

    const fn set_bits(&mut self, bits: u64) {
        self.lo = bits as u32;
        self.hi = (bits >> 32) as u32;
    }
}

impl Gate {
    /// A gate of `blocks` blocks (a power of two, at least 64) on field
    /// `dim` that lets nothing through yet.
    fn closed(dim: usize, blocks: u32) -> Self {
        // Ports are 16 bits, address words 32.
        let width: u32 = if dim == 2 || dim == 3 { 16 } else { 32 };
        Self {
            dim: u8::try_from(dim).unwrap_or(0),
            shift: u8::try_from(width.saturating_sub(blocks.trailing_zeros())).unwrap_or(0),
            words: vec![GateWord::default(); (blocks / 64).max(1) as usize],
        }
    }

    /// The inclusive interval of field values word `j` of the bitmap
    /// covers.
    fn word_range(&self, j: usize) -> (u32, u32) {
        let lo = (j as u64).saturating_mul(64) << self.shift;
        let hi = ((j as u64).saturating_add(1).saturating_mul(64) << self.shift).saturating_sub(1);
        (
            u32::try_from(lo).unwrap_or(u32::MAX),
            u32::try_from(hi).unwrap_or(u32::MAX),
        )
    }

    /// The deepest node every walk of a value in `lo..=hi` (of the gate's
    /// field) passes: down from the root while the node splits on the
    /// gate's field outside the interval.
    fn start_for(&self, nodes: &[Node], (lo, hi): (u32, u32)) -> u32 {
        let mut i = 0usize;
        while let Some(n) = nodes.get(i) {
            if n.is_leaf() || n.dim() != u32::from(self.dim) {
                break;
            }
            if hi < n.value {
                i = n.child();
            } else if lo >= n.value {
                i = n.child().wrapping_add(1);
            } else {
                break;
            }
        }
        u32::try_from(i).unwrap_or(0)
    }

    /// Sets each word's start node (after a build). The top levels of a
    /// tree mostly split on the field its rules are narrowest in, which is
    /// the gate's: a walk that starts where the gate's word leads skips
    /// them. Inserts keep the starts right: they only turn leaves into
    /// subtrees in place, so a start node stays on every walk it was on.
    fn set_starts(&mut self, nodes: &[Node]) {
        for j in 0..self.words.len() {
            let start = self.start_for(nodes, self.word_range(j));
            if let Some(w) = self.words.get_mut(j) {
                w.start = start;
            }
        }
    }

    /// Follows the tree's nodes to their new positions (`moved[old]`, see
    /// [`clustered`]): a start node is always reachable, so never dropped
    /// (if it were, the root is a valid start).
    fn moved(&mut self, moved: &[u32]) {
        for w in &mut self.words {
            w.start = moved
                .get(w.start as usize)
                .copied()
                .filter(|&p| p != u32::MAX)
                .unwrap_or(0);
        }
    }

    /// The blocks (first, last) `r`'s interval in the gate's field touches.
    fn blocks<A: Addr>(&self, r: &Rule<A>) -> (usize, usize) {
        let (lo, hi) = interval(r, usize::from(self.dim));
        let last = self.words.len().saturating_mul(64).saturating_sub(1);
        (
            (lo.checked_shr(u32::from(self.shift)).unwrap_or(0) as usize).min(last),
            (hi.checked_shr(u32::from(self.shift)).unwrap_or(0) as usize).min(last),
        )
    }

    /// Opens the blocks `r`'s interval in the gate's field touches.
    fn add<A: Addr>(&mut self, r: &Rule<A>) {
        let (lo, hi) = self.blocks(r);
        self.open(lo, hi);
    }

    /// Opens blocks `lo..=hi`.
    fn open(&mut self, lo: usize, hi: usize) {
        let last = self.words.len().saturating_sub(1);
        let words = self
            .words
            .get_mut(lo / 64..=(hi / 64).min(last))
            .unwrap_or(&mut []);
        for (i, w) in words.iter_mut().enumerate() {
            let i = i.wrapping_add(lo / 64);
            let first = i.saturating_mul(64);
            let last = first.saturating_add(63);
            if hi < first || lo > last {
                continue;
            }
            // Bits lo..=hi of this word.
            let from = lo.saturating_sub(first);
            let to = hi.min(last).saturating_sub(first);
            let upto = u64::MAX
                .checked_shr(63u32.saturating_sub(to as u32))
                .unwrap_or(0);
            w.set_bits(w.bits() | (upto & u64::MAX.checked_shl(from as u32).unwrap_or(0)));
        }
    }

    /// The gate of `rules`, on the field where it is closed most (a
    /// second gate on the next best field measured no fewer walks on
    /// ClassBench). Per field: the rules' block intervals, sorted and
    /// merged, are opened and counted.
    fn of<A: Addr>(rules: &[Rule<A>]) -> Self {
        // Small trees get up to 64 blocks per rule (at most 2 Ki blocks):
        // cheap in bytes, and sharper.
        let n = rules.len();
        let want = n
            .saturating_mul(GATE_BLOCKS_PER_RULE)
            .max(n.saturating_mul(64).min(2048));
        Self::sized(rules, want, GATE_BLOCKS.1)
    }

    /// The finer gate [`Tree::build`] weighs for a large tree: about
    /// [`FINE_BLOCKS_PER_RULE`] blocks per rule, up to [`FINE_BLOCKS`].
    fn fine<A: Addr>(rules: &[Rule<A>]) -> Self {
        Self::sized(
            rules,
            rules.len().saturating_mul(FINE_BLOCKS_PER_RULE),
            FINE_BLOCKS,
        )
    }

    /// The gate of `rules` with about `want` blocks (a power of two, at
    /// most `most`).
    fn sized<A: Addr>(rules: &[Rule<A>], want: usize, most: u32) -> Self {
        let blocks = u32::try_from(want)
            .unwrap_or(u32::MAX)
            .checked_next_power_of_two()
            .unwrap_or(most)
            .clamp(GATE_BLOCKS.0, most);
        let mut best: Option<(usize, Self)> = None;
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(rules.len());
        // For IPv6, the address words after the first 32 bits (fields 4
        // and 5): the first 32 bits are an allocation prefix most packets
        // share, a gate on them would open for all.
        for &dim in gate_dims::<A>() {
            let mut g = Self::closed(dim, blocks);
            spans.clear();
            spans.extend(rules.iter().map(|r| g.blocks(r)));
            spans.sort_unstable();
            let mut open = 0usize;
            let mut run: Option<(usize, usize)> = None;
            for &(lo, hi) in spans.iter() {
                run = match run {
                    Some((a, b)) if lo <= b.saturating_add(1) => Some((a, b.max(hi))),
                    Some((a, b)) => {
                        g.open(a, b);
                        open = open.saturating_add(b.saturating_sub(a)).saturating_add(1);
                        Some((lo, hi))
                    }
                    None => Some((lo, hi)),
                };
            }
            if let Some((a, b)) = run {
                g.open(a, b);
                open = open.saturating_add(b.saturating_sub(a)).saturating_add(1);
            }
            if best.as_ref().is_none_or(|(o, _)| open < *o) {
                best = Some((open, g));
            }
        }
        best.map_or_else(|| Self::closed(0, GATE_BLOCKS.0), |(_, g)| g)
    }

    /// Whether a rule of the tree may match a packet of key `key`, and
    /// the node to start its walk from (one load, no branch: the shift is
    /// in range by construction, not checked).
    #[inline]
    fn probe(&self, key: &[u32; 8]) -> (bool, u32) {
        let x = key.get(usize::from(self.dim & 7)).copied().unwrap_or(0);
        // `shift` is below 32 (see `closed`).
        let b = x.wrapping_shr(u32::from(self.shift)) as usize;
        let w = self.words.get(b / 64).copied().unwrap_or_default();
        (w.bits().wrapping_shr(b as u32) & 1 != 0, w.start)
    }

    /// The node to start the walk of key `key` from, or `None` when no
    /// rule of the tree can match a packet of that key.
    #[inline]
    fn start(&self, key: &[u32; 8]) -> Option<usize> {
        let (open, start) = self.probe(key);
        open.then_some(start as usize)
    }
}

/// A node waiting to be grown: its position, its rules, its box, its depth.
type Pending<A> = (usize, Vec<Rule<A>>, Boxed, usize);

impl<A: Addr> Tree<A> {
    /// The leaf node `key` falls into. The walk is branch-free but for
    /// the loop's exit at the leaf: the child is `child + (key >= value)`,
    /// not a jump. It ends: a child is always after its parent.
    #[inline]
    fn leaf(&self, key: &[u32; 8], start: usize) -> Node {
        let mut i = start;
        while let Some(&n) = self.nodes.get(i) {
            if n.is_leaf() {
                return n;
            }
            let x = key.get(n.dim() as usize).copied().unwrap_or(0);
            i = n.child().wrapping_add(usize::from(x >= n.value));
        }
        Node::EMPTY_LEAF
    }

    /// The index of the first rule of leaf `n`'s run that matches `p`, if
    /// it is below `best`; else `best` ([`Lanes::scan`]).
    #[inline(always)]
    fn scan(&self, n: Node, best: u32, p: (&Packet<A>, u32)) -> u32 {
        let (start, len) = n.run();
        self.entries.scan(start, len, best, p)
    }

    /// The first match below `best` in the leaf the walk of `key` from
    /// node `start` reaches ([`Tree::leaf`], [`Tree::scan`]), in one loop:
    /// the walk reaches the leaf's run directly.
    #[inline(always)]
    fn walk_scan(&self, key: &[u32; 8], start: usize, best: u32, p: (&Packet<A>, u32)) -> u32 {
        let mut i = start;
        while let Some(&n) = self.nodes.get(i) {
            if n.is_leaf() {
                return self.scan(n, best, p);
            }
            let x = key.get(n.dim() as usize).copied().unwrap_or(0);
            i = n.child().wrapping_add(usize::from(x >= n.value));
        }
        best
    }

    /// The rules of leaf node `n`.
    fn run(&self, n: Node) -> impl Iterator<Item = Rule<A>> + Clone + '_ {
        let (start, len) = n.run();
        self.entries.run(start, len)
    }

    /// [`Tree::leaf`], counting the walk (`walked`) and the nodes visited
    /// (`tables`).
    fn leaf_counting(&self, key: &[u32; 8], start: usize, cost: &mut LookupCost) -> Node {
        cost.walked = cost.walked.saturating_add(1);
        let mut i = start;
        while let Some(&n) = self.nodes.get(i) {
            cost.tables = cost.tables.saturating_add(1);
            if n.is_leaf() {
                return n;
            }
            let x = key.get(n.dim() as usize).copied().unwrap_or(0);
            i = n.child().wrapping_add(usize::from(x >= n.value));
        }
        Node::EMPTY_LEAF
    }

    /// [`Tree::scan`], counting the rules compared (`candidates`).
    fn scan_counting(
        &self,
        n: Node,
        best: u32,
        p: (&Packet<A>, u32),
        cost: &mut LookupCost,
    ) -> u32 {
        let (start, len) = n.run();
        self.entries.scan_counting(start, len, best, p, cost)
    }

    /// Builds the tree of `set` (ascending index); `samples` are keys of
    /// packets of the family (see [`sample_keys`]) on which a large tree
    /// weighs a finer gate ([`FINE_PER`]).
    fn build(group: u8, set: Vec<Rule<A>>, samples: &[[u32; 8]], top: [u32; 2]) -> Self {
        let budget = set
            .len()
            .saturating_mul(REPLICATION)
            .saturating_add(LEAF_SIZE.saturating_mul(64));
        let fine = (samples.len() >= FINE_GATE_SAMPLES).then(|| Gate::fine(&set));
        let mut t = Self {
            group,
            min: set.first().map_or(u32::MAX, |r| r.idx),
            gate: Gate::of(&set),
            nodes: vec![Node::EMPTY_LEAF],
            entries: Lanes::with_capacity(set.len().saturating_add(set.len() / 4), top),
        };
        let whole: Boxed = [(0, u32::MAX); DIMS];
        let live = set.len();
        let mut queue = VecDeque::new();
        queue.push_back((0, set, whole, 0));
        t.grow(queue, budget, live);
        t.nodes = clustered(&t.nodes, 0).0;
        t.entries = laid_out(&mut t.nodes, &t.entries, 0, None);
        t.gate.set_starts(&t.nodes);
        if let Some(mut fine) = fine {
            fine.set_starts(&t.nodes);
            let saved = t
                .work(&t.gate, samples)
                .saturating_sub(t.work(&fine, samples));

            if saved.saturating_mul(FINE_PER) >= samples.len() {
                t.gate = fine;
            }
        }
        t
    }

    /// The work lookups of `samples` would do in this tree behind `gate`,
    /// in nodes: for each key the gate lets through, the nodes from its
    /// start node to the leaf, and [`WALK_NODES`] for the walk itself and
    /// its leaf scan.
    fn work(&self, gate: &Gate, samples: &[[u32; 8]]) -> usize {
        let mut work = 0usize;
        for k in samples {
            let Some(mut i) = gate.start(k) else {
                continue;
            };
            work = work.saturating_add(WALK_NODES);
            while let Some(&n) = self.nodes.get(i) {
                if n.is_leaf() {
                    break;
                }
                work = work.saturating_add(1);
                let x = k.get(n.dim() as usize).copied().unwrap_or(0);
                i = n.child().wrapping_add(usize::from(x >= n.value));
            }
        }
        work
    }

    /// Grows the tree from the nodes in `queue`: each becomes an inner node
    /// over two new nodes, or a leaf whose run is appended to the entries.
    /// `live` counts entries placed or queued; splitting stops once it
    /// reaches `budget`.
    fn grow(&mut self, mut queue: VecDeque<Pending<A>>, budget: usize, mut live: usize) {
        // Breadth first, so that a tree that runs out of replication budget
        // stops at an even depth rather than starving its right side.
        let (mut los, mut his) = (Vec::new(), Vec::new());
        while let Some((id, set, range, depth)) = queue.pop_front() {
            let split = if set.len() > LEAF_SIZE
                && depth < MAX_DEPTH
                && live < budget
                && self.nodes.len() < MAX_NODES.saturating_sub(2)
            {
                choose(&set, &range, &mut los, &mut his, self.group == WILD)
            } else {
                None
            };
            let Some((dim, value)) = split else {
                let start = self.entries.push_run(set.iter().copied(), set.len());
                if let Some(n) = self.nodes.get_mut(id) {
                    *n = Node::leaf(start, set.len());
                }
                continue;
            };
            let child = self.nodes.len();
            self.nodes.push(Node::EMPTY_LEAF);
            self.nodes.push(Node::EMPTY_LEAF);
            if let Some(n) = self.nodes.get_mut(id) {
                *n = Node::inner(dim, value, child);
            }
            let left: Vec<Rule<A>> = set
                .iter()
                .filter(|r| interval(r, dim).0 < value)
                .copied()
                .collect();
            let right: Vec<Rule<A>> = set
                .iter()
                .filter(|r| interval(r, dim).1 >= value)
                .copied()
                .collect();
            live = live
                .saturating_add(left.len())
                .saturating_add(right.len())
                .saturating_sub(set.len());
            let (mut lr, mut rr) = (range, range);
            if let Some(r) = lr.get_mut(dim) {
                r.1 = value.saturating_sub(1);
            }
            if let Some(r) = rr.get_mut(dim) {
                r.0 = value;
            }
            let depth = depth.saturating_add(1);
            queue.push_back((child, left, lr, depth));
            queue.push_back((child.wrapping_add(1), right, rr, depth));
        }
    }

    /// Copies `rule` into every leaf its box overlaps. A leaf that grows
    /// past [`SPLIT_AT`] rules is grown into a subtree on the spot (so a
    /// classifier built by adding filters one at a time still gets short
    /// leaves).
    fn insert(&mut self, rule: Rule<A>) {
        let b = box_of(&rule);
        let whole: Boxed = [(0, u32::MAX); DIMS];
        let mut stack = vec![(0usize, whole, 0usize)];
        while let Some((i, range, depth)) = stack.pop() {
            let Some(n) = self.nodes.get(i).copied() else {
                continue;
            };
            if !n.is_leaf() {
                let d = n.dim() as usize;
                let (lo, hi) = b.get(d).copied().unwrap_or((0, u32::MAX));
                let child = n.child();
                let depth = depth.saturating_add(1);
                if lo < n.value {
                    let mut r = range;
                    if let Some(x) = r.get_mut(d) {
                        x.1 = n.value.saturating_sub(1);
                    }
                    stack.push((child, r, depth));
                }
                if hi >= n.value {
                    let mut r = range;
                    if let Some(x) = r.get_mut(d) {
                        x.0 = n.value;
                    }
                    stack.push((child.wrapping_add(1), r, depth));
                }
                continue;
            }
            let (start, len) = n.run();
            let old: Vec<Rule<A>> = self.entries.run(start, len).collect();
            let at = old.partition_point(|e| e.idx < rule.idx);
            let mut set = Vec::with_capacity(len.saturating_add(1));
            set.extend_from_slice(old.get(..at).unwrap_or(&[]));
            set.push(rule);
            set.extend_from_slice(old.get(at..).unwrap_or(&[]));
            if set.len() > SPLIT_AT {
                let budget = set
                    .len()
                    .saturating_mul(REPLICATION)
                    .saturating_add(LEAF_SIZE);
                let live = set.len();
                let mut queue = VecDeque::new();
                queue.push_back((i, set, range, depth));
                self.grow(queue, budget, live);
            } else {
                let new_start = self.entries.push_run(set.iter().copied(), set.len());
                if let Some(n) = self.nodes.get_mut(i) {
                    *n = Node::leaf(new_start, set.len());
                }
            }
        }
        self.min = self.min.min(rule.idx);
    }

    /// A copy whose leaf runs are laid out afresh, without the rule of index
    /// `drop` (if any) and without the runs that earlier inserts left
    /// behind, with `room` entries to spare.
    fn compacted(&self, room: usize, drop: Option<u32>) -> Self {
        // Laid out by line afresh: a copy's array moves, and the inserts
        // since the build appended nodes out of line.
        let (mut nodes, moved) = clustered(&self.nodes, if room > 0 { SPARE_NODES } else { 0 });
        let entries = laid_out(&mut nodes, &self.entries, room, drop);
        let min = entries.iter().map(|r| r.idx).min().unwrap_or(u32::MAX);
        let mut gate = self.gate.clone();
        gate.moved(&moved);
        Self {
            group: self.group,
            min,
            gate,
            nodes,
            entries,
        }
    }

    fn heap_bytes(&self) -> usize {
        let gate = self
            .gate
            .words
            .capacity()
            .saturating_mul(core::mem::size_of::<GateWord>());
        let nodes = self
            .nodes
            .capacity()
            .saturating_mul(core::mem::size_of::<Node>());
        gate.saturating_add(nodes)
            .saturating_add(self.entries.heap_bytes())
    }

    fn longest_leaf(&self) -> u32 {
        self.nodes
            .iter()
            .filter(|n| n.is_leaf())
            .map(|n| u32::try_from(n.run().1).unwrap_or(u32::MAX))
            .max()
            .unwrap_or(0)
    }
}

/// The leaf runs of `nodes` (over `old`) laid out afresh with `room`
/// rules to spare, without the rule of index `drop`, each run placed by
/// [`Lanes::push_run`]; the leaves are pointed at their new runs.
fn laid_out<A: Addr>(
    nodes: &mut [Node],
    old: &Lanes<A>,
    room: usize,
    drop: Option<u32>,
) -> Lanes<A> {
    // The lanes the runs and their fillers take, so that the blocks are
    // allocated once.
    // Counted by index alone: rebuilding each rule costs more.
    let kept = |start: usize, len: usize| {
        (start..start.saturating_add(len))
            .map_while(|i| old.idx(i))
            .filter(|&i| Some(i) != drop)
            .count()
    };
    let mut at = 0usize;
    for n in nodes.iter().filter(|n| n.is_leaf()) {
        let (start, len) = n.run();
        let count = kept(start, len);
        at = Lanes::<A>::next_start(at, count).saturating_add(count);
    }
    let mut entries = Lanes::with_capacity(at.saturating_add(room), old.top());
    for n in nodes.iter_mut().filter(|n| n.is_leaf()) {
        let (start, len) = n.run();
        let count = kept(start, len);
        let new_start = entries.push_run_from(old, (start, len), drop, count);
        *n = Node::leaf(new_start, count);
    }
    entries
}

/// Nodes in a cache line (8-byte nodes, 64-byte lines).
const LINE_NODES: usize = 8;
/// Room a copy made for an insert keeps for new nodes (a leaf grown into
/// a subtree), so that the insert does not move the array off its line
/// boundaries.
const SPARE_NODES: usize = 64;

/// The same tree with its child pairs laid out by cache line (a walk
/// reads one line per two levels or so, not one per level): the root
/// first, then lines of four pairs each: a pair and the pairs below it,
/// breadth first (its child pairs, then one grandchild pair), while there
/// is room; the pairs below that start lines of their own, and a line
/// whose subtree runs out takes the next waiting pairs (a first version
/// that left those slots empty held 60% more nodes, and was slower at 1k).
/// Lines start on a 64-byte boundary of the returned array (the few
/// filler slots are empty leaves no walk reaches), so a line is one cache
/// line as long as the array is not moved; it has room for `spare` more
/// nodes. Nodes no walk reaches are dropped; also returns each old node's
/// new position (`u32::MAX`: dropped). Children stay after their
/// parents. At 10k filters a walk's deep nodes mostly missed L1, one line
/// per level in the build's breadth-first order.
fn clustered(nodes: &[Node], spare: usize) -> (Vec<Node>, Vec<u32>) {
    let inner_pair =
        |i: usize| -> Option<usize> { nodes.get(i).filter(|n| !n.is_leaf()).map(|n| n.child()) };
    // Lines as the old positions of their pairs' first nodes.
    let mut lines: Vec<[Option<usize>; 4]> = Vec::new();
    let mut roots: VecDeque<usize> = inner_pair(0).into_iter().collect();
    let mut below: VecDeque<usize> = VecDeque::new();
    while let Some(c) = roots.pop_front() {
        // Breadth first below `c` while the line has room; a line whose
        // subtree runs out takes the next waiting pairs (less filler).
        let mut line = [None; 4];
        below.push_back(c);
        for slot in &mut line {
            let Some(p) = below.pop_front().or_else(|| roots.pop_front()) else {
                break;
            };
            *slot = Some(p);
            below.extend(inner_pair(p));
            below.extend(inner_pair(p.wrapping_add(1)));
        }
        roots.extend(below.drain(..));
        lines.push(line);
    }
    // The root, filler up to a line boundary, then the lines.
    let len = lines.len().saturating_mul(LINE_NODES).saturating_add(1);
    let mut out: Vec<Node> =
        Vec::with_capacity(len.saturating_add(LINE_NODES).saturating_add(spare));
    let size = core::mem::size_of::<Node>();
    let at = (out.as_ptr() as usize)
        .checked_div(size)
        .unwrap_or(0)
        .wrapping_add(1)
        % LINE_NODES;
    let pad = (LINE_NODES.wrapping_sub(at)) % LINE_NODES;
    // New position of each old node (`u32::MAX`: not reachable, dropped;
    // the root stays at 0).
    let mut pos = vec![u32::MAX; nodes.len()];
    if let Some(x) = pos.first_mut() {
        *x = 0;
    }
    let mut next = pad.saturating_add(1);
    for line in &lines {
        for (slot, c) in line.iter().enumerate() {
            if let Some(c) = *c {
                let p = next.saturating_add(slot.saturating_mul(2));
                let p = u32::try_from(p).unwrap_or(0);
                if let Some(x) = pos.get_mut(c) {
                    *x = p;
                }
                if let Some(x) = pos.get_mut(c.wrapping_add(1)) {
                    *x = p.saturating_add(1);
                }
            }
        }
        next = next.saturating_add(LINE_NODES);
    }
    out.resize(next, Node::EMPTY_LEAF);
    for (n, &p) in nodes.iter().zip(&pos) {
        if p == u32::MAX {
            continue;
        }
        let moved = if n.is_leaf() {
            *n
        } else {
            let child = pos.get(n.child()).copied().unwrap_or(0) as usize;
            Node::inner(n.dim() as usize, n.value, child)
        };
        if let Some(slot) = out.get_mut(p as usize) {
            *slot = moved;
        }
    }
    (out, pos)
}

/// Split values tried per field and node: every endpoint in small nodes,
/// about this many evenly spaced ones in large nodes (keeps the build fast).
const CANDIDATES: usize = 64;

/// The split of `set` (within `range`) with the smallest `left² + right²`
/// among those that shed a filter on both sides, or `None` when none does;
/// on the protocol too when `proto`. `los`, `his` are scratch buffers.
fn choose<A: Addr>(
    set: &[Rule<A>],
    range: &Boxed,
    los: &mut Vec<u32>,
    his: &mut Vec<u32>,
    proto: bool,
) -> Option<(usize, u32)> {
    let n = set.len();
    let mut best: Option<(usize, u32, u64)> = None;
    for &dim in split_dims::<A>().iter().chain(proto.then_some(&PROTO_DIM)) {
        let (rlo, rhi) = range.get(dim).copied().unwrap_or((0, u32::MAX));
        los.clear();
        his.clear();
        for r in set {
            let (lo, hi) = interval(r, dim);
            los.push(lo);
            his.push(hi);
        }
        los.sort_unstable();
        his.sort_unstable();
        let step = (n / CANDIDATES).max(1);
        // Candidate values: interval starts, and one past interval ends,
        // strictly inside the node's range (so both children are
        // non-empty boxes).
        let starts = los.iter().step_by(step).copied();
        let ends = his
            .iter()
            .step_by(step)
            .filter(|&&h| h < rhi)
            .map(|&h| h.wrapping_add(1));
        let mut last = None;
        for value in starts.chain(ends) {
            if value <= rlo || value > rhi || last == Some(value) {
                continue;
            }
            last = Some(value);
            // Left: intervals starting below the value; right: intervals
            // ending at or past it.
            let l = los.partition_point(|&x| x < value);
            let r = n.saturating_sub(his.partition_point(|&x| x < value));
            if l.max(r) >= n {
                // Sheds nothing on one side: useless, however cheap.
                continue;
            }
            // The sum of squares rewards balance and punishes replication:
            // 60/60 (20% copies) loses to 70/30 (none).
            let (l, r) = (l as u64, r as u64);
            let cost = l.saturating_mul(l).saturating_add(r.saturating_mul(r));
            if best.is_none_or(|(_, _, bc)| cost < bc) {
                best = Some((dim, value, cost));
            }
        }
    }
    best.map(|(dim, value, _)| (dim, value))
}

/// The leaves the walks of `key` reach in trees `a` and `b` from their
/// start nodes `i` and `j`, walked together: one loop whose every round
/// takes a step in each walk not yet at its leaf (without a branch: a walk
/// at its leaf stays put), so that the two walks' node loads are in flight
/// at once, and one loop exit instead of two. It ends: every round moves
/// a walk not at its leaf to a child, which is always after its parent,
/// and a position past the nodes reads as an empty leaf.
#[inline]
fn pair_leaves<A: Addr>(
    a: &Tree<A>,
    mut i: usize,
    b: &Tree<A>,
    mut j: usize,
    key: &[u32; 8],
) -> (Node, Node) {
    let mut na = a.nodes.get(i).copied().unwrap_or(Node::EMPTY_LEAF);
    let mut nb = b.nodes.get(j).copied().unwrap_or(Node::EMPTY_LEAF);
    loop {
        let (la, lb) = (na.is_leaf(), nb.is_leaf());
        if la & lb {
            break;
        }
        let xa = key.get(na.dim() as usize).copied().unwrap_or(0);
        let xb = key.get(nb.dim() as usize).copied().unwrap_or(0);
        if !la {
            i = na.child().wrapping_add(usize::from(xa >= na.value));
        }
        if !lb {
            j = nb.child().wrapping_add(usize::from(xb >= nb.value));
        }
        na = a.nodes.get(i).copied().unwrap_or(Node::EMPTY_LEAF);
        nb = b.nodes.get(j).copied().unwrap_or(Node::EMPTY_LEAF);
    }
    (na, nb)
}

/// Most sample keys [`sample_keys`] makes from rules.
const SAMPLES: usize = 4096;

/// Keys of packets the finer gates are weighed on ([`FINE_PER`]): a
/// point inside each of up to [`SAMPLES`] rules of `rules` (evenly spread
/// over them), in every field somewhere in the rule's interval, not only
/// at its start (start addresses are shared by many prefixes), one in
/// four of those of rules without port conditions with no ports (ports
/// 0, like ICMP: without them the finer port gates of fw1 and ipc1 were
/// not seen to pay), and one in four as many points anywhere, half of
/// them without ports. Deterministic.
fn sample_keys<A: Addr>(rules: &[Rule<A>]) -> Vec<[u32; 8]> {
    let step = rules.len().div_ceil(SAMPLES).max(1);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut keys: Vec<[u32; 8]> = Vec::with_capacity(
        (rules.len().checked_div(step).unwrap_or(0))
            .saturating_mul(5)
            .saturating_div(4)
            .saturating_add(1),
    );
    for r in rules.iter().step_by(step) {
        let mut k = [0u32; 8];
        for (dim, x) in k.iter_mut().enumerate().take(DIMS) {
            let (lo, hi) = interval(r, dim);
            let width = u64::from(hi.saturating_sub(lo)).saturating_add(1);
            let off = next().checked_rem(width).unwrap_or(0);
            *x = lo.saturating_add(u32::try_from(off).unwrap_or(0));
        }
        // A packet inside a rule without port conditions is one without
        // ports (keys 0) one time in four (ICMP and the like).
        if !r.needs_ports() && next() % 4 == 0 {
            k[2] = 0;
            k[3] = 0;
        }
        keys.push(k);
    }
    for _ in 0..keys.len() / 4 {
        let mut k = [0u32; 8];
        // Half of them without ports.
        let ports = next() % 2 == 0;
        for (dim, x) in k.iter_mut().enumerate().take(DIMS) {
            let v = (next() >> 32) as u32;
            *x = match dim {
                2 | 3 if ports => v & 0xFFFF,
                2 | 3 => 0,
                4 | 5 if A::WORDS == 1 => 0,
                PROTO_DIM => v & 0xFF,
                _ => v,
            };
        }
        keys.push(k);
    }
    keys
}

/// One family's trees.
#[derive(Debug, Clone)]
pub(crate) struct Forest<A: Addr> {
    /// At most one tree per group, ordered by their best index.
    trees: Vec<Tree<A>>,
    /// The first two trees are walked together when both gates let a
    /// packet through (see [`Forest::pair_pays`]). A speed choice made at
    /// build; it never changes an answer, so updates keep it as it is.
    paired: bool,
    /// IPv6: the first address words (bits 96..128; source, destination)
    /// every tree's lanes check with one flag ([`common_top`]): chosen at
    /// build; a forest grown from empty takes its first rule's.
    top: [u32; 2],
}

impl<A: Addr> Forest<A> {
    /// An empty forest.
    pub(crate) const fn new() -> Self {
        Self {
            trees: Vec::new(),
            paired: false,
            top: [0, 0],
        }
    }

    /// Compiles `rules` (ascending `idx`).
    pub(crate) fn build(rules: Vec<Rule<A>>) -> Self {
        let samples = sample_keys(&rules);
        let top = common_top(&rules);
        let mut sets: [Vec<Rule<A>>; GROUPS] = Default::default();
        for r in rules {
            if let Some(s) = sets.get_mut(usize::from(group_of(&r))) {
                s.push(r);
            }
        }
        let mut trees = Vec::new();
        for (g, set) in sets.into_iter().enumerate() {
            if !set.is_empty() {
                trees.push(Tree::build(g as u8, set, &samples, top));
            }
        }
        let mut f = Self {
            trees,
            paired: false,
            top,
        };
        f.sort_trees();
        f.paired = f.pair_pays(&samples);
        f
    }

    /// Whether walking the first two trees together pays, judged on the
    /// sample keys both their gates let through: it does when the first
    /// tree's match would seldom spare the second tree's walk (at least
    /// [`PAIR_WALKED`] of them walk it anyway), and when such keys are not
    /// rare (at least one in [`PAIR_OPEN`] samples; else the second gate
    /// test the pair costs every packet that walks the first tree buys
    /// nothing). The first tree's match is taken as the first rule of its
    /// leaf whose box holds the key (the tree's fields only: close enough
    /// for a choice of speed).
    fn pair_pays(&self, samples: &[[u32; 8]]) -> bool {
        let [a, b, ..] = self.trees.as_slice() else {
            return false;
        };
        let (mut open, mut walked) = (0usize, 0usize);
        for k in samples {
            let (Some(sa), Some(_)) = (a.gate.start(k), b.gate.start(k)) else {
                continue;
            };
            open = open.saturating_add(1);
            let inside = |r: &Rule<A>| {
                (0..DIMS).all(|d| {
                    let (lo, hi) = interval(r, d);
                    k.get(d).is_some_and(|&x| lo <= x && x <= hi)
                })
            };
            let best = a
                .run(a.leaf(k, sa))
                .find(inside)
                .map_or(u32::MAX, |r| r.idx);
            if best > b.min {
                walked = walked.saturating_add(1);
            }
        }
        open.saturating_mul(PAIR_OPEN) >= samples.len()
            && walked.saturating_mul(PAIR_WALKED.1) >= open.saturating_mul(PAIR_WALKED.0)
    }

    /// A copy with room for one more rule (so [`Forest::insert`] on it does
    /// not grow, i.e. copy, the arrays a second time), without the runs
    /// earlier inserts left behind.
    pub(crate) fn copy_for_insert(&self) -> Self {
        // A new rule lands in a few leaves; each re-laid run costs its
        // length plus one.
        let room = LEAF_SIZE.saturating_mul(8);
        Self {
            trees: self.trees.iter().map(|t| t.compacted(room, None)).collect(),
            paired: self.paired,
            top: self.top,
        }
    }

    fn sort_trees(&mut self) {
        self.trees.sort_by_key(|t| t.min);
    }

    /// The best (smallest) index among the rules that match, or `u32::MAX`.
    /// Walks the trees in order of their best index and stops when the next
    /// cannot beat the match found so far. (Walking all the trees in
    /// lockstep, so that their node loads overlap, measured 10% faster on
    /// fw1 10k but 20-60% slower on every other set: it walks trees the
    /// early stop skips, and most packets stop after one to three. Hence
    /// pairs only where the second walk is seldom spared.)
    ///
    /// In a paired forest ([`Forest::pair_pays`]) a packet both first
    /// gates let through walks the two trees together ([`pair_leaves`]),
    /// so that the second walk's loads overlap the first's instead of
    /// waiting for its leaf scan; the scans then run in order, the second
    /// only if its tree can still beat the first's match, as a walk one
    /// after the other would (same answer, and the same rules checked).
    ///
    /// A packet whose first address words are the forest's (IPv6; every
    /// IPv4 packet) takes a copy of the lookup in which the lanes'
    /// first-word flags are known to pass, so that the block checks drop
    /// their test (see the [`super::lanes`] docs).
    #[inline]
    pub(crate) fn lookup(&self, p: &Packet<A>) -> u32 {
        let tops = A::Block::tops(p, self.top);
        if tops == ALL_TOPS {
            self.lookup_with(p, ALL_TOPS)
        } else {
            self.lookup_with(p, tops)
        }
    }

    /// [`Forest::lookup`] of a packet whose first-word flags are `tops`.
    #[inline(always)]
    fn lookup_with(&self, p: &Packet<A>, tops: u32) -> u32 {
        let k = key_of(p);
        let p = (p, tops);
        let mut trees = self.trees.as_slice();
        if self.paired {
            if let [a, b, more @ ..] = trees {
                if let Some(sa) = a.gate.start(&k) {
                    let mut best = u32::MAX;
                    match b.gate.start(&k) {
                        Some(sb) => {
                            let (la, lb) = pair_leaves(a, sa, b, sb, &k);
                            best = a.scan(la, best, p);
                            if b.min < best {
                                best = b.scan(lb, best, p);
                            }
                        }
                        None => best = a.walk_scan(&k, sa, best, p),
                    }
                    return Self::walk_rest(more, &k, best, p);
                }
                trees = trees.get(1..).unwrap_or(&[]);
            }
        }
        Self::walk_rest(trees, &k, u32::MAX, p)
    }

    /// The walks of `trees` after a match `best`, in order, until a tree
    /// cannot beat it.
    #[inline(always)]
    fn walk_rest(trees: &[Tree<A>], k: &[u32; 8], mut best: u32, p: (&Packet<A>, u32)) -> u32 {
        for t in trees {
            if t.min >= best {
                break;
            }
            if let Some(start) = t.gate.start(k) {
                best = t.walk_scan(k, start, best, p);
            }
        }
        best
    }

    /// [`Forest::lookup`], counting trees walked (`walked`), nodes
    /// visited (`tables`) and rules checked (`candidates`).
    /// Pairs as [`Forest::lookup`] does: both walks of a pair count.
    pub(crate) fn lookup_counting(&self, p: &Packet<A>, cost: &mut LookupCost) -> u32 {
        let k = key_of(p);
        let p = (p, A::Block::tops(p, self.top));
        let mut best = u32::MAX;
        let mut trees = self.trees.as_slice();
        if self.paired {
            if let [a, b, more @ ..] = trees {
                trees = match a.gate.start(&k) {
                    Some(sa) => {
                        let la = a.leaf_counting(&k, sa, cost);
                        let lb = b.gate.start(&k).map(|sb| b.leaf_counting(&k, sb, cost));
                        best = a.scan_counting(la, best, p, cost);
                        if let Some(lb) = lb.filter(|_| b.min < best) {
                            best = b.scan_counting(lb, best, p, cost);
                        }
                        more
                    }
                    None => trees.get(1..).unwrap_or(&[]),
                };
            }
        }
        for t in trees {
            if t.min >= best {
                break;
            }
            if let Some(start) = t.gate.start(&k) {
                let leaf = t.leaf_counting(&k, start, cost);
                best = t.scan_counting(leaf, best, p, cost);
            }
        }
        best
    }

    /// Shifts every held index `>= from` by +1 (a filter was inserted at
    /// `from` in the classifier's list).
    pub(crate) fn shift_up_from(&mut self, from: u32) {
        for t in &mut self.trees {
            t.entries
                .map_idx(|i| if i >= from { i.saturating_add(1) } else { i });
            if t.min != u32::MAX && t.min >= from {
                t.min = t.min.saturating_add(1);
            }
        }
    }

    /// Adds `rule` (its index already made room for by
    /// [`Forest::shift_up_from`] on every forest).
    pub(crate) fn insert(&mut self, rule: Rule<A>) {
        let g = group_of(&rule);
        if self.trees.is_empty() {
            // No lane holds flags yet: the first rule's first words.
            self.top = common_top(core::slice::from_ref(&rule));
        }
        let top = self.top;
        let t = match self.trees.iter().position(|t| t.group == g) {
            Some(i) => self.trees.get_mut(i),
            None => {
                self.trees.push(Tree {
                    group: g,
                    min: u32::MAX,
                    gate: Gate::of(&[rule]),
                    nodes: vec![Node::EMPTY_LEAF],
                    entries: Lanes::with_capacity(0, top),
                });
                self.trees.last_mut()
            }
        };
        if let Some(t) = t {
            t.gate.add(&rule);
            t.insert(rule);
        }
        self.sort_trees();
    }

    /// A copy without the rule of index `idx` (if held), the indexes behind
    /// it shifted by -1. Call on every forest.
    pub(crate) fn without(&self, idx: u32) -> Self {
        let mut trees: Vec<Tree<A>> = self
            .trees
            .iter()
            .map(|t| t.compacted(0, Some(idx)))
            .filter(|t| t.min != u32::MAX)
            .collect();
        for t in &mut trees {
            t.entries
                .map_idx(|i| if i > idx { i.saturating_sub(1) } else { i });
            if t.min > idx {
                t.min = t.min.saturating_sub(1);
            }
        }
        let mut f = Self {
            trees,
            paired: self.paired,
            top: self.top,
        };
        f.sort_trees();
        f
    }

    /// Of the child pairs a walk can reach, how many lie within one cache
    /// line, and how many there are (for tests: after a build, all).
    #[cfg(test)]
    pub(crate) fn pairs_in_line(&self) -> (usize, usize) {
        let (mut inside, mut all) = (0, 0);
        for t in &self.trees {
            let base = t.nodes.as_ptr() as usize;
            let mut stack = vec![0usize];
            while let Some(i) = stack.pop() {
                let n = t.nodes[i];
                if n.is_leaf() {
                    continue;
                }
                let at = base + n.child() * core::mem::size_of::<Node>();
                all += 1;
                if at / 64 == (at + core::mem::size_of::<Node>()) / 64 {
                    inside += 1;
                }
                stack.push(n.child());
                stack.push(n.child() + 1);
            }
        }
        (inside, all)
    }

    /// Of the leaf runs, how many span no more blocks of four rules than
    /// their length needs, and how many there are (for tests: all).
    #[cfg(test)]
    pub(crate) fn runs_in_fewest_blocks(&self) -> (usize, usize) {
        use super::lanes::LANES;
        let (mut fewest, mut all) = (0, 0);
        for t in &self.trees {
            for n in t.nodes.iter().filter(|n| n.is_leaf()) {
                let (s, l) = n.run();
                if l > 0 {
                    all += 1;
                    if (s + l - 1) / LANES - s / LANES + 1 == l.div_ceil(LANES) {
                        fewest += 1;
                    }
                }
            }
        }
        (fewest, all)
    }

    /// Each tree's group and gate blocks (for tests).
    #[cfg(test)]
    pub(crate) fn gate_blocks(&self) -> Vec<(u8, usize)> {
        self.trees
            .iter()
            .map(|t| (t.group, t.gate.words.len() * 64))
            .collect()
    }

    /// Whether the first two trees are walked together (for tests).
    #[cfg(test)]
    pub(crate) const fn paired(&self) -> bool {
        self.paired
    }

    /// Walks the first two trees together or not, whatever
    /// [`Forest::pair_pays`] chose (for tests: answers must not change).
    #[cfg(test)]
    pub(crate) const fn set_paired(&mut self, on: bool) {
        self.paired = on;
    }

    /// Trees held.
    pub(crate) fn trees(&self) -> usize {
        self.trees.len()
    }

    /// Longest leaf of any tree.
    pub(crate) fn longest_leaf(&self) -> u32 {
        self.trees.iter().map(Tree::longest_leaf).max().unwrap_or(0)
    }

    /// Heap bytes owned (tree nodes, leaf rules).
    pub(crate) fn heap_bytes(&self) -> usize {
        let trees = self
            .trees
            .capacity()
            .saturating_mul(core::mem::size_of::<Tree<A>>());
        self.trees
            .iter()
            .fold(trees, |acc, t| acc.saturating_add(t.heap_bytes()))
    }

    /// Checks that every rule held is in every leaf its box overlaps in its
    /// group's tree, leaves sorted, trees ordered (for tests).
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        assert!(self.trees.windows(2).all(|w| w[0].min <= w[1].min));
        for t in &self.trees {
            assert_eq!(
                t.entries.top(),
                self.top,
                "lanes flagged for other first words"
            );
            for (i, n) in t.nodes.iter().enumerate() {
                assert!(n.is_leaf() || n.child() > i, "child before its parent");
            }
            assert_eq!(
                t.min,
                t.entries.iter().map(|r| r.idx).min().unwrap_or(u32::MAX)
            );
            t.entries.check();
            let mut rules: Vec<Rule<A>> = Vec::new();
            for n in t.nodes.iter().filter(|n| n.is_leaf()) {
                let (s, l) = n.run();
                let run: Vec<Rule<A>> = t.entries.run(s, l).collect();
                assert_eq!(run.len(), l, "leaf past the rules");
                assert!(run.windows(2).all(|w| w[0].idx < w[1].idx), "leaf unsorted");
                for r in &run {
                    assert_eq!(group_of(r), t.group);
                    if !rules.iter().any(|q| q.idx == r.idx) {
                        rules.push(*r);
                    }
                }
            }
            for r in &rules {
                for j in 0..t.gate.words.len() {
                    // The start is on the descent for the word's values.
                    let (lo, hi) = t.gate.word_range(j);
                    let mut i = 0usize;
                    let target = t.gate.words[j].start as usize;
                    loop {
                        if i == target {
                            break;
                        }
                        let n = t.nodes[i];
                        assert!(
                            !n.is_leaf() && n.dim() == u32::from(t.gate.dim),
                            "gate start off the walk"
                        );
                        if hi < n.value {
                            i = n.child();
                        } else {
                            assert!(lo >= n.value, "gate start off the walk");
                            i = n.child() + 1;
                        }
                    }
                }
                {
                    let gate = &t.gate;
                    let mut alone = gate.clone();
                    alone.words.iter_mut().for_each(|w| w.set_bits(0));
                    alone.add(r);
                    assert!(
                        alone
                            .words
                            .iter()
                            .zip(gate.words.iter())
                            .all(|(a, g)| a.bits() & !g.bits() == 0),
                        "gate closed to a rule"
                    );
                }
                let b = box_of(r);
                let mut stack = vec![0usize];
                while let Some(i) = stack.pop() {
                    let n = t.nodes[i];
                    if n.is_leaf() {
                        let (s, l) = n.run();
                        assert!(
                            t.entries.run(s, l).any(|q| q == *r),
                            "rule missing from a leaf"
                        );
                        continue;
                    }
                    let (lo, hi) = b[n.dim() as usize];
                    if lo < n.value {
                        stack.push(n.child());
                    }
                    if hi >= n.value {
                        stack.push(n.child() + 1);
                    }
                }
            }
        }
    }
}

//! Packet storage with no allocation per packet: a slab of slots sized once
//! (the adapter's queue_packets limit), a free list, and FIFOs that are
//! index-linked chains of slots. Every queue of the scheduler (shaper and
//! sequencer, every flow) is a [`Fifo`] over the one slab, so moving a packet
//! between queues, or splicing a whole queue onto another, never copies or
//! allocates.

use alloc::collections::TryReserveError;
use alloc::vec::Vec;

use super::send_size::SendSize;

/// The "no slot" link (also "no queue" in the scheduler): bit 31 is free
/// for [`SEG`], so links need no masking beyond that bit.
pub(crate) const NIL: u32 = (1 << 31) - 1;

/// Bit 31 of a slot's link: the slot holds a segmented send, whose largest
/// packet and packet count are in [`Slab`]'s side table (a plain packet's
/// size is its byte count alone, so a slot stays as small as before LSO
/// sizes: 24 bytes for an 8-byte handle).
const SEG: u32 = 1 << 31;

#[derive(Debug)]
struct Slot<P> {
    pkt: Option<P>,
    /// The next slot (or [`NIL`]) in bits 0..31, [`SEG`] in bit 31.
    link: u32,
    /// IP bytes of the send.
    bytes: u32,
}

impl<P> Slot<P> {
    const fn next(&self) -> u32 {
        self.link & !SEG
    }

    /// Sets the next slot, keeping the segmented flag.
    const fn set_next(&mut self, next: u32) {
        self.link = (self.link & SEG) | (next & !SEG);
    }
}

/// A FIFO of slots: head, tail, and its packet and byte counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fifo {
    head: u32,
    tail: u32,
    len: u32,
    bytes: u64,
}

impl Default for Fifo {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl Fifo {
    pub(crate) const EMPTY: Self = Self {
        head: NIL,
        tail: NIL,
        len: 0,
        bytes: 0,
    };

    pub(crate) const fn len(&self) -> u32 {
        self.len
    }

    pub(crate) const fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(crate) const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The slots and their free list.
#[derive(Debug)]
pub(crate) struct Slab<P> {
    slots: Vec<Slot<P>>,
    /// `(largest_ip_packet, packets)` of the segmented send in the slot of
    /// the same index (read only when the slot's [`SEG`] bit is set).
    segs: Vec<(u32, u32)>,
    free: u32,
    used: u32,
}

impl<P> Slab<P> {
    /// A slab of `capacity` slots (at most `2^31 - 1`: indexes below
    /// [`NIL`]).
    pub(crate) fn try_new(capacity: u32) -> Result<Self, TryReserveError> {
        let capacity = capacity.min(NIL);
        let n = usize::try_from(capacity).unwrap_or(0);
        let mut slots = Vec::new();
        let mut segs = Vec::new();
        slots.try_reserve_exact(n)?;
        segs.try_reserve_exact(n)?;
        segs.resize(n, (0, 0));
        let mut i = 0u32;
        while i < capacity {
            let next = i.saturating_add(1);
            slots.push(Slot {
                pkt: None,
                link: if next < capacity { next } else { NIL },
                bytes: 0,
            });
            i = next;
        }
        Ok(Self {
            slots,
            segs,
            free: if capacity > 0 { 0 } else { NIL },
            used: 0,
        })
    }

    /// Slots in use.
    pub(crate) const fn used(&self) -> u32 {
        self.used
    }

    /// Whether every slot is in use.
    pub(crate) const fn is_full(&self) -> bool {
        self.free == NIL
    }

    fn slot(&self, i: u32) -> Option<&Slot<P>> {
        self.slots.get(usize::try_from(i).ok()?)
    }

    fn slot_mut(&mut self, i: u32) -> Option<&mut Slot<P>> {
        self.slots.get_mut(usize::try_from(i).ok()?)
    }

    /// The size of the send in slot `i`.
    fn size_of(&self, i: u32, slot: &Slot<P>) -> SendSize {
        if slot.link & SEG == 0 {
            return SendSize::single(slot.bytes);
        }
        let (largest_ip_packet, packets) = usize::try_from(i)
            .ok()
            .and_then(|i| self.segs.get(i))
            .copied()
            .unwrap_or((slot.bytes, 1));
        SendSize {
            ip_bytes: slot.bytes,
            largest_ip_packet,
            packets,
        }
    }

    /// Appends a packet to `q`; gives it back if the slab is full.
    #[inline]
    pub(crate) fn push_back(&mut self, q: &mut Fifo, pkt: P, size: SendSize) -> Result<(), P> {
        let i = self.free;
        let Some(slot) = self.slot_mut(i) else {
            return Err(pkt);
        };
        let next_free = slot.next();
        slot.pkt = Some(pkt);
        slot.bytes = size.ip_bytes;
        slot.link = NIL;
        self.free = next_free;
        self.used = self.used.saturating_add(1);
        if size != SendSize::single(size.ip_bytes) {
            self.mark_segmented(i, size);
        }
        if let Some(tail) = self.slot_mut(q.tail) {
            tail.set_next(i);
        } else {
            q.head = i;
        }
        q.tail = i;
        q.len = q.len.saturating_add(1);
        q.bytes = q.bytes.saturating_add(u64::from(size.ip_bytes));
        Ok(())
    }

    /// Records that slot `i` holds a segmented send of `size`.
    #[cold]
    fn mark_segmented(&mut self, i: u32, size: SendSize) {
        let Ok(ui) = usize::try_from(i) else { return };
        if let (Some(slot), Some(seg)) = (self.slots.get_mut(ui), self.segs.get_mut(ui)) {
            slot.link |= SEG;
            *seg = (size.largest_ip_packet, size.packets);
        }
    }

    /// IP bytes of the packet at the head of `q`.
    pub(crate) fn front_bytes(&self, q: &Fifo) -> Option<u32> {
        self.slot(q.head).map(|s| s.bytes)
    }

    /// Size of the packet at the head of `q`.
    pub(crate) fn front_size(&self, q: &Fifo) -> Option<SendSize> {
        self.slot(q.head).map(|s| self.size_of(q.head, s))
    }

    /// Removes the head of `q`: the packet and its size.
    pub(crate) fn pop_front(&mut self, q: &mut Fifo) -> Option<(P, SendSize)> {
        let i = q.head;
        let free = self.free;
        let ui = usize::try_from(i).ok()?;
        let slot = self.slots.get_mut(ui)?;
        let pkt = slot.pkt.take();
        let bytes = slot.bytes;
        let segmented = slot.link & SEG != 0;
        q.head = slot.next();
        slot.link = free;
        let size = if segmented {
            let (largest_ip_packet, packets) = self.segs.get(ui).copied().unwrap_or((bytes, 1));
            SendSize {
                ip_bytes: bytes,
                largest_ip_packet,
                packets,
            }
        } else {
            SendSize::single(bytes)
        };
        self.free = i;
        self.used = self.used.saturating_sub(1);
        if q.head == NIL {
            q.tail = NIL;
        }
        q.len = q.len.saturating_sub(1);
        q.bytes = q.bytes.saturating_sub(u64::from(bytes));
        pkt.map(|p| (p, size))
    }

    /// Moves the head of `src` to the tail of `dst` without freeing its slot;
    /// returns its size.
    pub(crate) fn move_front(&mut self, src: &mut Fifo, dst: &mut Fifo) -> Option<u32> {
        let i = src.head;
        let slot = self.slot_mut(i)?;
        let bytes = slot.bytes;
        src.head = slot.next();
        slot.set_next(NIL);
        if src.head == NIL {
            src.tail = NIL;
        }
        src.len = src.len.saturating_sub(1);
        src.bytes = src.bytes.saturating_sub(u64::from(bytes));
        if let Some(tail) = self.slot_mut(dst.tail) {
            tail.set_next(i);
        } else {
            dst.head = i;
        }
        dst.tail = i;
        dst.len = dst.len.saturating_add(1);
        dst.bytes = dst.bytes.saturating_add(u64::from(bytes));
        Some(bytes)
    }

    /// Moves every packet of `src` to the tail of `dst`, in order, in O(1).
    pub(crate) fn splice(&mut self, dst: &mut Fifo, src: &mut Fifo) {
        if src.is_empty() {
            return;
        }
        if let Some(tail) = self.slot_mut(dst.tail) {
            tail.set_next(src.head);
        } else {
            dst.head = src.head;
        }
        dst.tail = src.tail;
        dst.len = dst.len.saturating_add(src.len);
        dst.bytes = dst.bytes.saturating_add(src.bytes);
        *src = Fifo::EMPTY;
    }

    /// Removes the packets of `q` for which `pred` holds, keeping the order of
    /// the others, and hands each removed packet and its size to `f`.
    pub(crate) fn extract_if(
        &mut self,
        q: &mut Fifo,
        pred: &mut impl FnMut(&P) -> bool,
        f: &mut impl FnMut(P, u32),
    ) {
        let mut kept = Fifo::EMPTY;
        let mut rest = *q;
        *q = Fifo::EMPTY;
        while let Some(i) = (rest.head != NIL).then_some(rest.head) {
            let Some(slot) = self.slot(i) else { break };
            let matches = slot.pkt.as_ref().is_none_or(&mut *pred);
            if matches {
                if let Some((pkt, size)) = self.pop_front(&mut rest) {
                    f(pkt, size.ip_bytes);
                }
            } else if self.move_front(&mut rest, &mut kept).is_none() {
                break;
            }
        }
        *q = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn fifo_order_capacity_and_reuse() {
        let mut s = Slab::try_new(3).unwrap();
        let mut a = Fifo::EMPTY;
        let mut b = Fifo::EMPTY;
        s.push_back(&mut a, 1, SendSize::single(10)).unwrap();
        s.push_back(&mut b, 2, SendSize::single(20)).unwrap();
        s.push_back(&mut a, 3, SendSize::single(30)).unwrap();
        assert!(s.is_full());
        assert_eq!(s.push_back(&mut a, 4, SendSize::single(40)), Err(4));
        assert_eq!((a.len(), a.bytes()), (2, 40));
        assert_eq!(s.pop_front(&mut a), Some((1, SendSize::single(10))));
        s.push_back(&mut b, 4, SendSize::single(40)).unwrap();
        s.splice(&mut a, &mut b);
        assert!(b.is_empty());
        assert_eq!(s.move_front(&mut a, &mut b), Some(30));
        s.splice(&mut b, &mut a);
        std::mem::swap(&mut a, &mut b);
        let mut out = vec![];
        while let Some((p, _)) = s.pop_front(&mut a) {
            out.push(p);
        }
        assert_eq!(out, [3, 2, 4]);
        assert_eq!(s.used(), 0);
        assert_eq!(s.pop_front(&mut a), None);
    }

    #[test]
    fn extract_if_keeps_order() {
        let mut s = Slab::try_new(10).unwrap();
        let mut q = Fifo::EMPTY;
        for i in 0..10 {
            s.push_back(&mut q, i, SendSize::single(i)).unwrap();
        }
        let mut removed = vec![];
        s.extract_if(&mut q, &mut |p| p % 3 == 0, &mut |p, _| removed.push(p));
        assert_eq!(removed, [0, 3, 6, 9]);
        assert_eq!(q.len(), 6);
        assert_eq!(q.bytes(), 1 + 2 + 4 + 5 + 7 + 8);
        s.push_back(&mut q, 42, SendSize::single(1)).unwrap();
        let mut out = vec![];
        while let Some((p, _)) = s.pop_front(&mut q) {
            out.push(p);
        }
        assert_eq!(out, [1, 2, 4, 5, 7, 8, 42]);
        assert_eq!(s.used(), 0);
    }

    #[test]
    fn segmented_sizes_survive_every_move() {
        assert_eq!(core::mem::size_of::<Slot<u64>>(), 24);
        let lso = SendSize {
            ip_bytes: 66_340,
            largest_ip_packet: 1500,
            packets: 45,
        };
        let mut s = Slab::try_new(4).unwrap();
        let (mut a, mut b) = (Fifo::EMPTY, Fifo::EMPTY);
        s.push_back(&mut a, 1, lso).unwrap();
        s.push_back(&mut a, 2, SendSize::single(100)).unwrap();
        s.push_back(&mut a, 3, lso).unwrap();
        assert_eq!(s.front_size(&a), Some(lso));
        assert_eq!(s.move_front(&mut a, &mut b), Some(66_340));
        s.splice(&mut b, &mut a);
        assert_eq!(b.bytes(), 2 * 66_340 + 100);
        assert_eq!(s.pop_front(&mut b), Some((1, lso)));
        // The freed slot is reused for a plain packet: no stale flag.
        s.push_back(&mut b, 4, SendSize::single(7)).unwrap();
        let mut out = vec![];
        while let Some(x) = s.pop_front(&mut b) {
            out.push(x);
        }
        assert_eq!(
            out,
            [
                (2, SendSize::single(100)),
                (3, lso),
                (4, SendSize::single(7))
            ]
        );
        assert_eq!(s.used(), 0);
    }

    #[test]
    fn zero_capacity() {
        let mut s: Slab<u8> = Slab::try_new(0).unwrap();
        let mut q = Fifo::EMPTY;
        assert!(s.is_full());
        assert_eq!(s.push_back(&mut q, 1, SendSize::single(1)), Err(1));
    }
}

//! Packet storage with no allocation per packet: a slab of slots sized once
//! (the adapter's queue_packets limit), a free list, and FIFOs that are
//! index-linked chains of slots. Every queue of the scheduler (shaper and
//! sequencer, every flow) is a [`Fifo`] over the one slab, so moving a packet
//! between queues, or splicing a whole queue onto another, never copies or
//! allocates.

use alloc::collections::TryReserveError;
use alloc::vec::Vec;

use super::send_size::SendSize;

/// The "no slot" link.
pub(crate) const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Slot<P> {
    pkt: Option<P>,
    next: u32,
    size: SendSize,
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
    free: u32,
    used: u32,
}

impl<P> Slab<P> {
    /// A slab of `capacity` slots (at most `u32::MAX - 1`).
    pub(crate) fn try_new(capacity: u32) -> Result<Self, TryReserveError> {
        let capacity = capacity.min(NIL.saturating_sub(1));
        let mut slots = Vec::new();
        slots.try_reserve_exact(usize::try_from(capacity).unwrap_or(0))?;
        let mut i = 0u32;
        while i < capacity {
            let next = i.saturating_add(1);
            slots.push(Slot {
                pkt: None,
                next: if next < capacity { next } else { NIL },
                size: SendSize::single(0),
            });
            i = next;
        }
        Ok(Self {
            slots,
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

    /// Appends a packet to `q`; gives it back if the slab is full.
    pub(crate) fn push_back(&mut self, q: &mut Fifo, pkt: P, size: SendSize) -> Result<(), P> {
        match self.reserve() {
            Some(i) => self.push_reserved(q, i, pkt, size),
            None => Err(pkt),
        }
    }

    /// Reserves a free slot (counted as used, linked to nothing); `None` if
    /// the slab is full. Give it back with [`Self::release`] or fill it with
    /// [`Self::push_reserved`].
    pub(crate) fn reserve(&mut self) -> Option<u32> {
        let i = self.free;
        let slot = self.slot_mut(i)?;
        let next_free = slot.next;
        slot.next = NIL;
        self.free = next_free;
        self.used = self.used.saturating_add(1);
        Some(i)
    }

    /// Returns a slot from [`Self::reserve`] to the free list.
    pub(crate) fn release(&mut self, i: u32) {
        let free = self.free;
        if let Some(slot) = self.slot_mut(i) {
            slot.pkt = None;
            slot.next = free;
            self.free = i;
            self.used = self.used.saturating_sub(1);
        }
    }

    /// Stores a packet in slot `i` (from [`Self::reserve`]) and appends it
    /// to `q`. Gives the packet back if `i` is not a slot.
    pub(crate) fn push_reserved(
        &mut self,
        q: &mut Fifo,
        i: u32,
        pkt: P,
        size: SendSize,
    ) -> Result<(), P> {
        let Some(slot) = self.slot_mut(i) else {
            return Err(pkt);
        };
        slot.pkt = Some(pkt);
        slot.next = NIL;
        slot.size = size;
        if let Some(tail) = self.slot_mut(q.tail) {
            tail.next = i;
        } else {
            q.head = i;
        }
        q.tail = i;
        q.len = q.len.saturating_add(1);
        q.bytes = q.bytes.saturating_add(u64::from(size.ip_bytes));
        Ok(())
    }

    /// IP bytes of the packet at the head of `q`.
    pub(crate) fn front_bytes(&self, q: &Fifo) -> Option<u32> {
        self.slot(q.head).map(|s| s.size.ip_bytes)
    }

    /// Size of the packet at the head of `q`.
    pub(crate) fn front_size(&self, q: &Fifo) -> Option<SendSize> {
        self.slot(q.head).map(|s| s.size)
    }

    /// Removes the head of `q`: the packet and its size.
    pub(crate) fn pop_front(&mut self, q: &mut Fifo) -> Option<(P, SendSize)> {
        let i = q.head;
        let free = self.free;
        let slot = self.slot_mut(i)?;
        let pkt = slot.pkt.take();
        let size = slot.size;
        let bytes = size.ip_bytes;
        q.head = slot.next;
        slot.next = free;
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
        let bytes = slot.size.ip_bytes;
        src.head = slot.next;
        slot.next = NIL;
        if src.head == NIL {
            src.tail = NIL;
        }
        src.len = src.len.saturating_sub(1);
        src.bytes = src.bytes.saturating_sub(u64::from(bytes));
        if let Some(tail) = self.slot_mut(dst.tail) {
            tail.next = i;
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
            tail.next = src.head;
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
    fn zero_capacity() {
        let mut s: Slab<u8> = Slab::try_new(0).unwrap();
        let mut q = Fifo::EMPTY;
        assert!(s.is_full());
        assert_eq!(s.push_back(&mut q, 1, SendSize::single(1)), Err(1));
    }
}

//! Safe views of NET_BUFFER_LIST chains, NET_BUFFERs and MDL chains, and a
//! counted NBL queue with O(1) append.
//!
//! # Validity invariant (every SAFETY comment below cites it)
//! An [`Nbl`] wraps a pointer to a NET_BUFFER_LIST that NDIS handed to the
//! driver (a send from above, a completion from below, a receive) and that
//! the driver has not yet handed on. While the driver owns it, nobody else
//! reads or writes the NBL, its NET_BUFFERs, MDLs or data; its NET_BUFFER
//! list and MDL chains are well formed (NULL-terminated, each MDL mapped or
//! mappable, `CurrentMdlOffset + DataLength` within the chain). The
//! constructors that create an `Nbl` are `unsafe` and state this contract;
//! everything after them is safe.

use crate::ffi::api;
use crate::ffi::types::*;
use core::ptr::NonNull;

/// An NBL the driver currently owns (see the module's validity invariant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub struct Nbl(NonNull<NET_BUFFER_LIST>);

// SAFETY: an owned NBL may be handed between processors (NDIS does it all
// the time); exclusive ownership is tracked by the driver's queues.
unsafe impl Send for Nbl {}

impl Nbl {
    /// Wrap a raw NBL pointer; `None` for NULL.
    ///
    /// # Safety
    /// `p` is NULL or satisfies the module's validity invariant for as long
    /// as the returned value (or any copy) is used.
    pub unsafe fn from_raw(p: *mut NET_BUFFER_LIST) -> Option<Self> {
        NonNull::new(p).map(Self)
    }

    /// The raw pointer, for handing back to NDIS.
    #[must_use]
    pub fn as_ptr(self) -> *mut NET_BUFFER_LIST {
        self.0.as_ptr()
    }

    fn raw(&self) -> &NET_BUFFER_LIST {
        // SAFETY: validity invariant: the NBL is valid and owned by us.
        unsafe { self.0.as_ref() }
    }

    fn raw_mut(&mut self) -> &mut NET_BUFFER_LIST {
        // SAFETY: validity invariant: the NBL is valid, owned by us, and
        // nobody else references it.
        unsafe { self.0.as_mut() }
    }

    /// The next NBL in the chain this one is linked into.
    #[must_use]
    pub fn next(&self) -> Option<Nbl> {
        // SAFETY: NDIS chains contain only NBLs passed together, all owned
        // by the receiver of the chain (validity invariant).
        unsafe { Self::from_raw(self.raw().Next) }
    }

    /// Link this NBL to `next` (or terminate the chain).
    pub fn set_next(&mut self, next: Option<Nbl>) {
        self.raw_mut().Next = next.map_or(core::ptr::null_mut(), Nbl::as_ptr);
    }

    /// `NET_BUFFER_LIST_INFO(nbl, slot)` as an integer. Slots at or past
    /// the 6.30 header's 24 return 0.
    #[must_use]
    pub fn info(&self, slot: usize) -> usize {
        self.raw()
            .NetBufferListInfo
            .get(slot)
            .map_or(0, |p| *p as usize)
    }

    /// Set `NET_BUFFER_LIST_INFO(nbl, slot)`. Ignored past slot 23.
    pub fn set_info(&mut self, slot: usize, value: usize) {
        if let Some(p) = self.raw_mut().NetBufferListInfo.get_mut(slot) {
            *p = value as *mut core::ffi::c_void;
        }
    }

    /// NDIS_GET_NET_BUFFER_LIST_CANCEL_ID.
    #[must_use]
    pub fn cancel_id(&self) -> usize {
        self.info(NET_BUFFER_LIST_CANCEL_ID)
    }

    /// The Ieee8021QNetBufferListInfo value.
    #[must_use]
    pub fn ieee8021q(&self) -> usize {
        self.info(IEEE_8021Q_NET_BUFFER_LIST_INFO)
    }

    /// Set the completion status NDIS reads in SendComplete.
    pub fn set_status(&mut self, status: NDIS_STATUS) {
        self.raw_mut().Status = status;
    }

    /// The status a lower driver completed this NBL with.
    #[must_use]
    pub fn status(&self) -> NDIS_STATUS {
        self.raw().Status
    }

    /// The first NET_BUFFER.
    #[must_use]
    pub fn first_nb(&self) -> Option<Nb<'_>> {
        NonNull::new(self.raw().FirstNetBuffer).map(|p| Nb {
            ptr: p,
            _owner: core::marker::PhantomData,
        })
    }

    /// Start loading what classifying this NBL will read: its first
    /// NET_BUFFER, that one's current MDL and the first line of frame data.
    /// Called one NBL ahead in a chain, so the loads overlap the work on
    /// the NBL before instead of stalling when this one's turn comes. Only
    /// the driver's own structures are read; the data address is only
    /// prefetched (a hint that never faults), since its mapping is checked
    /// when it is really read.
    #[inline]
    pub fn prefetch(&self) {
        let Some(nb) = self.first_nb() else { return };
        let nb = nb.raw();
        let Some(mdl) = NonNull::new(nb.CurrentMdl) else {
            return;
        };
        // SAFETY: validity invariant: the MDL chain is well formed.
        let m = unsafe { mdl.as_ref() };
        let data = m
            .MappedSystemVa
            .cast::<u8>()
            .cast_const()
            .wrapping_add(nb.CurrentMdlOffset as usize);
        prefetch_line(data);
    }

    /// Every NET_BUFFER of this NBL.
    pub fn nbs(&self) -> impl Iterator<Item = Nb<'_>> {
        let mut cur = self.first_nb();
        core::iter::from_fn(move || {
            let nb = cur?;
            cur = nb.next();
            Some(nb)
        })
    }
}

/// A NET_BUFFER of an owned [`Nbl`]; borrows the NBL.
#[derive(Debug, Clone, Copy)]
pub struct Nb<'a> {
    ptr: NonNull<NET_BUFFER>,
    _owner: core::marker::PhantomData<&'a Nbl>,
}

/// How many MDL segments a header walk looks at. A frame whose headers
/// span more MDLs than this is treated as truncated (unclassified, never
/// marked); every real stack puts the headers in one or two MDLs.
pub const MAX_SEGMENTS: usize = 16;

impl<'a> Nb<'a> {
    fn raw(&self) -> &'a NET_BUFFER {
        // SAFETY: validity invariant: the NB belongs to an NBL we own.
        unsafe { self.ptr.as_ref() }
    }

    /// The next NET_BUFFER of the same NBL.
    #[must_use]
    pub fn next(&self) -> Option<Nb<'a>> {
        NonNull::new(self.raw().Next).map(|p| Nb {
            ptr: p,
            _owner: core::marker::PhantomData,
        })
    }

    /// NET_BUFFER_DATA_LENGTH: bytes of frame data.
    #[must_use]
    pub fn data_len(&self) -> u32 {
        self.raw().DataLength
    }

    /// Walk the data's MDL segments (from CurrentMdl + CurrentMdlOffset,
    /// `DataLength` bytes), calling `f(ptr, len)` for each, at most
    /// [`MAX_SEGMENTS`] times. Returns how many segments were visited.
    fn walk(&self, f: impl FnMut(*mut u8, usize)) -> usize {
        self.walk_limit(MAX_SEGMENTS, f)
    }

    /// [`Nb::walk`] visiting at most `limit` segments.
    fn walk_limit(&self, limit: usize, mut f: impl FnMut(*mut u8, usize)) -> usize {
        let nb = self.raw();
        let mut remaining = nb.DataLength as usize;
        let mut offset = nb.CurrentMdlOffset as usize;
        let mut mdl = nb.CurrentMdl;
        let mut n = 0usize;
        while remaining > 0 && n < limit {
            let Some(m) = NonNull::new(mdl) else { break };
            // SAFETY: validity invariant: the MDL chain is well formed.
            let m = unsafe { m.as_ref() };
            let count = m.ByteCount as usize;
            if offset < count {
                let Some(va) = mdl_system_va(m, mdl) else {
                    break;
                };
                let take = core::cmp::min(count.saturating_sub(offset), remaining);
                f(va.wrapping_add(offset), take);
                remaining = remaining.saturating_sub(take);
                n = n.saturating_add(1);
                offset = 0;
            } else {
                offset = offset.saturating_sub(count);
            }
            mdl = m.Next;
        }
        n
    }

    /// The data byte at `offset` (walking the MDL chain), if the data is
    /// that long and within [`MAX_SEGMENTS`] segments.
    #[must_use]
    pub fn byte_at(&self, offset: u32) -> Option<u8> {
        if offset >= self.data_len() {
            return None;
        }
        let mut skip = Some(offset as usize);
        let mut out = None;
        self.walk(|p, len| match skip {
            Some(k) if k < len => {
                // SAFETY: validity invariant: `p..p+len` lies inside a
                // mapped MDL buffer of an NBL we own, and `k < len`.
                out = Some(unsafe { p.wrapping_add(k).read() });
                skip = None;
            }
            Some(k) => skip = Some(k.saturating_sub(len)),
            None => {}
        });
        out
    }

    /// The start and length of the frame when all of it lies in one MDL
    /// (the common case), else `None` (also for no data). CurrentMdl is
    /// looked at directly; a frame that does not start in it (its bytes
    /// after CurrentMdlOffset are none) takes the general walk.
    #[inline]
    fn in_one_mdl(&self) -> Option<(*mut u8, usize)> {
        let nb = self.raw();
        let len = nb.DataLength as usize;
        let offset = nb.CurrentMdlOffset as usize;
        let raw = nb.CurrentMdl;
        let m = NonNull::new(raw)?;
        // SAFETY: validity invariant: the MDL chain is well formed.
        let m = unsafe { m.as_ref() };
        match (m.ByteCount as usize).checked_sub(offset) {
            Some(room) if room > 0 => {
                if len == 0 || len > room {
                    return None;
                }
                let va = mdl_system_va(m, raw)?;
                Some((va.wrapping_add(offset), len))
            }
            _ => self.in_one_mdl_walk(),
        }
    }

    /// [`Nb::in_one_mdl`] for a frame that starts past CurrentMdl: the
    /// first segment of the walk, if it holds the whole frame.
    #[inline(never)]
    #[cold]
    fn in_one_mdl_walk(&self) -> Option<(*mut u8, usize)> {
        let len = self.data_len() as usize;
        let mut out = None;
        self.walk_limit(1, |p, l| {
            if l == len {
                out = Some((p, l));
            }
        });
        out
    }

    /// The whole frame as one slice when it lies in one MDL (the common
    /// case: no segment array to fill).
    #[must_use]
    #[inline]
    pub fn contiguous(&self) -> Option<&'a [u8]> {
        let (p, len) = self.in_one_mdl()?;
        // SAFETY: validity invariant: `p..p+len` lies inside a mapped MDL
        // buffer of an NBL we own, for the NBL's borrow 'a.
        Some(unsafe { core::slice::from_raw_parts(p.cast_const(), len) })
    }

    /// [`Nb::contiguous`], writable.
    #[must_use]
    #[inline]
    pub fn contiguous_mut(&self) -> Option<&'a mut [u8]> {
        let (p, len) = self.in_one_mdl()?;
        // SAFETY: validity invariant: we own the NBL and its data, and this
        // is the only slice made over it.
        Some(unsafe { core::slice::from_raw_parts_mut(p, len) })
    }

    /// The frame's leading byte slices (at most [`MAX_SEGMENTS`]), written
    /// into `out`; returns how many were filled.
    pub fn segments(&self, out: &mut [&'a [u8]; MAX_SEGMENTS]) -> usize {
        let mut i = 0usize;
        self.walk(|p, len| {
            if let Some(slot) = out.get_mut(i) {
                // SAFETY: validity invariant: `p..p+len` lies inside a mapped
                // MDL buffer of an NBL we own, for the NBL's borrow 'a.
                *slot = unsafe { core::slice::from_raw_parts(p, len) };
                i = i.saturating_add(1);
            }
        })
    }

    /// Mutable leading byte slices, for rewriting headers in place.
    pub fn segments_mut(&self, out: &mut [&'a mut [u8]; MAX_SEGMENTS]) -> usize {
        let mut i = 0usize;
        self.walk(|p, len| {
            if let Some(slot) = out.get_mut(i) {
                // SAFETY: validity invariant: we own the NBL and its data;
                // the segments are disjoint, so no two slices alias.
                *slot = unsafe { core::slice::from_raw_parts_mut(p, len) };
                i = i.saturating_add(1);
            }
        })
    }
}

/// A hint to bring the cache line at `p` in (any address: a prefetch never
/// faults and reads nothing the program sees).
#[inline(always)]
fn prefetch_line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is an SSE instruction (baseline on x86_64) that
    // dereferences nothing: it cannot fault, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// MmGetSystemAddressForMdlSafe: the mapped VA of an MDL's buffer start
/// (already including ByteOffset).
fn mdl_system_va(m: &MDL, raw: *mut MDL) -> Option<*mut u8> {
    if m.MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL) != 0 {
        return NonNull::new(m.MappedSystemVa.cast::<u8>()).map(NonNull::as_ptr);
    }
    // SAFETY: `raw` is a locked MDL of an NBL we own (validity invariant);
    // the mapping call is what MmGetSystemAddressForMdlSafe does.
    let va = unsafe {
        api::MmMapLockedPagesSpecifyCache(
            raw,
            KERNEL_MODE,
            MM_CACHED,
            core::ptr::null_mut(),
            0,
            NORMAL_PAGE_PRIORITY | MDL_MAPPING_NO_EXECUTE,
        )
    };
    NonNull::new(va.cast::<u8>()).map(NonNull::as_ptr)
}

/// An owned, counted chain of NBLs with O(1) append: what the driver
/// builds before handing NBLs on (send down, complete up, indicate up).
/// Each NBL is in at most one queue; handing the queue on consumes it, so
/// an NBL is passed on once.
#[derive(Debug, Default)]
pub struct NblQueue {
    head: Option<Nbl>,
    tail: Option<Nbl>,
    len: u32,
}

impl NblQueue {
    /// An empty queue.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            head: None,
            tail: None,
            len: 0,
        }
    }

    /// Take ownership of a whole NDIS chain.
    ///
    /// # Safety
    /// `head` is NULL or the first NBL of a chain whose every NBL satisfies
    /// the validity invariant.
    pub unsafe fn from_chain(head: *mut NET_BUFFER_LIST) -> Self {
        let mut q = Self::new();
        // SAFETY: forwarded from this function's contract.
        let mut cur = unsafe { Nbl::from_raw(head) };
        while let Some(nbl) = cur {
            cur = nbl.next();
            q.push_back(nbl);
        }
        q
    }

    /// Count the NBLs of a whole NDIS chain without taking it apart (to
    /// hand the same chain on unchanged).
    ///
    /// # Safety
    /// As [`NblQueue::from_chain`].
    #[must_use]
    pub unsafe fn chain_len(head: *mut NET_BUFFER_LIST) -> u32 {
        let mut n = 0u32;
        // SAFETY: forwarded from this function's contract.
        let mut cur = unsafe { Nbl::from_raw(head) };
        while let Some(nbl) = cur {
            cur = nbl.next();
            n = n.saturating_add(1);
        }
        n
    }

    /// Number of NBLs.
    #[must_use]
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True when empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Append one NBL (unlinking it from whatever followed it).
    pub fn push_back(&mut self, mut nbl: Nbl) {
        nbl.set_next(None);
        match self.tail.as_mut() {
            Some(t) => t.set_next(Some(nbl)),
            None => self.head = Some(nbl),
        }
        self.tail = Some(nbl);
        // Wrapping: a queue of 2^32 NBLs cannot exist (each is a separate
        // allocation of hundreds of bytes).
        self.len = self.len.wrapping_add(1);
    }

    /// Move all of `other` to the end of this queue.
    pub fn append(&mut self, other: &mut NblQueue) {
        let Some(h) = other.head.take() else { return };
        match self.tail.as_mut() {
            Some(t) => t.set_next(Some(h)),
            None => self.head = Some(h),
        }
        self.tail = other.tail.take();
        self.len = self.len.saturating_add(other.len);
        other.len = 0;
    }

    /// Remove the first NBL.
    pub fn pop_front(&mut self) -> Option<Nbl> {
        let mut h = self.head?;
        self.head = h.next();
        if self.head.is_none() {
            self.tail = None;
        }
        h.set_next(None);
        self.len = self.len.saturating_sub(1);
        Some(h)
    }

    /// Set every NBL's status (before completing them).
    pub fn set_status(&mut self, status: NDIS_STATUS) {
        let mut cur = self.head;
        while let Some(mut nbl) = cur {
            cur = nbl.next();
            nbl.set_status(status);
        }
    }

    /// Give up the chain as a raw NULL-terminated list for NDIS.
    #[must_use]
    pub fn into_raw(mut self) -> *mut NET_BUFFER_LIST {
        self.tail = None;
        self.len = 0;
        self.head.take().map_or(core::ptr::null_mut(), Nbl::as_ptr)
    }
}

#[cfg(all(test, not(target_os = "windows")))]
mod tests {
    use super::*;
    use crate::sim::TxPacket;
    use crate::sim::packet_for_tests as build;
    use proptest::prelude::*;

    fn concat(nb: &Nb<'_>) -> Vec<u8> {
        let mut segs: [&[u8]; MAX_SEGMENTS] = [&[]; MAX_SEGMENTS];
        let n = nb.segments(&mut segs);
        segs[..n].concat()
    }

    proptest! {
        #[test]
        fn segments_cover_exactly_the_data_whatever_the_mdl_split(
            frame in proptest::collection::vec(any::<u8>(), 0..300),
            mut cuts in proptest::collection::vec(0usize..300, 0..6),
            room in 0u32..8,
        ) {
            cuts.sort_unstable();
            let p = TxPacket::split(&frame, &cuts).with_head_room(room);
            let mut pkt = build(&p);
            // SAFETY: the packet is ours and outlives `nbl`.
            let nbl = unsafe { Nbl::from_raw(pkt.nbl_ptr()) }.unwrap();
            let nb = nbl.first_nb().unwrap();
            prop_assert_eq!(nb.data_len() as usize, frame.len());
            prop_assert_eq!(concat(&nb), frame.clone());
            // One MDL holding the data: contiguous() gives it whole.
            let one_mdl = cuts.iter().all(|&c| c == 0 || c >= frame.len());
            match nb.contiguous() {
                Some(c) => prop_assert_eq!(c, &frame[..]),
                None => prop_assert!(!one_mdl || frame.is_empty()),
            }
            // Writes through segments_mut land in the frame.
            {
                let mut m: [&mut [u8]; MAX_SEGMENTS] = Default::default();
                let n = nb.segments_mut(&mut m);
                for s in m[..n].iter_mut() {
                    for b in s.iter_mut() {
                        *b = b.wrapping_add(1);
                    }
                }
            }
            let want: Vec<u8> = frame.iter().map(|b| b.wrapping_add(1)).collect();
            prop_assert_eq!(concat(&nb), want);
        }

        #[test]
        fn queue_keeps_order_and_count(n in 0usize..20, split in 0usize..20) {
            let mut pkts: Vec<_> = (0..n).map(|i| build(&TxPacket::frame(&[i as u8]))).collect();
            let nbls: Vec<Nbl> = pkts
                .iter_mut()
                // SAFETY: the packets are ours and outlive the queue.
                .map(|p| unsafe { Nbl::from_raw(p.nbl_ptr()) }.unwrap())
                .collect();
            let mut a = NblQueue::new();
            let mut b = NblQueue::new();
            for (i, x) in nbls.iter().enumerate() {
                if i < split { a.push_back(*x) } else { b.push_back(*x) }
            }
            a.append(&mut b);
            prop_assert!(b.is_empty());
            prop_assert_eq!(a.len() as usize, n);
            let raw = a.into_raw();
            // SAFETY: the chain of our packets just built.
            let mut q = unsafe { NblQueue::from_chain(raw) };
            prop_assert_eq!(q.len() as usize, n);
            let mut seen = Vec::new();
            while let Some(x) = q.pop_front() {
                prop_assert!(x.next().is_none());
                seen.push(x);
            }
            prop_assert_eq!(seen, nbls);
        }
    }

    #[test]
    fn info_slots_read_and_write_the_documented_offsets() {
        let mut pkt = build(
            &TxPacket::frame(&[1, 2, 3])
                .with_cancel_id(0xAB)
                .with_8021q(0x2A0),
        );
        let base = pkt.nbl_ptr() as usize;
        // SAFETY: the packet is ours.
        let mut nbl = unsafe { Nbl::from_raw(pkt.nbl_ptr()) }.unwrap();
        assert_eq!(nbl.cancel_id(), 0xAB);
        assert_eq!(nbl.ieee8021q(), 0x2A0);
        nbl.set_info(IEEE_8021Q_NET_BUFFER_LIST_INFO, 0x2A5);
        // SAFETY: slot 4 is at 0xb0 inside the NBL we own.
        let raw = unsafe { ((base + 0xb0) as *const usize).read() };
        assert_eq!(raw, 0x2A5);
        nbl.set_status(NDIS_STATUS_PAUSED);
        // SAFETY: Status is at 0x8c.
        let st = unsafe { ((base + 0x8c) as *const i32).read() };
        assert_eq!(st, NDIS_STATUS_PAUSED);
        assert_eq!(nbl.info(99), 0, "slots past the header's 24 read as 0");
    }
}

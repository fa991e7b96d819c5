//! NBLs as the simulated NDIS allocates them: one heap block per NBL with
//! its NET_BUFFERs, MDLs and data, laid out exactly as ndis.sys would
//! (16-byte aligned NBL/NB, extra info slots past the 6.30 header's 24).

use crate::ffi::types::*;
use core::ffi::c_void;

/// A frame to send from the fake protocol: one or more NET_BUFFERs, each
/// a list of MDL segments, plus NBL info values.
#[derive(Debug, Clone, Default)]
pub struct TxPacket {
    /// NET_BUFFERs, each as its MDL segments (concatenated = frame bytes).
    pub nbs: Vec<Vec<Vec<u8>>>,
    /// Unused bytes in front of the data in each NB's first MDL
    /// (CurrentMdlOffset / DataOffset): the "backfill" a protocol leaves.
    pub head_room: u32,
    /// Ieee8021QNetBufferListInfo value.
    pub ieee8021q: usize,
    /// NDIS_SET_NET_BUFFER_LIST_CANCEL_ID value.
    pub cancel_id: usize,
    /// TcpLargeSendNetBufferListInfo value (LSO request).
    pub lso: usize,
    /// TcpIpChecksumNetBufferListInfo value.
    pub checksum: usize,
}

impl TxPacket {
    /// One NB, one MDL.
    #[must_use]
    pub fn frame(bytes: &[u8]) -> Self {
        Self {
            nbs: vec![vec![bytes.to_vec()]],
            ..Self::default()
        }
    }

    /// One NB split into MDLs at the given offsets (ascending).
    #[must_use]
    pub fn split(bytes: &[u8], at: &[usize]) -> Self {
        let mut segs = Vec::new();
        let mut start = 0usize;
        for &a in at {
            let a = a.min(bytes.len());
            if a > start {
                segs.push(bytes[start..a].to_vec());
                start = a;
            }
        }
        segs.push(bytes[start..].to_vec());
        Self {
            nbs: vec![segs],
            ..Self::default()
        }
    }

    /// Several NBs, one MDL each.
    #[must_use]
    pub fn multi(frames: &[&[u8]]) -> Self {
        Self {
            nbs: frames.iter().map(|f| vec![f.to_vec()]).collect(),
            ..Self::default()
        }
    }

    /// Set the cancel id.
    #[must_use]
    pub fn with_cancel_id(mut self, id: usize) -> Self {
        self.cancel_id = id;
        self
    }

    /// Set the 802.1Q info value.
    #[must_use]
    pub fn with_8021q(mut self, v: usize) -> Self {
        self.ieee8021q = v;
        self
    }

    /// Request TCP LSO V1 (IPv4): MSS and TcpHeaderOffset (from the start
    /// of the frame) in TcpLargeSendNetBufferListInfo.
    #[must_use]
    pub fn with_lso_v1(mut self, mss: u32, tcp_header_offset: u32) -> Self {
        self.lso = lso_value(
            mss,
            tcp_header_offset,
            NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE,
            false,
        );
        self
    }

    /// Request TCP LSO V2: MSS, TcpHeaderOffset and the IP version.
    #[must_use]
    pub fn with_lso_v2(mut self, mss: u32, tcp_header_offset: u32, ipv6: bool) -> Self {
        self.lso = lso_value(
            mss,
            tcp_header_offset,
            NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE,
            ipv6,
        );
        self
    }

    /// Set head room in front of each NB's data.
    #[must_use]
    pub fn with_head_room(mut self, n: u32) -> Self {
        self.head_room = n;
        self
    }
}

/// The NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO value (bit layout
/// in ffi::types::LSO_*).
fn lso_value(mss: u32, tcp_header_offset: u32, ty: u32, ipv6: bool) -> usize {
    let v = (mss & LSO_MSS_MASK)
        | ((tcp_header_offset << LSO_TCP_HEADER_OFFSET_SHIFT) & LSO_TCP_HEADER_OFFSET_MASK)
        | if ty == NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE {
            LSO_TYPE_MASK
        } else {
            0
        }
        | if ipv6 { LSO_V2_IP_VERSION_MASK } else { 0 };
    v as usize
}

/// Where an NBL is, as far as the simulated NDIS knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// In the filter (sent from above and not yet sent down or completed,
    /// or completed by the miniport and not yet completed up).
    Filter,
    /// Below: the fake miniport has it.
    Miniport,
    /// Received: indicated to the filter, not yet indicated up.
    RxFilter,
    /// Received: the protocol above holds it (to be returned).
    RxProtocol,
    /// Received: returned by the protocol, on its way back down.
    RxReturning,
}

/// Extra info slots ndis.sys has past the 6.30 header's 24 (29 in total
/// on Windows 10 2004+).
const EXTRA_INFO_SLOTS: usize = 5;

/// One NBL and everything it points at.
#[repr(C)]
pub(crate) struct SimPacket {
    pub(crate) nbl: NET_BUFFER_LIST,
    extra_info: [usize; EXTRA_INFO_SLOTS],
    nbs: Box<[NET_BUFFER]>,
    mdls: Box<[MDL]>,
    bufs: Vec<Box<[u8]>>,
    /// Harness id.
    pub(crate) id: u64,
    /// Where it is.
    pub(crate) owner: Owner,
    /// SourceHandle set at allocation (checked at completion).
    pub(crate) source: usize,
    /// The send call that brought it in has not returned yet.
    pub(crate) in_call: bool,
}

fn zeroed_nbl() -> NET_BUFFER_LIST {
    NET_BUFFER_LIST {
        Next: core::ptr::null_mut(),
        FirstNetBuffer: core::ptr::null_mut(),
        Context: core::ptr::null_mut(),
        ParentNetBufferList: core::ptr::null_mut(),
        NdisPoolHandle: core::ptr::null_mut(),
        _Pad0: 0,
        NdisReserved: [core::ptr::null_mut(); 2],
        ProtocolReserved: [core::ptr::null_mut(); 4],
        MiniportReserved: [core::ptr::null_mut(); 2],
        Scratch: core::ptr::null_mut(),
        SourceHandle: core::ptr::null_mut(),
        NblFlags: 0,
        ChildRefCount: 0,
        Flags: 0,
        Status: 0,
        NetBufferListInfo: [core::ptr::null_mut(); MAX_NET_BUFFER_LIST_INFO_630],
    }
}

fn zeroed_nb() -> NET_BUFFER {
    NET_BUFFER {
        Next: core::ptr::null_mut(),
        CurrentMdl: core::ptr::null_mut(),
        CurrentMdlOffset: 0,
        _Pad0: 0,
        DataLength: 0,
        _DataLengthHigh: 0,
        MdlChain: core::ptr::null_mut(),
        DataOffset: 0,
        _Pad1: 0,
        ChecksumBias: 0,
        Reserved: 0,
        _Pad2: 0,
        NdisPoolHandle: core::ptr::null_mut(),
        NdisReserved: [core::ptr::null_mut(); 2],
        ProtocolReserved: [core::ptr::null_mut(); 6],
        MiniportReserved: [core::ptr::null_mut(); 4],
        DataPhysicalAddress: 0,
        SharedMemoryInfo: core::ptr::null_mut(),
    }
}

fn zeroed_mdl() -> MDL {
    MDL {
        Next: core::ptr::null_mut(),
        Size: 0,
        MdlFlags: 0,
        AllocationProcessorNumber: 0,
        Reserved: 0,
        Process: core::ptr::null_mut(),
        MappedSystemVa: core::ptr::null_mut(),
        StartVa: core::ptr::null_mut(),
        ByteCount: 0,
        ByteOffset: 0,
    }
}

impl SimPacket {
    /// Build the NBL for `p`.
    pub(crate) fn build(p: &TxPacket, id: u64, source: usize, owner: Owner) -> Box<SimPacket> {
        let n_nbs = p.nbs.len().max(1);
        let n_mdls: usize = p.nbs.iter().map(|s| s.len().max(1)).sum::<usize>().max(1);
        let mut pkt = Box::new(SimPacket {
            nbl: zeroed_nbl(),
            extra_info: [0; EXTRA_INFO_SLOTS],
            nbs: (0..n_nbs).map(|_| zeroed_nb()).collect(),
            mdls: (0..n_mdls).map(|_| zeroed_mdl()).collect(),
            bufs: Vec::new(),
            id,
            owner,
            source,
            in_call: false,
        });
        let _ = pkt.extra_info;
        let mut mdl_i = 0usize;
        let nb_count = pkt.nbs.len();
        for nb_i in 0..nb_count {
            let segs: Vec<Vec<u8>> = p.nbs.get(nb_i).cloned().unwrap_or_default();
            let segs = if segs.is_empty() {
                vec![Vec::new()]
            } else {
                segs
            };
            let first_mdl = mdl_i;
            let mut total = 0u32;
            let nsegs = segs.len();
            for (si, seg) in segs.into_iter().enumerate() {
                let room = if si == 0 { p.head_room as usize } else { 0 };
                let mut buf = vec![0xEEu8; room + seg.len()].into_boxed_slice();
                buf[room..].copy_from_slice(&seg);
                total += seg.len() as u32;
                let va = buf.as_mut_ptr().cast::<c_void>();
                let len = buf.len() as u32;
                pkt.bufs.push(buf);
                let next = if si + 1 < nsegs {
                    core::ptr::from_mut(&mut pkt.mdls[mdl_i + 1])
                } else {
                    core::ptr::null_mut()
                };
                let m = &mut pkt.mdls[mdl_i];
                m.Next = next;
                m.MdlFlags = MDL_SOURCE_IS_NONPAGED_POOL | MDL_MAPPED_TO_SYSTEM_VA;
                m.MappedSystemVa = va;
                m.StartVa = va;
                m.ByteCount = len;
                mdl_i += 1;
            }
            let mdl_ptr = core::ptr::from_mut(&mut pkt.mdls[first_mdl]);
            let next_nb = if nb_i + 1 < nb_count {
                core::ptr::from_mut(&mut pkt.nbs[nb_i + 1])
            } else {
                core::ptr::null_mut()
            };
            let nb = &mut pkt.nbs[nb_i];
            nb.Next = next_nb;
            nb.MdlChain = mdl_ptr;
            nb.CurrentMdl = mdl_ptr;
            nb.CurrentMdlOffset = p.head_room;
            nb.DataOffset = p.head_room;
            nb.DataLength = total;
        }
        pkt.nbl.FirstNetBuffer = pkt.nbs.as_mut_ptr();
        pkt.nbl.SourceHandle = source as *mut c_void;
        pkt.nbl.NetBufferListInfo[IEEE_8021Q_NET_BUFFER_LIST_INFO] = p.ieee8021q as *mut c_void;
        pkt.nbl.NetBufferListInfo[NET_BUFFER_LIST_CANCEL_ID] = p.cancel_id as *mut c_void;
        pkt.nbl.NetBufferListInfo[TCP_LARGE_SEND_NET_BUFFER_LIST_INFO] = p.lso as *mut c_void;
        pkt.nbl.NetBufferListInfo[TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO] = p.checksum as *mut c_void;
        pkt
    }

    /// The NBL pointer NDIS hands around.
    pub(crate) fn nbl_ptr(&mut self) -> *mut NET_BUFFER_LIST {
        core::ptr::from_mut(&mut self.nbl)
    }

    /// Each NB's data bytes, as the filter left them (walking the MDLs
    /// from CurrentMdl + CurrentMdlOffset for DataLength bytes).
    pub(crate) fn frames(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut nb = self.nbl.FirstNetBuffer;
        while !nb.is_null() {
            // SAFETY: our own NB list, built in `build`.
            let b = unsafe { &*nb };
            let mut remaining = b.DataLength as usize;
            let mut off = b.CurrentMdlOffset as usize;
            let mut mdl = b.CurrentMdl;
            let mut bytes = Vec::with_capacity(remaining);
            while remaining > 0 && !mdl.is_null() {
                // SAFETY: our own MDL chain.
                let m = unsafe { &*mdl };
                let count = m.ByteCount as usize;
                if off < count {
                    let take = (count - off).min(remaining);
                    let start = m.MappedSystemVa.cast::<u8>().wrapping_add(off);
                    // SAFETY: MappedSystemVa points at ByteCount bytes we own.
                    let s = unsafe { core::slice::from_raw_parts(start, take) };
                    bytes.extend_from_slice(s);
                    remaining -= take;
                    off = 0;
                } else {
                    off -= count;
                }
                mdl = m.Next;
            }
            out.push(bytes);
            nb = b.Next;
        }
        out
    }

    /// Info slot value.
    pub(crate) fn info(&self, slot: usize) -> usize {
        self.nbl
            .NetBufferListInfo
            .get(slot)
            .map_or(0, |p| *p as usize)
    }
}

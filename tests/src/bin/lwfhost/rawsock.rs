//! AF_PACKET raw sockets bound to one Linux interface: the "wire" lwfhost
//! bridges. Linux only.
//!
//! Frames are read with their 802.1Q tag put back in band: the kernel strips
//! a received tag into skb metadata (`PACKET_AUXDATA`), and a bump in the wire
//! must forward what was on the wire. Frames this socket sent itself are
//! ignored (`PACKET_IGNORE_OUTGOING`, and the packet type checked as well).

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// `ETH_P_ALL` in network byte order, as `socket(2)` and `bind(2)` want it.
const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();
/// Bytes of an 802.1Q tag (TPID + TCI).
const VLAN_TAG_LEN: usize = 4;
/// Offset of the EtherType (or TPID) in an Ethernet II frame.
const ETHERTYPE_OFFSET: usize = 12;

/// What [`RawPort::recv`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Frame length in the buffer (tag included when one was restored).
    pub len: usize,
    /// The kernel reported the frame's transport checksum as not yet computed
    /// (checksum offload on the sending side): the frame is incomplete.
    pub csum_not_ready: bool,
}

/// A raw packet socket bound to one interface.
#[derive(Debug)]
pub struct RawPort {
    fd: OwnedFd,
    name: String,
    /// Frames the kernel dropped because this socket's buffer was full,
    /// summed over reads of PACKET_STATISTICS (each read resets them).
    kernel_drops: AtomicU64,
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn setsockopt_int(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    let len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` lives for the call and `len` is its size.
    let rc =
        unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (&raw const value).cast(), len) };
    check(rc).map(drop)
}

impl RawPort {
    /// Opens a raw socket on interface `name`, in promiscuous mode, with a
    /// large receive buffer.
    pub fn open(name: &str) -> io::Result<Self> {
        let cname = CString::new(name)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has a NUL"))?;
        // SAFETY: `cname` is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no interface named {name} in this network namespace"),
            ));
        }
        let ifindex =
            i32::try_from(ifindex).map_err(|_| io::Error::other("interface index out of range"))?;
        // SAFETY: plain socket(2) call; the result is checked below.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_ALL_BE),
            )
        };
        let raw = check(raw)?;
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL_BE;
        sll.sll_ifindex = ifindex;
        let sll_len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `sll` is a valid sockaddr_ll of `sll_len` bytes.
        let rc = unsafe { libc::bind(fd.as_raw_fd(), (&raw const sll).cast(), sll_len) };
        check(rc)?;

        setsockopt_int(&fd, libc::SOL_PACKET, libc::PACKET_AUXDATA, 1)?;
        // Not fatal on kernels before 4.20: the packet type check in recv
        // filters our own transmissions too.
        let _ = setsockopt_int(&fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1);
        // Large buffers so a burst does not overflow while the bridge thread
        // is descheduled (needs root for FORCE; fall back silently).
        let buf = 8 << 20;
        if setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, buf).is_err() {
            let _ = setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, buf);
        }
        if setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, buf).is_err() {
            let _ = setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_SNDBUF, buf);
        }

        // SAFETY: packet_mreq is plain data; all-zero is a valid value.
        let mut mreq: libc::packet_mreq = unsafe { zeroed() };
        mreq.mr_ifindex = ifindex;
        mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
        let mlen = size_of::<libc::packet_mreq>() as libc::socklen_t;
        // SAFETY: `mreq` is a valid packet_mreq of `mlen` bytes.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                (&raw const mreq).cast(),
                mlen,
            )
        };
        check(rc)?;

        Ok(Self {
            fd,
            name: name.to_owned(),
            kernel_drops: AtomicU64::new(0),
        })
    }

    /// The interface's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads the next frame that arrived on the interface (blocking), with a
    /// stripped 802.1Q tag restored in band. `buf` should hold 64 KiB.
    /// Returns `Ok(None)` for a frame that is not to be forwarded (one we
    /// sent, or one too large for `buf`).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        // Keep room to re-insert a tag.
        let room = buf.len().saturating_sub(VLAN_TAG_LEN);
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: room,
        };
        // u64 storage keeps the control buffer aligned for cmsghdr.
        let mut control = [0u64; 16];
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut from: libc::sockaddr_ll = unsafe { zeroed() };
        // SAFETY: msghdr is plain data; all-zero is a valid value.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_name = (&raw mut from).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 16]>();
        let n = loop {
            // SAFETY: msg points at live buffers of the sizes it states.
            let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &raw mut msg, libc::MSG_TRUNC) };
            if n >= 0 {
                break n as usize;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        };
        if from.sll_pkttype == libc::PACKET_OUTGOING || n > room {
            return Ok(None);
        }
        let mut aux: Option<libc::tpacket_auxdata> = None;
        // SAFETY: msg was filled by recvmsg; CMSG_FIRSTHDR reads its fields.
        let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&raw const msg) };
        while !cmsg.is_null() {
            // SAFETY: cmsg is non-null and inside the control buffer.
            let hdr = unsafe { &*cmsg };
            if hdr.cmsg_level == libc::SOL_PACKET && hdr.cmsg_type == libc::PACKET_AUXDATA {
                // SAFETY: the kernel put a tpacket_auxdata there; read_unaligned
                // copes with any alignment.
                let data = unsafe { libc::CMSG_DATA(cmsg) };
                // SAFETY: see above; `data` points at a whole tpacket_auxdata.
                aux =
                    Some(unsafe { std::ptr::read_unaligned(data.cast::<libc::tpacket_auxdata>()) });
            }
            // SAFETY: msg and cmsg are valid; CMSG_NXTHDR checks bounds.
            cmsg = unsafe { libc::CMSG_NXTHDR(&raw const msg, cmsg) };
        }
        let mut len = n;
        let mut csum_not_ready = false;
        if let Some(aux) = aux {
            csum_not_ready = aux.tp_status & libc::TP_STATUS_CSUMNOTREADY != 0;
            if aux.tp_status & libc::TP_STATUS_VLAN_VALID != 0 && len >= ETHERTYPE_OFFSET {
                let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0
                    && aux.tp_vlan_tpid != 0
                {
                    aux.tp_vlan_tpid
                } else {
                    0x8100
                };
                buf.copy_within(ETHERTYPE_OFFSET..len, ETHERTYPE_OFFSET + VLAN_TAG_LEN);
                buf[ETHERTYPE_OFFSET..ETHERTYPE_OFFSET + 2].copy_from_slice(&tpid.to_be_bytes());
                buf[ETHERTYPE_OFFSET + 2..ETHERTYPE_OFFSET + 4]
                    .copy_from_slice(&aux.tp_vlan_tci.to_be_bytes());
                len += VLAN_TAG_LEN;
            }
        }
        Ok(Some(Received {
            len,
            csum_not_ready,
        }))
    }

    /// Frames the kernel dropped on this socket so far (receive buffer full).
    pub fn kernel_drops(&self) -> u64 {
        let mut st = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: `st` and `len` are valid for the kernel to fill.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&raw mut st).cast(),
                &raw mut len,
            )
        };
        if rc == 0 {
            self.kernel_drops
                .fetch_add(u64::from(st.tp_drops), Ordering::Relaxed);
        }
        self.kernel_drops.load(Ordering::Relaxed)
    }

    /// Transmits one whole Ethernet frame on the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: `frame` is a live buffer of the stated length.
            let n =
                unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => {}
                // The device queue is full: wait a moment, as a NIC's
                // transmit ring would make the sender wait.
                Some(libc::ENOBUFS | libc::EAGAIN) => {
                    std::thread::sleep(std::time::Duration::from_micros(50))
                }
                _ => return Err(e),
            }
        }
    }
}

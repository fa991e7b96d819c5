//! e2eprobe: small UDP tools for the netns end-to-end suite (no ping or
//! netperf on the test machines, and iperf3 cannot pick its ports freely).
//!
//! ```text
//! e2eprobe echo  --bind ADDR:PORT [--duration S]
//!     echoes every datagram back to its sender.
//! e2eprobe ping  --to ADDR:PORT [--count N] [--interval-ms MS] [--tos T] [--size B] [--src-port P]
//!     one datagram every MS, waits for the echo; prints
//!     `sent=N received=N p50_ms=.. p90_ms=.. p99_ms=.. max_ms=..`.
//! e2eprobe blast --to ADDR:PORT [--count N] [--pps R] [--tos T] [--size B] [--src-port P]
//!     sends N datagrams at R per second with TOS / traffic class T (DSCP<<2 | ECN).
//! e2eprobe sink  --bind ADDR:PORT --duration S
//!     counts datagrams and bytes received for S seconds; prints `received=N bytes=N`.
//! e2eprobe rawblast --dev IFACE --dst-mac MAC --src IP --dst IP --sport P --dport P
//!                   [--vid V] [--pcp P] [--tos T] [--count N] [--pps R] [--size B]
//!     sends UDP frames built by hand on an AF_PACKET socket, with an 802.1Q
//!     tag when --vid is given (for machines without the 8021q module).
//! ```
//! IPv6 addresses are written `[addr]:port`.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Opts {
    bind: Option<SocketAddr>,
    to: Option<SocketAddr>,
    count: u64,
    interval_ms: u64,
    pps: u64,
    tos: u8,
    size: usize,
    src_port: u16,
    duration_s: f64,
    dev: String,
    dst_mac: [u8; 6],
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    sport: u16,
    dport: u16,
    vid: Option<u16>,
    pcp: u8,
}

fn parse_mac(v: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = v.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        bind: None,
        to: None,
        count: 100,
        interval_ms: 10,
        pps: 1000,
        tos: 0,
        size: 64,
        src_port: 0,
        duration_s: 0.0,
        dev: String::new(),
        dst_mac: [0xff; 6],
        src: None,
        dst: None,
        sport: 0,
        dport: 0,
        vid: None,
        pcp: 0,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
        let bad = || format!("bad value for {a}: {v}");
        match a.as_str() {
            "--bind" => o.bind = Some(v.parse().map_err(|_| bad())?),
            "--to" => o.to = Some(v.parse().map_err(|_| bad())?),
            "--count" => o.count = v.parse().map_err(|_| bad())?,
            "--interval-ms" => o.interval_ms = v.parse().map_err(|_| bad())?,
            "--pps" => o.pps = v.parse().map_err(|_| bad())?,
            "--tos" => o.tos = v.parse().map_err(|_| bad())?,
            "--size" => o.size = v.parse().map_err(|_| bad())?,
            "--src-port" => o.src_port = v.parse().map_err(|_| bad())?,
            "--duration" => o.duration_s = v.parse().map_err(|_| bad())?,
            "--dev" => o.dev = v.clone(),
            "--dst-mac" => o.dst_mac = parse_mac(v).ok_or_else(bad)?,
            "--src" => o.src = Some(v.parse().map_err(|_| bad())?),
            "--dst" => o.dst = Some(v.parse().map_err(|_| bad())?),
            "--sport" => o.sport = v.parse().map_err(|_| bad())?,
            "--dport" => o.dport = v.parse().map_err(|_| bad())?,
            "--vid" => o.vid = Some(v.parse().map_err(|_| bad())?),
            "--pcp" => o.pcp = v.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown option {a}")),
        }
    }
    Ok(o)
}

/// Sets the IPv4 TOS or IPv6 traffic class byte on outgoing datagrams.
fn set_tos(sock: &UdpSocket, v6: bool, tos: u8) -> std::io::Result<()> {
    let value = libc::c_int::from(tos);
    let (level, name) = if v6 {
        (libc::IPPROTO_IPV6, libc::IPV6_TCLASS)
    } else {
        (libc::IPPROTO_IP, libc::IP_TOS)
    };
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` lives for the call and `len` is its size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            len,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn client(o: &Opts) -> Result<(UdpSocket, SocketAddr), String> {
    let to = o.to.ok_or("--to is required")?;
    let local: SocketAddr = if to.is_ipv6() {
        format!("[::]:{}", o.src_port)
            .parse()
            .map_err(|e| format!("{e}"))?
    } else {
        format!("0.0.0.0:{}", o.src_port)
            .parse()
            .map_err(|e| format!("{e}"))?
    };
    let s = UdpSocket::bind(local).map_err(|e| format!("bind {local}: {e}"))?;
    set_tos(&s, to.is_ipv6(), o.tos).map_err(|e| format!("set TOS: {e}"))?;
    s.connect(to).map_err(|e| format!("connect {to}: {e}"))?;
    Ok((s, to))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ping(o: &Opts) -> Result<(), String> {
    let (s, _) = client(o)?;
    let interval = Duration::from_millis(o.interval_ms);
    s.set_read_timeout(Some(Duration::from_millis(200).max(interval)))
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; o.size.max(8)];
    let mut rx = vec![0u8; 65_536];
    let mut rtts = Vec::new();
    let start = Instant::now();
    for seq in 0..o.count {
        let due = start + interval * u32::try_from(seq).unwrap_or(u32::MAX);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        buf[..8].copy_from_slice(&seq.to_be_bytes());
        let t0 = Instant::now();
        s.send(&buf).map_err(|e| format!("send: {e}"))?;
        // Wait for this sequence number; late echoes of older ones are skipped.
        while let Ok(n) = s.recv(&mut rx) {
            if n >= 8 && rx[..8] == seq.to_be_bytes() {
                rtts.push(t0.elapsed().as_secs_f64() * 1e3);
                break;
            }
        }
    }
    rtts.sort_by(f64::total_cmp);
    println!(
        "sent={} received={} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3}",
        o.count,
        rtts.len(),
        percentile(&rtts, 50.0),
        percentile(&rtts, 90.0),
        percentile(&rtts, 99.0),
        rtts.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}

fn blast(o: &Opts) -> Result<(), String> {
    let (s, _) = client(o)?;
    let mut buf = vec![0u8; o.size.max(8)];
    let start = Instant::now();
    let pps = o.pps.max(1);
    for seq in 0..o.count {
        let due = start + Duration::from_nanos(seq.saturating_mul(1_000_000_000) / pps);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        buf[..8].copy_from_slice(&seq.to_be_bytes());
        // ENOBUFS / ECONNREFUSED (no listener yet) are counted as not sent.
        let _ = s.send(&buf);
    }
    println!("sent={}", o.count);
    Ok(())
}

/// Internet checksum (RFC 1071) of `data`, starting from `sum`.
fn csum(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Builds one Ethernet (+ optional 802.1Q) + IPv4/IPv6 + UDP frame with
/// correct checksums.
fn build_frame(o: &Opts, src_mac: [u8; 6], payload: &[u8]) -> Result<Vec<u8>, String> {
    let (src, dst) = (
        o.src.ok_or("--src is required")?,
        o.dst.ok_or("--dst is required")?,
    );
    let udp_len = 8 + payload.len();
    let mut udp = Vec::with_capacity(udp_len);
    udp.extend_from_slice(&o.sport.to_be_bytes());
    udp.extend_from_slice(&o.dport.to_be_bytes());
    udp.extend_from_slice(&(udp_len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let mut f = Vec::with_capacity(18 + 40 + udp_len);
    f.extend_from_slice(&o.dst_mac);
    f.extend_from_slice(&src_mac);
    if let Some(vid) = o.vid {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&((u16::from(o.pcp & 7) << 13) | (vid & 0x0fff)).to_be_bytes());
    }
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend_from_slice(&0x0800u16.to_be_bytes());
            let mut ip = [0u8; 20];
            ip[0] = 0x45;
            ip[1] = o.tos;
            ip[2..4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
            ip[6] = 0x40; // DF
            ip[8] = 64;
            ip[9] = 17;
            ip[12..16].copy_from_slice(&s.octets());
            ip[16..20].copy_from_slice(&d.octets());
            let c = fold(csum(0, &ip));
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            let mut pseudo = Vec::with_capacity(12);
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&[0, 17]);
            pseudo.extend_from_slice(&(udp_len as u16).to_be_bytes());
            let c = fold(csum(csum(0, &pseudo), &udp));
            udp[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
            f.extend_from_slice(&ip);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f.extend_from_slice(&0x86ddu16.to_be_bytes());
            let mut ip = [0u8; 40];
            let vtf = (6u32 << 28) | (u32::from(o.tos) << 20);
            ip[0..4].copy_from_slice(&vtf.to_be_bytes());
            ip[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
            ip[6] = 17;
            ip[7] = 64;
            ip[8..24].copy_from_slice(&s.octets());
            ip[24..40].copy_from_slice(&d.octets());
            let mut pseudo = Vec::with_capacity(40);
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&(udp_len as u32).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, 17]);
            let c = fold(csum(csum(0, &pseudo), &udp));
            udp[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
            f.extend_from_slice(&ip);
        }
        _ => return Err("--src and --dst must be the same IP version".to_owned()),
    }
    f.extend_from_slice(&udp);
    Ok(f)
}

fn rawblast(o: &Opts) -> Result<(), String> {
    let mac_text = std::fs::read_to_string(format!("/sys/class/net/{}/address", o.dev))
        .map_err(|e| format!("--dev {}: {e}", o.dev))?;
    let src_mac = parse_mac(mac_text.trim()).ok_or("cannot read the interface's MAC")?;
    let cname = std::ffi::CString::new(o.dev.as_str()).map_err(|e| e.to_string())?;
    // SAFETY: `cname` is a valid NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if ifindex == 0 {
        return Err(format!("no interface {}", o.dev));
    }
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2) call; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
    if fd < 0 {
        return Err(format!(
            "AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: sockaddr_ll is plain data; all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    let sll_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: `sll` is a valid sockaddr_ll of `sll_len` bytes.
    if unsafe { libc::bind(fd, (&raw const sll).cast(), sll_len) } < 0 {
        return Err(format!(
            "bind {}: {}",
            o.dev,
            std::io::Error::last_os_error()
        ));
    }
    let mut payload = vec![0u8; o.size.max(8)];
    let start = Instant::now();
    let pps = o.pps.max(1);
    let mut sent = 0u64;
    for seq in 0..o.count {
        let due = start + Duration::from_nanos(seq.saturating_mul(1_000_000_000) / pps);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        payload[..8].copy_from_slice(&seq.to_be_bytes());
        let frame = build_frame(o, src_mac, &payload)?;
        // SAFETY: `frame` is a live buffer of the stated length.
        if unsafe { libc::send(fd, frame.as_ptr().cast(), frame.len(), 0) } >= 0 {
            sent += 1;
        }
    }
    // SAFETY: `fd` is ours and not used afterwards.
    unsafe { libc::close(fd) };
    println!("sent={sent}");
    Ok(())
}

fn server(o: &Opts, echo: bool) -> Result<(), String> {
    let bind = o.bind.ok_or("--bind is required")?;
    let s = UdpSocket::bind(bind).map_err(|e| format!("bind {bind}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    let end = (o.duration_s > 0.0).then(|| Instant::now() + Duration::from_secs_f64(o.duration_s));
    let mut buf = vec![0u8; 65_536];
    let (mut n_rx, mut bytes) = (0u64, 0u64);
    while end.is_none_or(|e| Instant::now() < e) {
        match s.recv_from(&mut buf) {
            Ok((n, from)) => {
                n_rx += 1;
                bytes += n as u64;
                if echo {
                    let _ = s.send_to(&buf[..n], from);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(format!("recv: {e}")),
        }
    }
    println!("received={n_rx} bytes={bytes}");
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("usage: e2eprobe echo|ping|blast|sink OPTIONS");
        return ExitCode::from(2);
    };
    let r = parse(rest).and_then(|o| match cmd.as_str() {
        "echo" => server(&o, true),
        "sink" => server(&o, false),
        "ping" => ping(&o),
        "blast" => blast(&o),
        "rawblast" => rawblast(&o),
        other => Err(format!("unknown command {other}")),
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("e2eprobe: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(src: &str, dst: &str, vid: Option<u16>) -> Opts {
        let mut o = parse(&[]).unwrap();
        o.src = Some(src.parse().unwrap());
        o.dst = Some(dst.parse().unwrap());
        o.sport = 40000;
        o.dport = 7000;
        o.tos = 0xb9;
        o.vid = vid;
        o.pcp = 5;
        o
    }

    #[test]
    fn ipv4_frame_checksums_verify() {
        let o = opts("10.200.100.1", "10.200.100.2", Some(100));
        let f = build_frame(&o, [2, 0, 0, 0, 0, 1], &[7u8; 33]).unwrap();
        assert_eq!(&f[12..16], &[0x81, 0x00, 0xa0, 100]);
        let ip = &f[18..38];
        assert_eq!(ip[1], 0xb9);
        assert_eq!(fold(csum(0, ip)), 0, "IPv4 header checksum");
        let udp = &f[38..];
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&ip[12..20]);
        pseudo.extend_from_slice(&[0, 17]);
        pseudo.extend_from_slice(&(udp.len() as u16).to_be_bytes());
        assert_eq!(fold(csum(csum(0, &pseudo), udp)), 0, "UDP checksum");
    }

    #[test]
    fn ipv6_frame_checksum_verifies_and_tclass_is_set() {
        let o = opts("fd00:200:1::1", "fd00:200:1::2", None);
        let f = build_frame(&o, [2, 0, 0, 0, 0, 1], &[1u8; 10]).unwrap();
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        let ip = &f[14..54];
        let tclass = ((u32::from_be_bytes([ip[0], ip[1], ip[2], ip[3]]) >> 20) & 0xff) as u8;
        assert_eq!(tclass, 0xb9);
        let udp = &f[54..];
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&ip[8..40]);
        pseudo.extend_from_slice(&(udp.len() as u32).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, 17]);
        assert_eq!(fold(csum(csum(0, &pseudo), udp)), 0);
    }

    #[test]
    fn mixed_families_are_refused() {
        let o = opts("10.0.0.1", "fd00::1", None);
        assert!(build_frame(&o, [0; 6], &[]).is_err());
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(
            parse_mac("02:00:5e:10:00:01"),
            Some([2, 0, 0x5e, 0x10, 0, 1])
        );
        assert_eq!(parse_mac("02:00:5e:10:00"), None);
        assert_eq!(parse_mac("02:00:5e:10:00:01:02"), None);
    }
}

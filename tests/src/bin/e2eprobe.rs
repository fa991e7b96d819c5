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
//! ```
//! IPv6 addresses are written `[addr]:port`.

use std::net::{SocketAddr, UdpSocket};
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

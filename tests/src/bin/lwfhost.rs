//! lwfhost: runs the qoslwf driver (simulated NDIS backend, real time) as a
//! bump in the wire between two Linux interfaces, and serves its control
//! device on a Unix socket so `tcctl` configures it with the same IOCTL bytes
//! as on Windows.
//!
//! ```text
//! sender ns --veth-- [inner | lwfhost | outer] --veth-- receiver ns
//! ```
//!
//! Frames received on the inner interface are what the protocol above the
//! filter sends (FilterSendNetBufferLists); what the driver sends down leaves
//! on the outer interface. Frames received on the outer interface are
//! indicated up through FilterReceiveNetBufferLists and written to the inner
//! interface. `--passthrough` bridges without the driver (topology checks and
//! baselines). `--link-speed BPS` is the speed the simulated miniport
//! reports (default 1 Gbit/s). `--stats-file FILE` gets every counter as
//! `name value` lines every 100 ms. `--static-config FILE` publishes flows
//! and filters straight to the module (bring-up; tcctl is the normal way).
//!
//! Signals: SIGUSR1 pauses the filter, SIGUSR2 restarts it, SIGHUP re-reads
//! `--static-config`, SIGINT/SIGTERM stop lwfhost (counters are printed on
//! stderr).
//!
//! Run it inside the middle namespace only; it creates nothing.

#[path = "lwfhost/control.rs"]
mod control;
#[path = "lwfhost/driver_core.rs"]
mod driver_core;
#[path = "lwfhost/rawsock.rs"]
mod rawsock;
#[path = "lwfhost/static_config.rs"]
mod static_config;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use driver_core::DriverCore;
use qoslwf::sim::Sim;
use rawsock::RawPort;

/// Command line of lwfhost.
#[derive(Debug, Clone)]
struct Args {
    inner: String,
    outer: String,
    socket: Option<PathBuf>,
    passthrough: bool,
    static_config: Option<PathBuf>,
    stats_file: Option<PathBuf>,
    link_speed_bps: u64,
}

const USAGE: &str = "usage: lwfhost --inner IFACE --outer IFACE [--socket PATH] [--passthrough] \
     [--link-speed BPS] [--static-config FILE] [--stats-file FILE]";

fn parse_args() -> Result<Args, String> {
    let mut inner = None;
    let mut outer = None;
    let mut socket = None;
    let mut passthrough = false;
    let mut static_config = None;
    let mut stats_file = None;
    let mut link_speed_bps = 1_000_000_000u64;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .ok_or_else(|| format!("{what} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--inner" => inner = Some(value("--inner")?),
            "--outer" => outer = Some(value("--outer")?),
            "--socket" => socket = Some(PathBuf::from(value("--socket")?)),
            "--passthrough" => passthrough = true,
            "--static-config" => static_config = Some(PathBuf::from(value("--static-config")?)),
            "--stats-file" => stats_file = Some(PathBuf::from(value("--stats-file")?)),
            "--link-speed" => {
                let v = value("--link-speed")?;
                link_speed_bps = v
                    .parse()
                    .map_err(|_| format!("--link-speed: not a number of bit/s: {v}"))?;
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(Args {
        inner: inner.ok_or_else(|| format!("--inner is required\n{USAGE}"))?,
        outer: outer.ok_or_else(|| format!("--outer is required\n{USAGE}"))?,
        socket,
        passthrough,
        static_config,
        stats_file,
        link_speed_bps,
    })
}

/// Frame and byte counters of one direction.
#[derive(Debug, Default)]
struct DirCounters {
    frames: AtomicU64,
    bytes: AtomicU64,
    /// Frames that could not be forwarded (send error, refused by the core).
    dropped: AtomicU64,
    /// Frames whose transport checksum was left to offload by the sender.
    csum_not_ready: AtomicU64,
}

impl DirCounters {
    fn count(&self, len: usize) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len as u64, Ordering::Relaxed);
    }
    fn line(&self, name: &str) -> String {
        format!(
            "{name}: frames={} bytes={} dropped={} csum_not_ready={}",
            self.frames.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
            self.csum_not_ready.load(Ordering::Relaxed)
        )
    }
}

/// Everything the bridge threads share.
#[derive(Debug)]
struct Wire {
    inner: RawPort,
    outer: RawPort,
    /// Frames read on inner (handed to the send path).
    up_in: DirCounters,
    /// Frames written to outer (sent down by the driver).
    down_out: DirCounters,
    /// Frames read on outer (handed to the receive path).
    down_in: DirCounters,
    /// Frames written to inner (indicated up by the driver).
    up_out: DirCounters,
}

/// What sits between the two ports: the driver, or nothing.
trait Core: Send + Sync {
    /// A frame read on the inner interface: the protocol sends it.
    fn on_inner_frame(&self, frame: &[u8]);
    /// A frame read on the outer interface: the miniport indicates it.
    fn on_outer_frame(&self, frame: &[u8]);
    /// Pauses the filter (SIGUSR1).
    fn pause(&self) -> Result<(), String>;
    /// Restarts the filter (SIGUSR2).
    fn restart(&self) -> Result<(), String>;
    /// One control-device request: returns (NTSTATUS, output bytes).
    fn ioctl(&self, code: u32, input: &[u8], output_len: usize) -> (u32, Vec<u8>);
    /// Extra lines for the exit report.
    fn report(&self) -> Vec<String>;
    /// Counters for the stats file (`name value`).
    fn counters(&self) -> Vec<(&'static str, u64)>;
}

/// Bridges frames unchanged (no driver).
#[derive(Debug)]
struct Passthrough {
    wire: Arc<Wire>,
    paused: AtomicBool,
}

impl Passthrough {
    fn forward(&self, to: &RawPort, counters: &DirCounters, frame: &[u8]) {
        if self.paused.load(Ordering::Relaxed) {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match to.send(frame) {
            Ok(()) => counters.count(frame.len()),
            Err(_) => {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// STATUS_NOT_SUPPORTED.
const STATUS_NOT_SUPPORTED: u32 = 0xC000_00BB;

impl Core for Passthrough {
    fn on_inner_frame(&self, frame: &[u8]) {
        self.forward(&self.wire.outer, &self.wire.down_out, frame);
    }
    fn on_outer_frame(&self, frame: &[u8]) {
        self.forward(&self.wire.inner, &self.wire.up_out, frame);
    }
    fn pause(&self) -> Result<(), String> {
        self.paused.store(true, Ordering::Relaxed);
        Ok(())
    }
    fn restart(&self) -> Result<(), String> {
        self.paused.store(false, Ordering::Relaxed);
        Ok(())
    }
    fn ioctl(&self, _code: u32, _input: &[u8], _output_len: usize) -> (u32, Vec<u8>) {
        (STATUS_NOT_SUPPORTED, Vec::new())
    }
    fn report(&self) -> Vec<String> {
        vec!["core: passthrough (no driver)".to_owned()]
    }
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// Reads frames from `port` forever and hands them to `deliver`.
fn pump(port: &RawPort, counters: &DirCounters, deliver: impl Fn(&[u8])) -> io::Result<()> {
    let mut buf = vec![0u8; 65_536 + 64];
    loop {
        let Some(r) = port.recv(&mut buf)? else {
            continue;
        };
        counters.count(r.len);
        if r.csum_not_ready {
            counters.csum_not_ready.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(frame) = buf.get(..r.len) {
            deliver(frame);
        }
    }
}

/// Writes every counter as `name value` lines to `path` (atomically: a
/// temporary file renamed over it), so scripts can take deltas.
fn write_stats(path: &std::path::Path, wire: &Wire, core: &dyn Core) {
    let mut text = String::new();
    let dirs = [
        ("inner_rx", &wire.up_in),
        ("outer_tx", &wire.down_out),
        ("outer_rx", &wire.down_in),
        ("inner_tx", &wire.up_out),
    ];
    for (name, c) in dirs {
        text.push_str(&format!(
            "{name}_frames {}\n{name}_bytes {}\n{name}_dropped {}\n",
            c.frames.load(Ordering::Relaxed),
            c.bytes.load(Ordering::Relaxed),
            c.dropped.load(Ordering::Relaxed)
        ));
    }
    text.push_str(&format!(
        "inner_kernel_drops {}\n",
        wire.inner.kernel_drops()
    ));
    text.push_str(&format!(
        "outer_kernel_drops {}\n",
        wire.outer.kernel_drops()
    ));
    for (name, v) in core.counters() {
        text.push_str(&format!("{name} {v}\n"));
    }
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

// ---- signals ---------------------------------------------------------------

static SIG_PAUSE: AtomicBool = AtomicBool::new(false);
static SIG_RESTART: AtomicBool = AtomicBool::new(false);
static SIG_STOP: AtomicBool = AtomicBool::new(false);
static SIG_RELOAD: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    match sig {
        libc::SIGUSR1 => SIG_PAUSE.store(true, Ordering::SeqCst),
        libc::SIGUSR2 => SIG_RESTART.store(true, Ordering::SeqCst),
        libc::SIGHUP => SIG_RELOAD.store(true, Ordering::SeqCst),
        _ => SIG_STOP.store(true, Ordering::SeqCst),
    }
}

fn install_signals() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for sig in [
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGTERM,
    ] {
        // SAFETY: the handler only stores to atomics (async-signal-safe).
        unsafe { libc::signal(sig, handler) };
    }
}

// ---- setup -------------------------------------------------------------------

/// The outer interface's MAC address and index (the simulated miniport
/// takes them, so tcctl lists the adapter as Linux names it).
fn interface_identity(name: &str) -> ([u8; 6], u32) {
    let read = |what: &str| {
        std::fs::read_to_string(format!("/sys/class/net/{name}/{what}")).unwrap_or_default()
    };
    let mut mac = [0u8; 6];
    for (b, part) in mac.iter_mut().zip(read("address").trim().split(':')) {
        *b = u8::from_str_radix(part, 16).unwrap_or(0);
    }
    (mac, read("ifindex").trim().parse().unwrap_or(1))
}

fn run(args: &Args) -> Result<(), String> {
    let open = |name: &str| RawPort::open(name).map_err(|e| format!("open {name}: {e}"));
    let wire = Arc::new(Wire {
        inner: open(&args.inner)?,
        outer: open(&args.outer)?,
        up_in: DirCounters::default(),
        down_out: DirCounters::default(),
        down_in: DirCounters::default(),
        up_out: DirCounters::default(),
    });
    let mut sim = None;
    let mut requests = None;
    let mut static_core: Option<Arc<DriverCore>> = None;
    let core: Arc<dyn Core> = if args.passthrough {
        Arc::new(Passthrough {
            wire: Arc::clone(&wire),
            paused: AtomicBool::new(false),
        })
    } else {
        let mut s = Sim::new_realtime();
        let (mac, if_index) = interface_identity(&args.outer);
        let (core, rx) = DriverCore::start(&mut s, &wire, args.link_speed_bps, mac, if_index)?;
        if let Some(path) = &args.static_config {
            let n = static_config::load(core.adapter(), path)?;
            eprintln!("lwfhost: published {n} flow(s) from {}", path.display());
            static_core = Some(Arc::clone(&core));
        }
        sim = Some(s);
        requests = Some(rx);
        core
    };

    install_signals();
    if let Some(path) = &args.socket {
        control::serve(path, Arc::clone(&core))
            .map_err(|e| format!("control socket {}: {e}", path.display()))?;
    }

    for inner_to_outer in [true, false] {
        let wire = Arc::clone(&wire);
        let core = Arc::clone(&core);
        thread::Builder::new()
            .name(
                if inner_to_outer {
                    "inner-rx"
                } else {
                    "outer-rx"
                }
                .to_owned(),
            )
            .spawn(move || {
                let r = if inner_to_outer {
                    pump(&wire.inner, &wire.up_in, |f| core.on_inner_frame(f))
                } else {
                    pump(&wire.outer, &wire.down_in, |f| core.on_outer_frame(f))
                };
                if let Err(e) = r {
                    eprintln!("lwfhost: receive loop ended: {e}");
                    SIG_STOP.store(true, Ordering::SeqCst);
                }
            })
            .map_err(|e| format!("spawn: {e}"))?;
    }
    eprintln!(
        "lwfhost: bridging {} <-> {} ({})",
        wire.inner.name(),
        wire.outer.name(),
        if args.passthrough {
            "passthrough"
        } else {
            "qoslwf"
        }
    );

    let mut last_stats = std::time::Instant::now();
    while !SIG_STOP.load(Ordering::SeqCst) {
        if let Some(path) = &args.stats_file {
            if last_stats.elapsed() >= Duration::from_millis(100) {
                last_stats = std::time::Instant::now();
                write_stats(path, &wire, core.as_ref());
            }
        }
        if SIG_PAUSE.swap(false, Ordering::SeqCst) {
            match core.pause() {
                Ok(()) => eprintln!("lwfhost: paused"),
                Err(e) => eprintln!("lwfhost: pause failed: {e}"),
            }
        }
        if SIG_RELOAD.swap(false, Ordering::SeqCst) {
            if let (Some(c), Some(path)) = (&static_core, &args.static_config) {
                match static_config::load(c.adapter(), path) {
                    Ok(n) => eprintln!("lwfhost: published {n} flow(s) from {}", path.display()),
                    Err(e) => eprintln!("lwfhost: static config: {e}"),
                }
            }
        }
        if SIG_RESTART.swap(false, Ordering::SeqCst) {
            match core.restart() {
                Ok(()) => eprintln!("lwfhost: restarted"),
                Err(e) => eprintln!("lwfhost: restart failed: {e}"),
            }
        }
        match (&sim, &requests) {
            (Some(sim), Some(rx)) => {
                // Control requests run here: the Sim is not Send.
                if let Ok(req) = rx.recv_timeout(Duration::from_millis(5)) {
                    DriverCore::serve_request(sim, req);
                }
            }
            _ => thread::sleep(Duration::from_millis(5)),
        }
    }
    if let Some(path) = &args.socket {
        let _ = std::fs::remove_file(path);
    }
    if let Some(path) = &args.stats_file {
        write_stats(path, &wire, core.as_ref());
    }
    eprintln!(
        "lwfhost: kernel drops on the packet sockets: inner={} outer={}",
        wire.inner.kernel_drops(),
        wire.outer.kernel_drops()
    );
    eprintln!("lwfhost: {}", wire.up_in.line("inner rx"));
    eprintln!("lwfhost: {}", wire.down_out.line("outer tx"));
    eprintln!("lwfhost: {}", wire.down_in.line("outer rx"));
    eprintln!("lwfhost: {}", wire.up_out.line("inner tx"));
    for line in core.report() {
        eprintln!("lwfhost: {line}");
    }
    if let Some(mut sim) = sim {
        sim.unload();
        for line in DriverCore::sim_report(&sim) {
            eprintln!("lwfhost: {line}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lwfhost: {e}");
            ExitCode::FAILURE
        }
    }
}

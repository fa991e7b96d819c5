//! An in-process control device for tcctl's CLI tests: a Unix socket
//! listener thread that speaks `qos_proto::transport` framing and hands
//! each request to a handler (the real qos-control handler over an
//! in-memory datapath host, or a fake driver for the error paths).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use qos_control::ControlPlane;
use qos_control::memhost::{MemHost, fake_adapter, serve_stream};
use qos_proto::transport::{REQUEST_PREFIX_LEN, ReplyFrame, RequestFrame};

/// Handles one IOCTL: code, input, output buffer; returns the NTSTATUS and
/// the bytes written.
pub type Handler = Box<dyn FnMut(u32, &[u8], &mut [u8]) -> (u32, usize) + Send>;

/// A listening control socket; the thread lives as long as the test.
pub struct Server {
    dir: tempfile::TempDir,
    path: PathBuf,
}

fn serve(mut s: UnixStream, handler: &Arc<Mutex<Handler>>) {
    loop {
        let mut prefix = [0u8; REQUEST_PREFIX_LEN];
        if s.read_exact(&mut prefix).is_err() {
            return;
        }
        let Ok(req) = RequestFrame::decode(&prefix) else {
            return;
        };
        let mut input = vec![0u8; req.input_len as usize];
        if s.read_exact(&mut input).is_err() {
            return;
        }
        let mut output = vec![0u8; req.output_len as usize];
        let (status, written) = {
            let mut h = handler.lock().unwrap();
            (h)(req.code, &input, &mut output)
        };
        let out = &output[..written.min(output.len())];
        let frame = ReplyFrame::new(status, out).encode();
        if s.write_all(&frame).and_then(|()| s.write_all(out)).is_err() {
            return;
        }
    }
}

impl Server {
    /// Starts a listener thread that hands each connection to `conn`.
    pub fn start_with(conn: impl Fn(UnixStream) + Send + Sync + 'static) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qoslwf.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let conn = Arc::new(conn);
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(s) = s else { return };
                let c = Arc::clone(&conn);
                std::thread::spawn(move || c(s));
            }
        });
        Self { dir, path }
    }

    /// Starts a listener thread with a raw IOCTL `handler`.
    pub fn start(handler: Handler) -> Self {
        let handler = Arc::new(Mutex::new(handler));
        Self::start_with(move |s| serve(s, &handler))
    }

    /// The real control plane (qos-control's handler) over an in-memory
    /// datapath host, served with qos-control's own stream server.
    pub fn real(host: MemHost) -> Self {
        let plane = Arc::new(Mutex::new(ControlPlane::new(host)));
        Self::start_with(move |s| {
            let _ = serve_stream(&plane, s);
        })
    }

    /// [`Server::real`] with memhost's two fake adapters: 1 = `eth0`
    /// "Ethernet" (1 Gbit/s), 2 = `wwan0` "Cellular" (50 Mbit/s).
    pub fn two_adapters() -> Self {
        Self::real(MemHost::with_fake_adapters())
    }

    /// [`Server::real`] with one adapter, `eth0` "Ethernet".
    pub fn one_adapter() -> Self {
        let h = MemHost::new();
        h.add_adapter(fake_adapter(
            7,
            "eth0",
            "Ethernet",
            qos_proto::MEDIUM_802_3,
            1500,
            1_000_000_000,
        ));
        Self::real(h)
    }

    /// `unix:PATH` of the socket.
    pub fn device(&self) -> String {
        format!("unix:{}", self.path.display())
    }

    /// A tcctl command aimed at this server.
    pub fn tcctl(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::cargo_bin("tcctl").unwrap();
        c.env("QOSLWF_DEVICE", self.device());
        c
    }

    /// A file in the server's temporary directory.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// Runs tcctl, expects success, returns standard output.
pub fn ok(s: &Server, args: &[&str]) -> String {
    let out = s.tcctl().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "tcctl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs tcctl with --json, parses standard output.
pub fn json(s: &Server, args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.push("--json");
    serde_json::from_str(&ok(s, &a)).unwrap()
}

pub mod fake;

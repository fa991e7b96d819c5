//! An in-process control device for tcctl's CLI tests: a Unix socket
//! listener thread that speaks `qos_proto::transport` framing and hands
//! each request to a handler (the real qos-control handler over an
//! in-memory datapath host, or a fake driver for the error paths).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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
    /// Starts a listener thread with `handler`.
    pub fn start(handler: Handler) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qoslwf.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let handler = Arc::new(Mutex::new(handler));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let h = Arc::clone(&handler);
                std::thread::spawn(move || serve(conn, &h));
            }
        });
        Self { dir, path }
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

pub mod fake;

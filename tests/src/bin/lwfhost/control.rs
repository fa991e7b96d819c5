//! The control device on a Unix socket: each connection carries requests
//! (IOCTL code, output buffer length, input bytes) and gets one reply per
//! request (NTSTATUS, output bytes), framed as `qos_proto::transport` says.

use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::thread;

use qos_proto::transport::{REPLY_PREFIX_LEN, REQUEST_PREFIX_LEN, ReplyFrame, RequestFrame};

use super::Core;

/// Binds `path` (replacing a stale socket) and serves it on a thread.
pub fn serve(path: &Path, core: Arc<dyn Core>) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    // Administrators only, like the device's SDDL (root in this namespace).
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    thread::Builder::new()
        .name("control".to_owned())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let core = Arc::clone(&core);
                let _ = thread::Builder::new()
                    .name("control-conn".to_owned())
                    .spawn(move || {
                        if let Err(e) = session(conn, core.as_ref()) {
                            if e.kind() != io::ErrorKind::UnexpectedEof {
                                eprintln!("lwfhost: control connection: {e}");
                            }
                        }
                    });
            }
        })?;
    Ok(())
}

/// Serves requests on one connection until the peer closes it.
fn session(mut s: UnixStream, core: &dyn Core) -> io::Result<()> {
    loop {
        let mut prefix = [0u8; REQUEST_PREFIX_LEN];
        s.read_exact(&mut prefix)?;
        let req = RequestFrame::decode(&prefix)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let mut input = vec![0u8; req.input_len as usize];
        s.read_exact(&mut input)?;
        let output_len = req.output_len as usize;
        let (status, output) = core.ioctl(req.code, &input, output_len);
        let out = output.get(..output_len.min(output.len())).unwrap_or(&[]);
        let mut reply = Vec::with_capacity(REPLY_PREFIX_LEN + out.len());
        reply.extend_from_slice(&ReplyFrame::new(status, out).encode());
        reply.extend_from_slice(out);
        s.write_all(&reply)?;
    }
}

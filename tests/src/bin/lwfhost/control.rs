//! The control device on a Unix socket: each connection carries requests
//! (IOCTL code, output buffer length, input bytes) and gets one reply per
//! request (NTSTATUS, output bytes), framed as `qos_proto::transport` says.

use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::thread;

use super::Core;

/// Largest request input accepted (a bigger one closes the connection).
const MAX_INPUT: usize = 1 << 20;
/// Largest output buffer a request may ask for.
const MAX_OUTPUT: usize = 1 << 20;

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

fn read_u32(s: &mut UnixStream) -> io::Result<u32> {
    let mut b = [0u8; 4];
    s.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// Serves requests on one connection until the peer closes it.
fn session(mut s: UnixStream, core: &dyn Core) -> io::Result<()> {
    loop {
        let code = read_u32(&mut s)?;
        let output_len = read_u32(&mut s)? as usize;
        let input_len = read_u32(&mut s)? as usize;
        if input_len > MAX_INPUT || output_len > MAX_OUTPUT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request larger than the transport allows",
            ));
        }
        let mut input = vec![0u8; input_len];
        s.read_exact(&mut input)?;
        let (status, output) = core.ioctl(code, &input, output_len);
        let out = output.get(..output_len.min(output.len())).unwrap_or(&[]);
        let mut reply = Vec::with_capacity(8 + out.len());
        reply.extend_from_slice(&status.to_le_bytes());
        reply.extend_from_slice(&(out.len() as u32).to_le_bytes());
        reply.extend_from_slice(out);
        s.write_all(&reply)?;
    }
}

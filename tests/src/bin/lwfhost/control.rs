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

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers status = code + 1 and output = the input twice.
    struct Echo;

    impl Core for Echo {
        fn on_inner_frame(&self, _frame: &[u8]) {}
        fn on_outer_frame(&self, _frame: &[u8]) {}
        fn pause(&self) -> Result<(), String> {
            Ok(())
        }
        fn restart(&self) -> Result<(), String> {
            Ok(())
        }
        fn ioctl(&self, code: u32, input: &[u8], _output_len: usize) -> (u32, Vec<u8>) {
            (code + 1, [input, input].concat())
        }
        fn report(&self) -> Vec<String> {
            Vec::new()
        }
        fn counters(&self) -> Vec<(&'static str, u64)> {
            Vec::new()
        }
    }

    fn request(s: &mut UnixStream, code: u32, out_len: usize, input: &[u8]) -> (u32, Vec<u8>) {
        s.write_all(&RequestFrame::new(code, out_len, input).encode())
            .unwrap();
        s.write_all(input).unwrap();
        let mut prefix = [0u8; REPLY_PREFIX_LEN];
        s.read_exact(&mut prefix).unwrap();
        let status = u32::from_le_bytes(prefix[0..4].try_into().unwrap());
        let n = u32::from_le_bytes(prefix[4..8].try_into().unwrap()) as usize;
        assert!(n <= out_len, "reply longer than the output buffer");
        let mut out = vec![0u8; n];
        s.read_exact(&mut out).unwrap();
        (status, out)
    }

    #[test]
    fn requests_and_replies_repeat_on_one_connection() {
        let (mut client, server) = UnixStream::pair().unwrap();
        let t = thread::spawn(move || session(server, &Echo));
        assert_eq!(
            request(&mut client, 0x10, 64, b"abc"),
            (0x11, b"abcabc".to_vec())
        );
        // The reply is cut to the caller's output buffer.
        assert_eq!(
            request(&mut client, 0x20, 4, b"abc"),
            (0x21, b"abca".to_vec())
        );
        assert_eq!(request(&mut client, 0x30, 0, b""), (0x31, Vec::new()));
        drop(client);
        let end = t.join().unwrap().unwrap_err();
        assert_eq!(end.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn an_oversized_request_closes_the_connection_unread() {
        let (mut client, server) = UnixStream::pair().unwrap();
        let t = thread::spawn(move || session(server, &Echo));
        let mut prefix = [0u8; REQUEST_PREFIX_LEN];
        prefix[0..4].copy_from_slice(&1u32.to_le_bytes());
        prefix[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        client.write_all(&prefix).unwrap();
        let end = t.join().unwrap().unwrap_err();
        assert_eq!(end.kind(), io::ErrorKind::InvalidData);
        let mut b = [0u8; 1];
        assert_eq!(client.read(&mut b).unwrap(), 0, "closed without a reply");
    }
}

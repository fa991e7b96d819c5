//! How tcctl reaches the driver: the same IOCTL bytes over two carriers.
//!
//! - Windows: `CreateFile(\\.\QosLwf)` then `DeviceIoControl`.
//! - Elsewhere: a Unix socket served by lwfhost (`--device unix:PATH` or
//!   `QOSLWF_DEVICE=unix:PATH`), framed as `proto::transport` says:
//!   request `u32 code | u32 output length | u32 input length | input`,
//!   reply `u32 ntstatus | u32 information | output`, all little-endian.

use std::fmt;
use std::path::PathBuf;

/// The default control device on Windows.
pub const WINDOWS_DEVICE: &str = r"\\.\QosLwf";

/// Where the driver is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Device {
    /// A Unix socket served by lwfhost.
    Unix(PathBuf),
    /// A Windows device path such as `\\.\QosLwf`.
    Windows(String),
}

impl Device {
    /// Reads `--device` / `QOSLWF_DEVICE`; without either, the Windows
    /// control device on Windows and an error elsewhere.
    ///
    /// # Errors
    /// [`TransportError::NoDevice`] when nothing names a device on a host
    /// without one, [`TransportError::BadDevice`] for an unknown scheme.
    pub fn resolve(spec: Option<&str>) -> Result<Self, TransportError> {
        match spec {
            Some(s) if s.starts_with("unix:") => {
                let path = &s["unix:".len()..];
                if path.is_empty() {
                    return Err(TransportError::BadDevice(s.to_owned()));
                }
                Ok(Self::Unix(PathBuf::from(path)))
            }
            Some(s) if s.starts_with(r"\\") => Ok(Self::Windows(s.to_owned())),
            Some(s) => Err(TransportError::BadDevice(s.to_owned())),
            None if cfg!(windows) => Ok(Self::Windows(WINDOWS_DEVICE.to_owned())),
            None => Err(TransportError::NoDevice),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
            Self::Windows(p) => f.write_str(p),
        }
    }
}

/// What the carrier returned for one IOCTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The request's NTSTATUS (0 = success). On Windows a failed
    /// `DeviceIoControl` has already become a [`TransportError`].
    pub ntstatus: u32,
    /// The output bytes (`information` of them).
    pub output: Vec<u8>,
}

/// Failures of the carrier itself, before the driver's answer is read.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Nothing names a device and this host has no default one.
    #[error(
        "no control device: this host has no \\\\.\\QosLwf (hint: pass --device unix:PATH or set QOSLWF_DEVICE=unix:PATH to reach lwfhost)"
    )]
    NoDevice,
    /// An unknown device scheme.
    #[error("device `{0}` is neither unix:PATH nor a Windows device path like \\\\.\\QosLwf")]
    BadDevice(String),
    /// The socket or device is not there, or nothing listens.
    #[error("driver not reachable at {device}: {source} (hint: start lwfhost, or check the path)")]
    Unreachable {
        /// Where we tried.
        device: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Windows: the control device does not exist.
    #[cfg_attr(not(windows), allow(dead_code))]
    #[error(
        "driver not installed: {device} does not exist (hint: install qoslwf with its INF and bind it to the adapter)"
    )]
    NotInstalled {
        /// The device path.
        device: String,
    },
    /// Windows: the control device refused to open.
    #[error("access denied: run as administrator (opening {device})")]
    AccessDenied {
        /// The device path.
        device: String,
    },
    /// The request failed in transit.
    #[cfg_attr(not(unix), allow(dead_code))]
    #[error("talking to the driver at {device} failed: {source}")]
    Io {
        /// Where.
        device: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The reply is shorter than its framing says, or longer than asked.
    #[cfg_attr(not(unix), allow(dead_code))]
    #[error("the driver at {device} sent a malformed reply: {what}")]
    Malformed {
        /// Where.
        device: String,
        /// What was wrong.
        what: String,
    },
    /// Windows: `DeviceIoControl` failed with a Win32 error.
    #[cfg_attr(not(windows), allow(dead_code))]
    #[error("the driver refused the request: Windows error {code}")]
    Win32 {
        /// GetLastError().
        code: u32,
    },
}

/// A carrier of IOCTLs.
pub trait Transport {
    /// Sends one IOCTL and waits for its reply.
    ///
    /// # Errors
    /// [`TransportError`] when the carrier fails.
    fn call(&mut self, code: u32, input: &[u8], output_len: u32) -> Result<Reply, TransportError>;
}

/// Opens a device.
///
/// # Errors
/// [`TransportError`] when the device cannot be opened.
pub fn open(device: &Device) -> Result<Box<dyn Transport>, TransportError> {
    match device {
        #[cfg(unix)]
        Device::Unix(path) => Ok(Box::new(unix::UnixTransport::connect(path)?)),
        #[cfg(not(unix))]
        Device::Unix(_) => Err(TransportError::BadDevice(device.to_string())),
        #[cfg(windows)]
        Device::Windows(path) => Ok(Box::new(windows::DeviceTransport::open(path)?)),
        #[cfg(not(windows))]
        Device::Windows(_) => Err(TransportError::NoDevice),
    }
}

/// Win32 errors of `CreateFile` that tcctl names plainly (winerror.h).
const WIN32_FILE_NOT_FOUND: u32 = 2;
const WIN32_PATH_NOT_FOUND: u32 = 3;
const WIN32_ACCESS_DENIED: u32 = 5;

/// What a failed `CreateFile` of the control device means: no such device
/// (the driver is not installed or not started), or a handle that needs an
/// administrator (the device's SDDL), or something else, with its code.
#[cfg_attr(not(windows), allow(dead_code))]
fn open_error(device: &str, win32: u32) -> TransportError {
    let device = device.to_owned();
    match win32 {
        WIN32_FILE_NOT_FOUND | WIN32_PATH_NOT_FOUND => TransportError::NotInstalled { device },
        WIN32_ACCESS_DENIED => TransportError::AccessDenied { device },
        _ => TransportError::Unreachable {
            device,
            source: std::io::Error::from_raw_os_error(i32::try_from(win32).unwrap_or(i32::MAX)),
        },
    }
}

#[cfg(unix)]
mod unix {
    use super::{Reply, Transport, TransportError};
    use qos_proto::transport::{REPLY_PREFIX_LEN, ReplyFrame, RequestFrame};
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::path::Path;

    /// One connection to lwfhost; requests are sent one at a time.
    #[derive(Debug)]
    pub struct UnixTransport {
        stream: UnixStream,
        device: String,
    }

    impl UnixTransport {
        pub fn connect(path: &Path) -> Result<Self, TransportError> {
            let device = format!("unix:{}", path.display());
            let stream =
                UnixStream::connect(path).map_err(|source| TransportError::Unreachable {
                    device: device.clone(),
                    source,
                })?;
            Ok(Self { stream, device })
        }
    }

    impl Transport for UnixTransport {
        fn call(
            &mut self,
            code: u32,
            input: &[u8],
            output_len: u32,
        ) -> Result<Reply, TransportError> {
            let io = |device: &str, source| TransportError::Io {
                device: device.to_owned(),
                source,
            };
            let prefix = RequestFrame::new(code, output_len as usize, input).encode();
            let mut frame = Vec::with_capacity(prefix.len() + input.len());
            frame.extend_from_slice(&prefix);
            frame.extend_from_slice(input);
            self.stream
                .write_all(&frame)
                .map_err(|e| io(&self.device, e))?;
            let mut head = [0u8; REPLY_PREFIX_LEN];
            self.stream
                .read_exact(&mut head)
                .map_err(|e| io(&self.device, e))?;
            let reply =
                ReplyFrame::decode(&head, output_len).map_err(|e| TransportError::Malformed {
                    device: self.device.clone(),
                    what: e.to_string(),
                })?;
            let mut output = vec![0u8; reply.information as usize];
            self.stream
                .read_exact(&mut output)
                .map_err(|e| io(&self.device, e))?;
            Ok(Reply {
                ntstatus: reply.ntstatus,
                output,
            })
        }
    }
}

#[cfg(windows)]
mod windows {
    use super::{Reply, Transport, TransportError};
    use std::ffi::OsStr;
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Foundation::{
        CloseHandle, ERROR_ACCESS_DENIED, ERROR_MORE_DATA, GENERIC_READ, GENERIC_WRITE,
        GetLastError, HANDLE, INVALID_HANDLE_VALUE,
    };
    use windows_sys::Win32::Storage::FileSystem::{
        CreateFileW, FILE_ATTRIBUTE_NORMAL, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING,
    };
    use windows_sys::Win32::System::IO::DeviceIoControl;

    /// An open handle to the control device.
    #[derive(Debug)]
    pub struct DeviceTransport {
        handle: HANDLE,
    }

    impl DeviceTransport {
        pub fn open(path: &str) -> Result<Self, TransportError> {
            let wide: Vec<u16> = OsStr::new(path)
                .encode_wide()
                .chain(std::iter::once(0))
                .collect();
            // SAFETY: `wide` is a NUL-terminated UTF-16 string that outlives
            // the call; the other arguments are plain values or null.
            let handle = unsafe {
                CreateFileW(
                    wide.as_ptr(),
                    GENERIC_READ | GENERIC_WRITE,
                    FILE_SHARE_READ | FILE_SHARE_WRITE,
                    std::ptr::null(),
                    OPEN_EXISTING,
                    FILE_ATTRIBUTE_NORMAL,
                    std::ptr::null_mut(),
                )
            };
            if handle == INVALID_HANDLE_VALUE {
                // SAFETY: reads the calling thread's last-error value.
                let err = unsafe { GetLastError() };
                return Err(super::open_error(path, err));
            }
            Ok(Self { handle })
        }
    }

    impl Transport for DeviceTransport {
        fn call(
            &mut self,
            code: u32,
            input: &[u8],
            output_len: u32,
        ) -> Result<Reply, TransportError> {
            let mut output = vec![0u8; output_len as usize];
            let mut returned: u32 = 0;
            let in_len = u32::try_from(input.len()).unwrap_or(u32::MAX);
            // SAFETY: the handle is open; input and output point to buffers
            // of the lengths passed, valid for the whole synchronous call;
            // no OVERLAPPED is used.
            let ok = unsafe {
                DeviceIoControl(
                    self.handle,
                    code,
                    input.as_ptr().cast(),
                    in_len,
                    output.as_mut_ptr().cast(),
                    output_len,
                    &mut returned,
                    std::ptr::null_mut(),
                )
            };
            let ntstatus = if ok == 0 {
                // SAFETY: reads the calling thread's last-error value.
                let err = unsafe { GetLastError() };
                if returned > 0 || err == ERROR_MORE_DATA {
                    // A warning NTSTATUS (qos_proto::ntstatus_for): the
                    // I/O manager copied the output, which holds the
                    // refusal with its status; the Win32 code is lossy.
                    0xA051_0000
                } else if err == ERROR_ACCESS_DENIED {
                    return Err(TransportError::AccessDenied {
                        device: super::WINDOWS_DEVICE.to_owned(),
                    });
                } else {
                    return Err(TransportError::Win32 { code: err });
                }
            } else {
                0
            };
            output.truncate(returned as usize);
            Ok(Reply { ntstatus, output })
        }
    }

    impl Drop for DeviceTransport {
        fn drop(&mut self) {
            // SAFETY: the handle came from CreateFileW and is closed once.
            unsafe {
                CloseHandle(self.handle);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_specs() {
        assert_eq!(
            Device::resolve(Some("unix:/run/qoslwf.sock")).unwrap(),
            Device::Unix(PathBuf::from("/run/qoslwf.sock"))
        );
        assert_eq!(
            Device::resolve(Some(r"\\.\QosLwf")).unwrap(),
            Device::Windows(WINDOWS_DEVICE.to_owned())
        );
        assert!(matches!(
            Device::resolve(Some("unix:")),
            Err(TransportError::BadDevice(_))
        ));
        assert!(matches!(
            Device::resolve(Some("tcp:1.2.3.4")),
            Err(TransportError::BadDevice(_))
        ));
        if cfg!(windows) {
            assert!(Device::resolve(None).is_ok());
        } else {
            assert!(matches!(
                Device::resolve(None),
                Err(TransportError::NoDevice)
            ));
        }
    }

    #[test]
    fn create_file_errors_are_said_plainly() {
        let dev = WINDOWS_DEVICE;
        let e = open_error(dev, WIN32_FILE_NOT_FOUND);
        assert!(matches!(e, TransportError::NotInstalled { .. }));
        assert_eq!(
            e.to_string(),
            r"driver not installed: \\.\QosLwf does not exist (hint: install qoslwf with its INF and bind it to the adapter)"
        );
        assert!(matches!(
            open_error(dev, WIN32_PATH_NOT_FOUND),
            TransportError::NotInstalled { .. }
        ));
        let e = open_error(dev, WIN32_ACCESS_DENIED);
        assert_eq!(
            e.to_string(),
            r"access denied: run as administrator (opening \\.\QosLwf)"
        );
        assert!(matches!(
            open_error(dev, 1450),
            TransportError::Unreachable { .. }
        ));
        // The Win32 constants match the SDK's.
        #[cfg(windows)]
        {
            use windows_sys::Win32::Foundation as F;
            assert_eq!(WIN32_FILE_NOT_FOUND, F::ERROR_FILE_NOT_FOUND);
            assert_eq!(WIN32_PATH_NOT_FOUND, F::ERROR_PATH_NOT_FOUND);
            assert_eq!(WIN32_ACCESS_DENIED, F::ERROR_ACCESS_DENIED);
        }
    }

    #[cfg(unix)]
    #[test]
    fn nothing_listening_is_unreachable() {
        let dir = tempfile::tempdir().unwrap();
        let dev = Device::Unix(dir.path().join("none.sock"));
        let err = open(&dev).err().unwrap();
        assert!(matches!(err, TransportError::Unreachable { .. }));
        assert!(err.to_string().starts_with("driver not reachable at unix:"));
    }
}

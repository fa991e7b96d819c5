//! tcctl's errors and exit codes.
//!
//! Every error prints as one line: what failed, the field, the rule it
//! broke, and a hint. The exit code says which kind of failure it was, so
//! scripts can tell "your input is wrong" from "the driver is not there".

use std::process::ExitCode;

use crate::transport::TransportError;

/// Documented exit codes (also in `--help` and docs/tcctl.md).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Any other failure (I/O, a malformed reply, an unexpected status).
    pub const FAILURE: u8 = 1;
    /// Command-line usage error (unknown option, missing argument).
    pub const USAGE: u8 = 2;
    /// Invalid input: a value or config file broke a rule; nothing was sent.
    pub const INVALID: u8 = 3;
    /// The driver refused the change (a rule checked by the driver).
    pub const REFUSED: u8 = 4;
    /// No such adapter, flow, filter or policy.
    pub const NOT_FOUND: u8 = 5;
    /// The driver is not reachable or not installed.
    pub const UNREACHABLE: u8 = 6;
    /// Access denied: run as administrator.
    pub const ACCESS_DENIED: u8 = 7;
    /// tcctl and the driver speak different ABI versions.
    pub const VERSION: u8 = 8;
}

/// The text of the exit code table, shown at the end of `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  other failure (I/O error, malformed reply)
  2  usage error (unknown option, missing argument)
  3  invalid input: a value or the config file broke a rule; nothing was sent
  4  the driver refused the change (e.g. peak < rate, flow still has filters)
  5  not found: no such adapter, flow, filter or policy
  6  driver not reachable / not installed
  7  access denied: run as administrator
  8  ABI version mismatch between tcctl and the driver";

/// Everything that can go wrong in tcctl.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value typed on the command line or in the config file is wrong.
    #[error("{field}: {message}")]
    Invalid {
        /// Where: `--rate`, `flow "web" rate`, `config.toml:12`...
        field: String,
        /// The rule it broke, with a hint.
        message: String,
    },
    /// The config file could not be read or parsed.
    #[error("{path}: {message}")]
    ConfigFile {
        /// The file.
        path: String,
        /// What is wrong (TOML parser message, one line).
        message: String,
    },
    /// An object named on the command line does not exist.
    #[error("{what} (hint: {hint})")]
    NotFound {
        /// What was not found.
        what: String,
        /// What to do.
        hint: String,
    },
    /// The driver refused a request; the message names object, field, rule.
    #[error("{op}: {message}")]
    Refused {
        /// The operation, e.g. `flow add`.
        op: String,
        /// The driver's reason, one line.
        message: String,
        /// Whether the refusal is "not found".
        not_found: bool,
    },
    /// tcctl and the driver speak different ABI versions.
    #[error("{0} (hint: install a tcctl built with the same qoslwf release as the driver)")]
    Version(String),
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The driver's reply did not decode.
    #[error("the driver sent a reply tcctl cannot read: {0}")]
    BadReply(String),
    /// Writing output failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

impl Error {
    /// An invalid-input error.
    pub fn invalid(field: impl Into<String>, message: impl ToString) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.to_string(),
        }
    }

    /// The exit code of this error.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Invalid { .. } | Self::ConfigFile { .. } => exit::INVALID,
            Self::NotFound { .. } => exit::NOT_FOUND,
            Self::Refused { not_found, .. } => {
                if *not_found {
                    exit::NOT_FOUND
                } else {
                    exit::REFUSED
                }
            }
            Self::Version(_) => exit::VERSION,
            Self::Transport(t) => match t {
                TransportError::AccessDenied { .. } => exit::ACCESS_DENIED,
                TransportError::NoDevice
                | TransportError::Unreachable { .. }
                | TransportError::NotInstalled { .. } => exit::UNREACHABLE,
                TransportError::BadDevice(_) => exit::INVALID,
                TransportError::Io { .. }
                | TransportError::Malformed { .. }
                | TransportError::Win32 { .. } => exit::FAILURE,
            },
            Self::BadReply(_) | Self::Output(_) => exit::FAILURE,
        }
    }

    /// The exit code as a process exit code.
    #[must_use]
    pub fn exit(&self) -> ExitCode {
        ExitCode::from(self.exit_code())
    }
}

/// tcctl's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exit_code_is_in_the_help_table() {
        for code in [
            exit::OK,
            exit::FAILURE,
            exit::USAGE,
            exit::INVALID,
            exit::REFUSED,
            exit::NOT_FOUND,
            exit::UNREACHABLE,
            exit::ACCESS_DENIED,
            exit::VERSION,
        ] {
            assert!(
                EXIT_CODES_HELP.contains(&format!("\n  {code}  ")),
                "exit code {code} missing from the help"
            );
        }
    }

    #[test]
    fn errors_map_to_their_exit_codes() {
        assert_eq!(Error::invalid("--rate", "x").exit_code(), exit::INVALID);
        assert_eq!(
            Error::Transport(TransportError::NoDevice).exit_code(),
            exit::UNREACHABLE
        );
        assert_eq!(
            Error::Transport(TransportError::AccessDenied { device: "x".into() }).exit_code(),
            exit::ACCESS_DENIED
        );
        assert_eq!(
            Error::Transport(TransportError::NotInstalled { device: "x".into() }).to_string(),
            "driver not installed: x does not exist (hint: install qoslwf with its INF and bind it to the adapter)"
        );
        assert_eq!(Error::Version("v".into()).exit_code(), exit::VERSION);
    }
}

//! tcctl: the administrator's tool for qoslwf.
use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::SUCCESS
}

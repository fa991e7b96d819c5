//! tcctl: the administrator's tool for qoslwf.
//!
//! `main` parses the command line, `commands::run` does the work and
//! returns one error; the error prints as one line (what failed, the field,
//! the rule, a hint) and picks the documented exit code (see
//! [`error::exit`] and `tcctl --help`).

use std::process::ExitCode;

mod adapters;
mod cli;
mod client;
mod commands;
mod conditions;
mod config;
mod error;
mod output;
mod spec;
mod transport;
mod units;

fn main() -> ExitCode {
    let cli = match cli::parse_from(std::env::args_os()) {
        Ok(c) => c,
        Err(e) => {
            // --help and --version print and succeed; usage errors exit 2.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(error::exit::USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::from(error::exit::OK),
        Err(error::Error::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::from(error::exit::OK)
        }
        Err(e) => {
            eprintln!("tcctl: error: {e}");
            e.exit()
        }
    }
}

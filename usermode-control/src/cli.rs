//! The command line as typed (clap derive). Values stay text here; the
//! [`crate::spec`] layer turns them into the ABI's values so the flags and
//! the config file share one parser and one set of messages.

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::error::EXIT_CODES_HELP;
use crate::spec::{FilterFields, FlowFields, PolicyFields};

/// tcctl: configure qoslwf's flows, filters, policies and marks.
#[derive(Debug, Parser)]
#[command(
    name = "tcctl",
    version,
    about = "Configure the qoslwf packet scheduler: flows, filters, policies, marks",
    after_help = "See --help for units and exit codes."
)]
pub struct Cli {
    /// Where the driver is: unix:PATH (lwfhost) or a Windows device path
    /// (default on Windows: \\.\QosLwf).
    #[arg(long, global = true, env = "QOSLWF_DEVICE", value_name = "DEVICE")]
    pub device: Option<String>,

    /// Print listings as JSON (rates in bytes/s, sizes in bytes).
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Units, shown at the end of `--help` before the exit codes.
pub const UNITS_HELP: &str = "\
Units:
  Rates count IP-layer bytes (from the IP header on, no link header), as QOS2
  specifies. Bits per second: 64kbit, 10mbit, 1.5gbit, 100Mbps (1000-based;
  kibit/mibit are 1024-based). Bytes per second: 1500 (bare number), 1500B/s,
  64kB/s, 8KiB/s. A rate in bits is divided by 8 and rounded to the nearest
  byte/s (exact for any whole number of kbit). `kb`/`Mb` alone are refused as
  ambiguous.
  Sizes are bytes: 1500, 64kB (1000-based), 8KiB (1024-based).
  Adapters (-i): name, friendly name, GUID ({...} or bare) or index; may be
  left out when the driver is attached to one adapter.";

/// The clap command with the units and exit codes at the end of `--help`.
#[must_use]
pub fn command() -> clap::Command {
    Cli::command().after_long_help(format!("{UNITS_HELP}\n\n{EXIT_CODES_HELP}"))
}

/// Parses `args` (the program name first).
///
/// # Errors
/// clap's error (usage, or the text of --help / --version).
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the adapters the driver is attached to.
    #[command(visible_alias = "if")]
    Interfaces,
    /// Add, change, delete and show flows.
    #[command(subcommand)]
    Flow(FlowCmd),
    /// Add, delete and list filters (which packets go to which flow).
    #[command(subcommand)]
    Filter(FilterCmd),
    /// Policy-based QoS: conditions and actions (DSCP, 802.1p, throttle).
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Show or change the per-service-type marks (DSCP, 802.1p).
    #[command(subcommand)]
    Map(MapCmd),
    /// Show or change adapter options (queue limits, admission, overrides).
    #[command(subcommand)]
    Options(OptionsCmd),
    /// Show statistics (adapter totals and per flow).
    ///
    /// Per flow: packets and bytes sent, drops, non-conforming packets, and
    /// the flow's own queue figures: most and average packets in its shaper
    /// queue (MAX-SHAPER, AVG-SHAPER) and in the sequencer (MAX-SEQ,
    /// AVG-SEQ), averages sampled as the flow's packets arrive. Packets in
    /// the netcard (sent, not yet completed) are counted per adapter only.
    Stats(StatsArgs),
    /// Make the driver's configuration match a TOML file (all of it is
    /// checked before anything is sent; each adapter changes atomically).
    Apply(ApplyArgs),
    /// Print the configuration as a TOML file that `apply` takes back
    /// unchanged.
    Export(ExportArgs),
    /// Show tcctl's and the driver's versions and limits.
    Version,
}

/// Picks the adapter.
#[derive(Debug, Clone, Args)]
pub struct AdapterArg {
    /// Adapter: name, friendly name, GUID or index.
    #[arg(short = 'i', long = "interface", value_name = "ADAPTER")]
    pub interface: Option<String>,
}

/// `flow ...`
#[derive(Debug, Subcommand)]
pub enum FlowCmd {
    /// Add a flow.
    Add {
        #[command(flatten)]
        adapter: AdapterArg,
        /// Friendly name (unique per adapter).
        name: String,
        /// Flow id (default: the driver picks one).
        #[arg(long)]
        id: Option<u32>,
        #[command(flatten)]
        spec: FlowOpts,
    },
    /// Change some fields of a flow (others keep their value; `none`
    /// clears an optional field, e.g. --peak none).
    Set {
        #[command(flatten)]
        adapter: AdapterArg,
        /// Flow name or id.
        flow: String,
        /// New name.
        #[arg(long)]
        rename: Option<String>,
        #[command(flatten)]
        spec: FlowOpts,
    },
    /// Delete a flow (refused while filters point at it).
    Del {
        #[command(flatten)]
        adapter: AdapterArg,
        /// Flow name or id.
        flow: String,
    },
    /// List flows.
    List {
        #[command(flatten)]
        adapter: AdapterArg,
    },
    /// Show one flow with its statistics.
    Show {
        #[command(flatten)]
        adapter: AdapterArg,
        /// Flow name or id.
        flow: String,
    },
}

/// A flow's specification flags.
#[derive(Debug, Clone, Default, Args)]
pub struct FlowOpts {
    /// best-effort, controlled-load, guaranteed, network-control,
    /// qualitative (default for add: best-effort).
    #[arg(long, short = 't')]
    pub service_type: Option<String>,
    /// Token rate, e.g. 10mbit (IP-layer bytes; see Units).
    #[arg(long, short = 'r')]
    pub rate: Option<String>,
    /// Token bucket size, e.g. 16KiB (default: 10 ms at the rate, >= 1500).
    #[arg(long, short = 'b')]
    pub bucket: Option<String>,
    /// Peak rate (>= rate), e.g. 20mbit.
    #[arg(long)]
    pub peak: Option<String>,
    /// Largest packet in bytes; larger ones are non-conforming.
    #[arg(long)]
    pub max_sdu: Option<String>,
    /// Smaller packets are charged as this many bytes.
    #[arg(long)]
    pub min_policed: Option<String>,
    /// borrow, shape, discard, borrow-plus (default: by service type).
    #[arg(long, short = 'm')]
    pub mode: Option<String>,
    /// DSCP to mark (0..=63), overriding the service type's.
    #[arg(long)]
    pub dscp: Option<String>,
    /// 802.1p priority to mark (0..=7), overriding the service type's.
    #[arg(long)]
    pub pcp: Option<String>,
    /// QOS2 shaping: shape-only, shape-and-mark, non-conformant-markings.
    #[arg(long)]
    pub shaping: Option<String>,
}

impl FlowOpts {
    /// As spec fields.
    #[must_use]
    pub fn fields(&self, name: Option<String>) -> FlowFields {
        FlowFields {
            name,
            service_type: self.service_type.clone(),
            rate: self.rate.clone(),
            bucket: self.bucket.clone(),
            peak: self.peak.clone(),
            max_sdu: self.max_sdu.clone(),
            min_policed: self.min_policed.clone(),
            mode: self.mode.clone(),
            dscp: self.dscp.clone(),
            pcp: self.pcp.clone(),
            shaping: self.shaping.clone(),
        }
    }
}

/// Match conditions shared by filters and policies.
#[derive(Debug, Clone, Default, Args)]
pub struct MatchOpts {
    /// tcp, udp, tcpudp/both, icmp, any, or a protocol number.
    #[arg(long, short = 'p')]
    pub protocol: Option<String>,
    /// ipv4, ipv6 or both (default: from the prefixes, else both: one
    /// filter per family).
    #[arg(long)]
    pub family: Option<String>,
    /// Source prefix, e.g. 10.0.0.0/8 or 2001:db8::/32 (an address alone =
    /// one host).
    #[arg(long)]
    pub src: Option<String>,
    /// Destination prefix.
    #[arg(long)]
    pub dst: Option<String>,
    /// Source port or range low:high.
    #[arg(long)]
    pub sport: Option<String>,
    /// Destination port or range low:high.
    #[arg(long)]
    pub dport: Option<String>,
    /// Precedence 0..=255, higher wins (default 127).
    #[arg(long)]
    pub precedence: Option<String>,
}

/// `filter ...`
// Parsed once per run: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum FilterCmd {
    /// Add a filter sending matching packets to a flow.
    Add {
        #[command(flatten)]
        adapter: AdapterArg,
        /// The flow (name or id).
        #[arg(long, short = 'f')]
        flow: String,
        #[command(flatten)]
        matching: MatchOpts,
        /// Only packets carrying this DSCP (0..=63).
        #[arg(long)]
        inbound_dscp: Option<String>,
        /// Only packets tagged with this VLAN id (0..=4094).
        #[arg(long)]
        vlan: Option<String>,
    },
    /// Delete a filter by id.
    Del {
        #[command(flatten)]
        adapter: AdapterArg,
        /// Filter id (see filter list).
        id: u32,
    },
    /// List filters.
    List {
        #[command(flatten)]
        adapter: AdapterArg,
        /// Only the filters of this flow (name or id).
        #[arg(long, short = 'f')]
        flow: Option<String>,
    },
}

impl FilterCmd {
    /// The filter fields of `filter add`.
    #[must_use]
    pub fn fields(
        matching: &MatchOpts,
        inbound_dscp: Option<&String>,
        vlan: Option<&String>,
    ) -> FilterFields {
        FilterFields {
            family: matching.family.clone(),
            protocol: matching.protocol.clone(),
            src: matching.src.clone(),
            dst: matching.dst.clone(),
            sport: matching.sport.clone(),
            dport: matching.dport.clone(),
            inbound_dscp: inbound_dscp.cloned(),
            vlan: vlan.cloned(),
            precedence: matching.precedence.clone(),
        }
    }
}

/// `policy ...`
// Parsed once per run: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Add a policy (like New-NetQosPolicy).
    Add {
        #[command(flatten)]
        adapter: AdapterArg,
        /// Policy name (unique per adapter).
        name: String,
        #[command(flatten)]
        matching: MatchOpts,
        /// Action: DSCP to mark, 0..=63 (-DSCPAction).
        #[arg(long)]
        dscp: Option<String>,
        /// Action: 802.1p to mark, 0..=7 (-PriorityValue8021Action).
        #[arg(long)]
        pcp: Option<String>,
        /// Action: throttle, e.g. 10mbit (-ThrottleRateActionBitsPerSecond).
        #[arg(long)]
        throttle: Option<String>,
    },
    /// Delete a policy (name or id).
    Del {
        #[command(flatten)]
        adapter: AdapterArg,
        /// Policy name or id.
        policy: String,
    },
    /// List policies.
    List {
        #[command(flatten)]
        adapter: AdapterArg,
    },
}

impl PolicyCmd {
    /// The policy fields of `policy add`.
    #[must_use]
    pub fn fields(
        matching: &MatchOpts,
        dscp: Option<&String>,
        pcp: Option<&String>,
        throttle: Option<&String>,
    ) -> PolicyFields {
        PolicyFields {
            protocol: matching.protocol.clone(),
            family: matching.family.clone(),
            src: matching.src.clone(),
            dst: matching.dst.clone(),
            sport: matching.sport.clone(),
            dport: matching.dport.clone(),
            dscp: dscp.cloned(),
            pcp: pcp.cloned(),
            throttle: throttle.cloned(),
            precedence: matching.precedence.clone(),
        }
    }
}

/// `map ...`
#[derive(Debug, Subcommand)]
pub enum MapCmd {
    /// Show the mapping tables.
    Show {
        #[command(flatten)]
        adapter: AdapterArg,
    },
    /// Change entries: SERVICE.dscp=N, SERVICE.nonconforming_dscp=N,
    /// SERVICE.pcp=N, nonconforming.pcp=N.
    Set {
        #[command(flatten)]
        adapter: AdapterArg,
        /// Start from the Windows defaults instead of the current tables.
        #[arg(long)]
        defaults: bool,
        /// KEY=VALUE entries, e.g. guaranteed.dscp=46.
        entries: Vec<String>,
    },
}

/// `options ...`
#[derive(Debug, Subcommand)]
pub enum OptionsCmd {
    /// Show the adapter options.
    Show {
        #[command(flatten)]
        adapter: AdapterArg,
    },
    /// Change options: queue_packets=N, queue_bytes=SIZE,
    /// max_outstanding_sends=N, admission_share=PERCENT,
    /// marking_override=allow|ignore, flow_mode=filters|diffserv.
    Set {
        #[command(flatten)]
        adapter: AdapterArg,
        /// KEY=VALUE entries.
        entries: Vec<String>,
    },
}

/// `stats`
#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub adapter: AdapterArg,
    /// Only this flow (name or id).
    #[arg(long, short = 'f')]
    pub flow: Option<String>,
    /// Print again every --interval seconds, with rates since the last print.
    #[arg(long, short = 'w')]
    pub watch: bool,
    /// Seconds between prints with --watch.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// Stop after this many prints with --watch (default: until killed).
    #[arg(long)]
    pub count: Option<u64>,
}

/// `apply`
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The TOML file (`-` = standard input).
    pub file: PathBuf,
    /// Print what would change, send nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
}

/// `export`
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub adapter: AdapterArg,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        parse_from(std::iter::once("tcctl").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn help_tells_units_and_exit_codes() {
        let help = command().render_long_help().to_string();
        assert!(help.contains("IP-layer bytes"));
        assert!(help.contains("no link header"));
        assert!(help.contains(EXIT_CODES_HELP));
    }

    #[test]
    fn global_flags_anywhere() {
        let c = parse(&["flow", "list", "--json", "--device", "unix:/x"]);
        assert!(c.json);
        assert_eq!(c.device.as_deref(), Some("unix:/x"));
    }

    #[test]
    fn flow_add_flags() {
        let c = parse(&[
            "flow",
            "add",
            "-i",
            "eth0",
            "web",
            "-t",
            "guaranteed",
            "--rate",
            "10mbit",
            "--bucket",
            "16KiB",
            "--peak",
            "20mbit",
            "--max-sdu",
            "1500",
            "--min-policed",
            "64",
            "--mode",
            "shape",
            "--dscp",
            "46",
            "--pcp",
            "5",
            "--shaping",
            "shape-and-mark",
            "--id",
            "9",
        ]);
        let Command::Flow(FlowCmd::Add {
            adapter,
            name,
            id,
            spec,
        }) = c.command
        else {
            panic!("not flow add");
        };
        assert_eq!(adapter.interface.as_deref(), Some("eth0"));
        assert_eq!((name.as_str(), id), ("web", Some(9)));
        let f = spec.fields(Some(name));
        assert_eq!(f.rate.as_deref(), Some("10mbit"));
        assert_eq!(f.bucket.as_deref(), Some("16KiB"));
        assert_eq!(f.peak.as_deref(), Some("20mbit"));
        assert_eq!(f.max_sdu.as_deref(), Some("1500"));
        assert_eq!(f.min_policed.as_deref(), Some("64"));
        assert_eq!(f.mode.as_deref(), Some("shape"));
        assert_eq!(f.dscp.as_deref(), Some("46"));
        assert_eq!(f.pcp.as_deref(), Some("5"));
        assert_eq!(f.shaping.as_deref(), Some("shape-and-mark"));
        assert_eq!(f.service_type.as_deref(), Some("guaranteed"));
    }

    #[test]
    fn flow_set_del_show_list() {
        let c = parse(&["flow", "set", "web", "--rename", "www", "--peak", "none"]);
        assert!(
            matches!(c.command, Command::Flow(FlowCmd::Set { ref flow, ref rename, .. })
            if flow == "web" && rename.as_deref() == Some("www"))
        );
        assert!(matches!(
            parse(&["flow", "del", "3"]).command,
            Command::Flow(FlowCmd::Del { .. })
        ));
        assert!(matches!(
            parse(&["flow", "show", "web"]).command,
            Command::Flow(FlowCmd::Show { .. })
        ));
        assert!(matches!(
            parse(&["flow", "list", "-i", "1"]).command,
            Command::Flow(FlowCmd::List { .. })
        ));
    }

    #[test]
    fn filter_flags() {
        let c = parse(&[
            "filter",
            "add",
            "--flow",
            "web",
            "-p",
            "tcp",
            "--src",
            "10.0.0.0/8",
            "--dst",
            "192.0.2.1",
            "--sport",
            "1024:65535",
            "--dport",
            "80",
            "--precedence",
            "200",
            "--inbound-dscp",
            "10",
            "--vlan",
            "5",
            "--family",
            "ipv4",
        ]);
        let Command::Filter(FilterCmd::Add {
            flow,
            matching,
            inbound_dscp,
            vlan,
            ..
        }) = c.command
        else {
            panic!("not filter add");
        };
        assert_eq!(flow, "web");
        let f = FilterCmd::fields(&matching, inbound_dscp.as_ref(), vlan.as_ref());
        assert_eq!(f.sport.as_deref(), Some("1024:65535"));
        assert_eq!(f.dport.as_deref(), Some("80"));
        assert_eq!(f.src.as_deref(), Some("10.0.0.0/8"));
        assert_eq!(f.dst.as_deref(), Some("192.0.2.1"));
        assert_eq!(f.precedence.as_deref(), Some("200"));
        assert_eq!(f.inbound_dscp.as_deref(), Some("10"));
        assert_eq!(f.vlan.as_deref(), Some("5"));
        assert_eq!(f.family.as_deref(), Some("ipv4"));
        assert!(matches!(
            parse(&["filter", "del", "4"]).command,
            Command::Filter(FilterCmd::Del { id: 4, .. })
        ));
        assert!(matches!(
            parse(&["filter", "list", "-f", "web"]).command,
            Command::Filter(FilterCmd::List { .. })
        ));
    }

    #[test]
    fn policy_flags() {
        let c = parse(&[
            "policy",
            "add",
            "web",
            "--protocol",
            "tcp",
            "--dport",
            "80",
            "--dscp",
            "46",
            "--pcp",
            "5",
            "--throttle",
            "10mbit",
            "--precedence",
            "200",
        ]);
        let Command::Policy(PolicyCmd::Add {
            name,
            matching,
            dscp,
            pcp,
            throttle,
            ..
        }) = c.command
        else {
            panic!("not policy add");
        };
        assert_eq!(name, "web");
        let p = PolicyCmd::fields(&matching, dscp.as_ref(), pcp.as_ref(), throttle.as_ref());
        assert_eq!(p.dscp.as_deref(), Some("46"));
        assert_eq!(p.pcp.as_deref(), Some("5"));
        assert_eq!(p.throttle.as_deref(), Some("10mbit"));
        assert_eq!(p.precedence.as_deref(), Some("200"));
        assert!(matches!(
            parse(&["policy", "del", "web"]).command,
            Command::Policy(PolicyCmd::Del { .. })
        ));
        assert!(matches!(
            parse(&["policy", "list"]).command,
            Command::Policy(PolicyCmd::List { .. })
        ));
    }

    #[test]
    fn map_options_stats_apply_export() {
        assert!(
            matches!(parse(&["map", "set", "--defaults", "guaranteed.dscp=46"]).command,
            Command::Map(MapCmd::Set { defaults: true, ref entries, .. }) if entries.len() == 1)
        );
        assert!(matches!(
            parse(&["map", "show"]).command,
            Command::Map(MapCmd::Show { .. })
        ));
        assert!(matches!(
            parse(&["options", "set", "admission_share=50"]).command,
            Command::Options(OptionsCmd::Set { .. })
        ));
        let c = parse(&[
            "stats",
            "--watch",
            "--interval",
            "0.5",
            "--count",
            "3",
            "-f",
            "web",
        ]);
        let Command::Stats(s) = c.command else {
            panic!()
        };
        assert!(s.watch);
        assert_eq!(
            (s.interval, s.count, s.flow.as_deref()),
            (0.5, Some(3), Some("web"))
        );
        let c = parse(&["apply", "x.toml", "--dry-run"]);
        assert!(matches!(
            c.command,
            Command::Apply(ApplyArgs { dry_run: true, .. })
        ));
        assert!(matches!(
            parse(&["export", "-i", "eth0"]).command,
            Command::Export(_)
        ));
        assert!(matches!(parse(&["if"]).command, Command::Interfaces));
        assert!(matches!(parse(&["version"]).command, Command::Version));
    }
}

//! Marking: which DSCP and 802.1p a packet gets ([`decide`], from the
//! adapter's [`MarkMaps`] and the flow), and writing them: a DSCP rewrite
//! that keeps ECN and updates the IPv4 header checksum incrementally
//! ([`rewrite_dscp`]), the PCP of an in-band tag ([`rewrite_pcp`]), or the
//! NBL's out-of-band 802.1Q info ([`Ieee8021QInfo`]).
//!
//! Nothing here allocates or panics; every write checks that its offsets
//! lie in the frame and that the bytes there are what the parser saw
//! ([`MarkError`] says what was wrong). Writes work on a frame split across
//! slices at any point: the DS byte and the checksum may lie in different
//! slices.

mod ieee8021q;
mod maps;
mod rewrite;

pub use ieee8021q::Ieee8021QInfo;
pub use maps::{FlowMarks, MarkMaps, Marks, PerServiceType, decide, validate_maps};
pub use rewrite::{
    Applied, MarkError, apply, reset_dscp, rewrite_dscp, rewrite_dscp_one, rewrite_pcp,
};

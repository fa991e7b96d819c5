//! Marking: DSCP rewrite keeping ECN (with an incremental IPv4 checksum
//! update), and 802.1p for the NBL's out-of-band info or an in-band tag.

//! The packet scheduler: conformer (token bucket + peak), shaper (per-flow
//! queues released by time), sequencer (strict priority between levels,
//! deficit round robin inside a level, bounded outstanding sends).

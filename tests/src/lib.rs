//! Test support for the HLK-style suite and the end-to-end tests.
pub mod alloc_count;
pub mod frames;
pub mod hlk;
pub mod inf;
pub mod pe;

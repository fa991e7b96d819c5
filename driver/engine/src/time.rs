//! Time as the engine sees it: a count of 100 ns ticks, passed in by the
//! caller (KeQueryInterruptTime on Windows, a virtual clock in tests).
//!
//! The engine never reads a clock, so every behaviour is reproducible on a
//! virtual clock.

/// A point in time or a duration, in 100 ns ticks (the unit of
/// KeQueryInterruptTime and of NDIS timers).
pub type Ticks = u64;

/// Ticks in one second.
pub const TICKS_PER_SEC: u64 = 10_000_000;
/// Ticks in one millisecond.
pub const TICKS_PER_MS: u64 = 10_000;
/// Ticks in one microsecond.
pub const TICKS_PER_US: u64 = 10;

//! One adapter's configuration (flows, filters, mapping tables, options),
//! validated and compiled into an immutable snapshot, and its statistics.

//! Test support for the HLK-style suite and the end-to-end tests.

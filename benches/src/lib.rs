//! Helpers shared by docsnap benchmarks and evaluation commands.

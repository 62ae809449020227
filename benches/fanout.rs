//! The benchmark suite: written in the benchmarks work (see README).
fn main() {}

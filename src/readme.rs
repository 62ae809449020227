#![doc = include_str!("../README.md")]
// The README, compiled and run as doctests. The attribute is on line 1 so that rustdoc reports a
// failing snippet as `src/readme.rs - readme (line N)` with N the snippet's line in README.md.

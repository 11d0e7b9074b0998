//! Helpers shared by the test crates, one module per area. Each test crate
//! (`tests/<area>/main.rs`) declares `mod support;` and uses what it needs;
//! `alloc.rs` (a counting global allocator) is not declared here: only the
//! `no_alloc` crate installs it, with a `#[path]` module.
#![allow(dead_code)]

pub mod capture;
pub mod cli;
pub mod dataplane;
pub mod dir;
pub mod emu;
pub mod esp;
pub mod fib;
pub mod port;
pub mod wire;

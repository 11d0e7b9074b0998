//! Tests that the per-packet paths allocate nothing, under a counting global
//! allocator: their own crate, because a global allocator is process-wide.

#[path = "../support/alloc.rs"]
mod counting_alloc;
#[path = "../support/mod.rs"]
mod support;

mod dataplane;
mod esp;

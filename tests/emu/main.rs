//! Tests of the emulator: links, hosts, routers: one test binary, a module per concern.

#[path = "../support/mod.rs"]
mod support;

mod azure_fragmentation;
mod hosts;
mod link;
mod router;

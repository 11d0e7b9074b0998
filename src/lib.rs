//! erdp: a packet-level dataplane emulator for hybrid-cloud networks built on
//! Azure ExpressRoute with an IPsec (ESP, RFC 4303) tunnel riding the circuit.
//!
//! The forwarding core steers raw packets between a plain ExpressRoute
//! interface and an ESP tunnel interface by a compressed-trie FIB, and proves
//! for every packet where it went and whether it left encrypted.
//!
//! Layout (one folder per concept):
//! - [`packet`]: packet buffers with headroom and tailroom, owned by the caller.
//! - [`wire`]: packet formats and in-place operations (checksums, ICMP, ARP/NDP, MSS, flow keys).
//! - [`capture`]: pcap/pcapng reading and pcap writing (`pcap-file`).
//! - [`emu`]: the network emulator: virtual time, links, smoltcp hosts, traffic.
//! - [`esp`]: the ESP tunnel interface (RFC 4303: AEAD suites via `ring`, AES-CBC + HMAC-SHA2).
//! - [`ike`]: IKEv2 (RFC 7296) as a sans-I/O core that negotiates `esp` SAs.
//! - [`port`]: frame I/O endpoints (AF_PACKET, TAP, channels, pcap capture) and the attach loop.
//! - `cli` (private): the `erdp` command line, entered by [`run_command_line`].
//! - [`fib`]: the compressed-trie FIB (Poptrie) with lock-free published versions.
//! - [`frag`]: IPv4 reassembly state, bounded against hostile fragments (RFC 791, RFC 5722).
//! - [`bgp`]: the BGP-4 speaker (sans-I/O sessions, Adj-RIB-In, policy) feeding the RIB.
//! - [`bfd`]: Bidirectional Forwarding Detection (RFC 5880/5881) sessions that take BGP down fast.
//! - [`rib`]: routes, BGP and Azure route selection, "which route and why".
//! - [`config`]: the node configuration (TOML), checked with file, line and field in errors.
//! - [`dataplane`]: the forwarding node: frames in, one fate each out, ESP tunnels, worker pool.
//! - [`driver`]: the one loop that drives a node (replay, attach, the emulator): frames and time in, fates routed out.
//! - [`scenario`]: `erdp run`: the emulated ExpressRoute + IPsec topology, BGP, faults, reports.
//! - [`verify`]: `erdp verify`: probes for every prefix pair, both ways, in every single-failure state.
//! - `output` (private): output directories written all or nothing (temporary names, a manifest).
//! - `bench` (private): `erdp bench`, a capture looped through the node at each worker count.
//! - [`report`]: per-flow paths and must-encrypt verdicts; [`replay`]: captures through a node.
//! - [`html`]: report.html, the page a person opens (topology, timelines, flows, verdicts).
// `deny`, not `forbid`: the FIB's runtime CPU dispatch (`fib/cpu.rs`) calls
// its `#[target_feature]` copies in two `#[allow(unsafe_code)]` blocks.
#![deny(unsafe_code)]
#![deny(unreachable_pub)]

mod bench;
pub mod bfd;
pub mod bgp;
pub mod capture;
mod cli;
pub mod config;
pub mod control;
pub mod dataplane;
pub mod driver;
pub mod emu;
pub mod esp;
pub mod fib;
pub mod frag;
pub mod html;
pub mod ike;
mod output;
pub mod packet;
pub mod port;
mod reason;
pub mod replay;
pub mod report;
pub mod rib;
pub mod scenario;
pub mod verify;
pub mod wire;

/// The `erdp` command line, the binary's whole `main`: parses the arguments
/// and runs the chosen subcommand (its modules are private: the library's
/// surface is the packet, routing and emulation API, not the CLI).
pub use cli::main as run_command_line;

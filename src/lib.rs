//! erdp: a packet-level dataplane emulator for hybrid-cloud networks built on
//! Azure ExpressRoute with an IPsec (ESP, RFC 4303) tunnel riding the circuit.
//!
//! The forwarding core steers raw packets between a plain ExpressRoute
//! interface and an ESP tunnel interface by a compressed-trie FIB, and proves
//! for every packet where it went and whether it left encrypted.
//!
//! Layout (one folder per concept):
//! - [`packet`]: packet buffers with headroom and tailroom, owned by the caller.
//! - [`esp`]: the ESP tunnel interface (RFC 4303 with AEAD suites via `ring`).
//! - [`cli`]: the `erdp` command line.
#![forbid(unsafe_code)]

pub mod cli;
pub mod esp;
pub mod packet;

//! The forwarding node: raw Ethernet frames in, one [`Fate`] per frame out,
//! between plain ExpressRoute-facing ports and ESP tunnels (RFC 4303) whose
//! outer packets are routed again by the FIB. No I/O, no allocation per
//! packet; a [`Node`] is shared by worker threads.
//!
//! - [`Node::new`] builds a node from a validated [`crate::config::NodeConfig`].
//! - [`Node::worker`] gives a [`Worker`]; [`Worker::process`] takes a batch
//!   of frames that arrived on one interface, in caller-owned
//!   [`crate::packet::PacketBuf`]s, rewrites them in place and fills
//!   [`Outputs`]: the fates and the packets the node generated (ARP
//!   replies, neighbour advertisements, echo replies, ICMP errors).
//! - [`Node::counters`] sums every worker's counters: for inputs and for
//!   generated packets, packets == forwarded + delivered + dropped.
//! - [`WorkerPool`] runs N workers fed over crossbeam channels, flows pinned
//!   to workers by their 5-tuple so each stays in order; results carry the
//!   frame's index so callers restore order ([`Reorder`]).
//! - [`run_sharded`] runs N workers to completion on inputs split by flow
//!   ([`shard`]), worker 0 on the caller's thread: the design that scales
//!   (`erdp bench`).
//!
//! One batch's work is a `Pipeline` (the per-batch view of the node: FIB,
//! counters, reassembly, memos), declared in `forward.rs` with the IP path;
//! each step it takes has one file of its own, as `impl Pipeline` blocks:
//! the link layer and responders per frame (`worker.rs`), the batch route
//! lookup before it (`prefetch.rs`), the packets the node originates
//! (`generate.rs`), and fragmentation and reassembly (`fragment.rs`). The
//! steps share the struct so the hot path stays one inlined call chain.
//! What a frame became is its [`Fate`] (`fate.rs`), where the node's
//! [`DropReason`] is declared once, nesting the wire, ESP and reassembly
//! reason lists that their own modules declare (`crate::reason`).

mod counters;
mod fastpath;
mod fate;
mod forward;
mod fragment;
mod generate;
mod node;
mod outputs;
mod policy;
mod pool;
mod prefetch;
mod shards;
mod tunnel_sas;
mod worker;

pub use counters::{InterfaceCounters, NodeCounters, PolicyCounters, TrafficCounters, Volume};
pub use fate::{Delivery, DropReason, Fate, Outcome, PolicyId, PolicyVerdict, RouteHit, SaUse};
pub use node::{Node, NodeError};
pub use outputs::{Generated, Outputs};
pub use pool::{Completed, FlowAffinity, PoolError, Processed, Reorder, WorkerPool};
pub use shards::{FateTally, ShardFrame, run_sharded, run_sharded_observed, shard};
pub use worker::Worker;

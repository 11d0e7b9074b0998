//! Per-flow accounting of a node's fates for reports: for each inner
//! 5-tuple, its packets and bytes, the egress paths it took (plain, or
//! encrypted in which tunnel and SA), its drops and its must-encrypt policy
//! verdict; plus the list of policy violations. One model for both
//! consumers: `erdp replay` serialises a node's table ([`FlowTable::flows`],
//! [`FlowReport`]); the emulator keeps a table per node port and
//! `erdp run`'s report reads it back ([`FlowTable::entries`], [`FlowEntry`]).
//! [`FlowTable::observe`] allocates nothing per packet (the table grows
//! amortised, up to its cap) and names and 5-tuple strings are made once,
//! when a report is built.

/// The report file in an output directory (`erdp run`, `erdp replay`,
/// `erdp verify`).
pub(crate) const REPORT_FILE: &str = "report.json";

mod entry;
mod flows;
mod packed_key;
mod tally;
mod view;

pub use entry::FlowEntry;
pub use flows::{DEFAULT_FLOW_CAP, FlowTable};
pub use tally::{Way, WayCount, verdict_rank};
pub use view::{
    FlowId, FlowReport, FlowTotals, PathReport, UntrackedFlows, UntrackedViolations,
    ViolationReport, protocol_name,
};

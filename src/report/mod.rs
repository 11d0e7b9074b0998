//! Per-flow accounting of a node's fates for reports: for each inner
//! 5-tuple, its packets and bytes, the egress paths it took (plain, or
//! encrypted in which tunnel and SA), its drops and its must-encrypt policy
//! verdict; plus the list of policy violations. Shared by `erdp replay` and
//! the emulator; [`FlowTable::observe`] allocates only for a new flow.

mod flows;

pub use flows::{
    DEFAULT_FLOW_CAP, FlowId, FlowReport, FlowTable, FlowTotals, PathReport, UntrackedFlows,
    UntrackedViolations, ViolationReport, protocol_name, verdict_rank,
};

//! `erdp replay`: runs a pcap or pcapng capture through a [`Node`](crate::dataplane::Node)
//! (directly, or over its worker pool) and writes where every frame went:
//! one pcap per egress interface, the drops with their reasons, and a JSON
//! report with per-flow paths and must-encrypt verdicts; [`Expectations`]
//! turn a report into a pass/fail check.

mod engine;
mod expect;
mod input;
mod report;
mod sink;

pub use engine::{ReplayError, ReplayOptions, replay};
pub use expect::{ExpectError, Expectations, Failure};
pub use input::{CaptureDrop, RAW_IP_SOURCE_MAC};
pub use report::{
    InterfaceReport, LOUD_DROP_PERCENT, Promiscuous, REPORT_VERSION, ReplayReport, likely_cause,
};
pub use sink::{DROPS_INDEX_FILE, DROPS_PCAP_FILE, Sink};

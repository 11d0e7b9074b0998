//! The network emulator: devices joined by links, driven by a discrete-event
//! scheduler in deterministic virtual time (a seed fixes every random draw).
//!
//! - [`Simulator`]: the event loop, topology, fault timeline and counters.
//! - [`Device`]: anything attached to links; [`Host`] is a smoltcp TCP/IP
//!   stack with traffic applications; an erdp node joins through an adapter.
//! - [`link`]: point-to-point links with delay, rate, queue, loss,
//!   reordering, MTU, up/down state and pcap capture.

pub mod app;
mod device;
mod engine;
mod error;
mod event;
pub mod host;
pub mod link;
pub mod node_device;
mod pool;
mod rng;
mod time;
mod timeline;

pub use device::{Arrival, Departure, Device, DeviceEvent, PortId, TxQueue};
pub use engine::{DeviceReport, DeviceStats, EngineStats, SimReport, Simulator};
pub use error::EmuError;
pub use event::{EventKind, EventQueue};
pub use host::{AppId, Host, HostConfig, HostError};
pub use link::{
    CapturePoint, ChannelConfig, DeviceId, LinkCapture, LinkConfig, LinkId, LinkReport, LinkSeries,
    LinkTimeline,
};
pub use node_device::{NodeDevice, NodeDeviceError};
pub use pool::FramePool;
pub use rng::{Chance, SimRng, derive_seed, rng_for};
pub use time::SimTime;
pub use timeline::{Action, ActionRecord, Flap};

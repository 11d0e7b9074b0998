//! The smoltcp `phy::Device` of a host: received frames come from a queue
//! the engine filled, transmitted frames go straight into the engine's
//! transmit queue in pooled buffers, marked by the host's QoS on the way.

use std::collections::VecDeque;

use smoltcp::phy::{self, DeviceCapabilities};
use smoltcp::time::Instant;

use super::qos::Qos;
use crate::emu::device::{PortId, TxQueue};
use crate::packet::PacketBuf;

/// The host's only port.
pub const HOST_PORT: PortId = PortId(0);

/// Host frame counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct HostCounters {
    /// Frames received from the link.
    pub rx_frames: u64,
    /// Their bytes.
    pub rx_bytes: u64,
    /// Frames the stack sent.
    pub tx_frames: u64,
    /// Their bytes.
    pub tx_bytes: u64,
    /// Frames the stack built too large for a frame buffer (not sent).
    pub tx_oversize: u64,
}

/// A view of the host's queues for one poll of its interface.
pub(crate) struct PhyView<'a, 'q> {
    pub(super) rx: &'a mut VecDeque<PacketBuf>,
    pub(super) spare: &'a mut Vec<PacketBuf>,
    pub(super) tx: &'a mut TxQueue<'q>,
    pub(super) qos: &'a mut Qos,
    pub(super) counters: &'a mut HostCounters,
    pub(super) caps: &'a DeviceCapabilities,
}

/// A received frame, lent to smoltcp; its buffer goes to the spare list.
pub(crate) struct HostRxToken<'a> {
    frame: PacketBuf,
    spare: &'a mut Vec<PacketBuf>,
}

/// Permission to send one frame.
pub(crate) struct HostTxToken<'a, 'q> {
    tx: &'a mut TxQueue<'q>,
    qos: &'a mut Qos,
    counters: &'a mut HostCounters,
}

impl phy::RxToken for HostRxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let result = f(self.frame.as_slice());
        self.spare.push(self.frame);
        result
    }
}

impl phy::TxToken for HostTxToken<'_, '_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut frame = self.tx.frame();
        let Ok(buf) = frame.push_back(len) else {
            // The MTU is checked against the buffer size when the host is
            // made, so this is not reached; never panic on it anyway.
            self.counters.tx_oversize += 1;
            self.tx.recycle(frame);
            return f(&mut vec![0; len]);
        };
        let result = f(buf);
        self.qos.mark_egress(frame.as_mut_slice());
        self.counters.tx_frames += 1;
        self.counters.tx_bytes += frame.len() as u64;
        self.tx.send(HOST_PORT, frame);
        result
    }
}

impl<'q> phy::Device for PhyView<'_, 'q> {
    type RxToken<'t>
        = HostRxToken<'t>
    where
        Self: 't;
    type TxToken<'t>
        = HostTxToken<'t, 'q>
    where
        Self: 't;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((
            HostRxToken {
                frame,
                spare: self.spare,
            },
            HostTxToken {
                tx: self.tx,
                qos: self.qos,
                counters: self.counters,
            },
        ))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Self::TxToken<'_>> {
        Some(HostTxToken {
            tx: self.tx,
            qos: self.qos,
            counters: self.counters,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.caps.clone()
    }
}

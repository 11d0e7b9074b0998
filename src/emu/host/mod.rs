//! [`Host`]: a userspace TCP/IP stack (smoltcp 0.14) as an emulator device,
//! with IPv4 and IPv6 addresses, default gateways, ARP and NDP (done by
//! smoltcp), traffic applications and a host QoS policy (DSCP marking).
//!
//! smoltcp sees the virtual clock (in microseconds) and a `phy::Device`
//! over in-memory queues; the host polls it whenever frames arrive or a
//! timer is due.

mod phy;
mod qos;

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use smoltcp::iface::{Config, Interface, PollIngressSingleResult, PollResult, SocketSet};
use smoltcp::phy::{DeviceCapabilities, Medium};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr};
use thiserror::Error;

pub use phy::{HOST_PORT, HostCounters};
pub use qos::{DSCP_EF, DscpCheck, DscpMark, FlowMatch, FrameFlow, Qos, frame_flow, set_dscp};

use super::app::{
    App, AppContext, AppError, AppReport, PingReport, TcpBulkReport, UdpReceiveReport,
    UdpSendReport,
};
use super::device::{Arrival, Device, TxQueue};
use super::pool::FramePool;
use super::time::SimTime;
use crate::packet::PacketBuf;
use crate::wire::ETHERNET_HEADER_LEN;
use phy::PhyView;

/// Largest IP MTU a host accepts: a 9000-byte jumbo frame.
pub(crate) const MAX_HOST_MTU: usize = 9000;
/// Stack polls per call at most (each poll lets apps react and send).
const MAX_ROUNDS: usize = 32;

/// How to build a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    /// The host's name in reports.
    pub name: String,
    /// Its Ethernet address (unicast).
    pub mac: [u8; 6],
    /// Its addresses with prefix lengths (at most one IPv4 and one IPv6).
    pub addresses: Vec<IpNet>,
    /// The IPv4 default gateway.
    pub gateway_v4: Option<Ipv4Addr>,
    /// The IPv6 default gateway.
    pub gateway_v6: Option<Ipv6Addr>,
    /// The IP MTU of its interface (68..=9000).
    pub mtu: usize,
    /// Seed of its stack (TCP initial sequence numbers, ephemeral ports,
    /// IPv4 identification).
    pub seed: u64,
}

impl HostConfig {
    /// A host with MTU 1500, no gateway and seed 0.
    pub fn new(name: &str, mac: [u8; 6], addresses: Vec<IpNet>) -> Self {
        Self {
            name: name.to_string(),
            mac,
            addresses,
            gateway_v4: None,
            gateway_v6: None,
            mtu: 1500,
            seed: 0,
        }
    }
}

/// A host configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HostError {
    /// A multicast or broadcast MAC.
    #[error("host {host}: MAC {mac} is not a unicast address")]
    NotUnicast {
        /// The host.
        host: String,
        /// The MAC given.
        mac: String,
    },
    /// More addresses than smoltcp holds.
    #[error("host {host}: cannot add address {address}: the interface holds at most {limit}")]
    TooManyAddresses {
        /// The host.
        host: String,
        /// The address refused.
        address: IpNet,
        /// How many fit.
        limit: usize,
    },
    /// An MTU out of range.
    #[error("host {host}: MTU {mtu} is outside 68..={MAX_HOST_MTU}")]
    Mtu {
        /// The host.
        host: String,
        /// The MTU given.
        mtu: usize,
    },
    /// A gateway that could not be installed.
    #[error("host {host}: cannot add default route via {gateway}: route table full")]
    Gateway {
        /// The host.
        host: String,
        /// The gateway.
        gateway: IpAddr,
    },
    /// A DSCP outside 0..=63 (RFC 2474: six bits).
    #[error("host {host}: DSCP {dscp} does not fit in six bits (0..=63)")]
    Dscp {
        /// The host.
        host: String,
        /// The value given.
        dscp: u8,
    },
    /// An app that could not start.
    #[error("host {host}: {source}")]
    App {
        /// The host.
        host: String,
        /// Why.
        source: AppError,
    },
}

/// An app on a host (index in the order added).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct AppId(pub u32);

/// A smoltcp host with one Ethernet port ([`HOST_PORT`]).
pub struct Host {
    name: String,
    iface: Interface,
    sockets: SocketSet<'static>,
    caps: DeviceCapabilities,
    rx: VecDeque<PacketBuf>,
    spare: Vec<PacketBuf>,
    qos: Qos,
    counters: HostCounters,
    apps: Vec<Box<dyn App>>,
    now: SimTime,
    /// When the stack was last polled.
    last_run: Option<SimTime>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("name", &self.name)
            .field("addresses", &self.iface.ip_addrs())
            .field("apps", &self.apps.len())
            .field("counters", &self.counters)
            .finish()
    }
}

impl Host {
    /// Builds the host's stack from `config`.
    pub fn new(config: &HostConfig) -> Result<Host, HostError> {
        let host = config.name.clone();
        let mac = EthernetAddress(config.mac);
        if !mac.is_unicast() {
            return Err(HostError::NotUnicast {
                host,
                mac: mac.to_string(),
            });
        }
        if !(68..=MAX_HOST_MTU).contains(&config.mtu) {
            return Err(HostError::Mtu {
                host,
                mtu: config.mtu,
            });
        }
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = config.mtu + ETHERNET_HEADER_LEN;
        let mut iface_config = Config::new(HardwareAddress::Ethernet(mac));
        iface_config.random_seed = config.seed;
        let (mut pool, mut departures) = (FramePool::new(), Vec::new());
        let mut tx = TxQueue::new(&mut pool, &mut departures);
        let (mut rx, mut spare) = (VecDeque::new(), Vec::new());
        let (mut qos, mut counters) = (Qos::default(), HostCounters::default());
        let mut view = PhyView {
            rx: &mut rx,
            spare: &mut spare,
            tx: &mut tx,
            qos: &mut qos,
            counters: &mut counters,
            caps: &caps,
        };
        let mut iface = Interface::new(iface_config, &mut view, SimTime::ZERO.to_smoltcp());
        for &address in &config.addresses {
            let cidr = IpCidr::new(address.addr().into(), address.prefix_len());
            let mut full = false;
            iface.update_ip_addrs(|addrs| full = addrs.push(cidr).is_err());
            if full {
                return Err(HostError::TooManyAddresses {
                    host,
                    address,
                    limit: iface.ip_addrs().len(),
                });
            }
        }
        if let Some(gateway) = config.gateway_v4 {
            iface
                .routes_mut()
                .add_default_ipv4_route(gateway)
                .map_err(|_| HostError::Gateway {
                    host: host.clone(),
                    gateway: gateway.into(),
                })?;
        }
        if let Some(gateway) = config.gateway_v6 {
            iface
                .routes_mut()
                .add_default_ipv6_route(gateway)
                .map_err(|_| HostError::Gateway {
                    host: host.clone(),
                    gateway: gateway.into(),
                })?;
        }
        Ok(Host {
            name: host,
            iface,
            sockets: SocketSet::new(Vec::new()),
            caps,
            rx: VecDeque::new(),
            spare: Vec::new(),
            qos: Qos::default(),
            counters: HostCounters::default(),
            apps: Vec::new(),
            now: SimTime::ZERO,
            last_run: None,
        })
    }

    /// Adds an application; it creates its sockets now.
    pub fn add_app(&mut self, mut app: Box<dyn App>) -> Result<AppId, HostError> {
        let mut ctx = AppContext {
            now: self.now,
            iface: &mut self.iface,
            sockets: &mut self.sockets,
        };
        app.attach(&mut ctx).map_err(|source| HostError::App {
            host: self.name.clone(),
            source,
        })?;
        self.apps.push(app);
        Ok(AppId((self.apps.len() - 1) as u32))
    }

    /// Marks egress packets matching `flow` with `dscp` (first rule wins).
    pub fn mark_dscp(&mut self, flow: FlowMatch, dscp: u8) -> Result<(), HostError> {
        self.valid_dscp(dscp)?;
        self.qos.marks.push(DscpMark {
            flow,
            dscp,
            marked: 0,
        });
        Ok(())
    }

    /// Counts ingress packets matching `flow` and those carrying `expect`.
    pub fn check_dscp(&mut self, flow: FlowMatch, expect: u8) -> Result<(), HostError> {
        self.valid_dscp(expect)?;
        self.qos.checks.push(DscpCheck {
            flow,
            expect,
            matched: 0,
            with_expected: 0,
            last_other: None,
        });
        Ok(())
    }

    fn valid_dscp(&self, dscp: u8) -> Result<(), HostError> {
        if dscp > 63 {
            return Err(HostError::Dscp {
                host: self.name.clone(),
                dscp,
            });
        }
        Ok(())
    }

    /// The marking rules and their counts.
    pub fn dscp_marks(&self) -> &[DscpMark] {
        &self.qos.marks
    }

    /// The ingress checks and their counts.
    pub fn dscp_checks(&self) -> &[DscpCheck] {
        &self.qos.checks
    }

    /// The report of app `id`.
    pub(crate) fn app_report(&self, id: AppId) -> Option<AppReport> {
        self.apps.get(id.0 as usize).map(|app| app.report())
    }

    /// Reports of every app, in the order added.
    pub fn app_reports(&self) -> Vec<AppReport> {
        self.apps.iter().map(|app| app.report()).collect()
    }

    /// The report of app `id` if it is a TCP bulk transfer.
    pub fn tcp_bulk_report(&self, id: AppId) -> Option<TcpBulkReport> {
        match self.app_report(id)? {
            AppReport::TcpBulk(report) => Some(report),
            _ => None,
        }
    }

    /// The report of app `id` if it is a ping.
    pub fn ping_report(&self, id: AppId) -> Option<PingReport> {
        match self.app_report(id)? {
            AppReport::Ping(report) => Some(report),
            _ => None,
        }
    }

    /// The report of app `id` if it is a UDP sender.
    pub fn udp_send_report(&self, id: AppId) -> Option<UdpSendReport> {
        match self.app_report(id)? {
            AppReport::UdpSend(report) => Some(report),
            _ => None,
        }
    }

    /// The report of app `id` if it is a UDP receiver.
    pub fn udp_receive_report(&self, id: AppId) -> Option<UdpReceiveReport> {
        match self.app_report(id)? {
            AppReport::UdpReceive(report) => Some(report),
            _ => None,
        }
    }

    /// Frame counters.
    pub fn counters(&self) -> HostCounters {
        self.counters
    }

    /// The smoltcp interface (addresses, routes).
    pub fn interface(&self) -> &Interface {
        &self.iface
    }

    /// Runs the stack and the apps until neither has more to do: every
    /// queued frame in, the apps step (they read what arrived and write
    /// into the space the ACKs freed), then the stack sends until nothing
    /// is left, and the apps step again; more rounds while they progress.
    /// An egress pass right after one that sent nothing, with no change in
    /// between, would send nothing either, so none is run.
    fn run(&mut self, now: SimTime, tx: &mut TxQueue<'_>) {
        self.now = now;
        self.last_run = Some(now);
        let timestamp = now.to_smoltcp();
        self.iface.poll_maintenance(timestamp);
        let mut view = PhyView {
            rx: &mut self.rx,
            spare: &mut self.spare,
            tx,
            qos: &mut self.qos,
            counters: &mut self.counters,
            caps: &self.caps,
        };
        while self
            .iface
            .poll_ingress_single(timestamp, &mut view, &mut self.sockets)
            != PollIngressSingleResult::None
        {}
        step_apps(now, &mut self.apps, &mut self.iface, &mut self.sockets);
        for _ in 0..MAX_ROUNDS {
            while self
                .iface
                .poll_egress(timestamp, &mut view, &mut self.sockets)
                != PollResult::None
            {}
            if !step_apps(now, &mut self.apps, &mut self.iface, &mut self.sockets) {
                break;
            }
        }
        for frame in self.spare.drain(..) {
            tx.recycle(frame);
        }
    }
}

/// Steps every app once; true when any made progress.
fn step_apps(
    now: SimTime,
    apps: &mut [Box<dyn App>],
    iface: &mut Interface,
    sockets: &mut SocketSet<'static>,
) -> bool {
    let mut ctx = AppContext {
        now,
        iface,
        sockets,
    };
    let mut progress = false;
    for app in apps {
        progress |= app.step(&mut ctx);
    }
    progress
}

impl Device for Host {
    fn name(&self) -> &str {
        &self.name
    }

    fn port_count(&self) -> u16 {
        1
    }

    fn receive(&mut self, now: SimTime, batch: &mut Vec<Arrival>, tx: &mut TxQueue<'_>) {
        for arrival in batch.drain(..) {
            self.counters.rx_frames += 1;
            self.counters.rx_bytes += arrival.frame.len() as u64;
            self.qos.check_ingress(arrival.frame.as_slice());
            self.rx.push_back(arrival.frame);
        }
        self.run(now, tx);
    }

    fn poll(&mut self, now: SimTime, tx: &mut TxQueue<'_>) {
        self.run(now, tx);
    }

    fn next_wakeup(&mut self) -> Option<SimTime> {
        let stack = self
            .iface
            .poll_at(self.now.to_smoltcp(), &self.sockets)
            .map(SimTime::from_smoltcp);
        let apps = self.apps.iter().filter_map(|app| app.next_wakeup()).min();
        let next = [stack, apps].into_iter().flatten().min()?;
        if next > self.now {
            return Some(next);
        }
        // Due now: run now unless the stack just ran at this instant; then
        // smoltcp's microsecond clock (now rounded down) makes it due at
        // the next microsecond.
        Some(if self.last_run == Some(self.now) {
            SimTime::from_micros(self.now.as_micros() + 1)
        } else {
            self.now
        })
    }
}

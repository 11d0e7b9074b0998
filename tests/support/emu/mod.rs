//! Helpers shared by the emulator's integration tests: two hosts on one
//! link, and a small L3 router device (a stand-in until the erdp node).

#![allow(dead_code)]

pub mod router;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use erdp::emu::{
    AppId, ChannelConfig, DeviceId, Host, HostConfig, LinkConfig, LinkId, PortId, Simulator,
};

pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
pub const V4_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const V4_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const V6_A: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xa);
pub const V6_B: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xb);

/// A host config with one IPv4 /24 and one IPv6 /64 address.
pub fn host_config(
    sim: &Simulator,
    name: &str,
    mac: [u8; 6],
    v4: Ipv4Addr,
    v6: Ipv6Addr,
) -> HostConfig {
    let mut config = HostConfig::new(
        name,
        mac,
        vec![
            format!("{v4}/24").parse().unwrap(),
            format!("{v6}/64").parse().unwrap(),
        ],
    );
    config.seed = sim.seed_for(name);
    config
}

/// Two hosts, `a` (10.0.0.1, fd00::a) and `b` (10.0.0.2, fd00::b), on one
/// link with `channel` both ways.
pub struct Pair {
    pub sim: Simulator,
    pub a: DeviceId,
    pub b: DeviceId,
    pub link: LinkId,
}

impl Pair {
    pub fn new(seed: u64, channel: ChannelConfig) -> Self {
        Self::with(seed, LinkConfig::symmetric("a-b", channel), |_| {})
    }

    pub fn with(seed: u64, link: LinkConfig, tweak: impl Fn(&mut HostConfig)) -> Self {
        let mut sim = Simulator::new(seed);
        let mut config_a = host_config(&sim, "a", MAC_A, V4_A, V6_A);
        let mut config_b = host_config(&sim, "b", MAC_B, V4_B, V6_B);
        tweak(&mut config_a);
        tweak(&mut config_b);
        let a = sim.add_device(Box::new(Host::new(&config_a).unwrap()));
        let b = sim.add_device(Box::new(Host::new(&config_b).unwrap()));
        let link = sim.connect((a, PortId(0)), (b, PortId(0)), &link).unwrap();
        Self { sim, a, b, link }
    }

    pub fn host(&self, id: DeviceId) -> &Host {
        self.sim.device::<Host>(id).unwrap()
    }

    pub fn host_mut(&mut self, id: DeviceId) -> &mut Host {
        self.sim.device_mut::<Host>(id).unwrap()
    }

    pub fn add(&mut self, id: DeviceId, app: Box<dyn erdp::emu::app::App>) -> AppId {
        self.sim
            .update::<Host, _>(id, |host| host.add_app(app))
            .unwrap()
            .unwrap()
    }
}

pub fn v4(addr: Ipv4Addr) -> IpAddr {
    IpAddr::V4(addr)
}

pub fn v6(addr: Ipv6Addr) -> IpAddr {
    IpAddr::V6(addr)
}

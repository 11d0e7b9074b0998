//! Checks of a [`Scenario`] that serde cannot make, to the node
//! configuration's standard: every problem is a [`ConfigIssue`] with the
//! field's path (placed at its file, line and column by the caller), all
//! are listed at once, and every count that sizes an allocation or a loop
//! is bounded here, before anything is built.

use std::collections::HashMap;

#[cfg(test)]
use ipnet::IpNet;

use super::changes::ROUTE_CHANGE_PATHS;
use super::model::{
    Circuit, Fault, FaultKind, FlowKind, LinkSpec, MIN_HOLD_TIME_S, MSEE_BFD_INTERVAL_MS,
    MSEE_BFD_MULTIPLIER, Scenario, Side,
};
use super::topology::{self, CIRCUITS};
use crate::config::{ConfigIssue, FieldPath, MAX_MTU, MIN_IPV6_MTU, MIN_MSS_CLAMP};

/// Synthetic on-premises /24s come from 100.64.0.0/10, which holds this
/// many.
pub const MAX_EXTRA_ER_PREFIXES: u32 = 1 << (24 - 10);
/// Synthetic VNet /28s come from 10.200.0.0/16, which holds this many.
pub const MAX_EXTRA_VNET_PREFIXES: u32 = 1 << (28 - 16);
/// Longest run: one day of virtual time.
pub const MAX_DURATION_MS: u64 = 24 * 3600 * 1000;
/// Longest failure detection: BGP's largest hold time (65,535 s).
pub const MAX_DETECTION_MS: u64 = 65_535_000;
/// Most flows in one scenario (each has its own sockets and buffers).
pub const MAX_FLOWS: usize = 256;
/// Most down/up cycles of one flap.
pub const MAX_FLAP_CYCLES: u32 = 10_000;
/// Largest ping or UDP payload: the largest UDP payload over IPv4.
pub const MAX_PAYLOAD: usize = 65_507;
/// Smallest UDP probe payload (sequence number and timestamp).
pub const MIN_UDP_PAYLOAD: usize = 16;

/// Every problem of `scenario` (empty when it can run).
pub(super) fn validate(scenario: &Scenario) -> Vec<ConfigIssue> {
    let mut check = Checker::default();
    let root = FieldPath::root();
    if scenario.name.trim().is_empty() {
        check.issue(root.key("name"), "must not be empty");
    }
    if !(1..=MAX_DURATION_MS).contains(&scenario.duration_ms) {
        check.issue(
            root.key("duration_ms"),
            format!(
                "{} is outside 1..={MAX_DURATION_MS} (one day)",
                scenario.duration_ms
            ),
        );
    }
    check.circuits(scenario);
    check.hosts(scenario);
    check.prefixes(scenario);
    check.flows(scenario);
    check.faults(scenario);
    if let Some(ike) = &scenario.ike {
        check.issues.extend(ike.issues(&root.key("ike")));
    }
    check.issues
}

#[derive(Default)]
struct Checker {
    issues: Vec<ConfigIssue>,
}

impl Checker {
    fn issue(&mut self, path: FieldPath, message: impl Into<String>) {
        self.issues.push(ConfigIssue::new(path, message));
    }

    fn at_most<T: PartialOrd + std::fmt::Display>(&mut self, at: FieldPath, value: T, max: T) {
        if value > max {
            self.issue(at, format!("{value} is over the limit of {max}"));
        }
    }

    fn circuits(&mut self, scenario: &Scenario) {
        let root = FieldPath::root();
        let names = ["circuit", "second_circuit"];
        for (circuit, name) in scenario.circuits().zip(names) {
            let at = root.key(name);
            self.detection(&at, circuit);
            self.link(at.key("primary"), &circuit.primary);
            self.link(at.key("secondary"), &circuit.secondary);
        }
        self.link(root.key("onprem").key("lan"), &scenario.onprem.lan);
        self.link(root.key("azure").key("vnet"), &scenario.azure.vnet);
        let azure = root.key("azure");
        let mtu = scenario.azure.tunnel_mtu;
        if !(MIN_IPV6_MTU..=MAX_MTU).contains(&mtu) {
            self.issue(
                azure.key("tunnel_mtu"),
                format!("{mtu} is outside {MIN_IPV6_MTU}..={MAX_MTU}"),
            );
        }
        let clamp = scenario.azure.mss_clamp;
        let max_clamp = mtu.saturating_sub(40);
        if clamp != 0 && !(MIN_MSS_CLAMP..=max_clamp).contains(&clamp) {
            self.issue(
                azure.key("mss_clamp"),
                format!(
                    "{clamp} is outside {MIN_MSS_CLAMP}..={max_clamp} (tunnel_mtu less 40; 0: no clamping)"
                ),
            );
        }
    }

    /// BFD and the hold time, as "Configure BFD over ExpressRoute"
    /// documents them: the MSEE's BFD (300 ms x 3) cannot be lowered; a
    /// customer router may lower the BGP hold time to 10 s.
    fn detection(&mut self, at: &FieldPath, circuit: &Circuit) {
        if circuit.bfd_interval_ms < MSEE_BFD_INTERVAL_MS {
            self.issue(
                at.key("bfd_interval_ms"),
                format!(
                    "{} ms is below the MSEE's BFD interval of {MSEE_BFD_INTERVAL_MS} ms, which cannot be lowered",
                    circuit.bfd_interval_ms
                ),
            );
        }
        if circuit.bfd_multiplier < MSEE_BFD_MULTIPLIER {
            self.issue(
                at.key("bfd_multiplier"),
                format!(
                    "{} is below the MSEE's BFD multiplier of {MSEE_BFD_MULTIPLIER}, which cannot be lowered",
                    circuit.bfd_multiplier
                ),
            );
        }
        let max_hold_s = MAX_DETECTION_MS / 1000;
        if !(MIN_HOLD_TIME_S..=max_hold_s).contains(&circuit.hold_time_s) {
            self.issue(
                at.key("hold_time_s"),
                format!(
                    "{} is outside {MIN_HOLD_TIME_S}..={max_hold_s} s (ExpressRoute's lowest hold time is {MIN_HOLD_TIME_S} s)",
                    circuit.hold_time_s
                ),
            );
        }
        if circuit.bfd && circuit.detection_ms() > MAX_DETECTION_MS {
            self.issue(
                at.key("bfd_multiplier"),
                format!(
                    "bfd_interval_ms x bfd_multiplier = {} ms is over BGP's largest hold time ({MAX_DETECTION_MS} ms)",
                    circuit.detection_ms()
                ),
            );
        }
    }

    fn link(&mut self, at: FieldPath, link: &LinkSpec) {
        for (field, value) in [
            ("delay_ms", link.delay_ms),
            ("rate_mbps", link.rate_mbps),
            ("reorder_delay_ms", link.reorder_delay_ms),
        ] {
            if !value.is_finite() || value < 0.0 {
                self.issue(
                    at.key(field),
                    format!("{value} is not a non-negative number"),
                );
            }
        }
        for (field, value) in [("loss", link.loss), ("reorder", link.reorder)] {
            if !(0.0..=1.0).contains(&value) {
                self.issue(
                    at.key(field),
                    format!("{value} is not a probability in [0, 1]"),
                );
            }
        }
        if link.queue == 0 {
            self.issue(at.key("queue"), "must hold at least one frame");
        }
        let mtu_range = 68..=usize::from(MAX_MTU);
        if !mtu_range.contains(&link.mtu) {
            self.issue(
                at.key("mtu"),
                format!("{} is outside 68..={MAX_MTU}", link.mtu),
            );
        }
    }

    fn hosts(&mut self, scenario: &Scenario) {
        let root = FieldPath::root();
        let onprem = root.key("onprem").key("host");
        let azure = root.key("azure").key("host");
        let (a, b) = (scenario.onprem.host, scenario.azure.host);
        for (at, host) in [(&onprem, a), (&azure, b)] {
            if let Err(e) = topology::gateway_of(host) {
                let message = e.to_string();
                let message = message.strip_prefix("host: ").unwrap_or(&message);
                self.issue(at.clone(), message);
            }
        }
        if a.addr().is_ipv4() != b.addr().is_ipv4() {
            self.issue(
                azure,
                format!("{b} and onprem.host {a} are of different families"),
            );
        } else if a.addr() == b.addr() {
            self.issue(azure, format!("{b} is onprem.host's address too"));
        } else if a.trunc().contains(&b.trunc()) || b.trunc().contains(&a.trunc()) {
            self.issue(
                azure,
                format!(
                    "subnet {} overlaps onprem.host's subnet {}: the two sites need distinct subnets",
                    b.trunc(),
                    a.trunc()
                ),
            );
        }
    }

    fn prefixes(&mut self, scenario: &Scenario) {
        let root = FieldPath::root();
        let onprem = root.key("onprem");
        let azure = root.key("azure");
        let mut lists = vec![
            (onprem.key("advertise_er"), &scenario.onprem.advertise_er),
            (onprem.key("advertise_vpn"), &scenario.onprem.advertise_vpn),
            (azure.key("advertise_er"), &scenario.azure.advertise_er),
            (azure.key("advertise_vpn"), &scenario.azure.advertise_vpn),
        ];
        for (circuit, name) in scenario.circuits().zip(["circuit", "second_circuit"]) {
            if let Some(list) = &circuit.advertise {
                lists.push((root.key(name).key("advertise"), list));
            }
        }
        for (at, list) in lists {
            for (k, prefix) in list.iter().enumerate() {
                if prefix.trunc() != *prefix {
                    self.issue(
                        at.index(k),
                        format!(
                            "prefix {prefix} has host bits set (did you mean {}?)",
                            prefix.trunc()
                        ),
                    );
                }
            }
        }
        let hub = scenario.azure.hub_prefix;
        if hub.trunc() != hub {
            self.issue(
                azure.key("hub_prefix"),
                format!(
                    "prefix {hub} has host bits set (did you mean {}?)",
                    hub.trunc()
                ),
            );
        } else if !hub.contains(&std::net::IpAddr::V4(topology::AZURE_TUNNEL_ENDPOINT)) {
            self.issue(
                azure.key("hub_prefix"),
                format!(
                    "{hub} does not hold the VPN gateway's tunnel endpoint {}",
                    topology::AZURE_TUNNEL_ENDPOINT
                ),
            );
        }
        if scenario.onprem.extra_er_prefixes > MAX_EXTRA_ER_PREFIXES {
            self.issue(
                onprem.key("extra_er_prefixes"),
                format!(
                    "{} is more than the {MAX_EXTRA_ER_PREFIXES} /24s of 100.64.0.0/10 they are drawn from",
                    scenario.onprem.extra_er_prefixes
                ),
            );
        }
        if scenario.azure.extra_vnet_prefixes > MAX_EXTRA_VNET_PREFIXES {
            self.issue(
                azure.key("extra_vnet_prefixes"),
                format!(
                    "{} is more than the {MAX_EXTRA_VNET_PREFIXES} /28s of 10.200.0.0/16 they are drawn from",
                    scenario.azure.extra_vnet_prefixes
                ),
            );
        }
    }

    fn flows(&mut self, scenario: &Scenario) {
        let root = FieldPath::root();
        if scenario.flows.len() > MAX_FLOWS {
            self.issue(
                root.key("flow"),
                format!(
                    "{} flows are over the limit of {MAX_FLOWS}",
                    scenario.flows.len()
                ),
            );
            return;
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (index, flow) in scenario.flows.iter().enumerate() {
            let at = root.item("flow", index);
            if flow.name.trim().is_empty() {
                self.issue(at.key("name"), "must not be empty");
            } else if let Some(first) = names.insert(&flow.name, index) {
                self.issue(
                    at.key("name"),
                    format!("duplicate flow name {:?} (also flow[{first}])", flow.name),
                );
            }
            // (against a valid duration only: one problem, one message)
            if scenario.duration_ms > 0 && flow.start_ms >= scenario.duration_ms {
                self.issue(
                    at.key("start_ms"),
                    format!(
                        "{} is not before the end of the run (duration_ms = {})",
                        flow.start_ms, scenario.duration_ms
                    ),
                );
            }
            if flow.dscp > 63 {
                self.issue(
                    at.key("dscp"),
                    format!("{} is not a DSCP (0..=63)", flow.dscp),
                );
            }
            if flow.kind == FlowKind::Tcp {
                if flow.bytes == 0 {
                    self.issue(at.key("bytes"), "must be at least 1");
                }
                continue;
            }
            if !flow.interval_ms.is_finite() || flow.interval_ms <= 0.0 {
                self.issue(at.key("interval_ms"), "must be a positive number");
            }
            if flow.count == 0 {
                self.issue(at.key("count"), "must be at least 1");
            }
            self.at_most(at.key("payload"), flow.payload, MAX_PAYLOAD);
            if flow.kind == FlowKind::Udp && flow.payload < MIN_UDP_PAYLOAD {
                self.issue(
                    at.key("payload"),
                    format!("a UDP probe needs at least {MIN_UDP_PAYLOAD} bytes"),
                );
            }
        }
    }

    fn faults(&mut self, scenario: &Scenario) {
        let link_names = topology::link_names(scenario);
        let circuits: Vec<&str> = CIRCUITS
            .iter()
            .take(scenario.circuits().count())
            .map(|circuit| circuit.fault_name)
            .collect();
        for (index, fault) in scenario.faults.iter().enumerate() {
            let at = FieldPath::root().item("fault", index);
            if scenario.duration_ms > 0 && fault.at_ms >= scenario.duration_ms {
                self.issue(
                    at.key("at_ms"),
                    format!(
                        "{} is not before the end of the run (duration_ms = {})",
                        fault.at_ms, scenario.duration_ms
                    ),
                );
            }
            let needs_link = matches!(
                fault.kind,
                FaultKind::LinkDown | FaultKind::LinkUp | FaultKind::Flap
            );
            match (&fault.link, needs_link) {
                (None, true) => self.issue(at.key("link"), "this fault needs a link"),
                (Some(link), true)
                    if !link_names.contains(&link.as_str())
                        && !circuits.contains(&link.as_str()) =>
                {
                    self.issue(
                        at.key("link"),
                        format!(
                            "unknown link {link:?}; links: {}; whole circuits: {}",
                            link_names.join(", "),
                            circuits.join(", ")
                        ),
                    );
                }
                _ => {}
            }
            if fault.kind.is_route_change() {
                self.route_change(&at, fault, scenario.circuits().count());
            }
            self.instance(&at, fault, scenario.vpn_gateway.instances());
            if fault.kind == FaultKind::Flap {
                if !(1..=MAX_FLAP_CYCLES).contains(&fault.count) {
                    self.issue(
                        at.key("count"),
                        format!("{} is outside 1..={MAX_FLAP_CYCLES}", fault.count),
                    );
                }
                for (field, value) in [("down_ms", fault.down_ms), ("up_ms", fault.up_ms)] {
                    if !(1..=MAX_DURATION_MS).contains(&value) {
                        self.issue(
                            at.key(field),
                            format!("{value} is outside 1..={MAX_DURATION_MS}"),
                        );
                    }
                }
            }
        }
    }
}

impl Checker {
    /// An instance fault names an instance of an active-active VPN
    /// gateway (1 or 2); no other fault names one.
    fn instance(&mut self, at: &FieldPath, fault: &Fault, instances: usize) {
        let needs = matches!(fault.kind, FaultKind::InstanceDown | FaultKind::InstanceUp);
        let at = at.key("instance");
        match (fault.instance, needs) {
            (None, true) => self.issue(at, "this fault needs an instance (1 or 2)"),
            (Some(_), false) => self.issue(
                at,
                "only instance-down and instance-up name a VPN gateway instance",
            ),
            (Some(_), true) if instances < 2 => self.issue(
                at,
                "the VPN gateway has one instance: instance faults need [vpn_gateway] active_active = true",
            ),
            (Some(n), true) if !(1..=2).contains(&n) => {
                self.issue(at, format!("{n} is not an instance of the gateway: 1 or 2"));
            }
            _ => {}
        }
    }

    /// A route change names what it needs: advertise / withdraw `from`
    /// and `prefixes` (on-premises: `over` a path; Azure: no `over`, it
    /// advertises over both), prepend and local-pref `over` and `value`.
    fn route_change(&mut self, at: &FieldPath, fault: &Fault, circuits: usize) {
        let paths: Vec<&str> = ROUTE_CHANGE_PATHS
            .iter()
            .copied()
            .filter(|p| circuits > 1 || *p != "circuit-2")
            .collect();
        let advertise = matches!(fault.kind, FaultKind::Advertise | FaultKind::Withdraw);
        let needs_over = !(advertise && fault.from == Some(Side::Azure));
        match (&fault.over, needs_over) {
            (None, true) => self.issue(
                at.key("over"),
                format!("this route change needs a path: {}", paths.join(", ")),
            ),
            (Some(_), false) => self.issue(
                at.key("over"),
                "Azure advertises its address spaces identically over ExpressRoute and the VPN: leave `over` out",
            ),
            (Some(over), true) if !paths.contains(&over.as_str()) => self.issue(
                at.key("over"),
                format!("unknown path {over:?}; paths: {}", paths.join(", ")),
            ),
            (Some(over), true) if fault.kind == FaultKind::Prepend && over == "vpn" => self.issue(
                at.key("over"),
                "prepending applies to ExpressRoute: er, circuit-1 or circuit-2",
            ),
            _ => {}
        }
        if advertise {
            if fault.from.is_none() {
                self.issue(at.key("from"), "who advertises: onprem or azure");
            }
            if fault.prefixes.is_empty() {
                self.issue(at.key("prefixes"), "must name at least one prefix");
            }
            self.at_most(
                at.key("prefixes"),
                fault.prefixes.len(),
                MAX_ROUTE_CHANGE_PREFIXES,
            );
            for (k, prefix) in fault.prefixes.iter().enumerate() {
                if prefix.trunc() != *prefix {
                    self.issue(
                        at.key("prefixes").index(k),
                        format!(
                            "prefix {prefix} has host bits set (did you mean {}?)",
                            prefix.trunc()
                        ),
                    );
                }
            }
            return;
        }
        match (fault.kind, fault.value) {
            (_, None) => self.issue(at.key("value"), "this route change needs a value"),
            (FaultKind::Prepend, Some(times)) if times > MAX_PREPEND => self.issue(
                at.key("value"),
                format!("{times} prepends are over the limit of {MAX_PREPEND}"),
            ),
            _ => {}
        }
    }
}

/// Most prefixes one route change names.
pub(crate) const MAX_ROUTE_CHANGE_PREFIXES: usize = 16_384;
/// Most AS-path prepends a route change sets.
pub(crate) const MAX_PREPEND: u32 = 255;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_are_what_the_ranges_hold() {
        let er: IpNet = "100.64.0.0/10".parse().unwrap();
        let vnet: IpNet = "10.200.0.0/16".parse().unwrap();
        let count = |net: IpNet, len| net.subnets(len).unwrap().count();
        assert_eq!(count(er, 24), MAX_EXTRA_ER_PREFIXES as usize);
        assert_eq!(count(vnet, 28), MAX_EXTRA_VNET_PREFIXES as usize);
    }
}

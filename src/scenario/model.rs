//! The scenario model: what a scenario TOML file says (the ExpressRoute
//! circuit, what each side advertises on which BGP session, the hosts'
//! traffic, the fault timeline), with defaults for everything but the
//! prefixes. Field by field documentation is in docs/scenarios.md.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::ike::IkeSpec;
use crate::config::PolicyAction;
use crate::esp::DfMode;
use crate::rib::SelectionMode;

/// A whole scenario.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name (reports, the summary's title).
    pub name: String,
    /// One or two sentences: what the scenario shows.
    #[serde(default)]
    pub description: String,
    /// Master seed of every random draw (overridden by `--seed`).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Virtual time to run, in milliseconds (the run ends earlier when all
    /// traffic is done and no fault is pending).
    #[serde(default = "default_duration_ms")]
    pub duration_ms: u64,
    /// The ExpressRoute circuit: its two links and how they are used.
    #[serde(default)]
    pub circuit: Circuit,
    /// An optional second ExpressRoute circuit (its own MSEE) between the
    /// same on-premises edge and Azure hub; absent: one circuit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_circuit: Option<Circuit>,
    /// The on-premises side: host, edge router and what it advertises.
    pub onprem: OnPrem,
    /// The Azure side: VNet host, hub and what Azure advertises.
    pub azure: Azure,
    /// The hub's VPN gateway: one instance (the default) or two,
    /// active-active (`[vpn_gateway] active_active = true`).
    #[serde(default, skip_serializing_if = "VpnGateway::is_single")]
    pub vpn_gateway: VpnGateway,
    /// How the tunnels get their SAs: absent, static keys; `[ike]`, IKEv2
    /// between the edge (initiator) and the gateway (responder), in
    /// virtual time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ike: Option<IkeSpec>,
    /// Traffic flows between the two hosts.
    #[serde(default, rename = "flow")]
    pub flows: Vec<Flow>,
    /// The fault timeline.
    #[serde(default, rename = "fault")]
    pub faults: Vec<Fault>,
}

fn default_seed() -> u64 {
    1
}
fn default_duration_ms() -> u64 {
    20_000
}

/// How the two ExpressRoute links are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CircuitMode {
    /// Both links carry traffic (ECMP per flow).
    #[default]
    ActiveActive,
    /// The primary carries everything; the secondary takes over when the
    /// primary's BGP session goes down (on-prem lowers LOCAL_PREF and
    /// prepends its AS path on the secondary).
    ActiveStandby,
}

/// An ExpressRoute circuit: `[circuit]`, and `[second_circuit]` when
/// there is one. The hub picks between circuits by connection weight
/// (higher wins), then AS path; the on-premises edge by LOCAL_PREF, then AS
/// path.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Circuit {
    /// Active-active (ECMP) or active-standby.
    #[serde(default)]
    pub mode: CircuitMode,
    /// BFD on both private peering sessions (Azure configures it on every
    /// MSEE interface; a link failure is then detected in `bfd_interval_ms`
    /// x `bfd_multiplier`). Off: the BGP hold time detects it.
    #[serde(default = "default_bfd")]
    pub bfd: bool,
    /// BFD transmit and receive interval, in milliseconds: the MSEE's is
    /// 300 ms and cannot be lowered (a slower customer side wins).
    #[serde(default = "default_bfd_interval_ms")]
    pub bfd_interval_ms: u64,
    /// BFD detection multiplier: the MSEE's is 3 and cannot be lowered.
    #[serde(default = "default_bfd_multiplier")]
    pub bfd_multiplier: u32,
    /// BGP hold time in seconds when BFD is off: the MSEE's is 180 s
    /// (keepalive 60 s); a customer router may lower it to 10 s.
    #[serde(default = "default_hold_time_s")]
    pub hold_time_s: u64,
    /// The Premium add-on (10,000 instead of 4,000 on-prem prefixes).
    #[serde(default)]
    pub premium: bool,
    /// The ExpressRoute connection weight of this circuit at the hub.
    #[serde(default)]
    pub connection_weight: u32,
    /// Primary link: customer router 172.16.0.1, Microsoft 172.16.0.2
    /// (/30; the second circuit: 172.16.1.1 and 172.16.1.2).
    #[serde(default = "LinkSpec::circuit")]
    pub primary: LinkSpec,
    /// Secondary link: customer router 172.16.0.5, Microsoft 172.16.0.6
    /// (/30; the second circuit: 172.16.1.5 and 172.16.1.6).
    #[serde(default = "LinkSpec::circuit")]
    pub secondary: LinkSpec,
    /// Prefixes on-premises advertises on this circuit's sessions (default:
    /// `onprem.advertise_er`); the tunnel endpoint and
    /// `onprem.extra_er_prefixes` are always added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise: Option<Vec<IpNet>>,
    /// Times the edge prepends its AS on this circuit's sessions, on top of
    /// `onprem.er_prepend` (which applies to every circuit).
    #[serde(default)]
    pub prepend: u8,
    /// LOCAL_PREF the edge gives Azure's routes learned on this circuit
    /// (10 less on an active-standby secondary link).
    #[serde(default = "default_er_local_pref")]
    pub local_pref: u32,
}

fn default_bfd() -> bool {
    true
}
/// The MSEE's BFD interval (Microsoft's "Configure BFD over ExpressRoute").
pub const MSEE_BFD_INTERVAL_MS: u64 = 300;
/// The MSEE's BFD multiplier.
pub const MSEE_BFD_MULTIPLIER: u32 = 3;
/// The MSEE's BGP hold time (keepalive 60 s).
pub const MSEE_HOLD_TIME_S: u64 = 180;
/// The lowest BGP hold time a customer router may set on ExpressRoute.
pub const MIN_HOLD_TIME_S: u64 = 10;
fn default_bfd_interval_ms() -> u64 {
    MSEE_BFD_INTERVAL_MS
}
fn default_bfd_multiplier() -> u32 {
    MSEE_BFD_MULTIPLIER
}
fn default_hold_time_s() -> u64 {
    MSEE_HOLD_TIME_S
}

impl Circuit {
    /// Time from a link failure to its BGP session going down, in
    /// milliseconds: BFD's detection time, or the hold time without BFD
    /// (also link up to session up).
    pub fn detection_ms(&self) -> u64 {
        if self.bfd {
            self.bfd_interval_ms
                .saturating_mul(u64::from(self.bfd_multiplier))
        } else {
            self.hold_time_s.saturating_mul(1000)
        }
    }

    /// How this circuit's failure detection differs from Azure's default
    /// (BFD 300 ms x 3), for the report; `None` when it does not.
    pub fn detection_note(&self) -> Option<String> {
        if !self.bfd {
            return Some(format!(
                "BFD off: a link failure is detected by the BGP hold time, {} s (the MSEE's: {MSEE_HOLD_TIME_S} s, keepalive 60 s), not by BFD's {} ms",
                self.hold_time_s,
                MSEE_BFD_INTERVAL_MS * u64::from(MSEE_BFD_MULTIPLIER)
            ));
        }
        (self.bfd_interval_ms != MSEE_BFD_INTERVAL_MS
            || self.bfd_multiplier != MSEE_BFD_MULTIPLIER)
            .then(|| {
                format!(
                    "BFD {} ms x {} = {} ms detection, chosen by the scenario (Azure's MSEE: {MSEE_BFD_INTERVAL_MS} ms x {MSEE_BFD_MULTIPLIER} = {} ms)",
                    self.bfd_interval_ms,
                    self.bfd_multiplier,
                    self.detection_ms(),
                    MSEE_BFD_INTERVAL_MS * u64::from(MSEE_BFD_MULTIPLIER)
                )
            })
    }
}

impl Default for Circuit {
    fn default() -> Self {
        Self {
            mode: CircuitMode::default(),
            bfd: default_bfd(),
            bfd_interval_ms: default_bfd_interval_ms(),
            bfd_multiplier: default_bfd_multiplier(),
            hold_time_s: default_hold_time_s(),
            premium: false,
            connection_weight: 0,
            primary: LinkSpec::circuit(),
            secondary: LinkSpec::circuit(),
            advertise: None,
            prepend: 0,
            local_pref: default_er_local_pref(),
        }
    }
}

fn default_er_local_pref() -> u32 {
    100
}

/// One link's properties (the same both ways).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// One-way propagation delay in milliseconds.
    #[serde(default)]
    pub delay_ms: f64,
    /// Line rate in Mbit/s (`0`: unlimited).
    #[serde(default)]
    pub rate_mbps: f64,
    /// Transmit queue in frames.
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// Probability that a frame is lost.
    #[serde(default)]
    pub loss: f64,
    /// Probability that a frame is held back and overtaken.
    #[serde(default)]
    pub reorder: f64,
    /// Extra delay of a held-back frame, in milliseconds.
    #[serde(default = "default_reorder_delay")]
    pub reorder_delay_ms: f64,
    /// IP MTU of the link.
    #[serde(default = "default_mtu")]
    pub mtu: usize,
}

fn default_queue() -> usize {
    256
}
fn default_reorder_delay() -> f64 {
    1.0
}
fn default_mtu() -> usize {
    1500
}

impl LinkSpec {
    /// A circuit link: 2 ms, 1 Gbit/s.
    pub fn circuit() -> Self {
        Self {
            delay_ms: 2.0,
            rate_mbps: 1000.0,
            ..Self::lan()
        }
    }

    /// A LAN link: 0.05 ms, 10 Gbit/s.
    pub fn lan() -> Self {
        Self {
            delay_ms: 0.05,
            rate_mbps: 10_000.0,
            queue: default_queue(),
            loss: 0.0,
            reorder: 0.0,
            reorder_delay_ms: default_reorder_delay(),
            mtu: default_mtu(),
        }
    }
}

/// The hub's VPN gateway (`[vpn_gateway]`). Not the circuit's
/// `mode = "active-active"`, which is about the ExpressRoute circuit's two
/// links.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VpnGateway {
    /// Two gateway instances (Microsoft's "Configure active-active VPN
    /// gateways"): each with its own tunnel endpoint (10.100.255.4 and
    /// 10.100.255.5), its own tunnel from the on-premises edge (`vpn`,
    /// `vpn2`) with its own SA pair and BGP session; flows spread over
    /// both (ECMP by flow hash at the edge and at the hub). Off: one
    /// instance, one tunnel.
    #[serde(default)]
    pub active_active: bool,
}

impl VpnGateway {
    /// One instance (the default): nothing to serialize.
    pub(crate) fn is_single(&self) -> bool {
        !self.active_active
    }

    /// How many gateway instances (and tunnels): 1 or 2.
    pub fn instances(&self) -> usize {
        1 + usize::from(self.active_active)
    }
}

/// The on-premises side.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OnPrem {
    /// The host's address with its prefix length; the edge's LAN port is
    /// the first address of that subnet.
    #[serde(default = "default_onprem_host")]
    pub host: IpNet,
    /// The on-premises AS number.
    #[serde(default = "default_onprem_asn")]
    pub asn: u32,
    /// Prefixes advertised on both ExpressRoute private peering sessions.
    #[serde(default)]
    pub advertise_er: Vec<IpNet>,
    /// Prefixes advertised on the VPN's BGP session.
    #[serde(default)]
    pub advertise_vpn: Vec<IpNet>,
    /// Extra synthetic /24 prefixes advertised on ExpressRoute (from
    /// 100.64.0.0/10), to exercise the private peering prefix limit.
    #[serde(default)]
    pub extra_er_prefixes: u32,
    /// LOCAL_PREF the edge gives routes learned over the VPN (ER: 100).
    #[serde(default = "default_vpn_local_pref")]
    pub vpn_local_pref: u32,
    /// What the edge accepts from the VPN session: `all`, or everything
    /// but prefixes that hold Azure's tunnel endpoint (the default: the
    /// tunnel's own outer packets then stay on ExpressRoute).
    #[serde(default)]
    pub vpn_import: VpnImport,
    /// The DF bit on the outer header of the edge's ESP packets: `copy`
    /// (the inner packet's, the default), `set` or `clear` (as a router's
    /// "df-bit clear": an outer packet over the circuit MTU is then
    /// fragmented and the gateway reassembles it).
    #[serde(default)]
    pub tunnel_df: DfMode,
    /// Times the edge prepends its AS on the ExpressRoute sessions.
    #[serde(default)]
    pub er_prepend: u8,
    /// What the edge does with Azure-bound traffic that would leave in
    /// plaintext: `report` or `drop` (fail closed).
    #[serde(default)]
    pub policy: PolicyAction,
    /// The LAN link.
    #[serde(default = "LinkSpec::lan")]
    pub lan: LinkSpec,
}

/// What the on-premises edge accepts from the VPN's BGP session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum VpnImport {
    /// Every prefix Azure advertises over the VPN, the hub's address
    /// space (which holds the VPN gateway's tunnel endpoint) included.
    All,
    /// Every prefix but those that contain Azure's tunnel endpoint: the
    /// route to the endpoint stays on ExpressRoute.
    #[default]
    ExcludeTunnelEndpoint,
}

fn default_onprem_host() -> IpNet {
    IpNet::V4(ipnet::Ipv4Net::new_assert([10, 0, 1, 10].into(), 16))
}
fn default_onprem_asn() -> u32 {
    65001
}
fn default_vpn_local_pref() -> u32 {
    200
}

/// The Azure side.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Azure {
    /// The VNet host's address with its prefix length; the hub's VNet port
    /// is the first address of that subnet.
    #[serde(default = "default_azure_host")]
    pub host: IpNet,
    /// VNet address spaces. Azure advertises every VNet and hub address
    /// space identically over ExpressRoute and over the VPN: the two lists
    /// are joined and both sessions carry the union (a note says when they
    /// differ). More than 1,000 take the ExpressRoute connection down.
    #[serde(default)]
    pub advertise_er: Vec<IpNet>,
    /// VNet address spaces (joined with `advertise_er`); the edge's
    /// must-encrypt policy covers these.
    #[serde(default)]
    pub advertise_vpn: Vec<IpNet>,
    /// Extra synthetic VNet prefixes (from 10.200.0.0/16 as /28s), to
    /// exercise the 1,000-prefix limit.
    #[serde(default)]
    pub extra_vnet_prefixes: u32,
    /// The hub's address space, which holds the VPN gateway's private
    /// tunnel endpoint (10.100.255.4); advertised over both paths.
    #[serde(default = "default_hub_prefix")]
    pub hub_prefix: IpNet,
    /// The hub's routing preference for identical prefixes.
    #[serde(default = "default_hub_preference")]
    pub hub_routing_preference: SelectionMode,
    /// What the hub does with on-prem-bound traffic that would leave in
    /// plaintext: `report` or `drop` (fail closed).
    #[serde(default)]
    pub policy: PolicyAction,
    /// The VPN tunnel's inner MTU.
    #[serde(default = "default_tunnel_mtu")]
    pub tunnel_mtu: u16,
    /// The MSS the tunnel clamps TCP SYNs to (0: no clamping).
    #[serde(default = "default_mss_clamp")]
    pub mss_clamp: u16,
    /// The VNet link.
    #[serde(default = "LinkSpec::lan")]
    pub vnet: LinkSpec,
    /// The VNet fragments IPv4 packets over 1,400 bytes and drops
    /// out-of-order fragments (Microsoft's "Virtual network TCP/IP
    /// performance tuning"); `true` turns on the opt-in reassembly of
    /// out-of-order fragments, so they are delivered.
    #[serde(default)]
    pub reassemble_out_of_order_fragments: bool,
}

fn default_azure_host() -> IpNet {
    IpNet::V4(ipnet::Ipv4Net::new_assert([10, 1, 0, 10].into(), 16))
}
fn default_hub_prefix() -> IpNet {
    IpNet::V4(ipnet::Ipv4Net::new_assert([10, 100, 255, 0].into(), 27))
}
fn default_hub_preference() -> SelectionMode {
    SelectionMode::ExpressRouteFirst
}
fn default_tunnel_mtu() -> u16 {
    1400
}
fn default_mss_clamp() -> u16 {
    1350
}

/// Which host a flow starts at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    /// The on-premises host.
    Onprem,
    /// The Azure VNet host.
    Azure,
}

impl Side {
    /// The other side.
    pub fn peer(self) -> Side {
        match self {
            Side::Onprem => Side::Azure,
            Side::Azure => Side::Onprem,
        }
    }

    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Onprem => "onprem",
            Side::Azure => "azure",
        }
    }
}

/// The kind of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowKind {
    /// A TCP bulk transfer of `bytes`, every byte checked.
    Tcp,
    /// ICMP echo, `count` requests every `interval_ms`.
    Ping,
    /// UDP datagrams, `count` every `interval_ms`.
    Udp,
}

/// One traffic flow.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Its name in the summary.
    pub name: String,
    /// TCP, ping or UDP.
    pub kind: FlowKind,
    /// The sending side (the client for TCP).
    pub from: Side,
    /// TCP: bytes to transfer.
    #[serde(default = "default_bytes")]
    pub bytes: u64,
    /// Ping/UDP: packets to send.
    #[serde(default = "default_count")]
    pub count: u64,
    /// Ping/UDP: time between packets, in milliseconds.
    #[serde(default = "default_interval")]
    pub interval_ms: f64,
    /// Ping/UDP: payload bytes.
    #[serde(default = "default_payload")]
    pub payload: usize,
    /// Destination port (TCP/UDP); derived from the flow's index if 0.
    #[serde(default)]
    pub port: u16,
    /// DSCP the sending host marks the flow with (0: unmarked).
    #[serde(default)]
    pub dscp: u8,
    /// When it starts, in milliseconds.
    #[serde(default)]
    pub start_ms: u64,
}

fn default_bytes() -> u64 {
    1_000_000
}
fn default_count() -> u64 {
    100
}
fn default_interval() -> f64 {
    10.0
}
fn default_payload() -> usize {
    100
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// The VPN tunnel goes down: its BGP session and every route learned
    /// on it are withdrawn at once (IKE/BGP over the tunnel).
    TunnelDown,
    /// The VPN tunnel comes back: its routes are advertised again.
    TunnelUp,
    /// A link goes down; its BGP session follows after the detection time.
    LinkDown,
    /// A link comes back; its BGP session re-establishes after the
    /// detection time.
    LinkUp,
    /// A link goes down and up `count` times (`down_ms` / `up_ms`).
    Flap,
    /// `from` starts advertising `prefixes` (on-premises: `over` one
    /// path; Azure: over both, as it always does).
    Advertise,
    /// `from` withdraws `prefixes`.
    Withdraw,
    /// On-premises prepends its AS `value` times on `over` (`er`: every
    /// circuit, or `circuit-1` / `circuit-2`).
    Prepend,
    /// The edge gives routes learned on `over` (`vpn`, `er`, `circuit-1`,
    /// `circuit-2`) LOCAL_PREF `value`.
    LocalPref,
    /// An active-active VPN gateway's instance `instance` (1 or 2) fails:
    /// its tunnel goes down and its BGP session's routes are withdrawn at
    /// once; the other instance's tunnel carries everything.
    InstanceDown,
    /// The instance comes back: its tunnel and routes return.
    InstanceUp,
}

impl FaultKind {
    /// Whether it changes what is advertised or preferred (rather than a
    /// link or the tunnel).
    pub(crate) fn is_route_change(self) -> bool {
        matches!(
            self,
            FaultKind::Advertise | FaultKind::Withdraw | FaultKind::Prepend | FaultKind::LocalPref
        )
    }
}

/// One entry of the fault timeline.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// When, in milliseconds.
    pub at_ms: u64,
    /// What.
    pub kind: FaultKind,
    /// Which link (`er-primary`, `er-secondary`, `onprem-lan`,
    /// `azure-vnet`, `msee-hub`; `er2-primary`, `er2-secondary`,
    /// `msee2-hub` with a second circuit) for link faults, or `circuit-1`
    /// / `circuit-2`: both links of that circuit.
    #[serde(default)]
    pub link: Option<String>,
    /// Flap: time down per cycle, in milliseconds.
    #[serde(default = "default_flap_ms")]
    pub down_ms: u64,
    /// Flap: time up per cycle, in milliseconds.
    #[serde(default = "default_flap_ms")]
    pub up_ms: u64,
    /// Flap: cycles.
    #[serde(default = "default_flap_count")]
    pub count: u32,
    /// Advertise / withdraw: who (`onprem` or `azure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Side>,
    /// Route changes: the path (`er`, `vpn`, `circuit-1`, `circuit-2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<String>,
    /// Advertise / withdraw: the prefixes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<IpNet>,
    /// Prepend: times; local-pref: the LOCAL_PREF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<u32>,
    /// Instance faults: the VPN gateway instance (1: tunnel `vpn`, 2:
    /// tunnel `vpn2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<u8>,
}

fn default_flap_ms() -> u64 {
    500
}
fn default_flap_count() -> u32 {
    3
}

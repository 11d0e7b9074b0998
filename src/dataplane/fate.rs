//! What became of a frame: exactly one [`Outcome`] (forwarded on an
//! interface, delivered to the node, or dropped with a [`DropReason`]) plus
//! what a report needs: the inner flow, the route that decided, the SA it
//! was encrypted or decrypted with, and the policy verdict.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Serialize, Serializer};

use crate::esp::EspDrop;
use crate::fib::{InterfaceId, NextHop};
use crate::frag::FragmentDrop;
use crate::reason::{node_drop_enum, reason_enum};
use crate::wire::{FlowKey, WireDrop};

/// The fate of one frame (an input, or a packet the node generated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fate {
    /// Forwarded, delivered or dropped.
    pub outcome: Outcome,
    /// The IP flow (5-tuple) of the packet, after decapsulation when it
    /// arrived in ESP: the inner flow. `None` for ARP and frames that did
    /// not parse as IP.
    pub flow: Option<FlowKey>,
    /// The route the FIB chose for the (inner) destination, when a lookup
    /// was made: the matched prefix and the next hop taken.
    pub route: Option<RouteHit>,
    /// The packet arrived in ESP and was decapsulated with this SA.
    pub decrypted: Option<SaUse>,
    /// The packet left in ESP, encapsulated with this SA.
    pub encrypted: Option<SaUse>,
    /// The must-encrypt policy verdict for the egress.
    pub policy: PolicyVerdict,
}

const _: () = assert!(size_of::<Fate>() <= 144);

impl Fate {
    /// A fate with only an outcome.
    pub(crate) const fn new(outcome: Outcome) -> Self {
        Self {
            outcome,
            flow: None,
            route: None,
            decrypted: None,
            encrypted: None,
            policy: PolicyVerdict::Unchecked,
        }
    }

    /// A drop with only its reason.
    pub(crate) const fn dropped(reason: DropReason) -> Self {
        Self::new(Outcome::Dropped(reason))
    }

    /// The interface the frame left on, when forwarded.
    pub fn egress(&self) -> Option<InterfaceId> {
        match self.outcome {
            Outcome::Forwarded(interface) => Some(interface),
            _ => None,
        }
    }

    /// The drop reason, when dropped.
    pub fn drop_reason(&self) -> Option<DropReason> {
        match self.outcome {
            Outcome::Dropped(reason) => Some(reason),
            _ => None,
        }
    }

    /// The prefix the route lookup matched for this packet's destination.
    pub fn matched_prefix(&self) -> Option<IpNet> {
        Some(self.route?.prefix(self.flow?.destination))
    }

    /// True when forwarded inside ESP.
    pub fn left_encrypted(&self) -> bool {
        self.egress().is_some() && self.encrypted.is_some()
    }
}

/// The one thing that happened to a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Sent on this Ethernet interface (the buffer holds the frame as sent:
    /// L2 rewritten, TTL decremented, possibly inside ESP).
    Forwarded(InterfaceId),
    /// Consumed by the node itself (the buffer content is unspecified).
    Delivered(Delivery),
    /// Dropped (the buffer content is unspecified: it may be partly
    /// rewritten or, after a failed decryption, zeroed).
    Dropped(DropReason),
}

reason_enum! {
    /// What the node did with a frame addressed to itself.
    #[derive(PartialOrd, Ord)]
    pub enum Delivery (prefix "") {
        /// An ARP request for one of our addresses: answered (RFC 826).
        ArpRequest = "arp_request",
        /// Another ARP message for us (a reply, an announcement): neighbours
        /// are static, nothing is learned.
        ArpOther = "arp_other",
        /// A Neighbor Solicitation for one of our addresses: answered with an
        /// advertisement (RFC 4861).
        NeighborSolicitation = "neighbor_solicitation",
        /// An ICMP or ICMPv6 echo request to one of our addresses: answered.
        EchoRequest = "echo_request",
        /// Any other packet to our addresses (other ICMP, TCP, UDP, IKE, NAT-T
        /// keepalives): the node has no local stack to hand it to.
        Other = "other",
        /// An IPv4 fragment for us, held for reassembly (RFC 4303 3.4.1: ESP
        /// is reassembled before decapsulation); the fragment that completes a
        /// datagram takes the datagram's fate instead.
        FragmentHeld = "fragment_held",
        /// A datagram for the node's control plane (`crate::control`): IKE
        /// on UDP 500, or on UDP 4500 behind the non-ESP marker, to the
        /// endpoint of a tunnel keyed by IKE. The buffer holds the IP packet
        /// as it arrived (the Ethernet header pulled off).
        Control = "control",
    }
}

/// A route lookup's answer, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteHit {
    /// Length of the longest matching prefix; the prefix is the looked-up
    /// destination masked to it ([`RouteHit::prefix`], [`Fate::matched_prefix`]).
    pub prefix_len: u8,
    /// The next hop taken (one member of the ECMP group).
    pub next_hop: NextHop,
}

impl RouteHit {
    /// The matched prefix of a lookup for `destination`.
    pub fn prefix(&self, destination: IpAddr) -> IpNet {
        IpNet::new(destination, self.prefix_len)
            .map(|net| net.trunc())
            .unwrap_or_else(|_| IpNet::from(destination))
    }
}

/// An SA used on a packet: the tunnel interface, the SPI and the sequence
/// number the packet carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SaUse {
    /// The esp-tunnel interface.
    pub tunnel: InterfaceId,
    /// The SA's SPI.
    pub spi: u32,
    /// The packet's 64-bit sequence number.
    pub seq: u64,
}

/// Index of a policy in the node configuration's `policies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PolicyId(pub u16);

/// The must-encrypt policy verdict of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PolicyVerdict {
    /// The packet was not forwarded (or is not IP): nothing to check.
    #[default]
    Unchecked,
    /// No policy covers the packet's addresses.
    NotCovered,
    /// A policy covers it and it left encrypted (in our ESP tunnel, or it
    /// was ESP already).
    Encrypted(PolicyId),
    /// A policy covers it and it left in plaintext: a violation. The packet
    /// was forwarded when the policy reports, dropped when it fails closed.
    Violation(PolicyId),
}

impl PolicyVerdict {
    /// The policy that covered the packet.
    pub fn policy(&self) -> Option<PolicyId> {
        match self {
            PolicyVerdict::Encrypted(id) | PolicyVerdict::Violation(id) => Some(*id),
            _ => None,
        }
    }

    /// True for a violation.
    pub fn is_violation(&self) -> bool {
        matches!(self, PolicyVerdict::Violation(_))
    }

    /// Stable snake_case name for reports.
    pub const fn as_str(&self) -> &'static str {
        match self {
            PolicyVerdict::Unchecked => "unchecked",
            PolicyVerdict::NotCovered => "not_covered",
            PolicyVerdict::Encrypted(_) => "encrypted",
            PolicyVerdict::Violation(_) => "violation",
        }
    }
}

node_drop_enum! {
    /// Why a frame was dropped: a wire check, the ESP tunnel, reassembly,
    /// or a forwarding decision. One counter per reason; [`DropReason::as_str`]
    /// names it (a layer's reasons under its prefix: `esp_`, `fragment_`).
    pub enum DropReason {
        layers {
            /// A parse or validation failure of the frame or its packet (Ethernet,
            /// ARP, IPv4/IPv6 headers and checksums, ICMP, Neighbor Discovery).
            Wire(WireDrop),
            /// The ESP tunnel refused the packet (`esp_` + the [`EspDrop`] name).
            Esp(EspDrop),
            /// Reassembly refused a fragment for us (`fragment_` + the
            /// [`FragmentDrop`] name).
            Fragment(FragmentDrop),
        }
        own {
            /// The ingress interface id is not an interface of this node.
            UnknownInterface = "unknown_interface",
            /// Frames arrive on Ethernet interfaces; the id named a tunnel.
            IngressNotEthernet = "ingress_not_ethernet",
            /// The destination MAC is another host's unicast address.
            NotOurMac = "not_our_mac",
            /// An ARP request for an address that is not ours (or an announcement).
            ArpNotForUs = "arp_not_for_us",
            /// A Neighbor Solicitation for a target that is not ours.
            NdNotForUs = "nd_not_for_us",
            /// The destination is a multicast or broadcast IP address: no
            /// multicast routing here.
            MulticastNotForwarded = "multicast_not_forwarded",
            /// A unicast IP packet that arrived in a link-layer broadcast or
            /// multicast frame (RFC 1812 5.3.4).
            LinkBroadcast = "link_broadcast",
            /// The source address cannot be a host's (RFC 1812 5.3.7, RFC 4443).
            InvalidSource = "invalid_source",
            /// No route to the destination (an ICMP unreachable was generated).
            NoRoute = "no_route",
            /// No static neighbour for the next hop (host unreachable generated).
            NoNeighbor = "no_neighbor",
            /// Larger than the egress or tunnel MTU with DF set, or IPv6: ICMP
            /// fragmentation needed / packet too big generated (RFC 1191, 8201).
            PacketTooBig = "packet_too_big",
            /// Larger than a tunnel's MTU without DF (the node fragments outer
            /// packets and plain egress, not inner packets before ESP), or a packet
            /// the node made itself, or an MTU too small to fragment to.
            FragmentationUnsupported = "fragmentation_unsupported",
            /// A must-encrypt policy that fails closed: the packet would have left
            /// in plaintext.
            PolicyViolation = "policy_violation",
            /// A tunnel's outer packet routed into a tunnel, or ESP inside ESP.
            TunnelRecursion = "tunnel_recursion",
            /// No route to a tunnel's remote endpoint.
            TunnelNoRoute = "tunnel_no_route",
            /// The encapsulated packet would exceed the underlay interface's MTU.
            TunnelOuterTooBig = "tunnel_outer_too_big",
            /// Routed into a tunnel that has no SA (IKE has not brought its
            /// CHILD_SA up, or the peer is dead): dropped, never sent in clear.
            TunnelNoSa = "tunnel_no_sa",
        }
    }
}

impl DropReason {
    /// The reason named `name` by [`DropReason::as_str`].
    pub fn from_name(name: &str) -> Option<DropReason> {
        Self::all().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DropReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl From<WireDrop> for DropReason {
    fn from(reason: WireDrop) -> Self {
        DropReason::Wire(reason)
    }
}

impl From<EspDrop> for DropReason {
    fn from(reason: EspDrop) -> Self {
        DropReason::Esp(reason)
    }
}

impl From<FragmentDrop> for DropReason {
    fn from(reason: FragmentDrop) -> Self {
        DropReason::Fragment(reason)
    }
}

impl From<crate::wire::WireError> for DropReason {
    fn from(error: crate::wire::WireError) -> Self {
        DropReason::Wire(error.drop_reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names report.json and expectation files use, in counter order:
    /// pinned, so a change to a declaration cannot rename or reorder them.
    const NAMES: &str = "truncated ip_version ipv4_header_length ipv4_total_length \
        ipv4_checksum ipv6_payload_length ipv6_jumbogram ipv6_extensions ttl_expired \
        vlan_tagged unsupported_ethertype arp_unsupported sender_mac_not_unicast \
        icmp_checksum icmp_type fragmented ipv6_extensions_unsupported \
        destination_not_unicast ndp_invalid icmp_suppressed_about_icmp_error \
        icmp_suppressed_about_non_first_fragment icmp_suppressed_about_multicast \
        icmp_suppressed_source_not_unicast buffer_too_small unexpected_protocol \
        esp_unknown_spi esp_not_esp esp_replayed esp_outside_window esp_icv_failed \
        esp_bad_padding esp_next_header_mismatch esp_truncated esp_bad_outer_header \
        esp_fragment esp_bad_inner_packet esp_dummy_packet esp_sequence_cycled \
        esp_sa_expired esp_traffic_selector_mismatch esp_ecn_ce_on_not_ect \
        esp_buffer_too_small esp_oversize fragment_overlap fragment_duplicate \
        fragment_too_large fragment_inconsistent_end fragment_bad_length \
        fragment_memory_cap fragment_table_full fragment_too_many_fragments \
        fragment_buffer_too_small unknown_interface ingress_not_ethernet not_our_mac \
        arp_not_for_us nd_not_for_us multicast_not_forwarded link_broadcast \
        invalid_source no_route no_neighbor packet_too_big fragmentation_unsupported \
        policy_violation tunnel_recursion tunnel_no_route tunnel_outer_too_big tunnel_no_sa";

    #[test]
    fn names_are_the_published_ones_in_counter_order() {
        let names: Vec<&str> = DropReason::all().map(DropReason::as_str).collect();
        assert_eq!(names, NAMES.split_whitespace().collect::<Vec<_>>());
    }

    #[test]
    fn indices_are_dense_and_names_unique() {
        let all: Vec<DropReason> = DropReason::all().collect();
        assert_eq!(all.len(), DropReason::COUNT);
        for (i, reason) in all.iter().enumerate() {
            assert_eq!(reason.index(), i, "{reason:?}");
            assert_eq!(DropReason::from_name(reason.as_str()), Some(*reason));
            assert!(
                reason
                    .as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            );
        }
        let mut names: Vec<&str> = all.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT);
    }

    #[test]
    fn layer_names_carry_the_layer_prefix() {
        for reason in EspDrop::ALL {
            assert_eq!(
                DropReason::Esp(reason).as_str(),
                format!("esp_{}", reason.as_str())
            );
        }
        for reason in FragmentDrop::ALL {
            assert_eq!(
                DropReason::Fragment(reason).as_str(),
                format!("fragment_{}", reason.as_str())
            );
        }
        for reason in WireDrop::ALL {
            assert_eq!(DropReason::Wire(reason).as_str(), reason.as_str());
        }
    }

    #[test]
    fn delivery_kinds_are_in_counter_order() {
        for (i, kind) in Delivery::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i);
        }
    }
}

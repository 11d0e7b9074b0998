//! Target `esp_decap`: valid ESP packets sealed by a real [`OutboundSa`]
//! (every suite, ESN on and off, NAT-T, IPv4 and IPv6 outer, TFC padding)
//! or by Scapy (the fixtures in `pcaps/esp/`), delivered to the matching
//! [`InboundSa`] in any order, replayed, and mutated arbitrarily.
//!
//! Oracles, after every delivery:
//! - no panic; a drop is counted under the reason returned;
//! - a packet is accepted only if it carries the exact ESP bytes of a sealed
//!   packet whose sequence number the window allows, and then it decrypts to
//!   exactly the inner packet sealed (its ECN combined per RFC 6040, the IPv4
//!   checksum still valid);
//! - a genuine packet that the window allows is accepted;
//! - the replay window matches a naive reference: it never moves on a
//!   rejected packet, not even one whose ESP bytes are authentic and that is
//!   dropped after its ICV verified (CE on a Not-ECT inner packet): decap
//!   checks everything before it updates the window.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use arbitrary::{Arbitrary, Unstructured};
use erdp::esp::{
    Algorithm, EcnMode, EspDrop, InboundSa, NatT, OutboundSa, ReplayVerdict, SaConfig, SecretKey,
    TunnelEndpoints,
};
use erdp::packet::PacketBuf;
use etherparse::{IpDscp, IpEcn, IpNumber, Ipv4Header, Ipv6FlowLabel, Ipv6Header};

use super::esp_model::{
    NaiveWindow, Standing, decapsulated_ecn, ecn_of, fix_outer_lengths, internet_checksum,
};
use super::hex_prefix;

/// Bounds that keep one input fast.
pub const MAX_PACKETS: usize = 8;
pub const MAX_DELIVERIES: usize = 32;
pub const MAX_MUTATIONS: usize = 8;
pub const MAX_PAYLOAD: usize = 512;
/// `skip` values from here on jump whole 2^32 subspaces (ESN only).
pub const SUBSPACE_JUMP: u16 = 0xfff0;
/// Inputs whose first byte is at least this replay a Scapy fixture.
pub const FIXTURE_MODE: u8 = 0xf0;

/// The AEAD suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum Suite {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

/// UDP encapsulation (RFC 3948).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum NatTMode {
    Off,
    Default,
    /// The receiver's port and the sender's.
    Ports {
        local: u16,
        remote: u16,
    },
}

/// One inner packet to seal. `skip` sequence numbers are left out before
/// it; with ESN, values from [`SUBSPACE_JUMP`] up skip 1 to 16 whole 2^32
/// subspaces instead (a sender far ahead: RFC 4303 A3 resynchronisation).
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub struct InnerSpec {
    pub ipv6: bool,
    /// DSCP and ECN.
    pub tos: u8,
    pub protocol: u8,
    pub src: u128,
    pub dst: u128,
    pub payload: Vec<u8>,
    pub skip: u16,
}

/// A change to a packet on its way; positions are taken modulo the length.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub enum Mutation {
    FlipBit {
        at: u16,
        bit: u8,
    },
    SetByte {
        at: u16,
        value: u8,
    },
    Truncate {
        len: u16,
    },
    Append(Vec<u8>),
    Insert {
        at: u16,
        bytes: Vec<u8>,
    },
    Remove {
        at: u16,
        len: u8,
    },
    /// Copy bytes at the same offsets from another sealed packet.
    Splice {
        from: u8,
        at: u16,
        len: u16,
    },
}

/// One packet delivered to the receiver.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub struct Delivery {
    /// Index into the sealed packets (modulo their count).
    pub packet: u8,
    pub mutations: Vec<Mutation>,
    /// Rewrite the outer length fields after mutating.
    pub fix_lengths: bool,
}

/// A generated case: an SA, the packets it seals, what is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub struct EspCase {
    pub suite: Suite,
    pub key: [u8; 36],
    pub spi: u32,
    pub esn: bool,
    pub outer_ipv6: bool,
    pub nat_t: NatTMode,
    /// Replay window: 64 + this modulo 2048.
    pub window: u16,
    /// ESN resynchronisation after 1 + this modulo 8 ICV failures.
    pub resync_after: u8,
    /// ... trying this modulo 5 higher values.
    pub resync_tries: u8,
    /// TFC padding target: 4 times this (0: off).
    pub tfc_pad_to: u8,
    pub ecn_compatibility: bool,
    pub start_high: u8,
    pub start_low: u32,
    pub packets: Vec<InnerSpec>,
    pub deliveries: Vec<Delivery>,
}

/// The fuzz entry: a first byte of at least [`FIXTURE_MODE`] replays the
/// rest as one raw packet to a Scapy fixture's SA (then the fixture's
/// packets); anything else decodes an [`EspCase`].
pub fn run(data: &[u8]) {
    match data.split_first() {
        Some((&mode, raw)) if mode >= FIXTURE_MODE => {
            super::esp_fixtures::check_fixture(usize::from(mode - FIXTURE_MODE), raw);
        }
        Some((_, rest)) => {
            if let Ok(case) = EspCase::arbitrary_take_rest(Unstructured::new(rest)) {
                check(&case);
            }
        }
        None => {}
    }
}

/// A packet the sender sealed: the outer IP packet, where its ESP part
/// starts, its full sequence number and the inner packet.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub frame: Vec<u8>,
    pub esp_offset: usize,
    pub seq: u64,
    pub inner: Vec<u8>,
}

impl Sealed {
    fn esp(&self) -> &[u8] {
        &self.frame[self.esp_offset..]
    }
}

fn algorithm(suite: Suite) -> Algorithm {
    match suite {
        Suite::Aes128Gcm => Algorithm::Aes128Gcm,
        Suite::Aes256Gcm => Algorithm::Aes256Gcm,
        Suite::ChaCha20Poly1305 => Algorithm::ChaCha20Poly1305,
    }
}

/// The inner IP packet of a spec, built with etherparse.
pub fn build_inner(spec: &InnerSpec) -> Vec<u8> {
    let payload = &spec.payload[..spec.payload.len().min(MAX_PAYLOAD)];
    let mut out = Vec::with_capacity(40 + payload.len());
    let written = if spec.ipv6 {
        // Payload length 0 with a Hop-by-Hop next header is a jumbogram
        // without its option (RFC 2675), which the wire layer refuses as
        // malformed: build No Next Header (59) for that one case.
        let next_header = match (spec.protocol, payload.is_empty()) {
            (0, true) => IpNumber::IPV6_NO_NEXT_HEADER,
            (protocol, _) => IpNumber(protocol),
        };
        Ipv6Header {
            traffic_class: spec.tos,
            flow_label: Ipv6FlowLabel::ZERO,
            payload_length: payload.len() as u16,
            next_header,
            hop_limit: 64,
            source: spec.src.to_be_bytes(),
            destination: spec.dst.to_be_bytes(),
        }
        .write(&mut out)
        .is_ok()
    } else {
        Ipv4Header::new(
            payload.len() as u16,
            64,
            IpNumber(spec.protocol),
            (spec.src as u32).to_be_bytes(),
            (spec.dst as u32).to_be_bytes(),
        )
        .ok()
        .and_then(|mut header| {
            header.dscp = IpDscp::try_new(spec.tos >> 2).ok()?;
            header.ecn = IpEcn::try_new(spec.tos & 3).ok()?;
            header.write(&mut out).ok()
        })
        .is_some()
    };
    assert!(written, "the harness could not build an inner packet");
    out.extend_from_slice(payload);
    out
}

/// The receiver's and the sender's configuration for a case.
fn configs(case: &EspCase) -> (SaConfig, SaConfig) {
    let algorithm = algorithm(case.suite);
    let key = SecretKey::from_bytes(&case.key[..algorithm.key_len() + 4]);
    let spi = 256 + case.spi % (u32::MAX - 255);
    let mut config = SaConfig::new(spi, algorithm, key);
    config.esn = case.esn;
    config.replay_window = 64 + u32::from(case.window % 2048);
    config.esn_resync_after_failures = 1 + u32::from(case.resync_after % 8);
    config.esn_resync_max_tries = u32::from(case.resync_tries % 5);
    config.tfc_pad_to = u16::from(case.tfc_pad_to) * 4;
    if case.ecn_compatibility {
        config.ecn = EcnMode::Compatibility;
    }
    let (receiver, sender): (IpAddr, IpAddr) = if case.outer_ipv6 {
        (
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into(),
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).into(),
        )
    } else {
        (
            Ipv4Addr::new(192, 0, 2, 1).into(),
            Ipv4Addr::new(198, 51, 100, 2).into(),
        )
    };
    let mut inbound = config.clone();
    inbound.tunnel = Some(TunnelEndpoints {
        local: receiver,
        remote: sender,
    });
    let mut outbound = config;
    outbound.tunnel = Some(TunnelEndpoints {
        local: sender,
        remote: receiver,
    });
    let (receiver_port, sender_port) = match case.nat_t {
        NatTMode::Off => (None, None),
        NatTMode::Default => (Some(4500), Some(4500)),
        // Port 0 is refused by the configuration (UDP ports are non-zero).
        NatTMode::Ports { local, remote } => (Some(local.max(1)), Some(remote.max(1))),
    };
    if let (Some(receiver_port), Some(sender_port)) = (receiver_port, sender_port) {
        inbound.nat_t = Some(NatT {
            local_port: receiver_port,
            remote_port: sender_port,
        });
        outbound.nat_t = Some(NatT {
            local_port: sender_port,
            remote_port: receiver_port,
        });
    }
    (inbound, outbound)
}

/// Runs one generated case; panics on the first broken oracle.
pub fn check(case: &EspCase) -> Tally {
    let (inbound_config, outbound_config) = configs(case);
    let Ok(receiver) = InboundSa::new(&inbound_config) else {
        panic!("a valid inbound SA was refused: {inbound_config:?}");
    };
    let Ok(sender) = OutboundSa::new(&outbound_config) else {
        panic!("a valid outbound SA was refused: {outbound_config:?}");
    };
    let specs: Vec<InnerSpec> = if case.packets.is_empty() {
        vec![InnerSpec {
            ipv6: false,
            tos: 0,
            protocol: 17,
            src: 0x0a01_0001,
            dst: 0x0a02_0001,
            payload: vec![0x55; 32],
            skip: 0,
        }]
    } else {
        case.packets.iter().take(MAX_PACKETS).cloned().collect()
    };
    let span: u64 = specs.iter().map(|s| 1 + u64::from(s.skip)).sum();
    let start = if case.esn {
        (u64::from(case.start_high) << 32 | u64::from(case.start_low)).max(1)
    } else {
        u64::from(case.start_low).clamp(1, u64::from(u32::MAX) - span)
    };

    let mut sealed = Vec::with_capacity(specs.len());
    let mut last = start - 1;
    let mut buf = PacketBuf::new();
    for spec in &specs {
        last += match spec.skip.checked_sub(SUBSPACE_JUMP) {
            Some(subspaces) if case.esn => u64::from(subspaces + 1) << 32,
            _ => u64::from(spec.skip),
        };
        sender.resume_after(last);
        let inner = build_inner(spec);
        buf.load(&inner, PacketBuf::DEFAULT_HEADROOM)
            .expect("an inner packet fits the buffer");
        let outcome = sender
            .encapsulate(&mut buf)
            .unwrap_or_else(|e| panic!("sealing a valid packet failed: {e}"));
        last = outcome.seq;
        let frame = buf.as_slice().to_vec();
        let esp_offset = match (case.outer_ipv6, inbound_config.nat_t.is_some()) {
            (false, false) => 20,
            (false, true) => 28,
            (true, false) => 40,
            (true, true) => 48,
        };
        sealed.push(Sealed {
            frame,
            esp_offset,
            seq: outcome.seq,
            inner,
        });
    }

    let mut replay = Replay::new(&receiver, &sealed, inbound_config.replay_window, case.esn);
    replay.window.reset_to(start - 1);
    receiver.replay_window().reset_to(start - 1);
    replay.resync_tries = inbound_config.esn_resync_max_tries;
    replay.check_probes(&[], "after reset");

    let deliveries: &[Delivery] = &case.deliveries[..case.deliveries.len().min(MAX_DELIVERIES)];
    for (n, delivery) in deliveries.iter().enumerate() {
        let index = usize::from(delivery.packet) % sealed.len();
        let mut frame = sealed[index].frame.clone();
        for mutation in delivery.mutations.iter().take(MAX_MUTATIONS) {
            mutate(&mut frame, mutation, &sealed);
        }
        if delivery.fix_lengths {
            fix_outer_lengths(&mut frame);
        }
        replay.deliver(&frame, &format!("delivery {n} (packet {index})"));
    }
    // Then every genuine packet once more, in order: whatever came before,
    // each is accepted or refused exactly as the window says.
    for (index, packet) in sealed.iter().enumerate() {
        replay.deliver(&packet.frame, &format!("final pass, packet {index}"));
    }
    replay.tally
}

/// Applies one mutation.
pub fn mutate(frame: &mut Vec<u8>, mutation: &Mutation, sealed: &[Sealed]) {
    let at = |pos: u16, len: usize| usize::from(pos) % (len + 1);
    match mutation {
        Mutation::FlipBit { at: pos, bit } => {
            if !frame.is_empty() {
                let i = usize::from(*pos) % frame.len();
                frame[i] ^= 1 << (bit % 8);
            }
        }
        Mutation::SetByte { at: pos, value } => {
            if !frame.is_empty() {
                let i = usize::from(*pos) % frame.len();
                frame[i] = *value;
            }
        }
        Mutation::Truncate { len } => {
            let keep = at(*len, frame.len());
            frame.truncate(keep);
        }
        Mutation::Append(bytes) => frame.extend_from_slice(&bytes[..bytes.len().min(64)]),
        Mutation::Insert { at: pos, bytes } => {
            let i = at(*pos, frame.len());
            let bytes = &bytes[..bytes.len().min(64)];
            frame.splice(i..i, bytes.iter().copied());
        }
        Mutation::Remove { at: pos, len } => {
            let i = at(*pos, frame.len());
            let end = (i + usize::from(*len)).min(frame.len());
            frame.drain(i..end);
        }
        Mutation::Splice { from, at: pos, len } => {
            let Some(other) = sealed.get(usize::from(*from) % sealed.len().max(1)) else {
                return;
            };
            let limit = frame.len().min(other.frame.len());
            let i = at(*pos, limit);
            let end = (i + usize::from(*len)).min(limit);
            frame[i..end].copy_from_slice(&other.frame[i..end]);
        }
    }
}

/// What happened to the packets of a case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Packets accepted.
    pub accepted: usize,
    /// Drops by reason.
    pub drops: Vec<(EspDrop, usize)>,
    /// Packets accepted after ESN resynchronisation (RFC 4303 A3).
    pub resynchronised: usize,
}

impl Tally {
    fn count_drop(&mut self, reason: EspDrop) {
        match self.drops.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.drops.push((reason, 1)),
        }
    }
}

/// The receiving side of a case: the SA under test, what was sealed, and
/// the reference window.
pub struct Replay<'a> {
    pub sa: &'a InboundSa,
    pub sealed: &'a [Sealed],
    pub window: NaiveWindow,
    pub esn: bool,
    /// ESN resynchronisation may try this many higher high halves.
    pub resync_tries: u32,
    pub tally: Tally,
    buf: PacketBuf,
}

impl<'a> Replay<'a> {
    pub fn new(sa: &'a InboundSa, sealed: &'a [Sealed], window: u32, esn: bool) -> Self {
        Replay {
            sa,
            sealed,
            window: NaiveWindow::new(window, esn),
            esn,
            resync_tries: 0,
            tally: Tally::default(),
            buf: PacketBuf::new(),
        }
    }

    /// Whether the receiver may accept sealed packet `k` now: its number is
    /// fresh, and inferred from its low half (or reachable by ESN
    /// resynchronisation, RFC 4303 A3).
    fn may_accept(&self, seq: u64) -> bool {
        if self.window.standing(seq) != Standing::Fresh {
            return false;
        }
        match self.window.infer(seq as u32) {
            Some(inferred) if inferred == seq => true,
            Some(inferred) => {
                let (high, inferred_high) = (seq >> 32, inferred >> 32);
                self.esn
                    && high > inferred_high
                    && high - inferred_high <= u64::from(self.resync_tries)
            }
            None => false,
        }
    }

    /// Delivers one packet and checks every oracle.
    pub fn deliver(&mut self, frame: &[u8], label: &str) {
        let before = self.sa.stats();
        // Sealed packets whose ESP bytes this packet carries.
        let authentic: Vec<usize> = (0..self.sealed.len())
            .filter(|&k| super::find_bytes(frame, self.sealed[k].esp()).is_some())
            .collect();
        let genuine = self.sealed.iter().position(|s| s.frame == frame);
        let extra_probe = self.seq_field(frame);
        if self.buf.load(frame, PacketBuf::DEFAULT_HEADROOM).is_err() {
            return;
        }
        let result = self.sa.decapsulate(&mut self.buf);
        let after = self.sa.stats();
        let context = || format!("{label}: {result:?} for {}", hex_prefix(frame, 96));
        match result {
            Ok(outcome) => {
                let k = self
                    .sealed
                    .iter()
                    .position(|s| s.seq == outcome.seq)
                    .unwrap_or_else(|| {
                        panic!("{}: accepted a sequence number never sealed", context())
                    });
                assert!(
                    authentic.contains(&k),
                    "{}: accepted without the sealed ESP bytes of seq {:#x}",
                    context(),
                    outcome.seq
                );
                assert!(
                    self.may_accept(outcome.seq),
                    "{}: accepted seq {:#x} that the window refuses",
                    context(),
                    outcome.seq
                );
                if self.window.infer(outcome.seq as u32) != Some(outcome.seq) {
                    assert!(
                        outcome.resynchronised,
                        "{}: seq {:#x} is not the inferred one, yet no resynchronisation",
                        context(),
                        outcome.seq
                    );
                }
                self.check_inner(k, frame, outcome.inner_len, &context());
                assert_eq!(
                    after.packets,
                    before.packets + 1,
                    "{}: packet counter",
                    context()
                );
                assert_eq!(
                    after.total_drops(),
                    before.total_drops(),
                    "{}: drop counters",
                    context()
                );
                self.window = self.window.accepted(outcome.seq);
                self.tally.accepted += 1;
                self.tally.resynchronised += usize::from(outcome.resynchronised);
            }
            Err(reason) => {
                if let Some(k) = genuine {
                    let seq = self.sealed[k].seq;
                    assert!(
                        self.window.expected_check(seq as u32) != Ok(seq),
                        "{}: a genuine packet with fresh seq {seq:#x} was refused",
                        context()
                    );
                }
                assert_eq!(
                    after.drops_of(reason),
                    before.drops_of(reason) + 1,
                    "{}: drop not counted under {}",
                    context(),
                    reason.as_str()
                );
                assert_eq!(
                    after.total_drops(),
                    before.total_drops() + 1,
                    "{}: drops",
                    context()
                );
                assert_eq!(
                    after.packets,
                    before.packets,
                    "{}: packet counter",
                    context()
                );
                self.settle_after_drop(extra_probe, &context());
                self.tally.count_drop(reason);
            }
        }
        self.check_probes(&extra_probe.into_iter().collect::<Vec<_>>(), label);
    }

    /// The low sequence number field where the delivered packet's ESP
    /// header would be, probed as well so a window change for a forged
    /// number shows.
    fn seq_field(&self, frame: &[u8]) -> Option<u32> {
        let offset = self.sealed.first()?.esp_offset + 4;
        let bytes: [u8; 4] = frame.get(offset..offset + 4)?.try_into().ok()?;
        Some(u32::from_be_bytes(bytes))
    }

    /// After a drop the window is unchanged: every check that can reject a
    /// packet runs before the window update, whatever the ICV said.
    fn settle_after_drop(&self, extra: Option<u32>, context: &str) {
        let extra: Vec<u32> = extra.into_iter().collect();
        assert!(
            self.observed(&extra) == self.expected(&self.window, &extra),
            "{context}: the replay window moved on a rejected packet: top {:#x} (reference {:#x}), probes {:?} (reference {:?})",
            self.sa.replay_window().top(),
            self.window.top(),
            self.observed(&extra),
            self.expected(&self.window, &extra)
        );
    }

    /// The receiver's window, seen through `check` of every sealed number.
    fn observed(&self, extra: &[u32]) -> (u64, Vec<Result<u64, ReplayVerdict>>) {
        let window = self.sa.replay_window();
        let probes = self
            .probe_lows(extra)
            .map(|low| window.check(low, self.esn))
            .collect();
        (window.top(), probes)
    }

    fn expected(
        &self,
        model: &NaiveWindow,
        extra: &[u32],
    ) -> (u64, Vec<Result<u64, ReplayVerdict>>) {
        let probes = self
            .probe_lows(extra)
            .map(|low| model.expected_check(low))
            .collect();
        (model.top(), probes)
    }

    fn probe_lows<'b>(&'b self, extra: &'b [u32]) -> impl Iterator<Item = u32> + 'b {
        self.sealed
            .iter()
            .map(|s| s.seq as u32)
            .chain(extra.iter().copied())
    }

    /// The receiver's window equals the reference.
    pub fn check_probes(&self, extra: &[u32], label: &str) {
        assert_eq!(
            self.observed(extra),
            self.expected(&self.window, extra),
            "{label}: replay window (top, check of each sealed number) differs from the reference"
        );
    }

    /// The decapsulated packet is sealed packet `k`'s inner packet, with the
    /// ECN field RFC 6040 gives for the arriving outer field.
    fn check_inner(&self, k: usize, frame: &[u8], inner_len: usize, context: &str) {
        let want = &self.sealed[k].inner;
        let got = self.buf.as_slice();
        assert_eq!(inner_len, want.len(), "{context}: inner length");
        assert_eq!(got.len(), want.len(), "{context}: inner packet length");
        let outer_ecn = ecn_of(frame).unwrap_or(0);
        let inner_ecn = ecn_of(want).unwrap_or(0);
        let Some(ecn) = decapsulated_ecn(inner_ecn, outer_ecn) else {
            panic!("{context}: accepted CE on a Not-ECT inner packet (RFC 6040 says drop)");
        };
        let ipv4 = want[0] >> 4 == 4;
        let (ecn_byte, ecn_mask, ecn_shift) = if ipv4 { (1, 0x03, 0) } else { (1, 0x30, 4) };
        let mut expected = want.clone();
        expected[ecn_byte] = (expected[ecn_byte] & !ecn_mask) | (ecn << ecn_shift);
        if ipv4 {
            let header_len = usize::from(want[0] & 0x0f) * 4;
            assert_eq!(
                internet_checksum(&got[..header_len]),
                0,
                "{context}: inner IPv4 header checksum broken"
            );
            expected[10..12].copy_from_slice(&got[10..12]);
        }
        assert!(
            got == expected.as_slice(),
            "{context}: decrypted to {} instead of the sealed {}",
            hex_prefix(got, 64),
            hex_prefix(&expected, 64)
        );
    }
}

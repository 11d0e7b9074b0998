//! The outbound SA: tunnel-mode ESP encapsulation (RFC 4303 section 3.1.2)
//! in place in a [`PacketBuf`], with a precomputed outer IPv4/IPv6 (+ UDP,
//! RFC 3948) header template and an atomic sequence counter shared by
//! worker threads.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use etherparse::{IpNumber, checksum::u32_16bit_word};
use serde::Serialize;

use super::config::{DfMode, DscpMode, EcnMode, SaConfig, SaConfigError, TunnelEndpoints};
use super::drop::{EspDrop, LifetimeEvent, Limits, SaCounters, SaStats};
use super::ecn::outer_ecn;
use super::selectors::Selectors;
use super::suite::{EspAad, EspAead, ICV_LEN};
use super::wire::{
    ESP_PREFIX_LEN, ESP_TRAILER_LEN, IPV4_HEADER_LEN, IPV6_HEADER_LEN, UDP_HEADER_LEN,
    checksum_value, field, ipv4, ipv6, parse_inner, put_be16, udp, udp_ipv6_checksum,
};
use crate::packet::PacketBuf;

/// ESP payloads are padded to a multiple of 4 bytes (RFC 4303 section 2.4;
/// the AEAD suites have a block size of 1).
const PAYLOAD_ALIGN: usize = 4;
/// Longest outer prefix: IPv6 + UDP.
const MAX_TEMPLATE_LEN: usize = IPV6_HEADER_LEN + UDP_HEADER_LEN;

/// What one encapsulation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EncapOutcome {
    /// The 64-bit sequence number used (its low 32 bits are on the wire).
    pub seq: u64,
    /// Length of the outer packet now in the buffer.
    pub outer_len: usize,
    /// A lifetime limit this packet reached.
    pub lifetime_event: Option<LifetimeEvent>,
}

const _: () = assert!(size_of::<EncapOutcome>() <= 24);

/// The outer header written in front of every packet: the constant fields
/// precomputed, the per-packet ones (lengths, TOS, ID, DF) patched in.
#[derive(Debug, Clone)]
struct OuterTemplate {
    bytes: [u8; MAX_TEMPLATE_LEN],
    len: usize,
    ipv6: bool,
    udp: bool,
    /// One's-complement sum of the IPv4 header's constant words.
    ipv4_sum: u32,
}

const _: () = assert!(size_of::<OuterTemplate>() <= 72);

impl OuterTemplate {
    fn new(tunnel: TunnelEndpoints, ttl: u8, nat_t: Option<(u16, u16)>) -> Self {
        let mut bytes = [0u8; MAX_TEMPLATE_LEN];
        let protocol = if nat_t.is_some() {
            IpNumber::UDP
        } else {
            IpNumber::ENCAPSULATING_SECURITY_PAYLOAD
        };
        let (ip_len, ipv6) = match (tunnel.local, tunnel.remote) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                bytes[0] = 0x45;
                bytes[ipv4::TTL] = ttl;
                bytes[ipv4::PROTOCOL] = protocol.0;
                bytes[ipv4::SRC..ipv4::SRC + 4].copy_from_slice(&src.octets());
                bytes[ipv4::DST..ipv4::DST + 4].copy_from_slice(&dst.octets());
                (IPV4_HEADER_LEN, false)
            }
            (src, dst) => {
                // Validated configs pair families; a mixed pair maps IPv4
                // into IPv6 rather than failing here.
                let to_v6 = |a: IpAddr| match a {
                    IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                    IpAddr::V6(v6) => v6,
                };
                bytes[0] = 0x60;
                bytes[ipv6::NEXT_HEADER] = protocol.0;
                bytes[ipv6::HOP_LIMIT] = ttl;
                bytes[ipv6::SRC..ipv6::SRC + 16].copy_from_slice(&to_v6(src).octets());
                bytes[ipv6::DST..ipv6::DST + 16].copy_from_slice(&to_v6(dst).octets());
                (IPV6_HEADER_LEN, true)
            }
        };
        let mut len = ip_len;
        if let Some((src_port, dst_port)) = nat_t {
            put_be16(&mut bytes, ip_len + udp::SRC_PORT, src_port);
            put_be16(&mut bytes, ip_len + udp::DST_PORT, dst_port);
            len += UDP_HEADER_LEN;
        }
        let ipv4_sum = if ipv6 {
            0
        } else {
            u32_16bit_word::add_slice(0, &bytes[..IPV4_HEADER_LEN])
        };
        OuterTemplate {
            bytes,
            len,
            ipv6,
            udp: nat_t.is_some(),
            ipv4_sum,
        }
    }

    fn ip_len(&self) -> usize {
        if self.ipv6 {
            IPV6_HEADER_LEN
        } else {
            IPV4_HEADER_LEN
        }
    }
}

/// An outbound (sending) SA. `Send + Sync`: worker threads share one through
/// an `Arc` and call [`OutboundSa::encapsulate`] concurrently.
pub struct OutboundSa {
    aead: EspAead,
    /// The last sequence number handed out (0: none yet).
    last_seq: AtomicU64,
    counters: SaCounters,
    seq_limit: u64,
    spi: u32,
    esn: bool,
    template: OuterTemplate,
    dscp: DscpMode,
    ecn: EcnMode,
    df: DfMode,
    tfc_pad_to: u16,
    limits: Limits,
    selectors: Selectors,
}

impl OutboundSa {
    /// Builds the runtime SA from a validated configuration; the tunnel
    /// endpoints come from `config.tunnel`.
    pub fn new(config: &SaConfig) -> Result<Self, SaConfigError> {
        let tunnel = config.tunnel.ok_or_else(|| SaConfigError {
            spi: config.spi,
            field: "tunnel",
            reason: "an outbound SA needs tunnel = { local = ..., remote = ... }".into(),
        })?;
        Self::with_endpoints(config, tunnel)
    }

    /// Builds the runtime SA with explicit tunnel endpoints (overriding
    /// `config.tunnel`).
    pub fn with_endpoints(
        config: &SaConfig,
        tunnel: TunnelEndpoints,
    ) -> Result<Self, SaConfigError> {
        let mut checked = config.clone();
        checked.tunnel = Some(tunnel);
        checked.validate()?;
        let aead = EspAead::new(config.algorithm, &config.key).ok_or_else(|| SaConfigError {
            spi: config.spi,
            field: "key",
            reason: "rejected by the cipher".into(),
        })?;
        let nat_t = config.nat_t.map(|n| (n.local_port, n.remote_port));
        Ok(OutboundSa {
            aead,
            last_seq: AtomicU64::new(0),
            counters: SaCounters::new(),
            seq_limit: if config.esn {
                u64::MAX
            } else {
                u64::from(u32::MAX)
            },
            spi: config.spi,
            esn: config.esn,
            template: OuterTemplate::new(tunnel, config.ttl, nat_t),
            dscp: config.dscp,
            ecn: config.ecn,
            df: config.df,
            tfc_pad_to: config.tfc_pad_to,
            limits: Limits::from(&config.lifetime),
            selectors: Selectors::new(&config.traffic_selectors),
        })
    }

    /// The SPI.
    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// Bytes this SA adds in front of the inner packet (outer header, UDP,
    /// ESP header and IV): the headroom a buffer needs.
    pub fn headroom_needed(&self) -> usize {
        self.template.len + ESP_PREFIX_LEN
    }

    /// Most bytes this SA adds after an inner packet of `inner_len` bytes
    /// (TFC padding, ESP padding and trailer, ICV): the tailroom it needs.
    pub fn tailroom_needed(&self, inner_len: usize) -> usize {
        usize::from(self.tfc_pad_to).saturating_sub(inner_len)
            + (PAYLOAD_ALIGN - 1)
            + ESP_TRAILER_LEN
            + ICV_LEN
    }

    /// The last sequence number handed out (0 before the first packet).
    pub fn last_sequence(&self) -> u64 {
        self.last_seq.load(Ordering::Relaxed)
    }

    /// Continues an SA's sequence after `last_sent` (state restore, tests of
    /// the 2^32 boundary). Never moves the counter backwards, so a nonce is
    /// never reused.
    pub fn resume_after(&self, last_sent: u64) {
        self.last_seq.fetch_max(last_sent, Ordering::AcqRel);
    }

    /// Counters and lifetime state.
    pub fn stats(&self) -> SaStats {
        self.counters.snapshot(&self.limits)
    }

    /// Encapsulates the inner IP packet in `buf` (starting at its IP header)
    /// into the full outer packet, in place. On a drop the reason is counted
    /// and returned, and `buf` holds the inner packet unless the drop came
    /// after encryption started (never for a validated SA).
    pub fn encapsulate(&self, buf: &mut PacketBuf) -> Result<EncapOutcome, EspDrop> {
        self.encapsulate_counted(buf)
            .map_err(|reason| self.counters.drop(reason))
    }

    #[inline]
    fn encapsulate_counted(&self, buf: &mut PacketBuf) -> Result<EncapOutcome, EspDrop> {
        let inner = parse_inner(buf.as_slice())?;
        buf.truncate(inner.total_len);
        if !self.selectors.allows(inner.src, inner.dst) {
            return Err(EspDrop::TrafficSelectorMismatch);
        }
        if self.counters.hard_limit_reached(&self.limits) {
            return Err(EspDrop::SaExpired);
        }
        let inner_len = inner.total_len;
        if buf.headroom() < self.headroom_needed()
            || buf.tailroom() < self.tailroom_needed(inner_len)
        {
            return Err(EspDrop::BufferTooSmall);
        }
        // The IPv4 total length counts its header, the IPv6 payload length
        // does not.
        let length_field_max = self.headroom_needed() + inner_len + self.tailroom_needed(inner_len)
            - if self.template.ipv6 {
                IPV6_HEADER_LEN
            } else {
                0
            };
        if length_field_max > usize::from(u16::MAX) {
            return Err(EspDrop::Oversize);
        }
        let seq = self.next_sequence()?;

        // TFC padding, then ESP padding 1, 2, 3, ... and the trailer.
        let tfc = usize::from(self.tfc_pad_to).saturating_sub(inner_len);
        let payload_len = inner_len + tfc;
        let pad = (PAYLOAD_ALIGN - (payload_len + ESP_TRAILER_LEN) % PAYLOAD_ALIGN) % PAYLOAD_ALIGN;
        let tail = buf
            .push_back(tfc + pad + ESP_TRAILER_LEN)
            .map_err(|_| EspDrop::BufferTooSmall)?;
        let (tfc_bytes, trailer) = tail.split_at_mut(tfc);
        tfc_bytes.fill(0);
        for (i, b) in trailer.iter_mut().enumerate() {
            *b = i as u8 + 1;
        }
        if let [.., pad_len, next_header] = trailer {
            *pad_len = pad as u8;
            *next_header = inner.next_header().0;
        }

        let iv = seq.to_be_bytes();
        let icv = self
            .aead
            .seal(
                iv,
                &EspAad::new(self.spi, seq, self.esn),
                buf.as_mut_slice(),
            )
            .ok_or(EspDrop::BufferTooSmall)?;
        buf.push_back(ICV_LEN)
            .map_err(|_| EspDrop::BufferTooSmall)?
            .copy_from_slice(&icv);

        let esp_len = ESP_PREFIX_LEN + buf.len();
        let t = &self.template;
        let prefix = buf
            .push_front(t.len + ESP_PREFIX_LEN)
            .map_err(|_| EspDrop::BufferTooSmall)?;
        let (outer, esp) = prefix.split_at_mut(t.len);
        esp[field::SPI].copy_from_slice(&self.spi.to_be_bytes());
        esp[field::SEQ].copy_from_slice(&(seq as u32).to_be_bytes());
        esp[field::IV].copy_from_slice(&iv);
        outer.copy_from_slice(&t.bytes[..t.len]);

        let dscp = match self.dscp {
            DscpMode::Copy => inner.tos >> 2,
            DscpMode::Set(v) => v,
        };
        let tos = (dscp << 2) | outer_ecn(inner.tos, self.ecn);
        let ip_len = t.ip_len();
        let outer_len = t.len + esp_len;
        if t.udp {
            put_be16(outer, ip_len + udp::LEN, (outer_len - ip_len) as u16);
        }
        if t.ipv6 {
            outer[0] = 0x60 | (tos >> 4);
            outer[1] = tos << 4;
            put_be16(outer, ipv6::PAYLOAD_LEN, (outer_len - ip_len) as u16);
        } else {
            let df = match self.df {
                DfMode::Copy => inner.dont_fragment || inner.version == 6,
                DfMode::Set => true,
                DfMode::Clear => false,
            };
            let flags = if df { ipv4::DF_BIT } else { 0 };
            let id = seq as u16;
            outer[ipv4::TOS] = tos;
            put_be16(outer, ipv4::TOTAL_LEN, outer_len as u16);
            put_be16(outer, ipv4::ID, id);
            outer[ipv4::FLAGS] = flags;
            let mut sum = u32_16bit_word::add_2bytes(t.ipv4_sum, [0, tos]);
            sum = u32_16bit_word::add_2bytes(sum, (outer_len as u16).to_be_bytes());
            sum = u32_16bit_word::add_2bytes(sum, id.to_be_bytes());
            sum = u32_16bit_word::add_2bytes(sum, [flags, 0]);
            let checksum = checksum_value(u32_16bit_word::ones_complement(sum));
            put_be16(outer, ipv4::CHECKSUM, checksum);
        }
        if t.udp && t.ipv6 {
            let (src, dst) = ipv6_pair(outer);
            let sum = udp_ipv6_checksum(&src, &dst, &buf.as_slice()[ip_len..]);
            put_be16(buf.as_mut_slice(), ip_len + udp::CHECKSUM, sum);
        }

        let lifetime_event = self.counters.count_packet(inner_len as u64, &self.limits);
        if let Some(event) = lifetime_event {
            tracing::info!(spi = self.spi, ?event, "outbound SA lifetime");
        }
        Ok(EncapOutcome {
            seq,
            outer_len,
            lifetime_event,
        })
    }

    /// The next sequence number, never wrapping (RFC 4303 section 3.3.3).
    #[inline]
    fn next_sequence(&self) -> Result<u64, EspDrop> {
        self.last_seq
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                (s < self.seq_limit).then(|| s + 1)
            })
            .map(|s| s + 1)
            .map_err(|_| EspDrop::SequenceCycled)
    }
}

fn ipv6_pair(header: &[u8]) -> (std::net::Ipv6Addr, std::net::Ipv6Addr) {
    let addr = |at: usize| {
        let mut b = [0u8; 16];
        if let Some(s) = header.get(at..at + 16) {
            b.copy_from_slice(s);
        }
        std::net::Ipv6Addr::from(b)
    };
    (addr(ipv6::SRC), addr(ipv6::DST))
}

impl std::fmt::Debug for OutboundSa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundSa")
            .field("spi", &format_args!("0x{:08x}", self.spi))
            .field("algorithm", &self.aead.algorithm())
            .field("esn", &self.esn)
            .field("last_seq", &self.last_sequence())
            .finish_non_exhaustive()
    }
}

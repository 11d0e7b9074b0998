//! The outbound SA: tunnel-mode ESP encapsulation (RFC 4303 section 3.1.2)
//! in place in a [`PacketBuf`], with a precomputed outer IPv4/IPv6 (+ UDP,
//! RFC 3948) header template and a sequence counter shared by worker
//! threads: under a short lock per packet ([`OutboundSa::encapsulate`]),
//! per block ([`OutboundSa::encapsulate_batch`]), or per block a worker
//! leases ([`super::SendLease`], the forwarder's way).

use std::borrow::BorrowMut;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use etherparse::IpNumber;
use serde::Serialize;

use super::batch::{MAX_BATCH, in_blocks};
use super::classify::parse_inner;
use super::config::{DfMode, DscpMode, EcnMode, SaConfig, SaConfigError, TunnelEndpoints};
use super::counters::{LifetimeEvent, Limits, SaCounters, SaStats, Usage, assign_events};
use super::drop::EspDrop;
use super::ecn::outer_ecn;
use super::lock::{ShortGuard, ShortLock};
use super::selectors::Selectors;
use super::suite::{EspAad, EspCipher, ICV_LEN, MAX_ESP_PREFIX_LEN, MAX_IV_LEN};
use crate::packet::PacketBuf;
use crate::wire::checksum::ChecksumSum;
use crate::wire::{
    ESP_HEADER_LEN, ESP_TRAILER_LEN, EspRepr, EspTrailer, IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN,
    UDP_HEADER_LEN, UdpHeader, ipv4_field as ipv4, ipv4_flags, ipv6_field as ipv6,
    udp_field as udp, udp_ipv6_checksum,
};

/// Longest outer prefix: IPv6 + UDP.
const MAX_TEMPLATE_LEN: usize = IPV6_HEADER_LEN + UDP_HEADER_LEN;

/// What one encapsulation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct EncapOutcome {
    /// The 64-bit sequence number used (its low 32 bits are on the wire).
    pub seq: u64,
    /// Length of the outer packet now in the buffer.
    pub outer_len: usize,
    /// A lifetime limit this packet reached.
    pub lifetime_event: Option<LifetimeEvent>,
}

const _: () = assert!(size_of::<EncapOutcome>() <= 24);

/// What the checks before sealing found out about one inner packet:
/// everything sealing and framing it needs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Prepared {
    pub(super) inner_len: usize,
    /// TFC padding, ESP padding and the 2-byte trailer.
    trailer_len: usize,
    pad: u8,
    next_header: u8,
    outer_tos: u8,
    dont_fragment: bool,
}

const _: () = assert!(size_of::<Prepared>() <= 24);

/// The outer header written in front of every packet: the constant fields
/// precomputed, the per-packet ones (lengths, TOS, ID, DF) patched in.
#[derive(Debug, Clone)]
struct OuterTemplate {
    bytes: [u8; MAX_TEMPLATE_LEN],
    len: usize,
    ipv6: bool,
    udp: bool,
    /// One's-complement sum of the IPv4 header's constant words.
    ipv4_sum: ChecksumSum,
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
                bytes[ipv4::VERSION_IHL] = 0x45;
                bytes[ipv4::TTL] = ttl;
                bytes[ipv4::PROTOCOL] = protocol.0;
                bytes[ipv4::SOURCE].copy_from_slice(&src.octets());
                bytes[ipv4::DESTINATION].copy_from_slice(&dst.octets());
                (IPV4_MIN_HEADER_LEN, false)
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
                bytes[ipv6::SOURCE].copy_from_slice(&to_v6(src).octets());
                bytes[ipv6::DESTINATION].copy_from_slice(&to_v6(dst).octets());
                (IPV6_HEADER_LEN, true)
            }
        };
        let mut len = ip_len;
        if let Some((source_port, destination_port)) = nat_t {
            // The template has room for the longest prefix, IPv6 + UDP.
            if let Some(header) = bytes.get_mut(ip_len..).and_then(|b| b.first_chunk_mut()) {
                let (length, checksum) = (0, 0);
                UdpHeader {
                    source_port,
                    destination_port,
                    length,
                    checksum,
                }
                .emit(header);
            }
            len += UDP_HEADER_LEN;
        }
        let ipv4_sum = if ipv6 {
            ChecksumSum::new()
        } else {
            ChecksumSum::new().add_bytes(&bytes[..IPV4_MIN_HEADER_LEN])
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
            IPV4_MIN_HEADER_LEN
        }
    }

    /// Writes the outer IP (and UDP) header of a packet of `outer_len`
    /// bytes into `outer` (exactly `self.len` bytes); the IPv6 UDP checksum
    /// is left to the caller, since it covers the payload.
    #[inline]
    fn write(&self, outer: &mut [u8], p: &Prepared, seq: u64, outer_len: usize) {
        outer.copy_from_slice(self.bytes.get(..self.len).unwrap_or_default());
        let ip_len = self.ip_len();
        // The length fields: `prepare` refused anything above 65535.
        let after_ip = ((outer_len - ip_len) as u16).to_be_bytes();
        if self.udp
            && let Some(length) = outer.get_mut(ip_len..).and_then(|u| u.get_mut(udp::LENGTH))
        {
            length.copy_from_slice(&after_ip);
        }
        let tos = p.outer_tos;
        if self.ipv6 {
            if let Some(header) = outer.first_chunk_mut::<IPV6_HEADER_LEN>() {
                header[0] = 0x60 | (tos >> 4);
                header[1] = tos << 4;
                header[ipv6::PAYLOAD_LEN].copy_from_slice(&after_ip);
            }
        } else if let Some(header) = outer.first_chunk_mut::<IPV4_MIN_HEADER_LEN>() {
            let flags = if p.dont_fragment {
                ipv4_flags::DONT_FRAGMENT
            } else {
                0
            };
            let (id, total_len) = (seq as u16, outer_len as u16);
            header[ipv4::DSCP_ECN] = tos;
            header[ipv4::TOTAL_LEN].copy_from_slice(&total_len.to_be_bytes());
            header[ipv4::IDENTIFICATION].copy_from_slice(&id.to_be_bytes());
            header[ipv4::FLAGS_FRAGMENT].copy_from_slice(&flags.to_be_bytes());
            let checksum = self
                .ipv4_sum
                .clone()
                .add_u16(u16::from(tos))
                .add_u16(total_len)
                .add_u16(id)
                .add_u16(flags)
                .checksum();
            header[ipv4::CHECKSUM].copy_from_slice(&checksum.to_be_bytes());
        }
    }
}

/// An outbound (sending) SA. `Send + Sync`: worker threads share one through
/// an `Arc` and call [`OutboundSa::encapsulate`] concurrently.
pub struct OutboundSa {
    cipher: EspCipher,
    /// What every packet writes, on cache lines of its own.
    send_state: SendState,
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

/// The per-packet writes of an SA, apart from the read-only rest (key
/// schedule, header template) that every worker reads per packet: on
/// lines of its own, one worker's sequence number update does not evict
/// the other worker's copy of the key schedule (false sharing).
#[repr(align(128))]
struct SendState {
    /// Serialises the send state: `last_seq` and the usage in `counters`
    /// change together, under it, with plain stores.
    lock: ShortLock,
    /// The last sequence number handed out (0: none yet).
    last_seq: AtomicU64,
    counters: SaCounters,
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
        let cipher = EspCipher::for_sa(config)?;
        let nat_t = config.nat_t.map(|n| (n.local_port, n.remote_port));
        Ok(OutboundSa {
            cipher,
            send_state: SendState {
                lock: ShortLock::default(),
                last_seq: AtomicU64::new(0),
                counters: SaCounters::new(),
            },
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

    /// DF on the outer IPv4 header for an inner packet with DF
    /// `inner_dont_fragment` (or IPv6): the SA's DF setting (RFC 4301
    /// 8.1: copy, set or clear). A caller fragments an outer packet after
    /// ESP processing only when this is false (RFC 4303 3.3.5).
    pub fn outer_dont_fragment(&self, inner_dont_fragment: bool, inner_ipv6: bool) -> bool {
        match self.df {
            DfMode::Copy => inner_dont_fragment || inner_ipv6,
            DfMode::Set => true,
            DfMode::Clear => false,
        }
    }

    /// The SPI.
    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// Bytes this SA adds in front of the inner packet (outer header, UDP,
    /// ESP header and IV): the headroom a buffer needs.
    pub fn headroom_needed(&self) -> usize {
        self.template.len + self.cipher.prefix_len()
    }

    /// Most bytes this SA adds after an inner packet of `inner_len` bytes
    /// (TFC padding, ESP padding and trailer, ICV): the tailroom it needs.
    pub fn tailroom_needed(&self, inner_len: usize) -> usize {
        usize::from(self.tfc_pad_to).saturating_sub(inner_len)
            + (self.cipher.payload_align() - 1)
            + ESP_TRAILER_LEN
            + ICV_LEN
    }

    /// The last sequence number handed out (0 before the first packet).
    pub fn last_sequence(&self) -> u64 {
        self.send_state.last_seq.load(Ordering::Relaxed)
    }

    /// Continues an SA's sequence after `last_sent` (state restore, tests of
    /// the 2^32 boundary). Never moves the counter backwards, so a nonce is
    /// never reused.
    pub fn resume_after(&self, last_sent: u64) {
        let _held = self.send_state.lock.lock();
        if last_sent > self.send_state.last_seq.load(Ordering::Relaxed) {
            self.send_state.last_seq.store(last_sent, Ordering::Relaxed);
        }
    }

    /// Counters and lifetime state.
    pub fn stats(&self) -> SaStats {
        self.send_state.counters.snapshot(&self.limits)
    }

    /// Whether a soft lifetime was reached (without a counters snapshot).
    pub fn soft_limit_reached(&self) -> bool {
        self.send_state.counters.soft_limit_reached(&self.limits)
    }

    /// Encapsulates the inner IP packet in `buf` (starting at its IP header)
    /// into the full outer packet, in place. On a drop the reason is counted
    /// and returned, and `buf` holds the inner packet unless the drop came
    /// after encryption started (never for a validated SA).
    pub fn encapsulate(&self, buf: &mut PacketBuf) -> Result<EncapOutcome, EspDrop> {
        self.encapsulate_counted(buf)
            .map_err(|reason| self.send_state.counters.drop(reason))
    }

    #[inline]
    fn encapsulate_counted(&self, buf: &mut PacketBuf) -> Result<EncapOutcome, EspDrop> {
        let prepared = self.prepare(buf)?;
        let bytes = prepared.inner_len as u64;
        let (seq, lifetime_event) = self.take_sequence(bytes)?;
        let outer_len = self.seal_and_frame(buf, &prepared, seq).inspect_err(|_| {
            let held = self.send_state.lock.lock();
            self.send_state
                .counters
                .take_back_locked(Usage { packets: 1, bytes }, &held);
        })?;
        if let Some(event) = lifetime_event {
            self.log_lifetime_event(event);
        }
        Ok(EncapOutcome {
            seq,
            outer_len,
            lifetime_event,
        })
    }

    /// Under the send lock: refuses a packet past a hard lifetime or past
    /// the last sequence number, else takes the next number and counts the
    /// packet (before sealing it, which cannot fail for a packet that passed
    /// `prepare`; if it did, the count is taken back).
    #[inline]
    fn take_sequence(&self, bytes: u64) -> Result<(u64, Option<LifetimeEvent>), EspDrop> {
        let held = self.send_state.lock.lock();
        if self.send_state.counters.hard_limit_reached(&self.limits) {
            return Err(EspDrop::SaExpired);
        }
        let last = self.send_state.last_seq.load(Ordering::Relaxed);
        if last >= self.seq_limit {
            return Err(EspDrop::SequenceCycled);
        }
        self.send_state.last_seq.store(last + 1, Ordering::Relaxed);
        let event = self
            .send_state
            .counters
            .count_packet_locked(bytes, &self.limits, &held);
        Ok((last + 1, event))
    }

    /// Encapsulates a batch: `results[i]` is what [`Self::encapsulate`]
    /// would have returned for `bufs[i]`, with the same drop counting. For
    /// each block of up to [`MAX_BATCH`] packets the send lock is taken
    /// twice: once to reserve the block's sequence numbers, once to count
    /// the block. Numbers of refused packets are given back when no other
    /// worker took numbers meanwhile (else they are skipped, which receivers
    /// allow). The hard lifetime is checked packet by packet against the
    /// usage at the start of the block plus the block's earlier packets, so
    /// concurrent workers may overshoot it by at most one block each.
    /// Handles `min(bufs.len(), results.len())` packets and returns that
    /// number.
    pub fn encapsulate_batch<B: BorrowMut<PacketBuf>>(
        &self,
        bufs: &mut [B],
        results: &mut [Result<EncapOutcome, EspDrop>],
    ) -> usize {
        in_blocks(bufs, results, |bufs, results| {
            self.encapsulate_block(bufs, results)
        })
    }

    /// One block of at most [`MAX_BATCH`] packets (`results` as long as
    /// `bufs`).
    fn encapsulate_block<B: BorrowMut<PacketBuf>>(
        &self,
        bufs: &mut [B],
        results: &mut [Result<EncapOutcome, EspDrop>],
    ) {
        let (first_seq, granted, start) = self.reserve_sequences(bufs.len() as u64);
        let end_seq = first_seq + granted;
        let mut seq = first_seq;
        let mut done = Usage::default();
        let mut inner_lens = [0u16; MAX_BATCH];
        for ((buf, result), inner_len) in
            bufs.iter_mut().zip(results.iter_mut()).zip(&mut inner_lens)
        {
            let buf = buf.borrow_mut();
            *result = self
                .prepare(buf)
                .and_then(|p| {
                    if self.limits.hard_reached(start.plus(done)) {
                        return Err(EspDrop::SaExpired);
                    }
                    if seq == end_seq {
                        return Err(EspDrop::SequenceCycled);
                    }
                    let outer_len = self.seal_and_frame(buf, &p, seq)?;
                    *inner_len = p.inner_len as u16;
                    done = done.plus_packet(p.inner_len as u64);
                    seq += 1;
                    Ok(EncapOutcome {
                        seq: seq - 1,
                        outer_len,
                        lifetime_event: None,
                    })
                })
                .map_err(|reason| self.send_state.counters.drop(reason));
        }
        let before = {
            let held = self.send_state.lock.lock();
            self.settle_locked(seq, end_seq, done, &held)
        };
        if self.limits.may_cross(before, done) {
            let sizes = results
                .iter_mut()
                .zip(inner_lens)
                .filter_map(|(result, len)| {
                    let outcome = result.as_mut().ok()?;
                    Some((u64::from(len), &mut outcome.lifetime_event))
                });
            assign_events(&self.limits, before, done, sizes);
            for event in results
                .iter()
                .filter_map(|r| r.as_ref().ok()?.lifetime_event)
            {
                self.log_lifetime_event(event);
            }
        }
    }

    #[cold]
    fn log_lifetime_event(&self, event: LifetimeEvent) {
        tracing::info!(spi = self.spi, ?event, "outbound SA lifetime");
    }

    /// Parses the inner packet and checks everything that can refuse it
    /// before a sequence number is spent: selectors, buffer room, size.
    #[inline]
    pub(super) fn prepare(&self, buf: &mut PacketBuf) -> Result<Prepared, EspDrop> {
        let inner = parse_inner(buf.as_slice())?;
        buf.truncate(inner.total_len);
        if !self.selectors.allows_packet(buf.as_slice()) {
            return Err(EspDrop::TrafficSelectorMismatch);
        }
        let inner_len = inner.total_len;
        // TFC padding, then ESP padding to the alignment with the trailer.
        let tfc = usize::from(self.tfc_pad_to).saturating_sub(inner_len);
        // ESP payloads are padded to a multiple of 4 bytes, or of the
        // cipher's block (RFC 4303 section 2.4).
        let align = self.cipher.payload_align();
        let pad = (align - (inner_len + tfc + ESP_TRAILER_LEN) % align) % align;
        let trailer_len = tfc + pad + ESP_TRAILER_LEN;
        if buf.headroom() < self.headroom_needed() || buf.tailroom() < trailer_len + ICV_LEN {
            return Err(EspDrop::BufferTooSmall);
        }
        // The IPv4 total length counts its header, the IPv6 payload length
        // does not.
        let t = &self.template;
        let outer_len = t.len + self.cipher.prefix_len() + inner_len + trailer_len + ICV_LEN;
        let length_field = outer_len - if t.ipv6 { IPV6_HEADER_LEN } else { 0 };
        if length_field > usize::from(u16::MAX) {
            return Err(EspDrop::Oversize);
        }
        let dscp = match self.dscp {
            DscpMode::Copy => inner.tos >> 2,
            DscpMode::Set(v) => v,
        };
        let dont_fragment = self.outer_dont_fragment(inner.dont_fragment, inner.version == 6);
        Ok(Prepared {
            inner_len,
            trailer_len,
            pad: pad as u8,
            next_header: inner.next_header().0,
            outer_tos: (dscp << 2) | outer_ecn(inner.tos, self.ecn),
            dont_fragment,
        })
    }

    /// Appends padding and trailer, seals with `seq` and writes the ICV and
    /// the outer headers: the packet is ready to send. Returns its length.
    #[inline]
    pub(super) fn seal_and_frame(
        &self,
        buf: &mut PacketBuf,
        p: &Prepared,
        seq: u64,
    ) -> Result<usize, EspDrop> {
        let tail = buf
            .push_back(p.trailer_len + ICV_LEN)
            .map_err(|_| EspDrop::BufferTooSmall)?;
        let trailer = EspTrailer {
            pad_len: p.pad,
            next_header: IpNumber(p.next_header),
        };
        // TFC padding, ESP padding and trailer: `trailer_len` bytes.
        if !trailer.emit(tail.get_mut(..p.trailer_len).unwrap_or_default()) {
            return Err(EspDrop::BufferTooSmall);
        }
        let (plaintext, _) = buf
            .as_mut_slice()
            .split_last_chunk_mut::<ICV_LEN>()
            .ok_or(EspDrop::BufferTooSmall)?;
        let mut iv = [0u8; MAX_IV_LEN];
        let iv_len = self.cipher.iv_len();
        // The ICV is looked at last: read right away, it would wait for the
        // cipher's stores to reach the cache (a store-forwarding stall).
        let sealed = match &self.cipher {
            EspCipher::Aead(aead) => {
                let explicit = seq.to_be_bytes();
                iv[..explicit.len()].copy_from_slice(&explicit);
                let aad = EspAad::new(self.spi, seq, self.esn);
                Sealed::Aead(aead.seal_detached(explicit, &aad, plaintext))
            }
            EspCipher::CbcHmac(cbc) => {
                iv = cbc.iv_for(seq);
                Sealed::CbcHmac(cbc.seal(self.spi, seq, self.esn, &iv, plaintext))
            }
        };

        let prefix_len = self.cipher.prefix_len();
        let esp_len = prefix_len + buf.len();
        let t = &self.template;
        let outer_len = t.len + esp_len;
        let prefix = buf
            .push_front(t.len + prefix_len)
            .map_err(|_| EspDrop::BufferTooSmall)?;
        let mut esp_header = [0u8; MAX_ESP_PREFIX_LEN];
        if let Some((header, iv_slot)) = esp_header.split_first_chunk_mut::<ESP_HEADER_LEN>() {
            let repr = EspRepr {
                spi: self.spi,
                sequence_number: seq as u32,
            };
            repr.emit(header);
            iv_slot.copy_from_slice(&iv);
        }
        let Some((outer, esp)) = prefix.split_at_mut_checked(t.len) else {
            return Err(EspDrop::BufferTooSmall);
        };
        esp.copy_from_slice(esp_header.get(..prefix_len).unwrap_or_default());
        debug_assert_eq!(prefix_len, ESP_HEADER_LEN + iv_len);
        t.write(outer, p, seq, outer_len);
        if let Some(slot) = buf.as_mut_slice().last_chunk_mut::<ICV_LEN>() {
            match &sealed {
                Sealed::Aead(Ok(tag)) => slot.copy_from_slice(tag.as_ref()),
                Sealed::CbcHmac(Some(icv)) => slot.copy_from_slice(icv),
                Sealed::Aead(Err(_)) | Sealed::CbcHmac(None) => {
                    return Err(EspDrop::BufferTooSmall);
                }
            }
        }
        if t.udp && t.ipv6 {
            let ip_len = t.ip_len();
            let (src, dst) = ipv6_pair(&t.bytes);
            let sum = udp_ipv6_checksum(&src, &dst, buf.as_slice().get(ip_len..).unwrap_or(&[]));
            if let Some(field) = buf
                .as_mut_slice()
                .get_mut(ip_len..)
                .and_then(|u| u.get_mut(udp::CHECKSUM))
            {
                field.copy_from_slice(&sum.to_be_bytes());
            }
        }
        Ok(outer_len)
    }

    /// Under one send lock for a [`super::SendLease`]: counts the usage
    /// `done` of its last block and takes up to `wanted` more numbers.
    /// Returns the first, how many were granted and the usage after `done`.
    #[inline]
    pub(super) fn renew_lease(&self, done: Usage, wanted: u64) -> (u64, u64, Usage) {
        let held = self.send_state.lock.lock();
        let before = self.send_state.counters.add_locked(done, &held);
        let (first, granted) = self.take_numbers_locked(wanted, &held);
        drop(held);
        self.log_crossing(before, done);
        (first, granted, before.plus(done))
    }

    /// Settles a [`super::SendLease`]: counts `done` and gives back the
    /// unused numbers `next..end` if no other worker took numbers since.
    pub(super) fn end_lease(&self, next: u64, end: u64, done: Usage) {
        let before = {
            let held = self.send_state.lock.lock();
            self.settle_locked(next, end, done, &held)
        };
        self.log_crossing(before, done);
    }

    /// Under the send lock: takes up to `wanted` consecutive sequence
    /// numbers, never wrapping (RFC 4303 section 3.3.3). Returns the first
    /// one and how many were granted (fewer only at the end of the
    /// sequence space).
    #[inline]
    fn take_numbers_locked(&self, wanted: u64, _held: &ShortGuard<'_>) -> (u64, u64) {
        let last = self.send_state.last_seq.load(Ordering::Relaxed);
        let granted = wanted.min(self.seq_limit.saturating_sub(last));
        self.send_state
            .last_seq
            .store(last + granted, Ordering::Relaxed);
        (last + 1, granted)
    }

    /// Under the send lock, after a block `..end` was used up to `next`:
    /// the unused numbers go back if no other worker took numbers since
    /// (none is ever handed out twice), else they are skipped; `done` is
    /// counted. Returns the usage before it.
    #[inline]
    fn settle_locked(&self, next: u64, end: u64, done: Usage, held: &ShortGuard<'_>) -> Usage {
        if next < end && self.send_state.last_seq.load(Ordering::Relaxed) == end - 1 {
            self.send_state
                .last_seq
                .store(next.saturating_sub(1), Ordering::Relaxed);
        }
        self.send_state.counters.add_locked(done, held)
    }

    /// Logs the lifetime limit that usage `done` on top of `before` crossed.
    #[inline]
    fn log_crossing(&self, before: Usage, done: Usage) {
        if self.limits.may_cross(before, done)
            && let Some(event) = self.limits.crossed(before, before.plus(done))
        {
            self.log_lifetime_event(event);
        }
    }

    /// True when `usage` reaches a hard lifetime limit.
    #[inline]
    pub(super) fn hard_limit_reached_at(&self, usage: Usage) -> bool {
        self.limits.hard_reached(usage)
    }

    /// Counts a drop and hands the reason back.
    pub(super) fn count_drop(&self, reason: EspDrop) -> EspDrop {
        self.send_state.counters.drop(reason)
    }

    /// [`Self::take_numbers_locked`] under the send lock, with the usage so
    /// far.
    #[inline]
    fn reserve_sequences(&self, wanted: u64) -> (u64, u64, Usage) {
        let held = self.send_state.lock.lock();
        let (first, granted) = self.take_numbers_locked(wanted, &held);
        (first, granted, self.send_state.counters.usage())
    }
}

/// What sealing handed back: `ring`'s tag (copied into the packet last), or
/// the CBC suite's ICV.
enum Sealed {
    Aead(Result<ring::aead::Tag, super::suite::InputTooLong>),
    CbcHmac(Option<[u8; ICV_LEN]>),
}

fn ipv6_pair(header: &[u8]) -> (std::net::Ipv6Addr, std::net::Ipv6Addr) {
    let addr = |at: usize| {
        let mut b = [0u8; 16];
        if let Some(s) = header.get(at..at + 16) {
            b.copy_from_slice(s);
        }
        std::net::Ipv6Addr::from(b)
    };
    (addr(ipv6::SOURCE.start), addr(ipv6::DESTINATION.start))
}

impl std::fmt::Debug for OutboundSa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundSa")
            .field("spi", &format_args!("0x{:08x}", self.spi))
            .field("algorithm", &self.cipher.algorithm())
            .field("esn", &self.esn)
            .field("last_seq", &self.last_sequence())
            .finish_non_exhaustive()
    }
}

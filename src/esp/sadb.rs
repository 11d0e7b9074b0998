//! The inbound SA database (RFC 4301 section 4.4.2): finds the SA for an
//! arriving ESP packet by SPI and outer destination, and recognises ESP and
//! ESP in UDP (RFC 3948) for the local endpoint.

use std::borrow::BorrowMut;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use thiserror::Error;

use super::batch::{MAX_BATCH, in_blocks};
use super::classify::{OuterEsp, PacketClass, classify, outer_destination};
use super::config::NAT_T_PORT;
use super::drop::EspDrop;
use super::inbound::{DecapOutcome, InboundSa};
use crate::packet::PacketBuf;

/// Why an SA could not be added.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SaDbError {
    /// Another SA already has this SPI for the same destination.
    #[error("SPI 0x{spi:08x} is already used for destination {dst}")]
    DuplicateSpi {
        /// The SPI.
        spi: u32,
        /// The destination, or "any".
        dst: String,
    },
    /// SAs of one database must share the NAT-T port.
    #[error("SPI 0x{spi:08x} uses NAT-T port {port}, the database uses {expected}")]
    NatTPortConflict {
        /// The SPI.
        spi: u32,
        /// Its port.
        port: u16,
        /// The port of the SAs already present.
        expected: u16,
    },
}

/// Inbound SAs by (SPI, destination); an SA without a configured local
/// address matches any destination.
#[derive(Debug, Default)]
pub struct SaDatabase {
    /// foldhash: the key is the packet's SPI and address (not secret), and
    /// SipHash would cost more than the rest of the lookup.
    by_key: foldhash::HashMap<(u32, Option<IpAddr>), Arc<InboundSa>>,
    /// Local tunnel addresses of the SAs; `None` in the list when some SA
    /// accepts any destination.
    locals: Vec<Option<IpAddr>>,
    nat_t_port: Option<u16>,
    /// Drops with no SA to charge them to, by reason; shared by every
    /// version [`Self::rebuilt`] makes, so a swap loses no count.
    unmatched: Arc<[AtomicU64; EspDrop::COUNT]>,
}

impl SaDatabase {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an inbound SA.
    pub fn insert(&mut self, sa: Arc<InboundSa>) -> Result<(), SaDbError> {
        let port = sa.nat_t_port();
        match self.nat_t_port {
            Some(expected) if expected != port => {
                return Err(SaDbError::NatTPortConflict {
                    spi: sa.spi(),
                    port,
                    expected,
                });
            }
            _ => self.nat_t_port = Some(port),
        }
        let key = (sa.spi(), sa.local());
        match self.by_key.entry(key) {
            Entry::Occupied(_) => Err(SaDbError::DuplicateSpi {
                spi: key.0,
                dst: key.1.map_or_else(|| "any".to_owned(), |a| a.to_string()),
            }),
            Entry::Vacant(slot) => {
                if !self.locals.contains(&key.1) {
                    self.locals.push(key.1);
                }
                slot.insert(sa);
                Ok(())
            }
        }
    }

    /// Accepts ESP (and ESP in UDP) for `local` before any SA for it
    /// exists: a tunnel negotiating its SAs counts ESP that arrives too
    /// early as an unknown SPI, and recognises IKE behind the non-ESP
    /// marker, instead of taking it for traffic to the node.
    pub fn add_local(&mut self, local: IpAddr) {
        if !self.locals.contains(&Some(local)) {
            self.locals.push(Some(local));
        }
    }

    /// The next version of the database for a writer that replaces SAs
    /// while readers use this one (RFC 4301 section 4.4.2: SAs come and go
    /// as IKE negotiates them): every SA but those `keep` refuses, plus
    /// `add`; the local endpoints and the unmatched-drop counters carry
    /// over. Allocates (control-plane time, never per packet).
    pub fn rebuilt(
        &self,
        keep: impl Fn(&InboundSa) -> bool,
        add: Option<Arc<InboundSa>>,
    ) -> Result<SaDatabase, SaDbError> {
        let mut next = SaDatabase {
            by_key: foldhash::HashMap::default(),
            locals: self.locals.clone(),
            nat_t_port: None,
            unmatched: Arc::clone(&self.unmatched),
        };
        for sa in self.by_key.values().filter(|sa| keep(sa)) {
            next.insert(Arc::clone(sa))?;
        }
        if let Some(sa) = add {
            next.insert(sa)?;
        }
        Ok(next)
    }

    /// Number of SAs.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// True when there is no SA.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The UDP port recognised as ESP in UDP.
    pub fn nat_t_port(&self) -> u16 {
        self.nat_t_port.unwrap_or(NAT_T_PORT)
    }

    /// The SA for `spi` arriving at `dst`.
    pub fn find(&self, spi: u32, dst: IpAddr) -> Option<&Arc<InboundSa>> {
        self.by_key
            .get(&(spi, Some(dst)))
            .or_else(|| self.by_key.get(&(spi, None)))
    }

    /// Every SA (for reports).
    pub fn iter(&self) -> impl Iterator<Item = &Arc<InboundSa>> {
        self.by_key.values()
    }

    /// True when `addr` is a local tunnel endpoint of some SA.
    pub fn is_local(&self, addr: IpAddr) -> bool {
        self.locals.iter().any(|l| l.is_none_or(|l| l == addr))
    }

    /// What an arriving outer packet is for this gateway: ESP (or NAT-T
    /// control) to one of its tunnel endpoints, or not ours (`NotEsp`, which
    /// includes ESP in transit to another gateway).
    pub fn classify(&self, packet: &[u8]) -> Result<PacketClass, EspDrop> {
        let class = classify(packet, self.nat_t_port())?;
        let destination = match class {
            PacketClass::Esp(o) => Some(o.dst),
            PacketClass::NatKeepalive | PacketClass::NonEspMarker => outer_destination(packet),
            PacketClass::NotEsp => None,
        };
        Ok(match destination {
            Some(dst) if !self.is_local(dst) => PacketClass::NotEsp,
            _ => class,
        })
    }

    /// Finds the SA of the ESP packet in `buf` and decapsulates it. Drops are
    /// counted on the SA when it was found, in [`Self::unmatched_drops`]
    /// otherwise.
    pub fn decapsulate(
        &self,
        buf: &mut PacketBuf,
    ) -> Result<(&Arc<InboundSa>, DecapOutcome), EspDrop> {
        let (sa, outer) = self.find_for(buf.as_slice())?;
        sa.decapsulate_classified(buf, &outer).map(|o| (sa, o))
    }

    /// Decapsulates a batch: `results[i]` is what [`Self::decapsulate`]
    /// would have returned for `bufs[i]`, with the same drop counting. For
    /// each block of up to [`MAX_BATCH`] packets, the packets of each SA go
    /// through [`InboundSa::decapsulate_batch`]'s block processing together
    /// (one window lock per SA and block). Handles
    /// `min(bufs.len(), results.len())` packets and returns that number.
    pub fn decapsulate_batch<'a, B: BorrowMut<PacketBuf>>(
        &'a self,
        bufs: &mut [B],
        results: &mut [Result<(&'a Arc<InboundSa>, DecapOutcome), EspDrop>],
    ) -> usize {
        in_blocks(bufs, results, |bufs, results| {
            self.decapsulate_block(bufs, results)
        })
    }

    fn decapsulate_block<'a, B: BorrowMut<PacketBuf>>(
        &'a self,
        bufs: &mut [B],
        results: &mut [Result<(&'a Arc<InboundSa>, DecapOutcome), EspDrop>],
    ) {
        let mut found: [Option<(&Arc<InboundSa>, OuterEsp)>; MAX_BATCH] = [None; MAX_BATCH];
        for ((buf, result), slot) in bufs.iter().zip(results.iter_mut()).zip(&mut found) {
            *slot = None;
            match self.find_for(buf.borrow().as_slice()) {
                Ok(hit) => *slot = Some(hit),
                Err(reason) => *result = Err(reason),
            }
        }
        let mut per_sa = [Err(EspDrop::NotEsp); MAX_BATCH];
        // Each SA of the block in order of first appearance; usually one.
        let mut next = 0;
        while let Some(first) = found.iter().skip(next).position(Option::is_some) {
            let Some(Some((sa, _))) = found.get(next + first).copied() else {
                break;
            };
            let mine = |slot: &Option<(&Arc<InboundSa>, OuterEsp)>| {
                slot.filter(|(other, _)| Arc::ptr_eq(other, sa))
                    .map(|(_, outer)| outer)
            };
            sa.decapsulate_block(bufs, &mut per_sa[..bufs.len()], |i, _| {
                found.get(i).and_then(mine).map(Ok)
            });
            for ((slot, result), outcome) in found.iter_mut().zip(results.iter_mut()).zip(&per_sa) {
                if mine(slot).is_some() {
                    *result = outcome.map(|o| (sa, o));
                    *slot = None;
                }
            }
            next += first + 1;
        }
    }

    /// The SA and classification of an arriving packet, or why there is
    /// none (counted as unmatched).
    #[inline]
    fn find_for(&self, packet: &[u8]) -> Result<(&Arc<InboundSa>, OuterEsp), EspDrop> {
        let outer = match self.classify(packet) {
            Ok(PacketClass::Esp(outer)) => outer,
            Ok(_) => return Err(self.unmatched(EspDrop::NotEsp)),
            Err(reason) => return Err(self.unmatched(reason)),
        };
        let sa = self
            .find(outer.spi, outer.dst)
            .ok_or_else(|| self.unmatched(EspDrop::UnknownSpi))?;
        Ok((sa, outer))
    }

    fn unmatched(&self, reason: EspDrop) -> EspDrop {
        if let Some(c) = self.unmatched.get(reason as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        reason
    }

    /// Drops that matched no SA, by reason (non-zero only).
    pub fn unmatched_drops(&self) -> Vec<(EspDrop, u64)> {
        EspDrop::ALL
            .iter()
            .zip(self.unmatched.iter())
            .map(|(r, c)| (*r, c.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

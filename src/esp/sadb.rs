//! The inbound SA database (RFC 4301 section 4.4.2): finds the SA for an
//! arriving ESP packet by SPI and outer destination, and recognises ESP and
//! ESP in UDP (RFC 3948) for the local endpoint.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use thiserror::Error;

use super::config::NAT_T_PORT;
use super::drop::EspDrop;
use super::inbound::{DecapOutcome, InboundSa};
use super::wire::{PacketClass, classify};
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
    by_key: HashMap<(u32, Option<IpAddr>), Arc<InboundSa>>,
    /// Local tunnel addresses of the SAs; `None` in the list when some SA
    /// accepts any destination.
    locals: Vec<Option<IpAddr>>,
    nat_t_port: Option<u16>,
    /// Drops with no SA to charge them to, by reason.
    unmatched: [AtomicU64; EspDrop::COUNT],
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
            PacketClass::NatKeepalive | PacketClass::NonEspMarker => {
                crate::esp::wire::outer_destination(packet)
            }
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
        let outer = match self.classify(buf.as_slice()) {
            Ok(PacketClass::Esp(outer)) => outer,
            Ok(_) => return Err(self.unmatched(EspDrop::NotEsp)),
            Err(reason) => return Err(self.unmatched(reason)),
        };
        let sa = self
            .find(outer.spi, outer.dst)
            .ok_or_else(|| self.unmatched(EspDrop::UnknownSpi))?;
        sa.decapsulate_classified(buf, &outer).map(|o| (sa, o))
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

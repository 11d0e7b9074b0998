//! The node's SAs at run time, replaceable while workers forward: IKE
//! (`src/ike`, through the control plane) installs, rekeys and deletes
//! CHILD_SAs. The inbound SAs of every tunnel are one published version
//! ([`InboundSas`]: the database and the tunnel of each SPI) behind an
//! `ArcSwap`, as the FIB is (`fib::FibReader`): a writer builds the next
//! version and swaps it in; a reader loads the current one without
//! blocking or allocating and keeps it for the packet. Each tunnel's
//! outbound SA is an `ArcSwapOption` of its own (none: the tunnel has no
//! SA, traffic routed into it is dropped as `tunnel_no_sa`).
//!
//! Make-before-break (RFC 7296 section 2.8): the new inbound SA is published
//! before the outbound one switches, and the old inbound SA stays until the
//! peer's Delete removes it. An SA object is never rebuilt: its sequence
//! numbers live in it (`esp::OutboundSa`), so they continue across every
//! swap of the table and are never reused by its replacement, which has a
//! new SPI.
//!
//! Each worker sends on the outbound SAs through [`SendLeases`], one
//! sequence-number lease per tunnel (`esp::SendLease`): the SA's send lock
//! is taken once per block of a batch, not once per packet.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::{ArcSwap, ArcSwapOption, Guard};

use super::node::{Node, NodeError};
use crate::esp::{
    EncapOutcome, EspDrop, InboundSa, OutboundSa, SaConfig, SaDatabase, SaDbError, SendLease,
    TunnelEndpoints,
};
use crate::fib::InterfaceId;
use crate::packet::PacketBuf;

/// One published version of the inbound SAs.
#[derive(Debug, Default)]
pub(crate) struct InboundSas {
    /// The database the decapsulation path looks SAs up in.
    pub(crate) db: SaDatabase,
    /// The tunnel each inbound SPI belongs to.
    tunnel_of: foldhash::HashMap<u32, InterfaceId>,
}

impl InboundSas {
    /// The tunnel the inbound SA `spi` belongs to.
    #[inline]
    pub(crate) fn tunnel_of(&self, spi: u32) -> Option<InterfaceId> {
        self.tunnel_of.get(&spi).copied()
    }

    /// Adds an SA while the node is being built (before any reader).
    pub(crate) fn insert(
        &mut self,
        tunnel: InterfaceId,
        sa: Arc<InboundSa>,
    ) -> Result<(), SaDbError> {
        let spi = sa.spi();
        self.db.insert(sa)?;
        self.tunnel_of.insert(spi, tunnel);
        Ok(())
    }

    /// The next version: the SAs `keep` accepts, plus `add` on `tunnel`.
    fn rebuilt(
        &self,
        keep: impl Fn(&InboundSa) -> bool,
        add: Option<(InterfaceId, Arc<InboundSa>)>,
    ) -> Result<InboundSas, SaDbError> {
        let spi_added = add.as_ref().map(|(tunnel, sa)| (*tunnel, sa.spi()));
        let db = self.db.rebuilt(&keep, add.map(|(_, sa)| sa))?;
        let mut tunnel_of: foldhash::HashMap<u32, InterfaceId> = self
            .tunnel_of
            .iter()
            .filter(|(spi, _)| db.iter().any(|sa| sa.spi() == **spi))
            .map(|(spi, tunnel)| (*spi, *tunnel))
            .collect();
        if let Some((tunnel, spi)) = spi_added {
            tunnel_of.insert(spi, tunnel);
        }
        Ok(InboundSas { db, tunnel_of })
    }

    /// The inbound SPIs of `tunnel`.
    pub(crate) fn spis_of(&self, tunnel: InterfaceId) -> Vec<u32> {
        let mut spis: Vec<u32> = self
            .tunnel_of
            .iter()
            .filter(|(_, t)| **t == tunnel)
            .map(|(spi, _)| *spi)
            .collect();
        spis.sort_unstable();
        spis
    }
}

/// The published inbound SAs and the lock that serialises writers.
#[derive(Debug)]
pub(crate) struct SaTable {
    inbound: ArcSwap<InboundSas>,
    writer: Mutex<()>,
}

impl SaTable {
    /// A table holding `initial` (built with the node).
    pub(crate) fn new(initial: InboundSas) -> Self {
        SaTable {
            inbound: ArcSwap::from_pointee(initial),
            writer: Mutex::new(()),
        }
    }

    /// The current version, for one packet (no lock, no allocation).
    #[inline]
    pub(crate) fn inbound(&self) -> Guard<Arc<InboundSas>> {
        self.inbound.load()
    }

    /// Publishes the next version: `keep` decides which SAs stay and `add`
    /// joins them. Writers take turns; readers never wait.
    pub(crate) fn change(
        &self,
        keep: impl Fn(&InboundSa) -> bool,
        add: Option<(InterfaceId, Arc<InboundSa>)>,
    ) -> Result<(), SaDbError> {
        let _turn = lock(&self.writer);
        let next = self.inbound.load().rebuilt(keep, add)?;
        self.inbound.store(Arc::new(next));
        Ok(())
    }
}

/// A tunnel's outbound SA: replaced whole, never changed in place.
#[derive(Debug, Default)]
pub(crate) struct OutboundSlot(ArcSwapOption<OutboundSa>);

impl OutboundSlot {
    /// A slot holding `sa` (static SAs) or nothing (IKE, until it is up).
    pub(crate) fn new(sa: Option<OutboundSa>) -> Self {
        OutboundSlot(ArcSwapOption::new(sa.map(Arc::new)))
    }

    /// The current SA, for one packet.
    #[inline]
    pub(crate) fn load(&self) -> Guard<Option<Arc<OutboundSa>>> {
        self.0.load()
    }

    /// Switches to `sa` (`None`: the tunnel has no SA any more).
    pub(crate) fn store(&self, sa: Option<Arc<OutboundSa>>) {
        self.0.store(sa);
    }
}

/// One worker's leases on the tunnels' outbound SAs, indexed by interface
/// (only tunnels use theirs). Settled at the end of every batch.
#[derive(Debug)]
pub(crate) struct SendLeases(RefCell<Vec<SendLease>>);

impl SendLeases {
    /// Leases for a node of `interfaces` interfaces, all empty.
    pub(crate) fn new(interfaces: usize) -> Self {
        SendLeases(RefCell::new(
            (0..interfaces).map(|_| SendLease::default()).collect(),
        ))
    }

    /// Encapsulates `buf` with `sa`, the current SA of `tunnel`, on the
    /// tunnel's lease (`wanted`: the batch's packets left, this one
    /// included). Refused for a tunnel beyond the node's interfaces.
    #[inline]
    pub(crate) fn encapsulate(
        &self,
        tunnel: InterfaceId,
        sa: &Arc<OutboundSa>,
        buf: &mut PacketBuf,
        wanted: usize,
    ) -> Result<EncapOutcome, EspDrop> {
        let mut leases = self.0.borrow_mut();
        match leases.get_mut(tunnel.0 as usize) {
            Some(lease) => lease.encapsulate(sa, buf, wanted),
            // Unreachable: tunnels are interfaces of the node.
            None => sa.encapsulate(buf),
        }
    }

    /// Settles every lease: usage counted, unused numbers given back.
    pub(crate) fn settle(&self) {
        for lease in self.0.borrow_mut().iter_mut().filter(|l| l.is_held()) {
            lease.settle();
        }
    }
}

impl Node {
    /// Installs a CHILD_SA on tunnel `interface`, make-before-break: the
    /// inbound SA is published first (the peer may use the new SA as soon
    /// as it has it), then the outbound SA replaces the tunnel's current
    /// one. The old inbound SA stays until [`Node::remove_inbound_sa`].
    /// The tunnel's endpoints override the configurations'.
    pub fn install_sas(
        &self,
        interface: InterfaceId,
        inbound: &SaConfig,
        outbound: &SaConfig,
    ) -> Result<(), NodeError> {
        let name = || self.interface_name(interface).unwrap_or("?").to_owned();
        let tunnel = self
            .tunnel(interface)
            .ok_or_else(|| NodeError::NotATunnel { interface: name() })?;
        let endpoints = TunnelEndpoints {
            local: tunnel.local,
            remote: tunnel.remote,
        };
        let sa_error = |source| NodeError::Sa {
            interface: name(),
            source,
        };
        let sa_out = OutboundSa::with_endpoints(outbound, endpoints).map_err(sa_error)?;
        let mut inbound = inbound.clone();
        inbound.tunnel = Some(endpoints);
        let sa_in = Arc::new(InboundSa::new(&inbound).map_err(sa_error)?);
        self.sas
            .change(|_| true, Some((interface, sa_in)))
            .map_err(|source| NodeError::SaDatabase {
                interface: name(),
                source,
            })?;
        tunnel.sa_out.store(Some(Arc::new(sa_out)));
        Ok(())
    }

    /// Removes the inbound SA `spi` (deleted after a rekey, or by the
    /// peer). False when there was none.
    pub fn remove_inbound_sa(&self, spi: u32) -> bool {
        let present = self.sas.inbound().tunnel_of(spi).is_some();
        // Only a database refusing SAs it already held could fail here.
        present && self.sas.change(|sa| sa.spi() != spi, None).is_ok()
    }

    /// Stops sending on the outbound SA `spi` if it is tunnel
    /// `interface`'s current one (the peer deleted it without a
    /// replacement): traffic routed into the tunnel is then dropped as
    /// `tunnel_no_sa`.
    pub fn remove_outbound_sa(&self, interface: InterfaceId, spi: u32) -> bool {
        let Some(tunnel) = self.tunnel(interface) else {
            return false;
        };
        let current = tunnel.sa_out.load();
        if current.as_ref().is_some_and(|sa| sa.spi() == spi) {
            tunnel.sa_out.store(None);
            return true;
        }
        false
    }

    /// The tunnel is down (its peer is dead, its IKE SA deleted): no
    /// outbound SA, and its inbound SAs removed. Fails closed: traffic
    /// routed into it is dropped as `tunnel_no_sa`, never sent in clear.
    pub fn clear_tunnel_sas(&self, interface: InterfaceId) {
        if let Some(tunnel) = self.tunnel(interface) {
            tunnel.sa_out.store(None);
        }
        let gone = self.sas.inbound().spis_of(interface);
        if !gone.is_empty() {
            let _ = self.sas.change(|sa| !gone.contains(&sa.spi()), None);
        }
    }

    /// Whether the soft lifetime (bytes or packets) of tunnel
    /// `interface`'s current outbound SA or of its inbound SA `spi_in` was
    /// reached: the CHILD_SA is due for a rekey by volume.
    pub fn soft_limit_reached(&self, interface: InterfaceId, spi_in: u32) -> bool {
        let Some(tunnel) = self.tunnel(interface) else {
            return false;
        };
        let outbound = tunnel
            .sa_out
            .load()
            .as_ref()
            .is_some_and(|sa| sa.soft_limit_reached());
        outbound
            || self
                .sas
                .inbound()
                .db
                .find(spi_in, tunnel.local)
                .is_some_and(|sa| sa.soft_limit_reached())
    }

    /// True when tunnel `interface` has an SA to send on.
    pub fn tunnel_has_sa(&self, interface: InterfaceId) -> bool {
        self.tunnel(interface)
            .is_some_and(|t| t.sa_out.load().is_some())
    }

    /// The SPI of tunnel `interface`'s current outbound SA and its inbound
    /// SPIs (sorted), for reports and tests.
    pub fn tunnel_spis(&self, interface: InterfaceId) -> (Option<u32>, Vec<u32>) {
        let out = self
            .tunnel(interface)
            .and_then(|t| t.sa_out.load().as_ref().map(|sa| sa.spi()));
        (out, self.sas.inbound().spis_of(interface))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

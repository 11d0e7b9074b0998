//! CHILD_SA rekeying and deletion (RFC 7296 sections 1.3.3, 1.4.1, 2.8):
//! make-before-break. The side that rekeys sends CREATE_CHILD_SA with a
//! REKEY_SA notify naming the old SA; both sides install the new SA
//! ([`Event::ChildSaRekeyed`]) while the old one keeps working, then the
//! rekeying side deletes the old one with an INFORMATIONAL Delete and both
//! uninstall it ([`Event::ChildSaDeleted`]). erdp rekeys
//! [`IkeConfig::child_rekey_margin`] before [`IkeConfig::child_lifetime`].
//!
//! PFS (section 1.3.1): an ESP suite with a DH group ([`EspSuite::pfs`])
//! puts the group in rekey proposals and a KE payload beside the nonce;
//! the new KEYMAT then also depends on a fresh g^ir (section 2.17). A KE in
//! another group than the chosen proposal's is answered INVALID_KE_PAYLOAD
//! with ours, and our rekey answered so starts again in the group named,
//! if one of our PFS suites has it.
//!
//! Not yet: rekeying the IKE SA itself (answered NO_ADDITIONAL_SAS) and
//! simultaneous-rekey collisions (section 2.8.1).
//!
//! [`EspSuite::pfs`]: super::EspSuite::pfs
//!
//! [`IkeConfig::child_rekey_margin`]: super::IkeConfig::child_rekey_margin
//! [`IkeConfig::child_lifetime`]: super::IkeConfig::child_lifetime

use std::time::Duration;

use super::crypto::{DhGroup, DhPrivate};
use super::exchange::{IkeSa, NONCE_LEN, Parsed, Request, notify_chain, ts_names};
use super::keys::derive_child_keys;
use super::proposal::{proposal_names, select_esp_rekey};
use super::ts::narrow;
use super::{ChildSa, Event, Failure, Ike, IkeDrop, Output, child_sa};
use crate::wire::ike::{
    Delete, IkeWireError, KeyExchange, Notify, PayloadChain, TrafficSelector, exchange, notify,
    payload, protocol, write_sa, write_ts,
};

/// Most CHILD_SAs one IKE SA holds (the rekey overlap needs two).
pub(super) const MAX_CHILDREN: usize = 4;

/// How long after a failed rekey it is tried again (the old SA still works
/// meanwhile).
pub(super) const REKEY_RETRY: Duration = Duration::from_secs(30);

/// A CHILD_SA as the IKE SA remembers it.
#[derive(Debug, Clone)]
pub(super) struct Child {
    /// The SPI we receive on.
    pub(super) spi_in: u32,
    /// The SPI the peer receives on.
    pub(super) spi_out: u32,
    /// Our side's selectors.
    pub(super) local_ts: Vec<TrafficSelector>,
    /// The peer's side's selectors.
    pub(super) remote_ts: Vec<TrafficSelector>,
    pub(super) created: Duration,
    /// A rekey of it is under way or done: it is not rekeyed again.
    pub(super) replaced: bool,
    /// The driver asked for a rekey (a byte limit): rekey at the next poll.
    pub(super) rekey_asked: bool,
    /// A rekey failed: not before this time again.
    pub(super) retry_at: Option<Duration>,
}

impl Child {
    pub(super) fn of(c: &ChildSa, now: Duration) -> Self {
        Child {
            spi_in: c.inbound.spi,
            spi_out: c.outbound.spi,
            local_ts: c.local_ts.clone(),
            remote_ts: c.remote_ts.clone(),
            created: now,
            replaced: false,
            rekey_asked: false,
            retry_at: None,
        }
    }

    fn due(&self, now: Duration, after: Duration) -> bool {
        !self.replaced
            && self.retry_at.is_none_or(|at| now >= at)
            && (self.rekey_asked || now >= self.created + after)
    }
}

impl Ike {
    /// Asks for a rekey of the CHILD_SA we receive on `inbound_spi` at the
    /// next [`Ike::poll`] (the driver calls this when the SA's soft byte or
    /// packet limit is reached). False when no such CHILD_SA is live, or
    /// when a rekey of it was already asked for.
    pub fn rekey_child(&mut self, inbound_spi: u32) -> bool {
        let child = self
            .sas
            .values_mut()
            .flat_map(|sa| sa.children.iter_mut())
            .find(|c| c.spi_in == inbound_spi && !c.replaced);
        child.is_some_and(|c| !std::mem::replace(&mut c.rekey_asked, true))
    }

    /// Starts a rekey of every CHILD_SA past its rekey time, one request
    /// at a time per IKE SA.
    pub(super) fn start_rekeys(&mut self, now: Duration, out: &mut Output) {
        let due = self
            .config
            .child_lifetime
            .saturating_sub(self.config.child_rekey_margin);
        self.each_idle_sa(
            |sa| sa.children.iter().any(|c| c.due(now, due)),
            |ike, sa| {
                if let Some(i) = sa.children.iter().position(|c| c.due(now, due))
                    && !ike.send_rekey(sa, i, None, now, out)
                {
                    ike.count_drop(IkeDrop::Internal);
                }
            },
        );
    }

    /// Sends CREATE_CHILD_SA rekeying `sa.children[i]`; with PFS, the key
    /// exchange is in `group`, else in our first PFS suite's group.
    fn send_rekey(
        &mut self,
        sa: &mut IkeSa,
        i: usize,
        group: Option<DhGroup>,
        now: Duration,
        out: &mut Output,
    ) -> bool {
        let (Some(spi_in), Some(ni)) = (self.new_esp_spi(), self.random::<NONCE_LEN>()) else {
            return false;
        };
        let pfs = group.or_else(|| self.config.esp_suites.iter().find_map(|s| s.pfs));
        let dh = match pfs.map(|group| group.generate(&self.rng)) {
            Some(None) => return false,
            Some(Some(dh)) => Some(dh),
            None => None,
        };
        let old = &sa.children[i];
        let old_spi_in = old.spi_in;
        let rekey = Notify {
            protocol: protocol::ESP,
            spi: old_spi_in.to_be_bytes().to_vec(),
            kind: notify::REKEY_SA,
            data: Vec::new(),
        };
        let mut chain = PayloadChain::new();
        let built = (|| {
            chain.push(payload::NOTIFY, &rekey.to_bytes()?)?;
            chain.push(payload::SA, &write_sa(&self.esp_rekey_proposals(spi_in))?)?;
            chain.push(payload::NONCE, &ni)?;
            if let Some(dh) = &dh {
                chain.push(payload::KE, &key_exchange(dh).to_bytes())?;
            }
            chain.push(payload::TSI, &write_ts(&old.local_ts)?)?;
            chain.push(payload::TSR, &write_ts(&old.remote_ts)?)?;
            Ok::<_, IkeWireError>(chain)
        })();
        let id = sa.next_request_id;
        let Some(bytes) = built
            .ok()
            .and_then(|chain| self.seal(sa, exchange::CREATE_CHILD_SA, id, false, chain))
        else {
            return false;
        };
        sa.children[i].replaced = true;
        self.send_request(sa, id, bytes, now, out);
        if let Some(p) = sa.pending.as_mut() {
            p.request = Request::Rekey {
                old_spi_in,
                spi_in,
                ni: ni.to_vec(),
                dh,
            };
        }
        true
    }

    /// The peer's answer to our CREATE_CHILD_SA: install the new SA, then
    /// delete the old one. A failed rekey is reported and tried again
    /// [`REKEY_RETRY`] later.
    pub(super) fn rekey_response(
        &mut self,
        now: Duration,
        sa: &mut IkeSa,
        p: &Parsed,
        request: (u32, u32, &[u8], Option<DhPrivate>),
        out: &mut Output,
    ) {
        let old_spi_in = request.0;
        if let Err(failure) = self.rekey_answered(now, sa, p, request, out) {
            if let Some(old) = sa.children.iter_mut().find(|c| c.spi_in == old_spi_in) {
                old.replaced = false;
                old.retry_at = Some(now + REKEY_RETRY);
            }
            out.events.push(Event::Failed {
                spi_i: sa.spi_i,
                failure,
            });
        }
    }

    /// [`Self::rekey_response`] up to a failure.
    fn rekey_answered(
        &mut self,
        now: Duration,
        sa: &mut IkeSa,
        p: &Parsed,
        (old_spi_in, spi_in, ni, dh): (u32, u32, &[u8], Option<DhPrivate>),
        out: &mut Output,
    ) -> Result<(), Failure> {
        if let Some(kind) = p.error() {
            let tried = dh.as_ref().map(DhPrivate::group);
            if kind == notify::INVALID_KE_PAYLOAD
                && self.retry_rekey(sa, p, old_spi_in, tried, now, out)
            {
                return Ok(());
            }
            let failure = if kind == notify::NO_PROPOSAL_CHOSEN {
                Failure::NoProposalChosen {
                    sa: "CHILD",
                    ours: proposal_names(&self.esp_rekey_proposals(spi_in)),
                    theirs: Vec::new(),
                }
            } else {
                Failure::PeerError { notify: kind }
            };
            return Err(failure);
        }
        let chosen = p.sa.as_deref().and_then(|props| {
            (props.len() == 1)
                .then(|| select_esp_rekey(&self.config.esp_suites, props))
                .flatten()
        });
        let Some(old) = sa.children.iter().find(|c| c.spi_in == old_spi_in).cloned() else {
            return Ok(());
        };
        let (Some((_, suite, spi_out)), Some(nr), Some(ts_i), Some(ts_r)) =
            (chosen, &p.nonce, &p.ts_i, &p.ts_r)
        else {
            let notify = notify::INVALID_SYNTAX;
            return Err(Failure::PeerError { notify });
        };
        // PFS: the peer's KE must be in the chosen proposal's group, ours.
        let shared = match (suite.pfs, dh, &p.ke) {
            (None, _, _) => None,
            (Some(group), Some(dh), Some(ke)) if dh.group() == group && ke.group == group.id() => {
                match dh.agree(&ke.data) {
                    Ok(shared) => Some(shared),
                    Err(_) => {
                        let notify = notify::INVALID_SYNTAX;
                        return Err(Failure::PeerError { notify });
                    }
                }
            }
            _ => {
                let notify = notify::INVALID_KE_PAYLOAD;
                return Err(Failure::PeerError { notify });
            }
        };
        let keys = sa.suite.zip(sa.keys.as_ref()).and_then(|(ike, keys)| {
            let shared = shared.as_deref().map(Vec::as_slice);
            derive_child_keys(ike.prf, &keys.sk_d, shared, ni, nr, suite.keymat_len())
        });
        let Some((i_to_r, r_to_i)) = keys else {
            self.count_drop(IkeDrop::Internal);
            return Ok(());
        };
        let child = child_sa(
            &self.config,
            sa.nat.then_some(sa.remote.port()),
            suite,
            (spi_in, &r_to_i),
            (spi_out, &i_to_r),
            ts_i.clone(),
            ts_r.clone(),
        );
        sa.children.push(Child::of(&child, now));
        out.events.push(Event::ChildSaRekeyed {
            old_inbound_spi: old_spi_in,
            new: Box::new(child),
        });
        self.send_delete(sa, &old, now, out);
        Ok(())
    }

    /// INVALID_KE_PAYLOAD to our rekey names the group the peer wants
    /// (RFC 7296 section 1.3.1): when one of our PFS suites has it and we
    /// did not just try it, the rekey starts again in that group. True
    /// when a new request went out.
    fn retry_rekey(
        &mut self,
        sa: &mut IkeSa,
        p: &Parsed,
        old_spi_in: u32,
        tried: Option<DhGroup>,
        now: Duration,
        out: &mut Output,
    ) -> bool {
        let wanted = p.invalid_ke_group();
        let ours = |g: DhGroup| self.config.esp_suites.iter().any(|s| s.pfs == Some(g));
        let Some(group) = wanted.filter(|g| ours(*g) && tried != Some(*g)) else {
            return false;
        };
        let Some(i) = sa.children.iter().position(|c| c.spi_in == old_spi_in) else {
            return false;
        };
        sa.children[i].replaced = false;
        self.send_rekey(sa, i, Some(group), now, out)
    }

    /// Deletes `old` (ours after a rekey): INFORMATIONAL with a Delete of
    /// the SPI we receive on.
    fn send_delete(&mut self, sa: &mut IkeSa, old: &Child, now: Duration, out: &mut Output) {
        let id = sa.next_request_id;
        let bytes = Delete::Esp(vec![old.spi_in])
            .to_bytes()
            .ok()
            .and_then(|b| {
                let mut chain = PayloadChain::new();
                chain.push(payload::DELETE, &b).ok()?;
                Some(chain)
            })
            .and_then(|chain| self.seal(sa, exchange::INFORMATIONAL, id, false, chain));
        let Some(bytes) = bytes else {
            return self.count_drop(IkeDrop::Internal);
        };
        self.send_request(sa, id, bytes, now, out);
        if let Some(p) = sa.pending.as_mut() {
            p.request = Request::Delete { spi_in: old.spi_in };
        }
    }

    /// The peer confirmed our Delete: the old SA is gone on both sides.
    pub(super) fn delete_response(&mut self, sa: &mut IkeSa, spi_in: u32, out: &mut Output) {
        if let Some(i) = sa.children.iter().position(|c| c.spi_in == spi_in) {
            let old = sa.children.remove(i);
            out.events.push(Event::ChildSaDeleted {
                inbound_spi: old.spi_in,
                outbound_spi: old.spi_out,
            });
        }
    }

    /// The peer's CREATE_CHILD_SA: a CHILD_SA rekey (REKEY_SA) or a new
    /// CHILD_SA. Returns the response's payloads.
    pub(super) fn responder_create_child(
        &mut self,
        now: Duration,
        sa: &mut IkeSa,
        p: &Parsed,
        out: &mut Output,
    ) -> PayloadChain {
        let proposals = p.sa.as_deref().unwrap_or_default();
        if proposals.iter().any(|x| x.protocol == protocol::IKE) {
            // An IKE SA rekey: not supported yet (the module docs).
            return notify_chain(notify::NO_ADDITIONAL_SAS, &[]);
        }
        let live = sa.children.iter().filter(|c| !c.replaced).count();
        if sa.children.len() >= MAX_CHILDREN || (live > 0 && p.notify(notify::REKEY_SA).is_none()) {
            return notify_chain(notify::NO_ADDITIONAL_SAS, &[]);
        }
        // REKEY_SA names the SA by the SPI the peer receives on: our spi_out.
        let old = p.notify(notify::REKEY_SA).map(|n| {
            let spi = <[u8; 4]>::try_from(n.spi.as_slice()).map(u32::from_be_bytes);
            spi.ok()
                .and_then(|spi| sa.children.iter().position(|c| c.spi_out == spi))
        });
        let old = match old {
            Some(Some(i)) => Some(i),
            // RFC 7296 section 2.25: rekeying an SA that does not exist.
            Some(None) => return notify_chain(notify::CHILD_SA_NOT_FOUND, &[]),
            None => None,
        };
        let (Some(nonce), Some(ts_i), Some(ts_r)) = (&p.nonce, &p.ts_i, &p.ts_r) else {
            return notify_chain(notify::INVALID_SYNTAX, &[]);
        };
        let Some((number, suite, spi_out)) = select_esp_rekey(&self.config.esp_suites, proposals)
        else {
            out.events.push(Event::Failed {
                spi_i: sa.spi_i,
                failure: Failure::NoProposalChosen {
                    sa: "CHILD",
                    ours: proposal_names(&self.esp_rekey_proposals(0)),
                    theirs: proposal_names(proposals),
                },
            });
            return notify_chain(notify::NO_PROPOSAL_CHOSEN, &[]);
        };
        // PFS: the peer's KE must be in the chosen proposal's group (a KE
        // beside a chosen proposal without a group is ignored).
        let pfs = match (suite.pfs, &p.ke) {
            (None, _) => None,
            (Some(group), Some(ke)) if ke.group == group.id() => Some((group, ke)),
            (Some(group), Some(_)) => {
                return notify_chain(notify::INVALID_KE_PAYLOAD, &group.id().to_be_bytes());
            }
            (Some(_), None) => return notify_chain(notify::INVALID_SYNTAX, &[]),
        };
        let (local, remote) = self.our_ts();
        let (narrowed_i, narrowed_r) = (narrow(ts_i, &remote), narrow(ts_r, &local));
        if narrowed_i.is_empty() || narrowed_r.is_empty() {
            let theirs = format!("TSi {} TSr {}", ts_names(ts_i), ts_names(ts_r));
            out.events.push(Event::Failed {
                spi_i: sa.spi_i,
                failure: self.ts_unacceptable(theirs),
            });
            return notify_chain(notify::TS_UNACCEPTABLE, &[]);
        }
        let (Some(spi_in), Some(nr)) = (self.new_esp_spi(), self.random::<NONCE_LEN>()) else {
            self.count_drop(IkeDrop::Internal);
            return notify_chain(notify::NO_ADDITIONAL_SAS, &[]);
        };
        let (shared, ke_r) = match pfs.map(|(group, ke)| self.answer_key_exchange(group, ke)) {
            None => (None, None),
            Some(Ok((shared, ke_r))) => (Some(shared), Some(ke_r)),
            Some(Err(chain)) => return chain,
        };
        let keys = sa.suite.zip(sa.keys.as_ref()).and_then(|(ike, keys)| {
            let shared = shared.as_deref().map(Vec::as_slice);
            derive_child_keys(ike.prf, &keys.sk_d, shared, nonce, &nr, suite.keymat_len())
        });
        let Some((i_to_r, r_to_i)) = keys else {
            self.count_drop(IkeDrop::Internal);
            return notify_chain(notify::NO_ADDITIONAL_SAS, &[]);
        };
        let child = child_sa(
            &self.config,
            sa.nat.then_some(sa.remote.port()),
            suite,
            (spi_in, &i_to_r),
            (spi_out, &r_to_i),
            narrowed_r.clone(),
            narrowed_i.clone(),
        );
        sa.children.push(Child::of(&child, now));
        out.events.push(match old {
            Some(i) => {
                sa.children[i].replaced = true;
                Event::ChildSaRekeyed {
                    old_inbound_spi: sa.children[i].spi_in,
                    new: Box::new(child),
                }
            }
            None => Event::ChildSaInstalled(Box::new(child)),
        });
        let mut chain = PayloadChain::new();
        let built = (|| {
            chain.push(
                payload::SA,
                &write_sa(&[suite.to_rekey_proposal(number, spi_in)])?,
            )?;
            chain.push(payload::NONCE, &nr)?;
            if let Some(ke_r) = &ke_r {
                chain.push(payload::KE, &ke_r.to_bytes())?;
            }
            chain.push(payload::TSI, &write_ts(&narrowed_i)?)?;
            chain.push(payload::TSR, &write_ts(&narrowed_r)?)?;
            Ok::<_, IkeWireError>(chain)
        })();
        built.unwrap_or_else(|_| {
            self.count_drop(IkeDrop::Internal);
            PayloadChain::new()
        })
    }

    /// The responder's half of a PFS key exchange in `group` with the
    /// peer's `ke`: the shared secret and our KE payload, or the error
    /// response (an invalid public value is INVALID_SYNTAX).
    fn answer_key_exchange(
        &mut self,
        group: DhGroup,
        ke: &KeyExchange,
    ) -> Result<(crate::ike::crypto::Secret, KeyExchange), PayloadChain> {
        let Some(dh) = group.generate(&self.rng) else {
            self.count_drop(IkeDrop::Internal);
            return Err(notify_chain(notify::NO_ADDITIONAL_SAS, &[]));
        };
        let ours = key_exchange(&dh);
        dh.agree(&ke.data)
            .map(|shared| (shared, ours))
            .map_err(|_| notify_chain(notify::INVALID_SYNTAX, &[]))
    }

    /// The peer deletes CHILD_SAs (by the SPIs it receives on, our
    /// outbound ones): uninstall them and answer with our inbound SPIs of
    /// the same SAs (RFC 7296 section 1.4.1).
    pub(super) fn responder_delete(
        &mut self,
        sa: &mut IkeSa,
        peer_spis: &[u32],
        out: &mut Output,
    ) -> PayloadChain {
        let mut ours = Vec::new();
        sa.children.retain(|c| {
            if !peer_spis.contains(&c.spi_out) {
                return true;
            }
            ours.push(c.spi_in);
            out.events.push(Event::ChildSaDeleted {
                inbound_spi: c.spi_in,
                outbound_spi: c.spi_out,
            });
            false
        });
        let mut chain = PayloadChain::new();
        if !ours.is_empty() {
            let pushed = Delete::Esp(ours)
                .to_bytes()
                .and_then(|b| chain.push(payload::DELETE, &b));
            if pushed.is_err() {
                self.count_drop(IkeDrop::Internal);
            }
        }
        chain
    }
}

/// Our KE payload for `dh`.
fn key_exchange(dh: &DhPrivate) -> KeyExchange {
    KeyExchange {
        group: dh.group().id(),
        data: dh.public().to_vec(),
    }
}

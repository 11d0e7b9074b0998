//! The initiator's side of IKE_SA_INIT and IKE_AUTH (RFC 7296 sections
//! 1.2, 2.7 and 2.23): propose, retry with the group an INVALID_KE_PAYLOAD
//! asks for, move to UDP 4500 behind a NAT, authenticate with the PSK and
//! check the CHILD_SA the responder chose.

use std::time::Duration;

use super::exchange::{
    IkeSa, NONCE_LEN, Parsed, State, header, ike_keys, nat_detected, push_nat_detection, ts_names,
};
use super::proposal::{proposal_names, select_esp, select_ike};
use super::rekey::Child;
use super::ts::covered_by;
use super::{Datagram, DhGroup, Event, Failure, Ike, IkeDrop, NAT_T_PORT, Output, child_sa};
use crate::wire::ike::{
    IKE_HEADER_LEN, IkeHeader, IkeWireError, KeyExchange, Notify, PayloadChain, exchange, flags,
    notify, payload, split_payloads, write_sa, write_ts,
};

impl Ike {
    /// Starts an IKE SA with the configured peer: returns IKE_SA_INIT.
    pub fn initiate(&mut self, now: Duration, out: &mut Output) {
        let Some(spi_i) = self.new_spi() else {
            return self.count_drop(IkeDrop::Internal);
        };
        let Some(first) = self.config.ike_suites.first().copied() else {
            return;
        };
        let addresses = (self.config.local, self.config.remote);
        let mut sa = IkeSa::new(true, (spi_i, 0), addresses, now);
        if self.send_init(&mut sa, first.dh, now, out) {
            self.sas.insert(spi_i, sa);
        }
    }

    /// Sends IKE_SA_INIT for `sa` with a KE of `group`; false on an
    /// internal failure.
    pub(super) fn send_init(
        &mut self,
        sa: &mut IkeSa,
        group: DhGroup,
        now: Duration,
        out: &mut Output,
    ) -> bool {
        let (Some(dh), Some(ni)) = (group.generate(&self.rng), self.random::<NONCE_LEN>()) else {
            self.count_drop(IkeDrop::Internal);
            return false;
        };
        sa.dh = Some(dh);
        sa.ni = ni.to_vec();
        self.send_init_message(sa, None, now, out)
    }

    /// Sends IKE_SA_INIT with `sa`'s KE and Ni, behind a COOKIE notify when
    /// the responder asked for one (RFC 7296 section 2.6: the cookie first,
    /// every other payload unchanged).
    fn send_init_message(
        &mut self,
        sa: &mut IkeSa,
        cookie: Option<&[u8]>,
        now: Duration,
        out: &mut Output,
    ) -> bool {
        let spi = sa.spi_i;
        let Some(dh) = sa.dh.as_ref() else {
            self.count_drop(IkeDrop::Internal);
            return false;
        };
        let proposals = self.ike_proposals();
        let (local, remote) = (self.config.local, self.config.remote);
        let mut chain = PayloadChain::new();
        let built = (|| {
            if let Some(cookie) = cookie {
                chain.push(
                    payload::NOTIFY,
                    &Notify::new(notify::COOKIE, cookie).to_bytes()?,
                )?;
            }
            chain.push(payload::SA, &write_sa(&proposals)?)?;
            let ke = KeyExchange {
                group: dh.group().id(),
                data: dh.public().to_vec(),
            };
            chain.push(payload::KE, &ke.to_bytes())?;
            chain.push(payload::NONCE, &sa.ni)?;
            push_nat_detection(&mut chain, (spi, 0), local, remote)?;
            chain.into_message(header(spi, 0, exchange::IKE_SA_INIT, flags::INITIATOR, 0))
        })();
        let Ok(bytes) = built else {
            self.count_drop(IkeDrop::Internal);
            return false;
        };
        sa.init_request = bytes.clone();
        self.send_request(sa, 0, bytes, now, out);
        true
    }

    pub(super) fn initiator_init_response(
        &mut self,
        now: Duration,
        sa: &mut IkeSa,
        d: &Datagram,
        message: &[u8],
        h: &IkeHeader,
        out: &mut Output,
    ) -> bool {
        let Ok(p) = split_payloads(message, IKE_HEADER_LEN, h.next_payload)
            .and_then(|raw| Parsed::from(&raw))
        else {
            self.count_drop(IkeDrop::Malformed);
            return true;
        };
        // A responder under load asks for a cookie (RFC 7296 section 2.6):
        // retry with it, a bounded number of times.
        if let Some(n) = p.notify(notify::COOKIE) {
            if h.spi_r == 0 && (1..=64).contains(&n.data.len()) && sa.cookie_retries < 3 {
                sa.cookie_retries += 1;
                let cookie = n.data.clone();
                return self.send_init_message(sa, Some(&cookie), now, out);
            }
            self.count_drop(IkeDrop::Malformed);
            return true;
        }
        // Unauthenticated: an error notify ends the attempt only because
        // the initiator has nothing better to do (RFC 7296 section 2.21.1).
        if p.notify(notify::INVALID_KE_PAYLOAD).is_some() {
            let wanted = p.invalid_ke_group();
            let offered = self.config.ike_suites.iter().any(|s| Some(s.dh) == wanted);
            match wanted {
                Some(group) if offered && sa.dh.as_ref().map(|k| k.group()) != Some(group) => {
                    return self.send_init(sa, group, now, out);
                }
                _ => {
                    self.count_drop(IkeDrop::InvalidKe);
                    return true;
                }
            }
        }
        if let Some(kind) = p.error() {
            let failure = if kind == notify::NO_PROPOSAL_CHOSEN {
                Failure::NoProposalChosen {
                    sa: "IKE",
                    ours: proposal_names(&self.ike_proposals()),
                    theirs: Vec::new(),
                }
            } else {
                Failure::PeerError { notify: kind }
            };
            out.events.push(Event::Failed {
                spi_i: sa.spi_i,
                failure,
            });
            return false;
        }
        let (Some(proposals), Some(ke), Some(nr)) = (&p.sa, &p.ke, &p.nonce) else {
            self.count_drop(IkeDrop::Malformed);
            return true;
        };
        let chosen = match select_ike(&self.config.ike_suites, proposals) {
            Some((_, suite))
                if proposals.len() == 1 && Some(suite.dh) == sa.dh.as_ref().map(|k| k.group()) =>
            {
                suite
            }
            _ => {
                self.count_drop(IkeDrop::Malformed);
                return true;
            }
        };
        if h.spi_r == 0 || !(16..=256).contains(&nr.len()) || ke.group != chosen.dh.id() {
            self.count_drop(IkeDrop::Malformed);
            return true;
        }
        let Some(dh) = sa.dh.take() else {
            return true;
        };
        let Ok(shared) = dh.agree(&ke.data) else {
            self.count_drop(IkeDrop::InvalidKe);
            return false;
        };
        let Some(keys) = ike_keys(chosen, &shared, (&sa.ni, nr), (sa.spi_i, h.spi_r)) else {
            self.count_drop(IkeDrop::Internal);
            return false;
        };
        sa.spi_r = h.spi_r;
        sa.nr = nr.clone();
        sa.suite = Some(chosen);
        sa.init_response = message.to_vec();
        if nat_detected(&p, sa.spi_i, sa.spi_r, d.local, d.remote) {
            sa.nat = true;
            sa.local.set_port(NAT_T_PORT);
            sa.remote.set_port(NAT_T_PORT);
        }
        sa.keys = Some(keys);
        let id_i = self.config.local_id.body();
        let Some(auth_body) = self.our_auth(sa, &id_i) else {
            self.count_drop(IkeDrop::Internal);
            return false;
        };
        let Some(child_spi) = self.new_esp_spi() else {
            self.count_drop(IkeDrop::Internal);
            return false;
        };
        sa.child_spi = child_spi;
        let (local, remote) = self.our_ts();
        let mut chain = PayloadChain::new();
        let built = (|| {
            chain.push(payload::IDI, &id_i)?;
            chain.push(payload::AUTH, &auth_body)?;
            chain.push(payload::SA, &write_sa(&self.esp_proposals(child_spi))?)?;
            chain.push(payload::TSI, &write_ts(&local)?)?;
            chain.push(payload::TSR, &write_ts(&remote)?)?;
            Ok::<_, IkeWireError>(chain)
        })();
        let Some(bytes) = built
            .ok()
            .and_then(|chain| self.seal(sa, exchange::IKE_AUTH, 1, false, chain))
        else {
            self.count_drop(IkeDrop::Internal);
            return false;
        };
        sa.state = State::AuthSent;
        self.send_request(sa, 1, bytes, now, out);
        true
    }

    pub(super) fn initiator_auth_response(
        &mut self,
        sa: &mut IkeSa,
        p: &Parsed,
        out: &mut Output,
    ) -> bool {
        let Some(suite) = sa.suite else {
            return false;
        };
        let fail = |failure: Failure, out: &mut Output| {
            out.events.push(Event::Failed {
                spi_i: sa.spi_i,
                failure,
            });
            false
        };
        if p.notify(notify::AUTHENTICATION_FAILED).is_some() {
            return fail(
                Failure::AuthenticationFailed {
                    reason: "the peer refused our AUTH (pre-shared key or identity)".into(),
                },
                out,
            );
        }
        let (Some(id_r), Some(auth)) = (&p.id_r, &p.auth) else {
            return fail(
                Failure::PeerError {
                    notify: p.error().unwrap_or(notify::INVALID_SYNTAX),
                },
                out,
            );
        };
        if !self.peer_auth_ok(sa, id_r, auth) {
            let reason = "the responder's AUTH does not match the pre-shared key".into();
            return fail(Failure::AuthenticationFailed { reason }, out);
        }
        if *id_r != self.config.remote_id.body() {
            let reason = format!("the responder is not {}", self.config.remote_id);
            return fail(Failure::AuthenticationFailed { reason }, out);
        }
        sa.establish(suite, out);
        let child_failure = if p.notify(notify::NO_PROPOSAL_CHOSEN).is_some() {
            Some(Failure::NoProposalChosen {
                sa: "CHILD",
                ours: proposal_names(&self.esp_proposals(sa.child_spi)),
                theirs: Vec::new(),
            })
        } else if p.notify(notify::TS_UNACCEPTABLE).is_some() {
            Some(self.ts_unacceptable(String::new()))
        } else {
            p.error().map(|notify| Failure::PeerError { notify })
        };
        if let Some(failure) = child_failure {
            out.events.push(Event::Failed {
                spi_i: sa.spi_i,
                failure,
            });
            return true;
        }
        let chosen = p.sa.as_deref().and_then(|props| {
            (props.len() == 1)
                .then(|| select_esp(&self.config.esp_suites, props))
                .flatten()
        });
        let (Some((_, esp, spi_out)), Some(ts_i), Some(ts_r)) = (chosen, &p.ts_i, &p.ts_r) else {
            out.events.push(Event::Failed {
                spi_i: sa.spi_i,
                failure: Failure::PeerError {
                    notify: notify::INVALID_SYNTAX,
                },
            });
            return true;
        };
        let (local, remote) = self.our_ts();
        if !covered_by(ts_i, &local)
            || !covered_by(ts_r, &remote)
            || ts_i.is_empty()
            || ts_r.is_empty()
        {
            let theirs = format!("TSi {} TSr {}", ts_names(ts_i), ts_names(ts_r));
            out.events.push(Event::Failed {
                spi_i: sa.spi_i,
                failure: self.ts_unacceptable(theirs),
            });
            return true;
        }
        if let Some((inbound, outbound)) = self.child_keys(sa, esp, true) {
            let child = child_sa(
                &self.config,
                sa.nat.then_some(sa.remote.port()),
                esp,
                (sa.child_spi, &inbound),
                (spi_out, &outbound),
                ts_i.clone(),
                ts_r.clone(),
            );
            // last_heard is now: the response just verified.
            sa.children.push(Child::of(&child, sa.last_heard));
            out.events.push(Event::ChildSaInstalled(Box::new(child)));
        }
        true
    }
}

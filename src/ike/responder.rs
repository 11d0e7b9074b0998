//! The responder's side of IKE_SA_INIT and IKE_AUTH (RFC 7296 sections
//! 1.2, 2.9 and 2.15): choose a proposal, answer, verify the initiator's
//! AUTH, narrow its traffic selectors and make the CHILD_SA.

use std::time::Duration;

use super::exchange::{
    IkeSa, NONCE_LEN, Parsed, frame, header, ike_keys, nat_detected, notify_chain,
    push_nat_detection, ts_names,
};
use super::proposal::{proposal_names, select_esp, select_ike};
use super::rekey::Child;
use super::ts::narrow;
use super::{Datagram, Event, Failure, Ike, IkeDrop, Output, child_sa};
use crate::wire::ike::{
    IKE_HEADER_LEN, IkeHeader, KeyExchange, Notify, PayloadChain, Proposal, TrafficSelector,
    TypedData, auth_method, exchange, flags, notify, payload, split_payloads, write_sa, write_ts,
};

impl Ike {
    pub(super) fn responder_init(
        &mut self,
        now: Duration,
        d: &Datagram,
        message: &[u8],
        h: &IkeHeader,
        out: &mut Output,
    ) {
        if let Some(spi) = self.half_open.get(&(h.spi_i, d.remote)).copied() {
            match self.sas.get(&spi) {
                Some(sa) if sa.init_request == message => {
                    out.datagrams.push(Datagram {
                        local: d.local,
                        remote: d.remote,
                        bytes: frame(d.local, sa.init_response.clone()),
                    });
                    return;
                }
                // A new IKE_SA_INIT under the same SPI replaces the old
                // attempt (the peer restarted).
                _ => {
                    self.sas.remove(&spi);
                    self.half_open.remove(&(h.spi_i, d.remote));
                }
            }
        }
        let Ok(p) = split_payloads(message, IKE_HEADER_LEN, h.next_payload)
            .and_then(|raw| Parsed::from(&raw))
        else {
            return self.count_drop(IkeDrop::Malformed);
        };
        let (Some(proposals), Some(ke), Some(ni)) = (&p.sa, &p.ke, &p.nonce) else {
            return self.count_drop(IkeDrop::Malformed);
        };
        if !(16..=256).contains(&ni.len()) {
            return self.count_drop(IkeDrop::Malformed);
        }
        let reply = |chain: PayloadChain| Datagram {
            local: d.local,
            remote: d.remote,
            bytes: frame(
                d.local,
                chain
                    .into_message(header(
                        h.spi_i,
                        0,
                        exchange::IKE_SA_INIT,
                        flags::RESPONSE,
                        0,
                    ))
                    .unwrap_or_default(),
            ),
        };
        // RFC 7296 section 2.6: under load, state only for a request whose
        // first payload is the COOKIE we gave for its Ni, address and SPI.
        if self.half_open.len() >= self.config.cookie_threshold {
            let inputs = (&ni[..], d.remote.ip(), h.spi_i);
            let returned = p
                .notifies
                .first()
                .filter(|n| h.next_payload == payload::NOTIFY && n.kind == notify::COOKIE);
            if !returned.is_some_and(|n| self.cookies.check(&n.data, inputs)) {
                match self.cookies.make(now, &self.rng, inputs) {
                    Some(cookie) => out
                        .datagrams
                        .push(reply(notify_chain(notify::COOKIE, &cookie))),
                    None => return self.count_drop(IkeDrop::Internal),
                }
                return self.count_drop(IkeDrop::CookieRequired);
            }
        }
        if self.half_open.len() >= self.config.max_half_open {
            return self.count_drop(IkeDrop::HalfOpenLimit);
        }
        let Some((number, suite)) = select_ike(&self.config.ike_suites, proposals) else {
            out.datagrams
                .push(reply(notify_chain(notify::NO_PROPOSAL_CHOSEN, &[])));
            out.events.push(Event::Failed {
                spi_i: h.spi_i,
                failure: Failure::NoProposalChosen {
                    sa: "IKE",
                    ours: proposal_names(&self.ike_proposals()),
                    theirs: proposal_names(proposals),
                },
            });
            return;
        };
        if ke.group != suite.dh.id() {
            let group = suite.dh.id().to_be_bytes();
            out.datagrams
                .push(reply(notify_chain(notify::INVALID_KE_PAYLOAD, &group)));
            return;
        }
        let (Some(dh), Some(nr), Some(spi_r)) = (
            suite.dh.generate(&self.rng),
            self.random::<NONCE_LEN>(),
            self.new_spi(),
        ) else {
            return self.count_drop(IkeDrop::Internal);
        };
        let public = dh.public().to_vec();
        let Ok(shared) = dh.agree(&ke.data) else {
            return self.count_drop(IkeDrop::InvalidKe);
        };
        let Some(keys) = ike_keys(suite, &shared, (ni, &nr), (h.spi_i, spi_r)) else {
            return self.count_drop(IkeDrop::Internal);
        };
        let nat = nat_detected(&p, h.spi_i, 0, d.local, d.remote);
        let mut chain = PayloadChain::new();
        let built = (|| {
            chain.push(payload::SA, &write_sa(&[suite.to_proposal(number)])?)?;
            let ke = KeyExchange {
                group: suite.dh.id(),
                data: public,
            };
            chain.push(payload::KE, &ke.to_bytes())?;
            chain.push(payload::NONCE, &nr)?;
            push_nat_detection(&mut chain, (h.spi_i, spi_r), d.local, d.remote)?;
            chain.into_message(header(
                h.spi_i,
                spi_r,
                exchange::IKE_SA_INIT,
                flags::RESPONSE,
                0,
            ))
        })();
        let Ok(bytes) = built else {
            return self.count_drop(IkeDrop::Internal);
        };
        out.datagrams.push(Datagram {
            local: d.local,
            remote: d.remote,
            bytes: frame(d.local, bytes.clone()),
        });
        self.half_open.insert((h.spi_i, d.remote), spi_r);
        let mut sa = IkeSa::new(false, (h.spi_i, spi_r), (d.local, d.remote), now);
        sa.nat = nat;
        sa.suite = Some(suite);
        sa.ni = ni.clone();
        sa.nr = nr.to_vec();
        sa.keys = Some(keys);
        sa.init_request = message.to_vec();
        sa.init_response = bytes;
        sa.expected_request_id = 1;
        self.sas.insert(spi_r, sa);
    }

    pub(super) fn responder_auth(
        &mut self,
        sa: &mut IkeSa,
        p: &Parsed,
        out: &mut Output,
    ) -> (PayloadChain, bool) {
        let Some(suite) = sa.suite else {
            return (PayloadChain::new(), false);
        };
        let fail = |reason: String, out: &mut Output| {
            out.events.push(Event::Failed {
                spi_i: sa.spi_i,
                failure: Failure::AuthenticationFailed { reason },
            });
            (notify_chain(notify::AUTHENTICATION_FAILED, &[]), false)
        };
        let (Some(id_i), Some(auth)) = (&p.id_i, &p.auth) else {
            return fail("IKE_AUTH without IDi or AUTH".into(), out);
        };
        if !self.peer_auth_ok(sa, id_i, auth) {
            let reason = if auth.kind == auth_method::SHARED_KEY_MIC {
                "the peer's AUTH does not match the pre-shared key".to_owned()
            } else {
                format!("AUTH method {} (only PSK is configured)", auth.kind)
            };
            return fail(reason, out);
        }
        if *id_i != self.config.remote_id.body() {
            let got = TypedData::parse("IDi", id_i).map(|t| super::Identity {
                kind: t.kind,
                data: t.data,
            });
            let got = got.map_or_else(|_| "?".to_owned(), |i| i.to_string());
            return fail(
                format!("the peer is {got}, expected {}", self.config.remote_id),
                out,
            );
        }
        let id_r = self.config.local_id.body();
        let Some(auth_body) = self.our_auth(sa, &id_r) else {
            return (PayloadChain::new(), false);
        };
        sa.establish(suite, out);
        let mut chain = PayloadChain::new();
        if chain.push(payload::IDR, &id_r).is_err()
            || chain.push(payload::AUTH, &auth_body).is_err()
        {
            return (chain, true);
        }
        let child = self.responder_child(sa, p, out);
        let pushed = match child {
            Ok((proposal, ts_i, ts_r)) => write_sa(&[proposal])
                .and_then(|b| chain.push(payload::SA, &b))
                .and_then(|()| write_ts(&ts_i))
                .and_then(|b| chain.push(payload::TSI, &b))
                .and_then(|()| write_ts(&ts_r))
                .and_then(|b| chain.push(payload::TSR, &b)),
            Err(kind) => Notify::new(kind, &[])
                .to_bytes()
                .and_then(|b| chain.push(payload::NOTIFY, &b)),
        };
        if pushed.is_err() {
            self.count_drop(IkeDrop::Internal);
        }
        (chain, true)
    }

    /// Chooses the CHILD_SA of IKE_AUTH; the error is the notify to send.
    pub(super) fn responder_child(
        &mut self,
        sa: &mut IkeSa,
        p: &Parsed,
        out: &mut Output,
    ) -> Result<(Proposal, Vec<TrafficSelector>, Vec<TrafficSelector>), u16> {
        let (Some(proposals), Some(ts_i), Some(ts_r)) = (&p.sa, &p.ts_i, &p.ts_r) else {
            return Err(notify::INVALID_SYNTAX);
        };
        let Some((number, suite, spi_out)) = select_esp(&self.config.esp_suites, proposals) else {
            let ours = self.esp_proposals(0);
            out.events.push(Event::Failed {
                spi_i: sa.spi_i,
                failure: Failure::NoProposalChosen {
                    sa: "CHILD",
                    ours: proposal_names(&ours),
                    theirs: proposal_names(proposals),
                },
            });
            return Err(notify::NO_PROPOSAL_CHOSEN);
        };
        let (local, remote) = self.our_ts();
        let narrowed_i = narrow(ts_i, &remote);
        let narrowed_r = narrow(ts_r, &local);
        if narrowed_i.is_empty() || narrowed_r.is_empty() {
            let theirs = format!("TSi {} TSr {}", ts_names(ts_i), ts_names(ts_r));
            out.events.push(Event::Failed {
                spi_i: sa.spi_i,
                failure: self.ts_unacceptable(theirs),
            });
            return Err(notify::TS_UNACCEPTABLE);
        }
        let spi_in = self.new_esp_spi().ok_or(notify::NO_PROPOSAL_CHOSEN)?;
        let child = self
            .child_keys(sa, suite, false)
            .map(|(inbound, outbound)| {
                child_sa(
                    &self.config,
                    sa.nat.then_some(sa.remote.port()),
                    suite,
                    (spi_in, &inbound),
                    (spi_out, &outbound),
                    narrowed_r.clone(),
                    narrowed_i.clone(),
                )
            })
            .ok_or(notify::NO_PROPOSAL_CHOSEN)?;
        // last_heard is now: the request just verified.
        sa.children.push(Child::of(&child, sa.last_heard));
        out.events.push(Event::ChildSaInstalled(Box::new(child)));
        Ok((suite.to_proposal(number, spi_in), narrowed_i, narrowed_r))
    }
}

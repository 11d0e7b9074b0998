//! One decrypted IKE message's payloads, sorted out by type (the SK
//! payload's inner chain or an IKE_SA_INIT's plain one).

use super::crypto::DhGroup;
use crate::wire::ike::{
    Delete, IkeWireError, KeyExchange, MAX_DELETED_SPIS, Notify, Proposal, RawPayload,
    TrafficSelector, TypedData, notify, parse_sa, parse_ts, payload,
};

/// Payloads of one message, sorted out.
#[derive(Default)]
pub(super) struct Parsed {
    pub(super) sa: Option<Vec<Proposal>>,
    pub(super) ke: Option<KeyExchange>,
    pub(super) nonce: Option<Vec<u8>>,
    pub(super) notifies: Vec<Notify>,
    pub(super) id_i: Option<Vec<u8>>,
    pub(super) id_r: Option<Vec<u8>>,
    pub(super) auth: Option<TypedData>,
    pub(super) ts_i: Option<Vec<TrafficSelector>>,
    pub(super) ts_r: Option<Vec<TrafficSelector>>,
    pub(super) delete_ike: bool,
    /// ESP SAs the sender deletes, by the SPIs it receives on.
    pub(super) delete_esp: Vec<u32>,
}

impl Parsed {
    pub(super) fn from(payloads: &[RawPayload<'_>]) -> Result<Self, IkeWireError> {
        let mut p = Parsed::default();
        for raw in payloads {
            match raw.kind {
                payload::SA => p.sa = Some(parse_sa(raw.body)?),
                payload::KE => p.ke = Some(KeyExchange::parse(raw.body)?),
                payload::NONCE => p.nonce = Some(raw.body.to_vec()),
                payload::NOTIFY => p.notifies.push(Notify::parse(raw.body)?),
                payload::IDI => p.id_i = Some(raw.body.to_vec()),
                payload::IDR => p.id_r = Some(raw.body.to_vec()),
                payload::AUTH => p.auth = Some(TypedData::parse("AUTH payload", raw.body)?),
                payload::TSI => p.ts_i = Some(parse_ts(raw.body)?),
                payload::TSR => p.ts_r = Some(parse_ts(raw.body)?),
                payload::DELETE => match Delete::parse(raw.body)? {
                    Delete::Ike => p.delete_ike = true,
                    Delete::Esp(spis) if p.delete_esp.len() + spis.len() <= MAX_DELETED_SPIS => {
                        p.delete_esp.extend(spis)
                    }
                    Delete::Esp(_) => {
                        return Err(IkeWireError::Invalid {
                            what: "Delete payload",
                            offset: raw.offset,
                            reason: "too many SPIs in one message",
                        });
                    }
                },
                _ if raw.critical => {
                    return Err(IkeWireError::Invalid {
                        what: "payload",
                        offset: raw.offset,
                        reason: "unsupported critical payload",
                    });
                }
                _ => {}
            }
        }
        Ok(p)
    }

    pub(super) fn notify(&self, kind: u16) -> Option<&Notify> {
        self.notifies.iter().find(|n| n.kind == kind)
    }

    /// The group an INVALID_KE_PAYLOAD notify asks for (RFC 7296 section
    /// 1.3.1: its data is the group number), if it is one we know.
    pub(super) fn invalid_ke_group(&self) -> Option<DhGroup> {
        let data = &self.notify(notify::INVALID_KE_PAYLOAD)?.data;
        let id = data.first_chunk::<2>().map(|b| u16::from_be_bytes(*b))?;
        DhGroup::from_id(id)
    }

    pub(super) fn error(&self) -> Option<u16> {
        self.notifies.iter().find(|n| n.is_error()).map(|n| n.kind)
    }
}

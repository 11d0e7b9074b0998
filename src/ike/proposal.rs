//! Proposal negotiation (RFC 7296 sections 2.7 and 3.3.6): erdp's suites as
//! SA payload proposals, the responder's choice among the peer's proposals,
//! and strongSwan-style names (`aes256gcm16-prfsha256-ecp256`) for the
//! NO_PROPOSAL_CHOSEN report, which lists both sides.

use std::fmt;

use super::crypto::{DhGroup, IkeEncr, IkeInteg, Prf};
use crate::esp::Algorithm;
use crate::wire::ike::{Proposal, Transform, protocol, transform};

/// One IKE SA suite: encryption, PRF and DH group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IkeSuite {
    /// SK payload encryption.
    pub encr: IkeEncr,
    /// SK payload integrity: `None` with AES-GCM, required with AES-CBC.
    pub integ: Option<IkeInteg>,
    /// The PRF.
    pub prf: Prf,
    /// The Diffie-Hellman group.
    pub dh: DhGroup,
}

/// One ESP suite for a CHILD_SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EspSuite {
    /// The AEAD.
    pub algorithm: Algorithm,
    /// Extended sequence numbers.
    pub esn: bool,
    /// PFS: the Diffie-Hellman group of a rekey's key exchange (KE
    /// payloads in CREATE_CHILD_SA, RFC 7296 section 1.3.1); none, the new
    /// keys come from SK_d and the nonces alone. The CHILD_SA that IKE_AUTH
    /// creates has no KE of its own (section 1.2): no DH transform there.
    pub pfs: Option<DhGroup>,
}

impl IkeSuite {
    /// The proposal for this suite.
    pub fn to_proposal(self, number: u8) -> Proposal {
        let (id, bits) = self.encr.transform();
        let mut transforms = vec![Transform {
            kind: transform::ENCR,
            id,
            key_bits: Some(bits),
        }];
        if let Some(integ) = self.integ {
            transforms.push(Transform {
                kind: transform::INTEG,
                id: integ.id(),
                key_bits: None,
            });
        }
        transforms.push(Transform {
            kind: transform::PRF,
            id: self.prf.id(),
            key_bits: None,
        });
        transforms.push(Transform {
            kind: transform::DH,
            id: self.dh.id(),
            key_bits: None,
        });
        Proposal {
            number,
            protocol: protocol::IKE,
            spi: Vec::new(),
            transforms,
        }
    }

    /// True when the suite is usable: AES-GCM without integrity, AES-CBC
    /// with it.
    pub fn is_consistent(self) -> bool {
        self.encr.is_aead() == self.integ.is_none()
    }

    /// The suite a peer's proposal offers that equals this one, if any.
    fn offered_in(self, p: &Proposal) -> bool {
        if p.protocol != protocol::IKE {
            return false;
        }
        let (id, bits) = self.encr.transform();
        let has = |kind: u8, id: u16, key_bits: Option<u16>| {
            p.transforms
                .iter()
                .any(|t| t.kind == kind && t.id == id && t.key_bits == key_bits)
        };
        // An AEAD proposal may list no integrity or INTEG NONE (0) only; a
        // CBC one must offer our integrity transform.
        let integ_ok = match self.integ {
            None => p
                .transforms
                .iter()
                .all(|t| t.kind != transform::INTEG || t.id == 0),
            Some(integ) => has(transform::INTEG, integ.id(), None),
        };
        has(transform::ENCR, id, Some(bits))
            && has(transform::PRF, self.prf.id(), None)
            && has(transform::DH, self.dh.id(), None)
            && integ_ok
            && only_known_types(p)
    }
}

impl EspSuite {
    fn encr(self) -> (u16, Option<u16>) {
        match self.algorithm {
            Algorithm::Aes128Gcm => (transform::ENCR_AES_GCM_16, Some(128)),
            Algorithm::Aes256Gcm => (transform::ENCR_AES_GCM_16, Some(256)),
            Algorithm::ChaCha20Poly1305 => (transform::ENCR_CHACHA20_POLY1305, None),
            Algorithm::Aes128CbcHmacSha256 => (transform::ENCR_AES_CBC, Some(128)),
            Algorithm::Aes256CbcHmacSha256 => (transform::ENCR_AES_CBC, Some(256)),
        }
    }

    /// The integrity transform: AUTH_HMAC_SHA2_256_128 for CBC, none (0)
    /// for the AEAD suites.
    fn integ(self) -> u16 {
        if self.algorithm.is_aead() {
            0
        } else {
            transform::AUTH_HMAC_SHA2_256_128
        }
    }

    /// The proposal for this suite with our inbound SPI.
    pub fn to_proposal(self, number: u8, spi: u32) -> Proposal {
        let (id, key_bits) = self.encr();
        let mut transforms = vec![Transform {
            kind: transform::ENCR,
            id,
            key_bits,
        }];
        if self.integ() != 0 {
            transforms.push(Transform {
                kind: transform::INTEG,
                id: self.integ(),
                key_bits: None,
            });
        }
        transforms.push(Transform {
            kind: transform::ESN,
            id: if self.esn {
                transform::ESN_YES
            } else {
                transform::ESN_NO
            },
            key_bits: None,
        });
        Proposal {
            number,
            protocol: protocol::ESP,
            spi: spi.to_be_bytes().to_vec(),
            transforms,
        }
    }

    /// The proposal for a CREATE_CHILD_SA: [`Self::to_proposal`] with the
    /// PFS group's DH transform.
    pub fn to_rekey_proposal(self, number: u8, spi: u32) -> Proposal {
        let mut proposal = self.to_proposal(number, spi);
        if let Some(group) = self.pfs {
            proposal.transforms.push(Transform {
                kind: transform::DH,
                id: group.id(),
                key_bits: None,
            });
        }
        proposal
    }

    /// In IKE_AUTH: a proposal without DH (or with DH NONE only).
    fn offered_in(self, p: &Proposal) -> bool {
        self.offered_apart_from_dh(p)
            && p.transforms
                .iter()
                .all(|t| t.kind != transform::DH || t.id == 0)
    }

    /// In CREATE_CHILD_SA: with PFS, the proposal offers our group; without,
    /// it offers no group (or NONE).
    fn offered_in_rekey(self, p: &Proposal) -> bool {
        match self.pfs {
            Some(group) => {
                self.offered_apart_from_dh(p)
                    && p.transforms
                        .iter()
                        .any(|t| t.kind == transform::DH && t.id == group.id())
            }
            None => self.offered_in(p),
        }
    }

    fn offered_apart_from_dh(self, p: &Proposal) -> bool {
        let (id, key_bits) = self.encr();
        let esn = if self.esn {
            transform::ESN_YES
        } else {
            transform::ESN_NO
        };
        p.protocol == protocol::ESP
            && p.spi.len() == 4
            && p.transforms
                .iter()
                .any(|t| t.kind == transform::ENCR && t.id == id && t.key_bits == key_bits)
            && p.transforms
                .iter()
                .any(|t| t.kind == transform::ESN && t.id == esn)
            && self.integ_offered_in(p)
            && only_known_types(p)
    }

    /// An AEAD suite takes no integrity transform (or INTEG NONE only); a
    /// CBC suite needs its HMAC among the proposal's INTEG transforms.
    fn integ_offered_in(self, p: &Proposal) -> bool {
        let integ = self.integ();
        if integ == 0 {
            p.transforms
                .iter()
                .all(|t| t.kind != transform::INTEG || t.id == 0)
        } else {
            p.transforms
                .iter()
                .any(|t| t.kind == transform::INTEG && t.id == integ)
        }
    }

    /// Length of each direction's KEYMAT: encryption key and salt (AEAD),
    /// or encryption key and integrity key (CBC), RFC 7296 section 2.17.
    pub fn keymat_len(self) -> usize {
        self.algorithm.keymat_len()
    }
}

fn only_known_types(p: &Proposal) -> bool {
    p.transforms.iter().all(|t| (1..=5).contains(&t.kind))
}

/// The responder's choice: the first of the peer's proposals (its order of
/// preference) that one of ours matches, with its number.
pub fn select_ike(ours: &[IkeSuite], theirs: &[Proposal]) -> Option<(u8, IkeSuite)> {
    theirs.iter().find_map(|p| {
        ours.iter()
            .find(|s| s.offered_in(p))
            .map(|s| (p.number, *s))
    })
}

/// [`select_ike`] for ESP; also returns the peer's SPI.
pub fn select_esp(ours: &[EspSuite], theirs: &[Proposal]) -> Option<(u8, EspSuite, u32)> {
    select_esp_by(ours, theirs, EspSuite::offered_in)
}

/// [`select_esp`] for a CREATE_CHILD_SA, where a PFS suite needs its DH
/// group offered (RFC 7296 section 1.3.1).
pub(crate) fn select_esp_rekey(
    ours: &[EspSuite],
    theirs: &[Proposal],
) -> Option<(u8, EspSuite, u32)> {
    select_esp_by(ours, theirs, EspSuite::offered_in_rekey)
}

/// The first of the peer's proposals that one of ours matches by
/// `offered`, with its number and the peer's SPI.
fn select_esp_by(
    ours: &[EspSuite],
    theirs: &[Proposal],
    offered: fn(EspSuite, &Proposal) -> bool,
) -> Option<(u8, EspSuite, u32)> {
    theirs.iter().find_map(|p| {
        let spi = u32::from_be_bytes(p.spi.as_slice().try_into().ok()?);
        ours.iter()
            .find(|s| offered(**s, p))
            .map(|s| (p.number, *s, spi))
    })
}

/// A proposal in strongSwan's notation, for reports: every transform of
/// it joined by `-`, unknown ones as `type:id`.
pub struct ProposalName<'a>(pub &'a Proposal);

impl fmt::Display for ProposalName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0;
        f.write_str(match p.protocol {
            protocol::IKE => "ike:",
            protocol::ESP => "esp:",
            _ => "?:",
        })?;
        for (i, t) in p.transforms.iter().enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            match (t.kind, t.id, t.key_bits) {
                (transform::ENCR, transform::ENCR_AES_GCM_16, Some(b)) => write!(f, "aes{b}gcm16")?,
                (transform::ENCR, transform::ENCR_AES_CBC, Some(b)) => write!(f, "aes{b}")?,
                (transform::ENCR, transform::ENCR_CHACHA20_POLY1305, _) => {
                    f.write_str("chacha20poly1305")?
                }
                (transform::PRF, transform::PRF_HMAC_SHA2_256, _) => f.write_str("prfsha256")?,
                (transform::PRF, transform::PRF_HMAC_SHA2_384, _) => f.write_str("prfsha384")?,
                (transform::INTEG, transform::AUTH_HMAC_SHA2_256_128, _) => {
                    f.write_str("sha256")?
                }
                (transform::INTEG, transform::AUTH_HMAC_SHA2_384_192, _) => {
                    f.write_str("sha384")?
                }
                (transform::DH, transform::DH_MODP_2048, _) => f.write_str("modp2048")?,
                (transform::DH, transform::DH_ECP_256, _) => f.write_str("ecp256")?,
                (transform::DH, transform::DH_ECP_384, _) => f.write_str("ecp384")?,
                (transform::DH, transform::DH_CURVE25519, _) => f.write_str("x25519")?,
                (transform::ESN, transform::ESN_NO, _) => f.write_str("noesn")?,
                (transform::ESN, transform::ESN_YES, _) => f.write_str("esn")?,
                (kind, id, _) => write!(f, "{kind}:{id}")?,
            }
        }
        Ok(())
    }
}

/// Every proposal's name.
pub fn proposal_names(proposals: &[Proposal]) -> Vec<String> {
    proposals
        .iter()
        .map(|p| ProposalName(p).to_string())
        .collect()
}

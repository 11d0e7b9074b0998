//! strongSwan's proposal notation read back into erdp's suites, so a node
//! configuration can list proposals the way `swanctl.conf` does:
//! `aes256gcm16-prfsha256-ecp256` or `aes256-sha256-modp2048` for the IKE
//! SA, `aes256gcm16` or `aes128-sha256-esn` for a CHILD_SA. The names are
//! the ones [`super::ProposalName`] prints in NO_PROPOSAL_CHOSEN reports.

use super::crypto::{DhGroup, IkeEncr, IkeInteg, Prf};
use super::proposal::{EspSuite, IkeSuite};
use crate::esp::Algorithm;

/// Why a proposal name does not read as a suite erdp implements.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?}: {reason}")]
pub struct NotationError {
    /// The name as written.
    pub name: String,
    /// What is wrong with it.
    pub reason: String,
}

fn error(name: &str, reason: impl Into<String>) -> NotationError {
    NotationError {
        name: name.to_owned(),
        reason: reason.into(),
    }
}

/// Puts `value` in `slot`, refusing a second transform of the same kind.
fn once<T>(name: &str, slot: &mut Option<T>, value: T, kind: &str) -> Result<(), NotationError> {
    if slot.replace(value).is_some() {
        return Err(error(name, format!("more than one {kind}")));
    }
    Ok(())
}

impl IkeSuite {
    /// Reads an IKE proposal in strongSwan's notation: an encryption
    /// (`aes128gcm16`, `aes256gcm16`, `aes128`, `aes256`), with CBC an
    /// integrity (`sha256`, `sha384`), a PRF (`prfsha256`, `prfsha384`;
    /// with CBC it defaults to the integrity's hash) and a DH group
    /// (`ecp256`, `ecp384`, `x25519` or `curve25519`, `modp2048`).
    pub fn from_notation(name: &str) -> Result<IkeSuite, NotationError> {
        let (mut encr, mut integ, mut prf, mut dh) = (None, None, None, None);
        for token in name.split('-') {
            match token {
                "aes128gcm16" => once(name, &mut encr, IkeEncr::AesGcm128, "encryption")?,
                "aes256gcm16" => once(name, &mut encr, IkeEncr::AesGcm256, "encryption")?,
                "aes128" => once(name, &mut encr, IkeEncr::AesCbc128, "encryption")?,
                "aes256" => once(name, &mut encr, IkeEncr::AesCbc256, "encryption")?,
                "sha256" => once(name, &mut integ, IkeInteg::HmacSha256_128, "integrity")?,
                "sha384" => once(name, &mut integ, IkeInteg::HmacSha384_192, "integrity")?,
                "prfsha256" => once(name, &mut prf, Prf::HmacSha256, "PRF")?,
                "prfsha384" => once(name, &mut prf, Prf::HmacSha384, "PRF")?,
                "ecp256" => once(name, &mut dh, DhGroup::Ecp256, "DH group")?,
                "ecp384" => once(name, &mut dh, DhGroup::Ecp384, "DH group")?,
                "x25519" | "curve25519" => once(name, &mut dh, DhGroup::Curve25519, "DH group")?,
                "modp2048" => once(name, &mut dh, DhGroup::Modp2048, "DH group")?,
                other => {
                    return Err(error(
                        name,
                        format!(
                            "unknown transform {other:?} (known: aes128gcm16, aes256gcm16, \
                             aes128, aes256, sha256, sha384, prfsha256, prfsha384, ecp256, \
                             ecp384, x25519, modp2048)"
                        ),
                    ));
                }
            }
        }
        let encr = encr.ok_or_else(|| error(name, "no encryption transform"))?;
        let dh = dh.ok_or_else(|| error(name, "no DH group"))?;
        if encr.is_aead() && integ.is_some() {
            return Err(error(name, "AES-GCM takes no integrity transform"));
        }
        if !encr.is_aead() && integ.is_none() {
            return Err(error(
                name,
                "AES-CBC needs an integrity transform (sha256, sha384)",
            ));
        }
        let prf = match (prf, integ) {
            (Some(prf), _) => prf,
            (None, Some(IkeInteg::HmacSha256_128)) => Prf::HmacSha256,
            (None, Some(IkeInteg::HmacSha384_192)) => Prf::HmacSha384,
            (None, None) => return Err(error(name, "no PRF (prfsha256, prfsha384)")),
        };
        Ok(IkeSuite {
            encr,
            integ,
            prf,
            dh,
        })
    }
}

impl EspSuite {
    /// Reads an ESP proposal in strongSwan's notation: `aes128gcm16`,
    /// `aes256gcm16`, `chacha20poly1305`, or `aes128`/`aes256` with
    /// `sha256`; optionally `esn` or `noesn` (the default); and optionally a
    /// DH group for PFS on rekeys (`ecp256`, `ecp384`, `x25519`,
    /// `modp2048`), as strongSwan's `esp_proposals` write it.
    pub fn from_notation(name: &str) -> Result<EspSuite, NotationError> {
        let (mut encr, mut integ, mut esn, mut pfs) = (None, None, None, None);
        for token in name.split('-') {
            match token {
                "aes128gcm16" => once(name, &mut encr, Algorithm::Aes128Gcm, "encryption")?,
                "aes256gcm16" => once(name, &mut encr, Algorithm::Aes256Gcm, "encryption")?,
                "chacha20poly1305" => {
                    once(name, &mut encr, Algorithm::ChaCha20Poly1305, "encryption")?
                }
                "aes128" => once(
                    name,
                    &mut encr,
                    Algorithm::Aes128CbcHmacSha256,
                    "encryption",
                )?,
                "aes256" => once(
                    name,
                    &mut encr,
                    Algorithm::Aes256CbcHmacSha256,
                    "encryption",
                )?,
                "sha256" => once(name, &mut integ, (), "integrity")?,
                "esn" => once(name, &mut esn, true, "ESN choice")?,
                "noesn" => once(name, &mut esn, false, "ESN choice")?,
                "ecp256" => once(name, &mut pfs, DhGroup::Ecp256, "DH group")?,
                "ecp384" => once(name, &mut pfs, DhGroup::Ecp384, "DH group")?,
                "x25519" | "curve25519" => once(name, &mut pfs, DhGroup::Curve25519, "DH group")?,
                "modp2048" => once(name, &mut pfs, DhGroup::Modp2048, "DH group")?,
                other => {
                    return Err(error(
                        name,
                        format!(
                            "unknown transform {other:?} (known: aes128gcm16, aes256gcm16, \
                             chacha20poly1305, aes128, aes256, sha256, esn, noesn, ecp256, \
                             ecp384, x25519, modp2048)"
                        ),
                    ));
                }
            }
        }
        let algorithm = encr.ok_or_else(|| error(name, "no encryption transform"))?;
        match (algorithm.is_aead(), integ.is_some()) {
            (true, true) => return Err(error(name, "an AEAD takes no integrity transform")),
            (false, false) => return Err(error(name, "AES-CBC needs sha256")),
            _ => {}
        }
        Ok(EspSuite {
            algorithm,
            esn: esn.unwrap_or(false),
            pfs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::ProposalName;

    #[test]
    fn ike_names_read_back_as_printed() {
        for text in [
            "aes256gcm16-prfsha256-ecp256",
            "aes128gcm16-prfsha384-ecp384",
            "aes256gcm16-prfsha256-x25519",
            "aes256-sha256-prfsha256-modp2048",
            "aes128-sha384-prfsha384-ecp256",
        ] {
            let suite = IkeSuite::from_notation(text).expect(text);
            let printed = ProposalName(&suite.to_proposal(1)).to_string();
            assert_eq!(printed, format!("ike:{text}"));
        }
    }

    #[test]
    fn cbc_prf_defaults_to_the_integrity_hash() {
        let suite = IkeSuite::from_notation("aes256-sha384-ecp384").unwrap();
        assert_eq!(suite.prf, Prf::HmacSha384);
        assert_eq!(suite.integ, Some(IkeInteg::HmacSha384_192));
    }

    #[test]
    fn esp_names_read_back_as_printed() {
        for (text, printed) in [
            ("aes256gcm16", "esp:aes256gcm16-noesn"),
            ("aes128gcm16-esn", "esp:aes128gcm16-esn"),
            ("chacha20poly1305", "esp:chacha20poly1305-noesn"),
            ("aes256-sha256", "esp:aes256-sha256-noesn"),
        ] {
            let suite = EspSuite::from_notation(text).expect(text);
            assert_eq!(ProposalName(&suite.to_proposal(1, 1)).to_string(), printed);
        }
        // PFS: the group goes into rekey proposals only (RFC 7296 1.2: no
        // DH transform in IKE_AUTH).
        let suite = EspSuite::from_notation("aes256gcm16-ecp256").unwrap();
        assert_eq!(suite.pfs, Some(DhGroup::Ecp256));
        let rekey = ProposalName(&suite.to_rekey_proposal(1, 1)).to_string();
        assert_eq!(rekey, "esp:aes256gcm16-noesn-ecp256");
        let auth = ProposalName(&suite.to_proposal(1, 1)).to_string();
        assert_eq!(auth, "esp:aes256gcm16-noesn");
    }

    #[test]
    fn broken_names_say_why() {
        let cases = [
            ("aes256gcm16-ecp256", "no PRF"),
            ("aes256gcm16-prfsha256", "no DH group"),
            ("aes256-prfsha256-ecp256", "needs an integrity"),
            ("aes256gcm16-sha256-prfsha256-ecp256", "no integrity"),
            (
                "aes256gcm16-aes128-prfsha256-ecp256",
                "more than one encryption",
            ),
            ("3des-sha1-modp1024", "unknown transform \"3des\""),
            ("", "unknown transform"),
        ];
        for (text, why) in cases {
            let e = IkeSuite::from_notation(text).unwrap_err();
            assert!(e.to_string().contains(why), "{text}: {e}");
        }
        for (text, why) in [
            ("aes256gcm16-ecp256-x25519", "more than one DH group"),
            ("aes256", "needs sha256"),
            ("aes256gcm16-sha256", "no integrity"),
            ("aes256gcm16-esn-noesn", "more than one ESN"),
        ] {
            let e = EspSuite::from_notation(text).unwrap_err();
            assert!(e.to_string().contains(why), "{text}: {e}");
        }
    }
}

//! Wireshark's ESP SA table (`esp_sa` UAT, Wireshark 4.0): the line that
//! lets Wireshark and tshark decrypt an SA's RFC 4303 packets. Shared by
//! `erdp esp wireshark`, `erdp replay` and the scenario findings.

use super::{Algorithm, SaConfig};

/// The `esp_sa` UAT line for Wireshark 4.0 (8 fields: protocol, source,
/// destination, SPI, encryption, key, authentication, authentication key).
/// Addresses are wildcards, so one line serves the SA whichever way its
/// packets were captured; the protocol follows the tunnel's family.
pub fn wireshark_esp_sa_line(config: &SaConfig) -> Option<String> {
    if config.algorithm == Algorithm::ChaCha20Poly1305 {
        return None;
    }
    let protocol = match config.tunnel {
        Some(t) if t.local.is_ipv6() => "IPv6",
        _ => "IPv4",
    };
    let key = config.key.expose_hex();
    // CBC keys are `encryption key || integrity key`: Wireshark takes
    // them apart (two hex digits a byte).
    let (encryption, integrity) = key.split_at(config.algorithm.key_len() * 2);
    let (integrity_name, integrity_key) = match config.algorithm.wireshark_integrity_name() {
        Some(name) => (name, format!("0x{integrity}")),
        None => ("NULL", String::new()),
    };
    let integrity_key = zeroize::Zeroizing::new(integrity_key);
    Some(format!(
        "\"{protocol}\",\"*\",\"*\",\"0x{:08x}\",\"{}\",\"0x{}\",\"{integrity_name}\",\"{}\"",
        config.spi,
        config.algorithm.wireshark_name(),
        if integrity_name == "NULL" {
            key.as_str()
        } else {
            encryption
        },
        integrity_key.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::esp::{SecretKey, TunnelEndpoints};

    #[test]
    fn esp_sa_line_has_the_eight_wireshark_fields() {
        let mut c = SaConfig::new(
            0x1001,
            Algorithm::Aes128Gcm,
            SecretKey::from_hex("000102030405060708090a0b0c0d0e0f10111213").unwrap(),
        );
        c.tunnel = Some(TunnelEndpoints {
            local: "192.0.2.1".parse().unwrap(),
            remote: "198.51.100.2".parse().unwrap(),
        });
        assert_eq!(
            wireshark_esp_sa_line(&c).unwrap(),
            "\"IPv4\",\"*\",\"*\",\"0x00001001\",\
             \"AES-GCM with 16 octet ICV [RFC4106]\",\
             \"0x000102030405060708090a0b0c0d0e0f10111213\",\"NULL\",\"\""
        );
        c.algorithm = Algorithm::ChaCha20Poly1305;
        assert_eq!(wireshark_esp_sa_line(&c), None);
    }

    #[test]
    fn cbc_line_splits_the_encryption_and_integrity_keys() {
        let key: String = (0u8..48).map(|b| format!("{b:02x}")).collect();
        let c = SaConfig::new(
            0x2002,
            Algorithm::Aes128CbcHmacSha256,
            SecretKey::from_hex(&key).unwrap(),
        );
        assert_eq!(
            wireshark_esp_sa_line(&c).unwrap(),
            format!(
                "\"IPv4\",\"*\",\"*\",\"0x00002002\",\"AES-CBC [RFC3602]\",\"0x{}\",\
                 \"HMAC-SHA-256-128 [RFC4868]\",\"0x{}\"",
                &key[..32],
                &key[32..]
            )
        );
    }
}

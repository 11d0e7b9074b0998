//! ECN across the tunnel (RFC 6040): the outer ECN field on encapsulation
//! (normal and compatibility modes) and the combined inner field on
//! decapsulation (section 4.2, Figure 4).

use super::config::EcnMode;
use super::drop::EspDrop;

/// Not ECN-capable transport.
pub(crate) const NOT_ECT: u8 = 0b00;
/// ECN-capable transport, codepoint 1.
pub(crate) const ECT_1: u8 = 0b01;
/// ECN-capable transport, codepoint 0.
pub(crate) const ECT_0: u8 = 0b10;
/// Congestion experienced.
pub(crate) const CE: u8 = 0b11;

/// The outer ECN field for an inner field (RFC 6040 section 4.1): normal
/// mode copies it except that CE becomes ECT(0); compatibility mode writes
/// Not-ECT.
pub fn outer_ecn(inner: u8, mode: EcnMode) -> u8 {
    match mode {
        EcnMode::Compatibility => NOT_ECT,
        EcnMode::Normal if inner & CE == CE => ECT_0,
        EcnMode::Normal => inner & CE,
    }
}

/// The inner ECN field to forward after decapsulation (RFC 6040 section
/// 4.2), or a drop for CE arriving on a Not-ECT inner packet.
pub fn decapsulated_ecn(inner: u8, outer: u8) -> Result<u8, EspDrop> {
    match (inner & CE, outer & CE) {
        (NOT_ECT, CE) => Err(EspDrop::EcnCeOnNotEct),
        (NOT_ECT, _) => Ok(NOT_ECT),
        (CE, _) => Ok(CE),
        (_, CE) => Ok(CE),
        (_, ECT_1) => Ok(ECT_1),
        (inner, _) => Ok(inner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decapsulation_follows_rfc6040_figure_4() {
        // Rows: arriving inner; columns: arriving outer Not-ECT, ECT(0), ECT(1), CE.
        let outer = [NOT_ECT, ECT_0, ECT_1, CE];
        let table = [
            (NOT_ECT, [Some(NOT_ECT), Some(NOT_ECT), Some(NOT_ECT), None]),
            (ECT_0, [Some(ECT_0), Some(ECT_0), Some(ECT_1), Some(CE)]),
            (ECT_1, [Some(ECT_1), Some(ECT_1), Some(ECT_1), Some(CE)]),
            (CE, [Some(CE), Some(CE), Some(CE), Some(CE)]),
        ];
        for (inner, row) in table {
            for (o, want) in outer.iter().zip(row) {
                assert_eq!(
                    decapsulated_ecn(inner, *o).ok(),
                    want,
                    "inner {inner} outer {o}"
                );
            }
        }
    }

    #[test]
    fn encapsulation_modes() {
        assert_eq!(outer_ecn(CE, EcnMode::Normal), ECT_0);
        assert_eq!(outer_ecn(ECT_1, EcnMode::Normal), ECT_1);
        assert_eq!(outer_ecn(ECT_0, EcnMode::Compatibility), NOT_ECT);
    }
}

//! Harness of the `fragment` target: arbitrary fragments into
//! [`erdp::frag::Reassembler`] with small limits. Genuine fragments of a
//! few datagrams (cut by `erdp::wire::Ipv4Fragmenter` at a chosen MTU) mix
//! with forged ones (any offset, length, flag and fill) and clock jumps.
//! Oracles: nothing panics; after every step the state is within its caps
//! (datagrams, bytes held); a completed datagram whose identification only
//! ever saw genuine pieces equals the original byte for byte, and any
//! completed datagram carries, at every offset, a byte some accepted
//! fragment of its key put there.

use std::time::Duration;

use erdp::frag::{Reassembled, Reassembler, ReassemblyLimits};
use erdp::packet::PacketBuf;
use erdp::wire::{Ipv4Fragmenter, Ipv4Packet, checksum::internet_checksum, finish_fragment_header};

/// Identifications 0..GENUINE are genuine datagrams; forged fragments use
/// 2..2 + FORGED_IDS, so ids 2 and 3 see both.
const GENUINE: u16 = 4;
const FORGED_IDS: u16 = 4;

/// The caps the harness runs with (small, so the fuzzer reaches them).
pub const LIMITS: ReassemblyLimits = ReassemblyLimits {
    max_datagrams: 4,
    memory_cap: 8192,
    max_fragments: 16,
    timeout: Duration::from_secs(10),
};

/// Reads the input a byte at a time (zeros when it runs out).
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((first, rest)) => {
                self.0 = rest;
                *first
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }
}

/// A UDP-less IPv4 datagram (protocol 50) of `total` bytes, id `id`.
pub fn datagram(total: usize, id: u16, fill: u8) -> Vec<u8> {
    let total = total.max(21);
    let mut bytes = vec![0u8; total];
    bytes[0] = 0x45;
    bytes[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    bytes[4..6].copy_from_slice(&id.to_be_bytes());
    bytes[8] = 64;
    bytes[9] = 50;
    bytes[12..16].copy_from_slice(&[192, 0, 2, 1]);
    bytes[16..20].copy_from_slice(&[192, 0, 2, 2]);
    for (i, b) in bytes[20..].iter_mut().enumerate() {
        *b = fill.wrapping_add((i % 251) as u8);
    }
    let sum = internet_checksum(&bytes[..20]);
    bytes[10..12].copy_from_slice(&sum.to_be_bytes());
    bytes
}

/// The fragments of `packet` at `mtu`.
pub fn fragments(packet: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    let Ok(plan) = Ipv4Fragmenter::new(packet, mtu) else {
        return Vec::new();
    };
    plan.clone()
        .filter_map(|piece| {
            let mut out = vec![0u8; mtu];
            let len = plan.write(&piece, &mut out).ok()?;
            out.truncate(len);
            Some(out)
        })
        .collect()
}

/// A forged fragment of id `id`: `len` bytes of `fill` at byte `offset`.
fn forged(id: u16, offset: usize, len: usize, more: bool, fill: u8) -> Vec<u8> {
    let mut bytes = datagram(20 + len, id, fill);
    bytes.truncate(20 + len);
    for b in &mut bytes[20..] {
        *b = fill;
    }
    let _ = finish_fragment_header(&mut bytes[..20], 20 + len, offset, more, false);
    bytes
}

/// Runs the fuzz input.
pub fn run(data: &[u8]) {
    let mut input = Cursor(data);
    let mut originals = Vec::new();
    let mut pieces = Vec::new();
    for id in 0..GENUINE {
        let total = 21 + usize::from(input.u16() % 3000);
        let mtu = 68 + usize::from(input.u16() % 1500);
        let original = datagram(total, id, input.byte());
        pieces.push(fragments(&original, mtu));
        originals.push(original);
    }
    let mut steps = Vec::new();
    while !input.0.is_empty() && steps.len() < 256 {
        steps.push(match input.byte() % 4 {
            0 => Step::Clock(u64::from(input.byte()) * 100),
            1 => Step::Forged {
                id: 2 + u16::from(input.byte()) % FORGED_IDS,
                offset: usize::from(input.u16() % 512) * 8,
                len: usize::from(input.byte()),
                more: input.byte() & 1 == 1,
                fill: input.byte(),
            },
            _ => Step::Genuine {
                id: u16::from(input.byte()) % GENUINE,
                piece: usize::from(input.byte()),
            },
        });
    }
    check(&originals, &pieces, &steps);
}

/// One thing that happens to the reassembler.
#[derive(Debug, Clone)]
pub enum Step {
    /// The clock moves on by this many milliseconds.
    Clock(u64),
    /// Genuine piece `piece` (modulo their number) of datagram `id`.
    Genuine { id: u16, piece: usize },
    /// A forged fragment.
    Forged {
        id: u16,
        offset: usize,
        len: usize,
        more: bool,
        fill: u8,
    },
}

/// Runs `steps` and checks the oracles (see the module docs); returns how
/// many datagrams completed.
pub fn check(originals: &[Vec<u8>], pieces: &[Vec<Vec<u8>>], steps: &[Step]) -> usize {
    let mut completed = 0;
    let mut reassembler = Reassembler::new(LIMITS);
    let mut out = PacketBuf::new();
    let mut now = Duration::ZERO;
    let mut tainted = [false; (GENUINE + FORGED_IDS + 2) as usize];
    // Every accepted fragment: (id, offset, data).
    let mut accepted: Vec<(u16, usize, Vec<u8>)> = Vec::new();
    for step in steps {
        let (id, fragment) = match step {
            Step::Clock(ms) => {
                now += Duration::from_millis(*ms);
                reassembler.expire(now);
                continue;
            }
            Step::Genuine { id, piece } => {
                let Some(list) = pieces.get(usize::from(*id)).filter(|l| !l.is_empty()) else {
                    continue;
                };
                (*id, list[piece % list.len()].clone())
            }
            Step::Forged {
                id,
                offset,
                len,
                more,
                fill,
            } => {
                tainted[usize::from(*id)] = true;
                (*id, forged(*id, *offset, *len, *more, *fill))
            }
        };
        let Ok(packet) = Ipv4Packet::new_checked(fragment.as_slice()) else {
            continue;
        };
        let offset = usize::from(packet.fragment_offset()) * 8;
        let result = reassembler.insert(now, &packet, &mut out, 128);
        if result.is_ok() {
            accepted.push((id, offset, packet.payload().to_vec()));
        }
        assert!(
            reassembler.held_bytes() <= LIMITS.memory_cap,
            "held {} bytes over the cap",
            reassembler.held_bytes()
        );
        assert!(reassembler.in_progress() <= LIMITS.max_datagrams);
        if result != Ok(Reassembled::Complete) {
            continue;
        }
        completed += 1;
        let whole = out.as_slice();
        let datagram = Ipv4Packet::new_checked(whole).expect("a completed datagram is valid IPv4");
        assert!(
            !datagram.is_fragment(),
            "a completed datagram is no fragment"
        );
        if !tainted[usize::from(id)] {
            assert_eq!(
                whole,
                &originals[usize::from(id)][..],
                "datagram {id} changed"
            );
        }
        for (at, byte) in datagram.payload().iter().enumerate() {
            let vouched = accepted.iter().any(|(from, start, data)| {
                *from == id && at >= *start && data.get(at - start) == Some(byte)
            });
            assert!(
                vouched,
                "datagram {id}: byte {at} came from no accepted fragment"
            );
        }
    }
    completed
}

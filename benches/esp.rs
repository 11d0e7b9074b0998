//! ESP tunnel throughput (RFC 4303 with AEAD suites via `ring`): encap and
//! decap (with anti-replay) at 64, 512, 1400 and 9000-byte inner packets for
//! each suite, beside raw `ring` seal/open of the same bytes in the same kind
//! of buffer (the physical limit of this design) and, for ChaCha20-Poly1305,
//! boringtun's `Tunn::encapsulate` (a peer userspace tunnel).
//!
//! Keys, SAs, buffers and the boringtun handshake are set up outside the
//! measured closures; each measured call gets a fresh packet from an
//! unmeasured setup (`iter_batched_ref`), the same way for ours and ring's.
//!
//! On a shared machine the load moves between two criterion benchmarks run
//! one after the other, so the last part (`paired`) also times ours and the
//! baseline interleaved, 64 packets at a time, and prints their ratios: the
//! figures to compare.

use std::hint::black_box;
use std::time::{Duration, Instant};

use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use erdp::esp::{Algorithm, InboundSa, OutboundSa, SaConfig, SecretKey, TunnelEndpoints};
use erdp::packet::PacketBuf;
use etherparse::PacketBuilder;
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};

const SIZES: [usize; 4] = [64, 512, 1400, 9000];
/// Inputs per batch: enough to make timer reads negligible, few enough to
/// keep the buffers in cache.
const BATCH: BatchSize = BatchSize::NumIterations(64);

/// A UDP/IPv4 packet of exactly `size` bytes.
fn inner_packet(size: usize) -> Vec<u8> {
    let builder = PacketBuilder::ipv4([10, 1, 0, 1], [10, 2, 0, 1], 64).udp(1000, 2000);
    let payload = vec![0xA5; size - 28];
    let mut out = Vec::with_capacity(size);
    builder.write(&mut out, &payload).expect("build packet");
    out
}

fn config(algorithm: Algorithm) -> SaConfig {
    let key: Vec<u8> = (0..algorithm.key_len() + 4).map(|i| i as u8).collect();
    let mut c = SaConfig::new(0x1001, algorithm, SecretKey::from_bytes(&key));
    c.esn = true;
    c.replay_window = 1024;
    c.tunnel = Some(TunnelEndpoints {
        local: "192.0.2.1".parse().expect("address"),
        remote: "198.51.100.2".parse().expect("address"),
    });
    c
}

/// The sender's SA configuration and the receiver's (endpoints swapped).
fn configs(algorithm: Algorithm) -> (SaConfig, SaConfig) {
    let sender = config(algorithm);
    let mut receiver = sender.clone();
    receiver.tunnel = sender.tunnel.map(|t| TunnelEndpoints {
        local: t.remote,
        remote: t.local,
    });
    (sender, receiver)
}

fn ring_key(algorithm: Algorithm) -> LessSafeKey {
    let ring_algorithm = match algorithm {
        Algorithm::Aes128Gcm => &aead::AES_128_GCM,
        Algorithm::Aes256Gcm => &aead::AES_256_GCM,
        Algorithm::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
    };
    let key: Vec<u8> = (0..algorithm.key_len()).map(|i| i as u8).collect();
    LessSafeKey::new(UnboundKey::new(ring_algorithm, &key).expect("key"))
}

fn nonce(counter: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

/// A buffer sized like the forwarder's: the packet plus head- and tailroom.
fn buffer_with(bytes: &[u8]) -> PacketBuf {
    let mut b = PacketBuf::with_capacity(bytes.len() + 256, 128);
    b.load(bytes, 128).expect("fits");
    b
}

fn bench_suite(c: &mut Criterion, algorithm: Algorithm) {
    let mut group = c.benchmark_group(format!("esp/{algorithm}"));
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.sample_size(20);
    let (sa_config, receiver_config) = configs(algorithm);
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let inner = inner_packet(size);

        let key = ring_key(algorithm);
        let mut counter = 0u64;
        group.bench_function(BenchmarkId::new("raw_seal", size), |b| {
            b.iter_batched_ref(
                || buffer_with(&inner),
                |buf| {
                    counter += 1;
                    let aad = [0u8; 12];
                    black_box(key.seal_in_place_separate_tag(
                        nonce(counter),
                        Aad::from(&aad),
                        buf.as_mut_slice(),
                    ))
                },
                BATCH,
            )
        });

        let outbound = OutboundSa::new(&sa_config).expect("outbound SA");
        group.bench_function(BenchmarkId::new("encap", size), |b| {
            b.iter_batched_ref(
                || buffer_with(&inner),
                |buf| black_box(outbound.encapsulate(buf)),
                BATCH,
            )
        });

        // Raw open: ciphertext and tag, sealed in the setup.
        let mut sealed_counter = 0u64;
        group.bench_function(BenchmarkId::new("raw_open", size), |b| {
            b.iter_batched_ref(
                || {
                    sealed_counter += 1;
                    let mut buf = buffer_with(&inner);
                    let aad = [0u8; 12];
                    let tag = key
                        .seal_in_place_separate_tag(
                            nonce(sealed_counter),
                            Aad::from(&aad),
                            buf.as_mut_slice(),
                        )
                        .expect("seal");
                    (buf, sealed_counter, tag)
                },
                |(buf, n, tag)| {
                    let aad = [0u8; 12];
                    black_box(
                        key.open_in_place_separate_tag(
                            nonce(*n),
                            Aad::from(&aad),
                            *tag,
                            buf.as_mut_slice(),
                            0..,
                        )
                        .is_ok(),
                    )
                },
                BATCH,
            )
        });

        // Decap: every packet is fresh (anti-replay on), sealed in the setup.
        let sender = OutboundSa::new(&sa_config).expect("outbound SA");
        let inbound = InboundSa::new(&receiver_config).expect("inbound SA");
        group.bench_function(BenchmarkId::new("decap", size), |b| {
            b.iter_batched_ref(
                || {
                    let mut buf = buffer_with(&inner);
                    sender.encapsulate(&mut buf).expect("encap");
                    buf
                },
                |buf| black_box(inbound.decapsulate(buf).is_ok()),
                BATCH,
            )
        });
        assert_eq!(
            inbound.stats().total_drops(),
            0,
            "decap bench dropped packets"
        );

        if algorithm == Algorithm::ChaCha20Poly1305 {
            let (mut tunnel, _) = boringtun_pair();
            let mut out = vec![0u8; size + 64];
            group.bench_function(BenchmarkId::new("boringtun_encap", size), |b| {
                b.iter(|| match tunnel.encapsulate(black_box(&inner), &mut out) {
                    TunnResult::WriteToNetwork(p) => black_box(p.len()),
                    _ => 0,
                })
            });
        }
    }
    group.finish();
}

/// Two boringtun peers with a completed handshake (outside any measurement).
fn boringtun_pair() -> (Tunn, Tunn) {
    let a_secret = StaticSecret::from([1u8; 32]);
    let b_secret = StaticSecret::from([2u8; 32]);
    let a_public = PublicKey::from(&a_secret);
    let b_public = PublicKey::from(&b_secret);
    let mut a = Tunn::new(a_secret, b_public, None, None, 1, None);
    let mut b = Tunn::new(b_secret, a_public, None, None, 2, None);
    let mut scratch = vec![0u8; 2048];
    let init = match a.format_handshake_initiation(&mut scratch, false) {
        TunnResult::WriteToNetwork(p) => p.to_vec(),
        _ => panic!("boringtun: no handshake initiation"),
    };
    let response = match b.decapsulate(None, &init, &mut scratch) {
        TunnResult::WriteToNetwork(p) => p.to_vec(),
        _ => panic!("boringtun: no handshake response"),
    };
    match a.decapsulate(None, &response, &mut scratch) {
        TunnResult::WriteToNetwork(_) | TunnResult::Done => {}
        _ => panic!("boringtun: handshake failed"),
    }
    (a, b)
}

fn esp(c: &mut Criterion) {
    for algorithm in Algorithm::ALL {
        bench_suite(c, algorithm);
    }
}

/// One side of a paired measurement: makes an input (unmeasured) and
/// processes it (measured).
struct Side<'a> {
    setup: Box<dyn FnMut() -> PacketBuf + 'a>,
    run: Box<dyn FnMut(&mut PacketBuf) + 'a>,
}

impl Side<'_> {
    fn time_chunk(&mut self, inputs: &mut Vec<PacketBuf>) -> Duration {
        inputs.clear();
        inputs.extend((0..CHUNK).map(|_| (self.setup)()));
        let start = Instant::now();
        for input in inputs.iter_mut() {
            (self.run)(black_box(input));
        }
        start.elapsed()
    }
}

/// Our encapsulation of fresh copies of `inner`.
fn encap_side<'a>(outbound: &'a OutboundSa, inner: &'a [u8]) -> Side<'a> {
    Side {
        setup: Box::new(move || buffer_with(inner)),
        run: Box::new(move |buf| {
            black_box(outbound.encapsulate(buf).is_ok());
        }),
    }
}

const CHUNK: usize = 64;
const PAIR_BUDGET: Duration = Duration::from_millis(1500);

/// Nanoseconds per packet of `ours` and `baseline`, timed in alternating
/// chunks so both see the same machine load.
fn paired(mut ours: Side<'_>, mut baseline: Side<'_>) -> (f64, f64) {
    let (mut t_ours, mut t_base, mut rounds) = (Duration::ZERO, Duration::ZERO, 0u32);
    let mut inputs = Vec::with_capacity(CHUNK);
    let start = Instant::now();
    while start.elapsed() < PAIR_BUDGET || rounds < 8 {
        // Alternate which goes first, against ordering effects.
        if rounds % 2 == 0 {
            t_ours += ours.time_chunk(&mut inputs);
            t_base += baseline.time_chunk(&mut inputs);
        } else {
            t_base += baseline.time_chunk(&mut inputs);
            t_ours += ours.time_chunk(&mut inputs);
        }
        rounds += 1;
    }
    let per = |t: Duration| t.as_nanos() as f64 / f64::from(rounds) / CHUNK as f64;
    (per(t_ours), per(t_base))
}

fn gbps(size: usize, ns: f64) -> f64 {
    size as f64 / ns
}

fn paired_report(_: &mut Criterion) {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-') && a != "esp")
        .collect();
    if !filters.is_empty() && !filters.iter().any(|f| "paired".contains(f.as_str())) {
        return;
    }
    println!(
        "\npaired (interleaved chunks of {CHUNK}, {PAIR_BUDGET:?} per pair), GB/s of inner bytes:"
    );
    println!(
        "| suite | size | encap | raw seal | encap/seal | decap | raw open | decap/open | encap vs boringtun GB/s | ours/boringtun |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for algorithm in Algorithm::ALL {
        let (sa_config, receiver_config) = configs(algorithm);
        for size in SIZES {
            let inner = inner_packet(size);
            let key = ring_key(algorithm);
            let outbound = OutboundSa::new(&sa_config).expect("outbound SA");
            let mut seal_counter = 0u64;
            let (encap, seal) = paired(
                encap_side(&outbound, &inner),
                Side {
                    setup: Box::new(|| buffer_with(&inner)),
                    run: Box::new(|buf| {
                        seal_counter += 1;
                        let tag = key.seal_in_place_separate_tag(
                            nonce(seal_counter),
                            Aad::from([0u8; 12]),
                            buf.as_mut_slice(),
                        );
                        black_box(tag.is_ok());
                    }),
                },
            );
            let sender = OutboundSa::new(&sa_config).expect("outbound SA");
            let inbound = InboundSa::new(&receiver_config).expect("inbound SA");
            let (decap, open) = paired(
                Side {
                    setup: Box::new(|| {
                        let mut buf = buffer_with(&inner);
                        sender.encapsulate(&mut buf).expect("encap");
                        buf
                    }),
                    run: Box::new(|buf| {
                        black_box(inbound.decapsulate(buf).is_ok());
                    }),
                },
                Side {
                    // Sealed once with one nonce: a benchmark input, not traffic.
                    setup: Box::new(|| {
                        let mut buf = buffer_with(&inner);
                        let tag = key
                            .seal_in_place_separate_tag(
                                nonce(0),
                                Aad::from([0u8; 12]),
                                buf.as_mut_slice(),
                            )
                            .expect("seal");
                        buf.push_back(16)
                            .expect("tailroom")
                            .copy_from_slice(tag.as_ref());
                        buf
                    }),
                    run: Box::new(|buf| {
                        let plain =
                            key.open_in_place(nonce(0), Aad::from([0u8; 12]), buf.as_mut_slice());
                        black_box(plain.is_ok());
                    }),
                },
            );
            assert_eq!(
                inbound.stats().total_drops(),
                0,
                "paired decap dropped packets"
            );
            let boringtun = if algorithm == Algorithm::ChaCha20Poly1305 {
                let outbound = OutboundSa::new(&sa_config).expect("outbound SA");
                let (mut tunnel, _) = boringtun_pair();
                let mut out = vec![0u8; size + 64];
                let (ours, theirs) = paired(
                    encap_side(&outbound, &inner),
                    Side {
                        setup: Box::new(|| buffer_with(&inner)),
                        run: Box::new(|buf| {
                            let n = match tunnel.encapsulate(buf.as_slice(), &mut out) {
                                TunnResult::WriteToNetwork(p) => p.len(),
                                _ => 0,
                            };
                            black_box(n);
                        }),
                    },
                );
                format!(
                    "{:.2} vs {:.2} | {:.2}x",
                    gbps(size, ours),
                    gbps(size, theirs),
                    theirs / ours
                )
            } else {
                "- | -".to_owned()
            };
            println!(
                "| {algorithm} | {size} | {:.2} | {:.2} | {:.0}% | {:.2} | {:.2} | {:.0}% | {boringtun} |",
                gbps(size, encap),
                gbps(size, seal),
                100.0 * seal / encap,
                gbps(size, decap),
                gbps(size, open),
                100.0 * open / decap,
            );
        }
    }
}

criterion_group!(benches, esp, paired_report);
criterion_main!(benches);

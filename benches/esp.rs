//! ESP tunnel throughput (RFC 4303 with AEAD suites via `ring`, and AES-CBC
//! with HMAC-SHA2-256-128): encap and decap (with anti-replay) at 64, 512, 1400
//! and 9000-byte inner packets for each suite, one packet at a time and in
//! batches, beside two raw `ring` baselines (AES-GCM of the same key size
//! for the CBC suites) and, for ChaCha20-Poly1305, boringtun's
//! `Tunn::encapsulate`. `cbc_report` times CBC against GCM interleaved.
//!
//! The baselines: `seal_inner`/`open_inner` run ring on the inner packet's
//! own bytes (with ESP's 12-byte AAD): the ratio. `seal_esp`/
//! `open_esp` run ring on exactly the bytes ESP must seal (the inner packet,
//! its padding and the 2-byte trailer, with the same AAD): the physical limit
//! of this design; what is left between it and ours is our own per-packet
//! work. Keys, SAs, handshakes and inputs are made outside the timed code.
//!
//! Parts, selected by the usual filter argument:
//! - criterion groups `esp/<suite>` (back-to-back, for criterion's reports);
//! - `paired_report`: every side of one suite and size timed interleaved,
//!   64 packets at a time in rotating order, so all see the same machine
//!   load; medians over chunks; prints the figures and ratios to quote;
//! - `format_report`: raw ring sealing 64 vs 68 bytes with 0, 8 and 12 bytes
//!   of AAD (what ESP's trailer and AAD cost before any code of ours runs).
//!
//! `cargo bench --bench esp -- report` runs the reports (and no criterion
//! group); `-- cbc_report` the CBC one alone.
//!
//! `ERDP_ESP_PROFILE=<side>:<suite>:<size>:<count>` runs one side `count`
//! times and exits, for `valgrind --tool=callgrind` (instruction counts per
//! packet are the inclusive cost of `run_timed_chunk` divided by `count`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group};
use erdp::esp::{Algorithm, EspDrop, InboundSa, OutboundSa, SaConfig, SecretKey, TunnelEndpoints};
use erdp::packet::PacketBuf;
use etherparse::PacketBuilder;
use ring::aead::{self, Aad, LessSafeKey, Nonce, Tag, UnboundKey};

const SIZES: [usize; 4] = [64, 512, 1400, 9000];
const SPI: u32 = 0x1001;
/// ESP's AAD with ESN (SPI, high and low sequence halves), as the SAs here
/// use it.
const AAD_LEN: usize = 12;
/// Packets per timed chunk (and per batch call): enough to make timer reads
/// negligible, few enough to keep the buffers in cache.
const CHUNK: usize = 64;
const PAIR_BUDGET: Duration = Duration::from_millis(1500);

/// A UDP/IPv4 packet of exactly `size` bytes.
fn inner_packet(size: usize) -> Vec<u8> {
    let builder = PacketBuilder::ipv4([10, 1, 0, 1], [10, 2, 0, 1], 64).udp(1000, 2000);
    let payload = vec![0xA5; size - 28];
    let mut out = Vec::with_capacity(size);
    builder.write(&mut out, &payload).expect("build packet");
    out
}

/// The bytes ESP seals for `inner` in tunnel mode: the packet, padding 1, 2,
/// ... to a multiple of 4 with the trailer, pad length and next header 4.
fn esp_payload(inner: &[u8]) -> Vec<u8> {
    let pad = (4 - (inner.len() + 2) % 4) % 4;
    let mut out = inner.to_vec();
    out.extend((1..=pad).map(|i| i as u8));
    out.extend([pad as u8, 4]);
    out
}

fn config(algorithm: Algorithm) -> SaConfig {
    let key: Vec<u8> = (0..algorithm.keymat_len()).map(|i| i as u8).collect();
    let mut c = SaConfig::new(SPI, algorithm, SecretKey::from_bytes(&key));
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

/// The raw ring baseline of a suite. AES-CBC + HMAC has none in ring: its
/// rows are measured against ring's AES-GCM of the same key size, so the
/// ratio columns read "ours with CBC against raw GCM".
fn ring_key(algorithm: Algorithm) -> LessSafeKey {
    let ring_algorithm = match algorithm {
        Algorithm::Aes128Gcm | Algorithm::Aes128CbcHmacSha256 => &aead::AES_128_GCM,
        Algorithm::Aes256Gcm | Algorithm::Aes256CbcHmacSha256 => &aead::AES_256_GCM,
        Algorithm::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
    };
    let key: Vec<u8> = (0..algorithm.key_len()).map(|i| i as u8).collect();
    LessSafeKey::new(UnboundKey::new(ring_algorithm, &key).expect("key"))
}

/// The nonce and AAD ESP uses for sequence number `seq` (salt left zero).
fn nonce_and_aad(seq: u64) -> (Nonce, [u8; AAD_LEN]) {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&seq.to_be_bytes());
    let mut aad = [0u8; AAD_LEN];
    aad[..4].copy_from_slice(&SPI.to_be_bytes());
    aad[4..].copy_from_slice(&seq.to_be_bytes());
    (Nonce::assume_unique_for_key(n), aad)
}

/// A buffer sized like the forwarder's: the packet plus head- and tailroom.
fn buffer_with(bytes: &[u8]) -> PacketBuf {
    let mut b = PacketBuf::with_capacity(bytes.len() + 256, 128);
    b.load(bytes, 128).expect("fits");
    b
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

/// Makes one input (untimed).
type Setup<'a> = Box<dyn FnMut() -> PacketBuf + 'a>;
/// Processes a chunk of inputs (timed).
type Run<'a> = Box<dyn FnMut(&mut [PacketBuf]) + 'a>;

/// One thing to time.
struct Side<'a> {
    name: &'static str,
    setup: Setup<'a>,
    run: Run<'a>,
}

impl<'a> Side<'a> {
    fn new(
        name: &'static str,
        setup: impl FnMut() -> PacketBuf + 'a,
        run: impl FnMut(&mut [PacketBuf]) + 'a,
    ) -> Self {
        Side {
            name,
            setup: Box::new(setup),
            run: Box::new(run),
        }
    }

    /// A side that processes its chunk one packet at a time.
    fn each(
        name: &'static str,
        setup: impl FnMut() -> PacketBuf + 'a,
        mut one: impl FnMut(&mut PacketBuf) + 'a,
    ) -> Self {
        Self::new(name, setup, move |bufs| {
            for buf in bufs {
                one(black_box(buf));
            }
        })
    }

    fn time_chunk(&mut self, inputs: &mut Vec<PacketBuf>) -> Duration {
        inputs.clear();
        inputs.extend((0..CHUNK).map(|_| (self.setup)()));
        let start = Instant::now();
        run_timed_chunk(&mut self.run, inputs);
        start.elapsed()
    }
}

/// The timed part, kept out of line so a profiler can attribute it.
#[inline(never)]
fn run_timed_chunk(run: &mut dyn FnMut(&mut [PacketBuf]), inputs: &mut [PacketBuf]) {
    run(black_box(inputs));
}

/// The encapsulation sides of one suite and size: ours one by one and in
/// batches, ring on the inner bytes and on the ESP payload, and boringtun
/// for ChaCha20-Poly1305.
struct EncapSetup {
    inner: Vec<u8>,
    payload: Vec<u8>,
    key: LessSafeKey,
    single: OutboundSa,
    batch: OutboundSa,
    boringtun: Option<(Tunn, Vec<u8>)>,
}

impl EncapSetup {
    fn new(algorithm: Algorithm, size: usize) -> Self {
        let (sa_config, _) = configs(algorithm);
        let inner = inner_packet(size);
        EncapSetup {
            payload: esp_payload(&inner),
            inner,
            key: ring_key(algorithm),
            single: OutboundSa::new(&sa_config).expect("outbound SA"),
            batch: OutboundSa::new(&sa_config).expect("outbound SA"),
            boringtun: (algorithm == Algorithm::ChaCha20Poly1305)
                .then(|| (boringtun_pair().0, vec![0u8; size + 64])),
        }
    }

    fn sides(&mut self) -> Vec<Side<'_>> {
        let EncapSetup {
            inner,
            payload,
            key,
            single,
            batch,
            boringtun,
        } = self;
        let (inner, payload, key) = (&*inner, &*payload, &*key);
        let mut seq_inner = 0u64;
        let mut seq_esp = 0u64;
        let mut sides = vec![
            Side::each(
                "encap",
                || buffer_with(inner),
                |buf| {
                    black_box(single.encapsulate(buf).is_ok());
                },
            ),
            Side::new(
                "encap_batch",
                || buffer_with(inner),
                |bufs| {
                    let mut results = [Err(EspDrop::NotEsp); CHUNK];
                    black_box(batch.encapsulate_batch(bufs, &mut results));
                },
            ),
            Side::each(
                "seal_inner",
                || buffer_with(inner),
                move |buf| seal(key, &mut seq_inner, buf),
            ),
            Side::each(
                "seal_esp",
                || buffer_with(payload),
                move |buf| seal(key, &mut seq_esp, buf),
            ),
        ];
        if let Some((tunnel, out)) = boringtun {
            sides.push(Side::each(
                "boringtun",
                || buffer_with(inner),
                |buf| {
                    let n = match tunnel.encapsulate(buf.as_slice(), out) {
                        TunnResult::WriteToNetwork(p) => p.len(),
                        _ => 0,
                    };
                    black_box(n);
                },
            ));
        }
        sides
    }
}

/// Raw ring sealing the whole buffer with ESP's nonce and AAD for the next
/// sequence number; the tag goes after the data, as every user of it needs.
fn seal(key: &LessSafeKey, seq: &mut u64, buf: &mut PacketBuf) {
    *seq += 1;
    seal_with_aad_len(key, *seq, AAD_LEN, buf);
}

fn seal_with_aad_len(key: &LessSafeKey, seq: u64, aad_len: usize, buf: &mut PacketBuf) {
    let (nonce, aad) = nonce_and_aad(seq);
    let aad = Aad::from(aad.get(..aad_len).unwrap_or_default());
    if let Ok(tag) = key.seal_in_place_separate_tag(nonce, aad, buf.as_mut_slice())
        && let Ok(slot) = buf.push_back(16)
    {
        slot.copy_from_slice(tag.as_ref());
    }
}

/// `bytes` sealed with sequence number 1 and its tag appended: an input for
/// a raw open (one nonce for every copy: a benchmark input, not traffic).
fn sealed_input(key: &LessSafeKey, bytes: &[u8]) -> PacketBuf {
    let mut buf = buffer_with(bytes);
    let (nonce, aad) = nonce_and_aad(1);
    let tag: Tag = key
        .seal_in_place_separate_tag(nonce, Aad::from(aad), buf.as_mut_slice())
        .expect("seal");
    buf.push_back(16)
        .expect("tailroom")
        .copy_from_slice(tag.as_ref());
    buf
}

fn open(key: &LessSafeKey, buf: &mut PacketBuf) {
    let (nonce, aad) = nonce_and_aad(1);
    black_box(
        key.open_in_place(nonce, Aad::from(aad), buf.as_mut_slice())
            .is_ok(),
    );
}

/// The decapsulation sides: ours one by one and in batches (fresh sequence
/// numbers, anti-replay on), ring opening the inner bytes and the ESP
/// payload.
struct DecapSetup {
    inner: Vec<u8>,
    key: LessSafeKey,
    sealed_inner: PacketBuf,
    sealed_payload: PacketBuf,
    sender: OutboundSa,
    single: InboundSa,
    batch: InboundSa,
}

impl DecapSetup {
    fn new(algorithm: Algorithm, size: usize) -> Self {
        let (sa_config, receiver_config) = configs(algorithm);
        let inner = inner_packet(size);
        let key = ring_key(algorithm);
        DecapSetup {
            sealed_inner: sealed_input(&key, &inner),
            sealed_payload: sealed_input(&key, &esp_payload(&inner)),
            inner,
            key,
            sender: OutboundSa::new(&sa_config).expect("outbound SA"),
            single: InboundSa::new(&receiver_config).expect("inbound SA"),
            batch: InboundSa::new(&receiver_config).expect("inbound SA"),
        }
    }

    fn sides(&self) -> Vec<Side<'_>> {
        let key = &self.key;
        let encapsulated = || {
            let mut buf = buffer_with(&self.inner);
            self.sender.encapsulate(&mut buf).expect("encap");
            buf
        };
        vec![
            Side::each("decap", encapsulated, |buf| {
                black_box(self.single.decapsulate(buf).is_ok());
            }),
            Side::new("decap_batch", encapsulated, |bufs| {
                let mut results = [Err(EspDrop::NotEsp); CHUNK];
                black_box(self.batch.decapsulate_batch(bufs, &mut results));
            }),
            Side::each(
                "open_inner",
                || self.sealed_inner.clone(),
                move |buf| open(key, buf),
            ),
            Side::each(
                "open_esp",
                || self.sealed_payload.clone(),
                move |buf| open(key, buf),
            ),
        ]
    }

    /// Our sides must never drop a packet: a drop would time a shortcut.
    fn assert_no_drops(&self) {
        for sa in [&self.single, &self.batch] {
            assert_eq!(sa.stats().total_drops(), 0, "decap dropped packets");
        }
    }
}

/// Nanoseconds per packet of every side: the median over chunks timed in
/// rotating order (a chunk that another process preempted is an outlier the
/// median ignores; the shared machine makes many).
fn interleaved(sides: &mut [Side<'_>]) -> Vec<f64> {
    let mut per_chunk: Vec<Vec<f64>> = vec![Vec::new(); sides.len()];
    let mut inputs = Vec::with_capacity(CHUNK);
    let mut rounds = 0usize;
    let start = Instant::now();
    while start.elapsed() < PAIR_BUDGET || rounds < 8 {
        for k in 0..sides.len() {
            let i = (k + rounds) % sides.len();
            let t = sides[i].time_chunk(&mut inputs);
            per_chunk[i].push(t.as_nanos() as f64 / CHUNK as f64);
        }
        rounds += 1;
    }
    per_chunk
        .iter_mut()
        .map(|times| {
            times.sort_by(f64::total_cmp);
            times[times.len() / 2]
        })
        .collect()
}

fn gbps(size: usize, ns: f64) -> f64 {
    size as f64 / ns
}

fn selected(part: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-') && a != "esp")
        .collect();
    filters.is_empty() || filters.iter().any(|f| part.contains(f.as_str()))
}

/// One table row: ours one by one and in batches (sides 0, 1), the raw
/// baselines on the inner bytes and on the ESP payload (sides 2, 3), each
/// as GB/s of inner bytes (ns per packet), then the four ratios, then
/// `extra` cells.
fn print_row(algorithm: Algorithm, size: usize, ns: &[f64], extra: &str) {
    let cell = |i: usize| format!("{:.2} ({:.0})", gbps(size, ns[i]), ns[i]);
    let ratio = |ours: usize, base: usize| format!("{:.0}%", 100.0 * ns[base] / ns[ours]);
    println!(
        "| {algorithm} | {size} | {} | {} | {} | {} | {} | {} | {} | {} |{extra}",
        cell(0),
        cell(1),
        cell(2),
        cell(3),
        ratio(0, 2),
        ratio(0, 3),
        ratio(1, 2),
        ratio(1, 3),
    );
}

fn paired_report(_: &mut Criterion) {
    if !selected("paired_report") {
        return;
    }
    println!(
        "\npaired (interleaved chunks of {CHUNK}, {PAIR_BUDGET:?} per table row, medians); GB/s of \
         inner bytes, ns per packet in brackets; ratios are ours/baseline in throughput"
    );
    println!(
        "\n| suite | size | encap | encap batch | seal inner | seal ESP payload | encap/seal inner | encap/seal ESP | batch/seal inner | batch/seal ESP | boringtun | ours/boringtun (single, batch) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for algorithm in Algorithm::ALL {
        for size in SIZES {
            let mut setup = EncapSetup::new(algorithm, size);
            let mut sides = setup.sides();
            let has_boringtun = sides.len() > 4;
            let ns = interleaved(&mut sides);
            let boringtun = if has_boringtun {
                format!(
                    " {:.2} ({:.0}) | {:.2}x, {:.2}x |",
                    gbps(size, ns[4]),
                    ns[4],
                    ns[4] / ns[0],
                    ns[4] / ns[1]
                )
            } else {
                " - | - |".to_owned()
            };
            print_row(algorithm, size, &ns, &boringtun);
        }
    }
    println!(
        "\n| suite | size | decap | decap batch | open inner | open ESP payload | decap/open inner | decap/open ESP | batch/open inner | batch/open ESP |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for algorithm in Algorithm::ALL {
        for size in SIZES {
            let setup = DecapSetup::new(algorithm, size);
            let ns = interleaved(&mut setup.sides());
            setup.assert_no_drops();
            print_row(algorithm, size, &ns, "");
        }
    }
}

/// AES-CBC + HMAC-SHA2-256-128 against AES-GCM with the same AES key size,
/// ours both sides, encap and decap timed interleaved: the ratio to quote
/// for Azure's most common non-GCM proposal.
fn cbc_report(_: &mut Criterion) {
    if !selected("cbc_report") {
        return;
    }
    println!("\nCBC vs GCM (ours, interleaved, medians): GB/s of inner bytes (ns per packet)");
    println!(
        "| suites | size | GCM encap | CBC encap | CBC/GCM encap | GCM decap | CBC decap | CBC/GCM decap |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let pairs = [
        (Algorithm::Aes128Gcm, Algorithm::Aes128CbcHmacSha256),
        (Algorithm::Aes256Gcm, Algorithm::Aes256CbcHmacSha256),
    ];
    for (gcm, cbc) in pairs {
        for size in SIZES {
            let mut gcm_encap = EncapSetup::new(gcm, size);
            let mut cbc_encap = EncapSetup::new(cbc, size);
            let (gcm_decap, cbc_decap) = (DecapSetup::new(gcm, size), DecapSetup::new(cbc, size));
            let mut sides = Vec::new();
            sides.extend(gcm_encap.sides().into_iter().take(1));
            sides.extend(cbc_encap.sides().into_iter().take(1));
            sides.extend(gcm_decap.sides().into_iter().take(1));
            sides.extend(cbc_decap.sides().into_iter().take(1));
            let ns = interleaved(&mut sides);
            gcm_decap.assert_no_drops();
            cbc_decap.assert_no_drops();
            let cell = |i: usize| format!("{:.2} ({:.0})", gbps(size, ns[i]), ns[i]);
            println!(
                "| {gcm} / {cbc} | {size} | {} | {} | {:.0}% | {} | {} | {:.0}% |",
                cell(0),
                cell(1),
                100.0 * ns[0] / ns[1],
                cell(2),
                cell(3),
                100.0 * ns[2] / ns[3],
            );
        }
    }
}

/// Raw ring sealing a 64-byte packet and its 68-byte ESP payload with no
/// AAD (WireGuard's data packets), 8 bytes (ESP) and 12 (ESP with ESN),
/// tag written after the data.
fn format_report(_: &mut Criterion) {
    if !selected("format_report") {
        return;
    }
    println!("\nformat cost: raw ring seal, ns per call (interleaved)");
    println!(
        "| suite | 64 B, no AAD | 64 B, AAD 8 | 64 B, AAD 12 | 68 B, no AAD | 68 B, AAD 8 | 68 B, AAD 12 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for algorithm in Algorithm::ALL.into_iter().filter(|a| a.is_aead()) {
        let key = ring_key(algorithm);
        let inner = inner_packet(64);
        let payload = esp_payload(&inner);
        let mut sides = Vec::new();
        for bytes in [&inner, &payload] {
            for (name, aad_len) in [("aad0", 0), ("aad8", 8), ("aad12", 12)] {
                let key = &key;
                let mut seq = 0u64;
                sides.push(Side::each(
                    name,
                    move || buffer_with(bytes),
                    move |buf| {
                        seq += 1;
                        seal_with_aad_len(key, seq, aad_len, buf);
                    },
                ));
            }
        }
        let ns = interleaved(&mut sides);
        let cells: Vec<String> = ns.iter().map(|n| format!("{n:.0}")).collect();
        println!("| {algorithm} | {} |", cells.join(" | "));
    }
}

/// Criterion's own back-to-back measurements of ours and the baselines.
fn esp(c: &mut Criterion) {
    for algorithm in Algorithm::ALL {
        let mut group = c.benchmark_group(format!("esp/{algorithm}"));
        group.warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_secs(1));
        group.sample_size(20);
        for size in SIZES {
            // One iteration is a chunk of `CHUNK` packets.
            group.throughput(Throughput::Bytes((size * CHUNK) as u64));
            let mut encap = EncapSetup::new(algorithm, size);
            let decap = DecapSetup::new(algorithm, size);
            for mut side in encap.sides().into_iter().chain(decap.sides()) {
                group.bench_function(BenchmarkId::new(side.name, size), |b| {
                    b.iter_batched_ref(
                        || (0..CHUNK).map(|_| (side.setup)()).collect::<Vec<_>>(),
                        |inputs| (side.run)(inputs),
                        BatchSize::NumIterations(1),
                    )
                });
            }
            decap.assert_no_drops();
        }
        group.finish();
    }
}

/// `ERDP_ESP_PROFILE=<side>:<suite>:<size>:<count>`: runs one side over
/// `count` packets (in chunks) for a profiler.
fn profile(spec: &str) {
    let parts: Vec<&str> = spec.split(':').collect();
    let [side_name, suite, size, count] = parts[..] else {
        panic!("ERDP_ESP_PROFILE={spec}: expected <side>:<suite>:<size>:<count>");
    };
    let algorithm: Algorithm = suite.parse().expect("suite");
    let size: usize = size.parse().expect("size");
    let chunks = count.parse::<usize>().expect("count").div_ceil(CHUNK);
    let mut encap = EncapSetup::new(algorithm, size);
    let decap = DecapSetup::new(algorithm, size);
    let mut side = encap
        .sides()
        .into_iter()
        .chain(decap.sides())
        .find(|s| s.name == side_name)
        .unwrap_or_else(|| panic!("no side {side_name}"));
    // Like the timed runs: a fresh chunk of inputs, then the chunk.
    let mut inputs = Vec::with_capacity(CHUNK);
    for _ in 0..chunks {
        side.time_chunk(&mut inputs);
    }
    println!("{side_name} {algorithm} {size}: {} packets", chunks * CHUNK);
}

criterion_group!(benches, esp, paired_report, format_report, cbc_report);

fn main() {
    if let Ok(spec) = std::env::var("ERDP_ESP_PROFILE") {
        profile(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

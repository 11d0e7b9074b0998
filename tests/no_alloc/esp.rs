//! Proves that encapsulation and decapsulation, one by one and in batches,
//! allocate nothing per packet: a counting global allocator (tests/alloc_support) counts
//! the test thread's allocations.

use crate::support;

use crate::counting_alloc::allocations;
use erdp::esp::{Algorithm, EspDrop, MAX_BATCH, NatT, SaDatabase};
use support::esp::*;

#[test]
fn encapsulate_and_decapsulate_do_not_allocate() {
    for algorithm in Algorithm::ALL {
        for (outer_v6, nat_t) in [(false, false), (true, true)] {
            let mut c = config(algorithm, 0x1001, true, outer_v6);
            c.nat_t = nat_t.then(NatT::default);
            c.tfc_pad_to = 200;
            let (out, inb) = pair(&c);
            let mut db = SaDatabase::new();
            db.insert(std::sync::Arc::new(inb)).unwrap();
            let inner = inner_packet(false, 1000, 1);
            let mut buf = buf_with(&inner);
            let mut garbage = buf_with(&inner);
            // Warm up (lazy statics in ring's CPU feature detection, tracing).
            out.encapsulate(&mut buf).unwrap();
            db.decapsulate(&mut buf).unwrap();

            let before = allocations();
            for _ in 0..1000 {
                buf.load(&inner, 128).unwrap();
                out.encapsulate(&mut buf).unwrap();
                db.decapsulate(&mut buf).unwrap();
                // Drops do not allocate either.
                garbage.load(&inner, 128).unwrap();
                let _ = db.decapsulate(&mut garbage);
            }
            let after_single = allocations();
            // The batch paths, through the SA and the database.
            let mut bufs: Vec<_> = (0..MAX_BATCH + 3).map(|_| buf_with(&inner)).collect();
            let mut encapsulated = vec![Err(EspDrop::NotEsp); bufs.len()];
            let mut decapsulated = vec![Err(EspDrop::NotEsp); bufs.len()];
            let mut db_results = Vec::with_capacity(bufs.len());
            db_results.resize(bufs.len(), Err(EspDrop::NotEsp));
            let before_batches = allocations();
            for round in 0..20 {
                for buf in &mut bufs {
                    buf.load(&inner, 128).unwrap();
                }
                out.encapsulate_batch(&mut bufs, &mut encapsulated);
                if round % 2 == 0 {
                    db.decapsulate_batch(&mut bufs, &mut db_results);
                    assert!(db_results.iter().all(Result::is_ok));
                } else {
                    let sa = db.iter().next().unwrap();
                    sa.decapsulate_batch(&mut bufs, &mut decapsulated);
                    assert!(decapsulated.iter().all(Result::is_ok));
                }
            }
            let after = allocations();
            assert_eq!(
                after - before_batches,
                0,
                "{algorithm}: allocations in 20 batches"
            );
            assert_eq!(
                after_single - before,
                0,
                "{algorithm}: allocations per 1000 packets"
            );
        }
    }
}

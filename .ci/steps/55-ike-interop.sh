#!/usr/bin/env bash
# IKEv2 interop with strongSwan (issue 18, tests/ike/interop.rs): charon with
# kernel-libipsec (userspace ESP, always UDP 4500) in a network namespace
# negotiates with erdp's IKE core on real UDP 500/4500 sockets in another,
# erdp as responder (ECP-256, Curve25519, ECP-384) and as initiator, with
# AES-GCM and with AES-CBC + HMAC-SHA2-256/384 (SK payload and ESP); kernel
# pings from charon's side cross the CHILD_SA (erdp opens charon's ESP and
# seals the replies with its `esp` module); the CHILD_SA is rekeyed by each
# side, without and with PFS (a KE in every CREATE_CHILD_SA), and pings cross
# the new SA; erdp's Dead Peer Detection declares charon
# dead once its link is down; a wrong PSK is reported as
# AUTHENTICATION_FAILED and a proposal mismatch as NO_PROPOSAL_CHOSEN with
# both lists. Then `erdp attach` with an `ike` table (tests/ike/attach.rs):
# charon's pings cross the node to a kernel host behind it, through a
# `swanctl --rekey`, and killing charon takes the tunnel down by DPD.
# Needs root: fails (does not skip) without it.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then
    echo "55-ike-interop: needs root (network namespaces, veth, bind mounts)" >&2
    exit 1
fi

missing=()
[ -x /usr/lib/ipsec/charon ] || missing+=(strongswan-charon libcharon-extra-plugins libstrongswan-standard-plugins)
command -v swanctl >/dev/null || missing+=(strongswan-swanctl)
command -v ping >/dev/null || missing+=(iputils-ping)
command -v ip >/dev/null || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
/usr/lib/ipsec/charon --version 2>/dev/null | head -1 || true

# The test's guards stop charon and delete its namespaces, also on failure.
# Only the root tests (interop::, attach::), one at a time: both use the
# same addresses and charon's private /run.
out=$(cargo test --locked --test ike -- --ignored --nocapture --test-threads=1 interop:: attach:: 2>&1) || {
    echo "$out" | tail -n 80
    exit 1
}
echo "$out" | grep -E "erdp (responder|initiator)|^rekey-|^dpd:|^attach:|test result"
# A run that filtered a test out, or skipped it, is a failure: both must
# have started (--nocapture puts their output before "ok") and both passed.
for test in interop::ike_interop_with_strongswan \
    attach::erdp_attach_with_an_ike_table_carries_charons_pings_rekeys_and_sees_charon_die; do
    echo "$out" | grep -q "^test $test \.\.\. " || {
        echo "55-ike-interop: $test did not run" >&2
        exit 1
    }
done
echo "$out" | grep -q "test result: ok. 2 passed; 0 failed; 0 ignored" || {
    echo "55-ike-interop: the 2 root tests did not both run and pass" >&2
    exit 1
}

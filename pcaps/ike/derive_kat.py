#!/usr/bin/env python3
"""Independent IKEv2 key derivation (RFC 7296 sections 2.13-2.17) with
Python's hmac/hashlib, for the known-answer values in src/ike/tests.rs.
Run: python3 pcaps/ike/derive_kat.py (prints the values to embed)."""
import hashlib
import hmac


def prf(h, key, data):
    return hmac.new(key, data, h).digest()


def prf_plus(h, key, seed, length):
    out, t, n = b"", b"", 1
    while len(out) < length:
        t = prf(h, key, t + seed + bytes([n]))
        out += t
        n += 1
    return out[:length]


def derive(name, h, encr_len, esp_len):
    ni = bytes(range(0x00, 0x20))
    nr = bytes(range(0x20, 0x40))
    gir = bytes(range(0x40, 0x80))
    spi_i = bytes.fromhex("0102030405060708")
    spi_r = bytes.fromhex("1112131415161718")
    plen = h().digest_size
    skeyseed = prf(h, ni + nr, gir)
    stream = prf_plus(h, skeyseed, ni + nr + spi_i + spi_r, 3 * plen + 2 * encr_len)
    sk_d = stream[:plen]
    sk_ei = stream[plen:plen + encr_len]
    sk_er = stream[plen + encr_len:plen + 2 * encr_len]
    sk_pi = stream[plen + 2 * encr_len:2 * plen + 2 * encr_len]
    sk_pr = stream[2 * plen + 2 * encr_len:]
    keymat = prf_plus(h, sk_d, ni + nr, 2 * esp_len)
    keymat_pfs = prf_plus(h, sk_d, gir + ni + nr, 2 * esp_len)
    psk = b"erdp test psk"
    id_body = bytes([2, 0, 0, 0]) + b"gw.example"
    message = b"IKE_SA_INIT request bytes"
    auth = prf(h, prf(h, psk, b"Key Pad for IKEv2"), message + nr + prf(h, sk_pi, id_body))
    print(f"// {name}")
    for label, value in [("SKEYSEED", skeyseed), ("SK_d", sk_d), ("SK_ei", sk_ei),
                         ("SK_er", sk_er), ("SK_pi", sk_pi), ("SK_pr", sk_pr),
                         ("KEYMAT", keymat), ("KEYMAT_PFS", keymat_pfs), ("AUTH", auth)]:
        print(f'{label} = "{value.hex()}"')


derive("HMAC-SHA-256, AES-256-GCM (36-byte SK_e), ESP AES-256-GCM", hashlib.sha256, 36, 36)
derive("HMAC-SHA-384, AES-128-GCM (20-byte SK_e), ESP AES-128-GCM", hashlib.sha384, 20, 20)


def sk_payload():
    """RFC 5282 AES-GCM over an SK payload, with the `cryptography` package."""
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        print("// cryptography not installed: SK payload vector skipped")
        return
    key_salt = bytes(range(0x80, 0x80 + 36))
    iv = bytes.fromhex("0000000000000001")
    aad = bytes.fromhex("01020304050607081112131415161718" "2e202308" "00000001")
    aad += (28 + 4 + 8 + 5 + 16).to_bytes(4, "big") + bytes([0x29, 0, 0, 4 + 8 + 5 + 16])
    plaintext = b"IDi.\x00"
    sealed = AESGCM(key_salt[:32]).encrypt(key_salt[32:] + iv, plaintext, aad)
    print(f'SK_AAD = "{aad.hex()}"')
    print(f'SK_SEALED = "{(iv + sealed).hex()}"')
    nat = hashlib.sha1(bytes.fromhex("0102030405060708") + bytes(8) + bytes([192, 0, 2, 1]) + (500).to_bytes(2, "big")).digest()
    print(f'NAT_D = "{nat.hex()}"')


sk_payload()

#!/usr/bin/env python3
"""One whole ESP packet with AES-CBC (RFC 3602) and HMAC-SHA2-256-128
(RFC 4868), built independently of erdp with Python's `cryptography` and
`hmac`, for tests/esp_cbc_vectors.rs. Prints the hex the test embeds.

The payload follows RFC 4303 section 2: inner packet, padding 1, 2, 3, ...
to the 16-byte block with the 2-byte trailer, pad length, next header 4;
the ICV is HMAC-SHA-256 over SPI || seq || IV || ciphertext, truncated to
16 bytes. Run: python3 pcaps/esp/make_cbc_vector.py
"""
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def ipv4_checksum(header):
    total = sum(struct.unpack("!%dH" % (len(header) // 2), header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def inner_packet():
    payload = bytes(range(37))
    udp = struct.pack("!HHHH", 1000, 2000, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 63, 17, 0,
                         bytes([10, 1, 0, 1]), bytes([10, 2, 0, 1]))
    header = header[:10] + struct.pack("!H", ipv4_checksum(header)) + header[12:]
    return header + udp


def esp(encryption_key, integrity_key, spi, seq, iv, inner):
    pad_len = (16 - (len(inner) + 2) % 16) % 16
    plaintext = inner + bytes(range(1, pad_len + 1)) + bytes([pad_len, 4])
    enc = Cipher(algorithms.AES(encryption_key), modes.CBC(iv)).encryptor()
    ciphertext = enc.update(plaintext) + enc.finalize()
    signed = struct.pack("!II", spi, seq) + iv + ciphertext
    icv = hmac.new(integrity_key, signed, hashlib.sha256).digest()[:16]
    return signed + icv


def main():
    for bits in (128, 256):
        encryption_key = bytes((0x40 + i) for i in range(bits // 8))
        integrity_key = bytes((0x80 + i) for i in range(32))
        iv = bytes((0xC0 + i) for i in range(16))
        packet = esp(encryption_key, integrity_key, 0x0000_4868, 7, iv, inner_packet())
        print("aes-%d-cbc-hmac-sha256" % bits)
        print("key   ", (encryption_key + integrity_key).hex())
        print("iv    ", iv.hex())
        print("inner ", inner_packet().hex())
        print("esp   ", packet.hex())


if __name__ == "__main__":
    main()

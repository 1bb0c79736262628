"""jwcrypto (PyPI, an independent JOSE implementation) run against phrkit's JWEs.

Usage:
  python3 jw.py decrypt KEY < jwe        -> plaintext on stdout
  python3 jw.py encrypt KEY CTY ZIP < plaintext  -> compact JWE (ZIP: true|false)
"""
import sys

from jwcrypto import jwe, jwk


def main() -> None:
    cmd, key = sys.argv[1], sys.argv[2]
    k = jwk.JWK(kty="oct", k=key)
    data = sys.stdin.buffer.read()
    if cmd == "decrypt":
        token = jwe.JWE()
        token.deserialize(data.decode().strip(), key=k)
        sys.stdout.buffer.write(token.payload)
    elif cmd == "encrypt":
        header = {"alg": "dir", "enc": "A256GCM", "cty": sys.argv[3]}
        if sys.argv[4] == "true":
            header["zip"] = "DEF"
        token = jwe.JWE(data, protected=header)
        token.add_recipient(k)
        sys.stdout.write(token.serialize(compact=True))
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()

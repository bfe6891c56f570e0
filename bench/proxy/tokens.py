"""The JWTs of the rampart-jwt and rampart-tokens targets: one ES256 key, a JWKS
holding it, and a pool of distinct valid tokens (one per line) for
bench/proxy/tokens.lua.

Needs python3-cryptography (scripts/install-deps installs it); imported only
when rampart-jwt or rampart-tokens is among the targets, so the other targets
stay stdlib-only.
"""

import base64
import json
import os
import time

ISSUER = "https://bench.test"
AUDIENCE = "bench"
POOL = 10000          # distinct tokens, every one valid
LIFETIME_S = 86400    # exp = now + 1 day: outlasts any run


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


class TokenPool:
    """Writes jwks.json and tokens.txt into `directory`."""

    def __init__(self, directory, count=POOL):
        # Imported here: a missing python3-cryptography only fails the token targets.
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        self.directory = directory
        self.count = count
        self.kid = "bench-" + os.urandom(4).hex()
        key = ec.generate_private_key(ec.SECP256R1())
        public = key.public_key().public_numbers()
        self.jwks_path = os.path.join(directory, "jwks.json")
        with open(self.jwks_path, "w") as f:
            json.dump({"keys": [{
                "kty": "EC", "crv": "P-256", "kid": self.kid, "alg": "ES256", "use": "sig",
                "x": b64url(public.x.to_bytes(32, "big")),
                "y": b64url(public.y.to_bytes(32, "big")),
            }]}, f)
            f.write("\n")

        now = int(time.time())
        self.expires_at = now + LIFETIME_S
        header = b64url(compact({"alg": "ES256", "typ": "JWT", "kid": self.kid}))
        algorithm = ec.ECDSA(hashes.SHA256())
        self.tokens = []
        for n in range(count):
            claims = b64url(compact({"iss": ISSUER, "aud": AUDIENCE, "sub": f"user-{n}",
                                     "iat": now, "exp": self.expires_at}))
            signing_input = f"{header}.{claims}".encode("ascii")
            # JWS wants the raw r||s (RFC 7518 3.4), not the DER that sign() returns.
            r, s = decode_dss_signature(key.sign(signing_input, algorithm))
            self.tokens.append(f"{header}.{claims}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}")
        if len(set(self.tokens)) != count:
            raise RuntimeError("token pool is not made of distinct tokens")
        self.tokens_path = os.path.join(directory, "tokens.txt")
        with open(self.tokens_path, "w") as f:
            f.write("\n".join(self.tokens) + "\n")

    def tampered(self):
        """A token with a valid shape whose signature does not verify."""
        head, sig = self.tokens[0].rsplit(".", 1)
        return f"{head}.{sig[:-4]}{'AAAA' if not sig.endswith('AAAA') else 'BBBB'}"

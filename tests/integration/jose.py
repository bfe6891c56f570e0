"""A small JWS signer for the tests: ES256, RS256 and HS256 tokens and the
JWKS that verifies them, built with python3-cryptography (Debian's)."""
import base64
import hashlib
import hmac
import json
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_bytes(value, length=None):
    length = length or (value.bit_length() + 7) // 8
    return value.to_bytes(length, "big")


class EcKey:
    """A P-256 key: signs ES256, publishes its JWK."""

    def __init__(self, kid):
        self.kid = kid
        self.key = ec.generate_private_key(ec.SECP256R1())

    def jwk(self):
        numbers = self.key.public_key().public_numbers()
        return {"kty": "EC", "crv": "P-256", "kid": self.kid, "alg": "ES256", "use": "sig",
                "x": b64url(_int_bytes(numbers.x, 32)), "y": b64url(_int_bytes(numbers.y, 32))}

    alg = "ES256"

    def sign(self, signing_input):
        r, s = decode_dss_signature(self.key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return _int_bytes(r, 32) + _int_bytes(s, 32)  # JWS wants raw r||s, not DER


class RsaKey:
    alg = "RS256"

    def __init__(self, kid):
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self):
        numbers = self.key.public_key().public_numbers()
        return {"kty": "RSA", "kid": self.kid, "alg": "RS256", "use": "sig",
                "n": b64url(_int_bytes(numbers.n)), "e": b64url(_int_bytes(numbers.e))}

    def sign(self, signing_input):
        return self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


class HmacKey:
    alg = "HS256"

    def __init__(self, kid, secret):
        self.kid = kid
        self.secret = secret

    def jwk(self):
        return {"kty": "oct", "kid": self.kid, "alg": "HS256", "k": b64url(self.secret)}

    def sign(self, signing_input):
        return hmac.new(self.secret, signing_input, hashlib.sha256).digest()


def jwks(*keys):
    return json.dumps({"keys": [k.jwk() for k in keys]})


def token(key, claims=None, header=None, issuer="https://id.test", audience="orders",
          subject="alice", lifetime=300, **extra):
    """A signed compact JWS. `header`/`claims` entries override the defaults."""
    now = int(time.time())
    body = {"iss": issuer, "aud": audience, "sub": subject, "iat": now, "exp": now + lifetime}
    body.update(extra)
    body.update(claims or {})
    body = {k: v for k, v in body.items() if v is not None}
    head = {"alg": key.alg, "typ": "JWT", "kid": key.kid}
    head.update(header or {})
    head = {k: v for k, v in head.items() if v is not None}
    signing_input = (b64url(json.dumps(head).encode()) + "." +
                     b64url(json.dumps(body).encode())).encode()
    return signing_input.decode() + "." + b64url(key.sign(signing_input))

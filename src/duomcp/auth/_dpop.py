"""DPoP (RFC 9449, as MCP's SEP-1932 uses it): a key pair per client and fresh proofs.

A :class:`DPoPKey` is an ES256 (P-256) key pair. Every token request and every request to
the MCP server carries a new proof: a JWT with ``typ: dpop+jwt`` and the public key in
its ``jwk`` header, naming the method (``htm``) and the URL without query or fragment
(``htu``), with a fresh ``jti``, the time (``iat``), the hash of the access token it
accompanies (``ath``) and the server's nonce once one is known. Signing needs the ``jwt``
extra (PyJWT with cryptography). The private key never appears in a repr or a log line;
it is kept with the tokens, so a restart keeps the tokens' binding.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from ._errors import DPoPError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

__all__ = ["DPOP_ALGORITHM", "DPoPKey", "DPoPMode", "access_token_hash", "htu"]

DPoPMode = Literal["auto", "require", "off"]
"""``"auto"``: DPoP when the authorization server advertises ES256 in
``dpop_signing_alg_values_supported``, else bearer tokens; ``"require"``: refuse an
authorization server that does not (and a bearer token from one that does); ``"off"``:
bearer tokens only."""

DPOP_ALGORITHM = "ES256"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def htu(url: str) -> str:
    """The ``htu`` of a request to ``url``: the URL without its query and fragment."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def access_token_hash(access_token: str) -> str:
    """The ``ath`` claim: base64url of the SHA-256 of the access token."""
    return _b64(hashlib.sha256(access_token.encode("ascii")).digest())


def _crypto() -> Any:
    try:
        import jwt
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise DPoPError("DPoP needs PyJWT with cryptography: pip install 'duomcp[jwt]'") from exc
    return jwt, ec


class DPoPKey:
    """An ES256 key pair that signs DPoP proofs."""

    def __init__(self, private_key: EllipticCurvePrivateKey) -> None:
        self._key = private_key
        numbers = private_key.public_key().public_numbers()
        self.public_jwk: dict[str, str] = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")),
        }
        """The public key as a JWK (the proofs' ``jwk`` header)."""

    def __repr__(self) -> str:
        return f"DPoPKey(thumbprint={self.thumbprint()!r})"

    @classmethod
    def generate(cls) -> DPoPKey:
        """A new P-256 key pair."""
        _, ec = _crypto()
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any]) -> DPoPKey:
        """The key pair of a private JWK made by :meth:`private_jwk`."""
        _, ec = _crypto()
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            raise DPoPError("a stored DPoP key is not a P-256 key")
        try:
            public = ec.EllipticCurvePublicNumbers(
                int.from_bytes(_unb64(jwk["x"]), "big"),
                int.from_bytes(_unb64(jwk["y"]), "big"),
                ec.SECP256R1(),
            )
            numbers = ec.EllipticCurvePrivateNumbers(
                int.from_bytes(_unb64(jwk["d"]), "big"), public
            )
            return cls(numbers.private_key())
        except (KeyError, TypeError, ValueError) as exc:
            raise DPoPError("a stored DPoP key is damaged") from exc

    def private_jwk(self) -> dict[str, str]:
        """The key pair as a private JWK, for the token storage only."""
        d = self._key.private_numbers().private_value.to_bytes(32, "big")
        return {**self.public_jwk, "d": _b64(d)}

    def thumbprint(self) -> str:
        """The RFC 7638 SHA-256 thumbprint of the public key (a token's ``cnf.jkt``)."""
        canonical = json.dumps(
            {k: self.public_jwk[k] for k in ("crv", "kty", "x", "y")},
            separators=(",", ":"),
            sort_keys=True,
        )
        return _b64(hashlib.sha256(canonical.encode()).digest())

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
    ) -> str:
        """A fresh proof for one request: ``ath`` when it carries ``access_token``."""
        jwt, _ = _crypto()
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(18),
            "htm": method.upper(),
            "htu": htu(url),
            "iat": int(time.time()),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        if nonce is not None:
            claims["nonce"] = nonce
        headers = {"typ": "dpop+jwt", "jwk": self.public_jwk}
        return str(jwt.encode(claims, self._key, algorithm=DPOP_ALGORITHM, headers=headers))

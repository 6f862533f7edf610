"""The authorization code flow with PKCE (S256): the one grant that involves a person.

oauthlib builds the PKCE values and the authorization URL; the authorization response is
checked (``state``, RFC 9207 ``iss``) before the code is exchanged. No code, verifier or
state is logged.
"""

from __future__ import annotations

import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from .._executors import INTERACTIONS
from ..errors import AuthError
from ._base import AuthChallenge
from ._errors import InvalidClientError, IssuerMismatchError
from ._registration import register
from ._tokenflow import use_dpop

if TYPE_CHECKING:
    from ._oauth import OAuth

__all__ = ["Interaction", "authorize_with_code", "interact"]

log = logging.getLogger("duomcp.auth")

Interaction = Callable[[str], "Awaitable[str] | str"]
"""Given the authorization URL, let the user sign in; return the redirect URL reached.

An async function, or a plain one (it runs in a worker thread, so it may block: a blocking
client's users write plain functions)."""


async def interact(interaction: Interaction, url: str) -> str:
    """Run the interaction: awaited if async, in a worker thread if it is a plain function."""
    if inspect.iscoroutinefunction(interaction) or inspect.iscoroutinefunction(
        getattr(interaction, "__call__", None)  # noqa: B004 (an object with async __call__)
    ):
        return await interaction(url)  # type: ignore[misc, no-any-return]
    result = await INTERACTIONS.run(interaction, url)
    if inspect.isawaitable(result):  # a plain function that returned a coroutine
        result = await result
    return str(result)


async def authorize_with_code(oauth: OAuth, challenge: AuthChallenge) -> None:
    """Sign the user in at the authorization server ``oauth`` discovers, then get tokens."""
    # imported here: most clients never authorize, and oauthlib costs ~20 ms to import
    from oauthlib.common import add_params_to_uri
    from oauthlib.oauth2 import WebApplicationClient

    # Discovered again for every sign-in: the resource may have moved to another
    # authorization server, whose registration is its own (SEP-2352).
    previous = oauth._discovery.issuer if oauth._discovery is not None else None
    found = await oauth._discover(challenge)
    use_dpop(oauth)  # dpop="require" refuses a server without DPoP before the user signs in
    if previous is not None and found.issuer != previous:
        log.info("authorization server changed from %s to %s", previous, found.issuer)
        oauth._client = None
        oauth._tokens = None
    if oauth._client is None:
        oauth._client = await oauth._load_client() or await register(
            oauth._http,
            found,
            storage=oauth._storage,
            redirect_uri=oauth._redirect_uri,
            client_name=oauth._client_name,
            preregistered=oauth._preregistered,
            client_metadata_url=oauth._client_metadata_url,
        )
    client = oauth._client
    pkce = WebApplicationClient(client.client_id)
    verifier = pkce.create_code_verifier(64)
    state = secrets.token_urlsafe(24)
    scope = oauth._scope(challenge)
    params = [
        ("response_type", "code"),
        ("client_id", client.client_id),
        ("redirect_uri", oauth._redirect_uri),
        ("state", state),
        ("code_challenge", pkce.create_code_challenge(verifier, "S256")),
        ("code_challenge_method", "S256"),
        ("resource", found.resource),
    ]
    if scope:
        params.append(("scope", scope))
    url = add_params_to_uri(found.authorization_endpoint, params)
    log.info("authorization needed for %s at %s", challenge.url, found.issuer)
    assert oauth._interaction is not None
    try:
        redirected = await interact(oauth._interaction, url)
    except AuthError:
        raise
    except Exception as exc:
        raise AuthError(f"the sign-in failed: {type(exc).__name__}: {exc}") from exc
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirected).query).items()}
    if query.get("state") != state:
        raise AuthError("the authorization response's state does not match: refused")
    if query.get("error") == "invalid_client":
        raise InvalidClientError("invalid_client", error="invalid_client")
    if "error" in query:
        raise AuthError(
            f"authorization failed: {query['error']} {query.get('error_description', '')}"
        )
    # RFC 9207: the issuer is compared exactly, without any URL normalization.
    if "iss" in query and query["iss"] != found.issuer_identifier:
        raise IssuerMismatchError("the authorization response names another issuer: refused")
    if "iss" not in query and found.iss_parameter_supported:
        raise IssuerMismatchError(
            "the authorization server promised an iss parameter (RFC 9207) and the "
            "authorization response has none: refused"
        )
    if "code" not in query:
        raise AuthError("the authorization response carries no code")
    await oauth._token_request(
        {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": oauth._redirect_uri,
            "code_verifier": verifier,
            "resource": found.resource,
        },
        requested_scope=scope,
    )

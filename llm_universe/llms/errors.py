"""Translate SDK and transport exceptions into the typed provider errors of `llm_universe.errors`."""

from __future__ import annotations

import httpx
import openai

from llm_universe import errors


def map_provider_error(error: Exception, target, received_text: bool = False) -> errors.ProviderError | None:
    """Return the typed error for an exception raised while calling `target`, or None if it is not a provider failure.

    `received_text` tells whether part of the answer had already streamed, which turns a transport
    failure into a cut stream instead of a connection error.
    """
    spec = target.spec
    common = {"provider": spec.display_name["en"], "base_url_variable": spec.base_url_variable or "-"}
    if isinstance(error, errors.ProviderStreamCut) or (
        received_text and isinstance(error, (openai.APIConnectionError, httpx.TransportError, openai.APIError))
    ):
        return errors.ProviderStreamCut(**common)
    if isinstance(error, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return errors.ProviderAuthError(status=error.status_code, variable=spec.key_variable or "-", **common)
    if isinstance(error, openai.NotFoundError):
        return errors.ProviderNotFound(model=target.model, **common)
    if isinstance(error, openai.RateLimitError):
        return errors.ProviderRateLimit(**common)
    if isinstance(error, (openai.APITimeoutError, httpx.TimeoutException)):
        return errors.ProviderTimeout(seconds=int(target.timeout), **common)
    if isinstance(error, (openai.APIConnectionError, httpx.TransportError)):
        return errors.ProviderConnectionError(base_url=target.base_url or "-", **common)
    if isinstance(error, openai.APIStatusError) and error.status_code >= 500:
        return errors.ProviderServerError(status=error.status_code, **common)
    if isinstance(error, (openai.APIResponseValidationError, openai.APIStatusError, ValueError, KeyError)):
        return errors.ProviderBadResponse(**common)
    return None

"""Typed errors: every failure a user can cause or meet carries a kind, a code, an HTTP status and a plain message."""

from __future__ import annotations


class KromaError(Exception):
    """Base of every expected failure; pages notify it, the API maps it, the CLI prints it on one line."""

    status: int = 400
    kind: str = 'validation'
    code: str = 'validation_error'

    def __init__(self, user_message: str, *, code: str | None = None, details: dict | None = None) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        if code:
            self.code = code
        self.details = details or {}

    def to_json(self) -> dict:
        return {'ok': False, 'error': self.user_message, 'error_kind': self.kind, 'error_code': self.code}


class Invalid(KromaError):
    """The input breaks a rule; the message names the rule."""

    status, kind, code = 422, 'validation', 'validation_error'


class NotFound(KromaError):
    status, kind, code = 404, 'validation', 'not_found'


class Conflict(KromaError):
    status, kind, code = 409, 'validation', 'conflict'


class Canceled(KromaError):
    """The work was canceled before it started; nothing was sent or spent."""

    status, kind, code = 409, 'validation', 'canceled'


class Unauthorized(KromaError):
    status, kind, code = 401, 'auth', 'unauthorized'


class Forbidden(KromaError):
    status, kind, code = 403, 'auth', 'forbidden'


class PolicyRefused(KromaError):
    """A spend guard, budget or batch limit said no."""

    status, kind, code = 400, 'policy', 'policy_refused'


class SecretError(KromaError):
    """The master key is missing or cannot decrypt a stored value."""

    status, kind, code = 500, 'secrets', 'secret_error'


class ProviderError(KromaError):
    """A provider call failed; subclasses say how, so retries and messages can differ."""

    status, kind, code = 502, 'provider', 'provider_error'
    retryable = False


class ProviderAuthError(ProviderError):
    status, code = 401, 'provider_auth'


class ProviderBadRequest(ProviderError):
    status, code = 400, 'provider_bad_request'


class ProviderRateLimited(ProviderError):
    status, code = 429, 'provider_rate_limited'
    retryable = True

    def __init__(self, user_message: str, *, retry_after: float | None = None, **kw) -> None:
        super().__init__(user_message, **kw)
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    status, code = 502, 'provider_unavailable'
    retryable = True

    def __init__(self, user_message: str, *, retry_after: float | None = None, **kw) -> None:
        super().__init__(user_message, **kw)
        self.retry_after = retry_after


class ProviderTimeout(ProviderError):
    status, code = 504, 'provider_timeout'
    retryable = True


class StorageError(KromaError):
    status, kind, code = 500, 'infra', 'storage_error'


class BackupFailed(KromaError):
    status, kind, code = 500, 'infra', 'backup_failed'

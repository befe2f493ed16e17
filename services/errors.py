"""Typed errors: every failure a user can cause or meet carries a kind, a code, an HTTP status and a plain message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo


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


# -- pydantic validation errors as one plain Invalid ------------------------------------------------------------

M = TypeVar('M', bound=BaseModel)
SHOWN_ERRORS = 5
PLAIN_RULES = {
    'int_parsing': 'must be a whole number',
    'int_type': 'must be a whole number',
    'int_from_float': 'must be a whole number',
    'float_parsing': 'must be a number',
    'float_type': 'must be a number',
    'finite_number': 'must be a finite number',
    'bool_parsing': 'must be true or false',
    'bool_type': 'must be true or false',
    'string_type': 'must be text',
    'list_type': 'must be a list',
    'dict_type': 'must be an object',
    'model_type': 'must be an object',
    'model_attributes_type': 'must be an object',
    'missing': 'required',
}


def parse(model: type[M], data: Any = None, /, *, where: str = '', code: str | None = None, **fields: Any) -> M:
    """Build an input model from what a user typed or sent; a broken rule becomes one Invalid naming the field.

    `where` goes before each label ('Panel 2 crop' → 'Panel 2 crop zoom: …') when the same model appears many times.
    """
    given = {**(data or {}), **fields} if data is None or isinstance(data, Mapping) else data
    try:
        return model.model_validate(given)
    except ValidationError as e:
        raise invalid_from(e, model, where=where, code=code) from None


def invalid_from(
    error: ValidationError, model: type[BaseModel] | None = None, *, where: str = '', code: str | None = None
) -> Invalid:
    errors = error.errors(include_url=False)
    details = {'field': _top(errors), 'errors': len(errors)}
    return Invalid(describe_errors(errors, model, where=where), code=code, details=details)


def describe_errors(
    errors: Sequence[Mapping[str, Any]], model: type[BaseModel] | None = None, *, where: str = ''
) -> str:
    """'Name: at most 200 characters (got 10,000).' per error, by the field's label (its title), first few only."""
    lines = [_describe(err, model, where) for err in errors[:SHOWN_ERRORS]]
    more = f' (and {len(errors) - SHOWN_ERRORS} more)' if len(errors) > SHOWN_ERRORS else ''
    return ' '.join(lines) + more


def _top(errors: Sequence[Mapping[str, Any]]) -> str:
    return str(errors[0]['loc'][0]) if errors and errors[0].get('loc') else ''


def _describe(err: Mapping[str, Any], model: type[BaseModel] | None, where: str) -> str:
    loc, kind = tuple(err.get('loc', ())), err.get('type', '')
    if kind == 'extra_forbidden' and loc:
        parent, _ = _walk(model, loc[:-1])
        known = sorted(parent.model_fields) if parent else []
        hint = f'; known fields: {", ".join(known)}' if known else ''
        owner = ' '.join(p for p in (where, _label(model, loc[:-1]) if loc[:-1] else '') if p)
        return f'{owner}: unknown field "{loc[-1]}"{hint}.' if owner else f'Unknown field "{loc[-1]}"{hint}.'
    rule = rule_of(err, model)
    label = ' '.join(p for p in (where, _label(model, loc) if loc else '') if p) or 'Input'
    return f'{label}: {rule.rstrip(".")}.'


def rule_of(err: Mapping[str, Any], model: type[BaseModel] | None = None) -> str:
    """One error's broken rule in plain words, without the field ('at most 200 characters (got 10,000)')."""
    _, info = _walk(model, tuple(err.get('loc', ())))
    rule = _rule(err.get('type', ''), err.get('ctx') or {}, err.get('input'), info)
    return (rule or str(err.get('msg', 'invalid')).removeprefix('Value error, ')).rstrip('.')


def _rule(kind: str, ctx: Mapping[str, Any], value: Any, info: FieldInfo | None) -> str:
    """The broken rule in plain words with the limit and what was given (never a text value: it may be a secret)."""
    if kind == 'string_too_long':
        return f'at most {ctx["max_length"]:,} characters (got {len(value):,})'
    if kind == 'string_too_short':
        return 'must not be empty' if ctx['min_length'] == 1 else f'at least {ctx["min_length"]:,} characters'
    if kind in ('too_long', 'too_short'):
        unit = 'items' if ctx.get('field_type') in ('List', 'Tuple', 'Set') else 'characters'
        word, limit = ('at most', ctx['max_length']) if kind == 'too_long' else ('at least', ctx['min_length'])
        return f'{word} {limit:,} {unit} (got {ctx.get("actual_length", 0):,})'
    if kind in ('greater_than_equal', 'less_than_equal', 'greater_than', 'less_than'):
        return _range(kind, ctx, value, info)
    if kind in ('literal_error', 'enum'):
        return f'must be one of {ctx.get("expected", "the listed values")}'
    if kind in PLAIN_RULES:
        return PLAIN_RULES[kind]
    return str(ctx.get('error') or '').rstrip('.')


def _range(kind: str, ctx: Mapping[str, Any], value: Any, info: FieldInfo | None) -> str:
    lo, hi, whole = _bounds(info)
    got = f' (got {_number(value)})' if isinstance(value, int | float) and not isinstance(value, bool) else ''
    number = 'a whole number' if whole else 'a number'
    if lo is not None and hi is not None:
        return f'must be {number} from {_number(lo)} to {_number(hi)}{got}'
    words = {'greater_than_equal': 'at least', 'less_than_equal': 'at most', 'greater_than': 'more than'}
    bound = next((v for k, v in ctx.items() if k in ('ge', 'le', 'gt', 'lt')), None)
    return f'{words.get(kind, "less than")} {_number(bound)}{got}' if bound is not None else ''


def _number(value: float) -> str:
    """1000000 → '1,000,000', 0.1 → '0.1'; a huge number stays short."""
    if abs(value) < 1e15 and float(value).is_integer():
        return f'{int(value):,}'
    try:
        return f'{float(value):.6g}'
    except OverflowError:
        return 'a number too large to show'


def _bounds(info: FieldInfo | None) -> tuple[float | None, float | None, bool]:
    """A field's inclusive range and whether it is whole numbers, found in its metadata at any depth."""
    lo = hi = None
    whole = False
    stack: list[Any] = [*(info.metadata if info else ()), info.annotation if info else None]
    while stack:
        item = stack.pop()
        if isinstance(item, FieldInfo):
            stack += [*item.metadata, item.annotation]
        elif item is int:
            whole = True
        elif hasattr(item, 'ge') or hasattr(item, 'le'):  # annotated_types' Ge, Le or Interval
            ge, le = getattr(item, 'ge', None), getattr(item, 'le', None)
            lo, hi = lo if ge is None else ge, hi if le is None else le
        else:
            stack += list(get_args(item))
    return lo, hi, whole


def _walk(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The field at loc, and the model its value is (None for plain values)."""
    current, info = model, None
    for part in loc:
        if not isinstance(part, int):
            info = current.model_fields.get(part) if current else None
            current = _submodel(info.annotation) if info else None
    return current, info


def _submodel(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for m in map(_submodel, get_args(annotation)) if m is not None), None)


def _label(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> str:
    """'Continuity › Time', 'Palette item 2': each part by its title where the model gives one."""
    parts: list[str] = []
    current = model
    for part in loc:
        if isinstance(part, int):
            parts[-1:] = [f'{parts[-1]} item {part + 1}' if parts else f'Item {part + 1}']
            continue
        info = current.model_fields.get(part) if current else None
        parts.append(info.title if info and info.title else str(part))
        current = _submodel(info.annotation) if info else None
    return ' › '.join(parts)

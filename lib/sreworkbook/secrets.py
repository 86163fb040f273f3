"""Secret references (``${ENV_VAR}``): resolution at use, URI masking and output scrubbing.

Parameter files never hold a secret, only a reference to an environment variable. A reference
is resolved at the moment a connection is made and the value stays in memory: what is shown,
stored or logged is the masked form, and the run pipeline scrubs every output file for the
resolved values as a second line of defence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sreworkbook.exceptions import SecretError

__all__ = ["MASK", "Scrubber", "mask_text", "mask_uri", "references", "resolve"]

MASK = "***"
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_QUERY_KEYS = {"password", "pass", "pwd", "token", "secret", "apikey", "api_key", "key"}
_URI_IN_TEXT = re.compile(r"\b([a-z][a-z0-9+.-]*://)([^/\s:@]*):([^@\s/]+)@", re.IGNORECASE)


def references(value: str) -> list[str]:
    """The environment variable names that ``value`` refers to, in order."""
    return _REF.findall(value)


def resolve(value: str, environ: Mapping[str, str], *, key: str | None = None) -> str:
    """``value`` with every ``${NAME}`` replaced from ``environ``; a missing name raises."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise SecretError(name, key=key)
        return environ[name]

    return _REF.sub(substitute, value)


def mask_uri(uri: str) -> str:
    """``uri`` safe to show: the password in its user-info and secret query values masked.

    References are left as they are (a reference is not a secret)::

        >>> mask_uri("mongodb://app:s3cret@db:27017/tradeai?authSource=admin")
        'mongodb://app:***@db:27017/tradeai?authSource=admin'
    """
    if _REF.fullmatch(uri.strip()):
        return uri
    try:
        parts = urlsplit(uri)
    except ValueError:
        return mask_text(uri)
    if not parts.scheme or not parts.netloc:
        return mask_text(uri)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostinfo}" if sep else f"{user}@{hostinfo}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_text(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` inside it masked."""
    return _URI_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}:{MASK}@", text)


class Scrubber:
    """Removes known secret values from text: the run pipeline's last line of defence."""

    def __init__(self, values: Iterable[str], *, min_length: int = 4) -> None:
        found = {v for v in values if v and len(v) >= min_length}
        # Longest first, so a value containing another is replaced whole.
        self._values = sorted(found, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._values)

    def scrub(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return mask_text(text)

    @classmethod
    def from_references(cls, refs: Iterable[str], environ: Mapping[str, str]) -> Scrubber:
        """A scrubber for the values of the named variables, and of any URI passwords in them."""
        values: list[str] = []
        for name in refs:
            value = environ.get(name)
            if not value:
                continue
            values.append(value)
            try:
                parts = urlsplit(value)
                if parts.password:
                    values.append(parts.password)
            except ValueError:
                pass
        return cls(values)

"""Find literal secrets in a parameter file before it is put into a Kubernetes ConfigMap.

A parameter file should hold ``${NAME}`` references only. Two things count as a literal
secret: a URI with a password that is not a reference (``mongodb://app:s3cret@db``), and a
secret-named key (``password``, ``token``, ``api_key``, ``Authorization``, ...) whose value
holds no reference. The sandbox's own file (one with a ``sandbox:`` section, loopback only)
may name its fake keys literally; URI passwords are refused everywhere.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from sreworkbook.exceptions import ParameterError
from sreworkbook.secrets import references

__all__ = ["literal_secrets"]

_SECRET_NAME = re.compile(
    r"password|passwd|token|secret|api_?key|app_?key|authorization|routing_key|webhook_url",
    re.IGNORECASE,
)
_URI_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:([^@\s/]+)@", re.IGNORECASE)


def _literal_uri_password(text: str) -> bool:
    return any(not references(m.group(1)) for m in _URI_PASSWORD.finditer(text))


def _walk(node: Any, path: str, found: list[str], *, named_ok: bool) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if (
                not named_ok
                and isinstance(value, str)
                and _SECRET_NAME.search(str(key))
                and value.strip()
                and not references(value)
            ):
                found.append(where)
                continue
            _walk(value, where, found, named_ok=named_ok)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk(value, f"{path}.{i}", found, named_ok=named_ok)
    elif isinstance(node, str) and _literal_uri_password(node):
        found.append(path)


def literal_secrets(text: str, *, source: str) -> list[str]:
    """The dotted keys of ``text`` (a YAML parameter file) that hold a literal secret."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParameterError(f"not valid YAML: {exc}", source=source) from None
    found: list[str] = []
    sandbox = isinstance(doc, dict) and "sandbox" in doc
    _walk(doc, "", found, named_ok=sandbox)
    return found

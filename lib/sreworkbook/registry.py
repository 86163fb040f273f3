"""Named things the workbook chooses between (notification channels, metrics stores).

A :class:`Registry` is an explicit object, built by a function (never filled at import), whose
failed :meth:`~Registry.get` lists the names it knows.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from sreworkbook.exceptions import ParameterError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name, in the order they were registered."""

    def __init__(self, what: str, *, key: str) -> None:
        self.what = what  # "notification channel", "metrics source": for messages
        self.key = key  # the parameter that names an entry
        self._entries: dict[str, T] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def register(self, name: str, entry: T) -> None:
        self._entries[name] = entry

    def get(self, name: str, *, source: str | None = None) -> T:
        """The entry ``name``; an unknown one is a ``ParameterError`` listing the known."""
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise ParameterError(
                f"unknown {self.what} {name!r}, did you mean one of: {known}",
                source=source,
                key=self.key,
            ) from None

"""Registries keyed by the YAML ``kind:`` string (one per kind of thing: intervention, metric, ...)."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from audit.errors import did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object map; a miss lists the known names and a did-you-mean."""

    def __init__(self, what: str):
        self.what = what
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.what} '{name}' registered twice")
            self._items[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            hint = did_you_mean(name, self.names())
            raise KeyError(f"unknown {self.what} '{name}'; known: {', '.join(self.names())}"
                           + (f" ({hint})" if hint else "")) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())

    def __contains__(self, name: str) -> bool:
        return name in self._items

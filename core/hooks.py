"""Explicit extension points: how a lower layer lets a higher one act.

The apps are layered (docs/architecture.md, enforced by import-linter): a
lower app never imports a higher one. Where a lower app needs a higher one
to act (the live session ended, so a recording is closed; the course page
lists past sessions, so their replays are linked), the lower app declares a
`Hook` in its own `hooks.py` and calls it; the higher app registers a
function on it in its `AppConfig.ready()`.

Hooks are plain lists of functions, called synchronously in registration
order (which is INSTALLED_APPS order), inside the caller's transaction, with
keyword arguments only. They are not Django signals: every hook is declared
in one named place, and `grep -rn "<hook name>.register"` finds every
participant. A hook is not a message bus; use it for the few places where a
lower layer's flow must continue in a higher layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Hook:
    """A named list of functions the declaring layer calls."""

    def __init__(self, name: str, doc: str = "") -> None:
        self.name = name
        self.__doc__ = doc
        self._functions: list[Callable[..., Any]] = []

    def register(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """Add `function` (once: registering again is a no-op, so a repeated
        `ready()` does not run it twice). Usable as a decorator."""
        if function not in self._functions:
            self._functions.append(function)
        return function

    def unregister(self, function: Callable[..., Any]) -> None:
        if function in self._functions:
            self._functions.remove(function)

    @property
    def functions(self) -> tuple[Callable[..., Any], ...]:
        return tuple(self._functions)

    def __call__(self, **kwargs: Any) -> list[Any]:
        """Call every registered function with `kwargs`; their results in order."""
        return [function(**kwargs) for function in self._functions]

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._functions)} registered>"

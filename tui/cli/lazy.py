"""The `aftercare` command group, which loads a command's module only when it is used.

Typer turns every registered command into a Click command before the first
argument is read, so a group that registered all of them would import every
command module (and the enums their options name) to run one. Here the group
knows each command by name and by the module under tui/cli/ that registers
it; `aftercare triage` imports `tui.cli.triage` only, while `--help`, which
lists every command with its first line, still loads them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import typer
import typer.main

# `_click` is Typer's own copy of Click; Typer builds every command and group from it.
from typer._click import Command, Context
from typer.core import TyperGroup


class LazyCommands(MutableMapping[str, Command]):
    """The group's commands by name, in the order `--help` lists them.

    A command defined in the group's own module is there from the start;
    one from another module (`modules`) is built the first time it is asked
    for, on a holder app that mirrors the settings of the real one.
    """

    def __init__(
        self,
        built: Mapping[str, Command],
        modules: Mapping[str, str | None],
        settings: Mapping[str, Any],
    ) -> None:
        self._built = dict(built)
        self._modules = dict(modules)
        self._settings = dict(settings)

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            module = self._modules.get(name)
            if module is None:
                raise KeyError(name)
            self._load(module)
        return self._built[name]

    def _load(self, module: str) -> None:
        """Build every command `module` registers (one module may add several)."""
        holder = typer.Typer(**self._settings)

        @holder.callback()
        def _group() -> None:
            """Only there so the holder becomes a group, whatever the module adds."""

        importlib.import_module(f"tui.cli.{module}").register(holder)
        for name, command in typer.main.get_group(holder).commands.items():
            self._built.setdefault(name, command)

    def __setitem__(self, name: str, command: Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._built.pop(name, None)
        self._modules.pop(name, None)

    def _names(self) -> list[str]:
        # The declared order first; anything registered directly on the app after it.
        names = [name for name in self._modules if name in self._built or self._modules[name]]
        return names + [name for name in self._built if name not in self._modules]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name: object) -> bool:
        # Answered from the names alone: asking must not load a module.
        return isinstance(name, str) and (name in self._built or bool(self._modules.get(name)))


def lazy_group(modules: Mapping[str, str | None], **settings: Any) -> type[TyperGroup]:
    """A TyperGroup class whose commands come from `modules`: command name -> the
    module under tui/cli/ whose `register(app)` adds it, or None for a command the
    app itself defines. `settings` are the app's own Typer settings that shape its
    commands (rich_markup_mode, pretty_exceptions_short, ...), given to each holder."""

    class LazyGroup(TyperGroup):
        def __init__(self, *, commands: Any = None, **attrs: Any) -> None:
            super().__init__(commands=None, **attrs)
            self.commands = LazyCommands(dict(commands or {}), modules, settings)

        def list_commands(self, ctx: Context) -> list[str]:
            # The names only; TyperGroup's own version would build every command.
            return list(self.commands)

    return LazyGroup

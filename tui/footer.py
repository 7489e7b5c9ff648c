"""The footer of the workstation's screens: the keys of the screen, the screens a key
opens, and help and quit, which never fall off.

Textual's footer lists the keys in the order it meets them and cuts what does not
fit, so at 80 columns `? Help` and `q Quit` were the first to go. This one decides
what fits before it draws: help, quit and back always; then the keys that open
another screen (alerts, incident log, on-call), so a newcomer finds every screen;
then the screen's own keys, in the order the screen lists them, as many as fit.
Drawn left to right: the screen's keys, the screens, help and quit last. Whatever
is left out is on the help screen (`?`) and in the palette (ctrl+p).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

PINNED_ACTIONS = frozenset({"help", "app.quit", "quit", "back"})
"""Never left out: how to find every other key, and how to leave."""


class Shown(NamedTuple):
    """One key the footer may show."""

    binding: Binding
    key_display: str
    """The key as drawn ("?", "^s", "esc")."""
    enabled: bool
    tooltip: str

    @property
    def width(self) -> int:
        """Cells taken in the compact footer: "key description" and one blank after."""
        return cell_len(self.key_display) + 1 + cell_len(self.binding.description) + 1


def opens_a_screen(binding: Binding) -> bool:
    """The app's own keys (`app.` ids) each open one of the workstation's screens."""
    return (binding.id or "").startswith("app.")


def fitting(shown: list[Shown], room: int) -> list[Shown]:
    """The keys to draw in `room` cells: the pinned ones, then the screens, then the
    screen's own keys in order while they fit; drawn in the screen's order, the
    screens and the pinned keys last."""
    pinned = [s for s in shown if s.binding.action in PINNED_ACTIONS]
    screens = [s for s in shown if s not in pinned and opens_a_screen(s.binding)]
    own = [s for s in shown if s not in pinned and s not in screens]
    chosen: list[Shown] = []
    left = room - sum(s.width for s in pinned)
    for item in (*screens, *own):
        if item.width <= left:
            chosen.append(item)
            left -= item.width
    return [s for s in (*own, *screens) if s in chosen] + pinned


class ClinicFooter(Footer):
    """A compact footer that keeps help and quit, and the screens, at any width."""

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._drawn_width = 0

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        by_action: dict[str, Shown] = {}
        for _, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in by_action:
                # One entry per action, as Textual's footer does (the first key shown).
                display = self.app.get_key_display(binding)
                by_action[binding.action] = Shown(binding, display, enabled, tooltip)
        palette = self._palette(active)
        width = self.app.size.width
        self._drawn_width = width
        room = width - (_palette_width(palette) if palette is not None else 0)
        for item in fitting(list(by_action.values()), room):
            binding = item.binding
            yield FooterKey(
                binding.key,
                item.key_display,
                binding.description,
                binding.action,
                disabled=not item.enabled,
                tooltip=item.tooltip,
            )  # compact by its own default: a `data_bind` to the footer (as Textual's
            # footer does) is never undone, so every redraw of the keys, at every screen
            # change, left the old keys alive (26 widgets a patient screen opened)
        if palette is not None:
            yield palette

    def _palette(self, active: dict[str, ActiveBinding]) -> FooterKey | None:
        if not (self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE):
            return None
        found = active.get(self.app.COMMAND_PALETTE_BINDING)
        if found is None:
            return None
        _, binding, enabled, _ = found
        return FooterKey(
            binding.key,
            self.app.get_key_display(binding),
            binding.description,
            binding.action,
            classes="-command-palette",
            disabled=not enabled,
            tooltip=binding.tooltip or binding.description,
        )

    def on_resize(self, event: events.Resize) -> None:
        """Another width may fit more keys, or fewer."""
        if event.size.width != self._drawn_width and self._bindings_ready:
            self.call_after_refresh(self.recompose)


def _palette_width(palette: FooterKey) -> int:
    # "▏^p palette": the border, the key, a blank, the description.
    return 1 + cell_len(palette.key_display) + 1 + cell_len(palette.description)


def shown_keys(footer: Footer) -> Iterator[str]:
    """The keys a footer draws, as a person reads them (tests read it)."""
    for key in footer.query(FooterKey):
        yield key.key_display

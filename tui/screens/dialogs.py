"""Modal dialogs: confirm a destructive action, show a secret once, small forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

T = TypeVar("T")

DIALOG_CSS = """
.dialog {
    width: 72;
    height: auto;
    max-height: 90%;
    border: thick $primary;
    background: $surface;
    padding: 1 2;
}
.dialog .title { text-style: bold; margin-bottom: 1; }
.dialog .buttons { height: auto; margin-top: 1; align-horizontal: right; }
.dialog Button { margin-left: 2; }
.dialog Input { margin-bottom: 1; }
.dialog .secret {
    border: round $success;
    padding: 0 1;
    margin: 1 0;
    text-style: bold;
    color: $success;
}
.dialog .error { color: $error; height: auto; }
"""


class ConfirmDialog(ModalScreen[bool]):
    DEFAULT_CSS = "ConfirmDialog { align: center middle; }" + DIALOG_CSS
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, message: str, confirm_label: str = "Yes") -> None:
        super().__init__()
        self._title = title
        self._message = message
        self._confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="title")
            yield Static(self._message)
            with Horizontal(classes="buttons"):
                yield Button("Cancel (n)", id="no")
                yield Button(f"{self._confirm_label} (y)", id="yes", variant="error")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class SecretDialog(ModalScreen[None]):
    """A secret the control plane keeps only as a hash: this is the one chance to copy it."""

    DEFAULT_CSS = "SecretDialog { align: center middle; }" + DIALOG_CSS
    BINDINGS = [
        Binding("escape,enter", "close", "Close"),
        Binding("c", "copy", "Copy"),
    ]

    def __init__(self, title: str, secret: str, note: str) -> None:
        super().__init__()
        self._title = title
        self.secret = secret
        self._note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="title")
            yield Static(self._note)
            yield Static(self.secret, classes="secret", id="secret")
            yield Static("It will not be shown again. (c) copies it to the clipboard.")
            with Horizontal(classes="buttons"):
                yield Button("Copy (c)", id="copy")
                yield Button("Done", id="done", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#done", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "copy":
            self.action_copy()
        else:
            self.dismiss(None)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.secret)
        self.notify("Copied to the clipboard")

    def action_close(self) -> None:
        self.dismiss(None)


class _Form(ModalScreen[T]):
    """A dialog of inputs: Enter or the primary button submits, Escape or Cancel dismisses.

    Subclasses compose their fields (the first `Input` gets the focus) and `_submit`.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
        else:
            self._submit()

    def _submit(self) -> None:
        raise NotImplementedError

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True, slots=True)
class ChannelRequest:
    name: str
    title: str
    category: str


class ChannelForm(_Form[ChannelRequest | None]):
    DEFAULT_CSS = "ChannelForm { align: center middle; }" + DIALOG_CSS

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Create a channel", classes="title")
            yield Input(placeholder="name (a-z, 0-9, -)", id="name")
            yield Input(placeholder="title", id="title")
            yield Input(placeholder="category", id="category")
            yield Static("", classes="error", id="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Create", id="create", variant="primary")

    def _submit(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        if not name:
            self.query_one("#error", Static).update("A channel needs a name.")
            return
        self.dismiss(
            ChannelRequest(
                name,
                self.query_one("#title", Input).value.strip(),
                self.query_one("#category", Input).value.strip(),
            )
        )


class ChannelPrompt(_Form[str | None]):
    """Ask which channel an action is for, prefilled with the likely one."""

    DEFAULT_CSS = "ChannelPrompt { align: center middle; }" + DIALOG_CSS

    def __init__(self, title: str, suggestion: str = "") -> None:
        super().__init__()
        self._title = title
        self._suggestion = suggestion

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="title")
            yield Input(value=self._suggestion, placeholder="channel name", id="channel")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("OK", id="ok", variant="primary")

    def _submit(self) -> None:
        value = self.query_one("#channel", Input).value.strip()
        self.dismiss(value or None)


@dataclass(frozen=True, slots=True)
class TokenRequest:
    node_name: str | None
    ttl_seconds: int | None
    manual_approval: bool


class TokenForm(_Form[TokenRequest | None]):
    DEFAULT_CSS = "TokenForm { align: center middle; }" + DIALOG_CSS

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Create an enrollment token", classes="title")
            yield Input(placeholder="node name (optional: any name)", id="node")
            yield Input(placeholder="valid for, seconds (default: the control plane's)", id="ttl")
            yield Checkbox("Require manual approval", id="manual")
            yield Static("", classes="error", id="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Create", id="create", variant="primary")

    def _submit(self) -> None:
        ttl_text = self.query_one("#ttl", Input).value.strip()
        ttl: int | None = None
        if ttl_text:
            if not ttl_text.isdigit() or int(ttl_text) <= 0:
                self.query_one("#error", Static).update("Validity must be a whole number > 0.")
                return
            ttl = int(ttl_text)
        node = self.query_one("#node", Input).value.strip() or None
        manual = self.query_one("#manual", Checkbox).value
        self.dismiss(TokenRequest(node, ttl, manual))

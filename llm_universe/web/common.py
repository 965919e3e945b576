"""Helpers shared by the web UI's panels: the per-visitor browser state, session ids and toasts."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import gradio as gr

from llm_universe.i18n import translate

SESSION_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class PageState:
    """Per-visitor values kept in the visitor's localStorage, plus the language switch that sets one of them.

    `session` is a random id that owns the visitor's conversations and background jobs, `language`
    the UI language, `current` {"id": open conversation id or None}, `selected` the knowledge bases
    picked for chat, `model` {"provider", "model", "temperature"} of the model settings (never the
    API key).
    """

    session: gr.BrowserState
    language: gr.BrowserState
    current: gr.BrowserState
    selected: gr.BrowserState
    model: gr.BrowserState
    language_radio: gr.Radio


def valid_session(session_id: object) -> bool:
    """Return whether `session_id` has the form `new_session_id` creates."""
    return isinstance(session_id, str) and bool(SESSION_ID_PATTERN.match(session_id))


def new_session_id() -> str:
    """Return a random browser-session id (128 bits, hex). Anyone who has it can read its conversations."""
    return secrets.token_hex(16)


def label_updates(components: dict[str, object], properties: dict[str, dict]) -> dict:
    """Turn {attribute name: properties} into {component: gr.update} for an event's return value."""
    return {components[name]: gr.update(**values) for name, values in properties.items()}


def merge_updates(updates: dict, extra: dict) -> dict:
    """Add `extra` {component: update} into `updates`, combining two gr.update dicts of one component."""
    for component, update in extra.items():
        previous = updates.get(component)
        if isinstance(previous, dict) and isinstance(update, dict):
            update = {**previous, **update}
        updates[component] = update
    return updates


def unique(components: list) -> list:
    """Return `components` without repeats, in order (Gradio rejects an output listed twice)."""
    return list(dict.fromkeys(components))


def warn(message: str, lang: str) -> None:
    """Show a warning toast."""
    gr.Warning(message, title=translate("ui.toast_warning", lang))


def info(message: str, lang: str) -> None:
    """Show an information toast."""
    gr.Info(message, title=translate("ui.toast_info", lang))

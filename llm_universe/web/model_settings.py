"""The model settings of the Chat tab: provider, model, temperature, a per-session API key and a connection test.

The API key typed here is an input of the events that need it and nothing more: no handler returns
it, stores it or logs it, and `Blocks.run_history` is off so Gradio does not copy it into
localStorage. A reload empties the field.
"""

from __future__ import annotations

import logging

import gradio as gr

from llm_universe.config import Settings
from llm_universe.doctor import provider_state
from llm_universe.embeddings.registry import EMBEDDING_PROVIDERS
from llm_universe.errors import LLMUniverseError
from llm_universe.i18n import normalize_language, translate
from llm_universe.llms.connection import check_connection, check_embeddings, list_models
from llm_universe.llms.registry import PROVIDERS, ProviderSpec, get_provider, resolve_target
from llm_universe.web.common import label_updates

logger = logging.getLogger(__name__)

# Choice value of the provider dropdown that means "use the provider configured in .env / environment".
DEFAULT_PROVIDER = "default"
WORKING_STATES = {"ok", "configured"}
MAX_MODEL_CHARS = 200


class ModelSettingsPanel:
    """The answering-model line and the model settings accordion, with their event handlers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # Layout ------------------------------------------------------------------------------------

    def build(self, lang: str) -> None:
        """Create the components inside the current Blocks context, labelled in `lang`."""
        labels = self.label_properties(lang)
        self.status = gr.Markdown(self.status_text(None, None, None, None, lang), elem_id="lu-model-status")
        with gr.Accordion(open=False, elem_id="lu-model-settings", **labels["accordion"]) as self.accordion:
            with gr.Row():
                self.provider = gr.Dropdown(value=DEFAULT_PROVIDER, elem_id="lu-provider", **labels["provider"])
                self.model = gr.Dropdown(self.model_choices(None, None, lang, fetch=False)[0], value=None,
                                         allow_custom_value=True, elem_id="lu-model", **labels["model"])
            self.provider_help = gr.Markdown(self.provider_help_text(None, None, None, lang),
                                             elem_id="lu-provider-help")
            with gr.Row():
                self.temperature = gr.Slider(0.0, 2.0, value=self.settings.temperature, step=0.1,
                                             elem_id="lu-temperature", **labels["temperature"])
                self.api_key = gr.Textbox(type="password", elem_id="lu-api-key", **labels["api_key"])
            with gr.Row(equal_height=True):
                self.test = gr.Button(elem_id="lu-test-connection", scale=0, min_width=140, **labels["test"])
                self.test_result = gr.Markdown(elem_id="lu-test-result")

    @property
    def inputs(self) -> list:
        """The components whose values choose the answering model, in the order the handlers take them."""
        return [self.provider, self.model, self.temperature, self.api_key]

    def label_properties(self, lang: str) -> dict[str, dict]:
        """Return {attribute name: properties} for every translated label and text of the panel."""
        t = lambda key, **params: translate(key, lang, **params)  # noqa: E731 - local shorthand
        return {
            "accordion": {"label": t("ui.model_settings")},
            "provider": {"label": t("ui.provider"), "choices": self.provider_choices(lang)},
            "model": {"label": t("ui.model"), "info": t("ui.model_info")},
            "temperature": {"label": t("ui.temperature"), "info": t("ui.temperature_info")},
            "api_key": {"label": t("ui.api_key"), "info": t("ui.api_key_info"),
                        "placeholder": t("ui.api_key_placeholder")},
            "test": {"value": t("ui.test_connection")},
        }

    def page_updates(self, choice: dict | None, api_key: str | None, lang: str, restore: bool) -> dict:
        """Return the panel's updates for a page load (`restore`) or a language switch.

        `choice` is {"provider", "model", "temperature"}: on a page load the values the visitor chose
        last time (from BrowserState, checked here), on a language switch the current field values.
        """
        choice = self.checked_choice(choice)
        provider, model, temperature = choice["provider"], choice["model"], choice["temperature"]
        properties = self.label_properties(lang)
        properties["provider"]["value"] = provider
        properties["status"] = {"value": self.status_text(provider, model, temperature, api_key, lang)}
        properties["provider_help"] = {"value": self.provider_help_text(provider, model, api_key, lang)}
        if restore:
            names = self.model_choices(provider, None, lang, fetch=False)[0]
            if model and model not in names:
                names.append(model)
            properties["model"].update(choices=names, value=model)
            properties["temperature"]["value"] = temperature
        return label_updates(vars(self), properties)

    def checked_choice(self, choice: dict | None) -> dict:
        """Return {"provider", "model", "temperature"} with unknown or out-of-range values replaced by defaults."""
        choice = choice if isinstance(choice, dict) else {}
        provider = choice.get("provider")
        offered = {value for _, value in self.provider_choices("en")}
        model = choice.get("model")
        model = _clean(model[:MAX_MODEL_CHARS]) if isinstance(model, str) else None
        temperature = choice.get("temperature")
        if not isinstance(temperature, (int, float)) or not 0.0 <= temperature <= 2.0:
            temperature = self.settings.temperature
        return {"provider": provider if provider in offered else DEFAULT_PROVIDER, "model": model,
                "temperature": float(temperature)}

    @property
    def page_outputs(self) -> list:
        """Every component `page_updates` can update."""
        return [self.accordion, self.provider, self.model, self.temperature, self.api_key, self.test,
                self.status, self.provider_help]

    # Events ------------------------------------------------------------------------------------

    def wire(self, language_radio: gr.Radio, remembered: gr.BrowserState) -> None:
        """Attach the event listeners; `remembered` keeps provider, model and temperature across reloads."""
        self.provider.input(
            self.on_provider, inputs=[self.provider, self.temperature, self.api_key, language_radio],
            outputs=[self.model, self.provider_help, self.status, self.test_result, remembered],
            api_visibility="private", show_progress="hidden",
        )
        gr.on(
            [self.model.change, self.temperature.change, self.api_key.blur], self.on_model_settings,
            inputs=[*self.inputs, language_radio], outputs=[self.status, self.provider_help, remembered],
            api_visibility="private", show_progress="hidden",
        )
        self.test.click(
            self.on_test, inputs=[self.provider, self.model, self.api_key, language_radio], outputs=[self.test_result],
            api_visibility="private", show_progress_on=[self.test_result],
        )

    def on_provider(self, provider: str, temperature: float, api_key: str, lang: str) -> tuple:
        """Offer the chosen provider's models, explain how it is configured and show who answers now."""
        lang = normalize_language(lang)
        choices, note = self.model_choices(provider, api_key, lang)
        help_text = self.provider_help_text(provider, None, api_key, lang)
        status = self.status_text(provider, None, temperature, api_key, lang)
        remembered = {"provider": provider, "model": None, "temperature": temperature}
        # The note goes beside the test button: the help text is redrawn when the model changes.
        return gr.update(choices=choices, value=None), help_text, status, note or "", remembered

    def on_model_settings(self, provider: str, model: str, temperature: float, api_key: str, lang: str) -> tuple:
        """Show which provider and model will answer with the current settings, and remember them (not the key)."""
        lang = normalize_language(lang)
        remembered = {"provider": provider, "model": _clean(model), "temperature": temperature}
        return (self.status_text(provider, model, temperature, api_key, lang),
                self.provider_help_text(provider, model, api_key, lang), remembered)

    def on_test(self, provider: str, model: str, api_key: str, lang: str) -> str:
        """Send a one-token chat (and embed one string when the embeddings use a remote service); report the outcome."""
        lang = normalize_language(lang)
        spec = self._spec(provider)
        report = check_connection(self.settings, provider=spec.id, model=_model_override(spec, model),
                                  api_key=_clean(api_key))
        lines = [("✅ " if report.ok else "❌ ") + report.message(lang)]
        embedding_spec = EMBEDDING_PROVIDERS.get(self.settings.embedding_provider)
        if embedding_spec is not None and embedding_spec.key_variable is not None:
            embedding = check_embeddings(self.settings)
            lines.append(("✅ " if embedding.ok else "❌ ") + embedding.message(lang))
        return "\n\n".join(lines)

    # Texts -------------------------------------------------------------------------------------

    def provider_choices(self, lang: str) -> list[tuple[str, str]]:
        """Return (label, value) pairs; providers that are not set up say so in their label."""
        configured = self.settings.resolved_llm_provider
        default_name = PROVIDERS[configured].display_name[lang] if configured in PROVIDERS else configured
        choices = [(translate("ui.provider_default", lang, name=default_name), DEFAULT_PROVIDER)]
        for spec in PROVIDERS.values():
            # Hidden providers (the test model) are offered only when they are the configured one.
            if spec.hidden and spec.id != configured:
                continue
            state = provider_state(self.settings, spec, check_network=False, lang=lang)["state"]
            label = spec.display_name[lang]
            if state not in WORKING_STATES:
                label = translate("ui.provider_unavailable", lang, name=label,
                                  state=translate(f"provider.state.{state}", lang))
            choices.append((label, spec.id))
        return choices

    def model_choices(self, provider: str | None, api_key: str | None, lang: str,
                      fetch: bool = True) -> tuple[list[str], str | None]:
        """Return (model names to offer, a note when the server's model list could not be read).

        With `fetch` an OpenAI-compatible server is asked for its models (up to 10 s); without it,
        as on page load, the suggested models are offered.
        """
        spec = self._spec(provider)
        if spec.module is None:
            return [], None
        configured = self.settings.provider_value(spec.model_variable) or spec.default_model
        note = None
        names = list(spec.suggested_models)
        try:
            if fetch:
                names = list_models(self.settings, spec.id, api_key=_clean(api_key))
        except LLMUniverseError as error:
            logger.info("listing the models of %s failed: %s", spec.id, type(error).__name__)
            note = translate("ui.models_unavailable", lang, error=error.message(lang))
        if spec.model_is_path:
            names = []
        if configured and configured not in names:
            names.insert(0, configured)
        return names, note

    def provider_help_text(self, provider: str | None, model: str | None, api_key: str | None, lang: str) -> str:
        """Return Markdown describing the provider and how to configure it, or what is missing."""
        spec = self._spec(provider)
        lines = [spec.description.get(lang, "")] if spec.description else []
        if spec.module is None:
            return "\n\n".join(lines)
        if spec.base_url_variable:
            base_url = self.settings.provider_value(spec.base_url_variable) or spec.default_base_url
            lines.append(translate("ui.provider_base_url", lang, url=base_url, variable=spec.base_url_variable))
        if spec.key_variable:
            key_from_env = self.settings.provider_value(spec.key_variable) is not None
            key = "ui.provider_key_set" if key_from_env else "ui.provider_key_missing"
            if not key_from_env and _clean(api_key):
                key = "ui.provider_key_session"
            lines.append(translate(key, lang, variable=spec.key_variable))
        if spec.model_is_path:
            lines.append(translate("ui.provider_model_path", lang, variable=spec.model_variable))
        try:
            resolve_target(self.settings, provider=spec.id, model=_model_override(spec, model), api_key=_clean(api_key))
        except LLMUniverseError as error:
            lines.append(error.message(lang))
        return "\n\n".join(lines)

    def status_text(self, provider: str | None, model: str | None, temperature: float | None, api_key: str | None,
                    lang: str) -> str:
        """Return one line naming the provider and model that will answer, or why none can."""
        spec = self._spec(provider)
        try:
            target = resolve_target(self.settings, provider=spec.id, model=_model_override(spec, model),
                                    api_key=_clean(api_key), temperature=temperature)
        except LLMUniverseError as error:
            return translate("ui.model_status_error", lang, error=error.message(lang))
        if target is None:
            return translate("ui.model_status", lang, name=PROVIDERS["none"].display_name[lang])
        name = f"{target.spec.display_name[lang]} · {target.model}"
        return translate("ui.model_status_llm", lang, name=name, temperature=f"{target.temperature:g}")

    def _spec(self, provider: str | None) -> ProviderSpec:
        return get_provider(provider_id(provider) or self.settings.resolved_llm_provider)


def provider_id(choice: str | None) -> str | None:
    """Return the provider id of a dropdown value, or None for the configured default."""
    return None if not choice or choice == DEFAULT_PROVIDER else choice


def model_override(provider: str | None, settings: Settings, model: str | None) -> str | None:
    """Return the model name typed in the UI for the chosen provider, or None to use the configured one."""
    spec = get_provider(provider_id(provider) or settings.resolved_llm_provider)
    return _model_override(spec, model)


def _model_override(spec: ProviderSpec, model: str | None) -> str | None:
    # A model that is a file path (llama.cpp) comes only from the server's configuration, so a visitor
    # cannot make the server open an arbitrary file.
    if spec.model_is_path:
        return None
    return _clean(model)


def _clean(value: str | None) -> str | None:
    return (value or "").strip() or None

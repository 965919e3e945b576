"""Start the web UI: `python app.py [--host HOST] [--port PORT] [--data-dir DIR]`.

This module only parses flags. The knowledge bases, models and Gradio are loaded inside `main()`.
Serving on an address other than loopback requires `LLM_UNIVERSE_AUTH=user:password`, or
`LLM_UNIVERSE_AUTH=off` to serve without a login.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """Return the parser for --host, --port and --data-dir."""
    from llm_universe.cli import add_serve_arguments

    parser = argparse.ArgumentParser(description="LLM Universe knowledge-base assistant: web UI")
    add_serve_arguments(parser)
    parser.add_argument("--data-dir", help="data root (default: $LLM_UNIVERSE_DATA_DIR or ./data_base)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return parser


def parse_auth(value: str | None) -> tuple[tuple[str, str] | None, bool]:
    """Return (login, allow_public) from LLM_UNIVERSE_AUTH: 'user:password', 'off', or unset."""
    if not value:
        return None, False
    if value.strip().lower() == "off":
        return None, True
    user, separator, password = value.partition(":")
    if not separator or not user or not password:
        from llm_universe.errors import ConfigurationError

        raise ConfigurationError(name="LLM_UNIVERSE_AUTH", value="***", reason="must be user:password or off")
    return (user, password), False


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags, build settings and serve the UI until interrupted; return the exit code."""
    from llm_universe.cli import configure_logging, load_env_file
    from llm_universe.config import Settings
    from llm_universe.errors import LLMUniverseError

    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    load_env_file()
    lang = "zh"
    try:
        settings = Settings.from_env(data_dir=args.data_dir, host=args.host, port=args.port)
        lang = settings.language
        auth, allow_public = parse_auth(os.environ.get("LLM_UNIVERSE_AUTH"))
        from llm_universe.web.app import launch

        launch(settings, auth=auth, allow_public=allow_public)
    except LLMUniverseError as error:
        print(error.message(lang), file=sys.stderr)
        return 1
    except OSError as error:
        from llm_universe.i18n import translate

        print(translate("ui.console_start_failed", lang, host=settings.host, port=settings.port, error=error),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Gradio web UI. Import `create_app` and `launch` from `llm_universe.web.app`; importing this package loads no Gradio."""

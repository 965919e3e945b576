"""LLM Universe knowledge-base assistant: upload documents, chat with them, with sources."""

__version__ = "0.1.0"

"""Typed errors raised by the core and translated once at each interface.

Each error carries a message-catalog key and its parameters, so the CLI, the web UI and the HTTP API
can show the same sentence in the user's language (`error.message("en")`).
"""

from __future__ import annotations

from llm_universe.i18n import DEFAULT_LANGUAGE, translate


class LLMUniverseError(Exception):
    """Base class of every error that a user can fix: bad input, missing configuration, provider failure."""

    key = "error.generic"

    def __init__(self, key: str | None = None, **params: object) -> None:
        if key is not None:
            self.key = key
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = DEFAULT_LANGUAGE) -> str:
        """Return the user-facing message in `lang`."""
        return translate(self.key, lang, **self.params)


class ConfigurationError(LLMUniverseError):
    """A setting has an invalid value, or the data directory cannot be used."""

    key = "error.invalid_setting"


class InvalidChunkSetting(ConfigurationError, ValueError):
    """chunk_size or chunk_overlap is out of range. It is also a ValueError, as in LangChain's splitters."""


class DocumentError(LLMUniverseError):
    """A file could not be turned into documents."""


class UnsupportedFileType(DocumentError):
    """The file extension has no loader."""

    key = "error.unsupported_file_type"


class DocumentLoadError(DocumentError):
    """The file exists and has a known type, but reading or parsing it failed."""

    key = "error.file_unreadable"

    def message(self, lang: str = DEFAULT_LANGUAGE) -> str:
        """Return the message in `lang`; a `reason_key` parameter is translated into the reason first."""
        params = dict(self.params)
        reason_key = params.pop("reason_key", None)
        if reason_key is not None:
            params["reason"] = translate(str(reason_key), lang, **params)
        return translate(self.key, lang, **params)


class ArchiveError(DocumentLoadError):
    """An uploaded archive is unreadable or breaks a safety limit; nothing from it was imported."""

    key = "error.archive_invalid"


class FileTooLarge(DocumentError):
    """The file is larger than the configured upload limit."""

    key = "error.file_too_large"


class SymlinkRejected(DocumentError):
    """The path is a symbolic link, which is never followed during ingestion."""

    key = "error.symlink_rejected"


class EncodingDetectionError(DocumentLoadError):
    """A text file decodes cleanly in none of the supported encodings."""

    key = "error.encoding"


class EmptyDocumentError(DocumentLoadError):
    """The file parsed but contains no text."""

    key = "error.file_empty"


class KnowledgeBaseError(LLMUniverseError):
    """A knowledge-base operation failed on user input."""


class KnowledgeBaseNotFound(KnowledgeBaseError):
    key = "error.kb_not_found"


class KnowledgeBaseExists(KnowledgeBaseError):
    key = "error.kb_exists"


class InvalidKnowledgeBaseName(KnowledgeBaseError):
    key = "error.kb_name_empty"


class FileNotInKnowledgeBase(KnowledgeBaseError):
    key = "error.file_not_in_kb"


class EmbeddingMismatchError(KnowledgeBaseError):
    """The knowledge base was built with another embedding model or dimension than the configured one."""

    key = "error.embedding_mismatch"


class UnknownEmbeddingProvider(ConfigurationError):
    key = "error.unknown_embedding"


class ProviderError(LLMUniverseError):
    """An LLM or embedding provider failed; subclasses name the category."""


class UnknownProvider(ProviderError):
    key = "error.unknown_provider"


class ProviderMissingKey(ProviderError):
    key = "error.provider_missing_key"


class ProviderAuthError(ProviderError):
    key = "error.provider_auth"


class ProviderNotFound(ProviderError):
    key = "error.provider_not_found"


class ProviderRateLimit(ProviderError):
    key = "error.provider_rate_limit"


class ProviderTimeout(ProviderError):
    key = "error.provider_timeout"


class ProviderConnectionError(ProviderError):
    key = "error.provider_connection"


class ProviderServerError(ProviderError):
    key = "error.provider_server"


class ProviderBadResponse(ProviderError):
    key = "error.provider_bad_response"


class ProviderStreamCut(ProviderError):
    key = "error.provider_stream_cut"


class ConversationNotFound(LLMUniverseError):
    key = "error.conversation_not_found"

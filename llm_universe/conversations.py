"""Conversations and their messages, stored in SQLite per browser session.

Every read and write names the session that owns the conversation, so one visitor can never see
or change another visitor's history.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from llm_universe.db import Database
from llm_universe.errors import ConversationNotFound

TITLE_LENGTH = 30


@dataclass(frozen=True)
class Message:
    """One stored turn: `status` is 'complete' or 'incomplete' (generation was cut off)."""

    id: int
    role: str
    content: str
    sources: list[dict] = field(default_factory=list)
    status: str = "complete"
    provider: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class Conversation:
    """A conversation's id, owner session and title."""

    id: str
    session_id: str
    title: str
    updated_at: str


class ConversationStore:
    """Create, list, read, append to and delete conversations of a browser session."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, session_id: str, title: str = "") -> Conversation:
        """Create an empty conversation owned by `session_id`."""
        conversation_id = uuid.uuid4().hex
        with self.db.connect() as connection:
            connection.execute(
                "INSERT INTO conversations (id, session_id, title) VALUES (?, ?, ?)",
                (conversation_id, session_id, title[:TITLE_LENGTH]),
            )
        return self.get(conversation_id, session_id)

    def get(self, conversation_id: str, session_id: str) -> Conversation:
        """Return a conversation of this session; raise ConversationNotFound otherwise."""
        with self.db.connect() as connection:
            row = connection.execute(
                "SELECT id, session_id, title, updated_at FROM conversations WHERE id = ? AND session_id = ?",
                (conversation_id, session_id),
            ).fetchone()
        if row is None:
            raise ConversationNotFound()
        return Conversation(**dict(row))

    def list(self, session_id: str) -> list[Conversation]:
        """Return the session's conversations, most recently updated first."""
        with self.db.connect() as connection:
            rows = connection.execute(
                "SELECT id, session_id, title, updated_at FROM conversations WHERE session_id = ?"
                " ORDER BY updated_at DESC, rowid DESC",
                (session_id,),
            ).fetchall()
        return [Conversation(**dict(row)) for row in rows]

    def messages(self, conversation_id: str, session_id: str) -> list[Message]:
        """Return the conversation's messages in order."""
        self.get(conversation_id, session_id)
        with self.db.connect() as connection:
            rows = connection.execute(
                "SELECT id, role, content, sources, status, provider, model FROM messages"
                " WHERE conversation_id = ? ORDER BY id",
                (conversation_id,),
            ).fetchall()
        return [Message(**{**dict(row), "sources": json.loads(row["sources"])}) for row in rows]

    def add_message(self, conversation_id: str, session_id: str, role: str, content: str,
                    sources: list[dict] | None = None, status: str = "complete",
                    provider: str | None = None, model: str | None = None) -> int:
        """Append a message and return its id; the first user message also becomes the title."""
        conversation = self.get(conversation_id, session_id)
        with self.db.connect() as connection:
            cursor = connection.execute(
                "INSERT INTO messages (conversation_id, role, content, sources, status, provider, model)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, role, content, json.dumps(sources or [], ensure_ascii=False), status, provider, model),
            )
            title = conversation.title or (" ".join(content.split())[:TITLE_LENGTH] if role == "user" else "")
            connection.execute(
                "UPDATE conversations SET title = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                (title, conversation_id),
            )
            return int(cursor.lastrowid)

    def delete(self, conversation_id: str, session_id: str) -> None:
        """Delete a conversation of this session and its messages."""
        self.get(conversation_id, session_id)
        with self.db.connect() as connection:
            connection.execute("DELETE FROM conversations WHERE id = ? AND session_id = ?", (conversation_id, session_id))

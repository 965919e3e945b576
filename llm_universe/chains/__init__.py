"""Answering chains: retrieval, answer policy and generation."""

from llm_universe.chains.qa import AnswerResult, Source, answer_question, retrieve

__all__ = ["AnswerResult", "Source", "answer_question", "retrieve"]

"""Turn files into LangChain Documents and split them into chunks for embedding."""

from llm_universe.documents.cleaning import parse_quality
from llm_universe.documents.loaders import SUPPORTED_EXTENSIONS, load_document, load_documents, read_text_file
from llm_universe.documents.splitter import ChineseTextSplitter, split_documents

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "ChineseTextSplitter",
    "load_document",
    "load_documents",
    "parse_quality",
    "read_text_file",
    "split_documents",
]

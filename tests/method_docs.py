"""Two short Markdown documents about named prompting methods, shared by the retrieval and follow-up tests."""

METHODS = """# 思维链提示

思维链提示（Chain-of-Thought）让模型先写出推理步骤，再给出最终答案。

## 优点

思维链提示能提高多步推理题的准确率，推理过程也更容易检查。

## 缺点

思维链提示会让回答变长，消耗更多词元，响应也更慢。
"""
FEWSHOT = """# 少样本提示

少样本提示在提问之前给模型一两个完成好的示例。

## 优点

少样本提示能让模型快速模仿示例的格式和语气。

## 缺点

少样本提示占用上下文窗口，示例选得不好还会误导模型。
"""

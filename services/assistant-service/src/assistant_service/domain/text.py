"""Language detection and the tokenizers retrieval uses: stemmed English words, jieba-segmented Chinese words."""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache

import rjieba
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS


class Language(StrEnum):
    EN = "en"
    ZH = "zh"


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Words a question is made of rather than what it is about.
_EN_STOP = frozenset(STOPWORDS_EN_PLUS) | {
    "please",
    "hi",
    "hello",
    "thanks",
    "thank",
    "anyone",
    "someone",
    "know",
    "tell",
    "get",
    "got",
    "need",
    "want",
    "would",
    "could",
    "should",
    "may",
    "might",
    "us",
    "we",
    "our",
    "you",
    "your",
    "my",
    "me",
    "i",
    "im",
    "ive",
    "whats",
    "hows",
    "dont",
    "doesnt",
    "cant",
    "isnt",
    "yes",
    "ok",
    "also",
    "still",
    "way",
}
# Function words and question words of Chinese (bm25s's list also drops content words such as 严重, 使用, 出现).
_ZH_STOP_WORDS = """
的 了 吗 呢 吧 啊 呀 么 嘛 哦 是 在 和 与 及 或 就 都 也 还 又 被 把 给 让 对 从 向 到 于 以 为 而 但
我 我们 你 你们 您 他 她 它 他们 它们 这 那 这个 那个 这些 那些 哪 哪个 哪些 什么 怎么 怎么样 怎样 如何 为什么
请问 请 一下 一个 可以 能 能否 能不能 是否 有没有 有 没有 会 要 需要 想 应该 该 如果 的话 时候 时 吗？ 呢？
谁 多少 几 么样 啥 咋 个 上 下 中 里 后 前 得 地 着 过 等 其 之 每 很 最 更 已 已经 还是 就是 可能
"""
_ZH_STOP = frozenset(_ZH_STOP_WORDS.split())
_EN_WORD = re.compile(r"[a-z0-9]+")
_ZH_KEEP = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)

# Product words jieba would split (变更流 -> 变更/流) or not know; the segmenter keeps them whole.
_ZH_TERMS = (
    "变更流",
    "工单",
    "告警",
    "飞书",
    "订阅者",
    "升级",
    "降级",
    "试用",
    "免费试用",
    "响应时间",
    "工作时间",
    "严重级别",
    "慢查询",
    "连接池",
    "扩容",
    "缩容",
    "备份",
    "恢复",
    "迁移任务",
    "错误率",
    "技术客户经理",
    "计费",
    "账单",
    "控制台",
    "机器人",
    "群组",
    "频道",
    "传统计划",
    "退役",
    "基础版",
    "开发者版",
    "企业版",
    "高级版",
    "免费版",
)


def detect_language(text: str, default: Language = Language.EN) -> Language:
    """Chinese when Han characters are at least as many as Latin words (`如何配置 PagerDuty` is Chinese)."""
    han = len(_HAN.findall(text))
    latin = len(_LATIN_WORD.findall(text))
    if han == 0 and latin == 0:
        return default
    return Language.ZH if han >= max(1, latin) else Language.EN


@lru_cache(maxsize=1)
def _segmenter() -> rjieba.Jieba:
    seg = rjieba.Jieba()
    for term in _ZH_TERMS:
        seg.add_word(term, 100_000, None)
    return seg


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def _english(text: str) -> list[str]:
    words = [w for w in _EN_WORD.findall(text.lower().replace("'", "")) if w not in _EN_STOP]
    return list(_stemmer().stemWords(words))


def _chinese(text: str) -> list[str]:
    tokens: list[str] = []
    # cut_for_search also yields the parts of long words (响应时间 -> 响应, 时间, 响应时间), which helps recall.
    for token in _segmenter().cut_for_search(text.lower(), True):
        token = token.strip()
        if not token or token in _ZH_STOP or not _ZH_KEEP.search(token):
            continue
        if _HAN.search(token):
            tokens.append(token)
        else:
            tokens.extend(_english(token))
    return tokens


def tokenize(text: str) -> list[str]:
    """Index terms of `text`: Chinese runs segmented by jieba, Latin words lowercased and stemmed, stopwords out."""
    if _HAN.search(text):
        return _chinese(text)
    return _english(text)

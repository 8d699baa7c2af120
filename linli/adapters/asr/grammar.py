"""The keyword grammar that reads a spoken yes/no answer (是/不是/对/有/没有/没去过 …) out
of what a recogniser heard.

`yes_no_from_speech(text)`: uncertainty (不知道, 不清楚, 还好 …) gives None first, then any
negation (不是, 没有, 没去过, 不对, 沒有 …) gives False, then an affirmative (是, 对, 有, 去过,
嗯 …) gives True; anything else is None (ask again, or take the keypad). Echoes of the
question (是不是, 有没有, 去没去过) are dropped before reading, so "有没有？没有" is a no and
"是不是……是" a yes. Simplified and traditional characters read alike. GRAMMAR_WORDS are the
words a recogniser with a grammar listens for.
"""

import re

# Answers that say "I am not sure": neither yes nor no, whatever else they contain.
UNSURE = (
    "不知道",
    "不清楚",
    "不确定",
    "不確定",
    "不记得",
    "不記得",
    "说不好",
    "說不好",
    "不好说",
    "不好說",
    "说不清",
    "說不清",
    "不一定",
    "差不多",
    "无所谓",
    "無所謂",
    "没问题",
    "沒問題",
    "还好",
    "還好",
    "可能",
    "也许",
    "也許",
    "大概",
    "好像",
    "忘了",
)
# The question said back ("有没有发烧？"): not an answer, and it holds a negation.
ECHOES = (
    "是不是",
    "有没有",
    "有沒有",
    "对不对",
    "對不對",
    "去没去过",
    "去沒去過",
    "去没去",
    "去沒去",
    "要不要",
    "需不需要",
    "需要不需要",
    "有无",
    "有無",
)
# Affirmatives spelt with a negation character ("no mistake" = right).
AFFIRMATIVE_IDIOMS = ("没错", "沒錯", "不错", "不錯")
# One negation character anywhere is a no: 不是/不对/不用/不要/不需要, 没有/没去过/没, 否, 无, 冇.
NEGATIONS = ("不", "没", "沒", "否", "无", "無", "冇", "未")
AFFIRMATIVES = (
    "是",
    "对",
    "對",
    "有",
    "去过",
    "去過",
    "嗯",
    "恩",
    "好",
    "行",
    "可以",
    "要",
    "需要",
    "当然",
    "當然",
    "确实",
    "確實",
)
# Sounds and greetings that answer nothing, dropped before reading (嗯 alone is a yes: kept).
FILLERS = (
    "你好",
    "您好",
    "喂",
    "那个",
    "那個",
    "这个",
    "這個",
    "就是说",
    "就是說",
    "呃",
    "额",
    "額",
    "啊",
    "哦",
    "噢",
    "唉",
)
_NOT_SPEECH = re.compile(r"[\s\W_]+", re.UNICODE)

# The words a recogniser with a grammar may hear (Vosk's small models restrict decoding to
# them, which makes short answers on a phone line far more reliable).
GRAMMAR_WORDS = (
    "是",
    "是的",
    "不是",
    "对",
    "对的",
    "不对",
    "有",
    "有的",
    "没有",
    "没",
    "去过",
    "没去过",
    "嗯",
    "好",
    "要",
    "不要",
    "需要",
    "不需要",
    "不用",
    "没错",
    "不知道",
    "不清楚",
)


def yes_no_from_speech(text: str) -> bool | None:
    """Reads a spoken yes/no answer: True (yes), False (no) or None (unclear; see the module
    docstring for the order of the rules)."""
    heard = _NOT_SPEECH.sub("", (text or "").lower())
    for filler in FILLERS:
        heard = heard.replace(filler, "")
    for echo in ECHOES:
        heard = heard.replace(echo, "")
    if not heard or any(phrase in heard for phrase in UNSURE):
        return None
    idiom = False
    for phrase in AFFIRMATIVE_IDIOMS:
        if phrase in heard:
            idiom = True
            heard = heard.replace(phrase, "")
    if any(char in heard for char in NEGATIONS):
        return False
    if idiom or any(word in heard for word in AFFIRMATIVES):
        return True
    return None

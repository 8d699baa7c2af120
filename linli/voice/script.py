"""A questionnaire version as the phone robot speaks it: prompts with keypad answers.

The script is derived from the definition (linli.screening.questionnaires) and nothing else, so
the phone asks exactly what the H5 page and the door-knock form ask; branching stays in the
questionnaire module (the dialogue calls `route`). What the phone adds is how each kind of
question is answered on a keypad:

- yes_no: 是请按1，否请按2.
- single_choice: the options numbered 1–8 (a question with more options is left for the door
  knock: nobody remembers nine options heard once).
- multiple_choice: asked item by item. "Press every key that applies, then #" asks an elderly
  resident to hold the whole list in mind and type several keys; one yes/no per item only asks
  them to listen. And since most people have none of the symptoms, a question with a "none of
  these" (exclusive) option first asks "any of these? 1 yes, 2 none" after reading the list,
  so a healthy resident answers with one key.
- number: digits then #. A temperature (the text says 体温 or ℃, or the bounds lie within
  30–45) has one decimal typed without the point: 三七五 → 37.5 (a star may stand for the point,
  and two digits are whole degrees).
- date: eight digits, year month day, then # (20220105).
- short_text: cannot be typed on a keypad; skipped on the phone and left for the door knock.

Every question prompt ends with 重听请按9，转人工请按0 (the items of a multiple choice, heard
right after their question's prompt, do not repeat it; the keys work there all the same).

Prompts are synthesised once per questionnaire version and stored under
MEDIA_ROOT/voice/prompts/<version id>/ with a manifest of their texts and hashes (the hash
covers the TTS engine's name too), so a restarted dialer reuses them and a changed text or
engine re-synthesises only what changed. The identity prompt names the person, so it is made
per masked name (张*伟 is said 张某伟) and cached, in memory (the last IDENTITY_CACHE_SIZE) and
on disk by a hash that does not show the name (the last IDENTITY_STORE_SIZE used). The dialer
has it made ahead, in another process, when it claims the call (linli.voice.identities); one
not ready in time is replaced by the generic GENERIC_IDENTITY prompt, which names nobody.
"""

import hashlib
import json
import math
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings

from linli.adapters.telephony.base import Prompt
from linli.adapters.tts import TTS, get_tts
from linli.adapters.tts.ahead import synthesise_stored
from linli.core.clock import local_today
from linli.screening.questionnaires.schema import (
    QuestionKind,
    parse_iso_date,
    question_map,
    questions_of,
)

# Prompt names (the transcript records these).
INTRO = "intro"
IDENTITY = "identity"
GENERIC_IDENTITY = "identity_generic"
PROXY = "proxy"
CLOSING = "closing"
INVALID = "invalid"
NO_INPUT = "no_input"
TRANSFER = "transfer"
GOODBYE = "goodbye"
GIVE_UP = "give_up"

REPEAT_KEY = "9"
PERSON_KEY = "0"
HELP = "重听请按9，转人工请按0。"
FIXED_TEXTS = {
    GENERIC_IDENTITY: "请问您是这个号码登记的居民本人吗？是请按1，不是请按2。",
    PROXY: "如果您是他的家人并愿意代为回答，请按1，否则请按2。",
    INVALID: "输入有误。",
    NO_INPUT: "没有听到您的按键。",
    TRANSFER: "好的，稍后会有工作人员与您联系。再见。",
    GOODBYE: "好的，打扰您了，再见。",
    GIVE_UP: "抱歉，没有收到有效的按键，我们稍后再与您联系。再见。",
}
MAX_CHOICES = 8  # keys 1–8; 9 and 0 are taken
MAX_ITEMS = 10  # items of a multiple choice asked one by one
# An intro longer than this (characters) is shortened for the phone; about 40 seconds spoken.
INTRO_LIMIT = 160
# Sentences of the intro that must stay: the legal basis and the purpose (PIPL art. 17).
_KEEP_IN_INTRO = ("依据", "个人信息", "法》", "只用于", "仅用于", "删除")
_HINTS = re.compile(r"[（(](?:可多选|多选|单选|℃|°C|必填|选填)[）)]")
_BRACKETS = re.compile(r"[（）()《》“”\"【】\[\]]")
_SENTENCE = re.compile(r"[^。！？!?]*[。！？!?]+|[^。！？!?]+$")


@dataclass(frozen=True)
class Step:
    """How one question is asked and answered on the keypad.

    `prompt` names the question's prompt. Single choice: `choices[i]` is the option code of key
    i+1. Multiple choice: `items` are (option code, prompt name) asked one by one as yes/no,
    after the `prompt` (which asks "any of these?" when there is an `exclusive` option, and
    otherwise only reads the question). Number and date are typed `entry`s ending with #.
    """

    key: str
    kind: str
    required: bool
    prompt: str
    choices: tuple[str, ...] = ()
    items: tuple[tuple[str, str], ...] = ()
    exclusive: str | None = None
    decimals: int = 0
    max_digits: int = 1
    entry: bool = False
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Script:
    """A questionnaire version ready to be spoken: its prompts by name, the keypad steps of the
    askable questions by key, and the keys left for the door knock (`skipped`)."""

    version_id: int
    prompts: dict[str, Prompt]
    steps: dict[str, Step]
    definition: dict[str, Any]
    skipped: tuple[str, ...]
    engine: str
    directory: Path
    tts: TTS = field(compare=False, repr=False)
    _identities: "OrderedDict[str, Prompt]" = field(
        default_factory=OrderedDict, compare=False, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def prompt(self, name: str) -> Prompt:
        return self.prompts[name]


# ---------------------------------------------------------------------------------------------
# Texts


def _clean(text: str) -> str:
    """A question's text as said on the phone: written hints dropped, brackets removed."""
    text = _HINTS.sub("", text.strip())
    return _BRACKETS.sub("", text).strip()


def _sentence(text: str) -> str:
    text = _clean(text)
    return text if not text or text[-1] in "。！？!?，," else text + "。"


def short_intro(intro: str, limit: int = INTRO_LIMIT) -> str:
    """Returns the intro, shortened for the phone when it is longer than `limit`: the first
    sentence (who is calling and why) and the sentences giving the legal basis and purpose
    always stay, then the others in order while they fit."""
    intro = intro.strip()
    if len(intro) <= limit:
        return intro
    sentences = [s.strip() for s in _SENTENCE.findall(intro) if s.strip()]
    keep = {0} | {i for i, s in enumerate(sentences) if any(w in s for w in _KEEP_IN_INTRO)}
    length = sum(len(sentences[i]) for i in keep)
    for i, sentence in enumerate(sentences):
        if i not in keep and length + len(sentence) <= limit:
            keep.add(i)
            length += len(sentence)
    return "".join(sentences[i] for i in sorted(keep))


def spoken_name(masked_name: str) -> str:
    """张*伟 → 张某伟: a masked character is said 某."""
    return re.sub(r"[*＊×]", "某", masked_name.strip())


def identity_text(masked_name: str) -> str:
    name = spoken_name(masked_name)
    return f"请确认您是{name}本人，是请按1，不是请按2。"


def _is_temperature(question: dict) -> bool:
    text = question.get("text") or ""
    low, high = question.get("min"), question.get("max")
    bounded = all(isinstance(b, int | float) and 30 <= b <= 45 for b in (low, high))
    return "体温" in text or "℃" in text or bounded


def _bound_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _number_step(question: dict, name: str) -> tuple[Step, str]:
    low, high = question.get("min"), question.get("max")
    decimals = 1 if _is_temperature(question) else 0
    if decimals:
        how = "请输入体温，例如三十七点五度，请按三七五，再按井号。"
    elif low is not None and high is not None:
        how = f"请输入{_bound_text(low)}到{_bound_text(high)}之间的数字，再按井号。"
    else:
        how = "请输入数字，再按井号。"
    whole = len(str(int(abs(high)))) if isinstance(high, int | float) else 8
    step = Step(
        key=question["key"],
        kind=QuestionKind.NUMBER,
        required=bool(question.get("required")),
        prompt=name,
        decimals=decimals,
        max_digits=whole + decimals + 1,  # +1: a star for the decimal point
        entry=True,
        low=low,
        high=high,
    )
    return step, how


def build(defn: dict[str, Any]) -> tuple[dict[str, str], dict[str, Step], tuple[str, ...]]:
    """Returns the prompt texts by name, the keypad steps by question key, and the keys of the
    questions the phone cannot ask (left for the door knock)."""
    texts: dict[str, str] = {INTRO: short_intro(defn.get("intro") or "")}
    steps: dict[str, Step] = {}
    skipped: list[str] = []
    for question in questions_of(defn):
        key, kind = question["key"], question.get("kind")
        name = f"q:{key}"
        required = bool(question.get("required"))
        text = _sentence(question.get("text") or "")
        options = [o for o in question.get("options") or [] if isinstance(o, dict)]
        skip_hint = "" if required else "跳过请按星号，再按井号。"
        if kind == QuestionKind.YES_NO:
            texts[name] = f"{text}是请按1，否请按2。{HELP}"
            steps[key] = Step(key=key, kind=kind, required=required, prompt=name)
        elif kind == QuestionKind.SINGLE_CHOICE and len(options) <= MAX_CHOICES:
            keys = "，".join(f"{o['label']}请按{i}" for i, o in enumerate(options, start=1))
            texts[name] = f"{text}{keys}。{HELP}"
            steps[key] = Step(
                key=key,
                kind=kind,
                required=required,
                prompt=name,
                choices=tuple(o["code"] for o in options),
            )
        elif kind == QuestionKind.MULTIPLE_CHOICE:
            exclusive = next((o["code"] for o in options if o.get("exclusive")), None)
            listed = [o for o in options if not o.get("exclusive")]
            if len(listed) > MAX_ITEMS:
                skipped.append(key)
                continue
            labels = "、".join(o["label"] for o in listed)
            if exclusive:
                texts[name] = f"{text}{labels}。有其中任何一项请按1，都没有请按2。{HELP}"
            else:
                texts[name] = f"{text}下面逐项询问。"
            items = []
            for option in listed:
                item_name = f"{name}:{option['code']}"
                # The keys 9 and 0 work here too; saying so after every item would double
                # the length of a symptom list (the list's own prompt says it).
                texts[item_name] = f"是否{_clean(option['label'])}？是请按1，否请按2。"
                items.append((option["code"], item_name))
            steps[key] = Step(
                key=key,
                kind=kind,
                required=required,
                prompt=name,
                items=tuple(items),
                exclusive=exclusive,
            )
        elif kind == QuestionKind.NUMBER:
            step, how = _number_step(question, name)
            texts[name] = f"{text}{how}{skip_hint}{HELP}"
            steps[key] = step
        elif kind == QuestionKind.DATE:
            how = "请按年月日八位数字，再按井号，例如2022年1月5日，请按20220105。"
            texts[name] = f"{text}{how}{skip_hint}{HELP}"
            steps[key] = Step(
                key=key, kind=kind, required=required, prompt=name, max_digits=8, entry=True
            )
        else:  # short_text, or too many options for a keypad
            skipped.append(key)
    texts[CLOSING] = (defn.get("closing") or "").strip() or "感谢您的配合，再见。"
    texts.update(FIXED_TEXTS)
    return texts, steps, tuple(skipped)


YES_NO_KEYS = ("1", "2")


def _number_answers(step: Step) -> tuple[str, ...]:
    """Entries inside the step's bounds (a keypad has no minus sign: none below 0)."""
    low = max(0.0, float(step.low)) if step.low is not None else 0.0
    high = float(step.high) if step.high is not None else low + 10
    if high < low:
        return ()
    values = [low, (low + high) / 2, high]
    if step.decimals:
        scale = 10**step.decimals
        # 36.5 is typed 365#: the dialogue puts the point before the last digit of an entry
        # of three digits or more (a shorter one reads as a whole number).
        entries = [str(round(v * scale)) for v in values]
        return tuple(
            dict.fromkeys(f"{e}#" for e in entries if len(e) > 2 and low <= int(e) / scale <= high)
        )
    entries = [str(math.ceil(values[0])), str(int(values[1])), str(math.floor(high))]
    return tuple(dict.fromkeys(f"{e}#" for e in entries if low <= int(e) <= high))


def _date_answers(question: dict[str, Any], today: date) -> tuple[str, ...]:
    bounds = {}
    for name in ("min", "max"):
        bound = question.get(name)
        bounds[name] = today if bound == "today" else parse_iso_date(bound)
    low, high = bounds["min"], bounds["max"]
    day = high or (today if low is None or low <= today else low)
    if low is not None and day < low:
        return ()
    return (day.strftime("%Y%m%d") + "#",)


def answer_keys(
    steps: dict[str, Step], definition: dict[str, Any], *, today: date | None = None
) -> dict[str, tuple[str, ...]]:
    """Returns, by prompt name, key sequences that answer the prompt validly (Prompt.answers):
    what a simulated resident presses, for any questionnaire."""
    today = today or local_today()
    questions = question_map(definition)
    out: dict[str, tuple[str, ...]] = {PROXY: YES_NO_KEYS, GENERIC_IDENTITY: YES_NO_KEYS}
    for step in steps.values():
        if step.kind == QuestionKind.YES_NO:
            out[step.prompt] = YES_NO_KEYS
        elif step.kind == QuestionKind.SINGLE_CHOICE:
            out[step.prompt] = tuple(str(i) for i in range(1, len(step.choices) + 1))
        elif step.kind == QuestionKind.MULTIPLE_CHOICE:
            if step.exclusive:
                out[step.prompt] = YES_NO_KEYS
            for _code, item_name in step.items:
                out[item_name] = YES_NO_KEYS
        elif step.kind == QuestionKind.NUMBER:
            out[step.prompt] = _number_answers(step)
        elif step.kind == QuestionKind.DATE:
            out[step.prompt] = _date_answers(questions.get(step.key) or {}, today)
    return out


# ---------------------------------------------------------------------------------------------
# Synthesis and storage


_MANIFEST = "manifest.json"
_CACHE: dict[tuple, Script] = {}
_CACHE_LOCK = threading.Lock()
IDENTITY_CACHE_SIZE = 2000  # in memory, per script (about 40 KB each)
IDENTITY_STORE_SIZE = 20000  # on disk (about 40 KB each), least recently used pruned


def prompt_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "voice" / "prompts"


def text_hash(engine: str, text: str) -> str:
    return hashlib.sha256(f"{engine}\0{text}".encode()).hexdigest()


def _file_name(name: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "-", name.lower()) + ".ulaw"


def _write_atomic(path: Path, data: bytes) -> None:
    """Writes via a temporary file and a rename, so two dialers storing the same prompt, or a
    crash halfway, never leave a truncated file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _read_manifest(directory: Path) -> dict:
    try:
        manifest = json.loads((directory / _MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _stored(directory: Path, entry: object, wanted: str) -> bytes | None:
    """The stored audio of a manifest entry when it was made from the wanted text and engine
    and is intact."""
    if not isinstance(entry, dict) or entry.get("hash") != wanted:
        return None
    try:
        audio = (directory / str(entry.get("file"))).read_bytes()
    except OSError:
        return None
    if hashlib.sha256(audio).hexdigest() != entry.get("audio_sha256"):
        return None
    return audio


def script_for(version, *, tts: TTS | None = None) -> Script:
    """Returns the spoken script of a questionnaire version (anything with `pk` and
    `definition`), synthesising only prompts not already stored for this text and engine.
    Raises TTSError when the engine fails."""
    tts = tts or get_tts()
    definition = version.definition
    texts, steps, skipped = build(definition)
    answers = answer_keys(steps, definition)
    digest = hashlib.sha256(json.dumps(texts, sort_keys=True).encode()).hexdigest()
    cache_key = (version.pk, tts.name, digest)
    with _CACHE_LOCK:
        cached = _CACHE.get(cache_key)
    if cached is not None:
        return cached
    directory = prompt_root() / str(version.pk)
    manifest = _read_manifest(directory)
    stored = manifest.get("prompts") if isinstance(manifest.get("prompts"), dict) else {}
    entries: dict[str, dict] = {}
    prompts: dict[str, Prompt] = {}
    changed = manifest.get("engine") != tts.name
    for name, text in texts.items():
        wanted = text_hash(tts.name, text)
        audio = _stored(directory, stored.get(name), wanted)
        if audio is None:
            audio = tts.synthesise(text)
            _write_atomic(directory / _file_name(name), audio)
            changed = True
        entries[name] = {
            "text": text,
            "hash": wanted,
            "file": _file_name(name),
            "audio_sha256": hashlib.sha256(audio).hexdigest(),
        }
        prompts[name] = Prompt(name=name, text=text, audio=audio, answers=answers.get(name, ()))
    if changed or set(stored) != set(entries):
        body = {"version_id": version.pk, "engine": tts.name, "prompts": entries}
        _write_atomic(
            directory / _MANIFEST, json.dumps(body, ensure_ascii=False, indent=1).encode()
        )
    script = Script(
        version_id=version.pk,
        prompts=prompts,
        steps=steps,
        definition=definition,
        skipped=skipped,
        engine=tts.name,
        directory=directory,
        tts=tts,
    )
    with _CACHE_LOCK:
        _CACHE[cache_key] = script
    return script


def clear_cache() -> None:
    """Forgets the scripts kept in memory (the stored prompts stay)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def identity_store() -> Path:
    """Where identity prompts are stored, one file per engine and text."""
    return prompt_root() / "identity"


def identity_path(script: Script, text: str) -> Path:
    return identity_store() / f"{text_hash(script.engine, text)}.ulaw"


def cached_identity(script: Script, masked_name: str) -> Prompt | None:
    """The identity prompt of a masked name when it is in memory (never blocks on synthesis)."""
    text = identity_text(masked_name)
    with script._lock:
        prompt = script._identities.get(text)
        if prompt is not None:
            script._identities.move_to_end(text)
        return prompt


def remember_identity(script: Script, text: str, audio: bytes) -> Prompt:
    """Keeps an identity prompt made elsewhere (a worker process) in the script's memory."""
    prompt = Prompt(name=IDENTITY, text=text, audio=audio, answers=YES_NO_KEYS)
    with script._lock:
        script._identities[text] = prompt
        script._identities.move_to_end(text)
        while len(script._identities) > IDENTITY_CACHE_SIZE:
            script._identities.popitem(last=False)
    return prompt


def identity_prompt(script: Script, masked_name: str) -> Prompt:
    """Returns "请确认您是张某伟本人，是请按1，不是请按2" for a masked name, synthesised once
    per name and engine (kept in memory and under MEDIA_ROOT/voice/prompts/identity/ by a hash
    of the text, which does not reveal the name). Blocking: the dialer has it made ahead in
    another process instead (linli.voice.identities)."""
    prompt = cached_identity(script, masked_name)
    if prompt is not None:
        return prompt
    text = identity_text(masked_name)
    audio = synthesise_stored(script.tts, text, str(identity_path(script, text)))
    return remember_identity(script, text, audio)


def questions_by_key(script: Script) -> dict[str, dict]:
    return question_map(script.definition)

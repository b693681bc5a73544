"""The anchor line: plain Rasa 3.6, its default pipeline and policies, a tiny responses-only bot.

Issue #12 compares the assistant with what an out-of-the-box Rasa does on the same machine and
messages.  The project below is made by code (so nobody has to keep a second Rasa project in the
repository): `recipe: default.v1` with no pipeline and no policies, which makes `rasa train` fill
in its defaults (WhitespaceTokenizer, RegexFeaturizer, LexicalSyntacticFeaturizer, two
CountVectorsFeaturizers, DIETClassifier, EntitySynonymMapper, ResponseSelector, FallbackClassifier;
MemoizationPolicy, RulePolicy, UnexpecTEDIntentPolicy, TEDPolicy).  `language` is `en` because the
default WhitespaceTokenizer refuses `zh`; the char n-gram featurizer still sees every character.

The model is trained once and cached under `var/load_anchor/<hash of the project>/`.  Rasa runs
with its REST channel (`POST /webhooks/rest/webhook`) on loopback and its in-memory tracker store.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.stack import REPO, free_port

CACHE = REPO / "var" / "load_anchor"

# A few intents in citizens' words (sample, written for this anchor; not the project's NLU data).
INTENTS: dict[str, list[str]] = {
    "greet": ["你好", "您好", "在吗", "有人吗", "早上好", "你好啊，想问个事", "喂，在不在"],
    "goodbye": ["谢谢", "好的谢谢", "再见", "没别的了", "知道了，谢谢你", "行，拜拜"],
    "social_insurance": [
        "社保怎么交",
        "灵活就业的社保在哪里交",
        "养老保险断了能补交吗",
        "医保卡丢了怎么补办",
        "俺想问问城乡居民医保一年交多少",
        "社保转移到济阳要啥材料",
        "退休了养老金咋领",
    ],
    "housing_fund": [
        "公积金怎么提取",
        "租房能提公积金吗",
        "公积金贷款要什么条件",
        "离职了公积金咋取出来",
        "公积金账户怎么查余额",
        "买房用公积金要准备啥",
    ],
    "identity": [
        "身份证丢了怎么办",
        "补办身份证要多久",
        "户口迁到济阳需要什么",
        "孩子上户口去哪里",
        "临时身份证在哪办",
        "居住证怎么申请",
    ],
    "marriage_birth": [
        "结婚登记要带什么",
        "办结婚证在哪里",
        "生孩子有生育津贴吗",
        "出生医学证明丢了咋补",
        "离婚登记需要预约吗",
        "领结婚证要钱吗",
    ],
    "business": [
        "开个小饭馆要办什么证",
        "个体户营业执照怎么办",
        "注册公司需要多长时间",
        "食品经营许可证在哪申请",
        "营业执照地址变更咋弄",
        "开网店要营业执照吗",
    ],
    "human": ["转人工", "人工客服", "我要找真人", "能不能让工作人员跟我说", "机器人听不懂，找人工"],
    "cost": ["要多少钱", "收费吗", "那得花多少钱", "要交费不", "免费吗"],
}

RESPONSES = {
    "greet": "您好，我是政务服务助手，请说说您要办什么事。",
    "goodbye": "不客气，祝您办事顺利。",
    "social_insurance": "社保的事可以在区政务服务中心社保窗口办理，也可以在网上办。",
    "housing_fund": "公积金业务可以在公积金管理中心窗口或网上办理。",
    "identity": "身份证和户口的事请到户籍所在地派出所办理。",
    "marriage_birth": "婚姻登记请到民政局婚姻登记处，生育相关的事请问卫健部门。",
    "business": "营业执照和许可可以在政务服务中心市场监管窗口办理。",
    "human": "好的，正在为您转接工作人员。",
    "cost": "大多数政务服务事项不收费。",
}


def project_files() -> dict[str, str]:
    """The anchor's Rasa project, file name -> YAML text."""
    config = {
        "recipe": "default.v1",
        "assistant_id": "load-anchor",
        "language": "en",
        "pipeline": None,
        "policies": None,
    }
    nlu = {
        "version": "3.1",
        "nlu": [
            {"intent": name, "examples": "".join(f"- {text}\n" for text in texts)} for name, texts in INTENTS.items()
        ],
    }
    rules = {
        "version": "3.1",
        "rules": [
            {"rule": f"answer {name}", "steps": [{"intent": name}, {"action": f"utter_{name}"}]} for name in INTENTS
        ],
    }
    domain = {
        "version": "3.1",
        "intents": list(INTENTS),
        "responses": {f"utter_{name}": [{"text": text}] for name, text in RESPONSES.items()},
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
    }
    dump = lambda value: yaml.safe_dump(value, allow_unicode=True, sort_keys=False)  # noqa: E731
    return {
        "config.yml": dump(config),
        "data/nlu.yml": dump(nlu),
        "data/rules.yml": dump(rules),
        "domain.yml": dump(domain),
        "credentials.yml": "rest:\n",
        "endpoints.yml": "{}\n",
    }


def prepare(log: Path | None = None) -> Path:
    """Write the project and train it once; the project folder (with models/anchor.tar.gz)."""
    files = project_files()
    digest = hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()[:12]
    folder = CACHE / digest
    model = folder / "models" / "anchor.tar.gz"
    if model.exists():
        return folder
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    command = [sys.executable, "-m", "rasa", "train", "--out", "models", "--fixed-model-name", "anchor"]
    with (log or folder / "train.log").open("ab") as out:
        subprocess.run(command, cwd=folder, env=_env(), stdout=out, stderr=subprocess.STDOUT, check=True)
    return folder


def _env() -> dict[str, str]:
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "SANIC_WORKERS": "1", "PYTHONUNBUFFERED": "1"}


@dataclass
class Anchor:
    url: str
    process: subprocess.Popen[bytes]

    def pids(self) -> dict[str, int]:
        return {"rasa": self.process.pid}


@contextlib.contextmanager
def running_anchor(timeout: float = 600) -> Iterator[Anchor]:
    """Plain `rasa run` on a free loopback port with the cached model."""
    folder = prepare()
    port = free_port()
    command = [sys.executable, "-m", "rasa", "run", "-m", "models/anchor.tar.gz", "-i", "127.0.0.1", "-p", str(port)]
    command += ["--credentials", "credentials.yml", "--endpoints", "endpoints.yml"]
    with (folder / "run.log").open("ab") as out:
        process = subprocess.Popen(
            command, cwd=folder, env=_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    anchor = Anchor(url=f"http://127.0.0.1:{port}", process=process)
    try:
        deadline = time.monotonic() + timeout
        while not _ready(anchor.url + "/status") and not _ready(anchor.url + "/"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"plain Rasa did not come up (see {folder / 'run.log'})")
            time.sleep(1)
        yield anchor
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


if __name__ == "__main__":
    print(prepare())

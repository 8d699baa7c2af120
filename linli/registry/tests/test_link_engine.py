"""`linli link --engine`: which engine the fresh database's run matches on."""

import subprocess

import pytest
from django.core.management import CommandError, call_command

from linli.registry.management.commands import link as link_command


@pytest.fixture
def child_runs(monkeypatch):
    """Records the environment of the child process the command starts (it is not run)."""
    runs: list[dict[str, str]] = []

    def run(command, env, check):
        runs.append(env)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.delenv(link_command.FRESH_FLAG, raising=False)
    monkeypatch.delenv("LINLI_LINK_ENGINE", raising=False)
    monkeypatch.setattr(link_command.subprocess, "run", run)
    return runs


def test_engine_flag_reaches_the_run(tmp_path, child_runs):
    source = tmp_path / "户籍.csv"
    source.write_text("姓名\n张三\n", encoding="utf-8")
    call_command("link", str(source), "--out", str(tmp_path / "links.csv"), "--engine", "spark")
    call_command("link", str(source), "--out", str(tmp_path / "links.csv"))
    assert child_runs[0]["LINLI_LINK_ENGINE"] == "spark"
    assert "LINLI_LINK_ENGINE" not in child_runs[1]  # the deployment's setting decides


def test_unknown_engine_is_refused(tmp_path, child_runs):
    source = tmp_path / "户籍.csv"
    source.write_text("姓名\n张三\n", encoding="utf-8")
    with pytest.raises(CommandError, match="engine"):
        call_command("link", str(source), "--out", str(tmp_path / "l.csv"), "--engine", "hive")
    assert child_runs == []

import io
import os
import re
import stat
import threading
from datetime import date

import pytest
from django.core.exceptions import ImproperlyConfigured

from linli.adapters import sms
from linli.adapters.sms.console import ConsoleBackend
from linli.adapters.sms.file import FileBackend, read_outbox
from linli.adapters.sms.locmem import LocmemBackend
from linli.core.phones import InvalidPhone


@pytest.fixture(autouse=True)
def empty_outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def _messages(count, prefix="第"):
    return [
        sms.SmsMessage(to=f"138{i:08d}", text=f"{prefix}{i}条通知", reference=f"ref:{i}")
        for i in range(count)
    ]


# get_backend / send_sms


def test_console_is_the_default_backend(settings):
    """Without LINLI_SMS_BACKEND, get_backend() returns the console backend."""
    if hasattr(settings, "LINLI_SMS_BACKEND"):
        del settings.LINLI_SMS_BACKEND
    assert type(sms.get_backend()) is ConsoleBackend


def test_backend_comes_from_settings_and_options_reach_it(settings, tmp_path):
    """The setting names the class; keyword options go to its constructor."""
    settings.LINLI_SMS_BACKEND = "linli.adapters.sms.file.FileBackend"
    backend = sms.get_backend(folder=tmp_path)
    assert type(backend) is FileBackend
    assert backend.folder == tmp_path
    assert type(sms.get_backend("linli.adapters.sms.locmem.LocmemBackend")) is LocmemBackend


@pytest.mark.parametrize(
    "path", ["linli.adapters.sms.nowhere.Backend", "linli.adapters.sms.SmsMessage"]
)
def test_a_path_that_is_not_a_backend_is_improperly_configured(path):
    """An unimportable path, or a class that is not a backend, raises ImproperlyConfigured."""
    with pytest.raises(ImproperlyConfigured, match="LINLI_SMS_BACKEND"):
        sms.get_backend(path)


def test_unknown_options_are_refused():
    """A misspelt option raises TypeError instead of being ignored."""
    with pytest.raises(TypeError, match="timout"):
        sms.get_backend("linli.adapters.sms.locmem.LocmemBackend", timout=3)


def test_send_sms_uses_the_configured_backend(settings):
    """send_sms() sends one message through LINLI_SMS_BACKEND and returns its result."""
    settings.LINLI_SMS_BACKEND = "linli.adapters.sms.locmem.LocmemBackend"
    result = sms.send_sms(to="138 1234 5678", text="请填写排查问卷", reference="attempt:7")
    assert result.accepted
    assert result.to_masked == "138****5678"
    assert result.reference == "attempt:7"
    assert result.provider_id.startswith("locmem-")
    assert [(m.to, m.text) for m in sms.outbox] == [("13812345678", "请填写排查问卷")]


def test_send_sms_through_a_given_backend_leaves_it_open():
    """A backend passed in is used as is and not closed."""

    class Recording(LocmemBackend):
        closed = False

        def close(self):
            self.closed = True

    backend = Recording()
    sms.send_sms(to="13812345678", text="您好", backend=backend)
    assert not backend.closed
    assert len(sms.outbox) == 1


def test_send_sms_refuses_a_landline_before_the_backend():
    """A number that cannot receive SMS raises InvalidPhone and nothing is sent."""
    with pytest.raises(InvalidPhone):
        sms.send_sms(to="029-8888-1234", text="您好", backend=LocmemBackend())
    assert sms.outbox == []


# console


def test_console_writes_number_reference_and_text():
    """Each message is written with its full number, reference, segments and text."""
    stream = io.StringIO()
    results = ConsoleBackend(stream=stream).send_messages(_messages(2))
    output = stream.getvalue()
    assert "To: 13800000000" in output and "To: 13800000001" in output
    assert "Reference: ref:1" in output and "第1条通知" in output
    assert all(r.accepted and r.provider_id.startswith("console-") for r in results)
    assert [r.provider_id in output for r in results] == [True, True]


def test_console_defaults_to_stdout(capsys):
    """Without a stream the console backend writes to stdout."""
    sms.send_sms(to="13812345678", text="默认输出", backend=ConsoleBackend())
    assert "默认输出" in capsys.readouterr().out


def test_console_blocks_do_not_interleave_across_threads():
    """Messages sent from many threads at once come out as whole blocks."""
    stream = io.StringIO()

    def send(n):
        ConsoleBackend(stream=stream).send_messages(_messages(10, prefix=f"线程{n}-"))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    blocks = re.findall(
        r"---------- SMS console-[0-9a-f]{32} ----------\nTo: 138\d{8}\nReference: ref:\d+\n"
        r"Segments: 1\nSent: \S+\n\n线程\d+-\d+条通知\n-{60}\n",
        stream.getvalue(),
    )
    assert len(blocks) == 160
    assert "".join(blocks) == stream.getvalue()


# file


def test_file_backend_appends_a_line_per_message_and_reads_back(tmp_path):
    """Messages land in today's JSON-lines file and read_outbox() returns them in order."""
    backend = FileBackend(folder=tmp_path)
    first = backend.send_messages(_messages(2))
    second = backend.send_messages([sms.SmsMessage(to="13912345678", text="第三条")])
    records = read_outbox(tmp_path)
    assert [r["to"] for r in records] == ["13800000000", "13800000001", "13912345678"]
    assert [r["text"] for r in records][-1] == "第三条"
    assert [r["id"] for r in records] == [r.provider_id for r in first + second]
    assert records[0]["reference"] == "ref:0" and records[0]["segments"] == 1
    files = list(tmp_path.iterdir())
    assert [f.name for f in files] == [f"{date.fromisoformat(records[0]['sent_at'][:10])}.jsonl"]
    assert stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600
    assert "第三条" in files[0].read_text(encoding="utf-8")  # written as UTF-8, not \\u escapes


def test_read_outbox_by_day_and_for_a_missing_folder(tmp_path):
    """read_outbox() reads one day's file when asked, and nothing from a missing folder."""
    (tmp_path / "2026-01-01.jsonl").write_text(
        '{"id": "file-1", "sent_at": "2026-01-01T08:00:00+08:00", "to": "13800000000",'
        ' "text": "旧", "reference": "", "segments": 1}\n\n',
        encoding="utf-8",
    )
    FileBackend(folder=tmp_path).send_messages(_messages(1))
    assert [r["text"] for r in read_outbox(tmp_path)] == ["旧", "第0条通知"]
    assert [r["id"] for r in read_outbox(tmp_path, day=date(2026, 1, 1))] == ["file-1"]
    assert read_outbox(tmp_path, day=date(2020, 1, 1)) == []
    assert read_outbox(tmp_path / "nothing-yet") == []


def test_file_backend_folder_comes_from_settings(settings, tmp_path):
    """LINLI_SMS_FILE_PATH sets the folder; without it the folder is <VAR_DIR>/sms."""
    settings.LINLI_SMS_FILE_PATH = tmp_path / "outbox"
    assert FileBackend().folder == tmp_path / "outbox"
    del settings.LINLI_SMS_FILE_PATH
    settings.VAR_DIR = tmp_path / "var"
    FileBackend().send_messages(_messages(1))
    assert len(read_outbox()) == 1
    assert (tmp_path / "var" / "sms").is_dir()


def test_file_backend_refuses_a_folder_it_cannot_create(tmp_path):
    """A folder path that is a file raises ImproperlyConfigured."""
    (tmp_path / "taken").write_text("")
    with pytest.raises(ImproperlyConfigured, match="LINLI_SMS_FILE_PATH"):
        FileBackend(folder=tmp_path / "taken")


def test_file_backend_keeps_every_line_whole_across_threads(tmp_path):
    """Concurrent senders neither lose nor mangle lines."""

    def send(n):
        FileBackend(folder=tmp_path).send_messages(_messages(25, prefix=f"线程{n}-"))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r["id"] for r in read_outbox(tmp_path)}) == 200


# locmem


def test_locmem_keeps_messages_in_the_outbox():
    """The locmem backend appends messages to sms.outbox and accepts them."""
    messages = _messages(3)
    with sms.get_backend("linli.adapters.sms.locmem.LocmemBackend") as backend:
        results = backend.send_messages(messages)
    assert sms.outbox == messages
    assert [r.reference for r in results] == ["ref:0", "ref:1", "ref:2"]
    assert all(r.accepted for r in results)


def test_base_backend_requires_send_messages():
    """A backend that does not implement send_messages() says so."""
    with pytest.raises(NotImplementedError):
        sms.BaseSmsBackend().send_messages(_messages(1))

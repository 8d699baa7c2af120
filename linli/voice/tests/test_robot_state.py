"""The robot page says what the robot does and why it does not call (issue 12, item 5)."""

from datetime import datetime, time

from django.utils import timezone, translation

from linli.voice.models import Line, Robot, RobotStatus
from linli.voice.selectors import RobotState, line_label, robot_state


def at(hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime(2026, 3, 2, hour, minute))


def robot(status=RobotStatus.PAUSED, started=None) -> Robot:
    return Robot(status=status, started_at=started, calling_start=time(8), calling_end=time(21))


def test_a_robot_never_started_is_not_paused():
    with translation.override("zh-hans"):
        assert robot_state(robot(), at(10)) == (RobotState.NOT_STARTED, "未开始", "")
        assert robot_state(robot(started=at(9)), at(10))[:2] == (RobotState.PAUSED, "已暂停")


def test_a_started_robot_outside_its_hours_says_when_it_calls():
    running = robot(RobotStatus.RUNNING, started=at(6))
    with translation.override("zh-hans"):
        assert robot_state(running, at(10)) == (RobotState.CALLING, "外呼中", "")
        assert robot_state(running, at(6, 30)) == (
            RobotState.WAITING,
            "等待外呼时段",
            "不在外呼时段，08:00 开始。",
        )
        assert robot_state(running, at(21))[2] == "不在外呼时段，明天 08:00 开始。"
    with translation.override("en"):
        assert robot_state(running, at(22))[2] == (
            "Outside calling hours: calls start tomorrow at 08:00."
        )


def test_the_demo_line_has_a_translated_name():
    with translation.override("zh-hans"):
        assert line_label(Line(name="simulated", carrier="simulated")) == "模拟线路"
        assert line_label(Line(name="电信主线", carrier="sip")) == "电信主线"

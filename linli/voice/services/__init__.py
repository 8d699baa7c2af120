"""Writes of the phone robot, one module per topic (as screening's `services/`).

- `robots`: a campaign's robot started, resumed, paused and configured (calling hours, retry
  rules, line); audited.
- `do_not_call`: numbers the robot never dials, kept as their keyed hash; audited.
- `queue`: the call jobs a robot start or the robot's PhoneChannel queues, and which targets
  are dialable.
- `calls`: the dialer's steps on a job: claim, journal, finish, recovery, sweep and release.

Callers import the topic module: `from linli.voice.services import robots as robot_services`,
then `robot_services.start_robot(...)`. Nothing is re-exported here.
"""

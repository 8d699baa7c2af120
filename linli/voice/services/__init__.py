"""Writes of the phone robot, one module per topic (as screening's `services/`).

- `calls`: the robot's controls, the do-not-call list, the call queue and the dialer's steps
  (being split by topic).

Callers import the topic module: `from linli.voice.services import calls as call_services`.
"""

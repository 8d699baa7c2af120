"""The script the dialer-process tests give `manage.py shell`: a small demo community whose
lead runs a phone campaign with its robot started, calling at any hour."""

IMPORTS = """
from datetime import time
from linli.accounts.models import User
from linli.demo import generator
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.voice.models import CallJob, Line, default_retry_rules
from linli.voice.services import robots as robot_services
"""

_ROBOT_STARTED = """
shape = generator.DemoShape(
    communities=1, grids_per_community=1, compounds_per_grid=1, dwellings_per_compound={dwellings}
)
generator.generate_demo(seed=11, shape=shape, screening=False)
lead = User.objects.get(username="lead1")
community = lead.areas.get()
questionnaire = questionnaire_services.create_questionnaire(
    name="q", area=community, by=lead, from_template="daily_symptoms"
)
campaign = campaign_services.create_campaign(
    name="c",
    questionnaire_version=questionnaire_selectors.latest_version(questionnaire),
    area=community,
    by=lead,
    channels=["phone", "door_knock"],
)
campaign_services.launch_campaign(campaign=campaign, by=lead)
robot_services.robot_of(campaign)
robot_services.configure_robot(
    campaign=campaign, by=lead, calling_start=time(0), calling_end=time(23, 59),
    retry_rules=default_retry_rules(),
)
robot_services.start_robot(campaign=campaign, by=lead)
"""


def robot_started(*, dwellings: int) -> str:
    """Returns the script up to a started robot over `dwellings` dwellings."""
    return IMPORTS + _ROBOT_STARTED.format(dwellings=dwellings)

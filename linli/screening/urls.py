from django.urls import path

from linli.screening.views import campaigns, coverage, door_knock, h5, questionnaires, tasks

app_name = "screening"

urlpatterns = [
    # Questionnaire builder (community leads and officials)
    path("questionnaires/", questionnaires.questionnaire_list, name="questionnaires"),
    path(
        "questionnaires/<int:questionnaire_id>/",
        questionnaires.questionnaire_edit,
        name="questionnaire",
    ),
    # Campaigns
    path("campaigns/", campaigns.campaign_list, name="campaigns"),
    path("campaigns/new/", campaigns.campaign_create, name="campaign_create"),
    path("campaigns/preview/", campaigns.campaign_preview, name="campaign_preview"),
    path("campaigns/<int:campaign_id>/", campaigns.campaign_detail, name="campaign"),
    path("campaigns/<int:campaign_id>/launch/", campaigns.campaign_launch, name="campaign_launch"),
    path("campaigns/<int:campaign_id>/pause/", campaigns.campaign_pause, name="campaign_pause"),
    path("campaigns/<int:campaign_id>/resume/", campaigns.campaign_resume, name="campaign_resume"),
    path("campaigns/<int:campaign_id>/close/", campaigns.campaign_close, name="campaign_close"),
    # H5 links: sending (staff) and the resident's page (signed token, no log-in)
    path("campaigns/<int:campaign_id>/send-links/", h5.send_links, name="send_links"),
    path("h5/<str:token>/", h5.h5_page, name="h5"),
    path("h5/<str:token>/answer/", h5.h5_answer, name="h5_answer"),
    # Door-knock (grid workers' phones)
    path("campaigns/<int:campaign_id>/door-knock/", door_knock.door_knock_page, name="door_knock"),
    # The service worker that opens the door-knock pages offline (scope: campaigns/).
    path("door-knock-worker.js", door_knock.door_knock_worker, name="door_knock_worker"),
    path(
        "campaigns/<int:campaign_id>/door-knock/submit/",
        door_knock.door_knock_submit,
        name="door_knock_submit",
    ),
    # Live coverage and results
    path("campaigns/<int:campaign_id>/coverage/", coverage.coverage_page, name="coverage"),
    path(
        "campaigns/<int:campaign_id>/coverage/live/", coverage.coverage_live, name="coverage_live"
    ),
    path("campaigns/<int:campaign_id>/export.xlsx", coverage.export_results, name="export"),
    # Follow-up tasks raised by risky answers
    path("tasks/", tasks.task_list, name="tasks"),
    path("tasks/<int:task_id>/done/", tasks.task_done, name="task_done"),
]

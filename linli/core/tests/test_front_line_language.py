"""Issue 12, item 9: the admin names third-party apps in Chinese; /favicon.ico is found."""

import pytest
from django.apps import apps
from django.utils import translation

from linli.accounts.models import User


def test_third_party_apps_and_models_have_chinese_names():
    with translation.override("zh-hans"):
        assert str(apps.get_app_config("axes").verbose_name) == "登录锁定"
        assert str(apps.get_app_config("django_tasks_database").verbose_name) == "后台任务"
        models = {
            str(m._meta.verbose_name_plural)
            for label in ("axes", "django_tasks_database")
            for m in apps.get_app_config(label).get_models()
        }
    assert models == {"登录尝试", "登录失败", "登录日志", "登录尝试过期时间", "任务结果"}


@pytest.mark.django_db
def test_the_admin_index_lists_them_in_chinese(client):
    client.force_login(User.objects.create_superuser(username="root", password="a long password"))
    html = client.get("/admin/").content.decode()
    assert "登录锁定" in html and "后台任务" in html
    assert "Axes" not in html and "Tasks Database Backend" not in html


def test_favicon_ico_leads_to_the_static_svg(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith(".svg") and "/static/" in response["Location"]

"""The `linli` command: Django's management commands under the product's own name.

`linli link FILE... --out links.csv` is `python manage.py link FILE... --out links.csv`.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["linli", *sys.argv[1:]])


if __name__ == "__main__":
    main()

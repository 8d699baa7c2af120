"""The `linli` command: Django's management commands under the product's own name.

`linli link FILE... --out links.csv` is `python manage.py link FILE... --out links.csv`, and
`linli check-deploy` is `manage.py check_deploy` (a Python module name cannot hold a hyphen).
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    args = sys.argv[1:]
    if args and not args[0].startswith("-"):
        args[0] = args[0].replace("-", "_")
    execute_from_command_line(["linli", *args])


if __name__ == "__main__":
    main()

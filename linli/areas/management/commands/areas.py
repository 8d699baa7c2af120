"""`linli areas import FILE`: load the area tree from the go-live sheets on the server.

    linli areas template areas.xlsx       # the template, with examples
    linli areas import areas.xlsx --dry-run
    linli areas import areas.xlsx         # previews, then writes in one transaction

No one signs in on the command line, so the whole tree is in reach (as for the superuser);
refused rows are printed in Chinese and English and nothing is written.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext_lazy as _

from linli.areas import services
from linli.areas.importing.plan import Plan, plan_import
from linli.areas.importing.template import area_template
from linli.core.errors import BilingualError, both_languages
from linli.core.sheets import read_sheets


class Command(BaseCommand):
    help = "Imports the area tree from the go-live sheets (docs/go-live.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("import", help="preview and import an areas file (XLSX or CSV)")
        load.add_argument("file", type=Path)
        load.add_argument("--dry-run", action="store_true", help="preview only, write nothing")
        template = sub.add_parser("template", help="write the XLSX template with examples")
        template.add_argument("file", type=Path)

    def handle(self, *args: object, **options: object) -> None:
        path = options["file"]
        assert isinstance(path, Path)
        if options["action"] == "template":
            path.write_bytes(area_template())
            self.stdout.write(str(path))
            return
        try:
            plan = plan_import(read_sheets(path.read_bytes(), path.name), by=None)
        except BilingualError as error:
            raise CommandError(str(error)) from error
        except OSError as error:
            raise CommandError(str(error)) from error
        self._preview(plan)
        if plan.errors:
            raise CommandError(
                both_languages(_("%(n)s rows refused; nothing written."), {"n": len(plan.errors)})
            )
        if options["dry_run"] or not plan.changes:
            return
        counts = services.import_area_tree(plan=plan, file_name=path.name, by=None)
        self.stdout.write(" ".join(f"{key}={value}" for key, value in counts.items()))

    def _preview(self, plan: Plan) -> None:
        write = self.stdout.write
        write(f"rows={plan.rows} changes={plan.changes}")
        for level, count in plan.created_counts.items():
            write(f"create {level}: {count}")
        for node, old in plan.renames:
            write(f"rename {old} -> {node.name}")
        for node, old_code in plan.recodes:
            write(f"recode {node.name}: {old_code or '-'} -> {node.code}")
        for node, old_parent in plan.moves:
            write(f"move {node.name}: {old_parent.names if old_parent else '-'} -> {node.names}")
        for node, added in plan.alias_additions:
            write(f"aliases {node.name}: +{'、'.join(added)}")
        for error in plan.errors:
            self.stderr.write(
                f"{error.sheet} {both_languages(_('row %(n)s'), {'n': error.row})}: {error.both}"
            )

"""Background work of the registry (run by `manage.py db_worker`, inline in tests)."""

from django_tasks import task

from linli.registry.importing.pipeline import run_batch
from linli.registry.models import ImportBatch


@task()
def run_import(batch_id: int) -> str:
    """Runs a queued import; returns its final status."""
    return run_batch(ImportBatch.objects.get(pk=batch_id)).status

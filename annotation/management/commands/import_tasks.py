"""`manage.py import_tasks`: imports tasks from a file (services.imports.tasks.tasks_import)."""
from django.core.management.base import BaseCommand

from annotation.management.base import import_run, project_or_error
from annotation.services.imports.tasks import tasks_import


class Command(BaseCommand):
    help = ('Imports tasks from JSONL or JSONL.gz: {"prompt": str | chat messages, '
            '"responses": [str | {"text", "model"}, ...], "id"?, "metadata"?}. All or nothing.')

    def add_arguments(self, parser):
        parser.add_argument("project", help="project name or id")
        parser.add_argument("file")
        parser.add_argument("--batch-name", default=None)
        parser.add_argument("--pool", action="store_true",
                            help="put the tasks into the active-learning pool: annotators see them only "
                                 "once an acquisition round opens them")

    def handle(self, *args, project, file, batch_name, pool, **options):
        import_run(self, tasks_import, path=file, project=project_or_error(project), batch_name=batch_name, pool=pool)

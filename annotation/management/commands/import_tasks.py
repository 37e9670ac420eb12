from django.core.management.base import BaseCommand

from annotation.importers import import_tasks

from ._base import get_project, run_import


class Command(BaseCommand):
    help = ('Imports tasks from JSONL or JSONL.gz: {"prompt": str | chat messages, '
            '"responses": [str | {"text", "model"}, ...], "id"?, "metadata"?}. All or nothing.')

    def add_arguments(self, parser):
        parser.add_argument("project", help="project name or id")
        parser.add_argument("file")
        parser.add_argument("--batch-name", default=None)

    def handle(self, *args, project, file, batch_name, **options):
        run_import(self, import_tasks, path=file, project=get_project(project), batch_name=batch_name)

"""`manage.py import_pairs`: imports judged pairs from a file (services.imports.pairs.pairs_import)."""
from django.core.management.base import BaseCommand

from annotation.management.base import import_run, project_or_error
from annotation.services.imports.pairs import pairs_import


class Command(BaseCommand):
    help = ("Imports judged pairs from JSONL or JSONL.gz: TRL's prompt/chosen/rejected(/margin) or "
            "Anthropic HH-RLHF chosen/rejected transcripts. All or nothing.")

    def add_arguments(self, parser):
        parser.add_argument("project", help="project name or id")
        parser.add_argument("file")
        parser.add_argument("--format", dest="fmt", choices=["trl", "hh"], default="trl")
        parser.add_argument("--batch-name", default=None)

    def handle(self, *args, project, file, fmt, batch_name, **options):
        import_run(self, pairs_import, path=file, project=project_or_error(project), fmt=fmt, batch_name=batch_name)

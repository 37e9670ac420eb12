from django.core.management.base import BaseCommand

from annotation.importers import import_pairs

from ._base import get_project, run_import


class Command(BaseCommand):
    help = ("Imports judged pairs from JSONL or JSONL.gz: TRL's prompt/chosen/rejected(/margin) or "
            "Anthropic HH-RLHF chosen/rejected transcripts. All or nothing.")

    def add_arguments(self, parser):
        parser.add_argument("project", help="project name or id")
        parser.add_argument("file")
        parser.add_argument("--format", dest="fmt", choices=["trl", "hh"], default="trl")
        parser.add_argument("--batch-name", default=None)

    def handle(self, *args, project, file, fmt, batch_name, **options):
        run_import(self, import_pairs, path=file, project=get_project(project), fmt=fmt, batch_name=batch_name)

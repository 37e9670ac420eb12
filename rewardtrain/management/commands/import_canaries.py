import os

from django.core.management.base import BaseCommand, CommandError

from annotation.management.base import project_or_error
from rewardtrain.monitoring.canaries import canaries_import
from rewardtrain.scoring.files import FileProblems


class Command(BaseCommand):
    help = ("Replaces the project's canary set with a JSONL file of {prompt, response} or {prompt, responses} rows, "
            "all or nothing (every bad line is named as file:line: field: problem). The active model and the "
            "candidates are then scored on it by a worker; every new model version is too.")

    def add_arguments(self, parser):
        parser.add_argument("project", help="project name or id")
        parser.add_argument("file", help="JSONL or JSONL.gz")

    def handle(self, *args, project, file, **options):
        project_obj = project_or_error(project)
        if not os.path.isfile(file):
            raise CommandError(f"{file}: no such file")
        with open(file, "rb") as handle:
            try:
                count = canaries_import(project=project_obj, fileobj=handle, filename=os.path.basename(file))
            except FileProblems as exc:
                raise CommandError(f"Nothing imported:\n{exc}")
        self.stdout.write(f"Imported {count} canary prompts into “{project_obj.name}”.")

"""`manage.py create_project`: creates a project (services.projects.project_create)."""
from django.core.management.base import BaseCommand, CommandError

from annotation.services import projects
from annotation.models import Project


class Command(BaseCommand):
    help = "Creates an annotation project."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--mode", choices=Project.Mode.values, default=Project.Mode.PAIRWISE)
        parser.add_argument("--overlap", type=int, default=1, help="judgements wanted per task (default 1)")
        parser.add_argument("--lease-seconds", type=int, default=600, help="lease length (default 600)")
        parser.add_argument("--gold-rate", type=float, default=0.0,
                            help="percent of requests for work that get a gold task first (default 0)")
        parser.add_argument("--pii-policy", choices=Project.PiiPolicy.values, default=Project.PiiPolicy.OFF,
                            help="off | flag | mask-export | mask-import (default off)")

    def handle(self, *args, name, mode, overlap, lease_seconds, gold_rate, pii_policy, **options):
        if overlap < 1:
            raise CommandError("--overlap must be at least 1.")
        if lease_seconds < 30:
            raise CommandError("--lease-seconds must be at least 30.")
        if not 0 <= gold_rate <= 100:
            raise CommandError("--gold-rate must be between 0 and 100 (percent).")
        try:
            project = projects.project_create(name=name, mode=mode, overlap=overlap, lease_seconds=lease_seconds,
                                              gold_rate=gold_rate / 100, pii_policy=pii_policy)
        except ValueError as exc:  # services.projects.SettingsInvalid names the setting
            raise CommandError(str(exc))
        self.stdout.write(self.style.SUCCESS(f"Created project {project.name!r} (id {project.pk}, {mode}, "
                                             f"overlap {overlap}, lease {lease_seconds}s, gold rate {gold_rate:g}%, "
                                             f"PII policy {pii_policy})."))

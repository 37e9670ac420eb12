"""`manage.py pii_policy`: shows or changes a project's PII policy (annotation.pii.services.project_set_pii_policy),
which also applies it to the text already stored (a job; its progress is on the project's PII page)."""
from django.core.management.base import BaseCommand, CommandError

from annotation.management.base import project_or_error
from annotation.models import Project
from annotation.pii.apply import pii_apply_latest
from annotation.pii.services import PiiPolicyError, project_set_pii_policy


class Command(BaseCommand):
    help = ("Shows or sets a project's PII policy (off | flag | mask-export | mask-import) and applies it to stored "
            "text; switching to mask-import rewrites stored text for good and needs --yes.")

    def add_arguments(self, parser):
        parser.add_argument("project", help="project name or id")
        parser.add_argument("policy", nargs="?", choices=Project.PiiPolicy.values)
        parser.add_argument("--yes", action="store_true", help="confirm an irreversible mask-import")

    def handle(self, *args, project, policy, yes, **options):
        project_obj = project_or_error(project)
        if policy:
            try:
                project_set_pii_policy(project=project_obj, policy=policy, confirm=yes, via="command")
            except PiiPolicyError as exc:
                raise CommandError(str(exc))
        self.stdout.write(f"PII policy of {project_obj.name!r}: {project_obj.pii_policy}.")
        job = pii_apply_latest(project=project_obj)
        if job:
            job.refresh_from_db()
            found = ", ".join(f"{n} {k}" for k, n in job.counts.items() if n) or "nothing found"
            self.stdout.write(f"Applied to stored text ({job.policy}): {job.status}, {job.done} of {job.total} texts, "
                              f"{found}{'; masked in place' if job.mask else ''}.")

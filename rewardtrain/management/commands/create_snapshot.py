"""`manage.py create_snapshot`: cuts the next snapshot version (snapshots.services.snapshot_cut)."""
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from annotation.management.base import project_or_error
from annotation.models import PreferencePair
from rewardtrain.models import DatasetSnapshot
from rewardtrain.snapshots.filters import SnapshotError, UnknownCriterion
from rewardtrain.snapshots.services import snapshot_cut


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; use YYYY-MM-DD.")


class Command(BaseCommand):
    help = ("Freezes a project's preference pairs as its next dataset snapshot version, split "
            "train/validation by prompt, and prints the version, row counts and sha256.")

    def add_arguments(self, parser):
        parser.add_argument("project", help="project name or id")
        parser.add_argument("--criterion", action="append", dest="criteria", metavar="KEY",
                            help='criterion key, repeatable; "overall" (the default) is the overall '
                                 'preference, "*" every criterion')
        parser.add_argument("--source", action="append", dest="sources", default=[], choices=PreferencePair.Source.values,
                            help="repeatable; default both")
        parser.add_argument("--since", help="pairs recorded on or after this date (YYYY-MM-DD)")
        parser.add_argument("--until", help="pairs recorded on or before this date (YYYY-MM-DD)")
        parser.add_argument("--batch", action="append", dest="batches", type=int, default=[], metavar="ID",
                            help="batch id, repeatable")
        parser.add_argument("--min-agreement", type=float, metavar="0..1",
                            help="minimum share of votes on the majority side of a comparison")
        parser.add_argument("--exclude-gold", action="store_true", help="leave out judgements of gold tasks")
        parser.add_argument("--exclude-annotator", action="append", dest="exclude_annotators", default=[],
                            metavar="USER", help="username or user id, repeatable")
        parser.add_argument("--aggregation", default=DatasetSnapshot.Aggregation.EVERY, choices=DatasetSnapshot.Aggregation.values,
                            help="every: one row per judgement pair; majority: one row per comparison "
                                 "weighted by agreement; weighted: votes weighted by gold accuracy")
        parser.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
        parser.add_argument("--val-fraction", type=float, default=0.1, help="share of prompts in validation")

    def handle(self, *args, project, **o):
        project_obj = project_or_error(project)
        try:
            snap = snapshot_cut(
                project=project_obj, criteria=o["criteria"], sources=o["sources"],
                since=iso_date(o["since"]) if o["since"] else None,
                until=iso_date(o["until"]) if o["until"] else None, batch_ids=o["batches"],
                min_agreement=o["min_agreement"], exclude_gold=o["exclude_gold"],
                exclude_annotators=o["exclude_annotators"], aggregation=o["aggregation"], seed=o["seed"],
                val_fraction=o["val_fraction"])
        except UnknownCriterion as exc:
            raise CommandError(str(exc), returncode=2)
        except SnapshotError as exc:
            raise CommandError(str(exc))
        prompts = snap.stats["prompts"]
        self.stdout.write(self.style.SUCCESS(f"Snapshot “{project_obj.name}” v{snap.version} (id {snap.pk})"))
        self.stdout.write(f"rows:   {snap.train_rows} train, {snap.val_rows} val "
                          f"(prompts: {prompts['train']} train, {prompts['val']} val)")
        self.stdout.write(f"sha256: {snap.sha256}")
        for warning in snap.stats.get("warnings", []):
            self.stderr.write(self.style.WARNING(f"Warning: {warning}"))

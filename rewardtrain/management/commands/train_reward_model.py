import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from kombu.exceptions import OperationalError

from annotation.management.base import project_or_error
from rewardtrain.models import TrainingRun
from rewardtrain.snapshots.filters import SnapshotError
from rewardtrain.snapshots.services import snapshot_cut
from rewardtrain.training.config import ConfigError, parse_assignment
from rewardtrain.training.services import RunError, training_run_create


class Command(BaseCommand):
    help = ("Starts a reward-model training run on a snapshot (a fresh one unless --snapshot is given). "
            "A training worker picks it up (now, or whenever one starts); --wait follows it with a "
            "progress bar and prints the validation report's headline numbers.")

    def add_arguments(self, parser):
        parser.add_argument("project", help="project name or id")
        parser.add_argument("--snapshot", type=int, metavar="ID",
                            help="snapshot id; default: cut a new snapshot of every overall pair now")
        parser.add_argument("--set", action="append", dest="config_sets", default=[], metavar="KEY=VALUE",
                            help="TrainConfig field, repeatable (values are JSON: --set epochs=2 --set lr=3e-5)")
        parser.add_argument("--wait", action="store_true", help="follow the run until it finishes")
        parser.add_argument("--in-process", action="store_true",
                            help="train in this process instead of waiting for a worker (a later delivery "
                                 "of the queued task finds the run finished and exits)")

    def handle(self, *args, project, **o):
        project_obj = project_or_error(project)
        try:
            config = dict(parse_assignment(text) for text in o["config_sets"])
        except ConfigError as exc:
            raise CommandError(str(exc))
        snapshot_id = o["snapshot"]
        if snapshot_id is None:
            try:
                snapshot = snapshot_cut(project=project_obj)
            except SnapshotError as exc:
                raise CommandError(str(exc))
            snapshot_id = snapshot.pk
            self.stdout.write(f"Snapshot {snapshot.pk}: version {snapshot.version}, {snapshot.train_rows} train / "
                              f"{snapshot.val_rows} val rows")
        run = None
        try:
            with transaction.atomic():
                run = training_run_create(project=project_obj, snapshot_id=snapshot_id, config=config)
        except RunError as exc:
            raise CommandError(str(exc))
        except OperationalError as exc:  # the row is committed; only the message to the workers failed
            self.stderr.write(self.style.WARNING(f"Could not reach the broker ({exc}): no worker will take run "
                                                 f"{run.pk}; cancel it and start again once the broker is up."))
        self.stdout.write(self.style.SUCCESS(f"Training run {run.pk} queued on snapshot {snapshot_id}."))
        if o["in_process"]:
            from rewardtrain.training.runner import training_run_execute

            self.stdout.write(f"Training in this process: {training_run_execute(run_id=run.pk)}.")
            run.refresh_from_db()
        elif o["wait"]:
            run = self._follow(run)
        if o["wait"] or o["in_process"]:
            self._summary(run)
            if run.status != TrainingRun.Status.SUCCEEDED:
                raise CommandError(f"Run {run.pk} {run.status}: {run.error}")

    def _follow(self, run: TrainingRun) -> TrainingRun:
        from tqdm import tqdm

        with tqdm(total=100, desc=f"run {run.pk}", unit="%", bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}{postfix}]",
                  file=self.stderr._out) as bar:
            while True:
                run.refresh_from_db()
                bar.update(round(run.progress * 100) - bar.n)
                bar.set_postfix_str(run.status)
                if run.status in TrainingRun.FINISHED:
                    return run
                time.sleep(1)

    def _summary(self, run: TrainingRun) -> None:
        model = getattr(run, "model_version", None)
        if model is None:
            return
        r = model.validation_report

        def pct(value):
            return "n/a" if value is None else f"{100 * value:.1f}%"

        self.stdout.write(self.style.SUCCESS(f"Model version {model.version} (id {model.pk}) registered "
                                             f"({model.status})."))
        self.stdout.write(f"validation pairs:   {r['n']} ({r['tie_pairs']} ties)")
        self.stdout.write(f"accuracy:           {pct(r['accuracy'])}   (longer wins: "
                          f"{pct(r['baselines']['longer_wins']['accuracy'])})")
        ceiling = r.get("agreement_ceiling")
        self.stdout.write(f"agreement ceiling:  {pct(ceiling['accuracy']) if ceiling else 'n/a (no overlapping votes)'}")
        self.stdout.write(f"ECE:                {r['ece']:.3f}")
        corr = r.get("length_correlation")
        self.stdout.write(f"reward~length corr: {'n/a' if corr is None else f'{corr:+.2f}'}")
        active = r.get("active_model")
        if active:
            c = active["comparison"] or {}
            self.stdout.write(f"active v{active['version']}:          {pct(active['accuracy'])}; difference "
                              f"{100 * c.get('difference', 0):+.1f} points "
                              f"[{100 * c.get('low', 0):+.1f}, {100 * c.get('high', 0):+.1f}] "
                              f"({c.get('confidence', 0.95):.0%} bootstrap)")
        if run.auto_decision:
            self.stdout.write(f"auto-promote:       {run.auto_decision['text']}")

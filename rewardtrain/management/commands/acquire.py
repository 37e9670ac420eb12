"""`manage.py acquire`: an acquisition round on the project's pool (rewardtrain.active.services)."""
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from kombu.exceptions import OperationalError

from annotation.management.base import project_or_error
from rewardtrain.active.selectors import acquisition_round_picks
from rewardtrain.active.services import AcquisitionError, acquisition_round_create, acquisition_round_execute
from rewardtrain.ml.acquisition import STRATEGIES
from rewardtrain.models import AcquisitionRound


class Command(BaseCommand):
    help = ("Starts an acquisition round: the project's active model scores the pool on the workers, the "
            "strategy picks SIZE tasks, and they are opened to annotators ahead of other tasks. Follows the "
            "round with a progress bar unless --no-wait; --in-process scores here instead of on workers.")

    def add_arguments(self, parser):
        parser.add_argument("project", help="project name or id")
        parser.add_argument("--strategy", required=True, choices=STRATEGIES)
        parser.add_argument("--size", required=True, type=int, help="pool tasks to open")
        parser.add_argument("--epsilon", type=float, default=0.1, help="share of uniform random picks (0-1)")
        parser.add_argument("--diversity", type=float, default=0.3, help="damping of similar picks (0-1; 0 = off)")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--max-candidates", type=int, default=None,
                            help="pool tasks scored at most, a seeded uniform sample of a larger pool; 0 = the "
                                 "whole pool (default: VERDICT_ACQUISITION_MAX_CANDIDATES)")
        parser.add_argument("--no-wait", action="store_true", help="return once the round is queued")
        parser.add_argument("--in-process", action="store_true",
                            help="score the pool in this process instead of on workers")

    def handle(self, *args, project, **o):
        project_obj = project_or_error(project)
        round_ = None
        try:
            with transaction.atomic():
                round_ = acquisition_round_create(project=project_obj, strategy=o["strategy"], size=o["size"],
                                                  epsilon=o["epsilon"], diversity=o["diversity"], seed=o["seed"],
                                                  max_candidates=o["max_candidates"])
        except AcquisitionError as exc:
            raise CommandError(str(exc))
        except OperationalError as exc:  # the row is committed; only the message to the workers failed
            self.stderr.write(self.style.WARNING(f"Could not reach the broker ({exc}); run again with --in-process."))
        self.stdout.write(self.style.SUCCESS(
            f"Acquisition round {round_.pk} queued: {round_.strategy}, size {round_.size}, "
            f"model v{round_.model_version.version}."))
        if o["in_process"]:
            self.stdout.write(f"Scoring in this process: {acquisition_round_execute(round_id=round_.pk, inline=True)}.")
        elif o["no_wait"]:
            return
        round_ = self._follow(round_)
        if round_.status != AcquisitionRound.Status.SUCCEEDED:
            raise CommandError(f"Round {round_.pk} {round_.status}: {round_.error}")
        scored = round_.params.get("candidates", round_.pool_size)
        sampled = f" (scored a random sample of {scored:,})" if scored < round_.pool_size else ""
        self.stdout.write(self.style.SUCCESS(f"Opened {round_.picked} of {round_.pool_size:,} pool task(s){sampled}."))
        for pick in acquisition_round_picks(round_=round_)[:10]:
            rewards = ", ".join(f"{r:+.3f}" for r in pick.rewards)
            self.stdout.write(f"  #{pick.rank:<3} task {pick.task_id:<8} score {pick.score:.4f}"
                              f"{'  (random)' if pick.explore else ''}  rewards [{rewards}]")

    def _follow(self, round_: AcquisitionRound) -> AcquisitionRound:
        from tqdm import tqdm

        with tqdm(total=100, desc=f"round {round_.pk}", unit="%",
                  bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}{postfix}]", file=self.stderr._out) as bar:
            while True:
                round_.refresh_from_db()
                bar.update(round(round_.progress * 100) - bar.n)
                bar.set_postfix_str(f"{round_.status} {round_.chunks_done}/{round_.chunks_total} chunks")
                if round_.status in AcquisitionRound.FINISHED:
                    return round_
                time.sleep(1)

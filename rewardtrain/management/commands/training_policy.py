from django.core.management.base import BaseCommand, CommandError

from annotation.management.base import project_or_error
from rewardtrain.training.config import ConfigError, parse_assignment
from rewardtrain.training.policy import PolicyError, training_policy_of, training_policy_update


class Command(BaseCommand):
    help = ("Shows or sets a project's retrain loop: retrain after N new human judgements (beat cuts a snapshot "
            "and starts a run) and promote the new model automatically when it beats the active one.")

    def add_arguments(self, parser):
        parser.add_argument("project", help="project name or id")
        parser.add_argument("--retrain-every", type=int, metavar="N", help="new judgements per retrain; 0 = off")
        parser.add_argument("--auto-promote", action="store_true", default=None,
                            help="promote when better on the same validation rows")
        parser.add_argument("--no-auto-promote", action="store_false", dest="auto_promote")
        parser.add_argument("--confidence", type=float, dest="promote_confidence", metavar="C",
                            help="confidence of the paired bootstrap interval (default 0.95)")
        parser.add_argument("--set", action="append", dest="config_sets", default=None, metavar="KEY=VALUE",
                            help="TrainConfig override for automatic runs, repeatable (replaces the stored ones)")

    def handle(self, *args, project, **o):
        project_obj = project_or_error(project)
        fields = {k: o[k] for k in ("retrain_every", "auto_promote", "promote_confidence") if o[k] is not None}
        try:
            if o["config_sets"] is not None:
                fields["config"] = dict(parse_assignment(text) for text in o["config_sets"])
            policy = (training_policy_update(project=project_obj, **fields) if fields
                      else training_policy_of(project=project_obj))
        except (ConfigError, PolicyError) as exc:
            raise CommandError(str(exc))
        every = f"after {policy.retrain_every} new judgements" if policy.retrain_every else "off"
        promote = f"when better at {policy.promote_confidence:.0%} confidence" if policy.auto_promote else "off"
        self.stdout.write(f"Retrain: {every}; auto-promote: {promote}; config overrides: {policy.config or '{}'}")
        if policy.last_note:
            self.stdout.write(f"Last automatic step: {policy.last_note}")

"""The retrain loop: a project's training policy, and the beat that cuts a snapshot and starts a run.

Guarantees of ``training_policy_trigger`` (the beat calls it per project): it runs inside one
transaction holding the policy row (``select_for_update(skip_locked=True)``), starts nothing while
a run of the project is queued or running, and advances the judgement watermark in the same
transaction as the run it creates, so two beats at once or one beat run twice start one run.
"""
import logging

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotation.models import Judgement, Project
from annotation.services.audit import audit_record
from rewardtrain.ml.acquisition import STRATEGIES

from ..models import TrainingPolicy, TrainingRun
from ..snapshots.filters import SnapshotError
from ..snapshots.services import snapshot_cut
from .config import ConfigError, config_validate
from .services import RunError, training_run_create

log = logging.getLogger(__name__)
EDITABLE = ("retrain_every", "auto_promote", "auto_promote_manual", "promote_confidence", "config",
            "snapshot_val_fraction", "acquire_after_promote", "acquire_every_hours", "acquire_strategy", "acquire_size")
# Upper bounds of the whole-number fields: beyond them the columns overflow (a 500, not a 400).
POLICY_MAX = {"retrain_every": 10_000_000, "acquire_every_hours": 24 * 365 * 10, "acquire_size": 1_000_000}


class PolicyError(ValueError):
    """A policy value the loop would refuse; the message names the field."""


def training_policy_of(*, project: Project) -> TrainingPolicy:
    """The project's policy; an unsaved default (everything off) when none was set."""
    return TrainingPolicy.objects.filter(project=project).first() or TrainingPolicy(project=project)


def _latest_judgement_id(project_id: int) -> int:
    return Judgement.objects.filter(task__project_id=project_id).aggregate(m=Max("pk"))["m"] or 0


def training_policy_new_judgements(*, policy: TrainingPolicy) -> int:
    """Human judgements of the project since the last automatic trigger (or since the loop was switched on)."""
    return Judgement.objects.filter(task__project_id=policy.project_id, pk__gt=policy.judgements_seen).count()


def training_policy_update(*, project: Project, user=None, **fields) -> TrainingPolicy:
    """Sets some of the policy's fields; PolicyError (nothing saved) for a bad value."""
    unknown = sorted(set(fields) - set(EDITABLE))
    if unknown:
        raise PolicyError(f"Unknown policy field {unknown[0]!r}.")
    if "retrain_every" in fields and (isinstance(fields["retrain_every"], bool)
                                      or not isinstance(fields["retrain_every"], int)
                                      or not 0 <= fields["retrain_every"] <= POLICY_MAX["retrain_every"]):
        raise PolicyError(f"retrain_every must be a whole number from 0 to {POLICY_MAX['retrain_every']:,} "
                          "(0 turns automatic retraining off).")
    if "promote_confidence" in fields and not 0.5 < float(fields["promote_confidence"]) < 1:
        raise PolicyError("promote_confidence must be above 0.5 and below 1, e.g. 0.95.")
    if "snapshot_val_fraction" in fields and not 0 < float(fields["snapshot_val_fraction"]) < 1:
        raise PolicyError("snapshot_val_fraction must be above 0 and below 1 (automatic runs need validation rows).")
    if "acquire_strategy" in fields and fields["acquire_strategy"] not in STRATEGIES:
        raise PolicyError(f"acquire_strategy must be one of {', '.join(STRATEGIES)}.")
    for name, least in (("acquire_size", 1), ("acquire_every_hours", 0)):
        value = fields.get(name, least)
        if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= POLICY_MAX[name]:
            raise PolicyError(f"{name} must be a whole number from {least} to {POLICY_MAX[name]:,}.")
    if "config" in fields:
        try:
            config_validate(config=fields["config"])  # stored as given; the run adds the app defaults
        except ConfigError as exc:
            raise PolicyError(str(exc)) from None
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        policy, _ = TrainingPolicy.objects.select_for_update().get_or_create(project=project)
        if fields.get("retrain_every") and not policy.retrain_every:
            # Switching the loop on counts from now, not from the project's first judgement.
            policy.judgements_seen = _latest_judgement_id(project.pk)
        changed = {key: {"from": getattr(policy, key), "to": value} for key, value in fields.items()
                   if getattr(policy, key) != value}
        for key, value in fields.items():
            setattr(policy, key, value)
        policy.updated_by = user if user is not None and getattr(user, "is_authenticated", False) else None
        policy.save()
        if changed:
            audit_record(action="training_policy.changed", user=user, project=project, target=policy, detail=changed)
    return policy


def training_policy_trigger(*, project_id: int) -> str:
    """Starts an automatic run of the project when its count is reached; returns what it did."""
    with transaction.atomic():
        policy = (TrainingPolicy.objects.select_for_update(skip_locked=True)
                  .filter(project_id=project_id, retrain_every__gt=0).select_related("project").first())
        if policy is None:
            return "off or held by another beat"
        if TrainingRun.objects.filter(project_id=project_id, status__in=TrainingRun.ACTIVE).exists():
            return "a run is queued or running"
        latest = _latest_judgement_id(project_id)
        new = training_policy_new_judgements(policy=policy)
        if new < policy.retrain_every:
            return f"{new} of {policy.retrain_every} new judgements"
        policy.judgements_seen, policy.last_triggered_at = latest, timezone.now()
        reason = f"{new} new judgements (retrain every {policy.retrain_every})"
        try:
            snapshot = snapshot_cut(project=policy.project, val_fraction=policy.snapshot_val_fraction)
            run = training_run_create(project=policy.project, snapshot_id=snapshot.pk, config=policy.config,
                                      trigger=TrainingRun.Trigger.SCHEDULE, trigger_reason=reason)
            policy.last_note = f"{reason}: cut snapshot v{snapshot.version} and started run {run.pk}."
            outcome = f"started run {run.pk}"
        except (SnapshotError, RunError) as exc:
            # The watermark still moves: the loop waits for N more judgements instead of retrying every beat.
            policy.last_note = f"{reason}, but no run was started: {exc}"
            outcome = "not started"
            log.warning("Training policy of project %s: %s", project_id, policy.last_note)
        policy.save(update_fields=["judgements_seen", "last_triggered_at", "last_note", "updated_at"])
    return outcome


def training_policies_trigger() -> dict:
    """Beat: every project whose loop is on, each in its own transaction."""
    ids = TrainingPolicy.objects.filter(retrain_every__gt=0).values_list("project_id", flat=True)
    return {str(project_id): training_policy_trigger(project_id=project_id) for project_id in ids}


def training_policy_confidence(*, project_id: int) -> float:
    """The confidence the validation report's paired bootstrap uses (the policy's, else 0.95)."""
    value = TrainingPolicy.objects.filter(project_id=project_id).values_list("promote_confidence", flat=True).first()
    return value if value is not None else 0.95

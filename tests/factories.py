"""Factories for tests: real rows through the real services."""
import json

import factory
from django.contrib.auth import get_user_model

from annotation.services import projects, tasks
from annotation.models import Membership, Project

PASSWORD = "pass-for-tests-1"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)


    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(PASSWORD)


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    mode = Project.Mode.PAIRWISE


def member(project, role, user=None):
    user = user or UserFactory()
    Membership.objects.create(project=project, user=user, role=role)
    return user


def task(project, n_responses=2, prompt=None, **kwargs):
    """A task with distinct responses; `prompt` may be text or chat messages."""
    count = task.counter = getattr(task, "counter", 0) + 1
    prompt = prompt or f"Prompt number {count}: explain something."
    responses = [f"Response {i} to prompt {count}." for i in range(n_responses)]
    if n_responses != 2 and project.mode == Project.Mode.PAIRWISE:  # task_create checks like an import
        Project.objects.filter(pk=project.pk).update(mode=Project.Mode.RANKING)
        project.mode = Project.Mode.RANKING
    if kwargs.get("is_gold") and kwargs.get("gold_ranking"):
        # Tests write gold answers by 1-based slot number ([[1], [2]]); task_create checks real response ids.
        made = tasks.task_create(project=project, prompt=prompt, responses=responses,
                                 **{k: v for k, v in kwargs.items() if k not in ("is_gold", "gold_ranking")})
        ids = list(made.slots.order_by("position").values_list("response_id", flat=True))
        ranking = [[ids[n - 1] for n in group] for group in kwargs["gold_ranking"]]
        from annotation.models import Task
        Task.objects.filter(pk=made.pk).update(is_gold=True, gold_ranking=ranking)
        made.is_gold, made.gold_ranking = True, ranking
        return made
    return tasks.task_create(project=project, prompt=prompt, responses=responses, **kwargs)


def rubric(project, keys=("helpfulness", "harmlessness", "honesty")):
    return projects.rubric_create(project=project, name="Default rubric", criteria=[{"key": k} for k in keys])


# --- Judgements and pairs written directly (snapshot/export/API tests; added by the snapshots engineer) ---

def judgement(task, annotator, ranking=None, *, strength=None, criteria=None, duration_ms=1500,
              gold_correct=None, both_bad=False, display_order=None):
    """A judgement and its PreferencePair rows, written the way annotation.services.judgements writes them.

    `ranking` holds groups of response ids, best first (default: canonical slot order); `criteria`
    maps criterion key -> ranking and adds that criterion's pairs.
    """
    from annotation.services.judgements import pair_rows
    from annotation.models import Judgement, PreferencePair

    slots = list(task.slots.order_by("position").values_list("response_id", flat=True))
    ranking = ranking or [[r] for r in slots]
    made = Judgement.objects.create(
        task=task, annotator=annotator, ranking=ranking, strength=strength, both_bad=both_bad,
        criteria=criteria or {}, duration_ms=duration_ms, display_order=display_order or slots,
        rubric=task.project.rubric, gold_correct=gold_correct,
    )
    common = {"project": task.project, "prompt": task.prompt, "source": PreferencePair.Source.HUMAN,
              "judgement": made, "annotator": annotator, "batch": task.batch, "provenance": {"task": task.pk}}
    rows = [] if both_bad else [("", ranking, strength)]
    rows += [(key, rank, None) for key, rank in (criteria or {}).items()]
    PreferencePair.objects.bulk_create(
        PreferencePair(chosen_id=c, rejected_id=r, margin=m, is_tie=t, strength=None if t else level,
                       criterion=key, **common)
        for key, rank, level in rows for c, r, m, t in pair_rows(ranking=rank, strength=level)
    )
    return made


def judged_pair(project, annotator=None, *, prefer=0, task=None, **kwargs):
    """A two-response task judged once, preferring response `prefer`; returns the judgement."""
    task = task or globals()["task"](project)
    annotator = annotator or member(project, "annotator")
    slots = list(task.slots.order_by("position").values_list("response_id", flat=True))
    ranking = [[slots[prefer]], [r for i, r in enumerate(slots) if i != prefer]]
    return judgement(task, annotator, ranking, **kwargs)


def imported_pair(project, prompt="An imported prompt?", chosen="A good answer.", rejected="A bad answer.",
                  margin=0.0, batch=None):
    from annotation.hashing import content_hash, pair_hash
    from annotation.models import PreferencePair, Prompt, Response

    prompt_obj, _ = Prompt.objects.get_or_create(project=project, content_hash=content_hash(prompt),
                                                 defaults={"text": prompt})
    c, _ = Response.objects.get_or_create(prompt=prompt_obj, content_hash=content_hash(chosen),
                                          defaults={"text": chosen})
    r, _ = Response.objects.get_or_create(prompt=prompt_obj, content_hash=content_hash(rejected),
                                          defaults={"text": rejected})
    return PreferencePair.objects.create(
        project=project, prompt=prompt_obj, chosen=c, rejected=r, margin=margin, batch=batch,
        source=PreferencePair.Source.IMPORTED,
        dedupe_key=pair_hash(prompt_hash=prompt_obj.content_hash, chosen_hash=c.content_hash,
                             rejected_hash=r.content_hash))


def jsonl(rows) -> bytes:
    """Rows as the bytes of a JSON Lines file."""
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def snapshot_with_both_splits(project, pairs: int = 8):
    """A snapshot with rows on both sides of the train/validation split (training runs need both)."""
    from rewardtrain.snapshots.filters import filters_build
    from rewardtrain.snapshots.services import snapshot_create

    for i in range(pairs):
        imported_pair(project, prompt=f"Training prompt {i}?")
    snapshot = snapshot_create(project=project, filters=filters_build(project=project), val_fraction=0.5)
    assert snapshot.train_rows and snapshot.val_rows, "choose other prompts: one split is empty"
    return snapshot


def api_for(user):
    """A DRF test client signed in as `user`."""
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    return api

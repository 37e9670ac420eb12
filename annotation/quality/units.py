"""Judgements turned into agreement units, and the cache every quality number goes through.

A unit is one (task, response pair) for one criterion ("" = the overall choice). A K-way ranking
gives its C(K, 2) pairs. Each judgement labels each unit with a nominal choice — "A" (the response
with the lower id won), "B", "tie" or "both_bad" — and a signed strength for interval α: +margin
when A won, −margin when B won, 0 for a tie or both bad, where margin is the pair's margin as
snapshots store it ((strength index + 1) × rank distance; 1 × rank distance without a strength).
"""
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import combinations

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Exists, F, IntegerField, Max, OuterRef, Q, Sum, TextField, Value
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Cast, TruncDate

from annotation.models import Adjudication, Assignment, Judgement, ModelAgreementState, Project

CACHE_SECONDS = 7 * 24 * 3600  # every read checks the stamp: an old entry is never served as current


@dataclass
class Units:
    """Units grouped by task: key (task, a, b), and per unit [(annotator id, choice, signed value, day)]."""

    keys: list[tuple[int, int, int]] = field(default_factory=list)
    labels: list[list[tuple[int, str, float, object]]] = field(default_factory=list)


def choice_labels(*, ranking, both_bad: bool, strength: int | None) -> dict[tuple[int, int], tuple[str, float]]:
    """{(a, b): (choice, signed value)} for every pair of responses a < b in a ranking."""
    place = {response: i for i, group in enumerate(ranking) for response in group}
    unit = float(strength + 1) if strength is not None else 1.0
    out = {}
    for a, b in combinations(sorted(place), 2):
        if both_bad:
            out[(a, b)] = ("both_bad", 0.0)
        elif place[a] == place[b]:
            out[(a, b)] = ("tie", 0.0)
        elif place[a] < place[b]:
            out[(a, b)] = ("A", unit * (place[b] - place[a]))
        else:
            out[(a, b)] = ("B", -unit * (place[a] - place[b]))
    return out


def judgement_rows(*, project: Project, criterion: str = "", batch_id: int | None = None, extra: tuple = ()):
    """(task id, annotator id, ranking as JSON text, both bad, strength, day, *extra fields) of the
    project's judgements by task then id, one query. For a criterion: that criterion's ranking, never
    both bad nor a strength, and only the judgements that answered it. JSON comes as text, parsed
    where needed: Django's per-row JSON and datetime conversion is the slow part on 300k rows."""
    qs = Judgement.objects.filter(task__project=project)
    if batch_id is not None:
        qs = qs.filter(task__batch_id=batch_id)
    if criterion:
        qs = qs.filter(criteria__has_key=criterion)
        ranking, both_bad, strength = KeyTransform(criterion, "criteria"), Value(False), Value(None, IntegerField())
    else:
        ranking, both_bad, strength = F("ranking"), F("both_bad"), F("strength")
    return qs.order_by("task_id", "id").values_list(
        "task_id", "annotator_id", Cast(ranking, TextField()), both_bad, strength, TruncDate("created_at"), *extra)


def units_build(*, rows) -> Units:
    """Units from `judgement_rows` (rankings as JSON text or already parsed)."""
    by_unit: dict[tuple, list] = defaultdict(list)
    for task_id, annotator_id, ranking, both_bad, strength, day, *_ in rows:
        if isinstance(ranking, str):
            ranking = json.loads(ranking)
        for (a, b), (choice, value) in choice_labels(ranking=ranking, both_bad=both_bad, strength=strength).items():
            by_unit[(task_id, a, b)].append((annotator_id, choice, value, day))
    keys = sorted(by_unit)
    return Units(keys=keys, labels=[by_unit[k] for k in keys])


def project_stamp(*, project: Project) -> str:
    """Changes whenever a number on the quality pages could: a judgement added, revised or (un)marked
    gold-correct, an assignment skipped, a verdict recorded, the model preferences recomputed. Aggregate queries (~0.1–0.3 s on 300k judgements), so
    the stamp itself is kept VERDICT_QUALITY_STAMP_SECONDS: numbers may lag that much behind."""
    if settings.VERDICT_QUALITY_STAMP_SECONDS > 0 and (stamp := cache.get(_stamp_key(project.pk))) is not None:
        return stamp
    return _stamp_compute(project)


def _stamp_key(project_id: int) -> str:
    return f"quality:v2:{project_id}:stamp"


def quality_stamp_forget(*, project_id: int) -> None:
    """Something the numbers read changed outside judgements (a verdict, the model's preferences): the
    next view checks the stamp at once instead of after VERDICT_QUALITY_STAMP_SECONDS."""
    transaction.on_commit(lambda: cache.delete(_stamp_key(project_id)))
    cache.delete(_stamp_key(project_id))


def _stamp_compute(project: Project) -> str:
    stamp = _stamp_query(project)
    if settings.VERDICT_QUALITY_STAMP_SECONDS > 0:
        cache.set(_stamp_key(project.pk), stamp, settings.VERDICT_QUALITY_STAMP_SECONDS)
    return stamp


def _stamp_query(project: Project) -> str:
    j = Judgement.objects.filter(task__project=project).aggregate(
        n=Count("id"), last=Max("id"), at=Max("created_at"), revisions=Sum("revision"),
        gold=Count("id", filter=Q(gold_correct__isnull=False)), correct=Count("id", filter=Q(gold_correct=True)))
    skips = Assignment.objects.filter(project=project, status=Assignment.Status.SKIPPED).count()
    verdicts = Adjudication.objects.filter(task__project=project).aggregate(n=Count("id"), at=Max("updated_at"))
    model = ModelAgreementState.objects.filter(project=project).values_list("model_version_id", "updated_at").first()
    return (f"{j['n']}.{j['last']}.{j['at'] and j['at'].timestamp()}.{j['revisions']}.{j['gold']}.{j['correct']}.{skips}"
            f".{verdicts['n']}.{verdicts['at'] and verdicts['at'].timestamp()}"
            f".{model and model[0]}.{model and model[1].timestamp()}")


COMPUTERS: dict[str, Callable] = {}  # name -> compute(project, *params), registered by the selectors


def computed(name: str):
    """Registers a selector's compute function under `name`, so that a worker can refresh it by name."""
    def register(fn):
        COMPUTERS[name] = fn
        return fn
    return register


def _key(project_id: int, name: str, params: tuple) -> str:
    return f"quality:v2:{project_id}:{name}:{':'.join(map(str, params))}"


def _store(project: Project, name: str, params: tuple) -> object:
    stamp = _stamp_query(project)  # read first: judgements arriving meanwhile trigger the next refresh
    value = COMPUTERS[name](project, *params)
    if settings.VERDICT_QUALITY_STAMP_SECONDS > 0:  # the interval counts from the numbers just computed
        cache.set(_stamp_key(project.pk), stamp, settings.VERDICT_QUALITY_STAMP_SECONDS)
    cache.set(_key(project.pk, name, params), {"stamp": stamp, "value": value, "at": time.time()}, CACHE_SECONDS)
    return value


class Computing:
    """What `cached(..., wait=False)` returns while a worker computes numbers nobody has stored yet:
    pages show "computing…" and poll, the API answers 202."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "COMPUTING"


COMPUTING = Computing()
REFRESH_LOCK_SECONDS = 600  # one queued refresh per number; a lost worker's lock expires after this


def _judgements_in(stamp: str) -> int:
    return int(stamp.split(".", 1)[0] or 0)


def _refresh_later(project: Project, name: str, params: tuple, key: str) -> None:
    if cache.add(f"{key}:refreshing", 1, timeout=REFRESH_LOCK_SECONDS):
        from annotation.tasks import quality_refresh  # the adapter, imported late as services do

        transaction.on_commit(lambda: quality_refresh.delay(project.pk, name, list(params)))


def cached(*, project: Project, name: str, params: tuple = (), wait: bool = True):
    """The registered `name` computed for this state of the project's judgements (see `project_stamp`).

    Stale-while-revalidate: when judgements arrived since the stored numbers were computed, and those
    are younger than VERDICT_QUALITY_STALE_SECONDS, the caller gets them at once and a worker
    recomputes (one refresh at a time per number). Otherwise, with `wait` (snapshots, commands) the
    numbers are computed here. Without it (pages and the API) a request never computes for seconds:
    they are computed here only for a project of at most VERDICT_QUALITY_INLINE_JUDGEMENTS judgements
    (well under a second); on a larger one a refresh is queued and the older numbers are served, or
    `COMPUTING` when none are stored (the beat, `quality_refresh_due`, keeps that rare)."""
    key = _key(project.pk, name, params)
    entry = cache.get(key)
    stamp = project_stamp(project=project)
    if entry is not None and entry["stamp"] == stamp:
        return entry["value"]
    if entry is not None and time.time() - entry["at"] < settings.VERDICT_QUALITY_STALE_SECONDS:
        _refresh_later(project, name, params, key)
        return entry["value"]
    if wait or _judgements_in(stamp) <= settings.VERDICT_QUALITY_INLINE_JUDGEMENTS:
        return _store(project, name, params)
    _refresh_later(project, name, params, key)
    return COMPUTING if entry is None else entry["value"]


# The numbers the pages open with; the beat keeps them current so that a first view rarely waits.
PAGE_NUMBERS = (("agreement", ("", None)), ("annotators", ()), ("dashboard", ()), ("leaderboard", ("",)))


def quality_refresh_due() -> list[str]:
    """Beat (every VERDICT_QUALITY_REFRESH_SECONDS): for every project with judgements, queue a refresh
    of each page number stored for an older state of its judgements, or never stored. Returns what
    was queued ("project:name")."""
    queued = []
    with_judgements = Project.objects.filter(Exists(Judgement.objects.filter(task__project=OuterRef("pk"))))
    for project in with_judgements.only("pk"):
        stamp = _stamp_compute(project)
        for name, params in PAGE_NUMBERS:
            key = _key(project.pk, name, params)
            entry = cache.get(key)
            if (entry is None or entry["stamp"] != stamp) and cache.get(f"{key}:refreshing") is None:
                _refresh_later(project, name, params, key)
                queued.append(f"{project.pk}:{name}")
    return queued


def quality_refresh(*, project_id: int, name: str, params: list) -> None:
    """Recomputes one cached number (the Celery task `quality_refresh` calls this); safe to run twice."""
    from . import agreement, annotators, dashboard, leaderboard  # noqa: F401 (they register their computers)

    params = tuple(params)
    try:
        project = Project.objects.filter(pk=project_id).first()
        if project is not None and name in COMPUTERS:
            _store(project, name, params)
    finally:
        cache.delete(f"{_key(project_id, name, params)}:refreshing")


def scope_check(*, project: Project, criterion: str = "", batch_id: int | None = None) -> str:
    """The criterion key to use ("" for the overall choice, also written "overall"), or ValueError
    naming the criterion or batch that is not the project's."""
    from annotation.models import Batch, Criterion

    criterion = (criterion or "").strip()
    if criterion.lower() == "overall":
        criterion = ""
    if "\x00" in criterion:  # no key holds one, and PostgreSQL refuses it in a query
        raise ValueError("criterion: must not contain NUL characters.")
    if criterion and not Criterion.objects.filter(rubric__project=project, key=criterion).exists():
        keys = sorted(set(Criterion.objects.filter(rubric__project=project).values_list("key", flat=True)))
        raise ValueError(f"criterion: “{criterion}” is not a criterion of this project's rubric; "
                         f"use one of {', '.join(keys) or '(none: the project has no rubric criteria)'} or leave it out.")
    if batch_id is not None and not Batch.objects.filter(project=project, pk=batch_id).exists():
        raise ValueError(f"batch: no batch {batch_id} in this project.")
    return criterion


def numbers_as_of(*, project: Project, name: str, params: tuple = ()) -> dict | None:
    """When the stored `name` numbers were computed, and whether judgements arrived since (the pages
    say so, as a refresh is then on its way); None when nothing is stored."""
    entry = cache.get(_key(project.pk, name, params))
    if entry is None:
        return None
    return {"at": datetime.fromtimestamp(entry["at"], tz=timezone.utc),
            "current": entry["stamp"] == project_stamp(project=project)}

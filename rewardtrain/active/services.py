"""Acquisition rounds: which pool tasks humans judge next.

A round moves queued → scoring → selecting → succeeded (or failed, with the error):

1. ``acquisition_round_create`` checks the request (a known strategy, size ≥ 1, an active model, a
   non-empty pool, no other round of the project in flight: also a database constraint) and
   enqueues ``acquisition_round_execute`` on commit.
2. ``acquisition_round_execute`` claims the round, takes the candidates (the project's POOL tasks at
   that moment, by id; on a pool larger than the round's ``max_candidates`` a uniform random sample
   of that many, seeded with the round's seed, see ``candidate_sample``), cuts them into chunks of ``VERDICT_ACQUISITION_CHUNK_TASKS`` and fans out a Celery chord:
   one ``acquisition_chunk_score`` per chunk, then ``acquisition_round_select``. A 1M-task pool
   is a matter of adding workers; in eager mode (tests) the chord runs inline.
3. ``acquisition_chunk_score`` scores its tasks' responses with the active model (the warm
   per-process cache of rewardtrain.scoring.cache) and writes rewards and last-layer features to
   storage (.npz); K-way tasks are scored per response and compared over their C(K, 2) pairs.
4. ``acquisition_round_select`` reads every chunk, runs the strategy (rewardtrain.ml.acquisition,
   seeded for dopt/disagreement with the project's labelled pairs), and in one transaction opens
   the picks still in the pool with a priority above every other task of the project (pick 0
   first), records them as ``AcquisitionPick`` rows and finishes the round.

Every step is safe to run twice: each claims the round or chunk with a conditional UPDATE.
"""
from __future__ import annotations

import io
import logging
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from annotation.models import PreferencePair, Project, Task, TaskSlot
from rewardtrain.ml.acquisition import STRATEGIES, bootstrap_heads, select, task_pairs, uncertainty_scores

from ..models import AcquisitionChunk, AcquisitionPick, AcquisitionRound, ModelVersion, TrainingPolicy

log = logging.getLogger(__name__)
Status = AcquisitionRound.Status
HISTOGRAM_BINS = 20
OVERALL = "overall"


class AcquisitionError(ValueError):
    """A round that cannot start; the message says why and what to do. Nothing was changed."""


class AcquisitionConflict(AcquisitionError):
    """The request is fine but the project's state forbids it now (no active model, an empty pool,
    a round in flight): the API answers 409."""


def _user(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _setting(name: str, default):
    return getattr(settings, name, default)


ROUND_MAX_SIZE = 1_000_000  # the API's bound too; more would overflow the column (a 500, not a 400)
MAX_CANDIDATES_LIMIT = 100_000_000


def default_max_candidates() -> int:
    """VERDICT_ACQUISITION_MAX_CANDIDATES: pool tasks a round scores at most (0 = the whole pool)."""
    return int(_setting("VERDICT_ACQUISITION_MAX_CANDIDATES", 20_000))


def candidate_sample(pool: list[int], *, max_candidates: int, seed: int) -> list[int]:
    """The pool tasks a round scores: all of them when ``max_candidates`` is 0 or the pool is no
    larger; else a uniform random sample of ``max_candidates`` without replacement, in id order,
    the same for the same (pool, seed).

    Scoring is what a round costs (a forward pass per response), while the strategies only need
    enough candidates to find informative ones: the most uncertain of 20,000 random tasks is about
    as uncertain as the most uncertain of 1,000,000, and a uniform sample keeps the pool's mix of
    prompts. Scoring a random subset each round ("subsampled pool", as BAL-PM and most batch
    active-learning work on large pools do) bounds a round's cost; later rounds draw other samples."""
    if max_candidates <= 0 or len(pool) <= max_candidates:
        return pool
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(pool), size=max_candidates, replace=False))
    return [pool[i] for i in chosen.tolist()]


def acquisition_params_check(*, strategy, size, epsilon=0.1, diversity=0.3, seed=0, max_candidates=None) -> dict:
    """The round's parameters, checked; AcquisitionError names the field. ``max_candidates`` None
    takes VERDICT_ACQUISITION_MAX_CANDIDATES; 0 scores the whole pool."""
    if strategy not in STRATEGIES:
        raise AcquisitionError(f"strategy: unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}.")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= ROUND_MAX_SIZE:
        raise AcquisitionError(f"size: must be a whole number from 1 to {ROUND_MAX_SIZE:,}, got {size!r}.")
    for name, value in (("epsilon", epsilon), ("diversity", diversity)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise AcquisitionError(f"{name}: must be a number from 0 to 1, got {value!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise AcquisitionError(f"seed: must be a whole number, got {seed!r}.")
    if max_candidates is None:
        max_candidates = default_max_candidates()
    if isinstance(max_candidates, bool) or not isinstance(max_candidates, int) or not 0 <= max_candidates <= MAX_CANDIDATES_LIMIT:
        raise AcquisitionError(f"max_candidates: must be a whole number from 0 (the whole pool) to "
                               f"{MAX_CANDIDATES_LIMIT:,}, got {max_candidates!r}.")
    if 0 < max_candidates < size:
        raise AcquisitionError(f"max_candidates: {max_candidates:,} candidates cannot yield {size:,} picks; "
                               "use at least the round's size, or 0 for the whole pool.")
    return {"epsilon": float(epsilon), "diversity": float(diversity), "seed": seed, "max_candidates": max_candidates}


def acquisition_round_create(*, project: Project, strategy: str, size: int, user=None,
                             trigger: str = AcquisitionRound.Trigger.MANUAL, epsilon: float = 0.1,
                             diversity: float = 0.3, seed: int | None = None,
                             max_candidates: int | None = None) -> AcquisitionRound:
    """A queued round scored with the project's active model; AcquisitionError (nothing saved) when it
    cannot start. The work runs on a worker (``acquisition_round_execute``, enqueued on commit).
    ``max_candidates``: pool tasks scored at most, a seeded uniform sample (None: the setting; 0: all)."""
    params = acquisition_params_check(strategy=strategy, size=size, epsilon=epsilon, diversity=diversity,
                                      seed=0 if seed is None else seed, max_candidates=max_candidates)
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        model = ModelVersion.objects.filter(project=project, status=ModelVersion.Status.ACTIVE).first()
        if model is None:
            raise AcquisitionConflict(f"Project “{project.name}” has no active model: train a model and promote it "
                                   "before an acquisition round.")
        if not Task.objects.filter(project=project, status=Task.Status.POOL).exists():
            raise AcquisitionConflict(f"Project “{project.name}” has no pool tasks: import tasks into the pool first "
                                   "(import_tasks --pool, or the import page's pool checkbox).")
        if strategy == "disagreement" and _labelled_pairs(project.pk, limit=2).count() < 2:
            raise AcquisitionError("strategy: disagreement resamples the project's judged pairs and needs at "
                                   "least 2; use uncertainty or dopt until there are some.")
        busy = AcquisitionRound.objects.filter(project=project, status__in=AcquisitionRound.ACTIVE).first()
        if busy is not None:
            raise AcquisitionConflict(f"Acquisition round {busy.pk} of this project is still {busy.status}; "
                                   "wait for it to finish.")
        if seed is None:
            params["seed"] = AcquisitionRound.objects.filter(project=project).count()
        params["chunk_tasks"] = int(_setting("VERDICT_ACQUISITION_CHUNK_TASKS", 1000))
        try:
            with transaction.atomic():
                round_ = AcquisitionRound.objects.create(project=project, model_version=model, strategy=strategy,
                                                         size=size, params=params, trigger=trigger,
                                                         created_by=_user(user))
        except IntegrityError:  # a round created at the same moment (the one-in-flight constraint)
            raise AcquisitionConflict("Another acquisition round of this project was just started; wait for it "
                                   "to finish.") from None

    def enqueue():
        from ..tasks import acquisition_round_execute as task

        task.delay(round_.pk)

    transaction.on_commit(enqueue)
    return round_


def _fail(round_id: int, error: str) -> None:
    AcquisitionRound.objects.filter(pk=round_id, status__in=AcquisitionRound.ACTIVE).update(
        status=Status.FAILED, error=error[:5000], finished_at=timezone.now(), updated_at=timezone.now())
    log.warning("Acquisition round %s failed: %s", round_id, error)


def acquisition_round_execute(*, round_id: int, inline: bool = False) -> str:
    """Claims a queued round, cuts its pool into chunks and fans the scoring out as a chord
    (``inline``: scores the chunks one after another in this process instead, e.g. for a command)."""
    now = timezone.now()
    with transaction.atomic():
        if not AcquisitionRound.objects.filter(pk=round_id, status=Status.QUEUED).update(
                status=Status.SCORING, started_at=now, updated_at=now):
            return "not queued"
        round_ = AcquisitionRound.objects.get(pk=round_id)
        pool = list(Task.objects.filter(project_id=round_.project_id, status=Task.Status.POOL)
                    .order_by("id").values_list("id", flat=True))
        params = dict(round_.params)
        # The sample is recorded: the chunks keep its task ids, params say how many of how many.
        candidates = candidate_sample(pool, max_candidates=int(params.get("max_candidates", 0)),
                                      seed=int(params.get("seed", 0)))
        params["candidates"] = len(candidates)
        step = max(1, int(params.get("chunk_tasks", 1000)))
        chunks = [candidates[i:i + step] for i in range(0, len(candidates), step)]
        if round_.strategy == "random":
            chunks = []  # random picks read no scores: nothing to compute, the whole pool is the sample
            params["candidates"] = len(pool)
        AcquisitionChunk.objects.bulk_create(AcquisitionChunk(round=round_, index=i, task_ids=ids)
                                             for i, ids in enumerate(chunks))
        AcquisitionRound.objects.filter(pk=round_id).update(pool_size=len(pool), chunks_total=len(chunks),
                                                            params=params)
    if not pool:
        _fail(round_id, "The pool was empty when the round started (another round or an admin opened its tasks).")
        return "failed"
    if inline:
        for chunk_id in AcquisitionChunk.objects.filter(round_id=round_id).order_by("index").values_list("id", flat=True):
            acquisition_chunk_score(chunk_id=chunk_id)
        return acquisition_round_select(round_id=round_id)
    from celery import chord

    from .. import tasks

    if not chunks:
        tasks.acquisition_round_select.delay(round_id)
    else:
        ids = AcquisitionChunk.objects.filter(round_id=round_id).order_by("index").values_list("id", flat=True)
        chord(tasks.acquisition_chunk_score.si(chunk_id) for chunk_id in ids)(tasks.acquisition_round_select.si(round_id))
    return f"{len(chunks)} chunk(s)"


def _overall_column(model) -> int:
    heads = list(getattr(model, "heads", []) or [])
    return heads.index(OVERALL) if OVERALL in heads else 0


def _pool_texts(task_ids: list[int]) -> tuple[list[str], list[str], list[int]]:
    """(prompt of each response, response text, responses per task) in task order, then slot order."""
    slots = (TaskSlot.objects.filter(task_id__in=task_ids).order_by("task_id", "position")
             .values_list("task_id", "task__prompt__text", "response__text"))
    by_task: dict[int, list[tuple[str, str]]] = {}
    for task_id, prompt, response in slots:
        by_task.setdefault(task_id, []).append((prompt, response))
    prompts, responses, sizes = [], [], []
    for task_id in task_ids:
        rows = by_task.get(task_id, [])
        prompts += [p for p, _ in rows]
        responses += [r for _, r in rows]
        sizes.append(len(rows))
    return prompts, responses, sizes


def acquisition_chunk_score(*, chunk_id: int) -> str:
    """Scores one chunk's tasks with the round's model; writes rewards and features to storage."""
    from ..scoring.cache import loaded_model

    chunk = AcquisitionChunk.objects.select_related("round__model_version").filter(pk=chunk_id).first()
    if chunk is None or chunk.done:
        return "done"
    round_ = chunk.round
    if round_.status != Status.SCORING:
        return f"round is {round_.status}"
    try:
        model = loaded_model(model_version=round_.model_version)
        prompts, responses, sizes = _pool_texts(chunk.task_ids)
        rewards, features = model.features(prompts, responses)
        buffer = io.BytesIO()
        np.savez(buffer, task_ids=np.array(chunk.task_ids, dtype=np.int64), sizes=np.array(sizes, dtype=np.int64),
                 rewards=rewards[:, _overall_column(model)].astype(np.float32), features=features.astype(np.float16))
        path = default_storage.save(f"acquisition/round-{round_.pk}/chunk-{chunk.index}.npz",
                                    ContentFile(buffer.getvalue()))
    except Exception as exc:  # the chord's callback never runs after a failed chunk: fail the round here
        log.exception("Acquisition round %s chunk %s failed", round_.pk, chunk.index)
        _fail(round_.pk, f"Scoring chunk {chunk.index} failed: {type(exc).__name__}: {exc}")
        return "failed"
    with transaction.atomic():
        if not AcquisitionChunk.objects.filter(pk=chunk_id, done=False).update(done=True, result_path=path):
            default_storage.delete(path)  # a second delivery finished first
            return "done"
        locked = AcquisitionRound.objects.select_for_update().get(pk=round_.pk)
        done = locked.chunks_done + 1
        AcquisitionRound.objects.filter(pk=round_.pk).update(
            chunks_done=done, progress=min(0.9, 0.9 * done / max(1, locked.chunks_total)), updated_at=timezone.now())
    return "scored"


def _labelled_pairs(project_id: int, limit: int):
    return (PreferencePair.objects.filter(project_id=project_id, criterion="", is_tie=False)
            .order_by("-id").values_list("prompt__text", "chosen__text", "rejected__text")[:limit])


def _labelled_features(model, project_id: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(pairs, 2, d) features and (pairs, 2) rewards of the project's latest labelled pairs (chosen first)."""
    rows = list(_labelled_pairs(project_id, int(_setting("VERDICT_ACQUISITION_LABELLED_MAX", 512))))
    if not rows:
        return None, None
    prompts = [p for p, _, _ in rows for _ in (0, 1)]
    texts = [t for _, chosen, rejected in rows for t in (chosen, rejected)]
    rewards, features = model.features(prompts, texts)
    return (features.reshape(len(rows), 2, -1).astype(np.float64),
            rewards[:, _overall_column(model)].reshape(len(rows), 2).astype(np.float64))


def _histogram(values: np.ndarray, picked: np.ndarray) -> dict:
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    return {"measure": "uncertainty", "edges": [round(float(e), 4) for e in edges],
            "pool": np.histogram(np.clip(values, 0, 1), edges)[0].tolist(),
            "picks": np.histogram(np.clip(values[picked], 0, 1), edges)[0].tolist() if len(picked) else
            [0] * HISTOGRAM_BINS}


def _chunk_arrays(round_: AcquisitionRound) -> dict[str, np.ndarray]:
    parts: dict[str, list[np.ndarray]] = {"task_ids": [], "sizes": [], "rewards": [], "features": []}
    for path in AcquisitionChunk.objects.filter(round=round_).order_by("index").values_list("result_path", flat=True):
        with default_storage.open(path, "rb") as handle:
            data = np.load(io.BytesIO(handle.read()))
            for key in parts:
                parts[key].append(data[key])
    return {key: np.concatenate(value) if value else np.zeros(0) for key, value in parts.items()}


def _select(round_: AcquisitionRound) -> tuple[list[int], list[float], list[bool], list[list[float]], dict]:
    """(task ids in pick order, scores, explore flags, rewards per pick, pool histogram)."""
    params = round_.params
    if round_.strategy == "random":
        pool = list(Task.objects.filter(project_id=round_.project_id, status=Task.Status.POOL)
                    .order_by("id").values_list("id", flat=True))
        order, scores = select("random", rewards=np.zeros(2 * len(pool)), size=round_.size, seed=params["seed"])
        return [pool[i] for i in order], [0.0] * len(order), [False] * len(order), [[] for _ in order], {}
    from ..scoring.cache import loaded_model

    data = _chunk_arrays(round_)
    task_ids, sizes = data["task_ids"].astype(np.int64), data["sizes"].astype(np.int64)
    keep = sizes >= 2  # a task whose responses were deleted cannot be compared
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    groups = [list(range(offsets[t], offsets[t + 1])) for t in np.flatnonzero(keep)]
    task_ids = task_ids[keep]
    rewards = data["rewards"].astype(np.float64)
    features = data["features"].astype(np.float32)
    labelled_f = labelled_r = None
    strategy_rewards = rewards
    if round_.strategy in ("dopt", "disagreement"):
        model = loaded_model(model_version=round_.model_version)
        labelled_f, labelled_r = _labelled_features(model, round_.project_id)
        if round_.strategy == "disagreement":
            head = _head_weights(model)
            heads = bootstrap_heads(labelled_f, head, seed=params["seed"])
            bias = rewards - features.astype(np.float64) @ head  # the head's bias (and rounding) stay as is
            strategy_rewards = features.astype(np.float64) @ heads.T + bias[:, None]
            strategy_rewards = strategy_rewards.T
    order, scores = select(round_.strategy, rewards=strategy_rewards, features=features, k_way_groups=groups,
                           size=round_.size, epsilon=params["epsilon"], diversity=params["diversity"],
                           seed=params["seed"], labeled_features=labelled_f, labeled_rewards=labelled_r)
    n_explore = int(round(params["epsilon"] * min(round_.size, len(groups))))
    explore = [i >= len(order) - n_explore for i in range(len(order))]
    uncertainty = uncertainty_scores(rewards, task_pairs(groups))
    picked_rewards = [[round(float(rewards[r]), 6) for r in groups[t]] for t in order]
    return ([int(task_ids[t]) for t in order], [float(s) for s in scores], explore, picked_rewards,
            _histogram(uncertainty, np.asarray(order, dtype=np.int64)))


def _head_weights(model) -> np.ndarray:
    from rewardtrain.ml.features import head_layer

    return head_layer(model.scorer.model).weight.detach().float().cpu().numpy()[_overall_column(model)].astype(np.float64)


def acquisition_round_select(*, round_id: int) -> str:
    """The chord's callback: picks, opens the picks with a priority, records them, finishes the round."""
    with transaction.atomic():
        if not AcquisitionRound.objects.filter(pk=round_id, status=Status.SCORING).update(
                status=Status.SELECTING, progress=0.9, updated_at=timezone.now()):
            return "not scoring"
    round_ = AcquisitionRound.objects.select_related("model_version").get(pk=round_id)
    missing = AcquisitionChunk.objects.filter(round=round_, done=False).count()
    if missing:
        _fail(round_id, f"{missing} chunk(s) were not scored.")
        return "failed"
    try:
        task_ids, scores, explore, rewards, histogram = _select(round_)
    except Exception as exc:
        log.exception("Acquisition round %s selection failed", round_id)
        _fail(round_id, f"Selection failed: {type(exc).__name__}: {exc}")
        return "failed"
    with transaction.atomic():
        if not AcquisitionRound.objects.select_for_update().filter(pk=round_id, status=Status.SELECTING).exists():
            return "not selecting"
        still_pool = set(Task.objects.select_for_update().filter(pk__in=task_ids, status=Task.Status.POOL)
                         .values_list("id", flat=True))
        top = Task.objects.filter(project_id=round_.project_id).exclude(status=Task.Status.POOL) \
            .aggregate(m=Max("priority"))["m"] or 0.0
        kept = [(t, s, e, r) for t, s, e, r in zip(task_ids, scores, explore, rewards) if t in still_pool]
        tasks = []
        for rank, (task_id, *_rest) in enumerate(kept):
            tasks.append(Task(pk=task_id, status=Task.Status.OPEN, priority=top + len(kept) - rank))
        Task.objects.bulk_update(tasks, ["status", "priority"], batch_size=1000)
        AcquisitionPick.objects.bulk_create([
            AcquisitionPick(round=round_, task_id=task_id, rank=rank, score=score, explore=flag, rewards=rew)
            for rank, (task_id, score, flag, rew) in enumerate(kept)], batch_size=1000)
        if histogram:
            kept_set = {t for t, *_ in kept}
            histogram["lost"] = len(task_ids) - len(kept_set)
        AcquisitionRound.objects.filter(pk=round_id).update(
            status=Status.SUCCEEDED, progress=1.0, picked=len(kept), pool_scores=histogram,
            finished_at=timezone.now(), updated_at=timezone.now())
    paths = list(AcquisitionChunk.objects.filter(round_id=round_id).exclude(result_path="")
                 .values_list("result_path", flat=True))
    for path in paths:  # the scores live on in the picks and the histogram; the features are not kept
        default_storage.delete(path)
    return f"opened {len(kept)} task(s)"


def acquisition_rounds_fail_stale() -> list[int]:
    """Beat: rounds without progress for VERDICT_ACQUISITION_STALE_SECONDS lost their worker."""
    limit = int(_setting("VERDICT_ACQUISITION_STALE_SECONDS", 3600))
    cutoff = timezone.now() - timedelta(seconds=limit)
    stale = list(AcquisitionRound.objects.filter(status__in=AcquisitionRound.ACTIVE, updated_at__lt=cutoff)
                 .values_list("id", flat=True))
    for round_id in stale:
        _fail(round_id, f"No progress for {limit} s: a worker was lost. Start a new round.")
    return stale


def acquisition_after_promote(*, model_version_id: int) -> str:
    """Called after a promotion commits: a round with the new model when the project's policy says so."""
    model = ModelVersion.objects.select_related("project").filter(pk=model_version_id).first()
    policy = TrainingPolicy.objects.filter(project_id=model.project_id).first() if model else None
    if policy is None or not policy.acquire_after_promote:
        return "off"
    return _policy_round(policy, trigger=AcquisitionRound.Trigger.PROMOTE)


def _policy_round(policy: TrainingPolicy, *, trigger: str) -> str:
    try:
        round_ = acquisition_round_create(project=policy.project, strategy=policy.acquire_strategy,
                                          size=policy.acquire_size, trigger=trigger)
    except AcquisitionError as exc:
        log.info("No %s acquisition round for project %s: %s", trigger, policy.project_id, exc)
        return f"not started: {exc}"
    return f"started round {round_.pk}"


def acquisition_rounds_schedule() -> dict:
    """Beat: projects whose policy asks for a round every N hours get one when the last is older."""
    out = {}
    now = timezone.now()
    for policy in TrainingPolicy.objects.filter(acquire_every_hours__gt=0).select_related("project"):
        last = AcquisitionRound.objects.filter(project_id=policy.project_id).aggregate(m=Max("created_at"))["m"]
        if last is not None and last > now - timedelta(hours=policy.acquire_every_hours):
            out[str(policy.project_id)] = "not due"
            continue
        out[str(policy.project_id)] = _policy_round(policy, trigger=AcquisitionRound.Trigger.SCHEDULE)
    return out

"""Simulated annotators of known behaviour post through the annotation API; the quality API must give
the numbers their behaviour implies (computed here independently, from what the API returned).

Every task has a strong and a weak response (the strong one is created first: it is "A"). Three
careful annotators always pick the strong response, one always picks the response shown first, one
always ties. Overlap 5: everyone judges every task.
"""
import random

import krippendorff
import numpy as np
import pytest
from rest_framework.test import APIClient

from annotation.models import Judgement
from annotation.services.gold import task_mark_gold
from annotation.services.tasks import task_create
from tests import factories

pytestmark = pytest.mark.django_db
N_TASKS = 24


def choose(kind, shown, strong):
    weak = [r for r in shown if r != strong][0]
    if kind == "careful":
        return [[strong], [weak]]
    if kind == "left":
        return [[shown[0]], [shown[1]]]
    if kind == "tie":
        return [shown]
    raise AssertionError(kind)


@pytest.fixture
def world(project):
    project.overlap = 5
    project.save()
    tasks = [task_create(project=project, prompt=f"Question {i}?", responses=[
        {"text": f"Strong answer {i}.", "model": "strong-llm"}, {"text": f"Weak answer {i}.", "model": "weak-llm"}])
        for i in range(N_TASKS)]
    strong = {t.pk: t.slots.get(position=0).response_id for t in tasks}
    kinds = ["careful", "careful", "careful", "left", "tie"]
    users = {}
    shown_first = {}  # task -> the response the always-left annotator saw first
    for n, kind in enumerate(kinds):
        user = factories.member(project, "annotator", factories.UserFactory(username=f"{kind}{n}"))
        users[f"{kind}{n}"] = user
        client = APIClient()
        client.force_authenticate(user)
        while (lease := client.post(f"/api/v1/projects/{project.pk}/next-task/")).status_code == 200:
            body = lease.json()
            shown = [r["id"] for r in body["task"]["responses"]]
            if kind == "left":
                shown_first[body["task"]["id"]] = shown[0]
            answer = {"ranking": choose(kind, shown, strong[body["task"]["id"]]), "duration_ms": 1000 if kind == "tie" else 9000}
            assert client.post(f"/api/v1/assignments/{body['assignment_id']}/judgement/", answer,
                               format="json").status_code == 201
    assert Judgement.objects.filter(task__project=project).count() == N_TASKS * 5
    admin = factories.member(project, "admin")
    client = APIClient()
    client.force_authenticate(admin)
    return {"project": project, "client": client, "strong": strong, "shown_first": shown_first, "users": users,
            "tasks": tasks}


def get(w, path):
    response = w["client"].get(f"/api/v1/projects/{w['project'].pk}/{path}")
    assert response.status_code == 200, response.content
    return response.json()


def test_agreement_matches_the_annotators_behaviour(world):
    left_right = sum(world["shown_first"][t] == world["strong"][t] for t in world["strong"])  # left annotator correct
    # Per task: labels A A A (careful) + A or B (left) + tie. Agreeing ordered pairs: left correct → A×4, tie:
    # 4·3 = 12 of 5·4 = 20; left wrong → A×3, B, tie: 3·2 = 6 of 20.
    expected = (12 * left_right + 6 * (N_TASKS - left_right)) / (20 * N_TASKS)
    data = get(world, "quality/agreement/")
    assert data["n_tasks"] == N_TASKS and data["n_units"] == N_TASKS
    assert data["percent_agreement"] == pytest.approx(expected)
    assert data["label_counts"] == {"A": 3 * N_TASKS + left_right, "B": N_TASKS - left_right, "tie": N_TASKS,
                                    "both_bad": 0}
    # Independently: the reliability matrix (annotators × tasks) straight from the stored judgements.
    code = {"A": 0, "B": 1, "tie": 2}
    matrix = np.full((5, N_TASKS), np.nan)
    order = sorted(world["strong"])
    names = sorted(world["users"])
    for j in Judgement.objects.filter(task__project=world["project"]).select_related("annotator"):
        a, b = sorted(r for g in j.ranking for r in g)
        label = "tie" if len(j.ranking) == 1 else ("A" if j.ranking[0] == [a] else "B")
        matrix[names.index(j.annotator.username), order.index(j.task_id)] = code[label]
    assert data["krippendorff_alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
    # Every unit has 5 labels: Fleiss' κ is defined. P̄ = expected; p_A, p_B, p_tie from the counts.
    shares = np.array([3 * N_TASKS + left_right, N_TASKS - left_right, N_TASKS]) / (5 * N_TASKS)
    kappa = (expected - (shares ** 2).sum()) / (1 - (shares ** 2).sum())
    assert data["fleiss_kappa"] == pytest.approx(kappa)
    for name in ("percent_agreement", "krippendorff_alpha", "fleiss_kappa"):
        low, high = data["ci"][name]
        assert low <= data[name] + 1e-9 and data[name] <= high + 1e-9


def test_annotator_table_flags_the_biased_and_the_lazy(world):
    rows = {r["username"]: r for r in get(world, "quality/annotators/")}
    left_right = sum(world["shown_first"][t] == world["strong"][t] for t in world["strong"])
    careful = rows["careful0"]
    assert careful["judgements"] == N_TASKS and careful["median_seconds"] == 9.0
    assert careful["agreement_with_majority"] == 1.0 and careful["tie_rate"] == 0.0 and careful["flags"] == []
    # The always-left annotator chose the first-shown response every time: bias 1, p = 2 · 0.5^24.
    left = rows["left3"]
    assert left["position_bias"] == 1.0 and left["position_bias_n"] == N_TASKS
    assert left["position_bias_p"] == pytest.approx(2 * 0.5 ** N_TASKS)
    assert "position_bias" in left["flags"]
    assert left["agreement_with_majority"] == pytest.approx(left_right / N_TASKS)  # the others' majority is A
    # The always-tie annotator: no decisive answers (no bias measurable), ties everywhere, too fast.
    tie = rows["tie4"]
    assert tie["position_bias"] is None and tie["position_bias_p"] is None and tie["tie_rate"] == 1.0
    assert tie["agreement_with_majority"] == 0.0 and tie["median_seconds"] == 1.0
    assert {"mostly_ties", "too_fast", "low_agreement"} <= set(tie["flags"])
    assert all(r["agreement_with_model"] is None and r["model_pairs"] == 0 for r in rows.values())  # no model yet


def test_gold_accuracy_has_a_wilson_interval(world):
    for t in world["tasks"][:12]:  # the strong response is the gold answer
        task_mark_gold(task=t, gold_ranking=[[world["strong"][t.pk]], [r for r in t.slots.values_list(
            "response_id", flat=True) if r != world["strong"][t.pk]]])
    rows = {r["username"]: r for r in get(world, "quality/annotators/")}
    assert rows["careful1"]["gold_answers"] == 12 and rows["careful1"]["gold_accuracy"] == 1.0
    assert rows["careful1"]["gold_ci"][0] == pytest.approx(0.7575, abs=1e-3)  # Wilson lower bound for 12/12
    assert rows["tie4"]["gold_accuracy"] == 0.0 and "low_gold_accuracy" in rows["tie4"]["flags"]


def test_leaderboard_ranks_the_strong_model_first(world):
    data = get(world, "leaderboard/")
    left_right = sum(world["shown_first"][t] == world["strong"][t] for t in world["strong"])
    strong, weak = data["models"]
    assert strong["model"] == "strong-llm" and weak["model"] == "weak-llm"
    # battles: 3 careful wins + left's, ties from the tie annotator (half a win each way)
    assert strong["wins"] == 3 * N_TASKS + left_right and strong["ties"] == N_TASKS
    wins = strong["wins"] + N_TASKS / 2
    assert data["win_rate"]["strong-llm"]["weak-llm"] == pytest.approx(wins / (5 * N_TASKS), abs=1e-4)
    assert strong["rating"] - weak["rating"] == pytest.approx(400 * np.log10(wins / (5 * N_TASKS - wins)), abs=1)
    assert strong["ci"][0] <= strong["rating"] <= strong["ci"][1]


def add_disagreeing_judgement(world):
    extra = factories.member(world["project"], "annotator")
    task = world["tasks"][0]
    weak = [r for r in task.slots.values_list("response_id", flat=True) if r != world["strong"][task.pk]][0]
    factories.judgement(task, extra, [[weak], [world["strong"][task.pk]]])


def test_new_judgements_invalidate_the_cached_numbers(world, settings):
    settings.VERDICT_QUALITY_STALE_SECONDS = 0  # no stale numbers: recomputed in the request
    settings.VERDICT_QUALITY_STAMP_SECONDS = 0  # and the judgements checked on every view
    before = get(world, "quality/agreement/")
    add_disagreeing_judgement(world)
    after = get(world, "quality/agreement/")
    assert after["n_labels"] == before["n_labels"] + 1


def test_recent_numbers_are_served_while_a_worker_recomputes(world, settings, django_capture_on_commit_callbacks):
    settings.VERDICT_QUALITY_STAMP_SECONDS = 0
    before = get(world, "quality/annotators/")
    add_disagreeing_judgement(world)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        stale = get(world, "quality/annotators/")
    assert stale == before and len(callbacks) == 1  # the old table at once, one refresh queued
    with django_capture_on_commit_callbacks(execute=False) as again:
        get(world, "quality/annotators/")
    assert again == []  # a refresh is already on its way: not queued twice
    callbacks[0]()  # the worker's run (eager Celery in tests)
    fresh = get(world, "quality/annotators/")
    assert len(fresh) == len(before) + 1


def test_changes_are_noticed_after_the_stamp_interval(world, settings):
    settings.VERDICT_QUALITY_STALE_SECONDS = 0
    settings.VERDICT_QUALITY_STAMP_SECONDS = 120  # (10 s by default; long enough for a loaded test machine)
    before = get(world, "quality/agreement/")  # the stamp is now kept
    add_disagreeing_judgement(world)
    assert get(world, "quality/agreement/") == before  # within the interval: the same numbers
    from django.core.cache import cache

    cache.delete(f"quality:v2:{world['project'].pk}:stamp")  # the interval passed
    assert get(world, "quality/agreement/")["n_labels"] == before["n_labels"] + 1


def test_bad_scope_is_a_specific_400(world):
    response = world["client"].get(f"/api/v1/projects/{world['project'].pk}/quality/agreement/?criterion=nope")
    assert response.status_code == 400 and "criterion" in response.json()["error"]["message"]
    response = world["client"].get(f"/api/v1/projects/{world['project'].pk}/quality/agreement/?batch=999999")
    assert response.status_code == 400 and "no batch 999999" in response.json()["error"]["message"]


def test_k_way_rankings_compare_through_their_pairs(project):
    """Two annotators rank three responses x < y < z (ids): one says x > y > z, the other x > {y, z} tied.
    Units (x, y): A, A — agree; (x, z): A, A — agree; (y, z): A, tie — disagree. Raw agreement 2/3."""
    project.mode, project.overlap = "ranking", 2
    project.save()
    t = factories.task(project, n_responses=3)
    x, y, z = sorted(t.slots.values_list("response_id", flat=True))
    factories.judgement(t, factories.member(project, "annotator"), [[x], [y], [z]], strength=1)
    factories.judgement(t, factories.member(project, "annotator"), [[x], [y, z]], strength=1)
    client = APIClient()
    client.force_authenticate(factories.member(project, "ml"))
    data = client.get(f"/api/v1/projects/{project.pk}/quality/agreement/").json()
    assert data["n_tasks"] == 1 and data["n_units"] == 3 and data["n_labels"] == 6
    assert data["percent_agreement"] == pytest.approx(2 / 3)
    assert data["label_counts"] == {"A": 5, "B": 0, "tie": 1, "both_bad": 0}
    # Nominal: n = 6, n_A = 5, n_tie = 1; disagreeing coincidences 2 (unit y,z) → Do = 2/6;
    # De = (6² − 5² − 1²) / (6 · 5) = 10/30 → α = 1 − (2/6)/(10/30) = 0.
    assert data["krippendorff_alpha"] == pytest.approx(0.0)
    # Interval, signed strengths (strength 1 → 2 per place): (x,y) 2, 2; (x,z) 4, 2; (y,z) 2, 0.
    # Do = (2·(4−2)² + 2·(2−0)²) / 6 = 16/6; values 2 ×4, 4 ×1, 0 ×1:
    # De = 2·(4·1·4 + 4·1·4 + 1·1·16) / (6 · 5) = 96/30 → α = 1 − (16/6)/(96/30) = 1/6.
    assert data["krippendorff_alpha_interval"] == pytest.approx(1 / 6)
    # Fleiss (every unit has two answers): P̄ = 2/3, P̄e = (5/6)² + (1/6)² = 26/36 → κ = (24 − 26)/(36 − 26) = −0.2
    assert data["fleiss_kappa"] == pytest.approx(-0.2)
    assert data["ci"]["percent_agreement"] is None  # one task: no bootstrap over tasks


def test_verdicts_score_the_annotators_and_leave_inter_annotator_agreement_alone(world):
    """A project admin adjudicates 8 tasks through the API, each time for the strong response: the careful
    annotators agree with every verdict, the always-tie one with none, the always-left one where the strong
    response happened to be shown first. α and raw agreement are over the annotators' answers only."""
    before = get(world, "quality/agreement/")
    settled = world["tasks"][:8]
    for t in settled:
        weak = [r for r in t.slots.values_list("response_id", flat=True) if r != world["strong"][t.pk]][0]
        response = world["client"].post(f"/api/v1/tasks/{t.pk}/adjudication/",
                                        {"ranking": [[world["strong"][t.pk]], [weak]], "note": "The strong one."},
                                        format="json")
        assert response.status_code == 201, response.content
    rows = {r["username"]: r for r in get(world, "quality/annotators/")}
    left_right = sum(world["shown_first"][t.pk] == world["strong"][t.pk] for t in settled)
    assert rows["careful0"]["agreement_with_adjudication"] == 1.0 and rows["careful0"]["adjudicated_judgements"] == 8
    assert rows["left3"]["agreement_with_adjudication"] == pytest.approx(left_right / 8)
    assert rows["tie4"]["agreement_with_adjudication"] == 0.0
    after = get(world, "quality/agreement/")
    assert {k: after[k] for k in ("n_labels", "percent_agreement", "krippendorff_alpha")} == {
        k: before[k] for k in ("n_labels", "percent_agreement", "krippendorff_alpha")}
    # Disputed (over 25 % differ from the most common answer): the tasks where the always-left annotator
    # was wrong (3 A, 1 B, 1 tie). The list leaves settled ones out, and shows them with their verdict
    # only when asked for all.
    disputed = {t.pk for t in world["tasks"] if world["shown_first"][t.pk] != world["strong"][t.pk]}
    open_ids = {t["id"] for t in get(world, "quality/disputed/")["results"]}
    assert open_ids == disputed - {t.pk for t in settled}
    every = {t["id"]: t for t in get(world, "quality/disputed/?all=true")["results"]}
    assert set(every) == disputed
    assert all(every[pk]["adjudication"]["note"] == "The strong one." for pk in disputed & {t.pk for t in settled})
    assert all(every[pk]["adjudication"] is None for pk in open_ids)


def test_dawid_skene_reliability_matches_an_independent_fit(world):
    """The reliabilities in the table are those of a Dawid–Skene fit on the (task × annotator) label matrix
    built here from the stored judgements; careful annotators come out on top, the always-tie one last."""
    from annotation.quality.dawid_skene import dawid_skene

    rows = {r["username"]: r for r in get(world, "quality/annotators/")}
    names = sorted(world["users"])
    order = sorted(world["strong"])
    code = {"A": 0, "B": 1, "tie": 2}
    items, annotators, labels = [], [], []
    for j in Judgement.objects.filter(task__project=world["project"]).select_related("annotator"):
        a, b = sorted(r for g in j.ranking for r in g)
        label = "tie" if len(j.ranking) == 1 else ("A" if j.ranking[0] == [a] else "B")
        items.append(order.index(j.task_id))
        annotators.append(names.index(j.annotator.username))
        labels.append(code[label])
    fit = dawid_skene(items, annotators, labels, n_items=N_TASKS, n_annotators=len(names), n_classes=4)
    for k, name in enumerate(names):
        assert rows[name]["reliability"] == pytest.approx(fit.reliability[k], abs=1e-3)
    assert min(rows[f"careful{i}"]["reliability"] for i in range(3)) > rows["left3"]["reliability"]
    assert rows["left3"]["reliability"] > rows["tie4"]["reliability"]
    assert rows["careful0"]["reliability"] > 0.9 and rows["tie4"]["reliability"] < 0.2

"""The leaderboard of a project's source models (`Response.source_model`) from human preference pairs.

Every human pair between responses of two different named models is one battle (a tie is half a
win each); Bradley–Terry strengths with bootstrap intervals as Chatbot Arena computes them
(`metrics.leaderboard`), and the pairwise win-rate matrix. Per criterion ("" = the overall choice).
"""
from django.db.models import Count

from annotation.models import PreferencePair, Project

from . import metrics
from .units import cached, computed


def leaderboard_compute(*, project: Project, criterion: str = "", wait: bool = True):
    """{"criterion", "battles", "models": [{"model", "rating", "ci", "strength", "battles", "wins",
    "losses", "ties"}] best first, "win_rate": {model: {opponent: share or None}}}; cached."""
    return cached(project=project, name="leaderboard", params=(criterion,), wait=wait)


@computed("leaderboard")
def _compute(project: Project, criterion: str) -> dict:
    rows = (PreferencePair.objects.filter(project=project, source=PreferencePair.Source.HUMAN, criterion=criterion)
            .exclude(chosen__source_model="").exclude(rejected__source_model="")
            .values_list("chosen__source_model", "rejected__source_model", "is_tie").annotate(n=Count("id")))
    names = sorted({name for c, r, _, _ in rows for name in (c, r)})
    index = {name: i for i, name in enumerate(names)}
    outcomes: dict[tuple[int, int], list[float]] = {}
    for chosen, rejected, is_tie, n in rows:
        if chosen == rejected:
            continue  # two responses of one model say nothing about models
        i, j = sorted((index[chosen], index[rejected]))
        cell = outcomes.setdefault((i, j), [0, 0, 0])
        cell[2 if is_tie else (0 if index[chosen] == i else 1)] += n
    if not outcomes:
        return {"criterion": criterion, "battles": 0, "models": [], "win_rate": {}}
    fit = metrics.leaderboard(outcomes, len(names))
    record = {name: {"wins": 0, "losses": 0, "ties": 0} for name in names}
    for (i, j), (wins_i, wins_j, ties) in outcomes.items():
        record[names[i]]["wins"] += wins_i
        record[names[i]]["losses"] += wins_j
        record[names[j]]["wins"] += wins_j
        record[names[j]]["losses"] += wins_i
        record[names[i]]["ties"] += ties
        record[names[j]]["ties"] += ties
    models = [{"model": name, "rating": round(float(fit["rating"][k]), 1),
               "ci": [round(float(fit["rating_low"][k]), 1), round(float(fit["rating_high"][k]), 1)],
               "strength": round(float(fit["theta"][k]), 4),
               "battles": sum(record[name].values()), **record[name]} for k, name in enumerate(names)]
    models.sort(key=lambda m: -m["rating"])
    win_rate = {a: {b: (None if a == b or fit["games"][index[a], index[b]] == 0
                        else round(float(fit["win_rate"][index[a], index[b]]), 4)) for b in names} for a in names}
    return {"criterion": criterion, "battles": int(sum(sum(c) for c in outcomes.values())), "models": models,
            "win_rate": win_rate}

"""The workspace form: what the annotator sees as questions, and the posted answer as service input.

The page works as a plain HTML form (radio buttons for pairwise answers, rank selects for k-way
rankings); workspace.js only adds keyboard, click-in-order and drag on top of those inputs. So the
posted fields are always the same, whatever the annotator used:

* pairwise: ``overall`` = A | B | tie | both_bad, ``strength`` = index, ``c-<key>`` = A | B | tie
* k-way:    ``rank-<letter>`` = 1..K (equal numbers tie), ``both_bad`` = 1, ``c-<key>-<letter>``
* both:     ``rationale``, ``duration_ms``
"""
from django import forms as django_forms

from annotation.models import Project, Webhook
from annotation.parsing import ascii_int
from annotation.selectors.workspace import LETTERS
from annotation.services.judgements import JudgementInvalid

PAIRWISE_OPTIONS = [("A", "A is better", "A"), ("tie", "Tie", "T"), ("B", "B is better", "B")]


def _pairwise_question(*, name, label, help_text, data, allow_ties, extra=()) -> dict:
    chosen = data.get(name, "") if data else ""
    options = [{"value": v, "label": text, "key": key, "checked": chosen == v}
               for v, text, key in [*PAIRWISE_OPTIONS, *extra] if v != "tie" or allow_ties]
    return {"name": name, "label": label, "help": help_text, "kind": "pairwise", "options": options}


def _rank_question(*, prefix, label, help_text, data, responses) -> dict:
    k = len(responses)
    inputs = [{"name": f"{prefix}{r['label']}", "letter": r["label"],
               "value": data.get(f"{prefix}{r['label']}", "") if data else ""} for r in responses]
    return {"name": prefix.rstrip("-"), "label": label, "help": help_text, "kind": "rank", "inputs": inputs,
            "ranks": list(range(1, k + 1))}


def workspace_questions(*, project: Project, criteria, responses, data=None) -> list[dict]:
    """The overall question first, then one per rubric criterion, with posted values kept on errors."""
    pairwise = project.mode == Project.Mode.PAIRWISE and len(responses) == 2
    questions = []
    if pairwise:
        extra = [("both_bad", "Both bad", "X")] if project.allow_both_bad else []
        questions.append(_pairwise_question(name="overall", label="Overall", help_text="Which response is better?",
                                            data=data, allow_ties=project.allow_ties, extra=extra))
    else:
        questions.append(_rank_question(prefix="rank-", label="Overall ranking", data=data, responses=responses,
                                        help_text="Best first. Equal numbers are a tie."))
    for criterion in criteria:
        if pairwise:
            questions.append(_pairwise_question(name=f"c-{criterion.key}", label=criterion.label, data=data,
                                                help_text=criterion.description, allow_ties=True))
        else:
            questions.append(_rank_question(prefix=f"c-{criterion.key}-", label=criterion.label, data=data,
                                            help_text=criterion.description, responses=responses))
    return questions


def _pairwise_ranking(value: str, ids_by_letter: dict):
    a, b = ids_by_letter["A"], ids_by_letter["B"]
    return {"A": [[a], [b]], "B": [[b], [a]], "tie": [[a, b]]}.get(value)


def _ranks(data, prefix: str, ids_by_letter: dict) -> tuple[list | None, list[str]]:
    """(ranking, letters without a rank)."""
    ranks, missing = {}, []
    for letter, response_id in ids_by_letter.items():
        rank = ascii_int(data.get(f"{prefix}{letter}"))
        if rank is None:
            missing.append(letter)
        else:
            ranks.setdefault(rank, []).append(response_id)
    return ([ranks[rank] for rank in sorted(ranks)] if not missing else None), missing


def ranks_to_ranking(data, prefix: str, ids_by_letter: dict, field: str, what: str):
    ranking, missing = _ranks(data, prefix, ids_by_letter)
    if missing:
        raise JudgementInvalid(field, f"give every response a rank for “{what}” (missing {', '.join(missing)}).")
    return ranking


def answer_from_post(*, data, project: Project, criteria, display_order: list[int]) -> dict:
    """Posted form fields as keyword arguments for `judgements.judgement_submit`.

    Everything unanswered is reported at once ("Still missing: strength (keys 1–4), Honesty."), so
    the annotator fixes it in one go."""
    ids_by_letter = {LETTERS[i]: rid for i, rid in enumerate(display_order)}
    pairwise = project.mode == Project.Mode.PAIRWISE and len(display_order) == 2
    answer = {"rationale": data.get("rationale", ""), "ranking": None, "strength": None,
              "duration_ms": ascii_int(data.get("duration_ms"))}
    missing = []  # (field, what)

    if pairwise:
        overall = data.get("overall", "")
        answer["both_bad"] = overall == "both_bad"
        if not answer["both_bad"]:
            answer["ranking"] = _pairwise_ranking(overall, ids_by_letter)
            if answer["ranking"] is None:
                choices = ["A", "B"] + (["tie"] if project.allow_ties else []) + \
                    (["both bad"] if project.allow_both_bad else [])
                missing.append(("overall", f"Overall ({', '.join(choices[:-1])} or {choices[-1]})"))
            if overall != "tie" and project.strength_scale:
                answer["strength"] = ascii_int(data.get("strength"))
                if answer["strength"] is None:
                    missing.append(("strength", f"how much better (keys 1–{len(project.strength_scale)})"))
    else:
        answer["both_bad"] = data.get("both_bad") == "1"
        if not answer["both_bad"] or any(data.get(f"rank-{letter}") for letter in ids_by_letter):
            answer["ranking"], unranked = _ranks(data, "rank-", ids_by_letter)
            if unranked:
                missing.append(("ranking", f"Overall ranking (rank {', '.join(unranked)})"))

    answer["criteria"] = {}
    for criterion in criteria:
        name = f"c-{criterion.key}"
        answered = data.get(name) if pairwise else any(data.get(f"{name}-{x}") for x in ids_by_letter)
        if not answered and answer["both_bad"]:
            continue  # criteria are optional on a both-bad answer
        if pairwise:
            ranking, unranked = _pairwise_ranking(data.get(name, ""), ids_by_letter), None
        else:
            ranking, unranked = _ranks(data, f"{name}-", ids_by_letter)
        if ranking is None:
            missing.append(("criteria", criterion.label + (f" (rank {', '.join(unranked)})" if unranked else "")))
        answer["criteria"][criterion.key] = ranking
    if missing:
        raise JudgementInvalid(missing[0][0], "Still missing: " + ", ".join(what for _, what in missing) + ".")
    return answer


def answer_as_post(*, judgement, project: Project, criteria) -> dict:
    """A stored judgement as the form fields answer_from_post reads: the answer filled in again, to revise it."""
    letter_of = {rid: LETTERS[i] for i, rid in enumerate(judgement.display_order)}
    pairwise = project.mode == Project.Mode.PAIRWISE and len(judgement.display_order) == 2

    def pick(ranking) -> str:
        return "tie" if len(ranking) == 1 else letter_of[ranking[0][0]]

    def ranks(prefix: str, ranking) -> dict:
        return {f"{prefix}{letter_of[rid]}": str(level) for level, group in enumerate(ranking, 1) for rid in group}

    data = {"rationale": judgement.rationale}
    if pairwise:
        data["overall"] = "both_bad" if judgement.both_bad else pick(judgement.ranking)
        if judgement.strength is not None:
            data["strength"] = str(judgement.strength)
    else:
        data.update({"both_bad": "1"} if judgement.both_bad else ranks("rank-", judgement.ranking))
    for criterion in criteria:
        if (ranking := judgement.criteria.get(criterion.key)) is not None:
            data.update({f"c-{criterion.key}": pick(ranking)} if pairwise else ranks(f"c-{criterion.key}-", ranking))
    return data


# --- governance pages (annotation/web/governance.py) ---


class PiiPolicyForm(django_forms.Form):
    pii_policy = django_forms.ChoiceField(choices=Project.PiiPolicy.choices, label="PII policy")
    confirm = django_forms.BooleanField(required=False, label=(
        "I understand: mask on import rewrites the texts already stored with placeholders, for good"))


class WebhookForm(django_forms.Form):
    url = django_forms.CharField(max_length=2000, label="URL (http or https)")
    events = django_forms.MultipleChoiceField(
        choices=[(e.value, e.label) for e in Webhook.Event if e != Webhook.Event.TEST], required=False,
        widget=django_forms.CheckboxSelectMultiple, label="Events (none ticked: every event)")


def _audit_action_choices():
    from annotation.services.audit import ACTIONS

    prefixes = sorted({a.split(".")[0] + "." for a in ACTIONS})
    return [("", "every action"), ("Every action of a kind", [(p, f"{p}* (all)") for p in prefixes]),
            ("One action", [(a, a) for a in sorted(ACTIONS)])]


class AuditFilterForm(django_forms.Form):
    # The known actions (and their "kind." prefixes); the API still takes any exact action or prefix.
    action = django_forms.ChoiceField(choices=_audit_action_choices, required=False)
    user = django_forms.CharField(max_length=150, required=False)
    since = django_forms.DateField(required=False, widget=django_forms.DateInput(attrs={"type": "date"}))
    until = django_forms.DateField(required=False, widget=django_forms.DateInput(attrs={"type": "date"}))

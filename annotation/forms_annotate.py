"""The workspace form: what the annotator sees as questions, and the posted answer as service input.

The page works as a plain HTML form (radio buttons for pairwise answers, rank selects for k-way
rankings); workspace.js only adds keyboard, click-in-order and drag on top of those inputs. So the
posted fields are always the same, whatever the annotator used:

* pairwise: ``overall`` = A | B | tie | both_bad, ``strength`` = index, ``c-<key>`` = A | B | tie
* k-way:    ``rank-<letter>`` = 1..K (equal numbers tie), ``both_bad`` = 1, ``c-<key>-<letter>``
* both:     ``rationale``, ``duration_ms``
"""
from .judging import JudgementInvalid
from .models import Project

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


def _pairwise_ranking(value: str, ids_by_letter: dict, field: str, what: str):
    a, b = ids_by_letter["A"], ids_by_letter["B"]
    rankings = {"A": [[a], [b]], "B": [[b], [a]], "tie": [[a, b]]}
    if value not in rankings:
        raise JudgementInvalid(field, f"choose A, B{' or tie' if field != 'overall' else ''} for “{what}”.")
    return rankings[value]


def ranks_to_ranking(data, prefix: str, ids_by_letter: dict, field: str, what: str):
    ranks = {}
    for letter, response_id in ids_by_letter.items():
        raw = (data.get(f"{prefix}{letter}") or "").strip()
        if not raw.isdigit():
            raise JudgementInvalid(field, f"give every response a rank for “{what}” (missing {letter}).")
        ranks.setdefault(int(raw), []).append(response_id)
    return [ranks[rank] for rank in sorted(ranks)]


def answer_from_post(*, data, project: Project, criteria, display_order: list[int]) -> dict:
    """Posted form fields as keyword arguments for `judging.judgement_submit`."""
    letters = "ABCDEFGHI"
    ids_by_letter = {letters[i]: rid for i, rid in enumerate(display_order)}
    pairwise = project.mode == Project.Mode.PAIRWISE and len(display_order) == 2
    answer = {"rationale": data.get("rationale", ""), "ranking": None, "strength": None}
    duration = (data.get("duration_ms") or "").strip()
    answer["duration_ms"] = int(duration) if duration.isdigit() else None

    if pairwise:
        overall = data.get("overall", "")
        answer["both_bad"] = overall == "both_bad"
        if not answer["both_bad"]:
            answer["ranking"] = _pairwise_ranking(overall, ids_by_letter, "overall", "Overall")
            strength = (data.get("strength") or "").strip()
            if overall != "tie" and project.strength_scale:
                if not strength.isdigit():
                    raise JudgementInvalid("strength", "choose how much better (keys 1–"
                                                       f"{len(project.strength_scale)}).")
                answer["strength"] = int(strength)
    else:
        answer["both_bad"] = data.get("both_bad") == "1"
        if not answer["both_bad"] or any(data.get(f"rank-{letter}") for letter in ids_by_letter):
            answer["ranking"] = ranks_to_ranking(data, "rank-", ids_by_letter, "ranking", "Overall ranking")

    answer["criteria"] = {}
    for criterion in criteria:
        name = f"c-{criterion.key}"
        answered = data.get(name) if pairwise else any(data.get(f"{name}-{x}") for x in ids_by_letter)
        if not answered and answer["both_bad"]:
            continue  # criteria are optional on a both-bad answer
        answer["criteria"][criterion.key] = (
            _pairwise_ranking(data.get(name, ""), ids_by_letter, "criteria", criterion.label) if pairwise
            else ranks_to_ranking(data, f"{name}-", ids_by_letter, "criteria", criterion.label))
    return answer

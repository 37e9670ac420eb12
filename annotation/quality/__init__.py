"""Quality control: agreement, annotator statistics, the source-model leaderboard, disputes,
adjudication and adaptive overlap.

`metrics` is the maths (no Django); `units` turns judgements into agreement units and caches every
number until the project's judgements change; `agreement`, `annotators` and `leaderboard` are the
selectors the API, pages and dashboard call; `disputes` decides when a task's answers disagree.
"""

"""Quality control: agreement, annotator statistics and the source-model leaderboard.

`metrics` is the maths (no Django); `units` turns judgements into agreement units and caches every
number until the project's judgements change; `agreement`, `annotators` and `leaderboard` are the
selectors the API, pages and dashboard call.
"""

"""Using registered reward models: a per-process warm cache of loaded versions, scoring services
(best-of-N, batch scoring, curation, policy A/B) and active-learning rounds build on it."""

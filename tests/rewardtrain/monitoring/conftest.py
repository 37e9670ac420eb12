"""Monitoring tests reuse the scoring tests' registered tiny models (tests/rewardtrain/scoring/conftest.py)."""
from tests.rewardtrain.scoring.conftest import media, register, scoring_model  # noqa: F401
from tests.rewardtrain.ml.conftest import minilm_tokenizer, tiny_bert, trained_bert  # noqa: F401

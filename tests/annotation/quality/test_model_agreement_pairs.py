"""How one judgement is compared with the reward model's choices (annotation.quality.annotators)."""
from annotation.quality.annotators import model_agreement


def test_a_k_way_ranking_is_compared_through_its_pairs():
    """x > {y = z} against rewards x 2.0, y 0.1, z 0.5: (x, y) the model prefers x, so does the annotator;
    (x, z) likewise; (y, z) the model prefers z, the annotator tied them: compared, not agreed → 2 of 3."""
    x, y, z = 11, 12, 13
    assert model_agreement(ranking=[[x], [y, z]], both_bad=False, rewards={x: 2.0, y: 0.1, z: 0.5}) == (2, 3)
    assert model_agreement(ranking=[[z], [y], [x]], both_bad=False, rewards={x: 2.0, y: 0.1, z: 0.5}) == (1, 3)


def test_both_bad_equal_rewards_and_unscored_responses_are_left_out():
    assert model_agreement(ranking=[[1], [2]], both_bad=True, rewards={1: 1.0, 2: 0.0}) == (0, 0)
    assert model_agreement(ranking=[[1], [2]], both_bad=False, rewards={1: 0.3, 2: 0.3}) == (0, 0)
    assert model_agreement(ranking=[[1], [2], [3]], both_bad=False, rewards={1: 0.0, 3: 1.0}) == (0, 1)

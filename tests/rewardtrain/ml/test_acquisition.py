import numpy as np
import pytest

from rewardtrain.ml.acquisition import bootstrap_heads, select


def pair_rewards(differences):
    """Pairs (2i, 2i+1) whose reward difference is differences[i]."""
    return np.array([[d, 0.0] for d in differences]).ravel()


def test_uncertainty_picks_the_pairs_the_model_is_least_sure_about():
    rewards = pair_rewards([3.0, -0.1, 2.0, 0.4, -5.0, 0.05])
    indices, scores = select("uncertainty", rewards=rewards, size=3, epsilon=0.0)
    assert list(indices) == [5, 1, 3]  # |dr| = 0.05, 0.1, 0.4
    assert scores[0] > scores[1] > scores[2] and scores[0] <= 1.0


def test_random_is_uniform_and_reproducible_under_a_seed():
    rewards = pair_rewards(np.linspace(-2, 2, 50))
    a, _ = select("random", rewards=rewards, size=10, seed=7)
    b, _ = select("random", rewards=rewards, size=10, seed=7)
    c, _ = select("random", rewards=rewards, size=10, seed=8)
    assert list(a) == list(b) and list(a) != list(c)
    assert len(set(a)) == 10
    firsts = [select("random", rewards=rewards, size=1, seed=s)[0][0] for s in range(400)]
    assert len(set(firsts)) > 40  # not stuck on a few tasks


def test_epsilon_share_is_drawn_at_random_from_the_rest():
    rng = np.random.default_rng(0)
    rewards = pair_rewards(rng.normal(0, 2, 100))
    top, _ = select("uncertainty", rewards=rewards, size=20, epsilon=0.0)
    runs = [select("uncertainty", rewards=rewards, size=20, epsilon=0.25, seed=s)[0] for s in range(5)]
    for indices in runs:
        assert len(indices) == 20 and len(set(indices)) == 20
        assert list(indices[:15]) == list(top[:15])  # the strategy's own picks come first
        assert not set(indices[15:]) & set(top[:15])
        # The 5 random picks are not simply the next 5 the strategy would have taken.
    assert any(set(r[15:]) != set(top[15:20]) for r in runs)
    assert len({tuple(r[15:]) for r in runs}) > 1  # they vary with the seed


def test_k_way_tasks_are_scored_by_their_closest_pair():
    # Task 0: rewards far apart; task 1: K=3 with one near-tie among its 3 pairs; task 2: a pair.
    rewards = np.array([5.0, 0.0, 3.0, 0.0, 2.95, 1.0, 0.0])
    groups = [(0, 1), (2, 3, 4), (5, 6)]
    indices, scores = select("uncertainty", rewards=rewards, k_way_groups=groups, size=3, epsilon=0.0)
    assert list(indices) == [1, 2, 0]
    p = 1 / (1 + np.exp(-0.05))
    assert scores[0] == pytest.approx(4 * p * (1 - p))


def test_dopt_prefers_a_direction_not_yet_covered():
    d = 4
    e = np.eye(d)
    # Labelled pairs already cover direction e0 many times.
    labeled = np.stack([np.stack([e[0], np.zeros(d)])] * 20)
    labeled_rewards = np.zeros((20, 2))
    # Candidates: task 0 and 1 along e0 (redundant), task 2 along e1 (new), same |dr| = 0.
    features = np.stack([e[0], np.zeros(d), 1.1 * e[0], np.zeros(d), e[1], np.zeros(d)])
    rewards = np.zeros(6)
    indices, scores = select(
        "dopt", rewards=rewards, features=features, size=1, epsilon=0.0, diversity=0.0,
        labeled_features=labeled, labeled_rewards=labeled_rewards,
    )
    assert list(indices) == [2]
    # Without the labelled history, the longer e0 difference has the most information...
    first, _ = select("dopt", rewards=rewards, features=features, size=2, epsilon=0.0, diversity=0.0)
    assert first[0] == 1
    # ...and once it is picked, the batch goes to the new direction, not to the redundant copy.
    assert first[1] == 2


def test_dopt_weights_confident_pairs_down():
    d = 3
    e = np.eye(d)
    features = np.stack([e[0], np.zeros(d), e[1], np.zeros(d)])
    rewards = np.array([6.0, 0.0, 0.2, 0.0])  # task 0: the model is sure; task 1: a near tie
    indices, scores = select("dopt", rewards=rewards, features=features, size=2, epsilon=0.0, diversity=0.0)
    assert list(indices) == [1, 0] and scores[0] > scores[1] > 0


def test_dopt_k_way_information_adds_over_all_pairs():
    d = 3
    e = np.eye(d)
    # Task 0 is a 3-way task spanning two directions; task 1 a pair along one of them.
    features = np.stack([e[0], e[1], np.zeros(d), 1.2 * e[0], np.zeros(d)])
    rewards = np.zeros(5)
    indices, scores = select("dopt", rewards=rewards, features=features, k_way_groups=[(0, 1, 2), (3, 4)],
                             size=1, epsilon=0.0, diversity=0.0)
    assert list(indices) == [0]


def test_diversity_term_spreads_a_batch_over_different_content():
    rng = np.random.default_rng(1)
    # Tasks 0-2 are near-copies (same content), task 3 differs; all equally uncertain-ish.
    base, other = rng.normal(size=8), rng.normal(size=8)
    feats, rewards = [], []
    for t, (vec, dr) in enumerate([(base, 0.0), (base, 0.01), (base, 0.02), (other, 0.2)]):
        feats += [vec + 0.01 * rng.normal(size=8), vec + 0.01 * rng.normal(size=8)]
        rewards += [dr, 0.0]
    features, rewards = np.array(feats), np.array(rewards)
    plain, _ = select("uncertainty", rewards=rewards, features=features, size=2, epsilon=0.0, diversity=0.0)
    diverse, _ = select("uncertainty", rewards=rewards, features=features, size=2, epsilon=0.0, diversity=0.9)
    assert list(plain) == [0, 1]
    assert list(diverse) == [0, 3]


def test_disagreement_picks_where_members_disagree_not_where_all_are_unsure():
    # Task 0: every member says coin flip; task 1: members confidently disagree; task 2: agree.
    members = np.array([
        [0.0, 0.0, 4.0, 0.0, 4.0, 0.0],
        [0.0, 0.0, -4.0, 0.0, 4.0, 0.0],
        [0.0, 0.0, 4.0, 0.0, 3.5, 0.0],
        [0.0, 0.0, -4.0, 0.0, 4.5, 0.0],
    ])
    indices, scores = select("disagreement", rewards=members, size=3, epsilon=0.0)
    assert list(indices) == [1, 2, 0]
    assert scores[2] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="members"):
        select("disagreement", rewards=members[0], size=1)


def test_bootstrap_heads_agree_where_labels_pin_the_head_down():
    rng = np.random.default_rng(0)
    d = 4
    # Labelled differences only along e0 and e1; e2, e3 never seen.
    z = np.zeros((200, d))
    z[:, :2] = rng.normal(size=(200, 2))
    pairs = np.stack([z, np.zeros_like(z)], axis=1)
    true = np.array([2.0, -1.0, 0.0, 0.0])
    flip = rng.random(200) > 1 / (1 + np.exp(-(z @ true)))
    pairs[flip] = pairs[flip][:, ::-1]  # chosen first
    heads = bootstrap_heads(pairs, np.zeros(d), members=16, l2=0.5, seed=0)
    assert heads.shape == (16, d)
    assert heads[:, 0].mean() > 1.0 and heads[:, 1].mean() < -0.5  # learns the labelled directions
    assert np.allclose(heads[:, 2:], 0.0)  # unseen directions stay at the prior head
    assert heads[:, 0].std() > 0.01  # members differ: it is an ensemble, not one head 16 times


def test_selection_is_deterministic_for_every_strategy():
    rng = np.random.default_rng(3)
    rewards, features = rng.normal(size=40), rng.normal(size=(40, 6))
    members = rng.normal(size=(4, 40))
    for strategy, r in (("uncertainty", rewards), ("dopt", rewards), ("disagreement", members), ("random", rewards)):
        a = select(strategy, rewards=r, features=features, size=7, epsilon=0.3, seed=5)
        b = select(strategy, rewards=r, features=features, size=7, epsilon=0.3, seed=5)
        assert list(a[0]) == list(b[0]) and np.array_equal(a[1], b[1]), strategy
        assert len(set(a[0])) == 7


def test_bad_input_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="unknown strategy"):
        select("entropy", rewards=np.zeros(4), size=1)
    with pytest.raises(ValueError, match="features"):
        select("dopt", rewards=np.zeros(4), size=1)
    with pytest.raises(ValueError, match="at least 2"):
        select("uncertainty", rewards=np.zeros(3), k_way_groups=[(0, 1), (2,)], size=1)


def test_lazy_dopt_picks_the_exact_greedy_maximum_at_every_step():
    """The lazy (upper-bound) evaluation must pick what a full recomputation of every gain would."""
    from rewardtrain.ml.acquisition import sigmoid

    rng = np.random.default_rng(3)
    n, d = 60, 8
    rewards, features = rng.normal(size=2 * n), rng.normal(size=(2 * n, d))
    picks, scores = select("dopt", rewards=rewards, features=features, size=10, epsilon=0.0, diversity=0.0)
    w = sigmoid(rewards[0::2] - rewards[1::2])
    u = (features[0::2] - features[1::2]) * np.sqrt(w * (1 - w))[:, None]
    info, left = np.eye(d), set(range(n))
    for pick, score in zip(picks, scores):
        base = np.linalg.slogdet(info)[1]
        gains = {t: np.linalg.slogdet(info + np.outer(u[t], u[t]))[1] - base for t in left}
        best = max(gains.values())
        assert gains[pick] == pytest.approx(best, rel=1e-9) and score == pytest.approx(best, rel=1e-9)
        info, left = info + np.outer(u[pick], u[pick]), left - {pick}

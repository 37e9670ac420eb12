"""Dawid–Skene EM: one round worked by hand, and a simulated crowd whose reliabilities are known."""
import numpy as np
import pytest

from annotation.quality.dawid_skene import dawid_skene


def test_one_round_matches_the_hand_worked_numbers():
    """Four items, two classes (A = 0, B = 1), three annotators; annotator 2 dissents on items 1 and 3.

        item 0: A A A   item 1: A A B   item 2: B B B   item 3: B B A
    Start: vote shares T = [1, 0], [2/3, 1/3], [0, 1], [1/3, 2/3]; π = [1/2, 1/2].
    θ_0 (and θ_1): true A → answered A: 1 + 2/3, B: 1/3 → [5/6, 1/6]; true B → [1/6, 5/6].
    θ_2: true A → A: 1 + 1/3, B: 2/3 + 0 → [2/3, 1/3]; true B → A: 0 + 2/3, B: 1/3 + 1 → [1/3, 2/3].
    Reliability: annotators 0, 1: 5/6; annotator 2: 2/3.
    E for item 1: A ∝ ½ · 5/6 · 5/6 · 1/3 = ½ · 25/108, B ∝ ½ · 1/6 · 1/6 · 2/3 = ½ · 2/108 → P(A) = 25/27.
    """
    votes = [[0, 0, 0], [0, 0, 1], [1, 1, 1], [1, 1, 0]]
    items = [i for i, row in enumerate(votes) for _ in row]
    annotators = [j for row in votes for j in range(3)]
    labels = [label for row in votes for label in row]
    fit = dawid_skene(items, annotators, labels, n_items=4, n_annotators=3, n_classes=2, iterations=1, smoothing=0)
    assert fit.priors == pytest.approx([0.5, 0.5])
    assert fit.confusion[0] == pytest.approx(np.array([[5 / 6, 1 / 6], [1 / 6, 5 / 6]]))
    assert fit.confusion[2] == pytest.approx(np.array([[2 / 3, 1 / 3], [1 / 3, 2 / 3]]))
    assert fit.reliability == pytest.approx([5 / 6, 5 / 6, 2 / 3])
    assert fit.posteriors[1, 0] == pytest.approx(25 / 27)
    assert fit.posteriors[3, 1] == pytest.approx(25 / 27)


def test_a_simulated_crowd_gets_its_reliabilities_back_and_beats_the_majority():
    rng = np.random.default_rng(7)
    accuracy = np.array([0.95, 0.85, 0.75, 0.65, 0.55, 0.5, 0.5])  # the last two: coin flips
    n_items = 600
    truth = rng.integers(0, 2, n_items)
    items, annotators, labels = [], [], []
    for i in range(n_items):
        for j in rng.choice(len(accuracy), 5, replace=False):  # five of seven annotators per item
            right = rng.random() < accuracy[j]
            items.append(i)
            annotators.append(int(j))
            labels.append(int(truth[i] if right else 1 - truth[i]))
    fit = dawid_skene(items, annotators, labels, n_items=n_items, n_annotators=len(accuracy), n_classes=2)
    # Each annotator labels ~430 items: the binomial standard error of an accuracy is ≤ 0.025.
    assert fit.reliability == pytest.approx(accuracy, abs=0.06)
    assert list(np.argsort(-fit.reliability)[:3]) == [0, 1, 2]
    votes = np.zeros((n_items, 2))
    np.add.at(votes, (np.array(items), np.array(labels)), 1)
    majority = (votes.argmax(axis=1) == truth).mean()
    assert (fit.posteriors.argmax(axis=1) == truth).mean() >= majority


def test_an_annotator_who_always_gives_one_answer_is_unreliable():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 300)  # three classes, about a third each
    items, annotators, labels = [], [], []
    for i, t in enumerate(truth):
        for j in range(3):  # three careful annotators
            items.append(i), annotators.append(j), labels.append(int(t if rng.random() < 0.9 else rng.integers(0, 3)))
        items.append(i), annotators.append(3), labels.append(2)  # always "tie"
    fit = dawid_skene(items, annotators, labels, n_items=300, n_annotators=4, n_classes=3)
    assert fit.reliability[:3] == pytest.approx([0.93] * 3, abs=0.05)  # 0.9 + 0.1 · 1/3
    assert fit.reliability[3] == pytest.approx((truth == 2).mean(), abs=0.03)

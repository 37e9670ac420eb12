"""Acquisition strategies for active learning: which pool tasks should humans judge next.

Pure NumPy functions over what a reward model says about the pool (no torch, no Django)::

    from rewardtrain.ml.acquisition import select

    indices, scores = select("dopt", rewards=r, features=f, k_way_groups=groups, size=50, seed=0)

Inputs, for a pool of tasks whose responses are numbered 0..R-1:

* ``rewards``: (R,) overall reward of each response, or (M, R) for M ensemble members
  (``"disagreement"`` needs M >= 2; the other strategies use the member mean);
* ``features``: (R, d) last-layer features, the vector the reward head reads
  (:func:`rewardtrain.ml.features.last_layer_features`); needed by ``"dopt"`` and by the
  diversity term;
* ``k_way_groups``: one sequence of response indices per task (2 for a pair, K for a K-way
  task); ``None`` means consecutive pairs (0, 1), (2, 3), ...

A K-way task is scored over its C(K, 2) pairs.  Uncertainty and disagreement take the **max**
over the pairs (a task is as useful as its closest call, whatever K is); the D-optimal gain
takes the **sum**, because a K-way ranking yields all C(K, 2) preference pairs and their
information adds up in the matrix (the log-det gain of the whole task is computed jointly, so
redundant pairs within a task are not double counted).

Strategies (``STRATEGIES``):

* ``random``: uniform picks, the control; scores are 0.
* ``uncertainty``: Bradley-Terry uncertainty, 4 sigma(dr)(1 - sigma(dr)) in [0, 1]: 1 when the
  model thinks the pair is a coin flip (|dr| = 0), towards 0 when it is sure.
* ``disagreement``: BALD mutual information between the label and the ensemble member,
  H(mean_m p_m) - mean_m H(p_m) with p_m = sigma(dr_m): high where members are each confident
  but disagree.  The members are meant to be last-layer heads (:func:`bootstrap_heads`): one
  backbone pass, then M cheap linear heads refitted on bootstrap resamples of the labelled
  pairs; MC-dropout or a deep ensemble would cost M forward passes over the pool on a CPU.
* ``dopt``: last-layer Fisher information / D-optimal design (Shen et al. 2025, "Active Reward
  Modeling"): greedily add the task that most increases log det of the information matrix
  A = lambda I + sum w z z^T, z = phi(x, y_a) - phi(x, y_b), w = sigma(dr)(1 - sigma(dr)),
  starting from the already labelled pairs (``labeled_features``/``labeled_rewards``).

Every strategy except ``random`` can add a **diversity** term: a candidate's score is
multiplied by 1 - diversity * max(0, cos) against the tasks already picked in this batch, the
cosine taken between centred task embeddings (the mean feature of the task's responses).  An
**epsilon** share of the batch (rounded) is drawn uniformly from the tasks the strategy did not
pick, so the labelled data keeps an unbiased part; those come last in the returned order.
"""

from __future__ import annotations

from collections.abc import Sequence
import heapq
from itertools import combinations

import numpy as np

STRATEGIES = ("random", "uncertainty", "disagreement", "dopt")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def task_pairs(k_way_groups: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All C(K, 2) pairs of every task: (task of each pair, first response, second response)."""
    task, a, b = [], [], []
    for t, group in enumerate(k_way_groups):
        if len(group) < 2:
            raise ValueError(f"task {t} has {len(group)} response(s); a comparison needs at least 2")
        for i, j in combinations(group, 2):
            task.append(t)
            a.append(i)
            b.append(j)
    return np.array(task, dtype=np.int64), np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)


def _max_per_task(values: np.ndarray, task: np.ndarray, n_tasks: int) -> np.ndarray:
    out = np.full(n_tasks, -np.inf)
    np.maximum.at(out, task, values)
    return out


def _entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


def uncertainty_scores(rewards: np.ndarray, pairs) -> np.ndarray:
    """Per task: max over its pairs of 4 sigma(dr)(1 - sigma(dr)); 1 = coin flip."""
    task, a, b = pairs
    p = sigmoid(rewards[a] - rewards[b])
    return _max_per_task(4 * p * (1 - p), task, int(task.max()) + 1 if len(task) else 0)


def disagreement_scores(member_rewards: np.ndarray, pairs) -> np.ndarray:
    """Per task: max over its pairs of the BALD mutual information of the ensemble (nats)."""
    task, a, b = pairs
    if member_rewards.ndim != 2 or member_rewards.shape[0] < 2:
        raise ValueError("disagreement needs rewards of shape (members >= 2, responses)")
    p = sigmoid(member_rewards[:, a] - member_rewards[:, b])  # (M, pairs)
    bald = _entropy(p.mean(0)) - _entropy(p).mean(0)
    return _max_per_task(np.maximum(bald, 0.0), task, int(task.max()) + 1 if len(task) else 0)


def information_matrix(features: np.ndarray | None, rewards: np.ndarray | None, dim: int, ridge: float) -> np.ndarray:
    """lambda I + sum_i w_i z_i z_i^T over labelled pairs; ``features`` (n, 2, d) or (n, d) differences."""
    info = ridge * np.eye(dim)
    if features is None or len(features) == 0:
        return info
    features = np.asarray(features, dtype=np.float64)
    z = features[:, 0] - features[:, 1] if features.ndim == 3 else features
    if rewards is None:
        w = np.full(len(z), 0.25)
    else:
        rewards = np.asarray(rewards, dtype=np.float64)
        dr = rewards[:, 0] - rewards[:, 1] if rewards.ndim == 2 else rewards
        p = sigmoid(dr)
        w = p * (1 - p)
    return info + (z * w[:, None]).T @ z


def _task_embeddings(features: np.ndarray, groups: Sequence[Sequence[int]]) -> np.ndarray:
    emb = np.stack([features[list(g)].mean(0) for g in groups])
    emb = emb - emb.mean(0)
    norm = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.where(norm > 0, norm, 1.0)


def _greedy(scores: np.ndarray, n: int, embeddings: np.ndarray | None, diversity: float, allowed: np.ndarray) -> tuple[list[int], list[float]]:
    """Pick n tasks by score, damping candidates similar to the ones already picked."""
    picked, picked_scores = [], []
    similarity = np.zeros(len(scores))
    for _ in range(n):
        adjusted = scores * (1 - diversity * similarity) if embeddings is not None and diversity else scores.copy()
        adjusted = np.where(allowed, adjusted, -np.inf)
        best = int(np.argmax(adjusted))  # first index on ties: deterministic
        if not np.isfinite(adjusted[best]):
            break
        picked.append(best)
        picked_scores.append(float(scores[best]))
        allowed[best] = False
        if embeddings is not None and diversity:
            similarity = np.maximum(similarity, np.clip(embeddings @ embeddings[best], 0.0, 1.0))
    return picked, picked_scores


def _dopt_gains(u: np.ndarray, rows_of: list[np.ndarray], inv: np.ndarray) -> np.ndarray:
    """log det(I + U_t^T A^-1 U_t) for every task t: the gain of adding its pairs to A."""
    zu = u @ inv
    gains = np.empty(len(rows_of))
    for size in {len(r) for r in rows_of}:
        ts = [t for t, r in enumerate(rows_of) if len(r) == size]
        idx = np.array([rows_of[t] for t in ts])  # (tasks, m)
        gram = np.einsum("tmd,tnd->tmn", zu[idx], u[idx]) + np.eye(size)
        gains[ts] = np.linalg.slogdet(gram)[1]
    return gains


def _dopt(u, rows_of, n, info, embeddings, diversity, allowed) -> tuple[list[int], list[float], np.ndarray]:
    """Greedy D-optimal design: each step adds the task with the largest log det gain.

    Evaluated lazily (a heap of upper bounds): a task's gain can only shrink as pairs are added to A
    (log det is submodular), and so can its diversity factor, so a value computed at an earlier step
    bounds the current one. Each step re-evaluates, against the current A^-1, only the tasks whose
    bound comes out on top, until the top value is current: the same picks as recomputing every
    gain at every step, without a pass over the whole pool per pick.
    ``u`` (pairs, d) holds sqrt(w) z per pair; returns the picks, their gains and the final A^-1."""
    inv = np.linalg.inv(info)
    picked, picked_scores = [], []
    damp = embeddings is not None and bool(diversity)
    similarity = np.zeros(len(rows_of))
    gains = _dopt_gains(u, rows_of, inv)
    heap = [(-float(gains[t]), int(t)) for t in np.flatnonzero(allowed)]  # ties: the lower index first
    heapq.heapify(heap)
    step_of = np.zeros(len(rows_of), dtype=np.int64)  # the step at which gains[t] was computed
    for step in range(n):
        best = None
        while heap:
            _, t = heapq.heappop(heap)
            if not allowed[t]:
                continue
            if step_of[t] != step:
                gains[t] = _task_gain(u, rows_of[t], inv)
                step_of[t] = step
            value = float(gains[t] * (1 - diversity * similarity[t])) if damp else float(gains[t])
            if heap and (-heap[0][0], -heap[0][1]) > (value, -t):  # another bound may still be higher
                heapq.heappush(heap, (-value, t))
                continue
            best = t
            break
        if best is None:
            break
        picked.append(best)
        picked_scores.append(float(gains[best]))
        allowed[best] = False
        ub = u[rows_of[best]]  # Woodbury update of A^-1 after adding the task's pairs
        inv_ub = inv @ ub.T
        inv = inv - inv_ub @ np.linalg.solve(np.eye(len(ub)) + ub @ inv_ub, inv_ub.T)
        if damp:
            similarity = np.maximum(similarity, np.clip(embeddings @ embeddings[best], 0.0, 1.0))
    return picked, picked_scores, inv


def _task_gain(u: np.ndarray, rows: np.ndarray, inv: np.ndarray) -> float:
    """log det(I + U_t^T A^-1 U_t) of one task, touching only its own pairs."""
    return float(_dopt_gains(u[rows], [np.arange(len(rows))], inv)[0])


def select(
    strategy: str,
    *,
    rewards: np.ndarray,
    features: np.ndarray | None = None,
    k_way_groups: Sequence[Sequence[int]] | None = None,
    size: int,
    epsilon: float = 0.1,
    seed: int = 0,
    diversity: float = 0.3,
    labeled_features: np.ndarray | None = None,
    labeled_rewards: np.ndarray | None = None,
    ridge: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Choose ``size`` tasks; returns (task indices in pick order, their scores).

    ``epsilon``: share of the batch drawn uniformly from the rest (round(epsilon * size) picks,
    placed last; their score is still the strategy's score of that task).  ``diversity`` in
    [0, 1]: 0 turns the diversity term off.  ``labeled_features`` (n, 2, d) with
    ``labeled_rewards`` (n, 2), both ordered (chosen, rejected) or any fixed order, seed the
    D-optimal information matrix with what is already known; ``ridge`` is its lambda I prior.
    Identical inputs and seed give identical output.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if not 0 <= epsilon <= 1:
        raise ValueError("epsilon must be in [0, 1]")
    rewards = np.asarray(rewards, dtype=np.float64)
    n_responses = rewards.shape[-1]
    if k_way_groups is None:
        if n_responses % 2:
            raise ValueError("without k_way_groups, rewards must hold an even number of responses (pairs)")
        k_way_groups = [(i, i + 1) for i in range(0, n_responses, 2)]
    n_tasks = len(k_way_groups)
    size = min(int(size), n_tasks)
    rng = np.random.default_rng(seed)
    if features is not None:
        features = np.asarray(features, dtype=np.float64)
        if len(features) != n_responses:
            raise ValueError(f"features has {len(features)} rows for {n_responses} responses")
    if strategy == "random" or size == 0:
        return rng.permutation(n_tasks)[:size].astype(np.int64), np.zeros(size)

    pairs = task_pairs(k_way_groups)
    mean_rewards = rewards.mean(0) if rewards.ndim == 2 else rewards
    n_random = int(round(epsilon * size))
    allowed = np.ones(n_tasks, dtype=bool)
    embeddings = _task_embeddings(features, k_way_groups) if features is not None and diversity else None
    if strategy == "dopt":
        if features is None:
            raise ValueError("dopt needs last-layer features")
        task, a, b = pairs
        w = sigmoid(mean_rewards[a] - mean_rewards[b])
        u = (features[a] - features[b]) * np.sqrt(w * (1 - w))[:, None]
        rows_of = [np.flatnonzero(task == t) for t in range(n_tasks)]
        info = information_matrix(labeled_features, labeled_rewards, features.shape[1], ridge)
        picked, picked_scores, inv = _dopt(u, rows_of, size - n_random, info, embeddings, diversity, allowed)
        rest = np.flatnonzero(allowed)
        explore = rng.choice(rest, size=min(size - len(picked), len(rest)), replace=False)
        # A random pick's score: its gain given the greedy picks of this batch.
        explore_scores = [_task_gain(u, rows_of[t], inv) for t in explore]
    else:
        scores = disagreement_scores(rewards, pairs) if strategy == "disagreement" else uncertainty_scores(mean_rewards, pairs)
        picked, picked_scores = _greedy(scores, size - n_random, embeddings, diversity, allowed)
        rest = np.flatnonzero(allowed)
        explore = rng.choice(rest, size=min(size - len(picked), len(rest)), replace=False)
        explore_scores = [float(scores[t]) for t in explore]
    indices = np.array(picked + [int(t) for t in explore], dtype=np.int64)
    return indices, np.array(picked_scores + explore_scores, dtype=np.float64)


def bootstrap_heads(
    pair_features: np.ndarray,
    head: np.ndarray,
    *,
    members: int = 8,
    l2: float = 1.0,
    steps: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """M last-layer heads refitted on bootstrap resamples of the labelled pairs: (members, d).

    ``pair_features`` (n, 2, d) is (chosen, rejected) features under the current model, ``head``
    (d,) the current head's weights.  Each member minimises the Bradley-Terry loss on a resample
    plus l2 * |w - head|^2 with a few Newton steps (d x d solves; cheap for d of a few hundred),
    so members agree where the labels pin the head down and differ where they do not.  The
    head's bias cancels in every reward difference and is left out.
    """
    pair_features = np.asarray(pair_features, dtype=np.float64)
    head = np.asarray(head, dtype=np.float64)
    z = pair_features[:, 0] - pair_features[:, 1]
    rng = np.random.default_rng(seed)
    out = np.empty((members, len(head)))
    for m in range(members):
        sample = z[rng.integers(0, len(z), size=len(z))] if len(z) else z
        w = head.copy()
        for _ in range(steps):
            p = sigmoid(sample @ w)
            grad = -(sample * (1 - p)[:, None]).sum(0) + 2 * l2 * (w - head)
            hess = (sample * (p * (1 - p))[:, None]).T @ sample + 2 * l2 * np.eye(len(w))
            w = w - np.linalg.solve(hess, grad)
        out[m] = w
    return out

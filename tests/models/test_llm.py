"""HyMiRec's LLM model: shapes, padding, overfitting a tiny data set, determinism, persistence, LoRA, faiss serving."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from hymirec.config import BackboneConfig, CoarseConfig, EvaluationConfig, LLMConfig, ServingConfig, Variant
from hymirec.data.sequences import SplitView
from hymirec.evaluation.ranking import evaluate
from hymirec.models.coarse import CoarseModel
from hymirec.models.llm import (
    build_hymirec,
    coarse_item_tower,
    llm_batch,
    load_hymirec,
    save_hymirec,
    split_histories,
    training_windows,
    variant_spec,
    window_attention,
    window_ends,
    window_targets,
)
from hymirec.serving.retrieval import MultiInterestRetriever
from hymirec.serving.served_model import served_interests, served_item_vectors
from hymirec.training.loop import TrainingSchedule, seed_everything, train_with_early_stopping

# unequal sizes so a wrong axis fails: 19 items, embeddings 10-d, interests 12-d, K=3, coarse width 8
NUM_ITEMS, EMBEDDING_DIM = 19, 10
COARSE = CoarseConfig(hidden_size=8, num_layers=1, num_heads=1, dropout=0.0, max_length=9, num_tokens=2)
CONFIG = LLMConfig(
    backbone=BackboneConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, dropout=0.0),
    num_interests=3, interest_size=12, recent_items=4, full_history_items=7, target_window=3, windows_per_user=3,
    batch_size=8, learning_rate=1e-2, max_epochs=60, patience=60,
)
SCRATCH_VARIANTS = [variant for variant in Variant if variant is not Variant.SMOLLM2]
# dot-product scoring, window items read with the coarse model's state at their position
DOT_WITH_STATES = CONFIG.model_copy(update={"scoring": "dot", "coarse_item_states": True})
# ... and each interest the coarse model's state plus the decoder's refinement (needs d = the coarse width)
RESIDUAL = DOT_WITH_STATES.model_copy(update={"coarse_residual": True, "interest_size": COARSE.hidden_size})
# DMIL plus the softmax of the serving score max_k s_k(i)
MAX_SCORE = CONFIG.model_copy(update={"max_score_loss_weight": 1.0})
# the coarse model trained on together with the decoder
TRAINED_CONTEXT = MAX_SCORE.model_copy(update={"train_context": True})
# the serving score's max with a learned gate over the interests
GATED = MAX_SCORE.model_copy(update={"merge": "gated_max"})
CONFIGS = {
    "cosine": CONFIG, "dot_with_states": DOT_WITH_STATES, "coarse_residual": RESIDUAL, "max_score": MAX_SCORE,
    "trained_context": TRAINED_CONTEXT, "gated_max": GATED,
}


def _embeddings(seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(NUM_ITEMS, EMBEDDING_DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _cyclic_sequences(users: int = 13, length: int = 9) -> list[np.ndarray]:
    """User u walks the items u, u+1, ... (mod 19): the next item is fully predictable."""
    return [np.arange(u, u + length) % NUM_ITEMS for u in range(users)]


def _model(variant: Variant = Variant.HYMIREC, cache_dir: Path = Path("unused"), config: LLMConfig = CONFIG, seed: int = 0):
    seed_everything(seed)
    embeddings = _embeddings()
    coarse = CoarseModel.from_embeddings(COARSE, embeddings, embeddings)
    return build_hymirec(config, variant, COARSE, embeddings, embeddings, cache_dir, coarse.state_dict())


@pytest.mark.parametrize("variant", SCRATCH_VARIANTS, ids=lambda v: v.value)
def test_interests_are_unit_vectors_of_shape_batch_by_k_by_d(variant: Variant) -> None:
    model = _model(variant).eval()
    histories = [np.array([1, 2, 3]), np.arange(12) % NUM_ITEMS, np.array([5])]
    interests = model.user_interests(histories)
    k = 1 if variant is Variant.K1 else CONFIG.num_interests
    assert interests.shape == (3, k, CONFIG.interest_size)
    np.testing.assert_allclose(np.linalg.norm(interests, axis=-1), 1.0, atol=1e-5)
    # a user's interests do not depend on the other users in the batch (padding is masked)
    np.testing.assert_allclose(model.user_interests(histories[2:]), interests[2:], atol=1e-5)
    scores = model.score_items(histories)
    assert scores.shape == (3, NUM_ITEMS)
    np.testing.assert_allclose(scores, np.einsum("bkd,id->bki", interests, model.item_vectors().detach().numpy()).max(axis=1), atol=1e-5)


def test_variants_change_only_what_they_name() -> None:
    specs = {variant: variant_spec(CONFIG, variant) for variant in Variant}
    assert specs[Variant.HYMIREC].context == "coarse" and specs[Variant.HYMIREC].history == "codebook"
    assert specs[Variant.NO_COARSE].context == "pooled" and specs[Variant.RECENT_ONLY].context == "none"
    assert specs[Variant.EXACT_HISTORY].history == "exact" and specs[Variant.K1].num_interests == 1
    assert specs[Variant.SMOLLM2].backbone.kind == "smollm2"
    assert {spec.backbone.kind for variant, spec in specs.items() if variant is not Variant.SMOLLM2} == {"scratch"}


def test_windows_always_include_the_serving_window_and_cover_every_target_across_epochs() -> None:
    rng = np.random.default_rng(0)
    assert window_ends(12, 4, 1, rng) == [11]  # the history's last R inputs, predicting the last item
    ends = window_ends(40, 4, 100, rng)
    assert ends[0] == 39 and all(b - a >= 4 for a, b in zip(ends[1:], ends[:-1]))  # tiles never overlap
    sequences = _cyclic_sequences(users=3, length=12)
    covered = set()
    for epoch in range(1, 30):
        windows = training_windows(sequences, 4, 2, seed=1, epoch=epoch)
        assert len(windows) == 6 and [end for _, end in windows[::2]] == [11, 11, 11]
        covered |= {position for _, end in windows for position in range(max(0, end - 4), end)}
    assert covered == set(range(11))  # every position 0..10 predicted something: every item 1..11 a target
    assert training_windows(sequences, 4, 2, 1, 5) == training_windows(sequences, 4, 2, 1, 5)


def test_a_batch_holds_each_window_left_padded_with_the_next_w_items_of_every_position() -> None:
    samples = [(np.array([4, 5, 6, 7, 8, 9]), 5), (np.array([4, 5, 6, 7]), 2)]
    batch = llm_batch(samples, recent_items=3, target_window=2)
    assert batch.window.tolist() == [[7, 8, 9], [0, 5, 6]]  # tokens = item_idx + 1: items 6, 7, 8 and 4, 5
    assert [history.tolist() for history in batch.before] == [[4, 5], []]
    assert batch.targets.tolist() == [[[7, 8], [8, 9], [9, -1]], [[-1, -1], [5, 6], [6, 7]]]
    assert window_targets(samples, recent_items=3, target_window=2) == batch.loss_terms == (2 + 2 + 1) + (2 + 2)


def test_the_window_mask_and_positions_on_a_hand_checked_case() -> None:
    # tokens: context [pad, c1], items [pad, i1, i2], one query for position 1 (q1) and for position 2 (q2)
    allowed, positions = window_attention(
        torch.tensor([[False, True]]), torch.tensor([[False, True, True]]), torch.tensor([1, 2]), queries=1
    )
    sees = {name: {other for other, column in zip("c0 c1 i0 i1 i2 q1 q2".split(), row) if column}
            for name, row in zip("c0 c1 i0 i1 i2 q1 q2".split(), allowed[0].tolist())}
    assert sees["q1"] == {"c1", "i1", "q1"} and sees["q2"] == {"c1", "i1", "i2", "q2"}
    assert sees["i1"] == {"c1", "i1"} and sees["i2"] == {"c1", "i1", "i2"} and sees["c1"] == {"c1"}
    assert sees["c0"] == {"c0"} and sees["i0"] == {"i0"}  # padding sees itself only, and no one sees it
    assert positions[0, [1, 3, 4, 5, 6]].tolist() == [0, 1, 2, 2, 3]  # real tokens counted; a query just after its item


def _window_interests(model, batch) -> torch.Tensor:
    recent = batch.window.shape[1]
    with torch.no_grad():
        return model.window_interests(batch.before, batch.window, model.item_vectors(), torch.arange(recent))[0]


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize("variant", SCRATCH_VARIANTS, ids=lambda v: v.value)
def test_no_position_sees_its_future_and_the_context_never_sees_the_window(variant: Variant, config: LLMConfig) -> None:
    model = _model(variant, config=config).eval()
    sequence = np.arange(3, 15) % NUM_ITEMS
    batch = llm_batch([(sequence, 11)], CONFIG.recent_items, CONFIG.target_window)  # window = items 7..10
    interests = _window_interests(model, batch)  # [1 R K d]
    for position in range(CONFIG.recent_items - 1):
        changed = batch.window.clone()
        changed[0, position + 1 :] = torch.tensor([1, 2, 3, 4])[: CONFIG.recent_items - position - 1]
        altered = _window_interests(model, replace(batch, window=changed))
        torch.testing.assert_close(altered[0, : position + 1], interests[0, : position + 1])
        assert not torch.allclose(altered[0, position + 1 :], interests[0, position + 1 :])
    if model.context is not None:  # the context reads the items before the window only
        tokens, _ = model.context.context_tokens(batch.before, config.coarse_tokens)
        other_window = model.context.context_tokens(llm_batch([(np.r_[sequence[:7], [1, 2, 3, 4]], 11)], 4, 2).before,
                                                    config.coarse_tokens)[0]
        torch.testing.assert_close(other_window, tokens)
        earlier_history = replace(batch, before=[np.r_[batch.before[0][:-1], [0]]])  # the item just before the window
        assert not torch.allclose(_window_interests(model, earlier_history), interests)


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize("variant", SCRATCH_VARIANTS, ids=lambda v: v.value)
def test_the_last_training_position_is_what_serving_computes(variant: Variant, config: LLMConfig) -> None:
    model = _model(variant, config=config).eval()
    histories = [np.arange(2, 14) % NUM_ITEMS, np.array([5, 6]), np.arange(7, 13)]
    recent = model.recent_items  # R, or full_history_items for llm_full_history
    batch = llm_batch([(np.r_[history, [0]], len(history)) for history in histories], recent, CONFIG.target_window)
    torch.testing.assert_close(_window_interests(model, batch)[:, -1], torch.from_numpy(model.user_interests(histories)))
    before, window = split_histories(histories, recent)
    assert [len(b) for b in before] == [12 - recent, 0, max(0, 6 - recent)] and window.shape == (3, recent)


def _train(variant: Variant = Variant.HYMIREC, epochs: int = 60, seed: int = 0, config: LLMConfig = CONFIG):
    model = _model(variant, seed=seed, config=config)
    sequences = _cyclic_sequences()
    view = SplitView([s[:-1] for s in sequences], np.array([s[-1] for s in sequences]), np.arange(len(sequences)), "valid")
    config = EvaluationConfig(ks=(1, 10), ranking_depth=10)
    output = train_with_early_stopping(
        model, lambda epoch: training_windows([s[:-1] for s in sequences], model.recent_items, CONFIG.windows_per_user, seed, epoch),
        lambda batch: llm_batch(batch, model.recent_items, CONFIG.target_window),
        lambda trained: evaluate(trained.score_items, view, config, model_name=variant.value, with_top_items=False).metrics,
        TrainingSchedule(CONFIG.batch_size, CONFIG.learning_rate, 0.0, epochs, epochs), seed=seed,
    )
    return model, output, view, config


@pytest.mark.parametrize("llm_config", CONFIGS.values(), ids=CONFIGS.keys())
def test_a_tiny_model_overfits_a_tiny_data_set(llm_config: LLMConfig) -> None:
    model, output, view, config = _train(config=llm_config)
    assert output.best_valid["recall@10"] == 1.0
    assert evaluate(model.score_items, view, config, model_name="hymirec").metrics["recall@10"] == 1.0


def test_the_max_score_loss_is_added_with_its_weight() -> None:
    batch = llm_batch(training_windows(_cyclic_sequences(), CONFIG.recent_items, 2, seed=0, epoch=1)[:8], CONFIG.recent_items, CONFIG.target_window)
    losses = {}
    for weight in (0.0, 1.0, 2.5):
        model = _model(config=CONFIG.model_copy(update={"max_score_loss_weight": weight})).eval()  # eval: no dropout
        losses[weight] = model.loss(batch).item()
    added = losses[1.0] - losses[0.0]
    assert added > 0.1  # a softmax over 19 items from untrained interests costs about log(19)
    assert losses[2.5] - losses[0.0] == pytest.approx(2.5 * added, rel=1e-4)


def test_reruns_are_deterministic_and_a_saved_model_scores_the_same(tmp_path: Path) -> None:
    first, _, view, _ = _train(epochs=3)
    second, _, _, _ = _train(epochs=3)
    np.testing.assert_array_equal(first.score_items(view.histories), second.score_items(view.histories))
    save_hymirec(first, tmp_path)
    reloaded = load_hymirec(tmp_path, tmp_path / "unused")
    np.testing.assert_allclose(reloaded.score_items(view.histories), first.score_items(view.histories), atol=1e-6)


@pytest.mark.parametrize("train_context", [False, True], ids=["frozen", "trained"])
def test_the_coarse_context_learns_only_when_trained_and_the_rest_always_learns(train_context: bool) -> None:
    model = _model(config=CONFIG.model_copy(update={"train_context": train_context}))
    assert all(parameter.requires_grad is train_context for parameter in model.context.parameters())
    before = {name: value.clone() for name, value in model.state_dict().items()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.loss(llm_batch(training_windows(_cyclic_sequences(), CONFIG.recent_items, 2, 0, 1)[:8], CONFIG.recent_items, 2)).backward()
    optimizer.step()
    after = model.state_dict()
    if train_context:
        assert not torch.equal(before["context.item_tower.id_embedding.weight"], after["context.item_tower.id_embedding.weight"])
    else:
        assert all(torch.equal(before[name], after[name]) for name in before if name.startswith("context."))
    assert not torch.equal(before["queries"], after["queries"]) and not torch.equal(before["log_temperature"], after["log_temperature"])


def test_a_trained_context_is_never_remembered() -> None:
    model = _model(config=CONFIG.model_copy(update={"train_context": True})).eval()
    histories = [np.arange(u, u + 12) % NUM_ITEMS for u in range(5)]
    first = model.score_items(histories)
    assert not model._context_cache  # its tokens change with every step: never kept
    with torch.no_grad():
        model.context.item_tower.id_embedding.weight.add_(torch.randn_like(model.context.item_tower.id_embedding.weight))
    assert not np.allclose(model.score_items(histories), first)
    pooled = _model(Variant.NO_COARSE, config=CONFIG.model_copy(update={"train_context": True}))
    assert not pooled.trains_context  # the pooled codebook history has nothing to train


def test_scoring_remembers_the_frozen_context_tokens_and_forgets_them_with_new_weights() -> None:
    model = _model().eval()
    histories = [np.arange(u, u + 12) % NUM_ITEMS for u in range(5)]
    first = model.score_items(histories)
    assert len(model._context_cache) == 1
    np.testing.assert_array_equal(model.score_items([h.copy() for h in histories]), first)  # same content: remembered
    assert len(model._context_cache) == 1
    model.score_items(histories[:3])
    assert len(model._context_cache) == 2  # other histories: computed
    trained = _model(seed=1).state_dict()
    trained["context.item_tower.id_embedding.weight"] += 1.0  # another context model
    model.load_state_dict(trained)
    assert not model._context_cache
    fresh = _model(seed=1)
    fresh.load_state_dict(trained)
    np.testing.assert_allclose(model.score_items(histories), fresh.eval().score_items(histories), atol=1e-6)
    model.train()
    model.loss(llm_batch([(h, len(h) - 1) for h in histories], CONFIG.recent_items, CONFIG.target_window))
    assert len(model._context_cache) == 1  # training batches are never remembered


def test_contexts_read_from_whole_sequences_give_the_loss_and_scores_of_one_pass_per_window() -> None:
    """A from_oldest coarse model's windows read their context from one pass per training sequence."""
    coarse_config = COARSE.model_copy(update={"positions": "from_oldest", "max_length": 16})
    embeddings = _embeddings()

    def model():
        seed_everything(0)
        coarse = CoarseModel.from_embeddings(coarse_config, embeddings, embeddings)
        return build_hymirec(CONFIG, Variant.HYMIREC, coarse_config, embeddings, embeddings, Path("unused"), coarse.state_dict())

    sequences = [np.arange(u, u + 14) % NUM_ITEMS for u in range(5)]
    batch = llm_batch(training_windows(sequences, CONFIG.recent_items, 3, seed=0, epoch=1), CONFIG.recent_items, CONFIG.target_window)
    per_window, from_sequences = model(), model()
    assert from_sequences.reads_contexts_from_sequences and not _model().reads_contexts_from_sequences
    from_sequences.read_contexts_from(sequences)
    torch.testing.assert_close(from_sequences.loss(batch), per_window.loss(batch), atol=1e-5, rtol=1e-5)
    assert from_sequences._prefix_states.context_tokens(batch.before, CONFIG.coarse_tokens) is not None  # every window found
    validation = [sequence[:-1] for sequence in sequences]  # prefixes: read from the stored states
    np.testing.assert_allclose(from_sequences.eval().score_items(validation), per_window.eval().score_items(validation), atol=1e-5)
    with pytest.raises(ValueError, match="from_oldest"):
        _model().read_contexts_from(sequences)


def test_the_item_tower_warm_starts_from_the_coarse_models() -> None:
    embeddings = _embeddings()
    coarse_config = COARSE.model_copy(update={"hidden_size": CONFIG.interest_size, "num_heads": 1})
    coarse = CoarseModel.from_embeddings(coarse_config, embeddings * 0.5, embeddings)
    with torch.no_grad():
        coarse.item_tower.id_embedding.weight.add_(3.0)  # "trained": unlike any fresh initialisation
    tower = coarse_item_tower(coarse.state_dict())
    model = build_hymirec(CONFIG, Variant.HYMIREC, coarse_config, embeddings, embeddings * 0.5, Path("unused"), coarse.state_dict(), tower)
    torch.testing.assert_close(model.item_tower(), coarse.item_tower())
    torch.testing.assert_close(model.item_tower.text_vectors, torch.from_numpy(embeddings))  # the exact vectors, as always
    cold = build_hymirec(CONFIG, Variant.HYMIREC, coarse_config, embeddings, embeddings * 0.5, Path("unused"), coarse.state_dict())
    assert not torch.allclose(cold.item_tower(), coarse.item_tower())


def test_window_items_read_the_coarse_models_own_state_at_their_position() -> None:
    """At serving time the last item's coarse state is the coarse model's user state over the recent history."""
    model = _model(config=DOT_WITH_STATES).eval()
    histories = [np.arange(2, 16) % NUM_ITEMS, np.array([5, 6])]
    before, window = split_histories(histories, CONFIG.recent_items)
    with torch.no_grad():
        states = model.item_states(before, window)  # [B R H]
        own = model.context(torch.stack([torch.from_numpy(np.r_[np.zeros(COARSE.max_length - len(h[-9:]), dtype=np.int64), h[-9:] + 1])
                                         for h in histories]), last=1)[:, 0]
    torch.testing.assert_close(states[:, -1], own)
    assert model.item_vectors().norm(dim=-1).std() > 0  # dot scoring: item vectors keep their norms


def test_a_residual_model_starts_as_the_coarse_model() -> None:
    """Head at zero: every interest is the coarse user vector, so with the coarse tower the scores are the coarse model's."""
    seed_everything(0)
    embeddings = _embeddings()
    coarse = CoarseModel.from_embeddings(COARSE, embeddings, embeddings).eval()
    model = build_hymirec(RESIDUAL, Variant.HYMIREC, COARSE, embeddings, embeddings, Path("unused"), coarse.state_dict(),
                          coarse_item_tower(coarse.state_dict()))
    histories = [np.arange(2, 16) % NUM_ITEMS, np.array([5, 6]), np.arange(7, 13)]
    np.testing.assert_allclose(model.score_items(histories), coarse.score_items(histories), rtol=1e-5, atol=1e-5)
    trained, _, view, _ = _train(epochs=2, config=RESIDUAL)
    assert not np.allclose(trained.score_items(view.histories), coarse.score_items(view.histories), atol=1e-3)  # it learns


@pytest.mark.parametrize("llm_config", CONFIGS.values(), ids=CONFIGS.keys())
def test_faiss_serving_returns_the_full_ranking_top_k(llm_config: LLMConfig) -> None:
    model, _, view, _ = _train(epochs=2, config=llm_config)
    retriever = MultiInterestRetriever(served_item_vectors(model), ServingConfig(), seed=0)
    served = retriever.top_items(served_interests(model, view.histories), 5, view.histories)
    scores = model.score_items(view.histories)
    for user, history in enumerate(view.histories):
        scores[user, history] = -np.inf
        expected = np.lexsort((np.arange(NUM_ITEMS), -scores[user]))[:5]
        np.testing.assert_array_equal(served[user], expected)


@pytest.mark.slow
def test_the_smollm2_variant_trains_only_lora_and_its_own_heads(smollm2_cache: Path, tmp_path: Path) -> None:
    config = CONFIG.model_copy(update={"smollm2_backbone": BackboneConfig(kind="smollm2", num_layers_kept=1, lora_rank=2)})
    model = _model(Variant.SMOLLM2, smollm2_cache, config)
    trainable = [name for name, parameter in model.named_parameters() if parameter.requires_grad]
    backbone_trainable = [name for name in trainable if name.startswith("backbone.")]
    assert backbone_trainable and all("lora_" in name for name in backbone_trainable)
    assert {"queries", "log_temperature"} <= set(trainable) and "head.weight" in trainable
    histories = [np.array([1, 2, 3]), np.array([4])]
    assert model.user_interests(histories).shape == (2, CONFIG.num_interests, CONFIG.interest_size)
    # the frozen pretrained decoder is not saved; loading rebuilds it from the cache
    save_hymirec(model, tmp_path)
    saved = torch.load(tmp_path / "model.pt", weights_only=True)
    assert not any(key in saved for key in model.frozen_pretrained_keys())
    np.testing.assert_allclose(load_hymirec(tmp_path, smollm2_cache).score_items(histories), model.score_items(histories), atol=1e-5)


def test_a_zero_gate_ranks_as_the_max_and_training_moves_it(tmp_path: Path) -> None:
    """The gate starts at π uniform (every score shifted by τ·log(1/K)) and is created last: the same seed
    gives a max model's weights; trained, it weighs the interests apart."""
    histories = [np.arange(2, 16) % NUM_ITEMS, np.array([5, 6]), np.arange(7, 13)]
    gated, plain = _model(config=GATED).eval(), _model(config=MAX_SCORE).eval()
    offset = gated.temperature().item() * np.log(1 / gated.num_interests)
    np.testing.assert_allclose(gated.score_items(histories), plain.score_items(histories) + offset, rtol=1e-5, atol=1e-6)
    trained, _, view, _ = _train(epochs=3, config=GATED)
    _, offsets = trained.user_interests_and_offsets(view.histories)
    assert offsets.shape == (len(view.histories), trained.num_interests) and np.ptp(offsets, axis=1).max() > 1e-3
    scores = np.einsum("bkd,id->bki", trained.user_interests(view.histories), trained.item_vectors().detach().numpy())
    np.testing.assert_allclose(trained.score_items(view.histories), (scores + offsets[..., None]).max(axis=1), rtol=1e-5, atol=1e-6)
    save_hymirec(trained, tmp_path)  # the gate is saved with the model
    np.testing.assert_allclose(load_hymirec(tmp_path, tmp_path / "unused").score_items(view.histories), trained.score_items(view.histories), atol=1e-6)

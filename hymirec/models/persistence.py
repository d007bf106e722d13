"""Models on disk: ``model.pt`` (state_dict) + ``config.json`` (the config section, catalog size, dimensions)."""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import BaseModel
from torch import nn

from hymirec.io import read_json, write_atomically, write_json


def save_model(model: nn.Module, config: BaseModel, num_items: int, directory: Path, **dimensions: int) -> None:
    """``dimensions`` are further constructor arguments (e.g. ``embedding_dim``), stored for ``load_model``."""
    write_atomically(directory / "model.pt", lambda temp: torch.save(model.state_dict(), temp))
    write_json({"num_items": num_items, "config": config.model_dump(mode="json"), **dimensions}, directory / "config.json")


def load_model(model_class: type[nn.Module], config_class: type[BaseModel], directory: Path) -> nn.Module:
    """Rebuild a model from its saved config and weights, in eval mode."""
    saved = read_json(directory / "config.json")
    config, num_items = config_class.model_validate(saved.pop("config")), saved.pop("num_items")
    model = model_class(config, num_items, **saved)
    model.load_state_dict(torch.load(directory / "model.pt", weights_only=True))
    return model.eval()

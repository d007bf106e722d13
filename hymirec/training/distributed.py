"""Training under ``torchrun``: which process this is, its users of each batch, and the sums across processes.

Launched by ``torchrun`` (``WORLD_SIZE`` > 1 in the environment), ``init`` joins the process group;
launched plainly, nothing here communicates and every helper is the identity, so single-process
training runs the code it always ran. The backend is gloo: every model here trains on CPU tensors,
which NCCL cannot reduce.
"""

from __future__ import annotations

import os
from typing import TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")


def init() -> None:
    """Join torchrun's process group (its ``MASTER_ADDR``/``RANK``/``WORLD_SIZE`` variables); alone, do nothing."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    """Whether this process writes: outputs, checkpoints and MLflow records come from rank 0 only."""
    return rank() == 0


def local_processes() -> int:
    """How many processes torchrun started on this machine (they share its CPUs)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))


def shard(members: np.ndarray) -> np.ndarray:
    """This rank's samples of a global batch: every ``world_size``-th one from position ``rank``.

    Strided rather than cut in halves, so a batch sorted by length (``training.batch_order``) gives every
    rank samples of the same lengths, and shards differ in size by one sample at most.
    """
    return members[rank() :: world_size()]


def from_main(value: T) -> T:
    """Rank 0's ``value`` on every rank (a pickled broadcast): decisions taken once, so no rank can diverge."""
    if world_size() == 1:
        return value
    box = [value if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def average_gradients(model: nn.Module, loss: torch.Tensor | None, terms: int) -> float:
    """The global batch's loss; every gradient becomes the ranks' gradients averaged with weights ``terms``.

    Each rank backpropagated its shard's loss (``loss``; None for an empty shard), a mean over ``terms``
    terms (labelled positions, DMIL targets), so Σ_r terms_r·∇loss_r / Σ_r terms_r is the gradient of the
    mean over the whole batch: a single-process step, up to float summation order.

    Gradients are averaged here by one ``all_reduce`` of a flat buffer, not by wrapping the model in
    ``DistributedDataParallel``: DDP syncs only through ``forward``, and the models train through
    ``loss(batch)``; DDP's plain average would weight a shard of few positions (or an empty last
    shard) like a full one; and here a parameter no rank used keeps ``grad = None``, as in a single
    process, so AdamW leaves it alone. A non-finite loss on any rank makes the returned loss
    non-finite on all of them.
    """
    if world_size() == 1:
        return loss.item()
    parameters = [p for p in model.parameters() if p.requires_grad]
    weight = torch.tensor([float(terms)])
    pieces = [loss.detach().reshape(1) * weight if loss is not None else torch.zeros(1), weight]
    pieces += [torch.tensor([float(p.grad is not None) for p in parameters])]
    pieces += [(p.grad * weight if p.grad is not None else torch.zeros_like(p)).flatten() for p in parameters]
    flat = torch.cat(pieces)
    dist.all_reduce(flat)
    total_terms, used, offset = flat[1], flat[2 : 2 + len(parameters)] > 0, 2 + len(parameters)
    for index, parameter in enumerate(parameters):
        size = parameter.numel()
        parameter.grad = (flat[offset : offset + size] / total_terms).view_as(parameter) if used[index] else None
        offset += size
    return (flat[0] / total_terms).item()

"""Looking inside a trained model: predictions, activations, gates, Grad-CAM, occlusion, gradients, confusions.

Each returns detached CPU tensors for `mnist_nb.support.plots`, and leaves the model as it was: training flag, hooks,
weights, gradients, BatchNorm statistics.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F

from mnist_nb.blocks import SpatialAttention, SqueezeExcitation
from mnist_nb.config import IMAGE_SIZE, NUM_CLASSES
from mnist_nb.devices import autocast_for


@contextmanager
def _in_eval_mode(model: nn.Module):
    """Eval mode inside the `with` block; the training flag is restored after it, error or not."""
    was_training = model.training
    try:
        yield model.eval()
    finally:
        model.train(was_training)


def _module(model: nn.Module, name: str) -> nn.Module:
    modules = dict(model.named_modules())
    if name not in modules:
        known = ", ".join(n for n in modules if n and "." not in n)
        raise ValueError(f"no module named {name!r} in the model; top-level names: {known} (see print(model))")
    return modules[name]


def capture_activations(model: nn.Module, images: torch.Tensor, layer_names: Sequence[str]) -> dict[str, torch.Tensor]:
    """Outputs of the named submodules (names as in `model.named_modules()`: "stem", "stage2.body.first") for
    `images` (float [N, 1, 28, 28], normalized), in eval mode: name -> CPU copy, e.g. stem -> [N, 8, 28, 28]."""
    captured: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(module, inputs, output):
            # A copy: a later in-place ReLU would otherwise change what we kept.
            captured[name] = output.detach().to("cpu", copy=True)

        return hook

    modules = {name: _module(model, name) for name in layer_names}  # fail on a bad name before hooking any
    handles = [module.register_forward_hook(keep(name)) for name, module in modules.items()]
    try:
        with _in_eval_mode(model), torch.no_grad():
            model(images.to(next(model.parameters()).device))
    finally:
        for handle in handles:
            handle.remove()
    return captured


def attention_maps(model: nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The sigmoid gates in [0, 1] computed for `images` (float [N, 1, 28, 28]), by module name:
    SpatialAttention -> where it looks, [N, 1, h, w]; SqueezeExcitation -> channel weights, [N, C]."""
    gated = (SpatialAttention, SqueezeExcitation)
    blocks = {name: module for name, module in model.named_modules() if isinstance(module, gated)}
    if not blocks:
        raise ValueError("this model has no attention modules: use build_model('attention') or build_model('residual')")
    with _in_eval_mode(model), torch.no_grad():  # each block keeps its gate in .last_attention
        model(images.to(next(model.parameters()).device))
    maps = {}
    for name, module in blocks.items():
        gate = module.last_attention.cpu()
        maps[name] = gate.flatten(1) if isinstance(module, SqueezeExcitation) else gate
    return maps


def grad_cam(
    model: nn.Module, images: torch.Tensor, target_layer: str, classes=None, scale_per_image=True, relu=True
) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al., 2017): which positions of `target_layer` raised the class score.

    images: float [N, 1, 28, 28]; classes: [N] (default: the predicted class). A forward hook swaps the
    layer's output A [N, C, h, w] for a copy to differentiate against; weights = mean over h, w of
    d logit / d A, cam = ReLU(sum_c weights * A), resized to 28x28: CPU [N, 28, 28]. Scaled to [0, 1] per
    image by default; with scale_per_image=False left in the units of the class score (a logit), so that
    maps can be compared with each other. relu=False keeps the positions that lowered the score (negative
    values): with a GAP-and-linear head right after the layer, the h x w map sums to the score less the bias
    (resized to 28x28, to about (28 / h)^2 times that).
    Only d logit / d A is computed (torch.autograd.grad): no parameter's .grad is touched.
    """
    kept: dict[str, torch.Tensor] = {}

    def swap(module, inputs, output):
        if output.ndim != 4:
            raise ValueError(
                f"Grad-CAM needs a layer with [N, C, h, w] output; {target_layer!r} gives {list(output.shape)}"
            )
        kept["activations"] = output.detach().requires_grad_(True)
        return kept["activations"].clone()  # a non-leaf copy, so an in-place op downstream is allowed

    handle = _module(model, target_layer).register_forward_hook(swap)
    try:
        with _in_eval_mode(model), torch.enable_grad():
            logits = model(images.to(next(model.parameters()).device))  # [N, 10]
            if classes is None:
                classes = logits.argmax(1)
            classes = torch.as_tensor(classes, device=logits.device).long()
            score = logits.gather(1, classes[:, None]).sum()  # images are independent in eval mode
            (gradients,) = torch.autograd.grad(score, kept["activations"])
    finally:
        handle.remove()
    activations = kept["activations"].detach()
    weights = gradients.mean((2, 3), keepdim=True)  # [N, C, 1, 1]
    cam = (weights * activations).sum(1, keepdim=True)  # [N, 1, h, w]
    if relu:  # evidence for the class only
        cam = F.relu(cam)
    # Bilinear upsampling by a whole factor k (align_corners=False) multiplies the sum by k^2: 7x7 -> 28x28 by 16.
    cam = F.interpolate(cam, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)[:, 0]
    if not scale_per_image:
        return cam.cpu()
    cam = cam - cam.amin((1, 2), keepdim=True)
    cam = cam / cam.amax((1, 2), keepdim=True).clamp_min(1e-12)  # an all-zero map stays zero
    return cam.cpu()


@torch.no_grad()
def occlusion(
    model: nn.Module, picture: torch.Tensor, corners: Sequence[tuple[int, int]], size: int, answer: int, normalization
) -> torch.Tensor:
    """The probability the model gives `answer` for a digit (uint8 [28, 28]) as it is, then with a size x size square
    blanked (0, the background) at each (top, left) corner: [1 + len(corners)]. `normalization` as in training."""
    copies = picture.repeat(1 + len(corners), 1, 1)  # [1 + k, 28, 28]: as it is, then one square blanked each
    for index, (top, left) in enumerate(corners, start=1):
        copies[index, top : top + size, left : left + size] = 0
    device = next(model.parameters()).device
    with _in_eval_mode(model), autocast_for(device):
        logits = model(normalization(copies.unsqueeze(1).float() / 255).to(device)).float()  # [1 + k, 10]
    return logits.softmax(1)[:, answer].cpu()


@torch.no_grad()  # inference only: without it every batch would keep its graph alive in the results
def predict(model: nn.Module, loader, *, confidences: bool = False):
    """(predicted labels [N], true labels [N]) on the CPU, in loader order (use shuffle=False); with
    `confidences`, a third tensor [N]: the softmax probability the model gave its prediction."""
    device, predictions, true_labels, probabilities = next(model.parameters()).device, [], [], []
    with _in_eval_mode(model):
        for images, labels in loader:
            with autocast_for(device):
                logits = model(images.to(device)).float()  # [B, 10]
            top = logits.softmax(1).max(1)
            predictions.append(top.indices.cpu())
            probabilities.append(top.values.cpu())
            true_labels.append(labels.cpu())
    predicted, labels = torch.cat(predictions), torch.cat(true_labels)
    return (predicted, labels, torch.cat(probabilities)) if confidences else (predicted, labels)


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """int64 [10, 10]: entry [t, p] counts images of true class t predicted as p."""
    pairs = labels.detach().cpu().long() * NUM_CLASSES + predictions.detach().cpu().long()
    return torch.bincount(pairs, minlength=NUM_CLASSES * NUM_CLASSES).view(NUM_CLASSES, NUM_CLASSES)


def gradient_rms(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """Root mean square, per weight, of each conv's cross-entropy gradient, by module name.

    Per weight: a whole tensor's norm grows with its size (sqrt(n); a 7x7 gate conv has 98 weights, a 16 -> 16
    conv 2,304) whatever the gradient flow. One training-mode pass on a deep copy, dropout from a forked,
    seeded RNG: the model and the caller's random stream stay as they were. images: [N, 1, 28, 28]; labels: [N].
    """
    device = next(model.parameters()).device
    probe = copy.deepcopy(model).train()
    probe.zero_grad(set_to_none=True)
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_devices), torch.enable_grad():
        torch.manual_seed(seed)
        loss = F.cross_entropy(probe(images.to(device)), labels.to(device))
        loss.backward()
    convs = [(name, module) for name, module in probe.named_modules() if isinstance(module, nn.Conv2d)]
    return {name: conv.weight.grad.pow(2).mean().sqrt().item() for name, conv in convs if conv.weight.grad is not None}

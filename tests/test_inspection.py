"""Looking inside a model: activations, attention gates, Grad-CAM, gradient norms, confusions.

On untrained models and random batches: seconds, no MNIST. Each function must leave the model as it
was (training flag, hooks, weights, gradients, BatchNorm statistics).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from mnist_nb import inspection
from mnist_nb.data import Normalization

from .conftest import random_batch, seeded_model


@pytest.fixture(autouse=True)
def few_threads(one_thread):
    yield


def no_hooks_left(model: nn.Module) -> bool:
    return all(not module._forward_hooks and not module._backward_hooks for module in model.modules())


# ----------------------------------------------------------------------------- activations and attention


def test_predict_returns_labels_in_loader_order_and_leaves_the_model_training():
    model = seeded_model("residual").train()
    images, labels = random_batch()
    loader = [(images[:2], labels[:2]), (images[2:], labels[2:])]  # two batches, in order
    predicted, true, confidence = inspection.predict(model, loader, confidences=True)
    torch.testing.assert_close(true, labels)
    with torch.no_grad():
        expected = model.eval()(images).softmax(1)  # what eval mode answers, batch by batch or at once
    model.train()
    torch.testing.assert_close(predicted, expected.argmax(1))
    torch.testing.assert_close(confidence, expected.max(1).values)
    assert model.training and no_hooks_left(model)
    assert all(parameter.grad is None for parameter in model.parameters())
    # Inference only: the answers hold no graph that would keep every batch's activations alive.
    assert not confidence.requires_grad and confidence.grad_fn is None


def test_capture_activations_shapes_and_cleanup():
    model = seeded_model("residual").train()
    images, _ = random_batch()
    activations = inspection.capture_activations(model, images, ["stem", "stage2", "head"])
    assert activations["stem"].shape == (4, 8, 28, 28)
    assert activations["stage2"].shape == (4, 16, 14, 14)
    assert activations["head"].shape == (4, 10)
    assert all(not tensor.requires_grad and tensor.device.type == "cpu" for tensor in activations.values())
    assert no_hooks_left(model) and model.training
    # the captured head output is the model's output in eval mode
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(activations["head"], model(images))


def test_capture_activations_unknown_name_leaves_no_hooks():
    model = seeded_model("residual")
    with pytest.raises(ValueError, match="stage9"):
        inspection.capture_activations(model, random_batch()[0], ["stem", "stage9"])
    assert no_hooks_left(model)


def test_capture_activations_removes_hooks_when_the_forward_pass_fails():
    model = seeded_model("residual").train()
    with pytest.raises(RuntimeError):  # torch's own error: 3 channels where the stem expects 1
        inspection.capture_activations(model, torch.zeros(2, 3, 28, 28), ["stem"])
    assert no_hooks_left(model) and model.training


def test_attention_maps_shapes_and_ranges():
    model = seeded_model("residual").train()
    images, _ = random_batch()
    maps = inspection.attention_maps(model, images)
    assert set(maps) == {"attention2.channel", "attention2.spatial", "attention3.channel", "attention3.spatial"}
    assert maps["attention2.spatial"].shape == (4, 1, 14, 14)
    assert maps["attention3.spatial"].shape == (4, 1, 7, 7)
    assert maps["attention2.channel"].shape == (4, 16)
    for gate in maps.values():
        assert gate.device.type == "cpu" and gate.min() >= 0 and gate.max() <= 1
    assert model.training


def test_attention_maps_needs_attention_modules():
    with pytest.raises(ValueError, match="build_model\\('attention'\\)"):
        inspection.attention_maps(seeded_model("gap"), random_batch()[0])


# ----------------------------------------------------------------------------- Grad-CAM


@pytest.mark.parametrize("layer", ["stage3", "attention2", "stem"])
def test_grad_cam_shape_range_and_no_side_effects(layer):
    model = seeded_model("residual").train()
    images, _ = random_batch()
    state = {key: value.clone() for key, value in model.state_dict().items()}
    with torch.no_grad():  # the caller need not enable gradients
        cam = inspection.grad_cam(model, images, layer)
    assert cam.shape == (4, 28, 28) and not cam.requires_grad
    assert cam.min() >= 0 and cam.max() <= 1
    assert all(parameter.grad is None for parameter in model.parameters())
    assert model.training and no_hooks_left(model)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_grad_cam_explicit_classes_and_inplace_relu_after_the_layer():
    model = seeded_model("baseline")  # no BatchNorm: stem.act applies ReLU in place to stem.conv's output
    images, labels = random_batch(3)
    cam = inspection.grad_cam(model, images, "stem.conv", classes=labels)
    assert cam.shape == (3, 28, 28)
    assert cam.min() >= 0 and cam.max() <= 1


def test_grad_cam_explains_the_predicted_class_by_default_and_the_given_one_otherwise():
    model = seeded_model("residual")
    images, _ = random_batch(4)
    with torch.no_grad():
        predicted = model.eval()(images).argmax(1)
    default = inspection.grad_cam(model, images, "stage3")
    torch.testing.assert_close(default, inspection.grad_cam(model, images, "stage3", classes=predicted))
    other = inspection.grad_cam(model, images, "stage3", classes=(predicted + 1) % 10)
    assert not torch.allclose(default, other)


def test_grad_cam_unscaled_spreads_the_class_score_over_the_image():
    model = seeded_model("fast").eval()  # stage3 -> dropout -> GAP -> linear: the score is linear in stage3's maps
    images, labels = random_batch(4)
    raw = inspection.grad_cam(model, images, "stage3", labels, scale_per_image=False)  # [4, 28, 28]
    low, high = raw.amin((1, 2), keepdim=True), raw.amax((1, 2), keepdim=True)
    assert (high > 0).sum() >= 2  # some maps have evidence (an all-zero map stays zero either way)
    scaled = (raw - low) / (high - low).clamp_min(1e-12)
    torch.testing.assert_close(inspection.grad_cam(model, images, "stage3", labels), scaled)
    # With non-negative head weights on stage3's non-negative maps the ReLU removes nothing, and a map
    # (each 7x7 position spread over 4x4 pixels) sums to its class score less the head's bias.
    with torch.no_grad():
        model.head.linear.weight.abs_()
        scores = model(images).gather(1, labels[:, None])[:, 0] - model.head.linear.bias[labels]
    raw = inspection.grad_cam(model, images, "stage3", labels, scale_per_image=False)
    torch.testing.assert_close(raw.sum((1, 2)) / 16, scores, rtol=1e-4, atol=1e-4)


def test_grad_cam_before_its_relu_sums_to_the_score_whatever_the_signs():
    model = seeded_model("fast").eval()  # stage3 -> dropout -> GAP -> linear
    images, labels = random_batch(4)
    with torch.no_grad():
        scores = model(images).gather(1, labels[:, None])[:, 0] - model.head.linear.bias[labels]
    signed = inspection.grad_cam(model, images, "stage3", labels, scale_per_image=False, relu=False)
    assert signed.min() < 0  # positions that lowered the score are kept
    torch.testing.assert_close(signed.sum((1, 2)) / 16, scores, rtol=1e-4, atol=1e-4)
    rectified = inspection.grad_cam(model, images, "stage3", labels, scale_per_image=False)
    assert (rectified.sum((1, 2)) >= signed.sum((1, 2)) - 1e-4).all()  # the ReLU only removes negatives


def test_capture_activations_of_nested_modules_keeps_a_copy_before_an_inplace_relu():
    model = seeded_model("residual").eval()
    images, _ = random_batch(2)
    names = ["stage2.body.first", "stage2.body.first.norm"]
    activations = inspection.capture_activations(model, images, names)
    # The BatchNorm output is then rectified in place by the block's ReLU: the kept copy is not.
    assert activations["stage2.body.first.norm"].min() < 0 and activations["stage2.body.first"].min() >= 0
    block = model.stage2.body.first
    with torch.no_grad():
        block_input = model.pool1(model.stage1(model.stem(images)))
        torch.testing.assert_close(activations["stage2.body.first.norm"], block.norm(block.conv(block_input)))
    torch.testing.assert_close(activations["stage2.body.first"], activations["stage2.body.first.norm"].clamp_min(0))


def test_grad_cam_rejects_a_layer_without_a_spatial_map():
    model = seeded_model("residual")
    with pytest.raises(ValueError, match="head"):
        inspection.grad_cam(model, random_batch()[0], "head")
    assert no_hooks_left(model)


# ----------------------------------------------------------------------------- errors and gradient flow


def test_confusion_matrix_matches_a_manual_count():
    generator = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 10, (200,), generator=generator)
    predictions = torch.where(torch.rand(200, generator=generator) < 0.7, labels, torch.randint(0, 10, (200,)))
    matrix = inspection.confusion_matrix(predictions, labels)
    manual = torch.zeros(10, 10, dtype=torch.int64)
    for true, predicted in zip(labels.tolist(), predictions.tolist(), strict=True):
        manual[true, predicted] += 1
    assert matrix.dtype == torch.int64 and matrix.shape == (10, 10)
    assert torch.equal(matrix, manual)
    assert torch.equal(matrix, torch.bincount(labels * 10 + predictions, minlength=100).view(10, 10))
    assert matrix.sum() == 200
    assert matrix.diagonal().sum() == (predictions == labels).sum()


def test_gradient_rms_every_conv_positive_and_model_untouched():
    model = seeded_model("residual").eval()
    images, labels = random_batch(8)
    state = {key: value.clone() for key, value in model.state_dict().items()}
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    norms = inspection.gradient_rms(model, images, labels)
    conv_names = [name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]
    assert list(norms) == conv_names and "stage2.body.first.conv" in norms
    assert all(isinstance(norm, float) and norm > 0 for norm in norms.values())
    for key, value in model.state_dict().items():  # weights and BatchNorm running statistics
        assert torch.equal(value, state[key]), key
    assert all(parameter.grad is None for parameter in model.parameters())
    assert not model.training
    assert torch.equal(torch.rand(3), expected_next)  # the caller's RNG stream is undisturbed
    assert inspection.gradient_rms(model, images, labels) == norms  # seeded: reproducible


def test_occlusion_gives_the_answer_s_probability_as_is_and_with_each_square_blanked():
    model = seeded_model("residual").train()
    normalization = Normalization(mean=0.13, std=0.31)
    picture = torch.randint(0, 256, (28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    original = picture.clone()
    probabilities = inspection.occlusion(model, picture, [(0, 0), (20, 12)], 8, 3, normalization)
    assert model.training and torch.equal(picture, original)  # the training flag and the picture as they were
    blanked = picture.clone()
    blanked[20:28, 12:20] = 0  # the second square, by hand
    with torch.no_grad():
        by_hand = model.eval()(normalization(torch.stack([picture, blanked]).unsqueeze(1).float() / 255)).softmax(1)
    assert probabilities.shape == (3,) and probabilities[[0, 2]].tolist() == pytest.approx(by_hand[:, 3].tolist())

"""SECBNet fed the true class map (seg_source="labels"): the oracle arm of the semantics claims."""

from __future__ import annotations

import warnings

import pytest
import torch

from semcolor.errors import SemcolorError
from semcolor.lightning_modules.secbnet import RandomSegmentationModuleWarning, SECBNetModule


def _model(**kw):
    return SECBNetModule(base_channels=8, seg_depth=64, seg_num_classes=7, seg_source="labels", seg_loss=False,
                         stitch_eval=False, **kw)


def test_labels_feed_the_branch_and_no_segmentation_module_is_built():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RandomSegmentationModuleWarning)  # no random WiCoNet is made
        m = _model().eval()
    assert m.seg_module is None
    x = torch.rand(2, 3, 32, 32)
    seg = torch.randint(0, 7, (2, 32, 32))
    out = m.forward_batch({"input": x, "seg": seg})
    other = m.forward_batch({"input": x, "seg": (seg + 1) % 7})
    assert out.shape == (2, 3, 32, 32) and not torch.allclose(out, other)
    expected = m.network(x, m.label_map(seg))
    torch.testing.assert_close(out, expected)
    assert torch.allclose(m.label_map(seg)[0, :, 0, 0], m.colorizer.palette[seg[0, 0, 0]])


def test_labels_arm_refuses_a_forward_without_the_class_map():
    m = _model().eval()
    with pytest.raises(SemcolorError, match="needs the true class map"):
        m(torch.rand(1, 3, 32, 32))


def test_unknown_seg_source_is_refused():
    with pytest.raises(SemcolorError, match="seg_source"):
        SECBNetModule(base_channels=8, seg_num_classes=7, seg_source="oracle", seg_loss=False)

"""Whether the OpenVINO tests can run here: openvino and nncf installed (the export extra pulls both)."""

import importlib.util

import pytest

HAVE_OPENVINO = all(importlib.util.find_spec(m) is not None for m in ("openvino", "nncf"))
needs_openvino = pytest.mark.skipif(not HAVE_OPENVINO, reason="openvino and nncf are not installed: pip install '.[export,openvino]'")

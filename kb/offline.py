"""No outbound connection unless configured (the LLM endpoint, ``kb fetch``, the chat bots).

Imported first by the ``kb`` package, so before any stage can import a library that phones home:
onnxruntime sends usage events to Microsoft unless ``ORT_DISABLE_TELEMETRY=1`` is in the
environment when it starts (``onnxruntime.disable_telemetry_events()`` did not stop it, measured
with 1.32), and huggingface_hub (under sentence-transformers) reports usage unless told not to.
``setdefault``: an operator who sets one of these explicitly keeps their value.
"""
from __future__ import annotations

import os

QUIET_ENVIRONMENT = {
    "ORT_DISABLE_TELEMETRY": "1",  # onnxruntime
    "HF_HUB_DISABLE_TELEMETRY": "1",  # huggingface_hub, transformers, sentence-transformers
    "DO_NOT_TRACK": "1",  # the cross-tool convention huggingface_hub and others honour
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
}

for _name, _value in QUIET_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)

"""The webhook's part of kopf's memo."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

from cloudcostguard.k8s.admission.decision import AdmissionRuntime
from cloudcostguard.k8s.memo import Memo


@dataclass(eq=False, kw_only=True)
class AdmissionMemo(Memo):
    admission: AdmissionRuntime | None = None  # set by server.configure_admission at startup
    # A generated self-signed certificate's directory, removed by server.stop_admission.
    webhook_cert_dir: tempfile.TemporaryDirectory[str] | None = None

"""Which device to run on and whether to use bf16 there: one rule for training, scoring and evaluation.

bf16 autocast only pays where the hardware has native bf16 arithmetic.  On a CPU that has
AVX-512 but not AVX512-BF16 or AMX, oneDNN still accepts bf16 but emulates it, and training is
about 3.6x slower than fp32 -- so ``torch.ops.mkldnn._is_mkldnn_bf16_supported()`` (which says
yes there) is not the test.  Native bf16 is read from the CPU's own flags in /proc/cpuinfo:
``avx512_bf16`` or ``amx_bf16`` on x86, ``bf16`` in the ``Features`` line on ARM.  Where there
is no /proc/cpuinfo (macOS, Windows) the answer is fp32.  On CUDA it is
``torch.cuda.is_bf16_supported()``.

Every choice carries its reason, so a run can say "precision: bf16 (native avx512_bf16)" or
"precision: fp32 (no native bf16 on this CPU)".
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

CPUINFO = "/proc/cpuinfo"
# x86 flags first; "bf16" is how ARM's Features line spells FEAT_BF16.
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16", "bf16")


@dataclass(frozen=True)
class Precision:
    bf16: bool
    reason: str

    @property
    def name(self) -> str:
        return "bf16" if self.bf16 else "fp32"

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"

    def autocast(self, device: torch.device):
        """The forward pass context: bf16 autocast when chosen, a no-op otherwise."""
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.bf16)


def pick_device(device: str | None = None, local_rank: int = 0) -> torch.device:
    """``device`` when given, else this rank's GPU when there is one, else the CPU."""
    if device:
        return torch.device(device)
    return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")


def cpu_flags(path: str | None = None) -> set[str] | None:
    """The CPU feature flags of the first processor in ``path``; None where it cannot be read."""
    path = path or CPUINFO
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key.strip() in ("flags", "Features"):  # x86, ARM
                return set(value.split())
    return set()


def native_cpu_bf16() -> str | None:
    """The flag that shows native bf16 on this CPU, or None."""
    flags = cpu_flags() or set()
    return next((flag for flag in NATIVE_BF16_FLAGS if flag in flags), None)


def choose_precision(device: torch.device, bf16: bool = True) -> Precision:
    """bf16 where it was asked for and the hardware runs it natively; fp32 otherwise."""
    if not bf16:
        return Precision(False, "bf16 turned off")
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return Precision(True, f"native on {torch.cuda.get_device_name(device)}")
        return Precision(False, "no bf16 on this GPU")
    if device.type == "cpu":
        flag = native_cpu_bf16()
        if flag:
            return Precision(True, f"native {flag}")
        if cpu_flags() is None:
            return Precision(False, f"cannot read {CPUINFO} to check for native bf16")
        return Precision(False, "no native bf16 on this CPU")
    return Precision(False, f"no bf16 autocast on {device.type}")


def scoring_precision(device: torch.device, bf16: bool | None = None) -> Precision:
    """Scoring and evaluation follow the same rule; by default bf16 is asked for on GPUs only,
    so CPU scores equal plain ``transformers`` fp32 scores (pass ``bf16=True`` to trade that
    for speed on a CPU with native bf16)."""
    if bf16 is None and device.type != "cuda":
        return Precision(False, "CPU scoring is fp32 unless bf16 is asked for")
    return choose_precision(device, bool(bf16 is None or bf16))

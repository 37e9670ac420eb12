"""bf16 only where the hardware runs it natively, and every run says which precision it chose."""

import json
import os

import pytest
import torch

from rewardtrain.ml import hardware, train
from rewardtrain.ml.hardware import choose_precision, scoring_precision

from .test_train import small_config

CPU = torch.device("cpu")
# An Intel Xeon (Skylake/Cascade Lake) line: AVX-512 but no AVX512-BF16 and no AMX, where oneDNN
# emulates bf16 and training is ~3.6x slower than fp32.
XEON_NO_BF16 = "fpu vme sse sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni"
SAPPHIRE_RAPIDS = XEON_NO_BF16 + " avx512_bf16 amx_bf16 amx_tile amx_int8"


@pytest.fixture
def fake_cpu(tmp_path, monkeypatch):
    def use(line: str, key: str = "flags") -> None:
        path = tmp_path / "cpuinfo"
        path.write_text(f"processor\t: 0\nmodel name\t: test cpu\n{key}\t\t: {line}\n\nprocessor\t: 1\n{key}\t\t: {line}\n")
        monkeypatch.setattr(hardware, "CPUINFO", str(path))

    return use


def test_avx512_without_native_bf16_trains_in_fp32_and_says_so(fake_cpu, tmp_path, tiny_bert):
    fake_cpu(XEON_NO_BF16)
    precision = choose_precision(CPU)
    assert (precision.bf16, str(precision)) == (False, "fp32 (no native bf16 on this CPU)")

    events = []
    result = train(small_config(tmp_path, tiny_bert, max_steps=1, save_every=0), events.append)
    assert (events[0]["event"], events[0]["precision"]) == ("start", "fp32")
    assert events[0]["precision_reason"] == "no native bf16 on this CPU"
    metrics = json.load(open(os.path.join(result.out, "metrics.json")))
    assert metrics["train"]["precision"] == "fp32"


def test_native_bf16_cpu_trains_in_bf16(fake_cpu, tmp_path, tiny_bert):
    fake_cpu(SAPPHIRE_RAPIDS.replace(" amx_bf16", ""))
    assert str(choose_precision(CPU)) == "bf16 (native avx512_bf16)"
    events = []
    result = train(small_config(tmp_path, tiny_bert, max_steps=1, save_every=0), events.append)
    assert events[0]["precision"] == "bf16" and result.metrics["train"]["precision"] == "bf16"
    # ...unless bf16 is turned off.
    events.clear()
    train(small_config(tmp_path / "off", tiny_bert, max_steps=1, save_every=0, bf16=False), events.append)
    assert (events[0]["precision"], events[0]["precision_reason"]) == ("fp32", "bf16 turned off")


def test_amx_and_arm_bf16_count_as_native(fake_cpu):
    fake_cpu(SAPPHIRE_RAPIDS)
    assert choose_precision(CPU).bf16
    fake_cpu("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp bf16 i8mm", key="Features")
    assert str(choose_precision(CPU)) == "bf16 (native bf16)"
    fake_cpu("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics", key="Features")  # e.g. Graviton 2
    assert not choose_precision(CPU).bf16


def test_unknown_cpu_is_fp32(monkeypatch, tmp_path):
    monkeypatch.setattr(hardware, "CPUINFO", str(tmp_path / "absent"))
    precision = choose_precision(CPU)
    assert not precision.bf16 and "cannot read" in precision.reason


def test_scoring_is_fp32_on_cpu_unless_asked_and_then_only_where_native(fake_cpu):
    fake_cpu(SAPPHIRE_RAPIDS)
    assert not scoring_precision(CPU).bf16  # default: exact plain-transformers scores
    assert scoring_precision(CPU, bf16=True).bf16
    fake_cpu(XEON_NO_BF16)
    assert not scoring_precision(CPU, bf16=True).bf16

import shutil
import time

import pytest
import torch

from chartlnn.evaluation.energy import CpuTimeMeter, MeterUnavailable, NvmlMeter, RaplMeter, select_meter


def _zone(root, directory, name, energy_uj, max_range=10**12):
    """A powercap zone as the kernel lays it out: name, energy_uj, max_energy_range_uj."""
    zone = root / directory
    zone.mkdir()
    (zone / "name").write_text(f"{name}\n")
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_range}\n")
    return zone


def _set(zone, energy_uj):
    (zone / "energy_uj").write_text(f"{energy_uj}\n")


def test_energy_rapl_sums_packages_and_ignores_other_zones(tmp_path):
    (tmp_path / "intel-rapl").mkdir()  # the control type: no counter of its own
    pkg0 = _zone(tmp_path, "intel-rapl:0", "package-0", 1_000_000)
    pkg1 = _zone(tmp_path, "intel-rapl:1", "package-1", 5_000_000)
    core = _zone(tmp_path, "intel-rapl:0:0", "core", 0)  # inside package-0's figure already
    mmio = _zone(tmp_path, "intel-rapl-mmio:0", "package-0", 0)  # package-0 again, other interface
    psys = _zone(tmp_path, "intel-rapl:2", "psys", 0)  # the platform, not a package
    meter = RaplMeter(tmp_path)
    meter.start()
    _set(pkg0, 3_500_000)  # +2.5 J
    _set(pkg1, 6_000_000)  # +1.0 J
    for zone in (core, mmio, psys):
        _set(zone, 9_000_000)
    reading = meter.stop()
    assert reading.joules == pytest.approx(3.5)
    assert reading.provenance == "measured:rapl"
    assert reading.detail == "packages package-0,package-1"
    assert reading.seconds >= 0


def test_energy_rapl_counts_across_a_wrap(tmp_path):
    # Counter runs 0..999_999 µJ: 999_000 → (wrap) → 500 is 999 + 1 + 500 = 1_500 µJ.
    pkg0 = _zone(tmp_path, "intel-rapl:0", "package-0", 999_000, max_range=999_999)
    pkg1 = _zone(tmp_path, "intel-rapl:1", "package-1", 2_000_000)
    meter = RaplMeter(tmp_path)
    meter.start()
    _set(pkg0, 500)
    _set(pkg1, 5_000_000)  # +3 J, no wrap
    assert meter.stop().joules == pytest.approx(3.0015)


@pytest.mark.parametrize("tree", ["absent", "no-package", "unreadable"])
def test_energy_rapl_unavailable_without_a_readable_package(tmp_path, tree):
    if tree == "no-package":
        _zone(tmp_path, "intel-rapl:0:0", "core", 0)
    if tree == "unreadable":  # a directory where the counter should be: unreadable even as root
        zone = _zone(tmp_path, "intel-rapl:0", "package-0", 0)
        (zone / "energy_uj").unlink()
        (zone / "energy_uj").mkdir()
    root = tmp_path / "missing" if tree == "absent" else tmp_path
    with pytest.raises(MeterUnavailable, match="^RAPL: "):
        RaplMeter(root)


def _nvml_gpu():
    if shutil.which("nvidia-smi") is None or not torch.cuda.is_available():
        pytest.skip("no NVIDIA GPU")
    try:
        return NvmlMeter(0)
    except MeterUnavailable as exc:
        pytest.skip(str(exc))


def test_energy_nvml_measures_a_matmul_loop():
    meter = _nvml_gpu()
    a = torch.randn(2048, 2048, device="cuda")
    meter.start()
    t_end = time.perf_counter() + 0.5
    while time.perf_counter() < t_end:
        a = torch.tanh(a @ a)
        torch.cuda.synchronize()
    reading = meter.stop()
    assert reading.joules > 0
    assert reading.provenance == "measured:nvml"
    assert reading.detail.startswith("GPU 0 ")


def test_energy_cpu_time_is_cpu_seconds_times_watts():
    meter = CpuTimeMeter(watts_per_core=7.0)
    before = time.process_time()
    meter.start()
    while time.process_time() - before < 0.2:
        sum(range(10_000))
    reading = meter.stop()
    cpu_seconds = time.process_time() - before
    assert reading.joules == pytest.approx(cpu_seconds * 7.0, abs=0.01 * 7.0)
    assert reading.joules >= 0.2 * 7.0 * 0.9
    assert reading.provenance == "estimated:cpu-time"
    assert reading.detail.endswith("CPU-s x 7 W/core")


def test_energy_select_auto_on_cpu_without_powercap_estimates():
    try:
        RaplMeter()
        pytest.skip("this machine has readable RAPL packages")
    except MeterUnavailable:
        pass
    meter = select_meter("auto", device="cpu", watts_per_core=5.0)
    assert isinstance(meter, CpuTimeMeter)
    assert meter.provenance == "estimated:cpu-time" and meter.watts_per_core == 5.0


def test_energy_select_unknown_kind_raises():
    with pytest.raises(ValueError, match="unknown energy meter 'bogus'"):
        select_meter("bogus")

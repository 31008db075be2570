"""Energy meters: joules over a window of wall time, each figure carrying where it came from.

Three providers behind one interface (``start()``, then ``stop() -> EnergyReading``):

- ``NvmlMeter`` (``measured:nvml``): the GPU board's own energy counter.
- ``RaplMeter`` (``measured:rapl``): the CPU packages' RAPL counters through Linux powercap.
- ``CpuTimeMeter`` (``estimated:cpu-time``): this process's CPU-seconds × a stated watts per
  core, for machines with neither counter. An estimate, and labeled so wherever it goes.

``select_meter`` picks one by name, or the best one this machine has. A meter that cannot
measure here raises ``MeterUnavailable`` when it is built, never a wrong number later.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pynvml

from chartlnn.errors import ChartlnnError

DEFAULT_WATTS_PER_CORE = 10.0
"""Watts one fully busy core draws, for ``CpuTimeMeter``: a data-centre CPU's TDP over its cores.

Two common two-socket server parts bracket it: Xeon Gold 6154, 200 W / 18 cores ≈ 11.1 W, and
Xeon Gold 6248, 150 W / 20 cores = 7.5 W; 10 W is the round figure between them. Newer
many-core parts draw less per core (EPYC 9654: 360 W / 96 cores = 3.75 W), and with SMT two
busy hardware threads share one core's watts, so read it as an upper-end estimate. Two models
timed with the same meter compare by CPU-seconds alone: the ratio does not depend on it.
"""


class MeterUnavailable(ChartlnnError, RuntimeError):
    """This meter cannot measure on this machine; the message says why in one line."""


@dataclass(frozen=True)
class EnergyReading:
    """Energy over one window, with its provenance: a figure is never reported without it."""

    joules: float
    """Energy over the window, in joules."""
    seconds: float
    """Wall seconds of the window."""
    provenance: str
    """``measured:nvml``, ``measured:rapl`` or ``estimated:cpu-time``."""
    detail: str
    """What was read, for people: the GPU, the packages, or the CPU-seconds and watts used."""


def _window_not_started(meter: object) -> RuntimeError:
    return RuntimeError(f"{type(meter).__name__}.stop() called before start()")


class NvmlMeter:
    """The GPU board's energy counter (millijoules since the driver loaded; Volta and newer).

    ``device_index`` is NVML's numbering (nvidia-smi's), which is CUDA's only when
    ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` and ``CUDA_VISIBLE_DEVICES`` does not renumber. NVML is
    initialised for the probe in ``__init__`` and for each window from ``start()`` to
    ``stop()``, and shut down after each, so a meter left unused holds nothing open.
    """

    provenance = "measured:nvml"

    def __init__(self, device_index: int = 0) -> None:
        self.device_index = device_index
        handle = self._open()
        try:
            self.detail = f"GPU {device_index} {pynvml.nvmlDeviceGetName(handle)}"
            try:
                pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            except pynvml.NVMLError as exc:
                raise MeterUnavailable(f"NVML: {self.detail} has no total energy counter ({exc}); "
                                       "it needs a Volta or newer GPU") from None
        finally:
            pynvml.nvmlShutdown()
        self._handle: pynvml.c_nvmlDevice_t | None = None  # held from start() to stop()
        self._start: tuple[float, int] | None = None  # (perf_counter s, energy mJ)

    def _open(self) -> pynvml.c_nvmlDevice_t:
        """NVML initialised and this GPU's handle; NVML is shut down again when there is none."""
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise MeterUnavailable(f"NVML: cannot initialise ({exc}); needs an NVIDIA GPU and driver") from None
        try:
            return pynvml.nvmlDeviceGetHandleByIndex(self.device_index)
        except pynvml.NVMLError as exc:
            count = pynvml.nvmlDeviceGetCount()
            pynvml.nvmlShutdown()
            raise MeterUnavailable(f"NVML: no GPU {self.device_index} ({exc}); {count} present") from None

    def start(self) -> None:
        if self._handle is None:
            self._handle = self._open()
        self._start = (time.perf_counter(), pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))

    def stop(self) -> EnergyReading:
        if self._start is None or self._handle is None:
            raise _window_not_started(self)
        try:
            millijoules = pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
            now = time.perf_counter()
        finally:
            pynvml.nvmlShutdown()
            self._handle = None
        (t0, mj0), self._start = self._start, None
        return EnergyReading((millijoules - mj0) / 1e3, now - t0, self.provenance, self.detail)


_PACKAGE_ZONE = re.compile(r"intel-rapl:(\d+)")
"""A top-level RAPL zone (AMD exposes the same names); ``intel-rapl:N:M`` are its subzones and
``intel-rapl-mmio:N`` a second view of the same package, so neither is counted."""


@dataclass(frozen=True)
class _Zone:
    name: str  # "package-0"
    energy: Path  # its energy_uj
    modulus: int  # µJ after which the counter restarts at 0


def _package_zones(root: Path) -> list[_Zone]:
    """Every top-level package zone under a powercap root, in package order; all must be readable."""
    found = sorted(((int(m.group(1)), d) for d in (root.iterdir() if root.is_dir() else ())
                    if (m := _PACKAGE_ZONE.fullmatch(d.name))), key=lambda pair: pair[0])
    zones = []
    for _, zone in found:
        try:
            name = (zone / "name").read_text().strip()
            if not name.startswith("package"):
                continue  # psys and the like: the platform, not the CPU package
            int((zone / "energy_uj").read_text())
            max_range = int((zone / "max_energy_range_uj").read_text())
        except (OSError, ValueError) as exc:
            raise MeterUnavailable(f"RAPL: cannot read {zone} ({exc}); energy_uj is root-only "
                                   "since Linux 5.10") from None
        zones.append(_Zone(name, zone / "energy_uj", max_range + 1))
    if not zones:
        raise MeterUnavailable(f"RAPL: {root} has no readable package energy_uj "
                               "(needs root or a kernel with powercap)")
    return zones


class RaplMeter:
    """The CPU packages' energy: RAPL ``energy_uj`` counters summed over every package zone.

    Each counter runs from 0 to ``max_energy_range_uj`` inclusive and then restarts at 0, so a
    reading below the last one means one wrap: delta = (stop - start) mod (max + 1) µJ (the
    kernel's raw tick is tens of µJ, so this is exact to one tick). Two wraps in one window
    cannot be told from one: keep windows well under a wrap (2**32 ticks, minutes at full load).
    """

    provenance = "measured:rapl"

    def __init__(self, root: Path = Path("/sys/class/powercap")) -> None:
        self._zones = _package_zones(Path(root))
        self.detail = "packages " + ",".join(z.name for z in self._zones)
        self._start: tuple[float, list[int]] | None = None  # (perf_counter s, energy µJ per zone)

    def _read(self) -> list[int]:
        return [int(z.energy.read_text()) for z in self._zones]

    def start(self) -> None:
        self._start = (time.perf_counter(), self._read())

    def stop(self) -> EnergyReading:
        if self._start is None:
            raise _window_not_started(self)
        microjoules, now = self._read(), time.perf_counter()
        (t0, uj0), self._start = self._start, None
        delta = sum((b - a) % z.modulus for z, a, b in zip(self._zones, uj0, microjoules))
        return EnergyReading(delta / 1e6, now - t0, self.provenance, self.detail)


class CpuTimeMeter:
    """An estimate: this process's CPU-seconds over the window × ``watts_per_core``.

    CPU-seconds are ``time.process_time()``: user + system time of every thread of this process
    (the model runs in-process, on torch's intra-op threads). Child processes are left out:
    the kernel reports them only once reaped, so a window could not hold them reliably; chart
    with no DataLoader workers when measuring. Idle and uncore power are not in the estimate.
    """

    provenance = "estimated:cpu-time"

    def __init__(self, watts_per_core: float = DEFAULT_WATTS_PER_CORE) -> None:
        if not watts_per_core > 0:
            raise ValueError(f"watts_per_core must be positive, got {watts_per_core}")
        self.watts_per_core = watts_per_core
        self._start: tuple[float, float] | None = None  # (perf_counter s, process_time s)

    def start(self) -> None:
        self._start = (time.perf_counter(), time.process_time())

    def stop(self) -> EnergyReading:
        if self._start is None:
            raise _window_not_started(self)
        cpu, now = time.process_time(), time.perf_counter()
        (t0, cpu0), self._start = self._start, None
        cpu_seconds = cpu - cpu0
        return EnergyReading(cpu_seconds * self.watts_per_core, now - t0, self.provenance,
                             f"{cpu_seconds:.3g} CPU-s x {self.watts_per_core:g} W/core")


METERS = ("auto", "nvml", "rapl", "cpu-time")
"""The kinds ``select_meter`` takes."""


def select_meter(kind: str = "auto", *, device: str = "cpu",
                 watts_per_core: float = DEFAULT_WATTS_PER_CORE) -> NvmlMeter | RaplMeter | CpuTimeMeter:
    """The meter ``kind`` names, or for "auto" the best this machine has for ``device``.

    "auto": NVML for a "cuda[:N]" device when it works, else RAPL when readable, else the
    CPU-time estimate (for a CUDA device without NVML these see the CPU only, as their
    provenance says). A named kind that cannot measure here raises ``MeterUnavailable``.
    """
    if kind not in METERS:
        raise ValueError(f"unknown energy meter {kind!r}; choose one of {', '.join(METERS)}")
    gpu_index = int(device.partition(":")[2] or 0) if device.startswith("cuda") else 0
    if kind == "nvml":
        return NvmlMeter(gpu_index)
    if kind == "rapl":
        return RaplMeter()
    if kind == "cpu-time":
        return CpuTimeMeter(watts_per_core)
    if device.startswith("cuda"):
        try:
            return NvmlMeter(gpu_index)
        except MeterUnavailable:
            pass
    try:
        return RaplMeter()
    except MeterUnavailable:
        return CpuTimeMeter(watts_per_core)

"""The cost agent: what the application's cores and memory cost, and what each finding
would save, priced from the configurable table in ``thresholds.CostSettings``.

Core-hours and memory-hours come from the executor timeline (each executor's cores and
heap plus overhead, from added to removed), plus the driver for the whole run. Savings
of a finding: its core-hours (wall time saved times the cores held, or cores released)
carry the memory those cores hold, plus any memory it frees outright.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..model import Application
from .findings import Finding, Savings, Scope, finding_id
from .rules._runtime import compute_executors, parse_size
from .rules._sizing import app_wall_ms
from .rules.memory import DEFAULT_EXECUTOR_MEMORY
from .thresholds import CostSettings

Platform = Literal["dataproc", "dataproc_serverless", "databricks"]

_GIB = 1 << 30
_HOUR_MS = 3_600_000
#: YARN and Kubernetes add max(384 MiB, 10 % of the heap) of overhead per executor.
_MIN_OVERHEAD = 384 << 20
#: Properties only Dataproc Serverless batches carry (its Spark properties page).
_SERVERLESS_KEYS = (
    "spark.dataproc.scaling.version",
    "spark.dataproc.driver.disk.size",
    "spark.dataproc.executor.disk.size",
)


class Prices(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: Platform
    vcpu_hour_usd: float
    gib_hour_usd: float
    #: Where the platform came from: the settings, or what in the log showed it.
    platform_source: str


class CostPartial(BaseModel):
    """The cost agent's typed partial result."""

    model_config = ConfigDict(frozen=True)

    prices: Prices
    executor_core_hours: float
    executor_memory_gib_hours: float
    driver_core_hours: float
    driver_memory_gib_hours: float
    cost_usd: float
    #: Every other agent's finding id → its savings, priced.
    savings: dict[str, Savings]
    savings_usd: float


def detect_platform(app: Application, settings: CostSettings) -> tuple[Platform, str]:
    if settings.platform != "auto":
        return settings.platform, "settings"
    conf = app.spark_conf
    if app.app.databricks_runtime or any(k.startswith("spark.databricks.") for k in conf):
        return "databricks", "Databricks properties in the log"
    if any(k in conf for k in _SERVERLESS_KEYS):
        return "dataproc_serverless", "Dataproc Serverless properties in the log"
    if any(k.startswith("spark.dataproc.") for k in conf):
        return "dataproc", "Dataproc properties in the log"
    return "dataproc", "default (the log names no platform)"


def prices(app: Application, settings: CostSettings) -> Prices:
    platform, source = detect_platform(app, settings)
    s = settings
    if platform == "dataproc_serverless":
        vcpu = s.serverless_dcu_hour_usd * s.serverless_dcu_per_vcpu
        gib = s.serverless_dcu_hour_usd * s.serverless_dcu_per_gib
    elif platform == "databricks":
        vcpu = s.vm_vcpu_hour_usd + s.databricks_dbu_usd * s.databricks_dbu_per_vcpu_hour
        gib = s.vm_gib_hour_usd
    else:
        vcpu = s.vm_vcpu_hour_usd + s.dataproc_vcpu_hour_usd
        gib = s.vm_gib_hour_usd
    return Prices(platform=platform, vcpu_hour_usd=vcpu, gib_hour_usd=gib, platform_source=source)


def executor_memory_bytes(app: Application) -> int:
    """Heap plus overhead the cluster manager reserves for one executor."""
    conf = app.spark_conf
    heap = parse_size(conf.get("spark.executor.memory"), "m") or DEFAULT_EXECUTOR_MEMORY
    overhead = parse_size(conf.get("spark.executor.memoryOverhead"), "m")
    if overhead is None:
        overhead = max(_MIN_OVERHEAD, heap // 10)
    return heap + overhead


def _price(savings: Savings, gib_per_core: float, p: Prices) -> Savings:
    memory = savings.memory_gib_hours + savings.core_hours * gib_per_core
    usd = savings.core_hours * p.vcpu_hour_usd + memory * p.gib_hour_usd
    # To the micro-dollar: a small run's saving rounds to nothing at cents' hundredths.
    return savings.model_copy(update={"cost_usd": round(usd, 6)})


def cost_partial(
    app: Application, settings: CostSettings, findings: Iterable[Finding]
) -> CostPartial:
    p = prices(app, settings)
    executors = compute_executors(app)
    wall_h = app_wall_ms(app) / _HOUR_MS
    local = all(e.executor.id == "driver" for e in executors)
    memory = executor_memory_bytes(app) / _GIB
    core_h = sum(e.cores * (e.end_ms - e.start_ms) for e in executors) / _HOUR_MS
    mem_h = sum(memory * (e.end_ms - e.start_ms) for e in executors) / _HOUR_MS
    if local:
        # Local mode: the driver is the executor, already counted.
        driver_core_h = driver_mem_h = 0.0
    else:
        driver_cores = int(app.spark_conf.get("spark.driver.cores", "0") or 0)
        driver_core_h = (driver_cores or settings.driver_cores) * wall_h
        driver_mem = parse_size(app.spark_conf.get("spark.driver.memory"), "m")
        driver_mem_h = (driver_mem or settings.driver_memory_bytes) / _GIB * wall_h
    total = (core_h + driver_core_h) * p.vcpu_hour_usd + (mem_h + driver_mem_h) * p.gib_hour_usd
    gib_per_core = mem_h / core_h if core_h else 0.0
    priced = {f.id: _price(f.estimated_savings, gib_per_core, p) for f in findings}
    return CostPartial(
        prices=p,
        executor_core_hours=round(core_h, 4),
        executor_memory_gib_hours=round(mem_h, 4),
        driver_core_hours=round(driver_core_h, 4),
        driver_memory_gib_hours=round(driver_mem_h, 4),
        cost_usd=round(total, 4),
        savings=priced,
        savings_usd=round(sum(s.cost_usd for s in priced.values()), 4),
    )


def format_usd(value: float) -> str:
    """Dollars to the cent, or to four places under a dollar (short test runs)."""
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def cost_finding(app: Application, partial: CostPartial) -> Finding:
    """What the run cost and what the findings would save: always info."""
    scope = Scope()
    p = partial.prices
    share = partial.savings_usd / partial.cost_usd if partial.cost_usd else 0.0
    core_h = partial.executor_core_hours + partial.driver_core_hours
    return Finding(
        id=finding_id("cost", scope),
        kind="cost",
        agent="cost",
        severity="info",
        title=(
            f"The run cost about {format_usd(partial.cost_usd)} ({core_h:,.2f} core-hours at "
            f"{p.platform} list prices); the findings would save about "
            f"{format_usd(partial.savings_usd)} ({share:.0%})"
        ),
        scope=scope,
        evidence={
            "platform": p.platform,
            "platform_source": p.platform_source,
            "vcpu_hour_usd": round(p.vcpu_hour_usd, 6),
            "gib_hour_usd": round(p.gib_hour_usd, 6),
            "executor_core_hours": partial.executor_core_hours,
            "executor_memory_gib_hours": partial.executor_memory_gib_hours,
            "driver_core_hours": partial.driver_core_hours,
            "driver_memory_gib_hours": partial.driver_memory_gib_hours,
            "cost_usd": partial.cost_usd,
            "savings_usd": partial.savings_usd,
        },
        recommendation=(
            "Prices are list prices for the platform; set yours (discounts, region, "
            "Databricks contract) in the [analysis.cost] section of the settings file."
        ),
        estimated_savings=Savings(cost_usd=partial.savings_usd),
        confidence=0.8,
    )

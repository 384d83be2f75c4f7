"""5. Size: the unzipped build (``.aws-sam/build``) against Lambda's 250 MB and the dependencies alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from local.template import ROOT
from tools.bench.config import BUILD_DIR, FUNCTIONS, LAMBDA_UNZIPPED_LIMIT, BenchConfig, log, ratio

MB = 1024 * 1024


def tree_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            p = Path(root) / name
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def _sam_build() -> dict[str, Any]:
    sam = ROOT / ".venv-sam" / "bin" / "sam"
    if not sam.exists():
        return {"ran": False, "why": "no .venv-sam (make install)"}
    py312 = Path(sys.base_prefix) / "bin" / "python3.12"
    env = dict(os.environ)
    if py312.exists():
        env["PATH"] = f"{py312.parent}{os.pathsep}{env.get('PATH', '')}"
    log("  size: sam build (refreshing .aws-sam/build)")
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603  # nosec B603  # the project's own sam, fixed argv
        [str(sam), "build", "--template", "template.yaml"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return {
        "ran": True,
        "ok": done.returncode == 0,
        "seconds": round(time.perf_counter() - started, 1),
        **({} if done.returncode == 0 else {"error": (done.stderr or done.stdout)[-1500:]}),
    }


def bench_size(cfg: BenchConfig) -> dict[str, Any]:
    if not BUILD_DIR.exists():
        print("run make build first")
        return {"skipped": "run make build first"}
    build = _sam_build() if cfg.sam_build else {"ran": False, "why": "--quick or --no-sam-build"}
    layer_dir = BUILD_DIR / "SharedLayer"
    layer = tree_size(layer_dir)
    own = tree_size(layer_dir / "python" / "linksync")
    deps = layer - own
    functions = {}
    for name in FUNCTIONS:
        code = tree_size(BUILD_DIR / name)
        total = code + layer
        functions[name] = {
            "function_bytes": code,
            "with_layer_mb": round(total / MB, 2),
            "of_lambda_limit": round(total / LAMBDA_UNZIPPED_LIMIT, 4),
            "vs_dependencies_alone": ratio(total, deps),
        }
    return {
        "sam_build": build,
        "layer_mb": round(layer / MB, 2),
        "linksync_package_kb": round(own / 1024, 1),
        "dependencies_mb": round(deps / MB, 2),
        "layer_vs_dependencies": ratio(layer, deps),
        "lambda_limit_mb": LAMBDA_UNZIPPED_LIMIT // MB,
        "functions": functions,
        "largest_packages_mb": _largest(layer_dir / "python", 8),
    }


def _largest(path: Path, top: int) -> dict[str, float]:
    if not path.exists():
        return {}
    sizes = {}
    for child in path.iterdir():
        if child.name.endswith((".dist-info", ".data")):
            continue
        sizes[child.name] = tree_size(child) if child.is_dir() else child.stat().st_size
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1])[:top]
    return {name: round(size / MB, 2) for name, size in ranked}

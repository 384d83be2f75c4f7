"""After `sam build`: check that every function's code and every layer's python/ package really landed,
then compile the build's Python to bytecode.

`sam build` reports success even when a CodeUri points at the wrong folder, so this reads the template
and looks for each function's handler module and each layer's package under .aws-sam/build.

`sam build` ships sources only, and Lambda's /opt and /var/task are read-only: without bytecode in the
package, every cold start compiles every module it imports (boto3, botocore, Powertools, requests and
ours) again. The build is compiled here with unchecked-hash .pyc files, which Python loads without
comparing them with the source's timestamp (a zip does not keep those exactly), by the same Python 3.12
as the runtime (a .pyc is tied to its minor version).
"""

from __future__ import annotations

import compileall
import importlib.util
import py_compile
import sys
from pathlib import Path

from local.template import ROOT, globals_for, resources

BUILD = ROOT / ".aws-sam" / "build"


def problems() -> list[str]:
    found: list[str] = []
    for name, res in resources("AWS::Serverless::LayerVersion").items():
        source = ROOT / res["Properties"]["ContentUri"]
        packages = [p.name for p in source.iterdir() if (p / "__init__.py").is_file()]
        if not packages:
            found.append(f"{name}: no package in {source}")
        for pkg in packages:
            if not (BUILD / name / "python" / pkg / "__init__.py").is_file():
                found.append(f"{name}: .aws-sam/build/{name}/python/{pkg}/ missing")
    fn_globals = globals_for("Function")
    for name, res in resources("AWS::Serverless::Function").items():
        props = {**fn_globals, **res["Properties"]}
        module = str(props["Handler"]).rsplit(".", 1)[0].replace(".", "/")
        if not (BUILD / name / f"{module}.py").is_file():
            found.append(f"{name}: handler module {module}.py missing in .aws-sam/build/{name}/")
    return found


def precompile() -> list[str]:
    """Compile every build folder to unchecked-hash bytecode; what went wrong, if anything."""
    if sys.version_info[:2] != (3, 12):
        return [f"bytecode must be compiled by Python 3.12, the Lambda runtime, not {sys.version.split()[0]}"]
    found: list[str] = []
    for folder in sorted(p for p in BUILD.iterdir() if p.is_dir()):
        ok = compileall.compile_dir(
            folder,
            quiet=1,
            workers=0,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        if not ok:
            found.append(f"{folder.name}: some modules did not compile")
    for name in resources("AWS::Serverless::LayerVersion"):
        for init in (BUILD / name / "python").glob("*/__init__.py"):
            if not Path(importlib.util.cache_from_source(str(init))).is_file():
                found.append(f"{name}: no bytecode for {init.parent.name}")
    return found


if __name__ == "__main__":
    issues = problems() or precompile()
    for line in issues:
        print("build check:", line, file=sys.stderr)
    if issues:
        sys.exit(1)
    print("build check: every function and layer landed in .aws-sam/build, compiled to bytecode")

"""After `sam build`: check that every function's code and every layer's python/ package really landed.

`sam build` reports success even when a CodeUri points at the wrong folder, so this reads the template
and looks for each function's handler module and each layer's package under .aws-sam/build.
"""

from __future__ import annotations

import sys

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


if __name__ == "__main__":
    issues = problems()
    for line in issues:
        print("build check:", line, file=sys.stderr)
    if issues:
        sys.exit(1)
    print("build check: every function and layer landed in .aws-sam/build")

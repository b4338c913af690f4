"""The web process never loads the model stack: torch, transformers, vllm, trl, peft and accelerate are
imported only inside the jobs that run a model (trainer_bridge.ml, loaded lazily by GPU workers)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "vllm", "trl", "peft", "accelerate")

PROBE = f"""
import importlib, os, pkgutil, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # what gunicorn loads: every view and API module
from config.wsgi import application
for package in ("core", "registry", "guidelines", "labeling", "curation", "trainer_bridge", "config"):
    for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        if ".ml" in info.name or ".migrations" in info.name or info.name.endswith((".embedded", "asgi")):
            continue
        importlib.import_module(info.name)
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
"""


def test_importing_every_web_and_worker_module_loads_no_model_library():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout

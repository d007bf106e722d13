"""SASRec on the benchmark config with a learning-rate schedule: python sched_sasrec.py NAME key=value ... (sasrec overrides)."""
import json, logging, sys, time
from pathlib import Path
from hymirec.cli import configure_torch
configure_torch()
from hymirec.bench.training import sasrec_converged
from hymirec.config import load_config
from hymirec.paths import Layout
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
name, overrides = sys.argv[1], dict(arg.split("=", 1) for arg in sys.argv[2:])
config = load_config(Path("/work/main/configs/benchmark_ml1m.yaml"))
sasrec = config.sasrec.model_copy(update={k: type(getattr(config.sasrec, k))(v) for k, v in overrides.items()})
config = config.model_copy(update={"sasrec": sasrec})
print(sasrec, flush=True)
result = sasrec_converged(config, Layout(Path("/work/main/.bench/workspace")))
print(json.dumps(result), flush=True)
Path(f"/work/diag/sched_{name}.json").write_text(json.dumps({"overrides": overrides, **result}, indent=1))

"""``hymirec bench``: what the project costs to run, measured, in reports/bench.json (issue "hardware speed").

Sections: the default pipeline stage by stage in a scratch workspace (``pipeline``); full-ranking
evaluation and top-10 latency of every model it trained (``serving``); training speed on the benchmark
config and SASRec's time to convergence (``training``); RecBole's SASRec against ours in the same run
(``recbole``); seconds per LLM-model training step on the protocols' rows, beside the
alternatives a step could take (``llm_steps``). Nothing here is a test: timings are reported, never asserted.
"""

# here rather than in run.py: the CLI lists them without importing the sections' code (transformers, RecBole)
SECTIONS = ("pipeline", "serving", "training", "converge", "recbole", "llm_steps")

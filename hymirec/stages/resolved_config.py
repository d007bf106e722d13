"""Stage ``resolved_config``: the config file that params.yaml names, composed and validated, as build/config.yaml.

Every other stage reads build/config.yaml, and DVC tracks its sections as their ``params``: a config
that only ``extends:`` another and changes one value re-runs only the stages that read that value, and
``dvc exp show`` lists the resolved values of every experiment side by side.
"""

from __future__ import annotations

from hymirec.config import HyMiRecConfig, dump_config
from hymirec.io import write_text
from hymirec.paths import Layout


def run(config: HyMiRecConfig, layout: Layout) -> None:
    write_text(dump_config(config), layout.resolved_config)

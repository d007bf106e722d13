"""Great Expectations suites guarding the pipeline's data at two points, and the code that runs them.

- ``data_checks.raw_logs.check_table``: raw interactions + items (stage ``raw_logs``; ``check_logs`` on frames,
  ``validate_raw_log_files`` on stored files), against ``RawLogRules``;
- ``data_checks.inbox.check_inbox_file``: each file dropped into ``data.inbox`` (stage ``raw_logs``);
- ``data_checks.sequences.validate_sequences``: per-user sequences (stage ``validated_sequences``);
- ``data_checks.validate_files.validate_user_files``: ``hymirec validate`` on a user's files.
A failed suite raises ``data_checks.errors.DataValidationError`` naming every broken rule.
"""

import logging

# GE logs hundreds of INFO lines while importing; keep them out of `hymirec` output unless asked for.
_gx_logger = logging.getLogger("great_expectations")
if _gx_logger.level == logging.NOTSET:
    _gx_logger.setLevel(logging.WARNING)

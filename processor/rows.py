"""The kinds of row the validated source yields and the sink splits on, without pyspark.

:mod:`processor.event_source` (a Spark data source) writes these values in the ``kind`` column
and :mod:`processor.batch_sink` (Arrow only) reads them: both take them from here, so the sink
and its tests need no Spark installed to know a label row from a transaction.
"""

from __future__ import annotations

KIND = "kind"  # the column that says which of the three a row is
TX, LABEL, QUARANTINE = "tx", "label", "quarantine"

"""The fault-tolerance suite, ``make faults``: ``python -m benchmarks.faults [--short]``.

Five scenarios, each on fresh streams, bucket, table and checkpoint, on a private emulator with
a trained model behind a real model server; the processor is a real Spark job in its own
process (so it can be killed). Each scenario reports events in, rows out, duplicates, losses,
quarantined records and the recovery time, and writes them to ``benchmarks/results/faults.json``.

Modules, one job each:

* :mod:`.accounting` - pure: exactly-once checks of what landed against what was sent;
* :mod:`.malformed` - pure: malformed records and the quarantine reason each must get;
* :mod:`.progress` - reading the processor's batch log and its checkpoint (drained yet?);
* :mod:`.processes` - the processor, producer and model server as child processes;
* :mod:`.child` - the processor child: ``start()`` with an ``on_batch`` that logs each batch;
* :mod:`.scenarios` - the five scenarios (orchestration) and their :class:`~.profile.Profile`;
* :mod:`.report` - the results table; :mod:`.__main__` - the command line.

``docs/reliability.md`` explains the scenarios and the guarantees they check.
"""

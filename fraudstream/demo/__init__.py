"""``fraudstream demo``: the whole product on the embedded local stack, in one command.

- :mod:`fraudstream.demo.processes`: the child processes it starts (model server, processor,
  producer) and how they are stopped;
- :mod:`fraudstream.demo.outcome`: pure: what the lake holds -> detected vs injected fraud,
  precision, recall, exactly-once accounting;
- :mod:`fraudstream.demo.report`: the HTML report with its plots;
- :mod:`fraudstream.demo.runner`: the sequence, from ``stack up`` to the summary.
"""

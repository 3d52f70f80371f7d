"""Rule backtests over labelled transactions: ``fraudstream rules test``.

:mod:`~fraudstream.rules.rows` is what is measured (labelled transactions with their features
and scores, as columns), read from the lake through its SQL query tool
(:mod:`~fraudstream.rules.lake_source`: the same SQL runs on Athena) or rebuilt from labelled
history with the model (:mod:`~fraudstream.rules.history_source`);
:mod:`~fraudstream.rules.scorecard` measures a rules file on them with
:mod:`processor.decisions.backtest`, and :mod:`~fraudstream.rules.render` prints the result.
"""

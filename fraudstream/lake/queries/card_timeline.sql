-- One card's timeline over the last 30 days: every transaction with its score, decision and reasons (parameter: card_id).
SELECT
    t.event_time,
    t.transaction_id,
    t.merchant_id,
    t.merchant_category,
    t.channel,
    t.country,
    t.amount,
    t.currency,
    t.score,
    t.decision,
    t.reasons,
    t.model_version,
    t.scored_by
FROM transactions AS t
WHERE t.card_id = ?
  AND t.dt >= CAST(current_date - INTERVAL '30' DAY AS varchar)
ORDER BY t.event_time

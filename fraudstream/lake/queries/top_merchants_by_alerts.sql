-- Top 20 merchants by review/block decisions over the last 7 days, with their share of flagged transactions.
SELECT
    t.merchant_id,
    count(*) AS transactions,
    count_if(t.decision IN ('review', 'block')) AS alerts,
    count_if(t.decision = 'block') AS blocked,
    CAST(count_if(t.decision IN ('review', 'block')) AS double) / count(*) AS alert_rate,
    round(sum(CASE WHEN t.decision IN ('review', 'block') THEN t.amount ELSE 0 END), 2) AS alerted_amount
FROM transactions AS t
WHERE t.dt >= CAST(current_date - INTERVAL '7' DAY AS varchar)
GROUP BY t.merchant_id
HAVING count_if(t.decision IN ('review', 'block')) > 0
ORDER BY alerts DESC, alerted_amount DESC
LIMIT 20

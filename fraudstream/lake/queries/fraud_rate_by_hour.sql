-- Fraud rate by hour over the last 7 days: decisions taken and, where labels have arrived, confirmed fraud.
WITH decided AS (
    SELECT t.dt, t.hour, t.transaction_id, t.decision
    FROM transactions AS t
    WHERE t.dt >= CAST(current_date - INTERVAL '7' DAY AS varchar)
),
labelled AS (
    SELECT l.transaction_id, bool_or(l.is_fraud) AS is_fraud
    FROM labels AS l
    WHERE l.dt >= CAST(current_date - INTERVAL '7' DAY AS varchar)
    GROUP BY l.transaction_id
)
SELECT
    d.dt,
    d.hour,
    count(*) AS transactions,
    count_if(d.decision = 'review') AS reviewed,
    count_if(d.decision = 'block') AS blocked,
    CAST(count_if(d.decision IN ('review', 'block')) AS double) / count(*) AS flagged_rate,
    count(lb.transaction_id) AS labelled,
    count_if(lb.is_fraud) AS confirmed_fraud,
    CAST(count_if(lb.is_fraud) AS double) / nullif(count(lb.transaction_id), 0) AS fraud_rate
FROM decided AS d
LEFT JOIN labelled AS lb ON lb.transaction_id = d.transaction_id
GROUP BY d.dt, d.hour
ORDER BY d.dt, d.hour

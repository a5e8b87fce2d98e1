SELECT notif_date,
       SUM(CASE WHEN is_success THEN 1 ELSE 0 END) AS seen,
       COUNT(*) AS total,
       ROUND(100.0 * SUM(CASE WHEN is_success THEN 1 ELSE 0 END) / COUNT(*), 2) AS success_rate
FROM gold.gold_notif_impact_per_day
GROUP BY notif_date
ORDER BY success_rate DESC
LIMIT 10;

SELECT user_id,
       SUM(total_money_spend) AS total_spent,
       COUNT(date) AS active_days,
       ROUND(AVG(total_money_spend), 2) AS avg_spent_per_day
FROM gold.gold_user_activity_per_day
GROUP BY user_id
ORDER BY total_spent DESC
LIMIT 20;

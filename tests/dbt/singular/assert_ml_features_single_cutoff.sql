-- gold_ml_user_features is computed at one cutoff: feature_date = as_of_date - 30 days.
select count(distinct feature_date) as n_feature_dates
from {{ ref('gold_ml_user_features') }}
having count(distinct feature_date) > 1

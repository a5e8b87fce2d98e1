"""The whole job: load → dbt build → docs → publish for readers → report."""

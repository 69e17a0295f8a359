"""Analysis helpers: plots for the MLflow UI."""

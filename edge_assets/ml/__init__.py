"""Pure training/evaluation code (scikit-learn, XGBoost) and MLflow helpers; no Dagster."""

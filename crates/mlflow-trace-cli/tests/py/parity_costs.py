"""Prices each case of CASES_JSON (a list of {"model", "provider", "usage"}) with MLflow's
own calculate_cost_by_model_and_token_usage, as its store does for a span, and prints the
`mlflow.llm.cost` attribute MLflow would store for each (its JSON text, or null), one
JSON list. Run with MLFLOW_MODEL_CATALOG_URI empty: the catalog MLflow ships.

Usage: parity_costs.py CASES_JSON"""

import json
import sys

from mlflow.tracing.utils import calculate_cost_by_model_and_token_usage, dump_span_attribute_value

with open(sys.argv[1]) as f:
    cases = json.load(f)
out = []
for case in cases:
    try:
        cost = calculate_cost_by_model_and_token_usage(
            case["model"], case["usage"], case.get("provider")
        )
    except Exception:
        cost = None
    out.append(dump_span_attribute_value(cost) if cost else None)
print(json.dumps(out))

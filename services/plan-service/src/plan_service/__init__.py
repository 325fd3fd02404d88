"""plan-service: Support plans, plan changes, trials, Premium sales approval, TAM, legacy retirement."""

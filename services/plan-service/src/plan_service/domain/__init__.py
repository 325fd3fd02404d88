"""Pure rules of plan-service: transitions, trial and retirement arithmetic, the support page. No I/O."""
